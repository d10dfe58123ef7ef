"""The walk: the paths given, as the files to read (on disk or inside zip archives).

Only regular files are opened; zip members are streamed within the budgets of
:mod:`exchange_tls.budgets`. Whatever is not read is reported, never skipped in silence:
a problem whose code is in :data:`NOT_OPENED` (the file is listed, with the reason, among
the files left out), or an ``info`` problem when nothing is lost (a second name for a
file or folder already read).

- **Links.** A symbolic link inside a folder given is followed when it leads to a file or
  folder inside that folder, and each file is read once (loops end at a folder already
  walked). A link that leads out of the folder given is not followed: it is reported with
  where it leads, so that the user can give that path directly.
- **Archives inside archives** are opened by :func:`open_archive` when the loader finds
  one (by its content, not its name), :data:`~exchange_tls.budgets.MAX_ARCHIVE_DEPTH`
  deep, their members inflating from the outermost archive's budget.
"""

from __future__ import annotations

import codecs
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import attrs

from exchange_tls.budgets import ARCHIVE_ERRORS, MAX_ARCHIVE_DEPTH, Budget, Limited, unreadable
from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.sources import describe_mode, open_regular

__all__ = ["NOT_OPENED", "ZIP_MAGIC", "Blob", "open_archive", "walk"]

#: Problems of the walk that leave a file unopened; the file is listed with the reason.
NOT_OPENED = frozenset(
    {"not-a-file", "unreadable", "bad-archive", "archive-too-deep", "link-not-followed"}
)
#: How a zip archive begins: a member's local header, or the end record of an empty one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# How much of an inner archive is copied to its temporary file at a time.
_COPY_CHUNK = 1024 * 1024


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
    #: How many archives hold it (0 on disk), and the budget their members inflate from.
    depth: int = 0
    budget: Budget | None = None


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


def _inside(target: Path, folder: Path) -> bool:
    return target == folder or folder in target.parents


class _FolderWalk:
    """One folder given: its files, each once, through the links that stay inside it."""

    def __init__(self, folder: Path, collector: ProblemCollector) -> None:
        self.folder = folder
        self.real = Path(os.path.realpath(folder))
        self.collector = collector
        self.folders: dict[tuple[int, int], Path] = {}
        self.files: dict[tuple[int, int], Path] = {}
        self.found: list[tuple[Path, os.stat_result]] = []
        self.links: deque[Path] = deque()
        self.file_links: list[Path] = []

    def run(self) -> list[tuple[Path, os.stat_result]]:
        self._walk(self.folder)
        # Links are followed after the folder itself, so that a file or folder is read
        # under its own name and a link to it is the second name.
        while self.links:
            self._walk(self.links.popleft())
        for link in self.file_links:
            self._file(link)
        return sorted(self.found, key=lambda item: item[0])

    def _report(self, path: Path, message: str, code: str, severity: Severity) -> None:
        self.collector.report(skipped(str(path), message, code, severity))

    def _leads_out(self, path: Path) -> bool:
        """Report a link that leads out of the folder given; say whether it does."""
        target = Path(os.path.realpath(path))
        if _inside(target, self.real):
            return False
        self._report(
            path,
            f"a symbolic link to {target}, outside the folder given; not followed "
            "(give that path directly to read it)",
            "link-not-followed",
            Severity.WARNING,
        )
        return True

    def _walk(self, start: Path) -> None:
        def unreadable_folder(error: OSError) -> None:
            name = Path(error.filename or start)
            self._report(
                name, f"cannot read the folder: {error.strerror}", "unreadable", Severity.WARNING
            )

        for root, folders, files in os.walk(start, onerror=unreadable_folder, followlinks=False):
            here = Path(root)
            try:
                status = here.stat()
            except OSError as error:
                unreadable_folder(error)
                folders[:] = []
                continue
            key = (status.st_dev, status.st_ino)
            if key in self.folders:
                # Only a link's target can be met twice: os.walk does not follow links.
                self._report(
                    here,
                    f"a symbolic link to {self.folders[key]}, which is read already",
                    "skipped",
                    Severity.INFO,
                )
                folders[:] = []
                continue
            self.folders[key] = here
            for name in folders:
                child = here / name
                if child.is_symlink() and not self._leads_out(child):
                    self.links.append(child)
            for name in files:
                child = here / name
                if child.is_symlink():
                    self.file_links.append(child)
                else:
                    self._file(child)

    def _file(self, child: Path) -> None:
        try:
            status = child.stat()
        except OSError as error:
            # A link loop (ELOOP), a broken link, a file gone since the listing.
            reason = error.strerror or type(error).__name__
            self._report(child, f"cannot read: {reason}", "unreadable", Severity.WARNING)
            return
        if child.is_symlink() and self._leads_out(child):
            return
        key = (status.st_dev, status.st_ino)
        if stat.S_ISREG(status.st_mode) and key in self.files:
            self._report(
                child, f"the same file as {self.files[key]}, read once", "skipped", Severity.INFO
            )
            return
        self.files[key] = child
        self.found.append((child, status))


def _walk_folder(folder: Path, collector: ProblemCollector, stack: ExitStack) -> Iterator[Blob]:
    for child, status in _FolderWalk(folder, collector).run():
        inner = child.relative_to(folder).parts
        part = str(folder / inner[0]) if len(inner) > 1 else None
        yield from _file_blobs(child, status, collector, stack, part)


def _begins_as_text(head: bytes) -> bool:
    """Whether a file's first bytes are printable ASCII text (after a UTF-8 BOM).

    ``zipfile.is_zipfile`` finds an archive by the central directory at its end, which
    costs a read of the file's last 64 KiB; a file that begins as text (a log, a paste)
    is not an archive any zip tool writes (a self-extracting one begins as a program), so
    that read is spared for each of a fleet's thousands of logs.
    """
    text = head.removeprefix(codecs.BOM_UTF8)
    return bool(text) and all(32 <= byte < 127 or byte in _TEXT_CONTROLS for byte in text)


_TEXT_CONTROLS = frozenset(b"\t\n\r")


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
            head = probe.read(8)
            is_zip = not _begins_as_text(head) and zipfile.is_zipfile(probe)
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
    except ARCHIVE_ERRORS as error:
        collector.report(
            skipped(name, f"cannot read the zip archive: {error}", "bad-archive", Severity.ERROR)
        )
        return
    yield from _members(archive, name, collector, part, depth=1, budget=Budget())


def _members(
    archive: zipfile.ZipFile,
    name: str,
    collector: ProblemCollector,
    part: str | None,
    *,
    depth: int,
    budget: Budget,
) -> Iterator[Blob]:
    """Yield the members of an open archive, ``depth`` archives deep."""
    try:
        members = sorted(archive.infolist(), key=lambda info: info.filename)
    except ARCHIVE_ERRORS as error:
        collector.report(
            skipped(name, f"cannot read the zip archive: {error}", "bad-archive", Severity.ERROR)
        )
        return
    for member in members:
        # ZipInfo.is_dir() fails on an empty name, which a damaged archive can hold.
        if member.filename.endswith("/"):
            continue

        def opener(info: zipfile.ZipInfo = member) -> IO[bytes]:
            raw = Limited(archive.open(info), info.compress_size, budget)
            return io.BufferedReader(raw)

        folder, _, _ = member.filename.partition("/")
        inner = f"{name}!/{folder}" if "/" in member.filename else None
        yield Blob(
            f"{name}!/{member.filename}",
            member.file_size,
            opener,
            part=part or inner,
            depth=depth,
            budget=budget,
        )


def open_archive(blob: Blob, collector: ProblemCollector, stack: ExitStack) -> list[Blob]:
    """Return the members of an archive found inside an archive (or given as a file).

    The archive is copied to a temporary file (kept on ``stack``) through its own
    limited stream, so its bytes count against the outer archive's budget, and memory
    does not grow with it. One nested more than
    :data:`~exchange_tls.budgets.MAX_ARCHIVE_DEPTH` deep is reported and not opened.
    """
    if blob.depth >= MAX_ARCHIVE_DEPTH:
        collector.report(
            skipped(
                blob.name,
                f"not opened: an archive inside {blob.depth} archives; archives are opened "
                f"{MAX_ARCHIVE_DEPTH} deep (extract it and give it directly)",
                "archive-too-deep",
            )
        )
        return []
    try:
        copy = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 -- open until read
        with blob.open() as stream:
            shutil.copyfileobj(stream, copy, _COPY_CHUNK)
        archive = stack.enter_context(zipfile.ZipFile(copy))
    except ARCHIVE_ERRORS as error:
        problem = unreadable(blob.name, error)
        collector.report(
            attrs.evolve(
                problem,
                code="bad-archive",
                message=problem.message.replace("cannot read:", "cannot open the zip archive:"),
            )
        )
        return []
    budget = blob.budget or Budget()
    return list(
        _members(archive, blob.name, collector, blob.part, depth=blob.depth + 1, budget=budget)
    )
