"""Diagnose outbound SMTP TLS failures from exported Microsoft Exchange evidence.

The top level holds what a user's code touches: the entry points (:func:`load_evidence`,
:func:`diagnose`, :func:`explain_error` and the ``read_*``, ``parse_*`` and ``iter_*``
readers), the models they return, the types a :class:`Finding` exposes, and the errors.
Everything else lives in its subpackage, importable from there.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from exchange_tls import display

if TYPE_CHECKING:
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


def _install_views() -> None:
    # The views install how models print and show in notebooks (exchange_tls.display);
    # they are imported the first time a model is printed or shown, or a format asked
    # for, so ``print(diagnosis)`` works after a bare ``import exchange_tls``.
    from exchange_tls import views  # noqa: F401 -- imported for its hooks


display.register_loader(_install_views)

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

#: Where each public name lives: imported on first use (PEP 562), so that importing the
#: package (and the command line's ``diagnose``) loads only the readers a run needs.
_PUBLIC = {
    "__version__": "exchange_tls._version",
    "CertificateIdentity": "exchange_tls.protocol_log",
    "CertificateStatus": "exchange_tls.certificates",
    "CollectionManifest": "exchange_tls.manifest",
    "Command": "exchange_tls.remediation",
    "Confidence": "exchange_tls.diagnosis",
    "ConnectFailure": "exchange_tls.protocol_log",
    "Coverage": "exchange_tls.diagnosis",
    "DeliveryType": "exchange_tls.queues",
    "Diagnosis": "exchange_tls.diagnosis",
    "Direction": "exchange_tls.protocol_log",
    "DistinguishedName": "exchange_tls.certificates",
    "Endpoint": "exchange_tls.endpoints",
    "EnhancedStatusCode": "exchange_tls.smtp",
    "ErrorExplanation": "exchange_tls.diagnosis",
    "Event": "exchange_tls.protocol_log",
    "EventRecord": "exchange_tls.events",
    "Evidence": "exchange_tls.diagnosis",
    "EvidenceRef": "exchange_tls.diagnosis",
    "ExchangeCertificate": "exchange_tls.certificates",
    "ExchangeTlsError": "exchange_tls.errors",
    "Finding": "exchange_tls.diagnosis",
    "HybridConfiguration": "exchange_tls.connectors.hybrid",
    "LastError": "exchange_tls.queues",
    "ParseError": "exchange_tls.errors",
    "Problem": "exchange_tls.errors",
    "ProtocolLog": "exchange_tls.protocol_log",
    "ProtocolLogHeader": "exchange_tls.protocol_log",
    "ProtocolLogRow": "exchange_tls.protocol_log",
    "Purpose": "exchange_tls.remediation",
    "QueueRecord": "exchange_tls.queues",
    "QueueStatus": "exchange_tls.queues",
    "ReadResult": "exchange_tls.results",
    "ReceiveConnector": "exchange_tls.connectors",
    "RemediationStep": "exchange_tls.remediation",
    "RootCAType": "exchange_tls.certificates",
    "Rule": "exchange_tls.diagnosis",
    "RuleGap": "exchange_tls.diagnosis",
    "Selection": "exchange_tls.connectors",
    "SendConnector": "exchange_tls.connectors",
    "Services": "exchange_tls.certificates",
    "SessionAssembler": "exchange_tls.protocol_log",
    "Severity": "exchange_tls.errors",
    "SmtpReply": "exchange_tls.smtp",
    "SmtpSession": "exchange_tls.protocol_log",
    "SourceRef": "exchange_tls.sources",
    "TlsCertificateName": "exchange_tls.certificates",
    "TlsHandshake": "exchange_tls.protocol_log",
    "TlsReport": "exchange_tls.tls_reports",
    "TlsResultType": "exchange_tls.tls_results",
    "TlsSettings": "exchange_tls.tls_settings",
    "Verdict": "exchange_tls.diagnosis",
    "assemble_sessions": "exchange_tls.protocol_log",
    "diagnose": "exchange_tls.diagnosis",
    "explain_error": "exchange_tls.diagnosis",
    "iter_protocol_rows": "exchange_tls.protocol_log",
    "load_evidence": "exchange_tls.loading",
    "parse_certificates": "exchange_tls.certificates",
    "parse_events": "exchange_tls.events",
    "parse_hybrid_configuration": "exchange_tls.connectors.hybrid",
    "parse_last_error": "exchange_tls.queues",
    "parse_manifest": "exchange_tls.manifest",
    "parse_protocol_log": "exchange_tls.protocol_log",
    "parse_queues": "exchange_tls.queues",
    "parse_receive_connectors": "exchange_tls.connectors",
    "parse_send_connectors": "exchange_tls.connectors",
    "parse_smtp_reply": "exchange_tls.smtp",
    "parse_tls_certificate_name": "exchange_tls.certificates",
    "parse_tls_reports": "exchange_tls.tls_reports",
    "parse_tls_settings": "exchange_tls.tls_settings",
    "read_certificates": "exchange_tls.certificates",
    "read_events": "exchange_tls.events",
    "read_hybrid_configuration": "exchange_tls.connectors.hybrid",
    "read_manifest": "exchange_tls.manifest",
    "read_protocol_log": "exchange_tls.protocol_log",
    "read_queues": "exchange_tls.queues",
    "read_receive_connectors": "exchange_tls.connectors",
    "read_send_connectors": "exchange_tls.connectors",
    "read_tls_reports": "exchange_tls.tls_reports",
    "read_tls_settings": "exchange_tls.tls_settings",
    "select_certificate": "exchange_tls.connectors",
}

#: The subpackages and modules a bare ``import exchange_tls`` used to load: still
#: attributes of the package, imported when first touched.
_SUBPACKAGES = frozenset(
    (
        "certificates",
        "connectors",
        "diagnosis",
        "endpoints",
        "errors",
        "events",
        "inventory",
        "kinds",
        "loading",
        "manifest",
        "pipeline",
        "powershell",
        "probe_results",
        "protocol_log",
        "queues",
        "remediation",
        "results",
        "smtp",
        "sources",
        "tls_reports",
        "tls_results",
        "tls_settings",
        "views",
    )
)

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
    public = _PUBLIC.get(name)
    if public is not None:
        value = getattr(importlib.import_module(public), name)
        globals()[name] = value
        return value
    module = _MOVED.get(name)
    if module is None:
        if name in _SUBPACKAGES:
            # ``exchange_tls.views`` and the like after a bare ``import exchange_tls``, as
            # when the package root imported them all.
            return importlib.import_module(f"{__name__}.{name}")
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
