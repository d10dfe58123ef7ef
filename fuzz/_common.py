"""Shared set-up for the atheris harnesses: what counts as a clean refusal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    import exchange_tls  # noqa: F401 -- instrument the library for coverage guidance
    from exchange_tls.errors import ParseError

#: Exceptions a parser may raise on bad input. Anything else is a crash to keep.
ALLOWED: tuple[type[BaseException], ...] = (ParseError,)


def run(test: Callable[[bytes], None]) -> None:
    """Fuzz ``test`` with atheris, treating only ParseError as a clean refusal."""

    def guarded(data: bytes) -> None:
        with contextlib.suppress(*ALLOWED):
            test(data)

    atheris.Setup(sys.argv, guarded)
    atheris.Fuzz()
