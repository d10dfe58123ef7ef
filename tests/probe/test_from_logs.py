"""``exchange-tls probe --from-logs``: every failing host, each mapped to a local server."""

from __future__ import annotations

import json
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest

from exchange_tls import Evidence, assemble_sessions, diagnose, parse_protocol_log
from exchange_tls.cli import main
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.probe.command import failed_hosts
from exchange_tls.probe_results import read_probe_results

DATA = Path(__file__).parent.parent / "data" / "probes"
LOG = DATA / "SEND20240601-algorithm-mismatch.LOG"
#: The log's failing host: a documentation address (RFC 5737) the tests map to 127.0.0.1.
FABRIKAM = "203.0.113.25"
#: A second failing host, in a second log written by the test.
NORTHWIND = "198.51.100.7"


def _second_log(folder: Path) -> None:
    text = LOG.read_text(encoding="utf-8-sig")
    text = text.replace(FABRIKAM, NORTHWIND).replace("mx.fabrikam.example", "mx.northwind.example")
    text = text.replace("08DC8A0000000002", "08DC8A0000000003")
    # A cause of its own: the engine groups failures by error, not by host.
    text = text.replace("AlgorithmMismatch", "SocketError")
    (folder / "SEND20240601-northwind.LOG").write_text(text, encoding="utf-8")


def test_the_failing_hosts_of_the_logs_with_the_names_their_banners_give() -> None:
    """Hosts come from failing send sessions; the banner names the certificate's host."""
    text = LOG.read_text(encoding="utf-8-sig")
    sessions = assemble_sessions(parse_protocol_log(text, source=LOG.name))
    (target,) = failed_hosts(Evidence(sessions=sessions))
    assert (target.host, target.port, target.server_name) == (FABRIKAM, 25, "mx.fabrikam.example")


def test_from_logs_probes_every_failing_host_and_diagnose_names_the_remote(
    tmp_path: Path, servers: Any, pki: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The acceptance case end to end, on local servers only.

    Fabrikam's MX (a local server limited to TLS 1.0) and Northwind's (no STARTTLS) stand
    behind the logs' addresses through ``--connect-to``; the loopback guard of conftest
    fails the test if anything else is reached.
    """
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    shutil.copy(LOG, evidence)
    _second_log(evidence)
    tls10 = servers.smtp(
        pki.context(
            "mx.fabrikam.example", minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1
        )
    )
    plain = servers.smtp(None)
    saved = evidence / "probes.json"
    status = main(
        [
            "probe",
            "--from-logs",
            str(evidence),
            "--connect-to",
            f"{FABRIKAM}=127.0.0.1:{tls10}",
            "--connect-to",
            f"{NORTHWIND}=127.0.0.1:{plain}",
            "--trust",
            str(pki.trust_file),
            "--versions",
            "--timeout",
            "2",
            "--jobs",
            "2",
            "--format",
            "json",
            "-o",
            str(saved),
        ]
    )
    progress = capsys.readouterr().err
    assert status == 1
    assert "[2/2]" in progress
    document = json.loads(saved.read_text(encoding="utf-8"))
    by_host = {probe["host"]: probe for probe in document["probes"]}
    assert set(by_host) == {FABRIKAM, NORTHWIND}
    assert by_host[FABRIKAM]["tls_version"] == "TLSv1"
    assert by_host[FABRIKAM]["server_name"] == "mx.fabrikam.example"
    assert by_host[NORTHWIND]["result_type"] == "starttls-not-supported"

    sessions = []
    for log in sorted(evidence.glob("*.LOG")):
        text = log.read_text(encoding="utf-8-sig")
        sessions += assemble_sessions(parse_protocol_log(text, source=log.name))
    diagnosis = diagnose(Evidence(sessions=sessions, probes=read_probe_results(saved)))
    (finding,) = [f for f in diagnosis.findings if f.rule_id == "probe-remote-legacy-tls"]
    assert finding.side is FaultSide.REMOTE
    assert FABRIKAM in finding.summary
    assert any("probes.json#/probes/" in str(ref.source) for ref in finding.evidence)

    # The same through the command line: the folder holds the logs and the saved probes.
    assert main(["diagnose", str(evidence), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    assert by_rule["probe-remote-legacy-tls"]["side"] == "remote"
    # Northwind's failures are not explained by its probe (no STARTTLS at all now): the
    # generic rule keeps them, and only them.
    generic = by_rule["tls-protocol-mismatch"]
    assert {ref["source"] for ref in generic["evidence"]} == {
        str(evidence / "SEND20240601-northwind.LOG")
    }
    assert report["coverage"]["files_by_kind"]["probes"] == 1


def test_from_logs_without_failures_probes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Healthy or empty evidence: nothing to probe, and nothing is."""
    (tmp_path / "notes.txt").write_text("nothing here\n", encoding="utf-8")
    assert main(["probe", "--from-logs", str(tmp_path)]) == 0
    assert "no host to probe" in capsys.readouterr().err


def test_probe_needs_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    """Without HOST, --domain or --from-logs, the command says what it needs."""
    assert main(["probe"]) == 2
    assert "give HOST" in capsys.readouterr().err
