"""Diagnose outbound SMTP TLS failures from exported Microsoft Exchange evidence.

The public names are importable from here; see the API reference for each.
"""

from __future__ import annotations

from exchange_tls.errors import (
    ErrorMode,
    ExchangeTlsError,
    ParseError,
    Problem,
    ProblemCollector,
    Severity,
)
from exchange_tls.sources import DecodedText, SourceRef, decode_bytes, read_source

__version__ = "0.1.0.dev0"

__all__ = [
    "DecodedText",
    "ErrorMode",
    "ExchangeTlsError",
    "ParseError",
    "Problem",
    "ProblemCollector",
    "Severity",
    "SourceRef",
    "__version__",
    "decode_bytes",
    "read_source",
]
