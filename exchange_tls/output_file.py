"""Write an output file whole or not at all (the command line's ``--output``).

A report is written to a temporary file in the folder of its target and renamed over the
target once complete, so that a failed write (a full disk, ``ulimit -f``) leaves the old
file as it was. A device or a pipe (``/dev/stdout``, ``/dev/full``) is written in place.
A failure is :class:`CannotWrite`, one line naming the file and the system's reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from exchange_tls.errors import ExchangeTlsError

__all__ = ["CannotWrite", "written_whole"]


class CannotWrite(ExchangeTlsError):
    """An output file could not be written; the message names it and why."""


@contextlib.contextmanager
def written_whole(target: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Yield a text stream whose content replaces ``target`` once the block ends.

    Raises :class:`CannotWrite` when the file cannot be written, whether the failure
    comes from opening, writing or renaming; the old file is then untouched.
    """
    # Through a symbolic link to the file it names, so that the link stays a link.
    final = Path(os.path.realpath(target))
    try:
        existing: os.stat_result | None = final.stat()
    except OSError:
        existing = None
    temporary: str | None = None
    try:
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            with open(final, "w", encoding="utf-8", newline="\n") as stream:
                yield stream
            return
        handle, temporary = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
        with open(handle, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, final)
        temporary = None
    except OSError as error:
        reason = error.strerror or str(error)
        if existing is None:
            reason += "; nothing was written"
        elif stat.S_ISREG(existing.st_mode):
            reason += "; the old file is unchanged"
        raise CannotWrite(f"cannot write {os.fspath(target)}: {reason}") from error
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
