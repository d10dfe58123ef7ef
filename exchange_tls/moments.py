"""Date arithmetic that saturates at the ends of the calendar instead of raising.

Evidence carries the calendar's ends: .NET writes ``0001-01-01T00:00:00`` for an empty
date, and certificates are issued valid to ``9999-12-31``. Python's ``datetime`` raises
``OverflowError`` when ``moment - one hour`` falls before year 1 or ``moment + 30 days``
after year 9999. Every addition or subtraction of a duration goes through :func:`shift`,
which stops at :data:`EARLIEST` or :data:`LATEST` instead: "one hour before the first
moment there is" is that first moment, which is what each rule means by it.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["EARLIEST", "LATEST", "shift", "to_utc"]

#: The first moment a ``datetime`` holds, in UTC.
EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
#: The last moment a ``datetime`` holds, in UTC.
LATEST = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def shift(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """Return ``moment + delta``, held at the first or last moment a ``datetime`` holds.

    The result keeps the moment's ``tzinfo`` (a naive moment stays naive).

    >>> shift(dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc), dt.timedelta(hours=1))
    datetime.datetime(2024, 6, 1, 1, 0, tzinfo=datetime.timezone.utc)
    >>> shift(EARLIEST, -dt.timedelta(hours=1)) == EARLIEST
    True
    >>> shift(dt.datetime(9999, 12, 20, tzinfo=dt.timezone.utc), dt.timedelta(days=30)) == LATEST
    True
    """
    try:
        return moment + delta
    except OverflowError:
        end = dt.datetime.max if delta > dt.timedelta(0) else dt.datetime.min
        return end.replace(tzinfo=moment.tzinfo)


def to_utc(moment: dt.datetime) -> dt.datetime | None:
    """Return a moment in UTC (a naive one taken as UTC); ``None`` outside the years 1 to 9999.

    ``0001-01-01T00:00:00+05:00`` is a valid local time whose UTC moment comes before the
    first one there is, which :meth:`~datetime.datetime.astimezone` refuses with
    ``OverflowError``.

    >>> to_utc(dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))) is None
    True
    >>> to_utc(dt.datetime(9999, 12, 31, 23, 59))
    datetime.datetime(9999, 12, 31, 23, 59, tzinfo=datetime.timezone.utc)
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError:
        return None
