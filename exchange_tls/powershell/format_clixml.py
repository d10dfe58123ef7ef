"""Read ``Export-Clixml`` output into records, safely.

CLIXML is PowerShell's own XML serialization
(``<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04">``). Each top-level
``<Obj>`` becomes a record; ``<Props>`` and ``<MS>`` give its properties; ``<TN>`` its
type names; ``<ToString>`` its display text; enums carry their name in ``<ToString>`` and
their number as a primitive. Objects referenced again with ``<Ref>`` resolve to the same
record.

The XML is parsed by :mod:`defusedxml`, which refuses entity declarations (billion
laughs) and external references. Nesting deeper than :data:`MAX_DEPTH` is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import xml.sax
from typing import Any

import attrs

from exchange_tls.errors import Problem, ProblemCollector
from exchange_tls.powershell.dates import parse_serialized_datetime
from exchange_tls.powershell.records import PSObject, PSProperty, PSValue
from exchange_tls.powershell.safe_xml import (
    MAX_ATTRIBUTE_CHARS,
    XmlTooDeep,
    XmlTooLong,
    parse_xml,
)
from exchange_tls.sources import SourceRef

__all__ = ["MAX_ATTRIBUTE_CHARS", "MAX_DEPTH", "looks_like_clixml", "read_clixml"]

#: The deepest element nesting read; Exchange objects need fewer than 30 levels.
MAX_DEPTH = 200

_NAMESPACE = "schemas.microsoft.com/powershell/2004/04"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_INTEGERS = {"I16", "I32", "I64", "U8", "SB", "UI16", "UI32", "UI64", "By"}
_FLOATS = {"Db", "Sg", "D"}
_LISTS = {"LST", "IE", "STK", "QUE"}
# .NET's TimeSpan.MaxValue is 10,675,199 days; longer digit runs are not durations, and
# bounding them keeps int() and float() fast.
_TIMESPAN = re.compile(
    r"^(?P<sign>-)?P(?:(?P<days>\d{1,9})D)?(?:T(?:(?P<hours>\d{1,12})H)?(?:(?P<minutes>\d{1,14})M)?"
    r"(?:(?P<seconds>\d{1,16}(?:\.\d{1,16})?)S)?)?$"
)


def looks_like_clixml(text: str) -> bool:
    """Whether ``text`` is CLIXML (its root names PowerShell's namespace)."""
    head = text.lstrip()[:400]
    return head.startswith(("<Objs", "<?xml")) and _NAMESPACE in head


def _unescape(text: str) -> str:
    """Undo CLIXML's ``_xHHHH_`` escapes of characters XML cannot carry."""
    return _ESCAPE.sub(_unescaped, text)


def _unescaped(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    # A lone surrogate is not a character; no encoding can write it out again.
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def _timespan(text: str) -> dt.timedelta | str:
    match = _TIMESPAN.match(text.strip())
    if match is None:
        return text
    try:
        delta = dt.timedelta(
            days=int(match.group("days") or 0),
            hours=int(match.group("hours") or 0),
            minutes=int(match.group("minutes") or 0),
            seconds=float(match.group("seconds") or 0),
        )
    except OverflowError:
        return text
    return -delta if match.group("sign") else delta


def _primitive(tag: str, text: str) -> PSValue:
    if tag in _INTEGERS:
        try:
            return int(text)
        except ValueError:
            return text
    if tag in _FLOATS:
        try:
            return float(text)
        except ValueError:
            return text
    if tag == "B":
        return text.strip().lower() == "true"
    if tag == "DT":
        return parse_serialized_datetime(text) or text
    if tag == "TS":
        return _timespan(text)
    if tag == "BA":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return text
    if tag == "Nil":
        return None
    return _unescape(text)


@attrs.define
class _Frame:
    tag: str
    name: str | None
    line: int
    ref_id: str | None = None
    text: list[str] = attrs.Factory(list)
    properties: list[PSProperty] = attrs.Factory(list)
    items: list[PSValue] = attrs.Factory(list)
    type_names: list[str] = attrs.Factory(list)
    to_string: str | None = None
    value: PSValue = None
    has_list: bool = False
    entry_key: PSValue = None
    entry_value: PSValue = None


class _Handler(xml.sax.ContentHandler):
    def __init__(self, source: str, collector: ProblemCollector) -> None:
        super().__init__()
        self.source = source
        self.collector = collector
        self.stack: list[_Frame] = []
        self.records: list[PSObject] = []
        self.objects: dict[str, PSObject] = {}
        self.type_names: dict[str, tuple[str, ...]] = {}
        self._locator: Any = None

    def setDocumentLocator(self, locator: Any) -> None:
        self._locator = locator

    def _line(self) -> int:
        return int(self._locator.getLineNumber()) if self._locator is not None else 1

    def startElement(self, name: str, attrs: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise XmlTooDeep(self._line())
        for value in attrs.values():
            if len(value) > MAX_ATTRIBUTE_CHARS:
                raise XmlTooLong(self._line())
        frame = _Frame(tag=name, name=attrs.get("N"), line=self._line(), ref_id=attrs.get("RefId"))
        if name == "TNRef":
            self.stack[-1].type_names.extend(self.type_names.get(attrs.get("RefId", ""), ()))
        self.stack.append(frame)

    def characters(self, content: str) -> None:
        if self.stack:
            self.stack[-1].text.append(content)

    def endElement(self, name: str) -> None:
        frame = self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        text = "".join(frame.text)
        if name == "Objs" or parent is None:
            return
        if name == "T":
            parent.type_names.append(_unescape(text))
            return
        if name == "TN":
            parent.type_names.extend(frame.type_names)
            if frame.ref_id is not None:
                self.type_names[frame.ref_id] = tuple(frame.type_names)
            return
        if name == "TNRef":
            return
        if name == "ToString":
            parent.to_string = _unescape(text)
            return
        if name in ("Props", "MS"):
            parent.properties.extend(frame.properties)
            return
        if name in _LISTS:
            parent.has_list = True
            parent.items.extend(frame.items)
            return
        if name == "DCT":
            parent.has_list = True
            parent.items.extend(frame.items)
            return
        if name == "En":
            entry = PSObject(
                [
                    PSProperty(name="Key", value=frame.entry_key, line=frame.line),
                    PSProperty(name="Value", value=frame.entry_value, line=frame.line),
                ],
                SourceRef(self.source, frame.line),
            )
            parent.items.append(entry)
            return
        value: PSValue
        if name == "Obj":
            value = self._object(frame)
        elif name == "Ref":
            value = self.objects.get(frame.ref_id or "")
            if value is None:
                self.collector.report(
                    Problem(
                        message=f"<Ref> to unknown object {frame.ref_id!r}",
                        source=self.source,
                        line=frame.line,
                        code="clixml-ref",
                    )
                )
        else:
            value = _primitive(name, text)
        self._attach(parent, frame, value)

    def _object(self, frame: _Frame) -> PSObject:
        record = PSObject(
            frame.properties,
            SourceRef(self.source, frame.line),
            type_names=tuple(frame.type_names),
            to_string=frame.to_string,
            value=tuple(frame.items) if frame.has_list else frame.value,
        )
        if frame.ref_id is not None:
            self.objects[frame.ref_id] = record
        return record

    def _attach(self, parent: _Frame, frame: _Frame, value: PSValue) -> None:
        if parent.tag == "Objs":
            if isinstance(value, PSObject):
                self.records.append(value)
            else:
                # A top-level primitive: Export-Clixml of a string or number.
                self.records.append(PSObject((), SourceRef(self.source, frame.line), value=value))
        elif parent.tag in ("Props", "MS"):
            parent.properties.append(
                PSProperty(name=_unescape(frame.name or ""), value=value, line=frame.line)
            )
        elif parent.tag in _LISTS or parent.tag == "DCT":
            parent.items.append(value)
        elif parent.tag == "En":
            if frame.name == "Key":
                parent.entry_key = value
            else:
                parent.entry_value = value
        elif parent.tag == "Obj":
            # A primitive directly inside an object: the number of an enum, or the value
            # of a wrapped primitive.
            parent.value = value


def read_clixml(
    text: str, *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read Export-Clixml text into records."""
    handler = _Handler(source, collector)
    parse_xml(
        text,
        handler,
        source=source,
        collector=collector,
        depth=MAX_DEPTH,
        line=handler._line,
        first_line=first_line,
    )
    return handler.records
