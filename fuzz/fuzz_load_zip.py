"""Fuzz ``load_evidence`` on zip archives built from fuzzed bytes, then damaged."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import atheris
from _common import run

from exchange_tls import load_evidence

_ROOT = Path(tempfile.mkdtemp(prefix="fuzz-load-"))
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_NAMES = ("SEND20240601-1.LOG", "queue.txt", "certs.xml", "dir/c.json", "README.md")


def test(data: bytes) -> None:
    """Zip one to four fuzzed members, overwrite a few bytes of the archive, load it."""
    provider = atheris.FuzzedDataProvider(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(provider.ConsumeIntInRange(1, 4)):
            name = f"{index}-{_NAMES[provider.ConsumeIntInRange(0, len(_NAMES) - 1)]}"
            method = _METHODS[provider.ConsumeIntInRange(0, len(_METHODS) - 1)]
            size = provider.ConsumeIntInRange(0, 4096)
            archive.writestr(name, provider.ConsumeBytes(size), compress_type=method)
    damaged = bytearray(buffer.getvalue())
    for _ in range(provider.ConsumeIntInRange(0, 4)):
        if damaged:
            damaged[provider.ConsumeIntInRange(0, len(damaged) - 1)] = provider.ConsumeInt(1) & 0xFF
    if provider.ConsumeBool():
        del damaged[provider.ConsumeIntInRange(0, len(damaged)) :]
    path = _ROOT / "evidence.zip"
    path.write_bytes(bytes(damaged))
    load_evidence(path)


if __name__ == "__main__":
    run(test)
