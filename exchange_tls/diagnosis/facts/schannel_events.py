"""The Schannel events of failed handshakes, and the side each names."""

from __future__ import annotations

from exchange_tls.diagnosis.context import Context
from exchange_tls.events.models import EventRecord, Family
from exchange_tls.tls_settings.models import Side

__all__ = ["PROTOCOL_ALERTS", "SCHANNEL_FAILURES", "event_side", "schannel_failures"]

# Schannel events that say a handshake failed on protocol or cipher grounds.
SCHANNEL_FAILURES = (36871, 36874, 36887, 36888)
PROTOCOL_ALERTS = (40, 70, 71)


def schannel_failures(context: Context) -> list[EventRecord]:
    """Return the Schannel events of a failed handshake (protocol alerts only), by time.

    Decided once per diagnosis; each call returns a fresh list of the same events.
    """
    return list(context.memo("schannel-failures", lambda: _schannel_failures(context)))


def _schannel_failures(context: Context) -> tuple[EventRecord, ...]:
    failures = []
    for event in context.evidence.events:
        meaning = event.meaning
        if meaning is None or meaning.family is not Family.SCHANNEL:
            continue
        if event.event_id not in SCHANNEL_FAILURES:
            continue
        if event.event_id in (36887, 36888) and event.alert not in PROTOCOL_ALERTS:
            continue
        failures.append(event)
    return tuple(sorted(failures, key=lambda e: (e.time is None, e.time, str(e.source))))


def event_side(event: EventRecord) -> Side | None:
    """Return the side a Schannel credential event (36871) names, where it names one."""
    kind = (event.datum("Type") or "").casefold()
    message = (event.message or "").casefold()
    if kind == "client" or "tls client credential" in message:
        return Side.CLIENT
    if kind == "server" or "tls server credential" in message:
        return Side.SERVER
    return None
