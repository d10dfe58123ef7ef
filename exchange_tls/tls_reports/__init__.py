"""SMTP TLS reports (RFC 8460) as evidence: models and readers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "FailureDetail": "models",
            "TlsPolicyType": "models",
            "TlsReport": "models",
            "TlsReportPolicy": "models",
            "gunzip": "reader",
            "looks_like_tls_report": "reader",
            "parse_tls_reports": "reader",
            "read_tls_reports": "reader",
        },
        __all__,
    )
