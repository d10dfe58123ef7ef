"""The collector's manifest: which server the evidence came from, and when.

``Export-ExchangeTlsEvidence.ps1`` writes ``manifest.json`` next to the files it
collects::

    {
      "ExchangeTlsEvidence": 1,
      "Server": "EX01",
      "Fqdn": "ex01.contoso.com",
      "CollectedUtc": "2024-06-01T10:30:00Z",
      "Days": 2,
      "Files": [{"Name": "get-queue.xml", "Source": "Get-Queue -Server EX01"}]
    }
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import BinaryIO

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.errors import ErrorMode, Problem, ProblemCollector
from exchange_tls.moments import to_utc
from exchange_tls.powershell.dates import from_iso
from exchange_tls.results import ReadResult, read_text_file
from exchange_tls.sources import SourceRef

__all__ = [
    "MANIFEST_KEY",
    "CollectionManifest",
    "looks_like_manifest",
    "parse_manifest",
    "read_manifest",
]

#: The key that marks a JSON document as the collector's manifest; its value is the
#: manifest's version.
MANIFEST_KEY = "ExchangeTlsEvidence"


@attrs.frozen(kw_only=True)
class CollectionManifest:
    """What the collector recorded about its run."""

    #: The server's name (``$env:COMPUTERNAME``).
    server: str | None
    #: The server's FQDN, where the collector could learn it.
    fqdn: str | None = None
    #: When the evidence was collected, in UTC.
    collected: dt.datetime | None = None
    #: How many days of logs and events were collected.
    days: int | None = None
    #: The files the collector wrote, with the command behind each.
    files: tuple[tuple[str, str], ...] = ()
    source: SourceRef | None = None


def looks_like_manifest(text: str) -> bool:
    """Whether ``text`` is the collector's manifest."""
    head = text.lstrip("\ufeff \t\r\n")[:400]
    return head.startswith("{") and f'"{MANIFEST_KEY}"' in head


def _time(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = from_iso(text)
    except ValueError:
        return None
    return to_utc(moment)


def parse_manifest(
    text: str, *, source: str = "manifest.json", errors: ErrorMode = "collect"
) -> ReadResult[CollectionManifest]:
    """Read the manifest: a result of one manifest, or of none (with why) when unreadable.

    Like every reader it returns a :class:`~exchange_tls.ReadResult`, so that the table
    of evidence kinds reads it as it reads the others; a file holds one manifest at most.

    >>> from exchange_tls import parse_manifest
    >>> result = parse_manifest(
    ...     '{"ExchangeTlsEvidence": 1, "Server": "EX01", "CollectedUtc": "2024-06-01T10:30:00Z"}'
    ... )
    >>> [manifest] = result
    >>> manifest.server, manifest.collected.isoformat(), result.problems, result.format
    ('EX01', '2024-06-01T10:30:00+00:00', (), 'json')
    >>> parse_manifest('{"Name": "x"}').items
    ()
    """
    check_arguments("parse_manifest", text=text, source=source, errors=errors)
    collector = ProblemCollector(errors)
    # Text that is not JSON was read in no format; JSON that is not a manifest was.
    read_as: str | None = None
    try:
        document = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        collector.report(
            Problem(
                message=f"manifest is not JSON: {error.msg}",
                source=source,
                line=error.lineno,
                column=error.colno,
                code="manifest-json",
            )
        )
        return ReadResult(items=(), problems=collector.problems, format=read_as, source=source)
    except RecursionError:
        collector.report(
            Problem(message="manifest nested too deeply", source=source, code="manifest-json")
        )
        return ReadResult(items=(), problems=collector.problems, format=read_as, source=source)
    read_as = "json"
    if not isinstance(document, dict) or MANIFEST_KEY not in document:
        collector.report(
            Problem(
                message=f"not the collector's manifest (no {MANIFEST_KEY!r} key)",
                source=source,
                code="manifest-key",
            )
        )
        return ReadResult(items=(), problems=collector.problems, format=read_as, source=source)
    collected = _time(document.get("CollectedUtc"))
    if document.get("CollectedUtc") is not None and collected is None:
        collector.report(
            Problem(
                message=f"CollectedUtc {document.get('CollectedUtc')!r} is not an ISO 8601 time",
                source=source,
                severity="warning",
                code="manifest-time",
            )
        )
    listed = document.get("Files")
    files = [
        (item["Name"], str(item.get("Source") or ""))
        for item in (listed if isinstance(listed, list) else ())
        if isinstance(item, dict) and isinstance(item.get("Name"), str)
    ]
    days = document.get("Days")
    server = document.get("Server")
    fqdn = document.get("Fqdn")
    manifest = CollectionManifest(
        server=server if isinstance(server, str) and server else None,
        fqdn=fqdn if isinstance(fqdn, str) and fqdn else None,
        collected=collected,
        days=days if isinstance(days, int) and not isinstance(days, bool) else None,
        files=tuple(files),
        source=SourceRef(source, 1),
    )
    return ReadResult(items=(manifest,), problems=collector.problems, format="json", source=source)


def read_manifest(
    file: str | os.PathLike[str] | BinaryIO, *, errors: ErrorMode = "collect"
) -> ReadResult[CollectionManifest]:
    """Read a ``manifest.json`` file; see :func:`parse_manifest`."""
    check_arguments("read_manifest", file=file, errors=errors)
    return read_text_file(
        file, lambda text, source: parse_manifest(text, source=source, errors=errors)
    )
