"""Summaries and filters: counts of sessions and TLS failures, and a narrower evidence.

:func:`summary` counts sessions and TLS failures by server, connector, remote host, TLS
error and hour, the overview a large folder needs; :func:`filter_evidence` keeps the
sessions of one time window, connector, remote host or server, for ``diagnose``,
``sessions`` and ``summary`` alike.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

import attrs

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.summary import SessionSummary, signature_of
from exchange_tls.views.records import server_of_queue, server_of_session, tls_outcome

__all__ = ["Count", "Filters", "Summary", "filter_evidence", "summary"]

#: Rows of each breakdown the text shows unless told (``exchange-tls summary --top N``).
SHOWN_TOP = 20
#: The key of sessions whose server, remote host or TLS error is not in the evidence.
NOT_KNOWN = "(not known)"


@attrs.frozen(kw_only=True)
class Count:
    """Sessions and TLS failures under one key (a connector, a host, an hour …)."""

    key: str
    sessions: int
    tls_failed: int


@attrs.frozen(kw_only=True)
class Summary:
    """Counts of sessions and TLS failures, overall and by each key.

    Each tuple of counts is ordered by failures, then sessions, most first (hours in time
    order).
    """

    sessions: int
    tls_succeeded: int
    tls_failed: int
    first: dt.datetime | None
    last: dt.datetime | None
    by_server: tuple[Count, ...]
    by_connector: tuple[Count, ...]
    by_remote: tuple[Count, ...]
    by_error: tuple[Count, ...]
    by_hour: tuple[Count, ...]

    def tables(self, top: int | None = None) -> dict[str, list[dict[str, object]]]:
        """Return each breakdown as records: ``{"connector": [{...}, ...], ...}``.

        ``top`` keeps the first rows of each (most failures first; hours, the latest),
        and adds up the rest in one last row.
        """
        named = {
            "server": self.by_server,
            "connector": self.by_connector,
            "remote": self.by_remote,
            "error": self.by_error,
            "hour": self.by_hour,
        }
        return {name: _rows(name, counts, top) for name, counts in named.items()}

    def to_dict(self, top: int | None = None) -> dict[str, object]:
        """Return a JSON-ready description (every row, or the first ``top`` of each)."""
        return {
            "sessions": self.sessions,
            "tls_succeeded": self.tls_succeeded,
            "tls_failed": self.tls_failed,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            **{f"by_{name}": rows for name, rows in self.tables(top).items()},
        }

    def __str__(self) -> str:
        return self.text(top=SHOWN_TOP)

    def text(self, *, top: int | None = SHOWN_TOP) -> str:
        """Write the counts for a terminal, the first ``top`` rows of each breakdown."""
        from exchange_tls.views.tables import text_table

        span = (
            ""
            if self.first is None or self.last is None
            else f", {self.first:%Y-%m-%d %H:%M} to {self.last:%Y-%m-%d %H:%M} UTC"
        )
        lines = [
            f"{plural(self.sessions, 'session')}: TLS succeeded in {self.tls_succeeded}, "
            f"failed in {self.tls_failed}{span}"
        ]
        for name, rows in self.tables(top).items():
            lines += ["", f"By {name}:", text_table(rows)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from exchange_tls.views.tables import html_cell, html_table

        parts = [f"<p>{html_cell(str(self).splitlines()[0])}</p>"]
        for name, rows in self.tables().items():
            parts += [f"<h4>By {html_cell(name)}</h4>", html_table(rows)]
        return "".join(parts)


def _rows(name: str, counts: tuple[Count, ...], top: int | None) -> list[dict[str, object]]:
    shown: tuple[Count, ...] = counts
    rest: tuple[Count, ...] = ()
    if top is not None and name == "hour":
        shown = counts[-top:]  # the latest hours
    elif top is not None:
        shown, rest = counts[:top], counts[top:]
    rows: list[dict[str, object]] = [
        {name: count.key, "sessions": count.sessions, "tls_failed": count.tls_failed}
        for count in shown
    ]
    if rest:
        rows.append(
            {
                name: f"… and {len(rest)} more",
                "sessions": sum(count.sessions for count in rest),
                "tls_failed": sum(count.tls_failed for count in rest),
            }
        )
    return rows


def _remote_host(session: SmtpSession) -> str | None:
    endpoint = session.remote_endpoint
    return None if endpoint is None else endpoint.host


#: Sessions counted per value of one breakdown, and whether their TLS failed.
_Column = Counter[tuple[str | None, bool]]
#: The breakdowns, in the order of :class:`Summary`'s: server, connector, remote, error, hour.
_BREAKDOWNS = 5
#: Where sessions to remote hosts a summary did not keep by name are counted.
OTHER_HOSTS = "(other hosts)"


def _hour_text(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.timezone.utc):%Y-%m-%d %H}:00"


def _facts_of(session: SmtpSession) -> tuple[str | None, ...]:
    return (
        server_of_session(session),
        session.connector_id,
        _remote_host(session),
        session.tls.error if session.tls else None,
        _hour_text(session.start),
    )


def _add_session(columns: list[_Column], session: SmtpSession) -> None:
    failed = tls_outcome(session) == "failed"
    for column, value in zip(columns, _facts_of(session), strict=True):
        column[value, failed] += 1


def _server_of_connector(direction: str, connector: str) -> str | None:
    return connector.split("\\", 1)[0] if direction == "receive" and "\\" in connector else None


def _tallied(summary: SessionSummary) -> list[_Column]:
    """Count every session a summary saw, kept whole, tallied or counted as an occurrence."""
    columns: list[_Column] = [Counter() for _ in range(_BREAKDOWNS)]
    names: dict[str, str] = {}
    for session in summary.sessions:
        names.setdefault(session.connector_id.casefold(), session.connector_id)
        # Ordinary sessions kept whole are in the tallies too (when there are any).
        if signature_of(session)[2] != "ok" or not summary.tallies:
            _add_session(columns, session)
    server, connector, remote, error, hour = columns
    for tally in summary.tallies:
        names.setdefault(tally.connector_id.casefold(), tally.connector_id)
        server[_server_of_connector(tally.direction, tally.connector_id), False] += tally.sessions
        connector[tally.connector_id, False] += tally.sessions
        remote[None, False] += tally.sessions
        error[None, False] += tally.sessions
        hour[_hour_text(tally.hour), False] += tally.sessions
    for (direction, folded, outcome, detail, _), found in summary.occurrences:
        name = names.get(folded, folded)
        failed = outcome == "tls-failed"
        server[_server_of_connector(direction, name), failed] += found.count
        connector[name, failed] += found.count
        error[detail if failed else None, failed] += found.count
        for host, sessions in found.hosts:
            remote[host or None, failed] += sessions
        if found.hosts_folded_sessions:
            remote[OTHER_HOSTS, failed] += found.hosts_folded_sessions
        for moment, sessions in found.hours:
            hour[_hour_text(moment), failed] += sessions
    return columns


def _counts_of(column: _Column) -> tuple[Count, ...]:
    total: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for (value, tls_failed), sessions in column.items():
        name = value or NOT_KNOWN
        total[name] += sessions
        if tls_failed:
            failed[name] += sessions
    return tuple(
        Count(key=name, sessions=total[name], tls_failed=failed[name])
        for name in sorted(total, key=lambda n: (-failed[n], -total[n], n))
    )


def summary(evidence: Evidence | Iterable[SmtpSession]) -> Summary:
    """Count sessions and TLS failures by server, connector, remote host, error and hour.

    From summarised evidence, every session is counted, kept whole or only counted (a
    session counted but not kept has no remote host when it succeeded: it counts under
    "(not known)").

    >>> from exchange_tls import load_evidence
    >>> from exchange_tls.views import summary
    >>> from exchange_tls.bundled import example_files
    >>> counted = summary(load_evidence(example_files()[0].parent, date_order="MDY"))
    >>> counted.sessions, counted.tls_failed, counted.by_error[0].key
    (1, 1, 'UnknownCredentials')
    """
    if isinstance(evidence, Evidence) and evidence.summary is not None:
        summarised = evidence.summary
        columns = _tallied(summarised)
        tls_succeeded = summarised.tls_succeeded
        # A tally knows its hour, and keeps its latest session whole.
        starts = [session.start for session in summarised.sessions]
        starts += [tally.hour for tally in summarised.tallies]
        for _, found in summarised.occurrences:
            starts += [moment for moment in (found.first, found.last) if moment is not None]
    else:
        sessions = list(evidence.sessions if isinstance(evidence, Evidence) else evidence)
        columns = [Counter() for _ in range(_BREAKDOWNS)]
        for session in sessions:
            _add_session(columns, session)
        tls_succeeded = sum(tls_outcome(session) == "ok" for session in sessions)
        starts = [session.start for session in sessions]
    by_server, by_connector, by_remote, by_error, by_hour = map(_counts_of, columns)
    return Summary(
        sessions=sum(count.sessions for count in by_connector),
        tls_succeeded=tls_succeeded,
        tls_failed=sum(count.tls_failed for count in by_connector),
        first=min(starts, default=None),
        last=max(starts, default=None),
        by_server=by_server,
        by_connector=by_connector,
        by_remote=by_remote,
        by_error=by_error,
        by_hour=tuple(sorted(by_hour, key=lambda count: count.key)),
    )


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


@attrs.frozen(kw_only=True)
class Filters:
    """Which part of the evidence to look at; ``None`` keeps everything.

    Times are compared with a session's start (``since`` included, ``until`` excluded).
    ``connector`` and ``remote`` match a session's connector id and remote host or
    address, without regard to case; ``server`` matches the server the evidence names.
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    connector: str | None = None
    remote: str | None = None
    server: str | None = None

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(
            value is not None
            for value in (self.since, self.until, self.connector, self.remote, self.server)
        )

    def keeps(self, session: SmtpSession) -> bool:
        """Whether a session passes every filter set."""
        start = session.start
        if self.since is not None and start < self.since:
            return False
        if self.until is not None and start >= self.until:
            return False
        if self.connector is not None and _fold(session.connector_id) != _fold(self.connector):
            return False
        if self.remote is not None:
            endpoint = session.remote_endpoint
            names = {_fold(str(endpoint)), _fold(endpoint.host)} if endpoint else set()
            if _fold(self.remote) not in names:
                return False
        server = server_of_session(session)
        return self.server is None or server is None or _fold(server) == _fold(self.server)


def filter_evidence(evidence: Evidence, filters: Filters) -> Evidence:
    """Keep the sessions the filters pass, and what else belongs to the same scope.

    Sessions are filtered on every field. ``connector`` also keeps only that send
    connector; ``server`` keeps only the queues, certificates and receive connectors of
    that server. Configuration and queues are snapshots, not events: time filters leave
    them alone. Items whose server the evidence does not name (a send log's sessions, a
    certificate listed without a server) are kept by ``server``, so that a filter never
    hides the only evidence there is.
    """
    if not filters.active:
        return evidence

    def same_server(name: str | None) -> bool:
        return filters.server is None or name is None or _fold(name) == _fold(filters.server)

    scopes = tuple(filter_evidence(scope, filters) for scope in evidence.scopes)
    send_connectors = evidence.send_connectors
    if filters.connector is not None:
        send_connectors = tuple(
            connector
            for connector in send_connectors
            if _fold(filters.connector) in (_fold(connector.name), _fold(connector.identity))
        )
    return attrs.evolve(
        evidence,
        sessions=tuple(session for session in evidence.sessions if filters.keeps(session)),
        send_connectors=send_connectors,
        queues=tuple(queue for queue in evidence.queues if same_server(server_of_queue(queue))),
        certificates=tuple(c for c in evidence.certificates if same_server(c.server)),
        receive_connectors=tuple(c for c in evidence.receive_connectors if same_server(c.server)),
        # Counts of the sessions filtered out would mislead: the sessions kept are all.
        summary=None,
        scopes=scopes,
    )
