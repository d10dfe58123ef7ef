"""Repairs for text that reached us through a script comment, a forum or a ticket."""

from __future__ import annotations

import re

from exchange_tls.errors import Problem, ProblemCollector, Severity

__all__ = ["strip_common_prefix"]

# A prefix that every non-blank line shares and that cannot begin PowerShell output:
# comment markers ("#", "\t#\t") and quote markers ("> ").
_PREFIX = re.compile(r"^[ \t]*(?:#|>)[ \t]?")


def strip_common_prefix(lines: list[str], *, source: str, collector: ProblemCollector) -> list[str]:
    """Remove a ``#`` or ``>`` prefix that every non-blank line shares, and say so.

    Export-Csv's ``#TYPE`` line alone does not count: all lines must share the prefix.
    """
    content = [line for line in lines if line.strip()]
    if len(content) < 2:
        return lines
    matches = [_PREFIX.match(line) for line in content]
    if not all(matches):
        return lines
    marker = {match.group().strip() for match in matches if match}
    if len(marker) != 1:
        return lines
    collector.report(
        Problem(
            message=f"removed the {marker.pop()!r} prefix that every line had (a pasted copy)",
            source=source,
            severity=Severity.INFO,
            code="pasted-prefix",
        )
    )
    return [_PREFIX.sub("", line, count=1) if line.strip() else line for line in lines]
