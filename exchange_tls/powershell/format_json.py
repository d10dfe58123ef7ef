"""Read ``ConvertTo-Json`` output into records.

A single object or an array of objects. Nested objects become nested records, arrays
become tuples; values keep their JSON types. Each top-level object is tied to the line
where it starts.
"""

from __future__ import annotations

import json

from exchange_tls.errors import Problem, ProblemCollector
from exchange_tls.powershell.records import PSObject, PSProperty, PSValue
from exchange_tls.sources import SourceRef

__all__ = ["read_json"]

_WHITESPACE = " \t\n\r"


def _convert(value: object, source: str, line: int) -> PSValue:
    if isinstance(value, dict):
        return _record(value, source, line)
    if isinstance(value, list):
        return tuple(_convert(item, source, line) for item in value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # pragma: no cover -- json.loads yields no other types


def _record(mapping: dict[str, object], source: str, line: int) -> PSObject:
    properties = [
        PSProperty(name=str(name), value=_convert(value, source, line), line=line)
        for name, value in mapping.items()
    ]
    return PSObject(properties, SourceRef(source, line))


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _line_of(text: str, position: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, position)


def read_json(
    text: str, *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read ConvertTo-Json text into records; ``first_line`` numbers its first line."""
    decoder = json.JSONDecoder()
    items: list[tuple[object, int]] = []
    try:
        position = _skip(text, 0)
        if text.startswith("[", position):
            position = _skip(text, position + 1)
            while position < len(text) and text[position] != "]":
                value, end = decoder.raw_decode(text, position)
                items.append((value, position))
                position = _skip(text, end)
                if text.startswith(",", position):
                    position = _skip(text, position + 1)
            if not text.startswith("]", position):
                raise json.JSONDecodeError("expected ']'", text, position)
            position = _skip(text, position + 1)
        else:
            value, end = decoder.raw_decode(text, position)
            items.append((value, position))
            position = _skip(text, end)
        if position < len(text):
            raise json.JSONDecodeError("unexpected text after the JSON value", text, position)
    except json.JSONDecodeError as error:
        collector.report(
            Problem(
                message=f"not valid JSON: {error.msg}",
                source=source,
                line=first_line + error.lineno - 1,
                column=error.colno,
                line_text=text.split("\n")[error.lineno - 1],
                code="json-error",
            )
        )
    except RecursionError:
        collector.report(
            Problem(message="JSON nested too deeply to read", source=source, code="json-depth")
        )
        return []
    records = []
    for value, start in items:
        line = _line_of(text, start, first_line)
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
            collector.report(
                Problem(
                    message=f"expected an object, found {type(value).__name__}",
                    source=source,
                    line=line,
                    code="not-an-object",
                )
            )
    return records
