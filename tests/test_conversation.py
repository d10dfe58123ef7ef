"""The whole conversation: sessions judged to their end, the side named, the receive side.

Each case of issue 26's "Why" is a scenario and a near miss with one fact changed that
must not fire; the example folders under examples/ hold the same cases as files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import (
    CertificateStatus,
    Evidence,
    ExchangeCertificate,
    ReceiveConnector,
    SendConnector,
    Services,
    assemble_sessions,
    diagnose,
    parse_protocol_log,
    parse_tls_certificate_name,
)
from exchange_tls.connectors.hybrid import HybridConfiguration
from exchange_tls.diagnosis import CATALOGUE
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.events.models import EventRecord
from exchange_tls.protocol_log.models import Direction
from exchange_tls.protocol_log.outcome import mail_accepted, refusal, refusal_code
from exchange_tls.protocol_log.summary import signature_of

UTC = dt.timezone.utc
CA_CERT = "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A291807"
SELF_CERT = "1111111111111111111111111111111111111111"
TLS_OK = (
    '*,,"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption '
    "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with "
    'strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)
EXO_MX = "contoso-com.mail.protection.outlook.com"


def send_log(*rows: str, connector: str = "Outbound to Office 365") -> list:  # type: ignore[type-arg]
    """Return the sessions of send-log rows."""
    lines = [
        f"2024-06-01T10:00:{number:02d}.000Z,{connector},08DC0A,{number},10.0.0.5:4000,"
        f"52.101.1.1:25,{row}"
        for number, row in enumerate(rows)
    ]
    return list(
        assemble_sessions(parse_protocol_log("\n".join(lines), source="SEND2024060110-1.LOG").rows)
    )


def receive_log(*rows: str, remote: str = "40.107.243.70") -> list:  # type: ignore[type-arg]
    """Return the sessions of receive-log rows on the Default Frontend connector."""
    lines = [
        f"2024-06-01T10:00:{number:02d}.000Z,EX01\\Default Frontend EX01,08DC0R,{number},"
        f"10.0.0.5:25,{remote}:5000,{row}"
        for number, row in enumerate(rows)
    ]
    return list(
        assemble_sessions(parse_protocol_log("\n".join(lines), source="RECV2024060110-1.LOG").rows)
    )


def handshake(banner_host: str = EXO_MX, thumbprint: str = CA_CERT) -> list[str]:
    """Return a send session's rows up to a successful handshake."""
    return [
        "+,,",
        f"<,220 {banner_host} Microsoft ESMTP MAIL Service ready,",
        ">,EHLO mail.contoso.com,",
        f"<,250-{banner_host} Hello [203.0.113.5],",
        "<,250-STARTTLS,",
        "<,250 SIZE 157286400,",
        ">,STARTTLS,",
        "<,220 2.0.0 SMTP server ready,",
        "*,,Sending certificate",
        '*,"CN=mail.contoso.com, O=Contoso Ltd, C=US",Certificate subject',
        '*,"CN=Contoso Issuing CA 2025, O=Contoso Ltd, C=US",Certificate issuer name',
        f"*,{thumbprint},Certificate thumbprint",
        TLS_OK,
        ">,EHLO mail.contoso.com,",
        f"<,250 {banner_host} Hello [203.0.113.5],",
        ">,MAIL FROM:<a@contoso.com> SIZE=1000,",
        "<,250 2.1.0 Sender OK,",
        ">,RCPT TO:<b@contoso.mail.onmicrosoft.com>,",
    ]


ACCEPTED = [
    "<,250 2.1.5 Recipient OK,",
    ">,BDAT 1000 LAST,",
    "<,250 2.6.0 Queued mail for delivery,",
    ">,QUIT,",
    "-,,Local",
]
TENANT = [
    "<,550 5.7.64 TenantAttribution; Relay Access Denied [SN1NAM02FT0000.eop-nam02.prod.protection.outlook.com],",
    ">,QUIT,",
    "-,,Local",
]
HYBRID = HybridConfiguration(
    name="Hybrid Configuration",
    tls_certificate_name=parse_tls_certificate_name(
        "<I>CN=Contoso Issuing CA 2025, O=Contoso Ltd, C=US<S>CN=smtp.contoso.com, O=Contoso Ltd, C=US"
    ),
)
TO_EXO = SendConnector(
    name="Outbound to Office 365",
    smart_hosts=(EXO_MX,),
    cloud_services_mail_enabled=True,
    require_tls=True,
    tls_auth_level="DomainValidation",
    tls_domain="mail.protection.outlook.com",
    ignore_starttls=False,
    tls_certificate_name=parse_tls_certificate_name(
        "<I>CN=Contoso Issuing CA 2025, O=Contoso Ltd, C=US<S>CN=mail.contoso.com, O=Contoso Ltd, C=US"
    ),
)


def ca_certificate(**changes: object) -> ExchangeCertificate:
    """Return the CA-issued SMTP certificate for mail.contoso.com."""
    values: dict[str, object] = {
        "thumbprint": CA_CERT,
        "services": Services.IIS | Services.SMTP,
        "subject": "CN=mail.contoso.com, O=Contoso Ltd, C=US",
        "issuer": "CN=Contoso Issuing CA 2025, O=Contoso Ltd, C=US",
        "certificate_domains": ("mail.contoso.com",),
        "has_private_key": True,
        "is_self_signed": False,
        "status": CertificateStatus.VALID,
        "not_before": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "not_after": dt.datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return ExchangeCertificate(**values)  # type: ignore[arg-type]


SELF_SIGNED = ca_certificate(
    thumbprint=SELF_CERT,
    subject="CN=EX01",
    issuer="CN=EX01",
    certificate_domains=("EX01", "ex01.contoso.local"),
    is_self_signed=True,
)
FRONTEND = ReceiveConnector(
    name="Default Frontend EX01",
    identity="EX01\\Default Frontend EX01",
    fqdn="ex01.contoso.local",
    auth_mechanism="Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer",
)


def exo_inbound(certificate_rows: list[str], after: list[str]) -> list[str]:
    """Return Exchange Online's session to the Frontend connector (receive log)."""
    return [
        "+,,",
        ">,220 mail.contoso.com Microsoft ESMTP MAIL Service ready,",
        "<,EHLO NAM12-DM6-obe.outbound.protection.outlook.com,",
        ">,250-mail.contoso.com Hello [40.107.243.70],",
        ">,250-STARTTLS,",
        ">,250 CHUNKING,",
        "<,STARTTLS,",
        ">,220 2.0.0 SMTP server ready,",
        "*,,Sending certificate",
        *certificate_rows,
        TLS_OK.replace("CLIENT", "SERVER"),
        *after,
    ]


SELF_ROWS = [
    "*,CN=EX01,Certificate subject",
    "*,CN=EX01,Certificate issuer name",
    f"*,{SELF_CERT},Certificate thumbprint",
]
CA_ROWS = [
    '*,"CN=mail.contoso.com, O=Contoso Ltd, C=US",Certificate subject',
    '*,"CN=Contoso Issuing CA 2025, O=Contoso Ltd, C=US",Certificate issuer name',
    f"*,{CA_CERT},Certificate thumbprint",
]
EXO_LEAVES = ["<,QUIT,", ">,221 2.0.0 Service closing transmission channel,", "-,,Remote"]
EXO_DELIVERS = [
    "<,EHLO NAM12-DM6-obe.outbound.protection.outlook.com,",
    ">,250 mail.contoso.com Hello,",
    "<,MAIL FROM:<x@fabrikam.com>,",
    ">,250 2.1.0 Sender OK,",
    "<,RCPT TO:<a@contoso.com>,",
    ">,250 2.1.5 Recipient OK,",
    "<,BDAT 900 LAST,",
    ">,250 2.6.0 Queued mail for delivery,",
    "<,QUIT,",
    "-,,Remote",
]


def ignored_starttls(offered: bool) -> list[str]:
    """Return a send session without STARTTLS sent, which the remote refuses."""
    return [
        "+,,",
        f"<,220 {EXO_MX} Microsoft ESMTP MAIL Service ready,",
        ">,EHLO mail.contoso.com,",
        f"<,250-{EXO_MX} Hello [203.0.113.5],",
        *(["<,250-STARTTLS,"] if offered else []),
        "<,250 SIZE 157286400,",
        ">,MAIL FROM:<a@contoso.com>,",
        "<,451 5.7.3 STARTTLS is required to send mail [SN1NAM02FT0000.eop-nam02.prod.protection.outlook.com],",
        ">,QUIT,",
        "-,,Local",
    ]


def masked(mask: str) -> list[str]:
    """Return a send session whose EHLO reply carries ``mask`` where STARTTLS should be."""
    return [
        "+,,",
        "<,220 **************************************,",
        ">,EHLO mail.contoso.com,",
        "<,250-mx.fabrikam.com Hello [203.0.113.5],",
        f"<,250-{mask},",
        "<,250 SIZE 52428800,",
        ">,QUIT,",
        "<,221 2.0.0 Bye,",
        "-,,Local",
    ]


def require_tls(offered: bool, refused: bool) -> list[str]:
    """Return a partner's session to a RequireTLS receive connector."""
    return [
        "+,,",
        ">,220 mail.contoso.com Microsoft ESMTP MAIL Service ready,",
        "<,EHLO mta.fabrikam.com,",
        ">,250-mail.contoso.com Hello [198.51.100.7],",
        *([">,250-STARTTLS,"] if offered else []),
        ">,250 CHUNKING,",
        "<,MAIL FROM:<x@fabrikam.com>,",
        ">,530 5.7.0 Must issue a STARTTLS command first," if refused else ">,250 2.1.0 Sender OK,",
        "<,QUIT,",
        "-,,Remote",
    ]


PARTNER = ReceiveConnector(
    name="Partner fabrikam",
    identity="EX01\\Default Frontend EX01",
    fqdn="mail.contoso.com",
    require_tls=True,
    remote_ip_ranges=("198.51.100.0/24",),
    auth_mechanism="Tls",
)

INTERNAL_TEXT = (
    "Microsoft Exchange could not load the certificate with thumbprint of "
    "0123456789ABCDEF0123456789ABCDEF01234567 from the personal store on the local computer. "
    "This certificate was configured for authentication with other Exchange servers. Mail "
    "flow to other Exchange servers could be affected by this error."
)


def transport_event(event_id: int, message: str) -> EventRecord:
    """Return an MSExchangeTransport event of the Application log."""
    return EventRecord(
        log="Application",
        provider="MSExchangeTransport",
        event_id=event_id,
        message=message,
        time=dt.datetime(2024, 6, 1, 9, 58, tzinfo=UTC),
    )


#: Each rule of this issue: evidence that shows its case, and a near miss (one fact
#: changed) that must not fire.
SCENARIOS: dict[str, tuple[Evidence, Evidence]] = {
    "internal-transport-certificate-event": (
        # The text under an id public reports give it, not Microsoft's 12013.
        Evidence(events=[transport_event(12023, INTERNAL_TEXT)]),
        Evidence(events=[transport_event(12099, "The service was stopped.")]),
    ),
    "tenant-attribution-refused": (
        Evidence(sessions=send_log(*handshake(), *TENANT), send_connectors=[TO_EXO]),
        Evidence(sessions=send_log(*handshake(), *ACCEPTED), send_connectors=[TO_EXO]),
    ),
    "refused-after-handshake": (
        Evidence(
            sessions=send_log(
                *handshake("mx.fabrikam.com"),
                "<,550 5.7.1 Unable to relay,",
                ">,QUIT,",
                "-,,Local",
                connector="Internet",
            )
        ),
        Evidence(sessions=send_log(*handshake("mx.fabrikam.com"), *ACCEPTED, connector="Internet")),
    ),
    "starttls-ignored-by-connector": (
        Evidence(sessions=send_log(*ignored_starttls(offered=True))),
        Evidence(sessions=send_log(*ignored_starttls(offered=False))),
    ),
    "starttls-masked-by-firewall": (
        Evidence(sessions=send_log(*masked("XXXXXXXA"), connector="Internet")),
        Evidence(sessions=send_log(*masked("STARTTLS"), connector="Internet")),
    ),
    "receive-requires-tls-refused": (
        Evidence(
            sessions=receive_log(*require_tls(offered=True, refused=True), remote="198.51.100.7"),
            receive_connectors=[PARTNER],
        ),
        Evidence(
            sessions=receive_log(*require_tls(offered=True, refused=False), remote="198.51.100.7"),
            receive_connectors=[PARTNER],
        ),
    ),
    "exchange-online-rejects-receive-certificate": (
        Evidence(
            sessions=receive_log(*exo_inbound(SELF_ROWS, EXO_LEAVES)),
            certificates=[ca_certificate(), SELF_SIGNED],
            receive_connectors=[FRONTEND],
        ),
        Evidence(
            sessions=receive_log(*exo_inbound(CA_ROWS, EXO_DELIVERS)),
            certificates=[ca_certificate(), SELF_SIGNED],
            receive_connectors=[FRONTEND],
        ),
    ),
}


def _rule_ids(evidence: Evidence) -> list[str]:
    return [finding.rule_id for finding in diagnose(evidence).findings]


def test_every_rule_of_the_conversation_has_a_scenario() -> None:
    """Every rule of the conversation and receive modules has its scenario pair here."""
    mine = {
        rule.rule_id
        for rule in CATALOGUE
        if rule.check.__module__.endswith((".conversation", ".receive", ".internal_transport"))
    }
    assert mine == set(SCENARIOS)


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_rule_fires_on_its_scenario_with_a_side(rule_id: str) -> None:
    """Each rule fires on its case, cites log rows, and names the side that must change."""
    evidence, _ = SCENARIOS[rule_id]
    findings = [f for f in diagnose(evidence).findings if f.rule_id == rule_id]
    assert len(findings) == 1, _rule_ids(evidence)
    assert findings[0].evidence
    if rule_id != "refused-after-handshake":
        assert findings[0].side is not None


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_near_miss_does_not_fire(rule_id: str) -> None:
    """The same evidence with one fact changed: the rule stays silent."""
    _, near_miss = SCENARIOS[rule_id]
    assert rule_id not in _rule_ids(near_miss)


def test_a_tenant_attribution_refusal_is_never_healthy() -> None:
    """The false all-clear of issue 26: TLS negotiated, then 5.7.64. Never healthy, exit 1."""
    evidence, near_miss = SCENARIOS["tenant-attribution-refused"]
    diagnosis = diagnose(evidence)
    assert diagnosis.verdict.value == "problems"
    (finding,) = [f for f in diagnosis.findings if f.rule_id == "tenant-attribution-refused"]
    assert finding.side is FaultSide.LOCAL
    assert "CN=mail.contoso.com" in finding.summary
    assert diagnose(near_miss).verdict.value == "healthy"


def test_tenant_attribution_joins_the_hybrid_configuration() -> None:
    """The hybrid configuration's certificate name is the one Exchange Online expects."""
    evidence, _ = SCENARIOS["tenant-attribution-refused"]
    joined = Evidence(
        sessions=evidence.sessions,
        send_connectors=evidence.send_connectors,
        hybrid_configurations=[HYBRID],
    )
    (finding,) = [f for f in diagnose(joined).findings if f.rule_id == "tenant-attribution-refused"]
    assert "CN=smtp.contoso.com" in finding.summary
    assert "the certificate presented is not that one" in finding.summary
    assert any("Set-SendConnector" in step.command.render() for step in finding.remediation)


def test_the_ignored_starttls_blames_this_server_not_the_remote() -> None:
    """Offered STARTTLS + IgnoreSTARTTLS + 451 5.7.3: the local connector, never the remote."""
    evidence, _ = SCENARIOS["starttls-ignored-by-connector"]
    with_connector = Evidence(
        sessions=evidence.sessions,
        send_connectors=[
            SendConnector(name="Outbound to Office 365", ignore_starttls=True, require_tls=False)
        ],
    )
    findings = diagnose(with_connector).findings
    assert "remote-starttls-unavailable" not in [f.rule_id for f in findings]
    (finding,) = [f for f in findings if f.rule_id == "starttls-ignored-by-connector"]
    assert finding.side is FaultSide.LOCAL
    assert "IgnoreSTARTTLS $true" in finding.summary


def test_a_masked_starttls_names_the_device_between() -> None:
    """250-XXXXXXXA: a firewall between the servers, neither end."""
    evidence, _ = SCENARIOS["starttls-masked-by-firewall"]
    (finding,) = [
        f for f in diagnose(evidence).findings if f.rule_id == "starttls-masked-by-firewall"
    ]
    assert finding.side is FaultSide.BETWEEN


def test_require_tls_refusal_when_this_server_did_not_offer_starttls_is_local() -> None:
    """530 5.7.0 while this server's EHLO lacked STARTTLS: this server must change."""
    evidence = Evidence(
        sessions=receive_log(*require_tls(offered=False, refused=True), remote="198.51.100.7"),
        receive_connectors=[PARTNER],
    )
    (finding,) = [
        f for f in diagnose(evidence).findings if f.rule_id == "receive-requires-tls-refused"
    ]
    assert finding.side is FaultSide.LOCAL
    assert finding.severity.value == "error"


def test_require_tls_refusals_from_unknown_hosts_are_background() -> None:
    """A host no connector names and not Exchange Online: reported as information."""
    evidence = Evidence(
        sessions=receive_log(*require_tls(offered=True, refused=True), remote="192.0.2.200"),
        receive_connectors=[PARTNER],
    )
    (finding,) = [
        f for f in diagnose(evidence).findings if f.rule_id == "receive-requires-tls-refused"
    ]
    assert finding.severity.value == "info"
    assert finding.subjects is not None


def test_exchange_online_and_the_self_signed_certificate_give_the_selection_reasons() -> None:
    """The connector's FQDN matches only the self-signed certificate: said, with the fix."""
    evidence, _ = SCENARIOS["exchange-online-rejects-receive-certificate"]
    (finding,) = [
        f
        for f in diagnose(evidence).findings
        if f.rule_id == "exchange-online-rejects-receive-certificate"
    ]
    assert "self-signed" in finding.summary
    assert "4.7.320" in finding.summary
    assert "the self-signed one is used" in finding.summary
    assert finding.side is FaultSide.LOCAL


def test_exchange_online_without_starttls_is_the_receive_side() -> None:
    """No STARTTLS offered to Exchange Online (its 4.4.317): the receive connector."""
    rows = [
        "+,,",
        ">,220 mail.contoso.com Microsoft ESMTP MAIL Service ready,",
        "<,EHLO NAM12-DM6-obe.outbound.protection.outlook.com,",
        ">,250-mail.contoso.com Hello [40.107.243.70],",
        ">,250 CHUNKING,",
        "<,QUIT,",
        "-,,Remote",
    ]
    findings = diagnose(Evidence(sessions=receive_log(*rows))).findings
    (finding,) = [f for f in findings if f.rule_id == "exchange-online-rejects-receive-certificate"]
    assert "4.4.317" in finding.summary


# -- the session's end, shared by the summary's two paths ---------------------------------


def test_refusal_and_acceptance_are_read_from_the_answering_side() -> None:
    """The send log's remote replies; the receive log's own replies."""
    (sent,) = send_log(*handshake(), *TENANT)
    assert refusal_code(refusal(sent.rows, Direction.SEND).data) == "550 5.7.64"  # type: ignore[union-attr]
    assert not mail_accepted(sent.rows, Direction.SEND)
    (delivered,) = send_log(*handshake(), *ACCEPTED)
    assert refusal(delivered.rows, Direction.SEND) is None
    assert mail_accepted(delivered.rows, Direction.SEND)
    (received,) = receive_log(*exo_inbound(CA_ROWS, EXO_DELIVERS))
    assert mail_accepted(received.rows, Direction.RECEIVE)


@given(
    st.lists(
        st.sampled_from(
            [
                "<,250 2.1.5 Recipient OK,",
                ">,BDAT 1000 LAST,",
                ">,BDAT 500,",
                "<,250 2.6.0 Queued mail for delivery,",
                "<,550 5.7.64 TenantAttribution; Relay Access Denied,",
                "<,354 Start mail input,",
                ">,DATA,",
                "<,250 OK,",
            ]
        ),
        max_size=12,
    )
)
def test_acceptance_needs_a_250_after_data_or_the_last_chunk(tail: list[str]) -> None:
    """Whatever the replies, accepted means a 250 answered DATA's end or BDAT LAST."""
    (session,) = send_log(*handshake(), *tail, "-,,Local")
    accepted = mail_accepted(session.rows, Direction.SEND)
    answers = [row.data for row in session.rows]
    if accepted:
        assert any(text.startswith(("354", "BDAT")) for text in answers)
    if not any(text.startswith("<,250") for text in tail):
        assert not accepted


def test_a_refused_send_session_no_rule_explains_is_not_healthy() -> None:
    """A 4xx refusal without TLS that no rule claims: inconclusive, never healthy."""
    rows = [
        "+,,",
        "<,220 mx.fabrikam.com ESMTP,",
        ">,EHLO mail.contoso.com,",
        "<,250 mx.fabrikam.com Hello,",
        ">,MAIL FROM:<a@contoso.com>,",
        "<,452 4.3.1 Insufficient system resources,",
        ">,QUIT,",
        "-,,Local",
    ]
    ok = send_log(*handshake("mx.fabrikam.com"), *ACCEPTED, connector="Internet")
    refused = send_log(*rows, connector="Internet")
    diagnosis = diagnose(Evidence(sessions=[*ok, *refused]))
    assert diagnosis.verdict.value != "healthy"
    assert diagnose(Evidence(sessions=ok)).verdict.value == "healthy"


def test_exchange_online_without_starttls_and_a_stale_name_is_one_finding() -> None:
    """KB 2989382: the stale TlsCertificateName and Exchange Online's failing sessions, once."""
    rows = [
        "+,,",
        ">,220 mail.contoso.com Microsoft ESMTP MAIL Service ready,",
        "<,EHLO NAM12-DM6-obe.outbound.protection.outlook.com,",
        ">,250-mail.contoso.com Hello [40.107.243.70],",
        ">,250 CHUNKING,",
        "<,QUIT,",
        "-,,Remote",
    ]
    stale = ReceiveConnector(
        name="Default Frontend EX01",
        identity="EX01\\Default Frontend EX01",
        fqdn="mail.contoso.com",
        auth_mechanism="Tls, Integrated",
        tls_certificate_name=parse_tls_certificate_name(
            "<I>CN=Contoso Issuing CA 2024, O=Contoso Ltd, C=US<S>CN=mail.contoso.com, O=Contoso Ltd, C=US"
        ),
    )
    evidence = Evidence(
        sessions=receive_log(*rows), certificates=[ca_certificate()], receive_connectors=[stale]
    )
    findings = diagnose(evidence).findings
    assert [f.rule_id for f in findings] == ["exchange-online-rejects-receive-certificate"]
    assert "event 12014" in findings[0].summary
    assert "TlsCertificateName" in findings[0].summary
    # The near miss: without Exchange Online's sessions the configuration rule reports it.
    alone = Evidence(certificates=[ca_certificate()], receive_connectors=[stale])
    assert [f.rule_id for f in diagnose(alone).findings] == [
        "receive-connector-certificate-not-found"
    ]


@pytest.mark.parametrize("event_id", [12013, 12023, 12024, 4000])
def test_the_internal_transport_text_is_found_under_any_id(event_id: int) -> None:
    """Matched on the text as well as the id; the fix names the thumbprint of the text."""
    (finding,) = diagnose(Evidence(events=[transport_event(event_id, INTERNAL_TEXT)])).findings
    assert finding.rule_id == "internal-transport-certificate-event"
    rendered = [step.command.render() for step in finding.remediation]
    assert any(
        "Enable-ExchangeCertificate -Thumbprint '0123456789ABCDEF0123456789ABCDEF01234567'" in r
        for r in rendered
    )
    assert any(r.startswith("New-ExchangeCertificate") for r in rendered)


def test_both_summary_paths_tell_refusals_apart(tmp_path: Path) -> None:
    """The shared signature: 550 5.7.64 and 550 5.1.1 after TLS are two causes, on both paths."""
    pytest.importorskip("pyarrow")
    from exchange_tls.protocol_log.columnar import summarise_clean_log
    from exchange_tls.protocol_log.reader import iter_protocol_rows
    from exchange_tls.protocol_log.summary import summarise_rows

    header = (
        "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n"
        "#Log-type: SMTP Send Protocol Log\n#Date: 2024-06-01T10:00:00.000Z\n"
        "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context\n"
    )
    lines = []
    for index in range(6):
        refusal_text = (
            "550 5.7.64 TenantAttribution; Relay Access Denied"
            if index % 2
            else "550 5.1.1 User unknown"
        )
        rows = [*handshake(), f"<,{refusal_text},", ">,QUIT,", "-,,Local"]
        for number, row in enumerate(rows):
            lines.append(
                f"2024-06-01T10:{index:02d}:{number:02d}.000Z,Outbound to Office 365,"
                f"08DC0A{index:02d},{number},10.0.0.5:4000,52.101.1.1:25,{row}"
            )
    path = tmp_path / "SEND2024060110-1.LOG"
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    careful = summarise_rows(iter_protocol_rows(path)).freeze()
    fast = summarise_clean_log(path)
    assert fast is not None
    details = {signature[3] for signature, _ in careful.occurrences} | {
        signature_of(session)[3] for session in careful.sessions
    }
    assert {"550 5.7.64", "550 5.1.1"} <= details
    assert fast.freeze().occurrences == careful.occurrences


def test_exchange_online_refused_here_after_tls_is_never_healthy() -> None:
    """A receive session from Exchange Online refused after TLS (452 4.3.1): not healthy."""
    refused = exo_inbound(
        CA_ROWS,
        [
            "<,EHLO NAM12-DM6-obe.outbound.protection.outlook.com,",
            ">,250 mail.contoso.com Hello,",
            "<,MAIL FROM:<x@fabrikam.com>,",
            ">,452 4.3.1 Insufficient system resources,",
            "<,QUIT,",
            "-,,Remote",
        ],
    )
    ok = send_log(*handshake("mx.fabrikam.com"), *ACCEPTED, connector="Internet")
    diagnosis = diagnose(Evidence(sessions=[*ok, *receive_log(*refused)]))
    assert diagnosis.verdict.value != "healthy"
    assert "refused-after-handshake" in [f.rule_id for f in diagnosis.findings]
    # The near miss: the same session from an unknown host is background, not this rule.
    unknown = [
        row.replace("NAM12-DM6-obe.outbound.protection.outlook.com", "mta.example.net")
        for row in refused
    ]
    quiet = diagnose(Evidence(sessions=[*ok, *receive_log(*unknown, remote="192.0.2.200")]))
    assert "refused-after-handshake" not in [f.rule_id for f in quiet.findings]
