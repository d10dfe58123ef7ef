r"""Read ``Export-Csv`` output into records.

::

    #TYPE Deserialized.Microsoft.Exchange.Data.QueueViewer.ExtensibleQueueInfo
    "Identity","DeliveryType","Status","MessageCount",…
    "EX01\\9","SmartHostConnectorDelivery","Retry","42",…

Rows are split by the standard library's ``csv`` module. The ``#TYPE`` line, when
present, gives the type names. A row with more or fewer fields than the header is
reported, never padded or cut.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from exchange_tls.errors import Problem, ProblemCollector
from exchange_tls.powershell.records import PSObject, PSProperty
from exchange_tls.sources import SourceRef, hide_nul, restore_nul

__all__ = ["read_csv"]


def _rows(
    reader: Iterator[list[str]], source: str, base: int, collector: ProblemCollector
) -> Iterator[list[str]]:
    """Yield rows; a row the splitter refuses is reported, and reading goes on after it."""
    while True:
        try:
            yield next(reader)
        except StopIteration:  # noqa: PERF203 -- recovering per row is the point
            return
        except csv.Error as error:
            line = base + getattr(reader, "line_num", 1) - 1
            collector.report(
                Problem(
                    message=f"cannot split the row: {error}",
                    source=source,
                    line=line,
                    column=1,
                    code="csv-error",
                )
            )
            yield []


def read_csv(
    lines: list[str], *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read Export-Csv lines into records; ``first_line`` numbers ``lines[0]``."""
    type_names: tuple[str, ...] = ()
    offset = 0
    while offset < len(lines) and not lines[offset].strip():
        offset += 1
    if offset < len(lines) and lines[offset].startswith("#TYPE"):
        type_names = (lines[offset][len("#TYPE") :].strip(),)
        offset += 1
    text, stand_in = hide_nul("\n".join(lines[offset:]))
    reader = csv.reader(io.StringIO(text))
    base = first_line + offset
    header: list[str] | None = None
    records: list[PSObject] = []
    start = 1
    for split in _rows(reader, source, base, collector):
        row = restore_nul(split, stand_in)
        number = base + start - 1
        start = reader.line_num + 1
        # A blank line is no row, but in a one-column file "" is an empty value.
        if not row or (
            len(row) == 1 and not row[0].strip() and (header is None or len(header) > 1)
        ):
            continue
        if header is None:
            header = row
            continue
        if len(row) != len(header):
            collector.report(
                Problem(
                    message=f"row has {len(row)} fields, the header has {len(header)}",
                    source=source,
                    line=number,
                    column=1,
                    line_text=lines[number - first_line]
                    if number - first_line < len(lines)
                    else None,
                    code="field-count",
                )
            )
            continue
        properties = [
            PSProperty(name=name, value=value, line=number)
            for name, value in zip(header, row, strict=True)
        ]
        records.append(PSObject(properties, SourceRef(source, number), type_names=type_names))
    return records
