"""Rules of the whole conversation: refusals after the handshake, and which side failed.

A session that negotiated TLS is not yet a healthy session: Exchange Online answers
``550 5.7.64 TenantAttribution; Relay Access Denied`` *after* a successful handshake when
the certificate the on-premises connector presents is not the one its inbound connector
expects. These rules judge sessions to their end (``protocol_log.outcome``) and say which
end must change: the STARTTLS the remote offered against the connector's IgnoreSTARTTLS,
a firewall that masks STARTTLS, a refusal after TLS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from exchange_tls.certificates.names import DistinguishedName
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import certificate_ref, connector_ref, plural, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.conversation import (
    counted,
    ehlo_reply_rows,
    exchange_online,
    handshake_then_refused,
    masked_starttls,
    matters,
    refusal_row,
    refused_code,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import Direction, ProtocolLogRow, SmtpSession
from exchange_tls.remediation.commands import (
    GetExchangeCertificate,
    GetQueue,
    GetSendConnector,
    SetSendConnector,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__: list[str] = []

ATTR36 = "https://learn.microsoft.com/troubleshoot/exchange/email-delivery/relay-access-denied-attr36-ndr"
EXO_NDR = "https://learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online"
ASA_ESMTP = "https://www.cisco.com/c/en/us/support/docs/security/asa-5500-x-series-next-generation-firewalls/113423-asa-esmtp-smtp-inspection.html"
_TENANT = ("5.7.64", "tenantattribution", "attr36")
_STARTTLS_REQUIRED = ("starttls is required", "must issue a starttls command first")

#: What the 5.7.x refusals after a handshake say (RFC 3463 and Exchange Online's NDR list).
_REFUSALS = {
    "5.7.1": "delivery not authorised: the remote host does not accept mail from this "
    "server for that recipient (relay denied, or a connector that does not recognise the "
    "sender by its IP address or certificate)",
    "5.7.0": "a security policy of the remote host refused the message",
    "5.7.51": "Exchange Online: the sending server's IP address or certificate does not "
    "match the inbound connector that applies (RestrictDomainsToIPAddresses or "
    "RestrictDomainsToCertificate)",
    "5.7.54": "Exchange Online: unable to relay to a domain that is not an accepted domain; "
    "no inbound connector recognised this server",
    "5.7.57": "the client was not authenticated to send anonymous mail",
    "5.7.60": "the sender may not send as this address",
}


def _reading(code: str) -> str:
    enhanced = code.split(" ", 1)[1] if " " in code else ""
    if enhanced in _REFUSALS:
        return f" {enhanced} means {_REFUSALS[enhanced]}."
    if enhanced.startswith(("5.7.", "4.7.")):
        return f" {enhanced} is a security or policy refusal (X.7.x, RFC 3463)."
    return ""


def _same_name(subject: str, expected: DistinguishedName) -> bool:
    """Whether a logged subject is the distinguished name expected (as names compare)."""
    try:
        return DistinguishedName.parse(subject) == expected
    except ValueError:
        return False


def _tenant_attribution(session: SmtpSession) -> bool:
    row = refusal_row(session)
    return row is not None and any(word in row.data.casefold() for word in _TENANT)


def _starttls_required(session: SmtpSession) -> bool:
    row = refusal_row(session)
    return row is not None and any(words in row.data.casefold() for words in _STARTTLS_REQUIRED)


# -- 550 5.7.64 TenantAttribution after the handshake -------------------------------------


@rule(
    "tenant-attribution-refused",
    title="Exchange Online refused the mail after TLS: the certificate is not the one expected",
    severity=Severity.ERROR,
    failure_mode="F13",
    meaning="A send session to Exchange Online negotiated TLS and was then refused with "
    "'550 5.7.64 TenantAttribution; Relay Access Denied' (ATTR36): Exchange Online could not "
    "attribute the connection to the organisation, because the certificate the send "
    "connector presents does not match the inbound connector's TlsSenderCertificateName (or "
    "an accepted domain). TLS worked; the mail did not.",
    needs=(
        "a send session that negotiated TLS and got 5.7.64 / TenantAttribution / ATTR36",
        "for the full join: the send connector, the certificate list and Get-HybridConfiguration",
    ),
    remedy="Present the certificate Exchange Online expects: set the send connector's "
    "TlsCertificateName to it (the hybrid configuration's TlsCertificateName), or correct the "
    "inbound connector's TlsSenderCertificateName in Exchange Online; re-run the Hybrid "
    "Configuration Wizard after a renewal.",
    references=(ATTR36, EXO_NDR),
    signatures=(
        Signature(
            groups=(("5.7.64",), ("tenantattribution",), ("attr36",)),
            reading="Exchange Online accepted TLS and then refused to attribute the mail to "
            "the organisation: the certificate presented is not the one its inbound connector "
            "expects.",
            rank=1,
        ),
    ),
    selection="The certificate the session's log shows presented; else the connector's selection.",
    contradiction="None: the refusal is Exchange Online's own word.",
    inputs=("send-log",),
    side=FaultSide.LOCAL,
)
def tenant_attribution_refused(context: Context, report: Report) -> Iterator[Finding]:
    """5.7.64 after a successful handshake, joined to the hybrid configuration."""
    groups: dict[str, list[SmtpSession]] = defaultdict(list)
    for session in context.send_sessions:
        if handshake_then_refused(session) is not None and _tenant_attribution(session):
            groups[session.connector_id].append(session)
    hybrid = next(iter(context.evidence.hybrid_configurations), None)
    expected = hybrid.tls_certificate_name if hybrid is not None else None
    for connector_id, sessions in sorted(groups.items()):
        last = sessions[-1]
        tls = last.tls
        presented = tls.local_certificate if tls is not None else None
        connector = context.connector_named(connector_id)
        evidence: list[EvidenceRef] = []
        refused = refusal_row(last)
        handshake = next(r for r in last.rows if r.text.startswith("TLS protocol "))
        evidence.append(row_ref(handshake, "TLS was negotiated"))
        if refused is not None:
            evidence.append(row_ref(refused, "then Exchange Online refused the mail"))
        said = []
        if presented is not None and (presented.subject or presented.thumbprint):
            said.append(
                f"The connector presented {presented.subject or 'a certificate'} "
                f"({presented.thumbprint or 'thumbprint not logged'}), issued by "
                f"{presented.issuer or 'an issuer not logged'}."
            )
            if presented.source is not None:
                evidence.append(
                    EvidenceRef(
                        source=presented.source,
                        excerpt=f"Sending certificate {presented.subject or ''}".strip(),
                        claim="the certificate the connector presented",
                    )
                )
        elif connector is not None and context.selected_certificate(connector) is not None:
            chosen = context.selected_certificate(connector)
            assert chosen is not None  # noqa: S101 -- checked above
            said.append(f"The connector would present {chosen.subject} ({chosen.thumbprint}).")
            evidence.append(
                certificate_ref(
                    chosen, "the certificate the connector selects", chosen.subject or ""
                )
            )
        if connector is not None:
            evidence.append(
                connector_ref(
                    connector,
                    "the send connector's certificate setting",
                    f"TlsCertificateName: {connector.tls_certificate_name}",
                )
            )
            if connector.tls_certificate_name is None:
                said.append("The connector does not name its certificate (TlsCertificateName).")
        if expected is not None and hybrid is not None:
            evidence.append(
                EvidenceRef(
                    source=hybrid.tls_certificate_name_source or hybrid.source,
                    excerpt=f"TlsCertificateName : {expected.render()}",
                    claim="the certificate name the hybrid configuration gave Exchange Online",
                )
            )
            match = (
                presented is not None
                and presented.subject is not None
                and expected.subject is not None
                and _same_name(presented.subject, expected.subject)
            )
            said.append(
                "The hybrid configuration names "
                f"{expected.render()}, which Exchange Online's inbound connector expects"
                + (
                    "; it matches the subject presented, so look at the inbound connector "
                    "(TlsSenderCertificateName) and the accepted domains in Exchange Online."
                    if match
                    else "; the certificate presented is not that one."
                )
            )
        else:
            said.append(
                "Compare it with the inbound connector's TlsSenderCertificateName in Exchange "
                "Online (Get-InboundConnector there; Get-HybridConfiguration here names it)."
            )
        steps = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetSendConnector(
                    identity=connector_id, properties=("TlsCertificateName", "SmartHosts")
                ),
            ),
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    properties=("Thumbprint", "Subject", "Issuer", "Services", "NotAfter")
                ),
                note="In Exchange Online, Get-InboundConnector | Format-List "
                "TlsSenderCertificateName names the certificate it expects.",
            ),
        ]
        if expected is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector_id, tls_certificate_name=expected.render()
                    ),
                    note="The certificate the hybrid configuration names, which Exchange "
                    "Online expects; it must be on this server with SMTP enabled.",
                )
            )
        steps.append(
            RemediationStep(
                purpose=Purpose.VERIFY,
                command=GetQueue(filter="Status -eq 'Retry'"),
                note="Messages to Exchange Online leave the queues once it attributes them.",
            )
        )
        code = refused_code(last) or "550 5.7.64"
        count, _ = counted(context, sessions)
        yield report(
            summary=(
                f"{plural(count, 'session')} of send connector '{connector_id}' to Exchange "
                f"Online negotiated TLS and were then refused ({code} TenantAttribution): "
                "the mail was not accepted. " + " ".join(said)
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if expected is not None else Confidence.MEDIUM,
            remediation=tuple(steps),
            subject=connector_id,
        )


# -- any other refusal after the handshake ------------------------------------------------


@rule(
    "refused-after-handshake",
    title="TLS was negotiated, and then the mail was refused",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="A send session (or a receive session from Exchange Online or a known partner) "
    "negotiated TLS and was then refused before its mail was accepted. A negotiated "
    "handshake is not proof of health: the refusal says what failed after it (a relay or "
    "authentication refusal, 5.7.x; a temporary refusal, 4.x.x).",
    needs=("a session that negotiated TLS and got a 4xx or 5xx reply, its mail not accepted",),
    remedy="Read the refusal: 5.7.x refusals are the remote's policy towards this server "
    "(its connector, IP address or certificate); agree on it with the remote's admin, or fix "
    "the certificate or connector this server uses.",
    references=(EXO_NDR,),
    selection="Send sessions, and receive sessions from Exchange Online or a known partner "
    "(a receive connector whose RemoteIPRanges names the host).",
    contradiction="A refusal another rule explains (5.7.64, STARTTLS required) is left to it.",
    inputs=("send-log", "receive-log"),
)
def refused_after_handshake(context: Context, report: Report) -> Iterator[Finding]:
    """Report sessions refused after TLS: never a sign of health."""
    groups: dict[tuple[str, str, str], list[SmtpSession]] = defaultdict(list)
    for session in context.sessions:
        if handshake_then_refused(session) is None or not matters(context, session):
            continue
        if _tenant_attribution(session) or _starttls_required(session):
            continue
        direction = "receive" if session.direction is Direction.RECEIVE else "send"
        groups[(direction, session.connector_id, refused_code(session) or "")].append(session)
    for (direction, connector_id, code), sessions in sorted(groups.items()):
        last = sessions[-1]
        refused = refusal_row(last)
        assert refused is not None  # noqa: S101 -- grouped for its refusal
        security = code.split(" ", 1)[-1].startswith(("5.7.", "4.7."))
        who = "the remote host" if direction == "send" else "this server"
        online = any(exchange_online(context, session) for session in sessions)
        count, _ = counted(context, sessions)
        yield report(
            summary=(
                f"{plural(count, direction + ' session')} of connector '{connector_id}' "
                f"negotiated TLS and were then refused by {who} ({code}); the mail was not "
                "accepted."
                + _reading(code)
                + (" The remote end is Exchange Online." if online else "")
            ),
            evidence=(
                row_ref(
                    next(r for r in last.rows if r.text.startswith("TLS protocol ")),
                    "TLS was negotiated",
                ),
                row_ref(refused, f"then {who} refused"),
            ),
            confidence=Confidence.HIGH,
            # Not a security refusal: information for a send session (the verdict still
            # cannot be healthy), a warning for Exchange Online's or a partner's mail
            # refused here, which no judge of send sessions would see.
            severity=None
            if security
            else (Severity.WARNING if direction == "receive" else Severity.INFO),
            because=None
            if security
            else "not a security refusal (X.7.x): the recipient, the message or the load"
            + (
                "; mail from Exchange Online or a known partner was refused"
                if direction == "receive"
                else "; the verdict still cannot be healthy while mail is refused"
            ),
            subject=f"{connector_id}: {code}",
            # Whoever refused must change its policy, or be agreed with: the remote for a
            # send session, this server for a receive session.
            side=FaultSide.REMOTE if direction == "send" else FaultSide.LOCAL,
        )


# -- which side: STARTTLS offered, and the connector ignored it ---------------------------


@rule(
    "starttls-ignored-by-connector",
    title="The remote offered STARTTLS, and this server's connector ignored it",
    severity=Severity.ERROR,
    failure_mode="F9",
    meaning="The remote host's EHLO reply offered STARTTLS, the send connector has "
    "IgnoreSTARTTLS $true, so Exchange sent in clear, and the remote refused ('451 5.7.3 "
    "STARTTLS is required to send mail', '530 5.7.0 Must issue a STARTTLS command first'). "
    "The remote is not at fault: this server's connector is.",
    needs=(
        "a send session whose EHLO reply lists STARTTLS, no STARTTLS sent, and a refusal "
        "that requires it",
        "the send connector's IgnoreSTARTTLS (without it the finding says it is inferred)",
    ),
    remedy="Set-SendConnector -IgnoreSTARTTLS $false.",
    signatures=(
        Signature(
            groups=(("starttls is required to send mail",),),
            reading="If the remote's EHLO offered STARTTLS, the sending connector ignored it "
            "(IgnoreSTARTTLS $true): the sending side must change.",
            rank=2,
        ),
    ),
    selection="The send sessions' EHLO replies and refusals; the connector of the session.",
    contradiction="A session that sent STARTTLS is not this case.",
    inputs=("send-log",),
    side=FaultSide.LOCAL,
)
def starttls_ignored_by_connector(context: Context, report: Report) -> Iterator[Finding]:
    """Report the remote's offered STARTTLS that the connector ignored, and the refusal."""
    groups: dict[str, list[SmtpSession]] = defaultdict(list)
    for session in context.send_sessions:
        tls = session.tls
        if tls is None or tls.starttls_offered is not True or tls.starttls_requested:
            continue
        if _starttls_required(session):
            groups[session.connector_id].append(session)
    for connector_id, sessions in sorted(groups.items()):
        last = sessions[-1]
        connector = context.connector_named(connector_id)
        offer = next(r for r in ehlo_reply_rows(last) if "STARTTLS" in r.data.upper())
        refused = refusal_row(last)
        assert refused is not None  # noqa: S101 -- selected for its refusal
        evidence = [
            row_ref(offer, "the remote host offered STARTTLS"),
            row_ref(refused, "and refused mail sent without it"),
        ]
        known = connector is not None and connector.ignore_starttls is not None
        if connector is not None and connector.ignore_starttls is not None:
            evidence.append(
                connector_ref(
                    connector,
                    "the connector's STARTTLS setting",
                    f"IgnoreSTARTTLS: {connector.ignore_starttls}, RequireTLS: "
                    f"{connector.require_tls}, TlsAuthLevel: {connector.tls_auth_level}",
                )
            )
        if connector is not None and connector.ignore_starttls is False:
            # Configured not to ignore it: something else kept STARTTLS back.
            continue
        yield report(
            summary=(
                f"{plural(len(sessions), 'session')} of send connector '{connector_id}': the "
                "remote host offered STARTTLS, Exchange did not use it, and the remote refused the "
                f"mail ({refused_code(last)}). "
                + (
                    "The connector has IgnoreSTARTTLS $true: this server's connector is at "
                    "fault, not the remote."
                    if known
                    else "Exchange ignores an offered STARTTLS only when the connector has "
                    "IgnoreSTARTTLS $true (inferred: the connector's settings were not read)."
                )
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if known else Confidence.MEDIUM,
            remediation=(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(identity=connector_id, ignore_starttls=False),
                ),
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetSendConnector(
                        identity=connector_id, properties=("IgnoreSTARTTLS", "RequireTLS")
                    ),
                ),
            ),
            subject=connector_id,
        )


# -- something between: a firewall that masks STARTTLS ------------------------------------


@rule(
    "starttls-masked-by-firewall",
    title="A firewall between the servers masks STARTTLS",
    severity=Severity.ERROR,
    failure_mode="F10",
    meaning="The EHLO reply carries a line of X's where STARTTLS should be ('250-XXXXXXXA'): a "
    "firewall's SMTP inspection (Cisco ASA/PIX ESMTP inspection is the usual report) "
    "replaced the keyword, so TLS never starts. Neither server is at fault: the device "
    "between them is.",
    needs=("a session whose EHLO reply has a masked line (250-XXXX…)",),
    remedy="Turn off SMTP/ESMTP inspection (or allow TLS in it) on the firewall between the "
    "servers.",
    references=(ASA_ESMTP,),
    signatures=(
        Signature(
            groups=(("xxxxxxxa",),),
            reading="A masked EHLO keyword (XXXXXXXA): a firewall's SMTP inspection removed "
            "STARTTLS.",
            rank=1,
        ),
    ),
    selection="Every session's first EHLO reply.",
    contradiction="None: the masked line is the device's own mark.",
    inputs=("send-log", "receive-log"),
    side=FaultSide.BETWEEN,
)
def starttls_masked_by_firewall(context: Context, report: Report) -> Iterator[Finding]:
    """Report an EHLO line of X's: SMTP inspection on a firewall."""
    groups: dict[tuple[str, str], list[tuple[SmtpSession, ProtocolLogRow]]] = defaultdict(list)
    for session in context.sessions:
        row = masked_starttls(session)
        if row is not None:
            direction = "receive" if session.direction is Direction.RECEIVE else "send"
            groups[(direction, session.connector_id)].append((session, row))
    for (direction, connector_id), found in sorted(groups.items()):
        session, row = found[-1]
        evidence = [row_ref(row, "the EHLO reply has a masked keyword")]
        offered = session.tls is not None and session.tls.starttls_offered
        yield report(
            summary=(
                f"{plural(len(found), direction + ' session')} of connector '{connector_id}' "
                + ("shows" if len(found) == 1 else "show")
                + " an "
                "EHLO reply with a masked keyword where STARTTLS should be: a firewall's SMTP "
                "inspection between the servers removes STARTTLS, so TLS never starts"
                + (" (STARTTLS was still seen in a later reply)." if offered else ".")
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH,
            subject=f"{direction} {connector_id}",
        )
