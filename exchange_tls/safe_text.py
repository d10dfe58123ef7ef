"""Evidence text made safe for where it is shown: a terminal, Markdown.

Evidence comes from strangers: a connector name or a log line can carry terminal escape
sequences, bidirectional overrides that reorder what a reader sees, or Markdown and HTML
markup. These functions show such characters as visible escapes instead of letting them
act.
"""

from __future__ import annotations

import re

__all__ = ["code_fence", "for_json", "for_markdown", "for_terminal"]

# C0 controls (tab and newline handled apart), DEL, C1 controls (U+009B is a CSI on its
# own), the bidirectional formatting characters that reorder a line on display, and lone
# surrogates (from escaped Clixml text), which no encoding can write.
_REORDERING = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{_REORDERING}]")
_UNSAFE_IN_JSON = re.compile(f"[{_REORDERING}]")
# What Markdown reads as markup anywhere in a line (emphasis, code, links, tables,
# strikethrough), and what it reads as markup only at the start of one (headings, lists,
# quotes): dots and dashes inside a sentence are left alone.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_MARKDOWN_START = re.compile(r"^(\s*(?:\d+)?)([#+\-=.)])")
_BACKTICKS = re.compile(r"`+")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str, *, newlines: bool = False) -> str:
    r"""Return ``text`` with control and reordering characters shown as escapes.

    >>> for_terminal("Out\x1b[2J\u202eboundary\ttab")
    'Out\\x1b[2J\\u202eboundary tab'
    >>> for_terminal("two\nlines")
    'two\\nlines'
    >>> for_terminal("two\nlines", newlines=True)
    'two\nlines'
    """
    text = text.replace("\t", " ")
    if not newlines:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\\r")
    return _UNSAFE.sub(_visible, text)


def for_markdown(text: str) -> str:
    r"""Return ``text`` as inert Markdown: one line, markup escaped, HTML as entities.

    >>> for_markdown("<script>alert(1)</script> *bold* `code`")
    '&lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\`code\\`'
    >>> for_markdown("- not a list, 1.5 s, a.b-c"), for_markdown("2. nor this")
    ('\\- not a list, 1.5 s, a.b-c', '2\\. nor this')
    >>> for_markdown("line\n```\nfence")
    'line \\`\\`\\` fence'
    """
    text = for_terminal(" ".join(text.split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    return _MARKDOWN_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def code_fence(content: str) -> str:
    """Return a backtick fence longer than any run of backticks in ``content``.

    >>> code_fence("Write-Output 'a'")
    '```'
    >>> code_fence("Write-Output '````'")
    '`````'
    """
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    return "`" * max(3, longest + 1)


def for_json(text: str) -> str:
    r"""Return JSON text with C1 controls, reordering characters and lone surrogates escaped.

    ``json.dumps(..., ensure_ascii=False)`` escapes only C0 controls; the rest would act on
    a terminal or fail to encode. Escaped as ``\uXXXX``, the document means the same.

    >>> import json
    >>> text = for_json(json.dumps({"name": "Out\u009b2J\u202e"}, ensure_ascii=False))
    >>> text
    '{"name": "Out\\u009b2J\\u202e"}'
    >>> json.loads(text)["name"] == "Out\u009b2J\u202e"
    True
    """
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
