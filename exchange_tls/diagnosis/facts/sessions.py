"""Facts about the sessions as a whole: TLS 1.2 seen working, the remote host's replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from exchange_tls.diagnosis.cite import queue_ref, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.schannel_events import event_side, schannel_failures
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.events.models import EventRecord
from exchange_tls.moments import shift
from exchange_tls.protocol_log.models import Event, ProtocolLogRow, SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.tls_settings.models import Side

__all__ = [
    "MODERN",
    "client_handshake_events",
    "modern_session",
    "remote_reply_rows",
    "replies_saying",
    "tls_explains",
]

MODERN = ("TLS1_2", "TLS1_3")

#: How far from the failing sessions a Schannel event may lie and still speak for them.
_NEAR = dt.timedelta(hours=1)


def modern_session(context: Context) -> SmtpSession | None:
    """Return the last session in which this server negotiated TLS 1.2 or later, if any."""

    def find() -> SmtpSession | None:
        for session in reversed(context.sessions):
            tls = session.tls
            if tls is not None and tls.succeeded is True and (tls.protocol or "") in MODERN:
                return session
        return None

    return context.memo("modern-session", find)


def remote_reply_rows(context: Context) -> list[tuple[str, ProtocolLogRow]]:
    """Return the remote host's reply rows of every send session, case-folded, read once."""

    def read() -> list[tuple[str, ProtocolLogRow]]:
        # Plain text, no reply grammar: searching every reply of a day of logs through
        # pyparsing cost seconds, and a phrase sits within one line.
        return [
            (" ".join(row.data.casefold().split()), row)
            for session in context.send_sessions
            for row in session.rows
            if row.event is Event.RECEIVE and row.data[:3].isdigit()
        ]

    return context.memo("remote-reply-rows", read)


def replies_saying(context: Context, needles: Iterable[str]) -> list[EvidenceRef]:
    """Cite every reply, in the send logs and the queues' errors, that says one of the needles."""
    wanted = [needle.casefold() for needle in needles]
    found = [
        row_ref(row, "the remote host replied")
        for text, row in remote_reply_rows(context)
        if any(needle in text for needle in wanted)
    ]
    for queue in context.queues:
        if queue.last_error is None or queue.last_error.reply is None:
            continue
        for reply in queue.last_error.reply.chain:
            text = " ".join(reply.text.casefold().split())
            if any(needle in text for needle in wanted):
                found.append(queue_ref(queue, "the queue's last error"))
    return found


def tls_explains(context: Context, queue: QueueRecord) -> SmtpSession | None:
    """Return a failing TLS session behind the queue: its error is not the network's."""
    for session in context.sessions_for_queue(queue):
        if session.tls is not None and session.tls.succeeded is False:
            return session
    return None


def client_handshake_events(
    context: Context, spans: list[tuple[dt.datetime, dt.datetime]]
) -> list[EventRecord]:
    """Return the Schannel events of failed outbound handshakes near the failing sessions.

    36874 (a client offered this server no cipher it has) and a 36871 for the server's
    credential are inbound, so they do not speak for a send connector's failures.
    """
    if not spans:
        return []
    first = shift(min(start for start, _ in spans), -_NEAR)
    last = shift(max(end for _, end in spans), _NEAR)
    return [
        event
        for event in schannel_failures(context)
        if event.event_id != 36874
        and event_side(event) is not Side.SERVER
        and event.time is not None
        and first <= event.time <= last
    ]
