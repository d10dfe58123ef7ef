"""Rules as facts, checks and plans: facts once per Context, plans from models alone."""

from __future__ import annotations

from exchange_tls import Evidence, Services, parse_tls_certificate_name
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.credentials import Cause, credential_failures
from exchange_tls.diagnosis.facts.presented import presented_certificates, proven_by_log
from exchange_tls.diagnosis.facts.sessions import modern_session, remote_reply_rows
from exchange_tls.remediation.plans.certificates import (
    enable_smtp_steps,
    renewal_steps,
    self_signed_steps,
)
from exchange_tls.remediation.steps import Purpose
from tests.builders import (
    NOW,
    T1,
    T2,
    certificate,
    presented,
    receive_connector,
    send_connector,
    send_sessions,
)


def context_of(evidence: Evidence) -> Context:
    """Return the joined evidence the rules read, at the builders' time."""
    return Context(evidence, NOW)


def test_each_fact_is_computed_once_per_context() -> None:
    """Two rules asking for the same fact get the very same object, not a recomputation."""
    evidence = Evidence(
        sessions=send_sessions(*presented(T1, "UnknownCredentials")),
        certificates=[certificate(T1, services=Services.IIS)],
        send_connectors=[send_connector()],
    )
    context = context_of(evidence)
    for fact in (credential_failures, presented_certificates, remote_reply_rows):
        assert fact(context) is fact(context), fact.__name__
    [failure] = credential_failures(context)
    assert failure.cause is Cause.NOT_ENABLED
    # Another Context decides afresh: facts belong to one diagnosis.
    assert credential_failures(context_of(evidence)) is not credential_failures(context)


def test_facts_about_tls_working_come_from_the_log() -> None:
    """The last TLS 1.2 session and the proof that a certificate works are the log's."""
    [session] = send_sessions(*presented(T1, None))
    context = context_of(Evidence(sessions=[session], certificates=[certificate(T1)]))
    assert modern_session(context) is session
    assert proven_by_log(context, certificate(T1)) is session
    assert proven_by_log(context, certificate(T2)) is None


def test_a_plan_needs_only_models() -> None:
    """Renewal re-points every connector naming the certificate, send and receive alike."""
    name = parse_tls_certificate_name("<I>CN=Contoso CA<S>CN=mail.contoso.com")
    connectors = [
        send_connector(tls_certificate_name=name),
        receive_connector(tls_certificate_name=name),
    ]
    steps = renewal_steps(certificate(T1, is_self_signed=False), connectors)
    commands = [step.command.render() for step in steps]
    assert commands[0].startswith(f"Get-ExchangeCertificate -Thumbprint '{T1}'")
    assert any(line.startswith("Set-SendConnector -Identity 'Out'") for line in commands)
    assert any(line.startswith("Set-ReceiveConnector") for line in commands)
    assert steps[-1].purpose is Purpose.VERIFY
    assert renewal_steps(certificate("not a thumbprint"), connectors) == ()


def test_an_unknown_thumbprint_gives_no_enable_step() -> None:
    """Without a thumbprint there is nothing to enable: retry and verify remain, in order."""
    steps = enable_smtp_steps(None, ["EX01\\5"])
    assert [step.purpose for step in steps] == [Purpose.FIX, Purpose.VERIFY]
    assert "Enable-ExchangeCertificate" not in " ".join(s.command.render() for s in steps)
    steps = enable_smtp_steps(T1, [])
    assert [step.purpose for step in steps] == [
        Purpose.CHECK,
        Purpose.FIX,
        Purpose.FIX,
        Purpose.VERIFY,
    ]


def test_the_self_signed_plan_names_only_a_fit_ca_certificate() -> None:
    """A CA-issued SMTP certificate among the candidates is named; a self-signed one never."""
    connector = send_connector(smart_hosts=("contoso-com.mail.protection.outlook.com",))
    fit = certificate(T2, is_self_signed=False)
    named = [
        step.command.render()
        for step in self_signed_steps(connector, [certificate(T1, is_self_signed=True), fit])
        if step.purpose is Purpose.FIX
    ]
    assert len(named) == 1
    assert T2 in named[0]
    assert not [
        step
        for step in self_signed_steps(connector, [certificate(T1, is_self_signed=True)])
        if step.purpose is Purpose.FIX
    ]
