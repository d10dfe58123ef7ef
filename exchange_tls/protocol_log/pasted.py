"""Repairs for protocol logs copied through web pages, forums and tickets.

Each repair is reported as a :class:`~exchange_tls.Problem` of severity info, once per
kind, with the number of lines it touched.
"""

from __future__ import annotations

import os
import re

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.smtp import normalize_quotes

__all__ = ["repair_pasted"]

_DIRECTIVES = ("Software:", "Version:", "Log-type:", "Date:", "Fields:")
_QUOTE_PREFIX = re.compile(r"^[ \t]*>[ \t]?")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ESCAPED = re.compile(r"\\([*_#<>`\[\]\\])")
_PREFIX_CHARACTERS = " \t#>"


def _info(collector: ProblemCollector, source: str, message: str, code: str) -> None:
    collector.report(Problem(message=message, source=source, severity=Severity.INFO, code=code))


def _common_prefix(lines: list[str]) -> str:
    content = [line for line in lines if line.strip()]
    if len(content) < 2:
        return ""
    prefix = os.path.commonprefix(content)  # noqa: RUF071 -- characters, not paths
    cut = 0
    while cut < len(prefix) and prefix[cut] in _PREFIX_CHARACTERS:
        cut += 1
    return prefix[:cut]


def repair_pasted(text: str, source: str, collector: ProblemCollector) -> str:
    """Undo what copying through the web does to a log; report each kind of repair."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] in '"\u201c' and stripped[-1] in '"\u201d':
        text = stripped[1:-1]
        _info(collector, source, "removed the quotes around the whole paste", "pasted-quotes")
    lines = text.split("\n")
    prefix = _common_prefix(lines)
    if prefix.strip() and any(line[len(prefix) :].lstrip()[:1].isdigit() for line in lines):
        lines = [line[len(prefix) :] if line.strip() else line for line in lines]
        _info(collector, source, f"removed the prefix {prefix!r} every line had", "pasted-prefix")
    counts = {"quote": 0, "indent": 0, "blank": 0, "curly": 0, "escape": 0, "bold": 0, "hash": 0}
    repaired: list[str] = []
    last = len(lines) - 1
    for number, line in enumerate(lines):
        if not line.strip():
            # The empty string after a final line break is no blank line of the paste.
            counts["blank"] += number != last or line != ""
            repaired.append("")
            continue
        if _QUOTE_PREFIX.match(line):
            line = _QUOTE_PREFIX.sub("", line, count=1)
            counts["quote"] += 1
        if line[:1] in (" ", "\t"):
            line = line.lstrip()
            counts["indent"] += 1
        line = line.rstrip()
        straight = normalize_quotes(line)
        if straight != line:
            counts["curly"] += 1
            line = straight
        unescaped = _ESCAPED.sub(r"\1", line)
        if unescaped != line:
            counts["escape"] += 1
            line = unescaped
        unbold = _BOLD.sub(r"\1", line)
        if unbold != line:
            counts["bold"] += 1
            line = unbold
        if line.startswith(_DIRECTIVES):
            line = "#" + line
            counts["hash"] += 1
        repaired.append(line)
    messages = {
        "quote": "removed '> ' quote prefixes",
        "indent": "removed indentation",
        "blank": "skipped blank lines",
        "curly": "straightened curly quotes",
        "escape": "removed Markdown backslash escapes",
        "bold": "removed Markdown ** bold markers",
        "hash": "restored the '#' of header lines",
    }
    for kind, count in counts.items():
        if count:
            lines_word = "line" if count == 1 else "lines"
            _info(collector, source, f"{messages[kind]} ({count} {lines_word})", f"pasted-{kind}")
    return "\n".join(repaired)
