"""Find protocol log files: folders, globs and Exchange's file names."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.protocol_log.models import Direction

__all__ = ["direction_from_path", "expand_paths", "log_name_key"]

# SENDyyyymmdd-n.log (documented) and RECVyyyymmddHH-n.LOG (Exchange 2016 CU, hourly).
_LOG_NAME = re.compile(r"^(SEND|RECV)(\d{8})(\d{2})?-(\d+)\.log$", re.IGNORECASE)
_GLOB_CHARACTERS = frozenset("*?[")


def log_name_key(path: Path) -> tuple[str, str, int, int, str]:
    """Sort key: kind, date, hour, then instance as a number (``-2`` before ``-10``)."""
    match = _LOG_NAME.match(path.name)
    if match is None:
        return ("~", "", 0, 0, path.name)
    kind, date, hour, instance = match.groups()
    return (kind.upper(), date, int(hour or -1), int(instance), path.name)


def direction_from_path(path: Path) -> Direction | None:
    """Return the direction a file name (``SEND…``) or folder (``SmtpSend``) says."""
    name = path.name.upper()
    if name.startswith("SEND"):
        return Direction.SEND
    if name.startswith("RECV"):
        return Direction.RECEIVE
    parent = path.parent.name.casefold()
    if parent == "smtpsend":
        return Direction.SEND
    if parent == "smtpreceive":
        return Direction.RECEIVE
    return None


def _folder(folder: Path, collector: ProblemCollector) -> list[Path]:
    logs: list[Path] = []
    others: list[Path] = []
    for entry in folder.iterdir():
        if entry.is_file():
            (logs if _LOG_NAME.match(entry.name) else others).append(entry)
    if others:
        collector.report(
            Problem(
                message=f"skipped {len(others)} files that are not named SEND*/RECV*.log, "
                f"such as {sorted(others)[0].name}",
                source=str(folder),
                severity=Severity.INFO,
                code="skipped-files",
            )
        )
    return sorted(logs, key=log_name_key)


def expand_paths(
    paths: Iterable[str | os.PathLike[str]], collector: ProblemCollector
) -> Iterator[Path]:
    """Yield the log files that files, folders and glob patterns name, in order."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from _folder(path, collector)
        elif path.exists():
            yield path
        elif _GLOB_CHARACTERS & set(str(item)):
            matches = sorted((Path(name) for name in glob.glob(str(item))), key=log_name_key)
            files = [match for match in matches if match.is_file()]
            if not files:
                collector.report(
                    Problem(
                        message="the pattern matches no file",
                        source=str(item),
                        code="no-match",
                    )
                )
            yield from files
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
