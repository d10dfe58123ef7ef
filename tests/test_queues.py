import contextlib
import datetime as dt
from pathlib import Path

import pytest

from exchange_tls import (
    DeliveryType,
    ParseError,
    QueueStatus,
    Severity,
    parse_last_error,
    parse_queues,
    read_queues,
)
from tests.growth import assert_linear, prefix_of

QUEUES = Path(__file__).parent / "data" / "queues"
CONSTRUCTED = Path(__file__).parent / "data" / "constructed"
BUNDLED = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"
UTC = dt.timezone.utc


# Every real queue sample, and what it must give. A LastError alone goes through
# parse_last_error; Get-Queue or tracking output through read_queues. "error" means a
# ParseError with its position: the sample is not that kind of evidence.
LAST_ERROR_SAMPLES = {
    "blog_ex2007-2010_queue-lasterror_initial-error_dns-query-failed_lowercased-truncated.txt": "error",
    "hayesjupe-blog_ex2010-to-2016_error-421-4.4.2-socket-error_retyped-in-prose.txt": "error",
    "jaapwesselius_edge-hybrid_lasterror_LED-form_nocredentials.txt": [
        (451, "4.4.395"),
        (421, "4.4.1"),
    ],
    "ms-kb4051498_queue-lasterror_421-4.4.1-timeout.txt": [(451, "4.4.0"), (421, "4.4.1")],
    "ms-kb4495258_queue-error_421-4.4.1_truncated-leading.txt": [(421, "4.4.1")],
    "ms-kb979174_queue-viewer-lasterror_454-4.7.0.txt": [(451, "4.4.0"), (454, "4.7.0")],
    "msqa_ex2013_ndr-diagnostic_451-4.7.3-secure-domain_wrapped.txt": "error",
    "supertekboy_queue-lasterror_421-4.2.1_deliver-typo.txt": [(451, "4.4.0"), (421, "4.2.1")],
}
QUEUE_SAMPLES = {
    "msqa-234456_ex2013-dag_get-queue_fl_LRT-first_invalidtoken_ddmmyy_blanklines.txt": 1,
    "nagios-plugin-comment_ex2007_get-queue_table_hash-prefixed.txt": 3,
    "nauplius-blog_ex2010_messagetracking_fl_recipientstatus_LRT-first-empty.txt": 0,
    "cn-blog-17388217_ex2013_get-queue_fl_damaged-keys_lri-led-markers.txt": 1,
}


def test_every_queue_sample_is_listed() -> None:
    """The tables below cover every real queue sample in tests/data/queues."""
    assert {path.name for path in QUEUES.iterdir()} == set(LAST_ERROR_SAMPLES) | set(QUEUE_SAMPLES)


@pytest.mark.parametrize(("name", "expected"), sorted(LAST_ERROR_SAMPLES.items()))
def test_last_error_samples(name: str, expected: object) -> None:
    """Each LastError sample parses to its reply chain, or raises ParseError at line 1."""
    text = (QUEUES / name).read_text(encoding="utf-8")
    if expected == "error":
        with pytest.raises(ParseError) as caught:
            parse_last_error(text, source=name)
        assert (caught.value.source, caught.value.line, caught.value.column) == (name, 1, 1)
        return
    error = parse_last_error(text)
    assert error.reply is not None
    assert [(r.code, str(r.enhanced)) for r in error.reply.chain] == expected


@pytest.mark.parametrize(("name", "count"), sorted(QUEUE_SAMPLES.items()))
def test_queue_samples_read_or_report(name: str, count: int) -> None:
    """Each Get-Queue sample gives its queues; every other record is reported."""
    result = read_queues(QUEUES / name)
    assert len(result) == count
    for problem in result.problems:
        assert problem.source == str(QUEUES / name)


def test_ddmmyy_dag_sample_in_detail() -> None:
    """The Q&A DAG queue reads its proxy chain, IPv6 endpoint and DMY dates with a hint."""
    [queue] = read_queues(
        QUEUES / "msqa-234456_ex2013-dag_get-queue_fl_LRT-first_invalidtoken_ddmmyy_blanklines.txt",
        date_order="DMY",
    )
    assert queue.identity == "DAGSERVER5\\322120"
    assert queue.server == "DAGSERVER5"
    assert (queue.delivery_type, queue.status) == (
        DeliveryType.DNS_CONNECTOR_DELIVERY,
        QueueStatus.RETRY,
    )
    assert (queue.message_count, queue.retry_count, queue.next_hop_domain) == (
        1,
        17,
        "destination.com",
    )
    assert queue.last_retry_time == dt.datetime(2021, 1, 15, 23, 50, 5, tzinfo=UTC)
    assert queue.first_retry_time == dt.datetime(2021, 1, 15, 22, 6, 2, tzinfo=UTC)
    assert queue.last_error is not None
    assert queue.last_error.fqdn == "MAILSERVER.DOMAIN.LOCAL"
    reply = queue.last_error.reply
    assert reply is not None
    assert reply.innermost.text == "Security status InvalidToken"
    middle = reply.chain[1]
    assert middle.last_endpoint is not None
    assert (middle.last_endpoint.host, middle.last_endpoint.port) == (None, 25)


def test_ddmmyy_dates_without_hint_are_none_with_warnings() -> None:
    """Without date_order, 15-01-21 is ambiguous (DMY or YMD): None and a warning each."""
    [queue] = read_queues(
        QUEUES / "msqa-234456_ex2013-dag_get-queue_fl_LRT-first_invalidtoken_ddmmyy_blanklines.txt"
    )
    assert (queue.last_retry_time, queue.next_retry_time, queue.first_retry_time) == (
        None,
        None,
        None,
    )
    codes = [problem.code for problem in read_queues(QUEUES / next(iter(QUEUE_SAMPLES))).problems]
    assert codes.count("ambiguous-date") == 4


def test_nagios_table_completes_a_truncated_delivery_type() -> None:
    """'SmartHost...' in a hash-prefixed table becomes SmartHostConnectorDelivery, with a note."""
    result = read_queues(QUEUES / "nagios-plugin-comment_ex2007_get-queue_table_hash-prefixed.txt")
    assert result.format == "table"
    assert [queue.delivery_type for queue in result] == [
        DeliveryType.MAPI_DELIVERY,
        DeliveryType.SMART_HOST_CONNECTOR_DELIVERY,
        DeliveryType.UNDEFINED,
    ]
    assert [queue.next_hop_domain for queue in result] == [
        "parizien.altin.com",
        "[200.0.0.1]",
        "Submission",
    ]
    assert {problem.code for problem in result.problems} == {"pasted-prefix", "completed-truncated"}


def test_tracking_output_is_reported_as_not_a_queue() -> None:
    """Message-tracking output read as queues gives no queue and an error saying why."""
    result = read_queues(
        QUEUES / "nauplius-blog_ex2010_messagetracking_fl_recipientstatus_LRT-first-empty.txt"
    )
    assert [problem.code for problem in result.problems] == ["not-a-property", "not-a-queue"]
    assert result.problems[1].severity is Severity.ERROR


def test_raise_mode_stops_at_the_first_error() -> None:
    """With errors='raise', a record that is not a queue raises ParseError."""
    with pytest.raises(ParseError, match="not a queue"):
        read_queues(
            QUEUES / "nauplius-blog_ex2010_messagetracking_fl_recipientstatus_LRT-first-empty.txt",
            errors="raise",
        )


# The same two queues in every format Get-Queue can be exported in.
FORMATS = [
    ("get-queue.csv", "csv"),
    ("get-queue.json", "json"),
    ("get-queue.clixml.xml", "clixml"),
]


@pytest.mark.parametrize(("name", "format_name"), FORMATS)
def test_every_format_gives_the_same_queues(name: str, format_name: str) -> None:
    """CSV, JSON and CLIXML exports of the same queues read the same way."""
    result = read_queues(CONSTRUCTED / name, date_order="MDY")
    assert result.format == format_name
    first, second = result
    assert first.identity == "EX01\\9"
    assert first.status is QueueStatus.RETRY
    assert (first.message_count, first.retry_count) == (42, 5)
    assert first.next_hop_domain == "domain-com.mail.protection.outlook.com"
    assert first.last_error is not None
    assert first.last_error.reply is not None
    assert first.last_error.reply.nested is not None
    assert first.last_error.reply.nested.code == 421
    assert first.last_retry_time is not None
    assert (second.identity, second.status, second.message_count) == (
        "EX01\\Submission",
        QueueStatus.READY,
        0,
    )
    assert second.last_error is None
    assert second.delivery_type is DeliveryType.UNDEFINED


def test_json_dates_and_numeric_enums() -> None:
    """JSON's /Date()/ objects are UTC; Status 3 is Retry; an unknown DeliveryType number is not guessed."""
    result = read_queues(CONSTRUCTED / "get-queue.json", date_order="MDY")
    first, second = result
    assert first.last_retry_time == dt.datetime(2017, 10, 7, 4, 47, 56, tzinfo=UTC)
    assert first.next_retry_time == dt.datetime(2017, 10, 7, 4, 57, 56, tzinfo=UTC)
    assert second.next_retry_time == dt.datetime(2017, 10, 7, 4, 57, 56, tzinfo=UTC)
    assert first.delivery_type is None
    assert [p.message for p in result.problems if p.code == "unknown-value"] == [
        "DeliveryType: unknown DeliveryType number 6"
    ]


def test_clixml_enums_come_from_their_names_and_dates_from_iso() -> None:
    """CLIXML enums read by ToString; <DT> with an offset becomes UTC."""
    first, _ = read_queues(CONSTRUCTED / "get-queue.clixml.xml")
    assert first.delivery_type is DeliveryType.SMART_HOST_CONNECTOR_DELIVERY
    assert first.last_retry_time == dt.datetime(2017, 10, 7, 11, 47, 56, tzinfo=UTC)


def test_default_table_marks_and_completes_truncated_cells() -> None:
    """The default table completes 'SmartHost...' and keeps a cut NextHopDomain as cut."""
    result = read_queues(CONSTRUCTED / "get-queue-table.txt")
    assert [queue.delivery_type for queue in result] == [
        DeliveryType.SMART_HOST_CONNECTOR_DELIVERY,
        DeliveryType.UNDEFINED,
        DeliveryType.SHADOW_REDUNDANCY,
    ]
    assert result[0].next_hop_domain == "domain-com.mail.protection.outl"


def test_bundled_example_queue() -> None:
    """The bundled KB 4051498 queue is in Retry with the KB's LastError."""
    [queue] = read_queues(BUNDLED / "get-queue-fl.txt", date_order="MDY")
    assert queue.is_failing
    assert queue.last_error is not None
    assert queue.last_error.ip is not None
    assert queue.last_error.ip.host == "216.32.181.234"
    assert queue.last_retry_time == dt.datetime(2017, 10, 7, 4, 47, 56, tzinfo=UTC)


def test_date_order_is_inferred_when_one_date_settles_it() -> None:
    """One date with a day above 12 fixes the order for the whole file."""
    text = (
        "Identity : EX01\\1\nStatus : Retry\nLastRetryTime : 12/03/2025 19:50:43\n"
        "FirstRetryTime : 25/03/2025 08:00:00\n"
    )
    result = parse_queues(text)
    assert result[0].last_retry_time == dt.datetime(2025, 3, 12, 19, 50, 43, tzinfo=UTC)
    assert [problem.code for problem in result.problems] == ["date-order-inferred"]


def test_unknown_format_raises_with_position() -> None:
    """Text in no PowerShell format raises ParseError at its first line."""
    with pytest.raises(ParseError) as caught:
        parse_queues("\n\nthis is prose, not output\n", source="ticket.txt")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "not PowerShell output" in caught.value.message


def test_unknown_status_is_none_with_a_warning() -> None:
    """A Status Exchange does not have is None, and the warning names it."""
    result = parse_queues("Identity : EX01\\1\nStatus : Sleeping\n")
    assert result[0].status is None
    assert [problem.message for problem in result.problems] == [
        "Status: unknown QueueStatus 'Sleeping'"
    ]


HOSTILE = {
    "megabyte-led": "[{LRT=};{LED=451 4.4.0 " + "x;[]\"'" * 170_000 + "};{FQDN=}]",
    "unbalanced-quotes": '[{LED=451 4.4.0 Primary target IP address responded with: "'
    + '"' * 500_000,
    "unclosed-brackets": "[{" * 300_000,
    "truncated": "[{LRT=8/20/2018 12:00:39 AM};{LED=451 4.4.0 Primary target IP address res",
    "garbage": "\x00\x01\x02" * 300_000,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_last_errors_end_linearly_with_a_result_or_parse_error(text: str) -> None:
    """Garbage, truncation, unbalanced quotes and 1 MB strings: a result or ParseError."""
    with contextlib.suppress(ParseError):
        parse_last_error(text)
    # Time budgets are in benchmarks/bench_pathological.py; here, growth only.
    assert_linear(parse_last_error, prefix_of(text), len(text) // 8)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_queue_output_ends_linearly(text: str) -> None:
    """The same inputs as a LastError value of a Format-List queue: linear too."""
    queue = "Identity : EX01\\1\nLastError : " + text
    with contextlib.suppress(ParseError):
        parse_queues(queue)
    assert_linear(parse_queues, prefix_of(queue), len(queue) // 8)
