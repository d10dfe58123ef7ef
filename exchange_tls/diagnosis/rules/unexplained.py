"""Catch-alls: every TLS failure and failing queue that no other rule explains.

A diagnostic tool that is silent about a failure it does not understand gives a false
all-clear. These two rules make sure that never happens: the engine runs them last, on
the failing sessions and queues that no other finding cites, so a failure is always
reported, if only as "failed, cause not determined", with what the error usually means
and the rules whose evidence would tell the causes apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

import attrs

from exchange_tls.diagnosis.catalogue import finding, lookup, rule
from exchange_tls.diagnosis.cite import failure_row, plural, queue_ref, quoted, row_ref, shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.schannel import schannel_error
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import Direction, SmtpSession
from exchange_tls.protocol_log.occurrences import Occurrences
from exchange_tls.protocol_log.summary import SessionSummary, signature_of
from exchange_tls.queues.models import QueueRecord
from exchange_tls.remediation.commands import GetExchangeCertificate, GetQueue
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = [
    "CATCH_ALL",
    "failing_queues",
    "failing_sessions",
    "folded_tls_failures",
    "queue_errors",
    "tls_failures",
]

#: The ids of the catch-all rules, which the engine runs after every other rule.
CATCH_ALL = ("unexplained-tls-failure", "unexplained-queue-error")
_CERTIFICATE_CHECK = ("Thumbprint", "Services", "HasPrivateKey", "Status", "NotAfter", "Subject")


def failing_sessions(sessions: Iterable[SmtpSession]) -> list[SmtpSession]:
    """Return the sessions (either direction) whose TLS negotiation failed."""
    return [s for s in sessions if s.tls is not None and s.tls.succeeded is False]


def failing_queues(queues: Iterable[QueueRecord]) -> list[QueueRecord]:
    """Return the queues in Retry or Suspended, or with an error."""
    return [queue for queue in queues if queue.is_failing]


def _candidates(rule_ids: Iterable[str]) -> str:
    lines = []
    for rule_id in dict.fromkeys(rule_ids):
        entry = lookup(rule_id)
        lines.append(f"{rule_id} ({entry.title}; confirmed by {'; '.join(entry.needs)})")
    return " Causes that give this error: " + "; ".join(lines) + "." if lines else ""


def _queue_hosts(queue: QueueRecord) -> set[str]:
    error = queue.last_error
    hosts: set[str] = set()
    if error is not None:
        if error.ip is not None and error.ip.host:
            hosts.add(error.ip.host)
        if error.reply is not None:
            hosts.update(
                reply.last_endpoint.host
                for reply in error.reply.chain
                if reply.last_endpoint is not None and reply.last_endpoint.host
            )
    return hosts


def tls_failures(
    sessions: Iterable[SmtpSession],
    summary: SessionSummary | None = None,
    queues: Iterable[QueueRecord] = (),
) -> Iterator[Finding]:
    """One finding per direction, connector and error, for the failing sessions given.

    The error is the normalised one (the summary's signature): decoration in its text does
    not split a cause. With a summary, each group also counts the occurrences of its
    sessions' signatures. A failing queue whose last endpoint is a remote host of a send
    group's sessions is cited too: its error is the TLS failure's (KB 4051498).
    """
    groups: dict[tuple[str, str, str], list[SmtpSession]] = defaultdict(list)
    for session in failing_sessions(sessions):
        direction = "receive" if session.direction is Direction.RECEIVE else "send"
        groups[(direction, session.connector_id, signature_of(session)[3])].append(session)
    waiting = [queue for queue in queues if queue.is_failing]
    counted: dict[tuple[str, str, str], tuple[int, set[str]]] = {}
    for key, group in groups.items():
        count = len(group)
        hosts = {
            s.remote_endpoint.host
            for s in group
            if s.remote_endpoint is not None and s.remote_endpoint.host
        }
        if summary is not None:
            alike = {signature_of(session): session for session in group}
            for session in alike.values():
                found = summary.occurrences_like(session)
                count += found.count
                hosts.update(host for host, _ in found.hosts)
        hosts.discard("")
        counted[key] = (count, hosts)
    yield from _rare_errors(groups, counted)
    for (direction, connector_id, error), group in sorted(groups.items()):
        if (direction, connector_id, error) not in _most_frequent(counted):
            continue
        count, hosts = counted[(direction, connector_id, error)]
        cited_queues = [
            queue for queue in waiting if direction == "send" and _queue_hosts(queue) & hosts
        ]
        known = schannel_error(error)
        evidence: list[EvidenceRef] = []
        for session in group:
            row = failure_row(session)
            if row is not None:
                claim = f"the TLS handshake failed with {error or 'an error'}"
                evidence.append(row_ref(row, claim))
        if known is None:
            meaning = (
                f" The error {quoted(error)} is not in the table of errors Exchange writes; look "
                "it up "
                "among the SSPI status codes."
                if error
                else " The log does not name the error."
            )
        else:
            hedge = "" if known.sourced else " (the SSPI meaning; no Exchange case documents it)"
            meaning = f" {known.name} ({known.code or 'a socket error'}) usually means{hedge}: "
            meaning += known.meaning[0].lower() + known.meaning[1:]
        evidence.extend(
            queue_ref(queue, "the queue waits on the same remote host") for queue in cited_queues
        )
        steps: tuple[RemediationStep, ...] = ()
        if direction == "send" or (known is not None and "Credentials" in known.name):
            steps = (
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetExchangeCertificate(properties=_CERTIFICATE_CHECK),
                    note="The certificate this server presents should have SMTP in Services, "
                    "HasPrivateKey True, Status Valid and a NotAfter in the future.",
                ),
            )
        where = "receive connector" if direction == "receive" else "send connector"
        yield finding(
            "unexplained-tls-failure",
            summary=(
                f"{plural(count, direction + ' session')} of {where} {quoted(connector_id)} "
                f"failed the TLS "
                f"handshake with {error or 'an unnamed error'}, and no rule could tell why from "
                f"this evidence.{meaning}"
                + _candidates(known.rule_ids if known is not None else ())
                + (
                    f" {plural(len(cited_queues), 'queue')} "
                    + ("waits" if len(cited_queues) == 1 else "wait")
                    + " on the same remote host."
                    if cited_queues
                    else ""
                )
            ),
            evidence=tuple(evidence),
            confidence=Confidence.LOW,
            preconditions=(
                "a failure no other finding explains; more evidence (the certificate list, "
                "the connector's settings) lets the rules name the cause",
            ),
            remediation=steps,
            subject=f"{connector_id}: {error or 'unnamed error'}",
        )


#: Errors of one connector reported each as a finding of its own: the most frequent.
#: The rest are one finding, "other errors", with a table of them: 20,000 distinct error
#: texts are not 20,000 findings.
ERRORS_SHOWN = 8


def _most_frequent(
    counted: dict[tuple[str, str, str], tuple[int, set[str]]],
) -> set[tuple[str, str, str]]:
    """Return the groups reported alone: each connector's most frequent errors."""
    by_connector: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in counted:
        by_connector[key[:2]].append(key)
    chosen: set[tuple[str, str, str]] = set()
    for keys in by_connector.values():
        keys.sort(key=lambda key: (-counted[key][0], key[2]))
        chosen.update(keys[:ERRORS_SHOWN])
    return chosen


def _rare_errors(
    groups: dict[tuple[str, str, str], list[SmtpSession]],
    counted: dict[tuple[str, str, str], tuple[int, set[str]]],
) -> Iterator[Finding]:
    """One finding per connector for the errors beyond its :data:`ERRORS_SHOWN` most frequent."""
    shown = _most_frequent(counted)
    rest: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in sorted(counted):
        if key not in shown:
            rest[key[:2]].append(key)
    for (direction, connector_id), keys in sorted(rest.items()):
        keys.sort(key=lambda key: (-counted[key][0], key[2]))
        total = sum(counted[key][0] for key in keys)
        named = ", ".join(f"{key[2] or 'unnamed'} ({counted[key][0]})" for key in keys[:3])
        where = "receive connector" if direction == "receive" else "send connector"
        evidence = [
            row_ref(row, "the TLS handshake failed with a rarer error")
            for key in keys
            for session in groups[key]
            for row in [failure_row(session)]
            if row is not None
        ]
        yield finding(
            "unexplained-tls-failure",
            summary=(
                f"{plural(total, direction + ' session')} of {where} {quoted(connector_id)} "
                f"failed the TLS "
                f"handshake with {len(keys)} other errors beyond its {ERRORS_SHOWN} most "
                f"frequent (most: {named}), and no rule could tell why from this evidence."
            ),
            evidence=tuple(evidence),
            confidence=Confidence.LOW,
            preconditions=(
                f"a connector's errors beyond its {ERRORS_SHOWN} most frequent are one finding",
            ),
            subject=f"{connector_id}: (other errors)",
        )


def folded_tls_failures(signature: tuple[str, ...], found: Occurrences) -> Iterator[Finding]:
    """One finding for the rarest failing signatures a summary folded together.

    A summary keeps a bounded number of signatures apart; the rarest of a direction,
    connector and outcome are counted together, with a few exemplars to cite.
    """
    direction, connector_id = signature[0], signature[1]
    where = "receive connector" if direction == "receive" else "send connector"
    made = finding(
        "unexplained-tls-failure",
        summary=(
            f"{plural(found.count, direction + ' session')} of {where} {quoted(connector_id)} "
            "failed the TLS "
            "handshake with errors too rare and too many to tell apart here (the summary "
            "folded them together); no rule could tell why from this evidence."
        ),
        evidence=tuple(
            EvidenceRef(
                source=occurrence.source,
                excerpt=shorten(occurrence.excerpt),
                claim="the TLS handshake failed (one of the rarest errors)",
            )
            for occurrence in found.exemplars
        ),
        confidence=Confidence.LOW,
        preconditions=("the summary folded the rarest failing signatures together",),
        subject=f"{connector_id}: (rarest errors, folded by the summary)",
    )
    yield attrs.evolve(
        made,
        occurrences=found.count,
        first_seen=found.first,
        last_seen=found.last,
        evidence_omitted=found.count - len(found.exemplars),
    )


def _error_signature(queue: QueueRecord) -> str:
    error = queue.last_error
    if error is None or error.reply is None:
        return str(queue.status) if error is None else "unreadable error"
    return " -> ".join(
        f"{reply.code} {reply.enhanced}" if reply.enhanced else str(reply.code)
        for reply in error.reply.chain
    )


def queue_errors(queues: Iterable[QueueRecord]) -> Iterator[Finding]:
    """One finding per error signature (the reply codes), for the failing queues given."""
    from exchange_tls.diagnosis.explain import explain_error  # explain imports the rules

    groups: dict[str, list[QueueRecord]] = defaultdict(list)
    for queue in failing_queues(queues):
        groups[_error_signature(queue)].append(queue)
    for signature, group in sorted(groups.items()):
        first = group[0]
        readings: tuple[str, ...] = ()
        candidates: tuple[str, ...] = ()
        if first.last_error is not None and first.last_error.reply is not None:
            explanation = explain_error(first.last_error.raw)
            readings = explanation.readings
            candidates = tuple(rule.rule_id for rule in explanation.candidates)
        names = ", ".join(quoted(queue.identity or "?") for queue in group[:5])
        if len(group) > 5:
            names += f" and {len(group) - 5} more"
        status = f"Status {first.status}" if first.status is not None else "a failing status"
        what = f"LastError {signature}" if first.last_error is not None else status
        yield finding(
            "unexplained-queue-error",
            summary=(
                (
                    f"Queue {names} shows {what}"
                    if len(group) == 1
                    else f"{len(group)} queues, {names}, show {what}"
                )
                + ", and no rule could tell why from this evidence."
                + (" " + " ".join(readings) if readings else "")
                + _candidates(candidates)
            ),
            evidence=tuple(queue_ref(queue, "the queue is failing") for queue in group),
            confidence=Confidence.LOW,
            preconditions=(
                "a queue error alone cannot tell its causes apart; the send protocol log of "
                "the same time, the certificate list and the connector settings can",
            ),
            remediation=tuple(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetQueue(identity=queue.identity),
                    note="LastError and NextHopDomain name the failing hop.",
                )
                for queue in group[:5]
                if queue.identity
            ),
            subject=signature,
        )


@rule(
    rule_id="unexplained-tls-failure",
    title="A TLS handshake failed, and no rule could tell why",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="A send or receive session failed its TLS handshake, and no other rule explains "
    "it from the evidence at hand. The finding quotes the error, what it usually means, "
    "and the rules whose evidence would tell the possible causes apart.",
    needs=("a session whose TLS negotiation failed that no other finding cites",),
    remedy="Collect the evidence the candidate rules need (the certificate list, the "
    "connector's settings) and diagnose again.",
    selection="The failing sessions, send or receive, that no other finding accounts for, "
    "one finding per direction, connector and error.",
    contradiction="Any other finding that cites a failure takes it, and every session of the "
    "same signature (connector, error, certificate), from this rule.",
)
def unexplained_tls_failure(context: Context) -> Iterator[Finding]:
    """Every failing TLS session; the engine passes only those no other finding cites."""
    return tls_failures(context.sessions)


@rule(
    rule_id="unexplained-queue-error",
    title="A queue is failing, and no rule could tell why",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="A queue is in Retry or Suspended, or carries a LastError, and no other rule "
    "explains it from the evidence at hand. The finding decodes the error and lists the "
    "causes that give it (as 'exchange-tls explain' does).",
    needs=("a queue in Retry or Suspended, or with a LastError, that no other finding cites",),
    remedy="Collect the send protocol log of the same time, the certificate list and the "
    "connector's settings, and diagnose again.",
    selection="The failing queues no other finding cites, one finding per chain of reply codes.",
    contradiction="Any other finding that cites the queue takes it from this rule.",
)
def unexplained_queue_error(context: Context) -> Iterator[Finding]:
    """Every failing queue; the engine passes only those no other finding cites."""
    return queue_errors(context.queues)
