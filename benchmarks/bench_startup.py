"""Start-up: the bundled ``exchange-tls diagnose``, against bare interpreters in the same run.

Run: ``python benchmarks/bench_startup.py`` (see ``--help``). It prints the machine (the
cores this process may use, the CPU, Python, the columnar extra, the load average) and
runs, in fresh interpreters and in turns so that a change of load touches every measure
alike:

* ``pass``: ``python -c pass``, the interpreter alone;
* ``deps``: ``import attrs, pyparsing, cryptography.x509``, the third-party floor of the
  package as it was;
* ``diagnose``: ``python -m exchange_tls diagnose`` with no path (the bundled KB 4051498
  example), from an empty folder, with this checkout first on ``PYTHONPATH``;
* ``diagnose@LABEL``: the same with another source tree (``--compare LABEL=PATH``, such as
  ``git archive`` of an earlier commit unpacked), for a before and after in one run.

Each figure is the median of ``--runs`` runs (the fastest in brackets): the wall time the
parent sees from start to exit, and the child's own peak RSS (its ``VmHWM``, read as it
exits: ``ru_maxrss`` can carry the parent's size across ``exec``).
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs the statement, then writes this process's peak RSS (kB) to $BENCH_HWM as it exits.
RUNNER = """\
import atexit, os
def _hwm():
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["BENCH_HWM"], "w", encoding="ascii") as out:
        out.write(peak)
atexit.register(_hwm)
{statement}
"""

DIAGNOSE = "import runpy, sys\nsys.argv = ['exchange-tls', 'diagnose']\nrunpy.run_module('exchange_tls', run_name='__main__')"

STATEMENTS = {
    "pass": "pass",
    "deps": "import attrs, pyparsing, cryptography.x509",
}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _version(python: str, module: str) -> str:
    code = f"import importlib.metadata as m\ntry: print(m.version({module!r}))\nexcept Exception: print('absent')"
    return subprocess.run(  # noqa: S603 -- the interpreter being measured
        [python, "-c", code], capture_output=True, text=True, check=False
    ).stdout.strip()


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _machine(python: str) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    version = subprocess.run(  # noqa: S603 -- the interpreter being measured
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    extra = ", ".join(f"{name} {_version(python, name)}" for name in ("pyarrow", "numpy"))
    return f"{cores} cores ({_cpu()}), Python {version}, {extra}, load average {_load()}"


def _run_once(python: str, statement: str, source: Path | None, folder: Path) -> tuple[float, int]:
    """Return the wall seconds and the peak RSS (kB) of one fresh interpreter."""
    hwm = folder / "hwm"
    env = {**os.environ, "BENCH_HWM": str(hwm)}
    env.pop("PYTHONPATH", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    start = time.perf_counter()
    completed = subprocess.run(  # noqa: S603 -- the interpreter being measured
        [python, "-c", RUNNER.format(statement=statement)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = time.perf_counter() - start
    if completed.returncode not in (0, 1):  # diagnose exits 1: the example has a problem
        raise SystemExit(f"{statement!r} failed:\n{completed.stderr.decode(errors='replace')}")
    return wall, int(hwm.read_text(encoding="ascii"))


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each measure (default 11)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    parser.add_argument(
        "--source", type=Path, default=ROOT, help="the source tree to diagnose with (this one)"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="also measure diagnose with the source tree at PATH (repeatable)",
    )
    arguments = parser.parse_args()
    measures: dict[str, tuple[str, Path | None]] = {
        name: (statement, None) for name, statement in STATEMENTS.items()
    }
    measures["diagnose"] = (DIAGNOSE, arguments.source.resolve())
    for item in arguments.compare:
        label, _, path = item.partition("=")
        measures[f"diagnose@{label}"] = (DIAGNOSE, Path(path).resolve())

    # Measured as installed: a wheel's modules are compiled when it is installed, but a
    # source tree under PYTHONDONTWRITEBYTECODE (set on some machines, this one among
    # them) is compiled again by every run, which cost about 0.1 s of each.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for _, source in measures.values():
        if source is not None:
            compileall.compile_dir(source / "exchange_tls", quiet=1)
    print(f"machine: {_machine(arguments.python)}")
    print(
        f"source: {arguments.source.resolve()}; {arguments.runs} runs of each, in turns; "
        "bytecode compiled first, as a wheel's install does"
    )
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in measures}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        for statement, source in measures.values():  # warm the caches once
            _run_once(arguments.python, statement, source, Path(folder))
        for _ in range(arguments.runs):
            for name, (statement, source) in measures.items():
                results[name].append(_run_once(arguments.python, statement, source, Path(folder)))
    print(f"load average after: {_load()}\n")

    floor = statistics.median(wall for wall, _ in results["pass"])
    print("| measure | wall, median (fastest) | minus `pass` | peak RSS, median |")
    print("|---|---:|---:|---:|")
    for name, runs in results.items():
        walls = [wall for wall, _ in runs]
        wall = statistics.median(walls)
        rss = statistics.median(peak for _, peak in runs) / 1024
        print(
            f"| {name} | {wall:.3f} s ({min(walls):.3f}) | {wall - floor:.3f} s | {rss:.1f} MiB |"
        )


if __name__ == "__main__":
    main()
