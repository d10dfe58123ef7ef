"""Connector evidence: ``Get-SendConnector`` and ``Get-ReceiveConnector`` output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
    from exchange_tls.connectors.models import ReceiveConnector, SendConnector
    from exchange_tls.connectors.reader import (
        parse_receive_connectors,
        parse_send_connectors,
        read_receive_connectors,
        read_send_connectors,
    )
    from exchange_tls.connectors.selection import (
        Selection,
        candidate_certificates,
        names_match,
        select_certificate,
    )

__all__ = [
    "ReceiveConnector",
    "Selection",
    "SendConnector",
    "candidate_certificates",
    "names_match",
    "parse_receive_connectors",
    "parse_send_connectors",
    "read_receive_connectors",
    "read_send_connectors",
    "select_certificate",
]

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "ReceiveConnector": "models",
            "SendConnector": "models",
            "parse_receive_connectors": "reader",
            "parse_send_connectors": "reader",
            "read_receive_connectors": "reader",
            "read_send_connectors": "reader",
            "Selection": "selection",
            "candidate_certificates": "selection",
            "names_match": "selection",
            "select_certificate": "selection",
        },
        __all__,
    )
