"""What the command line needs of a terminal besides the reports: progress, width, the collector.

The progress bar follows the bytes summarised, on standard error, only on a terminal
and only for evidence large enough to wait for; it reaches 100% only when loading ends
(:func:`exchange_tls.load_evidence` says so). The width text is wrapped to is the
terminal's, else 100 columns. The collection script ships in the package, so that a
wheel carries it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TextIO

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.errors import Problem, Severity
from exchange_tls.loading import Progress
from exchange_tls.powershell.dates import from_iso
from exchange_tls.safe_text import for_terminal
from exchange_tls.views.text import MIN_WIDTH, WIDTH, more

__all__ = [
    "COLLECTOR",
    "DATE_ORDER_HINT",
    "PROGRESS_THRESHOLD",
    "SHOWN_PROBLEMS",
    "collector_script",
    "columns",
    "date_order",
    "iso_time",
    "progress_bar",
    "report_problems",
    "terminal_width",
    "whole_number",
    "write_collector",
]

#: Evidence smaller than this loads too fast to need a progress bar.
PROGRESS_THRESHOLD = 4 * 1024 * 1024
#: Problems listed on standard error; the JSON and HTML reports carry them all.
SHOWN_PROBLEMS = 20
#: What the library's warnings ask of a caller ("pass date_order"), said to a command line.
DATE_ORDER_HINT = "give --date-order MDY, DMY or YMD"
#: The collection script's name, in the package's data.
COLLECTOR = "Export-ExchangeTlsEvidence.ps1"


def progress_bar(stream: TextIO, *, quiet: bool = False) -> Progress | None:
    """Return a progress bar of the bytes summarised, on a terminal only, unless ``quiet``.

    It writes only when the whole percentage grows, so it never goes back.
    """
    if quiet or not stream.isatty():
        return None
    shown = [-1]

    def report(done: int, total: int, name: str) -> None:
        if total < PROGRESS_THRESHOLD:
            return
        percent = done * 100 // total
        if percent <= shown[0]:
            return
        shown[0] = percent
        width = 30
        filled = width * done // total
        megabytes = f"{done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
        bar = f"[{'#' * filled}{'.' * (width - filled)}]"
        stream.write(f"\rSummarising {bar} {percent:3d}% {megabytes} ")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return report


def terminal_width(stream: TextIO, asked: int | None) -> int:
    """Return the width to wrap text to: asked, else the terminal's, else 100 columns."""
    if asked is not None:
        return asked
    if stream.isatty():
        return shutil.get_terminal_size((WIDTH, 24)).columns
    return WIDTH


def columns(text: str) -> int:
    """Read ``--width``: a whole number of :data:`~exchange_tls.views.text.MIN_WIDTH` or more.

    >>> columns("80")
    80
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_WIDTH:
        raise argparse.ArgumentTypeError(
            f"--width takes a whole number of {MIN_WIDTH} or more, not {text!r}"
        )
    return value


def collector_script() -> str:
    """Return the read-only collection script, as shipped in the package."""
    data = resources.files("exchange_tls").joinpath("data").joinpath(COLLECTOR)
    return data.read_text("utf-8-sig")


def write_collector(target: str | Path) -> str:
    """Write the collection script to ``target``; return what to tell the user next."""
    # A BOM, so that Windows PowerShell 5.1 reads the script's non-ASCII text as UTF-8.
    Path(target).write_text(collector_script(), encoding="utf-8-sig", newline="\r\n")
    return (
        f"Wrote {target}. Copy it to the Exchange server, run it in the Exchange Management "
        f"Shell (.\\{COLLECTOR} -Days 1; it only reads), then run "
        "'exchange-tls diagnose' on the zip it writes."
    )


def report_problems(problems: Sequence[Problem], stream: TextIO) -> None:
    """Write what could not be read with certainty (to standard error), flags named."""
    shown = [p for p in problems if p.severity is not Severity.INFO]
    if not shown:
        return
    print(
        f"{plural(len(shown), 'thing')} in the evidence could not be read with certainty:",
        file=stream,
    )
    for problem in shown[:SHOWN_PROBLEMS]:
        line = str(problem).splitlines()[0].replace("pass date_order", DATE_ORDER_HINT)
        print(f"  {for_terminal(line)}", file=stream)
    rest = more(len(shown), SHOWN_PROBLEMS)
    if rest:
        print(f"  {rest} (all of them in --format json or html)", file=stream)


def iso_time(text: str) -> dt.datetime:
    """Read a time given on the command line: ISO 8601, UTC unless it says otherwise.

    >>> iso_time("2024-06-01T12:00:00Z").isoformat(), iso_time("2024-06-01").isoformat()
    ('2024-06-01T12:00:00+00:00', '2024-06-01T00:00:00+00:00')
    """
    try:
        value = from_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time in ISO 8601: give one such as 2024-06-01 or "
            "2024-06-01T12:00:00Z (UTC unless an offset is given)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def date_order(text: str) -> str:
    """Read ``--date-order``: MDY, DMY or YMD, in any case."""
    order = text.upper()
    if order not in ("MDY", "DMY", "YMD"):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of MDY, DMY, YMD")
    return order


def whole_number(text: str) -> int:
    """Read a whole number of 1 or more (``--jobs``, ``--top``)."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"give a whole number of 1 or more, not {text!r}")
    return jobs
