import contextlib
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import ParseError
from exchange_tls.errors import ProblemCollector
from exchange_tls.powershell.format_clixml import MAX_DEPTH, read_clixml
from exchange_tls.powershell.reader import detect_format, read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_bool, as_int, as_texts, split_collection
from exchange_tls.sources import read_source

DATA = Path(__file__).parent / "data"
CLIXML_FILES = sorted((DATA / "corpus").glob("*/*.xml"))


def records(text: str, format: str = "auto") -> tuple[str, list[PSObject], list[str]]:
    """Read text and return the format, the records and the problem codes."""
    used, found, problems = read_records(text.split("\n"), source="t", format=format)  # type: ignore[arg-type]
    return used, found, [str(problem.code) for problem in problems]


# -- Format-List ------------------------------------------------------------------------


def test_format_list_splits_records_where_a_name_repeats() -> None:
    """A repeated property name starts a new record, with or without blank lines."""
    used, found, _ = records("A : 1\nB : 2\n\n\nA : 3\nB :\nA : 5")
    assert used == "list"
    assert [[(p.name, p.value) for p in r.properties] for r in found] == [
        [("A", "1"), ("B", "2")],
        [("A", "3"), ("B", "")],
        [("A", "5")],
    ]
    assert [r.source.line for r in found] == [1, 5, 7]


def test_format_list_joins_wrapped_values() -> None:
    """Indented and unindented continuation lines join the value with a space."""
    text = (
        "AccessRules        : {System.Rule,\n"
        "                        System.Rule}\n"
        "LastError          : [{LRT=};{LED=451 4.4.0 Primary target IP address responded\n"
        "\n"
        "Status : x};{FQDN=}]\n"
        "Status             : Retry"
    )
    _, [record], _ = records(text)
    assert record.value_of("AccessRules") == "{System.Rule, System.Rule}"
    assert record.value_of("LastError") == (
        "[{LRT=};{LED=451 4.4.0 Primary target IP address responded Status : x};{FQDN=}]"
    )
    assert record.value_of("Status") == "Retry"


def test_format_list_reports_lines_before_the_first_property() -> None:
    """Text before the first property is reported, never silently dropped."""
    _, found, codes = records("...\nA : 1")
    assert len(found) == 1
    assert codes == ["not-a-property"]


# -- Format-Table -----------------------------------------------------------------------

CERT_TABLE = (
    DATA
    / "certificates"
    / "lab-script-comment_ex2016-19_get-exchangecertificate_table_annotated.txt"
)


def test_real_certificate_table_reads_four_rows() -> None:
    """The annotated lab table gives four rows and reports the '*' marker."""
    decoded = read_source(CERT_TABLE)
    used, found, problems = read_records(decoded.lines, source="t")
    assert used == "table"
    assert [r.value_of("Services") for r in found] == ["...WS..", "IP.WS..", "....S..", "......."]
    assert found[1].value_of("Thumbprint") == "C07B19E88671134C4C4A38D72F0A587974CE137D"
    assert found[2].value_of("Subject") == "CN=Microsoft Exchange Server Auth Certificate"
    assert [problem.code for problem in problems] == ["outside-columns"]


def test_table_marks_truncated_cells() -> None:
    """A cell ending in '...' or '…' is marked truncated and its dots removed."""
    _, found, _ = records("Name  Subject\n----  -------\nx     CN=webmail.ex...\ny     CN=a\u2026")
    assert [(r.get("Subject").value, r.get("Subject").truncated) for r in found] == [  # type: ignore[union-attr]
        ("CN=webmail.ex", True),
        ("CN=a", True),
    ]


def test_table_continuation_rows_join_the_row_above() -> None:
    """With -Wrap, a row whose first cell is empty continues the row above."""
    _, found, _ = records("Name Subject\n---- -------\nx    CN=a,\n     OU=b\ny    CN=c")
    assert [r.value_of("Subject") for r in found] == ["CN=a, OU=b", "CN=c"]


def test_two_tables_in_one_text() -> None:
    """A second header block starts a second table with its own columns."""
    text = "A B\n- -\n1 2\n\nC\n-\n3"
    _, found, _ = records(text)
    assert [[(p.name, p.value) for p in r.properties] for r in found] == [
        [("A", "1"), ("B", "2")],
        [("C", "3")],
    ]


# -- Export-Csv -------------------------------------------------------------------------


def test_csv_with_type_line_and_a_bad_row() -> None:
    """#TYPE gives the type name; a row of the wrong width is reported, not padded."""
    text = '#TYPE Deserialized.X\n"A","B"\n"1","2"\n"3"\n"5","6"'
    used, found, codes = records(text)
    assert used == "csv"
    assert [r.value_of("A") for r in found] == ["1", "5"]
    assert found[0].type_names == ("Deserialized.X",)
    assert codes == ["field-count"]
    assert [r.source.line for r in found] == [3, 5]


def test_csv_values_may_span_lines() -> None:
    """A quoted value with a line break stays one value; the next row's line is right."""
    _, found, _ = records('"A","B"\n"x\ny","2"\n"3","4"')
    assert found[0].value_of("A") == "x\ny"
    assert found[1].source.line == 4


# -- ConvertTo-Json ---------------------------------------------------------------------


def test_json_array_gives_one_record_per_object_with_lines() -> None:
    """Each object of a JSON array is a record at the line where it starts."""
    text = '[\n  {"A": 1, "B": [1, 2]},\n  {"A": {"value": "x"}}\n]'
    used, found, _ = records(text)
    assert used == "json"
    assert [r.source.line for r in found] == [2, 3]
    assert found[0].value_of("B") == (1, 2)
    nested = found[1].value_of("A")
    assert isinstance(nested, PSObject)
    assert nested.value_of("value") == "x"


def test_invalid_json_is_reported_at_its_position() -> None:
    """Broken JSON is a problem with line and column; objects before it are kept."""
    text = '[\n  {"A": 1},\n  {"A": 2,,}\n]'
    _, found, problems = read_records(text.split("\n"), source="t.json", format="json")
    assert len(found) == 1
    [problem] = problems
    assert (problem.line, problem.column, problem.code) == (3, 11, "json-error")


def test_deeply_nested_json_is_refused_cleanly() -> None:
    """JSON nested beyond the interpreter's limits is a problem, not a crash."""
    text = '{"A": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _, found, codes = records(text)
    assert found == []
    assert codes == ["json-depth"]


# -- Export-Clixml ----------------------------------------------------------------------


@pytest.mark.parametrize("path", CLIXML_FILES, ids=lambda path: path.name[:60])
def test_real_clixml_files_read_without_problems(path: Path) -> None:
    """Every CSS-Exchange CLIXML file reads into records with no problem."""
    decoded = read_source(path)
    used, found, problems = read_records(decoded.lines, source=path.name)
    assert used == "clixml"
    assert found
    assert problems == ()
    assert all(record.type_names for record in found)


def test_clixml_send_connector_values_are_typed() -> None:
    """CLIXML gives booleans, integers, enums with names, and lists."""
    decoded = read_source(
        DATA / "corpus/other/css-exchange_healthchecker-datacollection_GetSendConnector_clixml.xml"
    )
    _, [connector], _ = read_records(decoded.lines, source="c")
    assert connector.value_of("Name") == "Mail to O365"
    assert connector.value_of("Port") == 25
    assert connector.value_of("RequireTLS") is False
    level = connector.value_of("ProtocolLoggingLevel")
    assert isinstance(level, PSObject)
    assert (level.to_string, level.value) == ("None", 0)
    assert as_texts(connector.value_of("SmartHosts")) == (
        "microsoft-com.mail.protection.outlook.com",
    )
    assert as_texts(connector.value_of("AddressSpaces")) == ("SMTP:*;1",)
    assert connector.value_of("TlsDomain") is None


def test_clixml_certificates_carry_raw_data_bytes() -> None:
    """Remote-session certificates carry RawData as bytes of DER."""
    decoded = read_source(
        DATA
        / "corpus/certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml"
    )
    _, found, _ = read_records(decoded.lines, source="c")
    raw = found[0].value_of("RawData")
    assert isinstance(raw, bytes)
    assert raw[:1] == b"\x30"  # a DER SEQUENCE


def test_billion_laughs_is_refused() -> None:
    """Entity declarations are refused, not expanded."""
    text = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04"><S>&lol2;</S></Objs>'
    )
    collector = ProblemCollector()
    assert read_clixml(text, source="x", collector=collector) == []
    assert [problem.code for problem in collector.problems] == ["xml-unsafe"]


def test_deep_clixml_nesting_is_refused() -> None:
    """Nesting beyond MAX_DEPTH is a problem at the line where it went too deep."""
    text = (
        '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + "<Obj>" * (MAX_DEPTH + 10)
        + "</Obj>" * (MAX_DEPTH + 10)
        + "</Objs>"
    )
    collector = ProblemCollector()
    read_clixml(text, source="x", collector=collector)
    assert [problem.code for problem in collector.problems] == ["xml-depth"]


def test_malformed_clixml_is_reported_at_its_position() -> None:
    """Broken XML is a problem with the parser's line and column."""
    text = '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04">\n<Obj>\n</Objs>'
    collector = ProblemCollector()
    read_clixml(text, source="x", collector=collector)
    [problem] = collector.problems
    assert (problem.line, problem.code) == (3, "xml-error")


def test_clixml_escapes_and_refs() -> None:
    """_xHHHH_ escapes are undone and <Ref> resolves to the earlier object."""
    text = (
        '<Objs xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0">'
        '<Props><S N="A">line1_x000D__x000A_line2</S>'
        '<Obj N="B" RefId="1"><ToString>b</ToString></Obj><Ref N="C" RefId="1" />'
        '<DT N="D">2017-10-07T04:47:56.1234567Z</DT><TS N="E">PT10M</TS></Props></Obj></Objs>'
    )
    [record] = read_clixml(text, source="x", collector=ProblemCollector())
    assert record.value_of("A") == "line1\r\nline2"
    assert record.value_of("C") is record.value_of("B")
    assert record.value_of("D") == dt.datetime(
        2017, 10, 7, 4, 47, 56, 123456, tzinfo=dt.timezone.utc
    )
    assert record.value_of("E") == dt.timedelta(minutes=10)


# -- detection and values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Identity : x", "list"),
        ("A  B\n-- --\n1  2", "table"),
        ('"A","B"\n"1","2"', "csv"),
        ("#TYPE X\nA,B", "csv"),
        ('[\n  {"A": 1}\n]', "json"),
        ('{"A": 1}', "json"),
        (
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">',
            "clixml",
        ),
        ("[{LRT=};{LED=x}]", None),
        ("prose", None),
    ],
)
def test_format_detection(text: str, expected: str | None) -> None:
    """Each format is recognised from its first lines; LastError text is not JSON."""
    assert detect_format(text.split("\n")) == expected


def test_explicit_format_is_checked() -> None:
    """An unknown format name is a ValueError."""
    with pytest.raises(ValueError, match="format must be one of"):
        read_records(["A : 1"], source="t", format="yaml")  # type: ignore[arg-type]


def test_unrecognised_text_raises_parse_error() -> None:
    """Text in no known format raises ParseError at its first non-blank line."""
    with pytest.raises(ParseError) as caught:
        read_records(["", "prose"], source="t")
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("text", "items", "cut"),
    [
        ("{a, b}", ("a", "b"), False),
        ("{}", (), False),
        ("{a, b, c, d...}", ("a", "b", "c", "d"), True),
        ("x", ("x",), False),
    ],
)
def test_split_collection(text: str, items: tuple[str, ...], cut: bool) -> None:
    """Format-List collections split on commas and say when they were cut."""
    assert split_collection(text) == (items, cut)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("True", True), ("$false", False), ("0", False), ("maybe", None), (None, None), (True, True)],
)
def test_as_bool(value: object, expected: bool | None) -> None:
    """Booleans come from True/False, $true/$false, 1/0 or typed values."""
    assert as_bool(value) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", 42), ("1,024", 1024), (7, 7), ("x", None), (True, None), ("", None)],
)
def test_as_int(value: object, expected: int | None) -> None:
    """Integers come from digits (with group separators) or typed values, never from bools."""
    assert as_int(value) == expected  # type: ignore[arg-type]


# -- round trips ------------------------------------------------------------------------

names = st.from_regex(r"[A-Z][A-Za-z]{0,15}", fullmatch=True)
values = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="[]{}"),
    max_size=30,
)
record_sets = st.lists(
    st.dictionaries(names, values, min_size=1, max_size=6), min_size=1, max_size=5
).map(
    lambda rows: [
        dict(zip(list(rows[0]), row.values(), strict=False))
        for row in rows
        if len(row) == len(rows[0])
    ]
)


def _render_list(rows: list[dict[str, str]]) -> str:
    width = max(len(name) for row in rows for name in row)
    return "\n\n".join(
        "\n".join(f"{name.ljust(width)} : {value}".rstrip() for name, value in row.items())
        for row in rows
    )


@given(record_sets)
def test_format_list_round_trip(rows: list[dict[str, str]]) -> None:
    """Records rendered as Format-List read back to the same names and values."""
    _, found, _ = records(_render_list(rows), "list")
    assert [{p.name: p.value for p in r.properties} for r in found] == rows


@given(record_sets)
def test_csv_round_trip(rows: list[dict[str, str]]) -> None:
    """Records written by csv.writer (as Export-Csv quotes them) read back the same."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(list(rows[0]))
    writer.writerows([list(row.values()) for row in rows])
    _, found, _ = records(buffer.getvalue(), "csv")
    assert [{p.name: p.value for p in r.properties} for r in found] == rows


@given(record_sets)
def test_json_round_trip(rows: list[dict[str, str]]) -> None:
    """Records written by json.dumps read back the same."""
    _, found, _ = records(json.dumps(rows, indent=4), "json")
    assert [{p.name: p.value for p in r.properties} for r in found] == rows


@given(st.text(max_size=400), st.sampled_from(["auto", "list", "table", "csv", "json", "clixml"]))
def test_any_text_gives_records_problems_or_parse_error(text: str, format_name: str) -> None:
    """Arbitrary text in any format yields records and problems, or ParseError."""
    with contextlib.suppress(ParseError):
        records(text, format_name)


def test_flag_strings_ending_in_dots_are_not_truncation() -> None:
    """'IP.W...' fills no column edge, so its dots are data, not a cut."""
    text = "Thumbprint Services   Subject\n---------- --------   -------\nAB         IP.W...    CN=x..."
    _, [record], _ = records(text)
    services, subject = record.get("Services"), record.get("Subject")
    assert services is not None
    assert subject is not None
    assert (services.value, services.truncated) == ("IP.W...", False)
    assert (subject.value, subject.truncated) == ("CN=x", True)
