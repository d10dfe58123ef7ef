"""SMTP TLS reports (RFC 8460): JSON, gzip and report mails, real samples, bounds and damage."""

from __future__ import annotations

import gzip
import io
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import (
    ParseError,
    TlsReport,
    TlsResultType,
    load_evidence,
    parse_tls_reports,
    read_tls_reports,
)
from exchange_tls.errors import Severity
from exchange_tls.loading import classify
from exchange_tls.tls_reports import TlsPolicyType, gunzip, looks_like_tls_report
from exchange_tls.tls_reports import document as document_module

DATA = Path(__file__).parent / "data" / "tls-reports"
RFC = DATA / "parsedmarc_rfc8460.json"
GOOGLE = DATA / "parsedmarc_google.com_smtp_tls_report.eml"
MAIL_RU = DATA / "parsedmarc_mail.ru.json"
REDACTED = DATA / "parsedmarc_smtp_tls.json"


def stripped(value: Any) -> Any:
    """Return attrs models with every ``source`` removed, recursively (for comparing forms)."""
    if isinstance(value, tuple):
        return tuple(stripped(item) for item in value)
    if attrs.has(type(value)):
        changes = {
            field.name: stripped(getattr(value, field.name))
            for field in attrs.fields(type(value))
            if field.name != "source"
        }
        return attrs.evolve(
            value, **changes, **({"source": None} if hasattr(value, "source") else {})
        )
    return value


def mail(payload: bytes, subtype: str, filename: str) -> bytes:
    """Return a report mail (RFC 8460 §5.3) carrying ``payload`` as its report part."""
    message = EmailMessage()
    message["From"] = "noreply-smtp-tls-reporting@google.com"
    message["Subject"] = "Report Domain: company-y.example Submitter: company-x.example"
    message["TLS-Report-Domain"] = "company-y.example"
    message.set_content("This is an aggregate TLS report.")
    message.add_attachment(payload, maintype="application", subtype=subtype, filename=filename)
    return message.as_bytes()


# -- real samples --------------------------------------------------------------------------


def test_rfc_example_reads_every_field() -> None:
    """RFC 8460 Appendix B: one STS policy, its counts, three failure details with pointers."""
    result = read_tls_reports(RFC)
    assert (result.format, result.problems) == ("json", ())
    [report] = result
    assert report.organization_name == "Company-X"
    assert report.start is not None
    assert report.start.isoformat() == "2016-04-01T00:00:00+00:00"
    assert report.report_id == "5065427c-23d3-47ca-b6e0-946ea0e8c4be"
    [policy] = report.policies
    assert policy.policy_type is TlsPolicyType.STS
    assert policy.mx_hosts == ("*.mail.company-y.example",)  # a string in the RFC's example
    assert policy.policy_string[1] == "mode: testing"
    assert (policy.successful_sessions, policy.failed_sessions) == (5326, 303)
    kinds = [detail.result_type for detail in report.failure_details]
    assert kinds == [
        TlsResultType.CERTIFICATE_EXPIRED,
        TlsResultType.STARTTLS_NOT_SUPPORTED,
        TlsResultType.VALIDATION_FAILURE,
    ]
    third = report.failure_details[2]
    assert third.failure_reason_code == "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    assert (third.receiving_ip, third.failed_session_count) == ("203.0.113.58", 3)
    assert third.pointer == "/policies/0/failure-details/2"
    assert third.source is not None
    assert third.source.line == 33
    assert str(third.source).endswith("parsedmarc_rfc8460.json:33#/policies/0/failure-details/2")


def test_google_report_mail_with_gzip_attachment() -> None:
    """Google's real report mail: multipart/report with an application/tlsrpt+gzip part."""
    result = read_tls_reports(GOOGLE)
    assert (result.format, result.problems) == ("mail", ())
    [report] = result
    assert report.organization_name == "Google Inc."
    assert report.contact_info == "smtp-tls-reporting@google.com"
    [policy] = report.policies
    assert policy.policy_type is TlsPolicyType.NO_POLICY_FOUND
    assert policy.policy_domain == "cardinalhealth.ca"
    assert (policy.successful_sessions, policy.failed_sessions) == (48, 0)
    assert report.source is not None
    assert report.source.source.endswith(
        "!/google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz"
    )


def test_google_mail_and_its_attachment_give_the_same_models() -> None:
    """The attachment, taken out and read as .json.gz and as .json, gives the same report."""
    import email

    message = email.message_from_bytes(GOOGLE.read_bytes())
    part = next(p for p in message.walk() if p.get_content_type() == "application/tlsrpt+gzip")
    compressed = part.get_payload(decode=True)
    assert isinstance(compressed, bytes)
    from_mail = stripped(read_tls_reports(GOOGLE).items)
    from_gzip = stripped(read_tls_reports(io.BytesIO(compressed)).items)
    from_json = stripped(parse_tls_reports(gzip.decompress(compressed).decode()).items)
    assert from_mail == from_gzip == from_json


def test_mail_ru_policy_fetch_errors_without_an_mx() -> None:
    """Mail.ru's real report: sts-policy-fetch-error details name no MX, only a reason."""
    [report] = read_tls_reports(MAIL_RU)
    reasons = [detail.failure_reason_code for detail in report.failure_details]
    assert reasons == ["bad https response code: 404", "bad https response code: 500"]
    assert {detail.receiving_mx_hostname for detail in report.failure_details} == {None}
    assert report.policies[0].mx_hosts == ()


def test_redacted_google_shaped_report() -> None:
    """A published report (Google's sending addresses, domain redacted) of two failures."""
    [report] = read_tls_reports(REDACTED)
    assert report.failed_sessions == 3
    assert [d.sending_mta_ip for d in report.failure_details] == [
        "209.85.222.201",
        "209.85.208.176",
    ]


# -- three forms, one report -----------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["tlsrpt+gzip", "tlsrpt+json"])
def test_json_gzip_and_mail_forms_give_the_same_models(tmp_path: Path, subtype: str) -> None:
    """The RFC example as .json, .json.gz and a report mail: equal models, each read whole."""
    text = RFC.read_bytes()
    payload = gzip.compress(text) if subtype.endswith("gzip") else text
    (tmp_path / "r.json.gz").write_bytes(gzip.compress(text))
    (tmp_path / "r.eml").write_bytes(mail(payload, subtype, "x!company-y.example!1!2.json"))
    forms = {
        name: read_tls_reports(tmp_path / name) if name != "json" else read_tls_reports(RFC)
        for name in ("json", "r.json.gz", "r.eml")
    }
    assert [forms[name].format for name in forms] == ["json", "gzip", "mail"]
    assert all(result.problems == () for result in forms.values())
    models = [stripped(result.items) for result in forms.values()]
    assert models[0] == models[1] == models[2]
    assert len(models[0][0].failure_details) == 3


def test_load_evidence_reads_all_three_forms(tmp_path: Path) -> None:
    """The loader tells the kind from content: JSON, gzip'ed JSON and a mail."""
    text = RFC.read_bytes()
    (tmp_path / "a.json").write_bytes(text)
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(text))
    (tmp_path / "c.eml").write_bytes(mail(gzip.compress(text), "tlsrpt+gzip", "c.json.gz"))
    evidence = load_evidence(tmp_path)
    assert [file.kind for file in evidence.files] == ["tls-reports"] * 3
    assert len(evidence.tls_reports) == 3
    assert evidence.problems == ()


# -- damage and bounds ---------------------------------------------------------------------------


def test_truncated_gzip_is_a_clear_problem(tmp_path: Path) -> None:
    """A .json.gz cut short: a problem saying so (reader and loader), never an exception."""
    data = gzip.compress(RFC.read_bytes())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    result = read_tls_reports(path)
    assert result.items == ()
    [problem] = result.problems
    assert (problem.code, problem.severity) == ("tls-report-gzip", Severity.ERROR)
    assert "truncated" in problem.message
    evidence = load_evidence(path)
    assert evidence.files[0].kind == "unknown"
    assert "truncated" in (evidence.files[0].note or "")


def test_gzip_bomb_is_refused() -> None:
    """Output past the limit is refused before it is all inflated."""
    bomb = gzip.compress(b" " * 2_000_000)
    with pytest.raises(ValueError, match="more than 1,000 bytes"):
        gunzip(bomb, limit=1000)


def test_report_without_policies_is_kept_with_an_error() -> None:
    """No ``policies``: the report (sender, range) is kept, and an error names the gap."""
    document = json.loads(RFC.read_text())
    del document["policies"]
    result = parse_tls_reports(json.dumps(document, indent=1), source="np.json")
    [report] = result
    assert (report.organization_name, report.policies) == ("Company-X", ())
    [problem] = result.problems
    assert (problem.code, problem.severity, problem.line) == (
        "tls-report-policies",
        Severity.ERROR,
        1,
    )
    assert "no 'policies'" in problem.message


def test_wrong_shapes_are_problems_at_their_pointer_and_line() -> None:
    """A count that is text and an unknown result type: a warning with line, and kept text."""
    text = (
        '{"organization-name": "X", "policies": [{\n'
        '  "policy": {"policy-type": "sts"},\n'
        '  "summary": {"total-failure-session-count": "many"},\n'
        '  "failure-details": [\n'
        '    {"result-type": "quantum-failure", "failed-session-count": -1}]}]}'
    )
    result = parse_tls_reports(text, source="bad.json")
    [report] = result
    assert report.policies[0].failed_sessions is None
    [detail] = report.failure_details
    assert detail.result_type == "quantum-failure"  # kept, as RFC 8460 asks
    assert detail.failed_session_count is None
    messages = {(p.line, p.message.split(":")[0]) for p in result.problems}
    assert (3, "at /policies/0/summary/total-failure-session-count") in messages
    assert (5, "at /policies/0/failure-details/0/failed-session-count") in messages


def test_not_json_is_a_problem_with_line_and_column() -> None:
    """Broken JSON: an error at its line and column, no report."""
    result = parse_tls_reports('{"organization-name": "X",\n "policies": [}', source="b.json")
    assert result.items == ()
    [problem] = result.problems
    assert (problem.code, problem.line) == ("tls-report-json", 2)
    assert problem.column is not None


def test_raise_mode_raises_parse_error() -> None:
    """``errors='raise'`` turns the first problem into a ParseError."""
    with pytest.raises(ParseError, match="no 'policies'"):
        parse_tls_reports('{"organization-name": "X"}', errors="raise")


def test_mail_without_a_report_part_is_a_problem() -> None:
    """A report mail whose attachment is missing says so."""
    message = EmailMessage()
    message["TLS-Report-Domain"] = "contoso.com"
    message.set_content("report-type=tlsrpt, but nothing attached")
    result = parse_tls_reports(message.as_string(), source="m.eml")
    assert result.items == ()
    assert [p.code for p in result.problems] == ["tls-report-mail"]


def test_wrong_argument_types_raise_type_error() -> None:
    """Public functions given the wrong type name the parameter."""
    with pytest.raises(TypeError, match=r"parse_tls_reports\(\): text takes a str"):
        parse_tls_reports(b"{}")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"read_tls_reports\(\): file takes .* binary mode"):
        read_tls_reports(io.StringIO("{}"))  # type: ignore[arg-type]


def _big(details: int, hosts: int) -> str:
    listed = [
        {
            "result-type": "certificate-expired",
            "sending-mta-ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "receiving-mx-hostname": f"mx{i % hosts}.contoso.com",
            "failed-session-count": 2,
        }
        for i in range(details)
    ]
    return json.dumps(
        {
            "organization-name": "Big Sender",
            "policies": [
                {
                    "policy": {"policy-type": "no-policy-found", "policy-domain": "contoso.com"},
                    "summary": {"total-failure-session-count": 2 * details},
                    "failure-details": listed,
                }
            ],
        }
    )


def test_100000_failure_details_are_bounded_and_every_session_counted() -> None:
    """100,000 details: 1,000 kept, the rest folded by MX host; every session still counted."""
    result = parse_tls_reports(_big(100_000, 3), source="big.json")
    [report] = result
    details = report.failure_details
    assert len(details) == document_module.MAX_FAILURE_DETAILS + 3
    assert sum(d.failed_session_count or 0 for d in details) == 200_000
    assert sum(d.folded for d in details) == 99_000
    assert all(d.sending_mta_ip is None for d in details if d.folded)
    [problem] = [p for p in result.problems if p.code == "tls-report-folded"]
    assert problem.severity is Severity.INFO
    assert "99,000 more are folded" in problem.message


def test_past_the_folded_groups_details_are_only_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_FOLDED groups, details are counted on the policy, not kept."""
    monkeypatch.setattr(document_module, "MAX_FAILURE_DETAILS", 10)
    monkeypatch.setattr(document_module, "MAX_FOLDED", 5)
    [report] = parse_tls_reports(_big(100, 50), source="big.json")
    [policy] = report.policies
    assert len(policy.failure_details) == 15
    kept = sum(d.failed_session_count or 0 for d in policy.failure_details)
    assert kept + policy.omitted_sessions == 200
    assert policy.omitted_details > 0


# -- recognising --------------------------------------------------------------------------------


def test_classify_tells_reports_from_other_json() -> None:
    """Two RFC 8460 top-level keys mark a report; a mail by its report type."""
    assert classify(RFC.read_text()) == "tls-reports"
    assert classify(GOOGLE.read_text()) == "tls-reports"
    assert not looks_like_tls_report('{"Thumbprint": "AB", "policies": []}')


# -- generated reports ---------------------------------------------------------------------------

_TYPES = st.sampled_from([t.value for t in TlsResultType] + ["something-new"])
_NAMES = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){1,2}", fullmatch=True)
_DETAIL = st.fixed_dictionaries(
    {"result-type": _TYPES, "failed-session-count": st.integers(0, 10**6)},
    optional={
        "receiving-mx-hostname": _NAMES,
        "sending-mta-ip": st.ip_addresses().map(str),
        "failure-reason-code": st.text(max_size=20),
    },
)
_POLICY = st.fixed_dictionaries(
    {
        "policy": st.fixed_dictionaries(
            {"policy-type": st.sampled_from(["sts", "tlsa", "no-policy-found"])},
            optional={"policy-domain": _NAMES, "mx-host": st.one_of(_NAMES, st.lists(_NAMES))},
        ),
        "summary": st.fixed_dictionaries(
            {
                "total-successful-session-count": st.integers(0, 10**6),
                "total-failure-session-count": st.integers(0, 10**6),
            }
        ),
        "failure-details": st.lists(_DETAIL, max_size=5),
    }
)
_REPORT = st.fixed_dictionaries(
    {
        "organization-name": st.text(min_size=1, max_size=20).filter(str.strip),
        "date-range": st.fixed_dictionaries(
            {
                "start-datetime": st.just("2024-06-01T00:00:00Z"),
                "end-datetime": st.just("2024-06-01T23:59:59Z"),
            }
        ),
        "report-id": st.text(min_size=1, max_size=20).filter(str.strip),
        "policies": st.lists(_POLICY, max_size=3),
    }
)


@given(_REPORT, st.sampled_from([None, 1]))
def test_generated_reports_read_back(document: dict[str, Any], indent: int | None) -> None:
    """Every generated valid report reads back without problems, every count and type kept."""
    result = parse_tls_reports(json.dumps(document, indent=indent), source="g.json")
    assert result.problems == ()
    [report] = result
    assert isinstance(report, TlsReport)
    listed = [d for p in document["policies"] for d in p["failure-details"]]
    assert [str(d.result_type) for d in report.failure_details] == [
        d["result-type"] for d in listed
    ]
    assert [d.failed_session_count for d in report.failure_details] == [
        d["failed-session-count"] for d in listed
    ]
    assert report.failed_sessions == sum(
        p["summary"]["total-failure-session-count"] for p in document["policies"]
    )
    pointers = [d.pointer for d in report.failure_details]
    assert len(set(pointers)) == len(pointers)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "policies",
                    "policy",
                    "summary",
                    "failure-details",
                    "result-type",
                    "date-range",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(_JSON)
def test_any_json_never_crashes(document: object) -> None:
    """Any JSON value gives reports or problems, never an exception."""
    result = parse_tls_reports(json.dumps(document), source="any.json")
    assert all(isinstance(report, TlsReport) for report in result)


@given(st.binary(max_size=300))
def test_any_bytes_never_crash(data: bytes) -> None:
    """Any bytes (and gzip'ed bytes) give reports or problems, never an exception."""
    for blob in (data, gzip.compress(data), b"\x1f\x8b" + data):
        result = read_tls_reports(io.BytesIO(blob))
        assert all(isinstance(report, TlsReport) for report in result)
