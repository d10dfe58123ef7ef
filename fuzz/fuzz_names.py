"""Fuzz distinguished names and TlsCertificateName values."""

from __future__ import annotations

import atheris
from _common import run

from exchange_tls import DistinguishedName, parse_tls_certificate_name


def test(data: bytes) -> None:
    """Parse arbitrary text as a name and as a TlsCertificateName; render it back."""
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    parse_tls_certificate_name(text).render()
    DistinguishedName.parse(text)


if __name__ == "__main__":
    run(test)
