"""Tables of records: for a terminal, as CSV, as JSON and as HTML.

Every table is made from :mod:`exchange_tls.views.records`; a view may pick columns, but
never renames or recomputes them.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence

from exchange_tls.safe_text import for_json, for_terminal
from exchange_tls.views.records import plain

__all__ = [
    "CLI_COLUMNS",
    "LONGEST_CELL",
    "csv_table",
    "header",
    "html_cell",
    "html_table",
    "json_table",
    "pick",
    "shorten",
    "table",
    "text_table",
]

#: The columns the command line shows for each table (the JSON and CSV carry the same).
CLI_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": (
        "start",
        "connector",
        "session",
        "direction",
        "remote",
        "tls",
        "tls_error",
        "protocol",
        "certificate",
    ),
    "certificates": (
        "thumbprint",
        "services",
        "subject",
        "not_after",
        "has_private_key",
        "status",
    ),
    "queues": ("identity", "status", "messages", "next_hop", "error"),
    "send-connectors": (
        "name",
        "fqdn",
        "tls_certificate_name",
        "require_tls",
        "tls_auth_level",
        "smart_hosts",
        "protocol_logging",
    ),
    "findings": ("rule_id", "severity", "confidence", "subject", "occurrences"),
    "rules": ("rule", "severity", "mode", "title"),
}


def pick(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> list[dict[str, object]]:
    """Keep the given columns of each record, in that order."""
    return [{column: row.get(column) for column in columns} for row in rows]


def _cell(value: object) -> str:
    value = plain(value)
    return "" if value is None else str(value)


def text_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Align records in columns for a terminal; control characters are shown escaped.

    >>> from exchange_tls.views import text_table
    >>> print(text_table([{"name": "a", "count": 1}, {"name": "bb", "count": None}]))
    name  count
    ----  -----
    a     1
    bb
    """
    if not rows:
        return "(none)"
    columns = list(rows[0])
    cells = [[for_terminal(_cell(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    return "\n".join(lines)


def csv_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Write records as CSV with a header row (an empty table is an empty string)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: plain(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue().rstrip("\n")


def json_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Write records as a JSON array, times in ISO 8601."""
    document = [{key: plain(value) for key, value in row.items()} for row in rows]
    return for_json(json.dumps(document, indent=2, default=str, ensure_ascii=False))


def table(rows: Sequence[Mapping[str, object]], format: str) -> str:
    """Write records as ``text``, ``csv`` or ``json``."""
    if format == "json":
        return json_table(rows)
    if format == "csv":
        return csv_table(rows)
    return text_table(rows)


#: The longest value a table cell shows; past it, how many characters were left out (the
#: JSON has them all). A browser lays out a 50,000-character word slowly, and no one reads it.
LONGEST_CELL = 600


def shorten(text: str, limit: int | None = LONGEST_CELL) -> str:
    """Cut text longer than ``limit``, saying how much was left out.

    >>> shorten("a" * 30, 10)
    'aaaaaaaaaa… (20 more characters)'
    """
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def html_cell(value: object, *, limit: int | None = LONGEST_CELL) -> str:
    """Escape a value for HTML, control characters shown as visible escapes, long ones cut.

    ``limit=None`` keeps every character (a command meant for copying).
    """
    return html.escape(shorten(for_terminal(_cell(value)), limit))


#: Headers people read, for the record columns whose names say it less well.
_HEADERS = {
    "has_private_key": "Private key",
    "not_after": "Valid until",
    "not_before": "Valid from",
    "rule_id": "Rule",
    "tls": "TLS",
    "tls_error": "TLS error",
    "tls_succeeded": "TLS succeeded",
    "tls_certificate_name": "TLS certificate name",
    "tls_auth_level": "TLS auth level",
    "tls_domain": "TLS domain",
    "require_tls": "Requires TLS",
    "fqdn": "FQDN",
    "next_hop": "Next hop",
    "failing_share": "Failing share",
}


def header(column: str) -> str:
    """Return the header a person reads for a record column.

    >>> header("has_private_key"), header("last_retry"), header("TLS failed")
    ('Private key', 'Last retry', 'TLS failed')
    """
    if column in _HEADERS:
        return _HEADERS[column]
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def html_table(rows: Sequence[Mapping[str, object]], *, css_class: str = "") -> str:
    """Render records as an HTML table, every value escaped, with headers people read.

    >>> from exchange_tls.views import html_table
    >>> html_table([{"subject": "<b>"}])
    '<table><thead><tr><th>Subject</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    if not rows:
        return "<p><em>(none)</em></p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html_cell(header(column))}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_cell(row.get(column))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    attribute = f' class="{html.escape(css_class)}"' if css_class else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
