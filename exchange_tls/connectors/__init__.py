"""Connector evidence: ``Get-SendConnector`` and ``Get-ReceiveConnector`` output."""

from __future__ import annotations

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
