"""The ``exchange-tls`` command line: diagnose, summary, tables, explain and rules.

It only reads options, loads evidence and writes what :mod:`exchange_tls.views` renders.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from exchange_tls.bundled import EXAMPLE
from exchange_tls.cli_probe import add_parser as add_probe_parser
from exchange_tls.cli_thresholds import add_threshold_options, thresholds_from
from exchange_tls.diagnosis import CATALOGUE, diagnose, explain_error
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Verdict
from exchange_tls.display import format_named, formats
from exchange_tls.errors import ExchangeTlsError, Problem
from exchange_tls.loading import load_evidence
from exchange_tls.output_file import written_whole
from exchange_tls.pipeline import ENGINES
from exchange_tls.safe_text import for_json, for_terminal
from exchange_tls.terminal import (
    collector_script,
    columns,
    date_order,
    iso_time,
    progress_bar,
    report_problems,
    terminal_width,
    whole_number,
    write_collector,
)
from exchange_tls.views.summaries import SHOWN_TOP
from exchange_tls.views.text import explanation_text

if TYPE_CHECKING:
    from exchange_tls.views.summaries import Filters

__all__ = ["build_parser", "collector_script", "iso_time", "main"]

# Exit statuses (documented in --help and the CLI page): a crash must never look like a
# diagnosis, so an internal error has a status of its own.
EXIT_HEALTHY, EXIT_FINDINGS, EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_STATUSES = """\
exit status:
  0  healthy: positive evidence that outbound TLS works, and nothing failing
  1  problems: at least one finding of severity error or warning
  2  usage or input error (a path that does not exist, bad options)
  3  inconclusive: too little evidence to say; the report says what to collect
  4  internal error (a bug: please report it; --debug shows the traceback)
"""
_VERDICT_STATUS = {
    Verdict.HEALTHY: EXIT_HEALTHY,
    Verdict.PROBLEMS: EXIT_FINDINGS,
    Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE,
}
#: The path that means standard input.
STDIN = "-"


def _colour(stream: TextIO, no_color: bool) -> bool:
    return not no_color and stream.isatty() and not os.environ.get("NO_COLOR")


def _bundled_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("exchange_tls").joinpath("bundled").joinpath(EXAMPLE)))


@contextlib.contextmanager
def _paths_with_stdin(paths: Sequence[str]) -> Iterator[list[str]]:
    """Yield the paths, ``-`` replaced by a file holding what standard input carried."""
    if STDIN not in paths:
        yield list(paths)
        return
    with tempfile.TemporaryDirectory(prefix="exchange-tls-") as folder:
        stdin = Path(folder) / "stdin"
        stdin.write_bytes(sys.stdin.buffer.read())
        if list(paths) != [STDIN]:
            yield [str(stdin) if path == STDIN else path for path in paths]
            return
        # Alone, standard input is read from inside the temporary folder, so that the
        # evidence cites "stdin:27" rather than a temporary path.
        here = os.getcwd()
        os.chdir(folder)
        try:
            yield [stdin.name]
        finally:
            os.chdir(here)


#: The options that pick sessions (``--since`` …), as :class:`~exchange_tls.views.Filters`.
_FILTER_OPTIONS = ("since", "until", "connector", "remote", "server")


def _filters(arguments: argparse.Namespace) -> Filters | None:
    """Return the filters the options set, or ``None`` when none is set."""
    values = {name: getattr(arguments, name, None) for name in _FILTER_OPTIONS}
    if all(value is None for value in values.values()):
        return None
    from exchange_tls.views.summaries import Filters

    return Filters(**values)


def _load(arguments: argparse.Namespace) -> Evidence:
    filters = _filters(arguments)
    # Tables list every session, and filters pick sessions: both need them whole. A
    # diagnosis alone reads summaries, in memory that does not grow with the logs.
    keep = filters is not None or arguments.command in ("sessions", "summary")
    with _paths_with_stdin(arguments.paths) as paths:
        evidence = load_evidence(
            *paths,
            date_order=arguments.date_order,
            progress=progress_bar(sys.stderr, quiet=getattr(arguments, "quiet", False)),
            jobs=getattr(arguments, "jobs", None),
            keep_sessions=keep,
            engine=getattr(arguments, "engine", "auto"),
        )
    if filters is None:
        return evidence
    from exchange_tls.views.summaries import filter_evidence

    return filter_evidence(evidence, filters)


@contextlib.contextmanager
def _output(arguments: argparse.Namespace) -> Iterator[TextIO]:
    """Yield where to write: the ``--output`` file (written whole or not at all), else stdout."""
    target = getattr(arguments, "output", None)
    if target is None or str(target) == STDIN:
        yield sys.stdout
        return
    with written_whole(target) as stream:
        yield stream


# -- diagnose ------------------------------------------------------------------------------


def _report_problems(problems: Sequence[Problem]) -> None:
    report_problems(problems, sys.stderr)


def _diagnose(arguments: argparse.Namespace) -> int:
    if not arguments.paths:
        arguments.paths = [str(_bundled_path())]
        arguments.date_order = arguments.date_order or "MDY"
        if arguments.format == "text":
            where = arguments.paths[0]
            print(f"No path given: diagnosing the bundled KB 4051498 example ({where}).\n")
    evidence = _load(arguments)
    diagnosis = diagnose(evidence, now=arguments.now, thresholds=thresholds_from(arguments))
    with _output(arguments) as stream:
        # The views' registry of formats (exchange_tls.views.formats) renders each one.
        document = format_named(arguments.format)
        colour = document.name == "text" and _colour(stream, arguments.no_color)
        # The text is wrapped to the terminal's width (else 100 columns, or --width).
        extra = (
            {"width": terminal_width(stream, arguments.width)} if document.name == "text" else {}
        )
        stream.write(document.render(diagnosis, evidence, colour=colour, **extra))
    _report_problems(evidence.problems)
    return _VERDICT_STATUS[diagnosis.verdict]


# -- summary and tables ----------------------------------------------------------------------


def _summary(arguments: argparse.Namespace) -> int:
    from exchange_tls.views.summaries import summary
    from exchange_tls.views.tls_reports import tls_report_summary

    evidence = _load(arguments)
    counted = summary(evidence)
    reported = tls_report_summary(evidence.tls_reports) if evidence.tls_reports else None
    with _output(arguments) as stream:
        if arguments.format == "json":
            document = counted.to_dict(arguments.top)
            if reported is not None:
                document["tls_reports"] = reported.to_dict()
            text = json.dumps(document, indent=2, ensure_ascii=False)
            stream.write(for_json(text) + "\n")
        else:
            top = SHOWN_TOP if arguments.top is None else arguments.top
            stream.write(for_terminal(counted.text(top=top), newlines=True) + "\n")
            if reported is not None:
                stream.write("\n" + for_terminal(str(reported), newlines=True) + "\n")
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _write_table(arguments: argparse.Namespace, kind: str, items: Sequence[object]) -> None:
    from exchange_tls.views.records import records
    from exchange_tls.views.tables import CLI_COLUMNS, pick, table

    rows = pick(records(items), CLI_COLUMNS[kind])
    with _output(arguments) as stream:
        stream.write(table(rows, arguments.format) + "\n")


def _sessions(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    sessions = [
        session
        for session in sorted(evidence.sessions, key=lambda s: (s.start, s.session_id))
        if not arguments.failed or (session.tls is not None and session.tls.succeeded is False)
    ]
    _write_table(arguments, "sessions", sessions)
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _certificates(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    _write_table(arguments, "certificates", evidence.certificates)
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _connectors(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    _write_table(arguments, "send-connectors", evidence.send_connectors)
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _queues(arguments: argparse.Namespace) -> int:
    evidence = _load(arguments)
    _write_table(arguments, "queues", evidence.queues)
    _report_problems(evidence.problems)
    return EXIT_HEALTHY


def _explain(arguments: argparse.Namespace) -> int:
    text = " ".join(arguments.text) if arguments.text not in ([], [STDIN]) else sys.stdin.read()
    explanation = explain_error(text)
    if arguments.format == "json":
        document = json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False)
        with _output(arguments) as stream:
            stream.write(for_json(document) + "\n")
        return EXIT_HEALTHY
    with _output(arguments) as stream:
        stream.write(explanation_text(explanation) + "\n")
    return EXIT_HEALTHY


def _collector(arguments: argparse.Namespace) -> int:
    target = arguments.output
    if target is None or str(target) == STDIN:
        sys.stdout.write(collector_script())
    else:
        print(write_collector(target), file=sys.stderr)
    return EXIT_HEALTHY


def _rules(arguments: argparse.Namespace) -> int:
    from exchange_tls.views.tables import table

    rows = [
        {
            "rule": rule.rule_id,
            "severity": rule.severity.value,
            "mode": rule.failure_mode,
            "title": rule.title,
        }
        for rule in CATALOGUE
    ]
    with _output(arguments) as stream:
        stream.write(table(rows, arguments.format) + "\n")
    return EXIT_HEALTHY


# -- parser ----------------------------------------------------------------------------------


#: The help of each format: the diagnosis formats' from the views' registry, then tables'.
_FORMAT_HELP = {
    **{entry.name: entry.description for entry in formats()},
    "csv": "csv for a spreadsheet",
}


class _DeprecatedFormat(argparse.Action):
    """``--json`` and ``--csv``: the old spellings of ``--format json`` and ``--format csv``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, self.const)


def _format_option(command: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    group = command.add_mutually_exclusive_group()
    group.add_argument(
        "--format",
        "-f",
        choices=choices,
        default="text",
        help="; ".join(_FORMAT_HELP[choice] for choice in choices),
    )
    for alias in ("json", "csv"):
        if alias in choices:
            group.add_argument(
                f"--{alias}",
                dest="format",
                nargs=0,
                action=_DeprecatedFormat,
                const=alias,
                help=f"the same as --format {alias} (kept for old scripts)",
            )
    command.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE instead of standard output",
    )


def _evidence_options(command: argparse.ArgumentParser, *, optional: bool = False) -> None:
    command.add_argument(
        "paths",
        nargs="*" if optional else "+",
        metavar="PATH",
        help="files, folders or .zip archives of evidence; - reads standard input"
        + (" (none: the bundled KB 4051498 example)" if optional else ""),
    )
    command.add_argument(
        "--jobs",
        "-j",
        type=whole_number,
        default=None,
        metavar="N",
        help="summarise protocol log files in N processes (default: every core this process "
        "may use, for logs of 32 MiB or more; 1 reads them in this process; the diagnosis is "
        "the same whatever N)",
    )
    command.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="how protocol log files are read: columnar (the columnar extra, pyarrow) for "
        "each file it can read exactly, careful (the streaming reader) always, or auto: "
        "columnar when installed, for logs of 16 MiB or more and files of 256 KiB or more "
        "(default; the diagnosis is the same)",
    )
    command.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (it shows only on a terminal, for more than 4 MB of evidence)",
    )
    command.add_argument(
        "--date-order",
        type=date_order,
        metavar="{MDY,DMY,YMD}",
        help="how to read dates written with numbers only in the evidence you give "
        "(Get-ExchangeCertificate and Get-Queue text, 03/04/2024): month-day-year, "
        "day-month-year or year-month-day, as the exporting server's culture writes them; "
        "without it, an ambiguous date is left unknown and reported",
    )


def _filter_options(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group(
        "filters",
        "narrow the evidence; sessions are filtered on every option, queues, certificates "
        "and connectors on --connector and --server only",
    )
    group.add_argument(
        "--since", type=iso_time, metavar="TIME", help="only sessions that start at TIME or later"
    )
    group.add_argument(
        "--until", type=iso_time, metavar="TIME", help="only sessions that start before TIME"
    )
    group.add_argument("--connector", metavar="NAME", help="only this connector (any case)")
    group.add_argument(
        "--remote", metavar="HOST", help="only sessions to this remote host or address[:port]"
    )
    group.add_argument(
        "--server",
        metavar="NAME",
        help="only this server's evidence (what names no server, such as a send log, is kept)",
    )


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings=option_strings,
            dest=dest,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from exchange_tls._version import __version__

        sys.stdout.write(f"exchange_tls {__version__}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``exchange-tls`` (the CLI reference is made from it)."""
    parser = argparse.ArgumentParser(
        prog="exchange-tls",
        description="Diagnose outbound SMTP TLS failures from exported Exchange evidence.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    diagnose_command = commands.add_parser(
        "diagnose",
        help="find what is wrong and how to fix it",
        description="Read the evidence, give a verdict (healthy, problems or inconclusive) "
        "with what was read, and the findings with their evidence and fixes.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _evidence_options(diagnose_command, optional=True)
    _format_option(diagnose_command, tuple(entry.name for entry in formats()))
    diagnose_command.add_argument(
        "--now", type=iso_time, metavar="TIME", help="judge validity at this time (ISO 8601)"
    )
    diagnose_command.add_argument(
        "--no-color", action="store_true", help="never colour the text report"
    )
    diagnose_command.add_argument(
        "--width",
        type=columns,
        metavar="COLUMNS",
        help="wrap the text report to COLUMNS (default: the terminal's width, else 100)",
    )
    add_threshold_options(diagnose_command)
    _filter_options(diagnose_command)
    diagnose_command.set_defaults(run=_diagnose)

    summary_command = commands.add_parser(
        "summary",
        help="count sessions and TLS failures by server, connector, remote host, error, hour",
        description="An overview of a large folder: sessions and TLS failures counted by "
        "server, connector, remote host, TLS error and hour.",
    )
    _evidence_options(summary_command)
    _format_option(summary_command, ("text", "json"))
    summary_command.add_argument(
        "--top",
        type=whole_number,
        metavar="N",
        help=f"list the N rows with the most TLS failures of each breakdown, the rest added "
        f"up in one row (hours: the latest N); default {SHOWN_TOP} in text, all in JSON",
    )
    _filter_options(summary_command)
    summary_command.set_defaults(run=_summary)

    for name, run, help_text in (
        ("sessions", _sessions, "a table of SMTP sessions and their TLS outcome"),
        ("certificates", _certificates, "a table of certificates"),
        ("connectors", _connectors, "a table of send connectors"),
        ("queues", _queues, "a table of queues"),
    ):
        command = commands.add_parser(name, help=help_text, description=help_text + ".")
        _evidence_options(command)
        _format_option(command, ("text", "csv", "json"))
        if name == "sessions":
            command.add_argument(
                "--failed", action="store_true", help="only sessions whose TLS failed"
            )
            _filter_options(command)
        command.set_defaults(run=run)
    explain_command = commands.add_parser(
        "explain",
        help="decode a queue error and list the causes that give it",
        description="Decode a queue's LastError or an SMTP reply, and list the causes "
        "that give it with the evidence that tells them apart.",
    )
    explain_command.add_argument(
        "text", nargs="*", help="the LastError or SMTP reply (none or '-': read standard input)"
    )
    _format_option(explain_command, ("text", "json"))
    explain_command.set_defaults(run=_explain)
    collector_command = commands.add_parser(
        "collector",
        help="write the read-only PowerShell script that collects the evidence",
        description="Write the collection script (Export-ExchangeTlsEvidence.ps1): run it in "
        "the Exchange Management Shell on the server; it only reads, and writes one zip "
        "to give to 'exchange-tls diagnose'.",
    )
    collector_command.add_argument(
        "--output", "-o", metavar="FILE", help="write the script to FILE (default: standard output)"
    )
    collector_command.set_defaults(run=_collector)
    rules_command = commands.add_parser(
        "rules", help="list the rule catalogue", description="List the rule catalogue."
    )
    _format_option(rules_command, ("text", "csv", "json"))
    rules_command.set_defaults(run=_rules)
    add_probe_parser(commands)
    return parser


def _run(arguments: argparse.Namespace) -> int:
    try:
        status: int = arguments.run(arguments)
    except ExchangeTlsError as error:
        if arguments.debug:
            raise
        message = for_terminal(str(error).splitlines()[0])
        print(f"exchange-tls: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        if arguments.debug:
            raise
        print(f"exchange-tls: error: {for_terminal(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (see ``EXIT_STATUSES``)."""
    parser = build_parser()
    arguments = parser.parse_args(list(sys.argv[1:] if argv is None else argv) or ["diagnose"])
    if arguments.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        status = _run(arguments)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes standard output at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_HEALTHY
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # A crash must not exit 1, which means "problems", nor print a traceback at a user.
        if arguments.debug:
            raise
        print(
            f"exchange-tls: internal error: {type(error).__name__}: "
            f"{for_terminal(str(error))[:500]}\n"
            "This is a bug; please report it. --debug shows the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return status


if __name__ == "__main__":
    sys.exit(main())
