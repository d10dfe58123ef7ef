"""Remediation commands as data, rendered to PowerShell that does what it says.

A command object holds a cmdlet and typed, validated parameters. :meth:`Command.render`
writes it with every value from the evidence as a single-quoted literal
(:func:`~exchange_tls.remediation.quoting.quote`), lists (services, property names) as
comma-separated literals, switches as switches, booleans as ``-Name:$true``, and single
enum values (levels) as the bare names they are. Values
are checked when the object is made: a thumbprint is 40 hex digits, services come from
:class:`~exchange_tls.Services`, ``-TlsDomain`` goes only with ``DomainValidation``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from exchange_tls.certificates.models import Services
from exchange_tls.remediation.quoting import quote

__all__ = [
    "Command",
    "EnableExchangeCertificate",
    "EnsureRegistryKey",
    "GetExchangeCertificate",
    "GetItemProperty",
    "GetQueue",
    "GetReceiveConnector",
    "GetSendConnector",
    "ImportExchangeCertificate",
    "NewExchangeCertificate",
    "RemoveExchangeCertificate",
    "RenewExchangeCertificate",
    "RestartService",
    "RetryQueue",
    "SetItemProperty",
    "SetReceiveConnector",
    "SetSendConnector",
    "TestNetConnection",
]

_THUMBPRINT = re.compile(r"[0-9A-F]{40}")
_PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_TLS_AUTH_LEVELS = ("EncryptionOnly", "CertificateValidation", "DomainValidation")
_LOGGING_LEVELS = ("None", "Verbose")


def _thumbprint(value: str) -> str:
    upper = value.strip().upper()
    if not _THUMBPRINT.fullmatch(upper):
        raise ValueError(f"a thumbprint is 40 hex digits, not {value!r}")
    return upper


def _optional_thumbprint(value: str | None) -> str | None:
    return None if value is None else _thumbprint(value)


def _services(value: Services | str | int) -> Services:
    services = value if isinstance(value, Services) else Services.parse(value)
    if services == Services.NONE:
        raise ValueError("enabling no service does nothing")
    return services


def _properties(value: Iterable[str]) -> tuple[str, ...]:
    names = tuple(value)
    for name in names:
        if not _PROPERTY.fullmatch(name):
            raise ValueError(f"not a property name: {name!r}")
    return names


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None and value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}, not {value!r}")

    return check


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _no_federation(instance: object, attribute: attrs.Attribute[Any], value: Services) -> None:
    if Services.FEDERATION in value:
        raise ValueError("Federation is set with the federation trust cmdlets, never here")


# A rendered argument: ("name", "text") for -Name text, ("name", None) for a switch.
Argument = tuple[str, str | None]


@attrs.frozen(kw_only=True)
class Command:
    """A PowerShell command: a cmdlet and its arguments."""

    cmdlet: ClassVar[str] = ""
    #: Whether running it changes the server (and so belongs in a fix step).
    changes_state: ClassVar[bool] = False
    #: Whether the cmdlet takes ``-WhatIf``.
    supports_what_if: ClassVar[bool] = False

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return []

    def pipeline(self) -> str:
        """Return what follows the command in a pipeline (``| Format-List …``)."""
        return ""

    def source(self) -> str:
        """Return what feeds the command through a pipeline (``Get-… |``), or nothing."""
        return ""

    def render(self, *, what_if: bool = False) -> str:
        """Return the command as PowerShell; ``what_if`` adds ``-WhatIf`` where it can."""
        parts = [self.source() + self.cmdlet]
        for name, value in self.arguments():
            parts.append(f"-{name}" if value is None else f"-{name} {value}")
        if what_if and self.changes_state and self.supports_what_if:
            parts.append("-WhatIf")
        return " ".join(parts) + self.pipeline()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description: cmdlet, parameters, whether it changes state."""
        parameters = {
            field.name: _plain(getattr(self, field.name)) for field in attrs.fields(type(self))
        }
        return {
            "cmdlet": self.cmdlet,
            "parameters": {key: value for key, value in parameters.items() if value is not None},
            "changes_state": self.changes_state,
            "powershell": self.render(),
        }

    def __str__(self) -> str:
        return self.render()


def _plain(value: object) -> object:
    if isinstance(value, Services):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _list(values: Iterable[str]) -> str:
    # 'A','B' rather than the bareword A,B: the same string array to PowerShell, and
    # every parser (tree-sitter's among them) sees one literal per value.
    return ",".join(quote(value) for value in values)


def _format_list(names: tuple[str, ...]) -> str:
    """Pipe to ``Format-List`` of these properties, or to nothing when none are named."""
    return f" | Format-List {_list(names)}" if names else ""


def _service_list(services: Services) -> str:
    return _list(name.strip() for name in str(services).split(","))


@attrs.frozen(kw_only=True)
class GetExchangeCertificate(Command):
    """``Get-ExchangeCertificate``, optionally piped to ``Format-List`` of some properties.

    >>> print(GetExchangeCertificate(
    ...     thumbprint="054fb2800ce2e07a56de07920d3c9847d3058ce1", properties=("Services",)
    ... ).pipeline())
     | Format-List 'Services'
    """

    cmdlet: ClassVar[str] = "Get-ExchangeCertificate"
    thumbprint: str | None = attrs.field(default=None, converter=_optional_thumbprint)
    domain_name: str | None = None
    server: str | None = None
    properties: tuple[str, ...] = attrs.field(default=(), converter=_properties)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = []
        if self.thumbprint:
            arguments.append(("Thumbprint", quote(self.thumbprint)))
        if self.domain_name:
            arguments.append(("DomainName", quote(self.domain_name)))
        if self.server:
            arguments.append(("Server", quote(self.server)))
        return arguments

    def pipeline(self) -> str:
        """Return the ``Format-List`` of the requested properties."""
        return _format_list(self.properties)


@attrs.frozen(kw_only=True)
class EnableExchangeCertificate(Command):
    """``Enable-ExchangeCertificate``: add services to a certificate (never ``-Force``).

    ``-Services`` adds to what the certificate has, so the rules name only the service
    that is missing: repeating ``IIS`` would turn "Require SSL" back on, and
    ``Federation`` must never be set with this cmdlet (its reference says so), so
    ``Federation`` is refused here. ``-Force`` is never written: it would answer Yes to
    replacing the default SMTP certificate.

    >>> command = EnableExchangeCertificate(
    ...     thumbprint="054FB2800CE2E07A56DE07920D3C9847D3058CE1", services="SMTP"
    ... )
    >>> for part in command.render().split(" -"):
    ...     print(part)
    Enable-ExchangeCertificate
    Thumbprint '054FB2800CE2E07A56DE07920D3C9847D3058CE1'
    Services 'SMTP'
    """

    cmdlet: ClassVar[str] = "Enable-ExchangeCertificate"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    thumbprint: str = attrs.field(converter=_thumbprint)
    services: Services = attrs.field(converter=_services, validator=_no_federation)
    server: str | None = None
    network_service_allowed: bool = False

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = [
            ("Thumbprint", quote(self.thumbprint)),
            ("Services", _service_list(self.services)),
        ]
        if self.server:
            arguments.append(("Server", quote(self.server)))
        if self.network_service_allowed:
            arguments.append(("NetworkServiceAllowed", None))
        return arguments


@attrs.frozen(kw_only=True)
class ImportExchangeCertificate(Command):
    """``Import-ExchangeCertificate`` of a PFX file; the password is asked for."""

    cmdlet: ClassVar[str] = "Import-ExchangeCertificate"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    file_path: str
    server: str | None = None

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = [
            ("FileData", f"([System.IO.File]::ReadAllBytes({quote(self.file_path)}))"),
            ("Password", "(Read-Host -AsSecureString -Prompt 'PFX password')"),
        ]
        if self.server:
            arguments.append(("Server", quote(self.server)))
        return arguments


@attrs.frozen(kw_only=True)
class NewExchangeCertificate(Command):
    """``New-ExchangeCertificate``: a new self-signed certificate for SMTP."""

    cmdlet: ClassVar[str] = "New-ExchangeCertificate"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    domain_names: tuple[str, ...] = attrs.field(converter=_strings)
    services: Services = attrs.field(default=Services.SMTP, converter=_services)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [
            ("DomainName", _list(self.domain_names)),
            ("Services", _service_list(self.services)),
        ]


def _tls_domain_needs_domain_validation(
    instance: SetSendConnector, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    if value is not None and instance.tls_auth_level not in (None, "DomainValidation"):
        raise ValueError("-TlsDomain goes only with -TlsAuthLevel DomainValidation")


def _cleared_or_set(
    instance: SetSendConnector, attribute: attrs.Attribute[Any], value: bool
) -> None:
    if value and instance.tls_domain is not None:
        raise ValueError("TlsDomain is either set or cleared, not both")


@attrs.frozen(kw_only=True)
class SetSendConnector(Command):
    """``Set-SendConnector`` with the TLS-related parameters.

    >>> print(SetSendConnector(identity="Outbound to Office 365", protocol_logging_level="Verbose"))
    Set-SendConnector -Identity 'Outbound to Office 365' -ProtocolLoggingLevel Verbose
    """

    cmdlet: ClassVar[str] = "Set-SendConnector"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    identity: str
    protocol_logging_level: str | None = attrs.field(
        default=None, validator=_one_of(_LOGGING_LEVELS)
    )
    #: A TlsCertificateName value, or a PowerShell expression built from a certificate.
    tls_certificate_name: str | None = None
    #: Build TlsCertificateName from the certificate with this thumbprint on the server.
    tls_certificate_from_thumbprint: str | None = attrs.field(
        default=None, converter=_optional_thumbprint
    )
    fqdn: str | None = None
    require_tls: bool | None = None
    ignore_starttls: bool | None = None
    tls_auth_level: str | None = attrs.field(default=None, validator=_one_of(_TLS_AUTH_LEVELS))
    tls_domain: str | None = attrs.field(
        default=None, validator=_tls_domain_needs_domain_validation
    )
    #: Clear TlsDomain (``-TlsDomain $null``).
    clear_tls_domain: bool = attrs.field(default=False, validator=_cleared_or_set)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = [("Identity", quote(self.identity))]
        if self.protocol_logging_level:
            arguments.append(("ProtocolLoggingLevel", self.protocol_logging_level))
        if self.tls_certificate_name is not None:
            arguments.append(("TlsCertificateName", quote(self.tls_certificate_name)))
        if self.tls_certificate_from_thumbprint:
            thumbprint = quote(self.tls_certificate_from_thumbprint)
            certificate = f"(Get-ExchangeCertificate -Thumbprint {thumbprint})"
            arguments.append(
                ("TlsCertificateName", f'"<I>$({certificate}.Issuer)<S>$({certificate}.Subject)"')
            )
        if self.fqdn is not None:
            arguments.append(("Fqdn", quote(self.fqdn)))
        if self.require_tls is not None:
            arguments.append(("RequireTLS", f"${str(self.require_tls).lower()}"))
        if self.ignore_starttls is not None:
            arguments.append(("IgnoreSTARTTLS", f"${str(self.ignore_starttls).lower()}"))
        if self.tls_auth_level:
            arguments.append(("TlsAuthLevel", self.tls_auth_level))
        if self.tls_domain is not None:
            arguments.append(("TlsDomain", quote(self.tls_domain)))
        if self.clear_tls_domain:
            arguments.append(("TlsDomain", "$null"))
        return arguments


@attrs.frozen(kw_only=True)
class _GetConnector(Command):
    """A connector's ``Get-*Connector`` of one identity, as a list of some properties."""

    identity: str
    properties: tuple[str, ...] = attrs.field(default=(), converter=_properties)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("Identity", quote(self.identity))]

    def pipeline(self) -> str:
        """Return the ``Format-List`` of the requested properties."""
        return _format_list(self.properties)


@attrs.frozen(kw_only=True)
class GetSendConnector(_GetConnector):
    """``Get-SendConnector`` of one connector, as a list of some properties.

    >>> print(GetSendConnector(identity="Out", properties=("TlsDomain",)))
    Get-SendConnector -Identity 'Out' | Format-List 'TlsDomain'
    """

    cmdlet: ClassVar[str] = "Get-SendConnector"


@attrs.frozen(kw_only=True)
class GetReceiveConnector(_GetConnector):
    r"""``Get-ReceiveConnector`` of one connector, as a list of some properties.

    >>> print(GetReceiveConnector(identity="EX01\\Default Frontend EX01", properties=("Fqdn",)))
    Get-ReceiveConnector -Identity 'EX01\Default Frontend EX01' | Format-List 'Fqdn'
    """

    cmdlet: ClassVar[str] = "Get-ReceiveConnector"


@attrs.frozen(kw_only=True)
class RemoveExchangeCertificate(Command):
    """``Remove-ExchangeCertificate`` of one certificate; it asks for confirmation."""

    cmdlet: ClassVar[str] = "Remove-ExchangeCertificate"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    thumbprint: str = attrs.field(converter=_thumbprint)
    server: str | None = None

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = [("Thumbprint", quote(self.thumbprint))]
        if self.server:
            arguments.append(("Server", quote(self.server)))
        return arguments


@attrs.frozen(kw_only=True)
class RenewExchangeCertificate(Command):
    r"""Renew a certificate: ``Get-ExchangeCertificate -Thumbprint … | New-ExchangeCertificate``.

    With ``request_file``, a renewal request for a CA (``-GenerateRequest
    -RequestFile``); without, a renewed self-signed certificate. ``-Force`` is never
    written: on a self-signed SMTP certificate it would replace the default SMTP
    certificate without asking.

    >>> command = RenewExchangeCertificate(
    ...     thumbprint="054FB2800CE2E07A56DE07920D3C9847D3058CE1",
    ...     request_file="C:\\Certificates\\renewal.req",
    ... )
    >>> for part in command.render().split(" | "):
    ...     print(part)
    Get-ExchangeCertificate -Thumbprint '054FB2800CE2E07A56DE07920D3C9847D3058CE1'
    New-ExchangeCertificate -GenerateRequest -RequestFile 'C:\Certificates\renewal.req'
    """

    cmdlet: ClassVar[str] = "New-ExchangeCertificate"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    thumbprint: str = attrs.field(converter=_thumbprint)
    request_file: str | None = None

    def source(self) -> str:
        """Return the certificate being renewed, piped in."""
        return f"Get-ExchangeCertificate -Thumbprint {quote(self.thumbprint)} | "

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        if self.request_file is None:
            return [("PrivateKeyExportable", "$true")]
        return [("GenerateRequest", None), ("RequestFile", quote(self.request_file))]


@attrs.frozen(kw_only=True)
class EnsureRegistryKey(Command):
    r"""Create a registry key only when it is missing.

    ``New-Item -Force`` on a key that exists deletes it with its values and subkeys and
    makes an empty one, so the key is tested first; ``-Force`` then only creates the
    missing parent keys.

    >>> for part in EnsureRegistryKey(path="HKLM:\\SOFTWARE\\Contoso").render().split(" { "):
    ...     print(part)
    if (-not (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Contoso'))
    New-Item -Path 'HKLM:\SOFTWARE\Contoso' -Force | Out-Null }
    """

    cmdlet: ClassVar[str] = "New-Item"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    path: str

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments of ``New-Item``."""
        return [("Path", quote(self.path)), ("Force", None)]

    def render(self, *, what_if: bool = False) -> str:
        """Return the guarded ``New-Item``; ``what_if`` adds ``-WhatIf`` to it."""
        new_item = " ".join(
            [
                "New-Item",
                *(
                    f"-{name}" if value is None else f"-{name} {value}"
                    for name, value in self.arguments()
                ),
            ]
        )
        if what_if:
            new_item += " -WhatIf"
        literal = quote(self.path)
        return f"if (-not (Test-Path -LiteralPath {literal})) {{ {new_item} | Out-Null }}"


@attrs.frozen(kw_only=True)
class GetItemProperty(Command):
    """``Get-ItemProperty`` of a registry key, as a list of some values (a verify step)."""

    cmdlet: ClassVar[str] = "Get-ItemProperty"
    path: str
    names: tuple[str, ...] = attrs.field(default=(), converter=_properties)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("Path", quote(self.path))]

    def pipeline(self) -> str:
        """Return the ``Format-List`` of the values to read."""
        return _format_list(self.names)


@attrs.frozen(kw_only=True)
class SetReceiveConnector(Command):
    """``Set-ReceiveConnector`` with ``-TlsCertificateName`` or ``-Fqdn``."""

    cmdlet: ClassVar[str] = "Set-ReceiveConnector"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    identity: str
    tls_certificate_name: str | None = None
    fqdn: str | None = None
    protocol_logging_level: str | None = attrs.field(
        default=None, validator=_one_of(_LOGGING_LEVELS)
    )

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        arguments: list[Argument] = [("Identity", quote(self.identity))]
        if self.tls_certificate_name is not None:
            arguments.append(("TlsCertificateName", quote(self.tls_certificate_name)))
        if self.fqdn is not None:
            arguments.append(("Fqdn", quote(self.fqdn)))
        if self.protocol_logging_level:
            arguments.append(("ProtocolLoggingLevel", self.protocol_logging_level))
        return arguments


@attrs.frozen(kw_only=True)
class GetQueue(Command):
    """``Get-Queue`` of one queue, or of those matching a filter, as a list."""

    cmdlet: ClassVar[str] = "Get-Queue"
    identity: str | None = None
    filter: str | None = None

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        if self.identity:
            return [("Identity", quote(self.identity))]
        if self.filter:
            return [("Filter", quote(self.filter))]
        return []

    def pipeline(self) -> str:
        """Return the ``Format-List`` of the queue properties that matter here."""
        return " | Format-List " + _list(
            ("Identity", "Status", "MessageCount", "NextHopDomain", "LastError")
        )


@attrs.frozen(kw_only=True)
class RetryQueue(Command):
    """``Retry-Queue``: try a queue (or the queues matching a filter) again now."""

    cmdlet: ClassVar[str] = "Retry-Queue"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    identity: str | None = None
    filter: str | None = "Status -eq 'Retry'"

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        if self.identity:
            return [("Identity", quote(self.identity))]
        return [("Filter", quote(self.filter or ""))]


@attrs.frozen(kw_only=True)
class TestNetConnection(Command):
    """``Test-NetConnection`` to a host's SMTP port."""

    cmdlet: ClassVar[str] = "Test-NetConnection"
    # Its name starts with "Test": keep pytest from collecting it in users' test modules.
    __test__: ClassVar[bool] = False
    computer_name: str
    port: int = attrs.field(
        default=25, validator=[attrs.validators.ge(1), attrs.validators.le(65535)]
    )

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("ComputerName", quote(self.computer_name)), ("Port", str(self.port))]


@attrs.frozen(kw_only=True)
class SetItemProperty(Command):
    """``Set-ItemProperty`` of a DWORD registry value (the TLS 1.2 settings)."""

    cmdlet: ClassVar[str] = "Set-ItemProperty"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    path: str
    name: str
    value: int = attrs.field(validator=[attrs.validators.ge(0), attrs.validators.le(0xFFFFFFFF)])

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [
            ("Path", quote(self.path)),
            ("Name", quote(self.name)),
            ("Value", str(self.value)),
            ("Type", "DWord"),
        ]


@attrs.frozen(kw_only=True)
class RestartService(Command):
    """``Restart-Service`` (the transport service after a certificate change)."""

    cmdlet: ClassVar[str] = "Restart-Service"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    name: str = "MSExchangeTransport"

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("Name", quote(self.name))]


@attrs.frozen(kw_only=True)
class RestartComputer(Command):
    """``Restart-Computer``: Schannel and .NET read their TLS settings at start."""

    cmdlet: ClassVar[str] = "Restart-Computer"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True


@attrs.frozen(kw_only=True)
class SetHybridConfiguration(Command):
    """``Set-HybridConfiguration -TlsCertificateName '<I>issuer<S>subject'``."""

    cmdlet: ClassVar[str] = "Set-HybridConfiguration"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    tls_certificate_name: str

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("TlsCertificateName", quote(self.tls_certificate_name))]
