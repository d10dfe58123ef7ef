"""Diagnose outbound SMTP TLS failures from exported Microsoft Exchange evidence.

The top level holds what a user's code touches: the entry points (:func:`load_evidence`,
:func:`diagnose`, :func:`explain_error` and the ``read_*``, ``parse_*`` and ``iter_*``
readers), the models they return, the types a :class:`Finding` exposes, and the errors.
Everything else lives in its subpackage, importable from there.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# Importing the views installs how models print and show in notebooks
# (exchange_tls.display): importing the package is enough for print(diagnosis).
from exchange_tls import views  # noqa: F401 -- imported for its hooks
from exchange_tls._version import __version__
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
    Confidence,
    Coverage,
    Diagnosis,
    ErrorExplanation,
    Evidence,
    EvidenceRef,
    Finding,
    Rule,
    RuleGap,
    Verdict,
    diagnose,
    explain_error,
)
from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import ExchangeTlsError, ParseError, Problem, Severity
from exchange_tls.events import EventRecord, parse_events, read_events
from exchange_tls.loading import load_evidence
from exchange_tls.manifest import CollectionManifest, parse_manifest, read_manifest
from exchange_tls.protocol_log import (
    CertificateIdentity,
    ConnectFailure,
    Direction,
    Event,
    ProtocolLog,
    ProtocolLogHeader,
    ProtocolLogRow,
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
from exchange_tls.remediation import Command, Purpose, RemediationStep
from exchange_tls.results import ReadResult
from exchange_tls.smtp import EnhancedStatusCode, SmtpReply, parse_smtp_reply
from exchange_tls.sources import SourceRef
from exchange_tls.tls_reports import TlsReport, parse_tls_reports, read_tls_reports
from exchange_tls.tls_results import TlsResultType
from exchange_tls.tls_settings import TlsSettings, parse_tls_settings, read_tls_settings

# The API reference (docs/api.md) groups these names; a test holds the two together.
__all__ = [
    "CertificateIdentity",
    "CertificateStatus",
    "CollectionManifest",
    "Command",
    "Confidence",
    "ConnectFailure",
    "Coverage",
    "DeliveryType",
    "Diagnosis",
    "Direction",
    "DistinguishedName",
    "Endpoint",
    "EnhancedStatusCode",
    "ErrorExplanation",
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
    "ProtocolLog",
    "ProtocolLogHeader",
    "ProtocolLogRow",
    "Purpose",
    "QueueRecord",
    "QueueStatus",
    "ReadResult",
    "ReceiveConnector",
    "RemediationStep",
    "RootCAType",
    "Rule",
    "RuleGap",
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
    "TlsReport",
    "TlsResultType",
    "TlsSettings",
    "Verdict",
    "__version__",
    "assemble_sessions",
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
    "parse_tls_reports",
    "parse_tls_settings",
    "read_certificates",
    "read_events",
    "read_hybrid_configuration",
    "read_manifest",
    "read_protocol_log",
    "read_queues",
    "read_receive_connectors",
    "read_send_connectors",
    "read_tls_reports",
    "read_tls_settings",
    "select_certificate",
]

#: Names that left the top level, and where they live now. They stay importable from
#: here, with a DeprecationWarning, until 0.2.
_MOVED = {
    "CATALOGUE": "exchange_tls.diagnosis",
    "DecodedText": "exchange_tls.sources",
    "ErrorMode": "exchange_tls.errors",
    "ProblemCollector": "exchange_tls.errors",
    "ProtocolRowReader": "exchange_tls.protocol_log",
    "candidate_certificates": "exchange_tls.connectors",
    "decode_bytes": "exchange_tls.sources",
    "read_source": "exchange_tls.sources",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"exchange_tls.{name} is deprecated and leaves the top level in 0.2; "
        f"import it from {module}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return list(__all__)
