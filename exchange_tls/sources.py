"""Where evidence comes from, and how its bytes become text.

Exchange and PowerShell write text in several encodings: protocol logs are UTF-8 with a
byte-order mark, Windows PowerShell's ``>`` redirection and ``Export-Clixml`` write UTF-16
LE with a BOM, and files copied through other tools lose their BOM or gain stray bytes.
:func:`decode_bytes` is the one function that turns such bytes into text for every reader.
It never raises on content: undecodable bytes become U+FFFD and each is reported as a
:class:`~exchange_tls.errors.Problem` at its line and column.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

import attrs

from exchange_tls.errors import Problem, Severity

__all__ = [
    "ESCAPE_HANDLER",
    "DecodedText",
    "NotARegularFileError",
    "SourceRef",
    "decode_bytes",
    "describe_mode",
    "detect_encoding",
    "hide_nul",
    "open_regular",
    "read_source",
    "replace_undecodable",
    "restore_nul",
    "undecodable_seen",
]


@attrs.frozen(order=True)
class SourceRef:
    """A place in the evidence: a source name and a 1-based line.

    >>> str(SourceRef("SEND20171007-1.LOG", 21))
    'SEND20171007-1.LOG:21'
    """

    #: The file name, path or label of the input.
    source: str
    #: 1-based line, or ``None`` for the source as a whole.
    line: int | None = None
    #: Where in a JSON document (an RFC 6901 pointer such as ``/policies/0``), if it is one.
    pointer: str | None = attrs.field(default=None, kw_only=True)

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return where if self.pointer is None else f"{where}#{self.pointer}"


@attrs.frozen
class DecodedText:
    """Text decoded from bytes, with what was learnt on the way."""

    #: The text, with every CRLF and lone CR turned into LF.
    text: str
    #: The name of the source, as used in problems.
    source: str
    #: The codec that decoded it: ``utf-8``, ``utf-16-le``, ``utf-16-be``, ``utf-32-le``
    #: or ``utf-32-be``.
    encoding: str
    #: Whether the bytes began with a byte-order mark.
    bom: bool
    #: The line ending found: ``"\r\n"``, ``"\n"``, ``"\r"``, ``"mixed"``, or ``None``
    #: when the text has no line break.
    newline: str | None
    #: Undecodable bytes and unusual encodings, in order of position.
    problems: tuple[Problem, ...] = ()

    @property
    def lines(self) -> list[str]:
        """The lines without their line endings; line ``n`` is ``lines[n - 1]``."""
        lines = self.text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return lines


# Longest first: the UTF-32 LE mark begins with the UTF-16 LE mark.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Bytes that could not be decoded are carried through as lone surrogates U+DC00+byte
# (what the ``surrogateescape`` handler does for UTF-8). A strict decoder never produces
# lone surrogates, so they mark exactly the bad bytes.
_ESCAPED_BYTES = re.compile("[\udc00-\udcff]+")

# After this many listed problems the rest of a source is summed up in one problem, so a
# file in the wrong encoding cannot produce a million problem records.
MAX_DECODE_PROBLEMS = 100

# How many bytes of a file without a BOM are looked at to recognise UTF-16.
_SNIFF_BYTES = 4096


def _sniff_utf16(data: bytes) -> str | None:
    """Recognise BOM-less UTF-16 by its zero bytes (mostly ASCII text has many)."""
    sample = data[: _SNIFF_BYTES - _SNIFF_BYTES % 2]
    half = len(sample) // 2
    if half < 2:
        return None
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    if odd_zeros >= half * 0.3 and even_zeros <= half * 0.05:
        return "utf-16-le"
    if even_zeros >= half * 0.3 and odd_zeros <= half * 0.05:
        return "utf-16-be"
    return None


# How many times the handler has run, process-wide. A streaming reader compares it
# before and after a batch to learn cheaply whether the batch holds escaped bytes; a
# concurrent reader can only cause a needless check, never a missed one.
_UNDECODABLE_SEEN = [0]


def undecodable_seen() -> int:
    """Return how many undecodable byte runs the escape handler has met so far."""
    return _UNDECODABLE_SEEN[0]


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each undecodable byte becomes the lone surrogate U+DC00+byte."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _UNDECODABLE_SEEN[0] += 1
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


# ``surrogateescape`` does the same for UTF-8 but cannot carry bytes below 0x80, which
# UTF-16 and UTF-32 can leave undecodable (a truncated last unit). Registering a handler
# under the library's own name adds to the codec registry without changing any behaviour
# that other code relies on.
ESCAPE_HANDLER = "exchange_tls.escape"
codecs.register_error(ESCAPE_HANDLER, _escape_undecodable)


def _newline_style(text: str) -> tuple[str, str | None]:
    """Return the text with LF line endings, and the line ending it had."""
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    kinds = [name for name, count in (("\r\n", crlf), ("\r", cr), ("\n", lf)) if count]
    if crlf:
        text = text.replace("\r\n", "\n")
    if cr:
        text = text.replace("\r", "\n")
    if not kinds:
        return text, None
    return text, kinds[0] if len(kinds) == 1 else "mixed"


def _line_text(text: str, line_start: int) -> str:
    end = text.find("\n", line_start)
    return text[line_start:] if end == -1 else text[line_start:end]


def replace_undecodable(
    text: str, source: str, *, first_line: int = 1
) -> tuple[str, list[Problem]]:
    """Replace escaped bytes with U+FFFD and report each run at its line and column.

    ``text`` comes from a decode with :data:`ESCAPE_HANDLER`; ``first_line`` numbers its
    first line, for text decoded piece by piece.
    """
    problems: list[Problem] = []
    if text.isascii():
        return text, problems
    try:
        # Encoding refuses lone surrogates, and is several times faster than a regex
        # search over non-ASCII text.
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text, problems
    # Each escaped byte becomes exactly one U+FFFD, so offsets stay valid after replacing.
    clean = _ESCAPED_BYTES.sub(lambda match: "\ufffd" * len(match.group()), text)
    line, line_start, scanned = first_line, 0, 0
    unlisted = 0
    for match in _ESCAPED_BYTES.finditer(text):
        if len(problems) >= MAX_DECODE_PROBLEMS:
            unlisted += 1
            continue
        line += text.count("\n", scanned, match.start())
        scanned = match.start()
        line_start = text.rfind("\n", 0, match.start()) + 1
        column = match.start() - line_start + 1
        raw = bytes(ord(char) - 0xDC00 for char in match.group())
        shown = " ".join(f"0x{byte:02X}" for byte in raw[:8]) + (" …" if len(raw) > 8 else "")
        noun = "byte" if len(raw) == 1 else f"{len(raw)} bytes"
        problems.append(
            Problem(
                message=f"undecodable {noun} {shown} replaced with U+FFFD",
                source=source,
                line=line,
                column=column,
                line_text=_line_text(clean, line_start),
                severity=Severity.WARNING,
                code="undecodable-bytes",
            )
        )
    if unlisted:
        problems.append(
            Problem(
                message=f"{unlisted} more runs of undecodable bytes replaced with U+FFFD "
                "and not listed; is the file in a legacy code page?",
                source=source,
                severity=Severity.WARNING,
                code="undecodable-bytes",
            )
        )
    return clean, problems


def detect_encoding(head: bytes, *, whole: bool = False) -> tuple[str, int, bool]:
    """Return the codec for bytes beginning with ``head``, its BOM length, and a guess flag.

    The flag says the codec was guessed (BOM-less UTF-16); ``whole`` says ``head`` is
    all the data, which lets a UTF-32 mark be told from UTF-16 text.
    """
    for mark, name in _BOMS:
        # FF FE 00 00 is also UTF-16 LE text that begins with U+0000; only a length
        # in whole 4-byte units can be UTF-32.
        if whole and name.startswith("utf-32") and len(head) % 4:
            continue
        if head.startswith(mark):
            return name, len(mark), False
    sniffed = _sniff_utf16(head)
    if sniffed is not None:
        return sniffed, 0, True
    return "utf-8", 0, False


def guessed_encoding_problem(encoding: str, source: str) -> Problem:
    return Problem(
        message=f"no byte-order mark; read as {encoding.upper()} because of its zero bytes",
        source=source,
        severity=Severity.INFO,
        code="encoding-guessed",
    )


def decode_bytes(data: bytes, source: str = "<bytes>") -> DecodedText:
    r"""Turn the bytes of a piece of evidence into text; never raises on content.

    The encoding comes from the byte-order mark: UTF-8, UTF-16 LE/BE or UTF-32 LE/BE.
    Without one, UTF-16 is recognised by its zero bytes and anything else is read as
    UTF-8. CRLF and lone CR line endings become LF.

    >>> decoded = decode_bytes(b"\xff\xfeS\x00t\x00a\x00t\x00u\x00s\x00\r\x00\n\x00")
    >>> decoded.text, decoded.encoding, decoded.bom, decoded.newline
    ('Status\n', 'utf-16-le', True, '\r\n')

    An undecodable byte becomes U+FFFD and is reported where it stands:

    >>> decoded = decode_bytes(b"Status : Retry\nNextHopDomain : \xffcontoso.com\n", "q.txt")
    >>> decoded.lines[1]
    'NextHopDomain : \ufffdcontoso.com'
    >>> print(decoded.problems[0])
    q.txt:2:17: warning: undecodable byte 0xFF replaced with U+FFFD
        NextHopDomain : \ufffdcontoso.com
                        ^
    """
    problems: list[Problem] = []
    encoding, mark_length, guessed = detect_encoding(data, whole=True)
    bom = mark_length > 0
    data = data[mark_length:]
    if guessed:
        problems.append(guessed_encoding_problem(encoding, source))
    text = data.decode(encoding, ESCAPE_HANDLER)
    text, newline = _newline_style(text)
    text, byte_problems = replace_undecodable(text, source)
    problems.extend(byte_problems)
    return DecodedText(
        text=text,
        source=source,
        encoding=encoding,
        bom=bom,
        newline=newline,
        problems=tuple(problems),
    )


class NotARegularFileError(OSError):
    """A path names a named pipe, a device, a socket or a folder, which are not read."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a path for reading in binary mode, only if it is a regular file.

    Opening never blocks: a named pipe is opened without waiting for a writer and then
    refused, like a device or a socket, with :class:`NotARegularFileError` (an
    ``OSError``). Reading ``/dev/zero`` or a FIFO would never end.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(f"{os.fspath(path)} is {describe_mode(mode)}")
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def describe_mode(mode: int) -> str:
    """Name what a file mode that is not a regular file's is: "a named pipe" and so on."""
    for test, noun in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return noun
    return "not a regular file"


def read_source(file: str | os.PathLike[str] | BinaryIO, *, name: str | None = None) -> DecodedText:
    """Read a path or a binary file object and decode it with :func:`decode_bytes`.

    ``name`` labels the source in problems and evidence references; it defaults to the
    path, or to the file object's ``name``. A path that is not a regular file raises
    ``NotARegularFileError`` (an ``OSError``) without being read.
    """
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        with open_regular(path) as stream:
            data = stream.read()
        return decode_bytes(data, name if name is not None else str(path))
    data = file.read()
    if not isinstance(data, bytes):
        raise TypeError(
            "read_source() needs a path or a file opened in binary mode ('rb'), "
            f"not {type(file).__name__}"
        )
    label = name if name is not None else str(getattr(file, "name", "<stream>"))
    return decode_bytes(data, label)


# Noncharacters (never in interchanged text) that stand in for NUL while csv splits: the
# csv module of Python 3.10 refuses a line that holds NUL, and 3.11 and later read it.
_NUL_STAND_INS = tuple(chr(code) for code in range(0xFDD0, 0xFDF0))


def hide_nul(text: str) -> tuple[str, str | None]:
    r"""Replace NUL with a character the text lacks, so every Python's csv splits it alike.

    Returns the text and the stand-in, or ``None`` when there was no NUL (or the text
    holds every stand-in, and is left as it is).

    >>> hide_nul("a\x00b")
    ('a\ufdd0b', '\ufdd0')
    """
    if "\x00" not in text:
        return text, None
    stand_in = next((char for char in _NUL_STAND_INS if char not in text), None)
    if stand_in is None:
        return text, None
    return text.replace("\x00", stand_in), stand_in


def restore_nul(fields: list[str], stand_in: str | None) -> list[str]:
    """Undo :func:`hide_nul` in the fields split from the text."""
    if stand_in is None:
        return fields
    return [field.replace(stand_in, "\x00") for field in fields]
