"""Read ``Get-ExchangeServer`` and ``Win32_OperatingSystem`` output into inventory models.

One reader for both: a record with ``AdminDisplayVersion`` or ``Edition`` is an Exchange
server, a record with ``BuildNumber`` or a Windows ``Caption`` is an operating system
(the collector writes them to one file or two; either works). Any PowerShell format the
shared readers know is accepted.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Literal

from exchange_tls.errors import ErrorMode, Severity
from exchange_tls.inventory.models import (
    ExchangeServerInfo,
    InventoryRecord,
    WindowsInfo,
    parse_build,
)
from exchange_tls.powershell.binding import RecordBinder, parse_records
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject, PSValue
from exchange_tls.powershell.values import as_int, as_text
from exchange_tls.results import ReadResult, read_text_file
from exchange_tls.sources import SourceRef

__all__ = ["inventory_key", "looks_like_inventory", "parse_inventory", "read_inventory"]

_EXCHANGE = ("AdminDisplayVersion", "Edition")
_WINDOWS = ("BuildNumber", "OSArchitecture", "CSName")
_TYPES = ("Microsoft.Exchange.Data.Directory.Management.ExchangeServer", "Win32_OperatingSystem")


def _version_text(value: PSValue) -> str | None:
    """AdminDisplayVersion as text, or from the object ConvertTo-Json makes of it."""
    if isinstance(value, PSObject) and value.to_string is None:
        parts = [as_int(value.value_of(name)) for name in ("Major", "Minor", "Build", "Revision")]
        if all(part is not None for part in parts[:3]):
            return ".".join(str(part) for part in parts if part is not None)
    return as_text(value)


class _InventoryBinder(RecordBinder[tuple[InventoryRecord, ...]]):
    """Bind a record to an Exchange server, an operating system, or both.

    Both: Format-List output of the two commands in one file reads as one record when the
    blank line between them is taken for a wrapped value.
    """

    def bind(self, record: PSObject) -> tuple[InventoryRecord, ...] | None:
        found = tuple(
            model for model in (self.exchange(record), self.windows(record)) if model is not None
        )
        if found:
            return found
        self.report(
            "record has neither AdminDisplayVersion/Edition (Get-ExchangeServer) nor "
            "BuildNumber/Caption (Win32_OperatingSystem); it is not inventory "
            f"(properties: {', '.join(record.names[:6])})",
            record.source.line,
            "not-inventory",
            Severity.ERROR,
        )
        return None

    def exchange(self, record: PSObject) -> ExchangeServerInfo | None:
        value = record.value_of
        if any(record.get(name) is not None for name in _EXCHANGE):
            text = _version_text(value("AdminDisplayVersion"))
            build = parse_build(text)
            if text is not None and build is None:
                prop = record.get("AdminDisplayVersion")
                self.report(
                    f"AdminDisplayVersion {text!r} holds no build number",
                    prop.line if prop is not None else record.source.line,
                    "unknown-value",
                )
            return ExchangeServerInfo(
                name=as_text(value("Name")),
                fqdn=as_text(value("Fqdn")),
                edition=as_text(value("Edition")),
                version_text=text,
                build=build,
                server_role=as_text(value("ServerRole")),
                source=record.source,
            )
        return None

    def windows(self, record: PSObject) -> WindowsInfo | None:
        value = record.value_of
        caption = as_text(value("Caption"))
        windows_caption = caption is not None and "windows" in caption.casefold()
        if windows_caption or any(record.get(name) is not None for name in _WINDOWS):
            build_number = as_int(value("BuildNumber"))
            version = as_text(value("Version"))
            if build_number is None and version and version.count(".") >= 2:
                last = version.rsplit(".", 1)[1]
                build_number = int(last) if last.isdigit() else None
            line = record.get("Caption") or record.get("BuildNumber")
            return WindowsInfo(
                computer=as_text(value("CSName")) or as_text(value("PSComputerName")),
                caption=caption,
                version=version,
                build_number=build_number,
                source=record.source
                if line is None or line.line is None
                else SourceRef(record.source.source, line.line),
            )
        return None


def looks_like_inventory(records: list[PSObject]) -> bool:
    """Whether PowerShell records are ``Get-ExchangeServer`` or operating system output."""
    for record in records[:5]:
        if any(name.endswith(_TYPES) for name in record.type_names):
            return True
        if record.get("AdminDisplayVersion") is not None and record.get("Edition") is not None:
            return True
        if record.get("BuildNumber") is not None and record.get("Caption") is not None:
            return True
    return False


def inventory_key(record: InventoryRecord) -> object:
    """Return the key that makes two records the same (one server, one operating system)."""
    if isinstance(record, ExchangeServerInfo):
        return ("exchange", (record.fqdn or record.name or "").casefold() or None)
    return ("windows", (record.computer or "").casefold() or None)


def parse_inventory(
    text: str,
    *,
    source: str = "<inventory>",
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[InventoryRecord]:
    r"""Read ``Get-ExchangeServer`` and ``Win32_OperatingSystem`` output in any format.

    >>> result = parse_inventory(
    ...     "Name                : EX01\n"
    ...     "Edition             : Enterprise\n"
    ...     "AdminDisplayVersion : Version 15.2 (Build 1748.10)\n"
    ...     "\n"
    ...     "Caption     : Microsoft Windows Server 2022 Datacenter\n"
    ...     "Version     : 10.0.20348\n"
    ...     "BuildNumber : 20348\n"
    ... )
    >>> exchange, windows = result
    >>> str(exchange.build), windows.is_server_2022_or_later
    ('15.2.1748.10', True)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    result = parse_records(text, _InventoryBinder, source=source, format=format, errors=errors)
    return ReadResult(
        items=[model for models in result for model in models],
        problems=result.problems,
        format=result.format,
        source=result.source,
    )


def read_inventory(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[InventoryRecord]:
    """Read a file of inventory output in any encoding; see :func:`parse_inventory`."""
    return read_text_file(
        file,
        lambda text, source: parse_inventory(text, source=source, format=format, errors=errors),
    )
