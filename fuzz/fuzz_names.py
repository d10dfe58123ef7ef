"""Fuzz distinguished names and TlsCertificateName values."""

from __future__ import annotations

import atheris
from _common import run

from exchange_tls import DistinguishedName, TlsCertificateName, parse_tls_certificate_name


def test(data: bytes) -> None:
    """Keep arbitrary text as a TlsCertificateName and render it back; parse it as names."""
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    TlsCertificateName.as_written(text).render()
    parse_tls_certificate_name(text)
    DistinguishedName.parse(text)


if __name__ == "__main__":
    run(test)
