"""The views layer: records, golden text report and tables, summaries and filters, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_tls import Evidence, ReadResult, diagnose, load_evidence, parse_send_connectors
from exchange_tls.cli import main
from exchange_tls.views import (
    CLI_COLUMNS,
    Filters,
    filter_evidence,
    pick,
    record,
    records,
    summary,
    text_table,
)

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "data" / "golden"
#: Relative to ROOT, so that the golden files name the same paths on every machine.
KB = "exchange_tls/bundled/kb4051498"
UTC = dt.timezone.utc


@pytest.fixture
def kb(monkeypatch: pytest.MonkeyPatch) -> Evidence:
    """Return the KB 4051498 evidence, read from the repository's root by relative path."""
    monkeypatch.chdir(ROOT)
    return load_evidence(KB, date_order="MDY")


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> Evidence:
    """Return every example scenario's evidence at once."""
    monkeypatch.chdir(ROOT)
    return load_evidence("examples", date_order="MDY")


def golden(name: str, text: str) -> None:
    """Compare with tests/data/golden/NAME; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# -- golden outputs ------------------------------------------------------------------------------


def test_print_diagnosis_is_the_text_report(
    kb: Evidence, capsys: pytest.CaptureFixture[str]
) -> None:
    """print(diagnosis) writes the same report as 'exchange-tls diagnose', word for word."""
    diagnosis = diagnose(kb)
    golden("kb4051498-report.txt", str(diagnosis))
    main(["diagnose", KB, "--date-order", "MDY"])
    assert capsys.readouterr().out == str(diagnosis) + "\n"


def test_markdown_report_is_golden(kb: Evidence, capsys: pytest.CaptureFixture[str]) -> None:
    """The Markdown report of the KB 4051498 example does not change unnoticed."""
    main(["diagnose", KB, "--date-order", "MDY", "--format", "markdown"])
    golden("kb4051498-report.md", capsys.readouterr().out)


@pytest.mark.parametrize("command", ["sessions", "certificates", "connectors", "queues"])
def test_tables_are_golden(
    command: str, examples: Evidence, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each table of the example scenarios, as text, does not change unnoticed."""
    assert main([command, "examples", "--date-order", "MDY"]) == 0
    golden(f"examples-{command}.txt", capsys.readouterr().out)


def test_summary_is_golden(examples: Evidence, capsys: pytest.CaptureFixture[str]) -> None:
    """'exchange-tls summary' of the example scenarios does not change unnoticed."""
    assert main(["summary", "examples", "--date-order", "MDY"]) == 0
    golden("examples-summary.txt", capsys.readouterr().out)


# -- records ----------------------------------------------------------------------------------


def test_every_kind_of_model_has_a_record_and_html(kb: Evidence) -> None:
    """Rows, sessions, certificates, connectors, queues, findings and problems flatten and render."""
    diagnosis = diagnose(kb)
    items: list[object] = [
        kb.sessions[0].rows[0],
        kb.sessions[0],
        kb.certificates[0],
        kb.send_connectors[0],
        kb.queues[0],
        diagnosis.findings[0],
    ]
    for item in items:
        assert record(item), type(item).__name__
    connectors = parse_send_connectors("Name : Out <b>\nFqdn : mail.contoso.com\n")
    assert "<td>Out &lt;b&gt;</td>" in connectors._repr_html_()
    assert "Out <b>" in str(connectors)
    with pytest.raises(TypeError, match="cannot flatten int"):
        record(3)


def test_long_lists_render_their_first_rows_in_a_notebook(kb: Evidence) -> None:
    """A list of 1002 rows shows 1000 in HTML and says how many more there are."""
    rows = list(kb.sessions[0].rows) * 44
    page = ReadResult(items=rows[:1002])._repr_html_()
    assert page.count("<tr>") == 1001  # the header and 1000 rows
    assert "… and 2 more (to_dataframe() has them all)" in page


def test_cli_tables_use_the_record_columns(
    examples: Evidence, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sessions table's JSON is the sessions' records, picked, times in ISO 8601."""
    main(["sessions", "examples", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    in_time_order = sorted(examples.sessions, key=lambda s: (s.start, s.session_id))
    expected = pick(records(in_time_order), CLI_COLUMNS["sessions"])
    assert [row["session"] for row in rows] == [row["session"] for row in expected]
    assert rows[0]["start"] == expected[0]["start"].isoformat()  # type: ignore[attr-defined]
    assert list(rows[0]) == list(CLI_COLUMNS["sessions"])


def test_str_of_models_is_readable(kb: Evidence) -> None:
    """A finding, a session and a result list print as text, not as an attrs repr."""
    finding = diagnose(kb).findings[0]
    assert str(finding).startswith("ERROR certificate-not-enabled-for-smtp: ")
    assert "tls_error=UnknownCredentials" in str(kb.sessions[0])
    assert "Finding(" not in str(diagnose(kb))


def test_text_table_escapes_control_characters() -> None:
    """A value with a terminal escape shows it as text."""
    assert "\\x1b[2J" in text_table([{"name": "a\x1b[2J"}])


# -- summaries and filters ---------------------------------------------------------------------


def test_summary_counts_by_connector_error_and_hour(examples: Evidence) -> None:
    """Every session is counted once per breakdown, and failures are the failed TLS sessions."""
    counted = summary(examples)
    failed = [s for s in examples.sessions if s.tls is not None and s.tls.succeeded is False]
    assert counted.sessions == len(examples.sessions)
    assert counted.tls_failed == len(failed)
    for breakdown in (counted.by_connector, counted.by_remote, counted.by_error, counted.by_hour):
        assert sum(count.sessions for count in breakdown) == counted.sessions
        assert sum(count.tls_failed for count in breakdown) == counted.tls_failed
    errors = {count.key: count.tls_failed for count in counted.by_error}
    assert errors["UnknownCredentials"] >= 1
    assert [count.key for count in counted.by_hour] == sorted(c.key for c in counted.by_hour)


def test_filters_keep_only_matching_sessions(examples: Evidence) -> None:
    """--since/--until, --connector and --remote keep exactly the sessions that match."""
    starts = sorted(session.start for session in examples.sessions)
    middle = starts[len(starts) // 2]
    later = filter_evidence(examples, Filters(since=middle))
    earlier = filter_evidence(examples, Filters(until=middle))
    assert len(later.sessions) + len(earlier.sessions) == len(examples.sessions)
    assert all(session.start >= middle for session in later.sessions)
    one = filter_evidence(examples, Filters(connector="OUTBOUND TO OFFICE 365"))
    assert {s.connector_id for s in one.sessions} == {"Outbound to Office 365"}
    assert {c.name for c in one.send_connectors} <= {"Outbound to Office 365"}
    host = examples.sessions[0].remote_endpoint
    assert host is not None
    remote = filter_evidence(examples, Filters(remote=host.host))
    assert remote.sessions
    assert {s.remote_endpoint.host for s in remote.sessions if s.remote_endpoint} == {host.host}
    assert filter_evidence(examples, Filters()) is examples


def test_server_filter_keeps_what_names_no_server(kb: Evidence) -> None:
    """--server keeps that server's queues and drops another's; a send log names none, so stays."""
    assert filter_evidence(kb, Filters(server="ex01")).queues == kb.queues
    other = filter_evidence(kb, Filters(server="EX02"))
    assert other.queues == ()
    assert other.sessions == kb.sessions


def test_filters_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """diagnose, sessions and summary take the same filters."""
    monkeypatch.chdir(ROOT)
    assert main(["sessions", "examples", "--connector", "nope", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    main(["summary", "examples", "--since", "2030-01-01", "--format", "json"])
    assert json.loads(capsys.readouterr().out)["sessions"] == 0
    status = main(["diagnose", KB, "--date-order", "MDY", "--until", "2017-10-07T04:00Z"])
    assert status in (1, 3)  # the configuration still shows the problem, with no session
    assert "Read 4 files: 3 certificates, 1 send connector, 1 queue;" in capsys.readouterr().out


# -- the command line's fixes ---------------------------------------------------------------------


def test_now_yesterday_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--now yesterday says what a valid time looks like, not 'invalid _now value'."""
    with pytest.raises(SystemExit) as caught:
        main(["diagnose", "--now", "yesterday"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "'yesterday' is not a time in ISO 8601" in err
    assert "_now" not in err


def test_json_and_csv_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--json --csv is a usage error, and so is --format with --json."""
    for options in (["--json", "--csv"], ["--format", "csv", "--json"]):
        with pytest.raises(SystemExit) as caught:
            main(["sessions", KB, *options])
        assert caught.value.code == 2
        assert "not allowed with argument" in capsys.readouterr().err


def test_format_is_accepted_everywhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every subcommand takes --format json; --json stays as the old spelling."""
    monkeypatch.chdir(ROOT)
    for command in (["rules"], ["explain", "451 4.4.0 timed out"], ["queues", KB], ["summary", KB]):
        assert main([*command, "--format", "json"]) == 0
        new = json.loads(capsys.readouterr().out)
        assert main([*command, "--json"] if command[0] != "summary" else command) == 0
        if command[0] != "summary":
            assert json.loads(capsys.readouterr().out) == new
        else:
            capsys.readouterr()


def test_dash_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """'-' as a path reads the evidence from standard input."""
    log = (ROOT / KB / "SEND2017100704-1.LOG").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(log)))
    assert main(["sessions", "-", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["tls_error"] == "UnknownCredentials"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(log)))
    assert main(["diagnose", "-"]) == 1
    assert "    stdin:27: connector 'Outbound to Office 365' failed" in capsys.readouterr().out


def test_date_order_help_is_about_reading(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--date-order's help says it reads dates in the evidence; lower case is accepted."""
    with pytest.raises(SystemExit):
        main(["sessions", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "how to read dates written with numbers only in the evidence" in help_text
    assert "output" not in help_text.split("--date-order")[1].split("--")[0]
    monkeypatch.chdir(ROOT)
    assert main(["certificates", KB, "--date-order", "mdy", "--format", "json"]) == 0


def test_html_report_written_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Diagnose --format html -o FILE writes the page there and nothing to standard output."""
    target = tmp_path / "report.html"
    assert main(["diagnose", "--format", "html", "-o", str(target)]) == 1
    assert capsys.readouterr().out == ""
    assert "certificate-not-enabled-for-smtp" in target.read_text("utf-8")


def test_many_problems_say_how_many_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Standard error lists 20 problems and says how many more there are."""
    for number in range(25):
        (tmp_path / f"notes{number:02d}.txt").write_text("nothing to see\n", encoding="utf-8")
    main(["sessions", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.startswith("25 things in the evidence could not be read with certainty:")
    assert "  … and 5 more (all of them in --format json or html)" in err


def test_importing_the_library_installs_the_views_and_loads_no_edge() -> None:
    """Importing exchange_tls installs the views' hooks; the command line and notebook stay out.

    The models import no view (the import contracts in pyproject.toml check it): they ask
    exchange_tls.display, where the views register when the package root imports them.
    """
    code = (
        "import sys, exchange_tls; "
        "assert not [m for m in sys.modules if m.startswith(('exchange_tls.notebook', "
        "'exchange_tls.cli'))], sorted(sys.modules); "
        "from exchange_tls import display; "
        "assert [f.name for f in display.formats()] == "
        "['text', 'json', 'markdown', 'html', 'ps1']; "
        "assert str(exchange_tls.Diagnosis(findings=(), now=None)).startswith('Verdict')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 -- our own interpreter
