"""``diagnose()``: evidence in, findings out.

Theory of operation. :func:`diagnose` is pure: no clock, no I/O, no global state.

1. ``now`` is the caller's, or the latest time the evidence shows (a session's last row,
   a queue's retry times), so that the same evidence gives the same findings tomorrow.
2. A :class:`~exchange_tls.diagnosis.context.Context` sorts every input and makes the
   joins between queues, sessions, connectors and certificates once.
3. Every rule of the catalogue reads the context and yields findings. Which rule fires
   when is decided in the rules, each with its near misses: a rule fires only on
   evidence, and where causes exclude each other (F1 not enabled for SMTP, F2 no key,
   F3 key not readable) the rules test the facts that separate them. The KB 4051498
   trap lives in ``connection-failure``: a queue's network-looking error is not taken
   as a network failure when a TLS failure on the same path explains it.
4. Findings are ordered most important first: severity, confidence, the rule's place in
   the catalogue, then what the finding is about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from exchange_tls.diagnosis import rules as _rules  # noqa: F401 -- fills the catalogue
from exchange_tls.diagnosis.catalogue import CATALOGUE
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis, Finding

__all__ = ["diagnose", "latest_time"]


def latest_time(evidence: Evidence) -> dt.datetime | None:
    """Return the latest moment the evidence records, or ``None``."""
    moments: list[dt.datetime] = [session.end for session in evidence.sessions if session.rows]
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
            f"{left_out} remediation step(s) left out: a value from the evidence cannot be "
            "written as a PowerShell literal",
        ),
    )


def _ordered(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    place = {rule.rule_id: index for index, rule in enumerate(CATALOGUE)}
    unique = {(f.rule_id, f.subject, f.summary): f for f in findings}
    # The summary and the cited places break ties, so the order never depends on input order.
    return tuple(
        sorted(
            unique.values(),
            key=lambda f: (
                f.sort_key[0],
                f.sort_key[1],
                place.get(f.rule_id, len(place)),
                f.subject,
                f.summary,
                repr(f.evidence),
            ),
        )
    )


def diagnose(evidence: Evidence, *, now: dt.datetime | None = None) -> Diagnosis:
    """Diagnose outbound TLS from the evidence; see the module's theory of operation.

    >>> from exchange_tls import Evidence
    >>> diagnose(Evidence()).findings
    ()
    """
    moment = now if now is not None else latest_time(evidence)
    context = Context(evidence, moment)
    findings = [_renderable(finding) for rule in CATALOGUE for finding in rule.check(context)]
    return Diagnosis(findings=_ordered(findings), now=moment)
