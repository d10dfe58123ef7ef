"""SMTP TLS reports (RFC 8460) as evidence: models and readers."""

from __future__ import annotations

from exchange_tls.tls_reports.models import (
    FailureDetail,
    TlsPolicyType,
    TlsReport,
    TlsReportPolicy,
)
from exchange_tls.tls_reports.reader import (
    gunzip,
    looks_like_tls_report,
    parse_tls_reports,
    read_tls_reports,
)

__all__ = [
    "FailureDetail",
    "TlsPolicyType",
    "TlsReport",
    "TlsReportPolicy",
    "gunzip",
    "looks_like_tls_report",
    "parse_tls_reports",
    "read_tls_reports",
]
