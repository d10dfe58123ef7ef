"""Read protocol logs: streaming, typed rows with their file and line.

The public face of the reader: files and folders streamed (:func:`iter_protocol_rows`,
:func:`stream_protocol_rows`) or text in memory (:func:`parse_protocol_log`). How rows
are split, checked and typed, the fast way or the careful one, is in
:mod:`~exchange_tls.protocol_log.rows`; the text streams in
:mod:`~exchange_tls.protocol_log.streams`. Memory is one batch of rows, whatever the
size of the log.
"""

from __future__ import annotations

import io
import itertools
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from exchange_tls.arguments import OPTIONAL_TEXT, check_argument, check_arguments, instance_of
from exchange_tls.errors import ErrorMode, Problem, ProblemCollector, Severity
from exchange_tls.protocol_log.files import direction_from_path, expand_paths
from exchange_tls.protocol_log.models import (
    Direction,
    ProtocolLog,
    ProtocolLogHeader,
    ProtocolLogRow,
)
from exchange_tls.protocol_log.pasted import repair_pasted
from exchange_tls.protocol_log.rows import STANDARD_FIELDS, LogReader
from exchange_tls.protocol_log.streams import open_text, reopener
from exchange_tls.results import read_text_file
from exchange_tls.sources import open_regular

__all__ = [
    "STANDARD_FIELDS",
    "ProtocolRowReader",
    "iter_protocol_rows",
    "parse_protocol_log",
    "read_protocol_log",
    "stream_protocol_rows",
]

# The engine's class under its former name, for code that patched it.
_LogReader = LogReader


class ProtocolRowReader:
    """Rows of several logs, streamed, with the problems found so far.

    An iterator of :class:`ProtocolLogRow` objects, read once, as a file is;
    :attr:`problems` grows as reading goes on, and :attr:`headers` holds the header
    blocks seen.
    """

    def __init__(
        self, paths: Iterable[str | os.PathLike[str]], *, errors: ErrorMode = "collect"
    ) -> None:
        self._paths = list(paths)
        self._collector = ProblemCollector(errors)
        self.headers: list[ProtocolLogHeader] = []
        self.files: list[str] = []
        self._rows: Iterator[ProtocolLogRow] | None = None

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem reported so far."""
        return self._collector.problems

    def __iter__(self) -> Iterator[ProtocolLogRow]:
        # A for loop gets the C-level chain itself: going through __next__ would cost a
        # Python call per row.
        if self._rows is None:
            # Flattened in C: a generator that yielded each row would cost a frame
            # resume per row.
            self._rows = itertools.chain.from_iterable(self._batches())
        return self._rows

    def __next__(self) -> ProtocolLogRow:
        return next(iter(self))

    def _batches(self) -> Iterator[list[ProtocolLogRow]]:
        for path in expand_paths(self._paths, self._collector):
            name = str(path)
            self.files.append(name)
            log = LogReader(name, self._collector, direction=direction_from_path(path))
            try:
                binary = open_regular(path)
            except OSError as error:
                self._collector.report(
                    Problem(
                        message=f"cannot read: {error.strerror or error}",
                        source=name,
                        severity=Severity.ERROR,
                        code="unreadable",
                    )
                )
                continue
            with binary:
                text = open_text(binary, name, self._collector, newline="\n")
                yield from log.batches(text, reopener(path, name))
            self.headers.extend(log.headers)


def stream_protocol_rows(
    opener: Callable[[], IO[bytes]], name: str, collector: ProblemCollector
) -> Iterator[ProtocolLogRow]:
    """Stream the rows of one log from a binary stream that ``opener`` opens.

    ``opener`` is called again to re-split lines that a quote left open; problems go
    to ``collector``. Memory is one batch of rows, whatever the size of the log.
    """
    log = LogReader(name, collector, direction=direction_from_path(Path(name)))

    def reopen() -> Iterator[str]:
        return open_text(opener(), name, ProblemCollector("collect"))

    def batches() -> Iterator[list[ProtocolLogRow]]:
        with opener() as binary:
            text = open_text(binary, name, collector, newline="\n")
            yield from log.batches(text, reopen)

    # Flattened in C: a generator that yielded each row would cost a frame resume per row.
    return itertools.chain.from_iterable(batches())


def iter_protocol_rows(
    *paths: str | os.PathLike[str], errors: ErrorMode = "collect"
) -> ProtocolRowReader:
    """Stream the rows of protocol logs: files, folders and glob patterns.

    A folder is read as its ``SEND*``/``RECV*`` files in name order (hourly names such
    as ``RECV2023011116-1.LOG`` included, instance numbers in numeric order). Memory
    stays flat whatever the size of the logs. The returned reader is an iterator that
    also carries ``problems``: the streaming form of :func:`read_protocol_log`, whose
    :class:`ProtocolLog` holds every row at once.
    """
    check_arguments("iter_protocol_rows", errors=errors)
    for path in paths:
        check_arguments("iter_protocol_rows", paths=path)
    return ProtocolRowReader(paths, errors=errors)


def _source_of(source: str | None, positional: str | None, keyword: str | None) -> str:
    """Return the log's label from ``source=``, or from the deprecated ``name``."""
    given = [label for label in (positional, keyword) if label is not None]
    if given:
        if source is not None or len(given) > 1:
            raise TypeError("parse_protocol_log() takes the log's label once, as source=")
        warnings.warn(
            "parse_protocol_log(text, name) is deprecated; pass source=name instead",
            DeprecationWarning,
            stacklevel=3,
        )
        return given[0]
    return source if source is not None else "<log>"


def parse_protocol_log(
    text: str,
    _name: str | None = None,
    /,
    *,
    source: str | None = None,
    pasted: bool = False,
    errors: ErrorMode = "collect",
    direction: Direction | None = None,
    name: str | None = None,
) -> ProtocolLog:
    r"""Read a protocol log from text in memory.

    ``source`` names the log in every row's place and problem (``"<log>"`` when not
    given); a name like ``SEND20171007-1.LOG`` also tells the direction. The older
    label, a second positional argument or ``name=``, still works for one minor release
    and warns :class:`DeprecationWarning`.

    With ``pasted=True`` the text may have come through a web page or a ticket: quote
    prefixes, indentation, blank lines, curly quotes, Markdown escapes and bold
    markers, header lines without their ``#``, a lost ``*`` event and one pair of
    enclosing quotes are repaired, and each repair is reported as information.

    >>> log = parse_protocol_log(
    ...     "#Log-type: SMTP Send Protocol Log\n"
    ...     "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    ...     "remote-endpoint,event,data,context\n"
    ...     "2017-10-07T04:42:56.804Z,Outbound to Office 365,08D50D3D9730A8D2,21,,,*,,"
    ...     "TLS negotiation failed with error UnknownCredentials\n",
    ...     source="SEND20171007-1.LOG",
    ... )
    >>> [row] = log
    >>> log.source, log.format, len(log), log.rows == log.items
    ('SEND20171007-1.LOG', 'csv', 1, True)
    >>> row.direction, str(row.source)
    (<Direction.SEND: 'send'>, 'SEND20171007-1.LOG:3')
    >>> row.context
    'TLS negotiation failed with error UnknownCredentials'
    """
    check_arguments("parse_protocol_log", text=text, pasted=pasted, errors=errors)
    for parameter, label in (("source", source), ("name", _name), ("name", name)):
        check_argument("parse_protocol_log", parameter, label, OPTIONAL_TEXT)
    check_argument(
        "parse_protocol_log",
        "direction",
        direction,
        instance_of(Direction, description="a Direction or None", optional=True),
    )
    label = _source_of(source, _name, name)
    collector = ProblemCollector(errors)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if pasted:
        text = repair_pasted(text, label, collector)
    reader = LogReader(
        label,
        collector,
        direction=direction or direction_from_path(Path(label)),
        pasted=pasted,
    )
    batches = reader.batches(io.StringIO(text, newline=""), lambda: io.StringIO(text, newline=""))
    rows = tuple(itertools.chain.from_iterable(batches))
    return ProtocolLog(
        # attrs' mypy plugin leaves the inherited converter's type variable unbound.
        items=rows,  # type: ignore[arg-type]
        headers=tuple(reader.headers),
        problems=collector.problems,
        format="csv",
        source=label,
    )


def read_protocol_log(
    file: str | os.PathLike[str] | BinaryIO, *, errors: ErrorMode = "collect"
) -> ProtocolLog:
    """Read one protocol log file into memory; see :func:`iter_protocol_rows` to stream."""
    check_arguments("read_protocol_log", file=file, errors=errors)
    return read_text_file(
        file, lambda text, source: parse_protocol_log(text, source=source, errors=errors)
    )
