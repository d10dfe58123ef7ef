"""Errors that know where they happened.

Every problem with evidence is tied to a position: the source (a file name or another
label), a 1-based line and a 1-based column counted in characters. A parser either raises
:class:`ParseError` on the first error or, in collecting mode, records a :class:`Problem`
and carries on. Both render the same way, with the offending line and a caret under the
column::

    kb4051498.log:3:52: expected a sequence number
        2017-10-07T04:42:56.804Z,Outbound,08D50D3D9730A8D2,x,,,*,,
                                                       ^

Nothing else escapes a parser: :class:`ProblemCollector` is the one place that decides
whether an error is raised or recorded.
"""

from __future__ import annotations

import enum
from typing import Literal, TypedDict

import attrs

__all__ = [
    "ErrorMode",
    "ExchangeTlsError",
    "ParseError",
    "Problem",
    "ProblemCollector",
    "Severity",
]

#: How a reader treats an error: raise :class:`ParseError` at once, or record a
#: :class:`Problem` and carry on.
ErrorMode = Literal["raise", "collect"]

# A line longer than this is shown as a window around the column, so that a 10 MB line
# in a hostile file cannot turn one error message into 10 MB of text.
_WINDOW = 60
_ELLIPSIS = "…"

# C0 and C1 control characters, except tab, would move the terminal cursor or hide text;
# they are shown as U+FFFD. Tabs are kept so that the caret line can copy them and stay
# aligned with what the terminal shows.
_CONTROL_CHARACTERS = {
    code: "\ufffd" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x09
}


class Severity(enum.Enum):
    """How bad a :class:`Problem` is."""

    #: The input is wrong and something could not be read.
    ERROR = "error"
    #: The input was read, but a value is doubtful or was dropped to ``None``.
    WARNING = "warning"
    #: The input was repaired or read in an unusual way; nothing was lost.
    INFO = "info"


class ExchangeTlsError(Exception):
    """Base class of every exception that exchange_tls raises on purpose."""


def _window(line_text: str, start: int, caret: int) -> tuple[str, int, int]:
    """Cut a long line to a window around ``[start, caret]`` (0-based); shift both."""
    if len(line_text) <= 2 * _WINDOW:
        return line_text, start, caret
    begin = max(0, min(start, caret) - _WINDOW)
    end = min(len(line_text), max(start, caret) + _WINDOW)
    prefix = _ELLIPSIS if begin > 0 else ""
    suffix = _ELLIPSIS if end < len(line_text) else ""
    shift = begin - len(prefix)
    return prefix + line_text[begin:end] + suffix, start - shift, caret - shift


def render_position(
    *,
    message: str,
    source: str,
    line: int | None,
    column: int | None,
    line_text: str | None,
    span_start: int | None = None,
    label: str | None = None,
) -> str:
    """Render ``source:line:column: message``, the line, and a ``~~~^`` marker.

    ``column`` and ``span_start`` are 1-based; tildes run from ``span_start`` up to the
    caret at ``column``. Unknown parts of the position are left out of the heading.
    """
    heading = source
    if line is not None:
        heading += f":{line}"
        if column is not None:
            heading += f":{column}"
    prefix = f"{label}: " if label else ""
    text = f"{heading}: {prefix}{message}"
    if line_text is None:
        return text
    shown = line_text.rstrip("\r\n").translate(_CONTROL_CHARACTERS)
    if column is None:
        return f"{text}\n    {shown}"
    caret = max(column - 1, 0)
    start = caret if span_start is None else min(max(span_start - 1, 0), caret)
    shown, start, caret = _window(shown, start, caret)
    # Copy tabs from the line so the marker sits under the same character on a terminal.
    padding = "".join("\t" if char == "\t" else " " for char in shown[:start])
    padding += " " * max(0, start - len(shown))
    marker = padding + "~" * (caret - start) + "^"
    return f"{text}\n    {shown}\n    {marker}"


class ParseError(ExchangeTlsError, ValueError):
    """Evidence that cannot be read, with the position of the first thing wrong.

    >>> error = ParseError(
    ...     "expected a sequence number",
    ...     source="SEND20171007-1.LOG",
    ...     line=7,
    ...     column=22,
    ...     line_text="...,08D50D3D9730A8D2,x,,,*,,",
    ... )
    >>> print(error)
    SEND20171007-1.LOG:7:22: expected a sequence number
        ...,08D50D3D9730A8D2,x,,,*,,
                             ^
    >>> isinstance(error, ValueError)
    True
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        line: int | None = None,
        column: int | None = None,
        line_text: str | None = None,
        span_start: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        # A reader handed bytes must still give an error that prints.
        shown: object = line_text
        self.line_text = shown if shown is None or isinstance(shown, str) else repr(shown)
        self.span_start = span_start
        self.code = code

    def __str__(self) -> str:
        return render_position(message=self.message, **_position_of(self))

    def __repr__(self) -> str:
        return (
            f"ParseError({self.message!r}, source={self.source!r}, "
            f"line={self.line!r}, column={self.column!r})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructors do not survive the default exception pickling,
        # and errors cross process boundaries in parallel readers.
        return (_rebuild_parse_error, (self.message, _position_of(self), self.code))

    def to_problem(self, severity: Severity = Severity.ERROR) -> Problem:
        """Return the same information as a :class:`Problem`, for collecting mode."""
        return Problem(
            message=self.message, severity=severity, code=self.code, **_position_of(self)
        )


class _Position(TypedDict):
    """Where an error or a problem is: what ParseError, Problem and their rendering share."""

    source: str
    line: int | None
    column: int | None
    line_text: str | None
    span_start: int | None


def _position_of(where: ParseError | Problem) -> _Position:
    return {
        "source": where.source,
        "line": where.line,
        "column": where.column,
        "line_text": where.line_text,
        "span_start": where.span_start,
    }


def _rebuild_parse_error(message: str, position: _Position, code: str | None) -> ParseError:
    return ParseError(message, code=code, **position)


def _optional_positive(
    instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} is 1-based, got {value}")


@attrs.frozen(kw_only=True)
class Problem:
    """Something wrong or unusual in the evidence, recorded instead of raised.

    >>> problem = Problem(
    ...     message="undecodable byte 0xFF replaced with U+FFFD",
    ...     source="queue.txt",
    ...     line=2,
    ...     column=11,
    ...     line_text="Status  : \ufffdRetry",
    ...     severity="warning",
    ... )
    >>> print(problem)
    queue.txt:2:11: warning: undecodable byte 0xFF replaced with U+FFFD
        Status  : \ufffdRetry
                  ^
    >>> problem.severity
    <Severity.WARNING: 'warning'>
    """

    #: What is wrong, in one sentence without a trailing full stop.
    message: str
    #: The file name or label of the input.
    source: str
    #: 1-based line, or ``None`` when the problem concerns the whole source.
    line: int | None = attrs.field(default=None, validator=_optional_positive)
    #: 1-based column in characters, or ``None``.
    column: int | None = attrs.field(default=None, validator=_optional_positive)
    severity: Severity = attrs.field(default=Severity.ERROR, converter=Severity)
    #: A stable kebab-case identifier of the kind of problem, for filtering.
    code: str | None = None
    #: The offending line, shown under the message.
    line_text: str | None = attrs.field(default=None, repr=False)
    #: 1-based column where the offending text starts, for a ``~~~^`` marker.
    span_start: int | None = attrs.field(default=None, repr=False)

    def __str__(self) -> str:
        return render_position(
            message=self.message, label=self.severity.value, **_position_of(self)
        )

    def to_error(self) -> ParseError:
        """Return the same information as a :class:`ParseError`, for raising mode."""
        return ParseError(self.message, code=self.code, **_position_of(self))

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready mapping; the line text is left out."""
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "source": self.source,
            "line": self.line,
            "column": self.column,
        }


class ProblemCollector:
    """The one place that decides whether a problem is raised or recorded.

    Readers report every problem here. In ``"raise"`` mode the first problem of
    :attr:`Severity.ERROR` raises :class:`ParseError`; warnings and information are
    always recorded, since they never mean that something was lost.

    >>> collector = ProblemCollector("collect")
    >>> collector.report(Problem(message="bad row", source="x.log", line=3))
    >>> [str(problem) for problem in collector.problems]
    ['x.log:3: error: bad row']
    >>> ProblemCollector("raise").report(Problem(message="bad row", source="x.log", line=3))
    Traceback (most recent call last):
    ...
    exchange_tls.errors.ParseError: x.log:3: bad row
    """

    __slots__ = ("_problems", "errors")

    def __init__(self, errors: ErrorMode = "collect") -> None:
        if errors not in ("raise", "collect"):
            raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
        self.errors: ErrorMode = errors
        self._problems: list[Problem] = []

    def report(self, problem: Problem) -> None:
        """Record ``problem``, or raise it when it is an error in raising mode."""
        if self.errors == "raise" and problem.severity is Severity.ERROR:
            raise problem.to_error()
        self._problems.append(problem)

    def extend(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        """Report several problems in order."""
        for problem in problems:
            self.report(problem)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Everything recorded so far, in the order reported."""
        return tuple(self._problems)
