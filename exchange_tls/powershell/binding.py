"""What every cmdlet reader shares around its binder.

Split the text, settle the date order, and report a property's problem at its line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.dates import DateOrder, infer_date_order
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_datetime

__all__ = ["RecordBinder", "settle_date_order", "split_lines"]


def split_lines(text: str) -> list[str]:
    """Split pasted or decoded text on any line ending."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def settle_date_order(
    records: Iterable[PSObject],
    properties: Iterable[str],
    *,
    source: str,
    collector: ProblemCollector,
) -> DateOrder | None:
    """Infer the day order from every text date in ``properties``; say so when it is."""
    names = tuple(properties)
    texts = [
        value
        for record in records
        for name in names
        if isinstance(value := record.value_of(name), str) and value.strip()
    ]
    date_order = infer_date_order(texts)
    if date_order is not None:
        collector.report(
            Problem(
                message=f"dates read as {date_order}: the only day order that fits "
                "every date in the file",
                source=source,
                severity=Severity.INFO,
                code="date-order-inferred",
            )
        )
    return date_order


class RecordBinder:
    """The state and helpers a cmdlet's binder shares with the others."""

    def __init__(
        self,
        source: str,
        collector: ProblemCollector,
        date_order: DateOrder | None,
        tz: dt.tzinfo,
    ) -> None:
        self.source = source
        self.collector = collector
        self.date_order: DateOrder | None = date_order
        self.tz = tz

    def report(
        self, message: str, line: int | None, code: str, severity: Severity = Severity.WARNING
    ) -> None:
        """Report a problem with a property at ``line``."""
        self.collector.report(
            Problem(message=message, source=self.source, line=line, severity=severity, code=code)
        )

    def date(self, record: PSObject, name: str) -> dt.datetime | None:
        """Read the date property ``name``; an ambiguous or bad date is reported."""
        prop = record.get(name)
        if prop is None:
            return None
        reading = as_datetime(prop.value, self.date_order, tz=self.tz)
        if reading.reason is not None:
            self.report(f"{name}: {reading.reason}", prop.line, "ambiguous-date")
        return reading.value
