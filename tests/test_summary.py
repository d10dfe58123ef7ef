"""Session summaries: bounded, mergeable in any order, and diagnosed like the full sessions."""

from __future__ import annotations

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exchange_tls import Evidence, ProtocolLogRow, diagnose
from exchange_tls.pipeline import summarise_log, summarise_logs
from exchange_tls.protocol_log.models import Direction
from exchange_tls.protocol_log.reader import iter_protocol_rows
from exchange_tls.protocol_log.sessions import assemble_sessions
from exchange_tls.protocol_log.summary import SummaryBuilder, signature_of

HEADER = (
    "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Send Protocol Log\r\n#Date: 2024-06-01T00:00:00.000Z\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)
SUCCESS = (
    '"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm '
    "CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits "
    'and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)
OUTCOMES = [
    None,
    None,
    None,
    "UnknownCredentials",
    "IllegalMessage",
    "SocketError",
    "connect",
    "reply",
]


def session_rows(number: int, outcome: str | None, connector: str, host: int) -> list[str]:
    """Return the rows of one session: success, a TLS error, a failed connection or a 4xx."""
    if outcome == "connect":
        body = [
            "*,,attempting to connect",
            '*,,"Failed to connect. Winsock error code: 10060, Win32 error code: 10060."',
            "-,,Local",
        ]
    else:
        tls = (
            f"*,,{SUCCESS}"
            if outcome in (None, "reply")
            else f"*,,TLS negotiation failed with error {outcome}"
        )
        body = [
            "+,,",
            ">,EHLO mail.contoso.com,",
            "<,250-STARTTLS,",
            "<,250 SIZE,",
            ">,STARTTLS,",
            "<,220 2.0.0 Ready,",
            "*,,Sending certificate",
            "*,CN=mail.contoso.com,Certificate subject",
            f"*,{connector[0] * 40},Certificate thumbprint",
            tls,
        ]
        if outcome == "reply":
            body += [">,MAIL FROM:<a@contoso.com>,", "<,452 4.3.1 Insufficient system resources,"]
        body.append("-,,Local")
    minute, second = divmod(number, 60)
    return [
        f"2024-06-01T{minute // 60:02d}:{minute % 60:02d}:{second:02d}.{index:03d}Z,{connector},"
        f"{0x08DC000000000000 + number:016X},{index},10.0.0.1:2525,192.0.2.{host}:25,{row}"
        for index, row in enumerate(body)
    ]


def write_logs(folder: Path, sessions: int, files: int, seed: int) -> list[Path]:
    """Write ``sessions`` interleaved sessions over ``files`` rotated logs; some span two."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography
    rows: list[str] = []
    for number in range(sessions):
        rows += session_rows(
            number, rng.choice(OUTCOMES), rng.choice(["Out", "Relay"]), rng.randrange(1, 6)
        )
    rows.sort()
    paths = []
    size = -(-len(rows) // files)
    for index in range(files):
        path = folder / f"SEND20240601{index:02d}-1.LOG"
        path.write_text(HEADER + "\r\n".join(rows[index * size : (index + 1) * size]) + "\r\n")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Return six rotated logs of 300 sessions of every outcome."""
    return write_logs(tmp_path_factory.mktemp("logs"), sessions=300, files=6, seed=4051498)


def full_evidence(paths: list[Path]) -> Evidence:
    """Return the evidence with every session kept whole."""
    return Evidence(sessions=list(assemble_sessions(iter_protocol_rows(*paths))))


def summary_evidence(paths: list[Path]) -> Evidence:
    """Return the evidence of the merged summaries."""
    summary, _ = summarise_logs(paths)
    return Evidence(sessions=summary.sessions, summary=summary)


def outline(evidence: Evidence) -> list[tuple[object, ...]]:
    """Return what a diagnosis says, finding by finding: the cited places as a set."""
    diagnosis = diagnose(evidence)
    return [
        (
            finding.rule_id,
            finding.subject,
            finding.summary,
            finding.occurrences,
            finding.first_seen,
            finding.last_seen,
            frozenset(ref.source for ref in finding.evidence),
        )
        for finding in diagnosis.findings
    ] + [(diagnosis.verdict, diagnosis.coverage)]


def test_a_summary_keeps_few_sessions_and_counts_them_all(logs: list[Path]) -> None:
    """Ordinary sessions become tallies; unusual ones, two exemplars per signature."""
    summary, problems = summarise_logs(logs)
    full = full_evidence(logs).sessions
    assert problems == ()
    assert summary.send_sessions == len(full) == 300
    assert len(summary.sessions) < 60
    unusual_kept = sum(1 for s in summary.sessions if signature_of(s)[2] != "ok")
    occurrences = sum(found.count for _, found in summary.occurrences)
    tallied = sum(tally.sessions for tally in summary.tallies)
    assert unusual_kept + occurrences + tallied == 300


def test_sessions_spanning_rotated_files_assemble(logs: list[Path]) -> None:
    """A session split over two files is one session in the summary, as in the full read."""
    summary, _ = summarise_logs(logs)
    full = list(assemble_sessions(iter_protocol_rows(*logs)))
    assert sum(len(session.sources) > 1 for session in full) > 0
    assert summary.tls_failed == sum(1 for s in full if s.tls and s.tls.succeeded is False)
    assert summary.tls_succeeded == sum(1 for s in full if s.tls and s.tls.succeeded)


def test_the_summary_diagnoses_like_the_full_sessions(logs: list[Path]) -> None:
    """Same findings, words, counts, times, cited lines, verdict and coverage from the summary."""
    assert outline(summary_evidence(logs)) == outline(full_evidence(logs))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_split_and_merge_order_gives_the_same_summary(
    logs: list[Path], data: st.DataObject
) -> None:
    """Files summarised in any groups, merged in any order, give the same summary."""
    order = data.draw(st.permutations(range(len(logs))))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(logs) - 1), max_size=3)))
    groups = [
        [logs[i] for i in order[start:end]]
        for start, end in zip([0, *cuts], [*cuts, len(logs)], strict=True)
    ]
    merged = SummaryBuilder()
    for group in groups:
        part = SummaryBuilder()
        for path in group:
            part.merge(summarise_log(path).builder)
        merged = part.merge(merged) if data.draw(st.booleans()) else merged.merge(part)
    expected, _ = summarise_logs(logs)
    assert merged.freeze() == expected


def test_an_executor_gives_the_same_summary(logs: list[Path]) -> None:
    """Any concurrent.futures executor summarises the files to the same result."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert summarise_logs(logs, executor=pool) == summarise_logs(logs)


def test_a_process_pool_gives_the_same_summary(logs: list[Path]) -> None:
    """jobs=2 summarises the files in two processes, to the same result."""
    assert summarise_logs(logs, jobs=2) == summarise_logs(logs)


def test_a_dask_cluster_gives_the_same_diagnosis(logs: list[Path]) -> None:
    """A Dask LocalCluster of two worker processes summarises to the same Diagnosis JSON."""
    distributed = pytest.importorskip(
        "dask.distributed", reason="the 'dask' extra is not installed"
    )
    import dask

    # Worker processes import the package and its dependencies; on a busy 2-core machine
    # that outlasts Dask's default 30 s connect timeout, a failure of the machine, not of
    # the code under test.
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "180s"}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary, problems = summarise_logs(logs, executor=client.get_executor())
    local, local_problems = summarise_logs(logs)
    assert (summary, problems) == (local, local_problems)
    on_cluster = diagnose(Evidence(sessions=summary.sessions, summary=summary))
    here = diagnose(Evidence(sessions=local.sessions, summary=local))
    assert on_cluster.to_json() == here.to_json()


_ROWS = [
    ("+", "", ""),
    ("-", "", "Local"),
    (">", "EHLO mail.contoso.com", ""),
    ("<", "250-STARTTLS", ""),
    ("<", "250 SIZE", ""),
    (">", "STARTTLS", ""),
    ("<", "220 2.0.0 Ready", ""),
    ("<", "452 4.3.1 Insufficient system resources", ""),
    ("<", "550 5.7.1 Denied", ""),
    (">", "421 4.4.1 Not a reply on a send log", ""),
    ("*", "", "Sending certificate"),
    ("*", "", "Remote certificate"),
    ("*", "CN=mail.contoso.com", "Certificate subject"),
    ("*", "AB" * 20, "Certificate thumbprint"),
    ("*", "cd" * 20, "Certificate thumbprint"),
    ("*", "", "Certificate thumbprint"),
    ("*", "CN=x CN=y 01 " + "AB" * 20 + " 2024-01-01T00:00:00Z 2025-01-01T00:00:00Z", ""),
    ("*", "", SUCCESS.strip('"')),
    ("*", "", SUCCESS.strip('"').replace("TLS1_2", "TLS1_0")),
    ("*", "", "TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded, but said otherwise"),
    ("*", "", "TLS negotiation failed with error UnknownCredentials"),
    ("*", "", "Failed to connect. Winsock error code: 10060"),
    ("*", "", "Outbound Authentication failed with LogonDenied"),
    ("*", "", "sending message"),
]


_PLAIN = [0, 2, 3, 5, 6, 10, 12, 13, 17, 1]


def test_the_usual_successful_session_is_plain() -> None:
    """A session of connect, EHLO, STARTTLS, the certificate block and success is plain."""
    from exchange_tls.protocol_log.facts import plain_success
    from exchange_tls.protocol_log.models import Direction

    assert plain_success(_values(_PLAIN, "in order"), Direction.SEND) == ("AB" * 20, "TLS1_2")


def _values(picks: list[int], sequence: str) -> list[ProtocolLogRow]:
    """Return the rows of a session made of the rows ``picks`` names, as facts read them."""
    return list(_rows(picks, sequence))


@settings(max_examples=300, deadline=None)
@example(picks=_PLAIN, sequence="in order")
@example(picks=[7, 17], sequence="in order")  # an error reply as row 0
@given(
    picks=st.lists(st.integers(0, len(_ROWS) - 1), min_size=1, max_size=14),
    sequence=st.sampled_from(["in order", "from one", "none"]),
)
def test_a_plain_success_is_what_the_full_reading_finds(picks: list[int], sequence: str) -> None:
    """plain_success never calls a session plain that session_facts reads otherwise."""
    from exchange_tls.protocol_log.facts import plain_success
    from exchange_tls.protocol_log.models import Direction
    from exchange_tls.protocol_log.sessions import build_session, sequence_order

    rows = _rows(picks, sequence)
    values = sequence_order(rows)
    plain = plain_success(values, Direction.SEND)
    if plain is None:
        return
    session = build_session((Direction.SEND, "Out", "0A"), rows, ended=True)
    thumbprint, protocol = plain
    assert signature_of(session) == ("send", "out", "ok", protocol or "", thumbprint or "")


# Sessions of any rows of _ROWS, numbered in order, from one, or not at all.
_ANY_SESSION = given(
    picks=st.lists(st.integers(0, len(_ROWS) - 1), min_size=1, max_size=24),
    sequence=st.sampled_from(["in order", "from one", "none"]),
    direction=st.sampled_from(["send", "receive"]),
)


@settings(max_examples=500, deadline=None)
@example(picks=_PLAIN, sequence="in order", direction="send")
@example(picks=[10, 2, 12, 13, 17, 0], sequence="in order", direction="send")  # block broken
@example(picks=[10, 12, 13, 17], sequence="in order", direction="send")  # row 0 is information
@_ANY_SESSION
def test_plain_success_reads_columns_as_the_row_by_row_reading_does(
    picks: list[int], sequence: str, direction: str
) -> None:
    """Read once per shape, plain_success gives what reading each row in turn gives.

    The row-by-row reading is the first one, kept for the shapes the columns cannot
    settle (an information row without a context, no connect row).
    """
    from exchange_tls.protocol_log.facts import _plain_success_row_by_row, plain_success
    from exchange_tls.protocol_log.sessions import sequence_order

    rows = sequence_order(_rows(picks, sequence))
    way = Direction(direction)
    assert plain_success(rows, way) == _plain_success_row_by_row(rows, way)


@settings(max_examples=300, deadline=None)
@example(picks=_PLAIN, sequence="in order", direction="send")
@example(picks=[0, 2, 7, 3, 5, 6, 10, 12, 13, 17, 1], sequence="from one", direction="send")
@_ANY_SESSION
def test_plain_success_of_a_sessions_columns_is_plain_success_of_its_rows(
    picks: list[int], sequence: str, direction: str
) -> None:
    """Read from the columns ordered_columns gives, plain_success finds what it finds in rows.

    The summary reads a session's columns once, from one zip; the same rows in sequence
    order give the same verdict, thumbprint and protocol row by row.
    """
    from exchange_tls.protocol_log.facts import plain_success
    from exchange_tls.protocol_log.sessions import ordered_columns, sequence_order

    rows = _rows(picks, sequence)
    ordered, columns = ordered_columns(rows)
    way = Direction(direction)
    assert plain_success(ordered, way, columns) == plain_success(sequence_order(rows), way)


def _rows(picks: list[int], sequence: str) -> list:  # type: ignore[type-arg]
    """Return the rows of a send session made of the row templates ``picks`` names."""
    from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow

    moment = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)
    return [
        ProtocolLogRow.create(
            timestamp=moment + dt.timedelta(seconds=index),
            connector_id="Out",
            session_id="0A",
            sequence_number={"in order": index, "from one": index + 1, "none": None}[sequence],
            event=Event(_ROWS[pick][0]),
            data=_ROWS[pick][1],
            context=_ROWS[pick][2],
            line=index + 1,
            direction=Direction.SEND,
        )
        for index, pick in enumerate(picks)
    ]


def test_a_queue_whose_host_only_a_summary_counted_still_meets_its_tls_failure(
    tmp_path: Path,
) -> None:
    """A queue naming a host of a counted (not kept) failure is explained as with all sessions."""
    from exchange_tls import load_evidence

    rows = [
        row
        for number in range(5)
        for row in session_rows(number, "UnknownCredentials", "Out", host=number + 1)
    ]
    (tmp_path / "SEND2024060100-1.LOG").write_text(HEADER + "\r\n".join(rows) + "\r\n")
    (tmp_path / "get-queue.txt").write_text(
        "Identity : EX01\\7\nStatus : Retry\nNextHopDomain : fabrikam.example\n"
        'LastError : 451 4.4.0 Primary target IP address responded with: "421 4.2.1 Unable to '
        'connect." Attempted failover to alternate host, but that did not succeed. Either there '
        "are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint "
        "attempted was 192.0.2.3:25\n"
    )
    summarised = load_evidence(tmp_path)
    assert summarised.summary is not None
    assert "192.0.2.3" not in {s.remote_endpoint.host for s in summarised.sessions}  # type: ignore[union-attr]
    assert outline(summarised) == outline(load_evidence(tmp_path, keep_sessions=True))
    rule_ids = {finding.rule_id for finding in diagnose(summarised).findings}
    assert "connection-failure" not in rule_ids
    assert "unexplained-queue-error" not in rule_ids
