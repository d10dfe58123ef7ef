"""Issue 25 item 9: the held-out real paste shapes are read, damage reported, not refused."""

from __future__ import annotations

from pathlib import Path

from exchange_tls import load_evidence, read_certificates, read_queues
from exchange_tls.queues import QueueStatus

DATA = Path(__file__).parent / "data"
MASKED_TABLE = (
    DATA
    / "certificates"
    / "msqa-1434788_ex2019_get-exchangecertificate_table_blanklines_no-dash-row_masked-thumbprints.txt"
)
DAMAGED_QUEUE = (
    DATA / "queues" / "cn-blog-17388217_ex2013_get-queue_fl_damaged-keys_lri-led-markers.txt"
)
LIST_THEN_TABLE = (
    DATA / "constructed" / "pastes" / "certificate-fl-then-table_masked-thumbprints.txt"
)


def test_a_table_with_blank_lines_no_dash_row_and_masked_thumbprints_is_read() -> None:
    """Microsoft Q&A 1434788: four certificates, thumbprints kept as written, one problem each."""
    result = read_certificates(MASKED_TABLE)
    assert [c.thumbprint for c in result] == [
        "8490765C4C47D81***E2F46BEBB98EF9084A3B",
        "D5EFF683AD986C988***24C107EEDCA3B484E799",
        "F960DCC7F5BEB003****563638FD85BC40D855E8",
        "C4D2E9EBA63795484***C1660EBCBB307E987EBC",
    ]
    # The first row does not line up with the header (its thumbprint lost two
    # characters to the mask); its cells are still its own.
    first = result[0]
    assert str(first.services) == "IMAP, IIS, SMTP"
    assert first.subject == "CN=.ourdomain.com, O=LLC Company, L=NY, S"
    assert first.subject_truncated
    damaged = [p for p in result.problems if p.code == "damaged-thumbprint"]
    assert [p.line for p in damaged] == [5, 7, 9, 11]
    assert {p.code for p in result.problems} >= {"prompt-line", "table-without-dashes"}


def test_a_format_list_block_then_a_table_keeps_not_after_and_status() -> None:
    """The block's NotAfter and Status are kept; the table after it is read as a table."""
    result = read_certificates(LIST_THEN_TABLE, date_order="DMY")
    listed, *table = result
    assert listed.thumbprint == "3DAF40EC85C62DD39D98696AB5413E3EB83D6415"
    assert listed.not_after is not None
    assert listed.not_after.year == 2028
    assert listed.status is not None
    assert listed.status.value == "Valid"
    assert [c.subject for c in table] == [
        "CN=.ourdomain.com, O=LLC Company, L=NY, S",
        "CN=Microsoft Exchange Server Auth Certificate",
        "CN=mail",
        "CN=WMSvc-SHA2-MAIL",
    ]


def test_a_format_list_with_damaged_keys_keeps_status_and_reply() -> None:
    """A Chinese blog's Get-Queue: "Status:   :" and <LRI-…>/<led-451 …> are read, and said."""
    result = read_queues(DAMAGED_QUEUE)
    [queue] = result
    assert queue.status is QueueStatus.RETRY
    assert queue.last_error is not None
    reply = queue.last_error.reply
    assert reply is not None
    assert [(r.code, str(r.enhanced)) for r in reply.chain] == [(451, "4.4.0"), (454, "4.7.0")]
    assert queue.last_error.fqdn == "M10-SD-MLCH07.sd.cnc.intra"
    assert queue.last_error.last_retry_text == "2019/11/4 13:31:03"
    codes = {problem.code for problem in result.problems}
    assert {"damaged-name", "damaged-keys"} <= codes


def test_the_pastes_reach_the_diagnosis_through_load_evidence(tmp_path: Path) -> None:
    """Each paste, given as a file, is read as its kind, not left out."""
    for path in (MASKED_TABLE, DAMAGED_QUEUE, LIST_THEN_TABLE):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    evidence = load_evidence(tmp_path, date_order="DMY")
    assert len(evidence.queues) == 1
    assert len(evidence.certificates) >= 5
    assert not [file for file in evidence.files if file.note is not None]


TRANSLATED = DATA / "constructed" / "pastes" / "kb4051498_send-log_machine-translated-fr.txt"


def test_a_log_from_a_machine_translated_article_says_what_survives(tmp_path: Path) -> None:
    """Not "could not tell what this file holds": the error word, codes and endpoints."""
    (tmp_path / TRANSLATED.name).write_bytes(TRANSLATED.read_bytes())
    evidence = load_evidence(tmp_path)
    [problem] = [p for p in evidence.problems if p.code == "translated-log"]
    message = problem.message
    assert "machine-translated web page" in message
    assert "not a log Exchange wrote" in message
    assert "UnknownCredentials" in message
    assert "not enabled for SMTP" in message
    assert "220 2.0.0" in message
    assert "216.32.181.234:25" in message
    assert "could not tell" not in message
    [file] = evidence.files
    assert file.note == message


def test_a_log_exchange_wrote_is_not_taken_for_a_translation() -> None:
    """Intact timestamps are a log, never a translation."""
    from exchange_tls.translated_log import describe_translated_log

    row = "2017-10-07T04:42:56.804Z,Outbound,08D5,21,10.0.0.1:1,10.0.0.2:25,*,,x"
    assert describe_translated_log(row) is None
