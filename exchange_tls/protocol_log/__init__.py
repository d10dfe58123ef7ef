"""SMTP protocol logs: rows, sessions and the TLS facts they record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "CertificateIdentity": "models",
            "ConnectFailure": "models",
            "Direction": "models",
            "Event": "models",
            "ProtocolLog": "models",
            "ProtocolLogHeader": "models",
            "ProtocolLogRow": "models",
            "SmtpSession": "models",
            "TlsHandshake": "models",
            "STANDARD_FIELDS": "reader",
            "ProtocolRowReader": "reader",
            "iter_protocol_rows": "reader",
            "parse_protocol_log": "reader",
            "read_protocol_log": "reader",
            "SessionAssembler": "sessions",
            "assemble_sessions": "sessions",
        },
        __all__,
    )
