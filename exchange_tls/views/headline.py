"""The headline of a finding, said once for every format: what it affects, its impact, its fix.

Every report (text, Markdown, HTML) opens with the verdict and then, per finding, its
title, what it affects, what it costs (messages waiting, the oldest, the failing share)
and the one command that fixes it. The sentences are made here so the formats agree.

>>> from exchange_tls.diagnosis.weight import Impact, Share, Subjects
>>> import datetime as dt
>>> impact_line(Impact(messages=42, queues=1), Share(failing=2, total=2), None)
'42 messages waiting in 1 queue; 2 of 2 sessions failed (100%)'
>>> affects_line(Subjects.fold("remote host", {"a": 5, "b": 1, "c": 3}, shown=2), "")
'3 remote hosts: a (5 failures), c (3 failures) and 1 more (1 failure)'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from exchange_tls.diagnosis.cite import SAME_OUTCOME
from exchange_tls.diagnosis.coverage import headline as top_cause
from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import FaultSide, Impact, Share, Subjects
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = [
    "HEADLINE_SUBJECTS",
    "REBOOT_CMDLETS",
    "SIDE_TEXT",
    "SIDE_UNKNOWN",
    "affects_line",
    "evidence_more",
    "finding_impact",
    "fix_step",
    "group_evidence",
    "headline_facts",
    "impact_line",
    "is_reboot",
    "moment",
    "pasteable_steps",
    "reboot_note",
    "seen_line",
    "side_line",
    "subject_rows",
    "verdict_reasons",
]

_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")

#: Cmdlets that restart the machine: never a bare line in a block meant for pasting.
REBOOT_CMDLETS = frozenset({"Restart-Computer"})

#: Which end must change, said after "Must change:".
SIDE_TEXT = {
    FaultSide.LOCAL: "this Exchange server",
    FaultSide.REMOTE: "the remote server",
    FaultSide.BETWEEN: "something between the two (a firewall, a proxy, DNS)",
}
#: Subjects a headline names; the finding's details list the rest of its table.
HEADLINE_SUBJECTS = 3


def moment(value: dt.datetime | None) -> str:
    """Write a time the way every view does: to the minute, in UTC.

    >>> moment(dt.datetime(2017, 10, 7, 4, 42, 56, tzinfo=dt.timezone.utc))
    '2017-10-07 04:42 UTC'
    """
    if value is None:
        return "not known"
    return f"{value.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"


def is_reboot(step: RemediationStep) -> bool:
    """Whether a step restarts the machine (a separate, confirmed step, never pasted)."""
    return step.command.cmdlet in REBOOT_CMDLETS


def reboot_note(step: RemediationStep) -> str:
    """Say what a reboot step asks for, as a note: the command is run on its own, confirmed."""
    why = f" {step.note}" if step.note else ""
    return (
        "Then restart the server, as a separate step, at a time mail can wait: "
        f"run 'Restart-Computer -Confirm' on its own.{why}"
    )


def pasteable_steps(steps: Iterable[RemediationStep]) -> list[RemediationStep]:
    """Return the steps whose commands may sit in a block meant for pasting (no reboot)."""
    return [step for step in steps if not is_reboot(step)]


def fix_step(finding: Finding) -> RemediationStep | None:
    """Return the one command that fixes a finding: its first fix that is not a reboot."""
    return next(
        (
            step
            for step in finding.remediation
            if step.purpose is Purpose.FIX and not is_reboot(step)
        ),
        None,
    )


def _failures(count: int) -> str:
    return plural(count, "failure")


def affects_line(subjects: Subjects | None, subject: str, *, shown: int = HEADLINE_SUBJECTS) -> str:
    """Say what a finding affects: its first subjects by failures and the rest counted."""
    if subjects is None or not subjects.top:
        # A bare thumbprint says little: name what it is.
        return f"certificate {subject}" if _THUMBPRINT.fullmatch(subject) else subject
    if subjects.distinct == 1:
        return f"{subjects.kind} {subjects.top[0].name}"
    named = ", ".join(f"{item.name} ({_failures(item.count)})" for item in subjects.top[:shown])
    text = f"{plural(subjects.distinct, subjects.kind)}: {named}"
    hidden = subjects.top[shown:]
    more = subjects.more + len(hidden)
    if more:
        failures = subjects.more_count + sum(item.count for item in hidden)
        text += f" and {more} more ({_failures(failures)})"
    return text


def subject_rows(subjects: Subjects) -> list[dict[str, object]]:
    """Return the subjects' table as rows, the folded rest as a last row."""
    rows: list[dict[str, object]] = [
        {subjects.kind: item.name, "failures": item.count} for item in subjects.top
    ]
    if subjects.more:
        rows.append({subjects.kind: f"and {subjects.more} more", "failures": subjects.more_count})
    return rows


def impact_line(impact: Impact | None, share: Share | None, began: dt.datetime | None) -> str:
    """Say what a finding costs: messages waiting and the oldest, the failing share, the start."""
    parts = []
    if impact is not None and (impact.messages or impact.queues):
        text = f"{plural(impact.messages, 'message')} waiting"
        if impact.queues:
            text += f" in {plural(impact.queues, 'queue')}"
        if impact.oldest is not None:
            text += f", the oldest since {moment(impact.oldest)}"
        parts.append(text)
    if share is not None and share.total:
        parts.append(f"{share.failing} of {share.total} sessions failed ({share.ratio:.0%})")
    if began is not None:
        parts.append(f"failing since {moment(began)}")
    return "; ".join(parts)


#: Said when a finding names no side: its cause, and so the end to change, is unknown.
SIDE_UNKNOWN = "unknown: the evidence does not tell which end"


def side_line(side: FaultSide | None) -> str:
    """Say which end must change; a finding that names none says the side is unknown.

    >>> side_line(FaultSide.BETWEEN)
    'something between the two (a firewall, a proxy, DNS)'
    >>> side_line(None)
    'unknown: the evidence does not tell which end'
    """
    return SIDE_UNKNOWN if side is None else SIDE_TEXT[side]


def seen_line(finding: Finding) -> str:
    """Say how many failing sessions and queues a finding accounts for, and when.

    A finding counts failing sessions and failing queues together; the sentence says so
    rather than calling both "failures".
    """
    if not finding.occurrences:
        return ""
    count = finding.occurrences
    what = "failing session or queue" if count == 1 else "failing sessions and queues"
    text = f"Accounts for {count} {what}"
    first, last = finding.first_seen, finding.last_seen
    if first is not None and last is not None:
        if moment(first) == moment(last):
            text += f", at {moment(first)}"
        else:
            text += f", {moment(first)} to {moment(last)}"
    return text


def finding_impact(finding: Finding, evidence: Evidence | None) -> Impact | None:
    """Return a finding's impact; when it has none, the messages in the queues it cites.

    Rules that weigh their findings set :attr:`Finding.impact`; for one that does not, the
    queues whose lines the finding cites say what waits, when the evidence is at hand.
    """
    if finding.impact is not None or evidence is None:
        return finding.impact
    cited = {(ref.source.source, ref.source.line) for ref in finding.evidence if ref.source}
    queues = [
        queue
        for queue in evidence.queues
        if queue.source is not None and (queue.source.source, queue.source.line) in cited
    ]
    if not queues:
        return None
    oldest = [q.first_retry_time for q in queues if q.first_retry_time is not None]
    return Impact(
        messages=sum(queue.message_count or 0 for queue in queues),
        queues=len(queues),
        oldest=min(oldest) if oldest else None,
    )


def evidence_more(finding: Finding, shown: int) -> str:
    """Say how much evidence a view did not list: beyond ``shown``, and what the rule counted.

    >>> from exchange_tls.diagnosis.model import Confidence
    >>> from exchange_tls.errors import Severity
    >>> bare = Finding(rule_id="r", severity=Severity.ERROR, title="t", summary="s",
    ...     evidence=(), confidence=Confidence.LOW, evidence_omitted=25)
    >>> evidence_more(bare, 5)
    '… and 25 more (counted, not listed)'
    """
    listed = max(len(finding.evidence) - shown, 0)
    total = listed + finding.evidence_omitted
    if not total:
        return ""
    if not listed:
        where = "counted, not listed"
    elif finding.evidence_omitted:
        where = f"--format json lists {listed} of them"
    else:
        where = "all of them in --format json"
    return f"… and {total} more ({where})"


def verdict_reasons(diagnosis: Diagnosis) -> tuple[str, ...]:
    """Return the verdict's reasons a report lists above its findings.

    The reason that names the top cause and its fix restates the first finding's
    headline, which follows at once: a report that shows the findings leaves it out.
    """
    if not diagnosis.findings:
        return diagnosis.reasons
    top = top_cause(diagnosis.findings[0])
    return tuple(reason for reason in diagnosis.reasons if reason != top)


def group_evidence(refs: Sequence[EvidenceRef]) -> list[tuple[str, str, str]]:
    """Group evidence that says the same thing: ``(places, claim, excerpt)`` per group.

    References with the same excerpt and claim, or cited as one more session of the same
    outcome, are one entry whose places list every line (``a.LOG:3, 40; b.LOG:7``), so a
    cause seen five times reads as one excerpt, not five copies of it. Order is kept: a
    group stands where its first reference stood.

    >>> from exchange_tls.sources import SourceRef
    >>> refs = [
    ...     EvidenceRef(source=SourceRef("a.LOG", 3), excerpt="x", claim="failed"),
    ...     EvidenceRef(source=SourceRef("b.txt", 1), excerpt="y", claim="queue"),
    ...     EvidenceRef(source=SourceRef("a.LOG", 40), excerpt="x", claim=SAME_OUTCOME),
    ...     EvidenceRef(source=SourceRef("c.LOG", 7), excerpt="x", claim="failed"),
    ... ]
    >>> for group in group_evidence(refs):
    ...     print(group)
    ('a.LOG:3, 40; c.LOG:7', 'failed', 'x')
    ('b.txt:1', 'queue', 'y')
    """
    groups: dict[tuple[str, str], list[EvidenceRef]] = {}
    for ref in refs:
        claim = ref.claim
        if claim == SAME_OUTCOME:
            # One more session of a cause joins the first reference with its excerpt.
            claim = next((key[1] for key in groups if key[0] == ref.excerpt), claim)
        groups.setdefault((ref.excerpt, claim), []).append(ref)
    return [(_places(members), claim, excerpt) for (excerpt, claim), members in groups.items()]


def _places(refs: Sequence[EvidenceRef]) -> str:
    by_source: dict[str, list[str]] = {}
    derived = False
    for ref in refs:
        if ref.source is None:
            derived = True
            continue
        place = str(ref.source)
        name, sep, line = place.rpartition(":")
        if sep and line.split("#", 1)[0].isdigit():
            by_source.setdefault(name, []).append(line)
        else:
            by_source.setdefault(place, [])
    parts = [f"{name}:{', '.join(lines)}" if lines else name for name, lines in by_source.items()]
    if derived:
        parts.append("(derived)")
    return "; ".join(parts)


def headline_facts(finding: Finding, evidence: Evidence | None = None) -> list[tuple[str, str]]:
    """Return what a finding affects, its impact and its side, as (name, sentence) pairs."""
    affects = affects_line(finding.subjects, finding.subject)
    if finding.server and finding.server.casefold() not in affects.casefold():
        affects = f"{affects} on {finding.server}" if affects else f"server {finding.server}"
    facts = [
        ("Affects", affects),
        ("Impact", impact_line(finding_impact(finding, evidence), finding.share, finding.began)),
        ("Must change", side_line(finding.side)),
    ]
    return [(name, value) for name, value in facts if value]
