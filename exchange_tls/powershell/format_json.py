"""Read ``ConvertTo-Json`` output into records.

A single object or an array of objects. Nested objects become nested records, arrays
become tuples; values keep their JSON types. Each top-level object is tied to the line
where it starts.
"""

from __future__ import annotations

import json
import re

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.records import PSObject, PSProperty, PSValue
from exchange_tls.sources import SourceRef

__all__ = ["MAX_ARRAY_ITEMS", "MAX_NUMBER_DIGITS", "clean_text", "read_json"]

_WHITESPACE = " \t\n\r"

#: The most digits an integer may have to be read as a number; a longer one is kept as
#: its text and reported (``int()`` refuses more than 4,300 digits, and is quadratic
#: before that on Python 3.10).
MAX_NUMBER_DIGITS = 100

#: The most items read from one JSON array; the rest is reported and left out.
MAX_ARRAY_ITEMS = 100_000

# Items that are not objects are listed up to this many; the rest are counted.
_LISTED_PROBLEMS = 100

_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    r"""Replace lone surrogates (from ``\ud800`` or ``_xD800_`` escapes) with U+FFFD.

    They are not characters, and no UTF encoding can write them out.

    >>> clean_text("a\ud800b") == "a\ufffdb"
    True
    """
    if value.isascii():
        return value
    return _SURROGATES.sub("\ufffd", value)


def _convert(value: object, source: str, line: int) -> PSValue:
    if isinstance(value, dict):
        return _record(value, source, line)
    if isinstance(value, list):
        return tuple(_convert(item, source, line) for item in value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)  # pragma: no cover -- json.loads yields no other types


def _record(mapping: dict[str, object], source: str, line: int) -> PSObject:
    properties = [
        PSProperty(name=clean_text(str(name)), value=_convert(value, source, line), line=line)
        for name, value in mapping.items()
    ]
    return PSObject(properties, SourceRef(source, line))


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _report_duplicates(
    text: str,
    duplicates: list[tuple[str, object, object]],
    source: str,
    first_line: int,
    collector: ProblemCollector,
) -> None:
    """Report each key an object held twice, at the line of its last (the read) value."""
    listed = duplicates[:_LISTED_PROBLEMS]
    # Objects end in text order, so each key is looked for after the one before.
    position = 0
    for key, first, last in listed:
        pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
        found = [match.start() for match in pattern.finditer(text, position)]
        at = found[1] if len(found) > 1 else (found[0] if found else None)
        line = None if at is None else first_line + text.count("\n", 0, at)
        if found:
            position = found[0] + 1
        collector.report(
            Problem(
                message=f"the key {key!r} appears twice in one object: {_shown(first)}, "
                f"then {_shown(last)}; the last one is read",
                source=source,
                line=line,
                severity=Severity.WARNING,
                code="json-duplicate-key",
            )
        )
    if len(duplicates) > len(listed):
        collector.report(
            Problem(
                message=f"{len(duplicates) - len(listed):,} more keys appear twice in one "
                "object; the last value of each is read",
                source=source,
                severity=Severity.WARNING,
                code="json-duplicate-key",
            )
        )


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def read_json(
    text: str, *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read ConvertTo-Json text into records; ``first_line`` numbers its first line."""
    long_numbers: list[str] = []

    def parse_int(digits: str) -> int | str:
        if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
            long_numbers.append(digits)
            return digits
        return int(digits)

    # Keys an object holds twice: json keeps the last value in silence, and a user who
    # merged two exports by hand must hear which value was read.
    duplicates: list[tuple[str, object, object]] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        mapping = dict(items)
        if len(mapping) != len(items):
            seen: dict[str, object] = {}
            for key, value in items:
                if key in seen:
                    duplicates.append((key, seen[key], value))
                seen[key] = value
        return mapping

    decoder = json.JSONDecoder(parse_int=parse_int, object_pairs_hook=pairs)
    items: list[tuple[object, int]] = []
    dropped = 0
    try:
        position = _skip(text, 0)
        if text.startswith("[", position):
            position = _skip(text, position + 1)
            while position < len(text) and text[position] != "]":
                if len(items) == MAX_ARRAY_ITEMS:
                    dropped = position
                    break
                value, end = decoder.raw_decode(text, position)
                items.append((value, position))
                position = _skip(text, end)
                if text.startswith(",", position):
                    position = _skip(text, position + 1)
            if not dropped and not text.startswith("]", position):
                raise json.JSONDecodeError("expected ']'", text, position)
            position = len(text) if dropped else _skip(text, position + 1)
        else:
            value, end = decoder.raw_decode(text, position)
            items.append((value, position))
            position = _skip(text, end)
        if position < len(text):
            raise json.JSONDecodeError("unexpected text after the JSON value", text, position)
    except json.JSONDecodeError as error:
        line_start = text.rfind("\n", 0, error.pos) + 1
        line_end = text.find("\n", error.pos)
        collector.report(
            Problem(
                message=f"not valid JSON: {error.msg}",
                source=source,
                line=first_line + error.lineno - 1,
                column=error.colno,
                line_text=text[line_start : len(text) if line_end == -1 else line_end],
                code="json-error",
            )
        )
    except RecursionError:
        collector.report(
            Problem(
                message="JSON nested too deeply to read (more levels than Python's recursion "
                "limit)",
                source=source,
                code="json-depth",
            )
        )
        return []
    if dropped:
        collector.report(
            Problem(
                message=f"the array holds more than {MAX_ARRAY_ITEMS:,} items; "
                "the rest was not read",
                source=source,
                line=first_line + text.count("\n", 0, dropped),
                severity=Severity.WARNING,
                code="json-array-limit",
            )
        )
    _report_duplicates(text, duplicates, source, first_line, collector)
    if long_numbers:
        collector.report(
            Problem(
                message=f"{len(long_numbers)} numbers of more than {MAX_NUMBER_DIGITS} digits "
                "were kept as text",
                source=source,
                severity=Severity.WARNING,
                code="json-long-number",
            )
        )
    records = []
    # Items come in order, so each line number counts only the newlines since the
    # last item: linear in the text, however many items there are.
    line, counted = first_line, 0
    not_objects: list[tuple[str, int]] = []
    for value, start in items:
        line += text.count("\n", counted, start)
        counted = start
        if isinstance(value, dict):
            try:
                records.append(_record(value, source, line))
            except RecursionError:
                collector.report(
                    Problem(
                        message="object nested too deeply to read",
                        source=source,
                        line=line,
                        code="json-depth",
                    )
                )
        else:
            not_objects.append((type(value).__name__, line))
    for name, at in not_objects[:_LISTED_PROBLEMS]:
        collector.report(
            Problem(
                message=f"expected an object, found {name}",
                source=source,
                line=at,
                code="not-an-object",
            )
        )
    if len(not_objects) > _LISTED_PROBLEMS:
        collector.report(
            Problem(
                message=f"{len(not_objects) - _LISTED_PROBLEMS:,} more items that are not "
                "objects were left out and not listed",
                source=source,
                code="not-an-object",
            )
        )
    return records
