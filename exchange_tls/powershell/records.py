"""Generic records: what every PowerShell output format is read into.

Each reader in this package turns one output format (Format-List, Format-Table,
Export-Csv, ConvertTo-Json, Export-Clixml) into :class:`PSObject` records: ordered
properties with raw values and the line each came from. Binders for certificates,
connectors and queues turn records into models, so each format is read once for every
kind of object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Union

import attrs

from exchange_tls.sources import SourceRef

__all__ = ["PSObject", "PSProperty", "PSValue"]

#: A property value: text from text formats; typed values from JSON and CLIXML.
PSValue = Union[
    str, int, float, bool, None, dt.datetime, dt.timedelta, bytes, "tuple[PSValue, ...]", "PSObject"
]


@attrs.frozen
class PSProperty:
    """One property of a record, as the format gave it."""

    #: The property name, as printed.
    name: str
    #: The raw value: text for the text formats, typed for JSON and CLIXML.
    value: PSValue
    #: The 1-based line where the property (or its record) starts.
    line: int | None = None
    #: Whether the display cut the value short (a table cell ending in ``...``).
    truncated: bool = False


def _properties(value: Iterable[PSProperty]) -> tuple[PSProperty, ...]:
    return tuple(value)


@attrs.frozen
class PSObject:
    """A record: an ordered set of properties, and where it came from."""

    properties: tuple[PSProperty, ...] = attrs.field(converter=_properties)
    #: Where the record starts.
    source: SourceRef
    #: The .NET type names, most derived first, where the format carries them.
    type_names: tuple[str, ...] = ()
    #: The object's ``ToString()`` where the format carries it (CLIXML, enums).
    to_string: str | None = None
    #: The primitive value an object wraps, such as the integer of a serialized enum.
    value: PSValue = None

    def get(self, name: str) -> PSProperty | None:
        """Return the property called ``name`` (case-insensitive), or ``None``."""
        folded = name.casefold()
        for prop in self.properties:
            if prop.name.casefold() == folded:
                return prop
        return None

    def value_of(self, name: str) -> PSValue:
        """Return the value of property ``name``, or ``None`` when it is absent."""
        prop = self.get(name)
        return None if prop is None else prop.value

    @property
    def names(self) -> tuple[str, ...]:
        """The property names, in order."""
        return tuple(prop.name for prop in self.properties)
