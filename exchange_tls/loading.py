"""``load_evidence()``: files, folders and zip archives in, :class:`Evidence` out.

Each file's kind is told from its content, not its name: a protocol log by its header or
its rows; PowerShell output by the properties (and, where the format carries them, the
.NET type names) of its records. Files of the same objects are merged: the same
certificate from a table and from a list is one certificate, with the properties of both.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

import attrs

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.certificates.reader import parse_certificates
from exchange_tls.connectors.hybrid import (
    HybridConfiguration,
    hybrid_key,
    looks_like_hybrid_configuration,
    parse_hybrid_configuration,
)
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.connectors.reader import parse_receive_connectors, parse_send_connectors
from exchange_tls.diagnosis.evidence import Evidence, LoadedFile
from exchange_tls.errors import ParseError, Problem, ProblemCollector, Severity
from exchange_tls.events.models import EventRecord, event_key
from exchange_tls.events.reader import EVTX_MAGIC, parse_events, read_events, recognises_events
from exchange_tls.manifest import CollectionManifest, looks_like_manifest, parse_manifest
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.reader import read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.protocol_log.models import ProtocolLogRow
from exchange_tls.protocol_log.pasted import repair_pasted
from exchange_tls.protocol_log.reader import parse_protocol_log
from exchange_tls.protocol_log.sessions import assemble_sessions
from exchange_tls.queues.last_error import parse_last_error
from exchange_tls.queues.models import QueueRecord
from exchange_tls.queues.reader import parse_queues
from exchange_tls.sources import decode_bytes
from exchange_tls.tls_settings.models import TlsSettings
from exchange_tls.tls_settings.reader import parse_tls_settings, recognises_tls_settings

__all__ = ["EvidenceFile", "Kind", "classify", "load_evidence"]

#: What a file holds.
Kind = Literal[
    "protocol-log",
    "certificates",
    "queues",
    "send-connectors",
    "receive-connectors",
    "events",
    "tls-settings",
    "hybrid-configuration",
    "manifest",
    "unknown",
]

#: ``progress(done_bytes, total_bytes, name)``, called before each file is read.
Progress = Callable[[int, int, str], None]

# Files that travel with evidence (a bundle's README, the collector script) but are none.
_NOT_EVIDENCE = (".md", ".ps1", ".py", ".ipynb", ".html", ".htm")
_LOG_ROW = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z,")
_LOG_HEADER = re.compile(r"^#(?:Log-type: SMTP|Fields: date-time,connector-id)", re.MULTILINE)
# The most telling properties of each kind, and the .NET type names that settle it.
_KIND_PROPERTIES: dict[Kind, tuple[str, ...]] = {
    "certificates": ("Thumbprint", "RawData", "CertificateDomains", "HasPrivateKey", "RootCAType"),
    "queues": ("DeliveryType", "NextHopDomain", "MessageCount", "LastError", "NextHopCategory"),
    "send-connectors": ("SmartHosts", "AddressSpaces", "IgnoreSTARTTLS", "DNSRoutingEnabled"),
    "receive-connectors": ("Bindings", "RemoteIPRanges", "AuthMechanism", "PermissionGroups"),
}
_KIND_TYPES: dict[Kind, str] = {
    "certificates": "ExchangeCertificate",
    "queues": "QueueInfo",
    "send-connectors": "SmtpSendConnectorConfig",
    "receive-connectors": "ReceiveConnector",
}


@attrs.frozen
class EvidenceFile:
    """One file of evidence: its name, its text, and what it holds."""

    name: str
    text: str
    kind: Kind
    size: int
    #: A protocol log copied through a web page or a ticket, read with repairs.
    pasted: bool = False


def _record_kind(records: list[PSObject]) -> Kind:
    scores = dict.fromkeys(_KIND_PROPERTIES, 0)
    for record in records[:20]:
        names = " ".join(record.type_names)
        for kind, type_name in _KIND_TYPES.items():
            if type_name in names:
                return kind
        for kind, properties in _KIND_PROPERTIES.items():
            scores[kind] += sum(record.get(name) is not None for name in properties)
    kind, score = max(scores.items(), key=lambda item: item[1])
    return kind if score else "unknown"


def _looks_like_log(head: str) -> bool:
    if _LOG_HEADER.search(head):
        return True
    first = next((line for line in head.split("\n") if line.strip()), "")
    return _LOG_ROW.match(first.lstrip("\ufeff")) is not None


def _log_form(head: str, name: str) -> Literal["written", "pasted"] | None:
    """Say whether text is a protocol log as Exchange wrote it, one pasted, or neither."""
    if _looks_like_log(head):
        return "written"
    # A log copied through a web page or a ticket: quote or comment prefixes, header
    # lines that lost their "#", blank lines between rows. Repaired here only to look.
    repaired = repair_pasted(head.replace("\r\n", "\n"), name, ProblemCollector())
    return "pasted" if _looks_like_log(repaired) else None


def classify(text: str, name: str = "<text>") -> Kind:
    r"""Tell what a piece of evidence holds, from its content.

    >>> classify("#Log-type: SMTP Send Protocol Log\n")
    'protocol-log'
    >>> classify("> Log-type: SMTP Send Protocol Log\n")  # pasted: read with repairs
    'protocol-log'
    >>> classify("Identity : EX01\\9\nDeliveryType : SmartHostConnectorDelivery\n")
    'queues'
    """
    return _classify(text, name)[0]


def _classify(text: str, name: str) -> tuple[Kind, bool]:
    """Return the kind, and whether the text is a protocol log that was pasted."""
    head = text[:20000]
    server_kind = _server_evidence_kind(head)
    if server_kind is not None:
        return server_kind, False
    form = _log_form(head, name)
    if form is not None:
        return "protocol-log", form == "pasted"
    try:
        _, records, _ = read_records(
            head.split("\n") if len(text) <= 20000 else text.split("\n"), source=name
        )
    except ParseError:
        return "unknown", False
    if recognises_events(head, records):
        return "events", False
    if recognises_tls_settings(head, records):
        return "tls-settings", False
    if looks_like_hybrid_configuration(records):
        return "hybrid-configuration", False
    return _record_kind(records), False


def _server_evidence_kind(head: str) -> Kind | None:
    """Recognise the kinds that are not PowerShell records: manifest, .reg, event XML."""
    if looks_like_manifest(head):
        return "manifest"
    if recognises_tls_settings(head):
        return "tls-settings"
    if recognises_events(head):
        return "events"
    return None


def _walk(
    paths: Iterable[str | os.PathLike[str]], collector: ProblemCollector
) -> Iterator[tuple[str, bytes]]:
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield from _walk([child], collector)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in sorted(archive.infolist(), key=lambda info: info.filename):
                    if member.is_dir():
                        continue
                    yield f"{path}!/{member.filename}", archive.read(member)
        elif path.exists():
            yield str(path), path.read_bytes()
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")


M = TypeVar(
    "M",
    ExchangeCertificate,
    QueueRecord,
    SendConnector,
    ReceiveConnector,
    EventRecord,
    HybridConfiguration,
)


def _merge(items: Iterable[M], key: Callable[[M], object]) -> list[M]:
    """Merge records of the same object: later files fill what earlier ones lacked."""
    merged: dict[object, M] = {}
    order: list[object] = []
    loose: list[M] = []
    for item in items:
        identity = key(item)
        if identity is None:
            loose.append(item)
            continue
        if identity not in merged:
            merged[identity] = item
            order.append(identity)
            continue
        first = merged[identity]
        changes = {
            field.name: getattr(item, field.name)
            for field in attrs.fields(type(first))
            if getattr(first, field.name) in (None, (), False)
            and getattr(item, field.name) not in (None, ())
        }
        if changes:
            merged[identity] = attrs.evolve(first, **changes)
    return [merged[identity] for identity in order] + loose


def _unclassified(text: str, name: str) -> Problem:
    """Say that a file was left out, and what to do when it is a queue error on its own."""
    message = "could not tell what this file holds; it was left out"
    code = "unclassified"
    if len(text) < 4000:
        try:
            parse_last_error(text)
        except ParseError:
            pass
        else:
            message = (
                "holds a queue error without its queue (no Identity or NextHopDomain), so it "
                "was left out of the diagnosis; 'exchange-tls explain' decodes it and lists "
                "the causes that give it"
            )
            code = "lone-queue-error"
    return Problem(message=message, source=name, severity=Severity.WARNING, code=code)


def load_evidence(
    *paths: str | os.PathLike[str],
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    progress: Progress | None = None,
    server_fqdn: str | None = None,
) -> Evidence:
    """Read files, folders and zip archives into :class:`Evidence`.

    Every file's kind is detected from its content; what cannot be classified is
    reported in ``Evidence.problems``. Protocol logs from several files are assembled
    into sessions together, so sessions span rotated files. Raises
    ``FileNotFoundError`` for a path that does not exist.
    """
    collector = ProblemCollector()
    blobs = list(_walk(paths, collector))
    total = sum(len(data) for _, data in blobs)
    done = 0
    files: list[EvidenceFile] = []
    binary_events: list[EventRecord] = []
    for name, data in blobs:
        if progress is not None:
            progress(done, total, name)
        done += len(data)
        if data.startswith(EVTX_MAGIC):
            evtx = read_events(io.BytesIO(data), date_order=date_order, tz=tz)
            collector.extend(list(evtx.problems))
            binary_events.extend(evtx)
            continue
        if name.lower().endswith(_NOT_EVIDENCE):
            collector.report(
                Problem(
                    message="skipped: documentation or a script, not evidence",
                    source=name,
                    severity=Severity.INFO,
                    code="skipped",
                )
            )
            continue
        decoded = decode_bytes(data, name)
        collector.extend(list(decoded.problems))
        kind, pasted = _classify(decoded.text, name)
        if kind == "unknown":
            collector.report(_unclassified(decoded.text, name))
        files.append(
            EvidenceFile(name=name, text=decoded.text, kind=kind, size=len(data), pasted=pasted)
        )
    if progress is not None:
        progress(total, total, "")
    rows: list[Iterable[ProtocolLogRow]] = []
    certificates: list[ExchangeCertificate] = []
    queues: list[QueueRecord] = []
    send: list[SendConnector] = []
    receive: list[ReceiveConnector] = []
    events: list[EventRecord] = list(binary_events)
    tls_settings: list[TlsSettings] = []
    hybrid: list[HybridConfiguration] = []
    manifest: CollectionManifest | None = None
    for file in files:
        if file.kind == "protocol-log":
            log = parse_protocol_log(file.text, file.name, pasted=file.pasted)
            collector.extend(list(log.problems))
            rows.append(log.rows)
        elif file.kind == "certificates":
            result = parse_certificates(file.text, source=file.name, date_order=date_order, tz=tz)
            collector.extend(list(result.problems))
            certificates.extend(result)
        elif file.kind == "queues":
            queue_result = parse_queues(file.text, source=file.name, date_order=date_order, tz=tz)
            collector.extend(list(queue_result.problems))
            queues.extend(queue_result)
        elif file.kind == "send-connectors":
            send_result = parse_send_connectors(file.text, source=file.name)
            collector.extend(list(send_result.problems))
            send.extend(send_result)
        elif file.kind == "receive-connectors":
            receive_result = parse_receive_connectors(file.text, source=file.name)
            collector.extend(list(receive_result.problems))
            receive.extend(receive_result)
        elif file.kind in ("events", "tls-settings", "hybrid-configuration", "manifest"):
            manifest = _parse_server_evidence(
                file, date_order, tz, collector, events, tls_settings, hybrid, manifest
            )
    return Evidence(
        sessions=assemble_sessions(itertools.chain.from_iterable(rows)),
        certificates=_merge(certificates, lambda c: c.thumbprint),
        queues=_merge(queues, lambda q: q.identity),
        send_connectors=_merge(send, lambda c: (c.name or "").casefold() or None),
        receive_connectors=_merge(receive, lambda c: c.identity or c.name),
        problems=collector.problems,
        server_fqdn=server_fqdn or (manifest.fqdn if manifest is not None else None),
        files=[
            LoadedFile(name=file.name, kind=file.kind, size=file.size, pasted=file.pasted)
            for file in files
        ],
        events=_merge(events, event_key),
        tls_settings=tls_settings,
        hybrid_configurations=_merge(hybrid, hybrid_key),
        manifest=manifest,
    )


def _parse_server_evidence(
    file: EvidenceFile,
    date_order: DateOrder | None,
    tz: dt.tzinfo,
    collector: ProblemCollector,
    events: list[EventRecord],
    tls_settings: list[TlsSettings],
    hybrid: list[HybridConfiguration],
    manifest: CollectionManifest | None,
) -> CollectionManifest | None:
    """Parse an event, TLS settings, hybrid or manifest file; return the manifest so far."""
    try:
        if file.kind == "events":
            event_result = parse_events(file.text, source=file.name, date_order=date_order, tz=tz)
            collector.extend(list(event_result.problems))
            events.extend(event_result)
        elif file.kind == "tls-settings":
            settings_result = parse_tls_settings(file.text, source=file.name)
            collector.extend(list(settings_result.problems))
            tls_settings.extend(settings_result)
        elif file.kind == "hybrid-configuration":
            hybrid_result = parse_hybrid_configuration(file.text, source=file.name)
            collector.extend(list(hybrid_result.problems))
            hybrid.extend(hybrid_result)
        else:
            parsed, problems = parse_manifest(file.text, source=file.name)
            collector.extend(list(problems))
            if parsed is not None and manifest is not None:
                collector.report(
                    Problem(
                        message="a second collector manifest; the first one is used",
                        source=file.name,
                        severity=Severity.WARNING,
                        code="second-manifest",
                    )
                )
            elif parsed is not None:
                return parsed
    except ParseError as error:
        collector.report(error.to_problem())
    return manifest
