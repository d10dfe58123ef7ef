"""Type checks at the public boundary: a wrong type is a ``TypeError`` naming the parameter.

A public function given ``bytes`` where it takes text, or a path where it takes
:class:`~exchange_tls.diagnosis.evidence.Evidence`, would otherwise fail six frames deep
with an ``AttributeError`` that names neither. Each public function checks its arguments
once, on entry (never per row), with :func:`check_arguments`:

>>> check_arguments("parse_queues", text=b"Identity : EX01")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
TypeError: parse_queues(): text takes a str, not bytes; decode it, or read the bytes ...
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable

__all__ = ["OPTIONAL_TEXT", "Takes", "check_argument", "check_arguments", "instance_of"]

#: What a parameter takes: a test of a value, and its description for the message.
Takes = tuple[Callable[[object], bool], str]


def _is_file(value: object) -> bool:
    """Say whether a value is a path, or a file opened in binary mode."""
    if isinstance(value, (str, os.PathLike)):
        return True
    return callable(getattr(value, "read", None)) and not isinstance(value, io.TextIOBase)


def _instance(*types: type) -> Callable[[object], bool]:
    return lambda value: (
        isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    )


def _optional(*types: type) -> Callable[[object], bool]:
    test = _instance(*types)
    return lambda value: value is None or test(value)


def _iterable(value: object) -> bool:
    """Say whether a value iterates items: not text or bytes (iterable by character)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return False
    return callable(getattr(value, "__iter__", None))


_TEXT: Takes = (_instance(str), "a str")
#: A str or None.
OPTIONAL_TEXT: Takes = (_optional(str), "a str or None")


def instance_of(*types: type, description: str, optional: bool = False) -> Takes:
    """Return what a parameter takes that takes instances of ``types`` (or None)."""
    return (_optional(*types) if optional else _instance(*types), description)


#: The arguments the public functions share, by name.
_BY_NAME: dict[str, Takes] = {
    "text": _TEXT,
    "source": (_instance(str), "a str (the label used in problems)"),
    "format": (_instance(str), "a str naming a format, or 'auto'"),
    "date_order": (_optional(str), "'MDY', 'DMY', 'YMD' or None"),
    "tz": (_instance(dt.tzinfo), "a datetime.tzinfo"),
    "errors": (_instance(str), "'collect' or 'raise'"),
    "file": (_is_file, "a path (str or os.PathLike) or a file opened in binary mode"),
    "paths": (_instance(str, os.PathLike), "paths (str or os.PathLike)"),
    "line": (_optional(int), "an int or None"),
    "pasted": (_instance(bool), "a bool"),
    "progress": (lambda value: value is None or callable(value), "a callable or None"),
    "server_fqdn": (_optional(str), "a str or None"),
    "jobs": (_optional(int), "an int or None (None: every core; 1: in this process)"),
    "executor": (
        lambda value: value is None or callable(getattr(value, "submit", None)),
        "a concurrent.futures.Executor or None",
    ),
    "keep_sessions": (_instance(bool), "a bool"),
    "engine": (_instance(str), "'auto', 'careful' or 'columnar'"),
    "now": (_optional(dt.datetime), "a datetime.datetime or None"),
    "rows": (_iterable, "an iterable of ProtocolLogRow"),
    "inventory": (_iterable, "an iterable of ExchangeCertificate"),
}


# The parse_* functions that have a read_* twin taking a binary file.
_PARSERS_WITH_READERS = frozenset(
    {
        "parse_certificates",
        "parse_events",
        "parse_hybrid_configuration",
        "parse_manifest",
        "parse_protocol_log",
        "parse_queues",
        "parse_receive_connectors",
        "parse_send_connectors",
        "parse_tls_settings",
    }
)


def _describe(value: object) -> str:
    return "None" if value is None else type(value).__name__


def check_argument(function: str, parameter: str, value: object, takes: Takes) -> None:
    """Raise ``TypeError`` naming ``parameter`` when ``value`` is not what it takes."""
    test, description = takes
    if test(value):
        return
    message = f"{function}(): {parameter} takes {description}, not {_describe(value)}"
    if parameter == "text" and isinstance(value, (bytes, bytearray)):
        message += "; decode it"
        if function in _PARSERS_WITH_READERS:
            reader = function.replace("parse_", "read_", 1)
            message += f", or read the bytes with {reader}(io.BytesIO(data))"
    elif parameter == "file" and isinstance(value, (bytes, bytearray)):
        message += "; wrap bytes in io.BytesIO"
    elif parameter == "file" and isinstance(value, io.TextIOBase):
        message += "; open it with 'rb'"
    raise TypeError(message)


def check_arguments(function: str, /, **arguments: object) -> None:
    """Check each argument against what a parameter of its name takes (see ``_BY_NAME``)."""
    for parameter, value in arguments.items():
        check_argument(function, parameter, value, _BY_NAME[parameter])
