"""Rules that join SMTP TLS reports to this server's certificates, connectors and policy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import (
    Evidence,
    ExchangeCertificate,
    ReceiveConnector,
    Services,
    diagnose,
    load_evidence,
    parse_tls_certificate_name,
    parse_tls_reports,
)
from exchange_tls.certificates.models import CertificateStatus, RootCAType
from exchange_tls.diagnosis.model import Confidence, Finding, schema
from exchange_tls.diagnosis.rules.tls_reports import CITED_DETAILS
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.probe_results.models import ProbeStage, SmtpProbe
from exchange_tls.sources import SourceRef
from exchange_tls.tls_results import TlsResultType

UTC = dt.timezone.utc
ROOT = Path(__file__).parent.parent
T_OLD = "3B7F2A9C4D1E8F6A0B5C2D9E7F1A3C5E8B0D2F4A"
T_NEW = "9C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D"
ISSUER = "CN=Contoso Issuing CA 2023, O=Contoso Ltd, C=US"
SUBJECT = "CN=mx1.contoso.com, O=Contoso Ltd, C=US"


def report_json(
    *details: dict[str, Any],
    organisation: str = "Google Inc.",
    policy: dict[str, Any] | None = None,
) -> str:
    """Return one day's report (2024-06-01) for contoso.com with these failure details."""
    return json.dumps(
        {
            "organization-name": organisation,
            "date-range": {
                "start-datetime": "2024-06-01T00:00:00Z",
                "end-datetime": "2024-06-01T23:59:59Z",
            },
            "contact-info": "smtp-tls-reporting@example.net",
            "report-id": f"2024-06-01_{organisation}",
            "policies": [
                {
                    "policy": policy
                    or {"policy-type": "no-policy-found", "policy-domain": "contoso.com"},
                    "summary": {
                        "total-successful-session-count": 10,
                        "total-failure-session-count": sum(
                            d.get("failed-session-count", 0) for d in details
                        ),
                    },
                    "failure-details": list(details),
                }
            ],
        },
        indent=2,
    )


def detail(kind: str, host: str = "mx1.contoso.com", count: int = 57) -> dict[str, Any]:
    """Return one failure detail."""
    return {
        "result-type": kind,
        "sending-mta-ip": "209.85.220.41",
        "receiving-mx-hostname": host,
        "failed-session-count": count,
    }


def certificate(**changes: Any) -> ExchangeCertificate:
    """Return the certificate for mx1.contoso.com, valid through 2025 unless changed."""
    values: dict[str, Any] = {
        "thumbprint": T_NEW,
        "subject": SUBJECT,
        "issuer": ISSUER,
        "certificate_domains": ("mx1.contoso.com", "mail.contoso.com"),
        "not_before": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "not_after": dt.datetime(2025, 1, 1, tzinfo=UTC),
        "has_private_key": True,
        "is_self_signed": False,
        "root_ca_type": RootCAType.THIRD_PARTY,
        "services": Services.IIS | Services.SMTP,
        "status": CertificateStatus.VALID,
        "source": SourceRef("get-exchangecertificate.txt", 2),
    }
    values.update(changes)
    return ExchangeCertificate(**values)


EXPIRED = certificate(
    thumbprint=T_OLD,
    not_before=dt.datetime(2023, 6, 1, tzinfo=UTC),
    not_after=dt.datetime(2024, 5, 31, 23, 59, 59, tzinfo=UTC),
    status=CertificateStatus.DATE_INVALID,
)


def frontend(**changes: Any) -> ReceiveConnector:
    """Return the internet-facing receive connector answering as mx1.contoso.com."""
    values: dict[str, Any] = {
        "name": "Default Frontend EX01",
        "identity": "EX01\\Default Frontend EX01",
        "fqdn": "mx1.contoso.com",
        "bindings": ("0.0.0.0:25", "[::]:25"),
        "remote_ip_ranges": ("0.0.0.0-255.255.255.255",),
        "auth_mechanism": "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer",
        "transport_role": "FrontendTransport",
        "source": SourceRef("get-receiveconnector.txt", 2),
    }
    values.update(changes)
    return ReceiveConnector(**values)


def evidence(text: str, *certificates: ExchangeCertificate, **more: Any) -> Evidence:
    """Return the evidence of one report, these certificates and the front-end connector."""
    reports = parse_tls_reports(text, source="google.com!contoso.com!1717200000!1717286399.json")
    values: dict[str, Any] = {
        "tls_reports": reports.items,
        "certificates": certificates,
        "receive_connectors": [frontend()],
    }
    values.update(more)
    return Evidence(**values)


def only(findings: tuple[Finding, ...], rule_id: str) -> Finding:
    """Return the one finding of this rule, and check it is the only finding at all."""
    assert [f.rule_id for f in findings] == [rule_id]
    return findings[0]


def fixes(finding: Finding) -> list[str]:
    """Return the rendered fix commands of a finding."""
    return [step.command.render() for step in finding.remediation if step.purpose.value == "fix"]


# -- certificate-expired: the acceptance cases -------------------------------------------------


def test_expired_certificate_gives_a_high_confidence_finding_with_the_renewal() -> None:
    """Expired before the report's end: the thumbprint, the failure detail, the renewal."""
    diagnosis = diagnose(evidence(report_json(detail("certificate-expired")), EXPIRED))
    finding = only(diagnosis.findings, "tls-report-certificate-expired")
    assert (finding.severity, finding.confidence, finding.side) == (
        Severity.ERROR,
        Confidence.HIGH,
        FaultSide.LOCAL,
    )
    assert finding.subject == T_OLD
    assert T_OLD in finding.summary
    assert "expired on 2024-05-31" in finding.summary
    assert "57 sessions" in finding.summary
    cited = finding.evidence[0].source
    assert cited is not None
    assert cited.source == "google.com!contoso.com!1717200000!1717286399.json"
    assert cited.pointer == "/policies/0/failure-details/0"
    assert cited.line == 20  # where the failure detail's object opens
    assert any("New-ExchangeCertificate -GenerateRequest" in fix for fix in fixes(finding))
    assert any(f"Remove-ExchangeCertificate -Thumbprint '{T_OLD}'" in fix for fix in fixes(finding))
    assert finding.subjects is not None
    assert [(s.name, s.count) for s in finding.subjects.top] == [("Google Inc.", 57)]


def test_valid_certificate_says_valid_now_and_asks_for_the_chain() -> None:
    """Valid throughout: a low-confidence warning that asks what the MX presented."""
    diagnosis = diagnose(evidence(report_json(detail("certificate-expired")), certificate()))
    finding = only(diagnosis.findings, "tls-report-certificate-expired")
    assert (finding.severity, finding.confidence) == (Severity.WARNING, Confidence.LOW)
    assert "valid now" in finding.summary
    assert "openssl s_client -connect mx1.contoso.com:25 -starttls smtp" in finding.summary
    assert fixes(finding) == []
    assert finding.side is None


def test_valid_certificate_with_a_probe_cites_the_probe() -> None:
    """When the evidence holds a saved probe of the MX, the finding cites it."""
    probe = SmtpProbe(
        host="MX1.contoso.com.",
        port=25,
        stage=ProbeStage.VERIFY,
        result_type=TlsResultType.CERTIFICATE_EXPIRED,
        error="the certificate expired on 2024-05-31",
        source=SourceRef("probe-mx1.json", 1),
    )
    base = evidence(report_json(detail("certificate-expired")), certificate())
    finding = only(
        diagnose(attrs.evolve(base, probes=(probe,))).findings, "tls-report-certificate-expired"
    )
    [cited] = [ref for ref in finding.evidence if ref.source == probe.source]
    assert "result_type=certificate-expired" in cited.excerpt
    # The probe saw what the senders saw: something else answers at the MX.
    assert finding.confidence is Confidence.MEDIUM
    assert "A probe from outside saw certificate-expired at mx1.contoso.com" in finding.summary


def test_the_configuration_rule_leaves_a_reported_expiry_to_the_report_rule() -> None:
    """With a time to judge by, certificate-expired would speak too: one finding per cause."""
    found = diagnose(
        evidence(report_json(detail("certificate-expired")), EXPIRED),
        now=dt.datetime(2024, 6, 2, tzinfo=UTC),
    )
    assert [f.rule_id for f in found.findings] == ["tls-report-certificate-expired"]
    alone = diagnose(
        Evidence(certificates=[EXPIRED], receive_connectors=[frontend()]),
        now=dt.datetime(2024, 6, 2, tzinfo=UTC),
    )
    assert [f.rule_id for f in alone.findings] == ["certificate-expired"]


def test_renewed_within_the_range_is_information() -> None:
    """A certificate renewed during the report's day: the failures may predate it."""
    renewed = certificate(not_before=dt.datetime(2024, 6, 1, 12, tzinfo=UTC))
    diagnosis = diagnose(evidence(report_json(detail("certificate-expired")), EXPIRED, renewed))
    finding = only(diagnosis.findings, "tls-report-certificate-expired")
    assert finding.severity is Severity.INFO
    assert "became valid only on 2024-06-01" in finding.summary


def test_an_mx_that_is_not_this_server_is_left_alone() -> None:
    """Failures at an MX nothing ties to this server (a gateway, Exchange Online): no finding."""
    text = report_json(
        detail("certificate-expired", host="contoso-com.mail.protection.outlook.com")
    )
    assert diagnose(evidence(text, certificate())).findings == ()
    # The expired certificate is still judged by the configuration rule alone.
    found = diagnose(evidence(text, EXPIRED)).findings
    assert [f.rule_id for f in found] == ["certificate-expired"]


def test_sessions_and_senders_of_several_reports_fold_into_one_finding() -> None:
    """Two senders' reports of one expired certificate: one finding, both counted."""
    google = parse_tls_reports(report_json(detail("certificate-expired", count=57)), source="g")
    yahoo = parse_tls_reports(
        report_json(detail("certificate-expired", count=3), organisation="Yahoo"), source="y"
    )
    base = evidence(report_json(), EXPIRED)
    both = attrs.evolve(base, tls_reports=(*google, *yahoo, *google))  # google twice: once
    finding = only(diagnose(both).findings, "tls-report-certificate-expired")
    assert finding.subjects is not None
    assert [(s.name, s.count) for s in finding.subjects.top] == [("Google Inc.", 57), ("Yahoo", 3)]
    assert "60 sessions" in finding.summary


def test_a_hundred_thousand_details_give_a_bounded_finding() -> None:
    """100,000 failure details from 2,000 senders: one finding, bounded evidence and subjects."""
    listed = [detail("certificate-expired", count=1) for _ in range(100_000)]
    finding = only(
        diagnose(evidence(report_json(*listed), EXPIRED)).findings,
        "tls-report-certificate-expired",
    )
    assert "100000 sessions" in finding.summary
    report_refs = [ref for ref in finding.evidence if ref.source and ref.source.pointer]
    assert len(report_refs) == CITED_DETAILS
    assert finding.subjects is not None
    assert finding.subjects.total == 100_000


# -- names and trust ------------------------------------------------------------------------


def test_host_mismatch_names_the_missing_name() -> None:
    """The certificate lacks the MX name: high confidence, with the names it has."""
    other = certificate(certificate_domains=("mail.contoso.com",), subject="CN=mail.contoso.com")
    connector = frontend(
        tls_certificate_name=parse_tls_certificate_name(f"<I>{ISSUER}<S>{other.subject}")
    )
    text = report_json(detail("certificate-host-mismatch"))
    finding = only(
        diagnose(evidence(text, other, receive_connectors=[connector])).findings,
        "tls-report-certificate-name",
    )
    assert finding.confidence is Confidence.HIGH
    assert "names mail.contoso.com, not mx1.contoso.com" in finding.summary


def test_not_trusted_self_signed_certificate() -> None:
    """A self-signed certificate at the MX: no sender trusts it."""
    own = certificate(is_self_signed=True, issuer=SUBJECT, root_ca_type=RootCAType.REGISTRY)
    text = report_json(detail("certificate-not-trusted"))
    finding = only(diagnose(evidence(text, own)).findings, "tls-report-certificate-name")
    assert (finding.confidence, finding.side) == (Confidence.HIGH, FaultSide.LOCAL)
    assert "self-signed" in finding.summary


def test_not_trusted_with_a_public_certificate_asks_for_the_chain() -> None:
    """A public, fitting certificate: a low-confidence warning about the chain."""
    text = report_json(detail("certificate-not-trusted"))
    finding = only(diagnose(evidence(text, certificate())).findings, "tls-report-certificate-name")
    assert (finding.severity, finding.confidence) == (Severity.WARNING, Confidence.LOW)
    assert "intermediate" in finding.summary


# -- STARTTLS -------------------------------------------------------------------------------


def test_starttls_not_supported_without_tls_in_auth_mechanism() -> None:
    """AuthMechanism without Tls: the connector does not offer STARTTLS."""
    text = report_json(detail("starttls-not-supported"))
    plain = frontend(auth_mechanism="Integrated, BasicAuth")
    finding = only(
        diagnose(evidence(text, certificate(), receive_connectors=[plain])).findings,
        "tls-report-starttls-not-supported",
    )
    assert (finding.confidence, finding.side) == (Confidence.HIGH, FaultSide.LOCAL)
    assert "'Integrated, BasicAuth'" in finding.summary


def test_starttls_not_supported_with_a_lost_certificate_name() -> None:
    """A stale TlsCertificateName (KB 2989382) is the connector rule's: one finding, its fix."""
    stale = parse_tls_certificate_name(f"<I>CN=Old CA<S>{SUBJECT}")
    text = report_json(detail("starttls-not-supported"))
    connectors = [frontend(tls_certificate_name=stale)]
    finding = only(
        diagnose(evidence(text, certificate(), receive_connectors=connectors)).findings,
        "receive-connector-certificate-not-found",
    )
    assert any(f"-TlsCertificateName '<I>{ISSUER}<S>{SUBJECT}'" in fix for fix in fixes(finding))


def test_starttls_offered_by_the_configuration_points_between() -> None:
    """The connector offers STARTTLS: something between hides it (SMTP inspection)."""
    text = report_json(detail("starttls-not-supported"))
    finding = only(
        diagnose(evidence(text, certificate())).findings, "tls-report-starttls-not-supported"
    )
    assert (finding.confidence, finding.side) == (Confidence.MEDIUM, FaultSide.BETWEEN)
    assert "inspection" in finding.summary


# -- validation and policy -----------------------------------------------------------------------


def test_validation_failure_against_an_expired_certificate() -> None:
    """validation-failure with an expired certificate: the chain's flaw is named."""
    text = report_json(
        detail("validation-failure") | {"failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED"}
    )
    finding = only(diagnose(evidence(text, EXPIRED)).findings, "tls-report-validation-failure")
    assert finding.confidence is Confidence.HIGH
    assert "X509_V_ERR_CERT_HAS_EXPIRED" in finding.summary
    assert "expired on 2024-05-31" in finding.summary


def test_validation_failure_with_a_good_certificate_asks_for_the_chain() -> None:
    """A current, fitting certificate: the intermediate may be missing; a low warning."""
    text = report_json(detail("validation-failure"))
    finding = only(
        diagnose(evidence(text, certificate())).findings, "tls-report-validation-failure"
    )
    assert (finding.severity, finding.confidence) == (Severity.WARNING, Confidence.LOW)


def test_mta_sts_fetch_error_from_mail_ru() -> None:
    """Mail.ru's real report: the policy could not be fetched; testing mode is a warning."""
    path = ROOT / "tests" / "data" / "tls-reports" / "parsedmarc_mail.ru.json"
    finding = only(
        diagnose(Evidence(tls_reports=load_evidence(path).tls_reports)).findings,
        "tls-report-policy-failure",
    )
    assert finding.severity is Severity.WARNING
    assert "https://mta-sts.example.com/.well-known/mta-sts.txt" in finding.summary
    assert "bad https response code: 404" in finding.summary
    assert finding.side is FaultSide.BETWEEN


def test_mta_sts_enforced_and_mx_outside_the_policy_is_an_error() -> None:
    """An enforced policy whose mx lines miss the MX, and a failing certificate: an error."""
    policy = {
        "policy-type": "sts",
        "policy-domain": "contoso.com",
        "policy-string": ["version: STSv1", "mode: enforce", "mx: mail.contoso.com"],
    }
    text = report_json(detail("sts-webpki-invalid"), policy=policy)
    findings = diagnose(evidence(text, EXPIRED)).findings
    # The expired certificate is a cause of its own, judged by the configuration rule.
    assert [f.rule_id for f in findings] == ["certificate-expired", "tls-report-policy-failure"]
    finding = findings[1]
    assert finding.severity is Severity.ERROR
    assert "mx1.contoso.com matches none of the policy's mx lines" in finding.summary
    assert "expired on 2024-05-31" in finding.summary


def test_tlsa_invalid_names_the_key_to_publish() -> None:
    """tlsa-invalid at this server's MX: publish TLSA for the presented certificate's key."""
    text = report_json(detail("tlsa-invalid"), policy={"policy-type": "tlsa"})
    finding = only(diagnose(evidence(text, certificate())).findings, "tls-report-policy-failure")
    assert (finding.severity, finding.side) == (Severity.ERROR, FaultSide.LOCAL)
    assert "_25._tcp.mx1.contoso.com" in finding.summary
    assert T_NEW in finding.summary


# -- the example and the JSON ---------------------------------------------------------------


def test_the_example_gives_its_finding_and_valid_json() -> None:
    """The example folder: one finding; its JSON has the failure detail's pointer."""
    folder = ROOT / "examples" / "tls-report-certificate-expired"
    diagnosis = diagnose(load_evidence(folder))
    finding = only(diagnosis.findings, "tls-report-certificate-expired")
    assert T_OLD in finding.summary
    document = json.loads(diagnosis.to_json())
    jsonschema.validate(document, schema())
    pointers = [ref.get("pointer") for ref in document["findings"][0]["evidence"]]
    assert "/policies/0/failure-details/0" in pointers


@pytest.mark.parametrize("kind", ["certificate-expired", "validation-failure"])
def test_without_a_certificate_inventory_the_finding_asks_for_it(kind: str) -> None:
    """The MX is this server (by its connector) but no certificate is known: a low warning."""
    text = report_json(detail(kind))
    findings = diagnose(evidence(text)).findings
    assert [f.confidence for f in findings] == [Confidence.LOW]
    assert "Get-ExchangeCertificate" in findings[0].summary


def test_a_folder_of_reports_beside_a_servers_folder_joins_that_server(tmp_path: Path) -> None:
    """Reports are the domain's: a folder of them given beside EX01's folder joins EX01."""
    example = ROOT / "examples" / "tls-report-certificate-expired"
    (tmp_path / "ex01").mkdir()
    (tmp_path / "reports").mkdir()
    for path in example.iterdir():
        folder = "reports" if path.suffix == ".json" else "ex01"
        if path.name.startswith("get-") or path.suffix == ".json":
            (tmp_path / folder / path.name).write_bytes(path.read_bytes())
    evidence = load_evidence(tmp_path / "ex01", tmp_path / "reports")
    assert evidence.scopes == ()
    assert len(evidence.tls_reports) == 1
    only(diagnose(evidence).findings, "tls-report-certificate-expired")


_KINDS = [kind.value for kind in TlsResultType] + ["something-new"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            st.sampled_from(["mx1.contoso.com", "MX1.contoso.com.", "mx.fabrikam.example", ""]),
            st.integers(0, 1000),
        ),
        max_size=12,
    ),
    st.sampled_from([(), (EXPIRED,), (certificate(),), (EXPIRED, certificate())]),
)
def test_generated_reports_give_bounded_cited_findings(
    details: list[tuple[str, str, int]], certificates: tuple[ExchangeCertificate, ...]
) -> None:
    """Any mix of failure details: no exception; each report finding cites a failure detail."""
    listed = [
        {"result-type": kind, "failed-session-count": count}
        | ({"receiving-mx-hostname": host} if host else {})
        for kind, host, count in details
    ]
    diagnosis = diagnose(evidence(report_json(*listed), *certificates))
    reported = [f for f in diagnosis.findings if f.rule_id.startswith("tls-report-")]
    assert len(reported) <= len(details)
    for finding in reported:
        pointers = [ref.source.pointer for ref in finding.evidence if ref.source is not None]
        assert any(p and p.startswith("/policies/0/failure-details/") for p in pointers)
        assert finding.subjects is not None
        assert finding.subjects.total <= sum(count for _, _, count in details)
