"""The internal transport certificate's events: Exchange servers authenticating each other.

Exchange authenticates to its other servers with the internal transport certificate (the
self-signed one made at setup, "configured for authentication with other Exchange
servers"). Its events (MSExchangeTransport 12012, 12013, 12015, 12017, 12022, 12023,
12024) are read by their id, and by their text as well: public reports quote the same
text under neighbouring ids (:func:`~exchange_tls.events.models.meaning_of_text`). The
fixes are Microsoft's own words in the event text (12013): run
``Enable-ExchangeCertificate <thumbprint> -Services SMTP`` if the certificate is still in
the personal store, else restore it (``Import-ExchangeCertificate``) or create one
(``New-ExchangeCertificate -DomainName <server FQDN> -Services SMTP``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exchange_tls.certificates.models import Services
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import plural
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, Finding
from exchange_tls.diagnosis.rules._shared import event_ref
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.events.models import INTERNAL_TRANSPORT_EVENTS, EventRecord, Family
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    NewExchangeCertificate,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__: list[str] = []

EVENT_12013 = "https://technet.microsoft.com/library/ff985435(v=exchg.141)"
EVENT_12012 = "https://technet.microsoft.com/library/ff984391(v=exchg.141)"
_THUMBPRINT = re.compile(r"thumbprint(?: of)?:?\s*([0-9A-Fa-f]{40})")
#: Events that say Exchange is working around the failure (a fallback certificate).
_FALLBACK = frozenset({12017, 12023, 12024})


def _thumbprints(event: EventRecord) -> list[str]:
    text = " ".join([event.message or "", *(value for _, value in event.data or ())])
    return [found.upper() for found in _THUMBPRINT.findall(text)]


@rule(
    "internal-transport-certificate-event",
    title="Exchange cannot load its internal transport certificate",
    severity=Severity.ERROR,
    failure_mode="F16",
    meaning="An MSExchangeTransport event says the certificate configured for authentication "
    "with other Exchange servers (the internal transport certificate) cannot be loaded from "
    "the personal store, is missing or corrupt in Active Directory, or has expired (12012, "
    "12013, 12015, 12022; 12023 and 12024 when Exchange falls back to a certificate for the "
    "server's FQDN or an ephemeral self-signed one). Mail flow to other Exchange servers may "
    "fail. Matched by the id and by the text, which public reports give under other ids.",
    needs=("an MSExchangeTransport event about the internal transport certificate",),
    remedy="If the certificate with the event's thumbprint is still in the personal store: "
    "Enable-ExchangeCertificate <thumbprint> -Services SMTP. Otherwise restore it with "
    "Import-ExchangeCertificate, or create one: New-ExchangeCertificate -DomainName <server "
    "FQDN> -Services SMTP (Microsoft's text of event 12013).",
    references=(EVENT_12013, EVENT_12012),
    signatures=(
        Signature(
            groups=(("configured for authentication with other exchange servers",),),
            reading="The internal transport certificate (Exchange-to-Exchange "
            "authentication) cannot be loaded.",
            rank=1,
        ),
    ),
    selection="The thumbprint the event names, looked up in the certificate list.",
    contradiction="None: the event is Exchange's own record.",
    inputs=("events",),
    side=FaultSide.LOCAL,
)
def internal_transport_certificate_event(context: Context, report: Report) -> Iterator[Finding]:
    """Report the internal transport certificate's events, one finding per thumbprint."""
    groups: dict[str, list[EventRecord]] = {}
    for event in context.evidence.events:
        meaning = event.meaning
        if meaning is None or meaning.family is not Family.TRANSPORT:
            continue
        if meaning.event_id not in INTERNAL_TRANSPORT_EVENTS:
            continue
        named = _thumbprints(event)
        groups.setdefault(named[0] if named else "", []).append(event)
    for thumbprint, events in sorted(groups.items()):
        events.sort(key=lambda e: (e.time is None, e.time, str(e.source)))
        ids = sorted({e.event_id for e in events if e.event_id is not None})
        meaning = events[-1].meaning
        assert meaning is not None  # noqa: S101 -- selected for its meaning
        known = next((c for c in context.certificates if c.thumbprint == thumbprint), None)
        steps: list[RemediationStep] = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    properties=("Thumbprint", "Services", "Subject", "NotAfter", "IsSelfSigned")
                ),
                note="Is the certificate the event names still in the personal store?",
            )
        ]
        in_store = known is not None or not context.certificates
        expired = (
            known is not None
            and known.not_after is not None
            and context.now is not None
            and known.not_after <= context.now
        )
        if thumbprint and in_store and not expired:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(
                        thumbprint=thumbprint, services=Services.SMTP
                    ),
                    note="When the certificate is still in the store (Microsoft's fix in the "
                    "event's text); answer N to the prompt to replace the default SMTP "
                    "certificate unless it is this one.",
                )
            )
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=NewExchangeCertificate(
                    domain_names=(context.evidence.server_fqdn or "server.contoso.local",)
                ),
                note="When it is gone (or expired) and no backup can be imported "
                "(Import-ExchangeCertificate): a new self-signed certificate for the server.",
            )
        )
        fallback = all(e.event_id in _FALLBACK for e in events)
        state = (
            f" ({'in' if known is not None else 'not in'} the certificate list)"
            if thumbprint and context.certificates
            else ""
        )
        yield report(
            summary=(
                f"{plural(len(events), 'MSExchangeTransport event')} ({', '.join(map(str, ids))}): "
                f"{meaning.gist}"
                + (f"; the certificate named is {thumbprint}{state}" if thumbprint else "")
                + ". Mail flow to other Exchange servers can fail."
            ),
            evidence=tuple(
                event_ref(e, "the internal transport certificate cannot be used")
                for e in events[:3]
            ),
            confidence=Confidence.HIGH if thumbprint else Confidence.MEDIUM,
            remediation=tuple(steps),
            severity=Severity.WARNING if fallback else None,
            because="Exchange uses a fallback certificate meanwhile" if fallback else None,
            subject=thumbprint or "internal transport certificate",
        )
