"""Assemble rows into SMTP sessions, without I/O.

Theory of operation. Rows of many sessions interleave in a log, and a session can run
on into the next rotated file. :class:`SessionAssembler` keeps one list of rows per open
session, keyed by direction, connector and session id. A session ends at its disconnect
row (``-``): ``feed`` returns it then. ``close`` returns the rest, marked incomplete.
Rows are put in sequence order when the session ends (stable, so duplicates keep their
arrival order; gaps are allowed). Memory holds only open sessions: a session idle for
longer than ``idle_timeout`` of log time (Exchange drops idle connections after 10
minutes) is returned incomplete as soon as the log has moved past it, and at most
``max_open`` sessions are held, the oldest returned first when more arrive. A session
keeps at most ``max_rows`` rows (its first ones, and its disconnect row); the rows beyond
are counted in :attr:`SessionAssembler.truncated`, so that one endless session cannot
hold a whole log in memory.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from exchange_tls.arguments import check_argument, check_arguments, instance_of
from exchange_tls.moments import shift
from exchange_tls.protocol_log.facts import infer_direction, session_facts
from exchange_tls.protocol_log.models import (
    Direction,
    Event,
    ProtocolLogRow,
    SmtpSession,
)

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_OPEN_SESSIONS",
    "MAX_SESSION_ROWS",
    "SWEEP_EVERY",
    "Builder",
    "SessionAssembler",
    "assemble_sessions",
    "build_session",
    "ordered_columns",
    "sequence_order",
]

#: The most rows one session keeps; an SMTP session of many messages has a few thousand.
MAX_SESSION_ROWS = 100_000
#: Sessions held open at once before the oldest is returned unfinished.
MAX_OPEN_SESSIONS = 100_000
#: Log time after which a session with no new row is returned unfinished.
IDLE_TIMEOUT = dt.timedelta(hours=1)
#: Rows between the assembler's sweeps for idle and surplus sessions.
SWEEP_EVERY = 4096

_Key = tuple["Direction | None", str, str]


class Builder(Protocol):
    """Builds a finished session from its rows, or consumes them and returns ``None``."""

    def __call__(self, key: _Key, rows: list[ProtocolLogRow], *, ended: bool) -> SmtpSession | None:
        """Return the session of ``rows``; ``ended`` says its disconnect row was seen."""


# Fields by their places in the row's tuple: attrgetter would go through each field's
# descriptor, which costs more. One C call gives a row's session key.
_SEQUENCE = operator.itemgetter(ProtocolLogRow._fields.index("sequence_number"))
_SESSION_KEY = operator.itemgetter(
    *map(ProtocolLogRow._fields.index, ("direction", "connector_id", "session_id"))
)


def _order(row: ProtocolLogRow) -> int:
    number = row.sequence_number
    return -1 if number is None else number


# The sequence numbers of a session that began in the file: 0, 1, 2 and on. Sessions
# longer than this are ordered the general way.
_COUNTING = list(range(4096))
_COUNTING_TUPLE = tuple(_COUNTING)
_NUMBER_PLACE = ProtocolLogRow._fields.index("sequence_number")


def sequence_order(rows: list[ProtocolLogRow]) -> list[ProtocolLogRow]:
    """Put rows in sequence order, stably.

    The usual case, rows numbered 0, 1, 2 and on, costs one list comparison; rows in
    order otherwise cost C calls only.
    """
    numbers = list(map(_SEQUENCE, rows))
    if numbers == _COUNTING[: len(numbers)]:
        return rows
    return _ordered(rows, numbers)


def ordered_columns(
    rows: list[ProtocolLogRow],
) -> tuple[list[ProtocolLogRow], tuple[tuple[Any, ...], ...]]:
    """Put rows in sequence order, and return them with their columns.

    The columns are one tuple per field of :class:`ProtocolLogRow`, in its order, from
    one ``zip``: a session's reading needs several, and this costs less than fetching
    each one row by row. Rows numbered 0, 1, 2 and on are taken as they are, as
    :func:`sequence_order` takes them.
    """
    columns = tuple(zip(*rows, strict=True))
    numbers = columns[_NUMBER_PLACE]
    if numbers == _COUNTING_TUPLE[: len(numbers)]:
        return rows, columns
    ordered = _ordered(rows, list(numbers))
    return ordered, columns if ordered is rows else tuple(zip(*ordered, strict=True))


def _ordered(rows: list[ProtocolLogRow], numbers: list[Any]) -> list[ProtocolLogRow]:
    """Put rows in sequence order, stably, whatever their ``numbers`` (ints or None)."""
    if None in numbers:
        return sorted(rows, key=_order)
    if sorted(numbers) != numbers:
        positions = sorted(range(len(rows)), key=numbers.__getitem__)
        return list(map(rows.__getitem__, positions))
    return rows


def build_session(key: _Key, rows: list[ProtocolLogRow], *, ended: bool) -> SmtpSession:
    """Build a session from its rows; ``ended`` says its disconnect row was seen."""
    rows = sequence_order(rows)
    direction, connector_id, session_id = key
    if direction is None:
        direction = infer_direction(rows)
    facts = session_facts(rows, direction)
    return SmtpSession(
        connector_id=connector_id,
        session_id=session_id,
        direction=direction,
        rows=tuple(rows),
        complete=ended and facts.complete,
        tls=facts.tls,
        connect_failure=facts.connect_failure,
        auth_failure=facts.auth_failure,
        disconnect_reason=facts.disconnect_reason,
    )


class SessionAssembler:
    r"""Feed rows in, get finished sessions out (see the module's docstring).

    >>> from exchange_tls import parse_protocol_log
    >>> log = parse_protocol_log(
    ...     "2024-03-13T09:01:19.100Z,EX\\Default Frontend EX,08DC42C8FF236A1F,0,"
    ...     "10.0.0.25:25,10.0.0.30:62136,+,,\n"
    ...     "2024-03-13T09:01:19.461Z,EX\\Default Frontend EX,08DC42C8FF236A1F,1,"
    ...     "10.0.0.25:25,10.0.0.30:62136,-,,Remote(ConnectionReset)\n"
    ... )
    >>> assembler = SessionAssembler()
    >>> [[session.disconnect_reason for session in assembler.feed(row)] for row in log.rows]
    [[], ['Remote(ConnectionReset)']]
    >>> assembler.close()
    []
    """

    def __init__(
        self,
        *,
        idle_timeout: dt.timedelta = IDLE_TIMEOUT,
        max_open: int = MAX_OPEN_SESSIONS,
        max_rows: int = MAX_SESSION_ROWS,
        build: Builder | None = None,
    ) -> None:
        #: Turns a finished session's rows into a session; one that returns ``None`` has
        #: consumed the rows itself (a summary that only counts the session).
        self._build: Builder = build_session if build is None else build
        self._open: dict[_Key, list[ProtocolLogRow]] = {}
        self._max_rows = max_rows
        self._dropped: dict[_Key, int] = {}
        #: Sessions that lost rows to ``max_rows``: (connector id, session id, rows
        #: dropped), in the order they finished.
        self.truncated: list[tuple[str, str, int]] = []
        self._idle_timeout = idle_timeout
        self._max_open = max_open
        self._latest: dt.datetime | None = None
        self._until_sweep = max(1, min(SWEEP_EVERY, max_open))

    @property
    def open_sessions(self) -> int:
        """How many sessions are waiting for more rows."""
        return len(self._open)

    def feed(self, row: ProtocolLogRow) -> list[SmtpSession]:
        """Add a row; return the sessions it finished (usually none)."""
        return list(self.feed_all((row,)))

    def feed_all(self, rows: Iterable[ProtocolLogRow]) -> Iterator[SmtpSession]:
        """Add rows; yield each session as it finishes. The loop of :meth:`feed`, inlined."""
        open_sessions = self._open
        build = self._build
        disconnect = Event.DISCONNECT
        until_sweep = self._until_sweep
        session_key = _SESSION_KEY
        for row in rows:
            key = session_key(row)
            session = open_sessions.get(key)
            if session is None:
                open_sessions[key] = [row]
            else:
                session.append(row)
            if row.event is disconnect:
                if self._dropped:
                    self._note_truncated(key)
                finished = build(key, open_sessions.pop(key), ended=True)
                if finished is not None:
                    yield finished
            until_sweep -= 1
            if until_sweep <= 0:
                # Limits are checked at sweeps, every few thousand rows, to keep the
                # per-row work minimal; max_open can be exceeded by that much between.
                moment = row.timestamp
                self._latest = moment if self._latest is None else max(self._latest, moment)
                yield from self._evict()
                until_sweep = self._until_sweep
        self._until_sweep = until_sweep

    def _evict(self) -> list[SmtpSession]:
        """Return sessions idle too long, and the oldest beyond ``max_open``."""
        # A sweep looks at every open session, so it runs once per that many rows (but
        # often enough to honour max_open): its cost per row stays constant.
        self._until_sweep = max(1, min(max(SWEEP_EVERY, len(self._open)), self._max_open))
        evicted: list[SmtpSession | None] = []
        for key, rows in self._open.items():
            if len(rows) > self._max_rows:
                # Checked at sweeps only, so a session may exceed the limit by one
                # sweep's rows before it is cut back to its first max_rows.
                self._dropped[key] = self._dropped.get(key, 0) + len(rows) - self._max_rows
                del rows[self._max_rows :]
        if self._latest is not None:
            cutoff = shift(self._latest, -self._idle_timeout)
            idle = [key for key, rows in self._open.items() if rows[-1].timestamp < cutoff]
            evicted.extend(self._finish(key) for key in idle)
        while len(self._open) > self._max_open:
            # Dicts keep insertion order: the first key is the session that began first.
            evicted.append(self._finish(next(iter(self._open))))
        return [session for session in evicted if session is not None]

    def _finish(self, key: _Key) -> SmtpSession | None:
        if self._dropped:
            self._note_truncated(key)
        return self._build(key, self._open.pop(key), ended=False)

    def detach(self) -> list[tuple[_Key, list[ProtocolLogRow]]]:
        """Return the rows of every open session, unassembled, and forget them.

        For a summary of one rotated file: a session still open at its end goes on in the
        next file, and is assembled once the rows of both are together.
        """
        detached = list(self._open.items())
        for key, _ in detached:
            if self._dropped:
                self._note_truncated(key)
        self._open.clear()
        return detached

    def _note_truncated(self, key: _Key) -> None:
        dropped = self._dropped.pop(key, 0)
        if dropped:
            self.truncated.append((key[1], key[2], dropped))

    def close(self) -> list[SmtpSession]:
        """Return every open session, marked incomplete, in order of first row."""
        keys = sorted(self._open, key=lambda key: self._open[key][0].timestamp)
        finished = [self._finish(key) for key in keys]
        return [session for session in finished if session is not None]


def assemble_sessions(rows: Iterable[ProtocolLogRow]) -> Iterator[SmtpSession]:
    r"""Yield the sessions in ``rows``, finished ones first, then the incomplete rest.

    >>> from exchange_tls import parse_protocol_log
    >>> log = parse_protocol_log(
    ...     "2017-10-07T04:42:56.804Z,Outbound to Office 365,08D50D3D9730A8D2,21,,,*,,"
    ...     "TLS negotiation failed with error UnknownCredentials\n"
    ... )
    >>> [session] = assemble_sessions(log.rows)
    >>> session.tls.error, session.complete
    ('UnknownCredentials', False)
    """
    # Checked here, not in the generator, so that a wrong type fails at the call.
    check_arguments("assemble_sessions", rows=rows)
    return _assembled(rows)


def _assembled(rows: Iterable[ProtocolLogRow]) -> Iterator[SmtpSession]:
    assembler = SessionAssembler()
    rows = iter(rows)
    first = next(rows, None)
    if first is not None:
        # The first row only: a check per row would cost the hot path.
        takes = instance_of(ProtocolLogRow, description="an iterable of ProtocolLogRow")
        check_argument("assemble_sessions", "rows", first, takes)
        yield from assembler.feed(first)
    yield from assembler.feed_all(rows)
    yield from assembler.close()
