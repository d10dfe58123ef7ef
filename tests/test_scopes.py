"""Scopes: evidence of several servers is judged server by server."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import jsonschema

from exchange_tls import Evidence, diagnose, load_evidence
from exchange_tls.diagnosis.model import Verdict, schema
from tests.builders import EXAMPLES, example


def test_each_server_gets_exactly_the_findings_it_gets_alone() -> None:
    """Two servers diagnosed together: each has its own findings, named, at its own time."""
    first, second = example("kb4051498", "EX01"), example("missing-private-key", "EX02")
    together = diagnose(Evidence(scopes=(first, second)))
    for alone in (diagnose(first), diagnose(second)):
        assert [f for f in together.findings if f.server == alone.server] == list(alone.findings)
        [scope] = [s for s in together.scopes if s.server == alone.server]
        assert (scope.now, scope.verdict) == (alone.now, alone.verdict)
    assert {f.server for f in together.findings} == {"EX01", "EX02"}
    assert together.verdict is Verdict.PROBLEMS
    jsonschema.validate(together.to_dict(), schema())


def test_the_verdict_of_several_servers_needs_each_one() -> None:
    """Healthy only when every server is; one server without evidence makes it inconclusive."""
    healthy = example("healthy", "EX01")
    assert diagnose(Evidence(scopes=(healthy, attrs.evolve(healthy, server="EX02")))).healthy
    mixed = diagnose(Evidence(scopes=(healthy, Evidence(server="EX03"))))
    assert mixed.verdict is Verdict.INCONCLUSIVE
    assert any(reason.startswith("EX03: inconclusive.") for reason in mixed.reasons)


def test_coverage_of_several_servers_is_the_sum() -> None:
    """Counts add up over the servers; the files of both are counted."""
    first, second = example("kb4051498", "EX01"), example("missing-private-key", "EX02")
    together = diagnose(Evidence(scopes=(first, second))).coverage
    alone = [diagnose(first).coverage, diagnose(second).coverage]
    assert together.files == sum(c.files for c in alone)
    assert together.send_sessions == sum(c.send_sessions for c in alone)
    assert together.certificates == sum(c.certificates for c in alone)


def test_examples_that_name_one_server_are_one_scope_with_their_contradictions() -> None:
    """Folders that all name EX01 are one scope; where they disagree, the fact is unknown."""
    from exchange_tls.diagnosis.scopes import gather

    groups = {name: example(name) for name in ("kb4051498", "missing-private-key", "healthy")}
    evidence = gather(groups)
    assert evidence.server == "EX01"
    assert not evidence.scopes
    conflicts = [p for p in evidence.problems if p.code == "conflict"]
    assert conflicts
    records = {
        "certificate": {c.thumbprint: c for c in evidence.certificates},
        "queue": {q.identity: q for q in evidence.queues},
        "send connector": {(c.name or "").casefold(): c for c in evidence.send_connectors},
    }
    for problem in conflicts:
        match = re.match(r"^(certificate|queue|send connector) '(.*?)' (\w+): ", problem.message)
        assert match is not None, problem.message
        kind, identity, field = match.groups()
        assert getattr(records[kind][identity.replace("\\\\", "\\")], field) is None


def test_folders_that_name_different_servers_are_scopes_of_their_own() -> None:
    """Two folders naming EX01 and EX02 are two scopes, each diagnosed as it is alone."""
    from exchange_tls.diagnosis.scopes import gather

    first = example("kb4051498")
    second = example("missing-private-key")
    renamed = attrs.evolve(
        second, queues=[attrs.evolve(q, identity="EX02\\3") for q in second.queues]
    )
    fleet = gather({"a": first, "b": renamed})
    assert [scope.server for scope in fleet.scopes] == ["EX01", "EX02"]
    together = diagnose(fleet)
    for scope in fleet.scopes:
        alone = diagnose(scope)
        assert [f for f in together.findings if f.server == scope.server] == list(alone.findings)


def test_two_folders_of_different_servers_in_one_call(tmp_path: Path) -> None:
    """load_evidence of two folders naming EX01 and EX02: each gets its findings alone."""
    import shutil

    first = tmp_path / "first"
    second = tmp_path / "second"
    shutil.copytree(EXAMPLES / "kb4051498", first)
    shutil.copytree(EXAMPLES / "missing-private-key", second)
    queue_file = second / "get-queue-fl.txt"
    queue_file.write_text(queue_file.read_text().replace("EX01\\", "EX02\\"))
    together = diagnose(load_evidence(first, second, date_order="MDY"))
    assert [scope.server for scope in together.scopes] == ["EX01", "EX02"]
    for folder, server in ((first, "EX01"), (second, "EX02")):
        alone = diagnose(load_evidence(folder, date_order="MDY"))
        found = [attrs.evolve(f, server=None) for f in together.findings if f.server == server]
        assert [(f.rule_id, f.subject, f.occurrences) for f in found] == [
            (f.rule_id, f.subject, f.occurrences) for f in alone.findings
        ]


def test_the_examples_in_one_call_report_their_contradictions() -> None:
    """All the examples name EX01: one scope, its contradictions reported as conflicts."""
    evidence = load_evidence(EXAMPLES, date_order="MDY")
    assert evidence.server == "EX01"
    conflicts = [p for p in evidence.problems if p.code == "conflict"]
    assert conflicts
    assert all("left unknown" in problem.message for problem in conflicts)
