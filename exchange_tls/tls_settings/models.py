r"""Which TLS versions the server's registry enables, client and server side.

Windows reads ``HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\
<version>\Client|Server``: ``Enabled`` (0 turns the version off) and ``DisabledByDefault``
(1 keeps it out of the versions offered unless an application asks for it by name). A
value that is absent means the operating system's default. Exchange's .NET code follows
the Schannel defaults only when ``SystemDefaultTlsVersions`` is 1 under
``SOFTWARE\[Wow6432Node\]Microsoft\.NETFramework\v4.0.30319`` (and ``v2.0.50727``), and
``SchUseStrongCrypto`` 1 keeps it off weak protocols and ciphers.

The defaults follow Microsoft's HealthChecker (CSS-Exchange
``Shared/TLS/Get-AllTlsSettingsFromRegistry.ps1``): an absent ``Enabled`` means enabled
for TLS 1.0, 1.1 and 1.2 and not enabled for TLS 1.3; an absent ``DisabledByDefault``
means not disabled by default; an absent .NET value means not set.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import attrs

from exchange_tls.tls_settings.registry import RegistryValue

__all__ = [
    "CIPHERS_KEY",
    "DOTNET_VERSIONS",
    "PROTOCOLS_KEY",
    "TLS_VERSIONS",
    "CipherSetting",
    "DotNetSetting",
    "ProtocolSetting",
    "Side",
    "TlsSettings",
    "dotnet_key",
    "powershell_path",
    "protocol_key",
]

PROTOCOLS_KEY = (
    "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols"
)
CIPHERS_KEY = (
    "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Ciphers"
)
#: The protocol versions whose keys are read.
TLS_VERSIONS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
#: The .NET Framework versions whose TLS values are read.
DOTNET_VERSIONS = ("v4.0.30319", "v2.0.50727")
# Versions whose absent Enabled value means enabled (HealthChecker's NullIsEnabled).
_ENABLED_WHEN_ABSENT = ("TLS 1.0", "TLS 1.1", "TLS 1.2")


class Side(enum.Enum):
    """Which end of a connection a Schannel setting governs."""

    #: Outbound: this server connecting to another (Exchange sending mail).
    CLIENT = "Client"
    #: Inbound: another host connecting to this server (Exchange receiving mail).
    SERVER = "Server"


def protocol_key(version: str, side: Side) -> str:
    """Return the registry key of a protocol version's side, as ``reg export`` names it."""
    return f"{PROTOCOLS_KEY}\\{version}\\{side.value}"


def dotnet_key(version: str, wow6432: bool) -> str:
    """Return the .NET Framework key for a version, 64-bit or 32-bit (``Wow6432Node``)."""
    node = "Wow6432Node\\" if wow6432 else ""
    return f"HKEY_LOCAL_MACHINE\\SOFTWARE\\{node}Microsoft\\.NETFramework\\{version}"


def powershell_path(key: str) -> str:
    r"""Return a key as a PowerShell registry path (``HKLM:\...``).

    >>> from exchange_tls.tls_settings import dotnet_key, powershell_path
    >>> print(powershell_path(dotnet_key("v4.0.30319", wow6432=True)))
    HKLM:\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319
    """
    hive, _, rest = key.partition("\\")
    short = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU"}.get(hive, hive)
    return f"{short}:\\{rest}"


@attrs.frozen(kw_only=True)
class ProtocolSetting:
    """One protocol version on one side: what the registry says, and what it means."""

    version: str
    side: Side
    key: str
    #: The ``Enabled`` value read, or ``None`` when absent.
    enabled_value: RegistryValue | None
    #: The ``DisabledByDefault`` value read, or ``None`` when absent.
    disabled_by_default_value: RegistryValue | None
    #: Whether the key exists: ``False`` when an export of a parent key lacks it.
    key_exists: bool = True

    @property
    def enabled(self) -> bool | None:
        """Whether the version may be used; the Windows default when no value is set."""
        if self.enabled_value is not None and self.enabled_value.number is not None:
            return self.enabled_value.number != 0
        if self.enabled_value is None:
            if self.version in _ENABLED_WHEN_ABSENT:
                return True
            if self.version == "TLS 1.3":
                return False
        return None

    @property
    def disabled_by_default(self) -> bool | None:
        """Whether the version is left out of the versions offered by default."""
        value = self.disabled_by_default_value
        if value is None:
            return False
        return None if value.number is None else value.number != 0

    @property
    def offered(self) -> bool | None:
        """Whether Exchange offers this version without asking for it by name."""
        if self.enabled is None or self.disabled_by_default is None:
            return None
        return self.enabled and not self.disabled_by_default

    @property
    def defaulted(self) -> bool:
        """Whether ``enabled`` comes from the Windows default (no ``Enabled`` value)."""
        return self.enabled_value is None


@attrs.frozen(kw_only=True)
class DotNetSetting:
    """The TLS values of one .NET Framework key (64-bit or 32-bit)."""

    version: str
    wow6432: bool
    key: str
    system_default_tls_versions: RegistryValue | None
    sch_use_strong_crypto: RegistryValue | None
    #: Whether the key exists: ``False`` when an export of a parent key lacks it.
    key_exists: bool = True

    @property
    def uses_system_defaults(self) -> bool:
        """Whether ``SystemDefaultTlsVersions`` is 1 (absent counts as not set)."""
        value = self.system_default_tls_versions
        return value is not None and value.number == 1

    @property
    def strong_crypto(self) -> bool:
        """Whether ``SchUseStrongCrypto`` is 1 (absent counts as not set)."""
        value = self.sch_use_strong_crypto
        return value is not None and value.number == 1


@attrs.frozen(kw_only=True)
class CipherSetting:
    """A cipher key of the SCHANNEL ``Ciphers`` key (``RC4 128/128``, ``AES 256/256`` …)."""

    name: str
    key: str
    enabled_value: RegistryValue | None

    @property
    def enabled(self) -> bool | None:
        """Whether the cipher may be used; ``None`` when no value says (the OS default)."""
        value = self.enabled_value
        return None if value is None or value.number is None else value.number != 0


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    # Any, not object: each field's annotation states the item type, and a checker
    # must accept this converter for every such field.
    return tuple(value)


@attrs.frozen(kw_only=True)
class TlsSettings:
    """The server's TLS registry settings, as far as the evidence covers them.

    Only keys the evidence covers are described: a ``reg export`` of a key covers every
    key below it (an absent subkey means the Windows default), a ``Get-ItemProperty``
    record covers its own key. What is not covered is unknown and left out.
    """

    protocols: tuple[ProtocolSetting, ...] = attrs.field(default=(), converter=_tuple)
    dotnet: tuple[DotNetSetting, ...] = attrs.field(default=(), converter=_tuple)
    #: The ciphers whose keys the evidence holds.
    ciphers: tuple[CipherSetting, ...] = attrs.field(default=(), converter=_tuple)
    #: Every value read, in order.
    values: tuple[RegistryValue, ...] = attrs.field(default=(), converter=_tuple)
    #: The server the settings came from, where the evidence names it.
    server: str | None = None

    @classmethod
    def combine(cls, parts: Iterable[TlsSettings]) -> TlsSettings:
        """Combine the settings of several files (a SCHANNEL export, .NET exports …).

        For each key, the first part that holds a value for it wins; a part that covers
        a key without values (the Windows default) yields to one that has values.
        """
        items = list(parts)
        protocols: dict[tuple[str, Side], ProtocolSetting] = {}
        dotnet: dict[tuple[str, bool], DotNetSetting] = {}
        for part in items:
            for setting in part.protocols:
                key = (setting.version, setting.side)
                held = protocols.get(key)
                has_values = setting.enabled_value or setting.disabled_by_default_value
                if held is None or (
                    has_values and not (held.enabled_value or held.disabled_by_default_value)
                ):
                    protocols[key] = setting
            for net in part.dotnet:
                net_key = (net.version, net.wow6432)
                held_net = dotnet.get(net_key)
                net_values = net.system_default_tls_versions or net.sch_use_strong_crypto
                if held_net is None or (
                    net_values
                    and not (held_net.system_default_tls_versions or held_net.sch_use_strong_crypto)
                ):
                    dotnet[net_key] = net
        order = {version: index for index, version in enumerate(TLS_VERSIONS)}

        def protocol_order(setting: ProtocolSetting) -> tuple[int, str]:
            return order[setting.version], setting.side.value

        def dotnet_order(setting: DotNetSetting) -> tuple[bool, bool]:
            return setting.version != DOTNET_VERSIONS[0], setting.wow6432

        ordered_protocols: list[ProtocolSetting] = sorted(protocols.values(), key=protocol_order)
        ordered_dotnet: list[DotNetSetting] = sorted(dotnet.values(), key=dotnet_order)
        ciphers: dict[str, CipherSetting] = {}
        for part in items:
            for cipher in part.ciphers:
                if cipher.name.casefold() not in ciphers or cipher.enabled_value is not None:
                    ciphers[cipher.name.casefold()] = cipher
        return cls(
            protocols=ordered_protocols,
            dotnet=ordered_dotnet,
            ciphers=list(ciphers.values()),
            values=[value for part in items for value in part.values],
            server=next((part.server for part in items if part.server), None),
        )

    def protocol(self, version: str, side: Side) -> ProtocolSetting | None:
        """Return the setting of a version's side, or ``None`` when not covered."""
        for setting in self.protocols:
            if setting.version == version and setting.side is side:
                return setting
        return None

    def enabled_versions(self, side: Side) -> tuple[str, ...] | None:
        """Return the TLS versions offered on a side; ``None`` when any is unknown.

        >>> from exchange_tls.tls_settings import Side, TlsSettings
        >>> TlsSettings().enabled_versions(Side.CLIENT) is None
        True
        """
        offered = []
        for version in TLS_VERSIONS:
            if not version.startswith("TLS"):
                continue
            setting = self.protocol(version, side)
            if setting is None or setting.offered is None:
                return None
            if setting.offered:
                offered.append(version)
        return tuple(offered)
