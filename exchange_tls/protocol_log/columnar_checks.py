"""Checks for the columnar fast path: pyarrow reads a block as ``csv`` would, or not at all.

Each check raises :class:`Fallback` when the careful reader could read the bytes
differently (see :mod:`~exchange_tls.protocol_log.columnar`): a NUL or a lone carriage
return, a line too long for ``csv``, a quoted line that is not what Exchange writes, a
timestamp that is not canonical.
"""

# pyarrow.compute's functions are generated when it is imported, so no type checker can
# see them; mypy's override for pyarrow treats them as Any, and so does this line.
# pyright: reportAttributeAccessIssue=false

from __future__ import annotations

from typing import Any

__all__ = [
    "Fallback",
    "as_array",
    "check_line_ends",
    "check_render",
    "memory_pool",
    "split_lines",
    "timestamps",
]

MAX_FIELD_BYTES = 100_000  # per line: below csv.field_size_limit(), 131,072 characters
MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z, the first moment Python can hold
_TIMESTAMP_LENGTH = 24
_TIMESTAMP_PUNCTUATION = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_BOM = b"\xef\xbb\xbf"


class Fallback(Exception):
    """The file is not clean enough for the fast path: read it carefully."""


def check_line_ends(data: bytes) -> None:
    """Fall back on a lone CR or a NUL."""
    returns = data.count(b"\r")
    if b"\x00" in data or (returns and returns != data.count(b"\r\n")):
        raise Fallback
    if returns and returns != data.count(b"\n"):
        raise Fallback


def memory_pool(pa: Any) -> Any:
    """Return jemalloc's pool, else the system's: both give freed blocks back to the OS.

    pyarrow's default, mimalloc, keeps them per thread, which raised peak RSS by about
    80 MiB here. The process's default pool is left as it is.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


def as_array(column: Any) -> Any:
    """Return a chunked array as one array, without a copy when it is one chunk."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def timestamps(column: Any, np: Any, pa: Any, pc: Any) -> Any:
    """Return milliseconds since the epoch; fall back unless every one is canonical."""
    if pc.min(pc.binary_length(column)).as_py() != _TIMESTAMP_LENGTH or (
        pc.max(pc.binary_length(column)).as_py() != _TIMESTAMP_LENGTH
    ):
        raise Fallback
    first = int(np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset])
    raw = np.frombuffer(column.buffers()[2], dtype=np.uint8)[
        first : first + len(column) * _TIMESTAMP_LENGTH
    ].reshape(-1, _TIMESTAMP_LENGTH)
    # Each position between its bounds: a digit, or the one punctuation it must be.
    low = np.array(
        [ord(_TIMESTAMP_PUNCTUATION.get(at, "0")) for at in range(_TIMESTAMP_LENGTH)],
        dtype=np.uint8,
    )
    high = np.array(
        [ord(_TIMESTAMP_PUNCTUATION.get(at, "9")) for at in range(_TIMESTAMP_LENGTH)],
        dtype=np.uint8,
    )
    if bool(((raw < low) | (raw > high)).any()):
        raise Fallback
    moments = pc.cast(column, pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
    if int(moments.min()) < MIN_MS:
        raise Fallback
    return moments


def split_lines(data: memoryview, np: Any) -> tuple[Any, bool]:
    """Return where each line of ``data`` ends (its LF), and whether it is all ASCII.

    Fall back on a NUL or a lone CR.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size and int(raw.min()) == 0:
        raise Fallback
    newlines = np.flatnonzero(raw == ord("\n"))
    returns = int(np.count_nonzero(raw == ord("\r")))
    if returns and (returns != newlines.size or bool((raw[newlines - 1] != ord("\r")).any())):
        raise Fallback
    return newlines, not raw.size or int(raw.max()) < 0x80


def _commas_and_quotes(column: Any, np: Any) -> tuple[bool, bool]:
    """Whether any value of a string array holds ``,``, and ``"`` (a scan of its bytes)."""
    values = column.buffers()[2]
    if values is None:
        return False, False
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)
    first, last = offsets[column.offset], offsets[column.offset + len(column)]
    raw = np.frombuffer(values, dtype=np.uint8)[first:last]
    return bool((raw == ord(",")).any()), bool((raw == ord('"')).any())


def check_render(columns: list[Any], data: memoryview, newlines: Any, np: Any, pa: Any) -> None:
    """Fall back unless ``csv`` would split ``data`` into these columns.

    A line without a quote is split at its commas by both readers. A line with one must
    be what writing its fields as Exchange does (quoting only fields with ``,`` or
    ``"``) gives back, byte for byte.
    """
    import pyarrow.compute as pc

    if bytes(data[:3]) == _BOM:
        raise Fallback  # pyarrow skips a BOM at the start of its input; csv keeps it
    starts = np.concatenate([[0], newlines + 1]).astype(np.int32)
    if len(newlines) and int(np.diff(starts).max()) > MAX_FIELD_BYTES:
        raise Fallback
    quotes = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord('"'))
    if not quotes.size:
        return
    # Quotes come in order, so their lines do: keep each line once, without a sort.
    at = np.searchsorted(newlines, quotes)
    quoted = pa.array(at[np.flatnonzero(np.diff(at, prepend=-1))])
    written = pa.StringArray.from_buffers(
        len(newlines), pa.py_buffer(starts), pa.py_buffer(data)
    ).take(quoted)
    terminator = "\r\n" if bytes(data[-2:]) == b"\r\n" else "\n"
    rendered = []
    for column in columns:
        column = column.take(quoted)
        commas, quotes_inside = _commas_and_quotes(column, np)
        if commas or quotes_inside:
            if commas and quotes_inside:
                needs = pc.or_(pc.match_substring(column, ","), pc.match_substring(column, '"'))
            else:
                needs = pc.match_substring(column, "," if commas else '"')
            escaped = pc.replace_substring(column, '"', '""') if quotes_inside else column
            enclosed = pc.binary_join_element_wise('"', escaped, '"', "")
            column = pc.if_else(needs, enclosed, column)
        rendered.append(column)
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*rendered, ","), "", terminator)
    if not pc.all(pc.equal(lines, written)).as_py():
        raise Fallback
