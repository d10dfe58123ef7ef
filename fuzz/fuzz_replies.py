"""Fuzz SMTP replies and queue LastError strings."""

from __future__ import annotations

import atheris
from _common import run

from exchange_tls import parse_last_error, parse_smtp_reply


def test(data: bytes) -> None:
    """Parse arbitrary text as a reply and as a LastError."""
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        parse_smtp_reply(text)
    finally:
        parse_last_error(text)


if __name__ == "__main__":
    run(test)
