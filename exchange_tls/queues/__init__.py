"""Queue evidence: ``Get-Queue`` output and the ``LastError`` strings inside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
    from exchange_tls.queues.last_error import LastError, parse_last_error
    from exchange_tls.queues.models import DeliveryType, QueueRecord, QueueStatus
    from exchange_tls.queues.reader import parse_queues, read_queues

__all__ = [
    "DeliveryType",
    "LastError",
    "QueueRecord",
    "QueueStatus",
    "parse_last_error",
    "parse_queues",
    "read_queues",
]

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "LastError": "last_error",
            "parse_last_error": "last_error",
            "DeliveryType": "models",
            "QueueRecord": "models",
            "QueueStatus": "models",
            "parse_queues": "reader",
            "read_queues": "reader",
        },
        __all__,
    )
