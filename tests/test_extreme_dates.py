"""Issue 25 item 5: evidence at the ends of the calendar reads and diagnoses without a crash.

.NET writes ``0001-01-01T00:00:00`` for an empty date and certificates are issued valid to
``9999-12-31``: every ``moment ± duration`` goes through :func:`exchange_tls.moments.shift`,
which saturates instead of raising ``OverflowError``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import (
    diagnose,
    load_evidence,
    parse_events,
    parse_manifest,
    parse_protocol_log,
)
from exchange_tls.moments import EARLIEST, LATEST, shift, to_utc
from exchange_tls.protocol_log.sessions import SessionAssembler
from exchange_tls.sources import read_source
from exchange_tls.views import markdown_report, summary, text_report

ROOT = Path(__file__).parent.parent

FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)
HEADER = "#Software: Microsoft Exchange Server\n#Log-type: SMTP Send Protocol Log\n" + FIELDS


def failing_sessions(stamp: str, count: int) -> str:
    """Return a send log of ``count`` sessions whose TLS fails, every row at ``stamp``."""
    rows = []
    for number in range(count):
        session = f"08D{number:013X}"
        prefix = f"{stamp},Internet Mail,{session}"
        ends = "10.0.0.5:40000,203.0.113.25:25"
        rows += [
            f"{prefix},0,{ends},+,,",
            f"{prefix},1,{ends},<,220 mx.fabrikam.example ready,",
            f"{prefix},2,{ends},*,,TLS negotiation failed with error SocketError",
            f"{prefix},3,{ends},-,,Local",
        ]
    return HEADER + "\n".join(rows) + "\n"


@given(
    moment=st.datetimes(timezones=st.just(dt.timezone.utc)),
    delta=st.timedeltas(),
)
def test_shift_saturates_and_never_raises(moment: dt.datetime, delta: dt.timedelta) -> None:
    """The shift is moment + delta when that exists, else the end of the calendar it passed."""
    moved = shift(moment, delta)
    assert EARLIEST <= moved <= LATEST
    try:
        exact = moment + delta
    except OverflowError:
        assert moved == (LATEST if delta > dt.timedelta(0) else EARLIEST)
    else:
        assert moved == exact


def test_to_utc_refuses_a_local_time_outside_the_calendar() -> None:
    """A local time at the calendar's end whose UTC moment is past it is None, not a crash."""
    east = dt.timezone(dt.timedelta(hours=5))
    assert to_utc(dt.datetime(1, 1, 1, tzinfo=east)) is None
    assert to_utc(dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5)))) is None


def test_the_idle_sweep_at_year_one_does_not_overflow() -> None:
    """4,096 rows at 0001-01-01 (.NET's empty date): the sweep's "latest minus one hour"."""
    log = parse_protocol_log(failing_sessions("0001-01-01T00:00:00.000Z", 1024))
    assembler = SessionAssembler()
    sessions = [*assembler.feed_all(log.rows), *assembler.close()]
    assert len(sessions) == 1024


@pytest.mark.parametrize("engine", ["careful", "columnar"])
@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"])
def test_load_evidence_reads_logs_at_the_ends_of_the_calendar(
    tmp_path: Path, engine: str, stamp: str
) -> None:
    """Both engines summarise every session at the calendar's ends."""
    if engine == "columnar":
        pytest.importorskip("pyarrow")
    (tmp_path / "SEND00010101-1.LOG").write_text(failing_sessions(stamp, 1024))
    evidence = load_evidence(tmp_path, engine=engine)  # type: ignore[arg-type]
    assert evidence.summary is not None
    assert evidence.summary.tls_failed == 1024
    # The Schannel join's "an hour before the first failure" overflowed at year 1.
    assert diagnose(evidence).findings


def test_an_event_time_whose_utc_moment_is_before_year_one_is_a_problem() -> None:
    """TimeCreated 0001-01-01T00:00:00+05:00 is reported, not an OverflowError."""
    xml = (
        '<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">'
        "<System><Provider Name='Schannel'/><EventID>36874</EventID>"
        "<TimeCreated SystemTime='0001-01-01T00:00:00+05:00'/></System></Event></Events>"
    )
    result = parse_events(xml, source="events.xml")
    [event] = result
    assert event.time is None
    assert "bad-event-time" in {problem.code for problem in result.problems}


def test_a_manifest_time_whose_utc_moment_is_past_9999_is_left_unknown() -> None:
    """A collector manifest written at 9999-12-31T23:00-05:00 reads; its time is unknown."""
    text = (
        '{"ExchangeTlsEvidence": 1, "Server": "EX01", "Fqdn": "ex01.contoso.com", '
        '"CollectedUtc": "9999-12-31T23:00:00-05:00", "Days": 2, "Files": []}'
    )
    result = parse_manifest(text, source="manifest.json")
    [manifest] = result
    assert manifest.collected is None
    assert "manifest-time" in {problem.code for problem in result.problems}


# -- every rule, on each example moved to the ends of the calendar -----------------------------

ISO = re.compile(r"(?<![\d.])(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?Z")
US = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d\d):(\d\d) ([AP]M)")
#: The examples that carry dates (the registry-only ones have none to move).
EXAMPLES = sorted(
    path
    for path in (ROOT / "examples").iterdir()
    if (path / "EXPECTED.md").exists()
    and any(
        ISO.search(text) or US.search(text)
        for text in (read_source(file).text for file in path.iterdir())
    )
)
UTC = dt.timezone.utc


def iso_moment(match: re.Match[str]) -> dt.datetime:
    """Return the moment of an ISO 8601 match."""
    fields = [int(part) for part in match.groups()[:6]]
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    return dt.datetime(*fields, micro, tzinfo=UTC)  # type: ignore[misc]


def us_moment(match: re.Match[str]) -> dt.datetime:
    """Return the moment of an en-US date match."""
    month, day, year, hour, minute, second = (int(part) for part in match.groups()[:6])
    hour = hour % 12 + (12 if match.group(7) == "PM" else 0)
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def move(text: str, delta: dt.timedelta) -> str:
    """Move every date of a text by ``delta``, held at the calendar's ends."""

    def iso(match: re.Match[str]) -> str:
        moment = shift(iso_moment(match), delta)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03}Z"

    def us(match: re.Match[str]) -> str:
        moment = shift(us_moment(match), delta)
        hour = moment.hour % 12 or 12
        half = "PM" if moment.hour >= 12 else "AM"
        return (
            f"{moment.month}/{moment.day}/{moment.year:04} "
            f"{hour}:{moment.minute:02}:{moment.second:02} {half}"
        )

    return US.sub(us, ISO.sub(iso, text))


def moved_example(example: Path, end: str, folder: Path) -> Path:
    """Copy an example with its log times moved to begin at year 1 or to end at 9999."""
    texts = {
        path.name: read_source(path).text
        for path in example.iterdir()
        if path.name not in {"README.md", "EXPECTED.md"}
    }
    times = [iso_moment(match) for text in texts.values() for match in ISO.finditer(text)]
    times = times or [us_moment(m) for text in texts.values() for m in US.finditer(text)]
    if end == "year 1":
        delta = EARLIEST - min(times)
    else:
        delta = LATEST.replace(microsecond=999_000) - max(times)
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(move(text, delta), encoding="utf-8")
    return folder


@pytest.mark.parametrize("end", ["year 1", "year 9999"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_every_rule_runs_on_evidence_moved_to_the_ends_of_the_calendar(
    tmp_path: Path, example: Path, end: str
) -> None:
    """Both engines, diagnose (every rule), the summary and the reports: no crash."""
    folder = moved_example(example, end, tmp_path / example.name)
    for engine in ("careful", "columnar"):
        evidence = load_evidence(folder, date_order="MDY", engine=engine)  # type: ignore[arg-type]
        diagnosis = diagnose(evidence)
        assert text_report(diagnosis)
        assert markdown_report(diagnosis)
        assert diagnosis.to_json()
        assert diagnosis.to_script()
        assert diagnosis.to_html(evidence)
        assert str(summary(load_evidence(folder, date_order="MDY", keep_sessions=True)))


def test_a_certificate_valid_to_9999_is_judged_against_logs_of_9999(tmp_path: Path) -> None:
    """Logs of 9999-12-20 and a certificate valid to 9999-12-31: it expires soon, no crash."""
    # Issue 25: the expiry rule's "now + 30 days" overflowed (exit 4).
    example = ROOT / "examples/healthy"
    for path in example.iterdir():
        text = read_source(path).text.replace("12/31/2025 11:59:59 PM", "12/31/9999 11:59:59 PM")
        text = text.replace("2024-06-01T", "9999-12-20T").replace("6/1/2024", "12/20/9999")
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    diagnosis = diagnose(load_evidence(tmp_path, date_order="MDY"))
    assert [finding.rule_id for finding in diagnosis.findings] == ["certificate-expiring-soon"]
