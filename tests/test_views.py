"""The views layer: records, golden text report and tables, summaries and filters, the CLI."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exchange_tls import Evidence, ReadResult, diagnose, load_evidence, parse_send_connectors
from exchange_tls.cli import main
from exchange_tls.diagnosis.model import Confidence, Diagnosis, Finding, Verdict
from exchange_tls.diagnosis.weight import FaultSide, Impact, Share, Subjects
from exchange_tls.errors import Severity
from exchange_tls.remediation import EnableExchangeCertificate, RestartComputer, RetryQueue
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.terminal import collector_script
from exchange_tls.views import (
    CLI_COLUMNS,
    Filters,
    filter_evidence,
    markdown_report,
    outcomes,
    pick,
    record,
    record_html,
    records,
    report,
    summary,
    text_report,
    text_table,
    to_dataframe,
)
from exchange_tls.views.page import plan_script
from exchange_tls.views.text import wrap_command
from tests.builders import load_generator

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
    assert str(finding).startswith("1. ERROR: The certificate the connector presents")
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


# -- the answer first, text that fits, copy-safe fixes -----------------------------------------

T = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"


def _weighed_finding(**changes: object) -> Finding:
    """Return a finding with every weight field set, as the cause rules fill them."""
    fields: dict[str, object] = {
        "rule_id": "certificate-not-enabled-for-smtp",
        "severity": Severity.ERROR,
        "title": "The certificate the connector presents is not enabled for SMTP",
        "summary": "Send connector 'Outbound' presents a certificate not enabled for SMTP.",
        "evidence": (),
        "confidence": Confidence.HIGH,
        "subject": T,
        "occurrences": 3,
        "subjects": Subjects.fold(
            "send connector", {f"connector {n}": 20 - n for n in range(14)}, shown=10
        ),
        "share": Share(failing=40, total=42),
        "began": dt.datetime(2024, 6, 1, 9, 5, tzinfo=UTC),
        "impact": Impact(messages=42, queues=2, oldest=dt.datetime(2024, 6, 1, 9, tzinfo=UTC)),
        "side": FaultSide.LOCAL,
        "remediation": (
            RemediationStep(
                purpose=Purpose.FIX,
                command=EnableExchangeCertificate(thumbprint=T, services="SMTP"),
            ),
            RemediationStep(purpose=Purpose.FIX, command=RestartComputer(), note="Schannel."),
        ),
    }
    fields.update(changes)
    return Finding(**fields)  # type: ignore[arg-type]


def test_every_format_opens_with_the_verdict_then_title_impact_and_fix() -> None:
    """Text, Markdown and HTML: verdict, then title, subjects, impact, side, fix; details after."""
    diagnosis = Diagnosis(findings=(_weighed_finding(),), now=None, verdict=Verdict.PROBLEMS)
    expected = [
        "Verdict: problems",
        "The certificate the connector presents is not enabled for SMTP",
        "14 send connectors: connector 0 (20 failures)",
        "and 11 more (132 failures)",
        "42 messages waiting in 2 queues, the oldest since 2024-06-01 09:00 UTC",
        "40 of 42 sessions failed (95%)",
        "failing since 2024-06-01 09:05 UTC",
        "this Exchange server",
        "Enable-ExchangeCertificate -Thumbprint",
    ]
    page = html.unescape(re.sub(r"<[^>]+>", " ", report(diagnosis)))
    for text in (
        " ".join(text_report(diagnosis).split()),
        " ".join(markdown_report(diagnosis).replace("\\", "").split()),
        " ".join(page.split()),
    ):
        places = [text.find(part) for part in expected]
        assert -1 not in places, [p for p, at in zip(expected, places, strict=True) if at < 0]
        assert places == sorted(places)
        assert places[-1] < text.find("high confidence")


def test_text_report_of_the_kb_example_fits_and_says_the_fix_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Cause and fix command within the first 12 lines; no line longer than the width asked."""
    for width in (60, 80, 100):
        main(["diagnose", KB, "--date-order", "MDY", "--width", str(width)])
        lines = capsys.readouterr().out.splitlines()
        assert max(map(len, lines)) <= width
        head = " ".join(" ".join(lines[:12]).split()).replace(" ` ", " ")
        assert "not enabled for SMTP" in head
        assert "Enable-ExchangeCertificate" in head
        assert f"-Thumbprint '{T}'" in head


def test_text_report_is_100_columns_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --width and without a terminal, lines wrap at 100 columns."""
    main(["diagnose", KB, "--date-order", "MDY"])
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) == 100


def test_wrapped_commands_still_paste_as_one_command() -> None:
    """A command broken over lines ends each with a backtick and keeps quoted values whole."""
    command = "Get-Queue -Filter 'Status -eq ''Retry''' | Format-List 'Identity','Status'"
    lines = wrap_command(command, 44, "  ")
    assert len(lines) > 1
    assert all(line.endswith(" `") for line in lines[:-1])
    rejoined = " ".join(line.removesuffix(" `").strip() for line in lines)
    assert rejoined.replace(", ", ",") == command
    assert max(map(len, lines)) <= 44


def test_counts_say_what_they_count() -> None:
    """A finding's count of sessions and queues is not called "failures"."""
    text = text_report(
        Diagnosis(findings=(_weighed_finding(),), now=None, verdict=Verdict.PROBLEMS)
    )
    assert "Accounts for 3 failing sessions and queues" in text
    assert "Seen:" not in text


def test_a_reboot_is_a_note_never_a_line_to_paste() -> None:
    """Restart-Computer is never a bare line of a block to paste, in any format."""
    diagnosis = Diagnosis(findings=(_weighed_finding(),), now=None, verdict=Verdict.PROBLEMS)
    for text in (text_report(diagnosis), markdown_report(diagnosis)):
        assert not re.search(r"^\s*(\[fix\] )?Restart-Computer", text, re.MULTILINE), text
        assert "Restart-Computer -Confirm' on its own" in " ".join(text.replace("\\", "").split())
    page = report(diagnosis)
    for block in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.DOTALL):
        assert not re.search(r"^Restart-Computer", html.unescape(block), re.MULTILINE)
    assert "# Restart-Computer -Confirm" in plan_script(diagnosis)
    # The change that stays carries -WhatIf in the script.
    assert f"Enable-ExchangeCertificate -Thumbprint '{T}' -Services 'SMTP' -WhatIf" in (
        plan_script(diagnosis)
    )


def test_the_script_holds_each_command_once() -> None:
    """Two findings with the same step: the page's script writes the command once."""
    retry = RemediationStep(purpose=Purpose.FIX, command=RetryQueue())
    findings = tuple(_weighed_finding(title=f"finding {n}", remediation=(retry,)) for n in range(3))
    script = plan_script(Diagnosis(findings=findings, now=None, verdict=Verdict.PROBLEMS))
    assert script.count("Retry-Queue") == 1


def test_no_python_representation_in_the_views_text(examples: Evidence) -> None:
    """No tuple or repr quoting that the views write leaks into the reports or the summary.

    (The sentences rules write are theirs; the views add none of Python's own.)
    """
    diagnosis = diagnose(examples)
    written = [text_report(diagnosis), str(summary(examples))]
    for text in written:
        for finding in diagnosis.findings:
            text = text.replace(" ".join(finding.summary.split()), "")
        text = " ".join(text.split())
        for finding in diagnosis.findings:
            text = text.replace(" ".join(finding.summary.split()), "")
        assert not re.search(r" \('|',\)|\\\\|\[\('", text), text[:2000]


def test_markdown_escapes_only_what_markdown_needs() -> None:
    """Dots and dashes in a sentence stay as they are; emphasis and code marks are escaped."""
    diagnosis = Diagnosis(
        findings=(_weighed_finding(summary="SEND2017100704-1.LOG has *stars* and `ticks`."),),
        now=None,
        verdict=Verdict.PROBLEMS,
    )
    text = markdown_report(diagnosis)
    assert "SEND2017100704-1.LOG has \\*stars\\* and \\`ticks\\`." in text


def test_the_cli_names_its_flag_in_warnings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An ambiguous date asks a command-line user for --date-order, not date_order."""
    # The KB queue alone: with the KB certificates beside it, their dates decide the order.
    queue = Path(KB) / "get-queue-fl.txt"
    (tmp_path / queue.name).write_bytes(queue.read_bytes())
    main(["diagnose", str(tmp_path)])
    err = capsys.readouterr().err
    assert "give --date-order MDY, DMY or YMD" in err
    assert "pass date_order" not in err


def test_collector_writes_the_shipped_script(tmp_path: Path) -> None:
    """`exchange-tls collector -o FILE` writes the package's script, the examples' one."""
    target = tmp_path / "collect.ps1"
    assert main(["collector", "-o", str(target)]) == 0
    written = target.read_text("utf-8-sig").replace("\r\n", "\n")
    shipped = ROOT / "examples" / "collect" / "Export-ExchangeTlsEvidence.ps1"
    assert written == shipped.read_text("utf-8-sig")
    assert written == collector_script()
    advice = diagnose(Evidence()).advice[0]
    assert "exchange-tls collector -o Export-ExchangeTlsEvidence.ps1" in advice
    assert "examples/collect" not in advice


def test_weight_fields_are_records_with_ordered_categories(kb: Evidence) -> None:
    """A finding's record carries its weight; DataFrames sort severity by rank, not by name."""
    row = record(_weighed_finding())
    assert row["affects"] == "14 send connectors"
    assert row["messages_waiting"] == 42
    assert row["failing_share"] == pytest.approx(40 / 42)
    assert row["side"] == "local"
    pandas = pytest.importorskip("pandas")
    frame = to_dataframe(
        [_weighed_finding(severity=Severity.INFO), _weighed_finding(severity=Severity.ERROR)]
    )
    assert isinstance(frame["severity"].dtype, pandas.CategoricalDtype)
    assert list(frame.sort_values("severity")["severity"]) == ["error", "info"]
    certificates = to_dataframe(kb.certificates)
    assert str(certificates["has_private_key"].dtype) == "boolean"


def test_single_records_have_an_html_display(kb: Evidence) -> None:
    """A certificate, a connector and a queue each render as a table of their properties."""
    for item in (kb.certificates[0], kb.send_connectors[0], kb.queues[0]):
        shown = record_html(item)
        assert shown.startswith('<table class="record">')
        assert "<th>Property</th>" in shown


# -- progress --------------------------------------------------------------------------------


def test_progress_under_a_terminal_is_monotonic_and_ends_at_100(tmp_path: Path) -> None:
    """Under a pseudo-terminal the bar only grows, and says 100% once, at the very end."""
    pty = pytest.importorskip("pty")
    module = load_generator()
    module.generate(tmp_path / "logs", files=2, megabytes=3)
    command = [sys.executable, "-m", "exchange_tls", "diagnose", str(tmp_path / "logs")]
    out = _run_in_pty(pty, [*command, "-o", str(tmp_path / "report.txt")])
    percents = [int(found) for found in re.findall(r"\]\s+(\d+)%", out)]
    assert len(percents) >= 2, out
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert percents.count(100) == 1
    # The report was written: 100% came when summarising and gathering had ended.
    assert (tmp_path / "report.txt").read_text("utf-8").startswith("Verdict: ")
    quiet = _run_in_pty(pty, [*command, "--quiet", "-o", str(tmp_path / "quiet.txt")])
    assert "%" not in quiet


def _run_in_pty(pty: Any, command: list[str]) -> str:
    """Run a command with a pseudo-terminal as its standard error; return what it wrote."""
    controller, terminal = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=environment,
        cwd=ROOT,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_summary_top_lists_the_most_failures_and_adds_up_the_rest(
    examples: Evidence, capsys: pytest.CaptureFixture[str]
) -> None:
    """`summary --top 1`: the connector with the most failures, then the rest in one row."""
    assert main(["summary", "examples", "--date-order", "MDY", "--top", "1", "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    counted = summary(examples)
    [first, rest] = document["by_connector"]
    assert first["tls_failed"] == max(count.tls_failed for count in counted.by_connector)
    assert rest["connector"] == f"… and {len(counted.by_connector) - 1} more"
    assert first["sessions"] + rest["sessions"] == counted.sessions


def test_summary_of_summarised_evidence_counts_every_session(tmp_path: Path) -> None:
    """Summarised logs (few sessions kept whole): the summary's totals are the coverage's."""
    module = load_generator()
    module.generate(tmp_path, files=1, megabytes=1)
    evidence = load_evidence(tmp_path)
    coverage = diagnose(evidence).coverage
    assert len(evidence.sessions) < coverage.send_sessions  # summarised, not kept whole
    counted = summary(evidence)
    assert counted.sessions == coverage.send_sessions + coverage.receive_sessions
    assert counted.tls_failed == coverage.tls_failed
    assert sum(count.sessions for count in counted.by_connector) == counted.sessions
    assert sum(count.tls_failed for count in counted.by_hour) == coverage.tls_failed
    drawn = outcomes(evidence)
    assert drawn.total() == counted.sessions
    assert drawn.total("failed") == coverage.tls_failed


def test_single_records_show_as_html_in_a_notebook(kb: Evidence) -> None:
    """A certificate, a connector and a queue each show as a table of their properties."""
    for item in (kb.certificates[0], kb.send_connectors[0], kb.queues[0]):
        shown = item._repr_html_()
        assert shown.startswith('<table class="record">')
        assert "<th>Property</th>" in shown
    assert "<td>Private key</td>" in kb.certificates[0]._repr_html_()


def test_every_format_says_which_server_a_finding_is_on(kb: Evidence) -> None:
    """The text, Markdown and HTML reports name a finding's server beside what it affects."""
    import attrs

    diagnosis = diagnose(kb)
    on_server = attrs.evolve(
        diagnosis, findings=(attrs.evolve(diagnosis.findings[0], server="EX07"),)
    )
    assert "on EX07" in " ".join(text_report(on_server).split())
    assert "on EX07" in " ".join(markdown_report(on_server).split())
    assert "on EX07" in report(on_server)
