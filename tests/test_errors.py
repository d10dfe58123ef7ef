import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import ParseError, Problem, Severity
from exchange_tls.errors import ExchangeTlsError, ProblemCollector

KB_ROW = "2017-10-07T04:42:56.804Z,Outbound to Office 365,08D50D3D9730A8D2,x,,,*,,"


def test_parse_error_renders_position_line_and_caret() -> None:
    """A ParseError prints source:line:column: message, the line, and a caret."""
    error = ParseError(
        "expected a sequence number",
        source="SEND20171007-1.LOG",
        line=3,
        column=67,
        line_text=KB_ROW,
    )
    assert str(error) == (
        "SEND20171007-1.LOG:3:67: expected a sequence number\n"
        "    2017-10-07T04:42:56.804Z,Outbound to Office 365,08D50D3D9730A8D2,x,,,*,,\n"
        "                                                                      ^"
    )


def test_caret_sits_under_the_named_column() -> None:
    """The caret is under the character the 1-based column names."""
    error = ParseError("here", source="s", line=1, column=5, line_text="abcdefgh")
    shown, marker = str(error).splitlines()[1:]
    assert shown[marker.index("^")] == "e"


def test_span_start_draws_tildes_up_to_the_caret() -> None:
    """A span renders as tildes from its start, ending in the caret."""
    error = ParseError(
        "unknown event", source="s", line=2, column=9, span_start=6, line_text="a,b,c,ZZZZ,d"
    )
    assert str(error).splitlines()[2] == "         ~~~^"


def test_caret_copies_tabs_so_it_stays_aligned() -> None:
    """Tabs before the column are copied into the marker line."""
    error = ParseError("bad", source="s", line=1, column=3, line_text="\t\tX")
    assert str(error).splitlines()[2] == "    \t\t^"


def test_heading_leaves_out_unknown_parts() -> None:
    """Without a column, or without a line, the heading says only what is known."""
    assert str(ParseError("m", source="s", line=4)) == "s:4: m"
    assert str(ParseError("m", source="s")) == "s: m"
    assert str(ParseError("m", source="s", line=4, line_text="row")) == "s:4: m\n    row"


def test_long_line_is_shown_as_a_window_around_the_column() -> None:
    """A very long line is cut to a window with ellipses, and the caret follows it."""
    line_text = "a" * 5000 + "X" + "b" * 5000
    rendered = str(ParseError("here", source="s", line=1, column=5001, line_text=line_text))
    _, shown, marker = rendered.splitlines()
    assert len(shown) < 200
    assert shown.startswith("    …")
    assert shown.endswith("…")
    assert shown[marker.index("^")] == "X"


def test_control_characters_are_not_sent_to_the_terminal() -> None:
    """Control characters in the offending line are shown as U+FFFD."""
    error = ParseError("bad", source="s", line=1, column=2, line_text="a\x1b[2Jb\x00")
    assert "\x1b" not in str(error)
    assert "\x00" not in str(error)


def test_parse_error_is_a_value_error_and_the_library_base() -> None:
    """ParseError is both a ValueError and an ExchangeTlsError."""
    error = ParseError("m", source="s")
    assert isinstance(error, ValueError)
    assert isinstance(error, ExchangeTlsError)


def test_parse_error_survives_pickling() -> None:
    """A ParseError keeps its position across a process boundary."""
    error = ParseError("m", source="s", line=2, column=3, line_text="abc", code="bad-row")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 -- our own object, round-tripped
    assert str(copy) == str(error)
    assert copy.code == "bad-row"


def test_problem_and_parse_error_convert_both_ways() -> None:
    """A Problem becomes a ParseError with the same position, and back."""
    problem = Problem(
        message="bad row",
        source="x.log",
        line=3,
        column=2,
        line_text="abc",
        code="bad-row",
    )
    error = problem.to_error()
    assert (error.source, error.line, error.column, error.code) == ("x.log", 3, 2, "bad-row")
    assert error.to_problem() == problem


def test_problem_renders_its_severity() -> None:
    """A Problem prints like a ParseError with the severity before the message."""
    problem = Problem(message="m", source="s", line=1, severity="info")
    assert str(problem) == "s:1: info: m"


def test_problem_to_dict_is_json_ready() -> None:
    """to_dict gives plain values, without the line text."""
    problem = Problem(message="m", source="s", line=1, column=2, line_text="x", code="c")
    assert problem.to_dict() == {
        "severity": "error",
        "code": "c",
        "message": "m",
        "source": "s",
        "line": 1,
        "column": 2,
    }


@pytest.mark.parametrize("field", ["line", "column"])
def test_problem_positions_are_one_based(field: str) -> None:
    """A line or column of 0 is refused: positions are 1-based."""
    with pytest.raises(ValueError, match="1-based"):
        Problem(message="m", source="s", **{field: 0})


def test_problem_is_immutable() -> None:
    """Problems are frozen values."""
    problem = Problem(message="m", source="s")
    with pytest.raises(AttributeError):
        problem.message = "other"  # type: ignore[misc]


def test_collector_raises_first_error_in_raise_mode() -> None:
    """In raise mode an error raises, while warnings and info are recorded."""
    collector = ProblemCollector("raise")
    collector.report(Problem(message="w", source="s", severity=Severity.WARNING))
    collector.report(Problem(message="i", source="s", severity=Severity.INFO))
    with pytest.raises(ParseError, match="e"):
        collector.report(Problem(message="e", source="s", line=1))
    assert [problem.message for problem in collector.problems] == ["w", "i"]


def test_collector_records_everything_in_collect_mode() -> None:
    """In collect mode every problem is kept, in order."""
    collector = ProblemCollector()
    collector.extend([Problem(message=str(n), source="s") for n in range(3)])
    assert [problem.message for problem in collector.problems] == ["0", "1", "2"]


def test_collector_refuses_an_unknown_mode() -> None:
    """An error mode other than raise or collect is a ValueError."""
    with pytest.raises(ValueError, match="errors must be"):
        ProblemCollector("ignore")  # type: ignore[arg-type]


@given(
    line_text=st.text(max_size=300),
    column=st.integers(min_value=1, max_value=400),
    span=st.integers(min_value=0, max_value=50),
)
def test_rendering_never_fails_and_marks_one_caret(line_text: str, column: int, span: int) -> None:
    """Any line and column render to three lines with exactly one caret at the end."""
    error = ParseError(
        "m",
        source="s",
        line=1,
        column=column,
        span_start=max(1, column - span),
        line_text=line_text.replace("\n", " ").replace("\r", " "),
    )
    lines = str(error).split("\n")
    assert len(lines) == 3
    assert lines[2].endswith("^")
    assert lines[2].count("^") == 1
