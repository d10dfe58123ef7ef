"""Turn raw property values into Python values, the same way for every format.

Text formats give strings (``"True"``, ``"{a, b}"``, ``"8/20/2018 12:00:39 AM"``); JSON
gives numbers, booleans, lists and ``/Date(…)/``; CLIXML gives typed values and objects
with a ``ToString``. Binders call these helpers and never look at the format.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import TypeVar

from exchange_tls.powershell.dates import (
    DateOrder,
    DateReading,
    parse_culture_datetime,
    parse_serialized_datetime,
    to_utc,
)
from exchange_tls.powershell.records import PSObject, PSValue

__all__ = [
    "as_bool",
    "as_datetime",
    "as_enum",
    "as_int",
    "as_text",
    "as_texts",
    "complete_truncated",
    "split_collection",
]

E = TypeVar("E", bound=enum.Enum)


def as_text(value: PSValue) -> str | None:
    """Return the value as text; ``None`` for a missing or empty value."""
    if value is None:
        return None
    if isinstance(value, PSObject):
        if value.to_string is not None:
            return value.to_string or None
        if isinstance(value.value, (str, int)):
            return str(value.value)
        for key in ("value", "DateTime", "Name", "DisplayName"):
            inner = value.value_of(key)
            if isinstance(inner, str) and inner:
                return inner
        return None
    if isinstance(value, tuple):
        items = [text for text in (as_text(item) for item in value) if text]
        return ", ".join(items) or None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, bytes):
        return None
    text = str(value).strip()
    return text or None


def split_collection(text: str) -> tuple[tuple[str, ...], bool]:
    """Split ``{a, b, c...}`` as Format-List prints collections; say if it was cut.

    >>> split_collection("{owa.domain.com, autodiscover.domain.com}")
    (('owa.domain.com', 'autodiscover.domain.com'), False)
    >>> split_collection("{a, b, c, d...}")
    (('a', 'b', 'c', 'd'), True)
    """
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    truncated = text.endswith(("...", "\u2026"))
    if truncated:
        text = text.rstrip(".\u2026")
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    return items, truncated


def as_texts(value: PSValue) -> tuple[str, ...] | None:
    """Return a collection value as a tuple of texts; ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, PSObject) and isinstance(value.value, tuple):
        return tuple(text for text in (as_text(item) for item in value.value) if text)
    if isinstance(value, tuple):
        return tuple(text for text in (as_text(item) for item in value) if text)
    text = as_text(value)
    if text is None:
        return ()
    return split_collection(text)[0]


def as_int(value: PSValue) -> int | None:
    """Return the value as an integer; ``None`` when absent or not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, PSObject) and isinstance(value.value, int):
        return value.value
    text = as_text(value)
    if text is None:
        return None
    text = text.replace(",", "").replace("\u00a0", "").replace(" ", "")
    try:
        return int(text)
    except ValueError:
        return None


def as_bool(value: PSValue) -> bool | None:
    """Return the value as a boolean (``True``, ``$true``, ``1``); ``None`` when unknown."""
    if isinstance(value, bool):
        return value
    text = as_text(value)
    if text is None:
        return None
    folded = text.strip().lstrip("$").lower()
    if folded in ("true", "1"):
        return True
    if folded in ("false", "0"):
        return False
    return None


def as_datetime(
    value: PSValue, date_order: DateOrder | None = None, *, tz: dt.tzinfo = dt.timezone.utc
) -> DateReading:
    """Return the value as a UTC datetime, from any format; a reason when not."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        utc = to_utc(aware)
        if utc is None:
            return DateReading(None, f"{value.isoformat()} lies outside the years 1 to 9999 in UTC")
        return DateReading(utc)
    if isinstance(value, PSObject):
        # Windows PowerShell's ConvertTo-Json writes {value, DisplayHint, DateTime}.
        inner = value.value_of("value")
        if inner is not None:
            return as_datetime(inner, date_order, tz=tz)
    text = as_text(value)
    if text is None:
        return DateReading(None)
    serialized = parse_serialized_datetime(text)
    if serialized is not None:
        return DateReading(serialized)
    return parse_culture_datetime(text, date_order, tz=tz)


def as_enum(
    enum_type: type[E],
    value: PSValue,
    numbers: Mapping[int, E] | None = None,
) -> tuple[E | None, str | None]:
    """Return the value as a member of ``enum_type`` by name, or by number where known.

    Returns the member (or ``None``) and, when the value was present but not
    understood, the reason. A number not in ``numbers`` is never guessed. A name cut
    short by a table (``SmartHost``) is completed when only one member starts with it.
    """
    number = value.value if isinstance(value, PSObject) else value
    if isinstance(number, int) and not isinstance(number, bool):
        if isinstance(value, PSObject) and value.to_string:
            return as_enum(enum_type, value.to_string, numbers)
        member = (numbers or {}).get(number)
        if member is None:
            return None, f"unknown {enum_type.__name__} number {number}"
        return member, None
    text = as_text(value)
    if text is None:
        return None, None
    if text.isdigit():
        return as_enum(enum_type, int(text), numbers)
    member = _by_spelling(enum_type).get(text.casefold())
    if member is not None:
        return member, None
    return None, f"unknown {enum_type.__name__} {text!r}"


def _spellings(member: enum.Enum) -> tuple[str, ...]:
    """How Exchange may print a member: its text value, or its name without ``_``."""
    spellings = [member.name.replace("_", "").casefold()]
    if isinstance(member.value, str):
        spellings.append(member.value.casefold())
    return tuple(spellings)


def _by_spelling(enum_type: type[E]) -> dict[str, E]:
    return {spelling: member for member in enum_type for spelling in _spellings(member)}


def complete_truncated(enum_type: type[E], prefix: str) -> E | None:
    """Return the one member that ``prefix`` begins; ``None`` unless exactly one.

    >>> import enum
    >>> class Kind(enum.Enum):
    ...     SMART_HOST = "SmartHostConnectorDelivery"
    ...     DNS = "DnsConnectorDelivery"
    >>> complete_truncated(Kind, "SmartHost")
    <Kind.SMART_HOST: 'SmartHostConnectorDelivery'>
    """
    folded = prefix.casefold()
    matches = {
        member
        for member in enum_type
        if any(spelling.startswith(folded) for spelling in _spellings(member))
    }
    return matches.pop() if len(matches) == 1 else None
