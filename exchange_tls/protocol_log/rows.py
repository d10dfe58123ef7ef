"""The protocol log reader's engine: rows split as ``csv`` splits them, checked and typed.

Theory of operation. The text (a file streamed through a decoder, or text in memory) is
split into rows, 256 at a time, as the standard library's ``csv`` module splits it: lines
without a quote by ``str.split``, the rest by ``csv`` itself
(:class:`~exchange_tls.protocol_log.streams.Records`). Each batch takes one of two paths:

* the fast path, for the normal case of a log written by Exchange: no ``#`` directive,
  no blank line, nine fields in the standard order on every row. Timestamps, sequence
  numbers and events are checked column by column with C-level ``map``; rows are built
  in bulk;
* the careful path, line by line, for everything else: header directives, a
  ``#Fields`` line that reorders or adds columns, blank lines, and bad rows. A bad row
  becomes a :class:`~exchange_tls.Problem` at its file and line (or raises, in
  ``errors="raise"`` mode), so rows in equal rows out plus rows reported.

A batch that fails any fast-path check is read again on the careful path; the two give
the same rows and problems (a property test holds them to it). Memory is one batch and its
rows, whatever the size of the log.
"""

from __future__ import annotations

import csv
import datetime as dt
import operator
import re
import sys
from collections.abc import Callable, Iterator

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogHeader, ProtocolLogRow
from exchange_tls.protocol_log.streams import PhysicalLines, Records
from exchange_tls.sources import (
    SourceRef,
    hide_nul,
    replace_undecodable,
    restore_nul,
)

__all__ = ["STANDARD_FIELDS", "LogReader", "render_fields"]

#: The nine fields of every Exchange protocol log since 2007, in order.
STANDARD_FIELDS = (
    "date-time",
    "connector-id",
    "session-id",
    "sequence-number",
    "local-endpoint",
    "remote-endpoint",
    "event",
    "data",
    "context",
)
_EVENTS = {event.value: event for event in Event}
_DIRECTIVE_NAMES = frozenset({"software", "version", "log-type", "date", "fields"})
_DIRECTIVE = re.compile(r"^#(?P<name>[A-Za-z-]+):\s?(?P<value>.*)$")
# Rows are checked and built in batches; small batches keep the work in the CPU cache
# (measured: 64 to 512 rows are alike, see benchmarks/README.md).
_BATCH_ROWS = 256
_fromisoformat = dt.datetime.fromisoformat
if sys.version_info >= (3, 11):
    _fast_stamp = dt.datetime.fromisoformat
else:

    def _fast_stamp(text: str) -> dt.datetime:
        # Python 3.10's fromisoformat takes no "Z", which ends every stamp Exchange writes;
        # without this, every batch would fall back to the careful path on 3.10.
        return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] == "Z" else text)


_tzinfo = operator.attrgetter("tzinfo")
_UTC_ONLY = {dt.timezone.utc}
# Exchange numbers the rows of a session from 0 in an Int32; more digits than an Int64
# holds are not a sequence number (and int() of thousands of digits is slow or refused).
_MAX_SEQUENCE_DIGITS = 19


def _parse_timestamp(text: str) -> dt.datetime | None:
    """Read ``2017-10-07T04:42:56.804Z``; ``None`` when it is not a UTC timestamp."""
    try:
        value = _fromisoformat(text)
    except ValueError:
        # Python 3.10's fromisoformat rejects "Z" and 1, 2, 4 or 5 fraction digits.
        match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z", text)
        if match is None:
            return None
        fraction = (match.group(2) or "").ljust(6, "0")
        try:
            value = _fromisoformat(f"{match.group(1)}.{fraction}+00:00")
        except ValueError:
            return None
    if value.tzinfo is None:
        return None
    if not value.utcoffset():
        return value
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        return None  # a local time whose UTC moment lies outside the years 1 to 9999


def _sequence_number(text: str) -> int | None:
    """Read a sequence number: ASCII digits only, as Exchange writes them.

    ``int()`` also takes ``-1``, ``+5``, ``1_0``, blanks around the digits and the
    digits of every script, and ``str.isdigit()`` takes ``²``, which ``int()`` refuses;
    both paths of the reader use this one rule.
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_SEQUENCE_DIGITS:
        return None
    return int(text)


# A session's rows are numbered from 0, so nearly every sequence number written is one of
# these: looked up, they cost a third of checking and converting each text.
_SMALL_NUMBERS = {str(number): number for number in range(4096)}
_small_number = _SMALL_NUMBERS.__getitem__


def _all_sequence_numbers(texts: tuple[str, ...]) -> list[int] | None:
    """Read a whole column by :func:`_sequence_number`'s rule; ``None`` if any fails."""
    try:
        return list(map(_small_number, texts))
    except KeyError:
        pass  # a larger number, or a text to check: "007", "-1", "", "²"
    if "" in texts:
        return None
    joined = "".join(texts)
    if not (joined.isascii() and joined.isdigit()):
        return None  # a sign, an underscore, a blank or a non-ASCII digit somewhere
    if max(map(len, texts)) > _MAX_SEQUENCE_DIGITS:
        return None
    return list(map(int, texts))


class _Columns:
    """Where each standard field is in a row, from the last ``#Fields`` line."""

    __slots__ = ("count", "names", "positions", "standard")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.count = len(names)
        self.standard = names == STANDARD_FIELDS
        folded = [name.strip().casefold() for name in names]
        #: For each standard field, its position in the row, or ``None`` when absent.
        self.positions = [
            folded.index(field) if field in folded else None for field in STANDARD_FIELDS
        ]


_STANDARD = _Columns(STANDARD_FIELDS)


class LogReader:
    """Reads one log, batch by batch; holds what a header said so far."""

    def __init__(
        self,
        name: str,
        collector: ProblemCollector,
        *,
        direction: Direction | None = None,
        pasted: bool = False,
    ) -> None:
        self.name = name
        self.collector = collector
        self.columns = _STANDARD
        self.direction = direction
        self.pasted = pasted
        self.headers: list[ProtocolLogHeader] = []
        self._directives: dict[str, str] = {}
        self._directive_line = 0

    # -- problems ------------------------------------------------------------------------

    def problem(
        self,
        message: str,
        line: int,
        text: str | None,
        code: str,
        *,
        column: int | None = 1,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Report a problem at a line of this log; ``text`` is the line, when it helps."""
        self.collector.report(
            Problem(
                message=message,
                source=self.name,
                line=line,
                column=column,
                line_text=text,
                severity=severity,
                code=code,
            )
        )

    # -- batches -------------------------------------------------------------------------

    def batches(
        self, text: Iterator[str], reopen: Callable[[], Iterator[str]] | None = None
    ) -> Iterator[list[ProtocolLogRow]]:
        """Read the rows of a text's lines, a batch at a time.

        ``text``'s lines are split as ``csv.reader`` splits them (:class:`Records`); ``reopen``
        gives the same lines again from the start: where a quote left open made ``csv``
        join lines into one row, those lines are split again one by one.
        """
        line = 0
        split = Records(text)
        physical = PhysicalLines(reopen)
        try:
            while True:
                # The records split before an error are kept, and the reader goes on with
                # the next line afterwards: one bad line costs only itself.
                batch, failure, undecodable = split.take(_BATCH_ROWS)
                if not batch and failure is None:
                    if self._directives:
                        self._finish_header()  # a header block that never reached #Fields
                    return
                first, line = line + 1, split.line_num
                if failure is not None:
                    # Usually a quote left open: csv joined the lines after it into one
                    # field until the field limit. Each line is split again on its own,
                    # so the open quote costs only its line.
                    lines = physical.take(first, line)
                    if lines is not None:
                        batch = self._split_lines(lines, first)
                    else:
                        self.problem(f"cannot split the row: {failure}", line, "", "csv-error")
                elif line - first + 1 != len(batch):
                    # Exchange writes no line breaks inside fields (it escapes them), so
                    # a row that spans lines is a quote left open: read line by line.
                    lines = physical.take(first, line)
                    if lines is not None:
                        batch = self._split_lines(lines, first)
                    else:
                        self._spanning_lines(first)
                if undecodable:
                    batch = self._replace_undecodable(batch, first)
                yield self._rows(batch, first)
        finally:
            physical.close()

    def _rows(self, batch: list[list[str]], first: int) -> list[ProtocolLogRow]:
        """Read a batch's rows: the fast way when it can, else each row carefully.

        The header's directives, which open a file, are read carefully on their own, so
        that the rows after them can still be read the fast way (a small file is often
        one batch).
        """
        if self.pasted:
            return self._careful(batch, first)
        lead = 0
        while lead < len(batch) and batch[lead] and batch[lead][0].startswith("#"):
            lead += 1
        head: list[ProtocolLogRow] = []
        if lead and lead < len(batch):
            head = self._careful(batch[:lead], first)
            batch, first = batch[lead:], first + lead
        rows = self._fast(batch, first) if self.columns.standard else None
        return head + (rows if rows is not None else self._careful(batch, first))

    def _split_lines(self, lines: list[str], first: int) -> list[list[str]]:
        """Split each line on its own; report the quotes left open at the line's end."""
        batch: list[list[str]] = []
        for offset, text in enumerate(lines):
            text = text.rstrip("\r\n")
            hidden, stand_in = hide_nul(text)
            try:
                fields = restore_nul(next(csv.reader((hidden,), strict=True), []), stand_in)
            except csv.Error:
                try:
                    fields = restore_nul(next(csv.reader((hidden,)), []), stand_in)
                except csv.Error as error:
                    # A field beyond csv's limit: the line is reported, not read.
                    self.problem(f"cannot split the row: {error}", first + offset, "", "csv-error")
                    batch.append([])
                    continue
                self.problem(
                    "a quoted field is not closed on its line; read it to the end of the line",
                    first + offset,
                    text,
                    "unclosed-quote",
                    column=_open_quote_column(text),
                    severity=Severity.WARNING,
                )
            batch.append(fields)
        return batch

    def _spanning_lines(self, first: int) -> None:
        self.problem(
            "a quoted field spans lines here; line numbers that follow may be off by the "
            "extra lines",
            first,
            None,
            "field-spans-lines",
            column=None,
            severity=Severity.WARNING,
        )

    def _replace_undecodable(self, batch: list[list[str]], first: int) -> list[list[str]]:
        cleaned = []
        for offset, fields in enumerate(batch):
            line = ",".join(fields)
            _, problems = replace_undecodable(line, self.name, first_line=first + offset)
            if problems:
                self.collector.extend(problems)
                fields = [replace_undecodable(field, self.name)[0] for field in fields]
            cleaned.append(fields)
        return cleaned

    def _fast(self, batch: list[list[str]], first: int) -> list[ProtocolLogRow] | None:
        try:
            # Nine fields on every row, or a ValueError: zip's strict check refuses rows
            # of different lengths, and the unpacking any other number of columns.
            (stamps, connectors, sessions, numbers, local, remote, events, data, contexts) = zip(
                *batch, strict=True
            )
            typed_events = list(map(_EVENTS.__getitem__, events))
        except (ValueError, KeyError):
            return None
        # A directive line ("#Fields: …") fails the timestamp check below, so directives
        # need no test of their own here.
        sequence = _all_sequence_numbers(numbers)
        if sequence is None:
            return None
        try:
            timestamps = list(map(_fast_stamp, stamps))
        except ValueError:
            return None
        if set(map(_tzinfo, timestamps)) != _UTC_ONLY:
            return None
        return ProtocolLogRow.from_columns(
            (
                timestamps,
                connectors,
                sessions,
                sequence,
                local,
                remote,
                typed_events,
                data,
                contexts,
            ),
            path=self.name,
            first_line=first,
            direction=self.direction,
        )

    def _careful(self, batch: list[list[str]], first: int) -> list[ProtocolLogRow]:
        rows: list[ProtocolLogRow] = []
        for offset, fields in enumerate(batch):
            number = first + offset
            if not fields:
                continue  # an empty line
            if len(fields) == 1 and fields[0] and not fields[0].strip():
                # Blanks (and at most a stray quote): nothing to read, but not nothing.
                self.problem(
                    "skipped a line that holds only blanks",
                    number,
                    None,
                    "blank-line",
                    column=None,
                    severity=Severity.INFO,
                )
                continue
            # [""] comes only from a line of quotes: garbage, reported as a row with the
            # wrong field count below.
            if fields[0].startswith("#"):
                self._directive(",".join(fields), number)
                continue
            row = self._row(fields, number)
            if row is not None:
                rows.append(row)
        return rows

    # -- header --------------------------------------------------------------------------

    def _directive(self, line: str, number: int) -> None:
        match = _DIRECTIVE.match(line)
        if match is None:
            self.problem(
                "ignored a '#' line that is not a header directive",
                number,
                line,
                "not-a-directive",
                severity=Severity.INFO,
            )
            return
        name, value = match.group("name").casefold(), match.group("value").strip()
        if name not in _DIRECTIVE_NAMES:
            self.problem(
                f"ignored an unknown header directive #{match.group('name')}",
                number,
                line,
                "unknown-directive",
                severity=Severity.INFO,
            )
            return
        if not value:
            self.problem(
                f"ignored the header directive #{match.group('name')}: it has no value",
                number,
                line,
                "empty-directive",
                severity=Severity.INFO,
            )
            return
        if self._directives and (name == "software" or name in self._directives):
            # A new block began before the last one reached #Fields: keep that one too.
            self._finish_header()
        if not self._directives:
            self._directive_line = number
        self._directives[name] = value
        if name == "log-type":
            header = ProtocolLogHeader(log_type=value)
            if header.direction is not None:
                self.direction = header.direction
        if name == "fields":
            self._set_fields(tuple(field.strip() for field in value.split(",")), number, line)
            self._finish_header(with_fields=True)

    def _set_fields(self, names: tuple[str, ...], number: int, line: str) -> None:
        columns = _Columns(names)
        missing = [STANDARD_FIELDS[i] for i, at in enumerate(columns.positions) if at is None]
        if missing:
            self.problem(
                f"#Fields lacks {', '.join(missing)}; those fields will be empty",
                number,
                line,
                "fields-missing",
            )
        self.columns = columns

    def _finish_header(self, *, with_fields: bool = False) -> None:
        """Record the header block read so far; ``with_fields`` when #Fields ended it."""
        directives = self._directives
        date = _parse_timestamp(directives.get("date", ""))
        if date is None and directives.get("date"):
            self.problem(
                "cannot read the #Date directive as a timestamp; the header is kept without a date",
                self._directive_line,
                "#Date: " + directives["date"],
                "bad-header-date",
                column=None,
                severity=Severity.WARNING,
            )
        self.headers.append(
            ProtocolLogHeader(
                software=directives.get("software"),
                version=directives.get("version"),
                log_type=directives.get("log-type"),
                date=date,
                fields=self.columns.names if with_fields else (),
                source=SourceRef(self.name, self._directive_line),
            )
        )
        self._directives = {}

    # -- rows ----------------------------------------------------------------------------

    def _row(self, fields: list[str], number: int) -> ProtocolLogRow | None:
        line = render_fields(fields)
        columns = self.columns
        folded = [field.strip().casefold() for field in fields]
        if "date-time" in folded and "session-id" in folded:
            # A stray CSV header (the field names without '#Fields: ') sets the columns.
            self._set_fields(tuple(field.strip() for field in fields), number, line)
            self.problem(
                "read a header line without '#Fields:' as the field names",
                number,
                None,
                "csv-header",
                column=None,
                severity=Severity.INFO,
            )
            return None
        if self.pasted and len(fields) == columns.count + 1 and fields[-1] == "":
            fields.pop()  # a trailing comma a paste added
        if len(fields) != columns.count:
            self.problem(
                f"expected {columns.count} fields, found {len(fields)}",
                number,
                line,
                "field-count",
            )
            return None
        named = (fields[at] if at is not None else "" for at in columns.positions)
        stamp, connector_id, session_id, number_text, local, remote, event_field, data, context = (
            named
        )
        timestamp = _parse_timestamp(stamp)
        if timestamp is None:
            self.problem(
                f"expected a UTC timestamp such as 2017-10-07T04:42:56.804Z, found {stamp!r}",
                number,
                line,
                "bad-timestamp",
            )
            return None
        event_text = event_field.strip()
        if event_text == "" and self.pasted:
            event_text = "*"
            self.problem(
                "restored the '*' event that the paste lost",
                number,
                None,
                "pasted-event",
                column=None,
                severity=Severity.INFO,
            )
        event = _EVENTS.get(event_text)
        if event is None:
            self.problem(
                f"unknown event {event_field!r}; expected one of + - > < *",
                number,
                line,
                "unknown-event",
                column=_column_of(line, 6),
            )
            return None
        sequence = _sequence_number(number_text)
        if sequence is None:
            self.problem(
                f"sequence number {number_text!r} is not a number; kept as unknown",
                number,
                line,
                "bad-sequence",
                column=_column_of(line, 3),
                severity=Severity.WARNING,
            )
        return ProtocolLogRow(
            timestamp,
            connector_id,
            session_id,
            sequence,
            local,
            remote,
            event,
            data,
            context,
            self.name,
            number,
            self.direction,
        )


def _column_of(line: str, field: int) -> int:
    """Return the 1-based column where field ``field`` starts (ignoring quoting)."""
    position = 0
    for _ in range(field):
        comma = line.find(",", position)
        if comma == -1:
            return 1
        position = comma + 1
    return position + 1


def _open_quote_column(line: str) -> int:
    """Return the 1-based column of the quote that opens the field left open."""
    inside, opened, previous = False, 0, ","
    for index, char in enumerate(line):
        if char == '"' and (inside or previous == ","):
            if not inside:
                opened = index
            inside = not inside
        previous = char
    return opened + 1


def render_fields(fields: list[str]) -> str:
    """Write fields back as Exchange does, for showing a row in a problem."""
    return ",".join(
        f'"{field.replace(chr(34), chr(34) * 2)}"' if "," in field or '"' in field else field
        for field in fields
    )
