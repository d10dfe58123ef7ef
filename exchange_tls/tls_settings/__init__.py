"""TLS settings evidence: the SCHANNEL and .NET Framework registry keys."""

from __future__ import annotations

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
