"""Text streams for the protocol log reader: a file's text, read once or again.

A log is decoded as it streams (:func:`open_text`, in the encoding its first bytes show),
split into records a batch at a time (:class:`Records`: what ``csv.reader`` gives, with
most lines split by ``str.split``), and read a second time, in step, only where a quote
left open made ``csv`` join lines (:class:`PhysicalLines`). An archive member, which
cannot seek back, gets the bytes read to detect its encoding put back in front
(:class:`Prefixed`).

Lines end where a text stream opened with ``newline=""`` ends them: at CR LF, LF or a
lone CR. The stream that :class:`Records` reads ends them at LF only, which costs less
(no scan of every character for CRs), and :class:`Records` splits a line again after a
lone CR inside it, which Exchange never writes.
"""

from __future__ import annotations

import collections
import csv
import io
import itertools
import operator
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from exchange_tls.errors import ProblemCollector
from exchange_tls.sources import (
    ESCAPE_HANDLER,
    detect_encoding,
    guessed_encoding_problem,
    open_regular,
    undecodable_seen,
)

__all__ = ["PhysicalLines", "Prefixed", "Records", "open_text", "reopener"]

_consume: Callable[[Iterable[object]], None] = collections.deque[object](maxlen=0).extend
_LINE_BREAKS = ("\r", "\n")
# Python 3.10's csv refuses a line with NUL; later ones read NUL as any other character.
_CSV_REFUSES_NUL = sys.version_info < (3, 11)
# Where a line ends after a lone CR: not before an LF, not at the line's own end.
_AFTER_LONE_CR = re.compile(r"(?<=\r)(?!\n|\Z)")


class Records:
    r"""The records ``csv.reader`` splits from lines, taken a batch at a time.

    The lines may end at LF only (see the module's docstring): a lone CR inside one ends
    a line too, as it does in a text stream opened with ``newline=""``.

    Exchange quotes a field only when it holds a comma or a quote, so most lines hold
    no quote. Such a line is one record whatever ``csv`` would do with it (no quote to
    open, no field beyond ``csv``'s limit, no line break or NUL inside it), and its
    fields are what ``str.split(",")`` gives: that costs a fraction of ``csv``'s reading
    character by character. The lines of a batch that hold a quote are split by
    ``csv``, each on its own; anything this cannot settle (a quote left open at a line's
    end, an error) sends the batch to one ``csv.reader`` over its lines and the rest, as
    if this class were not there. A property test holds the two to each other.

    >>> records = Records(iter(['a,"b,c",d\r\n', "\r\n", "e,f\r\n"]))
    >>> records.take(2), records.line_num
    (([['a', 'b,c', 'd'], []], None, False), 2)
    >>> records.take(2), records.line_num
    (([['e', 'f']], None, False), 3)
    """

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        #: Lines read from the stream but not yet split (only after a ``csv`` error).
        self._pending: list[str] = []
        #: Whether the pending lines were read while undecodable bytes were met.
        self._pending_undecodable = False
        # Characters still to come that may have been decoded, bad bytes and all, while
        # an earlier batch was read: a text stream decodes a chunk ahead of its lines.
        self._decoded_ahead = 0
        #: Physical lines split so far, as ``csv.reader.line_num`` counts them.
        self.line_num = 0

    def take(self, count: int) -> tuple[list[list[str]], str | None, bool]:
        """Return the next ``count`` records, ``csv``'s error, and undecodable bytes met.

        Fewer records come back at the end of the lines, or where ``csv`` refused a
        record: the error's message is then returned, and the records split before it
        are kept, as ``itertools.islice`` over a ``csv.reader`` keeps them. The flag
        says whether the lines read for these records met undecodable bytes.
        """
        seen = undecodable_seen()
        undecodable = self._pending_undecodable
        if self._pending:
            chunk = self._pending[:count]
            del self._pending[:count]
            chunk.extend(itertools.islice(self._lines, count - len(chunk)))
        else:
            chunk = list(itertools.islice(self._lines, count))
        undecodable = self._met_undecodable(chunk, seen, undecodable)
        self._pending_undecodable = False
        records = _split_plainly(chunk)
        if records is None:
            lines = _at_lone_crs(chunk)
            if len(lines) != len(chunk):
                chunk = lines[:count]
                self._pending[:0] = lines[count:]
                # Decoded with this batch: the next batch cannot tell on its own.
                self._pending_undecodable = undecodable and bool(self._pending)
                records = _split_plainly(chunk)
        if records is not None:
            self.line_num += len(chunk)
            return records, None, undecodable
        # The general way: csv over the batch's lines and on, as far as its records go.
        unread = iter(chunk)
        later = iter(self._pending)
        rest = _AtLoneCrs(self._lines)
        reader = csv.reader(itertools.chain(unread, later, rest))
        records = []
        failure: str | None = None
        try:
            records.extend(itertools.islice(reader, count))
        except csv.Error as error:
            failure = str(error)
        self.line_num += reader.line_num
        undecodable = self._met_undecodable([], seen, undecodable)
        self._pending = [*unread, *later, *rest.held]
        if self._pending:
            # Those lines were decoded here, so a later batch could not tell.
            self._pending_undecodable = undecodable
        return records, failure, undecodable

    def _met_undecodable(self, chunk: list[str], seen: int, undecodable: bool) -> bool:
        """Whether the lines of ``chunk`` may hold bytes the decoder could not read.

        The escape handler counts bad bytes as the text stream decodes them, which is a
        chunk ahead of the lines taken: a count that moved while one batch was read may
        be for the next batch's lines. Those are flagged too, until the text decoded so
        far has been taken (:data:`DECODED_AHEAD` characters after the count last moved).
        """
        if undecodable_seen() != seen:
            self._decoded_ahead = DECODED_AHEAD
            return True
        if self._decoded_ahead > 0:
            self._decoded_ahead -= sum(map(len, chunk))
            return True
        return undecodable


#: More than a text stream decodes ahead of the line it returns (io's chunk of 8,192
#: bytes, each at most one character, and the lines of a batch cut after it).
DECODED_AHEAD = 4 * 8192


def _at_lone_crs(lines: list[str]) -> list[str]:
    """Split lines again after each lone CR inside them."""
    return [part for line in lines for part in _AFTER_LONE_CR.split(line)]


class _AtLoneCrs:
    """Lines split again after each lone CR inside them, as ``csv`` takes them."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        #: The parts of the last line split that were not taken yet.
        self.held: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if not self.held:
            self.held = _AFTER_LONE_CR.split(next(self._lines))
        return self.held.pop(0)


def _split_plainly(chunk: list[str]) -> list[list[str]] | None:
    """Split each line into one record as ``csv`` would; ``None`` when it cannot tell."""
    # A log's lines all end alike: the first line's break is taken off each line.
    ending = "\r\n" if chunk and chunk[0].endswith("\r\n") else "\n"
    bodies = list(map(str.removesuffix, chunk, itertools.repeat(ending)))
    plain = "".join(bodies)
    if "\r" in plain or "\n" in plain:
        # Another break, or a lone CR (which ends a line too): the LFs at each line's end
        # come off, then one CR, so that a lone CR before them stays and is seen.
        ended = map(str.rstrip, chunk, itertools.repeat("\n"))
        bodies = list(map(str.removesuffix, ended, itertools.repeat("\r")))
        plain = "".join(bodies)
        if "\r" in plain or "\n" in plain:
            return None  # a line break inside a line
    if _CSV_REFUSES_NUL and "\x00" in plain:
        return None
    if bodies and max(map(len, bodies)) > csv.field_size_limit():
        return None  # csv refuses a field that long
    if "" in bodies:
        # csv gives [] for an empty line, where str.split gives [""].
        records = [body.split(",") if body else [] for body in bodies]
    else:
        records = list(map(str.split, bodies, itertools.repeat(",")))
    if '"' not in plain:
        return records
    holds_quote = map(operator.contains, bodies, itertools.repeat('"'))
    quoted = list(itertools.compress(itertools.count(), holds_quote))
    lines = list(map(chunk.__getitem__, quoted))
    if not all(map(str.endswith, lines, itertools.repeat(_LINE_BREAKS))):
        return None  # the text's last line: csv could read a quote left open differently
    try:
        split = list(csv.reader(lines))
    except csv.Error:
        return None
    # A record that spans lines leaves fewer records than lines; a quote left open on
    # the last line keeps that line's break in a field.
    last = "".join(split[-1]) if split else ""
    if len(split) != len(lines) or "\r" in last or "\n" in last:
        return None
    _consume(map(records.__setitem__, quoted, split))
    return records


class PhysicalLines:
    """The lines of a source read a second time, in step, for re-splitting a few of them."""

    def __init__(self, reopen: Callable[[], Iterator[str]] | None) -> None:
        self._reopen = reopen
        self._lines: Iterator[str] | None = None
        self._read = 0

    def take(self, first: int, last: int) -> list[str] | None:
        """Return lines ``first`` to ``last`` (1-based); they only move forward."""
        if self._reopen is None or first <= self._read:
            return None
        if self._lines is None:
            self._lines = self._reopen()
        _consume(itertools.islice(self._lines, first - 1 - self._read))
        lines = list(itertools.islice(self._lines, last - first + 1))
        self._read = last
        return lines

    def close(self) -> None:
        """Close the stream."""
        close = getattr(self._lines, "close", None)
        if close is not None:
            close()


def open_text(
    binary: IO[bytes], name: str, collector: ProblemCollector, *, newline: str = ""
) -> io.TextIOWrapper:
    r"""Wrap a binary file as text in the encoding its first bytes show.

    ``newline`` is the text stream's: ``""`` ends lines at CR LF, LF and a lone CR;
    ``"\n"``, for :class:`Records`, at LF only.
    """
    head = binary.read(4096)
    encoding, mark, guessed = detect_encoding(head)
    if guessed:
        collector.report(guessed_encoding_problem(encoding, name))
    if binary.seekable():
        binary.seek(mark)
        stream: IO[bytes] = binary
    else:
        # An archive member cannot seek back: put the bytes after the mark in front.
        stream = io.BufferedReader(Prefixed(head[mark:], binary))
    return io.TextIOWrapper(stream, encoding=encoding, errors=ESCAPE_HANDLER, newline=newline)


class Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        """Return True: the stream is read."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the prefix, then from the rest."""
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the stream."""
        self._rest.close()
        super().close()


def reopener(path: Path, name: str) -> Callable[[], Iterator[str]]:
    """Return a function that opens the file's text again from its start."""

    def reopen() -> Iterator[str]:
        # Its encoding was reported when the file was first opened; PhysicalLines
        # closes the wrapper (and so the file) when the reading ends.
        return open_text(open_regular(path), name, ProblemCollector("collect"))

    return reopen
