"""Occurrences of a signature: counted in bounded memory, merged in any order alike."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange_tls.protocol_log import occurrences as module
from exchange_tls.protocol_log.occurrences import Occurrence, Pile
from exchange_tls.sources import SourceRef

_START = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)


def _occurrence(line: int, seconds: int, host: str) -> Occurrence:
    start = _START + dt.timedelta(seconds=seconds)
    return Occurrence(
        source=SourceRef("SEND20261207-1.LOG", line),
        excerpt="TLS negotiation failed with error UnknownCredentials",
        start=start,
        end=start + dt.timedelta(seconds=1),
        remote_host=host,
    )


_occurrences = st.lists(
    st.builds(
        _occurrence,
        st.integers(1, 10**6),
        st.integers(0, 3 * 86400),
        st.sampled_from([f"h{n}.example.net" for n in range(40)] + [""]),
    ),
    max_size=60,
)


def _pile(found: list[Occurrence]) -> Pile:
    pile = Pile()
    for occurrence in found:
        pile.add(occurrence)
    return pile


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(found=_occurrences, cut=st.data())
def test_any_split_and_merge_order_gives_the_same_occurrences(
    found: list[Occurrence], cut: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piles merge associatively and commutatively, even when the host sample is full.

    (The bounds are patched to the same small values for every example.)
    """
    monkeypatch.setattr(module, "HOSTS_KEPT", 4)
    monkeypatch.setattr(module, "STARTS_KEPT", 20)
    first = cut.draw(st.integers(0, len(found)))
    second = cut.draw(st.integers(first, len(found)))
    parts = [found[:first], found[first:second], found[second:]]
    whole = _pile(found).freeze()
    left = _pile(parts[0]).merge(_pile(parts[1])).merge(_pile(parts[2])).freeze()
    right = _pile(parts[2]).merge(_pile(parts[1]).merge(_pile(parts[0]))).freeze()
    assert whole == left == right
    assert whole.count == len(found)
    assert sum(count for _, count in whole.hosts) + whole.hosts_folded_sessions == sum(
        1 for o in found if o.remote_host
    )
    assert len(whole.hosts) <= 4
    assert len(whole.exemplars) <= module.EXEMPLARS_KEPT


@settings(max_examples=60, deadline=None)
@given(found=_occurrences, seconds=st.integers(0, 3 * 86400))
def test_failures_since_a_moment_are_counted_exactly_below_the_bound(
    found: list[Occurrence], seconds: int
) -> None:
    """Below STARTS_KEPT, 'since' is exact; the hours always add up to the count."""
    moment = _START + dt.timedelta(seconds=seconds, milliseconds=500)
    frozen = _pile(found).freeze()
    assert frozen.since(moment) == sum(1 for o in found if o.start > moment)
    assert sum(count for _, count in frozen.hours) == len(found)


def test_past_the_bound_memory_stays_flat_and_the_count_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of hosts: a sample is named, the rest counted, their number estimated."""
    monkeypatch.setattr(module, "HOSTS_KEPT", 200)
    monkeypatch.setattr(module, "STARTS_KEPT", 500)
    found = [_occurrence(n, n, f"host{n}.example.net") for n in range(20_000)]
    frozen = _pile(found).freeze()
    assert frozen.count == 20_000
    assert len(frozen.hosts) == 200
    assert frozen.hosts_folded_sessions == 20_000 - 200
    assert 16_000 < frozen.hosts_distinct < 24_000  # an estimate, within 20 %
    assert frozen.starts is None  # past the bound: by the hour
    assert frozen.since(_START) == 20_000
    assert frozen.first == found[0].start
    assert frozen.last == found[-1].end
