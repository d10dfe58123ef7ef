"""Signatures from causes: the one normaliser that takes decoration out of SMTP text.

Theory of operation. Sessions and failures are grouped by what they say: an error, a
banner, a reply. Real servers decorate those texts with things that differ from one
session to the next and say nothing about the cause: their host name and the time in a
banner (``220 mx7.example.net Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026
08:41:55 +0000``), the client's address in an EHLO reply, message, queue and session ids
in a ``250 2.6.0`` reply, a GUID in an Exchange Online rejection. Grouped as they come,
every failing session is unique, a summary keeps one group per session and a report lists
each as a cause of its own.

:func:`normalise_signature_text` (stable name and signature:
``normalise_signature_text(text: str) -> str``) replaces each kind of decoration with a
placeholder, so two texts that differ only in decoration normalise alike:

========================  ==================================================  ============
decoration                examples                                            placeholder
========================  ==================================================  ============
e-mail address            ``<msg@contoso.com>``, ``user@example.net``           ``<address>``
GUID                      ``{1b4e28ba-2fa1-11d2-883f-0016d3cca427}``            ``<guid>``
date and time             ISO 8601, RFC 5322 (``Mon, 7 Dec 2026 08:41:55``),   ``<time>``
                          ``12/7/2026 8:41:55 AM``, ``08:41:55``
IPv4 / IPv6 address       ``203.0.113.7``, ``[2001:db8::1]``, with a port       ``<ip>``
host name                 ``mx7.example.net`` (two labels or more, a letter     ``<host>``
                          top-level label)
id assigned by a server   ``InternalId=123``, ``Hostname=mx``, ``[AM6PR…]``     ``<id>``
hex id                    eight hex digits or more, with a digit                ``<id>``
long number               six digits or more                                    ``<n>``
========================  ==================================================  ============

What is kept is what tells causes apart: reply codes (``421``, ``4.4.1``), words, error
names (``UnknownCredentials``), short numbers (Winsock ``10060``, Win32 ``1460``) and
``0x`` status codes (``0x80090325``, an SSPI status is a cause, not an id). Runs of
white space become one space, and the result is at most :data:`SIGNATURE_TEXT_LIMIT`
characters. The function is idempotent and pure; its placeholders are left as they are.

>>> normalise_signature_text(
...     "220 mx7.example.net Microsoft ESMTP MAIL Service ready at "
...     "Mon, 7 Dec 2026 08:41:55 +0000"
... )
'220 <host> Microsoft ESMTP MAIL Service ready at <time>'
>>> normalise_signature_text("250 2.6.0 <a1@contoso.com> [InternalId=12, Hostname=mx] Queued")
'250 2.6.0 <address> [InternalId=<id>, Hostname=<id>] Queued'
>>> normalise_signature_text("TLS negotiation failed with error 0x80090325 from 203.0.113.7:25")
'TLS negotiation failed with error 0x80090325 from <ip>'
"""

from __future__ import annotations

import functools
import re

__all__ = ["SIGNATURE_TEXT_LIMIT", "normalise_signature_text"]

#: The longest normalised text: a signature is a key, not a quotation.
SIGNATURE_TEXT_LIMIT = 200

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[ap]\.?m\.?)?"
# A zone is a word of its own: the ``z`` of a host ``z.example.net`` after a clock is none.
_ZONE = r"(?:\s*(?:z|utc|gmt|[+-]\d{2}:?\d{2})(?![\w.-])(?:\s*\([a-z ]+\))?)?"

# Order matters: addresses before hosts (``user@host``), IP addresses before dates and
# clocks, times before numbers, GUIDs and IPv6 before hex ids (their groups are hex).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), placeholder)
    for pattern, placeholder in (
        # <local@domain>, local@domain
        (r"<?[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+>?", "<address>"),
        (r"\{?\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b\}?", "<guid>"),
        # IPv6 in brackets, before IPv4: ``[::ffff:1.2.3.4]`` is one address
        (r"\[(?:ipv6:)?[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5}\b)?", "<ip>"),
        # IPv6 with an IPv4 tail (``::ffff:1.2.3.4``, and Python 3.13's exploded form
        # ``0000:…:ffff:1.2.3.4``), before IPv4 takes the tail alone
        (
            r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){6}"
            r"|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::(?:[0-9a-f]{1,4}:)*)"
            r"(?:\d{1,3}\.){3}\d{1,3}(?![\w.])",
            "<ip>",
        ),
        # IPv4 with an optional port, before dates (``1.22.33.44`` is no date)
        (r"\[?\b(?:\d{1,3}\.){3}\d{1,3}\b\]?(?::\d{1,5}\b)?", "<ip>"),
        # IPv6: eight groups, or with ``::`` (not a clock: ``08:41:55``)
        (
            r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])"
            r"|(?<![\w:])(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::"
            r"(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?(?:%\w+)?(?![\w:])",
            "<ip>",
        ),
        # Mon, 7 Dec 2026 08:41:55 +0000 / 7 Dec 2026 / Dec 7, 2026 8:41 AM
        (
            rf"(?:{_DAY}\s*)?\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}(?:\s+{_CLOCK})?{_ZONE}",
            "<time>",
        ),
        (rf"(?:{_DAY}\s*)?\b{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}(?:\s+{_CLOCK})?{_ZONE}", "<time>"),
        # 2026-12-07T08:41:55.123Z, 2026-12-07 08:41:55
        (rf"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[t ]{_CLOCK})?{_ZONE}", "<time>"),
        # 12/7/2026 8:41:55 AM, 07.12.2026 08:41
        (
            rf"\b(?:\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{1,2}}\.\d{{1,2}}\.\d{{4}})"
            rf"(?:\s+{_CLOCK})?{_ZONE}",
            "<time>",
        ),
        (rf"\b{_CLOCK}{_ZONE}(?![\w:])", "<time>"),
        # ids Exchange writes as key=value: InternalId=123, Hostname=mx, ids in brackets
        (r"\b((?:internalid|hostname|messageid|queueid|sessionid)(?:=|: ))[^,\]\s]+", r"\1<id>"),
        # a host name; not the reply code before it (``250-mx.example.net``)
        (
            r"(?<![\w.-])(\d{3}-)?(?:[a-z0-9][a-z0-9-]*\.)+(?:[a-z][a-z0-9-]*[a-z])\b\.?",
            r"\1<host>",
        ),
        # an Exchange Online server or queue name: AM6PR04MB1234, SN1NAM02FT012
        (r"\b[a-z]{2,4}\d[a-z0-9]*\d{3,}\b", "<id>"),
        (r"(?<![\w.])\d{6,}\b", "<n>"),
        (r"(?<![\w.])(?!0x)(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", "<id>"),
    )
)
_SPACE = re.compile(r"\s+")
# A placeholder must not be read as decoration again (``<host>`` is no host name).
_PLACEHOLDER = re.compile(r"<(?:address|guid|time|ip|host|id|n)>")


@functools.lru_cache(maxsize=8192)
def normalise_signature_text(text: str) -> str:
    """Return ``text`` without its decoration, for grouping (see the module's docstring).

    Stable interface for both readers: ``normalise_signature_text(text: str) -> str``.
    Idempotent; ``TypeError`` names ``text`` when it is not a string.

    >>> normalise_signature_text("250-mx.example.net Hello [203.0.113.7]")
    '250-<host> Hello <ip>'
    >>> normalise_signature_text("421 4.4.1 Connection timed out")
    '421 4.4.1 Connection timed out'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    pieces = _PLACEHOLDER.split(text)
    kept = _PLACEHOLDER.findall(text)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        for pattern, placeholder in _PATTERNS:
            piece = pattern.sub(placeholder, piece)
        out.append(piece)
        if index < len(kept):
            out.append(kept[index])
    normalised = _SPACE.sub(" ", "".join(out)).strip()
    return normalised[:SIGNATURE_TEXT_LIMIT]
