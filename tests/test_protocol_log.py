import codecs
import datetime as dt
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exchange_tls import (
    Direction,
    Event,
    ParseError,
    Problem,
    ProtocolLog,
    ProtocolLogHeader,
    ProtocolLogRow,
    SessionAssembler,
    Severity,
    assemble_sessions,
    iter_protocol_rows,
    parse_protocol_log,
    read_protocol_log,
)
from exchange_tls.protocol_log.reader import STANDARD_FIELDS

DATA = Path(__file__).parent / "data" / "protocol-logs"
BUNDLED = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"
UTC = dt.timezone.utc
HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Send Protocol Log\r\n#Date: 2017-10-07T04:00:00.000Z\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)


def read_sample(name: str, *, pasted: bool = False):  # type: ignore[no-untyped-def]
    """Read a sample file from tests/data as a user would paste or load it."""
    text = (DATA / name).read_bytes().decode("utf-8-sig")
    return parse_protocol_log(text, source=name, pasted=pasted)


# name: (pasted, rows, row problems (errors), session facts per session)
SAMPLES = {
    "cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log": (
        False,
        19,
        0,
        [("send", True, None, "TLS1_0", "LogonDenied")],
    ),
    "elastic-integrations_sample_SmtpRecive.log": (
        False,
        1,
        0,
        [("receive", None, None, None, None)],
    ),
    "elastic-integrations_sample_smtp_SmtpSend.log": (
        False,
        1,
        0,
        [("send", None, None, None, None)],
    ),
    "forensics-notes_ex2016-cu22_receive-log_frontend_tls1.2_sending-certificate-combined_logondenied.log": (
        False,
        16,
        0,
        [("receive", True, None, "TLS1_2", "LogonDenied")],
    ),
    "ms-docs_eop-relay-article_send-log_template_all-lines-joined.txt": (True, 0, 1, []),
    "ms-kb4051498_send-log_unknowncredentials_blank-endpoints.log": (
        False,
        6,
        0,
        [("send", False, "UnknownCredentials", None, None)],
    ),
    "ms-kb4051498_send-log_unknowncredentials_with-endpoints.log": (
        False,
        4,
        0,
        [("send", None, None, None, None)],
    ),
    "ms-kb4495258_markdown-source_send-log_nocredentials_placeholder-fields.md.txt": (
        True,
        0,
        7,
        [],
    ),
    "msqa-1054876_ex2016_send-log_no-tls_header-hash-stripped_blanklines.log": (
        True,
        16,
        0,
        [("send", None, None, None, None)],
    ),
    "rmilne-script-comment_ex2010_receive-log_header-and-2-lines_comment-prefixed.txt": (
        True,
        2,
        1,
        [("receive", None, None, None, None)],
    ),
}


def test_every_protocol_log_sample_is_listed() -> None:
    """The table covers every sample but the JSON-wrapped one, tested on its own."""
    names = {path.name for path in DATA.iterdir()} - {"elastic-integrations_test-smtp.json"}
    assert names == set(SAMPLES)


@pytest.mark.parametrize(("name", "expected"), sorted(SAMPLES.items()), ids=lambda v: str(v)[:40])
def test_samples_read_with_pinned_rows_and_facts(name: str, expected: tuple) -> None:  # type: ignore[type-arg]
    """Each real sample gives its rows, its reported rows and its sessions' TLS facts."""
    pasted, row_count, errors, facts = expected
    log = read_sample(name, pasted=pasted)
    assert len(log.rows) == row_count
    assert len([p for p in log.problems if p.severity is Severity.ERROR]) == errors
    sessions = list(assemble_sessions(log.rows))
    got = [
        (
            session.direction.value if session.direction else None,
            session.tls.succeeded if session.tls else None,
            session.tls.error if session.tls else None,
            session.tls.protocol if session.tls else None,
            session.auth_failure,
        )
        for session in sessions
    ]
    assert got == facts


_SKIPS = (
    "not-a-directive",
    "unknown-directive",
    "empty-directive",
    "csv-header",
    "bad-header-date",
    "blank-line",
)


def _accounted(log: ProtocolLog) -> int:
    """Count the lines a log accounts for: rows, errors, directives, header lines."""
    return _lines_accounted(len(log.rows), log.problems, log.headers)


def _lines_accounted(
    rows: int, problems: Sequence[Problem], headers: Sequence[ProtocolLogHeader]
) -> int:
    errors = [p for p in problems if p.severity is Severity.ERROR]
    skipped = [p for p in problems if p.code in _SKIPS]
    directives = sum(len(header.fields) > 0 for header in headers) + sum(
        1
        for header in headers
        for value in (header.software, header.version, header.log_type, header.date)
        if value
    )
    return rows + len(errors) + len(skipped) + directives


def _non_blank_lines(text: str) -> int:
    """Count the lines that are not empty (a line of blanks is reported, so it counts)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return sum(1 for line in lines if line)


_ROW = "2024-06-01T10:00:00.000Z,Outbound,08DC00A1,{},10.0.0.1:25,10.0.0.2:25,{},{},{}"
_FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context"
)
log_lines = st.one_of(
    st.builds(
        _ROW.format,
        st.integers(0, 99),
        st.sampled_from(["+", "-", ">", "<", "*", "?", ""]),
        st.text(alphabet='ab ,"\\', max_size=8),
        st.text(alphabet='ab ,"', max_size=8),
    ),
    st.sampled_from(
        [
            _FIELDS,
            _FIELDS[1:],
            "#Log-type: SMTP Send Protocol Log",
            "#Software: Microsoft Exchange Server",
            "#Version: 15.0.0.0",
            "#Date: 2024-06-01T10:00:00.000Z",
            "#Date: yesterday",
            "#Date:",
            "#SOFTWARE: ",
            "#Junk: x",
            "#",
            "",
            "   ",
        ]
    ),
    st.text(max_size=30),
)


@settings(max_examples=500)
@given(st.lists(log_lines, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_generated_logs_lose_no_line(lines: list[str], newline: str) -> None:
    """Rows, broken rows, quotes left open, directives, garbage: every line is accounted for."""
    text = newline.join(lines)
    log = parse_protocol_log(text, source="generated.log")
    assert _accounted(log) == _non_blank_lines(text)


@settings(max_examples=100)
@given(st.lists(log_lines, max_size=12))
def test_generated_log_files_lose_no_line(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    """Streamed from a file, the same holds: rows in equal rows out plus rows reported."""
    text = "\r\n".join(lines)
    path = tmp_path_factory.mktemp("logs") / "SEND20240601-1.LOG"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8", "surrogatepass"))
    reader = iter_protocol_rows(path)
    rows = sum(1 for _ in reader)
    assert _lines_accounted(rows, reader.problems, reader.headers) == _non_blank_lines(text)


def test_a_quote_left_open_costs_only_its_own_row() -> None:
    """An opening quote that never closes does not swallow the rows after it."""
    text = "\n".join(
        [
            _ROW.format(0, "+", "", ""),
            _ROW.format(1, ">", '"EHLO x', ""),
            _ROW.format(2, "<", "250", ""),
        ]
    )
    log = parse_protocol_log(text, source="open.log")
    assert [row.data for row in log.rows] == ["", "250"]
    unclosed, count = log.problems
    assert str(unclosed) == (
        "open.log:2:72: warning: a quoted field is not closed on its line; read it to the end "
        "of the line\n"
        '    2024-06-01T10:00:00.000Z,Outbound,08DC00A1,1,10.0.0.1:25,10.0.0.2:25,>,"EHLO x,\n'
        + " " * 75
        + "^"
    )
    assert (count.line, count.code, count.message) == (
        2,
        "field-count",
        "expected 9 fields, found 8",
    )


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_rows_in_equal_rows_out_plus_rows_reported(name: str) -> None:
    """Every non-blank line is a row, an error, a directive or a reported skip."""
    log = read_sample(name)
    text = (DATA / name).read_bytes().decode("utf-8-sig")
    assert _accounted(log) == _non_blank_lines(text)


def test_kb4051498_rows_give_one_send_session_with_unknown_credentials() -> None:
    """The KB rows: one send session, UnknownCredentials, the certificate from the rows."""
    log = read_sample("ms-kb4051498_send-log_unknowncredentials_blank-endpoints.log")
    [session] = assemble_sessions(log.rows)
    assert session.direction is Direction.SEND
    assert session.tls is not None
    assert session.tls.error == "UnknownCredentials"
    assert session.tls.succeeded is False
    certificate = session.tls.local_certificate
    assert certificate is not None
    assert (
        certificate.subject
        == "CN=*.domain.com, OU=Enterprise SSL Wildcard, OU=Contoso IT, O=Contoso Corporation"
    )
    assert certificate.issuer == (
        "CN=Trusted Secure Certificate Authority 5, O=Corporation Service Company, "
        "L=Wilmington, S=DE, C=US"
    )
    assert certificate.alternate_names == ("*.domai.com", "conotso.com")
    assert certificate.thumbprint == "xxxxxxxxxxxxxxxxxxxxxx"
    assert [ref.line for ref in session.tls.evidence] == [1, 6]


def test_condensed_certificate_row_of_a_receive_session() -> None:
    """The one-row certificate block yields thumbprint, serial, dates and names."""
    log = read_sample(
        "forensics-notes_ex2016-cu22_receive-log_frontend_tls1.2_sending-certificate-combined_logondenied.log"
    )
    [session] = assemble_sessions(log.rows)
    assert session.tls is not None
    certificate = session.tls.local_certificate
    assert certificate is not None
    assert (certificate.subject, certificate.issuer) == ("CN=SERVER-HOSTNAME", "CN=SERVER-HOSTNAME")
    assert certificate.thumbprint == "12DEABC6565646512346ABDC1345689413589876"
    assert certificate.serial_number == "12DEABC6565646512346ABDC13456894"
    assert certificate.not_before == dt.datetime(2020, 1, 17, 15, 15, 33, tzinfo=UTC)
    assert certificate.not_after == dt.datetime(2025, 1, 17, 15, 15, 33, tzinfo=UTC)
    assert certificate.alternate_names == ("SERVER-HOSTNAME", "SERVER-HOSTNAME.DOMAIN.TEST")
    assert session.tls.starttls_offered is True
    assert session.tls.starttls_requested is True
    assert session.tls.client_certificate_status == "EmptyCertificate"
    assert (session.tls.domain_capabilities, session.tls.domain_status) == (
        "None",
        "NoRemoteCertificate",
    )


def test_tls12_success_line_gives_protocol_and_cipher() -> None:
    """The success line yields TLS1_2, its cipher, hash, key exchange and strengths."""
    log = read_sample(
        "forensics-notes_ex2016-cu22_receive-log_frontend_tls1.2_sending-certificate-combined_logondenied.log"
    )
    [session] = assemble_sessions(log.rows)
    tls = session.tls
    assert tls is not None
    assert (tls.protocol, tls.protocol_raw) == ("TLS1_2", "SP_PROT_TLS1_2_SERVER")
    assert (tls.cipher, tls.cipher_strength) == ("CALG_AES_128", 128)
    assert (tls.hash_algorithm, tls.hash_strength) == ("CALG_SHA_256", 0)
    assert (tls.key_exchange, tls.key_exchange_strength) == ("CALG_ECDH_EPHEM", 256)


def test_duplicate_and_missing_sequence_numbers_are_kept() -> None:
    """Sequence 13 is missing and 15 appears three times in the forensics sample."""
    log = read_sample(
        "forensics-notes_ex2016-cu22_receive-log_frontend_tls1.2_sending-certificate-combined_logondenied.log"
    )
    [session] = assemble_sessions(log.rows)
    numbers = [row.sequence_number for row in session.rows]
    assert numbers.count(15) == 3
    assert 13 not in numbers
    assert numbers == sorted(numbers)


def test_received_certificate_of_the_peer() -> None:
    """'Received certificate' and its thumbprint row describe the remote certificate."""
    log = read_sample(
        "cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log"
    )
    [session] = assemble_sessions(log.rows)
    assert session.connector_id == "组织内 SMTP 发送连接器"
    assert session.tls is not None
    remote = session.tls.remote_certificate
    assert remote is not None
    assert (remote.label, remote.thumbprint) == (
        "Received certificate",
        "352D244A535D94B576232ECC4A4000CFE06BE106",
    )
    assert session.tls.local_certificate is None
    assert session.remote_endpoint is not None
    assert session.remote_endpoint.host is None  # masked as 10.**.**.168
    assert session.remote_endpoint.port == 25


def test_multi_line_ehlo_reply_is_one_smtp_reply() -> None:
    """The session's replies join 250- lines into one SmtpReply."""
    log = read_sample(
        "cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log"
    )
    [session] = assemble_sessions(log.rows)
    [ehlo] = session.replies
    assert ehlo.code == 250
    assert ehlo.lines[-1] == "XSHADOW"
    assert len(ehlo.lines) == 14


def test_elastic_json_messages_read_as_rows() -> None:
    """Rows wrapped in the elastic test JSON read once unwrapped; the Winsock failure is read."""
    events = json.loads((DATA / "elastic-integrations_test-smtp.json").read_text(encoding="utf-8"))[
        "events"
    ]
    text = "\n".join(event["message"] for event in events)
    log = parse_protocol_log(text, source="elastic")
    assert len(log.rows) == len(events)
    sessions = {session.session_id: session for session in assemble_sessions(log.rows)}
    failure = sessions["08DC1DB8591B229F"].connect_failure
    assert failure is not None
    assert (failure.winsock_error, failure.win32_error) == (10061, 10061)
    assert failure.message is not None
    assert failure.message.startswith("No connection could be made")


def test_pasted_repairs_are_reported_as_info() -> None:
    """Lost '#' headers, blank lines and lost '*' events are repaired and reported."""
    log = read_sample(
        "msqa-1054876_ex2016_send-log_no-tls_header-hash-stripped_blanklines.log", pasted=True
    )
    codes = {problem.code for problem in log.problems}
    assert {"pasted-hash", "pasted-blank", "pasted-event"} <= codes
    assert all(problem.severity is Severity.INFO for problem in log.problems)
    assert log.header is not None
    assert log.header.direction is Direction.SEND
    assert log.rows[0].event is Event.INFORMATION
    assert log.rows[0].context == "Set Session Permissions"


def test_without_pasted_the_same_text_reports_its_damage() -> None:
    """Without pasted=True, the lost events and headers are errors at their lines."""
    log = read_sample("msqa-1054876_ex2016_send-log_no-tls_header-hash-stripped_blanklines.log")
    codes = [problem.code for problem in log.problems]
    assert codes.count("unknown-event") == 2
    assert codes.count("field-count") == 4  # Software:, Version:, Log-type:, Date:
    assert codes.count("bad-timestamp") == 1  # "Fields: date-time", split as a row


def test_wrapped_in_quotes_and_curly_quotes() -> None:
    """A paste in one pair of quotes with curly quotes inside reads like the original."""
    original = (DATA / "ms-kb4051498_send-log_unknowncredentials_with-endpoints.log").read_text(
        encoding="utf-8"
    )
    pasted = "\u201c" + original.replace('"', "\u201d") + "\u201d"
    log = parse_protocol_log(pasted, source="ticket", pasted=True)
    assert [row.data for row in log.rows] == [row.data for row in parse_protocol_log(original).rows]


def test_raise_mode_raises_at_the_first_bad_row() -> None:
    """With errors='raise', a bad row raises ParseError with its line."""
    text = HEADER + "2017-10-07T04:42:56.804Z,c,S,1,,,X,,\r\n"
    with pytest.raises(ParseError) as caught:
        parse_protocol_log(text, source="SEND1.LOG", errors="raise")
    assert caught.value.line == 6
    assert caught.value.message == "unknown event 'X'; expected one of + - > < *"
    assert str(caught.value).splitlines()[2].endswith("^")


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ("2017-10-07T04:42:56.804Z,c,S,1,,,*,x", "field-count"),
        ("yesterday,c,S,1,,,*,x,y", "bad-timestamp"),
        ("2017-10-07T04:42:56.804,c,S,1,,,*,x,y", "bad-timestamp"),
        ("2017-10-07T04:42:56.804Z,c,S,1,,,?,x,y", "unknown-event"),
    ],
)
def test_bad_rows_become_problems_and_reading_goes_on(row: str, code: str) -> None:
    """A bad row is an error at its line; the rows around it are still read."""
    good = "2017-10-07T04:42:56.804Z,c,S,{n},,,*,,ok"
    text = "\n".join([good.format(n=1), row, good.format(n=3)])
    log = parse_protocol_log(text, source="x.log")
    assert [r.sequence_number for r in log.rows] == [1, 3]
    [problem] = log.problems
    assert (problem.code, problem.line, problem.severity) == (code, 2, Severity.ERROR)


def test_bad_sequence_number_is_kept_as_unknown() -> None:
    """A non-numeric sequence number keeps the row, with None and a warning."""
    log = parse_protocol_log("2017-10-07T04:42:56.804Z,c,S,x,,,*,,ok", source="x.log")
    [row] = log.rows
    assert row.sequence_number is None
    assert [problem.code for problem in log.problems] == ["bad-sequence"]


def test_repeated_header_with_other_field_order_remaps_columns() -> None:
    """A header block mid-file with reordered #Fields changes the column map."""
    text = (
        HEADER
        + "2017-10-07T04:42:56.804Z,c,S,1,,,*,,first\r\n"
        + "#Fields: date-time,session-id,connector-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,context,data\r\n" + "2017-10-07T04:42:57.804Z,S,c,2,,,*,second,\r\n"
    )
    log = parse_protocol_log(text, source="x.log")
    assert [(row.connector_id, row.session_id, row.context) for row in log.rows] == [
        ("c", "S", "first"),
        ("c", "S", "second"),
    ]
    assert len(log.headers) == 2


def test_stray_csv_header_line_sets_the_fields() -> None:
    """A header line without '#Fields:' is read as the field names."""
    text = "date-time,session-id,connector-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n"
    text += "2017-10-07T04:42:56.804Z,S,c,1,,,*,,ok\n"
    log = parse_protocol_log(text, source="x.log")
    [row] = log.rows
    assert (row.connector_id, row.session_id) == ("c", "S")
    assert [problem.code for problem in log.problems] == ["csv-header"]


def test_literal_escapes_stay_as_written() -> None:
    r"""Exchange's \r\n escapes inside fields are not turned into line breaks."""
    log = parse_protocol_log(
        "2017-10-07T04:42:56.804Z,c,S,1,,,<,550 line one\\r\\nline two,", source="x"
    )
    assert log.rows[0].data == "550 line one\\r\\nline two"


def test_endpoints_ipv6_empty_and_masked() -> None:
    """Endpoints: [IPv6]:port, empty, and masked (host None, raw kept)."""
    log = parse_protocol_log(
        "2017-10-07T04:42:56.804Z,c,S,1,[2001:db8::1]:25,,*,,x\n"
        "2017-10-07T04:42:56.804Z,c,S,2,10.**.**.31:37964,InternalIPOfMyMailServer:10437,*,,y\n",
        source="x",
    )
    first, second = log.rows
    assert first.local_endpoint is not None
    assert (first.local_endpoint.host, first.local_endpoint.port) == ("2001:db8::1", 25)
    assert first.remote_endpoint is None
    assert second.local_endpoint is not None
    assert (second.local_endpoint.host, second.local_endpoint.raw) == (None, "10.**.**.31:37964")


# -- files and folders -----------------------------------------------------------------


def _write(path: Path, rows: list[str], *, encoding: str = "utf-8", header: bool = True) -> Path:
    text = (HEADER if header else "") + "".join(row + "\r\n" for row in rows)
    bom = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE}[encoding]
    path.write_bytes(bom + text.encode(encoding))
    return path


def _session_rows(session: str, numbers: range, *, end: bool = False) -> list[str]:
    rows = [f"2017-10-07T04:42:{n:02d}.000Z,Out,{session},{n},,,*,,row {n}" for n in numbers]
    if end:
        rows.append(f"2017-10-07T04:42:59.000Z,Out,{session},99,,,-,,Local")
    return rows


def test_folder_reads_send_and_recv_files_in_name_order(tmp_path: Path) -> None:
    """A folder gives SEND*/RECV* files in order: hourly names, numeric instances."""
    for name in ("SEND20230111-10.LOG", "SEND20230111-2.LOG", "SEND2023011116-1.LOG", "notes.txt"):
        _write(tmp_path / name, _session_rows(name[:12], range(1)))
    reader = iter_protocol_rows(tmp_path)
    rows = list(reader)
    assert [Path(row.source.source).name for row in rows] == [
        "SEND20230111-2.LOG",
        "SEND20230111-10.LOG",
        "SEND2023011116-1.LOG",
    ]
    assert [problem.code for problem in reader.problems] == ["skipped-files"]
    assert all(row.direction is Direction.SEND for row in rows)


def test_session_spans_rotated_files(tmp_path: Path) -> None:
    """A session that continues in the next file is one session, complete."""
    first = _write(tmp_path / "SEND20171007-1.LOG", _session_rows("0A", range(3)))
    second = _write(tmp_path / "SEND20171007-2.LOG", _session_rows("0A", range(3, 6), end=True))
    [session] = assemble_sessions(iter_protocol_rows(str(tmp_path / "SEND*.LOG")))
    assert session.complete
    assert session.sources == (str(first), str(second))
    assert [row.sequence_number for row in session.rows] == [0, 1, 2, 3, 4, 5, 99]


def test_utf16_file_with_undecodable_bytes(tmp_path: Path) -> None:
    """UTF-16 files read; a bad byte in UTF-8 is reported at its line."""
    _write(tmp_path / "SEND20171007-1.LOG", _session_rows("0B", range(2)), encoding="utf-16-le")
    bad = _write(tmp_path / "SEND20171007-2.LOG", _session_rows("0C", range(2)))
    bad.write_bytes(bad.read_bytes().replace(b"row 1", b"row \xff"))
    reader = iter_protocol_rows(tmp_path)
    rows = list(reader)
    assert len(rows) == 4
    assert rows[-1].context == "row \ufffd"
    [problem] = reader.problems
    assert (problem.code, problem.line, problem.source) == ("undecodable-bytes", 7, str(bad))


@pytest.mark.parametrize("line", [2, 257, 263, 300, 520, 700])
def test_a_bad_byte_is_reported_wherever_the_decoder_met_it(line: int, tmp_path: Path) -> None:
    """A bad byte on any line, a batch's first or one a text stream decoded ahead, is seen.

    The reader takes rows 256 at a time, and the text stream decodes 8 KiB ahead of the
    lines it gives: a bad byte a little after a batch's end was decoded while that batch
    was read, and was once neither replaced nor reported.
    """
    rows = [f"2017-10-07T04:42:00.000Z,Out,0A{n:04d},0,,,*,,row {n}" for n in range(1, 701)]
    bad = _write(tmp_path / "SEND20171007-1.LOG", rows)
    spoilt = b"row \xff" + str(line).encode() + b"\r"
    bad.write_bytes(bad.read_bytes().replace(f"row {line}\r".encode(), spoilt))
    reader = iter_protocol_rows(bad)
    read = list(reader)
    assert len(read) == 700
    assert read[line - 1].context == f"row \ufffd{line}"
    assert not any("\udcff" in row.context for row in read)
    [problem] = reader.problems
    header_lines = HEADER.count("\n")
    assert (problem.code, problem.line) == ("undecodable-bytes", header_lines + line)


def test_missing_path_and_empty_glob(tmp_path: Path) -> None:
    """A missing file raises FileNotFoundError; a glob matching nothing is a problem."""
    with pytest.raises(FileNotFoundError):
        list(iter_protocol_rows(tmp_path / "nope.log"))
    reader = iter_protocol_rows(str(tmp_path / "SEND*.LOG"))
    assert list(reader) == []
    assert [problem.code for problem in reader.problems] == ["no-match"]


def test_read_protocol_log_on_the_bundled_example() -> None:
    """The bundled send log reads into one complete failing session."""
    log = read_protocol_log(BUNDLED / "SEND2017100704-1.LOG")
    assert log.direction is Direction.SEND
    assert log.header is not None
    assert log.header.date == dt.datetime(2017, 10, 7, 4, 0, 1, 187000, tzinfo=UTC)
    [session] = assemble_sessions(log.rows)
    assert session.complete
    assert session.disconnect_reason == "Local"
    assert session.tls is not None
    assert session.tls.starttls_offered is True
    assert session.tls.local_certificate is not None
    assert session.tls.local_certificate.thumbprint == "054FB2800CE2E07A56DE07920D3C9847D3058CE1"


# -- sessions ----------------------------------------------------------------------------


def _rows(lines: list[str]) -> list[ProtocolLogRow]:
    return list(parse_protocol_log("\n".join(lines), source="x.log").rows)


def test_out_of_order_rows_are_sorted_by_sequence() -> None:
    """Rows arriving out of order are put in sequence order, duplicates kept."""
    rows = _rows(
        [
            "2017-10-07T04:42:01.000Z,Out,0A,2,,,*,,c",
            "2017-10-07T04:42:01.000Z,Out,0A,0,,,+,,",
            "2017-10-07T04:42:01.000Z,Out,0A,2,,,*,,d",
            "2017-10-07T04:42:01.000Z,Out,0A,1,,,*,,b",
        ]
    )
    [session] = assemble_sessions(rows)
    assert [row.text for row in session.rows] == ["", "b", "c", "d"]
    assert not session.complete


def test_interleaved_sessions_are_separated() -> None:
    """Rows of two sessions interleave and come out as two sessions."""
    rows = _rows(
        [
            "2017-10-07T04:42:01.000Z,Out,0A,0,,,+,,",
            "2017-10-07T04:42:01.000Z,Out,0B,0,,,+,,",
            "2017-10-07T04:42:02.000Z,Out,0A,1,,,-,,Local",
            "2017-10-07T04:42:03.000Z,Out,0B,1,,,-,,Remote(ConnectionReset)",
        ]
    )
    assembler = SessionAssembler()
    finished = [[s.session_id for s in assembler.feed(row)] for row in rows]
    assert finished == [[], [], ["0A"], ["0B"]]
    assert assembler.open_sessions == 0


def test_idle_sessions_are_flushed_incomplete() -> None:
    """A session idle past the timeout is returned, incomplete, as the log moves on."""
    assembler = SessionAssembler(idle_timeout=dt.timedelta(minutes=5), max_open=2)
    old = _rows(["2017-10-07T04:00:00.000Z,Out,0A,0,,,+,,"])
    later = _rows([f"2017-10-07T05:00:{n:02d}.000Z,Out,{n:02X},0,,,+,," for n in range(1, 5)])
    out = [s for row in old + later for s in assembler.feed(row)]
    assert out
    assert out[0].session_id == "0A"
    assert not out[0].complete
    assert assembler.open_sessions <= 3


# -- properties --------------------------------------------------------------------------

field_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00"),
    max_size=40,
)


@st.composite
def log_rows(draw: st.DrawFn, line: int) -> ProtocolLogRow:
    """Draw a protocol log row as Exchange could write it."""
    millis = draw(st.integers(min_value=0, max_value=10**12))
    return ProtocolLogRow.create(
        timestamp=dt.datetime(2015, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=millis),
        connector_id=draw(field_text.filter(lambda t: not t.startswith("#") and t.strip() != "")),
        session_id=draw(st.from_regex(r"[0-9A-F]{16}", fullmatch=True)),
        sequence_number=draw(st.integers(min_value=0, max_value=10**6)),
        local_endpoint=draw(st.sampled_from(["", "10.0.0.1:25", "[2001:db8::1]:2525"])),
        remote_endpoint=draw(st.sampled_from(["", "216.32.181.234:25", "10.**.**.3:25"])),
        event=draw(st.sampled_from(list(Event))),
        data=draw(field_text | st.just('say "hi", \\r\\n bye')),
        context=draw(field_text),
        path="gen.log",
        line=line,
    )


@given(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.tuples(*[log_rows(i + 1) for i in range(n)])
    )
)
def test_rows_render_and_read_back_equal(rows: tuple[ProtocolLogRow, ...]) -> None:
    """Rows written with Exchange's quoting and read again equal the originals."""
    text = "\r\n".join(row.to_line() for row in rows) + "\r\n"
    log = parse_protocol_log(text, source="gen.log")
    assert log.problems == ()
    assert log.rows == rows


_NINE = (
    "timestamp",
    "connector_id",
    "session_id",
    "sequence_number",
    "local_endpoint_text",
    "remote_endpoint_text",
    "event",
    "data",
    "context",
)


@given(
    st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.tuples(*[log_rows(i + 1) for i in range(n)])
    ),
    st.sampled_from([None, *Direction]),
)
def test_rows_built_from_columns_equal_rows_built_by_name(
    rows: tuple[ProtocolLogRow, ...], direction: Direction | None
) -> None:
    """from_columns gives, row for row, what create gives for the same named values."""
    columns = [[getattr(row, name) for row in rows] for name in _NINE]
    built = ProtocolLogRow.from_columns(columns, path="gen.log", first_line=1, direction=direction)
    assert built == [row._replace(direction=direction) for row in rows]
    assert all(type(row) is ProtocolLogRow for row in built)


def test_rows_pickle_hash_and_stay_immutable() -> None:
    """Rows of a real log survive pickling, hash as their values and refuse assignment."""
    import pickle

    log = read_protocol_log(BUNDLED / "SEND2017100704-1.LOG")
    rows = pickle.loads(pickle.dumps(log.rows))  # noqa: S301 -- bytes pickled just above
    assert rows == log.rows
    assert [row.source for row in rows] == [row.source for row in log.rows]
    assert [row.remote_endpoint for row in rows] == [row.remote_endpoint for row in log.rows]
    assert len({*rows, *log.rows}) == len(set(log.rows))
    with pytest.raises(AttributeError):
        rows[0].data = "changed"  # type: ignore[misc]


@given(st.text(max_size=500))
def test_any_text_gives_rows_and_problems_only(text: str) -> None:
    """Arbitrary text never raises; lines are rows, errors, directives or blanks."""
    log = parse_protocol_log(text, source="fuzz", pasted=False)
    errors = [p for p in log.problems if p.severity is Severity.ERROR]
    assert len(log.rows) + len(errors) <= max(1, len(text.splitlines()) + text.count("\r"))


@given(st.text(max_size=500))
def test_any_pasted_text_never_raises(text: str) -> None:
    """Arbitrary text read as a paste never raises."""
    parse_protocol_log(text, source="fuzz", pasted=True)


# -- one set of rules for both reader paths ---------------------------------------------------

_FIELD_VARIANTS = {
    0: st.sampled_from(
        [
            "2024-06-01T00:00:00.000Z",
            "2024-06-01T00:00:00Z",
            "2024-06-01T02:00:00.000+02:00",
            "2024-06-01T00:00:00.000",
            "0001-01-01T00:00:00.000+05:00",
            "not a date",
            "",
        ]
    ),
    3: st.one_of(
        st.integers(0, 10**6).map(str),
        st.sampled_from(["-1", "+5", "1_0", " 7", "7 ", "\u00b2", "\u0663", "", "x", "9" * 30]),
    ),
    6: st.sampled_from(["*", "+", "-", ">", "<", " *", "?", "", "**"]),
}
_PLAIN = st.text(alphabet="abc ,\"'.:;-<>=[]", max_size=12)


@st.composite
def _mangled_logs(draw: st.DrawFn) -> str:
    """Return log text whose rows are mostly well formed and sometimes mangled."""
    lines = []
    for _ in range(draw(st.integers(1, 40))):
        fields = [
            draw(_FIELD_VARIANTS[index]) if index in _FIELD_VARIANTS else "F" for index in range(9)
        ]
        fields[7] = draw(_PLAIN) if draw(st.booleans()) else ""
        line = ",".join(fields)
        mangle = draw(st.sampled_from(["none"] * 6 + ["drop", "extra", "blank", "hash", "quote"]))
        if mangle == "drop":
            line = line.rsplit(",", 1)[0]
        elif mangle == "extra":
            line += ",extra"
        elif mangle == "blank":
            line = draw(st.sampled_from(["", "   ", "\t"]))
        elif mangle == "hash":
            line = draw(st.sampled_from(["#Software: X", "#Fields: " + ",".join(STANDARD_FIELDS)]))
        elif mangle == "quote":
            line += ',"open'
        lines.append(line)
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mangled_logs())
def test_the_fast_and_careful_paths_agree(text: str) -> None:
    """Fast path, careful path and the streaming reader give the same rows and problems."""
    import exchange_tls.protocol_log.reader as reader

    normal = parse_protocol_log(text, source="SEND.LOG")
    original = reader._LogReader._fast
    reader._LogReader._fast = lambda self, batch, first: None  # type: ignore[method-assign]
    try:
        careful = parse_protocol_log(text, source="SEND.LOG")
    finally:
        reader._LogReader._fast = original  # type: ignore[method-assign]
    assert list(normal.rows) == list(careful.rows)
    assert normal.problems == careful.problems
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "SEND.LOG")
        path.write_bytes(text.encode("utf-8"))
        streamed = iter_protocol_rows(path)
        rows = [row[:9] for row in streamed]
    assert rows == [row[:9] for row in normal.rows]
    assert [(p.line, p.code) for p in streamed.problems] == [
        (p.line, p.code) for p in normal.problems
    ]


@pytest.mark.parametrize("directive", ["#Date:", "#DATE:  ", "#Software:", "#Fields:"])
def test_a_directive_without_a_value_is_reported(directive: str) -> None:
    """A header directive with no value is reported at its line, never dropped unseen."""
    row = _ROW.format(1, "+", "", "")
    log = parse_protocol_log(f"{row}\n{directive}\n{row}", source="empty.log")
    assert len(log.rows) == 2
    [problem] = log.problems
    assert (problem.code, problem.line, problem.severity) == ("empty-directive", 2, Severity.INFO)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 5000).map(str),
            st.sampled_from(
                ["", "007", "-1", "+5", " 5", "1_0", "²", "٣", "9" * 20, "4095", "4096"]
            ),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_a_column_of_sequence_numbers_reads_as_each_number_does(texts: list[str]) -> None:
    """The column-wise reading (small numbers looked up) is each text's reading, or None.

    None sends the batch to the row-by-row reading, which also takes blanks around the
    digits; a column of plain digits is always read column-wise.
    """
    from exchange_tls.protocol_log.rows import _all_sequence_numbers, _sequence_number

    each = [_sequence_number(text) for text in texts]
    column = _all_sequence_numbers(tuple(texts))
    if column is not None:
        assert column == each
    plain = all(text.isascii() and text.isdigit() and len(text) <= 19 for text in texts)
    assert (column is not None) == plain


@settings(max_examples=300, deadline=None)
@example(numbers=[0, 1, 2, 3])
@example(numbers=[0, 2, 1])
@example(numbers=[1, 2, 3])
@example(numbers=[0, None, 1])
@given(numbers=st.lists(st.one_of(st.none(), st.integers(0, 6)), max_size=8))
def test_rows_numbered_from_zero_are_taken_as_they_are(numbers: list[int | None]) -> None:
    """Rows numbered 0, 1, 2 and on skip the general ordering, and only those.

    Whichever way it goes, the order is the general one: a stable sort by sequence
    number, a missing number first.
    """
    from exchange_tls.protocol_log import sessions

    rows = [
        ProtocolLogRow.create(
            timestamp=dt.datetime(2024, 6, 1, tzinfo=UTC),
            connector_id="Out",
            session_id="0A",
            sequence_number=number,
            event=Event.SEND,
            line=line,
        )
        for line, number in enumerate(numbers, start=1)
    ]
    general = sessions._ordered
    ordered_generally = []

    def spy(rows: list[ProtocolLogRow], numbers: list[int | None]) -> list[ProtocolLogRow]:
        ordered_generally.append(numbers)
        return general(rows, numbers)

    sessions._ordered = spy
    try:
        ordered = sessions.sequence_order(rows)
    finally:
        sessions._ordered = general
    assert (not ordered_generally) == (numbers == list(range(len(numbers))))
    assert ordered == sorted(
        rows, key=lambda row: row.sequence_number if row.sequence_number is not None else -1
    )


@settings(max_examples=300, deadline=None)
@example(numbers=[0, 1, 2])
@example(numbers=[2, 0, 1])
@example(numbers=[None, 0])
@given(numbers=st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=1, max_size=8))
def test_ordered_columns_are_the_columns_of_the_rows_in_sequence_order(
    numbers: list[int | None],
) -> None:
    """ordered_columns gives sequence_order's rows and, field by field, their values."""
    from exchange_tls.protocol_log.sessions import ordered_columns, sequence_order

    rows = [
        ProtocolLogRow.create(
            timestamp=dt.datetime(2024, 6, 1, tzinfo=UTC) + dt.timedelta(seconds=line),
            connector_id="Out",
            session_id="0A",
            sequence_number=number,
            event=Event.SEND,
            data=f"row {line}",
            line=line,
        )
        for line, number in enumerate(numbers, start=1)
    ]
    ordered, columns = ordered_columns(rows)
    assert ordered == sequence_order(rows)
    assert columns == tuple(
        tuple(getattr(row, name) for row in ordered) for name in ProtocolLogRow._fields
    )
