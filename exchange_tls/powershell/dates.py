"""Dates as PowerShell prints them: in the culture of the server, or serialized.

Text output (Format-List, tables, queue errors) writes dates in the session's culture:
``8/20/2018 12:00:39 AM`` (en-US), ``12/02/2018 1:53:00 PM`` (en-AU, 12 February),
``15-01-21 23:50:05``, ``02.02.2028 4:22:23`` (ru-RU), ``2019/11/4 13:31:03``. The same
digits mean different days, so a date is read only when its order is certain: from a
4-digit year in front, from a day above 12, or from a ``date_order`` hint. Otherwise the
result is ``None`` and the caller reports a problem; a wrong date is never returned.

Serialized output is unambiguous: ``/Date(1507351676000)/`` (ConvertTo-Json), ISO 8601
(Export-Clixml's ``<DT>``, PowerShell 7's JSON).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Literal

import attrs

from exchange_tls.moments import to_utc

__all__ = [
    "DateOrder",
    "DateReading",
    "from_iso",
    "infer_date_order",
    "normalise_date_order",
    "parse_culture_datetime",
    "parse_serialized_datetime",
    "to_utc",
]

#: The order of day, month and year in a culture's short date.
DateOrder = Literal["MDY", "DMY", "YMD"]
_ORDERS: tuple[DateOrder, ...] = ("MDY", "DMY", "YMD")


# A fraction of a second of any length, before the offset or the end.
_ISO_FRACTION = re.compile(r"\.(\d+)(?=[+-]\d\d(?::?\d\d)?$|$)")
_ISO_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")


def from_iso(text: str) -> dt.datetime:
    """Read ISO 8601 as Python 3.11's ``fromisoformat`` does, on every supported Python.

    Python 3.10 refuses ``Z``, fractions of other than three or six digits, and offsets
    without a colon; .NET writes seven digits. Raises ``ValueError`` as ``fromisoformat``.

    >>> from_iso("2024-06-18T05:42:06.00811-04:00").isoformat()
    '2024-06-18T05:42:06.008110-04:00'
    >>> from_iso("2024-06-18T09:42:06.1234567Z").isoformat()
    '2024-06-18T09:42:06.123456+00:00'
    """
    iso = text.strip()
    if iso[-1:] in ("Z", "z"):
        iso = iso[:-1] + "+00:00"
    iso = _ISO_FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), iso, count=1)
    if "T" in iso or " " in iso:
        iso = _ISO_OFFSET.sub(r"\1:\2", iso)
    return dt.datetime.fromisoformat(iso)


def normalise_date_order(order: str | None) -> DateOrder | None:
    """Return a day order given in any case; raise ``ValueError`` for anything else.

    >>> normalise_date_order("mdy")
    'MDY'
    >>> normalise_date_order("MYD")
    Traceback (most recent call last):
    ValueError: date_order must be one of MDY, DMY or YMD, not 'MYD'
    """
    if order is None:
        return None
    folded = order.strip().upper()
    for known in _ORDERS:
        if folded == known:
            return known
    raise ValueError(f"date_order must be one of MDY, DMY or YMD, not {order!r}")


_CULTURE_DATE = re.compile(
    r"""^\s*
    (?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})\.?
    (?:[\sT]+
      (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,7}))?)?
      \s*(?P<meridiem>[AaPp]\.?\s?[Mm]\.?)?
    )?\s*$""",
    re.VERBOSE,
)
# Milliseconds from 1970 to the year 9999 take 15 digits; longer runs are not dates, and
# bounding them keeps int() away from its digit limit (and its quadratic cost).
_JSON_DATE = re.compile(r"^\s*/?Date\((?P<ms>-?\d{1,18})(?P<offset>[+-]\d{4})?\)/?\s*$")

# Windows' default for two-digit years (Calendar.TwoDigitYearMax): 49 is 2049, 50 is 1950.
_TWO_DIGIT_YEAR_MAX = 2049


@attrs.frozen
class DateReading:
    """The outcome of reading a culture-formatted date."""

    #: The date and time, or ``None`` when it could not be read with certainty.
    value: dt.datetime | None
    #: Why ``value`` is ``None``, for a problem message; ``None`` when it was read.
    reason: str | None = None
    #: The day orders the text is valid in, for inference across several dates.
    orders: tuple[DateOrder, ...] = ()


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        century = _TWO_DIGIT_YEAR_MAX // 100 * 100
        year += century if century + year <= _TWO_DIGIT_YEAR_MAX else century - 100
    return year


def _candidate(order: DateOrder, a: str, b: str, c: str) -> dt.date | None:
    if order == "YMD":
        year, month, day = a, b, c
    elif order == "DMY":
        day, month, year = a, b, c
    else:
        month, day, year = a, b, c
    if len(day) > 2 or len(month) > 2 or len(year) == 3:
        return None
    try:
        return dt.date(_year(year), int(month), int(day))
    except ValueError:
        return None


def _time(match: re.Match[str]) -> dt.time | None:
    if match.group("hour") is None:
        return dt.time(0, 0)
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    second = int(match.group("second") or 0)
    fraction = match.group("fraction") or ""
    microsecond = int((fraction + "000000")[:6])
    meridiem = (match.group("meridiem") or "").lower()[:1]
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    try:
        return dt.time(hour, minute, second, microsecond)
    except ValueError:
        return None


def parse_culture_datetime(
    text: str,
    date_order: DateOrder | None = None,
    *,
    tz: dt.tzinfo = dt.timezone.utc,
) -> DateReading:
    """Read a date in a culture's short format, only when its meaning is certain.

    Exchange prints local server time without an offset; ``tz`` says which zone that
    is (UTC unless told), and the result is converted to UTC.

    >>> parse_culture_datetime("8/20/2018 12:00:39 AM").value
    datetime.datetime(2018, 8, 20, 0, 0, 39, tzinfo=datetime.timezone.utc)
    >>> parse_culture_datetime("12/03/2025 19:50:43").reason
    "ambiguous date '12/03/2025 19:50:43': it reads as MDY or DMY; pass date_order"
    >>> parse_culture_datetime("12/03/2025 19:50:43", "DMY").value.month
    3
    """
    match = _CULTURE_DATE.match(text)
    if match is None:
        return DateReading(None, f"not a date: {text.strip()!r}")
    time = _time(match)
    if time is None:
        return DateReading(None, f"not a valid time of day: {text.strip()!r}")
    a, b, c = match.group("a"), match.group("b"), match.group("c")
    dates: dict[DateOrder, dt.date | None] = {
        order: _candidate(order, a, b, c) for order in _ORDERS
    }
    valid: tuple[DateOrder, ...] = tuple(order for order, date in dates.items() if date is not None)
    if not valid:
        return DateReading(None, f"not a valid date: {text.strip()!r}")
    if date_order is not None:
        chosen = dates[date_order]
        if chosen is None:
            return DateReading(
                None, f"{text.strip()!r} is not a valid {date_order} date", orders=valid
            )
    else:
        distinct = {dates[order] for order in valid}
        if len(distinct) > 1:
            return DateReading(
                None,
                f"ambiguous date {text.strip()!r}: it reads as {' or '.join(valid)}; "
                "pass date_order",
                orders=valid,
            )
        chosen = dates[valid[0]]
    assert chosen is not None  # noqa: S101 -- narrowed by the branches above
    local = dt.datetime.combine(chosen, time, tzinfo=tz)
    utc = to_utc(local)
    if utc is None:
        return DateReading(
            None, f"{text.strip()!r} lies outside the years 1 to 9999 in UTC", orders=valid
        )
    return DateReading(utc, orders=valid)


def infer_date_order(texts: Iterable[str]) -> DateOrder | None:
    """Return the one day order in which every date of ``texts`` is valid, if only one.

    Dates from one server share a culture, so one unambiguous date settles the rest.

    >>> infer_date_order(["12/03/2025 19:50:43", "25/03/2025 08:00:00"])
    'DMY'
    >>> infer_date_order(["12/03/2025 19:50:43"]) is None
    True
    """
    possible = set(_ORDERS)
    seen = False
    for text in texts:
        reading = parse_culture_datetime(text)
        if reading.orders:
            possible &= set(reading.orders)
            seen = True
    if seen and len(possible) == 1:
        return possible.pop()
    return None


def parse_serialized_datetime(text: str) -> dt.datetime | None:
    """Read ``/Date(ms)/`` or ISO 8601; ``None`` when it is neither.

    A value without an offset is taken as UTC.

    >>> parse_serialized_datetime("/Date(1507351676000)/")
    datetime.datetime(2017, 10, 7, 4, 47, 56, tzinfo=datetime.timezone.utc)
    >>> parse_serialized_datetime("2017-10-07T06:47:56.1234567+02:00")
    datetime.datetime(2017, 10, 7, 4, 47, 56, 123456, tzinfo=datetime.timezone.utc)
    """
    match = _JSON_DATE.match(text)
    if match is not None:
        try:
            epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            return epoch + dt.timedelta(milliseconds=int(match.group("ms")))
        except OverflowError:
            return None
    iso = text.strip()
    if len(iso) > 64:
        return None  # no ISO 8601 timestamp is this long
    if not re.match(r"^\d{4}-\d{2}-\d{2}", iso):
        return None
    try:
        value = from_iso(iso)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return to_utc(value)
