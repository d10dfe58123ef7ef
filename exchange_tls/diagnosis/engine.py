"""``diagnose()``: evidence in, findings out.

Theory of operation. :func:`diagnose` is pure: no clock, no I/O, no global state.

1. ``now`` is the caller's, or the latest time the evidence shows (a session's last row,
   a queue's retry times), so that the same evidence gives the same findings tomorrow.
2. A :class:`~exchange_tls.diagnosis.context.Context` sorts every input and makes the
   joins between queues, sessions, connectors and certificates once.
3. Every rule of the catalogue but the catch-alls reads the context and yields findings.
   Which rule fires when is decided in the rules, each with its near misses: a rule fires
   only on evidence, and where causes exclude each other (F1 not enabled for SMTP, F2 no
   key, F3 key not readable) the rules test the facts that separate them. The KB 4051498
   trap lives in ``connection-failure``: a queue's network-looking error is not taken as
   a network failure when a TLS failure on the same path explains it.
4. One finding per cause: the findings of one rule about one subject (a connector, a
   certificate, a queue, a remote host) become one, with their evidence, fixes and
   preconditions united.
5. Accounting. A failing session is accounted for by a finding that cites one of its rows,
   and with it every failing session of the same signature (direction, connector, error,
   certificate presented): a rule cites a representative session, the count covers them
   all. A failing queue is accounted for by a finding that cites it. Each finding gets the
   number of failures it accounts for and when they were first and last seen.
6. The catch-alls (``unexplained-tls-failure``, ``unexplained-queue-error``) run last, on
   what no finding accounts for, so nothing failing goes unreported.
7. Findings are ordered most important first: severity, confidence, the rule's place in
   the catalogue, then what the finding is about.
8. The coverage counts what was read; the verdict follows
   (:mod:`exchange_tls.diagnosis.coverage`): ``healthy`` needs positive evidence.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

import attrs

from exchange_tls.arguments import check_argument, check_arguments, instance_of
from exchange_tls.diagnosis import rules as _rules  # noqa: F401 -- fills the catalogue
from exchange_tls.diagnosis.catalogue import CATALOGUE
from exchange_tls.diagnosis.cite import SAME_OUTCOME, plural, shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.coverage import add_coverage, judge, measure
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis, EvidenceRef, Finding, Verdict
from exchange_tls.diagnosis.rules.unexplained import (
    CATCH_ALL,
    failing_queues,
    failing_sessions,
    folded_tls_failures,
    queue_errors,
    tls_failures,
)
from exchange_tls.diagnosis.weighing import Cause, Thresholds, Weigher
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.occurrences import EXEMPLARS_KEPT, Occurrences
from exchange_tls.protocol_log.summary import (
    OTHER,
    SessionSummary,
    Signature,
    signature_of,
    telling_row,
)
from exchange_tls.queues.models import QueueRecord
from exchange_tls.remediation.steps import RemediationStep
from exchange_tls.sources import SourceRef

__all__ = ["EVIDENCE_SHOWN", "SESSIONS_SHOWN", "diagnose", "latest_time"]

#: Evidence a finding cites besides failing sessions (configuration, queues, events, the
#: rows a rule quotes): at most this many, in the rule's order; the rest are counted in
#: :attr:`~exchange_tls.diagnosis.model.Finding.evidence_omitted`.
EVIDENCE_SHOWN = 12
#: Failing sessions a finding cites: per signature the first, the last and the
#: :data:`~exchange_tls.protocol_log.occurrences.EXEMPLARS_KEPT` earliest between, at
#: most this many in all; the rest are counted, never listed.
SESSIONS_SHOWN = 12


def latest_time(evidence: Evidence) -> dt.datetime | None:
    """Return the moment the evidence stands for: when it was collected, or its latest time.

    The collector's manifest says when the evidence was collected; without one, the latest
    time a session, a queue or an event records stands in. ``None`` when there is none.
    """
    if evidence.manifest is not None and evidence.manifest.collected is not None:
        return evidence.manifest.collected
    moments: list[dt.datetime] = [session.end for session in evidence.sessions if session.rows]
    moments.extend(event.time for event in evidence.events if event.time is not None)
    for queue in evidence.queues:
        moments.extend(
            moment
            for moment in (queue.last_retry_time, queue.first_retry_time)
            if moment is not None
        )
    return max(moments) if moments else None


def _renderable(finding: Finding) -> Finding:
    """Leave out steps whose values cannot be written as PowerShell (a NUL), and say so."""
    kept = []
    for step in finding.remediation:
        try:
            step.command.render()
        except ValueError:
            continue
        kept.append(step)
    if len(kept) == len(finding.remediation):
        return finding
    left_out = len(finding.remediation) - len(kept)
    return attrs.evolve(
        finding,
        remediation=tuple(kept),
        preconditions=(
            *finding.preconditions,
            f"{plural(left_out, 'remediation step')} left out: a value from the evidence cannot be "
            "written as a PowerShell literal",
        ),
    )


def _merge(group: Sequence[Finding]) -> Finding:
    """One finding from the findings of one rule about one subject, most important first."""
    first = group[0]
    if len(group) == 1:
        return first
    steps: dict[tuple[object, str], RemediationStep] = {}
    for finding in group:
        for step in finding.remediation:
            steps.setdefault((step.purpose, step.command.render()), step)
    return attrs.evolve(
        first,
        evidence=tuple(dict.fromkeys(ref for finding in group for ref in finding.evidence)),
        remediation=tuple(sorted(steps.values(), key=lambda step: step.order)),
        preconditions=tuple(dict.fromkeys(p for finding in group for p in finding.preconditions)),
    )


def _tie_break(finding: Finding, place: dict[str, int]) -> tuple[object, ...]:
    # Severity, then impact (messages waiting, then failing sessions); the summary and the
    # cited places break ties, so the order never depends on input order.
    return (
        finding.sort_key[0],
        -(finding.impact.messages if finding.impact is not None else 0),
        -finding.occurrences if finding.impact is not None else 0,
        finding.sort_key[1],
        place.get(finding.rule_id, len(place)),
        finding.subject,
        finding.summary,
        repr(finding.evidence),
    )


def _one_per_cause(findings: Iterable[Finding]) -> list[Finding]:
    place = {rule.rule_id: index for index, rule in enumerate(CATALOGUE)}
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        groups[(finding.rule_id, finding.subject)].append(finding)
    return [_merge(sorted(group, key=lambda f: _tie_break(f, place))) for group in groups.values()]


def _ordered(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    place = {rule.rule_id: index for index, rule in enumerate(CATALOGUE)}
    return tuple(sorted(findings, key=lambda f: _tie_break(f, place)))


def _session_order(session: SmtpSession) -> tuple[dt.datetime, str, str, str]:
    """Return the summary's total order of sessions (first and last of a signature by it)."""
    return (session.start, session.connector_id, session.session_id, str(session.rows[0].source))


class _Accounts:
    """Which unusual sessions and failing queues each finding accounts for (theory, step 5).

    A session is unusual when it is not an ordinary success
    (:func:`~exchange_tls.protocol_log.summary.signature_of`). With a
    :class:`~exchange_tls.protocol_log.summary.SessionSummary`, the sessions of a signature
    beyond its kept exemplars are occurrences: counted and cited all the same.
    """

    def __init__(
        self,
        sessions: Iterable[SmtpSession],
        queues: list[QueueRecord],
        summary: SessionSummary | None,
    ) -> None:
        self._summary = summary
        self._signatures = {id(s): signature_of(s) for s in sessions}
        self.sessions = [s for s in sessions if self._signatures[id(s)][2] != "ok"]
        self.queues = queues
        self._session_at: dict[SourceRef, SmtpSession] = {
            row.source: session
            for session in self.sessions
            for row in [telling_row(session)]
            if row is not None
        }
        self._alike: dict[Signature, list[SmtpSession]] = defaultdict(list)
        for session in self.sessions:
            self._alike[self._signatures[id(session)]].append(session)
        self._queue_at = {queue.source: queue for queue in queues if queue.source is not None}
        self.covered_sessions: set[int] = set()
        self.covered_queues: set[int] = set()
        self._found: dict[Signature, Occurrences] | None = None
        self.covered_signatures: set[Signature] = set()

    def _occurrences(self, signature: Signature) -> Occurrences:
        if self._summary is None:
            return Occurrences()
        if self._found is None:
            self._found = dict(self._summary.occurrences)
        return self._found.get(signature, Occurrences())

    def _cited(
        self, signature: Signature, rule_refs: dict[SourceRef, EvidenceRef]
    ) -> list[EvidenceRef]:
        """Cite a signature's failing sessions: the first, the earliest few, the last.

        The same whether the sessions were kept whole or counted in a summary: the first
        and the last by the summary's order, between them the earliest by start and place.
        A row the rule cited keeps the rule's claim.
        """
        whole = sorted(self._alike[signature], key=_session_order)
        between: list[tuple[tuple[dt.datetime, str], SourceRef | None, str]] = [
            ((o.start, str(o.source)), o.source, o.excerpt)
            for o in self._occurrences(signature).exemplars
        ]
        for session in whole[1:-1]:
            row = telling_row(session)
            if row is not None:
                between.append(((session.start, str(row.source)), row.source, row.text))
        between.sort(key=lambda item: item[0])
        chosen: list[tuple[SourceRef | None, str]] = []
        for session in (whole[0],) if whole else ():
            row = telling_row(session)
            if row is not None:
                chosen.append((row.source, row.text))
        chosen += [(source, text) for _, source, text in between[:EXEMPLARS_KEPT]]
        for session in whole[-1:] if len(whole) > 1 else ():
            row = telling_row(session)
            if row is not None:
                chosen.append((row.source, row.text))
        return [
            rule_refs[source]
            if source in rule_refs
            else EvidenceRef(source=source, excerpt=shorten(text), claim=SAME_OUTCOME)
            for source, text in chosen
        ]

    def settle(self, finding: Finding) -> tuple[Finding, Cause]:
        """Count what the finding accounts for, remember it, and say so on the finding.

        Its evidence is capped (:data:`EVIDENCE_SHOWN`, :data:`SESSIONS_SHOWN`): what is
        not listed is counted in ``evidence_omitted``.
        """
        sessions: dict[int, SmtpSession] = {}
        signatures: dict[Signature, None] = {}
        queues: dict[int, QueueRecord] = {}
        rule_refs: dict[SourceRef, EvidenceRef] = {}
        others: list[EvidenceRef] = []
        for ref in finding.evidence:
            session = self._session_at.get(ref.source) if ref.source is not None else None
            if session is None:
                others.append(ref)
            else:
                assert ref.source is not None  # noqa: S101 -- found by its source
                rule_refs.setdefault(ref.source, ref)
                if id(session) not in sessions:
                    signature = self._signatures[id(session)]
                    signatures[signature] = None
                    for alike in self._alike[signature]:
                        sessions[id(alike)] = alike
            queue = self._queue_at.get(ref.source) if ref.source is not None else None
            if queue is not None:
                queues[id(queue)] = queue
        for signature in list(signatures):
            if signature[2] == "connect-failed":
                # The rarest unreachable hosts a summary folded share the cause of the others.
                signatures.setdefault((*signature[:3], OTHER, OTHER), None)
        self.covered_sessions.update(sessions)
        self.covered_queues.update(queues)
        self.covered_signatures.update(signatures)
        counted = [self._occurrences(signature) for signature in signatures]
        cited = list(
            dict.fromkeys(
                ref for signature in signatures for ref in self._cited(signature, rule_refs)
            )
        )
        others = list(dict.fromkeys(others))
        failures = len(sessions) + sum(found.count for found in counted)
        # The rule's order first (its own claims), then the sessions it did not cite.
        shown_sessions = set(cited[:SESSIONS_SHOWN])
        shown_others = set(others[:EVIDENCE_SHOWN])
        shown = [
            ref
            for ref in dict.fromkeys(finding.evidence)
            if ref in shown_sessions or ref in shown_others
        ]
        shown += [ref for ref in cited[:SESSIONS_SHOWN] if ref not in set(shown)]
        moments = [moment for s in sessions.values() for moment in (s.start, s.end)]
        moments += [m for found in counted for m in (found.first, found.last) if m is not None]
        moments += [
            moment
            for queue in queues.values()
            for moment in (queue.first_retry_time, queue.last_retry_time)
            if moment is not None
        ]
        settled = attrs.evolve(
            finding,
            evidence=tuple(shown),
            evidence_omitted=max(0, len(others) - EVIDENCE_SHOWN)
            + max(0, failures - min(len(cited), SESSIONS_SHOWN)),
            occurrences=failures + len(queues),
            first_seen=min(moments, default=None),
            last_seen=max(moments, default=None),
        )
        cause = Cause(
            sessions=tuple(sessions.values()),
            counted=tuple(
                (signature, found)
                for signature, found in zip(signatures, counted, strict=True)
                if found.count
            ),
            queues=tuple(queues.values()),
        )
        return settled, cause

    def folded(self) -> list[tuple[Signature, Occurrences]]:
        """Return the failing TLS signatures a summary folded that no finding accounts for."""
        if self._summary is None:
            return []
        return [
            (signature, found)
            for signature, found in self._summary.occurrences
            if signature[2] == "tls-failed"
            and signature[3] == OTHER
            and signature not in self.covered_signatures
        ]

    def unexplained(self) -> tuple[list[SmtpSession], list[QueueRecord]]:
        """Return the failing TLS sessions and queues no settled finding accounts for."""
        return (
            [s for s in failing_sessions(self.sessions) if id(s) not in self.covered_sessions],
            [q for q in self.queues if id(q) not in self.covered_queues],
        )


def diagnose(
    evidence: Evidence,
    *,
    now: dt.datetime | None = None,
    thresholds: Thresholds | None = None,
) -> Diagnosis:
    """Diagnose outbound TLS from the evidence; see the module's theory of operation.

    Too little evidence is never healthy:

    >>> from exchange_tls import Evidence
    >>> diagnosis = diagnose(Evidence())
    >>> diagnosis.findings, diagnosis.verdict.value
    ((), 'inconclusive')

    Evidence of several servers (``Evidence.scopes``) is judged server by server, each
    at its own time, and the findings name their server. ``thresholds`` say when inbound
    failures are background (:class:`~exchange_tls.diagnosis.weighing.Thresholds`; the
    documented defaults when omitted).
    """
    check_arguments("diagnose", now=now)
    takes = instance_of(Evidence, description="an Evidence (from load_evidence)")
    check_argument("diagnose", "evidence", evidence, takes)
    if thresholds is not None:
        limited = instance_of(Thresholds, description="a Thresholds (or None)")
        check_argument("diagnose", "thresholds", thresholds, limited)
    limits = Thresholds() if thresholds is None else thresholds
    if not evidence.scopes:
        return _diagnose_scope(evidence, now, limits)
    # A probe is of a remote host, not of a server: every server's sessions may join it.
    probes = tuple(
        dict.fromkeys((*evidence.probes, *(p for s in evidence.scopes for p in s.probes)))
    )
    scopes = (attrs.evolve(scope, probes=probes) for scope in evidence.scopes)
    return _combine(tuple(_diagnose_scope(scope, now, limits) for scope in scopes))


def _diagnose_scope(
    evidence: Evidence, now: dt.datetime | None, thresholds: Thresholds
) -> Diagnosis:
    moment = now if now is not None else latest_time(evidence)
    context = Context(evidence, moment)
    found = [
        _renderable(finding)
        for rule in CATALOGUE
        if rule.rule_id not in CATCH_ALL
        for finding in rule.check(context)
    ]
    accounts = _Accounts(context.sessions, failing_queues(context.queues), evidence.summary)
    settled = [accounts.settle(finding) for finding in _one_per_cause(found)]
    sessions, queues = accounts.unexplained()
    settled += [
        accounts.settle(_renderable(finding))
        for finding in tls_failures(sessions, evidence.summary, queues)
    ]
    _, queues = accounts.unexplained()
    settled += [accounts.settle(_renderable(finding)) for finding in queue_errors(queues)]
    settled += [
        (finding, Cause(counted=((signature, found),)))
        for signature, found in accounts.folded()
        for finding in folded_tls_failures(signature, found)
    ]
    weigher = Weigher(context, thresholds)
    weighed = weigher.background([(weigher.weigh(f, cause), cause) for f, cause in settled])
    findings = [finding for finding, _ in weighed]
    if evidence.server is not None:
        findings = [attrs.evolve(finding, server=evidence.server) for finding in findings]
    ordered = _ordered(findings)
    coverage = measure(evidence)
    verdict, reasons, advice = judge(evidence, ordered, coverage)
    return Diagnosis(
        findings=ordered,
        now=moment,
        verdict=verdict,
        coverage=coverage,
        reasons=reasons,
        advice=advice,
        server=evidence.server,
    )


def _combine(scopes: tuple[Diagnosis, ...]) -> Diagnosis:
    """One diagnosis of several servers: theirs, server by server, and a verdict of all."""
    verdicts = {scope.verdict for scope in scopes}
    if Verdict.PROBLEMS in verdicts:
        verdict = Verdict.PROBLEMS
    elif verdicts == {Verdict.HEALTHY}:
        verdict = Verdict.HEALTHY
    else:
        verdict = Verdict.INCONCLUSIVE
    name = [scope.server or "(unnamed)" for scope in scopes]
    place = {rule.rule_id: index for index, rule in enumerate(CATALOGUE)}
    return Diagnosis(
        findings=tuple(
            sorted(
                (finding for scope in scopes for finding in scope.findings),
                key=lambda f: (f.server or "", *_tie_break(f, place)),
            )
        ),
        now=max((scope.now for scope in scopes if scope.now is not None), default=None),
        verdict=verdict,
        coverage=add_coverage(scope.coverage for scope in scopes),
        reasons=tuple(
            f"{server}: {scope.verdict.value}. {reason}"
            for server, scope in zip(name, scopes, strict=True)
            for reason in scope.reasons
        ),
        advice=tuple(
            f"{server}: {advice}"
            for server, scope in zip(name, scopes, strict=True)
            for advice in scope.advice
        ),
        scopes=scopes,
    )
