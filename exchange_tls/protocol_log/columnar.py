"""The columnar fast path: summarise a clean protocol log without a Python object per row.

Theory of operation. With the ``columnar`` extra (pyarrow and numpy), a log file is read
in blocks of raw bytes cut at line ends, and each block is split by pyarrow's CSV reader
into string columns. Nothing is trusted that the careful reader
(:mod:`~exchange_tls.protocol_log.reader`) would read differently:

* the file is UTF-8 (a BOM or none), its ``#`` directives come first and are read by the
  careful reader itself, without a problem, and name the standard fields;
* the block has no NUL, no lone carriage return, one row per physical line, lines of
  at most 100,000 bytes, no BOM at its start (pyarrow would skip it), and every quote
  opens a field (at a line's start or after a comma), closes one on the same line
  (before a comma or the line end), or is one of a doubled pair inside a quoted field,
  so that ``csv`` would split each line at the same commas and unquote its fields alike
  (a line without a quote is split at its commas by both); the lengths of each row's
  values add up to its line's;
* every timestamp is ``YYYY-MM-DDTHH:MM:SS.fffZ`` and a real date, every event one of
  ``+ - > < *``, every sequence number ASCII digits;
* no session would meet the session assembler's limits (an hour idle, 90,000 open
  sessions, 90,000 rows), so that no session is cut where the careful path would cut it.

Anything else, and any exception of the engine, makes :func:`summarise_clean_log` return
``None``: the caller reads the file with the careful path instead.

Splitting a block (pyarrow's reader and the checks above) depends on its bytes alone
and runs with the GIL released, so the next block is split in a thread while this one
is reduced (:class:`Ahead`), across the files read in turn: one process uses a second
core where it has one.

Sessions are found column-wise: rows are grouped by connector and session id, each
disconnect ends a session, and rows are put in sequence order with a stable sort. The
test of :func:`~exchange_tls.protocol_log.facts.plain_success` is made column-wise on
every finished session, the strings it looks at classified once per distinct value.
Plain successes become counts of their tally
(:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.count_plain`). Unusual
sessions whose rows say the same (events, numbers, data and context) share a signature
and a telling row: one of them is built once per process, and in each block those
neither first nor last of their signature become occurrences at once
(:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.count_unusual`). The first
and last of each signature, and the latest plain success of each tally, are held with
their rows taken from the block (unbuilt) to the end of the file, and counted as later
ones displace them. Python rows are built only for the sessions the summary keeps: those
still held when the file ends, and the sessions still open then. Those go through
:func:`~exchange_tls.protocol_log.summary.summarise_rows` as on the careful path, so the
summary is the same (property tests hold the two paths to it).
"""

# pyarrow.compute's functions are generated when it is imported, so no type checker can
# see them; mypy's override for pyarrow treats them as Any, and so does this line.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import operator
import os
import threading
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from exchange_tls.errors import ProblemCollector
from exchange_tls.protocol_log.columnar_arrays import (
    byte_codes,
    decimal_numbers,
    first_bytes,
    indices,
    numpy_of,
)
from exchange_tls.protocol_log.columnar_checks import (
    Fallback,
    as_array,
    check_fields,
    check_line_ends,
    check_utf8,
    memory_pool,
    split_lines,
    timestamps,
)
from exchange_tls.protocol_log.columnar_counts import (
    CONNECT,
    DISCONNECT,
    EVENTS,
    INFORMATION,
    RECEIVE,
    SEND,
    Extreme,
    Tally,
    classified,
    count_between,
    count_unusual,
    tally_plain,
)
from exchange_tls.protocol_log.facts import (  # plain_success's own tests, not copies
    InformationKind,
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
    sequence_order,
)
from exchange_tls.protocol_log.summary import (
    Signature,
    SummaryBuilder,
    summarise_rows,
)
from exchange_tls.sources import detect_encoding, open_regular

__all__ = ["Ahead", "columnar_available", "summarise_clean_log"]

#: Raw bytes split per block, cut at a line end: memory stays bounded whatever the file.
BLOCK_BYTES = 4 * 1024 * 1024
#: Raw bytes read at once (a day's log of 10 MB is one read).
READ_BYTES = 16 * 1024 * 1024
_HEADER_BYTES = 64 * 1024  # the directives come first, in a few hundred bytes
_SLACK_BYTES = 64 * 1024
# Each thread's arrays for split's scan of the bytes (see split_lines), and its read
# buffer (_read_buffer): a thread splits one block at a time, and keeps them from block
# to block and file to file.
_SCRATCH = threading.local()
# Below the assembler's limits with a margin of more than a sweep's rows (it checks its
# limits every SWEEP_EVERY rows), so that the careful path would cut no session either.
_MAX_OPEN = MAX_OPEN_SESSIONS - 10_000
assert SWEEP_EVERY < 10_000  # noqa: S101 -- the margin above must cover a sweep
_MAX_ROWS = MAX_SESSION_ROWS - 10_000
_IDLE_MS = IDLE_TIMEOUT // dt.timedelta(milliseconds=1)
_EVENT_OF = tuple(Event(value) for value in EVENTS)
_UTC = dt.timezone.utc
# Information text classes, as plain_success tests them (classify_information).
_OTHER = int(InformationKind.OTHER)
_LABEL = int(InformationKind.SENDING)
_TLS_OK = int(InformationKind.TLS_SUCCEEDED)
_TLS_BAD = int(InformationKind.TLS_UNREAD)
_BREAKER = int(InformationKind.BREAKER)


def columnar_available() -> bool:
    """Return whether the ``columnar`` extra (pyarrow and numpy) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("pyarrow", "numpy"))


def summarise_clean_log(
    path: str | os.PathLike[str],
    *,
    overlap: bool = True,
    ahead: Ahead | None = None,
    then: str | os.PathLike[str] | None = None,
) -> SummaryBuilder | None:
    """Summarise one log file column-wise; ``None`` when it must be read carefully.

    Never raises: a file the fast path cannot read exactly as the careful path would
    (see the module's docstring), or any error, returns ``None``. ``overlap`` splits the
    next block in a thread while this one is reduced (:class:`Ahead`): for a process
    that has a second core to itself, not for one of a pool as large as the cores.
    Files read in turn can share one :class:`Ahead`, given the file that comes
    ``then``: its first block is split while this file's last one is reduced.
    """
    try:
        if ahead is not None:
            return _summarise(path, ahead, then)
        if not overlap:
            return _summarise(path, None, None)
        with Ahead() as own:
            return _summarise(path, own, None)
    except Exception:  # any engine error means: read the file carefully
        return None


_Blocks = Generator[tuple[memoryview, bool], None, None]


class _Opened:
    """A log opened for the fast path: its reducer, its blocks, its first block split."""

    __slots__ = ("blocks", "first", "reducer")

    def __init__(
        self,
        reducer: _Reducer,
        blocks: _Blocks,
        first: tuple[tuple[Any, list[Any]], bool],
    ) -> None:
        self.reducer = reducer
        self.blocks = blocks
        self.first = first


def _open(path: str | os.PathLike[str], *, one_thread: bool = False) -> _Opened:
    """Open a log, read its directives and split its first block; Fallback if unfit.

    ``one_thread``: the log is split and reduced in this thread alone (no :class:`Ahead`).
    """
    paths = list(expand_paths([path], ProblemCollector("collect")))
    if len(paths) != 1:
        raise Fallback
    name = str(paths[0])
    binary = open_regular(paths[0])
    try:
        size = os.fstat(binary.fileno()).st_size
        head = binary.read(min(size, _HEADER_BYTES))
        encoding, mark, guessed = detect_encoding(head[:4096])
        if encoding != "utf-8" or guessed:
            raise Fallback
        end = mark
        while head.startswith(b"#", end):
            newline = head.find(b"\n", end)
            if newline < 0:
                raise Fallback
            end = newline + 1
        direction = _header_direction(head[mark:end], name, paths[0])
        reducer = _Reducer(name, direction, head[mark:end].count(b"\n"), one_thread=one_thread)
        binary.seek(end)
        reuse = _read_buffer() if one_thread else None
        blocks = _blocks(binary, size - end, _most_bytes(one_thread), reuse)
    except BaseException:
        binary.close()
        raise
    try:
        data, final = next(blocks)  # there is always one, empty at the least
        return _Opened(reducer, blocks, (reducer.split(data), final))
    except BaseException:
        blocks.close()
        raise


def _summarise(
    path: str | os.PathLike[str], ahead: Ahead | None, then: str | os.PathLike[str] | None
) -> SummaryBuilder:
    opened = _open(path, one_thread=True) if ahead is None else ahead.open(path)
    reducer, blocks = opened.reducer, opened.blocks
    with contextlib.closing(blocks):
        split, final = opened.first
        if ahead is None:
            reducer.reduce_block(split, final=final)
            for data, final in blocks:
                reducer.block(data, final=final)
            return reducer.builder
        pending: Callable[[], tuple[Any, list[Any]]] = lambda: split  # noqa: E731
        for data, following in blocks:
            future = ahead.split(reducer, data)
            reducer.reduce_block(pending(), final=final)
            pending, final = future.result, following
        if then is not None:
            ahead.announce(then)  # opened while this file's last block is reduced
        reducer.reduce_block(pending(), final=final)
    return reducer.builder


class Ahead:
    """A thread that splits the next block while this one is reduced, file after file.

    Splitting a block (pyarrow's CSV reader and the numpy checks) depends on its bytes
    alone and runs with the GIL released; reducing needs the blocks in order. Overlapped,
    they let one process use a second core. Announced (:meth:`announce`), the next file
    is opened and its first block split while this file's last block is reduced, so
    that the overlap does not stop at each file's end. Used as a context manager: the
    thread ends with it, and no thread outlives it into a process pool's fork.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-tls-split")
        self._next: tuple[str, Future[_Opened]] | None = None

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def split(self, reducer: _Reducer, data: memoryview) -> Future[tuple[Any, list[Any]]]:
        """Split ``data`` in the thread."""
        return self._pool.submit(reducer.split, data)

    def announce(self, path: str | os.PathLike[str]) -> None:
        """Open ``path`` and split its first block in the thread, for :meth:`open`."""
        self._discard()
        self._next = (os.fspath(path), self._pool.submit(_open, path))

    def open(self, path: str | os.PathLike[str]) -> _Opened:
        """Return ``path`` opened: as announced, or opened now."""
        if self._next is not None and self._next[0] == os.fspath(path):
            future = self._next[1]
            self._next = None
            return future.result()
        self._discard()
        return _open(path)

    def _discard(self) -> None:
        """Close a file announced and never opened."""
        if self._next is None:
            return
        future = self._next[1]
        self._next = None
        try:
            opened = future.result()
        except Exception:  # its error is that file's, and nobody reads the file now
            return
        opened.blocks.close()

    def close(self) -> None:
        """Close a file announced and never opened; end the thread."""
        try:
            self._discard()
        finally:
            self._pool.shutdown()


def _blocks(binary: Any, remaining: int, most: int, reuse: bytearray | None = None) -> _Blocks:
    """Yield the blocks of the rest of a file, cut at line ends, and whether each is last.

    Blocks are of about even size, each at most ``most`` bytes: a file of 10 MB is two
    blocks of 5 MB, not one of 8 and one of 2, so that a thread splitting ahead and this
    one take turns evenly, and no small last block pays a block's fixed cost for little.
    Reads of up to READ_BYTES; blocks are views into them, so that no block is copied
    before pyarrow reads it. Reads are of the exact size left: a larger read buffer,
    shrunk afterwards, raises glibc's mmap threshold and leaves the heap fragmented (peak
    RSS doubled). A file of at most READ_BYTES may be read into ``reuse`` instead, a
    buffer its blocks are split and reduced from before anything else is read into it
    (:func:`_read_buffer`). The file is closed when the blocks end or are closed.
    """
    count = max(1, -(-remaining // most))
    # Each block ends at the last line end it holds, short of its size by part of a line:
    # the slack keeps the last block from spilling into one more.
    size = min(most, -(-remaining // count) + _SLACK_BYTES)
    with binary:
        # The bytes read and not yet yielded from start; a bytearray only when reused,
        # and then the whole file, so that it is never cut and joined (which copies).
        buffer: bytes | bytearray = b""
        filled = start = 0
        if reuse is not None and remaining <= len(reuse):
            buffer, filled, remaining = reuse, binary.readinto(memoryview(reuse)[:remaining]), 0
        while True:
            if filled - start < size and remaining > 0:
                step = min(remaining, READ_BYTES)
                more = binary.read(step)
                remaining -= step
                buffer = buffer[start:filled] + more if start < filled else more
                filled, start = len(buffer), 0
            stop = min(start + size, filled)
            final = remaining <= 0 and stop == filled
            if not final:
                stop = buffer.rfind(b"\n", start, stop) + 1
                if stop <= start:
                    raise Fallback  # a line longer than a block
            yield memoryview(buffer)[start:stop], final
            start = stop
            if final:
                return


def _read_buffer() -> bytearray:
    """Return this thread's buffer of READ_BYTES for the files it reads in one thread.

    A file read into fresh bytes is fresh pages faulted in, and a worker reads file after
    file: read into one buffer, about 1.5 ms less for each log of 10 MB (3 % of a
    worker's time). Only a reader in one thread splits and reduces a file's blocks before
    it reads the next file; 16 MiB stay with the thread.
    """
    buffer: bytearray | None = getattr(_SCRATCH, "read", None)
    if buffer is None:
        buffer = _SCRATCH.read = bytearray(READ_BYTES)
    return buffer


def _most_bytes(one_thread: bool) -> int:
    """Return the most bytes of a block: twice BLOCK_BYTES for a reader in one thread.

    With no thread splitting ahead, fewer and larger blocks cost less (a block's fixed
    cost is some hundred numpy and pyarrow calls): about 3 % of a pool's worker's time
    with blocks of 8 MiB rather than 4. A thread ahead needs blocks to take turns with.
    """
    return BLOCK_BYTES * (2 if one_thread else 1)


def _header_direction(header: bytes, name: str, path: Path) -> Direction | None:
    """Read the directives with the careful reader; fall back on any problem."""
    direction = direction_from_path(path)
    if not header:
        return direction
    check_line_ends(header)
    log = parse_protocol_log(header.decode("utf-8"), source=name, direction=direction)
    if log.problems or log.rows:
        raise Fallback
    for found in log.headers:
        if found.fields and found.fields != STANDARD_FIELDS:
            raise Fallback
        if found.direction is not None:
            direction = found.direction
    return direction


# Columns that _reduce encodes as dictionaries: their UTF-8 is checked there, on their
# distinct values (a block's connector ids may all hold the same non-ASCII name, and
# a scan of the column was about 1.5 % of a worker's time on the benchmark's logs).
_ENCODED = frozenset({1, 2, 8})


class _Block(NamedTuple):
    """Rows taken from a block, with their lines, event codes, moments and numbers."""

    table: Any
    lines: Any
    events: Any
    moments: Any
    sequence: Any


class _HeldRows(NamedTuple):
    """One session's rows in a :class:`_Block`: ``low`` to ``high``."""

    block: _Block
    low: int
    high: int


class _Held(NamedTuple):
    """A session held to the file's end, its rows unbuilt."""

    order: tuple[dt.datetime, str, str, str]
    rows: _HeldRows
    #: An unusual session's place among its signature's, as count_unusual found it.
    extreme: Extreme | None
    #: A plain success's column-wise verdict (thumbprint and protocol).
    verdict: tuple[str | None, str | None] | None


_HELD_ORDER = operator.attrgetter("order")
#: Sessions held to the file's end (see _Reducer._take) before they are built at once,
#: as they were at each block's end: a file with failures from tens of thousands of
#: hosts holds two sessions for each, so what is held stays bounded whatever the file.
MAX_HELD = 4096


def _scratch(size: int, np: Any) -> Any:
    """Return this thread's two rows of bools, each of at least ``size`` (a block's)."""
    array = getattr(_SCRATCH, "array", None)
    if array is None or array.shape[1] < size:
        array = _SCRATCH.array = np.empty((2, max(size, BLOCK_BYTES)), dtype=bool)
    return array


class _Reducer:
    """Reduces the blocks of one file, carrying the sessions still open between them."""

    def __init__(
        self,
        name: str,
        direction: Direction | None,
        header_lines: int,
        *,
        one_thread: bool = False,
    ) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        if direction is None:
            raise Fallback  # plain_success needs the direction; the careful path guesses
        self.np: Any = np
        self.pa: Any = pa
        # Each event's code (its place in EVENTS) by its byte; -1 for any other byte.
        self.event_codes: Any = np.full(256, -1, dtype=np.int8)
        for code, event in enumerate(EVENTS):
            self.event_codes[ord(event)] = code
        self.name = name
        self.direction = direction
        self.builder = SummaryBuilder()
        self.next_line = header_lines + 1
        self.carried: Any = None
        self.carried_lines: Any = None
        self.latest_ms: int | None = None
        # Held to the file's end (see _take): the first and last unusual sessions of
        # each signature so far, and the latest plain success of each tally.
        self.extremes: dict[Signature, list[_Held]] = {}
        self.latest: dict[Tally, _Held] = {}
        names = list(STANDARD_FIELDS)
        pool = memory_pool(pa, one_thread=one_thread)
        # One block is one chunk of each column: pyarrow cuts its input into blocks of
        # block_size (1 MiB by default) and gives a chunk for each, which the checks then
        # copied into one array. Twice the block: a block size just over the input parsed
        # at half the speed (pyarrow 26). No threads of pyarrow's: a block is one chunk,
        # split in the thread of Ahead or in a worker of a pool as large as the cores.
        read_options = pcsv.ReadOptions(
            column_names=names, block_size=2 * _most_bytes(one_thread), use_threads=False
        )
        parse_options = pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)

        # UTF-8 is checked column by column after the split (check_utf8): most columns
        # of most blocks are ASCII, which needs no check.
        convert_options = pcsv.ConvertOptions(
            column_types=pa.schema([(name, pa.string()) for name in names]),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,
        )
        self.read: Callable[[Any], Any] = lambda data: pcsv.read_csv(
            data,
            memory_pool=pool,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )

    def split(self, data: memoryview) -> tuple[Any, list[Any]]:
        """Return where each line of a block ends and its columns, as ``csv`` splits them.

        Fall back when ``csv`` could split the block otherwise.
        """
        np, pa = self.np, self.pa
        if data and data[-1] != ord("\n"):
            # The last line has no line end: add the file's (one copy, once a file).
            data = memoryview(bytes(data) + (b"\r\n" if b"\r" in data.tobytes() else b"\n"))
        scratch = _scratch(len(data), np)
        marks = split_lines(data, np, scratch)
        lines = marks.newlines
        if not len(lines):
            return lines, []
        table = self.read(pa.py_buffer(data))
        if table.num_rows != len(lines):
            raise Fallback
        columns = [as_array(column) for column in table.columns]
        check_fields(columns, data, marks, np)
        if not marks.ascii_only:
            check_utf8([column for at, column in enumerate(columns) if at not in _ENCODED], np)
        return lines, columns

    def block(self, data: memoryview, *, final: bool) -> None:
        """Split a block and reduce it."""
        self.reduce_block(self.split(data), final=final)

    def reduce_block(self, split: tuple[Any, list[Any]], *, final: bool) -> None:
        """Reduce a block that :meth:`split` split, the blocks of a file in order."""
        np, pa = self.np, self.pa
        lines, columns = split
        count = len(lines)
        table = pa.table(columns, names=list(STANDARD_FIELDS)) if count else None
        numbers = np.arange(self.next_line, self.next_line + count, dtype=np.int64)
        self.next_line += count
        if self.carried is not None:
            table = table if table is not None else self.carried.slice(0, 0)
            table = pa.concat_tables([self.carried, table]).combine_chunks()
            numbers = np.concatenate([self.carried_lines, numbers])
        self.carried = self.carried_lines = None
        if table is not None and table.num_rows:
            self._reduce(table, numbers, final=final)
        if final:
            self._release()

    def _reduce(self, table: Any, lines: Any, *, final: bool) -> None:
        np, pa = self.np, self.pa
        import pyarrow.compute as pc

        count = table.num_rows
        columns = [as_array(column) for column in table.columns]
        moments = timestamps(columns[0], np, pa, pc)
        sequence = decimal_numbers(columns[3], np)
        if sequence is None:
            raise Fallback
        events = byte_codes(columns[6], self.event_codes, np)
        if events is None:
            raise Fallback
        connectors = columns[1].dictionary_encode()
        sessions_ids = columns[2].dictionary_encode()
        context_codes = columns[8].dictionary_encode()
        check_utf8([connectors.dictionary, sessions_ids.dictionary, context_codes.dictionary], np)
        connector_names = connectors.dictionary.to_pylist()
        connector_index = numpy_of(connectors.indices, np).astype(np.int64)
        session_index = numpy_of(sessions_ids.indices, np)
        session_names = sessions_ids.dictionary.to_pylist()
        key = connector_index * len(sessions_ids.dictionary) + session_index

        # Sessions: rows of a key in arrival order; a disconnect ends one.
        disconnect = events == DISCONNECT
        # A block holds a few thousand sessions: keys of 16 bits sort by radix, in a
        # sixth of the time of 64-bit ones.
        by_key = np.argsort(
            key.astype(np.uint16) if int(key.max()) < 1 << 16 else key, kind="stable"
        )
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
            raise Fallback
        opened = np.zeros(count, dtype=np.int64)
        opened[by_key[starts]] = 1
        if int(np.cumsum(opened - disconnect).max()) > _MAX_OPEN:
            raise Fallback
        running = np.maximum.accumulate(moments)
        if self.latest_ms is not None:
            running = np.maximum(running, self.latest_ms)
        self.latest_ms = int(running[-1])
        session_start = np.minimum.reduceat(moments[by_key], starts)
        reached = running[by_key[last_positions]]
        if final:
            reached = np.where(closed, reached, self.latest_ms)
        else:
            reached = np.where(closed, reached, session_start)
        if bool((reached - session_start >= _IDLE_MS).any()):
            raise Fallback  # the assembler could have cut a session as idle

        # Sequence order within each session, stable: sequence_order's order.
        # Sessions are numbered in key order, so in either order each session's rows
        # sit where they sit by key: the same numbers, beginning at the same places.
        order, row_sequence = by_key, sequence[by_key]
        if bool((row_sequence[1:] < row_sequence[:-1])[~begins[1:]].any()):
            order = np.lexsort((sequence, session))
            row_sequence = sequence[order]
        row_session, first_rows = session_sorted, starts
        row_events = events[order]
        bounds = np.append(first_rows, count)
        information = row_events == INFORMATION

        # The strings plain_success tests, classified once per distinct value.
        context_values = context_codes.dictionary.to_pylist()
        protocols: list[str] = []
        context_class, context_protocol = classified(context_values, protocols, np)
        context_certificate = np.array(
            [is_certificate_context(text) for text in context_values] + [False]
        )
        context_thumbprint = np.array(
            [is_thumbprint_context(text) for text in context_values] + [False]
        )
        context_empty = np.array([not text for text in context_values] + [False])
        context_index = numpy_of(context_codes.indices, np)
        text_class = context_class[context_index]
        text_protocol = context_protocol[context_index]
        empty_context = context_empty[context_index] & (events == INFORMATION)
        data = columns[7]
        if bool(empty_context.any()):
            at = np.flatnonzero(empty_context)
            data_codes = data.take(indices(at, np, pa)).dictionary_encode()
            data_values = data_codes.dictionary.to_pylist()
            positions = numpy_of(data_codes.indices, np)
            data_class, data_protocol = classified(data_values, protocols, np)
            text_class[at] = data_class[positions]
            text_protocol[at] = data_protocol[positions]
        certificate = (events == INFORMATION) & context_certificate[context_index]
        thumbprint_rows = certificate & context_thumbprint[context_index]
        thumbprint_of = np.full(count, -1, dtype=np.int64)
        thumbprints: list[str | None] = []
        if bool(thumbprint_rows.any()):
            at = np.flatnonzero(thumbprint_rows)
            codes = data.take(indices(at, np, pa)).dictionary_encode()
            values = [normalise_thumbprint(text) for text in codes.dictionary.to_pylist()]
            thumbprints = values
            thumbprint_of[at] = numpy_of(codes.indices, np)
        reply = RECEIVE if self.direction is Direction.SEND else SEND
        error_reply = np.zeros(count, dtype=bool)
        candidates = events == reply
        if bool(candidates.any()):
            at = np.flatnonzero(candidates)
            first = first_bytes(data, at, np)
            maybe = (first == ord("4")) | (first == ord("5"))
            if bool(maybe.any()):
                chosen = at[maybe]
                codes = data.take(indices(chosen, np, pa)).dictionary_encode()
                flags = np.array([is_error_reply(text) for text in codes.dictionary.to_pylist()])
                error_reply[chosen] = flags[numpy_of(codes.indices, np)]

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
        began = ~information & ((row_events == CONNECT) | (row_sequence == 0))
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
        protocol[row_session[ok_rows]] = text_protocol[order[ok_rows]]
        thumbprint = np.full(total, -1, dtype=np.int64)
        last_thumbprints = np.flatnonzero(thumbprint_rows[order])
        # Later rows are assigned later: numpy keeps the last write to an index.
        thumbprint[row_session[last_thumbprints]] = thumbprint_of[order[last_thumbprints]]
        first_arrival = order[first_rows]
        first_line = lines[first_arrival]
        session_connector = connector_index[first_arrival]

        keep = closed & ~plain
        row_starts = (row_events == CONNECT) | (row_sequence == 0)
        unusual = np.flatnonzero(keep & (per_session(row_starts) > 0))
        if unusual.size:
            counted, extremes = count_unusual(
                self,
                unusual,
                order,
                row_events,
                first_rows,
                session_start,
                first_line,
                table,
                lines,
                events,
                moments,
                sequence,
                (connector_names, connector_index, session_names, session_index),
            )
            keep[counted] = False
            if extremes:
                groups = list(extremes.items())
                chosen = [extreme.session for _, group in groups for extreme in group]
                keep[chosen] = False
                rows_of = iter(
                    self._take(chosen, table, lines, events, moments, sequence, order, bounds)
                )
                for signature, group in groups:
                    for extreme in group:
                        held = _Held(extreme.order, next(rows_of), extreme, None)
                        self._offer_extreme(signature, held)
        if not final:
            carry = np.flatnonzero(~closed[session])
            if carry.size:
                self.carried = table.take(indices(carry, np, pa))
                self.carried_lines = lines[carry]
        else:
            keep |= ~closed
        plain_sessions = np.flatnonzero(plain)
        if plain_sessions.size:
            latest = tally_plain(
                self,
                plain_sessions,
                session_connector,
                thumbprint,
                protocol,
                session_start,
                first_line,
                connector_names,
                session_names,
                session_index[first_arrival],
                thumbprints,
                protocols,
            )
            chosen = [found.session for found in latest]
            taken = self._take(chosen, table, lines, events, moments, sequence, order, bounds)
            for found, rows in zip(latest, taken, strict=True):
                self._offer_latest(found.tally, _Held(found.order, rows, None, found.verdict))
        rows = np.flatnonzero(keep[session])
        self._keep(table, lines, rows, events, moments, sequence)
        if 2 * len(self.extremes) + len(self.latest) > MAX_HELD:
            self._release()

    def _take(
        self,
        sessions: list[int],
        table: Any,
        lines: Any,
        events: Any,
        moments: Any,
        sequence: Any,
        order: Any,
        bounds: Any,
    ) -> list[_HeldRows]:
        """Take the rows of finished sessions (numbers in this block) out of the block.

        Rows are built only for the sessions still held when the file ends (see
        :meth:`_release`); a block's table is freed once none of its sessions is held.
        """
        np, pa = self.np, self.pa
        if not sessions:
            return []
        positions = [
            # In arrival order, as the careful path reads them: the assembler ends a
            # session at its disconnect, which may come before a row numbered after it.
            np.sort(order[bounds[number] : bounds[number + 1]])
            for number in sessions
        ]
        rows = np.concatenate(positions)
        block = _Block(
            table.take(indices(rows, np, pa)),
            lines[rows],
            events[rows],
            moments[rows],
            sequence[rows],
        )
        taken: list[_HeldRows] = []
        low = 0
        for found in positions:
            taken.append(_HeldRows(block, low, low + len(found)))
            low += len(found)
        return taken

    def _offer_extreme(self, signature: Signature, candidate: _Held) -> None:
        """Hold ``candidate`` if it is the first or the last of its signature; count the rest.

        Only the first and the last of a signature in the whole file can be first or
        last of all: the others become occurrences as they are displaced.
        """
        kept = self.extremes.get(signature)
        if kept is None:
            self.extremes[signature] = [candidate]
            return
        everything = sorted([*kept, candidate], key=_HELD_ORDER)
        middle = [held.extreme for held in everything[1:-1] if held.extreme is not None]
        count_between(self.builder, signature, self.direction, middle)
        self.extremes[signature] = [everything[0], everything[-1]]

    def _offer_latest(self, tally: Tally, candidate: _Held) -> None:
        """Hold ``candidate`` if it is the latest plain success of its tally; count the other."""
        kept = self.latest.get(tally)
        if kept is not None and kept.order > candidate.order:
            kept, candidate = candidate, kept
        if kept is not None:
            self.builder.count_plain(self.direction, *tally, 1)
        self.latest[tally] = candidate

    def _release(self) -> None:
        """Build and reduce the sessions held to the file's end.

        The column-wise verdict on each latest plain success is held to plain_success on
        its rows: only the sessions counted without their rows must be right, and the
        builder's take() decides again on these.
        """
        held = [
            *(kept for group in self.extremes.values() for kept in group),
            *self.latest.values(),
        ]
        self.extremes, self.latest = {}, {}
        if not held:
            return
        by_block: dict[int, tuple[_Block, list[_Held]]] = {}
        for kept in held:
            by_block.setdefault(id(kept.rows.block), (kept.rows.block, []))[1].append(kept)
        np = self.np
        built: list[ProtocolLogRow] = []
        for block, group in by_block.values():
            rows = self.build_rows(
                block.table,
                block.lines,
                np.concatenate([np.arange(kept.rows.low, kept.rows.high) for kept in group]),
                block.events,
                block.moments,
                block.sequence,
            )
            low = 0
            for kept in group:
                size = kept.rows.high - kept.rows.low
                session = rows[low : low + size]
                low += size
                if kept.extreme is None:
                    verdict = plain_success(sequence_order(session), self.direction)
                    if verdict != kept.verdict:
                        raise Fallback
            built.extend(rows)
        summarise_rows(built, self.builder)

    def build_rows(
        self, table: Any, lines: Any, rows: Any, events: Any, moments: Any, sequence: Any
    ) -> list[ProtocolLogRow]:
        """Build the rows at arrival positions ``rows``, in that order."""
        taken = table.take(indices(rows, self.np, self.pa))
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

    def _keep(
        self, table: Any, lines: Any, rows: Any, events: Any, moments: Any, sequence: Any
    ) -> None:
        """Build rows for the kept sessions and reduce them as the careful path does."""
        if not rows.size:
            return
        summarise_rows(self.build_rows(table, lines, rows, events, moments, sequence), self.builder)
