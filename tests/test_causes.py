"""Findings bounded by causes, not by noise: a noisy day, background, folding, weighing."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange_tls import diagnose, load_evidence
from exchange_tls._testing.noisy_day import NoisyDay, write_day
from exchange_tls.cli import main
from exchange_tls.diagnosis.model import Diagnosis
from exchange_tls.diagnosis.weighing import BACKGROUND, Thresholds
from exchange_tls.diagnosis.weight import Subjects
from exchange_tls.errors import Severity
from exchange_tls.protocol_log import occurrences, summary


@pytest.fixture(scope="module")
def noisy_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a small noisy day: 4,000 sessions, scanners, partners, one real fault."""
    folder = tmp_path_factory.mktemp("noisy")
    write_day(folder, NoisyDay(sessions=4000, hosts=2000))
    return folder


@pytest.fixture(scope="module")
def noisy_diagnosis(noisy_day: Path) -> Diagnosis:
    """Return the diagnosis of the noisy day."""
    return diagnose(load_evidence(noisy_day))


def test_a_noisy_day_gives_few_findings_the_real_fault_first(noisy_diagnosis: Diagnosis) -> None:
    """At most ten findings; the partner connector failing every session comes first."""
    findings = noisy_diagnosis.findings
    assert len(findings) <= 10
    top = findings[0]
    assert top.severity is Severity.ERROR
    assert "To Fabrikam" in top.summary
    assert top.impact is not None
    assert top.impact.messages > 0
    assert top.began is not None
    assert top.began.hour == 14
    assert top.share is not None
    assert 0 < top.share.ratio < 1
    assert noisy_diagnosis.reasons[0].startswith("Top cause: ")
    assert "To Fabrikam" in noisy_diagnosis.reasons[0] or "Fabrikam" in top.subject


def test_scanner_noise_is_background_once_per_connector(noisy_diagnosis: Diagnosis) -> None:
    """The internet-facing connector's scanners are one info finding, never an error."""
    background = [f for f in noisy_diagnosis.findings if f.rule_id == BACKGROUND]
    assert [f.subject for f in background] == ["EX01\\Default Frontend EX01"]
    [finding] = background
    assert finding.severity is Severity.INFO
    assert finding.share is not None
    assert finding.share.ratio <= Thresholds().background_share
    assert finding.subjects is not None
    assert finding.subjects.distinct >= 10
    assert not [
        f
        for f in noisy_diagnosis.findings
        if f.severity is not Severity.INFO and "Default Frontend" in f.summary
    ]


def test_every_format_is_bounded(noisy_diagnosis: Diagnosis) -> None:
    """JSON carries the counts of what it does not list; no finding lists more than a page."""
    document = json.loads(noisy_diagnosis.to_json())
    for finding in document["findings"]:
        assert len(finding["evidence"]) <= 24
        assert len(finding["remediation"]) <= 10
        assert len(finding["summary"]) <= 1500
        assert finding["occurrences"] >= len(finding["evidence"]) - 12


def test_thresholds_can_be_set(noisy_day: Path) -> None:
    """With no share allowed, the scanners are problems again; a wrong type is refused."""
    evidence = load_evidence(noisy_day)
    strict = diagnose(evidence, thresholds=Thresholds(background_share=0.0))
    assert BACKGROUND not in [f.rule_id for f in strict.findings]
    with pytest.raises(TypeError, match="thresholds"):
        diagnose(evidence, thresholds=0.2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="background_share"):
        Thresholds(background_share=2)


def test_a_failure_that_began_late_is_a_change_not_background(noisy_day: Path) -> None:
    """Failures that start after the connector's quiet start are a change: still a problem.

    The scanners' first failure comes minutes into the day: with no quiet time allowed
    (``change_after`` zero) that is already a change.
    """
    evidence = load_evidence(noisy_day)
    changed = diagnose(evidence, thresholds=Thresholds(change_after=dt.timedelta(0)))
    assert BACKGROUND not in [f.rule_id for f in changed.findings]
    assert [f for f in changed.findings if "Default Frontend" in f.summary]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10**6), hosts=st.integers(5, 600))
def test_folding_loses_nothing(
    seed: int, hosts: int, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept whole or summarised in tiny bounds: the same causes, the same totals.

    The summary keeps ten hosts per signature and one exemplar; the full reading keeps
    every session. Each cause (rule, subject) accounts for as many failures, its subjects
    table for as many sessions, in both.
    """
    # Ten: as many as background needs, so a sample that is full proves enough remotes.
    monkeypatch.setattr(occurrences, "HOSTS_KEPT", 10)
    monkeypatch.setattr(occurrences, "EXEMPLARS_KEPT", 1)
    folder = tmp_path_factory.mktemp("fold")
    # A third of the internet-facing connector's sessions fail: a signature's hosts outgrow
    # the bound of ten.
    day = NoisyDay(sessions=1200, hosts=hosts, seed=seed, connect_share=0.05, scanner_share=0.3)
    write_day(folder, day)
    summarised = diagnose(load_evidence(folder))
    full = diagnose(load_evidence(folder, keep_sessions=True))
    assert _causes(summarised) == _causes(full)


def _causes(diagnosis: Diagnosis) -> Counter[tuple[str, str, int, int]]:
    return Counter(
        (
            f.rule_id,
            f.subject,
            f.occurrences,
            f.subjects.total if f.subjects is not None else -1,
        )
        for f in diagnosis.findings
    )


def test_past_the_signature_bound_the_rarest_are_counted_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hundred distinct error texts in a bound of four: every failure still counted."""
    monkeypatch.setattr(summary, "SIGNATURES_KEPT", 4)
    write_day(tmp_path, NoisyDay(sessions=1500, hosts=300, distinct_errors=100, scanner_share=0.3))
    evidence = load_evidence(tmp_path)
    assert evidence.summary is not None
    assert evidence.summary.signatures_folded > 0
    full = diagnose(load_evidence(tmp_path, keep_sessions=True))
    folded = diagnose(evidence)
    assert sum(f.occurrences for f in folded.findings) == sum(f.occurrences for f in full.findings)
    # Each connector: its eight most frequent errors, then one finding for the others.
    assert len(folded.findings) <= 20
    assert len(full.findings) <= 20


@given(
    counts=st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 50)),
    shown=st.integers(0, 12),
)
def test_a_subjects_table_folds_without_loss(counts: dict[str, int], shown: int) -> None:
    """The top N and 'and M more' account for every subject and every failure."""
    table = Subjects.fold("remote host", counts, shown=shown)
    assert table.distinct == len(counts)
    assert table.total == sum(counts.values())
    assert len(table.top) == min(shown, len(counts))


def test_the_command_line_sets_the_background_share(
    noisy_day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--background-share 0 reports every inbound failure as a problem; a bad share is refused."""
    main(["diagnose", str(noisy_day), "--format", "json"])
    default = json.loads(capsys.readouterr().out)
    main(["diagnose", str(noisy_day), "--format", "json", "--background-share", "0%"])
    strict = json.loads(capsys.readouterr().out)
    assert BACKGROUND in [f["rule_id"] for f in default["findings"]]
    assert BACKGROUND not in [f["rule_id"] for f in strict["findings"]]
    with pytest.raises(SystemExit):
        main(["diagnose", str(noisy_day), "--background-share", "150%"])


def test_a_partner_among_the_scanners_stays_a_problem_alone(
    noisy_day: Path, noisy_diagnosis: Diagnosis, tmp_path: Path
) -> None:
    """One failing address in Exchange Online's ranges keeps its own cause a problem.

    The rest of the connector's scanner noise still folds into background: a single
    partner among thousands of scanners must not turn the whole day into errors.
    """
    [background] = [f for f in noisy_diagnosis.findings if f.rule_id == BACKGROUND]
    assert background.subjects is not None
    scanner = background.subjects.top[0].name
    exchange_online = "52.103.206.223"
    for log in noisy_day.iterdir():
        text = log.read_text(encoding="utf-8")
        (tmp_path / log.name).write_text(text.replace(scanner, exchange_online), "utf-8")
    diagnosis = diagnose(load_evidence(tmp_path))
    folded = [f for f in diagnosis.findings if f.rule_id == BACKGROUND]
    assert [f.subject for f in folded] == ["EX01\\Default Frontend EX01"]
    problems = [
        f
        for f in diagnosis.findings
        if f.severity is not Severity.INFO and "Default Frontend" in f.summary
    ]
    assert problems
    assert all(
        f.subjects is not None and exchange_online in [s.name for s in f.subjects.top]
        for f in problems
    )
    assert all(f"Exchange Online ({exchange_online})" in f.summary for f in problems)
    assert len(problems) < len(
        [
            f
            for f in diagnose(
                load_evidence(noisy_day), thresholds=Thresholds(background_share=0.0)
            ).findings
            if "Default Frontend" in f.summary
        ]
    )
