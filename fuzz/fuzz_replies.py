"""Fuzz SMTP replies, queue LastError strings, and explaining them."""

from __future__ import annotations

import contextlib

import atheris
from _common import run

from exchange_tls import ParseError, explain_error, parse_last_error, parse_smtp_reply


def test(data: bytes) -> None:
    """Read arbitrary text as a reply, as a LastError and for an explanation."""
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    # Each reader on its own: one's ParseError must not hide another's crash.
    for read in (parse_smtp_reply, parse_last_error, explain_error):
        with contextlib.suppress(ParseError):
            read(text)


if __name__ == "__main__":
    run(test)
