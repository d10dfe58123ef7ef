r"""Registry and hybrid commands: create a missing key, read a key, restart, hybrid TLS name.

``Set-ItemProperty`` (in :mod:`exchange_tls.remediation.commands`) sets a value only in a
key that exists. :class:`NewRegistryKey` creates a missing key and its missing parents
(``New-Item -Force``); it is only written for a key the evidence shows to be missing,
because on an existing registry key ``New-Item -Force`` replaces the key, values and all.
TLS registry changes take effect after a restart, so the fixes end with
:class:`RestartComputer`.

>>> print(NewRegistryKey(path="HKLM:\\SOFTWARE\\Contoso").render(what_if=True))
New-Item -Path 'HKLM:\SOFTWARE\Contoso' -Force -WhatIf
"""

from __future__ import annotations

import re
from typing import ClassVar

import attrs

from exchange_tls.remediation.commands import Argument, Command
from exchange_tls.remediation.quoting import quote

__all__ = ["GetItemProperty", "NewRegistryKey", "RestartComputer", "SetHybridConfiguration"]

_REGISTRY_PATH = re.compile(r"^(?:HKLM|HKCU):\\[^\x00]+$")


def _registry_path(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _REGISTRY_PATH.match(value):
        raise ValueError(f"{attribute.name} must be an HKLM:\\ or HKCU:\\ path, not {value!r}")


@attrs.frozen(kw_only=True)
class NewRegistryKey(Command):
    """``New-Item -Path <key> -Force``: create a registry key and its missing parents."""

    cmdlet: ClassVar[str] = "New-Item"
    changes_state: ClassVar[bool] = True
    supports_what_if: ClassVar[bool] = True
    path: str = attrs.field(validator=_registry_path)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("Path", quote(self.path)), ("Force", None)]


@attrs.frozen(kw_only=True)
class GetItemProperty(Command):
    """``Get-ItemProperty -Path <key>``: show a registry key's values."""

    cmdlet: ClassVar[str] = "Get-ItemProperty"
    path: str = attrs.field(validator=_registry_path)

    def arguments(self) -> list[Argument]:
        """Return the rendered arguments in order."""
        return [("Path", quote(self.path))]


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
