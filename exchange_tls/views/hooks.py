"""What the models show: the renderers the views install in :mod:`exchange_tls.display`.

Importing :mod:`exchange_tls.views` installs them, so ``print(session)``, the notebook's
HTML of a read result or a diagnosis, and ``to_dataframe()`` come from the views while
the models import none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchange_tls import display
from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.model import Diagnosis, Finding
from exchange_tls.protocol_log.models import ProtocolLog, SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.results import ReadResult
from exchange_tls.views.records import records, session_record
from exchange_tls.views.tables import text_table
from exchange_tls.views.text import finding_text, more, text_report

__all__ = ["install", "log_text", "result_text", "session_text"]


# The HTML, records and DataFrame views are imported when first used: printing a
# diagnosis does not load the notebook's HTML.
def _session_html(session: SmtpSession) -> str:
    from exchange_tls.views.html import session_html

    return session_html(session)


def _finding_html(finding: Finding) -> str:
    from exchange_tls.views.html import finding_html

    return finding_html(finding)


def _diagnosis_html(diagnosis: Diagnosis) -> str:
    from exchange_tls.views.html import diagnosis_html

    return diagnosis_html(diagnosis)


def _record_html(item: object) -> str:
    from exchange_tls.views.html import record_html

    return record_html(item)


def _list_html(result: ReadResult[object]) -> str:
    from exchange_tls.views.html import list_html

    return list_html(result.items)


def _to_dataframe(items: Sequence[Any]) -> Any:
    from exchange_tls.views.frames import to_dataframe

    return to_dataframe(items)


#: How many rows ``print(log)`` shows.
_LOG_ROWS = 20


def log_text(log: ProtocolLog) -> str:
    """Return a protocol log's label, row count and first rows, as ``print(log)`` shows it."""
    shown = "\n".join(row.to_line() for row in log.items[:_LOG_ROWS])
    rest = more(len(log.items), _LOG_ROWS)
    label = log.source or "<log>"
    return f"{label}: {len(log.items)} rows\n{shown}" + (f"\n{rest}" if rest else "")


def session_text(session: SmtpSession) -> str:
    """Return a session's facts, then its rows with their places, as ``print(session)``."""
    rows = [{"line": str(row.source), "row": row.to_line()} for row in session.rows]
    facts = session_record(session)
    head = ", ".join(f"{key}={value}" for key, value in facts.items() if value is not None)
    return f"{head}\n{text_table(rows)}"


def result_text(result: ReadResult[object]) -> str:
    """Return a read result's models as a table (other items print as a tuple)."""
    try:
        return text_table(records(result.items))
    except TypeError:  # not models of this package
        return str(result.items)


def install() -> None:
    """Register the renderers of the models in :mod:`exchange_tls.display`."""
    display.register_text(ProtocolLog, log_text)
    display.register_text(ReadResult, result_text)
    display.register_html(ReadResult, _list_html)
    display.register_text(SmtpSession, session_text)
    display.register_html(SmtpSession, _session_html)
    display.register_text(Finding, finding_text)
    display.register_html(Finding, _finding_html)
    display.register_text(Diagnosis, text_report)
    display.register_html(Diagnosis, _diagnosis_html)
    for single in (ExchangeCertificate, SendConnector, ReceiveConnector, QueueRecord):
        display.register_html(single, _record_html)
    display.register_frame(_to_dataframe)
