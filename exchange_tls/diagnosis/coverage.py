"""Coverage and verdict: what was read, which rules could run, and what that entitles us to say.

Theory of operation. A verdict is earned, never assumed:

* ``problems``: some finding is an error or a warning. Catch-all findings make sure that
  every TLS failure and every failing queue lands here, even when no rule knows its cause.
* ``healthy``: nothing failing, **and** positive evidence that the outbound path works:
  a send session whose TLS negotiation succeeded, or send connectors together with the
  certificate list (configuration the rules could check end to end). A session is judged
  to its end: while any send session ended in a refusal (a 4xx or 5xx reply and no
  message accepted, TLS negotiated or not), the verdict is never healthy, even if no rule
  names the cause.
* ``inconclusive``: everything else. Nothing read, only inputs that say nothing about
  outbound TLS (a receive log alone, a lone certificate list, queues that are fine), or
  evidence that could not be read. The diagnosis then says what to collect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from exchange_tls.diagnosis.catalogue import CATALOGUE
from exchange_tls.diagnosis.cite import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Counts, Coverage, Finding, RuleGap, Verdict
from exchange_tls.errors import Problem, Severity
from exchange_tls.kinds import ALL_KINDS
from exchange_tls.protocol_log.models import Direction, SmtpSession
from exchange_tls.protocol_log.outcome import mail_accepted, refusal, refusal_code

__all__ = [
    "KINDS",
    "add_coverage",
    "available_kinds",
    "judge",
    "measure",
    "plural",
]

#: The evidence kinds rules read, as a user collects them (from the kinds table).
KINDS = {kind.name: kind.description for kind in ALL_KINDS if kind.counted}


def available_kinds(evidence: Evidence) -> frozenset[str]:
    """Return the evidence kinds present in ``evidence`` (the table's counted kinds)."""
    return frozenset(kind.name for kind in ALL_KINDS if kind.counted and kind.records(evidence))


def _gaps(kinds: frozenset[str]) -> tuple[RuleGap, ...]:
    gaps = []
    for rule in CATALOGUE:
        groups = rule.inputs
        if not groups or any(group <= kinds for group in groups):
            continue
        # The cheapest group to complete is the advice.
        smallest = min(groups, key=lambda group: (len(group - kinds), sorted(group)))
        gaps.append(RuleGap(rule_id=rule.rule_id, missing=tuple(sorted(smallest - kinds))))
    return tuple(gaps)


def _left_out(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Return the problems that say a whole file was left out (they name no line)."""
    return tuple(
        problem
        for problem in problems
        if problem.line is None
        and problem.severity is not Severity.INFO
        and problem.code != "conflict"
    )


def measure(evidence: Evidence) -> Coverage:
    """Count what the evidence holds and list what was left out."""
    succeeded = failed = 0
    summary = evidence.summary
    if summary is not None:
        succeeded, failed = summary.tls_succeeded, summary.tls_failed
    for session in () if summary is not None else evidence.sessions:
        if session.tls is not None and session.tls.succeeded is not None:
            if session.tls.succeeded:
                succeeded += 1
            else:
                failed += 1
    by_kind = Counter(file.kind for file in evidence.files)
    problems = tuple(p for p in evidence.problems if p.severity is not Severity.INFO)
    return Coverage(
        files=len(evidence.files),
        files_by_kind=tuple(sorted(by_kind.items())),
        counts=Counts((kind.name, kind.count(evidence)) for kind in ALL_KINDS if kind.counted),
        tls_succeeded=succeeded,
        tls_failed=failed,
        failing_queues=sum(queue.is_failing for queue in evidence.queues),
        left_out=_left_out(problems),
        problems=problems,
        rules_not_run=_gaps(available_kinds(evidence)),
    )


def _left_out_reason(coverage: Coverage) -> str:
    return f"Left out: {plural(len(coverage.left_out), 'file')}; the coverage says why."


def add_coverage(coverages: Iterable[Coverage]) -> Coverage:
    """Return the coverage of several servers taken together."""
    parts = list(coverages)
    by_kind: Counter[str] = Counter()
    records: dict[str, int] = {}
    for part in parts:
        by_kind.update(dict(part.files_by_kind))
        for kind, count in part.counts.items():
            records[kind] = records.get(kind, 0) + count
    gaps = {gap.rule_id: gap for part in parts for gap in part.rules_not_run}
    return Coverage(
        files=sum(part.files for part in parts),
        counts=records,
        tls_succeeded=sum(part.tls_succeeded for part in parts),
        tls_failed=sum(part.tls_failed for part in parts),
        failing_queues=sum(part.failing_queues for part in parts),
        files_by_kind=tuple(sorted(by_kind.items())),
        left_out=tuple(problem for part in parts for problem in part.left_out),
        problems=tuple(problem for part in parts for problem in part.problems),
        rules_not_run=tuple(gaps.values()),
    )


_HEADLINE = 280


def headline(top: Finding) -> str:
    """Name the top cause and its fix in one bounded sentence (the verdict's first reason).

    The fix is the finding's first step that changes something, else its first check.
    """
    what = f"Top cause: {top.title.rstrip('.')}"
    if top.subject:
        what += f" ({top.subject})"
    if top.impact is not None and top.impact.messages:
        what += f", {plural(top.impact.messages, 'message')} waiting"
    steps = sorted(top.remediation, key=lambda step: step.order)
    step = next((s for s in steps if s.purpose.value == "fix"), steps[0] if steps else None)
    if step is not None:
        command = " ".join(step.command.render().split())
        what += f". {'Fix' if step.purpose.value == 'fix' else 'First'}: {command}"
    what += "."
    return what if len(what) <= _HEADLINE else what[: _HEADLINE - 1] + "…"


_COLLECT = (
    "Collect the evidence with the read-only collection script: write it with "
    "'exchange-tls collector -o Export-ExchangeTlsEvidence.ps1', run it on the server, and "
    "diagnose the zip it writes: the send protocol log, Get-ExchangeCertificate, "
    "Get-SendConnector and Get-Queue output."
)
_EXPLAIN = (
    "With only a queue error at hand, 'exchange-tls explain \"<LastError>\"' lists the "
    "causes that give it and the evidence that tells them apart."
)


def _first_refusal(sessions: list[SmtpSession]) -> str:
    """Return the text of the first refusal of the first session given."""
    row = refusal(sessions[0].rows, sessions[0].direction)
    return row.data if row is not None else ""


def judge(
    evidence: Evidence, findings: tuple[Finding, ...], coverage: Coverage
) -> tuple[Verdict, tuple[str, ...], tuple[str, ...]]:
    """Return the verdict, the reasons for it, and what to collect next."""
    serious = [f for f in findings if f.severity is not Severity.INFO]
    if serious:
        return (
            Verdict.PROBLEMS,
            (
                headline(serious[0]),
                f"{plural(len(serious), 'finding')} of severity error or warning.",
            ),
            (),
        )
    kinds = available_kinds(evidence)
    refused = [
        session
        for session in evidence.sessions
        if session.direction is not Direction.RECEIVE
        and refusal(session.rows, session.direction) is not None
        and not mail_accepted(session.rows, session.direction)
    ]
    if refused:
        # A session is judged to its end: a refused send session is never health, even
        # when TLS was negotiated and no rule could name the cause (DESIGN §19).
        return (
            Verdict.INCONCLUSIVE,
            (
                f"{plural(len(refused), 'send session')} ended in a refusal (first: "
                f"{refusal_code(_first_refusal(refused))}), and no finding of severity error "
                "or warning explains it: the mail was not accepted, so this is not health.",
            ),
            (_EXPLAIN,),
        )
    send_success = any(
        session.direction is not Direction.RECEIVE
        and session.tls is not None
        and session.tls.succeeded is True
        for session in evidence.sessions
    )
    configured = {"send-connectors", "certificates"} <= kinds
    advice: list[str] = []
    if send_success or configured:
        reasons = []
        if send_success:
            reasons.append(
                f"{plural(coverage.tls_succeeded, 'session')} negotiated TLS successfully, and "
                "none failed."
            )
        if configured:
            reasons.append(
                f"{plural(coverage.send_connectors, 'send connector')} and "
                f"{plural(coverage.certificates, 'certificate')} were checked, and every check "
                "passed."
            )
        if coverage.left_out:
            reasons.append(_left_out_reason(coverage))
        return Verdict.HEALTHY, tuple(reasons), ()
    if coverage.read_nothing:
        reasons = ["No evidence was read: no session, certificate, connector or queue."]
        if coverage.left_out:
            reasons.append(_left_out_reason(coverage))
        advice += [_COLLECT, _EXPLAIN]
    else:
        reasons = [
            "Nothing failing was seen, but nothing proves that outbound TLS works either: "
            "no send session negotiated TLS, and the send connectors and certificates were "
            "not both at hand."
        ]
        missing = sorted(({"send-log"} | ({"send-connectors", "certificates"} - kinds)) - kinds)
        advice.append(
            "Collect "
            + ", ".join(KINDS[kind] for kind in missing)
            + ". "
            + _COLLECT.split(": ")[0]
            + "."
        )
    return Verdict.INCONCLUSIVE, tuple(reasons), tuple(advice)
