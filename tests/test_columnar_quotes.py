"""The fast path's check of quotes at field boundaries: accepted lines split as csv splits them."""

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exchange_tls.protocol_log import columnar
from exchange_tls.protocol_log.columnar_checks import (
    MAX_FIELD_BYTES,
    Fallback,
    check_fields,
    check_quotes,
    split_lines,
)
from exchange_tls.protocol_log.models import Direction
from tests.builders import WRITINGS, write_field

DATA = Path(__file__).parent / "data" / "protocol-logs"
# Real lines with quotes: a certificate's subject and issuer (KB 4051498), a remote
# banner with the time after a comma (a frontend receive log), a TLS line (a blog).
SAMPLES = [
    line
    for name in (
        "ms-kb4051498_send-log_unknowncredentials_with-endpoints.log",
        "forensics-notes_ex2016-cu22_receive-log_frontend_tls1.2_sending-certificate-combined_logondenied.log",
        "cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log",
    )
    for line in (DATA / name).read_bytes().decode("utf-8-sig").splitlines()
    if '"' in line and not line.startswith("#")
]
# The six fields before event, data and context; the seven before data and context.
HEAD = "2024-06-01T10:00:00.000Z,Outbound,08DC42C8FF236A1F,3,10.0.0.1:25,203.0.113.9:25"
PREFIX = HEAD + ",<,"

# The data and context fields of a line, written in every way CSV may write them.
ACCEPTED = {
    "plain": "250 CHUNKING,",
    "a comma inside": '"250-SIZE 37748736,PIPELINING",',
    "a comma inside the last field": 'x,"a, b"',
    "empty quoted fields": '"",""',
    "a lone quote": '"""",ctx',
    "doubled quotes inside": '"say ""hi"" twice",ctx',
    "doubled quotes at both ends": '"""a""",ctx',
    "a comma after doubled quotes": '"a"",b",ctx',
    "a doubled pair then text": '"a""b",ctx',
    "unneeded quotes": '"plain","Local"',
    "not ASCII": '"Relais für Ämter, Bern",组织内',
}
REFUSED = {
    "a quote inside an unquoted field": 'a"b,ctx',
    "doubled quotes inside an unquoted field": 'ab"",ctx',
    "a quote ending an unquoted field": 'ab",ctx',
    "text after the closing quote": '"a"b,ctx',
    "a blank after the closing quote": '"a" ,ctx',
    "a blank before the opening quote": ' "a",ctx',
    "text after doubled quotes and a closing quote": '"a"""b",ctx',
    "a quote left open": 'x,"open',
    "a quote left open after a doubled pair": '"a"",ctx',
    "a line feed inside quotes": '"a\nb",ctx',
    "a line end inside quotes": '"a\r\nb",ctx',
}


def _careful(data: bytes) -> list[list[str]]:
    """Split ``data`` as the careful reader does."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _fast(data: bytes) -> list[list[str]]:
    """Split ``data`` as the fast path does (pyarrow and the checks); may raise Fallback."""
    _, columns = columnar._Reducer("SEND.LOG", Direction.SEND, 0).split(memoryview(data))
    return [list(row) for row in zip(*(column.to_pylist() for column in columns), strict=True)]


def _quotes(data: bytes) -> list[int]:
    """Run the boundary check alone; return the bytes of each line's values."""
    return list(check_quotes(memoryview(data), split_lines(memoryview(data), np), np, 9))


def _check(data: bytes, rows: list[list[str]]) -> None:
    """Run the whole check on ``data``, as if pyarrow had split it into ``rows``."""
    columns = [pa.array(column, pa.string()) for column in zip(*rows, strict=True)]
    check_fields(columns, memoryview(data), split_lines(memoryview(data), np), np)


def _accepted(data: bytes) -> None:
    """Assert the check passes ``data`` and the fast path splits it as csv does."""
    rows = _careful(data)
    assert _fast(data) == rows
    if data.endswith(b"\n"):  # else the fast path adds the line end first
        assert _quotes(data) == [sum(len(value.encode()) for value in row) for row in rows]
        _check(data, rows)


def _block(*lines: str, line_end: str = "\n") -> bytes:
    return "".join(line + line_end for line in lines).encode()


def test_the_samples_hold_quotes() -> None:
    """The real lines with quotes are there, so the tests over them do not pass vacuously."""
    assert len(SAMPLES) >= 5
    assert any('", ' in line or ',"' in line for line in SAMPLES)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("line", SAMPLES, ids=range(len(SAMPLES)))
def test_real_lines_with_quotes_are_accepted(line: str, line_end: str) -> None:
    """Each real line with quotes passes the check, and pyarrow splits it as csv does."""
    _accepted(_block(line, line_end=line_end))


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("fields", ACCEPTED.values(), ids=list(ACCEPTED))
def test_quotes_where_csv_puts_them_are_accepted(fields: str, line_end: str) -> None:
    """Quotes that open, close or double inside a field pass, alone, among lines, or last."""
    line = PREFIX + fields
    for data in (
        _block(line, line_end=line_end),
        _block(PREFIX + "a,b", line, PREFIX + '"c,d",', line_end=line_end),
        _block(PREFIX + "a,b", line_end=line_end) + line.encode(),  # no line end after it
    ):
        assert len(_careful(data)[-1]) == 9
        _accepted(data)


def test_a_quoted_first_field_is_accepted() -> None:
    """A quote at the block's first byte opens a field (the byte before it is no comma)."""
    _accepted(_block('"' + PREFIX[:24] + '"' + PREFIX[24:] + "a,b", PREFIX + '"a",b'))


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("fields", REFUSED.values(), ids=list(REFUSED))
def test_quotes_anywhere_else_are_refused(fields: str, line_end: str) -> None:
    """A quote that neither opens, closes nor doubles inside a field makes the check fall back.

    The boundary check alone refuses it, and so does the fast path (or pyarrow first).
    """
    for data in (
        _block(PREFIX + fields, line_end=line_end),
        _block(PREFIX + "a,b", PREFIX + fields, PREFIX + '"c,d",', line_end=line_end),
    ):
        with pytest.raises(Fallback):
            _quotes(data)
        with pytest.raises((Fallback, pa.ArrowInvalid)):
            _fast(data)


def test_a_byte_order_mark_starting_a_block_is_refused() -> None:
    """A BOM that starts a block falls back: pyarrow skips it, csv keeps it."""
    data = b"\xef\xbb\xbf" + _block(PREFIX + "a,b")
    assert _careful(data)[0][0].startswith("\ufeff")
    with pytest.raises(Fallback):
        _quotes(data)
    with pytest.raises(Fallback):
        _fast(data)


def test_values_that_do_not_add_up_to_the_line_are_refused() -> None:
    """Columns whose lengths disagree with the bytes (an engine that read otherwise) fall back."""
    data = _block(PREFIX + '"a,b",c', PREFIX + "d,e")
    rows = _careful(data)
    _check(data, rows)
    for changed in ([[*rows[0][:8], "cc"], rows[1]], [rows[0], [*rows[1][:7], "", "e"]]):
        with pytest.raises(Fallback):
            _check(data, changed)


def test_lines_with_more_or_fewer_fields_are_refused() -> None:
    """A line of eight or ten fields, a quoted comma not counted, makes the fast path fall back."""
    for fields in ('"a,b"', '"a,b",c,d', "a,b,c", "a"):
        with pytest.raises((Fallback, pa.ArrowInvalid)):
            _fast(_block(PREFIX + "x,y", PREFIX + fields))


def test_lines_up_to_the_limit_are_accepted() -> None:
    """A line of MAX_FIELD_BYTES passes; one byte more (csv's own limit is near) falls back."""
    line = PREFIX + "x,"
    line += "y" * (MAX_FIELD_BYTES - len(line) - 1)
    _accepted(_block(line))
    with pytest.raises(Fallback):
        _quotes(_block(line + "y"))


_CLEAN = st.text(st.sampled_from('ab ,"é'), max_size=6)
_ANY = st.text(st.sampled_from('ab ,"é\n\r'), max_size=6)


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    """Draw a block of lines whose last three fields hold quotes and commas.

    Half the blocks are written as CSV writes (quoted when needed, or always), with at
    most one field written otherwise; the rest in any way, line ends inside included.
    """
    csv_like = draw(st.booleans())

    def field(csv_like: bool) -> tuple[str, str]:
        if csv_like:
            return draw(_CLEAN), draw(st.sampled_from(("exchange", "quoted")))
        return draw(_ANY), draw(st.sampled_from(WRITINGS))

    lines = [[field(csv_like) for _ in range(3)] for _ in range(draw(st.integers(1, 4)))]
    if csv_like and draw(st.booleans()):
        draw(st.sampled_from(lines))[draw(st.integers(0, 2))] = field(csv_like=False)
    written = []
    for fields in lines:
        texts = [write_field(text, writing) for text, writing in fields]
        written.append(",".join([HEAD, *(text for text in texts if text is not None)]))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    data = line_end.join(written)
    if draw(st.booleans()):
        data += line_end
    return data.encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_lines())
def test_whenever_the_fast_path_splits_a_block_csv_splits_it_alike(data: bytes) -> None:
    """Lines with quotes, commas, doubled or stray quotes, line ends: fast or refused, never other."""
    try:
        fast = _fast(data)
    except (Fallback, pa.ArrowInvalid):  # the check, or a line of more or fewer fields
        event("refused")
        return
    event("accepted, with quotes" if b'"' in data else "accepted")
    assert fast == _careful(data)


def _outcome(data: bytes, scratch: np.ndarray | None) -> object:
    """Return what split_lines and check_quotes say of ``data``, or that it falls back."""
    try:
        marks = split_lines(memoryview(data), np, scratch)
        text = check_quotes(memoryview(data), marks, np, 4)
    except Fallback:
        return "fallback"
    return list(marks.newlines), list(marks.quotes), marks.crlf, marks.ascii_only, list(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_lines(), left=st.booleans(), spare=st.integers(0, 9))
def test_the_checks_say_the_same_in_arrays_of_another_block(
    data: bytes, left: bool, spare: int
) -> None:
    """Arrays reused from block to block, longer and holding the last one's bytes, or not."""
    scratch = np.full((2, len(data) + spare), left)
    assert _outcome(data, scratch) == _outcome(data, None)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | _lines())
def test_the_marks_are_every_line_end_and_quote(data: bytes) -> None:
    """One scan finds what a scan for each byte finds; it refuses what it must.

    That is a NUL, a lone CR, or lines that end both with CR LF and with an LF alone.
    """
    lone_cr = data.replace(b"\r\n", b"").count(b"\r") > 0
    mixed = b"\r\n" in data and data.count(b"\r\n") != data.count(b"\n")
    try:
        marks = split_lines(memoryview(data), np)
    except Fallback:
        assert b"\x00" in data or lone_cr or mixed
        return
    assert b"\x00" not in data
    assert not lone_cr
    assert not mixed
    assert list(marks.newlines) == [at for at, byte in enumerate(data) if byte == ord("\n")]
    assert list(marks.quotes) == [at for at, byte in enumerate(data) if byte == ord('"')]
    assert marks.crlf == (b"\r" in data)
    assert marks.ascii_only == data.isascii()
