"""Counting sessions column-wise, for the columnar fast path.

Plain successes become counts of their tally (:func:`tally_plain`); unusual sessions
whose rows read alike share a shape, one of which is built (:func:`shape_of`), and those
neither first nor last of their signature in a block become occurrences at once
(:func:`count_unusual`). See :mod:`~exchange_tls.protocol_log.columnar`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from typing import Any, NamedTuple, Protocol

from exchange_tls.endpoints import host_of
from exchange_tls.protocol_log.columnar_arrays import indices
from exchange_tls.protocol_log.facts import (
    InformationKind,
    classify_information,
    fact_text,
    plain_success,
)
from exchange_tls.protocol_log.models import Direction, ProtocolLogRow
from exchange_tls.protocol_log.sessions import build_session, sequence_order
from exchange_tls.protocol_log.summary import (
    Occurrence,
    Signature,
    SummaryBuilder,
    signature_of,
    telling_row,
)
from exchange_tls.sources import SourceRef

__all__ = [
    "EVENTS",
    "Extreme",
    "Latest",
    "Reducing",
    "Tally",
    "classified",
    "count_between",
    "count_unusual",
    "moment",
    "tally_plain",
]

#: The events, in the order of their codes in the columns.
EVENTS = ("+", "-", ">", "<", "*")
CONNECT, DISCONNECT, SEND, RECEIVE, INFORMATION = range(5)
_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
# Information text classes, as plain_success tests them (classify_information).
OTHER = int(InformationKind.OTHER)


class Reducing(Protocol):
    """What the counting needs of the reducer of a file."""

    np: Any
    pa: Any
    name: str
    direction: Direction
    builder: SummaryBuilder

    def build_rows(
        self, table: Any, lines: Any, rows: Any, events: Any, moments: Any, sequence: Any
    ) -> list[ProtocolLogRow]:
        """Build the rows at arrival positions ``rows``, in that order."""
        ...


class Extreme(NamedTuple):
    """An unusual session that may be the first or the last of its signature."""

    order: tuple[dt.datetime, str, str, str]
    #: The session's number in its block.
    session: int
    occurrence: Occurrence
    #: Its TLS outcome, as :meth:`SummaryBuilder.count_unusual` counts it.
    succeeded: bool | None


#: A plain success's tally, as :meth:`SummaryBuilder.count_plain` takes it: connector id,
#: thumbprint, protocol and hour.
Tally = tuple[str, str, str, dt.datetime]


class Latest(NamedTuple):
    """The latest plain success of a tally in a block."""

    tally: Tally
    order: tuple[dt.datetime, str, str, str]
    #: The session's number in its block.
    session: int
    #: Its thumbprint and protocol, as plain_success must find them.
    verdict: tuple[str | None, str | None]


class _Shape(NamedTuple):
    """What a session's rows say, in sequence order: event code, number, data, context."""

    direction: Direction
    connector_id: str
    rows: tuple[tuple[int, int, str, str], ...]


def count_unusual(
    reducer: Reducing,
    unusual: Any,
    order: Any,
    row_events: Any,
    first_rows: Any,
    start: Any,
    first_line: Any,
    table: Any,
    lines: Any,
    events: Any,
    moments: Any,
    sequence: Any,
    names: tuple[list[str], Any, list[str], Any],
) -> tuple[list[int], dict[Signature, list[Extreme]]]:
    """Count the finished unusual sessions that are neither first nor last of their kind.

    Sessions whose rows say the same (events, data and context in sequence order, on
    one connector) have the same signature and their failure on the same row: one of
    them is built and reduced (:func:`_shape_of`), the others become occurrences at
    once. Those first or last of their signature in this block are returned apart
    (one, or the first and the last): only they can be first or last of all, and the
    reducer keeps them until the file ends. Returns the sessions counted, and those.

    ``names`` are the block's connector ids and session ids, each with its index for
    every row (in arrival order).
    """
    np, pa = reducer.np, reducer.pa
    # The rows of the unusual sessions, in sequence order: each session's range.
    lows = first_rows[unusual]
    sizes = np.append(first_rows[1:], len(order))[unusual] - lows
    offsets = np.cumsum(sizes) - sizes
    positions = np.repeat(lows - offsets, sizes) + np.arange(int(sizes.sum()))
    arrival = indices(order[positions], np, pa)
    end = np.maximum.reduceat(moments[order[positions]], offsets).tolist()
    written = table.column(7).take(arrival).to_pylist()
    contexts = table.column(8).take(arrival).to_pylist()
    remotes = table.column(5).take(arrival).to_pylist()
    connector_names, connector_index, session_names, session_index = names
    session_rows = order[lows]
    connectors = [connector_names[at] for at in connector_index[session_rows].tolist()]
    session_ids = [session_names[at] for at in session_index[session_rows].tolist()]
    kinds = row_events[positions].tolist()
    # Commands and replies as the session's reading uses them (fact_text): a banner
    # that carries the time makes no shape of its own.
    data = [
        text if kind == INFORMATION else _fact_text(text)
        for kind, text in zip(kinds, written, strict=True)
    ]
    numbers = sequence[order[positions]].tolist()
    row_lines = lines[order[positions]].tolist()
    bounds = [*offsets.tolist(), len(positions)]
    found: dict[Signature, list[Extreme]] = {}
    for number, index in enumerate(unusual.tolist()):
        low, high = bounds[number], bounds[number + 1]
        connector = connectors[number]
        shape = _Shape(
            reducer.direction,
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
            rows = reducer.build_rows(
                table,
                lines,
                order[first_rows[index] : first_rows[index] + high - low],
                events,
                moments,
                sequence,
            )
            known = _shape_of(reducer.direction, rows)
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
            moment(int(start[index])),
            connector,
            session_ids[number],
            f"{reducer.name}:{row_lines[low]}",
        )
        occurrence = Occurrence(
            source=SourceRef(reducer.name, row_lines[low + telling]),
            excerpt=_text(written[low + telling], contexts[low + telling]),
            start=session_order[0],
            end=moment(end[number]),
            remote_host=host,
        )
        found.setdefault(signature, []).append(Extreme(session_order, index, occurrence, succeeded))
    counted: list[int] = []
    extremes: dict[Signature, list[Extreme]] = {}
    for signature, sessions in found.items():
        if len(sessions) == 1:
            extremes[signature] = sessions
            continue
        sessions.sort(key=_FIRST_ITEM)
        middle = sessions[1:-1]
        count_between(reducer.builder, signature, reducer.direction, middle)
        counted.extend(extreme.session for extreme in middle)
        extremes[signature] = [sessions[0], sessions[-1]]
    return counted, extremes


def count_between(
    builder: SummaryBuilder, signature: Signature, direction: Direction, middle: list[Extreme]
) -> None:
    """Count sessions of a signature that are neither its first nor its last."""
    if middle:
        builder.count_unusual(
            signature,
            direction,
            [extreme.succeeded for extreme in middle],
            [extreme.occurrence for extreme in middle],
        )


def tally_plain(
    reducer: Reducing,
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
) -> list[Latest]:
    """Count the plain successes but the latest of each tally; return those, to keep."""
    np = reducer.np
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
            moment(int(start[index])),
            connectors[int(connector[index])],
            session_ids[int(session_id[index])],
            f"{reducer.name}:{int(first_line[index])}",
        )
        group = int(inverse[at])
        if group not in best or order > best[group][0]:
            best[group] = (order, index)
    latest: list[Latest] = []
    for group, (key, count) in enumerate(zip(groups.tolist(), counts.tolist(), strict=True)):
        tally = (
            connectors[key[0]],
            (thumbprints[key[1]] if key[1] >= 0 else None) or "",
            protocols[key[2]] if key[2] >= 0 else "",
            moment(key[3] * 3_600_000),
        )
        if count > 1:
            reducer.builder.count_plain(reducer.direction, *tally, count - 1)
        order, index = best[group]
        verdict = (
            thumbprints[key[1]] if key[1] >= 0 else None,
            protocols[key[2]] if key[2] >= 0 else None,
        )
        latest.append(Latest(tally, order, index, verdict))
    return latest


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
    return host_of(remote) or ""


def _text(data: str, context: str) -> str:
    """Return a row's text, as :attr:`ProtocolLogRow.text` gives it."""
    return data or context


def moment(milliseconds: int) -> dt.datetime:
    """Return the UTC moment of milliseconds since the epoch."""
    return _EPOCH + dt.timedelta(milliseconds=milliseconds)


def classified(values: list[str], protocols: list[str], np: Any) -> tuple[Any, Any]:
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
    return np.array([*kinds, OTHER]), np.array([*named, -1])
