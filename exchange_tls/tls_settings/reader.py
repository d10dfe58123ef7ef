r"""Read TLS registry evidence: ``.reg`` exports and ``Get-ItemProperty`` output.

``Get-ItemProperty -Path 'HKLM:\SYSTEM\...\TLS 1.2\Client'`` prints the key's values with
``PSPath``, ``PSParentPath``, ``PSChildName``, ``PSDrive`` and ``PSProvider``; in any
PowerShell format (Format-List, Export-Csv, ConvertTo-Json, Export-Clixml) each record
becomes the values of the key its ``PSPath`` names.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import BinaryIO, Literal

from exchange_tls.arguments import check_arguments
from exchange_tls.errors import ErrorMode, Problem, ProblemCollector, Severity
from exchange_tls.powershell.binding import split_lines
from exchange_tls.powershell.prompts import has_prompts, without_prompts
from exchange_tls.powershell.reader import Format, read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_int, as_text
from exchange_tls.results import ReadResult, read_text_file
from exchange_tls.sources import SourceRef
from exchange_tls.tls_settings.models import (
    CIPHERS_KEY,
    DOTNET_VERSIONS,
    TLS_VERSIONS,
    CipherSetting,
    DotNetSetting,
    ProtocolSetting,
    Side,
    TlsSettings,
    dotnet_key,
    protocol_key,
)
from exchange_tls.tls_settings.registry import (
    RegistryValue,
    looks_like_reg,
    normalize_key,
    parse_reg,
)

__all__ = [
    "looks_like_item_properties",
    "parse_tls_settings",
    "read_tls_settings",
    "recognises_tls_settings",
    "settings_from_values",
]

_PS_PROPERTIES = ("pspath", "psparentpath", "pschildname", "psdrive", "psprovider")


def looks_like_item_properties(records: list[PSObject]) -> bool:
    """Whether PowerShell records are ``Get-ItemProperty`` output of registry keys."""
    return any(
        "registry::" in (as_text(record.value_of("PSPath")) or "").casefold()
        for record in records[:20]
    )


def _covered(key: str, roots: Iterable[tuple[str, bool]]) -> bool:
    folded = key.casefold()
    for root, subtree in roots:
        root_folded = root.casefold()
        if folded == root_folded or (subtree and folded.startswith(root_folded + "\\")):
            return True
    return False


def settings_from_values(
    values: Iterable[RegistryValue],
    roots: Iterable[tuple[str, bool]],
    *,
    server: str | None = None,
) -> TlsSettings:
    """Build :class:`TlsSettings` from values and the keys the evidence covers.

    ``roots`` are ``(key, subtree)`` pairs: a key the evidence holds, and whether every
    key below it is held too (a ``reg export``) or only the key itself.
    """
    value_list = list(values)
    root_list = list(roots)
    present = {root.casefold() for root, _ in root_list} | {
        value.key.casefold() for value in value_list
    }
    by_key: dict[str, dict[str, RegistryValue]] = {}
    for value in value_list:
        if value.kind != "delete":
            by_key.setdefault(value.key.casefold(), {})[value.name.casefold()] = value
    protocols = []
    for version in TLS_VERSIONS:
        for side in Side:
            key = protocol_key(version, side)
            if not _covered(key, root_list):
                continue
            found = by_key.get(key.casefold(), {})
            protocols.append(
                ProtocolSetting(
                    version=version,
                    side=side,
                    key=key,
                    enabled_value=found.get("enabled"),
                    disabled_by_default_value=found.get("disabledbydefault"),
                    key_exists=key.casefold() in present,
                )
            )
    dotnet = []
    for version in DOTNET_VERSIONS:
        for wow6432 in (False, True):
            key = dotnet_key(version, wow6432)
            if not _covered(key, root_list):
                continue
            found = by_key.get(key.casefold(), {})
            dotnet.append(
                DotNetSetting(
                    version=version,
                    wow6432=wow6432,
                    key=key,
                    system_default_tls_versions=found.get("systemdefaulttlsversions"),
                    sch_use_strong_crypto=found.get("schusestrongcrypto"),
                    key_exists=key.casefold() in present,
                )
            )
    prefix = CIPHERS_KEY.casefold() + "\\"
    cipher_keys = sorted(
        {root for root, _ in root_list if root.casefold().startswith(prefix)}
        | {value.key for value in value_list if value.key.casefold().startswith(prefix)},
        key=str.casefold,
    )
    ciphers = [
        CipherSetting(
            name=key[len(prefix) :],
            key=key,
            enabled_value=by_key.get(key.casefold(), {}).get("enabled"),
        )
        for key in dict.fromkeys(cipher_keys)
    ]
    return TlsSettings(
        protocols=protocols, dotnet=dotnet, ciphers=ciphers, values=value_list, server=server
    )


def _item_values(
    record: PSObject, source: str, collector: ProblemCollector
) -> tuple[str, list[RegistryValue]] | None:
    path = as_text(record.value_of("PSPath"))
    if path is None:
        collector.report(
            Problem(
                message="record has no PSPath; it is not Get-ItemProperty output",
                source=source,
                line=record.source.line,
                severity=Severity.WARNING,
                code="not-an-item-property",
            )
        )
        return None
    key = normalize_key(path)
    values = []
    for prop in record.properties:
        if prop.name.casefold() in _PS_PROPERTIES:
            continue
        number = as_int(prop.value)
        ref = SourceRef(source, prop.line if prop.line is not None else record.source.line)
        if number is not None:
            values.append(
                RegistryValue(key=key, name=prop.name, kind="dword", data=number, source=ref)
            )
        else:
            text = as_text(prop.value)
            values.append(
                RegistryValue(key=key, name=prop.name, kind="string", data=text or "", source=ref)
            )
    return key, values


def recognises_tls_settings(head: str, records: list[PSObject] | None = None) -> bool:
    """Whether text is a ``.reg`` export or its records are ``Get-ItemProperty`` of keys."""
    return looks_like_reg(head) or (records is not None and looks_like_item_properties(records))


def parse_tls_settings(
    text: str,
    *,
    source: str = "<tls settings>",
    format: Format | Literal["auto", "reg"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[TlsSettings]:
    r"""Read a ``.reg`` export or ``Get-ItemProperty`` output into :class:`TlsSettings`.

    >>> from exchange_tls.tls_settings import Side, parse_tls_settings
    >>> [settings] = parse_tls_settings(
    ...     "Windows Registry Editor Version 5.00\n\n"
    ...     "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders"
    ...     "\\SCHANNEL\\Protocols]\n\n"
    ...     "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders"
    ...     "\\SCHANNEL\\Protocols\\TLS 1.2\\Client]\n"
    ...     '"Enabled"=dword:00000000\n'
    ... )
    >>> settings.enabled_versions(Side.CLIENT), settings.enabled_versions(Side.SERVER)
    (('TLS 1.0', 'TLS 1.1'), ('TLS 1.0', 'TLS 1.1', 'TLS 1.2'))
    >>> settings.protocol("TLS 1.2", Side.CLIENT).enabled_value.source.line
    6
    """
    check_arguments("parse_tls_settings", text=text, source=source, format=format, errors=errors)
    if format == "reg" or (format == "auto" and looks_like_reg(text)):
        export = parse_reg(text, source=source, errors=errors)
        # A reg export of a key holds its whole subtree.
        roots = [(key.path, True) for key in export.keys if not key.deleted]
        settings = settings_from_values(export.values, roots)
        return ReadResult(items=(settings,), problems=export.problems, format="reg", source=source)
    collector = ProblemCollector(errors)
    lines = split_lines(text)
    if has_prompts(lines):
        lines = without_prompts(lines, source, collector)
    used, records, _ = read_records(lines, source=source, format=format, collector=collector)
    values: list[RegistryValue] = []
    keys: list[tuple[str, bool]] = []
    server = None
    for record in records:
        server = server or as_text(record.value_of("PSComputerName"))
        item = _item_values(record, source, collector)
        if item is not None:
            keys.append((item[0], False))
            values.extend(item[1])
    settings = settings_from_values(values, keys, server=server)
    return ReadResult(items=(settings,), problems=collector.problems, format=used, source=source)


def read_tls_settings(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto", "reg"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[TlsSettings]:
    """Read a file of TLS registry evidence in any encoding (``reg export`` is UTF-16)."""
    check_arguments("read_tls_settings", file=file, format=format, errors=errors)
    return read_text_file(
        file,
        lambda text, source: parse_tls_settings(text, source=source, format=format, errors=errors),
    )
