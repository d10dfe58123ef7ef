"""What several rule families share: signatures, Exchange Online, the proof, Schannel."""

from __future__ import annotations

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.catalogue import Signature
from exchange_tls.diagnosis.cite import shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.events.models import EventRecord, Family, alert_name
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.tls_settings.models import Side

__all__ = [
    "EXO_SUFFIX",
    "PROTOCOL_ALERTS",
    "SCHANNEL_FAILURES",
    "TENANT_ATTRIBUTION",
    "TIMEOUT",
    "event_ref",
    "event_side",
    "proven_by_log",
    "schannel_claim",
    "schannel_failures",
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


# Schannel events that say a handshake failed on protocol or cipher grounds.
SCHANNEL_FAILURES = (36871, 36874, 36887, 36888)
PROTOCOL_ALERTS = (40, 70, 71)


def event_ref(event: EventRecord, claim: str) -> EvidenceRef:
    """Cite an event: its place, provider, id and message (or data)."""
    text = event.message or " ".join(value for _, value in event.data or ())
    excerpt = f"{event.provider} {event.event_id}: {text}"
    return EvidenceRef(source=event.source, excerpt=shorten(excerpt), claim=claim)


def schannel_failures(context: Context) -> list[EventRecord]:
    """Return the Schannel events of a failed handshake (protocol alerts only), by time."""
    failures = []
    for event in context.evidence.events:
        meaning = event.meaning
        if meaning is None or meaning.family is not Family.SCHANNEL:
            continue
        if event.event_id not in SCHANNEL_FAILURES:
            continue
        if event.event_id in (36887, 36888) and event.alert not in PROTOCOL_ALERTS:
            continue
        failures.append(event)
    return sorted(failures, key=lambda e: (e.time is None, e.time, str(e.source)))


def event_side(event: EventRecord) -> Side | None:
    """Return the side a Schannel credential event (36871) names, where it names one."""
    kind = (event.datum("Type") or "").casefold()
    message = (event.message or "").casefold()
    if kind == "client" or "tls client credential" in message:
        return Side.CLIENT
    if kind == "server" or "tls server credential" in message:
        return Side.SERVER
    return None


def schannel_claim(event: EventRecord) -> str:
    """Say what a Schannel failure event records, in words."""
    if event.alert is not None:
        return (
            f"Schannel logged a fatal TLS alert {event.alert} "
            f"({alert_name(event.alert) or 'unknown'})"
        )
    assert event.meaning is not None  # noqa: S101 -- filtered by schannel_failures
    return f"Schannel logged event {event.event_id}: {event.meaning.gist}"
