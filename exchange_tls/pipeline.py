"""Map and reduce over protocol logs: summarise each file anywhere, merge the summaries.

Summarising a file is a pure function of the file (:func:`summarise_log`), and summaries
merge associatively (:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.merge`).
So the files of a fleet can be summarised in this process, in a process pool
(``jobs=N``), or on any :class:`concurrent.futures.Executor`, such as the one a Dask
distributed client hands out (``Client.get_executor()``), with no Dask code here. The
result does not depend on the order or the place the files were summarised in.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor

import attrs

from exchange_tls.errors import Problem, Severity
from exchange_tls.protocol_log.reader import iter_protocol_rows, parse_protocol_log
from exchange_tls.protocol_log.summary import SessionSummary, SummaryBuilder, summarise_rows

__all__ = ["LogSummary", "map_logs", "summarise_log", "summarise_logs", "summarise_text"]


@attrs.frozen(kw_only=True)
class LogSummary:
    """One file's summary, ready to merge, with what could not be read in it."""

    builder: SummaryBuilder = attrs.field(eq=False)
    problems: tuple[Problem, ...] = ()


def summarise_log(path: str | os.PathLike[str], *, keep_all: bool = False) -> LogSummary:
    """Stream one protocol log file and summarise it (picklable, so any process can).

    A file that cannot be read to its end keeps the rows read before, and says so.
    """
    reader = iter_protocol_rows(path)
    builder = SummaryBuilder(keep_all=keep_all)
    problems: list[Problem] = []
    try:
        summarise_rows(reader, builder)
    except OSError as error:
        problems.append(
            Problem(
                message=f"cannot read: {error.strerror or error}; reading stopped there, the "
                "rows before were kept",
                source=os.fspath(path),
                severity=Severity.ERROR,
                code="unreadable",
            )
        )
    return LogSummary(builder=builder, problems=(*reader.problems, *problems))


def summarise_text(
    text: str, name: str, *, pasted: bool = False, keep_all: bool = False
) -> LogSummary:
    """Summarise a protocol log already in memory (a zip member, pasted text)."""
    log = parse_protocol_log(text, source=name, pasted=pasted)
    builder = summarise_rows(log.rows, SummaryBuilder(keep_all=keep_all))
    return LogSummary(builder=builder, problems=log.problems)


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
    return _merge(map_logs(paths, jobs=jobs, executor=executor))


def map_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    keep_all: bool = False,
) -> list[LogSummary]:
    """Summarise each file, in ``paths`` order, here, in a process pool or on ``executor``."""
    names = [os.fspath(path) for path in paths]
    summarise = functools.partial(summarise_log, keep_all=keep_all)
    if executor is not None:
        return list(executor.map(summarise, names))
    if jobs > 1 and len(names) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            return list(pool.map(summarise, names))
    return list(map(summarise, names))
