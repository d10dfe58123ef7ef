"""Rules about the conversation with the remote host: protocols, STARTTLS, the network."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import certificate_ref, failure_row, plural, queue_ref, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.conversation import remote_fault_replies, sessions_without_offer
from exchange_tls.diagnosis.facts.exchange_online import session_to_exchange_online
from exchange_tls.diagnosis.facts.probes import explains_protocol_failure
from exchange_tls.diagnosis.facts.sessions import (
    client_handshake_events,
    modern_session,
    replies_saying,
    tls_explains,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules._shared import TIMEOUT, event_ref, schannel_claim
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.remediation.commands import (
    GetSendConnector,
    SetSendConnector,
    TestNetConnection,
)
from exchange_tls.remediation.plans.tls import (
    connection_steps,
    enable_tls12_steps,
    inbound_tls_steps,
    internal_certificate_steps,
    lacks_smtp,
    queues_drain,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__: list[str] = []

TLS_VERSIONS = "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/send-receive-emails-socketerror"
TLS_BEST_PRACTICES = "https://learn.microsoft.com/exchange/exchange-tls-configuration"
TLS_DEPRECATION = "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/mail-flow-errors-tls-1-0-1-1-disablement"
SELECTION_DOCS = (
    "https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates"
)
_LEGACY = ("TLS1_0", "TLS1_1", "SSL3", "SSL2")


def _success_row(session: SmtpSession) -> EvidenceRef:
    row = next((r for r in session.rows if r.text.startswith("TLS protocol ")), session.rows[0])
    return row_ref(row, "this server negotiated TLS 1.2 or later here")


@rule(
    "tls-protocol-mismatch",
    title="The two ends share no TLS version or cipher",
    severity=Severity.ERROR,
    failure_mode="F8",
    meaning="The handshake is dropped (SocketError) or refused (AlgorithmMismatch): typically "
    "a server that offers only TLS 1.0/1.1 talking to one that requires TLS 1.2, such as "
    "Exchange Online. When the same logs show this server negotiating TLS 1.2, the cause is "
    "at the peer or a device in between, not this server's TLS versions. Schannel events of "
    "failed client handshakes (36871 for the client, or a protocol alert 36887/36888) within "
    "an hour of the failures confirm it, and raise the confidence to high.",
    needs=(
        "a send session failing with SocketError or AlgorithmMismatch, or a queue error "
        "'Connection dropped due to SocketError'",
    ),
    remedy="Enable TLS 1.2 for Schannel and .NET (create the keys when missing, set the "
    "values, reboot, verify); when the log shows TLS 1.2 working here, look at the peer "
    "and any TLS-inspecting device instead.",
    references=(TLS_VERSIONS, TLS_BEST_PRACTICES),
    signatures=(
        Signature(
            groups=(("connection dropped",),),
            reading="The connection was dropped: a TLS version or cipher mismatch does this, "
            "as does the network.",
            rank=2,
        ),
        Signature(
            groups=(("must issue a starttls command first",),),
            reading="The remote host requires STARTTLS, and the message went without it.",
            rank=2,
        ),
        Signature(
            groups=(("invalidtoken",),),
            reading="Schannel reported InvalidToken: the handshake broke off with a message "
            "it did not expect, which an old TLS version or a device in between can cause.",
            rank=3,
        ),
        Signature(
            groups=(("socketerror",), ("algorithmmismatch",)),
            reading="The TLS handshake was dropped or refused: no common version or cipher.",
            rank=1,
        ),
        Signature(
            groups=(("4.7.66",),),
            reading="Exchange Online refuses TLS 1.0 and 1.1 (421 4.7.66): this server must "
            "use TLS 1.2.",
            rank=1,
        ),
    ),
    selection="Server-wide: the Schannel and .NET settings of the sending server.",
    contradiction="A session in the logs in which this server negotiated TLS 1.2 or later "
    "drops the registry fix and lowers the confidence to low: the cause lies at the peer.",
    inputs=("send-log", "queues"),
)
def tls_protocol_mismatch(context: Context, report: Report) -> Iterator[Finding]:
    """F8: SocketError / AlgorithmMismatch handshakes, or a queue's SocketError drop."""
    evidence: list[EvidenceRef] = []
    hosts: list[str] = []
    connectors: list[str] = []
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for session in context.send_sessions:
        tls = session.tls
        if explains_protocol_failure(context, session):
            continue  # a probe shows the remote accepts only old TLS: probe-remote-legacy-tls
        if (
            tls is not None
            and tls.succeeded is False
            and tls.error in ("SocketError", "AlgorithmMismatch")
        ):
            connectors.append(session.connector_id)
            spans.append((session.start, session.end))
            row = failure_row(session)
            if row is not None:
                evidence.append(row_ref(row, f"the handshake failed with {tls.error}"))
            if session.remote_endpoint and session.remote_endpoint.host:
                hosts.append(session.remote_endpoint.host)
    evidence.extend(replies_saying(context, ["connection dropped due to socketerror"]))
    if not evidence:
        return
    modern = modern_session(context)
    if modern is not None:
        yield report(
            summary=(
                "TLS handshakes are dropped or refused, yet the logs show this server "
                f"negotiating {modern.tls.protocol if modern.tls else 'TLS 1.2'} at "
                f"{modern.end:%Y-%m-%d %H:%M} UTC: this server can do TLS 1.2, so the peer "
                "(its versions or ciphers) or a TLS-inspecting device in between is the "
                "likely cause, not this server's settings."
            ),
            evidence=(*dict.fromkeys(evidence), _success_row(modern)),
            confidence=Confidence.LOW,
            preconditions=(
                "a successful TLS 1.2 session of this server rules out its TLS 1.2 settings",
            ),
            remediation=(
                *(
                    RemediationStep(
                        purpose=Purpose.CHECK,
                        command=TestNetConnection(computer_name=host),
                        note="The port answers; then compare the peer's TLS versions and ciphers.",
                    )
                    for host in dict.fromkeys(hosts)
                ),
                queues_drain("once the peer or the device in between is fixed"),
            ),
            # The connectors, not the hosts: a summary keeps a few sessions per cause, so
            # the hosts it names are examples, while the connectors are all there.
            subject=",".join(dict.fromkeys(connectors)) or "TLS 1.2",
            # This server negotiates TLS 1.2: the peer's versions or ciphers must change.
            side=FaultSide.REMOTE,
        )
        return
    schannel = client_handshake_events(context, spans)
    confirmed = (
        f" Schannel logged {len(schannel)} failed client handshake"
        f"{'' if len(schannel) == 1 else 's'} on this server at the same time."
        if schannel
        else ""
    )
    yield report(
        summary=(
            "TLS handshakes are dropped or refused in a way that points to no common TLS "
            "version, and no session in the logs shows this server using TLS 1.2: enable "
            f"TLS 1.2 on this server.{confirmed}"
        ),
        evidence=(
            *dict.fromkeys(evidence),
            *(event_ref(event, schannel_claim(event)) for event in schannel[:5]),
        ),
        confidence=Confidence.HIGH if schannel else Confidence.MEDIUM,
        preconditions=(
            "SocketError during the handshake usually means the peer dropped an old TLS version",
            *(
                ("Schannel events of failed client handshakes lie within an hour of the failures",)
                if schannel
                else ()
            ),
        ),
        remediation=tuple(enable_tls12_steps()),
        subject="TLS 1.2",
        # No session shows this server using TLS 1.2: its own settings must change.
        side=FaultSide.LOCAL,
    )


@rule(
    "legacy-tls-to-exchange-online",
    title="Mail to Exchange Online still goes over TLS 1.0 or 1.1",
    severity=Severity.WARNING,
    failure_mode="F8",
    meaning="A send session to Exchange Online succeeded over TLS 1.0 or 1.1. Exchange Online "
    "refuses these versions ('421 4.7.66 TLS 1.0 and 1.1 are not supported'), so this path "
    "fails once the refusal reaches the endpoint it uses.",
    needs=(
        "a successful send session to Exchange Online whose 'TLS protocol' row names "
        "TLS 1.0 or 1.1",
    ),
    remedy="Enable TLS 1.2 for Schannel and .NET (create the keys when missing, set the "
    "values, reboot, verify).",
    references=(TLS_DEPRECATION, TLS_BEST_PRACTICES),
    signatures=(
        Signature(
            groups=(("4.7.66",),),
            reading="Exchange Online refuses TLS 1.0 and 1.1 (421 4.7.66): this server must "
            "use TLS 1.2.",
            rank=1,
        ),
    ),
    selection="Sessions whose connector, remote certificate or banner is Exchange Online's.",
    contradiction="None: the session itself shows the version.",
    inputs=("send-log",),
    side=FaultSide.LOCAL,
)
def legacy_tls_to_exchange_online(context: Context, report: Report) -> Iterator[Finding]:
    """TLS 1.0/1.1 sessions to Exchange Online, which now refuses them."""
    by_connector: dict[str, list[SmtpSession]] = {}
    for session in context.send_sessions:
        tls = session.tls
        if tls is None or tls.succeeded is not True or (tls.protocol or "") not in _LEGACY:
            continue
        if session_to_exchange_online(context, session):
            by_connector.setdefault(session.connector_id, []).append(session)
    for connector_id, sessions in sorted(by_connector.items()):
        last = sessions[-1]
        row = next((r for r in last.rows if r.text.startswith("TLS protocol ")), last.rows[0])
        version = (last.tls.protocol if last.tls else None) or "TLS1_0"
        version = version.replace("TLS1_", "TLS 1.").replace("SSL", "SSL ")
        yield report(
            summary=(
                f"Send connector '{connector_id}' reached Exchange Online over {version} in "
                f"{plural(len(sessions), 'session')}; Exchange Online refuses TLS 1.0 and 1.1."
            ),
            evidence=(row_ref(row, f"the session used {version}"),),
            confidence=Confidence.HIGH,
            remediation=tuple(enable_tls12_steps()),
            subject=connector_id,
        )


@rule(
    "remote-requires-starttls",
    title="The remote host requires STARTTLS, and Exchange sent without it",
    severity=Severity.ERROR,
    failure_mode="F9",
    meaning="The remote host answered 'Must issue a STARTTLS command first': Exchange sent in "
    "plain text, because the connector ignores STARTTLS, because TLS failed and Exchange fell "
    "back, or because a firewall stripped STARTTLS.",
    needs=("a reply 'Must issue a STARTTLS command first' in a session or a queue error",),
    remedy="Fix the TLS failure first; set IgnoreSTARTTLS $false on the connector; turn off SMTP "
    "inspection on the firewall.",
    signatures=(
        Signature(
            groups=(("must issue a starttls command first",),),
            reading="The remote host requires STARTTLS, and the message went without it.",
            rank=1,
        ),
    ),
    selection="Every reply in the send logs and queue errors.",
    contradiction="None.",
    inputs=("send-log", "queues"),
    side=FaultSide.LOCAL,
)
def remote_requires_starttls(context: Context, report: Report) -> Iterator[Finding]:
    """F9: the peer demands STARTTLS."""
    found = remote_fault_replies(context, ["must issue a starttls command first"])
    if not found:
        return
    steps = [
        RemediationStep(
            purpose=Purpose.FIX,
            command=SetSendConnector(identity=connector.name or "", ignore_starttls=False),
        )
        for connector in context.connectors
        if connector.ignore_starttls
    ]
    steps.append(queues_drain("once TLS works on the path"))
    yield report(
        summary="The remote host refused mail sent without STARTTLS.",
        evidence=tuple(dict.fromkeys(found)),
        confidence=Confidence.HIGH,
        remediation=tuple(steps),
        subject="STARTTLS",
    )


@rule(
    "remote-starttls-unavailable",
    title="The connector requires TLS, and the remote host does not offer STARTTLS",
    severity=Severity.ERROR,
    failure_mode="F10",
    meaning="The connector has RequireTLS (or the domain is Domain Secure), and the remote host's "
    "EHLO reply lacks STARTTLS: Exchange answers itself with '451 5.7.3 STARTTLS is required "
    "to send mail'.",
    needs=(
        "a session whose EHLO reply lacks STARTTLS on a RequireTLS connector, or the 451 "
        "5.7.3 / 451 4.7.3 queue error",
    ),
    remedy="The remote side must offer STARTTLS; or, as a policy decision, relax RequireTLS.",
    signatures=(
        Signature(
            groups=(("starttls is required to send mail",), ("disallowed this secure domain",)),
            reading="TLS is required on this path, and one end did not offer STARTTLS.",
            rank=1,
        ),
    ),
    selection="RequireTLS connectors' sessions, and the replies in logs and queues.",
    contradiction="None.",
    inputs=(
        "send-connectors+send-log",
        "queues",
    ),
    side=FaultSide.REMOTE,
)
def remote_starttls_unavailable(context: Context, report: Report) -> Iterator[Finding]:
    """F10: TLS required, not offered."""
    evidence: list[EvidenceRef] = []
    for connector in context.connectors:
        if not connector.require_tls:
            continue
        evidence.extend(
            EvidenceRef(
                source=session.rows[0].source,
                excerpt=f"session {session.session_id} to {session.remote_endpoint}",
                claim="the remote host's EHLO reply did not offer STARTTLS",
            )
            # Not where the remote offered STARTTLS or a firewall masked it.
            for session in sessions_without_offer(context, connector)
        )
    evidence.extend(
        remote_fault_replies(
            context,
            ["starttls is required to send mail", "temporarily disallowed this secure domain"],
        )
    )
    if not evidence:
        return
    yield report(
        summary="Mail waits because TLS is required and the remote host does not offer STARTTLS.",
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.HIGH,
        remediation=(
            *(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetSendConnector(
                        identity=connector.name or "",
                        properties=("RequireTLS", "TlsAuthLevel", "SmartHosts"),
                    ),
                )
                for connector in context.connectors
                if connector.require_tls and connector.name
            ),
            queues_drain("once the remote host offers STARTTLS"),
        ),
        subject="STARTTLS",
    )


#: Text that proves a network failure by itself.
_NETWORK = (
    "failed to connect. winsock error code",
    "failed to connect",
    "connection refused",
    "socket error code 1006",
)
#: Text that looks like a network failure but also hides TLS credential failures.
_AMBIGUOUS = ("unable to connect",)


@rule(
    "connection-failure",
    title="The remote host cannot be reached",
    severity=Severity.ERROR,
    failure_mode="F14",
    meaning="TCP connections to the remote host fail (Winsock 10060 timed out, 10061 refused): a "
    "firewall, NAT or DNS problem. A queue's '421 4.4.1 Connection timed out' alone is not "
    "taken as proof, since a TLS failure produces it too (KB 4051498); '421 4.2.1 Unable to "
    "connect' alone gives low confidence, since published cases show it hiding NoCredentials "
    "and UnknownCredentials failures the same way.",
    needs=(
        "a 'Failed to connect. Winsock error code' row, or a queue error naming a failed "
        "connection with no TLS failure behind it",
    ),
    remedy=(
        "Test the path with Test-NetConnection to port 25; check firewall, NAT, smart hosts "
        "and DNS. With only '421 4.2.1 Unable to connect', turn on protocol logging first."
    ),
    signatures=(
        Signature(
            groups=(("failed to connect. winsock error code",), ("connection refused",)),
            reading="The connection itself failed: a Winsock error or a refusal comes from "
            "the network, before any TLS.",
            rank=1,
        ),
        Signature(
            groups=(("dns query failed",),),
            reading="The next hop's name did not resolve: DNS, not TLS.",
            rank=1,
        ),
        Signature(
            groups=(("connection dropped",),),
            reading="The connection was dropped: a TLS version or cipher mismatch does this, "
            "as does the network.",
            rank=2,
        ),
        TIMEOUT,
    ),
    selection="Send sessions with a connect failure; queue errors with no failing TLS session "
    "on the same path.",
    contradiction="A failing TLS session on the queue's path claims the queue's error "
    "(KB 4051498); '421 4.2.1 Unable to connect' alone gives low confidence.",
    inputs=("send-log", "queues"),
    side=FaultSide.BETWEEN,
)
def connection_failure(context: Context, report: Report) -> Iterator[Finding]:
    """F14: positive evidence of a network failure, never the ambiguous 421 4.4.1 alone."""
    evidence: list[EvidenceRef] = []
    hosts: list[str] = []
    proven = False
    for session in context.send_sessions:
        failure = session.connect_failure
        if failure is not None:
            row = next((r for r in session.rows if r.source == failure.source), None)
            if row is not None:
                evidence.append(
                    row_ref(row, f"the connection failed (Winsock {failure.winsock_error})")
                )
                proven = True
            if session.remote_endpoint and session.remote_endpoint.host:
                hosts.append(session.remote_endpoint.host)
    for queue in context.queues:
        error = queue.last_error
        if error is None or tls_explains(context, queue) is not None:
            continue
        text = " ".join((error.raw or "").casefold().split())
        certain = any(needle in text for needle in _NETWORK)
        if certain or any(needle in text for needle in _AMBIGUOUS):
            evidence.append(queue_ref(queue, "the queue reports a failed connection"))
            proven = proven or certain
            if queue.last_error and queue.last_error.ip and queue.last_error.ip.host:
                hosts.append(queue.last_error.ip.host)
    if not evidence:
        return
    unlogged = [] if proven else [c for c in context.connectors if c.logging_enabled is False]
    # One cause, however many hosts: a few representative checks, the hosts named in the
    # finding's subjects table (the engine counts them all), the sentence bounded.
    # By name: a summary keeps a few sessions per host, so counts here would not be theirs.
    ranked = sorted(set(hosts))
    steps = connection_steps(ranked[:_HOSTS_TESTED], unlogged)
    named = ", ".join(ranked[:_HOSTS_NAMED])
    if len(ranked) > _HOSTS_NAMED:
        # Not a count: only the subjects table counts every host, kept whole or not.
        named += " and others"
    yield report(
        summary="Connections to the remote host fail at the network level"
        + (f" ({named})." if ranked else ".")
        + (
            ""
            if proven
            else " Only '421 4.2.1 Unable to connect' says so, which TLS credential failures "
            "(NoCredentials, UnknownCredentials) also produce: the send protocol log tells."
        ),
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.HIGH if proven else Confidence.LOW,
        preconditions=()
        if proven
        else ("'421 4.2.1 Unable to connect' alone does not separate network from TLS",),
        remediation=tuple(steps),
        subject=",".join(ranked) if len(ranked) <= _HOSTS_NAMED else "remote hosts",
    )


#: Remote hosts a connection failure names in its sentence, and tests with a command.
_HOSTS_NAMED = 5
_HOSTS_TESTED = 3


_RECEIVE_CAUSES = {
    "UnknownCredentials": "the certificate this server presents is not usable for SMTP "
    "(not enabled for SMTP, or its key is unreadable)",
    "NoCredentials": "the certificate this server presents has no usable private key",
    "SocketError": "the client dropped the handshake: no common TLS version or cipher",
    "AlgorithmMismatch": "no common TLS version or cipher with the client",
}


@rule(
    "inbound-tls-failure",
    title="Inbound STARTTLS fails on a receive connector",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="A receive session (from Exchange Online, a partner or another server) fails the "
    "TLS handshake. Exchange Online then reports it on its side ('450 4.4.317', '451 4.7.0 "
    "… PRX5', '4.7.320 Certificate validation failed'); the cause is the certificate the "
    "receive connector presents or the TLS versions of this server.",
    needs=("a receive session with 'TLS negotiation failed with error …'",),
    remedy="Check the certificate the receive connector presents (SMTP, private key, valid, "
    "from a CA for Exchange Online); enable it for SMTP or set the connector's "
    "TlsCertificateName; for SocketError, enable TLS 1.2.",
    references=(SELECTION_DOCS,),
    signatures=(
        Signature(
            groups=(("4.4.317",), ("4.7.320",), ("prx5",), ("subjectmismatch",)),
            reading="Exchange Online could not complete TLS with the on-premises server that "
            "receives its mail: look at the receive connector's certificate.",
            rank=1,
        ),
        Signature(
            groups=(("4.7.321",), ("4.7.322",), ("4.7.323",), ("4.7.324",)),
            reading="A sender validating with SMTP DANE refused the receiving server: its "
            "certificate or its TLSA and DNSSEC records.",
            rank=2,
        ),
    ),
    selection="Judges the certificate the receive session shows presented, else the receive "
    "connector's selected certificate.",
    contradiction="None: the session shows the failure.",
    inputs=("receive-log",),
    side=FaultSide.LOCAL,
)
def inbound_tls_failure(context: Context, report: Report) -> Iterator[Finding]:
    """Report receive sessions failing STARTTLS: the inbound side."""
    by_connector: dict[str, list[SmtpSession]] = {}
    for session in context.receive_sessions:
        if session.tls is not None and session.tls.succeeded is False:
            by_connector.setdefault(session.connector_id, []).append(session)
    for connector_id, sessions in sorted(by_connector.items()):
        last = sessions[-1]
        error = last.tls.error if last.tls else None
        row = failure_row(last)
        evidence = [row_ref(row, f"inbound TLS failed with {error}")] if row else []
        identity = last.tls.local_certificate if last.tls else None
        certificate = context.certificate_for(identity)
        if certificate is None:
            receive = next(
                (
                    c
                    for c in context.receive_connectors
                    if (c.identity or c.name or "").casefold() == connector_id.casefold()
                    or (c.name or "").casefold() == connector_id.rsplit("\\", 1)[-1].casefold()
                ),
                None,
            )
            certificate = context.selected_certificate(receive) if receive else None
        steps = inbound_tls_steps(
            connector_id, certificate, error, tls12_seen=modern_session(context) is not None
        )
        smtp_missing = lacks_smtp(certificate)
        cause = (
            "the certificate it presents is not enabled for SMTP"
            if smtp_missing and error in ("UnknownCredentials", "NoCredentials")
            else _RECEIVE_CAUSES.get(error or "", "the handshake failed")
        )
        if certificate is not None:
            evidence.append(
                certificate_ref(
                    certificate,
                    "the certificate the receive connector presents",
                    f"Thumbprint {certificate.thumbprint}, Services: {certificate.services}",
                )
            )
        yield report(
            summary=(
                f"Receive connector '{connector_id}' failed inbound STARTTLS in "
                f"{plural(len(sessions), 'session')} with {error}: {cause}."
                + (
                    f" It presents {certificate.subject} ({certificate.thumbprint})."
                    if certificate is not None
                    else ""
                )
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if smtp_missing else Confidence.MEDIUM,
            remediation=tuple(steps),
            subject=connector_id,
        )


@rule(
    "internal-transport-certificate-problem",
    title="Exchange servers cannot authenticate each other",
    severity=Severity.ERROR,
    failure_mode="F16",
    meaning="The internal transport certificate, which Exchange servers use to authenticate "
    "to each other, cannot be loaded or is refused: 'Cannot load Internal Transport "
    "Certificate', or 'Outbound Authentication failed with LogonDenied' with "
    "'454 4.7.0 Temporary authentication failure'.",
    needs=("the reply or log line that says so",),
    remedy="Enable a valid self-signed certificate for SMTP, or create one with "
    "New-ExchangeCertificate.",
    signatures=(
        Signature(
            groups=(
                ("temporary authentication failure",),
                ("internal transport certificate",),
                ("exchange server authentication",),
            ),
            reading="Exchange servers could not authenticate each other (the "
            "intra-organisation leg, before the Internet connector).",
            rank=1,
        ),
    ),
    selection="The replies and authentication rows of the send logs.",
    contradiction="None.",
    inputs=("send-log", "queues"),
    side=FaultSide.LOCAL,
)
def internal_transport_certificate_problem(context: Context, report: Report) -> Iterator[Finding]:
    """F16: the internal leg fails on certificates or Exchange authentication."""
    evidence = replies_saying(context, ["cannot load internal transport certificate"])
    for session in context.send_sessions:
        if session.auth_failure is not None:
            row = next(
                (r for r in session.rows if r.text.startswith("Outbound Authentication failed")),
                None,
            )
            if row is not None:
                evidence.append(
                    row_ref(row, f"Exchange authentication failed with {session.auth_failure}")
                )
    if not evidence:
        return
    yield report(
        summary="The internal transport leg fails on Exchange authentication.",
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.MEDIUM,
        remediation=internal_certificate_steps(context.evidence.server_fqdn),
        subject="internal transport",
    )
