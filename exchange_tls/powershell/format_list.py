r"""Read ``Format-List`` output (``| fl``) into records.

::

    Identity           : EX01\\9
    Status             : Retry
    LastError          : [{LRT=…};{LED=451 4.4.0 Primary target IP address responded
                         with: "421 4.4.1 Connection timed out." …}]

A property is ``Name : value``. A line that is not one continues the value before it:
consoles wrap long values, indented or not, and pastes add blank lines between
properties. A new record starts where a property name repeats, so neither blank lines
nor their absence decide it.
"""

from __future__ import annotations

import re

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.records import PSObject, PSProperty
from exchange_tls.sources import SourceRef

__all__ = ["read_format_list"]

_PROPERTY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*:(?:[ \t](?P<value>.*)|[ \t]*$)")
# A name that kept a colon of its own in a retyped paste: "Status:       : Retry".
_DOUBLED_COLON = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*:[ \t]+:(?:[ \t]|$)")


def _balance(text: str) -> int:
    """How many more ``[`` and ``{`` than ``]`` and ``}`` the text holds."""
    return text.count("[") + text.count("{") - text.count("]") - text.count("}")


class _Value:
    """A property value that may grow by continuation lines, kept as parts.

    Joining the parts once at the end, and keeping the bracket balance as lines come,
    makes a value of many continuation lines cost time linear in its length.
    """

    __slots__ = ("balance", "line", "name", "parts")

    def __init__(self, name: str, value: str, line: int) -> None:
        self.name = name
        self.line = line
        self.parts = [value] if value else []
        self.balance = _balance(value)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.balance += _balance(text)

    def open_brackets(self) -> bool:
        """Whether a ``[`` or ``{`` value has not been closed yet (it continues)."""
        return bool(self.parts) and self.parts[0].startswith(("[", "{")) and self.balance > 0


def read_format_list(
    lines: list[str], *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[PSObject]:
    """Read Format-List lines into records; ``first_line`` numbers ``lines[0]``."""
    records: list[PSObject] = []
    current: list[_Value] = []
    seen: set[str] = set()

    def finish() -> None:
        if current:
            properties = [
                PSProperty(name=value.name, value=" ".join(value.parts), line=value.line)
                for value in current
            ]
            records.append(PSObject(properties, SourceRef(source, properties[0].line)))
        current.clear()
        seen.clear()

    for offset, line in enumerate(lines):
        number = first_line + offset
        stripped = line.strip()
        if not stripped:
            continue
        continuing = bool(current) and current[-1].open_brackets()
        match = None if continuing else _PROPERTY.match(line)
        if match is not None:
            name = match.group("name")
            if name.casefold() in seen:
                finish()
            seen.add(name.casefold())
            value = (match.group("value") or "").strip()
            if _DOUBLED_COLON.match(line):
                value = value[1:].strip()
                collector.report(
                    Problem(
                        message=f"read {name!r} whose name kept a colon of its own "
                        f"({name}:  :) as {name} :",
                        source=source,
                        line=number,
                        column=len(name) + 1,
                        line_text=line,
                        severity=Severity.WARNING,
                        code="damaged-name",
                    )
                )
            current.append(_Value(name, value, number))
        elif current:
            current[-1].add(stripped)
        else:
            collector.report(
                Problem(
                    message="ignored a line before the first property",
                    source=source,
                    line=number,
                    column=1,
                    line_text=line,
                    severity=Severity.INFO,
                    code="not-a-property",
                )
            )
    finish()
    return records
