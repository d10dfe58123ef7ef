import datetime as dt
import random
from pathlib import Path

import attrs
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import (
    CertificateStatus,
    Evidence,
    ExchangeCertificate,
    ReceiveConnector,
    SendConnector,
    Services,
    Severity,
    TlsCertificateName,
    assemble_sessions,
    diagnose,
    parse_events,
    parse_protocol_log,
    parse_queues,
    parse_tls_certificate_name,
    read_certificates,
    read_queues,
    read_send_connectors,
)
from exchange_tls.diagnosis import CATALOGUE
from exchange_tls.diagnosis.catalogue import finding as catalogue_finding
from exchange_tls.diagnosis.model import Confidence, schema

DATA = Path(__file__).parent / "data"
BUNDLED = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"
UTC = dt.timezone.utc
T1 = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
T2 = "A757A5B5395859FE5415EE33E0F5746199FEE979"
LISTED_RULES = {
    "certificate-not-enabled-for-smtp",
    "certificate-missing-private-key",
    "certificate-key-inaccessible",
    "tls-certificate-name-not-found",
    "tls-certificate-name-invalid",
    "certificate-expired",
    "certificate-expiring-soon",
    "no-certificate-for-connector-fqdn",
    "tls-protocol-mismatch",
    "remote-requires-starttls",
    "remote-starttls-unavailable",
    "certificate-untrusted",
    "certificate-revocation-check-failed",
    "self-signed-certificate-external",
    "connection-failure",
    "tls-domain-validation-misconfigured",
    "internal-transport-certificate-problem",
    "protocol-logging-disabled",
    "legacy-tls-to-exchange-online",
    "inbound-tls-failure",
    "receive-connector-certificate-not-found",
    "exchange-online-connector-incomplete",
    "unexplained-tls-failure",
    "unexplained-queue-error",
    "inbound-background",
    "inbound-failures-widespread",
}


def kb_evidence() -> Evidence:
    """Return the KB 4051498 evidence: the bundle's log, queue and connector, the KB-style list."""
    rows = list(
        parse_protocol_log(
            (BUNDLED / "SEND2017100704-1.LOG").read_text(encoding="utf-8-sig"),
            source="SEND2017100704-1.LOG",
        ).rows
    )
    return Evidence(
        sessions=assemble_sessions(rows),
        certificates=read_certificates(
            DATA / "constructed/get-exchangecertificate-kb4051498-fl.txt", date_order="MDY"
        ),
        queues=read_queues(BUNDLED / "get-queue-fl.txt", date_order="MDY"),
        send_connectors=read_send_connectors(BUNDLED / "get-sendconnector-fl.txt"),
    )


def test_kb4051498_end_to_end() -> None:
    """Log rows, certificate list and LastError give certificate-not-enabled-for-smtp first."""
    diagnosis = diagnose(kb_evidence())
    finding = diagnosis.findings[0]
    assert finding.rule_id == "certificate-not-enabled-for-smtp"
    assert finding.severity is Severity.ERROR
    assert T1 in finding.summary
    cited = {(ref.source.source, ref.source.line) for ref in finding.evidence if ref.source}
    assert (
        "SEND2017100704-1.LOG",
        27,
    ) in cited  # TLS negotiation failed with error UnknownCredentials
    assert ("SEND2017100704-1.LOG", 25) in cited  # Certificate thumbprint
    fixes = [step.command.render() for step in finding.remediation if step.purpose.value == "fix"]
    assert f"Enable-ExchangeCertificate -Thumbprint '{T1}' -Services 'SMTP'" in fixes
    assert all("-Force" not in fix for fix in fixes)
    enable = next(
        step for step in finding.remediation if step.command.cmdlet == "Enable-ExchangeCertificate"
    )
    assert enable.note is not None
    assert "Overwrite the existing default SMTP certificate?" in enable.note
    assert "Answer N" in enable.note
    assert [step.purpose.value for step in finding.remediation] == sorted(
        (step.purpose.value for step in finding.remediation), key=["check", "fix", "verify"].index
    )


def test_kb4051498_is_not_called_a_firewall_problem() -> None:
    """The 421 4.4.1 timeout in the queue does not give connection-failure."""
    rule_ids = [finding.rule_id for finding in diagnose(kb_evidence()).findings]
    assert "connection-failure" not in rule_ids
    assert rule_ids == ["certificate-not-enabled-for-smtp"]


def test_without_the_inventory_the_finding_has_medium_confidence() -> None:
    """From the log alone, F1 still fires, with medium confidence and a check step."""
    evidence = kb_evidence()
    diagnosis = diagnose(Evidence(sessions=evidence.sessions, queues=evidence.queues))
    finding = diagnosis.findings[0]
    assert (finding.rule_id, finding.confidence.value) == (
        "certificate-not-enabled-for-smtp",
        "medium",
    )
    assert (
        finding.remediation[0]
        .command.render()
        .startswith(f"Get-ExchangeCertificate -Thumbprint '{T1}'")
    )


def test_diagnosis_json_matches_the_schema() -> None:
    """to_dict() follows the shipped JSON Schema, and to_json() is its JSON."""
    diagnosis = diagnose(kb_evidence())
    jsonschema.validate(diagnosis.to_dict(), schema())
    assert '"schema_version": "3"' in diagnosis.to_json()


def test_script_has_check_fix_verify_with_what_if() -> None:
    """to_script() writes the sections and -WhatIf on changes, never -Force."""
    script = diagnose(kb_evidence()).to_script()
    assert "# --- check" in script
    assert "# --- fix" in script
    assert "# --- verify" in script
    assert f"Enable-ExchangeCertificate -Thumbprint '{T1}' -Services 'SMTP' -WhatIf" in script
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert not [line for line in commands if "-Force" in line]


# -- one scenario and one near miss per rule --------------------------------------------

NOW = dt.datetime(2024, 6, 1, tzinfo=UTC)


def log(*rows: str, name: str = "SEND20240601-1.LOG") -> list:  # type: ignore[type-arg]
    """Return the sessions of protocol-log rows (connector 'Out', session 0A unless given)."""
    lines = []
    for number, row in enumerate(rows):
        session, _, rest = row.partition("|") if "|" in row else ("0A", "", row)
        lines.append(
            f"2024-06-01T00:00:{number:02d}.000Z,Out,{session},{number},10.0.0.1:1000,192.0.2.25:25,{rest}"
        )
    return list(assemble_sessions(parse_protocol_log("\n".join(lines), source=name).rows))


def presented(thumbprint: str, error: str | None) -> list[str]:
    """Return the rows of a session presenting a certificate, failing with ``error`` or succeeding."""
    outcome = (
        f"*,,TLS negotiation failed with error {error}"
        if error
        else '*,,"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"'
    )
    return [
        ">,EHLO mail.contoso.com,",
        "<,250-mx Hello,",
        "<,250 STARTTLS,",
        ">,STARTTLS,",
        "<,220 2.0.0 SMTP server ready,",
        "*,,Sending certificate",
        "*,CN=mail.contoso.com,Certificate subject",
        "*,CN=Contoso CA,Certificate issuer name",
        f"*,{thumbprint},Certificate thumbprint",
        outcome,
        "-,,Local",
    ]


def rlog(*rows: str) -> list:  # type: ignore[type-arg]
    """Return the sessions of receive-log rows (connector 'Default Frontend EX01')."""
    lines = [
        f"2024-06-01T00:00:{number:02d}.000Z,EX01\\Default Frontend EX01,0R,{number},"
        f"10.0.0.1:25,203.0.113.9:5000,{row}"
        for number, row in enumerate(rows)
    ]
    return list(
        assemble_sessions(parse_protocol_log("\n".join(lines), source="RECV20240601-1.LOG").rows)
    )


#: Errors no rule but the catch-all explains, for the widespread scenario.
ERRORS = ("IllegalMessage", "InvalidToken", "IncompleteMessage")


def spread(  # type: ignore[type-arg]
    remotes: list[str], ok: int, errors: tuple[str, ...] = ("IllegalMessage",)
) -> list:
    """Return receive sessions: one failing from each remote, then ``ok`` succeeding.

    The failures take ``errors`` in turn.
    """
    lines = []
    outcomes = [(remote, errors[number % len(errors)]) for number, remote in enumerate(remotes)] + [
        ("192.0.2.7", None)
    ] * ok
    for number, (remote, error) in enumerate(outcomes):
        minute, second = divmod(number, 60)
        for sequence, row in enumerate(presented(T1, error)):
            lines.append(
                f"2024-06-01T00:{minute:02d}:{second:02d}.{sequence:03d}Z,"
                f"EX01\\Default Frontend EX01,R{number:04d},{sequence},10.0.0.1:25,"
                f"{remote}:5000,{row}"
            )
    return list(
        assemble_sessions(parse_protocol_log("\n".join(lines), source="RECV20240601-1.LOG").rows)
    )


def cert(thumbprint: str = T1, **changes: object) -> ExchangeCertificate:
    """Return a healthy SMTP certificate for mail.contoso.com, with changes."""
    values: dict[str, object] = {
        "thumbprint": thumbprint,
        "services": Services.IIS | Services.SMTP,
        "subject": "CN=mail.contoso.com",
        "issuer": "CN=Contoso CA",
        "certificate_domains": ("mail.contoso.com",),
        "has_private_key": True,
        "is_self_signed": False,
        "status": CertificateStatus.VALID,
        "not_before": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "not_after": dt.datetime(2025, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return ExchangeCertificate(**values)  # type: ignore[arg-type]


def connector(**changes: object) -> SendConnector:
    """Return a send connector 'Out' for mail.contoso.com, with changes."""
    values: dict[str, object] = {
        "name": "Out",
        "fqdn": "mail.contoso.com",
        "require_tls": True,
        "protocol_logging_level": "Verbose",
    }
    values.update(changes)
    return SendConnector(**values)  # type: ignore[arg-type]


def queue(last_error: str, next_hop: str = "mx.example.net") -> list:  # type: ignore[type-arg]
    """Return a failing queue with this LastError."""
    return list(
        parse_queues(
            f"Identity : EX01\\5\nStatus : Retry\nNextHopDomain : {next_hop}\nLastError : {last_error}\n"
        )
    )


TLS_NAME = parse_tls_certificate_name("<I>CN=Contoso CA<S>CN=mail.contoso.com")
EXO_HOST = "contoso-com.mail.protection.outlook.com"
TLS10 = [
    row.replace("SP_PROT_TLS1_2_CLIENT", "SP_PROT_TLS1_0_CLIENT") for row in presented(T1, None)
]
SCENARIOS: dict[str, tuple[Evidence, Evidence]] = {
    "certificate-not-enabled-for-smtp": (
        Evidence(
            sessions=log(*presented(T1, "UnknownCredentials")),
            certificates=[cert(services=Services.IIS)],
        ),
        Evidence(sessions=log(*presented(T1, "UnknownCredentials")), certificates=[cert()]),
    ),
    "certificate-missing-private-key": (
        Evidence(
            sessions=log(*presented(T1, "NoCredentials")),
            certificates=[cert(has_private_key=False)],
        ),
        Evidence(sessions=log(*presented(T1, None)), certificates=[cert()]),
    ),
    "certificate-key-inaccessible": (
        Evidence(sessions=log(*presented(T1, "UnknownCredentials")), certificates=[cert()]),
        Evidence(
            sessions=log(*presented(T1, "UnknownCredentials")),
            certificates=[cert(services=Services.IIS)],
        ),
    ),
    "tls-certificate-name-not-found": (
        Evidence(
            send_connectors=[
                connector(
                    tls_certificate_name=parse_tls_certificate_name(
                        "<I>CN=Old CA<S>CN=mail.contoso.com"
                    )
                )
            ],
            certificates=[cert()],
        ),
        Evidence(send_connectors=[connector(tls_certificate_name=TLS_NAME)], certificates=[cert()]),
    ),
    "tls-certificate-name-invalid": (
        Evidence(
            send_connectors=[
                connector(
                    tls_certificate_name=TlsCertificateName.as_written(
                        "CN=Contoso CACN=mail.contoso.com"
                    )
                )
            ]
        ),
        Evidence(send_connectors=[connector(tls_certificate_name=TLS_NAME)]),
    ),
    "certificate-expired": (
        Evidence(certificates=[cert(not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))]),
        Evidence(
            certificates=[
                cert(services=Services.IIS, not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
            ]
        ),
    ),
    "certificate-expiring-soon": (
        Evidence(certificates=[cert(not_after=dt.datetime(2024, 6, 15, tzinfo=UTC))]),
        Evidence(certificates=[cert(not_after=dt.datetime(2024, 8, 15, tzinfo=UTC))]),
    ),
    "no-certificate-for-connector-fqdn": (
        Evidence(send_connectors=[connector(fqdn="relay.contoso.com")], certificates=[cert()]),
        Evidence(
            send_connectors=[connector(fqdn="relay.contoso.com", require_tls=False)],
            certificates=[cert()],
        ),
    ),
    "tls-protocol-mismatch": (
        Evidence(sessions=log(*presented(T1, "SocketError"))),
        Evidence(sessions=log(*presented(T1, None))),
    ),
    "remote-requires-starttls": (
        Evidence(
            queues=queue(
                '451 4.4.0 Primary target IP address responded with: "451 5.7.3 Must issue a STARTTLS command first." Attempted failover to alternate host, but that did not succeed.'
            )
        ),
        Evidence(
            queues=queue(
                '451 4.4.0 Primary target IP address responded with: "451 5.7.3 STARTTLS command accepted." Attempted failover to alternate host, but that did not succeed.'
            )
        ),
    ),
    "remote-starttls-unavailable": (
        Evidence(queues=queue("451 5.7.3 STARTTLS is required to send mail")),
        Evidence(queues=queue("451 4.4.0 DNS query failed")),
    ),
    "certificate-untrusted": (
        Evidence(certificates=[cert(status=CertificateStatus.UNTRUSTED)]),
        Evidence(certificates=[cert(status=CertificateStatus.UNTRUSTED, services=Services.IIS)]),
    ),
    "certificate-revocation-check-failed": (
        Evidence(certificates=[cert(status=CertificateStatus.REVOCATION_CHECK_FAILURE)]),
        Evidence(certificates=[cert(status=CertificateStatus.VALID)]),
    ),
    "self-signed-certificate-external": (
        Evidence(
            send_connectors=[connector(smart_hosts=("contoso-com.mail.protection.outlook.com",))],
            certificates=[cert(is_self_signed=True)],
        ),
        Evidence(
            send_connectors=[connector(smart_hosts=("relay.contoso.local",))],
            certificates=[cert(is_self_signed=True)],
        ),
    ),
    "connection-failure": (
        Evidence(
            sessions=log(
                "*,,attempting to connect",
                '*,,"Failed to connect. Winsock error code: 10060, Win32 error code: 10060, Error Message: A connection attempt failed"',
            )
        ),
        Evidence(
            sessions=log(*presented(T1, "UnknownCredentials")),
            queues=queue(
                '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out." Attempted failover to alternate host, but that did not succeed. The last endpoint attempted was 192.0.2.25:25'
            ),
        ),
    ),
    "tls-domain-validation-misconfigured": (
        Evidence(
            send_connectors=[
                connector(tls_auth_level="DomainValidation", smart_hosts=("smtp.example.net",))
            ]
        ),
        Evidence(
            send_connectors=[
                connector(
                    tls_auth_level="DomainValidation",
                    tls_domain="example.net",
                    smart_hosts=("smtp.example.net",),
                )
            ]
        ),
    ),
    "internal-transport-certificate-problem": (
        Evidence(sessions=log("*,,Outbound Authentication failed with LogonDenied")),
        Evidence(sessions=log("*,,Set Session Permissions")),
    ),
    "legacy-tls-to-exchange-online": (
        Evidence(sessions=log(*TLS10), send_connectors=[connector(smart_hosts=(EXO_HOST,))]),
        Evidence(
            sessions=log(*presented(T1, None)),
            send_connectors=[connector(smart_hosts=(EXO_HOST,))],
        ),
    ),
    "inbound-tls-failure": (
        Evidence(sessions=rlog(*presented(T1, "UnknownCredentials")), certificates=[cert()]),
        Evidence(sessions=rlog(*presented(T1, None)), certificates=[cert()]),
    ),
    # Scanners from twelve addresses at a tenth of the sessions are background; the same
    # failures from Exchange Online's addresses are a problem.
    "inbound-background": (
        Evidence(sessions=spread([f"203.0.113.{n}" for n in range(12)], ok=100)),
        Evidence(sessions=spread([f"40.107.1.{n}" for n in range(12)], ok=100)),
    ),
    # Unexplained errors from fifteen scanners at most of the sessions are one problem for
    # the connector (inbound-tls-failure takes the latest session's error); at a tenth of
    # the sessions they are background.
    "inbound-failures-widespread": (
        Evidence(sessions=spread([f"203.0.113.{n}" for n in range(15)], ok=4, errors=ERRORS)),
        Evidence(sessions=spread([f"203.0.113.{n}" for n in range(15)], ok=150, errors=ERRORS)),
    ),
    "receive-connector-certificate-not-found": (
        Evidence(
            receive_connectors=[
                ReceiveConnector(
                    name="Default Frontend EX01",
                    tls_certificate_name=parse_tls_certificate_name(
                        "<I>CN=Old CA<S>CN=mail.contoso.com"
                    ),
                )
            ],
            certificates=[cert()],
        ),
        Evidence(
            receive_connectors=[
                ReceiveConnector(name="Default Frontend EX01", tls_certificate_name=TLS_NAME)
            ],
            certificates=[cert()],
        ),
    ),
    "exchange-online-connector-incomplete": (
        Evidence(
            send_connectors=[connector(smart_hosts=(EXO_HOST,), cloud_services_mail_enabled=False)]
        ),
        Evidence(
            send_connectors=[
                connector(
                    smart_hosts=(EXO_HOST,),
                    cloud_services_mail_enabled=True,
                    tls_certificate_name=TLS_NAME,
                )
            ]
        ),
    ),
    "protocol-logging-disabled": (
        Evidence(
            send_connectors=[
                connector(protocol_logging_level="None", smart_hosts=("mx.example.net",))
            ],
            queues=queue("451 4.4.0 DNS query failed"),
        ),
        Evidence(
            send_connectors=[
                connector(protocol_logging_level="Verbose", smart_hosts=("mx.example.net",))
            ],
            queues=queue("451 4.4.0 DNS query failed"),
        ),
    ),
    "unexplained-tls-failure": (
        Evidence(sessions=log(*presented(T1, "IllegalMessage"))),
        Evidence(sessions=log(*presented(T1, None))),
    ),
    "unexplained-queue-error": (
        Evidence(
            queues=queue(
                '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out."'
            )
        ),
        Evidence(
            queues=list(
                parse_queues("Identity : EX01\\5\nStatus : Ready\nNextHopDomain : mx.example.net\n")
            )
        ),
    ),
}


def test_every_listed_rule_is_in_the_catalogue_with_scenarios() -> None:
    """The catalogue has every listed rule id, and each has a scenario pair here."""
    # Server-settings rules have their scenario pairs in tests/test_server_settings.py, the
    # TLS report rules theirs in tests/test_tls_report_rules.py, the probe rules theirs in
    # tests/probe/test_probe_diagnosis.py, the conversation's, the receive side's and the
    # internal transport's theirs in tests/test_conversation.py.
    elsewhere = (
        ".server_settings",
        ".tls_reports",
        ".tls_report_delivery",
        ".probes",
        ".conversation",
        ".receive",
        ".internal_transport",
    )
    server_settings = {
        rule.rule_id for rule in CATALOGUE if rule.check.__module__.endswith(elsewhere)
    }
    assert {rule.rule_id for rule in CATALOGUE} - server_settings == LISTED_RULES
    assert set(SCENARIOS) == LISTED_RULES


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_rule_fires_on_its_scenario(rule_id: str) -> None:
    """Each rule fires on evidence that shows its failure, and cites that evidence."""
    scenario, _ = SCENARIOS[rule_id]
    findings = [
        finding for finding in diagnose(scenario, now=NOW).findings if finding.rule_id == rule_id
    ]
    assert findings, rule_id
    assert findings[0].evidence
    entry = next(rule for rule in CATALOGUE if rule.rule_id == rule_id)
    assert (findings[0].title, findings[0].severity, findings[0].failure_mode) == (
        entry.title,
        entry.severity,
        entry.failure_mode,
    )
    assert findings[0].references == entry.references


def test_a_finding_of_an_unregistered_rule_is_refused() -> None:
    """Building a finding for a rule id the catalogue lacks raises LookupError."""
    with pytest.raises(LookupError, match=r"^no rule 'no-such-rule' in the catalogue$"):
        catalogue_finding("no-such-rule", summary="", evidence=(), confidence=Confidence.LOW)


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_rule_stays_silent_on_its_near_miss(rule_id: str) -> None:
    """Each rule stays silent on evidence that only looks like its failure."""
    _, near_miss = SCENARIOS[rule_id]
    assert rule_id not in [finding.rule_id for finding in diagnose(near_miss, now=NOW).findings]


def test_healthy_evidence_gives_no_warning() -> None:
    """Successful TLS with a valid, bound certificate gives no error or warning."""
    evidence = Evidence(
        sessions=log(*presented(T1, None)),
        certificates=[cert()],
        send_connectors=[connector(tls_certificate_name=TLS_NAME)],
        queues=list(
            parse_queues(
                "Identity : EX01\\5\nStatus : Ready\nMessageCount : 0\nNextHopDomain : mx.example.net\n"
            )
        ),
    )
    diagnosis = diagnose(evidence, now=NOW)
    assert diagnosis.findings == ()
    assert diagnosis.healthy
    assert "Nothing to fix" in diagnosis.to_script()


def test_now_defaults_to_the_latest_time_in_the_evidence() -> None:
    """Without now, the diagnosis uses the evidence's latest time, not the clock."""
    diagnosis = diagnose(Evidence(sessions=log(*presented(T1, None))))
    assert diagnosis.now == dt.datetime(2024, 6, 1, 0, 0, 10, tzinfo=UTC)


# -- properties ----------------------------------------------------------------------------

ALL_EVIDENCE = [evidence for pair in SCENARIOS.values() for evidence in pair]


@settings(max_examples=50)
@given(
    st.lists(st.sampled_from(ALL_EVIDENCE), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_diagnosis_ignores_input_order(parts: list[Evidence], rng: random.Random) -> None:
    """Shuffled inputs give the same findings in the same order."""
    merged = {
        field: [item for part in parts for item in getattr(part, field)]
        for field in ("sessions", "certificates", "queues", "send_connectors", "receive_connectors")
    }
    first = diagnose(Evidence(**merged), now=NOW)  # type: ignore[arg-type]
    shuffled = {field: rng.sample(items, len(items)) for field, items in merged.items()}
    second = diagnose(Evidence(**shuffled), now=NOW)  # type: ignore[arg-type]
    assert first.to_dict() == second.to_dict()


certificates = st.builds(
    ExchangeCertificate,
    thumbprint=st.one_of(
        st.none(), st.from_regex(r"[0-9A-F]{40}", fullmatch=True), st.text(max_size=5)
    ),
    services=st.one_of(st.none(), st.integers(0, 127).map(Services)),
    subject=st.one_of(st.none(), st.text(max_size=20)),
    issuer=st.one_of(st.none(), st.text(max_size=20)),
    not_after=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    has_private_key=st.one_of(st.none(), st.booleans()),
    status=st.one_of(st.none(), st.sampled_from(list(CertificateStatus)), st.integers(0, 9)),
    certificate_domains=st.one_of(st.none(), st.lists(st.text(max_size=10)).map(tuple)),
)
connectors = st.builds(
    SendConnector,
    name=st.one_of(st.none(), st.text(max_size=20)),
    fqdn=st.one_of(st.none(), st.text(max_size=20)),
    require_tls=st.one_of(st.none(), st.booleans()),
    tls_auth_level=st.one_of(
        st.none(),
        st.sampled_from(["EncryptionOnly", "CertificateValidation", "DomainValidation", "x"]),
    ),
    tls_domain=st.one_of(st.none(), st.text(max_size=10)),
    smart_hosts=st.one_of(st.none(), st.lists(st.text(max_size=10)).map(tuple)),
    tls_certificate_name=st.one_of(
        st.none(), st.text(max_size=40).map(TlsCertificateName.as_written)
    ),
    protocol_logging_level=st.one_of(st.none(), st.sampled_from(["None", "Verbose"])),
)


receive_connectors = st.builds(
    ReceiveConnector,
    name=st.one_of(st.none(), st.text(max_size=20)),
    identity=st.one_of(st.none(), st.text(max_size=20)),
    fqdn=st.one_of(st.none(), st.text(max_size=20)),
    tls_certificate_name=st.one_of(
        st.none(), st.text(max_size=40).map(TlsCertificateName.as_written)
    ),
    enabled=st.one_of(st.none(), st.booleans()),
)


@settings(max_examples=60)
@given(
    st.lists(certificates, max_size=4),
    st.lists(connectors, max_size=3),
    st.lists(receive_connectors, max_size=2),
    st.sampled_from(ALL_EVIDENCE),
)
def test_diagnose_never_raises_on_well_typed_evidence(
    certs: list[ExchangeCertificate],
    conns: list[SendConnector],
    receive: list[ReceiveConnector],
    base: Evidence,
) -> None:
    """Any well-typed evidence gives a diagnosis that follows the schema."""
    evidence = Evidence(
        sessions=base.sessions,
        queues=base.queues,
        certificates=[*base.certificates, *certs],
        send_connectors=[*base.send_connectors, *conns],
        receive_connectors=[*base.receive_connectors, *receive],
    )
    diagnosis = diagnose(evidence, now=NOW)
    jsonschema.validate(diagnosis.to_dict(), schema())
    diagnosis.to_script()


def test_timeline_names_the_new_certificate_as_the_likely_trigger() -> None:
    """A success with one certificate, then failures with another: the new one is named."""
    rows = [f"0A|{row}" for row in presented(T2, None)] + [
        f"0B|{row}" for row in presented(T1, "UnknownCredentials")
    ]
    evidence = Evidence(sessions=log(*rows), certificates=[cert(services=Services.IIS)])
    [finding] = diagnose(evidence, now=NOW).findings
    assert finding.rule_id == "certificate-not-enabled-for-smtp"
    assert "TLS last succeeded at 2024-06-01 00:00 UTC, with 1 failure since." in finding.summary
    assert f"changed at the first failure, from {T2} to {T1}: the likely trigger" in finding.summary
    assert "the connector's last successful TLS handshake" in [
        ref.claim for ref in finding.evidence
    ]


# -- issue 13: rules that follow how Exchange behaves ---------------------------------------


def fixes_of(finding: object) -> list[str]:
    """Return the rendered commands of a finding's fix steps."""
    return [
        step.command.render()
        for step in finding.remediation  # type: ignore[attr-defined]
        if step.purpose.value == "fix"
    ]


def only(diagnosis: object, rule_id: str) -> object:
    """Return the one finding of ``rule_id``."""
    [found] = [f for f in diagnosis.findings if f.rule_id == rule_id]  # type: ignore[attr-defined]
    return found


def test_f1_fix_names_smtp_alone_never_iis_or_federation() -> None:
    """-Services adds to what is there: the F1 fix names SMTP only, not IIS or Federation."""
    evidence = Evidence(
        sessions=log(*presented(T1, "UnknownCredentials")),
        certificates=[cert(services=Services.IIS | Services.FEDERATION | Services.POP)],
    )
    finding = only(diagnose(evidence, now=NOW), "certificate-not-enabled-for-smtp")
    enables = [fix for fix in fixes_of(finding) if fix.startswith("Enable-ExchangeCertificate")]
    assert enables == [f"Enable-ExchangeCertificate -Thumbprint '{T1}' -Services 'SMTP'"]


def test_enable_command_refuses_federation() -> None:
    """Enable-ExchangeCertificate is never built with Federation (its reference forbids it)."""
    from exchange_tls.remediation import EnableExchangeCertificate

    with pytest.raises(ValueError, match="Federation"):
        EnableExchangeCertificate(thumbprint=T1, services=Services.SMTP | Services.FEDERATION)


def test_stray_tls_domain_on_a_partner_connector_is_cleared_not_pointed_at_exo() -> None:
    """A TlsDomain without DomainValidation on a partner smart host: clear it, no EXO domain."""
    partner = connector(
        require_tls=False, tls_domain="partner.example", smart_hosts=("smtp.partner.example",)
    )
    finding = only(
        diagnose(Evidence(send_connectors=[partner]), now=NOW),
        "tls-domain-validation-misconfigured",
    )
    fixes = fixes_of(finding)
    assert fixes == ["Set-SendConnector -Identity 'Out' -TlsDomain $null"]
    rendered = " ".join(step.command.render() for step in finding.remediation)  # type: ignore[attr-defined]
    assert "mail.protection.outlook.com" not in rendered
    assert "-TlsAuthLevel" not in rendered


def test_missing_tls_domain_on_a_partner_connector_names_no_exo_domain() -> None:
    """DomainValidation without TlsDomain to a partner: no hard-coded Exchange Online domain."""
    partner = connector(tls_auth_level="DomainValidation", smart_hosts=("smtp.partner.example",))
    finding = only(
        diagnose(Evidence(send_connectors=[partner]), now=NOW),
        "tls-domain-validation-misconfigured",
    )
    assert not any("mail.protection.outlook.com" in fix for fix in fixes_of(finding))
    assert "smtp.partner.example" in finding.summary  # type: ignore[attr-defined]


def test_missing_tls_domain_on_an_exo_connector_names_the_exo_domain() -> None:
    """DomainValidation without TlsDomain to Exchange Online: mail.protection.outlook.com."""
    exo = connector(
        tls_auth_level="DomainValidation",
        smart_hosts=("contoso-com.mail.protection.outlook.com",),
    )
    finding = only(
        diagnose(Evidence(send_connectors=[exo]), now=NOW), "tls-domain-validation-misconfigured"
    )
    assert any("-TlsDomain 'mail.protection.outlook.com'" in fix for fix in fixes_of(finding))


def test_socket_error_with_tls12_in_the_same_log_does_not_say_enable_tls12() -> None:
    """The log shows this server negotiating TLS 1.2: no registry fix, low confidence."""
    rows = [f"0A|{row}" for row in presented(T1, None)] + [
        f"0B|{row}" for row in presented(T1, "SocketError")
    ]
    finding = only(diagnose(Evidence(sessions=log(*rows)), now=NOW), "tls-protocol-mismatch")
    assert fixes_of(finding) == []
    assert finding.confidence is Confidence.LOW  # type: ignore[attr-defined]
    assert "enable TLS 1.2 on this server" not in finding.summary  # type: ignore[attr-defined]


def test_registry_fix_creates_keys_sets_dotnet_v2_names_reboot_and_verifies() -> None:
    """The TLS 1.2 fix creates each key before its values, covers .NET v2, reboots, verifies."""
    finding = only(
        diagnose(Evidence(sessions=log(*presented(T1, "SocketError"))), now=NOW),
        "tls-protocol-mismatch",
    )
    steps = finding.remediation  # type: ignore[attr-defined]
    created: set[str] = set()
    for step in steps:
        command = step.command
        if command.cmdlet == "New-Item":
            created.add(command.path)
        elif command.cmdlet == "Set-ItemProperty":
            assert command.path in created, command.path
    assert any("v2.0.50727" in path for path in created)
    assert any("Wow6432Node\\Microsoft\\.NETFramework\\v2.0.50727" in path for path in created)
    assert any(step.note and "Restart the server" in step.note for step in steps)
    assert any(step.purpose.value == "verify" for step in steps)
    guarded = [s.command.render() for s in steps if s.command.cmdlet == "New-Item"]
    assert all(text.startswith("if (-not (Test-Path -LiteralPath ") for text in guarded)


def test_tls10_session_to_exchange_online_is_a_warning() -> None:
    """A successful TLS 1.0 session to Exchange Online is flagged, as a warning, with the fix."""
    rows = [
        row.replace("SP_PROT_TLS1_2_CLIENT", "SP_PROT_TLS1_0_CLIENT") for row in presented(T1, None)
    ]
    exo = connector(smart_hosts=("contoso-com.mail.protection.outlook.com",))
    finding = only(
        diagnose(Evidence(sessions=log(*rows), send_connectors=[exo]), now=NOW),
        "legacy-tls-to-exchange-online",
    )
    assert finding.severity is Severity.WARNING  # type: ignore[attr-defined]
    assert any("SchUseStrongCrypto" in fix for fix in fixes_of(finding))
    partner = connector(smart_hosts=("smtp.partner.example",))
    quiet = diagnose(Evidence(sessions=log(*rows), send_connectors=[partner]), now=NOW)
    assert "legacy-tls-to-exchange-online" not in [f.rule_id for f in quiet.findings]


def test_missing_private_key_removes_the_keyless_certificate_before_import() -> None:
    """KB 4495258: Remove-ExchangeCertificate comes before Import-ExchangeCertificate."""
    evidence = Evidence(
        sessions=log(*presented(T1, "NoCredentials")),
        certificates=[cert(has_private_key=False)],
    )
    finding = only(diagnose(evidence, now=NOW), "certificate-missing-private-key")
    cmdlets = [fix.split(" ", 1)[0] for fix in fixes_of(finding)]
    assert cmdlets.index("Remove-ExchangeCertificate") < cmdlets.index("Import-ExchangeCertificate")


def test_expired_certificate_comes_with_renewal_steps() -> None:
    """certificate-expired renews, enables, renames and removes the old one, then verifies."""
    expired = cert(not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
    evidence = Evidence(
        certificates=[expired],
        send_connectors=[connector(tls_certificate_name=TLS_NAME)],
    )
    finding = only(diagnose(evidence, now=NOW), "certificate-expired")
    fixes = fixes_of(finding)
    assert any("New-ExchangeCertificate -GenerateRequest -RequestFile" in fix for fix in fixes)
    assert any(
        fix.startswith("Set-SendConnector -Identity 'Out' -TlsCertificateName") for fix in fixes
    )
    assert any(fix.startswith("Remove-ExchangeCertificate") for fix in fixes)
    assert not any("-Force" in fix for fix in fixes)
    assert any(step.purpose.value == "verify" for step in finding.remediation)  # type: ignore[attr-defined]


def test_unable_to_connect_alone_is_not_high_confidence() -> None:
    """'421 4.2.1 Unable to connect' alone gives connection-failure at low confidence."""
    evidence = Evidence(
        queues=queue(
            '451 4.4.0 Primary target IP address responded with: "421 4.2.1 Unable to connect." '
            "Attempted failover to alternate host, but that did not succeed."
        )
    )
    finding = only(diagnose(evidence, now=NOW), "connection-failure")
    assert finding.confidence is Confidence.LOW  # type: ignore[attr-defined]


def test_winsock_failure_stays_high_confidence() -> None:
    """A Winsock row in the log is proof: connection-failure at high confidence."""
    scenario, _ = SCENARIOS["connection-failure"]
    finding = only(diagnose(scenario, now=NOW), "connection-failure")
    assert finding.confidence is Confidence.HIGH  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "value", ["<i>CN=Contoso CA<s>CN=mail.contoso.com", "<I>CN=Contoso CA<s>CN=mail.contoso.com"]
)
def test_lower_case_markers_are_a_valid_tls_certificate_name(value: str) -> None:
    """<i>/<s> are accepted, as HealthChecker and Exchange accept them."""
    name = parse_tls_certificate_name(value)
    evidence = Evidence(
        send_connectors=[connector(tls_certificate_name=name)], certificates=[cert()]
    )
    rule_ids = [f.rule_id for f in diagnose(evidence, now=NOW).findings]
    assert "tls-certificate-name-invalid" not in rule_ids
    assert "tls-certificate-name-not-found" not in rule_ids


# -- issue 12 item 5 and issue 13 items 2-3: one decision, the log outranks the configuration --


def test_the_catalogue_is_immutable_and_closed() -> None:
    """CATALOGUE is a read-only sequence, and no rule registers once it has been read."""
    from exchange_tls.diagnosis.catalogue import rule

    assert isinstance(CATALOGUE[0:2], tuple)
    assert not hasattr(CATALOGUE, "append")
    with pytest.raises(RuntimeError, match="frozen"):
        rule(
            "late-rule",
            title="t",
            severity=Severity.INFO,
            failure_mode=None,
            meaning="m",
            needs=(),
            remedy="r",
        )(lambda context, report: ())


#: The catch-alls judge whatever no other rule explained; they have no selection of their own.
CATCH_ALL = "unexplained-"


def test_every_rule_has_its_selection_and_contradiction_written() -> None:
    """Each rule says which certificate it judges and what in the log lowers it, for the docs."""
    assert [
        r.rule_id
        for r in CATALOGUE
        if not (r.selection and r.contradiction) and not r.rule_id.startswith(CATCH_ALL)
    ] == []


@pytest.mark.parametrize(
    ("error", "changes", "expected"),
    [
        ("UnknownCredentials", {"services": Services.IIS}, "certificate-not-enabled-for-smtp"),
        ("NoCredentials", {"services": Services.IIS}, "certificate-not-enabled-for-smtp"),
        ("UnknownCredentials", {"has_private_key": False}, "certificate-missing-private-key"),
        (
            "UnknownCredentials",
            {"has_private_key": False, "services": Services.IIS},
            "certificate-missing-private-key",
        ),
        ("NoCredentials", {}, "certificate-key-inaccessible"),
        ("UnknownCredentials", {}, "certificate-key-inaccessible"),
        (
            "NoCredentials",
            {"services": None, "has_private_key": None},
            "certificate-missing-private-key",
        ),
        ("UnknownCredentials", {"services": None}, "certificate-not-enabled-for-smtp"),
    ],
)
def test_one_decision_gives_exactly_one_of_f1_f2_f3(
    error: str, changes: dict[str, object], expected: str
) -> None:
    """A credential failure gives exactly one of F1, F2 and F3, decided by the facts."""
    evidence = Evidence(sessions=log(*presented(T1, error)), certificates=[cert(**changes)])
    credential = {
        "certificate-not-enabled-for-smtp",
        "certificate-missing-private-key",
        "certificate-key-inaccessible",
    }
    found = [f.rule_id for f in diagnose(evidence, now=NOW).findings if f.rule_id in credential]
    assert found == [expected]


def test_configuration_alone_predicts_f1_at_medium_confidence() -> None:
    """The KB 4051498 connector and certificate without a log: F1 at medium confidence."""
    evidence = kb_evidence()
    diagnosis = diagnose(
        Evidence(certificates=evidence.certificates, send_connectors=evidence.send_connectors)
    )
    finding = only(diagnosis, "certificate-not-enabled-for-smtp")
    assert finding.confidence is Confidence.MEDIUM  # type: ignore[attr-defined]
    assert "predicted from the configuration" in finding.summary  # type: ignore[attr-defined]


def test_a_log_showing_tls_working_silences_the_configuration_prediction() -> None:
    """The selected certificate lacks SMTP, yet the log shows TLS succeeding with it: silent."""
    evidence = Evidence(
        sessions=log(*presented(T1, None)),
        certificates=[cert(services=Services.IIS)],
        send_connectors=[connector(tls_certificate_name=TLS_NAME)],
    )
    assert "certificate-not-enabled-for-smtp" not in [
        f.rule_id for f in diagnose(evidence, now=NOW).findings
    ]


@pytest.mark.parametrize(
    ("rule_id", "changes"),
    [
        ("certificate-expired", {"not_after": dt.datetime(2024, 5, 1, tzinfo=UTC)}),
        ("certificate-untrusted", {"status": CertificateStatus.UNTRUSTED}),
        (
            "certificate-revocation-check-failed",
            {"status": CertificateStatus.REVOCATION_CHECK_FAILURE},
        ),
    ],
)
def test_the_log_lowers_a_configuration_finding_to_a_warning(
    rule_id: str, changes: dict[str, object]
) -> None:
    """A configuration finding is a warning, with the reason, when the log shows TLS working."""
    configured = Evidence(
        certificates=[cert(**changes)], send_connectors=[connector(tls_certificate_name=TLS_NAME)]
    )
    alone = only(diagnose(configured, now=NOW), rule_id)
    assert alone.severity is Severity.ERROR  # type: ignore[attr-defined]
    proven = attrs.evolve(configured, sessions=log(*presented(T1, None)))
    lowered = only(diagnose(proven, now=NOW), rule_id)
    assert lowered.severity is Severity.WARNING  # type: ignore[attr-defined]
    assert "the log shows TLS succeeding with this certificate" in lowered.summary  # type: ignore[attr-defined]
    assert any(ref.claim == "TLS succeeded with this certificate" for ref in lowered.evidence)  # type: ignore[attr-defined]


def test_a_changed_severity_needs_its_reason() -> None:
    """The bound builder refuses a lowered severity without a reason."""
    from exchange_tls.diagnosis.catalogue import Report, lookup

    report = Report(lookup("certificate-expired"))
    with pytest.raises(ValueError, match="reason"):
        report(
            summary="s",
            evidence=(),
            confidence=Confidence.LOW,
            subject="x",
            severity=Severity.WARNING,
        )


@pytest.mark.parametrize(
    "rule_id", sorted(rule_id for rule_id in SCENARIOS if not rule_id.startswith(CATCH_ALL))
)
def test_every_rule_remedies_with_a_verify_step(rule_id: str) -> None:
    """Each rule's finding on its scenario carries remediation that ends with a verify step."""
    scenario, _ = SCENARIOS[rule_id]
    finding = only(diagnose(scenario, now=NOW), rule_id)
    purposes = [step.purpose.value for step in finding.remediation]  # type: ignore[attr-defined]
    assert "verify" in purposes, purposes
    assert purposes[-1] == "verify", purposes


def test_a_success_before_the_expiry_does_not_lower_certificate_expired() -> None:
    """TLS that worked before NotAfter proves nothing about the certificate now: still an error."""
    evidence = Evidence(
        sessions=log(*presented(T1, None)),
        certificates=[cert(not_after=dt.datetime(2024, 6, 1, 0, 5, tzinfo=UTC))],
        send_connectors=[connector(tls_certificate_name=TLS_NAME)],
    )
    finding = only(diagnose(evidence, now=NOW + dt.timedelta(days=1)), "certificate-expired")
    assert finding.severity is Severity.ERROR  # type: ignore[attr-defined]


def test_a_disabled_connector_predicts_nothing() -> None:
    """A disabled connector's certificate is not judged from the configuration."""
    evidence = Evidence(
        certificates=[cert(services=Services.IIS, not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))],
        send_connectors=[connector(tls_certificate_name=TLS_NAME, enabled=False)],
    )
    rule_ids = [f.rule_id for f in diagnose(evidence, now=NOW).findings]
    assert "certificate-not-enabled-for-smtp" not in rule_ids
    assert "certificate-expired" not in rule_ids


def _schannel(event_id: int, when: str, data: str) -> str:
    """Return one Schannel event as event XML, at ``when`` (UTC), with its data elements."""
    return (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        f"<Provider Name='Schannel'/><EventID>{event_id}</EventID><Level>2</Level>"
        f"<TimeCreated SystemTime='{when}'/></System><EventData>{data}</EventData></Event>"
    )


_CLIENT_CREDENTIAL = "<Data Name='Type'>client</Data><Data Name='ErrorState'>10013</Data>"
_SERVER_CREDENTIAL = "<Data Name='Type'>server</Data><Data Name='ErrorState'>10013</Data>"
_PROTOCOL_ALERT = "<Data Name='AlertDesc'>70</Data>"


@pytest.mark.parametrize(
    ("events", "confidence", "cited"),
    [
        ([_schannel(36871, "2024-06-01T00:20:00Z", _CLIENT_CREDENTIAL)], Confidence.HIGH, 1),
        ([_schannel(36887, "2024-05-31T23:30:00Z", _PROTOCOL_ALERT)], Confidence.HIGH, 1),
        # Near misses: a day away, the server's own credential, an inbound cipher failure.
        ([_schannel(36871, "2024-06-02T00:20:00Z", _CLIENT_CREDENTIAL)], Confidence.MEDIUM, 0),
        ([_schannel(36871, "2024-06-01T00:20:00Z", _SERVER_CREDENTIAL)], Confidence.MEDIUM, 0),
        ([_schannel(36874, "2024-06-01T00:20:00Z", "")], Confidence.MEDIUM, 0),
        ([], Confidence.MEDIUM, 0),
    ],
)
def test_schannel_events_confirm_a_dropped_handshake(
    events: list[str], confidence: Confidence, cited: int
) -> None:
    """Schannel client failures within an hour of a SocketError raise it to high and are cited."""
    evidence = Evidence(
        sessions=log(*presented(T1, "SocketError")),
        events=parse_events("<Events>" + "".join(events) + "</Events>") if events else (),
    )
    finding = only(diagnose(evidence, now=NOW), "tls-protocol-mismatch")
    assert finding.confidence is confidence  # type: ignore[attr-defined]
    schannel = [ref for ref in finding.evidence if ref.excerpt.startswith("Schannel")]  # type: ignore[attr-defined]
    assert len(schannel) == cited
    assert ("Schannel logged 1 failed client handshake" in finding.summary) is bool(cited)  # type: ignore[attr-defined]
