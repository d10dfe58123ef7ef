"""``python -m exchange_tls``: diagnose the bundled KB 4051498 evidence."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exchange_tls import __version__
from exchange_tls.bundled import EXAMPLE, example_files
from exchange_tls.certificates import ExchangeCertificate, parse_certificates
from exchange_tls.connectors import SendConnector, parse_send_connectors
from exchange_tls.diagnosis import Diagnosis, Evidence, diagnose
from exchange_tls.errors import Problem
from exchange_tls.protocol_log import SmtpSession, assemble_sessions, parse_protocol_log
from exchange_tls.queues import QueueRecord, parse_queues
from exchange_tls.sources import decode_bytes

_NEWLINE_NAMES = {"\r\n": "CRLF", "\n": "LF", "\r": "CR", "mixed": "mixed", None: "none"}


def example_evidence(name: str = EXAMPLE) -> tuple[Evidence, list[str]]:
    """Read a bundled example into evidence; also describe each file as it was read."""
    described: list[str] = []
    sessions: list[SmtpSession] = []
    certificates: list[ExchangeCertificate] = []
    queues: list[QueueRecord] = []
    connectors: list[SendConnector] = []
    problems: list[Problem] = []
    for entry in example_files(name):
        decoded = decode_bytes(entry.read_bytes(), entry.name)
        bom = " with BOM" if decoded.bom else ""
        described.append(
            f"  {entry.name}: {decoded.encoding}{bom}, "
            f"{_NEWLINE_NAMES[decoded.newline]} line endings, {len(decoded.lines)} lines"
        )
        problems.extend(decoded.problems)
        # The bundle's files are named for their kind; load_evidence() will detect it.
        if entry.name.upper().startswith(("SEND", "RECV")):
            log = parse_protocol_log(decoded.text, entry.name)
            sessions.extend(assemble_sessions(log.rows))
            problems.extend(log.problems)
        elif entry.name.startswith("get-exchangecertificate"):
            certificates.extend(
                parse_certificates(decoded.text, source=entry.name, date_order="MDY")
            )
        elif entry.name.startswith("get-queue"):
            queues.extend(parse_queues(decoded.text, source=entry.name, date_order="MDY"))
        elif entry.name.startswith("get-sendconnector"):
            connectors.extend(parse_send_connectors(decoded.text, source=entry.name))
    evidence = Evidence(
        sessions=sessions,
        certificates=certificates,
        queues=queues,
        send_connectors=connectors,
        problems=problems,
    )
    return evidence, described


def describe_diagnosis(diagnosis: Diagnosis) -> list[str]:
    """Describe the findings: what, the evidence that proves it, and the commands."""
    if not diagnosis.findings:
        return ["No problem found."]
    lines: list[str] = []
    for finding in diagnosis.findings:
        lines.append(f"{finding.severity.value.upper()} {finding.rule_id}: {finding.title}")
        lines.append(f"  {finding.summary}")
        lines.append("  Evidence:")
        lines.extend(f"    {ref.source or '(derived)'}: {ref.claim}" for ref in finding.evidence)
        lines.append("  Remediation:")
        lines.extend(f"    [{step.purpose.value}] {step.command}" for step in finding.remediation)
    return lines


def describe_example(name: str = EXAMPLE) -> str:
    """Read a bundled example and return its files and its diagnosis as text."""
    evidence, described = example_evidence(name)
    lines = [f"exchange_tls {__version__}: the bundled {name} evidence", *described, ""]
    lines.extend(describe_diagnosis(diagnose(evidence)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the diagnosis of the bundled example and return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments:
        print("usage: python -m exchange_tls", file=sys.stderr)
        return 2
    print(describe_example())
    return 0


if __name__ == "__main__":
    sys.exit(main())
