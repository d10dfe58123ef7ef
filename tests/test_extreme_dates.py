"""Issue 25 item 5: evidence at the ends of the calendar reads and diagnoses without a crash.

.NET writes ``0001-01-01T00:00:00`` for an empty date and certificates are issued valid to
``9999-12-31``: every ``moment ± duration`` goes through :func:`exchange_tls.moments.shift`,
which saturates instead of raising ``OverflowError``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import load_evidence, parse_events, parse_manifest, parse_protocol_log
from exchange_tls.moments import EARLIEST, LATEST, shift, to_utc
from exchange_tls.protocol_log.sessions import SessionAssembler

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
