"""Event log evidence: MSExchangeTransport and Schannel events in every export form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "EventMeaning": "models",
            "EventRecord": "models",
            "Family": "models",
            "Level": "models",
            "alert_name": "models",
            "event_key": "models",
            "meaning_of": "models",
            "looks_like_events": "reader",
            "parse_events": "reader",
            "read_events": "reader",
            "recognises_events": "reader",
        },
        __all__,
    )
