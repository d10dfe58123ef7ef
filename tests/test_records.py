"""The reader's records: lines split by str.split where csv would split them alike.

Records reads lines as a text stream opened with newline="" ends them (at CR LF, LF or a
lone CR), whether its stream ends them so or at LF only, as the reader's does.
"""

import codecs
import csv
import io
import itertools
import sys
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exchange_tls import iter_protocol_rows
from exchange_tls.protocol_log.reader import STANDARD_FIELDS
from exchange_tls.protocol_log.streams import Records, _split_plainly
from exchange_tls.sources import ESCAPE_HANDLER

# Pieces that matter to csv (delimiter, quotes, line breaks, NUL) and some that do not.
_PIECES = st.sampled_from(
    ["a", "b,c", ",", '"', '""', '"x,y"', " ", "\t", "\x00", "é", "中", "\r", "\n", "\r\n"]
)
_TEXT = st.lists(_PIECES, max_size=60).map("".join)
# Text as a file streams it: lines end at \r\n, \n or \r, the last one maybe at nothing.
_STREAMED = _TEXT.map(lambda text: list(io.StringIO(text, newline="")))
# ... or at \n only, as the reader's stream ends them.
_STREAMED_AT_LF = _TEXT.map(lambda text: list(io.StringIO(text, newline="\n")))
# Any strings at all, as any iterable of lines could hold.
_ANY_LINES = st.lists(st.lists(_PIECES, max_size=8).map("".join), max_size=12)


def _at_lone_crs(lines: list[str]) -> list[str]:
    """Split lines again after each CR inside them that no LF follows, one at a time."""
    split = []
    for line in lines:
        start = 0
        for end in range(1, len(line)):
            if line[end - 1] == "\r" and line[end] != "\n":
                split.append(line[start:end])
                start = end
        split.append(line[start:])
    return split


_Batch = tuple[list[list[str]], str | None, int]


def _csv_batches(lines: list[str], size: int) -> list[_Batch]:
    """Batches as the reader took them from one csv.reader: islice, kept up to an error."""
    reader = csv.reader(iter(lines))
    batches = []
    while True:
        batch: list[list[str]] = []
        failure = None
        try:
            batch.extend(itertools.islice(reader, size))
        except csv.Error as error:
            failure = str(error)
        if not batch and failure is None:
            return batches
        batches.append((batch, failure, reader.line_num))


def _record_batches(lines: list[str], size: int) -> list[_Batch]:
    records = Records(iter(lines))
    batches = []
    while True:
        batch, failure, _ = records.take(size)
        if not batch and failure is None:
            return batches
        batches.append((batch, failure, records.line_num))


@settings(max_examples=500, deadline=None)
@example(lines=['a,"b\r\n', 'c",d\r\n', "e\r\n"], size=3)  # a quote left open spans lines
@example(lines=['a,"b\r\n', "c\r\n"], size=1)  # the open quote is the batch's last line
@example(lines=['a,"b'], size=2)  # ... and the text's last line, with no line break
@example(lines=["\r\n", "a\r\n", "\n"], size=2)  # empty lines are records of no field
@example(lines=["a\rb,c\r\n"], size=2)  # a line break inside a line: csv refuses it
@example(lines=["a\x00b,c\r\n", '"\x00",d\r\n'], size=2)
@example(lines=["a\r\r\n", "\r\r\r\n", "b\rc\r\n"], size=2)  # lone CRs end lines too
@given(lines=_STREAMED | _STREAMED_AT_LF | _ANY_LINES, size=st.integers(1, 5))
def test_records_are_what_csv_reader_gives(lines: list[str], size: int) -> None:
    """Records gives csv.reader's records, errors and line counts, batch by batch.

    csv.reader reads the lines split again at each lone CR, as a text stream opened with
    newline="" splits them.
    """
    assert _record_batches(lines, size) == _csv_batches(_at_lone_crs(lines), size)


@settings(max_examples=300, deadline=None)
@example(text="a,b\r\rc,d\r\n\r", chunk=4, size=2)
@given(text=_TEXT, chunk=st.integers(1, 9), size=st.integers(1, 5))
def test_a_stream_ending_lines_at_lf_gives_what_csv_reads_of_universal_lines(
    text: str, chunk: int, size: int
) -> None:
    """Records over a stream that ends lines at LF gives csv.reader's over newline="".

    The decoder's chunks are made tiny, so that a CR LF is often cut between two.
    """

    def stream(newline: str) -> io.TextIOWrapper:
        wrapper = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", newline=newline)
        wrapper._CHUNK_SIZE = chunk  # type: ignore[attr-defined]
        return wrapper

    records = Records(stream("\n"))
    batches = []
    while True:
        batch, failure, _ = records.take(size)
        if not batch and failure is None:
            break
        batches.append((batch, failure, records.line_num))
    assert batches == _csv_batches(list(stream("")), size)


def _one_record_per_line(lines: list[str]) -> bool:
    """Whether each line is one line of a text stream and csv splits it into one record."""
    for line in lines:
        if list(io.StringIO(line, newline="")) != [line]:
            return False  # a lone CR inside it ends a line
        body = line.rstrip("\r\n")
        if "\r" in body or "\n" in body or ("\x00" in body and sys.version_info < (3, 11)):
            return False
        if '"' not in line:
            continue
        if not line.endswith(("\r", "\n")):
            return False
        try:
            [record] = csv.reader([line])
        except (csv.Error, ValueError):
            return False
        if any("\r" in field or "\n" in field for field in record):
            return False
    return True


@settings(max_examples=500, deadline=None)
@example(lines=['a,"b,c",d\r\n', "e,f\r\n", "\r\n"])
@example(lines=['"open\r\n', "more\r\n"])
@example(lines=["a\r\r\n"])
@given(lines=_STREAMED | _STREAMED_AT_LF)
def test_lines_are_split_plainly_exactly_when_csv_reads_each_alone(lines: list[str]) -> None:
    """The shortcut takes every batch whose lines are one record each, and only those.

    Lines of a text stream that csv reads one record each (no lone CR or NUL inside a
    line, every quote closed on its line) are split without a csv.reader over the batch,
    as csv would split them; the rest go to csv.reader as a whole.
    """
    split = _split_plainly(lines)
    assert (split is not None) == _one_record_per_line(lines)
    if split is not None:
        assert split == list(csv.reader(lines))


@given(lines=_ANY_LINES)
def test_lines_split_plainly_are_what_csv_reads_of_any_lines(lines: list[str]) -> None:
    """Whatever the lines hold, what the shortcut splits is what csv.reader gives."""
    split = _split_plainly(lines)
    if split is not None:
        assert split == list(csv.reader(lines))


@pytest.fixture
def small_field_limit() -> Iterator[int]:
    """Lower csv's field limit (a process-wide setting) for one test."""
    previous = csv.field_size_limit(12)
    try:
        yield 12
    finally:
        csv.field_size_limit(previous)


def test_a_field_beyond_csvs_limit_stops_a_batch_as_csv_does(small_field_limit: int) -> None:
    """A field beyond csv's limit ends the batch there, as csv does; the next goes on after it."""
    lines = ["a,b\r\n", "x" * (small_field_limit + 1) + "\r\n", "c,d\r\n", '"e",f\r\n']
    assert _split_plainly(lines) is None
    for size in (1, 2, 4):
        assert _record_batches(lines, size) == _csv_batches(lines, size)


def test_lines_decoded_ahead_of_their_batch_are_still_checked(small_field_limit: int) -> None:
    """Lines read in one batch but split in the next carry its undecodable bytes along."""
    data = b"a,b\r\n" + b"x" * (small_field_limit + 1) + b"\r\nc,\xff\r\n"
    codecs.lookup_error(ESCAPE_HANDLER)  # registered by exchange_tls.sources
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=ESCAPE_HANDLER, newline="")
    records = Records(text)
    first, failure, undecodable = records.take(3)
    assert (first, failure is not None, undecodable) == ([["a", "b"]], True, True)
    second, failure, undecodable = records.take(3)
    assert (second, failure, undecodable) == ([["c", "\udcff"]], None, True)


_LOG_LINE = st.sampled_from(
    [
        "2024-06-01T00:00:00.000Z,Out,0A,0,,,+,,",
        '2024-06-01T00:00:01.000Z,Out,0A,1,,,*,"CN=x, O=y",Certificate subject',
        '2024-06-01T00:00:02.000Z,Out,0A,2,,,*,"torn,ok',
        "2024-06-01T00:00:03.000Z,Out,0A,3,,,-,,Local",
        "#Fields: " + ",".join(STANDARD_FIELDS),
        "",
        "not a row",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.tuples(_LOG_LINE, st.sampled_from(["\r\n", "\n", "\r", "\r\r\n"]))),
)
def test_the_reader_reads_lines_ended_at_lf_as_it_read_universal_lines(
    lines: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A log read from a stream that ends lines at LF gives the rows and problems of newline=""."""
    from exchange_tls.protocol_log import reader

    path = tmp_path_factory.mktemp("log") / "SEND.LOG"
    path.write_bytes("".join(line + end for line, end in lines).encode())
    streamed = iter_protocol_rows(path)
    rows = list(streamed)
    original = reader.open_text

    def universal(*args: object, newline: str = "") -> io.TextIOWrapper:
        return original(*args)  # type: ignore[arg-type]

    reader.open_text = universal  # type: ignore[assignment]
    try:
        before = iter_protocol_rows(path)
        assert rows == list(before)
    finally:
        reader.open_text = original
    assert streamed.problems == before.problems
