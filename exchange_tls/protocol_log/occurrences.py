"""The unusual sessions of one signature, counted in bounded memory, mergeable.

Theory of operation. A summary keeps the first and the last session of each signature
whole (:mod:`~exchange_tls.protocol_log.summary`); every other session of the signature
is an *occurrence*. Keeping each occurrence made memory grow with the failing sessions
(about 0.75 KB each: 30,000 to 300,000 failing sessions took peak RSS from 65 to
270 MiB). An :class:`Occurrences` keeps, whatever their number:

* the count, the earliest start and the latest end;
* the :data:`EXEMPLARS_KEPT` earliest occurrences, to cite;
* when each started, exactly for up to :data:`STARTS_KEPT` occurrences (8 bytes each),
  and always by the hour, so "failures since the last success" can still be counted:
  exactly below that number, by the hour above it;
* the sessions by remote host, exactly for up to :data:`HOSTS_KEPT` hosts. Past that, the
  hosts kept are those with the smallest hash of their name (a "bottom-k" sample, the same
  whatever the order the sessions came in), the sessions to the others are counted in
  :attr:`Occurrences.hosts_folded_sessions`, and the number of distinct hosts is estimated
  from the sample (:attr:`Occurrences.hosts_distinct`, within a few percent).

Every part is a total, a minimum or maximum over a total order, or a bottom-k sample, so
:meth:`Pile.merge` is associative and commutative, as the summary's merge must be.
"""

from __future__ import annotations

import array
import datetime as dt
import heapq
import operator
import zlib
from collections import Counter

import attrs

from exchange_tls.sources import SourceRef

__all__ = ["EXEMPLARS_KEPT", "HOSTS_KEPT", "STARTS_KEPT", "Occurrence", "Occurrences", "Pile"]

#: Occurrences kept whole per signature, to cite: the earliest, after the first session.
EXEMPLARS_KEPT = 3
#: Remote hosts counted by name per signature; past it, a sample of this many (see above).
HOSTS_KEPT = 500
#: Occurrences whose start is kept exactly, per signature (past it, starts by the hour).
STARTS_KEPT = 2000

_HASH_RANGE = 2**32
_ORDER = operator.attrgetter("order")


@attrs.frozen(kw_only=True)
class Occurrence:
    """An unusual session that is counted and cited, but not kept whole."""

    #: The row that shows what went wrong (the TLS failure, the failed connection).
    source: SourceRef | None
    excerpt: str
    start: dt.datetime
    end: dt.datetime
    remote_host: str = ""

    @property
    def order(self) -> tuple[dt.datetime, str, str, dt.datetime, str]:
        """Its place among occurrences: start, then where its row is, then the rest.

        A total order: two occurrences at the same start and row (a row cited for two
        hosts) must still sort the same whatever order the piles merged in.
        """
        return (self.start, str(self.source), self.remote_host, self.end, self.excerpt)


def _host_key(host: str) -> tuple[int, str]:
    return (zlib.crc32(host.encode("utf-8", "surrogatepass")), host)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@attrs.frozen(kw_only=True)
class Occurrences:
    """The occurrences of one signature, counted (see the module's docstring)."""

    count: int = 0
    #: The earliest start and the latest end of the occurrences.
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    #: The earliest occurrences, at most :data:`EXEMPLARS_KEPT`, in time order.
    exemplars: tuple[Occurrence, ...] = ()
    #: Sessions by remote host (by name), for at most :data:`HOSTS_KEPT` hosts.
    hosts: tuple[tuple[str, int], ...] = ()
    #: Sessions to hosts not in :attr:`hosts` (none unless more hosts were seen).
    hosts_folded_sessions: int = 0
    #: How many distinct remote hosts: exact up to :data:`HOSTS_KEPT`, estimated past it.
    hosts_distinct: int = 0
    #: Sessions by hour (the hour of their start).
    hours: tuple[tuple[dt.datetime, int], ...] = ()
    #: Each occurrence's start (POSIX seconds), sorted, when there are at most
    #: :data:`STARTS_KEPT`; else ``None``.
    starts: tuple[float, ...] | None = ()

    def since(self, moment: dt.datetime) -> int:
        """How many occurrences started after ``moment``.

        Exact up to :data:`STARTS_KEPT` occurrences; past it, counted by the hour, the
        occurrences of ``moment``'s own hour all counted.
        """
        if self.starts is not None:
            limit = moment.timestamp()
            return sum(1 for start in self.starts if start > limit)
        hour = _hour(moment)
        return sum(count for when, count in self.hours if when >= hour)

    def first_after(self, moment: dt.datetime | None) -> dt.datetime | None:
        """Return the start of the first occurrence after ``moment`` (any, when ``None``).

        Exact up to :data:`STARTS_KEPT` occurrences; past it, the hour it falls in.
        """
        if moment is None:
            return self.first
        if self.starts is not None:
            limit = moment.timestamp()
            found = next((start for start in self.starts if start > limit), None)
            return None if found is None else dt.datetime.fromtimestamp(found, dt.timezone.utc)
        return next((when for when, _ in self.hours if when >= _hour(moment)), None)


class Pile:
    """Occurrences of one signature as they come: add, merge, freeze."""

    __slots__ = (
        "_exemplars",
        "_hosts",
        "_starts",
        "_threshold",
        "count",
        "first",
        "folded",
        "hours",
        "last",
    )

    def __init__(self) -> None:
        self.count = 0
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        # The earliest few, in order; the list is tiny, so it is sorted, not a heap.
        self._exemplars: list[Occurrence] = []
        self._hosts: dict[str, int] = {}
        # The largest host key kept once the sample is full: larger keys are only counted.
        self._threshold: tuple[int, str] | None = None
        self.folded = 0
        self.hours: Counter[dt.datetime] = Counter()
        self._starts: array.array[float] | None = array.array("d")

    def add(self, occurrence: Occurrence) -> None:
        """Count one occurrence."""
        self.count += 1
        if self.first is None or occurrence.start < self.first:
            self.first = occurrence.start
        if self.last is None or occurrence.end > self.last:
            self.last = occurrence.end
        self._offer(occurrence)
        self.hours[_hour(occurrence.start)] += 1
        if self._starts is not None:
            self._starts.append(occurrence.start.timestamp())
            self._bound_starts()
        self._count_host(occurrence.remote_host, 1)

    def _bound_starts(self) -> None:
        if self._starts is not None and len(self._starts) > STARTS_KEPT:
            self._starts = None

    def _offer(self, occurrence: Occurrence) -> None:
        exemplars = self._exemplars
        if len(exemplars) < EXEMPLARS_KEPT:
            exemplars.append(occurrence)
            exemplars.sort(key=_ORDER)
        elif occurrence.order < exemplars[-1].order:
            exemplars[-1] = occurrence
            exemplars.sort(key=_ORDER)

    def _count_host(self, host: str, sessions: int) -> None:
        if not host:
            return
        if host in self._hosts:
            self._hosts[host] += sessions
            return
        if self._threshold is not None and _host_key(host) > self._threshold:
            self.folded += sessions
            return
        self._hosts[host] = sessions
        if len(self._hosts) > 2 * HOSTS_KEPT:
            self._prune()

    def _prune(self) -> None:
        kept = heapq.nsmallest(HOSTS_KEPT, self._hosts, key=_host_key)
        self._threshold = _host_key(kept[-1])
        wanted = set(kept)
        for host in [host for host in self._hosts if host not in wanted]:
            self.folded += self._hosts.pop(host)

    def merge(self, other: Pile) -> Pile:
        """Fold ``other`` into this pile (associative, commutative); return this pile."""
        self.count += other.count
        if other.first is not None and (self.first is None or other.first < self.first):
            self.first = other.first
        if other.last is not None and (self.last is None or other.last > self.last):
            self.last = other.last
        for occurrence in other._exemplars:
            self._offer(occurrence)
        self.hours.update(other.hours)
        if self._starts is not None:
            if other._starts is None:
                self._starts = None
            else:
                self._starts.extend(other._starts)
                self._bound_starts()
        self.folded += other.folded
        if other._threshold is not None and (
            self._threshold is None or other._threshold < self._threshold
        ):
            self._threshold = other._threshold
            for host in [host for host in self._hosts if _host_key(host) > other._threshold]:
                self.folded += self._hosts.pop(host)
        for host, sessions in other._hosts.items():
            self._count_host(host, sessions)
        return self

    def freeze(self) -> Occurrences:
        """Return the frozen occurrences, the same whatever the merge order."""
        hosts = self._hosts
        folded = self.folded
        distinct = len(hosts)
        if len(hosts) > HOSTS_KEPT or self._threshold is not None:
            kept = heapq.nsmallest(HOSTS_KEPT, hosts, key=_host_key)
            folded += sum(hosts.values()) - sum(hosts[host] for host in kept)
            hosts = {host: hosts[host] for host in kept}
            # The k-th smallest hash of n names spread evenly is about k / n of the range.
            kth = _host_key(kept[-1])[0] + 1
            distinct = max(len(hosts), round((HOSTS_KEPT - 1) * _HASH_RANGE / kth))
        return Occurrences(
            count=self.count,
            first=self.first,
            last=self.last,
            exemplars=tuple(self._exemplars),
            hosts=tuple(sorted(hosts.items())),
            hosts_folded_sessions=folded,
            hosts_distinct=distinct,
            hours=tuple(sorted(self.hours.items())),
            starts=None if self._starts is None else tuple(sorted(self._starts)),
        )

    @classmethod
    def thaw(cls, frozen: Occurrences) -> Pile:
        """Return a pile holding ``frozen`` (to add frozen summaries together)."""
        pile = cls()
        pile.count = frozen.count
        pile.first, pile.last = frozen.first, frozen.last
        pile._exemplars = list(frozen.exemplars)
        pile.hours = Counter(dict(frozen.hours))
        pile._starts = None if frozen.starts is None else array.array("d", frozen.starts)
        pile._hosts = dict(frozen.hosts)
        pile.folded = frozen.hosts_folded_sessions
        if frozen.hosts_folded_sessions and frozen.hosts:
            pile._threshold = _host_key(max(frozen.hosts, key=lambda item: _host_key(item[0]))[0])
        return pile
