"""Read ``Get-Queue`` output in any PowerShell format into :class:`QueueRecord` models."""

from __future__ import annotations

import datetime as dt
import os
from typing import BinaryIO, Literal

from exchange_tls.arguments import check_arguments
from exchange_tls.errors import ErrorMode, ParseError, Severity
from exchange_tls.powershell.binding import RecordBinder, parse_records
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import (
    as_enum,
    as_int,
    as_text,
    complete_truncated,
)
from exchange_tls.queues.last_error import LastError, parse_last_error
from exchange_tls.queues.models import DeliveryType, QueueRecord, QueueStatus
from exchange_tls.results import ReadResult, read_text_file

__all__ = ["parse_queues", "read_queues"]

_QUEUE_PROPERTIES = ("Identity", "QueueIdentity", "DeliveryType", "NextHopDomain", "LastError")
_DATE_PROPERTIES = ("LastRetryTime", "NextRetryTime", "FirstRetryTime")
_STATUS_NUMBERS = {status.value: status for status in QueueStatus}


class _QueueBinder(RecordBinder[QueueRecord]):
    def delivery_type(self, record: PSObject) -> DeliveryType | None:
        prop = record.get("DeliveryType")
        if prop is None:
            return None
        member, reason = as_enum(DeliveryType, prop.value)
        if member is None and prop.truncated and isinstance(prop.value, str):
            member = complete_truncated(DeliveryType, prop.value)
            if member is not None:
                self.report(
                    f"DeliveryType {prop.value!r}... cut short by the table; "
                    f"read as {member.value}, the only type it begins",
                    prop.line,
                    "completed-truncated",
                    Severity.INFO,
                )
                return member
        if reason is not None:
            self.report(f"DeliveryType: {reason}", prop.line, "unknown-value")
        return member

    def status(self, record: PSObject) -> QueueStatus | None:
        prop = record.get("Status")
        if prop is None:
            return None
        member, reason = as_enum(QueueStatus, prop.value, _STATUS_NUMBERS)
        if reason is not None:
            self.report(f"Status: {reason}", prop.line, "unknown-value")
        return member

    def last_error(self, record: PSObject) -> LastError | None:
        prop = record.get("LastError")
        text = as_text(prop.value) if prop is not None else None
        if prop is None or text is None:
            return None
        try:
            error = parse_last_error(
                text, date_order=self.date_order, tz=self.tz, source=self.source, line=prop.line
            )
        except ParseError as failure:
            self.report(
                f"LastError holds no SMTP reply ({failure.message}); kept as text",
                prop.line,
                "last-error-not-a-reply",
            )
            return LastError(reply=None, raw=text, description=text)
        self.collector.extend(list(error.problems))
        return error

    def bind(self, record: PSObject) -> QueueRecord | None:
        if not any(record.get(name) is not None for name in _QUEUE_PROPERTIES):
            self.report(
                "record has none of Identity, DeliveryType, NextHopDomain or "
                f"LastError; it is not a queue (properties: {', '.join(record.names[:6])})",
                record.source.line,
                "not-a-queue",
                Severity.ERROR,
            )
            return None
        return QueueRecord(
            identity=as_text(record.value_of("Identity"))
            or as_text(record.value_of("QueueIdentity")),
            delivery_type=self.delivery_type(record),
            status=self.status(record),
            message_count=as_int(record.value_of("MessageCount")),
            next_hop_domain=as_text(record.value_of("NextHopDomain")),
            last_error=self.last_error(record),
            retry_count=as_int(record.value_of("RetryCount")),
            last_retry_time=self.date(record, "LastRetryTime"),
            next_retry_time=self.date(record, "NextRetryTime"),
            first_retry_time=self.date(record, "FirstRetryTime"),
            tls_domain=as_text(record.value_of("TlsDomain")),
            next_hop_category=as_text(record.value_of("NextHopCategory")),
            next_hop_connector=as_text(record.value_of("NextHopConnector")),
            deferred_message_count=as_int(record.value_of("DeferredMessageCount")),
            source=record.source,
        )


def parse_queues(
    text: str,
    *,
    source: str = "<queues>",
    format: Format | Literal["auto"] = "auto",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    errors: ErrorMode = "collect",
) -> ReadResult[QueueRecord]:
    r"""Read ``Get-Queue`` output: Format-List, table, Export-Csv, JSON or CLIXML.

    Dates in text output are in the server's culture. When ``date_order`` is not given,
    it is inferred from the file's dates when only one order fits them all; otherwise an
    ambiguous date becomes ``None`` with a warning. ``tz`` is the server's time zone
    (Exchange prints local time without an offset); results are in UTC.

    >>> queues = parse_queues(
    ...     "Identity      : EX01\\9\n"
    ...     "DeliveryType  : SmartHostConnectorDelivery\n"
    ...     "Status        : Retry\n"
    ...     "MessageCount  : 42\n"
    ...     "LastError     : [{LRT=};{LED=451 4.4.0 Primary target IP address responded "
    ...     'with: "421 4.4.1 Connection timed out."};{FQDN=};{IP=216.32.181.234}]\n'
    ... )
    >>> [(str(q.status), q.message_count, q.last_error.reply.nested.code) for q in queues]
    [('Retry', 42, 421)]
    """
    check_arguments(
        "parse_queues",
        text=text,
        source=source,
        format=format,
        date_order=date_order,
        tz=tz,
        errors=errors,
    )
    return parse_records(
        text,
        _QueueBinder,
        source=source,
        format=format,
        errors=errors,
        date_properties=_DATE_PROPERTIES,
        date_order=date_order,
        tz=tz,
    )


def read_queues(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    errors: ErrorMode = "collect",
) -> ReadResult[QueueRecord]:
    """Read a file of ``Get-Queue`` output in any encoding; see :func:`parse_queues`."""
    check_arguments(
        "read_queues", file=file, format=format, date_order=date_order, tz=tz, errors=errors
    )
    return read_text_file(
        file,
        lambda text, source: parse_queues(
            text, source=source, format=format, date_order=date_order, tz=tz, errors=errors
        ),
    )
