r"""Read and write ``reg export`` files (``.reg``), both versions of the format.

::

    Windows Registry Editor Version 5.00

    [HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\.NETFramework\v4.0.30319]
    "SystemDefaultTlsVersions"=dword:00000001
    "SchUseStrongCrypto"=dword:00000001
    [HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL]
    "DisabledByDefault"=dword:00000000
    "Enabled"=dword:00000001

The first line is ``Windows Registry Editor Version 5.00`` (UTF-16 LE with a BOM, as
``reg export`` writes it) or ``REGEDIT4`` (ANSI). A ``[key]`` line opens a key and
``[-key]`` deletes one; ``"name"=`` (``@=`` for the default value) sets a value: a
``"string"`` with ``\\`` and ``\"`` escapes, ``dword:`` eight hex digits, ``hex:`` /
``hex(N):`` comma-separated bytes that may continue on the next line after a ``\``, or
``-`` to delete the value. Lines starting with ``;`` are comments.

Rows are split with regular expressions that cannot backtrack (each alternative starts
with a different character), so hostile input costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Union

import attrs

from exchange_tls.errors import ErrorMode, Problem, ProblemCollector, Severity
from exchange_tls.sources import SourceRef

__all__ = [
    "REGEDIT4",
    "REGEDIT5",
    "RegistryExport",
    "RegistryKey",
    "RegistryValue",
    "ValueKind",
    "looks_like_reg",
    "normalize_key",
    "parse_reg",
    "render_reg",
]

REGEDIT5 = "Windows Registry Editor Version 5.00"
REGEDIT4 = "REGEDIT4"

#: How a value is written: ``dword``, ``qword``, ``string``, ``expand-string``,
#: ``multi-string``, ``binary``, ``hex(N)`` for other types, or ``delete``.
ValueKind = str
#: A value's data: an integer (dword, qword), text, texts (multi-string), bytes, or
#: ``None`` for a deletion.
ValueData = Union[int, str, tuple[str, ...], bytes, None]  # noqa: UP007 -- a runtime alias on 3.10

_HIVES = {
    "hklm": "HKEY_LOCAL_MACHINE",
    "hkcu": "HKEY_CURRENT_USER",
    "hkcr": "HKEY_CLASSES_ROOT",
    "hku": "HKEY_USERS",
    "hkcc": "HKEY_CURRENT_CONFIG",
}
_PROVIDER = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\)?Registry::", re.IGNORECASE)
_KEY_LINE = re.compile(r"^\[(?P<delete>-)?(?P<path>[^\]]*)\]\s*$")
_QUOTE_OR_ESCAPE = re.compile(r'["\\]')
_DWORD = re.compile(r"^dword:(?P<hex>[0-9A-Fa-f]{1,8})\s*$")
_HEX = re.compile(r"^hex(?:\((?P<type>[0-9A-Fa-f]{1,8})\))?:(?P<bytes>[0-9A-Fa-f, \t]*)$")
_ESCAPE = re.compile(r"\\(.)")
# Registry value types by number (winnt.h REG_*).
_TYPES = {1: "string", 2: "expand-string", 3: "binary", 4: "dword", 7: "multi-string", 11: "qword"}
_TYPE_NUMBERS = {kind: number for number, kind in _TYPES.items()}
#: How much continued hex data one value may have, in characters; a hostile file cannot
#: make one value hold gigabytes.
MAX_VALUE_CHARS = 1 << 20


def normalize_key(path: str) -> str:
    r"""Return a registry key path in the form ``reg export`` writes.

    >>> from exchange_tls.tls_settings import normalize_key
    >>> normalize_key("HKLM:\\SYSTEM\\CurrentControlSet\\Control\\")
    'HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control'
    >>> normalize_key("Microsoft.PowerShell.Core\\Registry::HKEY_LOCAL_MACHINE\\SOFTWARE")
    'HKEY_LOCAL_MACHINE\\SOFTWARE'
    """
    text = _PROVIDER.sub("", path.strip()).rstrip("\\")
    hive, sep, rest = text.partition("\\")
    hive = hive.rstrip(":")
    hive = _HIVES.get(hive.casefold(), hive.upper() if hive.upper().startswith("HKEY_") else hive)
    return hive + sep + rest


@attrs.frozen(kw_only=True)
class RegistryKey:
    """A ``[key]`` line: a key the export holds (or deletes)."""

    path: str
    deleted: bool = False
    source: SourceRef | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class RegistryValue:
    """One value of a key, with the line it was read from."""

    key: str
    #: The value's name; ``""`` for the key's default value (``@``).
    name: str
    kind: ValueKind
    data: ValueData
    source: SourceRef | None = attrs.field(default=None, eq=False)

    @property
    def number(self) -> int | None:
        """The value as an integer (a DWORD or QWORD), else ``None``."""
        return self.data if isinstance(self.data, int) else None


@attrs.frozen(kw_only=True)
class RegistryExport:
    """What a ``.reg`` file holds."""

    #: ``Windows Registry Editor Version 5.00`` or ``REGEDIT4``.
    version: str | None
    keys: tuple[RegistryKey, ...]
    values: tuple[RegistryValue, ...]
    problems: tuple[Problem, ...] = ()


def looks_like_reg(text: str) -> bool:
    """Whether ``text`` begins with a ``.reg`` header."""
    head = text.lstrip("\ufeff \t\r\n")[:64]
    return head.startswith((REGEDIT5, REGEDIT4))


def _quoted(text: str, start: int) -> tuple[str, int] | None:
    """Read the quoted text opening at ``text[start]``; return it raw and the end.

    A scanner rather than a regular expression: a long run of escapes without its
    closing quote costs one pass, where a backtracking pattern keeps a state per escape.
    """
    if not text.startswith('"', start):
        return None
    position = start + 1
    while True:
        found = _QUOTE_OR_ESCAPE.search(text, position)
        if found is None:
            return None
        if found.group() == '"':
            return text[start + 1 : found.start()], found.end()
        position = found.end() + 1
        if position > len(text):
            return None


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda match: match.group(1), text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _bytes(text: str) -> bytes | None:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if any(len(part) > 2 for part in parts):
        return None
    return bytes(int(part, 16) for part in parts)


def _decode_hex(type_number: int, data: bytes, ansi: bool) -> tuple[ValueKind, ValueData]:
    kind = _TYPES.get(type_number, f"hex({type_number:x})")
    if kind in ("string", "expand-string", "multi-string"):
        # Version 5.00 files hold UTF-16 strings; REGEDIT4 files hold the ANSI code page,
        # read as Latin-1 so that every byte stays one character.
        text = data.decode("latin-1") if ansi else data.decode("utf-16-le", "replace")
        if kind == "multi-string":
            return kind, tuple(part for part in text.split("\x00") if part)
        return kind, text.rstrip("\x00")
    if kind == "qword" and len(data) == 8:
        return kind, int.from_bytes(data, "little")
    if kind == "dword" and len(data) == 4:
        return kind, int.from_bytes(data, "little")
    return ("binary" if type_number == 3 else kind), data


def _value(text: str, ansi: bool) -> tuple[ValueKind, ValueData] | None:
    if text.strip() == "-":
        return "delete", None
    string = _quoted(text, 0)
    if string is not None:
        raw, end = string
        return ("string", _unescape(raw)) if not text[end:].strip() else None
    dword = _DWORD.match(text)
    if dword is not None:
        return "dword", int(dword.group("hex"), 16)
    hexed = _HEX.match(text.strip())
    if hexed is not None:
        data = _bytes(hexed.group("bytes"))
        if data is None:
            return None
        type_number = int(hexed.group("type"), 16) if hexed.group("type") else 3
        return _decode_hex(type_number, data, ansi)
    return None


def _value_name(line: str) -> tuple[str, int] | None:
    """Return a value line's name (``""`` for ``@``) and where its data starts."""
    if line.startswith("@="):
        return "", 2
    quoted = _quoted(line, 0)
    if quoted is None or not line.startswith("=", quoted[1]):
        return None
    return _unescape(quoted[0]), quoted[1] + 1


def _logical_lines(lines: list[str]) -> Iterable[tuple[int, str]]:
    r"""Join lines that end in ``\`` with the next (hex data); yield the first number."""
    buffer: list[str] = []
    start = 0
    size = 0
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r")
        if not buffer:
            start = number
        piece = text.strip() if buffer else text
        if (
            piece.endswith("\\")
            and not piece.lstrip().startswith(("[", ";"))
            and ("=hex" in piece or buffer)
        ):
            buffer.append(piece[:-1])
            size += len(piece)
            if size <= MAX_VALUE_CHARS:
                continue
        buffer.append(piece)
        yield start, "".join(buffer)
        buffer, size = [], 0
    if buffer:
        yield start, "".join(buffer)


def parse_reg(text: str, *, source: str = "<reg>", errors: ErrorMode = "collect") -> RegistryExport:
    r"""Read the text of a ``.reg`` file.

    >>> from exchange_tls.tls_settings import parse_reg
    >>> export = parse_reg(
    ...     "Windows Registry Editor Version 5.00\n\n"
    ...     "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319]\n"
    ...     '"SchUseStrongCrypto"=dword:00000001\n'
    ... )
    >>> [(value.name, value.kind, value.data, value.source.line) for value in export.values]
    [('SchUseStrongCrypto', 'dword', 1, 4)]
    """
    collector = ProblemCollector(errors)
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    version: str | None = None
    keys: list[RegistryKey] = []
    values: list[RegistryValue] = []
    current: str | None = None

    def report(message: str, number: int, line: str, code: str, severity: Severity) -> None:
        collector.report(
            Problem(
                message=message,
                source=source,
                line=number,
                column=1,
                line_text=line[:200],
                severity=severity,
                code=code,
            )
        )

    for number, line in _logical_lines(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if version is None:
            if stripped in (REGEDIT5, REGEDIT4):
                version = stripped
                continue
            report(
                "a .reg file begins with 'Windows Registry Editor Version 5.00' or 'REGEDIT4'",
                number,
                line,
                "reg-header",
                Severity.ERROR,
            )
            version = ""
        key = _KEY_LINE.match(stripped)
        if key is not None:
            path = normalize_key(key.group("path"))
            deleted = key.group("delete") is not None
            keys.append(RegistryKey(path=path, deleted=deleted, source=SourceRef(source, number)))
            current = None if deleted else path
            continue
        name = _value_name(stripped)
        if name is None:
            report("not a key, a value or a comment", number, line, "reg-line", Severity.ERROR)
            continue
        if current is None:
            report("a value before any key", number, line, "reg-value-outside-key", Severity.ERROR)
            continue
        value_name, value_start = name
        parsed = _value(stripped[value_start:], ansi=version == REGEDIT4)
        if parsed is None:
            report(
                "a value's data is not a string, dword:, hex: or -",
                number,
                line,
                "reg-value",
                Severity.ERROR,
            )
            continue
        kind, data = parsed
        values.append(
            RegistryValue(
                key=current,
                name=value_name,
                kind=kind,
                data=data,
                source=SourceRef(source, number),
            )
        )
    return RegistryExport(
        version=version or None,
        keys=tuple(keys),
        values=tuple(values),
        problems=collector.problems,
    )


def _render_bytes(prefix: str, data: bytes) -> str:
    return prefix + ",".join(f"{byte:02x}" for byte in data)


def _render_value(value: RegistryValue, version: Literal["5.00", "4"]) -> str:
    name = "@" if value.name == "" else f'"{_escape(value.name)}"'
    data = value.data
    if value.kind == "delete":
        return f"{name}=-"
    if value.kind == "dword" and isinstance(data, int):
        return f"{name}=dword:{data:08x}"
    if value.kind == "string" and isinstance(data, str):
        return f'{name}="{_escape(data)}"'
    if value.kind == "qword" and isinstance(data, int):
        return _render_bytes(f"{name}=hex(b):", data.to_bytes(8, "little"))
    if value.kind in ("expand-string", "multi-string"):
        texts = (data,) if isinstance(data, str) else data if isinstance(data, tuple) else ()
        raw = "".join(f"{text}\x00" for text in texts) + (
            "\x00" if value.kind == "multi-string" else ""
        )
        # REGEDIT4 files are ANSI: their strings are bytes of the code page, not UTF-16.
        encoded = raw.encode("utf-16-le") if version == "5.00" else raw.encode("latin-1")
        return _render_bytes(f"{name}=hex({_TYPE_NUMBERS[value.kind]:x}):", encoded)
    if isinstance(data, bytes):
        match = re.fullmatch(r"hex\(([0-9a-f]+)\)", value.kind)
        prefix = f"hex({match.group(1)}):" if match else "hex:"
        return _render_bytes(f"{name}={prefix}", data)
    raise ValueError(f"cannot write a {value.kind} value holding {type(data).__name__}")


def render_reg(
    keys: Iterable[RegistryKey],
    values: Iterable[RegistryValue],
    *,
    version: Literal["5.00", "4"] = "5.00",
) -> str:
    r"""Write keys and their values as the text of a ``.reg`` file (CRLF line ends).

    >>> from exchange_tls.tls_settings import RegistryKey, RegistryValue, render_reg
    >>> text = render_reg(
    ...     [RegistryKey(path="HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso")],
    ...     [RegistryValue(key="HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso", name="Enabled",
    ...                    kind="dword", data=1)],
    ... )
    >>> print(text.replace("\r\n", "\n"), end="")
    Windows Registry Editor Version 5.00
    <BLANKLINE>
    [HKEY_LOCAL_MACHINE\SOFTWARE\Contoso]
    "Enabled"=dword:00000001
    <BLANKLINE>
    """
    by_key: dict[str, list[RegistryValue]] = {}
    for value in values:
        by_key.setdefault(value.key, []).append(value)
    out = [REGEDIT5 if version == "5.00" else REGEDIT4, ""]
    for key in keys:
        out.append(f"[{'-' if key.deleted else ''}{key.path}]")
        if not key.deleted:
            out.extend(_render_value(value, version) for value in by_key.get(key.path, ()))
        out.append("")
    return "\r\n".join(out) + "\r\n"
