"""Verdicts, coverage, catch-alls and one finding per cause (issue: verdicts a user can trust)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import Evidence, Services, diagnose, load_evidence
from exchange_tls.cli import main
from exchange_tls.diagnosis import CATALOGUE
from exchange_tls.diagnosis.coverage import KINDS
from exchange_tls.diagnosis.model import Verdict, schema
from exchange_tls.diagnosis.rules.unexplained import CATCH_ALL
from exchange_tls.diagnosis.schannel import SCHANNEL_ERRORS, schannel_error
from exchange_tls.diagnosis.weighing import BACKGROUND, WIDESPREAD
from exchange_tls.protocol_log.summary import telling_row
from exchange_tls.queues.models import QueueRecord
from tests.builders import (
    UTC,
    certificate,
    log_text,
    queues,
    send_connector,
    session_rows,
    sessions_of,
)

NOW = dt.datetime(2024, 6, 2, tzinfo=UTC)
THUMBPRINTS = ("A" * 40, "B" * 40)


def retry_queue(
    last_error: str | None, identity: str = "EX01\\7", status: str = "Retry"
) -> list[QueueRecord]:
    """Return one queue with this status and LastError, as read from get-queue.txt."""
    text = f"Identity : {identity}\nStatus : {status}\nNextHopDomain : fabrikam.example\n"
    if last_error is not None:
        text += f"LastError : {last_error}\n"
    return queues(text, source="get-queue.txt")


def cited_sources(diagnosis) -> set:  # type: ignore[no-untyped-def]
    """Return every place any finding of the diagnosis cites."""
    return {ref.source for finding in diagnosis.findings for ref in finding.evidence}


# -- verdicts ---------------------------------------------------------------------------------


def test_empty_evidence_is_inconclusive_and_says_what_to_collect() -> None:
    """Nothing read gives 'inconclusive', never 'healthy', and points to the collector."""
    diagnosis = diagnose(Evidence())
    assert diagnosis.verdict is Verdict.INCONCLUSIVE
    assert not diagnosis.healthy
    assert any("Export-ExchangeTlsEvidence.ps1" in advice for advice in diagnosis.advice)
    assert any("exchange-tls explain" in advice for advice in diagnosis.advice)


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"README.md": "# Evidence for ticket 42\n"},
        {"notes.txt": "The queue is stuck again.\n"},
        {"broken.zip": "PK\x03\x04 this is not really a zip"},
    ],
    ids=["empty-folder", "only-a-readme", "only-prose", "corrupt-zip"],
)
def test_folders_without_evidence_are_inconclusive_with_exit_3(
    tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty folder, a README, prose or a corrupt zip: inconclusive, exit 3, JSON says so."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["diagnose", str(tmp_path), "--format", "json"]) == 3
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, schema())
    assert (document["verdict"], document["healthy"]) == ("inconclusive", False)
    assert document["findings"] == []


def test_a_healthy_server_is_healthy_with_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Successful TLS sessions and nothing failing give 'healthy' and exit status 0."""
    (tmp_path / "SEND20240601-1.LOG").write_text(
        log_text(session_rows(1, None), session_rows(2, None)), encoding="utf-8"
    )
    assert main(["diagnose", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Verdict: healthy\n  2 sessions negotiated TLS successfully")
    assert "Read 1 file: 2 send sessions." in out


def test_connectors_and_certificates_alone_can_be_healthy() -> None:
    """Configuration the rules could check end to end, with nothing failing, is positive evidence."""
    evidence = Evidence(
        certificates=[certificate(THUMBPRINTS[0], services=Services.SMTP)],
        send_connectors=[send_connector(require_tls=None)],
    )
    assert diagnose(evidence, now=NOW).verdict is Verdict.HEALTHY


def test_a_receive_log_of_successes_alone_is_inconclusive() -> None:
    """Inbound successes say nothing about the outbound path: inconclusive, asking for a send log."""
    text = log_text(session_rows(1, None, receive=True), receive=True)
    diagnosis = diagnose(Evidence(sessions=sessions_of(text, "RECV20240601-1.LOG")))
    assert diagnosis.verdict is Verdict.INCONCLUSIVE
    assert "send protocol log" in " ".join(diagnosis.advice)


def test_ready_queues_alone_are_inconclusive() -> None:
    """Queues that are fine prove nothing about TLS: inconclusive."""
    queues = retry_queue(None, status="Ready")
    assert diagnose(Evidence(queues=queues)).verdict is Verdict.INCONCLUSIVE


# -- nothing failing goes unexplained ---------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        "IllegalMessage",
        "InternalError",
        "UntrustedRoot",
        "CertExpired",
        "IncompleteMessage",
        "TargetUnknown",
        "CertUnknown",
        "AlgorithmMismatch",
        "TimedOut",
        "SomethingNobodyDocumented",
    ],
)
def test_each_schannel_error_alone_in_a_send_log_is_a_problem(error: str) -> None:
    """A send session failing with any error gives 'problems' and cites its failure line."""
    text = log_text(session_rows(1, error))
    [session] = sessions_of(text)
    diagnosis = diagnose(Evidence(sessions=[session]))
    assert diagnosis.verdict is Verdict.PROBLEMS
    failure = next(row for row in session.rows if row.text.startswith("TLS negotiation failed"))
    assert failure.source in cited_sources(diagnosis)


def test_an_unexplained_failure_says_what_the_error_means_and_what_tells_causes_apart() -> None:
    """The catch-all quotes the error's meaning, marks it unsourced, and names candidate rules."""
    [session] = sessions_of(log_text(session_rows(1, "UntrustedRoot")))
    [finding] = diagnose(Evidence(sessions=[session])).findings
    assert finding.rule_id == "unexplained-tls-failure"
    assert finding.summary.startswith(
        "1 send session of send connector 'Out' failed the TLS handshake with UntrustedRoot, "
        "and no rule could tell why from this evidence. UntrustedRoot (0x80090325) usually means "
        "(the SSPI meaning; no Exchange case documents it): a certificate in the handshake chains"
    )
    assert (
        "certificate-untrusted (A certificate Exchange presents is not trusted" in finding.summary
    )
    assert finding.subject == "Out: UntrustedRoot"


def test_a_receive_side_starttls_failure_is_a_problem() -> None:
    """An inbound STARTTLS failure with UnknownCredentials is reported, citing its line."""
    text = log_text(session_rows(1, "UnknownCredentials", receive=True), receive=True)
    [session] = sessions_of(text, "RECV20240601-1.LOG")
    diagnosis = diagnose(Evidence(sessions=[session]))
    assert diagnosis.verdict is Verdict.PROBLEMS
    failure = next(row for row in session.rows if row.text.startswith("TLS negotiation failed"))
    assert failure.source in cited_sources(diagnosis)
    assert diagnosis.coverage.receive_sessions == 1


def test_inbound_failures_with_different_errors_are_all_cited() -> None:
    """Two inbound failures of one connector with different errors are both accounted for."""
    text = log_text(
        session_rows(1, "UnknownCredentials", receive=True),
        session_rows(2, "IllegalMessage", receive=True),
        receive=True,
    )
    sessions = sessions_of(text, "RECV20240601-1.LOG")
    diagnosis = diagnose(Evidence(sessions=sessions))
    cited = cited_sources(diagnosis)
    for session in sessions:
        failure = next(row for row in session.rows if row.text.startswith("TLS negotiation"))
        assert failure.source in cited
    assert sum(finding.occurrences for finding in diagnosis.findings) == 2


def test_a_lone_retry_queue_with_a_timeout_is_a_problem_with_its_candidate_causes() -> None:
    """A queue in Retry with 421 4.4.1 and nothing else: problems, decoded like 'explain'."""
    queues = retry_queue(
        '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out." '
        "Attempted failover to alternate host, but that did not succeed."
    )
    diagnosis = diagnose(Evidence(queues=queues))
    assert diagnosis.verdict is Verdict.PROBLEMS
    [finding] = diagnosis.findings
    assert finding.rule_id == "unexplained-queue-error"
    assert finding.subject == "451 4.4.0 -> 421 4.4.1"
    assert "certificate-not-enabled-for-smtp" in finding.summary
    assert "KB 4051498" in finding.summary
    assert queues[0].source in cited_sources(diagnosis)


def test_a_suspended_queue_without_an_error_is_a_problem() -> None:
    """Suspended counts as failing even without a LastError."""
    diagnosis = diagnose(Evidence(queues=retry_queue(None, status="Suspended")))
    assert [f.rule_id for f in diagnosis.findings] == ["unexplained-queue-error"]


def test_a_failure_a_rule_explains_gets_no_catch_all() -> None:
    """The KB 4051498 failure is explained by its rule; no catch-all repeats it."""
    [session] = sessions_of(log_text(session_rows(1, "UnknownCredentials")))
    rule_ids = [f.rule_id for f in diagnose(Evidence(sessions=[session])).findings]
    assert "certificate-not-enabled-for-smtp" in rule_ids
    assert not set(rule_ids) & set(CATCH_ALL)


_ERRORS = st.sampled_from([entry.name for entry in SCHANNEL_ERRORS] + ["Unheard", None])
_QUEUE_ERRORS = st.sampled_from(
    [
        None,
        '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out."',
        '451 4.4.0 Primary target IP address responded with: "421 4.2.1 Unable to connect."',
        "451 5.7.3 STARTTLS is required to send mail",
        "451 4.4.0 DNS query failed",
        "454 4.7.5 The certificate specified in TlsCertificateName of the SendConnector could "
        "not be found.",
        "[{LRT=};{LED=somethingodd};{FQDN=};{IP=}]",
    ]
)
_STATUS = st.sampled_from(["Ready", "Active", "Retry", "Suspended"])


@given(
    send=st.lists(st.tuples(_ERRORS, st.sampled_from(THUMBPRINTS)), max_size=6),
    receive=st.lists(_ERRORS, max_size=3),
    queues=st.lists(st.tuples(_STATUS, _QUEUE_ERRORS), max_size=3),
)
def test_failures_are_never_healthy_and_always_cited(
    send: list[tuple[str | None, str]],
    receive: list[str | None],
    queues: list[tuple[str, str | None]],
) -> None:
    """With any failing session or queue the verdict is not healthy, and each one is cited."""
    sessions = sessions_of(
        log_text(*(session_rows(n, e, thumbprint=t) for n, (e, t) in enumerate(send)))
    )
    sessions += sessions_of(
        log_text(*(session_rows(n, e, receive=True) for n, e in enumerate(receive)), receive=True),
        "RECV20240601-1.LOG",
    )
    queue_records = [
        queue
        for number, (status, error) in enumerate(queues)
        for queue in retry_queue(error, identity=f"EX01\\{number}", status=status)
    ]
    diagnosis = diagnose(Evidence(sessions=sessions, queues=queue_records), now=NOW)
    cited = cited_sources(diagnosis)
    failing = [s for s in sessions if s.tls is not None and s.tls.succeeded is False]
    failing_queues = [q for q in queue_records if q.is_failing]
    if failing or failing_queues:
        assert diagnosis.verdict is Verdict.PROBLEMS
    for session in failing:
        assert any(row.source in cited for row in session.rows), session.session_id
    for queue in failing_queues:
        assert queue.source in cited, queue.identity
    jsonschema.validate(diagnosis.to_dict(), schema())


# -- one finding per cause --------------------------------------------------------------------


def test_many_failures_of_one_cause_are_one_finding_with_a_count_and_times() -> None:
    """Fifty failing sessions of one connector and certificate give one finding, counted."""
    [*sessions] = sessions_of(log_text(*(session_rows(n, "UnknownCredentials") for n in range(50))))
    [finding] = diagnose(Evidence(sessions=sessions)).findings
    assert finding.occurrences == 50
    assert (finding.first_seen, finding.last_seen) == (sessions[0].start, sessions[-1].end)
    # Cited: the first, the three earliest after it and the last; the other 45 counted.
    cited = [ref for ref in finding.evidence if "TLS negotiation failed" in ref.excerpt]
    failures = [telling_row(session) for session in sessions]
    assert {ref.source for ref in cited} == {
        row.source for row in (*failures[:4], failures[-1]) if row is not None
    }
    assert finding.evidence_omitted == 45


def test_the_text_report_caps_evidence_and_says_how_many_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text report shows five pieces of evidence per finding; the JSON counts the rest.

    The finding itself is capped (the first, the last, a few exemplars): the 25 sessions it
    does not list are counted in ``evidence_omitted``, in every format. Five sessions with
    the same excerpt are one entry naming the five lines.
    """
    (tmp_path / "SEND20240601-1.LOG").write_text(
        log_text(*(session_rows(n, "IllegalMessage") for n in range(30))), encoding="utf-8"
    )
    assert main(["diagnose", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("TLS negotiation failed with error IllegalMessage") == 1
    [places] = re.findall(r"SEND20240601-1\.LOG:([\d, ]+):", " ".join(out.split()))
    assert len(places.split(",")) == 5
    assert "     … and 25 more (counted, not listed)\n" in out
    assert (
        "Accounts for 30 failing sessions and queues, 2024-06-01 00:00 UTC to 2024-06-01 00:29 UTC"
        in " ".join(out.split())
    )
    assert main(["diagnose", str(tmp_path), "--format", "json"]) == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert (len(finding["evidence"]), finding["evidence_omitted"]) == (5, 25)


# -- warnings travel with the result ----------------------------------------------------------


def test_json_carries_coverage_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format json lists what was read, what was left out and why, and the problems."""
    (tmp_path / "SEND20240601-1.LOG").write_text(log_text(session_rows(1, None)), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("nothing to see\n", encoding="utf-8")
    main(["diagnose", str(tmp_path), "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, schema())
    coverage = document["coverage"]
    assert coverage["files_by_kind"] == {"protocol-log": 1, "unknown": 1}
    assert coverage["send_sessions"] == 1
    [left_out] = coverage["left_out"]
    assert left_out["source"].endswith("notes.txt")
    assert left_out["code"] == "unclassified"
    assert [problem["code"] for problem in document["problems"]] == ["unclassified"]


def test_table_subcommands_print_problems_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'sessions' writes its table to stdout and what it could not read to stderr."""
    (tmp_path / "SEND20240601-1.LOG").write_text(log_text(session_rows(1, None)), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("nothing to see\n", encoding="utf-8")
    assert main(["sessions", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 1
    assert "notes.txt: warning: could not tell what this file holds" in captured.err


def test_rules_that_could_not_run_are_listed_with_what_to_collect() -> None:
    """Coverage names the rules that lacked evidence and the evidence kinds to collect."""
    [session] = sessions_of(log_text(session_rows(1, None)))
    gaps = {
        gap.rule_id: gap.missing
        for gap in diagnose(Evidence(sessions=[session])).coverage.rules_not_run
    }
    assert gaps["certificate-expired"] == ("certificates",)
    assert gaps["self-signed-certificate-external"] == ("certificates", "send-connectors")
    assert "certificate-not-enabled-for-smtp" not in gaps


def test_every_rule_but_the_catch_alls_declares_its_inputs() -> None:
    """Every rule but the catch-alls declares the evidence kinds it reads, all known kinds.

    The background and widespread findings are made by the engine from other findings:
    they read none.
    """
    assert {rule.rule_id for rule in CATALOGUE if rule.inputs} == (
        {rule.rule_id for rule in CATALOGUE} - set(CATCH_ALL) - {BACKGROUND, WIDESPREAD}
    )
    known = set(KINDS)
    assert all(group <= known for rule in CATALOGUE for group in rule.inputs)


def test_the_schannel_table_names_only_rules_of_the_catalogue() -> None:
    """Every rule the error table points to exists; lookups ignore case."""
    ids = {rule.rule_id for rule in CATALOGUE}
    for entry in SCHANNEL_ERRORS:
        assert set(entry.rule_ids) <= ids, entry.name
    assert schannel_error("illegalmessage") is not None


def test_a_crash_exits_4_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unexpected exception is an internal error (4), never 1 ('problems')."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("exchange_tls.cli.diagnose", explode)
    assert main(["diagnose"]) == 4
    err = capsys.readouterr().err
    assert "exchange-tls: internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_a_zip_of_evidence_counts_its_members_as_files(tmp_path: Path) -> None:
    """Coverage counts the files inside a zip."""
    archive = tmp_path / "evidence.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("SEND20240601-1.LOG", log_text(session_rows(1, None)))
        bundle.writestr("README.md", "# notes\n")
    diagnosis = diagnose(load_evidence(archive))
    assert diagnosis.coverage.files == 2
    assert dict(diagnosis.coverage.files_by_kind) == {"protocol-log": 1, "skipped": 1}
    assert diagnosis.verdict is Verdict.HEALTHY


def test_a_generated_day_of_logs_is_one_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark generator's logs give one finding per (rule, subject) and a short report."""
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / "generate_logs.py"
    spec = importlib.util.spec_from_file_location("generate_logs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # A dataclass looks its module up in sys.modules while the module runs.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    module.generate(tmp_path, files=2, megabytes=1)
    evidence = load_evidence(tmp_path)
    diagnosis = diagnose(evidence)
    keys = [(finding.rule_id, finding.subject) for finding in diagnosis.findings]
    assert len(keys) == len(set(keys))
    failing = diagnosis.coverage.tls_failed
    assert failing > 20
    assert sum(finding.occurrences for finding in diagnosis.findings) == failing
    main(["diagnose", str(tmp_path)])
    assert len(capsys.readouterr().out.splitlines()) <= 200


def test_sentences_count_in_words_not_with_a_parenthesised_plural() -> None:
    """No finding or note says "session(s)": one session, two sessions."""
    import re

    from exchange_tls.diagnosis import cite

    assert cite.plural(1, "send session") == "1 send session"
    assert cite.plural(2, "send session") == "2 send sessions"
    import io
    import tokenize

    texts = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    sources = Path(cite.__file__).parent.parent
    written = [
        (path.name, token.start[0])
        for path in sources.rglob("*.py")
        for token in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
        if token.type in texts and re.search(r"[a-z]\(s\)", token.string)
    ]
    assert written == []
