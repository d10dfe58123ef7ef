import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from exchange_tls import load_evidence
from exchange_tls.cli import main
from exchange_tls.diagnosis import CATALOGUE
from exchange_tls.diagnosis.model import schema
from exchange_tls.loading import classify

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted(path for path in (ROOT / "examples").iterdir() if (path / "EXPECTED.md").exists())
BUNDLED = ROOT / "exchange_tls" / "bundled" / "kb4051498"
T = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
DATA = ROOT / "tests" / "data"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    """Run the command line in-process; return status, stdout and stderr."""
    status = main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_diagnose_without_a_path_runs_the_bundled_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`exchange-tls diagnose` says it uses the bundled example and prints the KB fix."""
    status, out, _ = run(capsys, "diagnose")
    assert status == 1
    assert out.startswith("No path given: diagnosing the bundled KB 4051498 example")
    assert "ERROR: The certificate the connector presents is not enabled for SMTP" in out
    assert "certificate-not-enabled-for-smtp (high confidence)" in out
    assert f"Enable-ExchangeCertificate -Thumbprint '{T}' `\n       -Services 'SMTP'" in out
    assert "\033[" not in out  # not a terminal: no colour


def test_no_arguments_at_all_is_diagnose(capsys: pytest.CaptureFixture[str]) -> None:
    """With no command, the command line diagnoses the bundled example."""
    status, out, _ = run(capsys)
    assert status == 1
    assert "certificate-not-enabled-for-smtp" in out


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_each_example_names_its_rule(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every example scenario gives exactly its expected rule; the healthy one exits 0."""
    expected = (example / "EXPECTED.md").read_text().strip()
    status, out, _ = run(capsys, "diagnose", str(example), "--format", "json")
    document = json.loads(out)
    jsonschema.validate(document, schema())
    rule_ids = [finding["rule_id"] for finding in document["findings"]]
    if expected == "healthy":
        assert (status, rule_ids) == (0, [])
    else:
        assert (status, rule_ids) == (1, [expected])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_no_file_of_an_example_is_left_out(example: Path) -> None:
    """An example is evidence and its own notes: nothing in it is an unknown file.

    Its notes are Markdown (README.md, EXPECTED.md), skipped as documentation; a file
    that could not be told would print a warning under every example's diagnosis.
    """
    from exchange_tls import load_evidence

    left_out = [file.name for file in load_evidence(example).files if file.kind == "unknown"]
    assert left_out == []


def test_markdown_and_ps1_formats(capsys: pytest.CaptureFixture[str]) -> None:
    """--format markdown and ps1 write the finding and the fix command."""
    _, markdown, _ = run(
        capsys, "diagnose", str(BUNDLED), "--format", "markdown", "--date-order", "MDY"
    )
    assert "## 1. ERROR: The certificate the connector presents is not enabled for SMTP" in markdown
    assert "```powershell" in markdown
    _, script, _ = run(capsys, "diagnose", str(BUNDLED), "--format", "ps1")
    assert f"Enable-ExchangeCertificate -Thumbprint '{T}' -Services 'SMTP' -WhatIf" in script


def test_now_moves_the_judgement(capsys: pytest.CaptureFixture[str]) -> None:
    """--now judges certificates at that time: the healthy example's certificate expires."""
    status, out, _ = run(
        capsys,
        "diagnose",
        str(ROOT / "examples/healthy"),
        "--now",
        "2026-01-01T00:00:00Z",
        "--format",
        "json",
    )
    assert status == 1
    assert "certificate-expired" in [finding["rule_id"] for finding in json.loads(out)["findings"]]


def test_sessions_table_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    """The sessions table shows the TLS outcome, and --failed, --json and --csv work."""
    _, table, _ = run(capsys, "sessions", str(ROOT / "examples"))
    assert "UnknownCredentials" in table
    assert "ok" in table
    _, failed, _ = run(capsys, "sessions", str(ROOT / "examples"), "--failed", "--json")
    assert {row["tls"] for row in json.loads(failed)} == {"failed"}
    _, csv_text, _ = run(capsys, "sessions", str(BUNDLED), "--csv")
    assert (
        csv_text.splitlines()[0]
        == "start,connector,session,direction,remote,tls,tls_error,protocol,certificate"
    )
    _, none, _ = run(capsys, "sessions", str(BUNDLED), "--connector", "nope")
    assert none.strip() == "(none)"


def test_certificates_queues_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """The certificates, queues and rules tables list what they should."""
    _, certificates, _ = run(capsys, "certificates", str(BUNDLED), "--date-order", "MDY")
    assert T in certificates
    assert "POP, IIS" in certificates
    _, queues, _ = run(capsys, "queues", str(BUNDLED), "--json")
    [queue] = json.loads(queues)
    assert queue["error"] == "451 4.4.0 -> 421 4.4.1"
    _, rules, _ = run(capsys, "rules", "--json")
    assert [row["rule"] for row in json.loads(rules)] == [rule.rule_id for rule in CATALOGUE]


def test_missing_path_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing path is one error line and exit status 2, no traceback."""
    status, _, err = run(capsys, "diagnose", "no/such/folder")
    assert status == 2
    assert err == "exchange-tls: error: no such file or folder: no/such/folder\n"


def test_debug_shows_the_traceback() -> None:
    """--debug lets the exception through."""
    with pytest.raises(FileNotFoundError):
        main(["--debug", "diagnose", "no/such/folder"])


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error with status 2."""
    with pytest.raises(SystemExit) as caught:
        main(["diagnose", "--format", "yaml"])
    assert caught.value.code == 2


def test_console_script_and_module_agree() -> None:
    """`python -m exchange_tls diagnose` runs the same command line."""
    result = subprocess.run(
        [sys.executable, "-m", "exchange_tls", "diagnose", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["findings"][0]["rule_id"] == "certificate-not-enabled-for-smtp"


# -- load_evidence --------------------------------------------------------------------------


def test_load_evidence_detects_kinds_in_a_zip(tmp_path: Path) -> None:
    """A zip of the bundle (names hidden) reads as the same evidence as the folder."""
    archive = tmp_path / "evidence.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        for number, path in enumerate(sorted(BUNDLED.iterdir())):
            writer.writestr(f"collected/file{number}.dat", path.read_bytes())
    from_zip = load_evidence(archive, date_order="MDY")
    from_folder = load_evidence(BUNDLED, date_order="MDY")
    assert len(from_zip.sessions) == len(from_folder.sessions) == 1
    assert [c.thumbprint for c in from_zip.certificates] == [
        c.thumbprint for c in from_folder.certificates
    ]
    assert len(from_zip.queues) == len(from_zip.send_connectors) == 1
    assert from_zip.sessions[0].rows[0].source.source.startswith(f"{archive}!/collected/")


def test_same_certificate_from_two_files_is_merged(tmp_path: Path) -> None:
    """A table and a list of the same certificate give one certificate with both's facts."""
    (tmp_path / "table.txt").write_text(
        "Thumbprint                                Services   Subject\n"
        "----------                                --------   -------\n"
        f"{T}  ...WS..    CN=mail.contoso.com\n"
    )
    (tmp_path / "list.txt").write_text(
        f"Thumbprint : {T}\nHasPrivateKey : False\nIssuer : CN=Contoso CA\n"
    )
    [certificate] = load_evidence(tmp_path).certificates
    assert (certificate.subject, certificate.has_private_key, certificate.issuer) == (
        "CN=mail.contoso.com",
        False,
        "CN=Contoso CA",
    )
    assert str(certificate.services) == "IIS, SMTP"


def test_unclassified_files_are_reported(tmp_path: Path) -> None:
    """A file that is no evidence is reported, and documentation is skipped."""
    (tmp_path / "notes.txt").write_text("these are my notes about the outage\n")
    (tmp_path / "README.md").write_text("# notes\n")
    codes = sorted(problem.code for problem in load_evidence(tmp_path).problems)
    assert codes == ["skipped", "unclassified"]


def test_a_lone_queue_error_is_named_and_pointed_to_explain(tmp_path: Path) -> None:
    """A file holding only a queue error says so and names the command that decodes it."""
    name = "ms-kb4051498_queue-lasterror_421-4.4.1-timeout.txt"
    (tmp_path / "error.txt").write_bytes((DATA / "queues" / name).read_bytes())
    [problem] = load_evidence(tmp_path).problems
    assert (problem.code, problem.message) == (
        "lone-queue-error",
        "holds a queue error without its queue (no Identity or NextHopDomain), so it was left "
        "out of the diagnosis; 'exchange-tls explain' decodes it and lists the causes that "
        "give it",
    )


def test_a_pasted_log_is_read_with_its_repairs(tmp_path: Path) -> None:
    """A log copied from a forum (header lines without "#", blank lines) is read, not left out."""
    name = "msqa-1054876_ex2016_send-log_no-tls_header-hash-stripped_blanklines.log"
    (tmp_path / "pasted.txt").write_bytes((DATA / "protocol-logs" / name).read_bytes())
    evidence = load_evidence(tmp_path)
    assert "unclassified" not in {problem.code for problem in evidence.problems}
    assert {"pasted-hash", "pasted-blank"} <= {problem.code for problem in evidence.problems}
    assert len(evidence.sessions) == 1
    assert evidence.sessions[0].connector_id == "My.Mail.Server.com"


def test_progress_is_reported(tmp_path: Path) -> None:
    """The progress callback sees every file and the end."""
    calls: list[tuple[int, int, str]] = []
    load_evidence(BUNDLED, progress=lambda done, total, name: calls.append((done, total, name)))
    assert calls[-1][0] == calls[-1][1]
    assert {Path(name).name for _, _, name in calls if name} >= {
        "SEND2017100704-1.LOG",
        "get-queue-fl.txt",
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("SEND2017100704-1.LOG", "protocol-log"),
        ("get-exchangecertificate-fl.txt", "certificates"),
        ("get-queue-fl.txt", "queues"),
        ("get-sendconnector-fl.txt", "send-connectors"),
    ],
)
def test_classify_by_content(name: str, kind: str) -> None:
    """Each bundled file is classified by what it holds."""
    from exchange_tls.sources import read_source

    assert classify(read_source(BUNDLED / name).text) == kind


def test_corpus_clixml_kinds() -> None:
    """CLIXML files are classified by their .NET type names."""
    from exchange_tls.sources import read_source

    corpus = ROOT / "tests/data/corpus"
    assert (
        classify(
            read_source(
                corpus
                / "other/css-exchange_healthchecker-datacollection_GetReceiveConnector_clixml.xml"
            ).text
        )
        == "receive-connectors"
    )
    assert (
        classify(
            read_source(
                corpus
                / "other/css-exchange_healthchecker-datacollection_GetSendConnector_clixml.xml"
            ).text
        )
        == "send-connectors"
    )
    assert (
        classify(
            read_source(
                corpus
                / "certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml"
            ).text
        )
        == "certificates"
    )


def test_embed_example_answers_json() -> None:
    """examples/embed.py turns a JSON request into a schema-valid diagnosis."""
    result = subprocess.run(  # noqa: S603 -- our own interpreter and example script
        [sys.executable, str(ROOT / "examples/embed.py")],
        input=json.dumps({"paths": [str(ROOT / "examples/tls-protocol-mismatch")]}),
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    assert [finding["rule_id"] for finding in document["findings"]] == ["tls-protocol-mismatch"]


def test_text_report_is_coloured_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal the verdict and severity are coloured; NO_COLOR and --no-color turn it off."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def report(*options: str) -> str:
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        main(["diagnose", str(BUNDLED), *options])
        return terminal.getvalue()

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[31;1m1. ERROR: \033[0mThe certificate" in report()
    assert "\033[" not in report("--no-color")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in report()
