"""The limits on what loading reads into memory, and the streams that keep to them.

SECURITY.md promises these limits: one file (or archive member) read whole is at most
:data:`MAX_TEXT_BYTES`; one zip archive inflates at most :data:`MAX_ARCHIVE_BYTES`, all
members together; a member inflates at most :data:`MAX_INFLATE_RATIO` times its compressed
size once past its first MiB; archives inside archives are opened
:data:`MAX_ARCHIVE_DEPTH` deep, from the same budget. A limit hit raises
:class:`TooLarge`, and the file is reported and left out, never half read in silence.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

from exchange_tls.errors import Problem, Severity

__all__ = [
    "ARCHIVE_ERRORS",
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_DEPTH",
    "MAX_INFLATE_RATIO",
    "MAX_TEXT_BYTES",
    "Budget",
    "Limited",
    "TooLarge",
    "read_limited",
    "unreadable",
]

#: The most bytes of one file (or archive member) read into memory. Get-* output is a
#: few megabytes; protocol logs are streamed and exempt.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: The most bytes inflated from one zip archive, all members together.
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
#: How deep archives inside archives are opened: an archive in an archive in an archive.
#: Their members inflate from the outermost archive's :data:`MAX_ARCHIVE_BYTES`.
MAX_ARCHIVE_DEPTH = 3
#: The most a zip member may inflate per compressed byte, once past its first MiB; text
#: evidence compresses 5 to 30 times.
MAX_INFLATE_RATIO = 200


# The most inflated by one read of a member, between checks of the limits.
_CHUNK = 1024 * 1024


class TooLarge(Exception):
    """A limit of :data:`MAX_TEXT_BYTES`, :data:`MAX_ARCHIVE_BYTES` or the ratio was hit."""


# What the content of an unreadable or damaged archive member raises: an encrypted
# member (RuntimeError), a bad CRC or header (BadZipFile), bad deflate data (zlib.error),
# bad bzip2 or lzma data (OSError, EOFError, LZMAError), an unknown method
# (NotImplementedError).
ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    TooLarge,
)


class Budget:
    """The bytes an archive may still inflate (shared by the archives inside it)."""

    def __init__(self, limit: int | None = None) -> None:
        # Read at construction, not import, so that a test can lower the limit.
        self.limit = MAX_ARCHIVE_BYTES if limit is None else limit
        self.left = self.limit

    def spend(self, count: int) -> None:
        """Spend ``count`` bytes; raise :class:`TooLarge` once the budget is gone."""
        self.left -= count
        if self.left < 0:
            raise TooLarge(f"the archive inflates to more than {self.limit:,} bytes")


class Limited(io.RawIOBase):
    """An archive member as a stream that stops at the size and ratio limits."""

    def __init__(self, member: IO[bytes], compressed_size: int, budget: Budget) -> None:
        super().__init__()
        self._member = member
        self._compressed_size = compressed_size
        self._budget = budget
        self._read = 0

    def readable(self) -> bool:
        """Say that the stream is readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; raise :class:`TooLarge` at a limit."""
        # At most a chunk at a time, so that a limit is checked as the member inflates,
        # not after one read of everything a large buffer asked for.
        data = self._member.read(min(len(buffer), _CHUNK))
        self._read += len(data)
        self._budget.spend(len(data))
        ratio_floor = max(self._compressed_size, 1) * MAX_INFLATE_RATIO
        if self._read > max(ratio_floor, 1024 * 1024):
            raise TooLarge(
                f"the member inflates more than {MAX_INFLATE_RATIO} times its compressed "
                "size (a zip bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the member."""
        self._member.close()
        super().close()


def read_limited(open_stream: Callable[[], IO[bytes]], limit: int) -> bytes:
    """Read a stream whole, refusing one of more than ``limit`` bytes before it is all read."""
    with open_stream() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"larger than {limit:,} bytes")
    return data


def unreadable(name: str, error: BaseException) -> Problem:
    """Return the problem of a file whose content could not be read, with the reason."""
    if isinstance(error, RuntimeError) and "encrypted" in str(error):
        reason = "the archive member is encrypted"
    elif isinstance(error, NotImplementedError):
        reason = f"the archive member uses a compression method this Python lacks ({error})"
    elif isinstance(error, OSError) and error.strerror:
        reason = error.strerror
    else:
        reason = str(error) or type(error).__name__
    return Problem(
        message=f"cannot read: {reason}; it was left out",
        source=name,
        severity=Severity.ERROR,
        code="unreadable",
    )
