"""Issue 26: every TLS finding says which side failed: this server, the remote, or between.

A rule either declares its side (``@rule(..., side=...)``), or is listed here with the
reason its side depends on the evidence (each of its findings then names one where the
evidence decides) or cannot be known.
"""

from __future__ import annotations

import pytest

from exchange_tls import Evidence, diagnose
from exchange_tls.diagnosis.catalogue import CATALOGUE
from exchange_tls.diagnosis.weight import FaultSide
from tests.builders import EXAMPLES, NOW, example, queue, send_sessions

#: Rules whose findings name their side one by one, from their evidence.
BY_EVIDENCE = {
    "refused-after-handshake": "whoever refused: the remote for a send session, this server "
    "for a receive session",
    "probe-remote-legacy-tls": "set per finding from the probe (the remote)",
    "probe-remote-certificate": "set per finding from the probe (the remote)",
    "probe-starttls": "the probe tells the remote, a device between, or this server",
    "probe-domain-policy": "set per finding from the probe (the remote)",
    "probe-rules-out-remote": "set per finding: the probe clears the remote, so this server",
    "receive-requires-tls-refused": "the remote when it was offered STARTTLS and went on in "
    "clear, this server when it did not offer STARTTLS",
    "tls-protocol-mismatch": "this server when no session shows it using TLS 1.2, the remote "
    "when one does",
    "tls-report-certificate-expired": "this server when its presented certificate expired; "
    "unknown when that certificate is not in the evidence or is valid (something else "
    "answered at the MX)",
    "tls-report-certificate-name": "this server when its presented certificate lacks the "
    "name; unknown when that certificate is not in the evidence or looks right",
    "tls-report-starttls-not-supported": "this server when its receive connector offers no "
    "STARTTLS, something between otherwise",
    "tls-report-validation-failure": "this server when its certificate is flawed; unknown "
    "when that certificate is not in the evidence or looks right",
    "tls-report-policy-failure": "this server for a TLSA record that does not match, "
    "something between (DNS, the policy host) otherwise",
}
#: Rules whose cause, and so side, is unknown: they say no rule could tell why.
UNKNOWN = {
    "unexplained-tls-failure": "no rule could tell why the handshake failed",
    "unexplained-queue-error": "no rule could tell why the queue fails",
    "inbound-failures-widespread": "unexplained failures of many hosts: this server or them",
}


@pytest.mark.parametrize("entry", list(CATALOGUE), ids=lambda entry: entry.rule_id)
def test_every_rule_declares_its_side_or_says_why_not(entry: object) -> None:
    """A side on the rule, or a reason in one of the two tables above; never both."""
    rule_id = entry.rule_id  # type: ignore[attr-defined]
    listed = rule_id in BY_EVIDENCE or rule_id in UNKNOWN
    assert (entry.side is not None) != listed, rule_id  # type: ignore[attr-defined]


def test_the_tables_name_only_registered_rules() -> None:
    """No stale entries: every rule named above is in the catalogue."""
    known = {entry.rule_id for entry in CATALOGUE}
    assert set(BY_EVIDENCE) | set(UNKNOWN) <= known


FOLDERS = sorted(path.name for path in EXAMPLES.iterdir() if (path / "EXPECTED.md").exists())


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_example_finding_names_its_side(folder: str) -> None:
    """Findings of the example folders name a side, unless their cause is unknown."""
    findings = diagnose(example(folder), now=NOW).findings
    assert [f.rule_id for f in findings if f.side is None and f.rule_id not in UNKNOWN] == []


@pytest.mark.parametrize(
    ("rule_id", "side"),
    [
        ("certificate-not-enabled-for-smtp", FaultSide.LOCAL),
        ("certificate-missing-private-key", FaultSide.LOCAL),
        ("certificate-key-inaccessible", FaultSide.LOCAL),
        ("certificate-revocation-check-failed", FaultSide.LOCAL),
        ("protocol-logging-disabled", FaultSide.LOCAL),
        ("tls13-enabled-in-registry", FaultSide.LOCAL),
        ("connection-failure", FaultSide.BETWEEN),
        ("inbound-background", FaultSide.REMOTE),
    ],
)
def test_the_rules_that_were_silent_now_name_their_side(rule_id: str, side: FaultSide) -> None:
    """The rules issue 26 found without a side declare the one their cause makes plain."""
    [entry] = [entry for entry in CATALOGUE if entry.rule_id == rule_id]
    assert entry.side is side


_DROPPED = (
    '*,,"TLS negotiation failed with error SocketError"',
    "-,,Local",
)
_EHLO = (">,EHLO mail.contoso.com,", "<,250-mx Hello,", "<,250 STARTTLS,", ">,STARTTLS,")
_TLS12 = (
    '*,,"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption '
    "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with "
    'strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)


def test_protocol_mismatch_blames_this_server_until_it_is_seen_using_tls12() -> None:
    """No TLS 1.2 session here: this server; a TLS 1.2 session here: the remote."""
    failing = [f"0A|{row}" for row in (*_EHLO, "<,220 2.0.0 SMTP server ready,", *_DROPPED)]
    alone = diagnose(Evidence(sessions=send_sessions(*failing)), now=NOW).findings
    [mismatch] = [f for f in alone if f.rule_id == "tls-protocol-mismatch"]
    assert mismatch.side is FaultSide.LOCAL
    working = [
        f"0B|{row}" for row in (*_EHLO, "<,220 2.0.0 SMTP server ready,", _TLS12, "-,,Local")
    ]
    both = diagnose(Evidence(sessions=send_sessions(*failing, *working)), now=NOW).findings
    [mismatch] = [f for f in both if f.rule_id == "tls-protocol-mismatch"]
    assert mismatch.side is FaultSide.REMOTE


def test_a_connection_failure_is_between() -> None:
    """A Winsock connect failure: something between the two ends."""
    findings = diagnose(example("connection-failure"), now=NOW).findings
    [failure] = [f for f in findings if f.rule_id == "connection-failure"]
    assert failure.side is FaultSide.BETWEEN


def test_an_unexplained_queue_error_says_no_side() -> None:
    """An unknown cause names no side (the views say it is unknown)."""
    failing = queue("451 4.4.0 Something nobody has seen")
    [finding] = diagnose(Evidence(queues=[failing]), now=NOW).findings
    assert finding.side is None


@pytest.mark.parametrize("form", ["text", "markdown", "html"])
def test_a_finding_without_a_side_says_so_in_every_view(form: str) -> None:
    """'Must change: unknown …', never nothing, when the cause is unknown."""
    failing = queue("451 4.4.0 Something nobody has seen")
    rendered = diagnose(Evidence(queues=[failing]), now=NOW).render(form)
    assert "Must change" in rendered
    assert "unknown: the evidence does not tell which end" in rendered
