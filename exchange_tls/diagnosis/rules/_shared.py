"""What several rule families share: signatures and the citing of Schannel events.

The facts they share (Exchange Online, the proof in the log, the Schannel failures) are
in :mod:`exchange_tls.diagnosis.facts`.
"""

from __future__ import annotations

from exchange_tls.diagnosis.catalogue import Signature
from exchange_tls.diagnosis.cite import shorten
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.events.models import EventRecord, alert_name

__all__ = ["TENANT_ATTRIBUTION", "TIMEOUT", "event_ref", "schannel_claim"]

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


#: Exchange Online could not tie the message to the organisation: on a hybrid path, the
#: on-premises certificate does not match the inbound connector's TlsSenderCertificateName.
TENANT_ATTRIBUTION = Signature(
    groups=(("5.7.64",), ("tenantattribution",)),
    reading="Exchange Online could not attribute the message to the organisation (5.7.64 "
    "TenantAttribution): the certificate the on-premises connector presents does not match "
    "the inbound connector's TlsSenderCertificateName, or no connector covers the sender.",
    rank=2,
)


def event_ref(event: EventRecord, claim: str) -> EvidenceRef:
    """Cite an event: its place, provider, id and message (or data)."""
    text = event.message or " ".join(value for _, value in event.data or ())
    excerpt = f"{event.provider} {event.event_id}: {text}"
    return EvidenceRef(source=event.source, excerpt=shorten(excerpt), claim=claim)


def schannel_claim(event: EventRecord) -> str:
    """Say what a Schannel failure event records, in words."""
    if event.alert is not None:
        return (
            f"Schannel logged a fatal TLS alert {event.alert} "
            f"({alert_name(event.alert) or 'unknown'})"
        )
    assert event.meaning is not None  # noqa: S101 -- filtered by schannel_failures
    return f"Schannel logged event {event.event_id}: {event.meaning.gist}"
