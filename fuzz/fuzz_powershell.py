"""Fuzz the PowerShell readers through the certificate, queue and connector binders."""

from __future__ import annotations

import atheris
from _common import run

from exchange_tls import parse_certificates, parse_queues, parse_send_connectors
from exchange_tls.sources import decode_bytes

FORMATS = ("auto", "list", "table", "csv", "json", "clixml")


def test(data: bytes) -> None:
    """Read arbitrary bytes as each kind of PowerShell output, in each format."""
    provider = atheris.FuzzedDataProvider(data)
    kind = provider.ConsumeIntInRange(0, 2)
    form = FORMATS[provider.ConsumeIntInRange(0, len(FORMATS) - 1)]
    text = decode_bytes(provider.ConsumeBytes(len(data))).text
    reader = (parse_certificates, parse_queues, parse_send_connectors)[kind]
    reader(text, form)  # type: ignore[operator]


if __name__ == "__main__":
    run(test)
