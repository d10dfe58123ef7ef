"""Growth, not wall-clock budgets: how much longer a reader takes on a larger input.

A unit test must not assert seconds (a busy machine fails it); it compares two input
sizes in one run instead. Linear work on eight times the input takes about eight times
as long, quadratic work sixty-four times; the check allows three times linear for noise.
Time budgets live in ``benchmarks/bench_pathological.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from exchange_tls import ParseError

#: How much larger the second input is.
FACTOR = 8
#: The most the larger input may cost, in multiples of the smaller one.
ALLOWED = 3 * FACTOR
T = TypeVar("T")
# Runs shorter than this are noise: the smaller run counts as at least this long.
_FLOOR_SECONDS = 0.005


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(ParseError):
            run()
        best = min(best, time.perf_counter() - started)
    return best


def growth(
    action: Callable[[T], object], make: Callable[[int], T], size: int, repeat: int = 3
) -> float:
    """Return how many times longer ``action`` takes on ``make(size * FACTOR)``.

    Each size is timed best of ``repeat``; a ParseError is a clean refusal, not a failure.
    """
    small, large = make(size), make(size * FACTOR)
    small_time = _best(lambda: action(small), repeat)
    large_time = _best(lambda: action(large), repeat)
    return large_time / max(small_time, _FLOOR_SECONDS)


def assert_linear(
    action: Callable[[T], object],
    make: Callable[[int], T],
    size: int,
    repeat: int = 3,
    attempts: int = 3,
) -> None:
    """Assert that ``action`` grows no faster than linearly (within noise) in its input.

    A busy machine only ever makes a run slower, so a ratio past the limit is measured
    again, up to ``attempts`` times: quadratic work fails every time, noise does not.
    """
    ratios = []
    for _ in range(attempts):
        ratios.append(growth(action, make, size, repeat))
        if ratios[-1] < ALLOWED:
            return
    shown = ", ".join(f"{ratio:.1f}x" for ratio in ratios)
    raise AssertionError(f"{FACTOR}x the input took {shown} the time (allowed: {ALLOWED}x)")


def repeated(text: str) -> Callable[[int], str]:
    """Return a maker of inputs: ``n`` characters of a pathological text, repeated."""

    def make(size: int) -> str:
        return (text * (size // max(len(text), 1) + 1))[:size]

    return make


def prefix_of(text: str) -> Callable[[int], str]:
    """Return a maker of inputs: the first ``n`` characters of a pathological text."""
    return lambda size: text[:size]
