"""The rule families; importing this package fills the catalogue.

``unexplained`` comes last: its catch-alls run after every other rule.
"""

from __future__ import annotations

from exchange_tls.diagnosis.rules import (
    certificates,
    connectors,
    conversation,
    receive,
    server_settings,
    transport,
    unexplained,
)

__all__ = [
    "certificates",
    "connectors",
    "conversation",
    "receive",
    "server_settings",
    "transport",
    "unexplained",
]
