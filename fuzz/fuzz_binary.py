"""Fuzz the binary readers: .NET binary serialization and certificate DER."""

from __future__ import annotations

import contextlib

from _common import run

from exchange_tls.certificates.nrbf import read_nrbf
from exchange_tls.certificates.x509 import read_der
from exchange_tls.sources import decode_bytes


def test(data: bytes) -> None:
    """Read arbitrary bytes as NRBF, as DER (ValueError is its refusal) and as text."""
    decode_bytes(data)
    with contextlib.suppress(ValueError):
        read_der(data)
    read_nrbf(data)


if __name__ == "__main__":
    run(test)
