"""``load_evidence()``: files, folders and zip archives in, :class:`Evidence` out.

Theory of operation.

1. **Walk** (:mod:`exchange_tls.walking`). Only regular files are opened; zip members are
   streamed within the size and ratio limits of SECURITY.md (:mod:`exchange_tls.budgets`).
   Whatever cannot be opened is reported, and the rest is read.
2. **Kinds.** Each file's kind is told from its content, not its name: a protocol log by its
   header or its rows (as Exchange wrote it, or pasted with damage the repairs undo); any
   other kind by the table of :mod:`exchange_tls.kinds`.
3. **Protocol logs are summarised** (:mod:`exchange_tls.protocol_log.summary`): each file is
   reduced as it streams, in this process, in a process pool (``jobs``) or on any
   executor (``executor``, a Dask client's included), and the summaries merge. Memory
   holds the summaries, not the rows. ``keep_sessions=True`` keeps every session whole
   instead, for tables and notebooks.
4. **Groups and scopes.** The files of each path given are one group; a group that names
   several servers is split by its subfolders. Each group's server is learned from its
   evidence (:mod:`exchange_tls.diagnosis.scopes`), and groups of one server are one scope,
   their records merged with conflicts reported, as the files of one group are
   (:meth:`Evidence.merge <exchange_tls.Evidence.merge>`).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.budgets import (
    ARCHIVE_ERRORS,
    MAX_ARCHIVE_BYTES,
    MAX_INFLATE_RATIO,
    MAX_TEXT_BYTES,
    TooLarge,
    read_limited,
    unreadable,
)
from exchange_tls.diagnosis.evidence import Evidence, LoadedFile
from exchange_tls.diagnosis.scopes import gather, named_servers
from exchange_tls.errors import ParseError, Problem, ProblemCollector, Severity
from exchange_tls.events.reader import EVTX_MAGIC, read_events
from exchange_tls.kinds import KINDS, ReadOptions, recognise
from exchange_tls.pipeline import Engine, LogSummary, reduce_logs
from exchange_tls.powershell.binding import DATE_ORDER_INFERRED, inferred_order
from exchange_tls.powershell.dates import DateOrder, normalise_date_order
from exchange_tls.powershell.reader import read_records
from exchange_tls.protocol_log.pasted import repair_pasted
from exchange_tls.protocol_log.reader import parse_protocol_log, stream_protocol_rows
from exchange_tls.protocol_log.sessions import MAX_SESSION_ROWS
from exchange_tls.protocol_log.summary import SummaryBuilder, summarise_rows
from exchange_tls.queues.last_error import parse_last_error
from exchange_tls.sources import decode_bytes
from exchange_tls.tls_reports.reader import GZIP_MAGIC, gunzip, gzip_holds_tls_report
from exchange_tls.translated_log import describe_translated_log
from exchange_tls.walking import NOT_OPENED, ZIP_MAGIC, Blob, open_archive, walk

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_INFLATE_RATIO",
    "MAX_TEXT_BYTES",
    "EvidenceFile",
    "Kind",
    "Progress",
    "classify",
    "load_evidence",
]

#: What a file holds: ``"protocol-log"``, a kind of :data:`exchange_tls.kinds.KINDS`
#: (``"certificates"`` …), ``"skipped"`` (documentation or a script) or ``"unknown"``.
Kind = str

#: ``progress(done_bytes, total_bytes, name)``, called as each file is summarised; the
#: bytes done grow and reach the total only once, when loading ends.
Progress = Callable[[int, int, str], None]

# How many lines with text may come before a log's first row (a prompt, a banner).
_LOG_LOOKAHEAD = 5
# Problems of one kind listed before the rest are counted in one.
_LISTED = 100
# Files that travel with evidence (a bundle's README, the collector script) but are none.
_NOT_EVIDENCE = (".md", ".ps1", ".py", ".ipynb", ".html", ".htm")
_LOG_ROW = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z,")
_HEAD_BYTES = 64 * 1024
# Where a written log's header is looked for first (see _written_log).
_LOG_HEADER_BYTES = 4096
_LOG_HEADER = re.compile(r"^#(?:Log-type: SMTP|Fields: date-time,connector-id)", re.MULTILINE)


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


def _log_rows_from(head: str) -> int | None:
    """Return which of the first lines with text is the first log row, if one is."""
    if _LOG_HEADER.search(head):
        return 0
    lines = (line for line in head.split("\n") if line.strip())
    for index, line in enumerate(itertools.islice(lines, _LOG_LOOKAHEAD)):
        if _LOG_ROW.match(line.lstrip("\ufeff")):
            return index
    return None


def _written_log(head: bytes, name: str) -> bool:
    """Whether a file's head is a protocol log as Exchange wrote it.

    Its header is in the first lines: a few KiB are decoded to find it, not the whole
    64 KiB head (decoding that head cost a fleet of small logs a tenth of its time).
    A header found in a prefix is in the whole head too; when it is not found there,
    the whole head is read as before.
    """
    if _LOG_HEADER.search(decode_bytes(head[:_LOG_HEADER_BYTES], name).text):
        return True
    return _log_form(decode_bytes(head, name).text[:20000], name) == "written"


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


def _classify(text: str, name: str) -> tuple[Kind, bool, str | None]:
    """Return the kind, whether it is a pasted log, and why an unknown file is unknown."""
    head = text[:20000]
    known = recognise(head, None)
    if known is not None:
        return known.name, False, None
    form = _log_form(head, name)
    if form is not None:
        return "protocol-log", form == "pasted", None
    try:
        _, records, problems = read_records(text.split("\n"), source=name)
    except ParseError:
        return "unknown", False, None
    kind = recognise(head, records)
    if kind is not None:
        return kind.name, False, None
    reason = next((p.message for p in problems if p.code in _REFUSALS), None)
    return "unknown", False, reason


# Where a queue error may start inside prose, an NDR or a tracking record: a failure
# reply code with its enhanced status code, or the bracket form.
_ERROR_START = re.compile(
    r"(?<![\d.])[45]\d\d[ \t-]+[45]\.\d{1,3}\.\d{1,3}(?!\d)|\{?\[\{(?:LRT|LED)=", re.IGNORECASE
)


_REPLY_CODE = re.compile(r"(?<!\d)[2-5]\d\d(?!\d)")


def _holds_queue_error(text: str) -> bool:
    """Whether the text is, or holds within prose, a queue error that explain decodes."""
    if _REPLY_CODE.search(text) is None:
        # Every reply has its code: without one, the parser (the cost of a tiny file
        # nobody could place) has nothing to find.
        return False
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
    translated = describe_translated_log(text) if reason is None else None
    if translated is not None:
        return Problem(
            message=f"{translated}; it was left out",
            source=name,
            severity=Severity.WARNING,
            code="translated-log",
        )
    if reason is None and _holds_queue_error(text):
        message = (
            "holds a queue error without its queue (no Identity or NextHopDomain), so it "
            "was left out of the diagnosis; 'exchange-tls explain' decodes it and lists "
            "the causes that give it"
        )
        code = "lone-queue-error"
    return Problem(message=message, source=name, severity=Severity.WARNING, code=code)


@attrs.frozen(kw_only=True)
class _Read:
    """What one file gave: its record in the file list, its records or log, its problems."""

    root: str
    part: str | None = None
    file: EvidenceFile | None = None
    records: tuple[object, ...] = ()
    log: LogSummary | None = None
    problems: tuple[Problem, ...] = ()
    #: The file is a zip archive (inside an archive): its members are to be read.
    archive: bool = False


def load_evidence(
    *paths: str | os.PathLike[str],
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    progress: Progress | None = None,
    server_fqdn: str | None = None,
    jobs: int | None = None,
    executor: Executor | None = None,
    keep_sessions: bool = False,
    engine: Engine = "auto",
) -> Evidence:
    """Read files, folders and zip archives into :class:`Evidence` (see the module's theory).

    Every file's kind is detected from its content; what cannot be read or classified is
    reported in ``Evidence.problems`` and listed in ``Evidence.files`` with the reason.
    Protocol logs are summarised as they stream: ``Evidence.sessions`` holds every unusual
    session and a few ordinary ones, ``Evidence.summary`` counts the rest; with
    ``keep_sessions=True`` every session is kept whole. ``jobs`` is how many processes
    summarise log files: by default every core this process may use, for logs large
    enough to gain from it (:func:`exchange_tls.pipeline.reduce_logs`); ``1``, this
    process alone. ``executor`` runs them on any :class:`concurrent.futures.Executor`.
    ``engine`` chooses how log files on disk are read (``"auto"``, ``"careful"`` or
    ``"columnar"``, see :data:`exchange_tls.pipeline.Engine`); the evidence is the same.
    Evidence of several servers comes back with one scope per server (``Evidence.scopes``).

    Raises ``FileNotFoundError`` for a path that does not exist, and ``ValueError`` for a
    ``date_order`` other than MDY, DMY or YMD (in any case).
    """
    check_arguments(
        "load_evidence",
        date_order=date_order,
        tz=tz,
        progress=progress,
        server_fqdn=server_fqdn,
        jobs=jobs,
        executor=executor,
        keep_sessions=keep_sessions,
        engine=engine,
    )
    for path in paths:
        check_arguments("load_evidence", paths=path)
    options = ReadOptions(date_order=normalise_date_order(date_order), tz=tz)
    reads: list[_Read] = []
    read_from: dict[int, tuple[str, Blob]] = {}  # where each read came from, to read it again
    on_disk: list[tuple[str, Blob]] = []
    with ExitStack() as stack:
        walked: list[tuple[str, Blob]] = []
        for item in paths:
            root = _root(Path(item))
            collector = ProblemCollector()
            walked.extend((root, blob) for blob in walk([item], collector, stack))
            reads.extend(_walk_problem(root, problem) for problem in collector.problems)
        total = sum(blob.size for _, blob in walked)
        # Progress counts the bytes summarised, and says 100% only once all is gathered.
        tell = _Told(progress, total)
        pending = deque(walked)
        while pending:
            root, blob = pending.popleft()
            read = _read_blob(root, blob, options, keep_sessions)
            if read is None:
                on_disk.append((root, blob))
            elif read.archive:
                # An archive inside an archive: its members are read next, in its place.
                collector = ProblemCollector()
                members = open_archive(blob, collector, stack)
                reads.extend(_walk_problem(root, problem) for problem in collector.problems)
                pending.extendleft((root, member) for member in reversed(members))
                grown = sum(member.size for member in members)
                total += grown
                tell.total += grown
                tell.done(blob.size, blob.name)
            else:
                read_from[len(reads)] = (root, blob)
                reads.append(read)
                tell.done(blob.size, blob.name)
        if options.date_order is None:
            _settle_day_order(reads, read_from, options, keep_sessions)
    # Logs on disk are summarised and merged as they complete, one summary per group
    # (root and part), so that memory does not grow with the number of files.
    groups: dict[tuple[str, str | None], int] = {}
    reduced = reduce_logs(
        [blob.path for _, blob in on_disk if blob.path is not None],
        groups=[groups.setdefault((root, blob.part), len(groups)) for root, blob in on_disk],
        jobs=jobs,
        executor=executor,
        keep_all=keep_sessions,
        engine=engine,
        on_done=None if progress is None else lambda i: tell.done(*_size_name(on_disk[i][1])),
    )
    for (root, blob), problems in zip(on_disk, reduced.problems, strict=True):
        file = EvidenceFile(name=blob.name, text="", kind="protocol-log", size=blob.size)
        reads.append(_Read(root=root, part=blob.part, file=file, problems=problems))
    for (root, part), group in groups.items():
        reads.append(_Read(root=root, part=part, log=LogSummary(builder=reduced.builders[group])))
    evidence = gather(_groups(reads, server_fqdn, keep_sessions))
    if progress is not None:
        progress(total, total, "")
    return evidence


def _settle_day_order(
    reads: list[_Read], read_from: dict[int, tuple[str, Blob]], options: ReadOptions, keep: bool
) -> None:
    """Read again, in the day order another file of the same folder decides, ambiguous files.

    One collection shares one culture: a file whose dates fit one order only (25/04/2026)
    decides it for the files whose dates fit several (03/04/2026), when the deciding files
    of that folder or archive agree.
    """
    decided: dict[str, dict[DateOrder, str]] = defaultdict(dict)
    for read in reads:
        for problem in read.problems:
            if (order := inferred_order(problem)) is not None:
                decided[read.root].setdefault(order, problem.source)
    for index, (root, blob) in read_from.items():
        orders = decided.get(root, {})
        if len(orders) != 1 or all(p.code != "ambiguous-date" for p in reads[index].problems):
            continue
        [(order, decider)] = orders.items()
        again = _read_blob(root, blob, attrs.evolve(options, date_order=order), keep)
        if again is None or again.archive:
            continue
        told = Problem(
            message=f"dates read as {order}: the day order the dates of {decider}, from the "
            "same collection, decide",
            source=blob.name,
            severity=Severity.INFO,
            code=DATE_ORDER_INFERRED,
        )
        reads[index] = attrs.evolve(again, problems=(told, *again.problems))


def _size_name(blob: Blob) -> tuple[int, str]:
    return blob.size, blob.name


class _Told:
    """Add up the bytes summarised for a progress callback, short of the total until the end."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.bytes = progress, total, 0

    def done(self, size: int, name: str) -> None:
        self.bytes += size
        if self.progress is not None:
            self.progress(min(self.bytes, max(self.total - 1, 0)), self.total, name)


def _root(path: Path) -> str:
    """Name the group a path given belongs to: a folder or an archive, or a file's folder.

    Files given one by one from one folder are one group, as that folder would be.
    """
    if path.is_dir() or path.suffix.casefold() == ".zip":
        return str(path)
    return str(path.parent)


def _walk_problem(root: str, problem: Problem) -> _Read:
    """Return a problem of the walk as a read; a file left unopened is listed with it."""
    file = None
    if problem.code in NOT_OPENED:
        file = EvidenceFile(
            name=problem.source, text="", kind="unknown", size=None, note=problem.message
        )
    return _Read(root=root, file=file, problems=(problem,))


# Archives of other formats, by how they begin (tar: "ustar" at offset 257).
_OTHER_ARCHIVES = (
    (b"\x1f\x8b", "a gzip"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip"),
    (b"Rar!\x1a\x07", "a RAR"),
    (b"\xfd7zXZ\x00", "an xz"),
    (b"BZh", "a bzip2"),
    (b"MSCF", "a cabinet (.cab)"),
)


def _other_archive(head: bytes) -> str | None:
    """Name the archive format a file's first bytes show, other than zip; else None."""
    if head[257:262] == b"ustar":
        return "a tar"
    for magic, name in _OTHER_ARCHIVES:
        # "BZh" starts words too: a bzip2 stream has a block size digit next.
        if head.startswith(magic) and (magic != b"BZh" or head[3:4].isdigit()):
            return name
    return None


def _read_blob(root: str, blob: Blob, options: ReadOptions, keep: bool) -> _Read | None:
    """Read one file; ``None`` for a log on disk, which is summarised with the others."""
    name = blob.name
    if name.lower().endswith(_NOT_EVIDENCE):
        skipped = Problem(
            message="skipped: documentation or a script, not evidence",
            source=name,
            severity=Severity.INFO,
            code="skipped",
        )
        file = attrs.evolve(_left_out(blob, skipped), kind="skipped")
        return _Read(root=root, part=blob.part, file=file, problems=(skipped,))
    collector = ProblemCollector()
    try:
        with blob.open() as stream:
            head_bytes = stream.read(_HEAD_BYTES)
        if head_bytes.startswith(ZIP_MAGIC):
            # Never read as another kind: a stored zip shows its members' text.
            return _Read(root=root, part=blob.part, archive=True)
        # A gzip'ed TLS report (.json.gz, RFC 8460) is read; other gzip data is an archive.
        report_gzip = head_bytes.startswith(GZIP_MAGIC) and gzip_holds_tls_report(head_bytes)
        other = None if report_gzip else _other_archive(head_bytes)
        if other is not None:
            problem = Problem(
                message=f"not read: {other} archive; only zip archives are opened "
                "(extract it, or zip it, and give that)",
                source=name,
                severity=Severity.WARNING,
                code="unsupported-archive",
            )
            return _Read(
                root=root, part=blob.part, file=_left_out(blob, problem), problems=(problem,)
            )
        if head_bytes.startswith(EVTX_MAGIC):
            with blob.open() as stream:
                result = read_events(
                    io.BytesIO(stream.read()), date_order=options.date_order, tz=options.tz
                )
            file = EvidenceFile(name=name, text="", kind="events", size=blob.size)
            records = tuple(result)
            return _Read(
                root=root, part=blob.part, file=file, records=records, problems=result.problems
            )
        if _written_log(head_bytes, name):
            if blob.path is not None:
                return None
            builder = SummaryBuilder(keep_all=keep)
            try:
                summarise_rows(stream_protocol_rows(blob.open, name, collector), builder)
            except ARCHIVE_ERRORS as error:
                problem = unreadable(name, error)
                collector.report(
                    attrs.evolve(
                        problem,
                        message=problem.message.replace(
                            "it was left out", "reading stopped there; the rows before were kept"
                        ),
                    )
                )
            file = EvidenceFile(name=name, text="", kind="protocol-log", size=blob.size)
            log = LogSummary(builder=builder, problems=collector.problems)
            return _Read(root=root, part=blob.part, file=file, log=log, problems=log.problems)
        # A file shorter than its head was read whole already: one open, not two (a
        # zip of 100,000 tiny members opened each twice).
        whole = len(head_bytes) < _HEAD_BYTES
        data = head_bytes if whole else read_limited(blob.open, MAX_TEXT_BYTES)
        if report_gzip:
            data = gunzip(data, MAX_TEXT_BYTES)
    except TooLarge as error:
        problem = Problem(
            message=f"not read: {error} (the limits are in SECURITY.md)",
            source=name,
            severity=Severity.ERROR,
            code="too-large",
        )
        return _Read(root=root, part=blob.part, file=_left_out(blob, problem), problems=(problem,))
    except ARCHIVE_ERRORS as error:
        problem = unreadable(name, error)
        return _Read(root=root, part=blob.part, file=_left_out(blob, problem), problems=(problem,))
    decoded = decode_bytes(data, name)
    collector.extend(list(decoded.problems))
    kind, pasted, reason = _classify(decoded.text, name)
    if kind == "unknown":
        problem = _unclassified(decoded.text, name, reason)
        collector.report(problem)
        file = attrs.evolve(_left_out(blob, problem), size=len(data))
        return _Read(root=root, part=blob.part, file=file, problems=collector.problems)
    file = EvidenceFile(name=name, text="", kind=kind, size=len(data), pasted=pasted)
    if kind == "protocol-log":
        pasted_log = parse_protocol_log(decoded.text, source=name, pasted=pasted)
        builder = summarise_rows(pasted_log.rows, SummaryBuilder(keep_all=keep))
        read = (*collector.problems, *pasted_log.problems)
        summary = LogSummary(builder=builder, problems=read)
        return _Read(root=root, part=blob.part, file=file, log=summary, problems=read)
    entry = next(entry for entry in KINDS if entry.name == kind)
    parsed: Sequence[object] = ()
    try:
        parsed, found = entry.parse(decoded.text, name, options)
        collector.extend(list(found))
    except ParseError as error:
        collector.report(error.to_problem())
    refusal = next((p.message for p in collector.problems if p.code in _REFUSALS), None)
    if not parsed and refusal is not None:
        # Refused whole (unsafe XML, too deep): left out, with the reason, in the coverage.
        problem = _unclassified(decoded.text, name, refusal)
        collector.report(problem)
        file = attrs.evolve(_left_out(blob, problem), size=len(data))
    return _Read(
        root=root, part=blob.part, file=file, records=tuple(parsed), problems=collector.problems
    )


def _left_out(blob: Blob, problem: Problem) -> EvidenceFile:
    return EvidenceFile(
        name=blob.name, text="", kind="unknown", size=blob.size, note=problem.message
    )


def _groups(reads: list[_Read], server_fqdn: str | None, keep: bool) -> dict[str, Evidence]:
    """Return the evidence of each path given; one naming several servers, by subfolder."""
    by_root: dict[str, list[_Read]] = defaultdict(list)
    for read in reads:
        by_root[read.root].append(read)
    groups: dict[str, Evidence] = {}
    for root, items in by_root.items():
        evidence = _evidence(items, server_fqdn, keep)
        if len(named_servers(evidence)) > 1 and any(read.part for read in items):
            by_part: dict[str, list[_Read]] = defaultdict(list)
            for read in items:
                by_part[read.part or root].append(read)
            groups.update(
                (part, _evidence(parts, server_fqdn, keep)) for part, parts in by_part.items()
            )
        else:
            groups[root] = evidence
    return groups


def _part(read: _Read) -> Evidence:
    """Return one file's records as evidence of its kind, with the file's problems."""
    kind = next(
        (kind for kind in KINDS if read.file is not None and read.file.kind == kind.name), None
    )
    if kind is None:
        return Evidence(problems=read.problems)
    records = (read.records[0] if read.records else None) if kind.single else read.records
    fields: dict[str, Any] = {kind.field: records}
    return Evidence(**fields, problems=read.problems)


def _evidence(reads: list[_Read], server_fqdn: str | None, keep: bool) -> Evidence:
    """Return the evidence of some files: merged kind by kind (Evidence.merge), logs summarised."""
    merged = Evidence.merge(_part(read) for read in reads)
    manifest = merged.manifest
    builder = SummaryBuilder(keep_all=keep)
    for read in reads:
        if read.log is not None:
            builder.merge(read.log.builder)
    summary = builder.freeze()
    return attrs.evolve(
        merged,
        sessions=summary.sessions,
        summary=None if keep else summary,
        problems=(*merged.problems, *_truncated(builder.truncated)),
        server_fqdn=server_fqdn or (manifest.fqdn if manifest is not None else None),
        files=[
            LoadedFile(
                name=read.file.name,
                kind=read.file.kind,
                size=read.file.size,
                pasted=read.file.pasted,
                note=read.file.note,
            )
            for read in reads
            if read.file is not None
        ],
    )


def _truncated(truncated: list[tuple[str, str, int]]) -> list[Problem]:
    problems = [
        Problem(
            message=f"session {session} of {connector!r} has more than "
            f"{MAX_SESSION_ROWS:,} rows; the last {dropped:,} before its end were "
            "left out of it",
            source=connector,
            severity=Severity.WARNING,
            code="session-truncated",
        )
        for connector, session, dropped in truncated[:_LISTED]
    ]
    if len(truncated) > _LISTED:
        problems.append(
            Problem(
                message=f"{len(truncated) - _LISTED} more sessions lost rows the "
                f"same way ({MAX_SESSION_ROWS:,} rows kept each)",
                source="<sessions>",
                severity=Severity.WARNING,
                code="session-truncated",
            )
        )
    return problems
