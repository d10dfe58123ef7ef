"""Issue 25: event XML with a DOCTYPE is refused as unsafe; duplicate JSON keys are heard."""

from __future__ import annotations

from pathlib import Path

from exchange_tls import load_evidence, parse_certificates, parse_events, parse_queues

NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
EVENT = (
    f'<Event xmlns="{NAMESPACE}"><System><Provider Name="Schannel"/><EventID>36874</EventID>'
    '<Level>2</Level><TimeCreated SystemTime="2024-06-01T10:00:00.000Z"/>'
    "<Computer>EX01.contoso.com</Computer></System><EventData><Data>&x;</Data></EventData>"
    "</Event>"
)
WITH_DOCTYPE = (
    f'<?xml version="1.0"?>\n<!DOCTYPE Events [ <!ENTITY x "boom"> ]>\n<Events>{EVENT}</Events>\n'
)


def test_event_xml_with_a_doctype_is_refused_as_unsafe() -> None:
    """The reader says why: unsafe XML, at the DOCTYPE's line; no event is read."""
    result = parse_events(WITH_DOCTYPE, source="events.xml")
    assert list(result) == []
    [problem] = result.problems
    assert (problem.code, problem.line) == ("xml-unsafe", 2)
    assert "unsafe XML" in problem.message


def test_load_evidence_leaves_unsafe_event_xml_out_with_the_reason(tmp_path: Path) -> None:
    """Not "could not tell what this file holds": the file is listed with "unsafe XML"."""
    (tmp_path / "events.xml").write_text(WITH_DOCTYPE)
    evidence = load_evidence(tmp_path)
    [file] = evidence.files
    assert file.note is not None
    assert "refused unsafe XML" in file.note
    assert "could not tell" not in file.note
    assert "xml-unsafe" in {problem.code for problem in evidence.problems}


def test_a_doctype_without_entities_is_refused_in_clixml_too() -> None:
    """PowerShell never writes a DOCTYPE; Export-Clixml with one is refused the same way."""
    clixml = (
        '<?xml version="1.0"?><!DOCTYPE Objs>'
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj RefId="0"><Props><S N="Thumbprint">' + "A" * 40 + "</S></Props></Obj></Objs>"
    )
    result = parse_certificates(clixml, source="certs.xml")
    assert list(result) == []
    assert "xml-unsafe" in {problem.code for problem in result.problems}


DUPLICATED = """[
  {
    "Identity": "EX01\\\\9",
    "Status": "Retry",
    "LastError": "451 4.4.0 DNS query failed",
    "NextHopDomain": "contoso.com",
    "Status": "Ready",
    "LastError": "421 4.4.1 Connection timed out"
  }
]
"""


def test_a_duplicate_json_key_is_a_warning_naming_the_key_and_where() -> None:
    """Status Retry then Ready, LastError 451 then 421: each named, at its line."""
    result = parse_queues(DUPLICATED, source="get-queue.json")
    [queue] = result
    problems = [p for p in result.problems if p.code == "json-duplicate-key"]
    assert [(p.line, p.severity.value) for p in problems] == [(7, "warning"), (8, "warning")]
    assert "'Status'" in problems[0].message
    assert '"Retry", then "Ready"' in problems[0].message
    assert "'LastError'" in problems[1].message
    assert queue.last_error is not None
    assert queue.last_error.raw == "421 4.4.1 Connection timed out"


def test_objects_without_duplicates_say_nothing() -> None:
    """Distinct keys in many objects: no duplicate-key problem."""
    text = "[" + ",".join(f'{{"Identity": "EX01\\\\{n}", "Status": "Ready"}}' for n in range(50))
    result = parse_queues(text + "]", source="q.json")
    assert len(result) == 50
    assert "json-duplicate-key" not in {problem.code for problem in result.problems}
