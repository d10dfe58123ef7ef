"""SMTP protocol logs: rows, sessions and the TLS facts they record."""

from __future__ import annotations

from exchange_tls.protocol_log.models import (
    CertificateIdentity,
    ConnectFailure,
    Direction,
    Event,
    ProtocolLog,
    ProtocolLogHeader,
    ProtocolLogRow,
    SmtpSession,
    TlsHandshake,
)
from exchange_tls.protocol_log.reader import (
    STANDARD_FIELDS,
    ProtocolRowReader,
    iter_protocol_rows,
    parse_protocol_log,
    read_protocol_log,
)
from exchange_tls.protocol_log.sessions import SessionAssembler, assemble_sessions

__all__ = [
    "STANDARD_FIELDS",
    "CertificateIdentity",
    "ConnectFailure",
    "Direction",
    "Event",
    "ProtocolLog",
    "ProtocolLogHeader",
    "ProtocolLogRow",
    "ProtocolRowReader",
    "SessionAssembler",
    "SmtpSession",
    "TlsHandshake",
    "assemble_sessions",
    "iter_protocol_rows",
    "parse_protocol_log",
    "read_protocol_log",
]
