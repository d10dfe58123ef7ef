"""Fuzz ``load_evidence`` on a folder of files made from fuzzed bytes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import atheris
from _common import run

from exchange_tls import load_evidence

# The harness writes files on every run, in a folder of its own.
_ROOT = Path(tempfile.mkdtemp(prefix="fuzz-load-"))
_NAMES = ("SEND20240601-1.LOG", "RECV2024060112-1.LOG", "queue.txt", "certs.xml", "c.json", "x")


def test(data: bytes) -> None:
    """Write one to four files (some in a subfolder) and load the folder."""
    provider = atheris.FuzzedDataProvider(data)
    folder = _ROOT / "evidence"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "sub").mkdir(parents=True)
    for index in range(provider.ConsumeIntInRange(1, 4)):
        name = _NAMES[provider.ConsumeIntInRange(0, len(_NAMES) - 1)]
        where = folder / "sub" if provider.ConsumeBool() else folder
        size = provider.ConsumeIntInRange(0, 4096)
        (where / f"{index}-{name}").write_bytes(provider.ConsumeBytes(size))
    load_evidence(folder)


if __name__ == "__main__":
    run(test)
