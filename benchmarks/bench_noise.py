"""Findings bounded by causes, not by noise: the acceptance figures of issue 23.

Each scenario is a noisy day (:mod:`exchange_tls._testing.noisy_day`) written to a temporary
folder, then diagnosed in a process of its own, so that its peak RSS is its own::

    python benchmarks/bench_noise.py                  # every scenario, default sizes
    python benchmarks/bench_noise.py --scale 0.25     # a quarter of the sessions
    python benchmarks/bench_noise.py --only noisy-day

For each scenario it prints the size of the logs, the findings (and whether the partner's
fault is first), the lines of the text report and its longest line, the size of the JSON
and of the HTML report, and the peak RSS of reading, diagnosing and rendering.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exchange_tls._testing.noisy_day import NoisyDay, write_day

#: name -> the day (sessions at scale 1) and what the issue asks of it.
SCENARIOS: dict[str, tuple[NoisyDay, str]] = {
    "noisy-day": (NoisyDay(sessions=20_000), "<= 10 findings, the real fault first"),
    "failing-20pc-50k-hosts": (
        NoisyDay(sessions=300_000, hosts=50_000, scanner_share=0.3, connect_share=0.3),
        "about 1 GB, 20 % failing: JSON <= 2 MB, text <= 200 lines, lines <= 300, HTML <= 1 MB",
    ),
    "distinct-texts": (
        NoisyDay(sessions=400_000, hosts=200_000, scanner_share=1.0, distinct_errors=100_000),
        "100,000 distinct error texts, 200,000 hosts: peak RSS < 400 MiB, <= 20 findings",
    ),
    "failing-30k": (
        NoisyDay(sessions=85_000, hosts=20_000, scanner_share=1.0),
        "30,000 failing sessions (compare with failing-300k)",
    ),
    "failing-300k": (
        NoisyDay(sessions=850_000, hosts=20_000, scanner_share=1.0),
        "300,000 failing sessions: peak RSS within 20 % of failing-30k",
    ),
}


def measure(folder: Path, engine: str = "auto") -> dict[str, object]:
    """Read, diagnose and render ``folder`` in this process; return the figures."""
    from exchange_tls import diagnose, load_evidence

    started = time.perf_counter()
    evidence = load_evidence(folder, engine=engine)  # type: ignore[arg-type]
    diagnosis = diagnose(evidence)
    text = str(diagnosis)
    document = diagnosis.to_json()
    html = diagnosis.to_html(evidence)
    lines = text.splitlines()
    findings = diagnosis.findings
    failing = evidence.summary.tls_failed if evidence.summary is not None else None
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "findings": len(findings),
        "by_severity": [f"{f.severity.value} {f.rule_id}: {f.subject}" for f in findings],
        "top_is_partner": bool(findings) and "fabrikam" in findings[0].summary.casefold(),
        "text_lines": len(lines),
        "longest_line": max(map(len, lines), default=0),
        "json_bytes": len(document.encode("utf-8")),
        "html_bytes": len(html.encode("utf-8")),
        "tls_failed": failing,
        "sessions": (evidence.summary.send_sessions + evidence.summary.receive_sessions)
        if evidence.summary is not None
        else len(evidence.sessions),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Generate each scenario, measure it in a child process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the sessions")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--engine", default="auto", help="the protocol-log reader (auto, careful)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.measure is not None:
        print(json.dumps(measure(arguments.measure, arguments.engine)))
        return 0
    for name in arguments.only or SCENARIOS:
        day, goal = SCENARIOS[name]
        sized = NoisyDay(
            sessions=int(day.sessions * arguments.scale),
            hosts=day.hosts,
            scanner_share=day.scanner_share,
            connect_share=day.connect_share,
            distinct_errors=day.distinct_errors,
        )
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            written = write_day(Path(folder), sized)
            size = sum(path.stat().st_size for path in written)
            generated = time.perf_counter() - started
            child = subprocess.run(  # noqa: S603 -- this script, this interpreter
                [sys.executable, __file__, "--engine", arguments.engine, "--measure", folder],
                check=True,
                capture_output=True,
                text=True,
            )
        figures = json.loads(child.stdout)
        figures.update(
            scenario=name,
            engine=arguments.engine,
            goal=goal,
            megabytes=round(size / 1e6, 1),
            generated_seconds=round(generated, 1),
        )
        print(json.dumps(figures, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
