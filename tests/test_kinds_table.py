"""The kinds table is the single source: merging, scopes, coverage and emptiness follow it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import Evidence, ExchangeCertificate, SendConnector, diagnose, load_evidence
from exchange_tls.diagnosis.coverage import KINDS as DESCRIPTIONS
from exchange_tls.diagnosis.coverage import available_kinds, measure
from exchange_tls.diagnosis.scopes import gather, named_servers
from exchange_tls.kinds import ALL_KINDS, Kind
from tests.builders import RECORDS, manifest, record_of_kind

EXAMPLES = Path(__file__).parents[1] / "examples"
COUNTED = [kind for kind in ALL_KINDS if kind.counted]
MANIFEST = (
    '{"ExchangeTlsEvidence": 1, "Server": "EX01", "Fqdn": "ex01.contoso.com", '
    '"CollectedUtc": "2024-06-01T10:30:00Z", "Days": 2, "Files": []}'
)
QUEUE = (
    "Identity      : EX01\\12\nDeliveryType  : SmartHostConnectorDelivery\nStatus        : Ready\n"
    "MessageCount  : 0\nNextHopDomain : mx.fabrikam.example\nLastError     : \n"
)


def evidence_of(kind: Kind, records: list[object], **fields: object) -> Evidence:
    """Return evidence holding ``records`` as the kind's records, and other fields."""
    if kind.single:
        value: object = records[0] if records else None
    else:
        value = [*fields.pop(kind.field, ()), *records]  # type: ignore[misc] # a tuple field
    return Evidence(**{**fields, kind.field: value})  # type: ignore[arg-type]


def test_two_folders_of_one_server_keep_every_kind_and_the_finding(tmp_path: Path) -> None:
    """Issue 22: events and registry in a, a queue in b, one server: b loses nothing of a."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for name in ("events-schannel.xml", "registry-schannel.reg"):
        shutil.copy(EXAMPLES / "tls12-disabled-client" / name, first / name)
    for folder in (first, second):
        (folder / "manifest.json").write_text(MANIFEST, encoding="utf-8")
    (second / "get-queue-fl.txt").write_text(QUEUE, encoding="utf-8")

    alone = load_evidence(first)
    together = load_evidence(first, second)

    assert not together.scopes
    assert together.server == "EX01"
    assert len(together.events) == len(alone.events) == 2
    assert together.tls_settings == alone.tls_settings != ()
    assert together.manifest == alone.manifest is not None
    assert len(together.queues) == 1
    assert not together.is_empty
    expected = [(f.rule_id, f.subject, f.summary) for f in diagnose(alone).findings]
    assert "tls12-disabled-in-registry" in {rule for rule, _, _ in expected}
    assert [(f.rule_id, f.subject, f.summary) for f in diagnose(together).findings] == expected


def test_every_kind_of_the_table_has_a_field_a_description_and_a_builder() -> None:
    """A kind names an Evidence field, is described for the coverage, and tests can build it."""
    fields = {field.name for field in attrs.fields(Evidence)}
    for kind in ALL_KINDS:
        assert kind.field in fields, kind.name
        assert kind.noun, kind.name
        assert kind.description, kind.name
    assert set(RECORDS) == {kind.name for kind in ALL_KINDS}
    assert set(DESCRIPTIONS) == {kind.name for kind in COUNTED}
    # Every field of records on Evidence belongs to a kind, so no kind is forgotten.
    bookkeeping = {"problems", "server_fqdn", "files", "summary", "server", "scopes"}
    assert fields - bookkeeping == {kind.field for kind in ALL_KINDS}


@pytest.mark.parametrize("kind", COUNTED, ids=lambda kind: kind.name)
def test_one_record_of_any_counted_kind_is_evidence(kind: Kind) -> None:
    """is_empty, available_kinds and the coverage's counts see a record of every kind."""
    evidence = evidence_of(kind, [record_of_kind(kind.name)])
    assert not evidence.is_empty
    assert available_kinds(evidence) == {kind.name}
    coverage = measure(evidence)
    assert coverage.counts[kind.name] == 1
    assert not coverage.read_nothing
    assert sum(coverage.counts.values()) == 1


def test_the_manifest_alone_is_not_evidence_to_diagnose() -> None:
    """The manifest describes the collection: alone, there is nothing to diagnose."""
    evidence = Evidence(manifest=manifest())
    assert evidence.is_empty
    assert measure(evidence).read_nothing


def test_the_named_counts_read_the_counts_by_kind() -> None:
    """The coverage's counts by name (JSON keys) are the counts by kind."""
    fields: dict[str, Any] = {
        kind.field: [record_of_kind(kind.name, index=i) for i in range(3)]
        for kind in COUNTED
        if kind.field != "sessions"
    }
    evidence = Evidence(
        **fields,
        sessions=[record_of_kind("send-log", index=i) for i in range(2)],
    )
    coverage = measure(evidence).to_dict()
    assert coverage["counts"]["send-log"] == coverage["send_sessions"] == 2
    assert coverage["certificates"] == coverage["events"] == coverage["tls_settings"] == 3
    assert coverage["hybrid_configurations"] == coverage["counts"]["hybrid-configuration"] == 3


def split(draw: st.DrawFn, kind: Kind, server: str, paths: int) -> list[list[object]]:
    """Draw records of ``kind`` for ``server`` and deal them out to ``paths`` paths."""
    count = 1 if kind.single else draw(st.integers(0, 6))
    records = [record_of_kind(kind.name, server, index) for index in range(count)]
    dealt: list[list[object]] = [[] for _ in range(paths)]
    for record in records:
        dealt[draw(st.integers(0, paths - 1))].append(record)
    return dealt


@st.composite
def one_server_in_paths(
    draw: st.DrawFn, server: str = "EX01"
) -> tuple[dict[str, Evidence], dict[str, list[object]]]:
    """Draw one server's records of every kind, split across any number of paths."""
    paths = draw(st.integers(1, 5))
    by_path: list[dict[str, object]] = [{} for _ in range(paths)]
    records: dict[str, list[object]] = {}
    for kind in ALL_KINDS:
        if kind.single:
            continue
        dealt = split(draw, kind, server, paths)
        records[kind.name] = [record for part in dealt for record in part]
        for fields, part in zip(by_path, dealt, strict=True):
            fields.setdefault(kind.field, []).extend(part)  # type: ignore[attr-defined]
    groups = {
        # Each path says whose it is, as the collector's manifest does.
        f"{server}-{number}": Evidence(**fields, manifest=manifest(server))  # type: ignore[arg-type]
        for number, fields in enumerate(by_path)
    }
    records["manifest"] = [manifest(server)]
    return groups, records


def assert_keeps(evidence: Evidence, records: dict[str, list[object]]) -> None:
    """Every record of every kind is in ``evidence``, and nothing else."""
    for kind in ALL_KINDS:
        held = sorted(map(repr, kind.records(evidence)))
        assert held == sorted(map(repr, records[kind.name])), kind.name


@given(one_server_in_paths())
def test_one_server_split_across_paths_keeps_every_record(
    drawn: tuple[dict[str, Evidence], dict[str, list[object]]],
) -> None:
    """One server's evidence split across any number of paths: one scope, every record kept."""
    groups, records = drawn
    evidence = gather(groups)
    assert not evidence.scopes
    assert evidence.server == "EX01"
    assert_keeps(evidence, records)
    assert not [p for p in evidence.problems if p.code == "conflict"]


@given(one_server_in_paths("EX01"), one_server_in_paths("EX02"), st.randoms())
def test_two_servers_keep_their_own(
    first: tuple[dict[str, Evidence], dict[str, list[object]]],
    second: tuple[dict[str, Evidence], dict[str, list[object]]],
    rng: object,
) -> None:
    """Two servers' evidence in any order of paths: each scope holds its server's records."""
    items = [*first[0].items(), *second[0].items()]
    rng.shuffle(items)  # type: ignore[attr-defined]
    fleet = gather(dict(items))
    assert sorted(str(scope.server) for scope in fleet.scopes) == ["EX01", "EX02"]
    for scope in fleet.scopes:
        assert named_servers(scope) == (scope.server.casefold(),)  # type: ignore[union-attr]
        assert_keeps(scope, (first if scope.server == "EX01" else second)[1])
    # The fleet's own fields hold all of it, side by side.
    for kind in ALL_KINDS:
        if not kind.single:
            assert len(kind.records(fleet)) == len(first[1][kind.name]) + len(second[1][kind.name])


def test_merging_evidence_with_itself_keeps_each_object_once(kb_evidence: Evidence) -> None:
    """Records that are one object (by the kind's key) merge into one, without conflict."""
    merged = Evidence.merge([kb_evidence, kb_evidence])
    for kind in ALL_KINDS:
        if kind.key is not None:
            assert kind.records(merged) == kind.records(kb_evidence), kind.name
    assert merged.problems == kb_evidence.problems * 2
    assert len(merged.sessions) == 2 * len(kb_evidence.sessions)


def test_a_healthy_connector_and_certificate_merge_from_two_folders(
    fit_certificate: ExchangeCertificate, tls_connector: SendConnector
) -> None:
    """Configuration split over two folders of one server is judged as one: healthy."""
    groups = {
        "a": Evidence(certificates=[fit_certificate], manifest=manifest()),
        "b": Evidence(send_connectors=[tls_connector], manifest=manifest()),
    }
    together = gather(groups)
    assert (len(together.certificates), len(together.send_connectors)) == (1, 1)
    assert diagnose(together).healthy


def test_a_second_manifest_that_differs_is_reported_once_the_first_is_used(
    tmp_path: Path,
) -> None:
    """A folder with two manifests: the first is used; a different second one is a warning."""
    (tmp_path / "manifest.json").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "manifest2.json").write_text(MANIFEST, encoding="utf-8")
    same = load_evidence(tmp_path)
    assert not [p for p in same.problems if p.code == "second-manifest"]
    (tmp_path / "manifest2.json").write_text(MANIFEST.replace("EX01", "EX02"), "utf-8")
    evidence = load_evidence(tmp_path)
    [problem] = [p for p in evidence.problems if p.code == "second-manifest"]
    assert problem.message == "a second collector manifest; the first one is used"
    assert evidence.manifest is not None
    assert evidence.manifest.server == "EX01"
