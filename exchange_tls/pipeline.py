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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Literal

import attrs

from exchange_tls.errors import Problem, Severity
from exchange_tls.protocol_log.columnar import columnar_available, summarise_clean_log
from exchange_tls.protocol_log.reader import iter_protocol_rows, parse_protocol_log
from exchange_tls.protocol_log.summary import SessionSummary, SummaryBuilder, summarise_rows

__all__ = [
    "ENGINES",
    "Engine",
    "LogSummary",
    "map_logs",
    "summarise_log",
    "summarise_logs",
    "summarise_text",
]

#: How a log file is read: ``"careful"``, the streaming reader, always;
#: ``"columnar"``, the columnar fast path of the ``columnar`` extra for each file it can
#: read exactly, the careful reader for the rest; ``"auto"``, columnar when the extra is
#: installed, else careful.
Engine = Literal["auto", "careful", "columnar"]
ENGINES: tuple[Engine, ...] = ("auto", "careful", "columnar")


@attrs.frozen(kw_only=True)
class LogSummary:
    """One file's summary, ready to merge, with what could not be read in it."""

    builder: SummaryBuilder = attrs.field(eq=False)
    problems: tuple[Problem, ...] = ()


def summarise_log(
    path: str | os.PathLike[str], *, keep_all: bool = False, engine: Engine = "auto"
) -> LogSummary:
    """Stream one protocol log file and summarise it (picklable, so any process can).

    A file that cannot be read to its end keeps the rows read before, and says so.
    ``engine`` chooses the reader (see :data:`Engine`); both give the same summary.
    ``keep_all`` summaries are always read carefully, since every row becomes a session.
    """
    if _use_columnar(engine) and not keep_all:
        builder = summarise_clean_log(path)
        if builder is not None:
            return LogSummary(builder=builder)
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


def _use_columnar(engine: Engine) -> bool:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "careful":
        return False
    available = columnar_available()
    if engine == "columnar" and not available:
        raise ImportError(
            "engine='columnar' needs the columnar extra: pip install 'exchange_tls[columnar]'"
        )
    return available


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
    engine: Engine = "auto",
) -> tuple[SessionSummary, tuple[Problem, ...]]:
    """Summarise protocol log files and merge the summaries.

    ``executor`` runs :func:`summarise_log` on each file (a Dask client's executor works);
    otherwise ``jobs`` > 1 uses a process pool of that size, and 1 runs here. Problems come
    back in the order of ``paths``, whatever the order the files were finished in.
    """
    return _merge(map_logs(paths, jobs=jobs, executor=executor, engine=engine))


def map_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    keep_all: bool = False,
    engine: Engine = "auto",
    on_done: Callable[[int], None] | None = None,
) -> list[LogSummary]:
    """Summarise each file, in ``paths`` order, here, in a process pool or on ``executor``.

    ``on_done(i)`` is called as the summary of ``paths[i]`` comes back, in ``paths`` order
    (for progress).
    """
    names = [os.fspath(path) for path in paths]
    # An unknown engine, or a missing extra, is said here, once.
    _use_columnar(engine)
    summarise = functools.partial(summarise_log, keep_all=keep_all, engine=engine)
    if executor is not None:
        return _collect(executor.map(summarise, names), on_done)
    if jobs > 1 and len(names) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            return _collect(pool.map(summarise, names), on_done)
    return _collect(map(summarise, names), on_done)


def _collect(
    summaries: Iterable[LogSummary], on_done: Callable[[int], None] | None
) -> list[LogSummary]:
    collected = []
    for index, summary in enumerate(summaries):
        collected.append(summary)
        if on_done is not None:
            on_done(index)
    return collected
