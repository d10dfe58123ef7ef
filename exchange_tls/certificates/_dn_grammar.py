r"""Grammars for X.500 distinguished names and ``TlsCertificateName`` values.

Private: they return plain tuples; :mod:`exchange_tls.certificates.names` builds models.
The grammars are written down as BNF in the docs ("Certificates and connectors")::

    dn          ::= rdn *( separator rdn )
    separator   ::= ( "," | ";" ) *SP
    rdn         ::= ava *( *SP "+" *SP ava )
    ava         ::= type *SP "=" *SP value
    type        ::= ALPHA *( ALPHA | DIGIT | "-" ) | number 1*( "." number )
    value       ::= quoted | plain
    quoted      ::= DQUOTE *( not-dquote | DQUOTE DQUOTE ) DQUOTE
    plain       ::= *( escaped | not-special )                ; trailing spaces dropped
    escaped     ::= "\" any-character

    tls-name    ::= "<I>" issuer-dn "<S>" subject-dn   (markers in either case)
"""

from __future__ import annotations

import functools

import pyparsing as pp

__all__ = ["Ava", "parse_dn", "parse_tls_name"]

#: ``(type, value)`` of one attribute; an RDN is a tuple of them.
Ava = tuple[str, str]


def _unquote(tokens: pp.ParseResults) -> str:
    text = str(tokens[0])
    return text[1:-1].replace('""', '"')


def _unescape(tokens: pp.ParseResults) -> str:
    text = str(tokens[0]).rstrip(" ")
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


@functools.cache
def _dn() -> pp.ParserElement:
    # Built on first use, cached, and with whitespace handled on these elements only.
    spaces = pp.Opt(pp.White(" \t")).suppress()
    attribute_type = pp.Regex(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+").set_name(
        "attribute type"
    )
    quoted = pp.Regex(r'"(?:[^"]|"")*"').set_name("quoted value")
    quoted.set_parse_action(_unquote)
    plain = pp.Regex(r'(?:\\.|[^,;+"\\])*').set_name("value")
    plain.set_parse_action(_unescape)
    value = (quoted + pp.FollowedBy(pp.Regex(r"\s*(?:[,;+]|$)")) | plain).set_name("value")
    ava = pp.Group(attribute_type + spaces + pp.Suppress("=") + spaces + value).set_name(
        "attribute"
    )
    rdn = pp.Group(ava + pp.ZeroOrMore(spaces + pp.Suppress("+") + spaces + ava)).set_name("RDN")
    separator = (pp.Char(",;") + spaces).suppress().set_name("',' between RDNs")
    dn = spaces + rdn + pp.ZeroOrMore(separator + rdn) + spaces + pp.StringEnd()
    return dn.leave_whitespace().set_name("distinguished name")


def parse_dn(text: str) -> tuple[tuple[Ava, ...], ...]:
    """Split a DN into RDNs of ``(type, value)``; raises ``pp.ParseException``."""
    result = _dn().parse_string(text, parse_all=True)
    return tuple(tuple((str(ava[0]), str(ava[1])) for ava in rdn) for rdn in result)


@functools.cache
def _tls_name() -> pp.ParserElement:
    # Exchange and HealthChecker take the markers in either case (<i>, <s>).
    issuer_marker = pp.CaselessLiteral("<I>").set_name("<I>")
    subject_marker = pp.CaselessLiteral("<S>").set_name("<S>")
    issuer = pp.SkipTo(subject_marker).set_name("issuer DN")
    subject = pp.Regex(r".*", flags=0).set_name("subject DN")
    grammar = (
        pp.Suppress(issuer_marker)
        + issuer("issuer")
        + pp.Suppress(subject_marker)
        + subject("subject")
    )
    return (grammar + pp.StringEnd()).leave_whitespace().set_name("TlsCertificateName")


def parse_tls_name(text: str) -> tuple[str, str]:
    """Split ``<I>issuer<S>subject`` into its two texts; raises ``pp.ParseException``."""
    result = _tls_name().parse_string(text, parse_all=True)
    return str(result["issuer"]), str(result["subject"])
