"""Fuzz the protocol-log reader, the session assembler and the TLS facts."""

from __future__ import annotations

import atheris
from _common import run

from exchange_tls import assemble_sessions, parse_protocol_log


def test(data: bytes) -> None:
    """Parse arbitrary text as a log (pasted or not) and assemble its sessions."""
    provider = atheris.FuzzedDataProvider(data)
    pasted = provider.ConsumeBool()
    text = provider.ConsumeUnicodeNoSurrogates(len(data))
    log = parse_protocol_log(text, source="fuzz.log", pasted=pasted)
    for session in assemble_sessions(log.rows):
        _ = session.tls, session.replies


if __name__ == "__main__":
    run(test)
