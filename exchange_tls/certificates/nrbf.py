"""A small, bounded reader for .NET binary serialization ([MS-NRBF]).

Export-Clixml of ``Get-ExchangeCertificate`` from a remote session carries the
certificate's Exchange properties only inside ``SerializationData``: the
``BinaryFormatter`` stream of the ``ExchangeCertificate`` object. This reader walks the
records of that format far enough to return the root object's members; it never
executes or instantiates anything, bounds every length by the bytes that remain, limits
nesting and record count, and stops (keeping what it read) at a record kind it does not
handle. Errors are :class:`NrbfError`, a :class:`~exchange_tls.ParseError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import attrs

from exchange_tls.errors import ParseError

__all__ = ["NrbfError", "NrbfObject", "read_nrbf"]

MAX_DEPTH = 32
MAX_RECORDS = 10_000
MAX_MEMBERS = 1_000
_SIGNED = b"#sig#"


class NrbfError(ParseError):
    """A binary serialization stream that cannot be read."""


@attrs.frozen
class NrbfObject:
    """An object from the stream: its class name and its members in order."""

    class_name: str
    members: tuple[tuple[str, Any], ...]
    #: Whether reading stopped before all members were read.
    partial: bool = False

    def get(self, name: str) -> Any:
        """Return member ``name``, or ``None``."""
        for member, value in self.members:
            if member == name:
                return value
        return None

    @property
    def enum_value(self) -> int | None:
        """The integer of a serialized enum (its ``value__`` member)."""
        value = self.get("value__")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


_PRIMITIVES: dict[int, tuple[str, int]] = {
    1: ("<?", 1),  # Boolean
    2: ("<B", 1),  # Byte
    6: ("<d", 8),  # Double
    7: ("<h", 2),  # Int16
    8: ("<i", 4),  # Int32
    9: ("<q", 8),  # Int64
    10: ("<b", 1),  # SByte
    11: ("<f", 4),  # Single
    12: ("<q", 8),  # TimeSpan (ticks)
    13: ("<Q", 8),  # DateTime (ticks and kind)
    14: ("<H", 2),  # UInt16
    15: ("<I", 4),  # UInt32
    16: ("<Q", 8),  # UInt64
}


@attrs.define
class _Class:
    name: str
    members: list[str]
    types: list[tuple[int, Any]]


class _Stop(Exception):
    """A record kind this reader does not handle: stop and keep what was read."""


class _Reader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.position = 0
        self.source = source
        self.classes: dict[int, _Class] = {}
        self.objects: dict[int, Any] = {}
        self.records = 0

    def fail(self, message: str) -> NrbfError:
        return NrbfError(f"{message} at byte {self.position}", source=self.source)

    def take(self, count: int) -> bytes:
        if count < 0 or self.position + count > len(self.data):
            raise self.fail(f"a length of {count} runs past the end of the stream")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def int32(self) -> int:
        value: int = struct.unpack("<i", self.take(4))[0]
        return value

    def string(self) -> str:
        length, shift = 0, 0
        for _ in range(5):
            part = self.byte()
            length |= (part & 0x7F) << shift
            if not part & 0x80:
                break
            shift += 7
        else:
            raise self.fail("a string length longer than five bytes")
        return self.take(length).decode("utf-8", "replace")

    def primitive(self, kind: int) -> Any:
        if kind in (5, 18):  # Decimal and String are length-prefixed strings
            return self.string()
        if kind == 17:
            return None
        if kind == 3:  # Char: one UTF-8 character
            first = self.data[self.position] if self.position < len(self.data) else 0
            size = 1 if first < 0x80 else 2 if first < 0xE0 else 3 if first < 0xF0 else 4
            return self.take(size).decode("utf-8", "replace")
        if kind not in _PRIMITIVES:
            raise self.fail(f"unknown primitive type {kind}")
        code, size = _PRIMITIVES[kind]
        return struct.unpack(code, self.take(size))[0]

    def class_info(self) -> tuple[int, str, list[str]]:
        object_id = self.int32()
        name = self.string()
        count = self.int32()
        if not 0 <= count <= MAX_MEMBERS:
            raise self.fail(f"a class with {count} members")
        return object_id, name, [self.string() for _ in range(count)]

    def member_types(self, count: int) -> list[tuple[int, Any]]:
        kinds = list(self.take(count))
        types: list[tuple[int, Any]] = []
        for kind in kinds:
            if kind in (0, 7):
                types.append((kind, self.byte()))
            elif kind == 3:
                types.append((kind, self.string()))
            elif kind == 4:
                types.append((kind, (self.string(), self.int32())))
            elif kind in (1, 2, 5, 6):
                types.append((kind, None))
            else:
                raise self.fail(f"unknown member type {kind}")
        return types

    def values(self, cls: _Class, object_id: int, depth: int) -> NrbfObject:
        members: list[tuple[str, Any]] = []
        partial = False
        try:
            for name, (kind, info) in zip(cls.members, cls.types, strict=True):
                value = self.primitive(info) if kind == 0 else self.record(depth + 1)
                members.append((name, value))
        except _Stop:
            partial = True
        result = NrbfObject(cls.name, tuple(members), partial)
        self.objects[object_id] = result
        if partial:
            raise _Stop(result)
        return result

    def record(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"objects nested deeper than {MAX_DEPTH}")
        self.records += 1
        if self.records > MAX_RECORDS:
            raise self.fail(f"more than {MAX_RECORDS} records")
        kind = self.byte()
        handler = self._handlers().get(kind)
        if handler is None:
            raise _Stop(kind)
        return handler(depth)

    def _handlers(self) -> dict[int, Callable[[int], Any]]:
        return {
            0x01: self._class_with_id,
            0x04: self._system_class,
            0x05: self._class,
            0x06: self._object_string,
            0x08: self._member_primitive,
            0x09: self._reference,
            0x0A: lambda depth: None,
            0x0C: self._library,
            0x0F: self._primitive_array,
        }

    def _class(self, depth: int) -> NrbfObject:
        object_id, name, members = self.class_info()
        types = self.member_types(len(members))
        self.int32()  # library id
        cls = _Class(name, members, types)
        self.classes[object_id] = cls
        return self.values(cls, object_id, depth)

    def _system_class(self, depth: int) -> NrbfObject:
        object_id, name, members = self.class_info()
        cls = _Class(name, members, self.member_types(len(members)))
        self.classes[object_id] = cls
        return self.values(cls, object_id, depth)

    def _class_with_id(self, depth: int) -> NrbfObject:
        object_id = self.int32()
        metadata = self.int32()
        cls = self.classes.get(metadata)
        if cls is None:
            raise self.fail(f"a class refers to unknown metadata {metadata}")
        return self.values(cls, object_id, depth)

    def _object_string(self, depth: int) -> str:
        object_id = self.int32()
        value = self.string()
        self.objects[object_id] = value
        return value

    def _member_primitive(self, depth: int) -> Any:
        return self.primitive(self.byte())

    def _reference(self, depth: int) -> Any:
        return self.objects.get(self.int32())

    def _library(self, depth: int) -> Any:
        # A library record precedes the record that uses it; several may follow one
        # another. They are read in a loop: a recursive call per library would let a
        # chain of them reach Python's recursion limit below MAX_RECORDS.
        while True:
            self.int32()
            self.string()
            self.records += 1
            if self.records > MAX_RECORDS:
                raise self.fail(f"more than {MAX_RECORDS} records")
            if self.position >= len(self.data) or self.data[self.position] != 0x0C:
                break
            self.position += 1
        return self.record(depth)

    def _primitive_array(self, depth: int) -> Any:
        object_id = self.int32()
        length = self.int32()
        kind = self.byte()
        if kind == 2:
            value: Any = self.take(length)
        else:
            if kind not in _PRIMITIVES or length < 0:
                raise self.fail(f"an array of {length} of primitive type {kind}")
            size = _PRIMITIVES[kind][1]
            if length * size > len(self.data) - self.position:
                raise self.fail(f"an array of {length} runs past the end of the stream")
            value = tuple(self.primitive(kind) for _ in range(length))
        self.objects[object_id] = value
        return value


def read_nrbf(data: bytes, *, source: str = "<SerializationData>") -> NrbfObject:
    """Return the root object of a binary serialization stream (members read so far).

    Raises :class:`NrbfError` when the stream is not one or is corrupt.
    """
    if data.startswith(_SIGNED):
        # Exchange builds since the November 2022 update sign what they serialize:
        # "#sig#", the payload's length, the payload, then the signature (seen in the
        # CSS-Exchange test data). The payload is an ordinary stream.
        if len(data) < 9:
            raise NrbfError("a signed stream too short for its length", source=source)
        length = struct.unpack("<i", data[5:9])[0]
        if not 0 < length <= len(data) - 9:
            raise NrbfError(f"a signed stream claims {length} bytes", source=source)
        data = data[9 : 9 + length]
    reader = _Reader(data, source)
    if reader.byte() != 0x00:
        raise reader.fail("the stream does not start with a serialization header")
    reader.take(16)  # root id, header id, major and minor version
    try:
        root = reader.record(0)
    except _Stop as stop:
        partial = stop.args[0] if stop.args else None
        if isinstance(partial, NrbfObject):
            return partial
        raise reader.fail(f"an unsupported record kind {partial!r} at the root") from None
    if not isinstance(root, NrbfObject):
        raise reader.fail("the root record is not an object")
    return root
