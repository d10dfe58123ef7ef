"""How a session ended: the first refusal, and whether mail was accepted.

A session is judged to its end: it is healthy when the answering side accepted a message,
not when TLS was negotiated (Exchange Online answers ``550 5.7.64 TenantAttribution``
*after* a successful handshake). The summary's signatures, which both the careful and the
columnar path compute (:func:`~exchange_tls.protocol_log.summary.signature_of`), and the
rules that judge a session's end read its refusal here, so they agree on it.

The answering side is the remote host on a send log and Exchange itself on a receive log
(the ``<`` and ``>`` events, see :class:`~exchange_tls.protocol_log.models.Event`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow

__all__ = ["mail_accepted", "refusal", "refusal_code"]

_ENHANCED_CODE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def _answer_event(direction: Direction | None) -> Event:
    """Return the event of the answering side's replies."""
    return Event.SEND if direction is Direction.RECEIVE else Event.RECEIVE


def refusal(rows: Iterable[ProtocolLogRow], direction: Direction | None) -> ProtocolLogRow | None:
    """Return the first reply of 400 or more the answering side gave, or ``None``."""
    answers = _answer_event(direction)
    for row in rows:
        if row.event is answers:
            data = row.data
            if data[:1] in ("4", "5") and data[1:3].isdigit():
                return row
    return None


def refusal_code(text: str) -> str:
    """Return a refusal's reply code and enhanced code, or the reply code alone.

    >>> refusal_code("550 5.7.64 TenantAttribution; Relay Access Denied")
    '550 5.7.64'
    >>> refusal_code("421 Service not available")
    '421'
    """
    code = text[:3]
    parts = text[4:].split(None, 1)
    enhanced = parts[0].rstrip(";,.") if parts else ""
    return f"{code} {enhanced}" if _ENHANCED_CODE.match(enhanced) else code


def mail_accepted(rows: Iterable[ProtocolLogRow], direction: Direction | None) -> bool:
    """Whether the answering side accepted a message: a 250 after DATA's 354 or to BDAT LAST."""
    answers = _answer_event(direction)
    data_started = last_chunk = False
    for row in rows:
        data = row.data
        if row.event is answers:
            if data.startswith("354"):
                data_started = True
            elif data.startswith("250") and (data_started or last_chunk):
                return True
            elif data[:1] in ("4", "5"):
                data_started = last_chunk = False
        elif row.event in (Event.SEND, Event.RECEIVE):
            last_chunk = data[:4].upper() == "BDAT" and data.rstrip().upper().endswith(" LAST")
    return False
