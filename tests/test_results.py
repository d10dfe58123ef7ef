"""Every reader of files and text returns one shape: a frozen ReadResult."""

from __future__ import annotations

import collections.abc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.certificates.reader import parse_certificates, read_certificates
from exchange_tls.connectors.hybrid import (
    HybridConfiguration,
    parse_hybrid_configuration,
    read_hybrid_configuration,
)
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.connectors.reader import (
    parse_receive_connectors,
    parse_send_connectors,
    read_receive_connectors,
    read_send_connectors,
)
from exchange_tls.errors import Problem
from exchange_tls.events.models import EventRecord
from exchange_tls.events.reader import parse_events, read_events
from exchange_tls.manifest import CollectionManifest, parse_manifest, read_manifest
from exchange_tls.protocol_log.models import ProtocolLog, ProtocolLogRow
from exchange_tls.protocol_log.reader import parse_protocol_log, read_protocol_log
from exchange_tls.queues.models import QueueRecord
from exchange_tls.queues.reader import parse_queues, read_queues
from exchange_tls.results import ReadResult
from exchange_tls.sources import read_source
from exchange_tls.tls_settings.models import TlsSettings
from exchange_tls.tls_settings.reader import parse_tls_settings, read_tls_settings

DATA = Path(__file__).parent / "data"
BUNDLED = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"

#: (parse_*, read_*, a real sample, the format it is in, the model every item is).
READERS: list[tuple[Callable[..., Any], Callable[..., Any], str, str, type]] = [
    (
        parse_certificates,
        read_certificates,
        "certificates/msqa-1166428_ex-ru-locale_get-exchangecertificate_fl_3certs_ddmmyyyy.txt",
        "list",
        ExchangeCertificate,
    ),
    (
        parse_certificates,
        read_certificates,
        "corpus/certificates/css-exchange_healthchecker_e19_get-exchangecertificate_clixml.xml",
        "clixml",
        ExchangeCertificate,
    ),
    (
        parse_queues,
        read_queues,
        "queues/msqa-234456_ex2013-dag_get-queue_fl_LRT-first_invalidtoken_ddmmyy_blanklines.txt",
        "list",
        QueueRecord,
    ),
    (
        parse_send_connectors,
        read_send_connectors,
        "corpus/other/css-exchange_healthchecker-datacollection_GetSendConnector_clixml.xml",
        "clixml",
        SendConnector,
    ),
    (
        parse_receive_connectors,
        read_receive_connectors,
        "corpus/other/css-exchange_healthchecker-datacollection_GetReceiveConnector_clixml.xml",
        "clixml",
        ReceiveConnector,
    ),
    (
        parse_hybrid_configuration,
        read_hybrid_configuration,
        "corpus/other/css-exchange_healthchecker_e19_gethybridconfiguration_clixml.xml",
        "clixml",
        HybridConfiguration,
    ),
    (parse_events, read_events, "events/wevtutil-qe-f-xml.xml", "xml", EventRecord),
    (parse_events, read_events, "events/get-winevent-schannel.json", "json", EventRecord),
    (
        parse_events,
        read_events,
        "events/ms-docs_service-fabric_event-viewer-copy_schannel-36870_with-event-xml.txt",
        "viewer",
        EventRecord,
    ),
    (
        parse_tls_settings,
        read_tls_settings,
        "tls-settings/reg-export-schannel-protocols_tls12-client-disabled_utf16.reg",
        "reg",
        TlsSettings,
    ),
    (
        parse_tls_settings,
        read_tls_settings,
        "tls-settings/get-itemproperty-tls12-client-fl.txt",
        "list",
        TlsSettings,
    ),
    (
        parse_protocol_log,
        read_protocol_log,
        "protocol-logs/elastic-integrations_sample_smtp_SmtpSend.log",
        "csv",
        ProtocolLogRow,
    ),
]


def _frozen(result: ReadResult[Any]) -> bool:
    try:
        result.format = "changed"  # type: ignore[misc] # the assignment is what is tested
    except attrs.exceptions.FrozenInstanceError:
        return True
    return False


@pytest.mark.parametrize(("parse", "read", "name", "format", "model"), READERS)
def test_every_reader_returns_a_frozen_read_result(
    parse: Callable[..., Any], read: Callable[..., Any], name: str, format: str, model: type
) -> None:
    """parse_* and read_* of every kind return a frozen ReadResult with source and format set."""
    path = DATA / name
    from_file = read(path)
    from_text = parse(read_source(path).text, source=str(path))
    for result in (from_file, from_text):
        assert isinstance(result, ReadResult)
        assert _frozen(result)
        assert result.source == str(path)
        assert result.format == format
        assert result.items
        assert all(isinstance(item, model) for item in result)
        assert all(isinstance(problem, Problem) for problem in result.problems)
    # read_* is decoding then parse_*: the same models, and the decoding's problems first.
    assert from_file.items == from_text.items
    assert from_file.problems[len(from_file.problems) - len(from_text.problems) :] == (
        from_text.problems
    )


def test_parse_labels_the_result_with_its_source() -> None:
    """parse_* gives its source= label to the result, and a default label when none is given."""
    text = (DATA / READERS[0][2]).read_text(encoding="utf-8-sig")
    assert parse_certificates(text, source="pasted").source == "pasted"
    assert parse_certificates(text).source == "<certificates>"


def test_the_manifest_reader_returns_one_manifest_or_none(tmp_path: Path) -> None:
    """parse_manifest and read_manifest return a ReadResult of one manifest, or none with why."""
    path = tmp_path / "manifest.json"
    path.write_text('{"ExchangeTlsEvidence": 1, "Server": "EX01"}', encoding="utf-8")
    result = read_manifest(path)
    assert isinstance(result, ReadResult)
    assert _frozen(result)
    assert (result.source, result.format) == (str(path), "json")
    [manifest] = result
    assert isinstance(manifest, CollectionManifest)
    assert manifest.server == "EX01"
    stranger = parse_manifest('{"Name": "x"}', source="other.json")
    assert (stranger.items, stranger.format, stranger.source) == ((), "json", "other.json")
    assert [problem.code for problem in stranger.problems] == ["manifest-key"]
    broken = parse_manifest("{not json")
    assert (broken.items, broken.format) == ((), None)


def test_a_protocol_log_is_a_read_result_of_rows() -> None:
    """ProtocolLog is a ReadResult whose items are its rows; rows is the same tuple."""
    log = read_protocol_log(BUNDLED / "SEND2017100704-1.LOG")
    assert isinstance(log, ProtocolLog)
    assert isinstance(log, ReadResult)
    assert log.rows is log.items
    assert list(log) == list(log.rows)
    assert len(log) == len(log.rows) > 0
    assert log.header is not None
    with pytest.warns(DeprecationWarning, match="source"):
        assert log.name == log.source
    assert log.header.fields


@pytest.mark.parametrize(
    "call",
    [
        lambda text: parse_protocol_log(text, "SEND1.LOG"),
        lambda text: parse_protocol_log(text, name="SEND1.LOG"),
    ],
)
def test_the_old_name_argument_warns_and_still_labels(call: Callable[[str], ProtocolLog]) -> None:
    """parse_protocol_log's old name (positional or keyword) warns, naming source=, and works."""
    text = (DATA / "protocol-logs" / "elastic-integrations_sample_smtp_SmtpSend.log").read_text(
        encoding="utf-8-sig"
    )
    with pytest.warns(DeprecationWarning, match="source="):
        log = call(text)
    assert log.source == "SEND1.LOG"
    assert log == parse_protocol_log(text, source="SEND1.LOG")


def test_source_and_the_old_name_together_are_refused() -> None:
    """Giving the label twice (source= and the old name) is a TypeError, not a silent choice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="source="):
            parse_protocol_log("", "a.log", source="b.log")


def test_source_alone_does_not_warn() -> None:
    """parse_protocol_log(text, source=...) raises no warning (the suite turns warnings to errors)."""
    assert parse_protocol_log("", source="x.log").source == "x.log"
    assert parse_protocol_log("").source == "<log>"


@given(
    st.lists(st.integers(), max_size=20),
    st.integers(min_value=-25, max_value=25),
    st.integers(min_value=-25, max_value=25),
    st.integers(),
)
def test_a_read_result_is_a_sequence_of_its_items(
    values: list[int], start: int, stop: int, probe: int
) -> None:
    """A ReadResult behaves as a Sequence of its items: len, index, slice, iter, in, bool."""
    result = ReadResult(items=values, format="list")
    assert isinstance(result, collections.abc.Sequence)
    assert isinstance(result.items, tuple)
    assert result.items == tuple(values)
    assert len(result) == len(values)
    assert bool(result) == bool(values)
    assert list(result) == values
    assert list(reversed(result)) == values[::-1]
    assert result[start:stop] == tuple(values[start:stop])
    if -len(values) <= start < len(values):
        assert result[start] == values[start]
    else:
        with pytest.raises(IndexError):
            result[start]
    assert (probe in result) == (probe in values)
    assert result.count(probe) == values.count(probe)
    if probe in values:
        assert result.index(probe) == values.index(probe)
    else:
        with pytest.raises(ValueError, match="not in"):
            result.index(probe)
    assert result == ReadResult(items=tuple(values), format="list")
    assert result != values
    assert result != ReadResult(items=values, format="csv")
    assert hash(result) == hash(ReadResult(items=values, format="list"))
