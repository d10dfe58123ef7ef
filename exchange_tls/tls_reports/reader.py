"""Reading SMTP TLS reports: RFC 8460 JSON, gzip, and the report mails that carry them.

Theory of operation.

1. **Containers.** A report arrives as JSON (``application/tlsrpt+json``), gzip-compressed
   JSON (``.json.gz``, ``application/tlsrpt+gzip``) or a mail (``multipart/report;
   report-type=tlsrpt``) with one of those as a part (RFC 8460 §5.3). :func:`read_tls_reports`
   takes the bytes of any of the three; :func:`parse_tls_reports` the text of JSON or of a
   mail. gzip is inflated within :data:`MAX_REPORT_BYTES`, so a gzip bomb is refused, and a
   truncated stream is a problem, never a crash.
2. **The document** is read into models at their JSON pointers, within bounds
   (:mod:`exchange_tls.tls_reports.document`): a malformed report is a problem with its
   position, never a crash.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from exchange_tls.arguments import check_arguments
from exchange_tls.errors import ErrorMode, Problem, ProblemCollector, Severity
from exchange_tls.results import ReadResult
from exchange_tls.sources import decode_bytes, open_regular
from exchange_tls.tls_reports.document import json_reports
from exchange_tls.tls_reports.models import TlsReport

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "GZIP_MAGIC",
    "MAX_REPORT_BYTES",
    "gunzip",
    "gzip_holds_tls_report",
    "looks_like_tls_report",
    "parse_tls_reports",
    "read_tls_reports",
]

#: The first bytes of a gzip stream (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"
#: The most bytes a report (inflated) may have; real reports are kilobytes.
MAX_REPORT_BYTES = 64 * 1024 * 1024
# The top-level keys of a report (RFC 8460 §4.4); two of them in a JSON text mark one.
_REPORT_KEYS = (
    '"organization-name"',
    '"date-range"',
    '"contact-info"',
    '"report-id"',
    '"policies"',
)
_MEDIA_TYPES = ("application/tlsrpt+gzip", "application/tlsrpt+json")


def looks_like_tls_report(text: str) -> bool:
    """Whether the start of ``text`` is an RFC 8460 report, or a mail that carries one.

    >>> looks_like_tls_report('{"organization-name": "Google Inc.", "date-range": {}}')
    True
    >>> looks_like_tls_report('{"Thumbprint": "AB"}')
    False
    """
    head = text.lstrip("\ufeff \t\r\n")[:20000]
    if head.startswith(("{", "[")):
        return sum(key in head for key in _REPORT_KEYS) >= 2
    folded = head.casefold()
    has_headers = ":" in head.split("\n", 1)[0]
    return has_headers and (
        "report-type=tlsrpt" in folded
        or "application/tlsrpt+" in folded
        or "\ntls-report-domain:" in "\n" + folded
    )


class _Inflated(Exception):
    """gzip data that could not be inflated: truncated, damaged, or too large."""


def gunzip(data: bytes, limit: int = MAX_REPORT_BYTES) -> bytes:
    """Inflate gzip data (every member), refusing more than ``limit`` bytes of output.

    Raises ``ValueError`` naming what is wrong: data that ends before the end of the
    stream (a truncated file or attachment), damaged data, or output past the limit.

    >>> import gzip
    >>> gunzip(gzip.compress(b"{}"))
    b'{}'
    >>> gunzip(gzip.compress(b"{}" * 100)[:20])
    Traceback (most recent call last):
    ...
    ValueError: the gzip data is truncated: it ends before its end-of-stream marker (20 bytes)
    """
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise ValueError(f"the gzip data is damaged ({error})") from None
        if len(out) > limit:
            raise ValueError(f"the gzip data inflates to more than {limit:,} bytes")
        if inflater.unconsumed_tail:
            raise ValueError(f"the gzip data inflates to more than {limit:,} bytes")
        if not inflater.eof:
            raise ValueError(
                "the gzip data is truncated: it ends before its end-of-stream marker "
                f"({len(data):,} bytes)"
            )
        rest = inflater.unused_data
        # Padding after the last member (some writers add zeros) ends the stream.
        if not rest.startswith(GZIP_MAGIC):
            break
    return bytes(out)


def gzip_holds_tls_report(head: bytes) -> bool:
    """Whether the first bytes of gzip data inflate to the start of a TLS report.

    Only the start is inflated (a truncated or damaged stream still shows what it holds),
    so a loader can tell a ``.json.gz`` report from other gzip data before reading it all.

    >>> import gzip
    >>> gzip_holds_tls_report(gzip.compress(b'{"organization-name": "x", "policies": []}'))
    True
    >>> gzip_holds_tls_report(gzip.compress(b"#Log-type: SMTP Send Protocol Log"))
    False
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        start = inflater.decompress(head, 20000)
    except zlib.error:
        return False
    return looks_like_tls_report(start.decode("utf-8", "replace"))


# -- containers -------------------------------------------------------------------------


def _parts(message: Message) -> Iterator[Message]:
    for part in message.walk():
        if not part.is_multipart():
            yield part


def _is_report_part(part: Message) -> bool:
    kind = part.get_content_type().casefold()
    if kind in _MEDIA_TYPES:
        return True
    name = (part.get_filename() or "").casefold()
    return name.endswith((".json", ".json.gz")) and "!" in name


def _mail_reports(text: str, source: str, collector: ProblemCollector) -> list[TlsReport]:
    # The email package is imported for a mail only: a JSON report does not need it.
    import email
    import email.policy

    message = email.message_from_string(text, policy=email.policy.compat32)
    reports: list[TlsReport] = []
    found = False
    for index, part in enumerate(_parts(message)):
        if not _is_report_part(part):
            continue
        found = True
        name = part.get_filename() or f"part {index}"
        label = f"{source}!/{name}"
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            collector.report(
                Problem(
                    message=f"the report part {name!r} is empty",
                    source=source,
                    severity=Severity.ERROR,
                    code="tls-report-mail",
                )
            )
            continue
        reports.extend(_bytes_reports(payload, label, collector))
    if not found:
        collector.report(
            Problem(
                message="the mail holds no application/tlsrpt+gzip or application/tlsrpt+json part",
                source=source,
                severity=Severity.ERROR,
                code="tls-report-mail",
            )
        )
    return reports


def _bytes_reports(data: bytes, source: str, collector: ProblemCollector) -> list[TlsReport]:
    if data.startswith(GZIP_MAGIC):
        try:
            data = gunzip(data)
        except ValueError as error:
            collector.report(
                Problem(
                    message=f"cannot read the report: {error}",
                    source=source,
                    severity=Severity.ERROR,
                    code="tls-report-gzip",
                )
            )
            return []
    decoded = decode_bytes(data, source)
    collector.extend(list(decoded.problems))
    return _text_reports(decoded.text, source, collector)


def _text_reports(text: str, source: str, collector: ProblemCollector) -> list[TlsReport]:
    if text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return json_reports(text, source, collector)
    if looks_like_tls_report(text):
        return _mail_reports(text, source, collector)
    # Neither: read as JSON, whose error says where it stops being a report.
    return json_reports(text, source, collector)


def parse_tls_reports(
    text: str, *, source: str = "<tls report>", errors: ErrorMode = "collect"
) -> ReadResult[TlsReport]:
    """Read SMTP TLS reports from the text of RFC 8460 JSON or of a report mail.

    A JSON text holds one report (or a list of them); a mail holds one per
    ``application/tlsrpt+gzip`` or ``+json`` part. What cannot be read is a problem at
    its JSON pointer, never an exception (unless ``errors="raise"``).

    >>> from exchange_tls import parse_tls_reports
    >>> [report] = parse_tls_reports(
    ...     '{"organization-name": "Google Inc.", "report-id": "r1", "policies": [{'
    ...     '"policy": {"policy-type": "sts", "policy-domain": "contoso.com"},'
    ...     '"summary": {"total-successful-session-count": 9, "total-failure-session-count": 1},'
    ...     '"failure-details": [{"result-type": "certificate-expired",'
    ...     '"receiving-mx-hostname": "mx1.contoso.com", "failed-session-count": 1}]}]}',
    ...     source="google.json",
    ... )
    >>> [detail] = report.failure_details
    >>> detail.result_type.value, detail.receiving_mx_hostname
    ('certificate-expired', 'mx1.contoso.com')
    >>> str(detail.source)
    'google.json:1#/policies/0/failure-details/0'
    """
    check_arguments("parse_tls_reports", text=text, source=source, errors=errors)
    label = source
    collector = ProblemCollector(errors)
    reports = _text_reports(text, label, collector)
    mail = not text.lstrip("\ufeff \t\r\n").startswith(("{", "[")) and looks_like_tls_report(text)
    return ReadResult(
        items=reports, problems=collector.problems, format="mail" if mail else "json", source=label
    )


def read_tls_reports(
    file: str | os.PathLike[str] | BinaryIO, *, errors: ErrorMode = "collect"
) -> ReadResult[TlsReport]:
    """Read a report file: ``.json``, ``.json.gz`` or a report mail (``.eml``).

    The form is told from the content, not the name. See :func:`parse_tls_reports`.
    """
    check_arguments("read_tls_reports", file=file, errors=errors)
    if isinstance(file, (str, os.PathLike)):
        label = os.fspath(file)
        with open_regular(file) as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
    else:
        data = file.read(MAX_REPORT_BYTES + 1)
        if not isinstance(data, bytes):
            raise TypeError(
                "read_tls_reports() needs a path or a file opened in binary mode ('rb'), "
                f"not {type(file).__name__}"
            )
        label = str(getattr(file, "name", "<stream>"))
    collector = ProblemCollector(errors)
    if len(data) > MAX_REPORT_BYTES:
        collector.report(
            Problem(
                message=f"not read: larger than {MAX_REPORT_BYTES:,} bytes",
                source=label,
                severity=Severity.ERROR,
                code="too-large",
            )
        )
        return ReadResult(items=(), problems=collector.problems, format=None, source=label)
    form = "gzip" if data.startswith(GZIP_MAGIC) else None
    reports = _bytes_reports(data, label, collector)
    if form is None:
        head = data[:4096].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        form = "json" if head.startswith(("{", "[")) else "mail"
    return ReadResult(items=reports, problems=collector.problems, format=form, source=label)
