"""What both protocol log readers read of a line, in one place, so that they cannot drift.

The careful reader (:func:`~exchange_tls.protocol_log.facts.plain_success`) and the
columnar one (:mod:`~exchange_tls.protocol_log.columnar`) classify an information line
through :func:`classify_information`, read a thumbprint through
:func:`normalise_thumbprint`, an error reply through :func:`is_error_reply`, and group
commands and replies by :func:`fact_text`. The exact strings are Exchange's
(``domain.md`` §2, §8).
"""

from __future__ import annotations

import enum
import re

from exchange_tls.protocol_log.outcome import refusal_code

__all__ = [
    "CERTIFICATE",
    "CERTIFICATE_LABELS",
    "PROTOCOL",
    "SENDING",
    "THUMBPRINT_CONTEXT",
    "TLS_FAILED",
    "TLS_SUCCEEDED",
    "InformationKind",
    "classify_information",
    "fact_text",
    "is_certificate_context",
    "is_error_reply",
    "is_thumbprint_context",
    "normalise_thumbprint",
]

TLS_FAILED = "TLS negotiation failed with error "
TLS_SUCCEEDED = re.compile(
    r"^TLS protocol (?P<protocol>\S+) negotiation succeeded using bulk encryption algorithm "
    r"(?P<cipher>\S+) with strength (?P<cipher_strength>\d+) bits, MAC hash algorithm "
    r"(?P<hash>\S+) with strength (?P<hash_strength>\d+) bits and key exchange algorithm "
    r"(?P<kex>\S+) with strength (?P<kex_strength>\d+) bits"
)
CERTIFICATE_LABELS = ("Sending certificate", "Remote certificate", "Received certificate")
PROTOCOL = re.compile(r"^SP_PROT_(?P<version>(?:TLS|SSL)\d(?:_\d)?)_(?:CLIENT|SERVER)$")
_HEX = re.compile(r"[0-9A-Fa-f]+")
CERTIFICATE = "Certificate "
THUMBPRINT_CONTEXT = "Certificate thumbprint"
SENDING = "Sending certificate"


def normalise_thumbprint(text: str | None) -> str | None:
    """Upper-case a real thumbprint; keep a masked one (``xxxx``) as written."""
    if not text:
        return None
    text = text.strip()
    return text.upper() if _HEX.fullmatch(text) else text


_PLAIN_BREAKERS = (
    TLS_FAILED,
    "Failed to connect.",
    "Outbound Authentication failed",
    "Inbound AUTH",
    *CERTIFICATE_LABELS,
)


class InformationKind(enum.IntEnum):
    """What an information line's text (its context, else its data) is to :func:`plain_success`.

    The careful reader and the columnar one (:mod:`~exchange_tls.protocol_log.columnar`)
    both classify through :func:`classify_information`, so that they cannot drift.
    """

    OTHER = 0  #: says nothing plain_success weighs
    SENDING = 1  #: ``Sending certificate``: the usual certificate block begins
    TLS_SUCCEEDED = 2  #: a TLS success line read in full
    TLS_UNREAD = 3  #: begins ``TLS protocol`` but is not a success line read in full
    BREAKER = 4  #: a failure, or another certificate label: no plain success


def classify_information(text: str) -> tuple[InformationKind, str | None]:
    """Classify an information line's text; for a TLS success, return its protocol too.

    >>> classify_information("Sending certificate")
    (<InformationKind.SENDING: 1>, None)
    >>> classify_information("TLS negotiation failed with error UnknownCredentials")
    (<InformationKind.BREAKER: 4>, None)
    """
    if text == SENDING:
        return InformationKind.SENDING, None
    if text.startswith("TLS protocol "):
        success = TLS_SUCCEEDED.match(text)
        if success is None:
            return InformationKind.TLS_UNREAD, None
        raw = success.group("protocol")
        version = PROTOCOL.match(raw)
        return InformationKind.TLS_SUCCEEDED, version.group("version") if version else raw
    if text.startswith(_PLAIN_BREAKERS):
        return InformationKind.BREAKER, None
    return InformationKind.OTHER, None


def is_certificate_context(context: str) -> bool:
    """Whether an information row's context names a field of a certificate block."""
    return context.startswith(CERTIFICATE)


def is_thumbprint_context(context: str) -> bool:
    """Whether an information row's context is the thumbprint of a certificate block."""
    return context == THUMBPRINT_CONTEXT


def is_error_reply(data: str) -> bool:
    """Whether a reply's data is a 4xx or 5xx reply (which fails a plain success)."""
    return data[:1] in ("4", "5") and data[1:3].isdigit()


_TELLING_PREFIXES = ("TLS negotiation failed", "Failed to connect", "Outbound Auth")


def fact_text(data: str) -> str:
    """Return what a session's reading uses of a command's or a reply's data.

    :func:`session_facts` reads a command or a reply in full only when it mentions
    STARTTLS or is an EHLO (or HELO); otherwise, and so do :func:`plain_success`, the
    signature and the telling row of a summary, only its first four characters (a
    reply's code and the character after it: an error reply, the end of an EHLO reply),
    and of an error reply its enhanced code too (the summary's ``_error_reply``).
    Sessions whose rows give the same ``fact_text`` (information rows compared whole)
    have the same facts, signature and telling row: the columnar reader builds one of
    them for all (unusual sessions whose banners carry the time, say). Keep this in step
    with :func:`_on_command`, :func:`_on_reply`, :func:`_offer_refused` and the summary's
    ``_error_reply`` and ``telling_row``.

    >>> fact_text("220 mx1.example.net Microsoft ESMTP MAIL Service ready at Sun, 01 Nov 2026")
    '220 '
    >>> fact_text("250-STARTTLS")
    '250-STARTTLS'
    """
    if "STARTTLS" in data.upper() or data[:4].upper() in ("EHLO", "HELO"):
        return data
    if data.startswith(_TELLING_PREFIXES):
        return data
    if data[:1] in ("4", "5") and data[1:3].isdigit():
        # A refusal's signature carries its enhanced code (550 5.7.64 is not 550 5.1.1).
        return data[:4] + refusal_code(data)[4:]
    return data[:4]
