"""Plans for the transport path: TLS 1.2, inbound STARTTLS, the network, the internal leg."""

from __future__ import annotations

from collections.abc import Iterable

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.connectors.models import SendConnector
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    EnsureRegistryKey,
    GetExchangeCertificate,
    GetItemProperty,
    GetQueue,
    GetReceiveConnector,
    NewExchangeCertificate,
    SetItemProperty,
    SetSendConnector,
    TestNetConnection,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = [
    "REBOOT_NOTE",
    "connection_steps",
    "enable_tls12_steps",
    "inbound_tls_steps",
    "internal_certificate_steps",
    "lacks_smtp",
    "queues_drain",
]

_SCHANNEL = (
    "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
)
_DOTNET = (
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v2.0.50727",
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v2.0.50727",
)
REBOOT_NOTE = (
    "Restart the server afterwards: Schannel and .NET read these values when they start, "
    "so nothing changes before the reboot."
)


def enable_tls12_steps() -> list[RemediationStep]:
    """Enable TLS 1.2 for Schannel and .NET: create missing keys, set values, reboot, verify.

    The values of "Exchange Server TLS configuration best practices": Schannel's TLS 1.2
    Client and Server keys get Enabled 1 and DisabledByDefault 0; the .NET v4.0.30319 and
    v2.0.50727 keys (and their Wow6432Node twins) get SystemDefaultTlsVersions 1 and
    SchUseStrongCrypto 1.
    """
    values: list[tuple[str, tuple[tuple[str, int], ...]]] = [
        (_SCHANNEL + side, (("Enabled", 1), ("DisabledByDefault", 0)))
        for side in ("Client", "Server")
    ]
    values.extend(
        (path, (("SystemDefaultTlsVersions", 1), ("SchUseStrongCrypto", 1))) for path in _DOTNET
    )
    steps: list[RemediationStep] = []
    for path, pairs in values:
        steps.append(RemediationStep(purpose=Purpose.FIX, command=EnsureRegistryKey(path=path)))
        steps.extend(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetItemProperty(path=path, name=name, value=value),
            )
            for name, value in pairs
        )
    last = steps[-1]
    steps[-1] = RemediationStep(purpose=last.purpose, command=last.command, note=REBOOT_NOTE)
    steps.extend(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetItemProperty(path=path, names=tuple(name for name, _ in pairs)),
            note="After the reboot: the values as set above; the send protocol log should "
            "show 'TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded'.",
        )
        for path, pairs in values
    )
    return steps


def queues_drain(when: str) -> RemediationStep:
    """Verify: the queues in Retry drain."""
    return RemediationStep(
        purpose=Purpose.VERIFY,
        command=GetQueue(filter="Status -eq 'Retry'"),
        note=f"The queues in Retry should drain {when}.",
    )


def lacks_smtp(certificate: ExchangeCertificate | None) -> bool:
    """Whether the certificate is known and its services lack SMTP."""
    return (
        certificate is not None
        and certificate.services is not None
        and Services.SMTP not in certificate.services
    )


def inbound_tls_steps(
    connector_id: str,
    certificate: ExchangeCertificate | None,
    error: str | None,
    *,
    tls12_seen: bool,
) -> list[RemediationStep]:
    """Check the receive connector and its certificate; enable SMTP or TLS 1.2; verify.

    ``tls12_seen``: a session shows this server negotiating TLS 1.2 or later, so its
    TLS 1.2 settings are not the cause of a SocketError.
    """
    steps: list[RemediationStep] = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetReceiveConnector(
                identity=connector_id, properties=("Identity", "Fqdn", "TlsCertificateName")
            ),
        )
    ]
    thumbprint = (certificate.thumbprint or "").upper() if certificate else ""
    if certificate is not None and len(thumbprint) == 40:
        steps.append(
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    thumbprint=thumbprint,
                    properties=(
                        "Thumbprint",
                        "Services",
                        "HasPrivateKey",
                        "Status",
                        "NotAfter",
                    ),
                ),
            )
        )
        if error in ("UnknownCredentials", "NoCredentials") and lacks_smtp(certificate):
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(thumbprint=thumbprint, services="SMTP"),
                    note="Answer N to the prompt to overwrite the default SMTP certificate.",
                )
            )
    if error in ("SocketError", "AlgorithmMismatch") and not tls12_seen:
        steps.extend(enable_tls12_steps())
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetReceiveConnector(
                identity=connector_id, properties=("Identity", "TlsCertificateName")
            ),
            note="Then the receive protocol log should show 'TLS protocol "
            "SP_PROT_TLS1_2_SERVER negotiation succeeded' for the same client.",
        )
    )
    return steps


def connection_steps(
    hosts: Iterable[str], unlogged: Iterable[SendConnector]
) -> list[RemediationStep]:
    """Test the path to each host; turn on logging for ``unlogged`` connectors; verify.

    ``unlogged``: connectors whose protocol log would tell a refused connection from a
    TLS credential failure (pass none when the network failure is proven).
    """
    steps = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=TestNetConnection(computer_name=host),
            note="TcpTestSucceeded should be True.",
        )
        for host in dict.fromkeys(hosts)
    ]
    steps.extend(
        RemediationStep(
            purpose=Purpose.FIX,
            command=SetSendConnector(
                identity=connector.name or "", protocol_logging_level="Verbose"
            ),
            note="The send protocol log tells a refused connection from a TLS credential "
            "failure (KB 4051498).",
        )
        for connector in unlogged
        if connector.logging_enabled is False and connector.name
    )
    steps.append(queues_drain("once the path is open"))
    return steps


def internal_certificate_steps(server_fqdn: str | None) -> tuple[RemediationStep, ...]:
    """Check the certificates; make a self-signed one for the server when none is valid."""
    return (
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetExchangeCertificate(
                properties=("Thumbprint", "Services", "Subject", "NotAfter", "Status")
            ),
        ),
        RemediationStep(
            purpose=Purpose.FIX,
            command=NewExchangeCertificate(domain_names=(server_fqdn or "server.contoso.local",)),
            note=(
                "Only when no valid self-signed certificate is enabled for SMTP; answer N "
                "to the overwrite prompt unless the old internal certificate is gone."
            ),
        ),
        queues_drain("once the servers authenticate each other"),
    )
