"""Map and reduce over protocol logs: summarise each file anywhere, merge the summaries.

Summarising a file is a pure function of the file (:func:`summarise_log`), and summaries
merge associatively (:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.merge`).
So the files of a fleet can be summarised in this process, in a process pool
(``jobs=N``), or on any :class:`concurrent.futures.Executor`, such as the one a Dask
distributed client hands out (``Client.get_executor()``), with no Dask code here. The
result does not depend on the order or the place the files were summarised in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

import attrs

from exchange_tls.errors import Problem
from exchange_tls.protocol_log.reader import iter_protocol_rows, parse_protocol_log
from exchange_tls.protocol_log.summary import SessionSummary, SummaryBuilder, summarise_rows

__all__ = ["LogSummary", "summarise_log", "summarise_logs", "summarise_text"]


@attrs.frozen(kw_only=True)
class LogSummary:
    """One file's summary, ready to merge, with what could not be read in it."""

    builder: SummaryBuilder = attrs.field(eq=False)
    problems: tuple[Problem, ...] = ()


def summarise_log(path: str | os.PathLike[str]) -> LogSummary:
    """Stream one protocol log file and summarise it (picklable, so any process can)."""
    reader = iter_protocol_rows(path)
    builder = summarise_rows(reader)
    return LogSummary(builder=builder, problems=tuple(reader.problems))


def summarise_text(text: str, name: str, *, pasted: bool = False) -> LogSummary:
    """Summarise a protocol log already in memory (a zip member, pasted text)."""
    log = parse_protocol_log(text, name, pasted=pasted)
    return LogSummary(builder=summarise_rows(log.rows), problems=log.problems)


def _merge(parts: Iterable[LogSummary]) -> tuple[SessionSummary, tuple[Problem, ...]]:
    builder = SummaryBuilder()
    problems: list[Problem] = []
    for part in parts:
        builder.merge(part.builder)
        problems.extend(part.problems)
    return builder.freeze(), tuple(problems)


def summarise_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
) -> tuple[SessionSummary, tuple[Problem, ...]]:
    """Summarise protocol log files and merge the summaries.

    ``executor`` runs :func:`summarise_log` on each file (a Dask client's executor works);
    otherwise ``jobs`` > 1 uses a process pool of that size, and 1 runs here. Problems come
    back in the order of ``paths``, whatever the order the files were finished in.
    """
    names = [os.fspath(path) for path in paths]
    if executor is not None:
        return _merge(executor.map(summarise_log, names))
    if jobs > 1 and len(names) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            return _merge(pool.map(summarise_log, names))
    return _merge(map(summarise_log, names))
