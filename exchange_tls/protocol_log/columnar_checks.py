"""Checks for the columnar fast path: pyarrow reads a block as ``csv`` would, or not at all.

Each check raises :class:`Fallback` when the careful reader could read the bytes
differently (see :mod:`~exchange_tls.protocol_log.columnar`): a NUL or a lone carriage
return, a line too long for ``csv``, a quote that neither opens nor closes a field nor is
one of a doubled pair, a timestamp that is not canonical.
"""

# pyarrow.compute's functions are generated when it is imported, so no type checker can
# see them; mypy's override for pyarrow treats them as Any, and so does this line.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

from typing import Any, NamedTuple

from exchange_tls.protocol_log.columnar_arrays import numpy_of

__all__ = [
    "Fallback",
    "Marks",
    "as_array",
    "check_fields",
    "check_line_ends",
    "check_quotes",
    "check_utf8",
    "memory_pool",
    "split_lines",
    "timestamps",
]

MAX_FIELD_BYTES = 100_000  # per line: below csv.field_size_limit(), 131,072 characters
MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z, the first moment Python can hold
_TIMESTAMP_LENGTH = 24
_TIMESTAMP_PUNCTUATION = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_PUNCTUATION_AT = list(_TIMESTAMP_PUNCTUATION)
_PUNCTUATION = b"".join(mark.encode() for mark in _TIMESTAMP_PUNCTUATION.values())
_BOM = b"\xef\xbb\xbf"
_LF, _CR, _COMMA, _QUOTE = b'\n\r,"'


class Fallback(Exception):
    """The file is not clean enough for the fast path: read it carefully."""


def check_line_ends(data: bytes) -> None:
    """Fall back on a lone CR or a NUL."""
    returns = data.count(b"\r")
    if b"\x00" in data or (returns and returns != data.count(b"\r\n")):
        raise Fallback
    if returns and returns != data.count(b"\n"):
        raise Fallback


def memory_pool(pa: Any, *, one_thread: bool) -> Any:
    """Return the pool for the CSV reader's buffers, by the threads that use them.

    Read and freed in ``one_thread``: mimalloc's (pyarrow's default), which keeps a
    thread's freed pages for its next block, so that a block's buffers fault no fresh
    pages in (in a process pool's worker, a third of the page faults, 2 to 3 % of the
    CPU time). Read in one thread and freed in another (the columnar reader's ``Ahead``):
    jemalloc's, else the system's, which give freed blocks back to the OS; mimalloc kept
    them per thread there, which raised peak RSS by about 80 MiB.
    """
    if one_thread:
        try:
            return pa.mimalloc_memory_pool()
        except NotImplementedError:
            return pa.default_memory_pool()
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


def as_array(column: Any) -> Any:
    """Return a chunked array as one array, without a copy when it is one chunk."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def timestamps(column: Any, np: Any, pa: Any, pc: Any) -> Any:
    """Return milliseconds since the epoch; fall back unless every one is canonical.

    Canonical is 24 bytes with the punctuation of ``YYYY-MM-DDTHH:MM:SS.fffZ`` in its
    places. pyarrow's cast takes other forms (a space for the ``T``, fewer fraction
    digits), but refuses a non-digit where a digit must be, and a day, hour or second
    out of range, as the careful reader does: its refusal is a fallback.
    """
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    if column.null_count or bool((offsets[1:] - offsets[:-1] != _TIMESTAMP_LENGTH).any()):
        raise Fallback
    raw = np.frombuffer(column.buffers()[2], dtype=np.uint8)[
        offsets[0] : offsets[0] + len(column) * _TIMESTAMP_LENGTH
    ].reshape(-1, _TIMESTAMP_LENGTH)
    if bool((raw[:, _PUNCTUATION_AT] != np.frombuffer(_PUNCTUATION, dtype=np.uint8)).any()):
        raise Fallback
    moments = numpy_of(pc.cast(column, pa.timestamp("ms", tz="UTC")).cast(pa.int64()), np)
    if int(moments.min()) < MIN_MS:
        raise Fallback
    return moments


class Marks(NamedTuple):
    """The bytes of a block that the checks look at (:func:`split_lines`)."""

    #: Where each line ends: the place of its LF.
    newlines: Any
    #: The place of each quote.
    quotes: Any
    #: Whether every line ends with CR LF (else each ends with an LF alone).
    crlf: bool
    #: Whether every byte is ASCII.
    ascii_only: bool


#: Bytes below this are NUL, LF, CR and the rarer control characters.
_CONTROL = 14


def split_lines(data: memoryview, np: Any, scratch: Any = None) -> Marks:
    """Return where the lines of ``data`` end and its quotes are (:class:`Marks`).

    Fall back on a NUL, a lone CR, or lines that end both with CR LF and with an LF
    alone (the lengths of :func:`check_quotes` take one kind of line end). One scan
    finds every byte the checks look at: NUL, LF and CR are below 14 (with tabs and
    rarer control characters, passed over), the quote is 34; finding the places of
    marked bytes costs by the byte scanned, not by the byte found, so one scan instead
    of three (LF, CR, quote) is about 6 % of a worker's time. ``scratch``, a bool array
    of two rows each at least as long as ``data``, is written instead of fresh arrays:
    a fresh one of megabytes each time is pages mapped and faulted in anew, each fault
    dear in a virtual machine.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if scratch is None:
        scratch = np.empty((2, raw.size), dtype=bool)
    marked, quoted = scratch[0, : raw.size], scratch[1, : raw.size]
    np.less(raw, _CONTROL, out=marked)
    np.equal(raw, _QUOTE, out=quoted)
    np.logical_or(marked, quoted, out=marked)
    places = np.flatnonzero(marked)
    found = raw[places]
    if bool((found == 0).any()):
        raise Fallback
    newlines = places[found == _LF]
    returns = int(np.count_nonzero(found == _CR))
    if returns and (returns != newlines.size or bool((raw[newlines - 1] != _CR).any())):
        raise Fallback
    return Marks(
        newlines=newlines,
        quotes=places[found == _QUOTE],
        crlf=bool(returns),
        ascii_only=not raw.size or int(raw.max()) < 0x80,
    )


def check_quotes(data: memoryview, marks: Marks, np: Any, fields: int) -> Any:
    """Return the bytes of each line's values; fall back unless ``csv`` and pyarrow agree.

    ``data`` ends with a line end, ``marks`` are its line ends and quotes
    (:func:`split_lines`), and each line should hold ``fields`` fields. Both readers
    split a line at each comma outside quotes, and read a quoted field alike, as long
    as every quote is where CSV puts one: opening a field (at the line's start or right
    after a comma), closing it (right before a comma or the line end), or one of a
    doubled pair inside a quoted field. Read in order, the
    quotes of such a line alternate: the first, third, fifth... open (a field, or the
    second quote of a doubled pair), the others close (a field, or the first of a
    pair). So the check needs no state machine, only the bytes around each quote: every
    opener follows a comma, a line end or a closer; every closer precedes a comma, a
    line end or an opener; every closer is on its opener's line. Anything else (a quote
    inside an unquoted field, text after a closing quote, a quoted field left open or
    spanning lines) each reader may read its own way, and falls back. So does a BOM at
    the start of ``data``, which pyarrow skips and ``csv`` keeps.

    The bytes of a line's values are then all but its commas, its line end and, for
    each quoted field, its two quotes and one of each doubled pair.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if not raw.size or raw[-1] != _LF or bytes(data[:3]) == _BOM:
        raise Fallback
    newlines, quotes = marks.newlines, marks.quotes
    lengths = np.diff(newlines, prepend=-1)  # each line's bytes, its LF included
    if int(lengths.max()) > MAX_FIELD_BYTES:
        raise Fallback
    text = lengths - (fields + marks.crlf)
    if not quotes.size:
        return text
    if quotes.size % 2:
        raise Fallback
    opening, closing = quotes[0::2], quotes[1::2]
    line = np.searchsorted(newlines, opening)
    if bool((np.searchsorted(newlines, closing) != line).any()):
        raise Fallback  # a quoted field spans a line end
    before = raw[opening - 1]  # before the first byte: raw[-1], an LF
    after = raw[closing + 1]  # a quote is never the last byte, an LF
    doubled = before == _QUOTE  # an opener right after a closer: "" inside a field
    opens = (before == _COMMA) | (before == _LF) | doubled
    closes = (after == _COMMA) | (after == _LF) | (after == _CR) | (after == _QUOTE)
    if not (bool(opens.all()) and bool(closes.all())):
        raise Fallback
    return (
        text
        - 2 * np.bincount(line, minlength=newlines.size)
        + np.bincount(line[doubled], minlength=newlines.size)
    )


def check_fields(columns: list[Any], data: memoryview, marks: Marks, np: Any) -> None:
    """Fall back unless ``csv`` would split ``data`` into these columns.

    ``marks`` are the line ends (one for each row of ``columns``) and quotes of
    ``data``. The quotes are checked (:func:`check_quotes`), and the engine is held to
    the bytes: the lengths of each row's values must add up to its line's text.
    """
    text = check_quotes(data, marks, np, len(columns))
    values = np.zeros(marks.newlines.size, dtype=np.int64)
    for column in columns:
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
        values += np.diff(offsets[column.offset : column.offset + len(column) + 1])
    if not np.array_equal(values, text):
        raise Fallback


def check_utf8(columns: list[Any], np: Any) -> None:
    """Fall back unless every column that holds a byte above ASCII is valid UTF-8.

    The reader does not check (quotes, commas and line ends are ASCII, so every other
    byte is in some value). Most columns of a log are ASCII: they are scanned, not
    decoded. Columns the caller encodes as dictionaries are best checked on those.
    """
    for column in columns:
        data = column.buffers()[2]
        if data is None:
            continue
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
        start, stop = offsets[column.offset], offsets[column.offset + len(column)]
        values = np.frombuffer(data, dtype=np.uint8)[start:stop]
        if not values.size or int(values.max()) < 0x80:
            continue
        try:
            column.validate(full=True)
        except Exception:  # pyarrow's ArrowInvalid: the careful reader says where
            raise Fallback from None
