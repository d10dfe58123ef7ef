"""Rules of the receive side: RequireTLS refusals, and what Exchange Online sees of this server.

Exchange Online delivers to an on-premises receive connector over TLS and validates the
certificate it is shown. Its errors land on its side ('4.7.320 Certificate validation
failed', '450 4.4.317 … STARTTLS is required to send mail'); what this server's receive
log shows is the other half: the certificate it presented, or an EHLO reply without
STARTTLS. These rules join that half to the receive connector and the certificate
Exchange selects for it ("Selection of inbound STARTTLS certificates").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import attrs

from exchange_tls.connectors.models import ReceiveConnector
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import connector_ref, plural, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.conversation import (
    counted,
    ehlo_reply_rows,
    exchange_online,
    exchange_online_receive_failures,
    known_partner,
    receive_connector_of,
    refusal_row,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import FaultSide, Subjects
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.remediation.commands import (
    GetExchangeCertificate,
    GetReceiveConnector,
    SetReceiveConnector,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__: list[str] = []

INBOUND_SELECTION = "https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates-selection"
KB2989382 = "https://learn.microsoft.com/troubleshoot/exchange/email-delivery/cannot-receive-mail-with-new-certificate"
_MUST_ISSUE = "must issue a starttls command first"


def _selection_said(
    context: Context, connector: ReceiveConnector | None
) -> tuple[list[str], list[EvidenceRef]]:
    """Return what Exchange's inbound selection says of the connector, when it can run."""
    if connector is None or not context.certificates:
        return [], []
    selection = context.selection(connector)
    evidence = [
        connector_ref(
            connector,
            "the receive connector's certificate settings",
            f"Fqdn: {connector.fqdn}, TlsCertificateName: {connector.tls_certificate_name}, "
            f"AuthMechanism: {connector.auth_mechanism}",
        )
    ]
    return ["Exchange's selection: " + "; ".join(selection.reasons()) + "."], evidence


# -- RequireTLS: 530 5.7.0 Must issue a STARTTLS command first ----------------------------


@rule(
    "receive-requires-tls-refused",
    title="A receive connector that requires TLS refused mail sent without it",
    severity=Severity.ERROR,
    failure_mode="F9",
    meaning="This server answered '530 5.7.0 Must issue a STARTTLS command first' (RFC 3207): "
    "the receive connector has RequireTLS $true and the remote sent without STARTTLS. When "
    "this server offered STARTTLS, the remote must change; when its EHLO reply did not offer "
    "it (no certificate for the connector, event 12014), this server must.",
    needs=(
        "a receive session in which this server answered 'Must issue a STARTTLS command first'",
    ),
    remedy="Offered: the remote host must use STARTTLS. Not offered: give the connector a "
    "certificate (TlsCertificateName, or one for its FQDN enabled for SMTP).",
    references=(INBOUND_SELECTION,),
    signatures=(
        Signature(
            groups=(("530 5.7.0", "must issue a starttls command first"),),
            reading="The receiving server requires TLS (RequireTLS) and the sender did not "
            "start it.",
            rank=1,
        ),
    ),
    selection="Receive sessions, per remote host; Exchange Online and known partners are "
    "errors, other hosts background.",
    contradiction="None: the refusal is this server's own reply.",
    inputs=("receive-log",),
)
def receive_requires_tls_refused(context: Context, report: Report) -> Iterator[Finding]:
    """RequireTLS refusals, per remote, with the side that must change."""
    groups: dict[tuple[str, bool], list[SmtpSession]] = defaultdict(list)
    for session in context.receive_sessions:
        row = refusal_row(session)
        if row is None or _MUST_ISSUE not in row.data.casefold():
            continue
        offered = session.tls is not None and session.tls.starttls_offered is True
        groups[(session.connector_id, offered)].append(session)
    for (connector_id, offered), sessions in sorted(groups.items()):
        important = [
            s for s in sessions if exchange_online(context, s) or known_partner(context, s)
        ]
        last = (important or sessions)[-1]
        refused = refusal_row(last)
        assert refused is not None  # noqa: S101 -- grouped for its refusal
        evidence = [row_ref(refused, "this server refused mail sent without STARTTLS")]
        offer = next((r for r in ehlo_reply_rows(last) if "STARTTLS" in r.data.upper()), None)
        if offer is not None:
            evidence.insert(0, row_ref(offer, "this server offered STARTTLS"))
        connector = receive_connector_of(context, last)
        said, cited = ([], []) if offered else _selection_said(context, connector)
        evidence += cited
        count, by_host = counted(context, sessions)
        hosts = Subjects.fold("remote host", by_host or {"an unknown host": count})
        names = ", ".join(f"{s.name} ({s.count})" for s in hosts.top)
        if hosts.more:
            names += f" and {hosts.more} more"
        side = FaultSide.REMOTE if offered else FaultSide.LOCAL
        background = not important
        finding = report(
            summary=(
                f"Receive connector '{connector_id}' refused {plural(count, 'session')} "
                f"with 'Must issue a STARTTLS command first' (RequireTLS), from {names}. "
                + (
                    "This server offered STARTTLS and the remote did not use it: the remote "
                    "must change."
                    if offered
                    else "This server's EHLO reply did not offer STARTTLS, so the remote "
                    "could not: this server's connector must change (no certificate for it, "
                    "event 12014)."
                )
                + (" " + " ".join(said) if said else "")
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH,
            severity=Severity.INFO if background else None,
            because="background: none of the remote hosts is Exchange Online or a known partner"
            if background
            else None,
            side=side,
            remediation=()
            if offered or connector is None
            else (
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetReceiveConnector(
                        identity=connector.identity or connector.name or connector_id,
                        properties=("Fqdn", "TlsCertificateName", "RequireTLS", "AuthMechanism"),
                    ),
                ),
            ),
            subject=f"{connector_id}: {'offered' if offered else 'not offered'}",
        )
        yield attrs.evolve(finding, subjects=hosts)


# -- what Exchange Online sees of this server's receive connector -------------------------


@rule(
    "exchange-online-rejects-receive-certificate",
    title="Exchange Online cannot deliver over TLS to this server's receive connector",
    severity=Severity.ERROR,
    failure_mode="F13",
    meaning="Exchange Online connected to a receive connector of this server and either was "
    "shown a self-signed certificate (it validates the certificate: '4.7.320 Certificate "
    "validation failed' on its side) and left without sending, or found no STARTTLS in the "
    "EHLO reply ('450 4.4.317 … STARTTLS is required to send mail'). The connector's "
    "certificate is the cause: its FQDN matches only the self-signed certificate, or no "
    "certificate at all (a stale TlsCertificateName after a renewal, KB 2989382, event "
    "12014).",
    needs=(
        "a receive session from Exchange Online: a self-signed certificate presented, or no "
        "STARTTLS offered",
        "for the reasons: the receive connector and the certificate list",
    ),
    remedy="Give the receive connector the CA-issued certificate Exchange Online expects: set "
    "TlsCertificateName to it, or its FQDN to a name it carries; enable it for SMTP.",
    references=(INBOUND_SELECTION, KB2989382),
    signatures=(
        Signature(
            groups=(("4.7.320",), ("4.4.317", "starttls is required")),
            reading="Exchange Online could not deliver over TLS to the on-premises receive "
            "connector: the certificate it presents, or none.",
            rank=1,
        ),
    ),
    selection="Receive sessions from Exchange Online; the receive connector's inbound "
    "selection (connector FQDN, TlsCertificateName) gives the reasons.",
    contradiction="A session whose mail was accepted is not this case. It takes a stale "
    "TlsCertificateName from receive-connector-certificate-not-found when Exchange Online's "
    "sessions show its effect.",
    inputs=("receive-log",),
    side=FaultSide.LOCAL,
)
def exchange_online_rejects_receive_certificate(
    context: Context, report: Report
) -> Iterator[Finding]:
    """Exchange Online's sessions to a receive connector that fail on its certificate."""
    groups = exchange_online_receive_failures(context)
    for (connector_id, kind), sessions in sorted(groups.items()):
        last = sessions[-1]
        connector = receive_connector_of(context, last)
        said, cited = _selection_said(context, connector)
        evidence: list[EvidenceRef] = []
        if kind == "self-signed":
            local = last.tls.local_certificate if last.tls is not None else None
            assert local is not None  # noqa: S101 -- chosen for it
            evidence.append(
                EvidenceRef(
                    source=local.source,
                    excerpt=f"Sending certificate {local.subject} issued by {local.issuer}",
                    claim="this server presented a self-signed certificate to Exchange Online",
                )
            )
            what = (
                f"presented the self-signed certificate {local.subject} "
                f"({local.thumbprint or 'thumbprint not logged'}); Exchange Online validates it "
                "and reports '4.7.320 Certificate validation failed' on its side"
            )
        else:
            ehlo = list(ehlo_reply_rows(last))
            evidence.append(row_ref(ehlo[-1] if ehlo else last.rows[0], "no STARTTLS offered"))
            what = (
                "offered no STARTTLS in its EHLO reply; Exchange Online requires TLS and "
                "reports '450 4.4.317 … STARTTLS is required to send mail' on its side"
            )
        evidence += cited
        steps: list[RemediationStep] = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    properties=("Thumbprint", "Subject", "Issuer", "IsSelfSigned", "Services")
                ),
                note="Look for the CA-issued certificate Exchange Online expects.",
            )
        ]
        fit = None
        if connector is not None:
            fit = next(
                (
                    c
                    for c in context.certificates
                    if c.is_self_signed is False
                    and c.has_private_key is not False
                    and c.issuer
                    and c.subject
                ),
                None,
            )
        identity = (connector.identity or connector.name) if connector is not None else None
        if fit is not None and identity:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetReceiveConnector(
                        identity=identity, tls_certificate_name=f"<I>{fit.issuer}<S>{fit.subject}"
                    ),
                    note="A CA-issued certificate on this server; it must carry the name "
                    "Exchange Online's outbound connector uses and have SMTP enabled.",
                )
            )
        yield report(
            summary=(
                f"{plural(counted(context, sessions)[0], 'session')} from Exchange Online to "
                "receive connector "
                f"'{connector_id}' ended without mail: this server {what}."
                + (" " + " ".join(said) if said else "")
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if said else Confidence.MEDIUM,
            remediation=tuple(steps),
            subject=f"{connector_id}: {kind}",
        )
