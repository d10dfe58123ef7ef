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
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import attrs

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.certificates.reader import parse_certificates
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.connectors.reader import parse_receive_connectors, parse_send_connectors
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.errors import ParseError, Problem, ProblemCollector, Severity
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.reader import read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.pasted import repair_pasted
from exchange_tls.protocol_log.reader import parse_protocol_log, stream_protocol_rows
from exchange_tls.protocol_log.sessions import MAX_SESSION_ROWS, SessionAssembler
from exchange_tls.queues.last_error import parse_last_error
from exchange_tls.queues.models import QueueRecord
from exchange_tls.queues.reader import parse_queues
from exchange_tls.sources import decode_bytes, describe_mode, open_regular

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_INFLATE_RATIO",
    "MAX_TEXT_BYTES",
    "EvidenceFile",
    "Kind",
    "classify",
    "load_evidence",
]

#: What a file holds.
Kind = Literal[
    "protocol-log", "certificates", "queues", "send-connectors", "receive-connectors", "unknown"
]

#: ``progress(done_bytes, total_bytes, name)``, called before each file is read.
Progress = Callable[[int, int, str], None]

# How many lines with text may come before a log's first row (a prompt, a banner).
_LOG_LOOKAHEAD = 5
# Problems of the walk that leave a file unopened.
_NOT_OPENED = frozenset({"not-a-file", "unreadable", "bad-archive"})
# Problems of one kind listed before the rest are counted in one.
_LISTED = 100
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
    #: The decoded text while the file is read; empty in the list ``load_evidence``
    #: keeps, and for a protocol log, whose rows were streamed.
    text: str
    kind: Kind
    #: Its size in bytes (inflated, for an archive member); ``None`` when it was not read.
    size: int | None
    #: A protocol log copied through a web page or a ticket, read with repairs.
    pasted: bool = False
    #: Why the file was left out (the message of its problem); ``None`` when it was read.
    note: str | None = None


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


def _log_rows_from(head: str) -> int | None:
    """Return which of the first lines with text is the first log row, if one is."""
    if _LOG_HEADER.search(head):
        return 0
    lines = (line for line in head.split("\n") if line.strip())
    for index, line in enumerate(itertools.islice(lines, _LOG_LOOKAHEAD)):
        if _LOG_ROW.match(line.lstrip("\ufeff")):
            return index
    return None


def _log_form(head: str, name: str) -> Literal["written", "pasted"] | None:
    """Say whether text is a protocol log as Exchange wrote it, one pasted, or neither."""
    first_row = _log_rows_from(head)
    if first_row == 0:
        return "written"
    if first_row is not None:
        # Rows after a prompt, a banner or a first row that lost its first characters
        # (a blog's drop cap): read with repairs, the lines before reported.
        return "pasted"
    # A log copied through a web page or a ticket: quote or comment prefixes, header
    # lines that lost their "#", blank lines between rows. Repaired here only to look.
    repaired = repair_pasted(head.replace("\r\n", "\n"), name, ProblemCollector())
    return "pasted" if _log_rows_from(repaired) is not None else None


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


# Problems of reading that explain why a file could not be classified.
_REFUSALS = frozenset(
    {"xml-unsafe", "xml-depth", "xml-limit", "xml-error", "json-depth", "json-error"}
)


def _classify(text: str, name: str) -> tuple[Kind, bool]:
    """Return the kind, and whether the text is a protocol log that was pasted."""
    kind, pasted, _ = _classify_why(text, name)
    return kind, pasted


def _classify_why(text: str, name: str) -> tuple[Kind, bool, str | None]:
    """Return the kind, whether it is a pasted log, and why an unknown file is unknown."""
    head = text[:20000]
    form = _log_form(head, name)
    if form is not None:
        return "protocol-log", form == "pasted", None
    try:
        _, records, problems = read_records(text.split("\n"), source=name)
    except ParseError:
        return "unknown", False, None
    kind = _record_kind(records)
    reason = next((p.message for p in problems if p.code in _REFUSALS), None)
    return kind, False, reason if kind == "unknown" else None


class _TooLarge(Exception):
    """A limit of :data:`MAX_TEXT_BYTES`, :data:`MAX_ARCHIVE_BYTES` or the ratio was hit."""


#: The most bytes of one file (or archive member) read into memory. Get-* output is a
#: few megabytes; protocol logs are streamed and exempt.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: The most bytes inflated from one zip archive, all members together.
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
#: The most a zip member may inflate per compressed byte, once past its first MiB; text
#: evidence compresses 5 to 30 times.
MAX_INFLATE_RATIO = 200
# What the content of an unreadable or damaged archive member raises: an encrypted
# member (RuntimeError), a bad CRC or header (BadZipFile), bad deflate data (zlib.error),
# bad bzip2 or lzma data (OSError, EOFError, LZMAError), an unknown method
# (NotImplementedError).
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    _TooLarge,
)
_HEAD_BYTES = 64 * 1024


class _Budget:
    """The bytes an archive may still inflate."""

    def __init__(self, limit: int) -> None:
        self.left = limit


class _Limited(io.RawIOBase):
    """An archive member as a stream that stops at the size and ratio limits."""

    def __init__(self, member: IO[bytes], info: zipfile.ZipInfo, budget: _Budget) -> None:
        super().__init__()
        self._member = member
        self._info = info
        self._budget = budget
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._member.read(len(buffer))
        self._read += len(data)
        self._budget.left -= len(data)
        if self._budget.left < 0:
            raise _TooLarge(f"the archive inflates to more than {MAX_ARCHIVE_BYTES:,} bytes")
        ratio_floor = max(self._info.compress_size, 1) * MAX_INFLATE_RATIO
        if self._read > max(ratio_floor, 1024 * 1024):
            raise _TooLarge(
                f"the member inflates more than {MAX_INFLATE_RATIO} times its compressed "
                "size (a zip bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._member.close()
        super().close()


@attrs.frozen
class _Blob:
    """A file found by the walk, not yet read."""

    name: str
    size: int
    open: Callable[[], IO[bytes]]


def _open_regular(path: Path) -> IO[bytes]:
    # Looked up in this module at each call, so that a test can stand in for a file
    # that cannot be opened.
    return open_regular(path)


def _skipped(name: str, message: str, code: str, severity: Severity = Severity.WARNING) -> Problem:
    return Problem(message=message, source=name, severity=severity, code=code)


def _walk(
    paths: Iterable[str | os.PathLike[str]], collector: ProblemCollector, stack: ExitStack
) -> Iterator[_Blob]:
    for item in paths:
        path = Path(item)
        try:
            status = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                collector.report(_skipped(str(path), "a broken symbolic link", "unreadable"))
                continue
            raise FileNotFoundError(f"no such file or folder: {item}") from None
        except OSError as error:
            collector.report(_skipped(str(path), f"cannot read: {error.strerror}", "unreadable"))
            continue
        if stat.S_ISDIR(status.st_mode):
            yield from _walk_folder(path, collector, stack)
        else:
            yield from _file_blobs(path, status, collector, stack)


def _walk_folder(folder: Path, collector: ProblemCollector, stack: ExitStack) -> Iterator[_Blob]:
    found: list[tuple[Path, os.stat_result]] = []

    def unreadable(error: OSError) -> None:
        name = str(error.filename or folder)
        collector.report(_skipped(name, f"cannot read the folder: {error.strerror}", "unreadable"))

    # Symbolic links to folders are not followed, so a link loop cannot recur.
    for root, folders, files in os.walk(folder, onerror=unreadable, followlinks=False):
        for name in folders:
            child = Path(root, name)
            if child.is_symlink():
                collector.report(
                    _skipped(
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
                collector.report(_skipped(str(child), f"cannot read: {reason}", "unreadable"))
    for child, status in sorted(found, key=lambda item: item[0]):
        yield from _file_blobs(child, status, collector, stack)


def _file_blobs(
    path: Path, status: os.stat_result, collector: ProblemCollector, stack: ExitStack
) -> Iterator[_Blob]:
    name = str(path)
    if not stat.S_ISREG(status.st_mode):
        kind = describe_mode(status.st_mode)
        collector.report(_skipped(name, f"skipped: {kind}, not a regular file", "not-a-file"))
        return
    try:
        with _open_regular(path) as probe:
            head = probe.read(4)
            is_zip = zipfile.is_zipfile(probe)
    except OSError as error:
        collector.report(_skipped(name, f"cannot read: {error.strerror}", "unreadable"))
        return
    if not is_zip and head.startswith(b"PK\x03\x04"):
        collector.report(
            _skipped(
                name,
                "cannot read the zip archive: it is truncated or damaged (no central directory)",
                "bad-archive",
                Severity.ERROR,
            )
        )
        return
    if not is_zip:
        yield _Blob(name, status.st_size, lambda: _open_regular(path))
        return
    try:
        archive = stack.enter_context(zipfile.ZipFile(stack.enter_context(_open_regular(path))))
        members = sorted(archive.infolist(), key=lambda info: info.filename)
    except _ARCHIVE_ERRORS as error:
        collector.report(
            _skipped(name, f"cannot read the zip archive: {error}", "bad-archive", Severity.ERROR)
        )
        return
    budget = _Budget(MAX_ARCHIVE_BYTES)
    for member in members:
        # ZipInfo.is_dir() fails on an empty name, which a damaged archive can hold.
        if member.filename.endswith("/"):
            continue

        def opener(info: zipfile.ZipInfo = member) -> IO[bytes]:
            raw = _Limited(archive.open(info), info, budget)
            return io.BufferedReader(raw)

        yield _Blob(f"{path}!/{member.filename}", member.file_size, opener)


def _read_limited(blob: _Blob, limit: int) -> bytes:
    """Read a blob whole, refusing one of more than ``limit`` bytes before it is all read."""
    with blob.open() as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise _TooLarge(f"larger than {limit:,} bytes")
    return data


M = TypeVar("M", ExchangeCertificate, QueueRecord, SendConnector, ReceiveConnector)


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


# Where a queue error may start inside prose, an NDR or a tracking record: a failure
# reply code with its enhanced status code, or the bracket form.
_ERROR_START = re.compile(
    r"(?<![\d.])[45]\d\d[ \t-]+[45]\.\d{1,3}\.\d{1,3}(?!\d)|\{?\[\{(?:LRT|LED)=", re.IGNORECASE
)


def _holds_queue_error(text: str) -> bool:
    """Whether the text is, or holds within prose, a queue error that explain decodes."""
    candidates = [text] if len(text) < 4000 else []
    for match in itertools.islice(_ERROR_START.finditer(text), 5):
        end = text.find("\n", match.start())
        candidates.append(text[match.start() : len(text) if end == -1 else end])
    for candidate in candidates:
        try:
            error = parse_last_error(candidate)
        except ParseError:
            continue
        # A bracket list without an SMTP reply (JSON text starts with "[{" too) is not
        # an error explain could decode.
        if error.reply is not None:
            return True
    return False


def _unclassified(text: str, name: str, reason: str | None = None) -> Problem:
    """Say that a file was left out, and what to do when it is a queue error on its own."""
    message = "could not tell what this file holds; it was left out"
    if reason is not None:
        message = f"could not read this file ({reason}); it was left out"
    code = "unclassified"
    if reason is None and _holds_queue_error(text):
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
    ``FileNotFoundError`` for a path that does not exist; anything else that cannot be
    read (a named pipe or device, an unreadable or damaged file, a zip archive that is
    encrypted, damaged or inflates beyond the limits in SECURITY.md) is reported as a
    problem at its name, and the rest is read.
    """
    collector = ProblemCollector()
    assembler = SessionAssembler()
    sessions: list[SmtpSession] = []
    files: list[EvidenceFile] = []
    certificates: list[ExchangeCertificate] = []
    queues: list[QueueRecord] = []
    send: list[SendConnector] = []
    receive: list[ReceiveConnector] = []
    with ExitStack() as stack:
        blobs = list(_walk(paths, collector, stack))
        # What the walk could not open is listed too, so every file is accounted for.
        files.extend(
            EvidenceFile(name=p.source, text="", kind="unknown", size=None, note=p.message)
            for p in collector.problems
            if p.code in _NOT_OPENED and p.source is not None
        )
        total = sum(blob.size for blob in blobs)
        done = 0
        for blob in blobs:
            if progress is not None:
                progress(done, total, blob.name)
            done += blob.size
            name = blob.name
            if name.lower().endswith(_NOT_EVIDENCE):
                skipped = Problem(
                    message="skipped: documentation or a script, not evidence",
                    source=name,
                    severity=Severity.INFO,
                    code="skipped",
                )
                collector.report(skipped)
                files.append(_left_out(blob, skipped))
                continue
            try:
                file = _read_blob(blob, collector, assembler, sessions)
            except _ARCHIVE_ERRORS as error:
                problem = _unreadable(name, error)
                collector.report(problem)
                files.append(_left_out(blob, problem))
                continue
            # Only what a file holds is kept, not its text: memory stays bounded by the
            # records, whatever the size and number of files.
            files.append(attrs.evolve(file, text=""))
            if file.kind == "certificates":
                result = parse_certificates(file.text, source=name, date_order=date_order, tz=tz)
                collector.extend(list(result.problems))
                certificates.extend(result)
            elif file.kind == "queues":
                queue_result = parse_queues(file.text, source=name, date_order=date_order, tz=tz)
                collector.extend(list(queue_result.problems))
                queues.extend(queue_result)
            elif file.kind == "send-connectors":
                send_result = parse_send_connectors(file.text, source=name)
                collector.extend(list(send_result.problems))
                send.extend(send_result)
            elif file.kind == "receive-connectors":
                receive_result = parse_receive_connectors(file.text, source=name)
                collector.extend(list(receive_result.problems))
                receive.extend(receive_result)
    if progress is not None:
        progress(total, total, "")
    sessions.extend(assembler.close())
    _report_truncated(assembler, collector)
    return Evidence(
        sessions=sessions,
        certificates=_merge(certificates, lambda c: c.thumbprint),
        queues=_merge(queues, lambda q: q.identity),
        send_connectors=_merge(send, lambda c: (c.name or "").casefold() or None),
        receive_connectors=_merge(receive, lambda c: c.identity or c.name),
        problems=collector.problems,
        server_fqdn=server_fqdn,
    )


def _unreadable(name: str, error: BaseException) -> Problem:
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


def _read_blob(
    blob: _Blob,
    collector: ProblemCollector,
    assembler: SessionAssembler,
    sessions: list[SmtpSession],
) -> EvidenceFile:
    """Read one file: a protocol log is fed to the assembler, anything else returned."""
    with blob.open() as stream:
        head_bytes = stream.read(_HEAD_BYTES)
    head = decode_bytes(head_bytes, blob.name).text
    if _log_form(head[:20000], blob.name) == "written":
        _stream_log(blob, collector, assembler, sessions)
        return EvidenceFile(name=blob.name, text="", kind="protocol-log", size=blob.size)
    try:
        data = _read_limited(blob, MAX_TEXT_BYTES)
    except _TooLarge as error:
        problem = Problem(
            message=f"not read: {error} (the limits are in SECURITY.md)",
            source=blob.name,
            severity=Severity.ERROR,
            code="too-large",
        )
        collector.report(problem)
        return _left_out(blob, problem)
    decoded = decode_bytes(data, blob.name)
    collector.extend(list(decoded.problems))
    kind, pasted, reason = _classify_why(decoded.text, blob.name)
    if kind == "unknown":
        problem = _unclassified(decoded.text, blob.name, reason)
        collector.report(problem)
        return attrs.evolve(_left_out(blob, problem), size=len(data))
    if kind == "protocol-log":
        log = parse_protocol_log(decoded.text, blob.name, pasted=pasted)
        collector.extend(list(log.problems))
        sessions.extend(assembler.feed_all(log.rows))
        return EvidenceFile(name=blob.name, text="", kind=kind, size=blob.size, pasted=pasted)
    return EvidenceFile(name=blob.name, text=decoded.text, kind=kind, size=len(data))


def _left_out(blob: _Blob, problem: Problem) -> EvidenceFile:
    return EvidenceFile(
        name=blob.name, text="", kind="unknown", size=blob.size, note=problem.message
    )


def _stream_log(
    blob: _Blob,
    collector: ProblemCollector,
    assembler: SessionAssembler,
    sessions: list[SmtpSession],
) -> None:
    """Feed a protocol log to the assembler batch by batch: memory does not grow with it."""
    rows = stream_protocol_rows(blob.open, blob.name, collector)
    try:
        sessions.extend(assembler.feed_all(rows))
    except _ARCHIVE_ERRORS as error:
        problem = _unreadable(blob.name, error)
        collector.report(
            attrs.evolve(
                problem,
                message=problem.message.replace(
                    "it was left out", "reading stopped there; the rows before were kept"
                ),
            )
        )


def _report_truncated(assembler: SessionAssembler, collector: ProblemCollector) -> None:
    for connector, session, dropped in assembler.truncated[:_LISTED]:
        collector.report(
            Problem(
                message=f"session {session} of {connector!r} has more than "
                f"{MAX_SESSION_ROWS:,} rows; the last {dropped:,} before its end were "
                "left out of it",
                source=connector,
                severity=Severity.WARNING,
                code="session-truncated",
            )
        )
    if len(assembler.truncated) > _LISTED:
        collector.report(
            Problem(
                message=f"{len(assembler.truncated) - _LISTED} more sessions lost rows the "
                f"same way ({MAX_SESSION_ROWS:,} rows kept each)",
                source="<sessions>",
                severity=Severity.WARNING,
                code="session-truncated",
            )
        )
