"""The rule families; importing this package fills the catalogue."""

from __future__ import annotations

from exchange_tls.diagnosis.rules import certificates, connectors, server_settings, transport

__all__ = ["certificates", "connectors", "server_settings", "transport"]
