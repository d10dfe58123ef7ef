"""Session summaries: what the rules read of a log, in bounded memory, mergeable.

Theory of operation. A day of a busy server's logs holds hundreds of thousands of
sessions, nearly all of them ordinary: TLS negotiated, mail accepted. The rules need every
*unusual* session's facts, but of the ordinary ones only that they happened, when, with
which certificate and protocol. So each finished session is reduced at once:

* An **ordinary** session (TLS succeeded; no connection, authentication or error reply)
  becomes a count in a :class:`Tally` per direction, connector, certificate, protocol and
  hour (not per remote host: their number grows with the sessions on a connector that
  routes by DNS). The latest session of each tally is kept whole, so a rule that asks
  "did TLS 1.2 ever succeed here?" or "when did TLS last succeed?" still finds a session
  to cite.
* An **unusual** session (TLS failed, no TLS, a failed connection or authentication, an
  error reply) has a signature: direction, connector, outcome, error and certificate
  (for a failed connection, the remote host instead). The error's text is normalised
  (:func:`~exchange_tls.protocol_log.signatures.normalise_signature_text`): host names,
  times, addresses and ids in it are decoration, not causes.
  The first and the last session of each signature are kept whole; every other one
  is an :class:`Occurrence` (where its failure line is, what it says, when, to which
  remote host), counted in the signature's :class:`Occurrences`: the count, the
  earliest few to cite, the sessions by hour and by remote host, in memory bounded
  whatever the number of sessions (:mod:`~exchange_tls.protocol_log.occurrences`). The
  remote host is not part of the signature: a connector that fails with thousands of
  hosts is one cause.
* **Bounded by design.** A summary keeps at most twice :data:`SIGNATURES_KEPT`
  signatures apart; past that, the rarest are folded into one ``(other)`` signature per
  direction, connector and outcome, counted there (:attr:`SessionSummary.signatures_folded`
  says how many were folded). Memory is bounded by that number, by the tallies (per
  connector, certificate, protocol and hour) and by the fragments still open, not by the
  failing sessions or the distinct texts of the evidence.
* A session that began or ended outside the rows summarised (it spans rotated files) is a
  **fragment**: its rows are kept until the summaries of every file are merged, then it is
  assembled and reduced like any other.

Everything kept is decided by totals, by minimum and maximum over a total order and by
samples of the smallest hashes, so :meth:`SummaryBuilder.merge` is associative and
commutative: files can be summarised in any order, in any process, and merged in any
grouping, with the same result (up to :data:`SIGNATURES_KEPT` signatures; past it,
which rare signatures are folded can depend on the order, never the totals).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable

import attrs

from exchange_tls.protocol_log.facts import plain_success
from exchange_tls.protocol_log.models import (
    Direction,
    Event,
    ProtocolLogRow,
    SmtpSession,
)
from exchange_tls.protocol_log.occurrences import Occurrence, Occurrences, Pile
from exchange_tls.protocol_log.outcome import refusal, refusal_code
from exchange_tls.protocol_log.sessions import SessionAssembler, build_session, ordered_columns
from exchange_tls.protocol_log.signatures import normalise_signature_text

__all__ = [
    "OTHER",
    "SIGNATURES_KEPT",
    "Occurrence",
    "Occurrences",
    "SessionSummary",
    "Signature",
    "SummaryBuilder",
    "Tally",
    "merge_summaries",
    "signature_of",
    "summarise_rows",
    "telling_row",
]

#: (direction, connector folded, outcome, error or protocol, certificate thumbprint or
#: the remote host of a failed connection)
Signature = tuple[str, str, str, str, str]
_TallyKey = tuple[str, str, str, str, dt.datetime]
_FragmentKey = tuple["Direction | None", str, str]


#: How many signatures a summary keeps apart. Past twice this many, the rarest (fewest
#: sessions) are folded into one "other" signature per direction, connector and outcome,
#: so that memory is bounded by this number, not by the distinct texts of the evidence.
#: Two hundred causes is far more than any report can show; a real server has tens.
SIGNATURES_KEPT = 200
#: The error (and certificate) of the signature that holds the rarest, folded together.
OTHER = "(other)"


@attrs.frozen(kw_only=True)
class Tally:
    """How many ordinary sessions a connector had in an hour, with one certificate and protocol."""

    direction: str
    connector_id: str
    thumbprint: str
    protocol: str
    hour: dt.datetime
    sessions: int


@attrs.frozen(kw_only=True)
class SessionSummary:
    """What the rules read of the sessions of some logs (see the module's docstring)."""

    #: The sessions kept whole: every unusual signature's first and last, and the latest
    #: ordinary session per direction, connector, certificate, protocol and hour.
    sessions: tuple[SmtpSession, ...] = ()
    #: The unusual sessions not kept whole, by signature, counted.
    occurrences: tuple[tuple[Signature, Occurrences], ...] = ()
    tallies: tuple[Tally, ...] = ()
    #: Sessions seen in all, by direction (``"send"``, ``"receive"``).
    send_sessions: int = 0
    receive_sessions: int = 0
    tls_succeeded: int = 0
    tls_failed: int = 0
    #: How many times a rare signature was folded into its "other" signature
    #: (:data:`SIGNATURES_KEPT`); its sessions are counted there.
    signatures_folded: int = 0

    def occurrences_like(self, session: SmtpSession) -> Occurrences:
        """Return the occurrences of the signature of ``session``."""
        wanted = signature_of(session)
        return next(
            (found for signature, found in self.occurrences if signature == wanted), Occurrences()
        )


def _direction(session: SmtpSession) -> str:
    return "receive" if session.direction is Direction.RECEIVE else "send"


def _error_reply(session: SmtpSession) -> str | None:
    """Return the first refusal's codes (``550 5.7.64``), cheaply (no grammar).

    The enhanced code is part of the signature: 5.7.64 and 5.1.1 are different causes.
    """
    row = refusal(session.rows, session.direction)
    return None if row is None else refusal_code(row.data)


def _host(session: SmtpSession) -> str:
    remote = session.remote_endpoint
    return remote.host if remote is not None and remote.host else ""


def signature_of(session: SmtpSession) -> Signature:
    """Return the signature that groups unusual sessions (outcome ``ok`` for ordinary ones)."""
    direction = _direction(session)
    connector = session.connector_id.casefold()
    tls = session.tls
    certificate = tls.local_certificate if tls is not None else None
    thumbprint = (certificate.thumbprint or "") if certificate is not None else ""
    if session.connect_failure is not None:
        # Per remote host: an unreachable host is a cause of its own, and there are few.
        winsock = session.connect_failure.winsock_error
        return (direction, connector, "connect-failed", str(winsock), _host(session))
    if session.auth_failure is not None:
        failure = normalise_signature_text(session.auth_failure)
        return (direction, connector, "auth-failed", failure, thumbprint)
    if tls is not None and tls.succeeded is False:
        error = normalise_signature_text(tls.error or "")
        return (direction, connector, "tls-failed", error, thumbprint)
    reply = _error_reply(session)
    if reply is not None:
        return (direction, connector, "error-reply", reply, thumbprint)
    if tls is None or tls.succeeded is not True:
        offered = "" if tls is None else str(tls.starttls_offered)
        return (direction, connector, "no-tls", offered, "")
    return (direction, connector, "ok", tls.protocol or "", thumbprint)


_Order = tuple[dt.datetime, str, str, str]
_FIRST = operator.itemgetter(0)
_TIMESTAMP_PLACE = ProtocolLogRow._fields.index("timestamp")


def _order(session: SmtpSession) -> _Order:
    """Return a total order of sessions: time, identity and place, never input order."""
    first = session.rows[0]
    return (session.start, session.connector_id, session.session_id, str(first.source))


def _occurrence(session: SmtpSession) -> Occurrence:
    row = telling_row(session)
    return Occurrence(
        source=row.source if row is not None else None,
        excerpt=row.text if row is not None else "",
        start=session.start,
        end=session.end,
        remote_host=_host(session),
    )


def telling_row(session: SmtpSession) -> ProtocolLogRow | None:
    """Return the row that shows what went wrong in an unusual session.

    The TLS failure, the failed connection or authentication; else the first error reply;
    else the first row. A finding accounts for a session when it cites this row.
    """
    for row in session.rows:
        text = row.text
        if text.startswith(("TLS negotiation failed", "Failed to connect", "Outbound Auth")):
            return row
    for row in session.rows:
        if row.data[:1] in ("4", "5") and row.data[1:3].isdigit():
            return row
    return session.rows[0] if session.rows else None


_AN_HOUR = dt.timedelta(hours=1)
_EPOCH_HOUR = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _starts(rows: Iterable[ProtocolLogRow]) -> bool:
    """Whether the session's own first row is among ``rows`` (connect or sequence 0)."""
    return any(row.event is Event.CONNECT or row.sequence_number == 0 for row in rows)


class SummaryBuilder:
    """Reduce sessions into a summary; merge builders; freeze the result."""

    def __init__(self, *, keep_all: bool = False) -> None:
        #: Keep every session whole instead of reducing it (for tables and notebooks);
        #: merging and fragments work the same.
        self.keep_all = keep_all
        #: Sessions that lost rows to the assembler's row limit: (connector id, session
        #: id, rows dropped).
        self.truncated: list[tuple[str, str, int]] = []
        self._all: list[tuple[_Order, SmtpSession]] = []
        # Kept sessions are stored with their place in the total order, computed once.
        self._first: dict[Signature, tuple[_Order, SmtpSession]] = {}
        self._last: dict[Signature, tuple[_Order, SmtpSession]] = {}
        self._occurrences: dict[Signature, Pile] = defaultdict(Pile)
        # A plain success kept as the latest of its tally is built only if it stays kept.
        self._latest_ok: dict[_TallyKey, tuple[_Order, SmtpSession | _Unbuilt]] = {}
        self._tallies: Counter[_TallyKey] = Counter()
        self._fragments: dict[_FragmentKey, list[ProtocolLogRow]] = {}
        self.send_sessions = 0
        self.receive_sessions = 0
        self.tls_succeeded = 0
        self.tls_failed = 0
        self.signatures_folded = 0
        # The hour of the last plain success tallied (see take).
        self._hour = _EPOCH_HOUR

    def add(self, session: SmtpSession) -> None:
        """Reduce one finished session."""
        if session.direction is Direction.RECEIVE:
            self.receive_sessions += 1
        else:
            self.send_sessions += 1
        tls = session.tls
        if tls is not None and tls.succeeded is not None:
            if tls.succeeded:
                self.tls_succeeded += 1
            else:
                self.tls_failed += 1
        if self.keep_all:
            self._all.append((_order(session), session))
            return
        signature = signature_of(session)
        direction, _, outcome, detail, thumbprint = signature
        if outcome == "ok":
            key = (direction, session.connector_id, thumbprint, detail, _hour(session.start))
            self._tallies[key] += 1
            self._keep_latest(key, (_order(session), session))
            return
        self._keep_extremes(signature, (_order(session), session))
        if len(self._first) > 2 * SIGNATURES_KEPT:
            self._fold_rarest()

    def take(
        self, key: _FragmentKey, rows: list[ProtocolLogRow], *, ended: bool
    ) -> SmtpSession | None:
        """Count a plain success at once; build any other session (the assembler's hook).

        Most sessions are plain successes (:func:`~exchange_tls.protocol_log.facts.plain_success`,
        read from the session's columns): they are tallied without building a model. The
        rest are built, and returned for :meth:`add`.
        """
        direction = key[0]
        if ended and direction is not None and not self.keep_all:
            ordered, columns = ordered_columns(rows)
            plain = plain_success(ordered, direction, columns)
            if plain is not None:
                thumbprint, protocol = plain
                start = min(columns[_TIMESTAMP_PLACE])
                if direction is Direction.RECEIVE:
                    self.receive_sessions += 1
                else:
                    self.send_sessions += 1
                self.tls_succeeded += 1
                hour = self._hour
                if start.tzinfo is not hour.tzinfo or not hour <= start < hour + _AN_HOUR:
                    # Sessions come roughly in time order: the hour is computed again
                    # only when one leaves it.
                    hour = self._hour = _hour(start)
                tally = (direction.value, key[1], thumbprint or "", protocol or "", hour)
                self._tallies[tally] += 1
                first = ordered[0]
                # str(first.source), without building the SourceRef.
                order = (start, key[1], key[2], f"{first.path}:{first.line}")
                self._keep_latest(tally, (order, _Unbuilt(key, ordered)))
                return None
        return build_session(key, rows, ended=ended)

    def count_plain(
        self,
        direction: Direction,
        connector_id: str,
        thumbprint: str,
        protocol: str,
        hour: dt.datetime,
        sessions: int,
    ) -> None:
        """Count plain successes found elsewhere, as :meth:`take` counts them, rows unseen.

        For the columnar reader (:mod:`~exchange_tls.protocol_log.columnar`), which finds
        plain successes column-wise: it counts all but the latest of each tally here, and
        passes the latest through :meth:`take`, which keeps it.
        """
        if direction is Direction.RECEIVE:
            self.receive_sessions += sessions
        else:
            self.send_sessions += sessions
        self.tls_succeeded += sessions
        self._tallies[(direction.value, connector_id, thumbprint, protocol, hour)] += sessions

    def count_unusual(
        self,
        signature: Signature,
        direction: Direction,
        succeeded: Iterable[bool | None],
        occurrences: Iterable[Occurrence],
    ) -> None:
        """Count unusual sessions found elsewhere that are neither first nor last of their kind.

        For the columnar reader: of the sessions of one signature in a block of a file,
        it builds the first and the last and passes them to :meth:`add`; the others can be
        neither first nor last of all, and are counted here as :meth:`add` would count
        them (``succeeded`` is each one's TLS outcome), by their occurrences.
        """
        for outcome in succeeded:
            if direction is Direction.RECEIVE:
                self.receive_sessions += 1
            else:
                self.send_sessions += 1
            if outcome is not None:
                if outcome:
                    self.tls_succeeded += 1
                else:
                    self.tls_failed += 1
        pile = self._occurrences[signature]
        for occurrence in occurrences:
            pile.add(occurrence)

    def _fold_rarest(self) -> None:
        """Fold the rarest signatures into their "other" signature (:data:`SIGNATURES_KEPT`).

        A folded signature's kept sessions become occurrences of the "other" signature:
        nothing is dropped, everything is counted. Which signatures are rarest can depend
        on the order sessions came in; the totals never do.
        """
        signatures = {*self._first, *self._occurrences}
        kept = sum(1 for signature in signatures if signature[3] != OTHER)
        if kept <= SIGNATURES_KEPT:
            return

        def sessions(signature: Signature) -> int:
            pile = self._occurrences.get(signature)
            whole = (
                0
                if signature not in self._first
                else 1 + (self._first[signature] is not self._last[signature])
            )
            return whole + (pile.count if pile is not None else 0)

        rare = sorted(
            (signature for signature in signatures if signature[3] != OTHER),
            key=lambda signature: (sessions(signature), signature),
        )[: kept - SIGNATURES_KEPT]
        for signature in rare:
            other = self._occurrences[(signature[0], signature[1], signature[2], OTHER, OTHER)]
            pile = self._occurrences.pop(signature, None)
            if pile is not None:
                other.merge(pile)
            first = self._first.pop(signature, None)
            last = self._last.pop(signature, None)
            for entry in {id(e): e for e in (first, last) if e is not None}.values():
                other.add(_occurrence(entry[1]))
        self.signatures_folded += len(rare)

    def _keep_latest(self, key: _TallyKey, entry: tuple[_Order, SmtpSession | _Unbuilt]) -> None:
        kept = self._latest_ok.get(key)
        if kept is None or entry[0] > kept[0]:
            self._latest_ok[key] = entry

    def _keep_extremes(self, signature: Signature, entry: tuple[_Order, SmtpSession]) -> None:
        first = self._first.get(signature)
        if first is None:
            self._first[signature] = self._last[signature] = entry
            return
        last = self._last[signature]
        if entry[0] < first[0]:
            self._first[signature] = entry
            if first is not last:
                self._occurrences[signature].add(_occurrence(first[1]))
        elif entry[0] > last[0]:
            self._last[signature] = entry
            if first is not last:
                self._occurrences[signature].add(_occurrence(last[1]))
        else:
            self._occurrences[signature].add(_occurrence(entry[1]))

    def add_fragment(self, key: _FragmentKey, rows: Iterable[ProtocolLogRow]) -> None:
        """Keep the rows of a session that began or ended outside what was summarised."""
        self._fragments.setdefault(key, []).extend(rows)

    def merge(self, other: SummaryBuilder) -> SummaryBuilder:
        """Fold ``other`` into this builder (associative, commutative); return this builder."""
        for signature, first in other._first.items():
            self._keep_extremes(signature, first)
            last = other._last[signature]
            if last is not first:
                self._keep_extremes(signature, last)
        for signature, pile in other._occurrences.items():
            self._occurrences[signature].merge(pile)
        self._all.extend(other._all)
        self.truncated.extend(other.truncated)
        for tally, entry in other._latest_ok.items():
            self._keep_latest(tally, entry)
        self._tallies.update(other._tallies)
        for fragment, rows in other._fragments.items():
            self.add_fragment(fragment, rows)
        self.send_sessions += other.send_sessions
        self.receive_sessions += other.receive_sessions
        self.tls_succeeded += other.tls_succeeded
        self.tls_failed += other.tls_failed
        self.signatures_folded += other.signatures_folded
        if len(self._first) > 2 * SIGNATURES_KEPT:
            self._fold_rarest()
        return self

    def freeze(self) -> SessionSummary:
        """Assemble the fragments, and return the summary in a deterministic order.

        Call it once, after the last merge: the fragments become sessions of this builder.
        """
        fragments, self._fragments = self._fragments, {}
        for key in sorted(fragments, key=lambda k: (str(k[0]), k[1], k[2])):
            rows = sorted(fragments[key], key=lambda row: (row.timestamp, row.sequence_number or 0))
            self.add(build_session(key, rows, ended=rows[-1].event is Event.DISCONNECT))
        latest = [
            (order, kept.build() if isinstance(kept, _Unbuilt) else kept)
            for order, kept in self._latest_ok.values()
        ]
        entries = (*self._first.values(), *self._last.values(), *latest, *self._all)
        kept = {id(session): (order, session) for order, session in entries}
        return SessionSummary(
            sessions=tuple(session for _, session in sorted(kept.values(), key=_FIRST)),
            occurrences=_frozen_occurrences(self._occurrences),
            tallies=_frozen_tallies(self._tallies),
            send_sessions=self.send_sessions,
            receive_sessions=self.receive_sessions,
            tls_succeeded=self.tls_succeeded,
            tls_failed=self.tls_failed,
            signatures_folded=self.signatures_folded,
        )


@attrs.frozen
class _Unbuilt:
    """A session's rows, in sequence order, to build only when needed."""

    key: _FragmentKey
    rows: list[ProtocolLogRow]

    def build(self) -> SmtpSession:
        return build_session(self.key, self.rows, ended=True)


def summarise_rows(
    rows: Iterable[ProtocolLogRow], builder: SummaryBuilder | None = None
) -> SummaryBuilder:
    """Reduce the rows of one file (or one stream) into ``builder`` (a new one by default).

    Sessions whose first row or disconnect row is not among ``rows`` are kept as
    fragments, to be joined with the rest of their rows when builders merge. Returns the
    builder; what was reduced before an exception stays in it.
    """
    builder = SummaryBuilder() if builder is None else builder
    assembler = SessionAssembler(build=builder.take)
    try:
        for session in assembler.feed_all(rows):
            if _starts(session.rows):
                builder.add(session)
            else:
                fragment = (session.rows[0].direction, session.connector_id, session.session_id)
                builder.add_fragment(fragment, session.rows)
    finally:
        for fragment, open_rows in assembler.detach():
            builder.add_fragment(fragment, open_rows)
        builder.truncated.extend(assembler.truncated)
    return builder


def _frozen_occurrences(
    occurrences: dict[Signature, Pile],
) -> tuple[tuple[Signature, Occurrences], ...]:
    """Occurrences by signature: the same whatever the merge order."""
    return tuple(
        (signature, pile.freeze()) for signature, pile in sorted(occurrences.items()) if pile.count
    )


def _frozen_tallies(tallies: Counter[_TallyKey]) -> tuple[Tally, ...]:
    """Tallies in key order."""
    return tuple(
        Tally(
            direction=key[0],
            connector_id=key[1],
            thumbprint=key[2],
            protocol=key[3],
            hour=key[4],
            sessions=count,
        )
        for key, count in sorted(tallies.items())
    )


def merge_summaries(summaries: Iterable[SessionSummary | None]) -> SessionSummary | None:
    """Return frozen summaries taken together (``None`` when none is given).

    For summaries of different servers' logs, which share no session: every kept session
    stays, occurrences and tallies add up. Builders merge more tightly; this is for
    summaries already frozen.
    """
    parts = [summary for summary in summaries if summary is not None]
    if len(parts) <= 1:
        return parts[0] if parts else None
    occurrences: dict[Signature, Pile] = defaultdict(Pile)
    tallies: Counter[_TallyKey] = Counter()
    for part in parts:
        for signature, found in part.occurrences:
            occurrences[signature].merge(Pile.thaw(found))
        for tally in part.tallies:
            key = (
                tally.direction,
                tally.connector_id,
                tally.thumbprint,
                tally.protocol,
                tally.hour,
            )
            tallies[key] += tally.sessions
    return SessionSummary(
        sessions=tuple(sorted((s for part in parts for s in part.sessions), key=_order)),
        occurrences=_frozen_occurrences(occurrences),
        tallies=_frozen_tallies(tallies),
        send_sessions=sum(part.send_sessions for part in parts),
        receive_sessions=sum(part.receive_sessions for part in parts),
        tls_succeeded=sum(part.tls_succeeded for part in parts),
        tls_failed=sum(part.tls_failed for part in parts),
        signatures_folded=sum(part.signatures_folded for part in parts),
    )
