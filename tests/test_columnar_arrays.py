"""Arrays between numpy and pyarrow, built from buffers: as pyarrow's own, without pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")

from exchange_tls.protocol_log.columnar_arrays import (  # noqa: E402
    byte_codes,
    decimal_numbers,
    first_bytes,
    indices,
    numpy_of,
    strings,
)
from tests.builders import log_text, session_rows  # noqa: E402

TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float32", "float64"]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 100), max_size=40),
    kind=st.sampled_from(TYPES),
    cut=st.tuples(st.integers(0, 10), st.integers(0, 10)),
)
def test_numbers_are_what_to_numpy_gives(
    values: list[int], kind: str, cut: tuple[int, int]
) -> None:
    """Slices included (an offset into the buffer), the values and their type are numpy's."""
    array = pa.array(values, type=getattr(pa, kind)())
    array = array.slice(cut[0], max(0, len(values) - cut[0] - cut[1]))
    mine = numpy_of(array, np)
    assert mine.dtype == array.to_numpy().dtype
    assert mine.tolist() == array.to_numpy().tolist()


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.booleans(), max_size=70), start=st.integers(0, 9))
def test_booleans_are_unpacked_from_their_bits(values: list[bool], start: int) -> None:
    """Booleans sit eight to a byte, from any offset."""
    array = pa.array(values, type=pa.bool_()).slice(start)
    assert numpy_of(array, np).tolist() == array.to_numpy(zero_copy_only=False).tolist()


def test_chunked_arrays_are_combined_and_nulls_refused() -> None:
    """A chunked array reads as one; an array with nulls has no values to give."""
    chunked = pa.chunked_array([pa.array([1, 2]), pa.array([3])])
    assert numpy_of(chunked, np).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="nulls"):
        numpy_of(pa.array([1, None]), np)


@given(st.lists(st.integers(0, 99), max_size=30))
def test_indices_take_as_pa_array_does(values: list[int]) -> None:
    """Positions from numpy or a list take the same rows as pa.array's."""
    column = pa.array([f"row {number}" for number in range(100)])
    built = indices(np.array(values, dtype=np.int64), np, pa)
    assert indices(values, np, pa).equals(built)
    assert column.take(built).equals(column.take(pa.array(values, type=pa.int64())))


@given(st.lists(st.text(max_size=8), max_size=20))
def test_strings_are_pa_array_strings(values: list[str]) -> None:
    """Any text, empty and non-ASCII included."""
    assert strings(values, np, pa).equals(pa.array(values, type=pa.string()))


EVENTS = ["+", "-", ">", "<", "*"]


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.sampled_from(EVENTS), st.text(max_size=3)), max_size=30),
    start=st.integers(0, 5),
)
def test_byte_codes_find_what_index_in_finds(values: list[str], start: int) -> None:
    """Both ways: codes where every value is one of the events, ``None`` where any is not."""
    import pyarrow.compute as pc

    table = np.full(256, -1, dtype=np.int8)
    for code, event in enumerate(EVENTS):
        table[ord(event)] = code
    column = pa.array(values, type=pa.string()).slice(start)
    found = pc.index_in(column, value_set=pa.array(EVENTS))
    codes = byte_codes(column, table, np)
    if found.null_count:
        assert codes is None
    else:
        assert codes is not None
        assert codes.tolist() == found.to_pylist()


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.text(max_size=4), max_size=20),
    start=st.integers(0, 3),
    picks=st.lists(st.integers(0, 30), max_size=10),
)
def test_first_bytes_are_the_first_bytes_of_the_values(
    values: list[str], start: int, picks: list[int]
) -> None:
    """From any offset, empty values and values with no bytes at all included."""
    column = pa.array(values, type=pa.string()).slice(start)
    rows = np.array([pick for pick in picks if pick < len(column)], dtype=np.int64)
    found = first_bytes(column, rows, np)
    expected = [(column[row].as_py().encode() or b"\0")[0] for row in rows.tolist()]
    assert found.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.integers(0, 10**18).map(str),
            st.text("0123456789", min_size=0, max_size=20),
            st.text(max_size=3),
        ),
        max_size=20,
    ),
    start=st.integers(0, 3),
)
def test_decimal_numbers_are_what_pyarrow_casts(values: list[str], start: int) -> None:
    """Both ways: the numbers where every value is 1 to 18 ASCII digits, else ``None``."""
    import pyarrow.compute as pc

    column = pa.array(values, type=pa.string()).slice(start)
    found = decimal_numbers(column, np)
    kept = values[start:]
    if all(value.isascii() and value.isdigit() and 1 <= len(value) <= 18 for value in kept):
        assert found is not None
        assert found.tolist() == pc.cast(column, pa.int64()).to_pylist()
    else:
        assert found is None


def test_the_fast_path_does_not_import_pandas(tmp_path: Path) -> None:
    """Summarising a log column-wise leaves pandas unimported, in a fresh interpreter."""
    log = tmp_path / "SEND2024060100-1.LOG"
    sessions = [
        session_rows(number, "UnknownCredentials" if number % 5 else None) for number in range(60)
    ]
    log.write_text(log_text(*sessions).replace("\n", "\r\n"))
    script = (
        "import sys\n"
        "from exchange_tls.protocol_log.columnar import summarise_clean_log\n"
        f"builder = summarise_clean_log({str(log)!r})\n"
        "assert builder is not None, 'the fast path fell back'\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run(  # noqa: S603 -- our own interpreter, our own code
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
