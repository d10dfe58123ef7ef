"""Certificate evidence: ``Get-ExchangeCertificate`` in every PowerShell format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "CertificateStatus": "models",
            "ExchangeCertificate": "models",
            "RootCAType": "models",
            "Services": "models",
            "DistinguishedName": "names",
            "TlsCertificateName": "names",
            "parse_tls_certificate_name": "names",
            "parse_certificates": "reader",
            "read_certificates": "reader",
        },
        __all__,
    )
