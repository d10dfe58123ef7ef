"""Records: each model flattened to one row of named values, the same for every view.

The command line's tables, the notebook's HTML tables, the DataFrames and the HTML
report all take their rows from :func:`record` and :func:`records`, so a column has one
name and one meaning wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.model import Finding
from exchange_tls.errors import Problem
from exchange_tls.protocol_log.models import Direction, ProtocolLogRow, SmtpSession
from exchange_tls.queues.models import QueueRecord

__all__ = [
    "Record",
    "certificate_record",
    "finding_record",
    "plain",
    "problem_record",
    "queue_record",
    "receive_connector_record",
    "record",
    "records",
    "row_record",
    "send_connector_record",
    "server_of_queue",
    "server_of_session",
    "session_record",
    "tls_outcome",
]

#: One flattened model: column name to value (``None`` for unknown).
Record = dict[str, object]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _joined(values: Iterable[str] | None) -> str | None:
    return None if values is None else ", ".join(values)


def tls_outcome(session: SmtpSession) -> str | None:
    """Say how the session's TLS went: ``ok``, ``failed``, ``not logged`` or ``None``.

    ``None`` means the session never asked for TLS.
    """
    tls = session.tls
    if tls is None:
        return None
    if tls.succeeded is True:
        return "ok"
    if tls.succeeded is False:
        return "failed"
    return "not logged"


def server_of_session(session: SmtpSession) -> str | None:
    r"""Return the server a session was logged on, when its evidence says so.

    A receive connector's id is ``SERVER\Name``; a send log names no server.
    """
    if session.direction is Direction.RECEIVE and "\\" in session.connector_id:
        return session.connector_id.split("\\", 1)[0]
    return None


def server_of_queue(queue: QueueRecord) -> str | None:
    r"""Return the server of a queue from its identity (``EX01\9``), when it has one."""
    return queue.server


def row_record(row: ProtocolLogRow) -> Record:
    """Flatten a protocol-log row: its fields, its time as a datetime and its source."""
    return {**row.to_dict(), "timestamp": row.timestamp}


def session_record(session: SmtpSession) -> Record:
    """Flatten a session: when, which connector and remote host, and how TLS went."""
    tls = session.tls
    return {
        "start": session.start,
        "server": server_of_session(session),
        "connector": session.connector_id,
        "session": session.session_id,
        "direction": session.direction.value if session.direction else None,
        "remote": _text(session.remote_endpoint),
        "complete": session.complete,
        "tls": tls_outcome(session),
        "tls_succeeded": tls.succeeded if tls else None,
        "tls_error": tls.error if tls else None,
        "protocol": tls.protocol if tls else None,
        "cipher": tls.cipher if tls else None,
        "certificate": tls.local_certificate.thumbprint if tls and tls.local_certificate else None,
        "rows": len(session.rows),
        "source": str(session.rows[0].source),
    }


def certificate_record(certificate: ExchangeCertificate) -> Record:
    """Flatten a certificate: thumbprint, services, names, validity, key and status."""
    return {
        "thumbprint": certificate.thumbprint,
        "server": certificate.server,
        "services": _text(certificate.services),
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "not_before": certificate.not_before,
        "not_after": certificate.not_after,
        "has_private_key": certificate.has_private_key,
        "status": _text(certificate.status),
        "source": _text(certificate.source),
    }


def send_connector_record(connector: SendConnector) -> Record:
    """Flatten a send connector: what decides its TLS and its certificate."""
    return {
        "name": connector.name,
        "fqdn": connector.fqdn,
        "tls_certificate_name": _text(connector.tls_certificate_name),
        "require_tls": connector.require_tls,
        "tls_auth_level": connector.tls_auth_level,
        "tls_domain": connector.tls_domain,
        "smart_hosts": _joined(connector.smart_hosts),
        "address_spaces": _joined(connector.address_spaces),
        "protocol_logging": connector.protocol_logging_level,
        "enabled": connector.enabled,
        "source": _text(connector.source),
    }


def receive_connector_record(connector: ReceiveConnector) -> Record:
    """Flatten a receive connector: its server, bindings and TLS settings."""
    return {
        "name": connector.name,
        "server": connector.server,
        "fqdn": connector.fqdn,
        "tls_certificate_name": _text(connector.tls_certificate_name),
        "require_tls": connector.require_tls,
        "auth_mechanism": connector.auth_mechanism,
        "bindings": _joined(connector.bindings),
        "protocol_logging": connector.protocol_logging_level,
        "enabled": connector.enabled,
        "source": _text(connector.source),
    }


def queue_record(queue: QueueRecord) -> Record:
    """Flatten a queue: status, messages, next hop and the codes of its LastError."""
    reply = queue.last_error.reply if queue.last_error else None
    return {
        "identity": queue.identity,
        "server": server_of_queue(queue),
        "status": _text(queue.status),
        "messages": queue.message_count,
        "next_hop": queue.next_hop_domain,
        "error": None
        if reply is None
        else " -> ".join(f"{r.code} {r.enhanced or ''}".strip() for r in reply.chain),
        "inner_error": None
        if reply is None or reply.nested is None
        else f"{reply.innermost.code} {reply.innermost.enhanced or ''}".strip(),
        "last_retry": queue.last_retry_time,
    }


def finding_record(finding: Finding) -> Record:
    """Flatten a finding: rule, severity, confidence, subject, summary and counts."""
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "subject": finding.subject,
        "summary": finding.summary,
        "occurrences": finding.occurrences,
        "first_seen": finding.first_seen,
        "last_seen": finding.last_seen,
        "evidence": len(finding.evidence),
        "affects": _affects(finding),
        "messages_waiting": None if finding.impact is None else finding.impact.messages,
        "oldest_waiting": None if finding.impact is None else finding.impact.oldest,
        "failing_share": None if finding.share is None else finding.share.ratio,
        "began": finding.began,
        "side": None if finding.side is None else finding.side.value,
    }


def _affects(finding: Finding) -> str:
    subjects = finding.subjects
    if subjects is None or not subjects.top:
        return finding.subject
    if subjects.distinct == 1:
        return subjects.top[0].name
    return f"{subjects.distinct} {subjects.kind}s"


def problem_record(problem: Problem) -> Record:
    """Flatten a problem met while reading: where, how bad, and what."""
    return {
        "source": problem.source,
        "line": problem.line,
        "severity": problem.severity.value,
        "code": problem.code,
        "message": problem.message,
    }


_RECORDERS: tuple[tuple[type[Any], Callable[[Any], Record]], ...] = (
    (SmtpSession, session_record),
    (ExchangeCertificate, certificate_record),
    (ProtocolLogRow, row_record),
    (QueueRecord, queue_record),
    (SendConnector, send_connector_record),
    (ReceiveConnector, receive_connector_record),
    (Finding, finding_record),
    (Problem, problem_record),
)


def record(item: object) -> Record:
    """Flatten one model (row, session, certificate, connector, queue, finding, problem).

    Raises TypeError for anything else.
    """
    for kind, recorder in _RECORDERS:
        if isinstance(item, kind):
            return recorder(item)
    raise TypeError(f"cannot flatten {type(item).__name__} for a table")


def records(items: Iterable[object]) -> list[Record]:
    """Flatten models for a table (see :func:`record`)."""
    return [record(item) for item in items]


def plain(value: object) -> object:
    """Return a value as JSON or CSV can carry it: times in ISO 8601, the rest as is."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
