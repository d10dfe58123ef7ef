"""The ``exchange-tls`` command line: diagnose, explain, sessions, certificates, queues, rules."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from exchange_tls import __version__
from exchange_tls.bundled import EXAMPLE
from exchange_tls.diagnosis import CATALOGUE, Diagnosis, diagnose, explain_error
from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Coverage, Finding, Verdict
from exchange_tls.errors import ExchangeTlsError, Problem, Severity
from exchange_tls.loading import load_evidence
from exchange_tls.safe_text import code_fence, for_json, for_markdown, for_terminal

__all__ = ["main"]

# Exit statuses (documented in --help and the CLI page): a crash must never look like a
# diagnosis, so an internal error has a status of its own.
EXIT_HEALTHY, EXIT_FINDINGS, EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_STATUSES = """\
exit status:
  0  healthy: positive evidence that outbound TLS works, and nothing failing
  1  problems: at least one finding of severity error or warning
  2  usage or input error (a path that does not exist, bad options)
  3  inconclusive: too little evidence to say; the report says what to collect
  4  internal error (a bug: please report it; --debug shows the traceback)
"""
_VERDICT_STATUS = {
    Verdict.HEALTHY: EXIT_HEALTHY,
    Verdict.PROBLEMS: EXIT_FINDINGS,
    Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE,
}
#: Evidence lines a finding shows in the text report; the JSON carries them all.
SHOWN_EVIDENCE = 5
PROGRESS_THRESHOLD = 4 * 1024 * 1024
_COLOURS = {"error": "\033[31;1m", "warning": "\033[33;1m", "info": "\033[36m", "dim": "\033[2m"}
_RESET = "\033[0m"


class _Style:
    def __init__(self, stream: TextIO, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = stream.isatty() and not os.environ.get("NO_COLOR")
        self.enabled = enabled

    def __call__(self, text: str, colour: str) -> str:
        return f"{_COLOURS[colour]}{text}{_RESET}" if self.enabled else text


def _bundled_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("exchange_tls").joinpath("bundled").joinpath(EXAMPLE)))


def _progress(stream: TextIO) -> object:
    def report(done: int, total: int, name: str) -> None:
        if total < PROGRESS_THRESHOLD or not stream.isatty():
            return
        width = 30
        filled = int(width * done / total) if total else width
        stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done * 100 // max(total, 1):3d}% "
        )
        if done >= total:
            stream.write("\n")
        stream.flush()

    return report


def _load(arguments: argparse.Namespace) -> Evidence:
    return load_evidence(
        *arguments.paths,
        date_order=arguments.date_order,
        progress=_progress(sys.stderr),  # type: ignore[arg-type]
    )


# -- diagnose ------------------------------------------------------------------------------


def _seen(finding: Finding) -> str:
    if not finding.occurrences:
        return ""
    text = f"  Seen: {plural(finding.occurrences, 'failure')}"
    if finding.first_seen is not None and finding.last_seen is not None:
        first, last = finding.first_seen, finding.last_seen
        text += f", {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    return text


def coverage_line(coverage: Coverage) -> str:
    """Say in one line what was read and what was left out."""
    kinds = [
        plural(count, noun)
        for count, noun in (
            (coverage.send_sessions, "send session"),
            (coverage.receive_sessions, "receive session"),
            (coverage.certificates, "certificate"),
            (coverage.send_connectors, "send connector"),
            (coverage.receive_connectors, "receive connector"),
            (coverage.queues, "queue"),
        )
        if count
    ]
    text = f"Read {plural(coverage.files, 'file')}" if coverage.files else "Read"
    text += f": {', '.join(kinds)}" if kinds else ": nothing that is evidence"
    if coverage.left_out:
        reasons = dict.fromkeys(problem.message for problem in coverage.left_out)
        text += f"; left out {len(coverage.left_out)} ({'; '.join(list(reasons)[:3])})"
    return text + "."


def render_text(diagnosis: Diagnosis, style: _Style) -> str:
    """Write the verdict, the findings and the coverage as a report for a terminal."""
    lines: list[str] = []
    colour = {"healthy": "info", "problems": "error", "inconclusive": "warning"}
    verdict = diagnosis.verdict.value
    lines.append(style(f"Verdict: {verdict}", colour[verdict]))
    lines.extend(f"  {reason}" for reason in diagnosis.reasons)
    lines.extend(f"  Next: {advice}" for advice in diagnosis.advice)
    lines.append("")
    for finding in diagnosis.findings:
        lines.append(
            style(f"{finding.severity.value.upper()} {finding.rule_id}", finding.severity.value)
            + f": {finding.title}"
        )
        lines.append(f"  {for_terminal(finding.summary)}")
        lines.append(f"  Confidence: {finding.confidence.value}")
        seen = _seen(finding)
        if seen:
            lines.append(seen)
        lines.append("  Evidence:")
        for ref in finding.evidence[:SHOWN_EVIDENCE]:
            where = for_terminal(str(ref.source)) if ref.source else "(derived)"
            lines.append(f"    {where}: {for_terminal(ref.claim)}")
            lines.append(style(f"      {for_terminal(ref.excerpt)}", "dim"))
        if len(finding.evidence) > SHOWN_EVIDENCE:
            more = len(finding.evidence) - SHOWN_EVIDENCE
            lines.append(f"    … and {more} more (all of them in --format json)")
        if finding.remediation:
            lines.append("  Remediation:")
            for step in finding.remediation:
                lines.append(f"    [{step.purpose.value}] {for_terminal(str(step.command))}")
                if step.note:
                    lines.append(style(f"      {for_terminal(step.note)}", "dim"))
        lines.append("")
    lines.append(for_terminal(coverage_line(diagnosis.coverage)))
    return "\n".join(lines) + "\n"


def render_markdown(diagnosis: Diagnosis) -> str:
    """Write the verdict and findings as Markdown, for a ticket or a wiki."""
    lines = ["# exchange_tls diagnosis", "", f"**Verdict: {diagnosis.verdict.value}**", ""]
    lines += [f"- {for_markdown(reason)}" for reason in diagnosis.reasons]
    lines += [f"- Next: {for_markdown(advice)}" for advice in diagnosis.advice]
    lines += ["", for_markdown(coverage_line(diagnosis.coverage)), ""]
    for finding in diagnosis.findings:
        lines += [
            f"## {finding.severity.value.upper()}: {for_markdown(finding.title)}",
            "",
            f"`{finding.rule_id}` ({finding.confidence.value} confidence"
            + (f", {plural(finding.occurrences, 'failure')}" if finding.occurrences else "")
            + ")",
            "",
            for_markdown(finding.summary),
            "",
            "Evidence:",
            "",
        ]
        lines += [
            f"- {for_markdown(str(ref.source) if ref.source else '(derived)')}: "
            f"{for_markdown(ref.claim)}"
            for ref in finding.evidence[:SHOWN_EVIDENCE]
        ]
        if len(finding.evidence) > SHOWN_EVIDENCE:
            lines.append(f"- … and {len(finding.evidence) - SHOWN_EVIDENCE} more")
        if finding.remediation:
            script = "\n".join(
                f"# {step.purpose.value}\n{step.command.render()}" for step in finding.remediation
            )
            fence = code_fence(script)
            lines += ["", "Remediation:", "", f"{fence}powershell", script, fence]
        lines.append("")
    return "\n".join(lines)


def _report_problems(problems: Sequence[Problem]) -> None:
    """Write what could not be read with certainty to standard error."""
    shown = [p for p in problems if p.severity is not Severity.INFO]
    if not shown:
        return
    print(
        f"{plural(len(shown), 'thing')} in the evidence could not be read with certainty:",
        file=sys.stderr,
    )
    for problem in shown[:20]:
        print(f"  {for_terminal(str(problem).splitlines()[0])}", file=sys.stderr)
    if len(shown) > 20:
        print(f"  … and {len(shown) - 20} more", file=sys.stderr)


def _diagnose(arguments: argparse.Namespace) -> int:
    bundled = not arguments.paths
    if bundled:
        arguments.paths = [_bundled_path()]
        arguments.date_order = arguments.date_order or "MDY"
        if arguments.format == "text":
            where = arguments.paths[0]
            print(f"No path given: diagnosing the bundled KB 4051498 example ({where}).\n")
    evidence = _load(arguments)
    diagnosis = diagnose(evidence, now=arguments.now)
    if arguments.format == "json":
        print(for_json(diagnosis.to_json()))
    elif arguments.format == "markdown":
        print(render_markdown(diagnosis))
    elif arguments.format == "ps1":
        print(diagnosis.to_script(), end="")
    else:
        print(render_text(diagnosis, _Style(sys.stdout, False if arguments.no_color else None)))
    _report_problems(evidence.problems)
    return _VERDICT_STATUS[diagnosis.verdict]


# -- tables ----------------------------------------------------------------------------------


def _table(rows: Sequence[Mapping[str, object]], as_json: bool, as_csv: bool) -> str:
    if as_json:
        return for_json(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
    if not rows:
        return "(none)"
    columns = list(rows[0])
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    cells = [[for_terminal(str("" if row[c] is None else row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    return "\n".join(lines)


def _sessions(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    rows = []
    for session in evidence.sessions:
        tls = session.tls
        if arguments.failed and not (tls and tls.succeeded is False):
            continue
        if (
            arguments.connector
            and session.connector_id.casefold() != arguments.connector.casefold()
        ):
            continue
        rows.append(
            {
                "start": session.start.isoformat(),
                "connector": session.connector_id,
                "session": session.session_id,
                "direction": session.direction.value if session.direction else None,
                "remote": str(session.remote_endpoint) if session.remote_endpoint else None,
                "tls": None
                if tls is None
                else ("ok" if tls.succeeded else "failed" if tls.succeeded is False else "-"),
                "error": tls.error if tls else None,
                "protocol": tls.protocol if tls else None,
                "certificate": tls.local_certificate.thumbprint
                if tls and tls.local_certificate
                else None,
            }
        )
    print(_table(rows, arguments.json, arguments.csv))
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _certificates(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    rows = [
        {
            "thumbprint": c.thumbprint,
            "services": None if c.services is None else str(c.services),
            "subject": c.subject,
            "not_after": c.not_after.date().isoformat() if c.not_after else None,
            "private_key": c.has_private_key,
            "status": None if c.status is None else str(c.status),
        }
        for c in evidence.certificates
    ]
    print(_table(rows, arguments.json, arguments.csv))
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _queues(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    rows = [
        {
            "identity": q.identity,
            "status": None if q.status is None else str(q.status),
            "messages": q.message_count,
            "next_hop": q.next_hop_domain,
            "error": None
            if q.last_error is None or q.last_error.reply is None
            else " -> ".join(
                f"{r.code} {r.enhanced or ''}".strip() for r in q.last_error.reply.chain
            ),
        }
        for q in evidence.queues
    ]
    print(_table(rows, arguments.json, arguments.csv))
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _explain(arguments: argparse.Namespace) -> int:
    text = " ".join(arguments.text) if arguments.text not in ([], ["-"]) else sys.stdin.read()
    explanation = explain_error(text)
    if arguments.json:
        print(for_json(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False)))
        return EXIT_HEALTHY
    lines = ["Replies, outermost first:"]
    for depth, reply in enumerate(explanation.replies):
        code = f"{reply.code} {reply.enhanced or ''}".rstrip()
        meaning = f"  ({reply.enhanced.description})" if reply.enhanced else ""
        lines.append(f"  {'  ' * depth}{code} {reply.text}{meaning}")
    if explanation.readings:
        lines.append("What it says:")
        lines.extend(f"  {reading}" for reading in explanation.readings)
    if explanation.candidates:
        lines.append("Causes that give this error, and the evidence that confirms each:")
        for rule in explanation.candidates:
            mode = f" ({rule.failure_mode})" if rule.failure_mode else ""
            lines.append(f"  {rule.rule_id}{mode}: {rule.title}")
            lines.extend(f"    needs: {need}" for need in rule.needs)
        lines.append(
            (
                "The error alone cannot tell them apart"
                if len(explanation.candidates) > 1
                else "The error alone does not prove it"
            )
            + ": run 'exchange-tls diagnose' on the send protocol log with the "
            "Get-ExchangeCertificate, Get-Queue and Get-SendConnector output."
        )
    else:
        lines.append("No rule of the catalogue is known to give this error.")
    print("\n".join(lines))
    return EXIT_HEALTHY


def _rules(arguments: argparse.Namespace) -> int:
    rows = [
        {
            "rule": rule.rule_id,
            "severity": rule.severity.value,
            "mode": rule.failure_mode,
            "title": rule.title,
        }
        for rule in CATALOGUE
    ]
    print(_table(rows, arguments.json, False))
    return EXIT_HEALTHY


# -- parser ----------------------------------------------------------------------------------


def _now(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``exchange-tls`` (the CLI reference is made from it)."""
    parser = argparse.ArgumentParser(
        prog="exchange-tls",
        description="Diagnose outbound SMTP TLS failures from exported Exchange evidence.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"exchange_tls {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command")

    def evidence_options(command: argparse.ArgumentParser, *, optional: bool = False) -> None:
        command.add_argument(
            "paths",
            nargs="*" if optional else "+",
            type=Path,
            help="files, folders or .zip archives of evidence"
            + (" (none: the bundled KB 4051498 example)" if optional else ""),
        )
        command.add_argument(
            "--date-order",
            choices=["MDY", "DMY", "YMD"],
            help="the day order of dates in text output",
        )

    diagnose_command = commands.add_parser(
        "diagnose",
        help="find what is wrong and how to fix it",
        description="Read the evidence, give a verdict (healthy, problems or inconclusive) "
        "with what was read, and the findings with their evidence and fixes.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evidence_options(diagnose_command, optional=True)
    diagnose_command.add_argument(
        "--format",
        choices=["text", "json", "markdown", "ps1"],
        default="text",
        help="text for a terminal (default); json for other tools (verdict, coverage, "
        "problems and every finding); markdown for a ticket; ps1 for the remediation script",
    )
    diagnose_command.add_argument("--now", type=_now, help="judge validity at this time (ISO 8601)")
    diagnose_command.add_argument(
        "--no-color", action="store_true", help="never colour the text report"
    )
    diagnose_command.set_defaults(run=_diagnose)

    for name, run, help_text in (
        ("sessions", _sessions, "a table of SMTP sessions and their TLS outcome"),
        ("certificates", _certificates, "a table of certificates"),
        ("queues", _queues, "a table of queues"),
    ):
        command = commands.add_parser(name, help=help_text)
        evidence_options(command)
        command.add_argument("--json", action="store_true", help="write JSON")
        command.add_argument("--csv", action="store_true", help="write CSV")
        if name == "sessions":
            command.add_argument(
                "--failed", action="store_true", help="only sessions whose TLS failed"
            )
            command.add_argument("--connector", help="only sessions of this connector")
        command.set_defaults(run=run)
    explain_command = commands.add_parser(
        "explain", help="decode a queue error and list the causes that give it"
    )
    explain_command.add_argument(
        "text", nargs="*", help="the LastError or SMTP reply (none or '-': read standard input)"
    )
    explain_command.add_argument("--json", action="store_true", help="write JSON")
    explain_command.set_defaults(run=_explain)
    rules_command = commands.add_parser("rules", help="list the rule catalogue")
    rules_command.add_argument("--json", action="store_true", help="write JSON")
    rules_command.set_defaults(run=_rules)
    return parser


def _run(arguments: argparse.Namespace) -> int:
    try:
        status: int = arguments.run(arguments)
    except ExchangeTlsError as error:
        if arguments.debug:
            raise
        message = for_terminal(str(error).splitlines()[0])
        print(f"exchange-tls: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        if arguments.debug:
            raise
        print(f"exchange-tls: error: {for_terminal(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (see ``EXIT_STATUSES``)."""
    parser = build_parser()
    arguments = parser.parse_args(list(sys.argv[1:] if argv is None else argv) or ["diagnose"])
    if arguments.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        status = _run(arguments)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes standard output at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_HEALTHY
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # A crash must not exit 1, which means "problems", nor print a traceback at a user.
        if arguments.debug:
            raise
        print(
            f"exchange-tls: internal error: {type(error).__name__}: "
            f"{for_terminal(str(error))[:500]}\n"
            "This is a bug; please report it. --debug shows the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return status


if __name__ == "__main__":
    sys.exit(main())
