import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import (
    ParseError,
    SessionAssembler,
    assemble_sessions,
    parse_certificates,
    parse_last_error,
    parse_protocol_log,
    parse_queues,
)
from exchange_tls.certificates.x509 import read_der
from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow
from tests.growth import assert_linear, repeated

TEN_MB = 10 * 1024 * 1024


def test_a_ten_megabyte_log_line_is_reported_and_reading_goes_on() -> None:
    """A 10 MB row is reported at its line, and the rows after it are read."""
    good = "2024-06-01T00:00:00.000Z,Out,0A,{n},,,*,,ok"

    def text_with(size: int) -> str:
        long_row = good.format(n=2).replace(",ok", "," + "x" * size)
        return "\n".join([good.format(n=1), long_row, good.format(n=3)])

    log = parse_protocol_log(text_with(TEN_MB), source="big.log")
    assert [row.sequence_number for row in log.rows] == [1, 3]
    [problem] = log.problems
    assert (problem.line, problem.code) == (2, "csv-error")
    # The time budget is in benchmarks/bench_pathological.py; here, growth only.
    assert_linear(lambda text: parse_protocol_log(text, source="big.log"), text_with, TEN_MB // 16)


def test_a_ten_megabyte_list_value_is_read_in_linear_time() -> None:
    """A Format-List value with an open bracket that never closes: time grows linearly."""

    def text_with(size: int) -> str:
        return (
            "Identity : EX01\\1\nLastError : [{LED=" + ("a;" * (size // 2)) + "\nStatus : Retry\n"
        )

    [queue] = parse_queues(text_with(TEN_MB))
    assert queue.identity == "EX01\\1"
    assert_linear(parse_queues, text_with, TEN_MB // 16)


def test_a_ten_megabyte_table_line_is_read_in_linear_time() -> None:
    """A table row of 10 MB: time grows linearly."""

    def text_with(size: int) -> str:
        header = "Thumbprint Services Subject\n---------- -------- -------\nAB IP.WS.. "
        return header + "CN=" + "x" * size + "\n"

    parse_certificates(text_with(TEN_MB))
    assert_linear(parse_certificates, text_with, TEN_MB // 16)


def _rows(session: str, count: int, start: int = 0) -> list[ProtocolLogRow]:
    import datetime as dt

    moment = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    return [
        ProtocolLogRow.create(
            timestamp=moment,
            connector_id="Out",
            session_id=session,
            sequence_number=start + number,
            event=Event.INFORMATION,
            context="row",
            direction=Direction.SEND,
        )
        for number in range(count)
    ]


def test_a_session_of_a_million_rows_is_assembled() -> None:
    """One session of 1,000,000 rows is assembled, in time linear in its rows."""
    rows = _rows("0A", 1_000_000)
    assert len(list(assemble_sessions(rows))) == 1
    assert_linear(lambda rows: list(assemble_sessions(rows)), lambda n: _rows("0A", n), 10_000)


def test_open_sessions_are_bounded() -> None:
    """With more sessions open than allowed, the oldest come out incomplete; memory stays bounded."""
    assembler = SessionAssembler(max_open=1_000)
    finished = 0
    most_open = 0
    for number in range(100_000):
        for row in _rows(f"{number:016X}", 1):
            finished += len(assembler.feed(row))
        most_open = max(most_open, assembler.open_sessions)
    assert most_open <= 2_000
    assert finished + len(assembler.close()) == 100_000


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_der_reader_refuses_garbage_with_value_error(data: bytes) -> None:
    """Random bytes as a certificate: a result or ValueError, never anything else."""
    with contextlib.suppress(ValueError):
        read_der(data)


_SEED_CERTIFICATES = [
    (Path(__file__).parent / "data" / "fuzz" / name).read_bytes()
    for name in ("x509-unknown-key-type.der", "x509-duplicate-extension.der")
]


@settings(max_examples=300)
@given(st.data())
def test_mutated_certificates_give_facts_or_value_error(data: st.DataObject) -> None:
    """A real certificate with bytes changed (how atheris found its crashes): facts or ValueError."""
    blob = bytearray(data.draw(st.sampled_from(_SEED_CERTIFICATES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
        blob[position] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(ValueError):
        read_der(bytes(blob))


def test_a_malformed_issuer_name_is_a_value_error(data_dir: Path) -> None:
    """A certificate whose issuer holds a BitString under the wrong OID (found by atheris)."""
    with pytest.raises(ValueError, match=r"^malformed certificate: oid must be"):
        read_der((data_dir / "fuzz" / "x509-bitstring-issuer.der").read_bytes())


def test_a_key_of_an_unknown_algorithm_reads_with_no_key_size(data_dir: Path) -> None:
    """A certificate whose key algorithm cryptography cannot load still reads (found by atheris)."""
    facts = read_der((data_dir / "fuzz" / "x509-unknown-key-type.der").read_bytes())
    assert facts.public_key_size is None
    assert facts.subject == "CN=mail.contoso.lab"
    assert facts.dns_names[0] == "mail.contoso.lab"


def test_an_unknown_version_is_a_value_error(data_dir: Path) -> None:
    """Version 5 (cryptography's InvalidVersion, not a ValueError) is a malformed certificate."""
    good = (data_dir / "fuzz" / "x509-unknown-key-type.der").read_bytes()
    version_3 = bytes.fromhex("a003020102")
    version_5 = good.replace(version_3, bytes.fromhex("a003020105"), 1)
    with pytest.raises(ValueError, match=r"^malformed certificate: 5 is not a valid X509 version$"):
        read_der(version_5)


def test_duplicate_extensions_leave_the_names_unknown_and_say_so(data_dir: Path) -> None:
    """Two alternative-name extensions: the certificate reads, without names, with a warning."""
    facts = read_der((data_dir / "fuzz" / "x509-duplicate-extension.der").read_bytes())
    assert facts.dns_names == ()
    assert facts.warnings == ("extensions not read: Duplicate 2.5.29.17 extension found",)
    assert facts.public_key_size == 256


@pytest.mark.parametrize(
    "text",
    [
        '"' * 200_000 + "\n",
        ",".join(['"a""b'] * 50_000),
        "2024-06-01T00:00:00.000Z," * 100_000,
        "#Fields: " + ",".join(["date-time"] * 50_000),
    ],
    ids=["quotes", "doubled-quotes", "timestamps", "fields"],
)
def test_pathological_logs_are_read_in_linear_time(text: str) -> None:
    """Quote storms and absurd headers are read or reported in time linear in their size."""
    assert_linear(
        lambda text: parse_protocol_log(text, source="bad.log", pasted=True),
        repeated(text),
        len(text),
    )


_HEADER = (
    "#Log-type: SMTP Send Protocol Log\n#Fields: date-time,connector-id,session-id,"
    "sequence-number,local-endpoint,remote-endpoint,event,data,context\n"
)
_CONDENSED = "Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after"


def test_a_hex_run_in_a_certificate_row_is_read_in_linear_time() -> None:
    """100,000 hex digits where a serial is sought (once quadratic: minutes): linear."""

    def log_with(digits: int) -> str:
        return _HEADER + (
            "2024-06-01T10:00:00.000Z,Outbound,08DC00A1,0,10.0.0.1:25,10.0.0.2:25,*,"
            f"CN=a CN=b {'a' * digits},{_CONDENSED}\n"
        )

    def facts(text: str) -> None:
        [session] = assemble_sessions(parse_protocol_log(text, source="hex.log").rows)
        assert session.tls is not None
        assert session.tls.local_certificate is not None
        assert session.tls.local_certificate.thumbprint is None

    facts(log_with(100_000))
    assert_linear(facts, log_with, 12_500)


def test_a_blank_run_in_last_error_is_read_in_linear_time() -> None:
    """A million blanks without a line break (once quadratic: hours): linear."""

    def text_with(blanks: int) -> str:
        return "[{LED=451 4.4.0 x" + " " * blanks + "y};{FQDN=mail.contoso.com}]"

    assert parse_last_error(text_with(1_000_000)).fqdn == "mail.contoso.com"
    assert_linear(parse_last_error, text_with, 125_000)


def test_a_dash_line_far_wider_than_its_header_is_refused_at_once() -> None:
    """500,000 dash runs under a short header (once all listed first) are refused, linearly."""

    def text_with(runs: int) -> str:
        return "Thumbprint Services\n" + "- " * runs + "\n"

    with pytest.raises(ParseError, match="not PowerShell output this library reads"):
        parse_certificates(text_with(500_000))
    assert_linear(parse_certificates, text_with, 250_000, repeat=2)
