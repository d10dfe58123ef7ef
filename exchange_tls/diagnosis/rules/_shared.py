"""What several rule families share: error signatures, Exchange Online, the log's proof."""

from __future__ import annotations

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.catalogue import Signature
from exchange_tls.diagnosis.context import Context
from exchange_tls.protocol_log.models import SmtpSession

__all__ = [
    "EXO_SUFFIX",
    "TENANT_ATTRIBUTION",
    "TIMEOUT",
    "proven_by_log",
    "to_exchange_online",
]

#: The smart host suffix of Exchange Online's MX endpoints.
EXO_SUFFIX = ".mail.protection.outlook.com"

#: A queue's timeout: Exchange reports a TLS handshake it broke off itself in the same
#: words as a firewall (KB 4051498), and ``421 4.2.1 Unable to connect`` hides
#: NoCredentials and UnknownCredentials failures in published cases the same way.
TIMEOUT = Signature(
    groups=(("connection timed out",), ("unable to connect",)),
    reading="A timeout as the queue sees it. Exchange reports a TLS handshake it broke "
    "off itself in the same words (KB 4051498), so this is not proof of a network "
    "problem: the send protocol log tells.",
    rank=2,
)


def to_exchange_online(connector: SendConnector) -> bool:
    """Whether the connector sends to Exchange Online (hybrid or a smart host there)."""
    return bool(connector.cloud_services_mail_enabled) or any(
        host.strip().casefold().endswith(EXO_SUFFIX) for host in connector.smart_hosts or ()
    )


def proven_by_log(context: Context, certificate: ExchangeCertificate) -> SmtpSession | None:
    """Return the last session whose TLS succeeded presenting this certificate, if any."""
    if not certificate.thumbprint:
        return None
    wanted = certificate.thumbprint.upper()

    def find() -> SmtpSession | None:
        found = None
        for session in context.sessions:
            tls = session.tls
            if tls is None or tls.succeeded is not True or tls.local_certificate is None:
                continue
            if (tls.local_certificate.thumbprint or "").upper() == wanted:
                found = session
        return found

    return context.memo(f"proven:{wanted}", find)


#: Exchange Online could not tie the message to the organisation: on a hybrid path, the
#: on-premises certificate does not match the inbound connector's TlsSenderCertificateName.
TENANT_ATTRIBUTION = Signature(
    groups=(("5.7.64",), ("tenantattribution",)),
    reading="Exchange Online could not attribute the message to the organisation (5.7.64 "
    "TenantAttribution): the certificate the on-premises connector presents does not match "
    "the inbound connector's TlsSenderCertificateName, or no connector covers the sender.",
    rank=2,
)
