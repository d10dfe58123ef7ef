"""The text and Markdown reports of a diagnosis, and the one-line forms of models.

``print(diagnosis)`` and ``exchange-tls diagnose`` write the same report: it is made
here, once. Evidence text is shown with control characters escaped
(:func:`~exchange_tls.safe_text.for_terminal`).
"""

from __future__ import annotations

from collections.abc import Callable

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.model import Coverage, Diagnosis, Finding
from exchange_tls.safe_text import code_fence, for_markdown, for_terminal

__all__ = [
    "SHOWN_EVIDENCE",
    "coverage_line",
    "finding_text",
    "markdown_report",
    "more",
    "seen_line",
    "text_report",
]

#: Evidence lines a finding shows in the text and Markdown reports; JSON and HTML carry all.
SHOWN_EVIDENCE = 5

_COLOURS = {"error": "\033[31;1m", "warning": "\033[33;1m", "info": "\033[36m", "dim": "\033[2m"}
_RESET = "\033[0m"
_VERDICT_COLOUR = {"healthy": "info", "problems": "error", "inconclusive": "warning"}

Style = Callable[[str, str], str]


def _styler(colour: bool) -> Style:
    def style(text: str, name: str) -> str:
        return f"{_COLOURS[name]}{text}{_RESET}" if colour else text

    return style


def more(count: int, shown: int) -> str:
    """Say how many of ``count`` items were not shown, or nothing when all were.

    >>> more(102, 20), more(3, 20)
    ('… and 82 more', '')
    """
    return f"… and {count - shown} more" if count > shown else ""


def seen_line(finding: Finding) -> str:
    """Say how many failures a finding accounts for, and between which times."""
    if not finding.occurrences:
        return ""
    text = f"Seen: {plural(finding.occurrences, 'failure')}"
    if finding.first_seen is not None and finding.last_seen is not None:
        first, last = finding.first_seen, finding.last_seen
        text += f", {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    return text


def coverage_line(coverage: Coverage) -> str:
    """Say in one line what was read and what was left out.

    >>> from exchange_tls.views import coverage_line
    >>> coverage_line(Coverage(files=2, send_sessions=1, certificates=3))
    'Read 2 files: 1 send session, 3 certificates.'
    """
    kinds = [
        plural(count, noun)
        for count, noun in (
            (coverage.send_sessions, "send session"),
            (coverage.receive_sessions, "receive session"),
            (coverage.certificates, "certificate"),
            (coverage.send_connectors, "send connector"),
            (coverage.receive_connectors, "receive connector"),
            (coverage.queues, "queue"),
            (coverage.counts.get("tls-reports", 0), "TLS report"),
        )
        if count
    ]
    by_kind = dict(coverage.files_by_kind)
    skipped = by_kind.get("skipped", 0)
    # Files that held no evidence (left out, or documentation skipped) are said apart.
    read = coverage.files - skipped - by_kind.get("unknown", 0) if by_kind else coverage.files
    text = f"Read {plural(read, 'file')}" if read else "Read"
    text += f": {', '.join(kinds)}" if kinds else ": nothing that is evidence"
    if skipped:
        text += f"; skipped {skipped} (documentation or scripts)"
    if coverage.left_out:
        reasons = list(dict.fromkeys(problem.message for problem in coverage.left_out))
        shown = "; ".join(reasons[:3])
        if len(reasons) > 3:
            shown += f"; {more(len(reasons), 3)}"
        text += f"; left out {len(coverage.left_out)} ({shown})"
    return text + "."


def finding_text(finding: Finding, *, colour: bool = False, shown: int = SHOWN_EVIDENCE) -> str:
    """Write one finding for a terminal: title, summary, evidence and remediation."""
    style = _styler(colour)
    lines = [
        style(f"{finding.severity.value.upper()} {finding.rule_id}", finding.severity.value)
        + f": {for_terminal(finding.title)}",
        f"  {for_terminal(finding.summary)}",
        f"  Confidence: {finding.confidence.value}",
    ]
    seen = seen_line(finding)
    if seen:
        lines.append(f"  {seen}")
    lines.append("  Evidence:")
    for ref in finding.evidence[:shown]:
        where = for_terminal(str(ref.source)) if ref.source else "(derived)"
        lines.append(f"    {where}: {for_terminal(ref.claim)}")
        lines.append(style(f"      {for_terminal(ref.excerpt)}", "dim"))
    if len(finding.evidence) > shown:
        lines.append(f"    {more(len(finding.evidence), shown)} (all of them in --format json)")
    if finding.remediation:
        lines.append("  Remediation:")
        for step in finding.remediation:
            lines.append(f"    [{step.purpose.value}] {for_terminal(str(step.command))}")
            if step.note:
                lines.append(style(f"      {for_terminal(step.note)}", "dim"))
    return "\n".join(lines)


def text_report(diagnosis: Diagnosis, *, colour: bool = False) -> str:
    """Write the verdict, the findings and the coverage as a report for a terminal."""
    style = _styler(colour)
    verdict = diagnosis.verdict.value
    lines = [style(f"Verdict: {verdict}", _VERDICT_COLOUR[verdict])]
    lines += [f"  {for_terminal(reason)}" for reason in diagnosis.reasons]
    lines += [f"  Next: {for_terminal(advice)}" for advice in diagnosis.advice]
    lines.append("")
    for finding in diagnosis.findings:
        lines += [finding_text(finding, colour=colour), ""]
    lines.append(for_terminal(coverage_line(diagnosis.coverage)))
    return "\n".join(lines) + "\n"


def markdown_report(diagnosis: Diagnosis) -> str:
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
            lines.append(f"- {more(len(finding.evidence), SHOWN_EVIDENCE)}")
        if finding.remediation:
            script = "\n".join(
                f"# {step.purpose.value}\n{step.command.render()}" for step in finding.remediation
            )
            fence = code_fence(script)
            lines += ["", "Remediation:", "", f"{fence}powershell", script, fence]
        lines.append("")
    return "\n".join(lines)
