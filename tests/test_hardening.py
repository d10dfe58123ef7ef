import contextlib
import time
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

BUDGET_SECONDS = 3.0
TEN_MB = 10 * 1024 * 1024


def timed(action: object) -> float:
    """Run an action and return how long it took."""
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def test_a_ten_megabyte_log_line_is_reported_and_reading_goes_on() -> None:
    """A 10 MB row is reported at its line, quickly, and the rows after it are read."""
    good = "2024-06-01T00:00:00.000Z,Out,0A,{n},,,*,,ok"
    text = "\n".join(
        [good.format(n=1), good.format(n=2).replace(",ok", "," + "x" * TEN_MB), good.format(n=3)]
    )
    log = None

    def read() -> None:
        nonlocal log
        log = parse_protocol_log(text, source="big.log")

    assert timed(read) < BUDGET_SECONDS
    assert log is not None
    assert [row.sequence_number for row in log.rows] == [1, 3]
    [problem] = log.problems
    assert (problem.line, problem.code) == (2, "csv-error")


def test_a_ten_megabyte_list_value_is_read_in_bounded_time() -> None:
    """A 10 MB Format-List value (an open bracket that never closes) reads quickly."""
    text = "Identity : EX01\\1\nLastError : [{LED=" + ("a;" * (TEN_MB // 2)) + "\nStatus : Retry\n"
    assert timed(lambda: parse_queues(text)) < BUDGET_SECONDS


def test_a_ten_megabyte_table_line_is_read_in_bounded_time() -> None:
    """A table row of 10 MB reads quickly."""
    text = (
        "Thumbprint Services Subject\n---------- -------- -------\nAB IP.WS.. "
        + "CN="
        + "x" * TEN_MB
        + "\n"
    )
    assert timed(lambda: parse_certificates(text)) < BUDGET_SECONDS


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
    """One session of 1,000,000 rows is assembled in bounded time."""
    rows = _rows("0A", 1_000_000)
    sessions: list[object] = []
    assert timed(lambda: sessions.extend(assemble_sessions(rows))) < 10 * BUDGET_SECONDS
    assert len(sessions) == 1


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
def test_pathological_logs_finish_quickly(text: str) -> None:
    """Quote storms and absurd headers are read or reported quickly."""

    def read() -> None:
        with contextlib.suppress(ParseError):
            parse_protocol_log(text, source="bad.log", pasted=True)

    assert timed(read) < BUDGET_SECONDS


_HEADER = (
    "#Log-type: SMTP Send Protocol Log\n#Fields: date-time,connector-id,session-id,"
    "sequence-number,local-endpoint,remote-endpoint,event,data,context\n"
)
_CONDENSED = "Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after"


def test_a_hex_run_in_a_certificate_row_is_read_in_linear_time() -> None:
    """100,000 hex digits where a serial is sought (once quadratic: minutes) take a moment."""
    row = (
        "2024-06-01T10:00:00.000Z,Outbound,08DC00A1,0,10.0.0.1:25,10.0.0.2:25,*,"
        f"CN=a CN=b {'a' * 100_000},{_CONDENSED}\n"
    )
    log = parse_protocol_log(_HEADER + row, source="hex.log")
    [session] = assemble_sessions(log.rows)

    def facts() -> None:
        assert session.tls is not None
        assert session.tls.local_certificate is not None
        assert session.tls.local_certificate.thumbprint is None

    assert timed(facts) < 0.5


def test_a_blank_run_in_last_error_is_read_in_linear_time() -> None:
    """A million blanks without a line break (once quadratic: hours) are read at once."""
    text = "[{LED=451 4.4.0 x" + " " * 1_000_000 + "y};{FQDN=mail.contoso.com}]"
    reading: list[object] = []
    assert timed(lambda: reading.append(parse_last_error(text))) < 0.5
    [error] = reading
    assert error.fqdn == "mail.contoso.com"  # type: ignore[attr-defined]


def test_a_dash_line_far_wider_than_its_header_is_refused_at_once() -> None:
    """500,000 dash runs under a short header (once all listed first) are refused fast."""
    text = "Thumbprint Services\n" + "- " * 500_000 + "\n"

    def read() -> None:
        with pytest.raises(ParseError, match="not PowerShell output this library reads"):
            parse_certificates(text)

    assert timed(read) < 0.2
