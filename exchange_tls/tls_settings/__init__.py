"""TLS settings evidence: the SCHANNEL and .NET Framework registry keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
    from exchange_tls.tls_settings.models import (
        CipherSetting,
        DotNetSetting,
        ProtocolSetting,
        Side,
        TlsSettings,
        dotnet_key,
        powershell_path,
        protocol_key,
    )
    from exchange_tls.tls_settings.reader import (
        looks_like_item_properties,
        parse_tls_settings,
        read_tls_settings,
        recognises_tls_settings,
        settings_from_values,
    )
    from exchange_tls.tls_settings.registry import (
        RegistryExport,
        RegistryKey,
        RegistryValue,
        looks_like_reg,
        normalize_key,
        parse_reg,
        render_reg,
    )

__all__ = [
    "CipherSetting",
    "DotNetSetting",
    "ProtocolSetting",
    "RegistryExport",
    "RegistryKey",
    "RegistryValue",
    "Side",
    "TlsSettings",
    "dotnet_key",
    "looks_like_item_properties",
    "looks_like_reg",
    "normalize_key",
    "parse_reg",
    "parse_tls_settings",
    "powershell_path",
    "protocol_key",
    "read_tls_settings",
    "recognises_tls_settings",
    "render_reg",
    "settings_from_values",
]

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "CipherSetting": "models",
            "DotNetSetting": "models",
            "ProtocolSetting": "models",
            "Side": "models",
            "TlsSettings": "models",
            "dotnet_key": "models",
            "powershell_path": "models",
            "protocol_key": "models",
            "looks_like_item_properties": "reader",
            "parse_tls_settings": "reader",
            "read_tls_settings": "reader",
            "recognises_tls_settings": "reader",
            "settings_from_values": "reader",
            "RegistryExport": "registry",
            "RegistryKey": "registry",
            "RegistryValue": "registry",
            "looks_like_reg": "registry",
            "normalize_key": "registry",
            "parse_reg": "registry",
            "render_reg": "registry",
        },
        __all__,
    )
