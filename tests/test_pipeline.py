"""The pipeline: logs summarised in batches, merged as they complete, the same whatever runs them."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from exchange_tls import diagnose, load_evidence, pipeline
from exchange_tls.cli import main
from exchange_tls.pipeline import (
    WorkerDied,
    available_cores,
    reduce_logs,
    summarise_log,
    summarise_logs,
)
from exchange_tls.protocol_log import reader as reader_module
from exchange_tls.protocol_log import summary as summary_module
from exchange_tls.protocol_log.summary import SummaryBuilder

HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Send Protocol Log\r\n#Date: 2024-06-01T00:00:00.000Z\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)
SUCCESS = (
    '"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm '
    "CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits "
    'and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)


def _session(number: int, failed: bool, connector: str, host: int) -> list[str]:
    tls = "*,,TLS negotiation failed with error UnknownCredentials" if failed else f"*,,{SUCCESS}"
    body = [
        "+,,",
        ">,EHLO mail.contoso.com,",
        "<,250-STARTTLS,",
        ">,STARTTLS,",
        "<,220 2.0.0 Ready,",
        "*,,Sending certificate",
        f"*,{connector[0] * 40},Certificate thumbprint",
        tls,
        "-,,Local",
    ]
    minute, second = divmod(number, 60)
    return [
        f"2024-06-01T{minute // 60:02d}:{minute % 60:02d}:{second:02d}.{index:03d}Z,{connector},"
        f"{0x08DC000000000000 + number:016X},{index},10.0.0.1:2525,192.0.2.{host}:25,{row}"
        for index, row in enumerate(body)
    ]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Return 24 small rotated logs in a folder; sessions of some span two files."""
    folder = tmp_path_factory.mktemp("pipeline") / "SmtpSend"
    folder.mkdir()
    rng = random.Random(24)  # noqa: S311 -- reproducible test data
    rows: list[str] = []
    for number in range(480):
        rows += _session(number, rng.random() < 0.3, rng.choice(["Out", "Relay"]), rng.randrange(9))
    rows.sort()
    paths = []
    size = -(-len(rows) // 24)
    for index in range(24):
        path = folder / f"SEND20240601{index // 10:02d}-{index + 1}.LOG"
        path.write_text(HEADER + "\r\n".join(rows[index * size : (index + 1) * size]) + "\r\n")
        paths.append(path)
    return paths


def _json(folder: Path, **options: Any) -> str:
    return diagnose(load_evidence(folder, **options)).to_json()


@pytest.mark.parametrize("engine", ["careful", "columnar"])
def test_every_job_count_gives_byte_identical_json(logs: list[Path], engine: str) -> None:
    """One process, a pool of two or three, and any executor: the same JSON, byte for byte."""
    if engine == "columnar":
        pytest.importorskip("pyarrow")
    folder = logs[0].parent
    expected = _json(folder, jobs=1, engine="careful")
    assert _json(folder, jobs=1, engine=engine) == expected
    assert _json(folder, jobs=2, engine=engine) == expected
    assert _json(folder, jobs=3, engine=engine) == expected
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert _json(folder, executor=pool, engine=engine) == expected


def test_a_batch_merges_its_files_where_it_runs(logs: list[Path]) -> None:
    """An executor receives batches, not files, and sends back one summary per batch."""
    submitted: list[int] = []

    class Counting(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            submitted.append(len(args[0].items))
            return super().submit(fn, *args, **kwargs)

    with Counting(max_workers=2) as pool:
        reduced = reduce_logs(logs, executor=pool)
    assert sum(submitted) == len(logs)
    assert len(submitted) < len(logs)
    merged = SummaryBuilder()
    for path in logs:
        merged.merge(summarise_log(path).builder)
    assert reduced.builders[0].freeze() == merged.freeze()


def test_the_parent_holds_a_bounded_number_of_summaries(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are sent as earlier ones are merged: never all of them in flight at once."""
    monkeypatch.setattr(pipeline, "_BATCH_BYTES", 1)  # one file a batch
    in_flight: list[int] = []
    running: set[Future[Any]] = set()

    class Watching(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = super().submit(fn, *args, **kwargs)
            running.add(future)
            future.add_done_callback(running.discard)
            in_flight.append(len(running))
            return future

    with Watching(max_workers=1) as pool:
        reduced = reduce_logs(logs, executor=pool, jobs=2)
    assert len(in_flight) == len(logs)
    assert max(in_flight) <= 4  # two batches a worker, running or waiting to be merged
    assert reduced.builders[0].freeze() == reduce_logs(logs, jobs=1).builders[0].freeze()


def test_summaries_that_fold_rare_causes_give_the_same_json_for_every_job_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches cut by size alone, merged in order: the same JSON even when causes fold."""
    monkeypatch.setattr(summary_module, "SIGNATURES_KEPT", 2)
    monkeypatch.setattr(pipeline, "_BATCH_BYTES", 3000)
    folder = tmp_path / "SmtpSend"
    folder.mkdir()
    rng = random.Random(25)  # noqa: S311 -- reproducible test data
    rows: list[str] = []
    for number in range(300):
        rows += _session(number, rng.random() < 0.6, f"C{rng.randrange(40)}", rng.randrange(9))
    rows.sort()
    size = -(-len(rows) // 12)
    for index in range(12):
        path = folder / f"SEND20240601{index:02d}-1.LOG"
        path.write_text(HEADER + "\r\n".join(rows[index * size : (index + 1) * size]) + "\r\n")
    summary, _ = summarise_logs(sorted(folder.iterdir()), jobs=1, engine="careful")
    assert summary.signatures_folded > 0
    expected = _json(folder, jobs=1, engine="careful")
    assert _json(folder, jobs=2, engine="careful") == expected
    assert _json(folder, jobs=3, engine="careful") == expected
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert _json(folder, executor=pool, engine="careful") == expected


@pytest.mark.parametrize(("jobs", "overlap"), [(1, True), (2, False)])
def test_the_fast_path_takes_a_thread_only_in_one_process(
    logs: list[Path], jobs: int, overlap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool's workers take every core: the columnar reader splits ahead only alone."""
    seen: set[bool] = set()

    def spy(path: Any, *, overlap: bool = True, **_: Any) -> SummaryBuilder | None:
        seen.add(overlap)
        return None  # read carefully

    monkeypatch.setattr(pipeline, "summarise_clean_log", spy)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reduce_logs(logs, engine="columnar", jobs=jobs, executor=pool if jobs > 1 else None)
    assert seen == {overlap}


def test_groups_merge_apart(logs: list[Path]) -> None:
    """Each group's files merge into a builder of their own."""
    reduced = reduce_logs(logs, groups=[index % 2 for index in range(len(logs))], jobs=1)
    for group in (0, 1):
        merged = SummaryBuilder()
        for path in logs[group::2]:
            merged.merge(summarise_log(path).builder)
        assert reduced.builders[group].freeze() == merged.freeze()


def test_problems_come_back_in_the_order_of_the_paths(logs: list[Path], tmp_path: Path) -> None:
    """Each file's problems are reported against it, in order, whatever finished first."""
    broken = tmp_path / "SEND20240601-1.LOG"
    broken.write_bytes(HEADER.encode() + b"not,a,row\r\n")
    paths = [*logs[:5], broken, *logs[5:]]
    reduced = reduce_logs(paths, jobs=2)
    assert [bool(found) for found in reduced.problems] == [path == broken for path in paths]
    assert summarise_logs(paths, jobs=2)[1] == summarise_logs(paths, jobs=1)[1]


def test_jobs_default_to_the_cores_for_large_inputs_only(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default, small inputs are read here (no pool is started); large ones in a pool."""
    assert available_cores() >= 1
    started: list[int] = []

    def pool(max_workers: int) -> ThreadPoolExecutor:
        started.append(max_workers)
        return ThreadPoolExecutor(max_workers=max_workers)

    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(pipeline, "available_cores", lambda: 2)
    expected = reduce_logs(logs, jobs=1).builders[0].freeze()
    assert reduce_logs(logs).builders[0].freeze() == expected
    assert started == []
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 1)
    assert reduce_logs(logs).builders[0].freeze() == expected
    assert started == [2]
    with pytest.raises(ValueError, match="jobs"):
        reduce_logs(logs, jobs=0)


def test_a_worker_that_dies_once_is_retried(
    logs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed once: its files are read again in a fresh pool, to the same result."""
    monkeypatch.setenv("EXCHANGE_TLS_TEST_KILL_WORKER", logs[7].name)
    monkeypatch.setenv("EXCHANGE_TLS_TEST_KILL_ONCE", str(tmp_path / "killed"))
    summary, problems = summarise_logs(logs, jobs=2)
    assert (tmp_path / "killed").exists()
    monkeypatch.delenv("EXCHANGE_TLS_TEST_KILL_WORKER")
    assert (summary, problems) == summarise_logs(logs, jobs=1)


def test_a_worker_that_dies_twice_names_what_it_was_reading(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed on every try: WorkerDied names the file, never a BrokenProcessPool."""
    monkeypatch.setenv("EXCHANGE_TLS_TEST_KILL_WORKER", logs[7].name)
    with pytest.raises(WorkerDied) as raised:
        summarise_logs(logs, jobs=2)
    assert str(logs[7]) in raised.value.reading
    assert str(logs[7]) in str(raised.value)


def test_the_command_line_exits_2_with_one_line_when_a_worker_dies(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--jobs 2`` with a worker killed: exit 2, one line naming the file, no "bug"."""
    monkeypatch.setenv("EXCHANGE_TLS_TEST_KILL_WORKER", logs[7].name)
    status = main(["diagnose", "--jobs", "2", "--engine", "careful", str(logs[0].parent)])
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if line.startswith("exchange-tls:")]
    assert status == 2
    assert len(lines) == 1
    assert logs[7].name in lines[0]
    assert "bug" not in error


def test_the_kill_hook_never_kills_the_main_process(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process the test hook does nothing: the file is read."""
    monkeypatch.setenv("EXCHANGE_TLS_TEST_KILL_WORKER", logs[7].name)
    summary, _ = summarise_logs(logs, jobs=1)
    assert summary.send_sessions > 0


def test_small_inputs_do_not_import_pyarrow() -> None:
    """The bundled example, with the default engine: read carefully, pyarrow never imported."""
    pytest.importorskip("pyarrow")
    code = (
        "import sys, contextlib, io\n"
        "from exchange_tls.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['diagnose'])\n"
        "print(sorted(name for name in ('pyarrow', 'numpy', 'pandas') if name in sys.modules))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    output = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    ).stdout
    assert output.strip() == "[]"


def test_a_small_file_is_read_the_fast_way_after_its_header(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of one batch: only its directives are read row by row, its rows the fast way."""
    careful: list[int] = []
    original = reader_module._LogReader._careful

    def spy(self: Any, batch: list[list[str]], first: int) -> Any:
        careful.append(len(batch))
        return original(self, batch, first)

    monkeypatch.setattr(reader_module._LogReader, "_careful", spy)
    summary, _ = summarise_logs(logs[:1], jobs=1, engine="careful")
    assert summary.send_sessions > 0
    assert careful == [5]  # the five directives


def test_auto_reads_small_files_carefully_among_large_logs(
    logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default engine, the columnar path is tried on large files only."""
    tried: list[str] = []
    monkeypatch.setattr(pipeline, "columnar_available", lambda: True)
    monkeypatch.setattr(pipeline, "summarise_clean_log", lambda path, **_: tried.append(path))
    monkeypatch.setattr(pipeline, "COLUMNAR_MIN_BYTES", 1)
    expected = reduce_logs(logs, jobs=1, engine="careful").builders[0].freeze()
    assert reduce_logs(logs, jobs=1).builders[0].freeze() == expected
    assert tried == []
    monkeypatch.setattr(pipeline, "COLUMNAR_MIN_FILE_BYTES", 1)
    assert reduce_logs(logs, jobs=1).builders[0].freeze() == expected
    assert len(tried) == len(logs)


def test_a_written_log_is_told_from_its_first_kilobytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telling a log by its header decodes a few KiB of it, not its 64 KiB head.

    A header that begins further in (after a long preamble) is still found, in the head.
    """
    import exchange_tls.loading as loading

    decoded: list[int] = []
    real = loading.decode_bytes

    def counting(data: bytes, source: str) -> Any:
        decoded.append(len(data))
        return real(data, source)

    monkeypatch.setattr(loading, "decode_bytes", counting)
    rows = "\r\n".join(line for number in range(400) for line in _session(number, False, "Out", 1))
    log = tmp_path / "SEND2024060100-1.LOG"
    log.write_text(HEADER + rows + "\r\n")
    late = tmp_path / "late.log"
    late.write_text("\r\n" * 3000 + HEADER + rows + "\r\n")
    evidence = load_evidence(log)
    assert evidence.summary is not None
    assert evidence.summary.send_sessions == 400
    assert log.stat().st_size > 64 * 1024
    assert decoded
    assert max(decoded) <= 4096
    decoded.clear()
    late_evidence = load_evidence(late)
    assert late_evidence.summary is not None
    assert late_evidence.summary.send_sessions == 400
    assert max(decoded) == 64 * 1024


def _environment(name: str) -> str | None:
    return os.environ.get(name)


@pytest.mark.parametrize(
    ("name", "value"), [("OPENBLAS_NUM_THREADS", "1"), ("MIMALLOC_PURGE_DELAY", "-1")]
)
def test_a_pool_worker_is_prepared_before_it_imports_the_fast_path(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker runs without BLAS threads and keeps mimalloc's pages; a user's setting wins."""
    monkeypatch.delenv(name, raising=False)
    with pipeline.ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_environment, name).result() == value
    monkeypatch.setenv(name, "7")
    with pipeline.ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(_environment, name).result() == "7"
    assert os.environ[name] == "7"
