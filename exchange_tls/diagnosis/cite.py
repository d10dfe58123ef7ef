"""Evidence references: how findings cite rows, records and derived facts."""

from __future__ import annotations

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.protocol_log.models import ProtocolLogRow, SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.sources import SourceRef

__all__ = [
    "SAME_OUTCOME",
    "certificate_ref",
    "connector_ref",
    "failure_row",
    "plural",
    "queue_ref",
    "row_ref",
    "shorten",
]

_EXCERPT = 200

#: The claim of a failing session cited only as one more of its cause's sessions; views
#: group it with the first session of the same excerpt.
SAME_OUTCOME = "another session with the same outcome"


def shorten(text: str) -> str:
    """One line of at most 200 characters."""
    line = " ".join(text.split())
    return line if len(line) <= _EXCERPT else line[: _EXCERPT - 1] + "…"


def plural(count: int, noun: str) -> str:
    """Return ``count noun`` with the noun in the plural when it is not one.

    >>> plural(1, "file"), plural(3, "send session")
    ('1 file', '3 send sessions')
    """
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def quoted(value: object) -> str:
    r"""Quote a name for prose as it is written: never Python's repr, which doubles backslashes.

    >>> print(quoted(r"EX01\Submission"))
    'EX01\Submission'
    """
    return f"'{value}'"


def row_ref(row: ProtocolLogRow, claim: str) -> EvidenceRef:
    """Cite a protocol-log row."""
    return EvidenceRef(source=row.source, excerpt=shorten(row.text), claim=claim)


def failure_row(session: SmtpSession) -> ProtocolLogRow | None:
    """Return the row that says the TLS negotiation failed."""
    for row in session.rows:
        if row.text.startswith("TLS negotiation failed"):
            return row
    return None


def row_at(session: SmtpSession, source: SourceRef | None) -> ProtocolLogRow | None:
    """Return the session's row at ``source``."""
    if source is None:
        return None
    return next((row for row in session.rows if row.source == source), None)


def certificate_ref(certificate: ExchangeCertificate, claim: str, excerpt: str) -> EvidenceRef:
    """Cite a certificate of the inventory."""
    return EvidenceRef(source=certificate.source, excerpt=shorten(excerpt), claim=claim)


def queue_ref(queue: QueueRecord, claim: str) -> EvidenceRef:
    """Cite a queue and its LastError."""
    error = queue.last_error.raw if queue.last_error is not None else ""
    excerpt = (
        f"{queue.identity}: {queue.status}, LastError {error}" if error else str(queue.identity)
    )
    return EvidenceRef(source=queue.source, excerpt=shorten(excerpt), claim=claim)


def connector_ref(
    connector: SendConnector | ReceiveConnector, claim: str, excerpt: str
) -> EvidenceRef:
    """Cite a send or receive connector's setting."""
    return EvidenceRef(source=connector.source, excerpt=shorten(excerpt), claim=claim)
