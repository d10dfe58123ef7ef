"""Event log evidence: MSExchangeTransport and Schannel events in every export form."""

from __future__ import annotations

from exchange_tls.events.models import (
    EventMeaning,
    EventRecord,
    Family,
    Level,
    alert_name,
    event_key,
    meaning_of,
)
from exchange_tls.events.reader import (
    looks_like_events,
    parse_events,
    read_events,
    recognises_events,
)

__all__ = [
    "EventMeaning",
    "EventRecord",
    "Family",
    "Level",
    "alert_name",
    "event_key",
    "looks_like_events",
    "meaning_of",
    "parse_events",
    "read_events",
    "recognises_events",
]
