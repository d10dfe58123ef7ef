"""Assemble rows into SMTP sessions, without I/O.

Theory of operation. Rows of many sessions interleave in a log, and a session can run
on into the next rotated file. :class:`SessionAssembler` keeps one list of rows per open
session, keyed by direction, connector and session id. A session ends at its disconnect
row (``-``): ``feed`` returns it then. ``close`` returns the rest, marked incomplete.
Rows are put in sequence order when the session ends (stable, so duplicates keep their
arrival order; gaps are allowed). Memory holds only open sessions: a session idle for
longer than ``idle_timeout`` of log time (Exchange drops idle connections after 10
minutes) is returned incomplete as soon as the log has moved past it, and at most
``max_open`` sessions are held, the oldest returned first when more arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from exchange_tls.protocol_log.facts import infer_direction, session_facts
from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow, SmtpSession

__all__ = ["SessionAssembler", "assemble_sessions"]

_Key = tuple["Direction | None", str, str]


def _order(row: ProtocolLogRow) -> int:
    number = row.sequence_number
    return -1 if number is None else number


def build_session(key: _Key, rows: list[ProtocolLogRow], *, ended: bool) -> SmtpSession:
    """Build a session from its rows; ``ended`` says its disconnect row was seen."""
    rows.sort(key=_order)
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
        idle_timeout: dt.timedelta = dt.timedelta(hours=1),
        max_open: int = 100_000,
    ) -> None:
        self._open: dict[_Key, list[ProtocolLogRow]] = {}
        self._last_seen: dict[_Key, dt.datetime] = {}
        self._idle_timeout = idle_timeout
        self._max_open = max_open
        self._latest: dt.datetime | None = None
        self._fed = 0

    @property
    def open_sessions(self) -> int:
        """How many sessions are waiting for more rows."""
        return len(self._open)

    def feed(self, row: ProtocolLogRow) -> list[SmtpSession]:
        """Add a row; return the sessions it finished (usually none)."""
        key = (row.direction, row.connector_id, row.session_id)
        rows = self._open.get(key)
        if rows is None:
            rows = self._open[key] = []
        rows.append(row)
        timestamp = row.timestamp
        # Re-inserting keeps _last_seen ordered by last activity, oldest first.
        self._last_seen.pop(key, None)
        self._last_seen[key] = timestamp
        if self._latest is None or timestamp > self._latest:
            self._latest = timestamp
        finished: list[SmtpSession] = []
        if row.event is Event.DISCONNECT:
            del self._open[key], self._last_seen[key]
            finished.append(build_session(key, rows, ended=True))
        self._fed += 1
        if self._fed % 4096 == 0 or len(self._open) > self._max_open:
            finished.extend(self._evict())
        return finished

    def _evict(self) -> list[SmtpSession]:
        """Return sessions idle too long, and the oldest beyond ``max_open``."""
        evicted: list[SmtpSession] = []
        cutoff = None if self._latest is None else self._latest - self._idle_timeout
        while self._last_seen:
            oldest, seen = next(iter(self._last_seen.items()))
            if len(self._open) <= self._max_open and (cutoff is None or seen >= cutoff):
                break
            evicted.append(self._finish(oldest))
        return evicted

    def _finish(self, key: _Key) -> SmtpSession:
        rows = self._open.pop(key)
        del self._last_seen[key]
        return build_session(key, rows, ended=False)

    def close(self) -> list[SmtpSession]:
        """Return every open session, marked incomplete, in order of first row."""
        keys = sorted(self._open, key=lambda key: self._open[key][0].timestamp)
        return [self._finish(key) for key in keys]


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
    assembler = SessionAssembler()
    for row in rows:
        yield from assembler.feed(row)
    yield from assembler.close()
