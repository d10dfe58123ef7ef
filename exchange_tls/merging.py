"""Merge records of the same object from several files, and report where they disagree.

The same certificate often arrives twice: from ``Get-ExchangeCertificate | fl`` and from a
table or a Clixml export. Each file may carry properties the other lacks, so the records
are merged: a property one file did not carry (``None``) is taken from another. ``False``,
``0`` and ``()`` are facts, not gaps. Where two files state different values for the same
property of the same object, neither is believed: the property becomes unknown (``None``)
and a ``conflict`` problem names both files and both values, so no finding rests on a fact
the evidence contradicts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from exchange_tls.errors import Problem, Severity

__all__ = ["merge_records"]

if TYPE_CHECKING:
    from attrs import AttrsInstance

T = TypeVar("T", bound="AttrsInstance")

# Where a record came from differs between files by nature; it is not a property.
_NOT_PROPERTIES = frozenset({"source"})


def _show(value: object) -> str:
    return str(value) if isinstance(value, enum.Enum) else repr(value)


def _where(record: Any) -> str:
    source = getattr(record, "source", None)
    return str(source) if source is not None else "(in memory)"


def merge_records(
    items: Iterable[T], key: Callable[[T], object], *, kind: str
) -> tuple[list[T], list[Problem]]:
    """Merge records that ``key`` says are one object; return them and the conflicts.

    Records whose key is ``None`` are kept apart, as they came. The first record of an
    object keeps its place and its source.

    >>> from exchange_tls.certificates.models import ExchangeCertificate
    >>> listed = ExchangeCertificate(thumbprint="AB" * 20, has_private_key=False)
    >>> tabled = ExchangeCertificate(thumbprint="AB" * 20, has_private_key=True, subject="CN=x")
    >>> [merged], [conflict] = merge_records(
    ...     [listed, tabled], lambda c: c.thumbprint, kind="certificate"
    ... )
    >>> merged.has_private_key is None, merged.subject
    (True, 'CN=x')
    >>> conflict.code, conflict.message.split(":")[0]
    ('conflict', "certificate 'ABABABABABABABABABABABABABABABABABABABAB' has_private_key")
    """
    merged: dict[object, T] = {}
    seen: dict[object, list[T]] = {}
    loose: list[T] = []
    conflicts: list[Problem] = []
    disputed: dict[object, set[str]] = {}
    for item in items:
        identity = key(item)
        if identity is None:
            loose.append(item)
            continue
        if identity not in merged:
            merged[identity] = item
            seen[identity] = [item]
            disputed[identity] = set()
            continue
        first = merged[identity]
        changes: dict[str, object] = {}
        for field in attrs.fields(type(first)):
            name = field.name
            if name in _NOT_PROPERTIES or name in disputed[identity]:
                continue
            ours, theirs = getattr(first, name), getattr(item, name)
            if theirs is None or ours == theirs:
                continue
            if ours is None:
                changes[name] = theirs
                continue
            disputed[identity].add(name)
            changes[name] = None
            earlier = next(r for r in seen[identity] if getattr(r, name) is not None)
            place = getattr(item, "source", None)
            conflicts.append(
                Problem(
                    message=f"{kind} {identity!r} {name}: {_show(getattr(earlier, name))} in "
                    f"{_where(earlier)}, {_show(theirs)} in {_where(item)}; left unknown",
                    source=place.source if place is not None else "(in memory)",
                    line=place.line if place is not None else None,
                    severity=Severity.WARNING,
                    code="conflict",
                )
            )
        seen[identity].append(item)
        if changes:
            # mypy's attrs plugin cannot see that a TypeVar bound to AttrsInstance is one.
            merged[identity] = attrs.evolve(first, **changes)  # type: ignore[misc]
    return list(merged.values()) + loose, conflicts
