"""Detect a PowerShell output format and read it into records.

=============  =========================================================================
format         recognised by
=============  =========================================================================
``clixml``     the root element names PowerShell's CLIXML namespace
``json``       the text starts with ``{`` or ``[`` followed by a JSON value
``csv``        a ``#TYPE`` line, or a first line of quoted, comma-separated names
``table``      a header line over a line of dashes
``list``       a first line of the form ``Name : value``
=============  =========================================================================
"""

from __future__ import annotations

import re
from typing import Literal

from exchange_tls.errors import ErrorMode, ParseError, Problem, ProblemCollector, Severity
from exchange_tls.powershell.format_list import read_format_list
from exchange_tls.powershell.format_table import find_table_header, read_format_table
from exchange_tls.powershell.pasted import strip_common_prefix
from exchange_tls.powershell.prompts import has_prompts, without_prompts
from exchange_tls.powershell.records import PSObject

__all__ = ["FORMATS", "Format", "detect_format", "read_records"]

#: The PowerShell output formats that every evidence reader accepts.
Format = Literal["list", "table", "csv", "json", "clixml"]
FORMATS: tuple[Format, ...] = ("list", "table", "csv", "json", "clixml")

_JSON_START = re.compile(r'^\s*(?:\{\s*(?:"|\})|\[\s*(?:\{\s*(?:"|\})|\]|"|-?\d|true|false|null))')
_CSV_HEADER = re.compile(r'^"[^"]+"(?:,"[^"]*")*\s*$')
_LIST_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*:(?:[ \t]|$)")
# A table header: two or more property names on one line.
_HEADER_WORDS = re.compile(r"^[ \t]*[A-Z][A-Za-z0-9]+(?:[ \t]+[A-Z][A-Za-z0-9]+)+[ \t]*$")


# The readers of CSV, JSON and CLIXML are imported for input in those formats: most
# evidence is pasted Format-List or Format-Table text.
def _looks_like_clixml(text_head: str) -> bool:
    if not text_head.lstrip().startswith("<"):
        return False
    from exchange_tls.powershell.format_clixml import looks_like_clixml

    return looks_like_clixml(text_head)


def _dashless_table(lines: list[str]) -> list[str] | None:
    """Put back the dash line of a pasted table that lost it; ``None`` if it is none.

    Pastes drop the dash line and put blank lines between rows. The header is then the
    first line with text, a line of property names followed by a blank line, and each
    column starts where its name starts. The dash line takes the blank line's place,
    so line numbers do not move.
    """
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None or first + 2 >= len(lines) or lines[first + 1].strip():
        return None
    if not _HEADER_WORDS.match(lines[first]):
        return None
    if not any(line.strip() for line in lines[first + 2 :]):
        return None
    dashes = re.sub(r"\S", "-", lines[first])
    return [*lines[: first + 1], dashes, *lines[first + 2 :]]


_COLUMN_GAP = re.compile(r"\S[ \t]{2,}\S")


def _dashless_table_after_list(lines: list[str]) -> int | None:
    """Find a table without its dash line pasted after Format-List output; its header's index.

    Its header is a line of property names with a column gap (two blanks or more), followed
    by a blank line and a row that has a column gap too: a wrapped value of Format-List
    is a run of words, not columns.
    """
    first_list = next((index for index, line in enumerate(lines) if _LIST_LINE.match(line)), None)
    if first_list is None:
        return None
    for index in range(first_list + 1, len(lines) - 2):
        line = lines[index]
        if _LIST_LINE.match(line) or not _HEADER_WORDS.match(line):
            continue
        if not _COLUMN_GAP.search(line.strip()) or lines[index + 1].strip():
            continue
        row = next((later for later in lines[index + 2 :] if later.strip()), None)
        if row is not None and _COLUMN_GAP.search(row.strip()) and not _LIST_LINE.match(row):
            return index
    return None


def detect_format(lines: list[str]) -> Format | None:
    """Return the format of the text in ``lines``, or ``None`` when none fits."""
    text_head = "\n".join(lines[:50])
    if _looks_like_clixml(text_head):
        return "clixml"
    if _JSON_START.match(text_head):
        return "json"
    content = [line for line in lines if line.strip()]
    if not content:
        return None
    if content[0].startswith("#TYPE") or _CSV_HEADER.match(content[0].strip()):
        return "csv"
    if find_table_header(lines[:200]) is not None:
        header = find_table_header(lines[:200])
        first_list = next(
            (index for index, line in enumerate(lines) if _LIST_LINE.match(line)), None
        )
        if first_list is None or (header is not None and header <= first_list):
            return "table"
    if any(_LIST_LINE.match(line) for line in content[:50]):
        return "list"
    return None


def read_records(
    lines: list[str],
    *,
    source: str,
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
    collector: ProblemCollector | None = None,
) -> tuple[Format, list[PSObject], tuple[Problem, ...]]:
    """Read decoded ``lines`` in ``format`` (or the detected one) into records.

    Returns the format used, the records, and the problems found. In ``errors="raise"``
    mode the first error raises :class:`~exchange_tls.ParseError`.
    """
    collector = collector if collector is not None else ProblemCollector(errors)
    if format not in (*FORMATS, "auto"):
        raise ValueError(f"format must be one of {', '.join(FORMATS)} or 'auto', not {format!r}")
    if format != "clixml" and format != "json":
        lines = strip_common_prefix(lines, source=source, collector=collector)
        if has_prompts(lines[:50]):
            # A forum paste with its "[PS] C:\Windows\system32>Get-…" line.
            lines = without_prompts(lines, source, collector)
    chosen = detect_format(lines) if format == "auto" else format
    if chosen is None and format == "auto":
        repaired = _dashless_table(lines)
        if repaired is not None:
            header_line = next(index for index, line in enumerate(lines) if line.strip())
            collector.report(
                Problem(
                    message="read a table without its dash line: each column starts where "
                    "its name starts in the header",
                    source=source,
                    line=header_line + 1,
                    severity=Severity.INFO,
                    code="table-without-dashes",
                )
            )
            lines, chosen = repaired, "table"
    if chosen is None:
        first = next((index for index, line in enumerate(lines) if line.strip()), 0)
        raise ParseError(
            "not PowerShell output this library reads (Format-List, Format-Table, "
            "Export-Csv, ConvertTo-Json or Export-Clixml)",
            source=source,
            line=first + 1,
            column=1,
            line_text=lines[first] if lines else "",
        )
    table_at = find_table_header(lines) if chosen in ("list", "table") else None
    if table_at is None and chosen == "list":
        dashless = _dashless_table_after_list(lines)
        if dashless is not None:
            # Put the dash line in the blank line's place, so that line numbers hold.
            lines = [
                *lines[: dashless + 1],
                re.sub(r"\S", "-", lines[dashless]),
                *lines[dashless + 2 :],
            ]
            collector.report(
                Problem(
                    message="read a table without its dash line after the Format-List "
                    "output: each column starts where its name starts in the header",
                    source=source,
                    line=dashless + 1,
                    severity=Severity.INFO,
                    code="table-without-dashes",
                )
            )
            table_at = dashless
    if table_at is not None and any(_LIST_LINE.match(line) for line in lines[:table_at]):
        # Format-List output and a table pasted together: each part in its own format.
        records = read_format_list(lines[:table_at], source=source, collector=collector)
        records += read_format_table(
            lines[table_at:], source=source, collector=collector, first_line=table_at + 1
        )
    elif chosen == "list":
        records = read_format_list(lines, source=source, collector=collector)
    elif chosen == "table":
        records = read_format_table(lines, source=source, collector=collector)
    elif chosen == "csv":
        from exchange_tls.powershell.format_csv import read_csv

        records = read_csv(lines, source=source, collector=collector)
    elif chosen == "json":
        from exchange_tls.powershell.format_json import read_json

        records = read_json("\n".join(lines), source=source, collector=collector)
    else:
        from exchange_tls.powershell.format_clixml import read_clixml

        records = read_clixml("\n".join(lines), source=source, collector=collector)
    return chosen, records, collector.problems
