"""The rule families; importing this package fills the catalogue.

The order of the imports is the order of the catalogue: ``credentials`` (F1, F2, F3)
first, as when they were part of ``certificates``; ``unexplained`` comes last: its
catch-alls run after every other rule.
"""

from __future__ import annotations

# The catalogue's order, so not sorted: credentials (F1, F2, F3) first.
# isort: off
from exchange_tls.diagnosis.rules import credentials
from exchange_tls.diagnosis.rules import (
    background,
    certificates,
    connectors,
    conversation,
    internal_transport,
    probes,
    receive,
    server_settings,
    tls_report_delivery,
    tls_reports,
    transport,
    unexplained,
)

# isort: on

__all__ = [
    "background",
    "certificates",
    "connectors",
    "conversation",
    "credentials",
    "internal_transport",
    "probes",
    "receive",
    "server_settings",
    "tls_report_delivery",
    "tls_reports",
    "transport",
    "unexplained",
]
