"""Plans for certificates: enable for SMTP, re-import with the key, renew, replace."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    GetQueue,
    GetSendConnector,
    ImportExchangeCertificate,
    NewExchangeCertificate,
    RemoveExchangeCertificate,
    RenewExchangeCertificate,
    RetryQueue,
    SetReceiveConnector,
    SetSendConnector,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = [
    "PROMPT_NOTE",
    "enable_smtp_steps",
    "grant_key_access_steps",
    "inspect_certificate",
    "new_certificate_steps",
    "reimport_with_key_steps",
    "renewal_steps",
    "retry_and_verify",
    "self_signed_steps",
    "status_steps",
    "valid_thumbprint",
]

_INSPECT = ("Thumbprint", "Services", "HasPrivateKey", "Status", "NotAfter", "Subject")
PROMPT_NOTE = (
    'Enabling SMTP asks "Overwrite the existing default SMTP certificate?". Answer N: '
    "the default SMTP certificate is the internal transport certificate, and replacing it "
    "can break mail flow between Exchange servers and EdgeSync. -Force would answer Yes, "
    "so it is not used. -Services adds to the services the certificate has, so SMTP alone "
    "is named: repeating IIS would turn 'Require SSL' back on."
)


def valid_thumbprint(value: str | None) -> str | None:
    """Return the thumbprint upper-cased when it is 40 hex digits, else ``None``."""
    if value and len(value) == 40 and all(c in "0123456789ABCDEF" for c in value.upper()):
        return value.upper()
    return None


@overload
def inspect_certificate(thumbprint: str) -> RemediationStep: ...
@overload
def inspect_certificate(thumbprint: str | None) -> RemediationStep | None: ...
def inspect_certificate(thumbprint: str | None) -> RemediationStep | None:
    """Check: the certificate's services, key, status and dates."""
    if thumbprint is None:
        return None
    return RemediationStep(
        purpose=Purpose.CHECK,
        command=GetExchangeCertificate(thumbprint=thumbprint, properties=_INSPECT),
        note="Services should include SMTP and HasPrivateKey should be True.",
    )


def retry_and_verify(queues: Sequence[str | None]) -> list[RemediationStep]:
    """Retry the queues in Retry, then verify each failing queue (or all in Retry) drains."""
    steps = [
        RemediationStep(
            purpose=Purpose.FIX, command=RetryQueue(), note="Retry the queues waiting in Retry now."
        )
    ]
    steps.extend(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetQueue(identity=identity)
            if identity
            else GetQueue(filter="Status -eq 'Retry'"),
            note="The queue should drain; the send protocol log should show "
            "'TLS protocol … negotiation succeeded'.",
        )
        for identity in queues or [None]
    )
    return steps


def _ordered(steps: Iterable[RemediationStep | None]) -> tuple[RemediationStep, ...]:
    return tuple(sorted((step for step in steps if step is not None), key=lambda s: s.order))


def enable_smtp_steps(
    thumbprint: str | None, queues: Sequence[str | None]
) -> tuple[RemediationStep, ...]:
    """F1: enable the certificate for SMTP alone (answer N to the prompt); retry the queues."""
    steps: list[RemediationStep | None] = [inspect_certificate(thumbprint)]
    if thumbprint is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=EnableExchangeCertificate(thumbprint=thumbprint, services="SMTP"),
                note=PROMPT_NOTE,
            )
        )
    steps.extend(retry_and_verify(queues))
    return _ordered(steps)


def reimport_with_key_steps(
    thumbprint: str | None, queues: Sequence[str | None]
) -> tuple[RemediationStep, ...]:
    """F2: remove the keyless copy, import the PFX, enable it for SMTP; retry the queues."""
    steps: list[RemediationStep | None] = [inspect_certificate(thumbprint)]
    if thumbprint is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=RemoveExchangeCertificate(thumbprint=thumbprint),
                note="KB 4495258: remove the copy without its key first, then import the "
                "PFX; the command asks for confirmation.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.FIX,
            command=ImportExchangeCertificate(
                file_path="C:\\Certificates\\certificate-with-key.pfx"
            ),
            note="Replace the path with the PFX file that holds the certificate and its key.",
        )
    )
    if thumbprint is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=EnableExchangeCertificate(thumbprint=thumbprint, services="SMTP"),
                note=PROMPT_NOTE
                + " If the PFX holds a renewed certificate, use its thumbprint and set "
                "the connector's TlsCertificateName from it.",
            )
        )
    steps.extend(retry_and_verify(queues))
    return _ordered(steps)


def grant_key_access_steps(
    thumbprint: str, queues: Sequence[str | None]
) -> tuple[RemediationStep, ...]:
    """F3: let NETWORK SERVICE read the key (Enable-ExchangeCertificate); retry the queues."""
    return _ordered(
        [
            inspect_certificate(thumbprint),
            RemediationStep(
                purpose=Purpose.FIX,
                command=EnableExchangeCertificate(
                    thumbprint=thumbprint, services=Services.SMTP, network_service_allowed=True
                ),
                note=PROMPT_NOTE,
            ),
            *retry_and_verify(queues),
        ]
    )


def status_steps(certificate: ExchangeCertificate) -> tuple[RemediationStep, ...]:
    """Inspect the certificate, then verify its Status reads Valid."""
    thumbprint = valid_thumbprint(certificate.thumbprint)
    steps = [step for step in [inspect_certificate(thumbprint)] if step]
    if thumbprint is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.VERIFY,
                command=GetExchangeCertificate(
                    thumbprint=thumbprint, properties=("Thumbprint", "Status")
                ),
                note="Status should read Valid.",
            )
        )
    return tuple(steps)


def _first_name(certificate: ExchangeCertificate) -> str | None:
    names = [n for n in certificate.certificate_domains or () if not n.startswith("*")]
    if names:
        return names[0]
    subject = certificate.subject or ""
    if subject.upper().startswith("CN="):
        common = subject[3:].split(",", 1)[0].strip()
        return common if common and not common.startswith("*") else None
    return None


def renewal_steps(
    certificate: ExchangeCertificate,
    connectors: Sequence[SendConnector | ReceiveConnector],
) -> tuple[RemediationStep, ...]:
    """Renew, find and enable the new certificate, re-point the ``connectors`` naming it."""
    thumbprint = valid_thumbprint(certificate.thumbprint)
    if thumbprint is None:
        return ()
    steps: list[RemediationStep] = [inspect_certificate(thumbprint)]
    if certificate.is_self_signed:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=RenewExchangeCertificate(thumbprint=thumbprint),
                note="Renews the self-signed certificate with the same names. Answer N if "
                "asked to overwrite the default SMTP certificate unless this is it. Then "
                "enable the new thumbprint for SMTP.",
            )
        )
    else:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=RenewExchangeCertificate(
                    thumbprint=thumbprint, request_file="C:\\Certificates\\renewal.req"
                ),
                note="Writes a renewal request with the same names; send it to the CA, then "
                "complete it with Import-ExchangeCertificate -FileData on the CA's answer.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.FIX,
            command=GetExchangeCertificate(
                domain_name=_first_name(certificate) or "",
                properties=("Thumbprint", "NotAfter", "Services", "Issuer", "Subject"),
            )
            if _first_name(certificate)
            else GetExchangeCertificate(properties=("Thumbprint", "NotAfter", "Subject")),
            note="Find the new certificate's thumbprint; enable it with "
            "Enable-ExchangeCertificate -Thumbprint <new> -Services SMTP (answer N to the "
            "overwrite prompt).",
        )
    )
    for connector in connectors:
        note = (
            "TlsCertificateName names issuer and subject: set it again from the new "
            "certificate if either changed (replace the thumbprint with the new one)."
        )
        if isinstance(connector, SendConnector):
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "", tls_certificate_from_thumbprint=thumbprint
                    ),
                    note=note,
                )
            )
        elif connector.identity or connector.name:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetReceiveConnector(
                        identity=connector.identity or connector.name or "",
                        tls_certificate_name=f"<I>{certificate.issuer}<S>{certificate.subject}",
                    ),
                    note=note,
                )
            )
    steps.append(
        RemediationStep(
            purpose=Purpose.FIX,
            command=RemoveExchangeCertificate(thumbprint=thumbprint),
            note="Only once the new certificate is enabled and mail flows; it asks for "
            "confirmation.",
        )
    )
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetExchangeCertificate(
                properties=("Thumbprint", "Services", "NotAfter", "Status", "Subject")
            ),
            note="The new certificate should be Valid with SMTP; the send protocol log should "
            "show it in the 'Sending certificate' block.",
        )
    )
    return tuple(steps)


def self_signed_steps(
    connector: SendConnector, candidates: Iterable[ExchangeCertificate]
) -> list[RemediationStep]:
    """Check the CA-issued certificates; name a fit one of ``candidates``; read it back."""
    steps = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetExchangeCertificate(
                properties=("Thumbprint", "Subject", "Issuer", "IsSelfSigned", "Services")
            ),
            note="Look for a certificate from a public CA that carries the connector's FQDN.",
        )
    ]
    fit = next(
        (
            certificate
            for certificate in candidates
            if certificate.is_self_signed is False
            and valid_thumbprint(certificate.thumbprint)
            and certificate.services is not None
            and Services.SMTP in certificate.services
        ),
        None,
    )
    if fit is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetSendConnector(
                    identity=connector.name or "", tls_certificate_from_thumbprint=fit.thumbprint
                ),
                note="Names the CA-issued certificate that carries the connector's FQDN.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetSendConnector(
                identity=connector.name or "", properties=("Fqdn", "TlsCertificateName")
            ),
            note="Without a CA-issued certificate, request one (New-ExchangeCertificate "
            "-GenerateRequest), import it and enable it for SMTP first.",
        )
    )
    return steps


def new_certificate_steps(fqdn: str | None) -> list[RemediationStep]:
    """No fit certificate: say a new one is needed and how to get one."""
    name = fqdn or "mail.contoso.com"
    return [
        RemediationStep(
            purpose=Purpose.FIX,
            command=NewExchangeCertificate(domain_names=(name,)),
            note="No certificate in the store is fit to name (private key, valid, SMTP). "
            "This makes a self-signed one, enough for opportunistic TLS; for Exchange "
            "Online or partners that validate, request one from a CA instead "
            "(New-ExchangeCertificate -GenerateRequest), import and enable it for SMTP. "
            "Answer N to the overwrite prompt.",
        )
    ]
