"""Arrays between numpy and pyarrow for the columnar fast path, without pandas.

``pa.array``, ``pa.scalar``, ``Array.to_numpy`` and a ``ConvertOptions`` given a dict all
ask pyarrow's pandas shim whether their argument is a pandas object, and the first such
question imports pandas when it is installed: about 0.25 s and 40 MiB in every process
that reads a log the fast way, for nothing the fast path uses. These build the same
arrays from buffers, which asks nothing.
"""

# pyarrow and numpy are passed in, as everywhere in the fast path: importing this module
# costs nothing when the columnar extra is not installed.

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["byte_codes", "decimal_numbers", "first_bytes", "indices", "numpy_of", "strings"]

_NUMPY_TYPES = {
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "float": "float32",
    "double": "float64",
}


def numpy_of(array: Any, np: Any) -> Any:
    """Return the values of a pyarrow array of numbers or booleans, without nulls, as numpy.

    Numbers are a read-only view of the array's buffer, as ``to_numpy()`` gives them;
    booleans, which pyarrow packs in bits, are unpacked into a new array.
    """
    if hasattr(array, "num_chunks"):  # a ChunkedArray
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError("an array with nulls has no numpy values of its type")
    kind = str(array.type)
    start, stop = array.offset, array.offset + len(array)
    values = array.buffers()[1]
    if kind == "bool":
        if values is None:
            return np.zeros(0, dtype=bool)
        bits = np.unpackbits(np.frombuffer(values, dtype=np.uint8), bitorder="little")
        return bits[start:stop].astype(bool)
    dtype = np.dtype(_NUMPY_TYPES[kind])
    if values is None:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(values, dtype=dtype)[start:stop]


def indices(values: Any, np: Any, pa: Any) -> Any:
    """Return integers (numpy, or a sequence) as a pyarrow int64 array, for ``take``."""
    array = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(array), [None, pa.py_buffer(array)])


def strings(values: Sequence[str], np: Any, pa: Any) -> Any:
    """Return texts as a pyarrow string array."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))
    )


def byte_codes(column: Any, table: Any, np: Any) -> Any:
    """Return each one-byte value's code in ``table`` (256 entries, -1 for none), or None.

    ``None`` when a value is not exactly one byte or its byte has no code. It reads the
    string array's bytes at once: a byte per value, where ``index_in`` hashes each.
    """
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    if column.null_count or int(offsets[-1]) - int(offsets[0]) != len(column):
        return None  # some value is not one byte (its lengths add up otherwise)
    # Every value has at least no bytes, so lengths adding up to one each are all one.
    if bool((offsets[1:] == offsets[:-1]).any()):
        return None
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    codes = table[data]
    if bool((codes < 0).any()):
        return None
    return codes


def first_bytes(column: Any, rows: Any, np: Any) -> Any:
    """Return the first byte of the values at positions ``rows`` of a string column.

    0 for an empty value (no text has a NUL byte in the fast path). It reads the bytes in
    place, where taking the values and testing their starts copies every one.
    """
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    starts = offsets[rows]
    found = np.zeros(len(starts), dtype=np.uint8)
    data = column.buffers()[2]
    if data is None:
        return found
    present = offsets[rows + 1] > starts
    found[present] = np.frombuffer(data, dtype=np.uint8)[starts[present]]
    return found


#: Digits a sequence number may have: more could pass 64 bits.
MAX_DIGITS = 18


def decimal_numbers(column: Any, np: Any) -> Any:
    """Return a string column's values as int64 when every one is 1 to 18 ASCII digits.

    ``None`` when one is empty, longer, or holds anything but ``0`` to ``9``. The digits
    are read in place, a place at a time, as many times as the longest value has them
    (a session's numbers have one to three).
    """
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ].astype(np.int64)
    if column.null_count or not len(column):
        return None if column.null_count else np.zeros(0, dtype=np.int64)
    lengths = offsets[1:] - offsets[:-1]
    longest = int(lengths.max())
    if int(lengths.min()) < 1 or longest > MAX_DIGITS:
        return None
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    digits = data - np.uint8(ord("0"))  # wraps below "0": every non-digit is above 9
    if int(digits.max()) > 9:
        return None
    starts = offsets[:-1] - offsets[0]
    last = len(digits) - 1
    numbers = digits[starts].astype(np.int64)
    for place in range(1, longest):
        more = lengths > place
        following = digits[np.minimum(starts + place, last)]
        numbers = np.where(more, numbers * 10 + following, numbers)
    return numbers
