"""The text and Markdown reports of a diagnosis, and the one-line forms of models.

``print(diagnosis)`` and ``exchange-tls diagnose`` write the same report: it is made
here, once. It opens with the verdict and, per finding, the title, what it affects, its
impact and the one fix command; the evidence and the full plan follow; what was read comes
last. Lines are wrapped to a width (100 columns unless told); commands too long for it
are continued with PowerShell's backtick, so they still paste. Evidence text is shown
with control characters escaped (:func:`~exchange_tls.safe_text.for_terminal`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.explain import ErrorExplanation
from exchange_tls.diagnosis.model import Coverage, Diagnosis, Finding
from exchange_tls.safe_text import code_fence, for_markdown, for_terminal
from exchange_tls.views.headline import (
    HEADLINE_SUBJECTS,
    evidence_more,
    fix_step,
    group_evidence,
    headline_facts,
    is_reboot,
    reboot_note,
    seen_line,
    subject_rows,
    verdict_reasons,
)

__all__ = [
    "MIN_WIDTH",
    "SHOWN_EVIDENCE",
    "WIDTH",
    "coverage_line",
    "explanation_text",
    "finding_text",
    "markdown_report",
    "more",
    "seen_line",
    "text_report",
    "wrap_command",
]

#: Evidence lines a finding shows in the text and Markdown reports; JSON and HTML carry all.
SHOWN_EVIDENCE = 5
#: The width text is wrapped to when the output is not a terminal.
WIDTH = 100
#: Narrower than this, commands and file names could not be kept readable.
MIN_WIDTH = 40

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


# -- wrapping ----------------------------------------------------------------------------------

# A PowerShell token: a single-quoted string ('' inside is a quote), or a run of anything else.
_TOKEN = re.compile(r"(?:'(?:[^']|'')*'|[^\s'])+")
# One item of a comma list: quoted strings and anything but a comma outside them.
_LIST_ITEM = re.compile(r"(?:'(?:[^']|'')*'|[^,'])+")


def wrap_command(command: str, width: int, indent: str = "", lead: str = "") -> list[str]:
    """Break a PowerShell command into lines of ``width`` that paste as one command.

    Breaks fall between parameters (before a ``-Name`` or a ``|``), never inside a quoted
    value, and each broken line ends with PowerShell's line continuation, a backtick.

    >>> wrap_command("Set-Thing -Identity 'a b' -Value 1", 24, "  ")
    ['  Set-Thing `', "    -Identity 'a b' `", '    -Value 1']
    >>> wrap_command("Get-Queue", 40, lead="[check] ")
    ['[check] Get-Queue']
    """
    if len(indent) + len(lead) + len(command) <= width or "\n" in command:
        return [indent + lead + command]
    room = width - len(indent) - 4  # what a continued line holds, with its " `"
    pieces: list[str] = []
    for token in _TOKEN.findall(command):
        if pieces and not token.startswith(("-", "|")) and len(pieces[-1]) + len(token) < room:
            pieces[-1] += " " + token
        else:
            pieces += _split_list(token, room)
    lines: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        prefix = indent + lead if not lines else indent + "  "
        # Room for the continuation " `" on every line but the last.
        if current and len(prefix) + len(candidate) + 2 > width:
            lines.append(prefix + current + " `")
            current = piece
        else:
            current = candidate
    lines.append((indent + lead if not lines else indent + "  ") + current)
    return lines


def _split_list(token: str, room: int) -> list[str]:
    """Split a long comma list ('a','b') after its commas, where PowerShell may break a line."""
    if len(token) <= room or "," not in token:
        return [token]
    parts = [part + "," for part in _LIST_ITEM.findall(token)]
    parts[-1] = parts[-1][:-1]
    chunks = [""]
    for part in parts:
        if chunks[-1] and len(chunks[-1]) + len(part) > room:
            chunks.append("")
        chunks[-1] += part
    return chunks


def _wrap(text: str, width: int, indent: str = "", hang: str | None = None) -> list[str]:
    """Wrap prose to ``width``, breaking long words (paths, hashes) rather than overflowing."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if hang is None else hang,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


# -- the text report ---------------------------------------------------------------------------


def _headline(
    finding: Finding, number: int, width: int, style: Style, evidence: Evidence | None
) -> list[str]:
    """Return the lines that open a finding: title, what it affects, impact, side, fix."""
    severity = finding.severity.value
    label = f"{number}. {severity.upper()}: "
    lines = _wrap(for_terminal(finding.title), width, " " * len(label))
    lines[0] = style(label, severity) + lines[0][len(label) :]
    pad = " " * len(f"{number}. ")
    for name, value in headline_facts(finding, evidence):
        lines += _wrap(for_terminal(value), width, f"{pad}{name}: ", pad + "  ")
    step = fix_step(finding)
    if step is not None:
        lines += wrap_command(for_terminal(step.command.render()), width, pad, "Fix: ")
    return lines


def _details(
    finding: Finding,
    number: int,
    width: int,
    style: Style,
    shown: int,
    notes_shown: dict[str, int] | None = None,
) -> list[str]:
    """Return the lines that prove and complete a finding: summary, subjects, evidence, plan."""
    pad = " " * len(f"{number}. ")
    seen = seen_line(finding)
    head = f"{number}. {finding.rule_id} ({finding.confidence.value} confidence)"
    lines = _wrap(f"{head}. {seen}." if seen else head, width, "", pad)
    lines += _wrap(for_terminal(finding.summary), width, pad)
    subjects = finding.subjects
    if subjects is not None and subjects.distinct > len(subjects.top[:HEADLINE_SUBJECTS]):
        listed = ", ".join(f"{item.name} ({item.count})" for item in subjects.top)
        if subjects.more:
            listed += f" and {subjects.more} more ({subjects.more_count})"
        text = f"Failures by {subjects.kind}: {listed}"
        lines += _wrap(for_terminal(text), width, pad, pad + "  ")
    lines.append(f"{pad}Evidence:")
    for places, claim, excerpt in group_evidence(finding.evidence[:shown]):
        where = for_terminal(places)
        lines += _wrap(f"{where}: {for_terminal(claim)}", width, pad + "  ", pad + "    ")
        lines += [style(line, "dim") for line in _wrap(for_terminal(excerpt), width, pad + "    ")]
    rest = evidence_more(finding, shown)
    if rest:
        lines.append(f"{pad}  {rest}")
    if finding.remediation:
        lines.append(f"{pad}Plan:")
        repeated = 0
        written: set[str] = set()
        for step in finding.remediation:
            if is_reboot(step):
                lines += _wrap(
                    f"[{step.purpose.value}] {reboot_note(step)}", width, pad + "  ", pad + "    "
                )
                continue
            lead = f"[{step.purpose.value}] "
            lines += wrap_command(for_terminal(step.command.render()), width, pad + "  ", lead)
            if not step.note:
                continue
            # The same note under several findings is written once.
            first = notes_shown.setdefault(step.note, number) if notes_shown is not None else number
            if first != number:
                repeated = first
                continue
            # Steps of one kind (a check per host) share their note: it is written once.
            if step.note in written:
                continue
            written.add(step.note)
            note = for_terminal(step.note)
            lines += [style(line, "dim") for line in _wrap(note, width, pad + "    ")]
        if repeated:
            lines.append(style(f"{pad}  (The notes are those under {repeated}. above.)", "dim"))
    return lines


def finding_text(
    finding: Finding,
    *,
    colour: bool = False,
    shown: int = SHOWN_EVIDENCE,
    width: int = WIDTH,
    number: int = 1,
    evidence: Evidence | None = None,
) -> str:
    """Write one finding for a terminal: its headline, then its evidence and plan."""
    width = max(width, MIN_WIDTH)
    style = _styler(colour)
    lines = _headline(finding, number, width, style, evidence)
    lines += ["", *_details(finding, number, width, style, shown)]
    return "\n".join(lines)


def text_report(
    diagnosis: Diagnosis,
    *,
    colour: bool = False,
    width: int = WIDTH,
    evidence: Evidence | None = None,
) -> str:
    """Write the verdict and each finding's headline, then the details, then what was read.

    ``width`` is the terminal's (100 when not a terminal; at least 40); given the
    ``evidence``, a finding that does not weigh its impact shows the queues it cites.
    """
    width = max(width, MIN_WIDTH)
    style = _styler(colour)
    verdict = diagnosis.verdict.value
    lines = [style(f"Verdict: {verdict}", _VERDICT_COLOUR[verdict])]
    for reason in verdict_reasons(diagnosis):
        lines += _wrap(for_terminal(reason), width, "  ", "    ")
    for advice in diagnosis.advice:
        lines += _wrap(f"Next: {for_terminal(advice)}", width, "  ", "    ")
    findings = diagnosis.findings
    for number, finding in enumerate(findings, start=1):
        lines += ["", *_headline(finding, number, width, style, evidence)]
    if findings:
        lines += ["", "Details:"]
        notes_shown: dict[str, int] = {}
        for number, finding in enumerate(findings, start=1):
            lines += [*_details(finding, number, width, style, SHOWN_EVIDENCE, notes_shown), ""]
    else:
        lines.append("")
    lines += _wrap(for_terminal(coverage_line(diagnosis.coverage)), width)
    gaps = diagnosis.coverage.rules_not_run
    if gaps:
        lines += _wrap(
            f"{plural(len(gaps), 'rule')} could not run for want of evidence "
            "(--format json or html lists them).",
            width,
        )
    return "\n".join(lines) + "\n"


# -- explain ---------------------------------------------------------------------------------


def explanation_text(explanation: ErrorExplanation) -> str:
    """Write what ``exchange-tls explain`` says of an error: its replies, readings, causes."""
    lines = ["Replies, outermost first:"]
    for depth, reply in enumerate(explanation.replies):
        code = f"{reply.code} {reply.enhanced or ''}".rstrip()
        meaning = f"  ({reply.enhanced.description})" if reply.enhanced else ""
        lines.append(f"  {'  ' * depth}{code} {for_terminal(reply.text)}{meaning}")
    if explanation.readings:
        lines.append("What it says:")
        lines.extend(f"  {for_terminal(reading)}" for reading in explanation.readings)
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
    return "\n".join(lines)


# -- Markdown ----------------------------------------------------------------------------------


def _markdown_script(finding: Finding) -> list[str]:
    steps = [step for step in finding.remediation if not is_reboot(step)]
    if not steps:
        return []
    script = "\n".join(f"# {step.purpose.value}\n{step.command.render()}" for step in steps)
    fence = code_fence(script)
    lines = ["", "Plan:", "", f"{fence}powershell", script, fence]
    lines += [
        f"\n{for_markdown(reboot_note(step))}" for step in finding.remediation if is_reboot(step)
    ]
    return lines


def markdown_report(diagnosis: Diagnosis, *, evidence: Evidence | None = None) -> str:
    """Write the verdict and each finding's headline, then details, as Markdown for a ticket."""
    lines = ["# exchange_tls diagnosis", "", f"**Verdict: {diagnosis.verdict.value}**", ""]
    lines += [f"- {for_markdown(reason)}" for reason in verdict_reasons(diagnosis)]
    lines += [f"- Next: {for_markdown(advice)}" for advice in diagnosis.advice]
    lines.append("")
    for number, finding in enumerate(diagnosis.findings, start=1):
        lines += [
            f"## {number}. {finding.severity.value.upper()}: {for_markdown(finding.title)}",
            "",
        ]
        for name, value in headline_facts(finding, evidence):
            lines.append(f"- **{name}:** {for_markdown(value)}")
        step = fix_step(finding)
        if step is not None:
            command = step.command.render()
            fence = code_fence(command)
            lines += ["", "Fix:", "", f"{fence}powershell", command, fence]
        lines.append("")
    if diagnosis.findings:
        lines += ["# Details", ""]
    for number, finding in enumerate(diagnosis.findings, start=1):
        seen = seen_line(finding)
        lines += [
            f"## {number}. `{finding.rule_id}` ({finding.confidence.value} confidence)",
            "",
            for_markdown(finding.summary),
            "",
        ]
        if seen:
            lines += [for_markdown(seen) + ".", ""]
        if finding.subjects is not None and finding.subjects.distinct > 1:
            kind = for_markdown(finding.subjects.kind)
            lines += [f"| {kind} | failures |", "|---|---:|"]
            lines += [
                f"| {for_markdown(str(row[finding.subjects.kind]))} | {row['failures']} |"
                for row in subject_rows(finding.subjects)
            ]
            lines.append("")
        lines += ["Evidence:", ""]
        lines += [
            f"- {for_markdown(str(ref.source) if ref.source else '(derived)')}: "
            f"{for_markdown(ref.claim)}"
            for ref in finding.evidence[:SHOWN_EVIDENCE]
        ]
        rest = evidence_more(finding, SHOWN_EVIDENCE)
        if rest:
            lines.append(f"- {for_markdown(rest)}")
        lines += _markdown_script(finding)
        lines.append("")
    lines += ["---", "", for_markdown(coverage_line(diagnosis.coverage)), ""]
    return "\n".join(lines)
