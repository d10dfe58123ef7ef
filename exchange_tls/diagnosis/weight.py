"""How much a finding weighs: the subjects sharing its cause, its rate, its impact, its side.

A finding is one cause. What the cause touches (remote hosts, connectors, queues) is folded
into a bounded :class:`Subjects` table, so 13,230 unreachable hosts make one finding with a
top-N table and "and 13,220 more", never 13,230 findings or a 200,000-character sentence.
:class:`Share` says how much of its subject's traffic fails, :class:`Impact` what waits
because of it, and :class:`FaultSide` which end must change.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["SUBJECTS_SHOWN", "FaultSide", "Impact", "Share", "SubjectCount", "Subjects"]

#: How many subjects a finding lists by name; the rest are counted (see :class:`Subjects`).
SUBJECTS_SHOWN = 10


class FaultSide(enum.Enum):
    """Which end of the connection must change to fix a finding."""

    #: This Exchange server (its certificates, connectors, settings).
    LOCAL = "local"
    #: The other server (a partner, Exchange Online, a remote MX).
    REMOTE = "remote"
    #: Something between the two: a firewall, a proxy, DNS, routing.
    BETWEEN = "between"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class SubjectCount:
    """One subject of a finding and how many failures it accounts for."""

    name: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {"name": self.name, "count": self.count}


@attrs.frozen(kw_only=True)
class Subjects:
    """The subjects that share a finding's cause: the top ones by count, then the rest counted.

    >>> table = Subjects.fold("remote host", {"a": 5, "b": 1, "c": 3}, shown=2)
    >>> [(s.name, s.count) for s in table.top], table.more, table.more_count
    ([('a', 5), ('c', 3)], 1, 1)
    >>> table.distinct, table.total
    (3, 9)
    """

    #: What the subjects are, in the singular: ``"remote host"``, ``"send connector"``.
    kind: str
    #: The subjects listed by name, most failures first (ties by name).
    top: tuple[SubjectCount, ...] = ()
    #: How many further subjects were folded, and the failures they account for.
    more: int = 0
    more_count: int = 0

    @classmethod
    def fold(
        cls,
        kind: str,
        counts: Mapping[str, int] | Iterable[str],
        *,
        shown: int = SUBJECTS_SHOWN,
        more: int = 0,
        more_count: int = 0,
    ) -> Subjects:
        """Fold counts by subject (or an iterable of names, one per failure) into a table.

        ``more`` and ``more_count`` add subjects already folded upstream (a summary that
        kept a bounded number of names), so nothing folded there is lost here.
        """
        tally = Counter(counts) if not isinstance(counts, Mapping) else Counter(dict(counts))
        ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        top = tuple(SubjectCount(name=name, count=count) for name, count in ordered[:shown])
        rest = ordered[shown:]
        return cls(
            kind=kind,
            top=top,
            more=len(rest) + more,
            more_count=sum(count for _, count in rest) + more_count,
        )

    @property
    def distinct(self) -> int:
        """How many subjects in all, listed or folded."""
        return len(self.top) + self.more

    @property
    def total(self) -> int:
        """The failures all subjects account for, listed or folded."""
        return sum(subject.count for subject in self.top) + self.more_count

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "kind": self.kind,
            "top": [subject.to_dict() for subject in self.top],
            "more": self.more,
            "more_count": self.more_count,
        }


@attrs.frozen(kw_only=True)
class Share:
    """How many of a subject's sessions failed, of how many seen.

    >>> Share(failing=8, total=100).ratio
    0.08
    >>> str(Share(failing=1, total=3))
    '1 of 3 sessions (33%)'
    """

    failing: int
    total: int

    @property
    def ratio(self) -> float:
        """The failing share, from 0 to 1 (0 when nothing was seen)."""
        return self.failing / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.failing} of {self.total} sessions ({self.ratio:.0%})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {"failing": self.failing, "total": self.total, "ratio": round(self.ratio, 4)}


@attrs.frozen(kw_only=True)
class Impact:
    """What waits because of a finding: messages in the queues it explains, and the oldest."""

    #: Messages waiting in the queues the finding explains.
    messages: int = 0
    #: How many queues those are.
    queues: int = 0
    #: When the oldest of them was first tried, or the queue's oldest retry, when known.
    oldest: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "messages": self.messages,
            "queues": self.queues,
            "oldest": None if self.oldest is None else self.oldest.isoformat(),
        }
