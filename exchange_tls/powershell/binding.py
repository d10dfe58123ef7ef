"""What every cmdlet reader shares around its binder.

Split the text, read its records, settle the date order, bind each record to a model,
report a property's problem at its line, and return it all as one
:class:`~exchange_tls.ReadResult` (:func:`parse_records`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

from exchange_tls.errors import ErrorMode, Problem, ProblemCollector, Severity
from exchange_tls.powershell.dates import DateOrder, infer_date_order
from exchange_tls.powershell.reader import Format, read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_datetime
from exchange_tls.results import ReadResult

__all__ = [
    "DATE_ORDER_INFERRED",
    "RecordBinder",
    "inferred_order",
    "parse_records",
    "settle_date_order",
    "split_lines",
]

M = TypeVar("M")


def split_lines(text: str) -> list[str]:
    """Split pasted or decoded text on any line ending."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


#: The code of the problem that says which day order a file's dates settled.
DATE_ORDER_INFERRED = "date-order-inferred"


def inferred_order(problem: Problem) -> DateOrder | None:
    """Return the day order a :data:`DATE_ORDER_INFERRED` problem reports, else ``None``.

    >>> inferred_order(Problem(message="dates read as DMY: the only day order that fits "
    ...     "every date in the file", source="q.txt", code=DATE_ORDER_INFERRED))
    'DMY'
    """
    if problem.code != DATE_ORDER_INFERRED:
        return None
    orders: tuple[DateOrder, ...] = ("MDY", "DMY", "YMD")
    return next((o for o in orders if problem.message.startswith(f"dates read as {o}:")), None)


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
                code=DATE_ORDER_INFERRED,
            )
        )
    return date_order


class RecordBinder(Generic[M]):
    """The state and helpers a cmdlet's binder shares with the others.

    A subclass implements :meth:`bind`, one record to one model of its kind.
    """

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

    def bind(self, record: PSObject) -> M | None:
        """Return the record's model, or ``None`` (with a problem) when it is not one."""
        raise NotImplementedError


def parse_records(
    text: str | list[str],
    binder: type[RecordBinder[M]],
    *,
    source: str,
    format: Format | Literal["auto"],
    errors: ErrorMode | ProblemCollector,
    date_properties: Iterable[str] = (),
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
) -> ReadResult[M]:
    """Read cmdlet output in any PowerShell format into models, with its problems.

    The scaffold of every ``parse_*`` of cmdlet output: the records are read, the date
    order settled from ``date_properties`` when ``date_order`` is not given, and each
    record bound by a ``binder``; a record it refuses is left out with its problem.
    ``text`` may be lines already split; ``errors`` may be a collector that already
    holds problems (a reader that removed prompts first).
    """
    collector = errors if isinstance(errors, ProblemCollector) else ProblemCollector(errors)
    lines = split_lines(text) if isinstance(text, str) else text
    used, records, _ = read_records(lines, source=source, format=format, collector=collector)
    names = tuple(date_properties)
    if date_order is None and names:
        date_order = settle_date_order(records, names, source=source, collector=collector)
    bind = binder(source, collector, date_order, tz).bind
    models = [model for model in map(bind, records) if model is not None]
    return ReadResult(items=models, problems=collector.problems, format=used, source=source)
