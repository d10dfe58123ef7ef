"""Map and reduce over protocol logs: summarise each file anywhere, merge the summaries.

Summarising a file is a pure function of the file (:func:`summarise_log`), and summaries
merge associatively (:meth:`~exchange_tls.protocol_log.summary.SummaryBuilder.merge`).
So the files of a fleet can be summarised in this process, in a process pool
(``jobs=N``), or on any :class:`concurrent.futures.Executor`, such as the one a Dask
distributed client hands out (``Client.get_executor()``), with no Dask code here. The
result does not depend on the order or the place the files were summarised in.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    wait,
)
from typing import TYPE_CHECKING, Literal

import attrs

from exchange_tls.errors import ExchangeTlsError, Problem, Severity
from exchange_tls.protocol_log.reader import iter_protocol_rows, parse_protocol_log
from exchange_tls.protocol_log.summary import SessionSummary, SummaryBuilder, summarise_rows

if TYPE_CHECKING:
    from exchange_tls.protocol_log.columnar import Ahead


# Imported when used: the columnar path is for logs of many megabytes and a pool
# imports multiprocessing; diagnosing a small bundle needs neither.
def columnar_available() -> bool:
    """Return whether the ``columnar`` extra (pyarrow and numpy) can be imported.

    The same test as :func:`exchange_tls.protocol_log.columnar.columnar_available`, without
    importing that module: the default engine asks on every run.
    """
    return all(importlib.util.find_spec(name) is not None for name in ("pyarrow", "numpy"))


def summarise_clean_log(
    path: str | os.PathLike[str],
    *,
    overlap: bool = True,
    ahead: Ahead | None = None,
    then: str | None = None,
) -> SummaryBuilder | None:
    """Summarise one log file column-wise, or ``None`` (see its module)."""
    from exchange_tls.protocol_log import columnar

    return columnar.summarise_clean_log(path, overlap=overlap, ahead=ahead, then=then)


@contextlib.contextmanager
def _ahead(batches: Sequence[_Batch]) -> Iterator[Ahead | None]:
    """Yield the columnar reader's thread for batches read here in turn, if a file needs it."""
    if not any(
        batch.overlap and _columnar_for(path, batch)
        for batch in batches
        for *_, path in batch.items
    ):
        yield None
        return
    from exchange_tls.protocol_log.columnar import Ahead

    with Ahead() as ahead:
        yield ahead


def ProcessPoolExecutor(max_workers: int | None = None) -> Executor:
    """Return a :class:`concurrent.futures.ProcessPoolExecutor` of ``max_workers``."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=max_workers, initializer=_start_worker)


def _start_worker() -> None:
    """Prepare a pool's worker process, before it imports the fast path's numpy."""
    # numpy's OpenBLAS starts a thread for each core when it is imported, and each spins
    # a while before it sleeps: in a pool as large as the cores that is CPU time taken
    # from the other workers (about 2 %), for BLAS calls the fast path never makes.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # pyarrow's mimalloc, which the fast path's reader uses in a worker (memory_pool), gives
    # freed pages back to the OS, and a worker's next block faults them in again, as huge
    # pages cleared anew: kept, about a quarter of a worker's page faults go (its peak
    # RSS grows by a few MiB). Read when pyarrow is first imported, after this.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")


__all__ = [
    "COLUMNAR_MIN_BYTES",
    "COLUMNAR_MIN_FILE_BYTES",
    "ENGINES",
    "PARALLEL_MIN_BYTES",
    "Engine",
    "LogSummary",
    "ReducedLogs",
    "WorkerDied",
    "available_cores",
    "map_logs",
    "reduce_logs",
    "summarise_log",
    "summarise_logs",
    "summarise_text",
]

#: With ``engine="auto"``, logs smaller than this in all are read by the careful reader:
#: importing pyarrow and numpy costs more time (about 0.3 s) and memory (about 60 MiB)
#: than the columnar path saves on them.
COLUMNAR_MIN_BYTES = 16 * 1024 * 1024
#: With ``engine="auto"``, a file smaller than this is read by the careful reader even
#: among large logs: the columnar path's fixed cost per file is more than it saves.
COLUMNAR_MIN_FILE_BYTES = 256 * 1024

#: How a log file is read: ``"careful"``, the streaming reader, always;
#: ``"columnar"``, the columnar fast path of the ``columnar`` extra for each file it can
#: read exactly, the careful reader for the rest; ``"auto"``, columnar when the extra is
#: installed and the logs are large enough to gain from it (:data:`COLUMNAR_MIN_BYTES` in
#: all, :data:`COLUMNAR_MIN_FILE_BYTES` a file), else careful.
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
    With ``"auto"``, a file smaller than :data:`COLUMNAR_MIN_BYTES` is read carefully too.
    """
    if engine == "auto" and _size(os.fspath(path)) < COLUMNAR_MIN_BYTES:
        engine = "careful"
    return _summarise_one(path, keep_all=keep_all, engine=engine)


def _summarise_one(
    path: str | os.PathLike[str],
    *,
    keep_all: bool,
    engine: Engine,
    overlap: bool = True,
    ahead: Ahead | None = None,
    then: str | None = None,
) -> LogSummary:
    if _takes_columnar(path, keep_all, engine):
        builder = summarise_clean_log(path, overlap=overlap, ahead=ahead, then=then)
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


def _takes_columnar(path: str | os.PathLike[str], keep_all: bool, engine: Engine) -> bool:
    """Whether a file is tried on the columnar path (it may still fall back)."""
    # "auto" here means the logs in all are large enough for pyarrow; a small file still
    # costs the columnar path more (a few milliseconds a file) than it saves.
    if engine == "auto" and _size(os.fspath(path)) < COLUMNAR_MIN_FILE_BYTES:
        engine = "careful"
    return _use_columnar(engine) and not keep_all


def _columnar_for(path: str, batch: _Batch) -> bool:
    return _takes_columnar(path, batch.keep_all, batch.engine)


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


class WorkerDied(ExchangeTlsError):
    """A worker process died (killed, or out of memory) while it summarised log files.

    The files it was reading are named; rerunning with ``jobs=1`` reads them in this
    process, where an error is reported as a problem of its file.
    """

    def __init__(self, reading: Sequence[str]) -> None:
        #: The files being read when it died, one of which killed it (or was being read
        #: when something else did).
        self.reading = tuple(reading)
        named = " or ".join(self.reading[:3]) or "protocol logs"
        more = f" (or {len(self.reading) - 3} more)" if len(self.reading) > 3 else ""
        super().__init__(
            f"a worker process died twice (killed, or out of memory) while reading {named}"
            f"{more}; rerun with --jobs 1 to read in this process"
        )


@attrs.frozen(kw_only=True)
class ReducedLogs:
    """Protocol log files summarised and merged as they completed: one builder per group.

    ``builders`` maps each group given to :func:`reduce_logs` to the merge of its files'
    summaries; ``problems`` holds each file's problems, in the order of the paths.
    """

    builders: dict[int, SummaryBuilder] = attrs.field(eq=False)
    problems: tuple[tuple[Problem, ...], ...] = ()


def available_cores() -> int:
    """Return the number of cores this process may run on (its affinity), at least 1."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13 and later
    if count is not None:
        return max(1, int(count() or 1))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


#: With ``jobs=None``, inputs smaller than this are read in this process: starting a
#: pool of processes costs more than it gains on them.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024
# A batch's files are summarised and merged by one worker, so that one merged summary,
# not one per file, is pickled back. Batches are cut by size alone, never by the number
# of workers, and merged in their order: the summaries then merge in the same grouping
# and order whatever runs them, so that a summary that is not quite associative (one
# that folds its rarest causes) still gives the same JSON for every job count.
_BATCH_BYTES = 16 * 1024 * 1024
_BATCH_FILES = 2000
# Batches in flight per worker: each finished one is merged, and another sent, at once,
# so that the parent holds a bounded number of summaries whatever the number of files.
_IN_FLIGHT_PER_WORKER = 2
#: A test-only hook: a worker process that is about to read a file with this name
#: kills itself, as the kernel's out-of-memory killer would. With
#: ``EXCHANGE_TLS_TEST_KILL_ONCE`` naming a marker file, only the first such worker does.
_KILL_HOOK = "EXCHANGE_TLS_TEST_KILL_WORKER"
_KILL_ONCE = "EXCHANGE_TLS_TEST_KILL_ONCE"


@attrs.frozen
class _Batch:
    """Files for one worker: (place in the paths, group, path) each."""

    items: tuple[tuple[int, int, str], ...]
    keep_all: bool
    engine: Engine
    #: Whether the columnar reader may use a thread of its own: only in this process, as
    #: a pool's workers take every core already.
    overlap: bool = True


@attrs.frozen
class _BatchResult:
    builders: dict[int, SummaryBuilder] = attrs.field(eq=False)
    problems: tuple[tuple[int, tuple[Problem, ...]], ...]
    #: The places in the paths of the files summarised (for progress).
    indexes: tuple[int, ...] = ()


def _summarise_batch(
    batch: _Batch, ahead: Ahead | None = None, after: str | None = None
) -> _BatchResult:
    """Summarise a batch's files and merge them per group, in the worker.

    With ``ahead`` (batches read here, in turn), each file read column-wise names the
    next one that will be (``after``: the next batch's first file) for it to open early.
    """
    builders: dict[int, SummaryBuilder] = {}
    problems: list[tuple[int, tuple[Problem, ...]]] = []
    hook = os.environ.get(_KILL_HOOK)
    paths = [path for *_, path in batch.items]
    for position, (index, group, path) in enumerate(batch.items):
        if hook and os.path.basename(path) == hook:
            _kill_this_worker()
        then = None
        if ahead is not None:
            following = [*paths[position + 1 :], *([after] if after is not None else [])]
            then = next((name for name in following[:1] if _columnar_for(name, batch)), None)
        log = _summarise_one(
            path,
            keep_all=batch.keep_all,
            engine=batch.engine,
            overlap=batch.overlap,
            ahead=ahead,
            then=then,
        )
        kept = builders.get(group)
        if kept is None:
            builders[group] = log.builder
        else:
            kept.merge(log.builder)
        if log.problems:
            problems.append((index, log.problems))
    indexes = tuple(index for index, _, _ in batch.items)
    return _BatchResult(builders=builders, problems=tuple(problems), indexes=indexes)


def _kill_this_worker() -> None:
    """Die (the test hook) as a killed worker does, never in the main process."""
    import multiprocessing
    import signal

    if multiprocessing.parent_process() is None:
        return
    marker = os.environ.get(_KILL_ONCE)
    if marker:
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)


def _batches(
    items: list[tuple[int, int, str]], sizes: list[int]
) -> list[list[tuple[int, int, str]]]:
    """Cut the files, in order, into batches of about :data:`_BATCH_BYTES` each."""
    batches: list[list[tuple[int, int, str]]] = []
    current: list[tuple[int, int, str]] = []
    held = 0
    for item, size in zip(items, sizes, strict=True):
        current.append(item)
        held += size
        if held >= _BATCH_BYTES or len(current) >= _BATCH_FILES:
            batches.append(current)
            current, held = [], 0
    if current:
        batches.append(current)
    return batches


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def reduce_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    groups: Sequence[int] | None = None,
    jobs: int | None = None,
    executor: Executor | None = None,
    keep_all: bool = False,
    engine: Engine = "auto",
    on_done: Callable[[int], None] | None = None,
) -> ReducedLogs:
    """Summarise log files and merge the summaries as they complete, per group.

    ``groups`` gives each path's group (all in group 0 by default); the files of a group
    merge into one builder. Nothing holds every file's summary: memory stays flat in the
    number of files. ``jobs`` is the number of processes: ``None`` (the default) uses
    every core this process may run on (:func:`available_cores`) when the files are
    large enough to gain from it (:data:`PARALLEL_MIN_BYTES`), and ``1`` reads them
    here. ``executor`` runs batches of files on any :class:`concurrent.futures.Executor`
    (a Dask client's works): each batch is summarised and merged where it runs, and only
    its merged summary travels. The result does not depend on ``jobs`` or the executor.

    ``on_done(i)`` is called as the file ``paths[i]`` is summarised and merged, in any
    order (for progress).

    Raises :class:`WorkerDied` when a worker process dies twice on the same files.
    """
    names = [os.fspath(path) for path in paths]
    group_of = [0] * len(names) if groups is None else list(groups)
    if len(group_of) != len(names):
        raise ValueError("groups must give one group per path")
    if jobs is not None and (isinstance(jobs, bool) or jobs < 1):
        raise ValueError(f"jobs must be a whole number of 1 or more, or None, not {jobs!r}")
    # An unknown engine, or a missing extra, is said here, once.
    _use_columnar(engine)
    if engine == "auto" and sum(_size(name) for name in names) < COLUMNAR_MIN_BYTES:
        engine = "careful"
    items = [
        (index, group, name)
        for index, (group, name) in enumerate(zip(group_of, names, strict=True))
    ]
    problems: list[tuple[Problem, ...]] = [()] * len(names)
    builders: dict[int, SummaryBuilder] = {}

    def fold(result: _BatchResult) -> None:
        _merge_into(builders, result.builders)
        for index, found in result.problems:
            problems[index] = found
        if on_done is not None:
            for index in result.indexes:
                on_done(index)

    workers = _workers(jobs, executor, names)
    sizes = [_size(name) for name in names]
    batches = [
        _Batch(tuple(batch), keep_all, engine, overlap=workers <= 1)
        for batch in _batches(items, sizes)
    ]
    if workers <= 1:
        with _ahead(batches) as ahead:
            for number, batch in enumerate(batches):
                after = batches[number + 1].items[0][2] if number + 1 < len(batches) else None
                fold(_summarise_batch(batch, ahead, after))
    else:
        _run_batches(batches, workers, executor, _InOrder(fold))
    return ReducedLogs(builders=builders, problems=tuple(problems))


def _merge_into(builders: dict[int, SummaryBuilder], more: dict[int, SummaryBuilder]) -> None:
    """Merge ``more`` into ``builders``, group by group (the one merge order everywhere)."""
    for group, builder in more.items():
        kept = builders.get(group)
        if kept is None:
            builders[group] = builder
        else:
            kept.merge(builder)


class _InOrder:
    """Fold batch results in batch order, holding those that finish early until then."""

    def __init__(self, fold: Callable[[_BatchResult], None]) -> None:
        self._fold = fold
        self._next = 0
        self.held: dict[int, _BatchResult] = {}

    def __call__(self, number: int, result: _BatchResult) -> None:
        self.held[number] = result
        while self._next in self.held:
            self._fold(self.held.pop(self._next))
            self._next += 1


def _workers(jobs: int | None, executor: Executor | None, names: list[str]) -> int:
    """How many processes to use: 1 means here, in this process."""
    if executor is not None:
        return max(jobs or 2, 2)
    if len(names) < 2:
        return 1
    if jobs is None:
        cores = available_cores()
        if cores < 2 or sum(_size(name) for name in names) < PARALLEL_MIN_BYTES:
            return 1
        return min(cores, len(names))
    return min(jobs, len(names))


def _run_batches(
    batches: list[_Batch],
    workers: int,
    executor: Executor | None,
    deliver: _InOrder,
) -> None:
    """Run the batches, a bounded number at a time; deliver each result with its number."""
    numbered = list(enumerate(batches))
    if executor is not None:
        unfinished = _drive(executor, numbered, workers, deliver)
        if unfinished:
            raise WorkerDied(_reading(unfinished))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        unfinished = _drive(pool, numbered, workers, deliver)
    if not unfinished:
        return
    unfinished.sort(key=lambda numbered: numbered[0])
    # A worker died (killed, out of memory): the pool is broken. The files not yet
    # merged are read once more, in a fresh pool, one by one, so that a second death
    # names the file or two being read; each batch is put together again in its order.
    parts: dict[int, list[_BatchResult | None]] = {
        number: [None] * len(batch.items) for number, batch in unfinished
    }
    retry = [
        (number * _RETRY_SPACING + position, attrs.evolve(batch, items=(item,)))
        for number, batch in unfinished
        for position, item in enumerate(batch.items)
    ]

    def collect(key: int, result: _BatchResult) -> None:
        number, position = divmod(key, _RETRY_SPACING)
        found = parts[number]
        found[position] = result
        if all(part is not None for part in found):
            merged: dict[int, SummaryBuilder] = {}
            problems: list[tuple[int, tuple[Problem, ...]]] = []
            for part in found:
                assert part is not None  # noqa: S101 -- all() above
                _merge_into(merged, part.builders)
                problems.extend(part.problems)
            deliver(number, _BatchResult(builders=merged, problems=tuple(problems)))

    with ProcessPoolExecutor(max_workers=workers) as pool:
        unfinished = _drive(pool, retry, workers, collect, in_flight=1)
        reading = [name for _, batch in unfinished[:workers] for _, _, name in batch.items]
    if unfinished:
        raise WorkerDied(reading)


# Retried files are numbered batch * spacing + place in the batch.
_RETRY_SPACING = 1 << 32


def _reading(batches: list[tuple[int, _Batch]]) -> list[str]:
    return [name for _, batch in batches for _, _, name in batch.items]


def _drive(
    executor: Executor,
    batches: list[tuple[int, _Batch]],
    workers: int,
    deliver: Callable[[int, _BatchResult], None],
    *,
    in_flight: int = _IN_FLIGHT_PER_WORKER,
) -> list[tuple[int, _Batch]]:
    """Submit numbered batches and deliver their results; return those not finished.

    At most ``workers * in_flight`` batches are running or held unmerged at once. On a
    broken executor, the batches in flight come first in what is returned: one of them
    was being read when the worker died.
    """
    waiting = list(reversed(batches))
    running: dict[Future[_BatchResult], tuple[int, _Batch]] = {}
    limit = workers * in_flight
    held = getattr(deliver, "held", {})
    broken = False
    while (waiting and not broken) or running:
        while waiting and not broken and len(running) + len(held) < limit:
            numbered = waiting.pop()
            try:
                future = executor.submit(_summarise_batch, numbered[1])
            except BrokenExecutor:
                waiting.append(numbered)
                broken = True
                break
            running[future] = numbered
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            try:
                result = future.result()
            except BrokenExecutor:
                broken = True
                continue
            number, _ = running.pop(future)
            deliver(number, result)
        if broken:
            # Batches that finished before the break are kept; the others are returned.
            wait(running)
            for future in [future for future in running if future.exception() is None]:
                number, _ = running.pop(future)
                deliver(number, future.result())
            break
    return [*running.values(), *reversed(waiting)]


def _merge(log: ReducedLogs) -> tuple[SessionSummary, tuple[Problem, ...]]:
    builder = SummaryBuilder()
    for part in log.builders.values():
        builder.merge(part)
    return builder.freeze(), tuple(problem for found in log.problems for problem in found)


def summarise_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    executor: Executor | None = None,
    engine: Engine = "auto",
) -> tuple[SessionSummary, tuple[Problem, ...]]:
    """Summarise protocol log files and merge the summaries (see :func:`reduce_logs`).

    Problems come back in the order of ``paths``, whatever the order the files were
    finished in.
    """
    return _merge(reduce_logs(paths, jobs=jobs, executor=executor, engine=engine))


def map_logs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    keep_all: bool = False,
    engine: Engine = "auto",
) -> list[LogSummary]:
    """Summarise each file, in ``paths`` order, here, in a process pool or on ``executor``.

    This returns every file's summary, so its memory grows with the number of files:
    :func:`reduce_logs` merges them as they complete instead.
    """
    names = [os.fspath(path) for path in paths]
    _use_columnar(engine)
    summarise = functools.partial(summarise_log, keep_all=keep_all, engine=engine)
    if executor is not None:
        return list(executor.map(summarise, names))
    if jobs > 1 and len(names) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            return list(pool.map(summarise, names))
    return list(map(summarise, names))
