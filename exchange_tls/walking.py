"""The walk: the paths given, as the files to read (on disk or inside zip archives).

Only regular files are opened; zip members are streamed within the budgets of
:mod:`exchange_tls.budgets`. Whatever cannot be opened is reported as a problem whose
code is in :data:`NOT_OPENED` (or ``"skipped"``), and the rest is yielded as
:class:`Blob` objects, not yet read.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import attrs

from exchange_tls.budgets import ARCHIVE_ERRORS, Budget, Limited
from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.sources import describe_mode, open_regular

__all__ = ["NOT_OPENED", "Blob", "walk"]

#: Problems of the walk that leave a file unopened.
NOT_OPENED = frozenset({"not-a-file", "unreadable", "bad-archive"})


@attrs.frozen
class Blob:
    """A file found by the walk, not yet read."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]
    #: The file on disk, when it is one (not an archive member): logs are mapped by path.
    path: Path | None = None
    #: The first folder below the path given that holds it, if any: a group may be split
    #: along these when it names several servers.
    part: str | None = None


def _open_regular(path: Path) -> IO[bytes]:
    # Looked up in this module at each call, so that a test can stand in for a file
    # that cannot be opened.
    return open_regular(path)


def skipped(name: str, message: str, code: str, severity: Severity = Severity.WARNING) -> Problem:
    """Return the problem of a path the walk left out."""
    return Problem(message=message, source=name, severity=severity, code=code)


def walk(
    paths: Iterable[str | os.PathLike[str]], collector: ProblemCollector, stack: ExitStack
) -> Iterator[Blob]:
    """Yield the files under ``paths``; report what cannot be opened to ``collector``.

    Archives stay open on ``stack`` until the blobs are read. Raises ``FileNotFoundError``
    for a path that does not exist.
    """
    for item in paths:
        path = Path(item)
        try:
            status = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                collector.report(skipped(str(path), "a broken symbolic link", "unreadable"))
                continue
            raise FileNotFoundError(f"no such file or folder: {item}") from None
        except OSError as error:
            collector.report(skipped(str(path), f"cannot read: {error.strerror}", "unreadable"))
            continue
        if stat.S_ISDIR(status.st_mode):
            yield from _walk_folder(path, collector, stack)
        else:
            yield from _file_blobs(path, status, collector, stack)


def _walk_folder(folder: Path, collector: ProblemCollector, stack: ExitStack) -> Iterator[Blob]:
    found: list[tuple[Path, os.stat_result]] = []

    def unreadable(error: OSError) -> None:
        name = str(error.filename or folder)
        collector.report(skipped(name, f"cannot read the folder: {error.strerror}", "unreadable"))

    # Symbolic links to folders are not followed, so a link loop cannot recur.
    for root, folders, files in os.walk(folder, onerror=unreadable, followlinks=False):
        for name in folders:
            child = Path(root, name)
            if child.is_symlink():
                collector.report(
                    skipped(
                        str(child),
                        "a symbolic link to a folder; not followed",
                        "skipped",
                        Severity.INFO,
                    )
                )
        for name in files:
            child = Path(root, name)
            try:
                found.append((child, child.stat()))
            except OSError as error:
                # A link loop (ELOOP), a broken link, a file gone since the listing.
                reason = error.strerror or type(error).__name__
                collector.report(skipped(str(child), f"cannot read: {reason}", "unreadable"))
    for child, status in sorted(found, key=lambda item: item[0]):
        inner = child.relative_to(folder).parts
        part = str(folder / inner[0]) if len(inner) > 1 else None
        yield from _file_blobs(child, status, collector, stack, part)


def _file_blobs(
    path: Path,
    status: os.stat_result,
    collector: ProblemCollector,
    stack: ExitStack,
    part: str | None = None,
) -> Iterator[Blob]:
    name = str(path)
    if not stat.S_ISREG(status.st_mode):
        kind = describe_mode(status.st_mode)
        collector.report(skipped(name, f"skipped: {kind}, not a regular file", "not-a-file"))
        return
    try:
        with _open_regular(path) as probe:
            head = probe.read(4)
            is_zip = zipfile.is_zipfile(probe)
    except OSError as error:
        collector.report(skipped(name, f"cannot read: {error.strerror}", "unreadable"))
        return
    if not is_zip and head.startswith(b"PK\x03\x04"):
        collector.report(
            skipped(
                name,
                "cannot read the zip archive: it is truncated or damaged (no central directory)",
                "bad-archive",
                Severity.ERROR,
            )
        )
        return
    if not is_zip:
        yield Blob(name, status.st_size, lambda: _open_regular(path), path=path, part=part)
        return
    try:
        archive = stack.enter_context(zipfile.ZipFile(stack.enter_context(_open_regular(path))))
        members = sorted(archive.infolist(), key=lambda info: info.filename)
    except ARCHIVE_ERRORS as error:
        collector.report(
            skipped(name, f"cannot read the zip archive: {error}", "bad-archive", Severity.ERROR)
        )
        return
    budget = Budget()
    for member in members:
        # ZipInfo.is_dir() fails on an empty name, which a damaged archive can hold.
        if member.filename.endswith("/"):
            continue

        def opener(info: zipfile.ZipInfo = member) -> IO[bytes]:
            raw = Limited(archive.open(info), info.compress_size, budget)
            return io.BufferedReader(raw)

        folder, _, _ = member.filename.partition("/")
        inner = f"{path}!/{folder}" if "/" in member.filename else None
        yield Blob(f"{path}!/{member.filename}", member.file_size, opener, part=part or inner)
