"""Text streams for the protocol log reader: a file's text, read once or again.

A log is decoded as it streams (:func:`open_text`, in the encoding its first bytes show),
and read a second time, in step, only where a quote left open made ``csv`` join lines
(:class:`PhysicalLines`). An archive member, which cannot seek back, gets the bytes read
to detect its encoding put back in front (:class:`Prefixed`).
"""

from __future__ import annotations

import collections
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from exchange_tls.errors import ProblemCollector
from exchange_tls.sources import (
    ESCAPE_HANDLER,
    detect_encoding,
    guessed_encoding_problem,
    open_regular,
)

__all__ = ["PhysicalLines", "Prefixed", "open_text", "reopener"]

_consume: Callable[[Iterable[object]], None] = collections.deque[object](maxlen=0).extend


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


def open_text(binary: IO[bytes], name: str, collector: ProblemCollector) -> io.TextIOWrapper:
    """Wrap a seekable binary file as text in the encoding its first bytes show."""
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
    return io.TextIOWrapper(stream, encoding=encoding, errors=ESCAPE_HANDLER, newline="")


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
