"""Protocol-log rows copied from a machine-translated web page: what survives, explained.

Microsoft's articles are machine-translated, log excerpts included: the translation puts
spaces and dashes into timestamps (``2017 - 10 - 07T04:42:56.804 Z``, often with en
dashes), translates the connector name (``Sortant vers Office 365``) and the context words
(``Echec de la negociation TLS avec l'erreur UnknownCredentials``), and spaces endpoints
(``10.10.248.7 :16547``). Such text is not a log Exchange wrote and is not read as one,
but three things survive translation and still say something: the TLS error word
(an enum name, never translated), the SMTP status codes, and the endpoints.
:func:`describe_translated_log` finds them and says what they mean.
"""

from __future__ import annotations

import itertools
import re

from exchange_tls.diagnosis.schannel import SCHANNEL_ERRORS

__all__ = ["describe_translated_log"]

# A timestamp a translation damaged: blanks or other dashes inside it, or a space
# before its Z. An intact one ("2017-10-07T04:42:56.804Z,") is a log row, read as one.
_DAMAGED_STAMP = re.compile(
    r"^\W{0,3}\d{4}[ \t]*[-\u2010-\u2015\u2212][ \t]*\d\d[ \t]*[-\u2010-\u2015\u2212][ \t]*"
    r"\d\d[ \t]*T[ \t]*\d\d[ \t]*:[ \t]*\d\d[ \t]*:[ \t]*\d\d(?:[.,][ \t]*\d+)?[ \t]*Z",
    re.MULTILINE,
)
_INTACT_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_ERROR_WORDS = re.compile(
    r"\b(" + "|".join(re.escape(entry.name) for entry in SCHANNEL_ERRORS) + r")\b"
)
_MEANINGS = {entry.name: entry.meaning for entry in SCHANNEL_ERRORS}
_STATUS = re.compile(r"(?<![\d.])([2-5]\d\d)[ \t]+([2-5]\.\d{1,3}\.\d{1,3})(?![\d.])")
_ENDPOINT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})[ \t]*:[ \t]*(\d{1,5})(?!\d)")
# At most this many of each are named; the rest are counted.
_SHOWN = 5


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown if len(items) <= _SHOWN else f"{shown} and {len(items) - _SHOWN} more"


def _unique(items: object) -> list[str]:
    return list(dict.fromkeys(items))  # type: ignore[call-overload]


def describe_translated_log(text: str) -> str | None:
    r"""Explain what survives in log rows copied from a machine-translated page; else None.

    >>> text = (
    ...     "2017 \u2013 10 \u2013 07T04:42:56.804 Z,Sortant vers Office 365,08D5,21,"
    ...     "10.10.248.7 :16547,216.32.181.234 :25,*,,"
    ...     "Echec de la negociation TLS avec l'erreur UnknownCredentials"
    ... )
    >>> for part in describe_translated_log(text).split("; ")[1:3]:
    ...     print(part[:54])
    the TLS error UnknownCredentials survives translation:
    endpoints: 10.10.248.7:16547, 216.32.181.234:25
    >>> describe_translated_log("Identity : EX01") is None
    True
    """
    stamps = [
        match.group().strip() for match in itertools.islice(_DAMAGED_STAMP.finditer(text), 50)
    ]
    damaged = [stamp for stamp in stamps if not _INTACT_STAMP.fullmatch(stamp.lstrip("\ufeff"))]
    if not damaged:
        return None
    parts = [
        "looks like protocol-log rows copied from a machine-translated web page "
        f"(a timestamp written {damaged[0]!r}), not a log Exchange wrote, so it was not "
        "read as one"
    ]
    errors = _unique(match.group(1) for match in _ERROR_WORDS.finditer(text))
    parts.extend(
        f"the TLS error {name} survives translation: {_MEANINGS[name].rstrip('.')}"
        for name in errors[:_SHOWN]
    )
    codes = _unique(f"{m.group(1)} {m.group(2)}" for m in _STATUS.finditer(text))
    if codes:
        parts.append(f"status codes: {_listed(codes)}")
    endpoints = _unique(f"{m.group(1)}:{m.group(2)}" for m in _ENDPOINT.finditer(text))
    if endpoints:
        parts.append(f"endpoints: {_listed(endpoints)}")
    parts.append(
        "connector names and context words may be translated; diagnose the log itself, or "
        "the excerpt of the article in English"
    )
    return "; ".join(parts)
