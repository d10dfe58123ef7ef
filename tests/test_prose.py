"""Issue 27: no Python representation in any text a finding carries, and counts that read.

Every example folder is diagnosed, and the prose of each finding (title, summary, claims,
preconditions, remediation notes) is searched for what ``repr`` leaves behind: a tuple's
``('``, a doubled backslash, ``None``, an object's ``<exchange_tls…>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange_tls import Evidence, diagnose
from exchange_tls.diagnosis import Finding
from tests.builders import (
    EXAMPLES,
    NOW,
    T1,
    T2,
    Services,
    certificate,
    example,
    queue,
    send_sessions,
)
from tests.builders import presented as presented_rows

FOLDERS = sorted(path.name for path in EXAMPLES.iterdir() if (path / "EXPECTED.md").exists())


def prose(finding: Finding) -> Iterator[str]:
    """Yield every sentence of a finding written for people (excerpts quote the evidence)."""
    yield finding.title
    yield finding.summary
    yield from finding.preconditions
    yield from (ref.claim for ref in finding.evidence)
    yield from (step.note or "" for step in finding.remediation)


def artefacts(text: str) -> list[str]:
    """Return the repr artefacts in ``text``, allowing Exchange's own value ``None``."""
    # ProtocolLoggingLevel None is a value Exchange writes, not Python's None.
    text = text.replace("ProtocolLoggingLevel None", "").replace("ProtocolLoggingLevel: None", "")
    return [m.group(0) for m in re.finditer(r"\('|\\\\|\bNone\b|<exchange_tls", text)]


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_python_representation_in_any_finding(folder: str) -> None:
    """No finding of any example folder carries a Python representation in its prose."""
    findings = diagnose(example(folder), now=NOW).findings
    leaks = [(f.rule_id, text) for f in findings for text in prose(f) if artefacts(text)]
    assert leaks == []


def test_a_queue_name_with_a_backslash_is_written_as_exchange_writes_it() -> None:
    r"""A queue EX01\9 reads 'EX01\9', never repr's ('EX01\\9') (issue 27)."""
    failing = queue("451 4.4.0 Something nobody has seen", identity="EX01\\9")
    [finding] = diagnose(Evidence(queues=[failing]), now=NOW).findings
    assert finding.rule_id == "unexplained-queue-error"
    assert "'EX01\\9'" in finding.summary
    assert artefacts(finding.summary) == []


def test_a_connector_name_with_a_backslash_is_not_doubled() -> None:
    """Connector names are quoted as written in summaries and claims."""
    rows = [f"0A|{row}" for row in presented_rows(T1, "UnknownCredentials")]
    sessions = send_sessions(*rows, connector="Out\\Internet")
    [finding] = diagnose(
        Evidence(sessions=sessions, certificates=[certificate()]), now=NOW
    ).findings
    texts = list(prose(finding))
    assert any("'Out\\Internet'" in text for text in texts)
    assert [text for text in texts if artefacts(text)] == []


# -- the connector's TLS history: counted, and only where it says something --------------


def _history(*outcomes: str | None) -> str:
    rows = [
        f"{index:X}{index:X}|{row}"
        for index, outcome in enumerate(outcomes)
        for row in presented_rows(T2 if outcome is None else T1, outcome)
    ]
    sessions = send_sessions(*rows)
    evidence = Evidence(sessions=sessions, certificates=[certificate(services=Services.IIS)])
    findings = [
        f
        for f in diagnose(evidence, now=NOW).findings
        if f.rule_id == "certificate-not-enabled-for-smtp"
    ]
    assert findings
    return findings[0].summary


@pytest.mark.parametrize(
    ("outcomes", "said"),
    [
        ((None, "UnknownCredentials"), "with 1 failure since."),
        (
            (None, "UnknownCredentials", "UnknownCredentials", "UnknownCredentials"),
            "with 3 failures since.",
        ),
    ],
)
def test_failures_since_the_last_success_are_counted_in_words(
    outcomes: tuple[str | None, ...], said: str
) -> None:
    """'1 failure', '3 failures': never 'failure(s)'."""
    summary = _history(*outcomes)
    assert said in summary
    assert "failure(s)" not in summary


def test_no_zero_failures_since_beside_an_error() -> None:
    """A success after the failure is said as such, never '0 failure(s) since'."""
    summary = _history("UnknownCredentials", None)
    assert "0 failure" not in summary
    assert "negotiated TLS again at" in summary


def test_folders_exist() -> None:
    """The parametrisation above is not empty."""
    assert len(FOLDERS) > 10
    assert all(Path(EXAMPLES / name).is_dir() for name in FOLDERS)
