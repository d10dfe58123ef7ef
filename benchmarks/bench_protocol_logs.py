"""Throughput and memory of summarising protocol logs, against csv.reader in the same run.

Run: ``python benchmarks/bench_protocol_logs.py`` (see ``--help``). It prints the machine
(cores this process may use, CPU, Python, pyarrow, the load average) and runs up to three
sets of generated logs (``generate_logs.py``), each against ``csv.reader`` over the same
files:

* ``clean``: 5% TLS failures of one kind (``--megabytes`` in all, files of 10 MB);
* ``unhealthy``: 20% failing in four ways, 50,000 remote hosts, banners with times;
* ``small``: ``--small-files`` files of ``--small-kb`` KB (a fleet's many small logs).

Each measurement runs in a fresh subprocess, so that its peak RSS is its own (a process
pool's workers are reported apart), and records the load average before and after it.
Every measure of a set must give the same diagnosis JSON, byte for byte: the script
compares their SHA-256 and says so. The figures that count are the ratios within one run.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate_logs import generate


def _csv_baseline(files: list[Path]) -> str:
    rows = 0
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for _ in csv.reader(handle):
                rows += 1
    return f"{rows} rows"


def _typed_rows(files: list[Path]) -> str:
    from exchange_tls import iter_protocol_rows

    rows = 0
    for _ in iter_protocol_rows(*files):
        rows += 1
    return f"{rows} rows"


def _sessions(files: list[Path]) -> str:
    from exchange_tls import assemble_sessions, iter_protocol_rows

    rows = 0
    for session in assemble_sessions(iter_protocol_rows(*files)):
        rows += len(session.rows)
        tls = session.tls
        if tls is not None and tls.local_certificate is not None:
            _ = (tls.succeeded, tls.error, tls.local_certificate.thumbprint)
    return f"{rows} rows"


def _diagnose(files: list[Path], **options: object) -> str:
    """Do what ``exchange-tls diagnose`` does: load (summarising logs), diagnose; hash the JSON."""
    from exchange_tls import diagnose, load_evidence

    evidence = load_evidence(*files, **options)  # type: ignore[arg-type]
    text = diagnose(evidence).to_json()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dask(files: list[Path], engine: str) -> str:
    """Summarise on a Dask LocalCluster of two single-threaded worker processes.

    The cluster's start (a few seconds) is not timed, as a cluster is started once for
    many runs; it is printed apart.
    """
    from dask.distributed import Client, LocalCluster

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        setup = time.perf_counter() - started
        started = time.perf_counter()
        digest = _diagnose(files, engine=engine, executor=client.get_executor())
        _TIMED["seconds"] = time.perf_counter() - started
        _TIMED["setup"] = setup
        return digest


# A measure that times only part of its work says so here.
_TIMED: dict[str, float] = {}


MEASURES: dict[str, Callable[[list[Path]], str]] = {
    "csv": _csv_baseline,
    "rows": _typed_rows,
    "sessions": _sessions,
    "careful-1": lambda files: _diagnose(files, engine="careful", jobs=1),
    "columnar-1": lambda files: _diagnose(files, engine="columnar", jobs=1),
    "careful-default": lambda files: _diagnose(files, engine="careful"),
    "auto-default": lambda files: _diagnose(files),
    "dask-2-careful": lambda files: _dask(files, "careful"),
    "dask-2-columnar": lambda files: _dask(files, "columnar"),
}
DESCRIPTIONS = {
    "csv": "csv.reader over every file (the baseline)",
    "rows": "iter_protocol_rows: typed rows, nothing else",
    "sessions": "assemble_sessions(iter_protocol_rows(...)), every session whole",
    "careful-1": "diagnose, careful reader, one process (--engine careful --jobs 1)",
    "columnar-1": "diagnose, columnar fast path, one process (--engine columnar --jobs 1)",
    "careful-default": "diagnose, careful reader, default jobs (every core)",
    "auto-default": "diagnose as `exchange-tls diagnose` runs: default engine and jobs",
    "dask-2-careful": "diagnose on a Dask LocalCluster, 2 worker processes, careful",
    "dask-2-columnar": "diagnose on a Dask LocalCluster, 2 worker processes, columnar",
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    try:
        import pyarrow

        arrow = f"pyarrow {pyarrow.__version__}"
    except ImportError:
        arrow = "no pyarrow"
    return (
        f"machine: {_cores()} cores usable ({os.cpu_count()} in all), {model}, "
        f"Python {platform.python_version()}, {arrow}; load average {_load()}"
    )


def _own_peak_mib() -> float:
    """Return this process's own peak RSS (VmHWM).

    Not ``ru_maxrss``: Linux carries the peak of the process that forked this one across
    ``exec``, so every child would report at least its parent's size.
    """
    import resource

    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(measure: str, files: list[str]) -> None:
    import resource

    paths = [Path(name) for name in files]
    before = _load()
    # Importing the package is a fixed cost, not throughput; csv.reader pays none either.
    # The names the measures use are imported too: the package's top level is lazy, and
    # `import exchange_tls` alone left about 0.13 s of imports inside every measure.
    if measure != "csv":
        from exchange_tls import (  # noqa: F401 -- imported before the clock starts
            assemble_sessions,
            diagnose,
            iter_protocol_rows,
            load_evidence,
        )
    started = time.perf_counter()
    digest = MEASURES[measure](paths)
    elapsed = _TIMED.get("seconds", time.perf_counter() - started)
    print(
        json.dumps(
            {
                "result": digest,
                "seconds": elapsed,
                "peak_rss_mib": _own_peak_mib(),
                # A process pool's workers are children: the largest one's peak.
                "workers_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                / 1024,
                "load": f"{before} -> {_load()}",
                "setup": _TIMED.get("setup", 0.0),
            }
        )
    )


def _run(measure: str, files: list[Path]) -> dict[str, object]:
    """Run one measure in a fresh interpreter, so that its peak RSS is its own."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(map(str, files)))
    try:
        output = subprocess.run(  # noqa: S603 -- our own interpreter and script
            [sys.executable, __file__, "--child", measure, "@" + listing.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(listing.name)
    result: dict[str, object] = json.loads(output.splitlines()[-1])
    return result


def _files(folder: Path, profile: str, files: int, megabytes: float) -> list[Path]:
    found = sorted(folder.glob("SEND*.LOG"))
    if len(found) == files:
        return found
    for stale in found:
        stale.unlink()
    return generate(folder, files, megabytes, profile=profile)


def _scaled(folder: Path, files: list[Path], times: int) -> list[Path]:
    """Hard links to ``files``, ``times`` over, under other names: a larger input, no disk."""
    folder.mkdir(parents=True, exist_ok=True)
    linked = []
    for copy in range(times):
        for index, path in enumerate(files):
            target = folder / f"SEND20261102{index % 24:02d}-{copy * 1000 + index // 24 + 1}.LOG"
            if not target.exists():
                os.link(path, target)
            linked.append(target)
    return linked


def _measure_set(name: str, files: list[Path], measures: list[str], repeat: int) -> None:
    size = sum(path.stat().st_size for path in files) / 1e6
    print(f"\n## {name}: {len(files):,} files, {size:,.0f} MB; load average {_load()}")
    results: dict[str, dict[str, object]] = {}
    # Rounds take each measure in turn, so that a slow spell of a shared machine falls
    # on all of them rather than on one; each keeps its best round.
    for _ in range(repeat):
        for measure in ["csv", *(m for m in measures if m != "csv")]:
            result = _run(measure, files)
            best = results.get(measure)
            if best is None or float(result["seconds"]) < float(best["seconds"]):  # type: ignore[arg-type]
                results[measure] = result
    baseline = float(results["csv"]["seconds"])  # type: ignore[arg-type]
    print(
        f"{'measure':<17} {'seconds':>8} {'ratio':>6} {'peak RSS':>10} {'workers':>10}  "
        "load before -> after"
    )
    for measure, result in results.items():
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        print(
            f"{measure:<17} {seconds:>8.2f} {baseline / seconds:>6.2f} "
            f"{float(result['peak_rss_mib']):>6.1f} MiB "  # type: ignore[arg-type]
            f"{float(result['workers_peak_rss_mib']):>6.1f} MiB  {result['load']}"  # type: ignore[arg-type]
            + (f"  (+{result['setup']:.1f} s to start the cluster)" if result.get("setup") else "")
        )
    digests = {
        str(result["result"])
        for measure, result in results.items()
        if measure not in ("csv", "rows", "sessions")
    }
    if digests:
        same = "yes" if len(digests) == 1 else f"NO ({len(digests)} different)"
        print(f"byte-identical diagnosis JSON across the measures: {same}")
    if "careful-1" in results and "dask-2-careful" in results:
        one = float(results["careful-1"]["seconds"])  # type: ignore[arg-type]
        dask = float(results["dask-2-careful"]["seconds"])  # type: ignore[arg-type]
        print(f"Dask, 2 workers, against one process (careful): {one / dask:.2f}x")
    if "columnar-1" in results and "dask-2-columnar" in results:
        one = float(results["columnar-1"]["seconds"])  # type: ignore[arg-type]
        dask = float(results["dask-2-columnar"]["seconds"])  # type: ignore[arg-type]
        print(f"Dask, 2 workers, against one process (columnar): {one / dask:.2f}x")


def main() -> None:
    """Generate (or reuse) the sets, measure and print a table for each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, help="folder for the generated sets (kept)")
    parser.add_argument("--folder", type=Path, help="measure this folder's SEND*/RECV* logs only")
    parser.add_argument("--sets", default="clean,unhealthy,small")
    parser.add_argument("--megabytes", type=int, default=1000, help="size of clean, unhealthy")
    parser.add_argument("--small-files", type=int, default=20_000)
    parser.add_argument("--small-kb", type=float, default=40)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--measures", default="careful-1,columnar-1,careful-default,auto-default")
    parser.add_argument("--dask", action="store_true", help="add the Dask measures to clean")
    parser.add_argument(
        "--scale", type=int, default=0, help="also measure peak RSS on the clean set N times over"
    )
    parser.add_argument("--child", nargs="+")
    arguments = parser.parse_args()
    if arguments.child:
        measure, listing = arguments.child
        files = Path(listing[1:]).read_text().splitlines()
        _child(measure, files)
        return
    # Measured as installed: a wheel's modules are compiled when it is installed, but a
    # source tree under PYTHONDONTWRITEBYTECODE (set on some machines) is compiled again
    # in every measure's fresh interpreter, about 0.3 s of each.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import exchange_tls

    compileall.compile_dir(Path(exchange_tls.__file__).parent, quiet=1)
    print(_machine())
    print("bytecode compiled first, as a wheel's install does")
    measures = [m for m in arguments.measures.split(",") if m]
    if arguments.folder:
        files = sorted(
            path
            for path in arguments.folder.rglob("*")
            if path.name[:4].upper() in ("SEND", "RECV")
        )
        _measure_set(str(arguments.folder), files, measures, arguments.repeat)
        return
    with tempfile.TemporaryDirectory() as scratch:
        root = arguments.root or Path(scratch)
        for name in arguments.sets.split(","):
            if name == "small":
                files = _files(
                    root / "small" / "SmtpSend",
                    "clean",
                    arguments.small_files,
                    arguments.small_kb / 1000,
                )
            else:
                count = max(1, arguments.megabytes // 10)
                files = _files(root / name / "SmtpSend", name, count, arguments.megabytes / count)
            extra = (
                ["dask-2-careful", "dask-2-columnar"] if arguments.dask and name == "clean" else []
            )
            _measure_set(name, files, measures + extra, arguments.repeat)
            if name == "clean" and arguments.scale > 1:
                scaled = _scaled(root / "scaled" / "SmtpSend", files, arguments.scale)
                _measure_set(
                    f"clean x{arguments.scale} (hard links)",
                    scaled,
                    ["careful-1", "columnar-1"],
                    1,
                )


if __name__ == "__main__":
    main()
