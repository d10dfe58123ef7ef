"""Queue evidence: ``Get-Queue`` output and the ``LastError`` strings inside it."""

from __future__ import annotations

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
