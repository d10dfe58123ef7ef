"""Read ``Format-Table`` output (the default view of most cmdlets) into records.

::

    Thumbprint                                Services   Subject
    ----------                                --------   -------
    B8FFF722AAF9E4CFA055581061F6020C70BAC8AF  ...WS..    CN=outlook.exchange.info, OU=…

The dash line under the header gives each column's start; a row is cut at those
positions. A cell the display cut short ends in ``...`` (``…`` in PowerShell 7) and is
marked truncated, never taken as complete. A row whose first cell is empty continues the
row above (``Format-Table -Wrap``). Several tables in one text, each with its header, are
read in turn.
"""

from __future__ import annotations

import itertools
import re

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.records import PSObject, PSProperty
from exchange_tls.sources import SourceRef

__all__ = ["find_table_header", "read_format_table"]

_DASHES = re.compile(r"-+")


def _is_dash_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) <= {"-", " "}


def _columns(header: str, dashes: str) -> list[tuple[str, int]] | None:
    """Column names and start positions, when the header sits over the dash runs."""
    columns: list[tuple[str, int]] = []
    # Runs are taken one at a time: a dash line far wider than its header is refused at
    # the first run past the header, without first listing every run.
    runs = _DASHES.finditer(dashes)
    run = next(runs, None)
    while run is not None:
        following = next(runs, None)
        end = following.start() if following is not None else len(header)
        name = header[run.start() : max(end, run.end())].strip()
        if not name:
            return None
        columns.append((name, run.start()))
        run = following
    return columns


def find_table_header(lines: list[str], start: int = 0) -> int | None:
    """Return the index of the next header line (a line followed by a dash line)."""
    for index in range(start, len(lines) - 1):
        if lines[index].strip() and not _is_dash_line(lines[index]):
            following = lines[index + 1]
            if _is_dash_line(following) and _columns(lines[index], following):
                return index
    return None


_GAP = re.compile(r"[ \t]{2,}")


def _cut_inside_a_word(line: str, columns: list[tuple[str, int]]) -> bool:
    """Whether a column start falls inside a word of the row (the row does not line up)."""
    return any(
        0 < start < len(line) and not line[start - 1].isspace() and not line[start].isspace()
        for _, start in columns[1:]
    )


def _cells(line: str, columns: list[tuple[str, int]]) -> tuple[list[str], bool]:
    """Cut a row at the columns' starts; also say whether it was cut at its gaps instead.

    A row that does not line up with its header (a thumbprint shortened by masking,
    ``8490765C4C47D81***E2F46B…``) is cut at its runs of two or more blanks, when that
    gives one cell per column.
    """
    if _cut_inside_a_word(line, columns):
        parts = _GAP.split(line.strip(), maxsplit=len(columns) - 1)
        if len(parts) == len(columns):
            return parts, True
    cells = []
    for index, (_, start) in enumerate(columns):
        end = columns[index + 1][1] if index + 1 < len(columns) else len(line)
        cells.append(line[start:end].strip())
    return cells, False


def read_format_table(
    lines: list[str], *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read table lines into records; ``first_line`` numbers ``lines[0]``."""
    records: list[tuple[list[str], list[str], int, list[int | None]]] = []
    columns: list[tuple[str, int]] | None = None
    index = 0

    def ignore(indexes: range, message: str) -> None:
        for skipped in indexes:
            if lines[skipped].strip():
                _ignored(collector, source, first_line + skipped, lines[skipped], message)

    while index < len(lines):
        line = lines[index]
        number = first_line + index
        # Searched once per table, not once per line: the search itself scans forward.
        header = find_table_header(lines, index) if columns is None else None
        if columns is None and header is None:
            ignore(range(index, len(lines)), "ignored a line outside any table")
            break
        if header is not None:
            ignore(range(index, header), "ignored a line before the table header")
            columns = _columns(lines[header], lines[header + 1])
            index = header + 2
            continue
        assert columns is not None  # noqa: S101 -- set by the branch above
        if not line.strip():
            index += 1
            continue
        if index + 1 < len(lines) and _is_dash_line(lines[index + 1]):
            columns = None  # a new header block starts here
            continue
        before = line[: columns[0][1]]
        if before.strip():
            collector.report(
                Problem(
                    message=f"ignored {before.strip()!r} before the first column",
                    source=source,
                    line=number,
                    column=1,
                    line_text=line,
                    severity=Severity.INFO,
                    code="outside-columns",
                )
            )
        cells, realigned = _cells(line, columns)
        if realigned:
            collector.report(
                Problem(
                    message="read a row that does not line up with its header by the "
                    "blanks between its cells (a value shortened or lengthened in the paste)",
                    source=source,
                    line=number,
                    column=1,
                    line_text=line,
                    severity=Severity.INFO,
                    code="row-realigned",
                )
            )
        names = [name for name, _ in columns]
        if records and not cells[0] and records[-1][0] == names:
            previous = records[-1][1]
            for position, cell in enumerate(cells):
                if cell:
                    previous[position] = f"{previous[position]} {cell}".strip()
        else:
            records.append((names, cells, number, _widths(columns)))
        index += 1
    return [_record(*record, source=source) for record in records]


def _widths(columns: list[tuple[str, int]]) -> list[int | None]:
    """Each column's width without the separating space; ``None`` for the last."""
    starts = [start for _, start in columns]
    return [after - start - 1 for start, after in itertools.pairwise(starts)] + [None]


def _is_truncated(cell: str, width: int | None) -> bool:
    """Whether the display cut ``cell`` short.

    PowerShell 7 marks a cut with ``…``. Windows PowerShell uses ``...``, which values
    also end in (the flags ``IP.W...``), so there a cell counts as cut only when it
    fills its column to the edge; in the last column, only when it is not all dots.
    """
    if cell.endswith("\u2026"):
        return True
    if not cell.endswith("..."):
        return False
    if width is None:
        return bool(cell.strip("."))
    return len(cell) >= width


def _record(
    names: list[str], cells: list[str], number: int, widths: list[int | None], *, source: str
) -> PSObject:
    properties = []
    for name, cell, width in zip(names, cells, widths, strict=True):
        truncated = _is_truncated(cell, width)
        value = cell.rstrip(".\u2026").rstrip() if truncated else cell
        properties.append(PSProperty(name=name, value=value, line=number, truncated=truncated))
    return PSObject(properties, SourceRef(source, number))


def _ignored(
    collector: ProblemCollector, source: str, number: int, line: str, message: str
) -> None:
    collector.report(
        Problem(
            message=message,
            source=source,
            line=number,
            column=1,
            line_text=line,
            severity=Severity.INFO,
            code="not-a-row",
        )
    )
