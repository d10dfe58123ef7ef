"""Views: every model as records, tables, text, HTML and DataFrames, made in one place.

The models hold facts; how they are shown is decided here. The command line's tables,
the notebook's HTML, the DataFrames, ``print(diagnosis)`` and the HTML report all come
from this package, so a column or a sentence is written once.

>>> from exchange_tls import load_evidence
>>> from exchange_tls.views import pick, records, text_table
>>> from exchange_tls.bundled import example_files
>>> evidence = load_evidence(example_files()[0].parent, date_order="MDY")
>>> records(evidence.queues)[0]["error"]
'451 4.4.0 -> 421 4.4.1'
>>> print(text_table(pick(records(evidence.sessions), ["connector", "tls", "tls_error"])))
connector               tls     tls_error
----------------------  ------  ------------------
Outbound to Office 365  failed  UnknownCredentials
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports
from exchange_tls.views import formats, hooks

# ``records`` names a function and its module: imported now, so the function wins.
from exchange_tls.views.records import Record, record, records

if TYPE_CHECKING:
    from exchange_tls.views.frames import to_dataframe
    from exchange_tls.views.html import (
        diagnosis_html,
        finding_html,
        group_by_server,
        list_html,
        record_html,
        report,
        session_html,
    )
    from exchange_tls.views.script import render_script
    from exchange_tls.views.summaries import Count, Filters, Summary, filter_evidence, summary
    from exchange_tls.views.tables import (
        CLI_COLUMNS,
        csv_table,
        html_table,
        json_table,
        pick,
        table,
        text_table,
    )
    from exchange_tls.views.text import coverage_line, finding_text, markdown_report, text_report
    from exchange_tls.views.timeline import outcomes, timeline_svg, timeline_table

# Install how the models print and show in notebooks (see exchange_tls.display), and
# the formats a diagnosis renders to; the other views are imported when first used.
hooks.install()

__all__ = [
    "CLI_COLUMNS",
    "Count",
    "Filters",
    "Record",
    "Summary",
    "coverage_line",
    "csv_table",
    "diagnosis_html",
    "filter_evidence",
    "finding_html",
    "finding_text",
    "formats",
    "group_by_server",
    "hooks",
    "html_table",
    "json_table",
    "list_html",
    "markdown_report",
    "outcomes",
    "pick",
    "record",
    "record_html",
    "records",
    "render_script",
    "report",
    "session_html",
    "summary",
    "table",
    "text_report",
    "text_table",
    "timeline_svg",
    "timeline_table",
    "to_dataframe",
]

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "to_dataframe": "frames",
            "diagnosis_html": "html",
            "finding_html": "html",
            "group_by_server": "html",
            "list_html": "html",
            "record_html": "html",
            "report": "html",
            "session_html": "html",
            "render_script": "script",
            "Count": "summaries",
            "Filters": "summaries",
            "Summary": "summaries",
            "filter_evidence": "summaries",
            "summary": "summaries",
            "CLI_COLUMNS": "tables",
            "csv_table": "tables",
            "html_table": "tables",
            "json_table": "tables",
            "pick": "tables",
            "table": "tables",
            "text_table": "tables",
            "coverage_line": "text",
            "finding_text": "text",
            "markdown_report": "text",
            "text_report": "text",
            "outcomes": "timeline",
            "timeline_svg": "timeline",
            "timeline_table": "timeline",
        },
        __all__,
    )
