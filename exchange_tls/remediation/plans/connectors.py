"""Plans for send connector settings: TlsAuthLevel and TlsDomain."""

from __future__ import annotations

from exchange_tls.connectors.models import SendConnector
from exchange_tls.remediation.commands import GetSendConnector, SetSendConnector
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = ["domain_validation_steps"]


def domain_validation_steps(
    connector: SendConnector, *, stray_domain: bool, to_exchange_online: bool
) -> list[RemediationStep]:
    """Check; clear a stray TlsDomain, or set Exchange Online's; verify.

    ``stray_domain``: a TlsDomain without DomainValidation (else DomainValidation lacks
    its TlsDomain); ``to_exchange_online``: the connector sends to Exchange Online, whose
    certificate name is known.
    """
    identity = connector.name or ""
    steps: list[RemediationStep] = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetSendConnector(
                identity=identity,
                properties=("RequireTLS", "TlsAuthLevel", "TlsDomain", "SmartHosts"),
            ),
        )
    ]
    if stray_domain:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetSendConnector(identity=identity, clear_tls_domain=True),
                note="Clears TlsDomain: usually right, since it does nothing without "
                "DomainValidation."
                + (
                    " To validate the remote domain instead, run Set-SendConnector with "
                    "-TlsAuthLevel DomainValidation and keep TlsDomain."
                    if connector.require_tls is True
                    else " TlsAuthLevel cannot be set here: RequireTLS is not $true."
                ),
            )
        )
    elif to_exchange_online:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetSendConnector(
                    identity=identity, tls_domain="mail.protection.outlook.com"
                ),
                note="Exchange Online's certificate is issued for "
                "mail.protection.outlook.com; TlsAuthLevel is already DomainValidation.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetSendConnector(identity=identity, properties=("TlsAuthLevel", "TlsDomain")),
            note="TlsDomain set only with DomainValidation.",
        )
    )
    return steps
