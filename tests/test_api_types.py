"""Issue 25 item 8: every public function checks its arguments' types at the boundary.

Each function of ``exchange_tls.__all__`` is called with each of its parameters given a
value of a wrong type (the others valid); only ``TypeError`` (naming the parameter) or
``ParseError`` may come out, and each must print.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import exchange_tls
from exchange_tls import Evidence, ParseError, parse_send_connectors
from exchange_tls.sources import read_source

ROOT = Path(__file__).parent.parent
KB = ROOT / "examples/kb4051498"
HYBRID = ROOT / "examples/hybrid-certificate-mismatch"
LOG = KB / "SEND2017100704-1.LOG"
EVENTS = Path(__file__).parent / "data/events/get-winevent-schannel.json"
TLS_REPORT = Path(__file__).parent / "data/tls-reports/parsedmarc_rfc8460.json"
CONNECTOR = next(iter(parse_send_connectors((KB / "get-sendconnector-fl.txt").read_text())))

#: A valid call of each public function: positional arguments, keyword arguments.
VALID: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "assemble_sessions": (([],), {}),
    "diagnose": ((Evidence(),), {}),
    "explain_error": (("451 4.4.0 Connection timed out",), {}),
    "iter_protocol_rows": ((LOG,), {}),
    "load_evidence": ((KB,), {}),
    "parse_certificates": ((read_source(KB / "get-exchangecertificate-fl.txt").text,), {}),
    "parse_events": ((EVENTS.read_text(encoding="utf-8-sig"),), {}),
    "parse_hybrid_configuration": (
        ((HYBRID / "get-hybridconfiguration-fl.txt").read_text(),),
        {},
    ),
    "parse_last_error": (("451 4.4.0 Connection timed out",), {}),
    "parse_manifest": (('{"ExchangeTlsEvidence": 1}',), {}),
    "parse_protocol_log": ((LOG.read_text(encoding="utf-8-sig"),), {}),
    "parse_queues": (((KB / "get-queue-fl.txt").read_text(),), {}),
    "parse_receive_connectors": (
        ((HYBRID / "get-receiveconnector-fl.txt").read_text(),),
        {},
    ),
    "parse_send_connectors": (((KB / "get-sendconnector-fl.txt").read_text(),), {}),
    "parse_smtp_reply": (("250 2.0.0 OK",), {}),
    "parse_tls_certificate_name": (("<I>CN=CA<S>CN=mail.contoso.com",), {}),
    "parse_tls_reports": ((TLS_REPORT.read_text(),), {}),
    "parse_tls_settings": (
        (read_source(ROOT / "examples/dotnet-tls-settings-missing/registry-dotnet.reg").text,),
        {},
    ),
    "read_certificates": ((KB / "get-exchangecertificate-fl.txt",), {}),
    "read_events": ((EVENTS,), {}),
    "read_hybrid_configuration": ((HYBRID / "get-hybridconfiguration-fl.txt",), {}),
    "read_manifest": ((io.BytesIO(b'{"ExchangeTlsEvidence": 1}'),), {}),
    "read_protocol_log": ((LOG,), {}),
    "read_queues": ((KB / "get-queue-fl.txt",), {}),
    "read_receive_connectors": ((HYBRID / "get-receiveconnector-fl.txt",), {}),
    "read_send_connectors": ((KB / "get-sendconnector-fl.txt",), {}),
    "read_tls_reports": ((TLS_REPORT,), {}),
    "read_tls_settings": (
        (ROOT / "examples/dotnet-tls-settings-missing/registry-dotnet.reg",),
        {},
    ),
    "select_certificate": ((CONNECTOR, []), {}),
}

#: Values of a wrong type for most parameters; a parameter that takes one is skipped.
WRONG: tuple[Any, ...] = (None, 42, 1.5, b"bytes", "text", object(), ["x"], io.StringIO)
#: Parameters that take None, a str, an int, or a list of items.
TAKES_NONE = {
    "date_order",
    "progress",
    "server_fqdn",
    "executor",
    "jobs",
    "now",
    "thresholds",
    "line",
    "direction",
    "name",
    "_name",
}
TAKES_STR = {"text", "source", "format", "errors", "date_order", "engine", "file", "paths"}
TAKES_STR |= {"server_fqdn", "name", "_name"}
TAKES_INT = {"jobs", "line"}
TAKES_LIST = {"rows", "inventory"}

FUNCTIONS = sorted(
    name for name in exchange_tls.__all__ if inspect.isfunction(getattr(exchange_tls, name))
)


def wrong_calls() -> Iterator[tuple[str, str, Any]]:
    """Yield (function, parameter, wrong value) for every parameter of every function."""
    for name in FUNCTIONS:
        signature = inspect.signature(getattr(exchange_tls, name))
        for parameter in signature.parameters.values():
            for value in WRONG:
                if value is None and parameter.name in TAKES_NONE:
                    continue
                if isinstance(value, str) and parameter.name in TAKES_STR:
                    continue
                if isinstance(value, int) and parameter.name in TAKES_INT:
                    continue
                if isinstance(value, list) and parameter.name in TAKES_LIST:
                    continue
                if parameter.name == "source" and name == "parse_protocol_log" and value is None:
                    continue
                yield name, parameter.name, value


def call_with(name: str, parameter: str, value: Any) -> object:
    """Call a function validly except for one parameter; consume what it returns."""
    function: Callable[..., Any] = getattr(exchange_tls, name)
    args, kwargs = VALID[name]
    signature = inspect.signature(function)
    names = list(signature.parameters)
    kind = signature.parameters[parameter].kind
    args = list(args)
    if kind is inspect.Parameter.VAR_POSITIONAL:
        args = [value]
    elif kind is inspect.Parameter.KEYWORD_ONLY:
        kwargs = {**kwargs, parameter: value}
    else:
        position = names.index(parameter)
        args = [*args, *[None] * (position + 1 - len(args))]
        args[position] = value
    result = function(*args, **kwargs)
    if isinstance(result, Iterator):
        result = list(result)
    return result


def fresh(value: Any) -> Any:
    """Return the value, or a new text stream for the class (a stream is read once)."""
    return io.StringIO("x") if value is io.StringIO else value


def test_every_function_has_a_valid_call() -> None:
    """The table of valid calls covers __all__, and each call succeeds."""
    assert sorted(VALID) == FUNCTIONS
    for name in FUNCTIONS:
        function = getattr(exchange_tls, name)
        args, kwargs = VALID[name]
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):
            list(result)


@pytest.mark.parametrize(("name", "parameter", "value"), list(wrong_calls()))
def test_a_wrong_type_is_a_type_error_naming_the_parameter(
    name: str, parameter: str, value: Any
) -> None:
    """Only TypeError (naming the parameter) or ParseError, each printable."""
    with pytest.raises((TypeError, ParseError)) as caught:
        call_with(name, parameter, fresh(value))
    message = str(caught.value)
    if caught.type is TypeError:
        assert f"{name}(): {parameter.lstrip('_')} takes " in message, message
    assert message


def test_a_parse_error_of_bytes_prints() -> None:
    """parse_tls_certificate_name(b"...") raises an error whose str() works."""
    with pytest.raises((TypeError, ParseError)) as caught:
        exchange_tls.parse_tls_certificate_name(b"<I>CN=CA<S>CN=mail")  # type: ignore[arg-type]
    assert "parse_tls_certificate_name" in str(caught.value)


def test_a_parse_error_given_bytes_as_its_line_still_prints() -> None:
    """A ParseError built from bytes (a reader handed them) prints, with the bytes shown."""
    error = ParseError("bad", source="<x>", line=1, column=1, line_text=b"\xff<I>")  # type: ignore[arg-type]
    assert "bad" in str(error)
    assert "\\xff" in str(error)


def test_the_hint_for_bytes_names_only_a_reader_that_exists() -> None:
    """parse_queues points to read_queues; parse_tls_certificate_name to no reader."""
    for name in ("parse_queues", "parse_tls_certificate_name", "parse_smtp_reply"):
        with pytest.raises(TypeError) as caught:
            getattr(exchange_tls, name)(b"x")
        readers = [word for word in str(caught.value).split() if word.startswith("read_")]
        for reader in readers:
            assert hasattr(exchange_tls, reader.split("(")[0]), reader
