"""Issue 16, item 4: load_evidence recognises what users paste."""

from pathlib import Path

import attrs
import pytest

from exchange_tls import load_evidence, parse_protocol_log, parse_queues
from exchange_tls.sources import read_source

DATA = Path(__file__).parent / "data"
PASTES = DATA / "constructed" / "pastes"


def codes(problems: object) -> list[str]:
    """Return the codes of a sequence of problems."""
    return [problem.code for problem in problems]  # type: ignore[attr-defined]


def test_a_log_whose_first_character_was_lost_is_read_with_repairs() -> None:
    """A pasted log whose first row lost its first character: that row is reported, the rest read."""
    path = PASTES / "cn-blog_send-log_first-character-lost.log"
    evidence = load_evidence(path)
    rows = sum(len(session.rows) for session in evidence.sessions)
    assert rows == len(parse_protocol_log(read_source(path).text, pasted=True).rows)
    original = (
        DATA
        / "protocol-logs"
        / (
            "cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log"
        )
    )
    assert rows == sum(len(session.rows) for session in load_evidence(original).sessions) - 1
    assert "unclassified" not in codes(evidence.problems)
    assert "bad-timestamp" in codes(evidence.problems)


def test_rows_after_a_prompt_are_read_as_a_log(tmp_path: Path) -> None:
    """A prompt line before the rows of a real log leaves the rows readable."""
    original = (
        DATA / "protocol-logs" / "ms-kb4051498_send-log_unknowncredentials_blank-endpoints.log"
    )
    pasted = tmp_path / "pasted.txt"
    pasted.write_bytes(b"PS C:\\> Get-Content SEND20171007-1.LOG\n" + original.read_bytes())
    rows = sum(len(session.rows) for session in load_evidence(pasted).sessions)
    assert rows == sum(len(session.rows) for session in load_evidence(original).sessions)


def test_a_certificate_table_without_its_dash_row_is_read() -> None:
    """A table pasted with blank lines between rows and no dash row gives its certificates."""
    evidence = load_evidence(PASTES / "lab-script_certificate-table_no-dash-row_blank-lines.txt")
    assert [certificate.thumbprint for certificate in evidence.certificates] == [
        "B8FFF722AAF9E4CFA055581061F6020C70BAC8AF",
        "C07B19E88671134C4C4A38D72F0A587974CE137D",
        "4CE834243B37D27F29379287D3DED6294935EB2D",
        "EB68147037AA94700E07832B99A71CC6F6FAAD5A",
    ]
    assert evidence.certificates[1].subject == "CN=EX01"
    assert "table-without-dashes" in codes(evidence.problems)


def test_the_real_table_and_its_dashless_paste_agree() -> None:
    """The dashless paste reads as the real table with its dash row does."""
    real = load_evidence(
        DATA
        / "certificates"
        / "lab-script-comment_ex2016-19_get-exchangecertificate_table_annotated.txt"
    )
    pasted = load_evidence(PASTES / "lab-script_certificate-table_no-dash-row_blank-lines.txt")
    assert [(c.thumbprint, c.services) for c in pasted.certificates] == [
        (c.thumbprint, c.services) for c in real.certificates
    ]


def test_a_format_list_followed_by_a_table_gives_both() -> None:
    """A Format-List queue and a queue table in one paste: every queue is read."""
    evidence = load_evidence(PASTES / "queue-fl-then-table.txt")
    identities = [queue.identity for queue in evidence.queues]
    assert len(identities) == 4
    assert identities[1:] == ["EX01\\9", "EX01\\Submission", "EX01\\Shadow\\3"]
    fl_only = parse_queues(
        (
            DATA
            / "queues"
            / "msqa-234456_ex2013-dag_get-queue_fl_LRT-first_invalidtoken_ddmmyy_blanklines.txt"
        ).read_text(encoding="utf-8")
    )
    assert identities[0] == fl_only[0].identity


def test_a_banner_and_prompt_before_format_list_are_skipped() -> None:
    """The EMS banner and a prompt before Format-List output do not hide the certificate."""
    evidence = load_evidence(PASTES / "banner-and-prompt_certificate-fl.txt")
    original = load_evidence(
        DATA
        / "certificates"
        / "mattallford-blog_ex2013_get-exchangecertificate_fl_rootcatype-registry_truncated-no-subject.txt"
    )
    assert len(evidence.certificates) == 1
    # The same certificate, found the banner's lines further down.
    assert [attrs.evolve(c, source=None) for c in evidence.certificates] == [
        attrs.evolve(c, source=None) for c in original.certificates
    ]


@pytest.mark.parametrize(
    "name",
    [
        "msqa_ex2013_ndr-diagnostic_451-4.7.3-secure-domain_wrapped.txt",
        "nauplius-blog_ex2010_messagetracking_fl_recipientstatus_LRT-first-empty.txt",
        "blog_ex2007-2010_queue-lasterror_initial-error_dns-query-failed_lowercased-truncated.txt",
    ],
)
def test_a_queue_error_inside_other_text_goes_to_explain(name: str) -> None:
    """A queue error inside an NDR, a tracking record or prose is pointed to 'explain'."""
    [problem] = [
        p for p in load_evidence(DATA / "queues" / name).problems if p.code != "not-a-property"
    ]
    assert problem.code == "lone-queue-error"
    assert "explain" in problem.message


def test_a_success_reply_in_a_log_template_is_not_a_queue_error() -> None:
    """A '220 2.0.0' banner in a log template does not make it a queue error."""
    path = (
        DATA / "protocol-logs" / "ms-docs_eop-relay-article_send-log_template_all-lines-joined.txt"
    )
    assert "lone-queue-error" not in codes(load_evidence(path).problems)


def test_a_lasterror_in_angle_brackets_is_read() -> None:
    """'[<LED=…>;<FQDN=…>]' is read as the bracket list, so the queue is not healthy."""
    evidence = load_evidence(PASTES / "queue-fl_lasterror-angle-brackets.txt")
    [queue] = evidence.queues
    assert queue.last_error is not None
    assert queue.last_error.reply is not None
    assert queue.last_error.reply.code == 451
    assert (
        queue.last_error.fqdn == "exchangelabsnl-mail-onmicrosoft-com.mail.protection.outlook.com"
    )
    assert "angle-bracket-form" in codes(evidence.problems)
