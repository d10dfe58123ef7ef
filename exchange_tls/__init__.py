"""Diagnose outbound SMTP TLS failures from exported Microsoft Exchange evidence.

The public names are importable from here; see the API reference for each.
"""

from __future__ import annotations

from exchange_tls.certificates import (
    CertificateStatus,
    DistinguishedName,
    ExchangeCertificate,
    RootCAType,
    Services,
    TlsCertificateName,
    parse_certificates,
    parse_tls_certificate_name,
    read_certificates,
)
from exchange_tls.connectors import (
    ReceiveConnector,
    Selection,
    SendConnector,
    candidate_certificates,
    parse_receive_connectors,
    parse_send_connectors,
    read_receive_connectors,
    read_send_connectors,
    select_certificate,
)
from exchange_tls.connectors.hybrid import (
    HybridConfiguration,
    parse_hybrid_configuration,
    read_hybrid_configuration,
)
from exchange_tls.diagnosis import (
    CATALOGUE,
    Confidence,
    Coverage,
    Diagnosis,
    ErrorExplanation,
    Evidence,
    EvidenceRef,
    Finding,
    Verdict,
    diagnose,
    explain_error,
)
from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import (
    ErrorMode,
    ExchangeTlsError,
    ParseError,
    Problem,
    ProblemCollector,
    Severity,
)
from exchange_tls.events import EventRecord, parse_events, read_events
from exchange_tls.loading import load_evidence
from exchange_tls.manifest import CollectionManifest, parse_manifest
from exchange_tls.protocol_log import (
    CertificateIdentity,
    ConnectFailure,
    Direction,
    Event,
    ProtocolLog,
    ProtocolLogHeader,
    ProtocolLogRow,
    ProtocolRowReader,
    SessionAssembler,
    SmtpSession,
    TlsHandshake,
    assemble_sessions,
    iter_protocol_rows,
    parse_protocol_log,
    read_protocol_log,
)
from exchange_tls.queues import (
    DeliveryType,
    LastError,
    QueueRecord,
    QueueStatus,
    parse_last_error,
    parse_queues,
    read_queues,
)
from exchange_tls.results import ReadResult
from exchange_tls.smtp import EnhancedStatusCode, SmtpReply, parse_smtp_reply
from exchange_tls.sources import DecodedText, SourceRef, decode_bytes, read_source
from exchange_tls.tls_settings import TlsSettings, parse_tls_settings, read_tls_settings

__version__ = "0.1.0.dev0"

__all__ = [
    "CATALOGUE",
    "CertificateIdentity",
    "CertificateStatus",
    "CollectionManifest",
    "Confidence",
    "ConnectFailure",
    "Coverage",
    "DecodedText",
    "DeliveryType",
    "Diagnosis",
    "Direction",
    "DistinguishedName",
    "Endpoint",
    "EnhancedStatusCode",
    "ErrorExplanation",
    "ErrorMode",
    "Event",
    "EventRecord",
    "Evidence",
    "EvidenceRef",
    "ExchangeCertificate",
    "ExchangeTlsError",
    "Finding",
    "HybridConfiguration",
    "LastError",
    "ParseError",
    "Problem",
    "ProblemCollector",
    "ProtocolLog",
    "ProtocolLogHeader",
    "ProtocolLogRow",
    "ProtocolRowReader",
    "QueueRecord",
    "QueueStatus",
    "ReadResult",
    "ReceiveConnector",
    "RootCAType",
    "Selection",
    "SendConnector",
    "Services",
    "SessionAssembler",
    "Severity",
    "SmtpReply",
    "SmtpSession",
    "SourceRef",
    "TlsCertificateName",
    "TlsHandshake",
    "TlsSettings",
    "Verdict",
    "__version__",
    "assemble_sessions",
    "candidate_certificates",
    "decode_bytes",
    "diagnose",
    "explain_error",
    "iter_protocol_rows",
    "load_evidence",
    "parse_certificates",
    "parse_events",
    "parse_hybrid_configuration",
    "parse_last_error",
    "parse_manifest",
    "parse_protocol_log",
    "parse_queues",
    "parse_receive_connectors",
    "parse_send_connectors",
    "parse_smtp_reply",
    "parse_tls_certificate_name",
    "parse_tls_settings",
    "read_certificates",
    "read_events",
    "read_hybrid_configuration",
    "read_protocol_log",
    "read_queues",
    "read_receive_connectors",
    "read_send_connectors",
    "read_source",
    "read_tls_settings",
    "select_certificate",
]
