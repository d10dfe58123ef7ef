"""What the certificate store holds for a name: fit certificates, matches, replacements."""

from __future__ import annotations

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.certificates.names import TlsCertificateName
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.connectors.selection import names_match
from exchange_tls.diagnosis.context import Context

__all__ = [
    "certificates_for",
    "certificates_named",
    "fit_for_smtp",
    "replacement_for",
    "same_name",
]


def fit_for_smtp(
    context: Context, connector: SendConnector | ReceiveConnector
) -> ExchangeCertificate | None:
    """Return the certificate with the connector's FQDN fit to name: key, valid, SMTP."""
    if isinstance(connector, SendConnector):
        fqdn_only: SendConnector | ReceiveConnector = SendConnector(
            name=connector.name, fqdn=connector.fqdn
        )
    else:
        fqdn_only = ReceiveConnector(name=connector.name, fqdn=connector.fqdn)
    for certificate in context.selection(fqdn_only).fit:
        thumbprint = certificate.thumbprint or ""
        smtp = certificate.services is not None and Services.SMTP in certificate.services
        if smtp and certificate.has_private_key is True and len(thumbprint) == 40:
            return certificate
    return None


def certificates_for(context: Context, fqdn: str) -> list[ExchangeCertificate]:
    """Return the certificates whose domains or subject common name match the FQDN."""
    found = []
    for certificate in context.certificates:
        names = list(certificate.certificate_domains or ())
        if certificate.subject and certificate.subject.upper().startswith("CN="):
            names.append(certificate.subject[3:].split(",", 1)[0].strip())
        if any(names_match(name, fqdn) is not None for name in names):
            found.append(certificate)
    return found


def same_name(first: TlsCertificateName | None, second: TlsCertificateName) -> bool:
    """Whether two TlsCertificateName values name the same issuer and subject."""
    return (
        first is not None
        and first.issuer is not None
        and first.issuer == second.issuer
        and first.subject == second.subject
    )


def certificates_named(context: Context, name: TlsCertificateName) -> list[ExchangeCertificate]:
    """Return the certificates of the store that a TlsCertificateName matches."""
    return [certificate for certificate in context.certificates if name.matches(certificate)]


def replacement_for(context: Context, name: TlsCertificateName) -> ExchangeCertificate | None:
    """Return the certificate a stale name most likely meant: same subject, SMTP, latest."""
    if name.subject is None:
        return None
    subject = name.subject.text.casefold().replace(" ", "")
    same = [
        c
        for c in context.certificates
        if c.subject is not None
        and c.issuer is not None
        and c.subject.casefold().replace(" ", "") == subject
        and (c.services is None or Services.SMTP in c.services)
    ]
    return max(same, key=lambda c: (c.not_after is not None, c.not_after), default=None)
