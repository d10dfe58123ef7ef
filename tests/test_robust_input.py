"""Issue 16: every row of its table of hostile and faulty input, pinned."""

import datetime as dt
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

import exchange_tls.budgets as budgets
import exchange_tls.protocol_log.summary as summary_module
import exchange_tls.walking as walking
from exchange_tls import (
    ParseError,
    load_evidence,
    parse_protocol_log,
    parse_queues,
)
from exchange_tls.certificates.nrbf import NrbfError, read_nrbf
from exchange_tls.protocol_log.reader import iter_protocol_rows
from exchange_tls.protocol_log.sessions import SessionAssembler
from tests.growth import assert_linear, prefix_of

NS = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)
HEADER = "#Software: Microsoft Exchange Server\n#Log-type: SMTP Send Protocol Log\n" + FIELDS
ROW = "2024-06-01T00:00:00.000Z,Out,0A,{n},,,*,,ok"
QUEUE_FL = "Identity : EX01\\1\nNextHopDomain : contoso.com\nStatus : Retry\n"


def clixml_queue(extra: str) -> str:
    """Return an Export-Clixml queue with ``extra`` among its properties."""
    return (
        NS + '<Obj RefId="0"><Props><S N="Identity">EX01\\1</S>'
        '<S N="NextHopDomain">contoso.com</S>' + extra + "</Props></Obj></Objs>"
    )


def log_text(rows: int) -> str:
    """Return a send log with ``rows`` rows of one session."""
    return HEADER + "".join(ROW.format(n=n) + "\n" for n in range(rows))


def codes(problems: object) -> set[str]:
    """Return the codes of a sequence of problems."""
    return {problem.code for problem in problems}  # type: ignore[attr-defined]


# -- dates at the ends of the calendar -------------------------------------------------------

FAR_EAST = dt.timezone(dt.timedelta(hours=5))
FAR_WEST = dt.timezone(dt.timedelta(hours=-5))


@pytest.mark.parametrize(
    ("text", "tz"),
    [("1/1/0001 12:00:00 AM", FAR_EAST), ("12/31/9999 11:59:59 PM", FAR_WEST)],
)
def test_a_format_list_date_beyond_the_calendar_in_utc_is_a_problem(
    text: str, tz: dt.tzinfo
) -> None:
    """A Format-List date whose UTC moment lies outside years 1..9999 is reported, not raised."""
    result = parse_queues(QUEUE_FL + f"LastRetryTime : {text}\n", tz=tz)
    [queue] = result
    assert queue.last_retry_time is None
    assert any("outside the years 1 to 9999" in problem.message for problem in result.problems)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_clixml_date_beyond_the_calendar_in_utc_is_a_problem(text: str) -> None:
    """An Export-Clixml <DT> that overflows in UTC is reported, not raised."""
    result = parse_queues(clixml_queue(f'<DT N="LastRetryTime">{text}</DT>'))
    [queue] = result
    assert queue.last_retry_time is None
    assert result.problems


def test_log_dates_beyond_the_calendar_in_utc_are_problems() -> None:
    """A #Date directive and row timestamps that overflow in UTC are reported, rows go on."""
    text = (
        "#Date: 0001-01-01T00:00:00.000+05:00\n"
        + FIELDS
        + "0001-01-01T00:00:00.000+05:00,a,b,0,,,*,,x\n"
        + "9999-12-31T23:59:59.000-05:00,a,b,1,,,*,,x\n"
        + ROW.format(n=2)
        + "\n"
    )
    log = parse_protocol_log(text)
    assert [row.sequence_number for row in log.rows] == [2]
    assert codes(log.problems) == {"bad-header-date", "bad-timestamp"}


# -- numbers too long for int() --------------------------------------------------------------


def test_a_json_number_of_5000_digits_is_kept_as_text_and_reported() -> None:
    """A ConvertTo-Json integer beyond the digit limit is kept as text, with a problem."""
    text = json.dumps({"Identity": "EX01\\1", "NextHopDomain": "a"})[:-1]
    result = parse_queues(text + ', "MessageCount": ' + "9" * 5000 + "}")
    [queue] = result
    assert queue.message_count is None
    assert "json-long-number" in codes(result.problems)


def test_a_json_date_of_5000_digits_is_not_a_date() -> None:
    """A /Date(…)/ of 5,000 digits is reported as not a date, not raised."""
    text = json.dumps(
        {"Identity": "EX01\\1", "NextHopDomain": "a", "LastRetryTime": f"/Date({'9' * 5000})/"}
    )
    [queue] = parse_queues(text)
    assert queue.last_retry_time is None


# -- NRBF ------------------------------------------------------------------------------------


def test_a_chain_of_nrbf_library_records_is_an_nrbf_error() -> None:
    """20,000 library records in a row raise NrbfError (the record limit), not RecursionError."""
    library = b"\x0c" + struct.pack("<i", 1) + b"\x01a"
    with pytest.raises(NrbfError, match="records"):
        read_nrbf(b"\x00" + b"\x00" * 16 + library * 20_000 + b"\x0b")


# -- lone surrogates -------------------------------------------------------------------------


def test_a_lone_surrogate_escape_in_clixml_becomes_a_replacement_character() -> None:
    """``_xD800_`` in CLIXML reads as U+FFFD, so the value can be written out."""
    text = NS + (
        '<Obj RefId="0"><Props><S N="Identity">EX01\\1</S>'
        '<S N="NextHopDomain">a_xD800_b</S></Props></Obj></Objs>'
    )
    [queue] = parse_queues(text)
    assert queue.next_hop_domain == "a\ufffdb"
    queue.next_hop_domain.encode("utf-8")


def test_a_lone_surrogate_escape_in_json_becomes_a_replacement_character() -> None:
    r"""``\ud800`` in JSON reads as U+FFFD in names and values."""
    [queue] = parse_queues('{"Identity": "EX01\\\\1", "NextHopDomain": "a\\ud800b"}')
    assert queue.next_hop_domain == "a\ufffdb"


# -- sequence numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["\u00b2", "-1", "+5", "1_0", "\u0663"])
def test_a_sequence_number_that_is_not_ascii_digits_is_a_warning(number: str) -> None:
    """Superscripts, signs, underscores and other scripts' digits are not sequence numbers."""
    log = parse_protocol_log(log_text(300) + ROW.format(n=number) + "\n")
    assert log.rows[-1].sequence_number is None
    assert [problem.code for problem in log.problems] == ["bad-sequence"]
    assert len(log.rows) == 301


# -- what load_evidence opens ----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_reported_not_opened(tmp_path: Path) -> None:
    """A FIFO given as a path or found in a folder is reported; reading does not hang."""
    (tmp_path / "queue.txt").write_text(QUEUE_FL)
    os.mkfifo(tmp_path / "pipe")
    evidence = load_evidence(tmp_path)
    assert len(evidence.queues) == 1
    [problem] = [p for p in evidence.problems if p.code == "not-a-file"]
    assert "named pipe" in problem.message
    assert codes(load_evidence(tmp_path / "pipe").problems) == {"not-a-file"}


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_reported_not_read() -> None:
    """A character device is reported without reading a byte."""
    assert codes(load_evidence("/dev/zero").problems) == {"not-a-file"}


def test_a_symlink_loop_in_a_folder_is_reported(tmp_path: Path) -> None:
    """A link loop is reported as unreadable and the folder's other files are read."""
    (tmp_path / "queue.txt").write_text(QUEUE_FL)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "up").symlink_to(tmp_path)
    evidence = load_evidence(tmp_path)
    assert len(evidence.queues) == 1
    assert sorted(Path(p.source).name for p in evidence.problems if p.code == "unreadable") == [
        "a",
        "b",
    ]
    assert "up" in {Path(p.source).name for p in evidence.problems if p.code == "skipped"}


def test_one_unreadable_file_is_reported_and_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that cannot be opened is one problem; the other files are read."""
    (tmp_path / "a-queue.txt").write_text(QUEUE_FL)
    (tmp_path / "b-secret.txt").write_text(QUEUE_FL.replace("EX01\\1", "EX01\\2"))
    real = walking._open_regular

    def refuse(path: Path) -> object:
        if path.name == "b-secret.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(walking, "_open_regular", refuse)
    evidence = load_evidence(tmp_path)
    assert [queue.identity for queue in evidence.queues] == ["EX01\\1"]
    [problem] = [p for p in evidence.problems if p.code == "unreadable"]
    assert problem.source.endswith("b-secret.txt")
    assert "Permission denied" in problem.message


# -- zip archives ----------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytearray:
    """Return a zip archive of ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


def patch_headers(data: bytearray, local: tuple[int, bytes], central: tuple[int, bytes]) -> None:
    """Overwrite bytes at an offset of every local and central header."""
    for signature, (offset, value) in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        position = data.find(signature)
        while position != -1:
            data[position + offset : position + offset + len(value)] = value
            position = data.find(signature, position + 4)


def damaged(kind: str) -> bytes:
    """Return a zip of a queue and a log, damaged in the way ``kind`` names."""
    members = {"a-queue.txt": QUEUE_FL.encode(), "b-SEND.LOG": log_text(2000).encode()}
    if kind == "bad-crc":
        data = zip_bytes(members, zipfile.ZIP_STORED)
        position = data.find(b",Out,0A,1500,")
        data[position + 1] = ord("X")
    elif kind == "bad-deflate":
        data = zip_bytes(members)
        position = data.find(b"b-SEND.LOG") + len(b"b-SEND.LOG") + 20
        data[position : position + 40] = b"\xff" * 40
    elif kind == "encrypted":
        data = zip_bytes(members)
        patch_headers(data, (6, b"\x01"), (8, b"\x01"))
    elif kind == "unknown-method":
        data = zip_bytes(members)
        patch_headers(data, (8, struct.pack("<H", 99)), (10, struct.pack("<H", 99)))
    else:
        data = zip_bytes(members)[:200]
    return bytes(data)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("bad-crc", "unreadable"),
        ("bad-deflate", "unreadable"),
        ("encrypted", "unreadable"),
        ("unknown-method", "unreadable"),
        ("truncated", "bad-archive"),
    ],
)
def test_a_damaged_zip_is_reported_not_raised(tmp_path: Path, kind: str, code: str) -> None:
    """Encrypted, corrupt, truncated and unknown-method archives give problems, no exception."""
    archive = tmp_path / "evidence.zip"
    archive.write_bytes(damaged(kind))
    evidence = load_evidence(archive)
    assert code in codes(evidence.problems)
    if kind in ("bad-crc", "bad-deflate"):
        # The member before the damaged one is read.
        assert len(evidence.queues) == 1


def test_a_zip_bomb_member_is_refused_by_its_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member inflating far beyond its compressed size is refused while inflating."""
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_bytes({"a.txt": b"\0" * (64 << 20), "q.txt": QUEUE_FL.encode()}))
    inflated = 0
    real_readinto = budgets.Limited.readinto

    def counting(self: budgets.Limited, buffer: object) -> int:
        nonlocal inflated
        count = real_readinto(self, buffer)
        inflated += count
        return count

    monkeypatch.setattr(budgets.Limited, "readinto", counting)
    evidence = load_evidence(archive)
    # Refused while inflating: the work is counted, not timed (a budget is in the bench).
    [bomb] = [info for info in zipfile.ZipFile(archive).infolist() if info.filename == "a.txt"]
    assert inflated <= bomb.compress_size * budgets.MAX_INFLATE_RATIO + (1 << 20)
    assert "too-large" in codes(evidence.problems)
    assert len(evidence.queues) == 1


def test_an_archive_is_refused_beyond_its_total_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members are read until the archive's inflated total passes the limit, then refused."""
    monkeypatch.setattr(budgets, "MAX_ARCHIVE_BYTES", 3 * len(QUEUE_FL))
    members = {f"{n:02}.txt": QUEUE_FL.replace("EX01\\1", f"EX01\\{n}").encode() for n in range(10)}
    archive = tmp_path / "many.zip"
    archive.write_bytes(zip_bytes(members, zipfile.ZIP_STORED))
    evidence = load_evidence(archive)
    assert 1 <= len(evidence.queues) <= 3
    assert "unreadable" in codes(evidence.problems) or "too-large" in codes(evidence.problems)


# -- bounded memory and linear time ----------------------------------------------------------


def test_a_session_keeps_at_most_its_row_limit() -> None:
    """An endless session keeps its first rows and its disconnect, and reports the rest."""
    log = parse_protocol_log(log_text(20_000) + "2024-06-01T00:00:01.000Z,Out,0A,20000,,,-,,\n")
    assembler = SessionAssembler(max_rows=1000)
    sessions = [*assembler.feed_all(log.rows), *assembler.close()]
    [session] = sessions
    assert session.complete or session.disconnect_reason is not None or session.rows
    assert len(session.rows) < 1000 + 4096 + 2
    assert session.rows[0].sequence_number == 0
    assert session.rows[-1].sequence_number == 20000
    [(connector, session_id, dropped)] = assembler.truncated
    assert (connector, session_id) == ("Out", "0A")
    assert dropped + len(session.rows) == 20_001


def test_load_evidence_reports_a_truncated_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_evidence says which session lost rows to the limit."""
    monkeypatch.setattr(
        summary_module,
        "SessionAssembler",
        lambda **options: SessionAssembler(max_rows=100, **options),
    )
    (tmp_path / "SEND.LOG").write_text(log_text(10_000))
    evidence = load_evidence(tmp_path)
    assert "session-truncated" in codes(evidence.problems)


def test_an_unclosed_quote_costs_only_its_line() -> None:
    """A quote never closed, followed by 128 KiB of rows, loses no row, in memory or streamed."""
    rows = [ROW.format(n=n) for n in range(5000)]
    rows[10] = rows[10].replace(",ok", ',"unclosed')
    text = "\n".join(rows) + "\n"
    log = parse_protocol_log(text)
    assert len(log.rows) == 5000
    assert [(problem.line, problem.code) for problem in log.problems] == [(11, "unclosed-quote")]


def test_the_streamed_reader_agrees_on_an_unclosed_quote(tmp_path: Path) -> None:
    """The streaming reader gives the same rows and problems as the in-memory one."""
    rows = [ROW.format(n=n) for n in range(5000)]
    rows[10] = rows[10].replace(",ok", ',"unclosed')
    path = tmp_path / "SEND.LOG"
    path.write_text("\n".join(rows) + "\n")
    reader = iter_protocol_rows(path)
    streamed = list(reader)
    in_memory = parse_protocol_log(path.read_text(), source=str(path))
    assert list(streamed) == list(in_memory.rows)
    assert reader.problems == in_memory.problems


def test_a_json_array_of_many_items_is_linear() -> None:
    """80,000 ConvertTo-Json objects, each line counted once: time grows linearly."""
    item = '{{"Identity": "EX01\\\\{n}", "NextHopDomain": "a"}}'

    def array(count: int) -> str:
        return "[\n" + ",\n".join(item.format(n=n) for n in range(count)) + "\n]"

    result = parse_queues(array(80_000))
    assert_linear(parse_queues, array, 2_000)
    assert len(result) == 80_000
    assert result[-1].source is not None
    assert result[-1].source.line == 80_001


def test_a_json_array_beyond_the_item_limit_is_cut_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Items past MAX_ARRAY_ITEMS are not read, and the cut is reported at its line."""
    import exchange_tls.powershell.format_json as format_json

    monkeypatch.setattr(format_json, "MAX_ARRAY_ITEMS", 5)
    item = '{{"Identity": "EX01\\\\{n}", "NextHopDomain": "a"}}'
    result = parse_queues("[\n" + ",\n".join(item.format(n=n) for n in range(10)) + "\n]")
    assert len(result) == 5
    [problem] = [p for p in result.problems if p.code == "json-array-limit"]
    assert problem.line == 7


def test_format_list_continuation_lines_are_linear() -> None:
    """A value of 200,000 continuation lines: time grows linearly."""

    def text_with(lines: int) -> str:
        return QUEUE_FL + "LastError : start\n" + "   more words here\n" * lines

    [queue] = parse_queues(text_with(200_000))
    assert_linear(parse_queues, text_with, 25_000)
    assert queue.last_error is not None


def test_a_huge_clixml_attribute_is_refused_quickly() -> None:
    """A 64 MB attribute is refused before expat parses it (which is quadratic in it)."""

    def text_with(size: int) -> str:
        return clixml_queue('<S N="LastError" X="' + "a" * size + '">x</S>')

    result = parse_queues(text_with(64 << 20))
    assert "xml-limit" in codes(result.problems)
    assert_linear(parse_queues, text_with, 1 << 20, repeat=2)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (NS + "<Obj>" * 300 + "</Obj>" * 300 + "</Objs>", "nested deeper"),
        ('<?xml version="1.0"?><!DOCTYPE Objs [<!ENTITY a "b">]>' + NS + "</Objs>", "unsafe"),
        ('[{"Identity": ' + "[" * 5000 + "]" * 5000 + "}]", "nested too deeply"),
    ],
)
def test_a_file_refused_by_its_reader_says_why(tmp_path: Path, text: str, words: str) -> None:
    """Unsafe or too deep XML, and too deep JSON, are reported with the reader's reason."""
    (tmp_path / "evidence.txt").write_text(text)
    [problem] = [p for p in load_evidence(tmp_path).problems if p.code == "unclassified"]
    assert words in problem.message


def test_a_megabyte_tls_certificate_name_of_escaped_commas_is_quick() -> None:
    """A 1 MB TlsCertificateName is refused at once; an issuer of 30,000 characters is kept."""
    from exchange_tls.certificates.names import TlsCertificateName, parse_tls_certificate_name

    text = "<I>CN=a," + "O=\\,," * 200_000 + "<S>CN=mail.contoso.com"
    with pytest.raises(ParseError) as raised:
        parse_tls_certificate_name(text)
    name = TlsCertificateName.as_written(text)
    assert_linear(TlsCertificateName.as_written, prefix_of(text), len(text) // 8)
    assert_linear(parse_tls_certificate_name, prefix_of(text), len(text) // 8)
    assert raised.value.code == "tls-name-too-long"
    assert (name.issuer, name.subject) == (None, None)
    long_issuer = "<I>CN=a," + "O=\\,," * 6000 + "<S>CN=mail.contoso.com"
    with pytest.raises(ParseError) as raised:
        parse_tls_certificate_name(long_issuer)
    assert raised.value.code == "bad-name"
    name = TlsCertificateName.as_written(long_issuer)
    assert name.issuer is not None
    assert name.issuer.rdns == ()
    assert name.subject is not None
    assert name.subject.common_name == "mail.contoso.com"


def test_a_nul_in_a_log_row_or_csv_field_is_read_on_every_python() -> None:
    """NUL inside a field is data on every Python (3.10's csv refuses it by itself)."""
    from exchange_tls.powershell.reader import read_records

    text = ROW.format(n=1).replace(",ok", ",a\x00b") + "\n" + ROW.format(n=2) + "\n"
    log = parse_protocol_log(text)
    assert [row.context for row in log.rows] == ["a\x00b", "ok"]
    assert log.problems == ()
    _, records, problems = read_records(
        ['"Thumbprint","Subject"', '"AB\x00","CN=x"', '"CD","CN=y"'], source="c.csv"
    )
    assert [record.value_of("Thumbprint") for record in records] == ["AB\x00", "CD"]
    assert problems == ()


def test_a_zip_member_with_an_empty_name_is_reported() -> None:
    """The archive fuzz_load_zip found: an empty member name is reported, not IndexError."""
    path = Path(__file__).parent / "data" / "fuzz" / "zip-empty-member-name.zip"
    evidence = load_evidence(path)
    assert [problem.source for problem in evidence.problems] == [f"{path}!/"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_the_library_readers_refuse_a_named_pipe(tmp_path: Path) -> None:
    """read_source, read_protocol_log and iter_protocol_rows never block on a FIFO."""
    from exchange_tls import read_protocol_log
    from exchange_tls.sources import NotARegularFileError, read_source

    pipe = tmp_path / "SEND20240601-1.LOG"
    os.mkfifo(pipe)
    with pytest.raises(NotARegularFileError, match="named pipe"):
        read_source(pipe)
    with pytest.raises(NotARegularFileError):
        read_protocol_log(pipe)
    reader = iter_protocol_rows(pipe)
    assert list(reader) == []
    assert codes(reader.problems) == {"unreadable"}


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_read_source_refuses_dev_zero() -> None:
    """A character device raises at once instead of being read until memory runs out."""
    from exchange_tls.sources import read_source

    with pytest.raises(OSError, match="character device"):
        read_source("/dev/zero")


def test_json_that_starts_like_a_lasterror_list_is_not_a_queue_error(tmp_path: Path) -> None:
    """'[{' JSON of no known kind is unclassified, not taken for a bracket LastError."""
    (tmp_path / "x.json").write_text('[{"Identity": ' + "[" * 330 + "]" * 330 + "}]")
    assert codes(load_evidence(tmp_path).problems) == {"unclassified"}


def test_json_nested_330_deep_is_unclassified_not_a_crash(tmp_path: Path) -> None:
    """An object nested 330 deep is left out with a problem on every Python version."""
    (tmp_path / "x.json").write_text('[{"Identity": ' + '{"a": ' * 330 + "1" + "}" * 330 + "}]")
    [problem] = load_evidence(tmp_path).problems
    assert problem.code == "unclassified"
