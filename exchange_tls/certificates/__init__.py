"""Certificate evidence: ``Get-ExchangeCertificate`` in every PowerShell format."""

from __future__ import annotations

from exchange_tls.certificates.models import (
    CertificateStatus,
    ExchangeCertificate,
    RootCAType,
    Services,
)
from exchange_tls.certificates.names import (
    DistinguishedName,
    TlsCertificateName,
    parse_tls_certificate_name,
)
from exchange_tls.certificates.reader import parse_certificates, read_certificates

__all__ = [
    "CertificateStatus",
    "DistinguishedName",
    "ExchangeCertificate",
    "RootCAType",
    "Services",
    "TlsCertificateName",
    "parse_certificates",
    "parse_tls_certificate_name",
    "read_certificates",
]
