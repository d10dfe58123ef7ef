r"""Read event log evidence in every form an admin exports it.

=====================  ===================================================================
form                   how it is written
=====================  ===================================================================
PowerShell             ``Get-WinEvent`` or ``Get-EventLog`` as Format-List, Export-Csv,
                       ConvertTo-Json or Export-Clixml (the shared ``powershell`` readers)
XML                    ``wevtutil qe Application /f:xml``, ``Get-WinEvent | ForEach-Object
                       ToXml``, Event Viewer's "Save as XML"
Event Viewer text      Event Viewer's "Copy details as text" (``Log Name:``, ``Source:``,
                       ``Event ID:`` … ``Description:``)
``.evtx``              the binary log itself, through the ``evtx`` extra
                       (:func:`read_events` only)
=====================  ===================================================================
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.errors import ErrorMode, ParseError, Problem, ProblemCollector, Severity
from exchange_tls.events.models import EventRecord, Level
from exchange_tls.events.xml import RawEvent, looks_like_event_xml, read_event_xml
from exchange_tls.moments import to_utc
from exchange_tls.powershell.binding import RecordBinder, parse_records, split_lines
from exchange_tls.powershell.dates import DateOrder, from_iso
from exchange_tls.powershell.prompts import has_prompts, without_prompts
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject, PSProperty, PSValue
from exchange_tls.powershell.values import as_int, as_text
from exchange_tls.results import ReadResult
from exchange_tls.sources import SourceRef, decode_bytes

__all__ = [
    "EVTX_MAGIC",
    "EventFormat",
    "looks_like_events",
    "parse_events",
    "read_events",
    "recognises_events",
]

#: The forms :func:`parse_events` reads.
EventFormat = Literal["auto", "list", "table", "csv", "json", "clixml", "xml", "viewer"]

#: How an .evtx file begins.
EVTX_MAGIC = b"ElfFile\x00"

# Event levels by number (the event schema) and by Get-EventLog's EntryType number.
_LEVEL_NUMBERS = {
    1: Level.CRITICAL,
    2: Level.ERROR,
    3: Level.WARNING,
    4: Level.INFORMATION,
    5: Level.VERBOSE,
}
_ENTRY_TYPE_NUMBERS = {1: Level.ERROR, 2: Level.WARNING, 4: Level.INFORMATION}
_LEVEL_NAMES = {level.value.casefold(): level for level in Level} | {
    "erreur": Level.ERROR,
    "fehler": Level.ERROR,
    "warnung": Level.WARNING,
    "informationen": Level.INFORMATION,
}

_VIEWER_LINE = re.compile(
    r"^(?P<name>Log Name|Source|Date|Event ID|Task Category|Level|Keywords|User|Computer|"
    r"OpCode|Description):[ \t]*(?P<value>.*)$"
)
_EVENT_PROPERTIES = ("ProviderName", "TimeCreated", "EntryType", "InstanceId", "LogName")


def looks_like_events(records: list[PSObject]) -> bool:
    """Whether PowerShell records are event log entries (Get-WinEvent or Get-EventLog)."""
    for record in records[:20]:
        if any("EventLogRecord" in name or "EventLogEntry" in name for name in record.type_names):
            return True
        names = {name.casefold() for name in record.names}
        if ("id" in names or "eventid" in names or "instanceid" in names) and any(
            prop.casefold() in names for prop in _EVENT_PROPERTIES
        ):
            return True
    return False


def _event_id(record: PSObject) -> int | None:
    for name in ("Id", "EventID", "EventId"):
        number = as_int(record.value_of(name))
        if number is not None:
            return number & 0xFFFF
    # Get-EventLog's InstanceId carries the qualifiers in its high bits: 3221499630 is
    # event 12014 of MSExchangeTransport.
    instance = as_int(record.value_of("InstanceId"))
    return None if instance is None else instance & 0xFFFF


def _level(value: PSValue, numbers: dict[int, Level]) -> Level | None:
    number = value.value if isinstance(value, PSObject) else value
    if isinstance(number, int) and not isinstance(number, bool):
        if isinstance(value, PSObject) and value.to_string:
            return _LEVEL_NAMES.get(value.to_string.casefold())
        return numbers.get(number)
    text = as_text(value)
    if text is None:
        return None
    if text.isdigit():
        return numbers.get(int(text))
    return _LEVEL_NAMES.get(text.casefold())


_TYPE_NAME = re.compile(r"^System(?:\.[A-Za-z_]\w*)+$")


def _is_type_name(item: PSValue) -> bool:
    return isinstance(item, str) and _TYPE_NAME.match(item) is not None


def _depth_cut(record: PSObject) -> int | None:
    """Return the line of Properties that ConvertTo-Json cut to type names, if it did."""
    prop = record.get("Properties")
    if prop is None:
        return None
    items = prop.value.value if isinstance(prop.value, PSObject) else prop.value
    if isinstance(items, tuple) and items and all(_is_type_name(item) for item in items):
        return prop.line
    return None


def _data(record: PSObject) -> tuple[tuple[str | None, str], ...] | None:
    """Return Get-WinEvent's Properties or Get-EventLog's ReplacementStrings as data."""
    for name in ("Properties", "ReplacementStrings"):
        value = record.value_of(name)
        if value is None:
            continue
        items = value.value if isinstance(value, PSObject) else value
        if isinstance(items, tuple):
            if items and all(_is_type_name(item) for item in items):
                # ConvertTo-Json's default depth (2) writes each EventProperty as its
                # type name: the values are lost, not empty.
                return None
            texts: list[tuple[str | None, str]] = []
            for item in items:
                inner = item.value_of("Value") if isinstance(item, PSObject) else item
                text = as_text(inner)
                texts.append((None, text or ""))
            return tuple(texts)
        text = as_text(value)
        if text is not None and not text.startswith("System."):
            inner_text = text[1:-1] if text.startswith("{") and text.endswith("}") else text
            parts = [part.strip() for part in inner_text.split(",")]
            # Format-List shows Properties as "{System.Diagnostics.Eventing.Reader.
            # EventProperty, ...}": type names, not the values.
            if all(_is_type_name(part.rstrip(".\u2026")) for part in parts):
                return None
            return tuple((None, part) for part in parts)
    return None


class _Binder(RecordBinder[EventRecord]):
    def bind(self, record: PSObject) -> EventRecord | None:
        value = record.value_of
        event_id = _event_id(record)
        provider = as_text(value("ProviderName")) or as_text(value("Source"))
        if event_id is None and provider is None:
            self.report(
                "record has no event id or provider; it is not an event "
                f"(properties: {', '.join(record.names[:6])})",
                record.source.line,
                "not-an-event",
            )
            return None
        level = _level(value("LevelDisplayName"), _LEVEL_NUMBERS) or _level(
            value("Level"), _LEVEL_NUMBERS
        )
        if level is None:
            level = _level(value("EntryType"), _ENTRY_TYPE_NUMBERS)
        time = self.date(record, "TimeCreated") or self.date(record, "TimeGenerated")
        cut = _depth_cut(record)
        if cut is not None:
            self.report(
                "the event's data fields were written as type names (ConvertTo-Json's "
                "default depth); export with ConvertTo-Json -Depth 3 to keep them",
                cut,
                "event-data-cut",
            )
        return EventRecord(
            log=as_text(value("LogName")) or as_text(value("ContainerLog")),
            provider=provider,
            event_id=event_id,
            level=level,
            time=time,
            machine=as_text(value("MachineName")),
            message=as_text(value("Message")),
            record_id=as_int(value("RecordId")) or as_int(value("Index")),
            data=_data(record),
            source=record.source,
        )


def _from_raw(raw: RawEvent, source: SourceRef, collector: ProblemCollector) -> EventRecord:
    attributes = raw["attributes"]
    event_id_text = str(raw.get("System/EventID") or "")
    event_id = int(event_id_text) & 0xFFFF if event_id_text.isdigit() else None
    if event_id is None:
        collector.report(
            Problem(
                message="event without a numeric EventID",
                source=source.source,
                line=source.line,
                severity=Severity.WARNING,
                code="event-without-id",
            )
        )
    level_text = raw.get("RenderingInfo/Level")
    level = _LEVEL_NAMES.get((level_text or "").casefold())
    if level is None and (raw.get("System/Level") or "").isdigit():
        level = _LEVEL_NUMBERS.get(int(raw["System/Level"]))
    time = None
    stamp = attributes.get("TimeCreated@SystemTime")
    if stamp:
        parsed: dt.datetime | None
        try:
            # None for a local time whose UTC moment lies outside the years 1 to 9999.
            parsed = to_utc(from_iso(stamp))
        except ValueError:
            parsed = None
        if parsed is None:
            collector.report(
                Problem(
                    message=f"TimeCreated {stamp!r} is not an ISO 8601 time in the years 1 to 9999",
                    source=source.source,
                    line=source.line,
                    severity=Severity.WARNING,
                    code="bad-event-time",
                )
            )
        else:
            time = parsed
    record = str(raw.get("System/EventRecordID") or "")
    data = raw["data"]
    return EventRecord(
        log=raw.get("System/Channel"),
        provider=attributes.get("Provider@Name") or attributes.get("Provider@EventSourceName"),
        event_id=event_id,
        level=level,
        time=time,
        machine=raw.get("System/Computer"),
        message=raw.get("RenderingInfo/Message"),
        record_id=int(record) if record.isdigit() else None,
        data=tuple(data) if data else None,
        source=source,
    )


def _read_viewer(
    lines: list[str], source: str, binder: _Binder, collector: ProblemCollector
) -> list[EventRecord]:
    """Read Event Viewer's "Copy details as text" blocks, with their "Event Xml:" part."""
    events: list[EventRecord] = []
    fields: dict[str, str] = {}
    message: list[str] = []
    xml: list[str] = []
    start = xml_start = 1
    in_description = in_xml = False

    def finish() -> None:
        if not fields:
            return
        date = PSObject(
            (PSProperty(name="Date", value=fields.get("Date"), line=start),),
            SourceRef(source, start),
        )
        event_id_text = fields.get("Event ID", "")
        event = EventRecord(
            log=fields.get("Log Name") or None,
            provider=fields.get("Source") or None,
            event_id=int(event_id_text) & 0xFFFF if event_id_text.isdigit() else None,
            level=_LEVEL_NAMES.get(fields.get("Level", "").casefold()),
            time=None,
            machine=fields.get("Computer") or None,
            message="\n".join(message).strip() or None,
            source=SourceRef(source, start),
        )
        raws = (
            read_event_xml("\n".join(xml), source=source, collector=collector, first_line=xml_start)
            if any(line.strip() for line in xml)
            else []
        )
        if len(raws) == 1:
            # The copy's "Event Xml:" part holds what the header lines leave out or
            # round: the time in UTC to the sub-second, the record id, the data fields.
            # The description is only in the header part.
            found = _from_raw(raws[0][0], SourceRef(source, start), collector)
            event = attrs.evolve(
                found,
                log=found.log or event.log,
                provider=found.provider or event.provider,
                event_id=found.event_id if found.event_id is not None else event.event_id,
                level=found.level or event.level,
                machine=found.machine or event.machine,
                message=event.message,
            )
        if event.time is None:
            event = attrs.evolve(event, time=binder.date(date, "Date"))
        events.append(event)

    for number, line in enumerate(lines, start=1):
        match = _VIEWER_LINE.match(line.strip())
        if match is not None and match.group("name") == "Log Name":
            finish()
            fields, message, xml, start = {}, [], [], number
            in_description = in_xml = False
        if in_xml:
            xml.append(line)
        elif fields and line.strip() == "Event Xml:":
            in_description, in_xml, xml_start = False, True, number + 1
        elif match is not None and not (in_description and match.group("name") != "Log Name"):
            name, value = match.group("name"), match.group("value").strip()
            if name == "Description":
                in_description = True
                if value:
                    message.append(value)
                continue
            fields[name] = value
        elif in_description or fields:
            # Pages that quote an event often drop the "Description:" label; the text
            # after the header lines is the description all the same.
            in_description = True
            message.append(line.rstrip())
        elif line.strip():
            collector.report(
                Problem(
                    message="ignored a line outside an event",
                    source=source,
                    line=number,
                    column=1,
                    line_text=line,
                    severity=Severity.INFO,
                    code="not-an-event-line",
                )
            )
    finish()
    return events


def _looks_like_viewer(lines: list[str]) -> bool:
    content = [line.strip() for line in lines[:40] if line.strip()]
    return (
        bool(content)
        and content[0].startswith("Log Name:")
        and any(line.startswith("Event ID:") for line in content)
    )


def recognises_events(head: str, records: list[PSObject] | None = None) -> bool:
    """Whether text (its first kilobytes) or its PowerShell records are event log entries.

    The one test a table of evidence kinds needs: event XML or Event Viewer text from the
    text; Get-WinEvent or Get-EventLog output from the records.
    """
    if looks_like_event_xml(head) or _looks_like_viewer(split_lines(head[:4000])):
        return True
    return records is not None and looks_like_events(records)


def parse_events(
    text: str,
    *,
    source: str = "<events>",
    format: EventFormat = "auto",
    errors: ErrorMode = "collect",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
) -> ReadResult[EventRecord]:
    r"""Read event log entries from text in any of the forms this module lists.

    Times in text forms are the server's local time; ``tz`` says which zone that is.

    >>> from exchange_tls import parse_events
    >>> [event] = parse_events(
    ...     "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    ...     "<Provider Name='Schannel'/><EventID>36871</EventID><Level>2</Level>"
    ...     "<TimeCreated SystemTime='2024-06-01T10:00:00.000Z'/><Channel>System</Channel>"
    ...     "<Computer>EX01.contoso.com</Computer></System><EventData>"
    ...     "<Data Name='Type'>client</Data><Data Name='ErrorState'>10013</Data>"
    ...     "</EventData></Event>"
    ... )
    >>> event.provider, event.event_id, event.level.value, event.datum("Type")
    ('Schannel', 36871, 'Error', 'client')
    >>> event.meaning.name
    'credential-creation-failed'
    """
    check_arguments(
        "parse_events",
        text=text,
        source=source,
        format=format,
        errors=errors,
        date_order=date_order,
        tz=tz,
    )
    collector = ProblemCollector(errors)
    valid = ("auto", "list", "table", "csv", "json", "clixml", "xml", "viewer")
    if format not in valid:
        raise ValueError(f"format must be one of {', '.join(valid)}, not {format!r}")
    lines = split_lines(text)
    if has_prompts(lines):
        lines = without_prompts(lines, source, collector)
        text = "\n".join(lines)
    if format == "xml" or (format == "auto" and looks_like_event_xml(text)):
        events = [
            _from_raw(raw, ref, collector)
            for raw, ref in read_event_xml(text, source=source, collector=collector)
        ]
        return ReadResult(items=events, problems=collector.problems, format="xml", source=source)
    if format == "viewer" or (format == "auto" and _looks_like_viewer(lines)):
        binder = _Binder(source, collector, date_order, tz)
        events = _read_viewer(lines, source, binder, collector)
        return ReadResult(items=events, problems=collector.problems, format="viewer", source=source)
    ps_format: Format | Literal["auto"] = format
    return parse_records(
        lines,
        _Binder,
        source=source,
        format=ps_format,
        errors=collector,
        date_properties=("TimeCreated", "TimeGenerated"),
        date_order=date_order,
        tz=tz,
    )


def _read_evtx(data: bytes, name: str, collector: ProblemCollector) -> list[EventRecord]:
    try:
        import evtx
    except ImportError as error:
        raise ParseError(
            "an .evtx file needs the 'evtx' extra: pip install 'exchange_tls[evtx]'",
            source=name,
            line=None,
            code="evtx-extra-missing",
        ) from error
    events: list[EventRecord] = []
    try:
        parser: Any = evtx.PyEvtxParser(io.BytesIO(data))
        records: Iterator[Any] = parser.records()
        for number, item in enumerate(records, start=1):
            if isinstance(item, Exception):
                collector.report(
                    Problem(
                        message=f"record {number} could not be read: {item}",
                        source=name,
                        severity=Severity.WARNING,
                        code="evtx-record",
                    )
                )
                continue
            label = f"{name}#{item.get('event_record_id', number)}"
            for raw, _ in read_event_xml(str(item["data"]), source=label, collector=collector):
                events.append(_from_raw(raw, SourceRef(label), collector))
    except (OSError, RuntimeError, ValueError) as error:
        collector.report(
            Problem(
                message=f"the .evtx file could not be read: {error}",
                source=name,
                code="evtx-error",
            )
        )
    if not events and not collector.problems:
        collector.report(
            Problem(
                message="no event could be read from the .evtx file (empty, or its chunks "
                "are damaged)",
                source=name,
                severity=Severity.WARNING,
                code="evtx-empty",
            )
        )
    return events


def read_events(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: EventFormat = "auto",
    errors: ErrorMode = "collect",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
) -> ReadResult[EventRecord]:
    """Read a file of events in any encoding; an ``.evtx`` file needs the ``evtx`` extra."""
    check_arguments(
        "read_events", file=file, format=format, errors=errors, date_order=date_order, tz=tz
    )
    if isinstance(file, (str, os.PathLike)):
        name = str(file)
        data = Path(file).read_bytes()
    else:
        data = file.read()
        name = str(getattr(file, "name", "<stream>"))
    if data.startswith(EVTX_MAGIC):
        collector = ProblemCollector(errors)
        events = _read_evtx(data, name, collector)
        return ReadResult(items=events, problems=collector.problems, format="evtx", source=name)
    decoded = decode_bytes(data, name)
    result = parse_events(
        decoded.text, source=name, format=format, errors=errors, date_order=date_order, tz=tz
    )
    return attrs.evolve(result, problems=(*decoded.problems, *result.problems))
