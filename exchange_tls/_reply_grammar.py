"""The grammar of SMTP replies and of the wrappers Exchange puts around them.

Private: it returns plain tuples, and :mod:`exchange_tls.smtp` builds models from them.
The grammar is written down as BNF in the docs ("Queues and SMTP replies")::

    reply          ::= reply-line *( LF reply-line )
    reply-line     ::= code [ ( "-" | SP ) [ enhanced ( SP | end ) ] text ]
    code           ::= %x32-35 DIGIT DIGIT                       ; 200-599
    enhanced       ::= ( "2" | "4" | "5" ) "." 1*3DIGIT "." 1*3DIGIT

    text           ::= primary | proxy | bracketed | chained | plain
    primary        ::= primary-intro *SP DQUOTE inner DQUOTE [ failover ] [ last-endpoint ]
    primary-intro  ::= "Primary target IP address responded with:"
                     | "Primary outbound frontend IP address responded with:"
                     | "Error encountered while communicating with primary target IP address:"
                     | "Error encountered while communicating with primary outbound frontend"
                       " IP address:"
    proxy          ::= "Proxy session setup failed on Frontend with" *SP "'" inner "'" [ "." ]
    bracketed      ::= head "[Message=" inner "]" *( SP "[" name "=" value "]" )
    chained        ::= head SP "->" SP reply                     ; the first "->" before a code
    last-endpoint  ::= "The last endpoint attempted was" SP endpoint [ "." ]
    inner          ::= reply [ "." ] | any text                  ; a reply when it parses as one
"""

from __future__ import annotations

import functools
import re

import pyparsing as pp

__all__ = [
    "ReplyLine",
    "Wrapper",
    "find_last_endpoint",
    "parse_reply_line",
    "parse_wrapper",
]

#: ``(code, separator, enhanced or None, text)`` of one reply line.
ReplyLine = tuple[int, str, str | None, str]

#: ``(kind, inner text, own text)``: which wrapper, the text inside it, and the text of
#: the outer reply with the inner part taken out (where its last endpoint is said).
Wrapper = tuple[str, str, str]


@functools.cache
def _reply_line() -> pp.ParserElement:
    # Built on first use and cached; whitespace is handled explicitly on these elements
    # only, so no pyparsing default changes for an application that embeds us.
    code = pp.Regex(r"[2-5][0-9]{2}(?![0-9])").set_name("reply code")
    separator = pp.Char("- ").set_name("'-' or space")
    enhanced = pp.Regex(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}(?=\s|$)").set_name("enhanced status code")
    text = pp.Regex(r".*", flags=re.DOTALL).set_name("text")
    enhanced_then_space = enhanced("enhanced") + pp.Opt(pp.Char(" \t")).suppress()
    after_code = separator("separator") + pp.Opt(enhanced_then_space) + text("text")
    line = code("code") + (after_code | pp.StringEnd())
    return line.leave_whitespace().set_name("reply line")


def parse_reply_line(text: str) -> ReplyLine:
    """Split one reply line into its parts; raises ``pp.ParseException`` if it is none."""
    result = _reply_line().parse_string(text, parse_all=True)
    return (
        int(str(result["code"])),
        str(result["separator"]) if "separator" in result else " ",
        str(result["enhanced"]) if "enhanced" in result else None,
        str(result["text"]) if "text" in result else "",
    )


# The wrappers are found with anchored searches and ``rfind`` rather than one backtracking
# pattern, so that a 1 MB reply full of quotes is still read in linear time.
_PRIMARY_INTRO = re.compile(
    r"(?:Primary (?:target|outbound frontend) IP address responded with:"
    r"|(?P<error>Error encountered while communicating with primary "
    r"(?:target|outbound frontend) IP address:))\s*\""
)
_FAILOVER = "Attempted failover"
_PROXY_INTRO = re.compile(r"Proxy session setup failed on Frontend with\s*'")
_MESSAGE_INTRO = "[Message="
_NEXT_BRACKET = re.compile(r"\]\s*\[[A-Za-z]+=")
_CHAIN = re.compile(r"\s->\s(?=[2-5][0-9]{2}(?![0-9]))")


def _primary(text: str) -> tuple[int, Wrapper] | None:
    match = _PRIMARY_INTRO.search(text)
    if match is None:
        return None
    failover = text.rfind(_FAILOVER, match.end())
    close = text.rfind('"', match.end(), failover if failover != -1 else len(text))
    if close == -1:
        return None
    kind = "primary-target-error" if match.group("error") else "primary-target"
    return match.start(), (
        kind,
        text[match.end() : close],
        text[: match.start()] + text[close + 1 :],
    )


def _proxy(text: str) -> tuple[int, Wrapper] | None:
    match = _PROXY_INTRO.search(text)
    if match is None:
        return None
    close = text.rfind("'", match.end())
    if close == -1:
        return None
    own = text[: match.start()] + text[close + 1 :]
    return match.start(), ("proxy-session", text[match.end() : close], own)


def _bracketed(text: str) -> tuple[int, Wrapper] | None:
    start = text.find(_MESSAGE_INTRO)
    if start == -1:
        return None
    inner_start = start + len(_MESSAGE_INTRO)
    following = _NEXT_BRACKET.search(text, inner_start)
    close = following.start() if following else text.rfind("]", inner_start)
    if close == -1:
        return None
    own = text[:start] + text[close + 1 :]
    return start, ("bracketed-message", text[inner_start:close], own)


def _chained(text: str) -> tuple[int, Wrapper] | None:
    match = _CHAIN.search(text)
    if match is None:
        return None
    return match.start(), ("chained", text[match.end() :], text[: match.start()])


def parse_wrapper(text: str) -> Wrapper | None:
    """Recognise the Exchange wrapper around an inner reply in ``text``, if any.

    Returns ``(kind, inner, own)``: the kind of wrapper, the text inside it, and the
    outer reply's own text with the inner part cut out. The outermost wrapper, the one
    that starts first in the text, wins; the inner text is parsed again for the rest.
    """
    found = [
        candidate
        for candidate in (_primary(text), _proxy(text), _bracketed(text), _chained(text))
        if candidate is not None
    ]
    if not found:
        return None
    return min(found, key=lambda candidate: candidate[0])[1]


_LAST_ENDPOINT = re.compile(
    r"The last endpoint attempted was\s+(?P<endpoint>\S+?)\.?\s*$|"
    r"\[LastAttemptedIP=(?P<bracketed>[^\]]+)\]"
)


def find_last_endpoint(own_text: str) -> str | None:
    """Return the endpoint text of the last-endpoint clause in the reply's own text."""
    match = _LAST_ENDPOINT.search(own_text)
    if match is None:
        return None
    return match.group("endpoint") or match.group("bracketed")
