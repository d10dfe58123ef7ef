"""Rules about the conversation with the remote host: protocols, STARTTLS, the network."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from exchange_tls.diagnosis.catalogue import finding, rule
from exchange_tls.diagnosis.cite import failure_row, queue_ref, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.remediation.commands import (
    GetExchangeCertificate,
    NewExchangeCertificate,
    SetItemProperty,
    SetSendConnector,
    TestNetConnection,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.smtp import SmtpReply

TLS_VERSIONS = "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/send-receive-emails-socketerror"
_SCHANNEL = (
    "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"
)
_DOTNET = (
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
)


def _replies(context: Context) -> Iterator[tuple[SmtpReply, EvidenceRef]]:
    """Every SMTP reply in sessions and queue errors, with where it stands."""
    for session in context.send_sessions:
        for reply in session.replies:
            row = next(
                (
                    r
                    for r in session.rows
                    if r.data and reply.lines and r.data.endswith(reply.lines[-1])
                ),
                None,
            )
            ref = (
                row_ref(row, "the remote host replied")
                if row
                else EvidenceRef(
                    source=None, excerpt=reply.render(), claim="a reply in the session"
                )
            )
            yield reply, ref
    for queue in context.queues:
        if queue.last_error is not None and queue.last_error.reply is not None:
            for reply in queue.last_error.reply.chain:
                yield reply, queue_ref(queue, "the queue's last error")


def _matching(context: Context, needles: Iterable[str]) -> list[tuple[SmtpReply, EvidenceRef]]:
    wanted = [needle.casefold() for needle in needles]
    found = []
    for reply, ref in _replies(context):
        text = reply.text.casefold()
        if any(needle in text for needle in wanted):
            found.append((reply, ref))
    return found


def _tls_explains(context: Context, queue: QueueRecord) -> SmtpSession | None:
    """Return a failing TLS session behind the queue: its error is not the network's."""
    for session in context.sessions_for_queue(queue):
        if session.tls is not None and session.tls.succeeded is False:
            return session
    return None


@rule(
    rule_id="tls-protocol-mismatch",
    title="The two ends share no TLS version or cipher",
    severity=Severity.ERROR,
    failure_mode="F8",
    meaning="The handshake is dropped (SocketError) or refused (AlgorithmMismatch): typically "
    "a server that offers only TLS 1.0/1.1 talking to one that requires TLS 1.2, such as "
    "Exchange Online.",
    needs=(
        "a send session failing with SocketError or AlgorithmMismatch, or a TLS 1.0/1.1 "
        "session, or a queue error 'Connection dropped due to SocketError'",
    ),
    remedy="Enable TLS 1.2 for Schannel and .NET (registry values), install updates, and "
    "restart the server.",
    references=(TLS_VERSIONS,),
)
def tls_protocol_mismatch(context: Context) -> Iterator[Finding]:
    """F8: SocketError / AlgorithmMismatch handshakes, or a queue's SocketError drop."""
    evidence: list[EvidenceRef] = []
    for session in context.send_sessions:
        tls = session.tls
        if (
            tls is not None
            and tls.succeeded is False
            and tls.error in ("SocketError", "AlgorithmMismatch")
        ):
            row = failure_row(session)
            if row is not None:
                evidence.append(row_ref(row, f"the handshake failed with {tls.error}"))
    evidence.extend(ref for _, ref in _matching(context, ["connection dropped due to socketerror"]))
    if not evidence:
        return
    steps = []
    for side in ("Client", "Server"):
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetItemProperty(path=_SCHANNEL + side, name="Enabled", value=1),
                note="Create the key first if it does not exist (New-Item).",
            )
        )
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetItemProperty(path=_SCHANNEL + side, name="DisabledByDefault", value=0),
            )
        )
    for path in _DOTNET:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetItemProperty(path=path, name="SystemDefaultTlsVersions", value=1),
            )
        )
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetItemProperty(path=path, name="SchUseStrongCrypto", value=1),
            )
        )
    yield finding(
        "tls-protocol-mismatch",
        summary=(
            "TLS handshakes are dropped or refused in a way that points to no common TLS "
            "version: enable TLS 1.2 on this server."
        ),
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.MEDIUM,
        preconditions=(
            "SocketError during the handshake usually means the peer dropped an old TLS version",
        ),
        remediation=tuple(steps),
        subject="TLS 1.2",
    )


@rule(
    rule_id="remote-requires-starttls",
    title="The remote host requires STARTTLS, and Exchange sent without it",
    severity=Severity.ERROR,
    failure_mode="F9",
    meaning="The remote host answered 'Must issue a STARTTLS command first': Exchange sent in "
    "plain text, because the connector ignores STARTTLS, because TLS failed and Exchange fell "
    "back, or because a firewall stripped STARTTLS.",
    needs=("a reply 'Must issue a STARTTLS command first' in a session or a queue error",),
    remedy="Fix the TLS failure first; set IgnoreSTARTTLS $false on the connector; turn off SMTP "
    "inspection on the firewall.",
)
def remote_requires_starttls(context: Context) -> Iterator[Finding]:
    """F9: the peer demands STARTTLS."""
    found = _matching(context, ["must issue a starttls command first"])
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
    yield finding(
        "remote-requires-starttls",
        summary="The remote host refused mail sent without STARTTLS.",
        evidence=tuple(dict.fromkeys(ref for _, ref in found)),
        confidence=Confidence.HIGH,
        remediation=tuple(steps),
        subject="STARTTLS",
    )


@rule(
    rule_id="remote-starttls-unavailable",
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
)
def remote_starttls_unavailable(context: Context) -> Iterator[Finding]:
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
            for session in context.sessions_of(connector)
            if session.tls is not None and session.tls.starttls_offered is False
        )
    evidence.extend(
        ref
        for _, ref in _matching(
            context,
            ["starttls is required to send mail", "temporarily disallowed this secure domain"],
        )
    )
    if not evidence:
        return
    yield finding(
        "remote-starttls-unavailable",
        summary="Mail waits because TLS is required and the remote host does not offer STARTTLS.",
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.HIGH,
        subject="STARTTLS",
    )


_NETWORK = (
    "failed to connect",
    "unable to connect",
    "connection refused",
    "socket error code 1006",
)


@rule(
    rule_id="connection-failure",
    title="The remote host cannot be reached",
    severity=Severity.ERROR,
    failure_mode="F14",
    meaning="TCP connections to the remote host fail (Winsock 10060 timed out, 10061 refused): a "
    "firewall, NAT or DNS problem. A queue's '421 4.4.1 Connection timed out' alone is not "
    "taken as proof, since a TLS failure produces it too (KB 4051498).",
    needs=(
        "a 'Failed to connect. Winsock error code' row, or a queue error naming a failed "
        "connection with no TLS failure behind it",
    ),
    remedy=(
        "Test the path with Test-NetConnection to port 25; check firewall, NAT, smart hosts "
        "and DNS."
    ),
)
def connection_failure(context: Context) -> Iterator[Finding]:
    """F14: positive evidence of a network failure, never the ambiguous 421 4.4.1 alone."""
    evidence: list[EvidenceRef] = []
    hosts: list[str] = []
    for session in context.send_sessions:
        failure = session.connect_failure
        if failure is not None:
            row = next((r for r in session.rows if r.source == failure.source), None)
            if row is not None:
                evidence.append(
                    row_ref(row, f"the connection failed (Winsock {failure.winsock_error})")
                )
            if session.remote_endpoint and session.remote_endpoint.host:
                hosts.append(session.remote_endpoint.host)
    for queue in context.queues:
        error = queue.last_error
        if error is None or _tls_explains(context, queue) is not None:
            continue
        text = (error.raw or "").casefold()
        if any(needle in text for needle in _NETWORK):
            evidence.append(queue_ref(queue, "the queue reports a failed connection"))
            if queue.last_error and queue.last_error.ip and queue.last_error.ip.host:
                hosts.append(queue.last_error.ip.host)
    if not evidence:
        return
    steps = tuple(
        RemediationStep(
            purpose=Purpose.CHECK,
            command=TestNetConnection(computer_name=host),
            note="TcpTestSucceeded should be True.",
        )
        for host in dict.fromkeys(hosts)
    )
    yield finding(
        "connection-failure",
        summary="Connections to the remote host fail at the network level"
        + (f" ({', '.join(dict.fromkeys(hosts))})." if hosts else "."),
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.HIGH,
        remediation=steps,
        subject=",".join(dict.fromkeys(hosts)),
    )


@rule(
    rule_id="internal-transport-certificate-problem",
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
)
def internal_transport_certificate_problem(context: Context) -> Iterator[Finding]:
    """F16: the internal leg fails on certificates or Exchange authentication."""
    evidence = [
        ref for _, ref in _matching(context, ["cannot load internal transport certificate"])
    ]
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
    yield finding(
        "internal-transport-certificate-problem",
        summary="The internal transport leg fails on Exchange authentication.",
        evidence=tuple(dict.fromkeys(evidence)),
        confidence=Confidence.MEDIUM,
        remediation=(
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    properties=("Thumbprint", "Services", "Subject", "NotAfter", "Status")
                ),
            ),
            RemediationStep(
                purpose=Purpose.FIX,
                command=NewExchangeCertificate(
                    domain_names=(context.evidence.server_fqdn or "server.contoso.local",)
                ),
                note=(
                    "Only when no valid self-signed certificate is enabled for SMTP; answer N "
                    "to the overwrite prompt unless the old internal certificate is gone."
                ),
            ),
        ),
        subject="internal transport",
    )
