"""Throughput and memory of the protocol-log reader, against csv.reader in the same run.

Run: ``python benchmarks/bench_protocol_logs.py`` (generates 200 MB under a temporary
folder unless ``--folder`` names one). Each measurement runs in a fresh subprocess, so
peak RSS is that of the measurement alone. The figures that count are the ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parent))

from generate_logs import generate

if TYPE_CHECKING:
    from exchange_tls.pipeline import Engine


def _csv_baseline(files: list[Path]) -> int:
    rows = 0
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for _ in csv.reader(handle):
                rows += 1
    return rows


def _typed_rows(files: list[Path]) -> int:
    from exchange_tls import iter_protocol_rows

    rows = 0
    for _ in iter_protocol_rows(*files):
        rows += 1
    return rows


def _sessions(files: list[Path]) -> int:
    from exchange_tls import assemble_sessions, iter_protocol_rows

    rows = 0
    for session in assemble_sessions(iter_protocol_rows(*files)):
        rows += len(session.rows)
        tls = session.tls
        if tls is not None and tls.local_certificate is not None:
            _ = (tls.succeeded, tls.error, tls.local_certificate.thumbprint)
    return rows


def _diagnose(files: list[Path], jobs: int = 1, engine: Engine = "careful") -> int:
    """Do what ``exchange-tls diagnose --jobs N`` does: load (summarising logs), diagnose."""
    from exchange_tls import diagnose, load_evidence

    evidence = load_evidence(*files, jobs=jobs, engine=engine)
    diagnosis = diagnose(evidence)
    assert diagnosis.coverage.send_sessions > 0
    return -1  # rows are not counted here: the ratio is taken from the time


def _diagnose_2(files: list[Path]) -> int:
    return _diagnose(files, jobs=2)


def _diagnose_columnar(files: list[Path]) -> int:
    """Diagnose with the columnar fast path (the ``columnar`` extra), pyarrow's default threads."""
    return _diagnose(files, engine="columnar")


def _diagnose_columnar_1(files: list[Path]) -> int:
    """Diagnose with the columnar fast path, pyarrow limited to one thread."""
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    return _diagnose(files, engine="columnar")


MEASURES = {
    "csv": _csv_baseline,
    "rows": _typed_rows,
    "sessions": _sessions,
    "diagnose": _diagnose,
    "diagnose-j2": _diagnose_2,
    "diagnose-columnar": _diagnose_columnar,
    "diagnose-columnar-1t": _diagnose_columnar_1,
}


def _child(measure: str, files: list[str]) -> None:
    import resource

    paths = [Path(name) for name in files]
    # Importing the package (about 0.2 s: cryptography, pyparsing, the rule catalogue) is
    # a fixed cost, not throughput; the csv baseline does not pay one either.
    started = time.perf_counter()
    if measure != "csv":
        import exchange_tls  # noqa: F401 -- the import is what is timed here
    imported = time.perf_counter() - started
    started = time.perf_counter()
    rows = MEASURES[measure](paths)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # A process pool's workers are children: their peak is reported apart.
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": elapsed,
                "import": imported,
                "peak_rss_mib": peak_kib / 1024,
                "workers_peak_rss_mib": children_kib / 1024,
            }
        )
    )


def _run(measure: str, files: list[Path]) -> dict[str, float]:
    """Run one measure in a fresh interpreter, so that its peak RSS is its own."""
    output = subprocess.run(  # noqa: S603 -- our own interpreter and script
        [sys.executable, __file__, "--child", measure, *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> None:
    """Measure and print a table of rows/s, ratios and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs="+")
    parser.add_argument(
        "--measures",
        default=",".join(MEASURES),
        help="which measures to run, comma-separated (csv is always run: it is the baseline)",
    )
    arguments = parser.parse_args()
    if arguments.child:
        _child(arguments.child[0], arguments.child[1:])
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = arguments.folder or Path(scratch) / "SmtpSend"
        files = sorted(folder.rglob("SEND*.LOG")) or generate(
            folder, arguments.files, arguments.megabytes
        )
        size = sum(path.stat().st_size for path in files) / 1e6
        print(f"{len(files)} files, {size:.0f} MB")
        # Rounds take each measure in turn, so that a slow spell of a shared machine
        # falls on all of them rather than on one; each keeps its best round.
        chosen = ["csv", *(m for m in arguments.measures.split(",") if m and m != "csv")]
        results: dict[str, dict[str, float]] = {}
        for _ in range(arguments.repeat):
            for measure in chosen:
                result = _run(measure, files)
                if measure not in results or result["seconds"] < results[measure]["seconds"]:
                    results[measure] = result
        rows = int(results["csv"]["rows"])
        baseline = rows / results["csv"]["seconds"]
        print(
            f"{'measure':<21} {'seconds':>8} {'rows/s':>12} {'ratio':>7} {'peak RSS':>10} "
            f"{'workers':>10} {'import':>8}"
        )
        for measure, result in results.items():
            # Every measure reads the same files: a measure that does not count rows is
            # credited with the baseline's.
            rate = rows / result["seconds"]
            print(
                f"{measure:<21} {result['seconds']:>8.2f} {rate:>12,.0f} "
                f"{rate / baseline:>7.2f} {result['peak_rss_mib']:>6.1f} MiB "
                f"{result['workers_peak_rss_mib']:>6.1f} MiB {result['import']:>7.2f}s"
            )
        if "diagnose" in results and "diagnose-j2" in results:
            speedup = results["diagnose"]["seconds"] / results["diagnose-j2"]["seconds"]
            print(f"--jobs 2 against one process: {speedup:.2f}x")
        if "sessions" in results:
            small = files[:2]
            memory = {
                "2 files": _run("sessions", small)["peak_rss_mib"],
                f"{len(files)} files": results["sessions"]["peak_rss_mib"],
            }
            print(
                "peak RSS of sessions: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in memory.items())
            )


if __name__ == "__main__":
    main()
