import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import ParseError, explain_error
from exchange_tls.cli import main

QUEUES = Path(__file__).parent / "data" / "queues"
KB4051498 = (
    '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out." '
    "Attempted failover to alternate host, but that did not succeed. Either there are no "
    "alternate hosts, or delivery failed to all alternate hosts."
)
TIMEOUT_CAUSES = [
    "certificate-not-enabled-for-smtp",
    "certificate-missing-private-key",
    "certificate-key-inaccessible",
    "certificate-revocation-check-failed",
    "connection-failure",
]


@pytest.mark.parametrize(
    ("sample", "codes", "causes"),
    [
        (
            "ms-kb4051498_queue-lasterror_421-4.4.1-timeout.txt",
            ["451 4.4.0", "421 4.4.1"],
            TIMEOUT_CAUSES,
        ),
        (
            "supertekboy_queue-lasterror_421-4.2.1_deliver-typo.txt",
            ["451 4.4.0", "421 4.2.1"],
            TIMEOUT_CAUSES,
        ),
        (
            "jaapwesselius_edge-hybrid_lasterror_LED-form_nocredentials.txt",
            ["451 4.4.395", "421 4.4.1"],
            TIMEOUT_CAUSES,
        ),
        (
            "ms-kb979174_queue-viewer-lasterror_454-4.7.0.txt",
            ["451 4.4.0", "454 4.7.0"],
            ["internal-transport-certificate-problem"],
        ),
        (
            "blog_ex2007-2010_queue-lasterror_initial-error_dns-query-failed_lowercased-truncated.txt",
            ["451 4.4.0"],
            ["connection-failure"],
        ),
        (
            "hayesjupe-blog_ex2010-to-2016_error-421-4.4.2-socket-error_retyped-in-prose.txt",
            ["421"],
            ["tls-protocol-mismatch", "connection-failure"],
        ),
        (
            "msqa_ex2013_ndr-diagnostic_451-4.7.3-secure-domain_wrapped.txt",
            ["400 4.4.7", "451 4.7.3"],
            ["remote-starttls-unavailable", "no-certificate-for-connector-fqdn"],
        ),
    ],
)
def test_real_queue_errors_give_their_causes(
    sample: str, codes: list[str], causes: list[str]
) -> None:
    """Each published queue error decodes to its replies and the causes that give it."""
    explanation = explain_error((QUEUES / sample).read_text(encoding="utf-8"))
    assert [f"{r.code} {r.enhanced or ''}".strip() for r in explanation.replies] == codes
    assert [rule.rule_id for rule in explanation.candidates] == causes


@pytest.mark.parametrize(
    ("error", "causes"),
    [
        (
            "441 4.4.1 Error encountered while communicating with primary target IP address: "
            '"Failed to connect. Winsock error code: 10060, Win32 error code: 10060."',
            ["connection-failure"],
        ),
        (
            "454 4.7.5 The certificate specified in TlsCertificateName of the SendConnector "
            "could not be found.",
            ["tls-certificate-name-not-found", "tls-certificate-name-invalid"],
        ),
        (
            "421 TLSAuthLevel cannot be DomainValidation with out a valid TLS Domain.",
            ["tls-domain-validation-misconfigured"],
        ),
        (
            '451 4.4.0 Primary target IP address responded with: "451 5.7.3 Must issue a '
            'STARTTLS command first."',
            # Deceptive (Microsoft): TLS was attempted and failed, usually over the
            # certificate; the causes of a failed attempt come first.
            [
                "certificate-not-enabled-for-smtp",
                "certificate-missing-private-key",
                "tls-protocol-mismatch",
                "remote-requires-starttls",
            ],
        ),
        (
            "451 5.7.3 Cannot load Internal Transport Certificate. Exchange Server "
            "authentication failed.",
            ["internal-transport-certificate-problem"],
        ),
        (
            "454 4.7.5 Certificate validation failure",
            ["certificate-untrusted", "certificate-revocation-check-failed", "certificate-expired"],
        ),
        ("550 5.1.1 User unknown", []),
    ],
)
def test_signatures_from_the_failure_catalogue(error: str, causes: list[str]) -> None:
    """The exact strings of the failure catalogue map to the rules that cover them."""
    assert [rule.rule_id for rule in explain_error(error).candidates] == causes


def test_every_signature_names_rules_of_the_catalogue() -> None:
    """The class fallback names only rules that exist (a typo would fail only on a match)."""
    from exchange_tls.diagnosis.catalogue import lookup
    from exchange_tls.diagnosis.explain import _CLASS_FALLBACK

    for rule_ids in _CLASS_FALLBACK.values():
        for rule_id in rule_ids:
            assert lookup(rule_id).rule_id == rule_id


def test_text_without_a_reply_is_refused() -> None:
    """Prose with no reply code in it is a ParseError, as for any reply."""
    with pytest.raises(ParseError, match="expected an SMTP reply code"):
        explain_error("mail is stuck, please help")


@given(st.text(max_size=200))
def test_any_text_gives_an_explanation_or_parse_error(text: str) -> None:
    """Arbitrary text never raises anything but ParseError."""
    try:
        explanation = explain_error(text)
    except ParseError:
        return
    assert json.loads(json.dumps(explanation.to_dict()))["error"] == explanation.error.raw


def test_cli_explains_the_kb_error_word_for_word(capsys: pytest.CaptureFixture[str]) -> None:
    """`exchange-tls explain` prints the chain, the reading and the causes with their needs."""
    assert main(["explain", "421 4.4.2 Connection dropped due to SocketError"]) == 0
    assert capsys.readouterr().out == (
        "Replies, outermost first:\n"
        "  421 4.4.2 Connection dropped due to SocketError  (Bad connection)\n"
        "What it says:\n"
        "  The TLS handshake was dropped or refused: no common version or cipher.\n"
        "  The connection was dropped: a TLS version or cipher mismatch does this, as does "
        "the network.\n"
        "Causes that give this error, and the evidence that confirms each:\n"
        "  tls-protocol-mismatch (F8): The two ends share no TLS version or cipher\n"
        "    needs: a send session failing with SocketError or AlgorithmMismatch, or a queue "
        "error 'Connection dropped due to SocketError'\n"
        "  connection-failure (F14): The remote host cannot be reached\n"
        "    needs: a 'Failed to connect. Winsock error code' row, or a queue error naming a "
        "failed connection with no TLS failure behind it\n"
        "The error alone cannot tell them apart: run 'exchange-tls diagnose' on the send "
        "protocol log with the Get-ExchangeCertificate, Get-Queue and Get-SendConnector "
        "output.\n"
    )


def test_cli_reads_standard_input_and_writes_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no text, explain reads standard input; --json writes the explanation as data."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(KB4051498))
    assert main(["explain", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [reply["code"] for reply in document["replies"]] == [451, 421]
    assert document["replies"][1]["meaning"] == "No answer from host"
    assert [c["rule_id"] for c in document["candidates"]] == TIMEOUT_CAUSES


def test_cli_refuses_prose_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Text that holds no reply is an input error: exit 2 and one line."""
    assert main(["explain", "mail is stuck"]) == 2
    assert capsys.readouterr().err.startswith("exchange-tls: error: <LastError>:1:1: expected")


@pytest.mark.parametrize(
    ("error", "reading", "causes"),
    [
        (
            "450 4.7.320 Certificate validation failed [Message=SubjectMismatch]",
            "SubjectMismatch",
            ["exchange-online-rejects-receive-certificate", "inbound-tls-failure"],
        ),
        (
            "550 5.7.64 TenantAttribution; Relay Access Denied",
            "TenantAttribution",
            [
                "tenant-attribution-refused",
                "self-signed-certificate-external",
                "exchange-online-connector-incomplete",
            ],
        ),
        (
            '451 4.4.0 Primary target IP address responded with: "421 4.4.2 Connection '
            'dropped due to SocketError." Security status InvalidToken',
            "InvalidToken",
            ["tls-protocol-mismatch", "connection-failure"],
        ),
        (
            "450 4.4.101 Proxy session setup failed on Frontend with '451 4.4.0 Primary "
            'target IP address responded with: "421 4.4.2 Security status InvalidToken"\'',
            "InvalidToken",
            ["tls-protocol-mismatch"],
        ),
        (
            "454 4.7.0 Failed to establish appropriate TLS channel: UnknownCredentials: "
            "Access Denied",
            "Failed to establish appropriate TLS channel",
            ["certificate-not-enabled-for-smtp"],
        ),
        (
            "454 4.7.5 The certificate is expired",
            "is expired",
            ["certificate-expired"],
        ),
        (
            "451 4.7.323 tlsa-invalid: The domain failed DANE validation",
            "DANE",
            ["inbound-tls-failure"],
        ),
        (
            "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client "
            "to support TLS 1.2",
            "4.7.66",
            ["tls-protocol-mismatch", "legacy-tls-to-exchange-online"],
        ),
        (
            "450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is "
            "required to send mail]",
            "KB 2989382",
            # Exchange Online's connection to this organisation: the on-premises receive
            # side, never a send connector's rule.
            [
                "receive-connector-certificate-not-found",
                "exchange-online-rejects-receive-certificate",
                "starttls-certificate-missing-event",
                "inbound-tls-failure",
                "no-certificate-for-connector-fqdn",
            ],
        ),
    ],
)
def test_what_exchange_online_writes_is_read(error: str, reading: str, causes: list[str]) -> None:
    """Exchange Online's errors about on-premises certificates have readings and causes."""
    explanation = explain_error(error)
    assert any(reading in text for text in explanation.readings), explanation.readings
    assert [rule.rule_id for rule in explanation.candidates] == causes


def test_an_unknown_code_falls_back_on_its_class() -> None:
    """A 4.7.5 code no signature names points at the certificate rules, by its class."""
    explanation = explain_error("554 5.7.5 Something no one has written down")
    assert explanation.readings[-1].startswith("No entry for 5.7.5; by its class:")
    assert [rule.rule_id for rule in explanation.candidates][:2] == [
        "certificate-expired",
        "certificate-untrusted",
    ]


@pytest.mark.parametrize(
    ("text", "reading", "first_cause", "side"),
    [
        # KB 4051498's own wording, with the article's period.
        (
            "TLS negotiation failed with error UnknownCredentials.",
            "UnknownCredentials (0x8009030D)",
            "certificate-not-enabled-for-smtp",
            "local",
        ),
        (
            "TLS negotiation failed with error NoCredentials;",
            "NoCredentials (0x8009030E)",
            "certificate-missing-private-key",
            "local",
        ),
        (
            "SMTPSEND.SuspiciousRemoteServerError",
            "disconnected abruptly",
            "tls-protocol-mismatch",
            None,
        ),
        (
            "The client and server cannot communicate, because they do not possess a common "
            "algorithm",
            "AlgorithmMismatch (0x80090331)",
            "tls-protocol-mismatch",
            None,
        ),
        (
            "The credentials supplied to the package were not recognized",
            "UnknownCredentials",
            "certificate-not-enabled-for-smtp",
            "local",
        ),
        (
            "451 4.4.0 SMTPSEND.SuspiciousRemoteServerError; remote server disconnected "
            "abruptly; retry will be delayed",
            "SuspiciousRemoteServerError",
            "tls-protocol-mismatch",
            None,
        ),
        (
            "451 5.7.3 Must issue a STARTTLS command first",
            "deceptive",
            "certificate-not-enabled-for-smtp",
            None,
        ),
        (
            "450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is "
            "required to send mail] [LastAttemptedServerName=mail.contoso.com]",
            "KB 2989382",
            "receive-connector-certificate-not-found",
            "local",
        ),
    ],
)
def test_text_beyond_replies_is_read_and_names_the_side(
    text: str, reading: str, first_cause: str, side: str | None
) -> None:
    """Log lines with punctuation, status words, Schannel's messages: read, with the side."""
    explanation = explain_error(text)
    assert any(reading in line for line in explanation.readings), explanation.readings
    assert explanation.candidates[0].rule_id == first_cause
    assert explanation.to_dict()["side"] == side


@pytest.mark.parametrize(
    ("code", "result"),
    [
        ("4.7.321", "starttls-not-supported"),
        ("4.7.322", "certificate-expired"),
        ("4.7.323", "tlsa-invalid"),
        ("4.7.324", "dnssec-invalid"),
        ("4.7.325", "certificate-host-mismatch"),
        ("5.7.321", "starttls-not-supported"),
        ("5.7.322", "certificate-expired"),
        ("5.7.323", "tlsa-invalid"),
        ("5.7.324", "dnssec-invalid"),
        ("5.7.325", "certificate-host-mismatch"),
    ],
)
def test_every_exchange_online_tls_code_is_read(code: str, result: str) -> None:
    """4.7.321-325 and 5.7.321-325 are read with their RFC 8460 result type."""
    explanation = explain_error(f"{'451' if code[0] == '4' else '550'} {code} TLS failure")
    assert any(f"{code} ({result}" in line for line in explanation.readings)
    assert explanation.candidates[0].rule_id == "inbound-tls-failure"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("451 4.4.8 MX hosts failed MTA-STS validation", "MTA-STS"),
        ("550 5.4.8 MX hosts failed MTA-STS validation", "permanent"),
        ("451 4.7.320 Certificate validation failed [Message=SubjectMismatch]", "SubjectMismatch"),
    ],
)
def test_mta_sts_and_validation_codes_are_read(text: str, words: str) -> None:
    """MTA-STS 4.4.8 / 5.4.8 and 4.7.320 have readings."""
    assert any(words in line for line in explain_error(text).readings)


def test_a_status_word_no_table_holds_is_still_read() -> None:
    """An unknown SMTPSEND word is said to be one, not refused."""
    explanation = explain_error("SMTPSEND.SomethingNew")
    assert "smtpsend.somethingnew" in explanation.readings[0]
    assert explanation.candidates == ()


def test_the_attr36_article_wording_is_read() -> None:
    """Microsoft's ATTR36 article (KB 4019940) quotes the NDR without 'TenantAttribution'."""
    explanation = explain_error(
        "550 5.7.64 Relay Access Denied ATTR36. For more details please refer to: "
        "https://support.microsoft.com/kb/3169958"
    )
    assert explanation.candidates[0].rule_id == "tenant-attribution-refused"
