"""Saved probes as evidence: diagnose() joins them to the sessions to the probed host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import Evidence, assemble_sessions, diagnose, parse_protocol_log
from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import ParseError
from exchange_tls.probe_results import (
    ProbeStage,
    SmtpProbe,
    parse_probe_results,
    probe_to_dict,
    read_probe_results,
)
from exchange_tls.tls_results import TlsResultType

DATA = Path(__file__).parent.parent / "data" / "probes"
LOG = DATA / "SEND20240601-algorithm-mismatch.LOG"
PROBE = DATA / "probe-fabrikam-tls10-only.json"
SOCKET_LOG = (
    Path(__file__).parents[2] / "examples" / "tls-protocol-mismatch" / "SEND2024060110-1.LOG"
)


def _sessions(path: Path) -> tuple[Any, ...]:
    log = parse_protocol_log(path.read_text(encoding="utf-8-sig"), source=path.name)
    return tuple(assemble_sessions(log))


def _probe(**changes: Any) -> SmtpProbe:
    (probe,) = read_probe_results(PROBE)
    return attrs.evolve(probe, **changes)


def _finding(diagnosis: Any, rule_id: str) -> Any:
    found = [f for f in diagnosis.findings if f.rule_id == rule_id]
    assert len(found) == 1, [f.rule_id for f in diagnosis.findings]
    return found[0]


def test_algorithm_mismatch_and_a_tls10_only_remote_name_the_remote() -> None:
    """The acceptance case: the remote must change, and the finding cites the probe."""
    evidence = Evidence(sessions=_sessions(LOG), probes=read_probe_results(PROBE))
    diagnosis = diagnose(evidence)
    finding = _finding(diagnosis, "probe-remote-legacy-tls")
    assert finding.side is FaultSide.REMOTE
    assert "mx.fabrikam.example" in finding.summary
    assert "AlgorithmMismatch" in finding.summary
    sources = [str(ref.source) for ref in finding.evidence]
    assert any("probe-fabrikam-tls10-only.json#" in source for source in sources)
    assert any(source.startswith(LOG.name) for source in sources)
    # The generic rule no longer tells this server to enable TLS 1.2.
    assert "tls-protocol-mismatch" not in [f.rule_id for f in diagnosis.findings]
    assert diagnosis.to_dict()["findings"][0]["side"] in ("remote", None)


def test_without_the_probe_the_generic_rule_speaks() -> None:
    """The same log without a probe: tls-protocol-mismatch, as before this kind existed."""
    diagnosis = diagnose(Evidence(sessions=_sessions(LOG)))
    rules = [f.rule_id for f in diagnosis.findings]
    assert "tls-protocol-mismatch" in rules
    assert not [rule for rule in rules if rule.startswith("probe-")]


def test_a_probe_of_another_host_joins_nothing() -> None:
    """A probe joins by the address or name the log shows, nothing else."""
    other = _probe(host="mx.other.example", address="198.51.100.9:25")
    diagnosis = diagnose(Evidence(sessions=_sessions(LOG), probes=[other]))
    assert "probe-remote-legacy-tls" not in [f.rule_id for f in diagnosis.findings]


def test_a_modern_remote_rules_out_the_remote() -> None:
    """A probe that negotiated TLS 1.3 rules the remote out and points here."""
    modern = _probe(tls_version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", versions=())
    diagnosis = diagnose(Evidence(sessions=_sessions(SOCKET_LOG), probes=[modern]))
    finding = _finding(diagnosis, "probe-rules-out-remote")
    assert finding.side is FaultSide.LOCAL
    assert "tls-protocol-mismatch" in [f.rule_id for f in diagnosis.findings]
    assert "TLSv1.3" in finding.summary


@pytest.mark.parametrize(
    "kind",
    [
        TlsResultType.CERTIFICATE_EXPIRED,
        TlsResultType.CERTIFICATE_NOT_TRUSTED,
        TlsResultType.CERTIFICATE_HOST_MISMATCH,
    ],
)
def test_a_bad_remote_certificate_under_certificate_validation(kind: TlsResultType) -> None:
    """A validating connector, a failing session, a probe that judged the certificate bad."""
    connector = SendConnector(name="Internet Mail", tls_auth_level="CertificateValidation")
    probe = _probe(
        stage=ProbeStage.VERIFY, tls_version="TLSv1.2", versions=(), result_type=kind, error="bad"
    )
    evidence = Evidence(sessions=_sessions(LOG), probes=[probe], send_connectors=[connector])
    finding = _finding(diagnose(evidence), "probe-remote-certificate")
    assert finding.side is FaultSide.REMOTE
    assert str(kind) in finding.summary
    assert finding.confidence.value == "high"


def test_an_encryption_only_connector_does_not_blame_the_certificate() -> None:
    """EncryptionOnly does not validate: the probe's certificate result is not the cause."""
    connector = SendConnector(name="Internet Mail", tls_auth_level="EncryptionOnly")
    probe = _probe(
        stage=ProbeStage.VERIFY,
        tls_version="TLSv1.2",
        versions=(),
        result_type=TlsResultType.CERTIFICATE_EXPIRED,
    )
    evidence = Evidence(sessions=_sessions(LOG), probes=[probe], send_connectors=[connector])
    assert "probe-remote-certificate" not in [f.rule_id for f in diagnose(evidence).findings]


def test_domain_validation_against_a_certificate_without_the_tls_domain() -> None:
    """DomainValidation: the probed certificate lacks the connector's TlsDomain."""
    connector = SendConnector(
        name="Internet Mail", tls_auth_level="DomainValidation", tls_domain="partner.example"
    )
    probe = _probe(tls_version="TLSv1.2", versions=())
    evidence = Evidence(sessions=_sessions(LOG), probes=[probe], send_connectors=[connector])
    finding = _finding(diagnose(evidence), "probe-remote-certificate")
    assert "partner.example" in finding.summary


PLAIN_LOG = """\
#Software: Microsoft Exchange Server
#Version: 15.0.0.0
#Log-type: SMTP Send Protocol Log
#Date: 2024-06-01T10:00:00.000Z
#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context
2024-06-01T10:00:00.000Z,Internet Mail,08DC8A0000000009,0,10.0.0.5:40000,203.0.113.25:25,+,,
2024-06-01T10:00:00.001Z,Internet Mail,08DC8A0000000009,1,10.0.0.5:40000,203.0.113.25:25,<,220 mx.fabrikam.example ESMTP ready,
2024-06-01T10:00:00.002Z,Internet Mail,08DC8A0000000009,2,10.0.0.5:40000,203.0.113.25:25,>,EHLO mail.contoso.com,
2024-06-01T10:00:00.003Z,Internet Mail,08DC8A0000000009,3,10.0.0.5:40000,203.0.113.25:25,<,250-mx.fabrikam.example Hello,
2024-06-01T10:00:00.004Z,Internet Mail,08DC8A0000000009,4,10.0.0.5:40000,203.0.113.25:25,<,{ehlo_last},
2024-06-01T10:00:00.005Z,Internet Mail,08DC8A0000000009,5,10.0.0.5:40000,203.0.113.25:25,>,MAIL FROM:<a@contoso.com>,
2024-06-01T10:00:00.006Z,Internet Mail,08DC8A0000000009,6,10.0.0.5:40000,203.0.113.25:25,<,250 2.1.0 Sender OK,
2024-06-01T10:00:00.007Z,Internet Mail,08DC8A0000000009,7,10.0.0.5:40000,203.0.113.25:25,-,,Local
"""


def _plain(offered: bool) -> tuple[Any, ...]:
    text = PLAIN_LOG.format(ehlo_last="250 STARTTLS" if offered else "250 SIZE 52428800")
    log = parse_protocol_log(text, source="SEND-plain.LOG")
    return tuple(assemble_sessions(log))


@pytest.mark.parametrize(
    ("log_offered", "probe_offered", "ignore", "side"),
    [
        (False, False, True, FaultSide.REMOTE),
        (False, True, False, FaultSide.BETWEEN),
        (True, True, True, FaultSide.LOCAL),
    ],
)
def test_who_drops_starttls(
    log_offered: bool, probe_offered: bool, ignore: bool, side: FaultSide
) -> None:
    """Remote without STARTTLS, a device stripping it, or a connector ignoring it."""
    connector = SendConnector(name="Internet Mail", ignore_starttls=ignore)
    probe = _probe(
        stage=ProbeStage.DONE if probe_offered else ProbeStage.EHLO,
        starttls_offered=probe_offered,
        tls_version="TLSv1.2" if probe_offered else None,
        versions=(),
        result_type=None if probe_offered else TlsResultType.STARTTLS_NOT_SUPPORTED,
    )
    evidence = Evidence(sessions=_plain(log_offered), probes=[probe], send_connectors=[connector])
    finding = _finding(diagnose(evidence), "probe-starttls")
    assert finding.side is side
    if side is FaultSide.LOCAL:
        assert "-IgnoreSTARTTLS $false" in finding.remediation[0].command.render()


def test_a_dane_mismatch_and_an_mta_sts_policy_without_the_mx() -> None:
    """Both policy failures of the probe make one finding about the remote."""
    document = json.loads(PROBE.read_text(encoding="utf-8"))
    document["dane"] = {
        "name": "_25._tcp.mx.fabrikam.example",
        "records": ["3 1 1 " + "ab" * 32],
        "authenticated": True,
        "matched": None,
    }
    document["domain"] = {
        "domain": "fabrikam.example",
        "mx": [{"preference": 10, "host": "mx.fabrikam.example"}],
        "mta_sts": {
            "domain": "fabrikam.example",
            "record": "v=STSv1; id=1",
            "policy": {
                "version": "STSv1",
                "mode": "enforce",
                "mx": ["mail.other.example"],
                "max_age": 86400,
            },
            "host": "mx.fabrikam.example",
            "host_matches": False,
        },
    }
    probes = parse_probe_results(json.dumps(document), source="probe.json")
    finding = _finding(diagnose(Evidence(probes=probes)), "probe-domain-policy")
    assert finding.side is FaultSide.REMOTE
    assert "tlsa-invalid" in finding.summary
    assert "mail.other.example" in finding.summary


def test_saved_probes_round_trip() -> None:
    """A probe written and read back is the same probe."""
    (probe,) = read_probe_results(PROBE)
    (again,) = parse_probe_results(json.dumps(probe_to_dict(probe)), source="again.json")
    assert again == probe


def test_a_list_and_a_probes_document_read_alike() -> None:
    """One probe, a list, and ``{"probes": [...]}`` all read; a foreign entry is a problem."""
    entry = json.loads(PROBE.read_text(encoding="utf-8"))
    for document in (
        [entry, {"format": "other"}],
        {"format": "exchange-tls-probe", "probes": [entry, 3]},
    ):
        result = parse_probe_results(json.dumps(document), source="x.json")
        assert len(result) == 1
        assert len(result.problems) == 1


def test_bad_json_raises_parse_error_with_its_position() -> None:
    """Text that is not JSON raises ParseError naming the line."""
    with pytest.raises(ParseError) as caught:
        parse_probe_results('{\n  "format": "exchange-tls-probe",\n  "host": ,\n}', source="p.json")
    assert caught.value.line == 3


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
        ),
        max_leaves=12,
    )
)
@settings(max_examples=100)  # generating nested JSON is the cost, not reading it
def test_any_json_reads_as_probes_or_problems(value: Any) -> None:
    """Hostile JSON gives probes and problems, never a crash."""
    if isinstance(value, dict):
        value = {"format": "exchange-tls-probe", **value}
    result = parse_probe_results(json.dumps(value), source="h.json")
    assert all(isinstance(probe, SmtpProbe) for probe in result)


@given(
    st.sampled_from(["host", "port", "stage", "result_type", "chain", "versions", "probed_at"]),
    st.one_of(
        st.integers(), st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2)
    ),
)
def test_a_mangled_field_is_a_problem(field: str, value: Any) -> None:
    """One field of the wrong shape: the probe is read or left out with a problem."""
    document = json.loads(PROBE.read_text(encoding="utf-8"))
    document[field] = value
    result = parse_probe_results(json.dumps(document), source="m.json")
    assert len(result) + len(result.problems) == 1


def test_near_misses_stay_silent() -> None:
    """No probe rule fires where its evidence is not complete."""
    # STARTTLS offered by both the log and the probe, and not ignored: nothing to say.
    connector = SendConnector(name="Internet Mail", ignore_starttls=False)
    offered = _probe(tls_version="TLSv1.2", versions=())
    evidence = Evidence(sessions=_plain(True), probes=[offered], send_connectors=[connector])
    assert not [f for f in diagnose(evidence).findings if f.rule_id.startswith("probe-")]
    # A probe with no policy failure (the saved sample): no policy finding.
    assert not diagnose(Evidence(probes=read_probe_results(PROBE))).findings
    # A legacy-only remote is not "ruled out".
    rules = [
        f.rule_id
        for f in diagnose(
            Evidence(sessions=_sessions(LOG), probes=read_probe_results(PROBE))
        ).findings
    ]
    assert "probe-rules-out-remote" not in rules


def test_a_probe_in_a_folder_of_its_own_joins_every_server() -> None:
    """A probe is of a remote host, not of a server: each server's sessions may join it."""
    from exchange_tls.diagnosis.scopes import gather
    from exchange_tls.queues.models import QueueRecord

    server = Evidence(sessions=_sessions(LOG), queues=[QueueRecord(identity="EX01\\7")])
    fleet = gather({"logs": server, "probes": Evidence(probes=read_probe_results(PROBE))})
    assert len(fleet.scopes) == 2
    findings = diagnose(fleet).findings
    (finding,) = [f for f in findings if f.rule_id == "probe-remote-legacy-tls"]
    assert finding.server == "EX01"


def test_reading_and_diagnosing_never_load_the_socket_code() -> None:
    """The evidence layer and diagnose() import nothing of exchange_tls.probe."""
    import subprocess
    import sys

    code = (
        "import sys, exchange_tls, exchange_tls.probe_results, exchange_tls.loading\n"
        "exchange_tls.diagnose(exchange_tls.Evidence())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] == ['exchange_tls', 'probe']))"
    )
    root = str(Path(__file__).parents[2])
    done = subprocess.run(  # noqa: S603 -- this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert done.stdout.strip() == "[]"
