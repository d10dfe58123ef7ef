"""The columnar fast path: summarise a clean protocol log without a Python object per row.

Theory of operation. With the ``columnar`` extra (pyarrow and numpy), a log file is read
in blocks of raw bytes cut at line ends, and each block is split by pyarrow's CSV reader
into string columns. Nothing is trusted that the careful reader
(:mod:`~exchange_tls.protocol_log.reader`) would read differently:

* the file is UTF-8 (a BOM or none), its ``#`` directives come first and are read by the
  careful reader itself, without a problem, and name the standard fields;
* the block has no NUL, no lone carriage return, one row per physical line, lines of
  at most 100,000 bytes, and each line with a quote is what writing its fields as
  Exchange writes CSV (quoting only fields with ``,`` or ``"``) gives back byte for byte,
  so ``csv`` would split it into the same fields (a line without a quote is split at
  its commas by both);
* every timestamp is ``YYYY-MM-DDTHH:MM:SS.fffZ`` and a real date, every event one of
  ``+ - > < *``, every sequence number ASCII digits;
* no session would meet the session assembler's limits (an hour idle, 90,000 open
  sessions, 90,000 rows), so that no session is cut where the careful path would cut it.

Anything else, and any exception of the engine, makes :func:`summarise_clean_log` return
``None``: the caller reads the file with the careful path instead.

Sessions are found column-wise: rows are grouped by connector and session id, each
disconnect ends a session, and rows are put in sequence order with a stable sort. The
test of :func:`~exchange_tls.protocol_log.facts.plain_success` is made column-wise on
every finished session, the strings it looks at classified once per distinct value.
Plain successes become counts of their tally
(:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.count_plain`). Unusual
sessions whose rows say the same (events, numbers, data and context) share a signature
and a telling row: one of them is built once per process, and in each block those
neither first nor last of their signature become occurrences at once
(:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.count_unusual`). Python rows
are built only for the sessions the summary keeps: the first and last unusual session
of each signature, the latest plain success of each tally, and the sessions still open
at the end of the file. Those go through
:func:`~exchange_tls.protocol_log.summary.summarise_rows` as on the careful path, so the
summary is the same (property tests hold the two paths to it).
"""

# pyarrow.compute's functions are generated when it is imported, so no type checker can
# see them; mypy's override for pyarrow treats them as Any, and so does this line.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import operator
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import ProblemCollector
from exchange_tls.protocol_log.facts import (  # plain_success's own tests, not copies
    InformationKind,
    classify_information,
    fact_text,
    is_certificate_context,
    is_error_reply,
    is_thumbprint_context,
    normalise_thumbprint,
    plain_success,
)
from exchange_tls.protocol_log.files import direction_from_path, expand_paths
from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow
from exchange_tls.protocol_log.reader import STANDARD_FIELDS, parse_protocol_log
from exchange_tls.protocol_log.sessions import (
    IDLE_TIMEOUT,
    MAX_OPEN_SESSIONS,
    MAX_SESSION_ROWS,
    SWEEP_EVERY,
    build_session,
    sequence_order,
)
from exchange_tls.protocol_log.summary import (
    Occurrence,
    Signature,
    SummaryBuilder,
    signature_of,
    summarise_rows,
    telling_row,
)
from exchange_tls.sources import SourceRef, detect_encoding, open_regular

__all__ = ["columnar_available", "summarise_clean_log"]

#: Raw bytes split per block, cut at a line end: memory stays bounded whatever the file.
BLOCK_BYTES = 4 * 1024 * 1024
#: Raw bytes read at once (a day's log of 10 MB is one read).
READ_BYTES = 16 * 1024 * 1024
_HEADER_BYTES = 64 * 1024  # the directives come first, in a few hundred bytes
# Below the assembler's limits with a margin of more than a sweep's rows (it checks its
# limits every SWEEP_EVERY rows), so that the careful path would cut no session either.
_MAX_OPEN = MAX_OPEN_SESSIONS - 10_000
assert SWEEP_EVERY < 10_000  # noqa: S101 -- the margin above must cover a sweep
_MAX_ROWS = MAX_SESSION_ROWS - 10_000
_IDLE_MS = IDLE_TIMEOUT // dt.timedelta(milliseconds=1)
_MAX_FIELD_BYTES = 100_000  # per line: below csv.field_size_limit(), 131,072 characters
_EVENTS = ("+", "-", ">", "<", "*")
_CONNECT, _DISCONNECT, _SEND, _RECEIVE, _INFORMATION = range(5)
_EVENT_OF = tuple(Event(value) for value in _EVENTS)
_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z, the first moment Python can hold
# Information text classes, as plain_success tests them (classify_information).
_OTHER = int(InformationKind.OTHER)
_LABEL = int(InformationKind.SENDING)
_TLS_OK = int(InformationKind.TLS_SUCCEEDED)
_TLS_BAD = int(InformationKind.TLS_UNREAD)
_BREAKER = int(InformationKind.BREAKER)
_TIMESTAMP_LENGTH = 24
_TIMESTAMP_PUNCTUATION = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}


class _Shape(NamedTuple):
    """What a session's rows say, in sequence order: event code, number, data, context."""

    direction: Direction
    connector_id: str
    rows: tuple[tuple[int, int, str, str], ...]


class _Fallback(Exception):
    """The file is not clean enough for the fast path: read it carefully."""


def columnar_available() -> bool:
    """Return whether the ``columnar`` extra (pyarrow and numpy) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("pyarrow", "numpy"))


def summarise_clean_log(path: str | os.PathLike[str]) -> SummaryBuilder | None:
    """Summarise one log file column-wise; ``None`` when it must be read carefully.

    Never raises: a file the fast path cannot read exactly as the careful path would
    (see the module's docstring), or any error, returns ``None``.
    """
    try:
        return _summarise(path)
    except Exception:  # any engine error means: read the file carefully
        return None


def _summarise(path: str | os.PathLike[str]) -> SummaryBuilder:
    paths = list(expand_paths([path], ProblemCollector("collect")))
    if len(paths) != 1:
        raise _Fallback
    name = str(paths[0])
    with open_regular(paths[0]) as binary:
        remaining = os.fstat(binary.fileno()).st_size
        # Reads of the exact size left: a larger read buffer, shrunk afterwards, raises
        # glibc's mmap threshold and leaves the heap fragmented (peak RSS doubled).
        head = binary.read(min(remaining, _HEADER_BYTES))
        encoding, mark, guessed = detect_encoding(head[:4096])
        if encoding != "utf-8" or guessed:
            raise _Fallback
        end = mark
        while head.startswith(b"#", end):
            newline = head.find(b"\n", end)
            if newline < 0:
                raise _Fallback
            end = newline + 1
        direction = _header_direction(head[mark:end], name, paths[0])
        reducer = _Reducer(name, direction, head[mark:end].count(b"\n"))
        binary.seek(end)
        remaining -= end
        # Reads of up to READ_BYTES; blocks are views into them, so that no block is
        # copied before pyarrow reads it.
        buffer, start = b"", 0
        while True:
            if len(buffer) - start < BLOCK_BYTES and remaining > 0:
                step = min(remaining, READ_BYTES)
                more = binary.read(step)
                remaining -= step
                buffer, start = (buffer[start:] + more if start < len(buffer) else more), 0
            stop = min(start + BLOCK_BYTES, len(buffer))
            final = remaining <= 0 and stop == len(buffer)
            if not final:
                stop = buffer.rfind(b"\n", start, stop) + 1
                if stop <= start:
                    raise _Fallback  # a line longer than a block
            reducer.block(memoryview(buffer)[start:stop], final=final)
            start = stop
            if final:
                break
    return reducer.builder


def _header_direction(header: bytes, name: str, path: Path) -> Direction | None:
    """Read the directives with the careful reader; fall back on any problem."""
    direction = direction_from_path(path)
    if not header:
        return direction
    _check_line_ends(header)
    log = parse_protocol_log(header.decode("utf-8"), source=name, direction=direction)
    if log.problems or log.rows:
        raise _Fallback
    for found in log.headers:
        if found.fields and found.fields != STANDARD_FIELDS:
            raise _Fallback
        if found.direction is not None:
            direction = found.direction
    return direction


def _check_line_ends(data: bytes) -> None:
    """Fall back on a lone CR or a NUL."""
    returns = data.count(b"\r")
    if b"\x00" in data or (returns and returns != data.count(b"\r\n")):
        raise _Fallback
    if returns and returns != data.count(b"\n"):
        raise _Fallback


class _Reducer:
    """Reduces the blocks of one file, carrying the sessions still open between them."""

    def __init__(self, name: str, direction: Direction | None, header_lines: int) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        if direction is None:
            raise _Fallback  # plain_success needs the direction; the careful path guesses
        self.np: Any = np
        self.pa: Any = pa
        self.name = name
        self.direction = direction
        self.builder = SummaryBuilder()
        self.next_line = header_lines + 1
        self.carried: Any = None
        self.carried_lines: Any = None
        self.latest_ms: int | None = None
        names = list(STANDARD_FIELDS)
        pool = _memory_pool(pa)
        read_options = pcsv.ReadOptions(column_names=names)
        parse_options = pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)

        def options(check_utf8: bool) -> Any:
            return pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=check_utf8,
            )

        # ASCII is UTF-8: a block of ASCII bytes only needs no UTF-8 check, which is a
        # fifth of the reader's time.
        checked, unchecked = options(True), options(False)
        self.read: Callable[[Any, bool], Any] = lambda data, ascii_only: pcsv.read_csv(
            data,
            memory_pool=pool,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=unchecked if ascii_only else checked,
        )

    def block(self, data: memoryview, *, final: bool) -> None:
        np, pa = self.np, self.pa
        if data and data[-1] != ord("\n"):
            # The last line has no line end: add the file's (one copy, once a file).
            data = memoryview(bytes(data) + (b"\r\n" if b"\r" in data.tobytes() else b"\n"))
        lines, ascii_only = _split_lines(data, np)
        count = len(lines)
        table = None
        if count:
            table = self.read(pa.py_buffer(data), ascii_only)
            if table.num_rows != count:
                raise _Fallback
            columns = [_array(column) for column in table.columns]
            _check_render(columns, data, lines, np, pa)
            table = pa.table(columns, names=list(STANDARD_FIELDS))
        numbers = np.arange(self.next_line, self.next_line + count, dtype=np.int64)
        self.next_line += count
        if self.carried is not None:
            table = table if table is not None else self.carried.slice(0, 0)
            table = pa.concat_tables([self.carried, table]).combine_chunks()
            numbers = np.concatenate([self.carried_lines, numbers])
        self.carried = self.carried_lines = None
        if table is None or table.num_rows == 0:
            return
        self._reduce(table, numbers, final=final)

    def _reduce(self, table: Any, lines: Any, *, final: bool) -> None:
        np, pa = self.np, self.pa
        import pyarrow.compute as pc

        count = table.num_rows
        columns = [_array(column) for column in table.columns]
        moments = _timestamps(columns[0], np, pa, pc)
        sequence_text = columns[3]
        lengths = pc.binary_length(sequence_text)
        if not pc.all(pc.ascii_is_decimal(sequence_text)).as_py() or pc.max(lengths).as_py() > 18:
            raise _Fallback
        sequence = pc.cast(sequence_text, pa.int64()).to_numpy()
        found = pc.index_in(columns[6], value_set=pa.array(_EVENTS))
        if found.null_count:
            raise _Fallback
        events = found.to_numpy(zero_copy_only=False).astype(np.int8)
        connectors = columns[1].dictionary_encode()
        sessions_ids = columns[2].dictionary_encode()
        connector_index = connectors.indices.to_numpy().astype(np.int64)
        key = connector_index * len(sessions_ids.dictionary) + sessions_ids.indices.to_numpy()

        # Sessions: rows of a key in arrival order; a disconnect ends one.
        disconnect = events == _DISCONNECT
        by_key = np.argsort(key, kind="stable")
        sorted_key = key[by_key]
        sorted_disconnect = disconnect[by_key]
        begins = np.empty(count, dtype=bool)
        begins[0] = True
        begins[1:] = (sorted_key[1:] != sorted_key[:-1]) | sorted_disconnect[:-1]
        session_sorted = np.cumsum(begins) - 1
        total = int(session_sorted[-1]) + 1
        session = np.empty(count, dtype=np.int64)
        session[by_key] = session_sorted
        starts = np.flatnonzero(begins)
        last_positions = np.append(starts[1:], count) - 1
        closed = sorted_disconnect[last_positions]
        sizes = np.diff(np.append(starts, count))
        if int(sizes.max()) > _MAX_ROWS:
            raise _Fallback
        opened = np.zeros(count, dtype=np.int64)
        opened[by_key[starts]] = 1
        if int(np.cumsum(opened - disconnect).max()) > _MAX_OPEN:
            raise _Fallback
        running = np.maximum.accumulate(moments)
        if self.latest_ms is not None:
            running = np.maximum(running, self.latest_ms)
        self.latest_ms = int(running[-1])
        session_min = np.minimum.reduceat(moments[by_key], starts)
        reached = running[by_key[last_positions]]
        if final:
            reached = np.where(closed, reached, self.latest_ms)
        else:
            reached = np.where(closed, reached, session_min)
        if bool((reached - session_min >= _IDLE_MS).any()):
            raise _Fallback  # the assembler could have cut a session as idle

        # Sequence order within each session, stable: sequence_order's order.
        order = by_key
        sorted_sequence = sequence[by_key]
        if bool((sorted_sequence[1:] < sorted_sequence[:-1])[~begins[1:]].any()):
            order = np.lexsort((sequence, session))
        row_session = session[order]
        row_events = events[order]
        first_rows = np.flatnonzero(np.append(True, row_session[1:] != row_session[:-1]))
        information = row_events == _INFORMATION

        # The strings plain_success tests, classified once per distinct value.
        context_codes = columns[8].dictionary_encode()
        context_values = context_codes.dictionary.to_pylist()
        protocols: list[str] = []
        context_class, context_protocol = _classified(context_values, protocols, np)
        context_certificate = np.array(
            [is_certificate_context(text) for text in context_values] + [False]
        )
        context_thumbprint = np.array(
            [is_thumbprint_context(text) for text in context_values] + [False]
        )
        context_empty = np.array([not text for text in context_values] + [False])
        context_index = context_codes.indices.to_numpy()
        text_class = context_class[context_index]
        text_protocol = context_protocol[context_index]
        empty_context = context_empty[context_index] & (events == _INFORMATION)
        data = columns[7]
        if bool(empty_context.any()):
            at = np.flatnonzero(empty_context)
            data_codes = data.take(pa.array(at)).dictionary_encode()
            data_values = data_codes.dictionary.to_pylist()
            indices = data_codes.indices.to_numpy()
            data_class, data_protocol = _classified(data_values, protocols, np)
            text_class[at] = data_class[indices]
            text_protocol[at] = data_protocol[indices]
        certificate = (events == _INFORMATION) & context_certificate[context_index]
        thumbprint_rows = certificate & context_thumbprint[context_index]
        thumbprint_of = np.full(count, -1, dtype=np.int64)
        thumbprints: list[str | None] = []
        if bool(thumbprint_rows.any()):
            at = np.flatnonzero(thumbprint_rows)
            codes = data.take(pa.array(at)).dictionary_encode()
            values = [normalise_thumbprint(text) for text in codes.dictionary.to_pylist()]
            thumbprints = values
            thumbprint_of[at] = codes.indices.to_numpy()
        reply = _RECEIVE if self.direction is Direction.SEND else _SEND
        error_reply = np.zeros(count, dtype=bool)
        candidates = events == reply
        if bool(candidates.any()):
            at = np.flatnonzero(candidates)
            replies = data.take(pa.array(at))
            maybe = pc.or_(pc.starts_with(replies, "4"), pc.starts_with(replies, "5"))
            if pc.any(maybe).as_py():
                chosen = at[np.asarray(maybe.to_numpy(zero_copy_only=False))]
                codes = data.take(pa.array(chosen)).dictionary_encode()
                flags = np.array([is_error_reply(text) for text in codes.dictionary.to_pylist()])
                error_reply[chosen] = flags[codes.indices.to_numpy()]

        # plain_success, column-wise, on rows in sequence order.
        row_certificate = certificate[order]
        other_information = information & ~row_certificate
        row_class = np.where(other_information, text_class[order], _OTHER)
        label = row_class == _LABEL
        tls_rows = (row_class == _TLS_OK) | (row_class == _TLS_BAD)
        positions = np.arange(count)
        before = np.maximum.accumulate(np.where(~row_certificate, positions, -1))
        session_first = first_rows[row_session]
        block_ok = (before >= session_first) & label[np.maximum(before, 0)]
        bad_certificate = row_certificate & ~block_ok
        row_sequence = sequence[order]
        began = ~information & ((row_events == _CONNECT) | (row_sequence == 0))
        # An error reply fails a session even on the row that began it (sequence 0).
        failed = ~information & error_reply[order]

        def per_session(flags: Any) -> Any:
            return np.add.reduceat(flags.astype(np.int64), first_rows)

        plain = (
            closed
            & (per_session(label) <= 1)
            & (per_session(tls_rows) == 1)
            & (per_session(row_class == _TLS_OK) == 1)
            & (per_session(row_class == _BREAKER) == 0)
            & (per_session(bad_certificate) == 0)
            & (per_session(failed) == 0)
            & (per_session(began) > 0)
        )
        # The protocol of the one TLS row; the last thumbprint in sequence order.
        protocol = np.full(total, -1, dtype=np.int64)
        ok_rows = np.flatnonzero(row_class == _TLS_OK)
        protocol[row_session[ok_rows]] = text_protocol[order][ok_rows]
        thumbprint = np.full(total, -1, dtype=np.int64)
        last_thumbprints = np.flatnonzero(thumbprint_rows[order])
        # Later rows are assigned later: numpy keeps the last write to an index.
        thumbprint[row_session[last_thumbprints]] = thumbprint_of[order][last_thumbprints]
        session_start = np.minimum.reduceat(moments[order], first_rows)
        first_line = lines[order][first_rows]
        session_connector = connector_index[order][first_rows]

        keep = closed & ~plain
        row_starts = (row_events == _CONNECT) | (row_sequence == 0)
        unusual = np.flatnonzero(keep & (per_session(row_starts) > 0))
        if unusual.size > 2:
            counted = self._count_unusual(
                unusual,
                row_session,
                order,
                row_events,
                first_rows,
                session_start,
                np.maximum.reduceat(moments[order], first_rows),
                first_line,
                table,
                lines,
                events,
                moments,
                sequence,
            )
            keep[counted] = False
        if not final:
            carry = np.flatnonzero(~closed[session])
            if carry.size:
                self.carried = table.take(pa.array(carry))
                self.carried_lines = lines[carry]
        else:
            keep |= ~closed
        # Sessions found not plain are passed to the builder, whose take() decides
        # again; only the sessions counted here without their rows must be right.
        verdicts: dict[int, tuple[str | None, str | None] | None] = {}
        plain_sessions = np.flatnonzero(plain)
        if plain_sessions.size:
            keep[
                self._tally(
                    verdicts,
                    plain_sessions,
                    session_connector,
                    thumbprint,
                    protocol,
                    session_start,
                    first_line,
                    connectors.dictionary.to_pylist(),
                    sessions_ids.dictionary.to_pylist(),
                    sessions_ids.indices.to_numpy()[order][first_rows],
                    thumbprints,
                    protocols,
                )
            ] = True
        rows = np.flatnonzero(keep[session])
        self._keep(table, lines, rows, events, moments, sequence, session[rows], verdicts)

    def _count_unusual(
        self,
        unusual: Any,
        row_session: Any,
        order: Any,
        row_events: Any,
        first_rows: Any,
        start: Any,
        end: Any,
        first_line: Any,
        table: Any,
        lines: Any,
        events: Any,
        moments: Any,
        sequence: Any,
    ) -> list[int]:
        """Count the finished unusual sessions that are neither first nor last of their kind.

        Sessions whose rows say the same (events, data and context in sequence order, on
        one connector) have the same signature and their failure on the same row: one of
        them is built and reduced (:func:`_shape_of`), the others become occurrences at
        once. Those first or last of their signature in this block are built as on the
        careful path: only they can be first or last of all. Returns the sessions counted.
        """
        np, pa = self.np, self.pa
        positions = np.flatnonzero(np.isin(row_session, unusual))
        arrival = pa.array(order[positions])
        written = table.column(7).take(arrival).to_pylist()
        contexts = table.column(8).take(arrival).to_pylist()
        remotes = table.column(5).take(arrival).to_pylist()
        connectors = table.column(1).take(arrival).to_pylist()
        session_ids = table.column(2).take(arrival).to_pylist()
        kinds = row_events[positions].tolist()
        # Commands and replies as the session's reading uses them (fact_text): a banner
        # that carries the time makes no shape of its own.
        data = [
            text if kind == _INFORMATION else _fact_text(text)
            for kind, text in zip(kinds, written, strict=True)
        ]
        numbers = sequence[order[positions]].tolist()
        row_lines = lines[order[positions]].tolist()
        bounds = [*np.flatnonzero(np.diff(row_session[positions], prepend=-1)).tolist()]
        bounds.append(len(positions))
        found: dict[Signature, list[tuple[_OrderKey, int, Occurrence, bool | None]]] = {}
        for number, index in enumerate(unusual.tolist()):
            low, high = bounds[number], bounds[number + 1]
            connector = connectors[low]
            shape = _Shape(
                self.direction,
                connector,
                tuple(
                    zip(
                        kinds[low:high],
                        numbers[low:high],
                        data[low:high],
                        contexts[low:high],
                        strict=True,
                    )
                ),
            )
            known = _SHAPES.get(shape)
            if known is None:
                rows = self._build_rows(
                    table,
                    lines,
                    order[first_rows[index] : first_rows[index] + high - low],
                    events,
                    moments,
                    sequence,
                )
                known = _shape_of(self.direction, rows)
                if len(_SHAPES) >= _MAX_SHAPES:
                    _SHAPES.clear()
                _SHAPES[shape] = known
            if known is None:
                continue  # plain after all, or not unusual: the builder decides
            signature, telling, succeeded = known
            remote = next((text for text in remotes[low:high] if text), "")
            host = _host_of(remote)
            if signature[2] == "connect-failed":
                signature = (*signature[:4], host)
            session_order = (
                _moment(int(start[index])),
                connector,
                session_ids[low],
                f"{self.name}:{row_lines[low]}",
            )
            occurrence = Occurrence(
                source=SourceRef(self.name, row_lines[low + telling]),
                excerpt=_text(written[low + telling], contexts[low + telling]),
                start=session_order[0],
                end=_moment(int(end[index])),
                remote_host=host,
            )
            found.setdefault(signature, []).append((session_order, index, occurrence, succeeded))
        counted: list[int] = []
        for signature, sessions in found.items():
            if len(sessions) <= 2:
                continue
            sessions.sort(key=_FIRST_ITEM)
            middle = sessions[1:-1]
            self.builder.count_unusual(
                signature,
                self.direction,
                [succeeded for _, _, _, succeeded in middle],
                [occurrence for _, _, occurrence, _ in middle],
            )
            counted.extend(index for _, index, _, _ in middle)
        return counted

    def _build_rows(
        self, table: Any, lines: Any, rows: Any, events: Any, moments: Any, sequence: Any
    ) -> list[ProtocolLogRow]:
        """Build the rows at arrival positions ``rows``, in that order."""
        taken = table.take(self.pa.array(rows))
        values = [column.to_pylist() for column in taken.columns]
        naive = moments[rows].astype("datetime64[ms]").tolist()
        return [
            ProtocolLogRow.create(
                timestamp=moment.replace(tzinfo=_UTC),
                connector_id=connector,
                session_id=session_id,
                sequence_number=number,
                local_endpoint=local,
                remote_endpoint=remote,
                event=_EVENT_OF[event],
                data=data,
                context=context,
                path=self.name,
                line=line,
                direction=self.direction,
            )
            for (
                moment,
                connector,
                session_id,
                number,
                local,
                remote,
                event,
                data,
                context,
                line,
            ) in zip(
                naive,
                values[1],
                values[2],
                sequence[rows].tolist(),
                values[4],
                values[5],
                events[rows].tolist(),
                values[7],
                values[8],
                lines[rows].tolist(),
                strict=True,
            )
        ]

    def _tally(
        self,
        verdicts: dict[int, tuple[str | None, str | None] | None],
        plain: Any,
        connector: Any,
        thumbprint: Any,
        protocol: Any,
        start: Any,
        first_line: Any,
        connectors: list[str],
        session_ids: list[str],
        session_id: Any,
        thumbprints: list[str | None],
        protocols: list[str],
    ) -> list[int]:
        """Count the plain successes; return the latest session of each tally, to keep."""
        np = self.np
        hour = start[plain] // 3_600_000
        # One key per tally. The product of four counts can pass 64 bits, so the key is
        # made dense (0 to the number of distinct keys) after each part: it stays below
        # the square of the number of sessions.
        combined = np.zeros(len(plain), dtype=np.int64)
        for part in (connector[plain], thumbprint[plain], protocol[plain], hour):
            _, dense = np.unique(part, return_inverse=True)
            combined = combined * len(plain) + dense.reshape(-1)
            _, combined = np.unique(combined, return_inverse=True)
            combined = combined.reshape(-1).astype(np.int64)
        _, first, inverse, counts = np.unique(
            combined, return_index=True, return_inverse=True, return_counts=True
        )
        inverse = inverse.reshape(-1)
        groups = np.stack(
            [
                connector[plain][first],
                thumbprint[plain][first],
                protocol[plain][first],
                hour[first],
            ],
            axis=1,
        )
        latest_start = np.full(len(groups), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest_start, inverse, start[plain])
        candidates = np.flatnonzero(start[plain] == latest_start[inverse])
        best: dict[int, tuple[tuple[dt.datetime, str, str, str], int]] = {}
        for at in candidates.tolist():
            index = int(plain[at])
            order = (
                _moment(int(start[index])),
                connectors[int(connector[index])],
                session_ids[int(session_id[index])],
                f"{self.name}:{int(first_line[index])}",
            )
            group = int(inverse[at])
            if group not in best or order > best[group][0]:
                best[group] = (order, index)
        for group, (key, count) in enumerate(zip(groups.tolist(), counts.tolist(), strict=True)):
            if count > 1:
                self.builder.count_plain(
                    self.direction,
                    connectors[key[0]],
                    (thumbprints[key[1]] if key[1] >= 0 else None) or "",
                    protocols[key[2]] if key[2] >= 0 else "",
                    _moment(key[3] * 3_600_000),
                    count - 1,
                )
            verdicts[best[group][1]] = (
                thumbprints[key[1]] if key[1] >= 0 else None,
                protocols[key[2]] if key[2] >= 0 else None,
            )
        return [index for _, index in best.values()]

    def _keep(
        self,
        table: Any,
        lines: Any,
        rows: Any,
        events: Any,
        moments: Any,
        sequence: Any,
        sessions: Any,
        verdicts: dict[int, tuple[str | None, str | None] | None],
    ) -> None:
        """Build rows for the kept sessions and reduce them as the careful path does."""
        if not rows.size:
            return
        # numpy turns milliseconds into naive datetimes in C; they are UTC.
        built = self._build_rows(table, lines, rows, events, moments, sequence)
        self._check(built, sessions.tolist(), verdicts)
        summarise_rows(built, self.builder)

    def _check(
        self,
        rows: list[ProtocolLogRow],
        sessions: list[int],
        verdicts: dict[int, tuple[str | None, str | None] | None],
    ) -> None:
        """Hold the column-wise verdicts to plain_success on the latest plain sessions."""
        grouped: dict[int, list[ProtocolLogRow]] = {}
        for row, session in zip(rows, sessions, strict=True):
            grouped.setdefault(session, []).append(row)
        for session, verdict in verdicts.items():
            if plain_success(sequence_order(grouped[session]), self.direction) != verdict:
                raise _Fallback


def _memory_pool(pa: Any) -> Any:
    """Return jemalloc's pool, else the system's: both give freed blocks back to the OS.

    pyarrow's default, mimalloc, keeps them per thread, which raised peak RSS by about
    80 MiB here. The process's default pool is left as it is.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


_OrderKey = tuple[dt.datetime, str, str, str]
_Known = tuple[Signature, int, "bool | None"]
_FIRST_ITEM = operator.itemgetter(0)
# What the sessions of one shape were found to be; kept across files, as the same
# failures repeat. Bounded: cleared when full.
_SHAPES: dict[_Shape, _Known | None] = {}
_MAX_SHAPES = 4096


def _shape_of(direction: Direction, rows: list[ProtocolLogRow]) -> _Known | None:
    """Build one session and return its signature, telling row and TLS outcome.

    ``None`` when it is a plain success (the builder counts those) or not unusual.
    """
    ordered = sequence_order(rows)
    if plain_success(ordered, direction) is not None:
        return None
    key = (direction, rows[0].connector_id, rows[0].session_id)
    session = build_session(key, ordered, ended=True)
    signature = signature_of(session)
    telling = telling_row(session)
    if signature[2] == "ok" or telling is None:
        return None
    position = next(at for at, row in enumerate(session.rows) if row is telling)
    tls = session.tls
    return signature, position, (tls.succeeded if tls is not None else None)


_fact_text = functools.lru_cache(maxsize=65536)(fact_text)


@functools.lru_cache(maxsize=65536)  # a fleet talks to tens of thousands of hosts
def _host_of(remote: str) -> str:
    endpoint = Endpoint.parse(remote) if remote else None
    return endpoint.host if endpoint is not None and endpoint.host else ""


def _text(data: str, context: str) -> str:
    """Return a row's text, as :attr:`ProtocolLogRow.text` gives it."""
    return data or context


def _array(column: Any) -> Any:
    """Return a chunked array as one array, without a copy when it is one chunk."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _moment(milliseconds: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=milliseconds)


def _classified(values: list[str], protocols: list[str], np: Any) -> tuple[Any, Any]:
    """Classify distinct information texts; return their kinds and protocol indexes.

    Each array has one more entry than ``values`` (OTHER, -1), for rows with no text.
    A protocol is an index into ``protocols``, which grows with the protocols named.
    """
    kinds: list[int] = []
    named: list[int] = []
    for text in values:
        kind, protocol = classify_information(text)
        kinds.append(int(kind))
        if protocol is None:
            named.append(-1)
        else:
            if protocol not in protocols:
                protocols.append(protocol)
            named.append(protocols.index(protocol))
    return np.array([*kinds, _OTHER]), np.array([*named, -1])


def _timestamps(column: Any, np: Any, pa: Any, pc: Any) -> Any:
    """Return milliseconds since the epoch; fall back unless every one is canonical."""
    if pc.min(pc.binary_length(column)).as_py() != _TIMESTAMP_LENGTH or (
        pc.max(pc.binary_length(column)).as_py() != _TIMESTAMP_LENGTH
    ):
        raise _Fallback
    first = int(np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset])
    raw = np.frombuffer(column.buffers()[2], dtype=np.uint8)[
        first : first + len(column) * _TIMESTAMP_LENGTH
    ].reshape(-1, _TIMESTAMP_LENGTH)
    # Each position between its bounds: a digit, or the one punctuation it must be.
    low = np.array(
        [ord(_TIMESTAMP_PUNCTUATION.get(at, "0")) for at in range(_TIMESTAMP_LENGTH)],
        dtype=np.uint8,
    )
    high = np.array(
        [ord(_TIMESTAMP_PUNCTUATION.get(at, "9")) for at in range(_TIMESTAMP_LENGTH)],
        dtype=np.uint8,
    )
    if bool(((raw < low) | (raw > high)).any()):
        raise _Fallback
    moments = pc.cast(column, pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
    if int(moments.min()) < _MIN_MS:
        raise _Fallback
    return moments


def _split_lines(data: memoryview, np: Any) -> tuple[Any, bool]:
    """Return where each line of ``data`` ends (its LF), and whether it is all ASCII.

    Fall back on a NUL or a lone CR.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size and int(raw.min()) == 0:
        raise _Fallback
    newlines = np.flatnonzero(raw == ord("\n"))
    returns = int(np.count_nonzero(raw == ord("\r")))
    if returns and (returns != newlines.size or bool((raw[newlines - 1] != ord("\r")).any())):
        raise _Fallback
    return newlines, not raw.size or int(raw.max()) < 0x80


def _commas_and_quotes(column: Any, np: Any) -> tuple[bool, bool]:
    """Whether any value of a string array holds ``,``, and ``"`` (a scan of its bytes)."""
    values = column.buffers()[2]
    if values is None:
        return False, False
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
    first, last = offsets[column.offset], offsets[column.offset + len(column)]
    raw = np.frombuffer(values, dtype=np.uint8)[first:last]
    return bool((raw == ord(",")).any()), bool((raw == ord('"')).any())


def _check_render(columns: list[Any], data: memoryview, newlines: Any, np: Any, pa: Any) -> None:
    """Fall back unless ``csv`` would split ``data`` into these columns.

    A line without a quote is split at its commas by both readers. A line with one must
    be what writing its fields as Exchange does (quoting only fields with ``,`` or
    ``"``) gives back, byte for byte.
    """
    import pyarrow.compute as pc

    starts = np.concatenate([[0], newlines + 1]).astype(np.int32)
    if len(newlines) and int(np.diff(starts).max()) > _MAX_FIELD_BYTES:
        raise _Fallback
    quotes = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord('"'))
    if not quotes.size:
        return
    # Quotes come in order, so their lines do: keep each line once, without a sort.
    at = np.searchsorted(newlines, quotes)
    quoted = pa.array(at[np.flatnonzero(np.diff(at, prepend=-1))])
    written = pa.StringArray.from_buffers(
        len(newlines), pa.py_buffer(starts), pa.py_buffer(data)
    ).take(quoted)
    terminator = "\r\n" if bytes(data[-2:]) == b"\r\n" else "\n"
    rendered = []
    for column in columns:
        column = column.take(quoted)
        commas, quotes_inside = _commas_and_quotes(column, np)
        if commas or quotes_inside:
            if commas and quotes_inside:
                needs = pc.or_(pc.match_substring(column, ","), pc.match_substring(column, '"'))
            else:
                needs = pc.match_substring(column, "," if commas else '"')
            escaped = pc.replace_substring(column, '"', '""') if quotes_inside else column
            enclosed = pc.binary_join_element_wise('"', escaped, '"', "")
            column = pc.if_else(needs, enclosed, column)
        rendered.append(column)
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*rendered, ","), "", terminator)
    if not pc.all(pc.equal(lines, written)).as_py():
        raise _Fallback
