"""Rules about connector settings: certificate name, FQDN, domain validation, logging."""

from __future__ import annotations

from collections.abc import Iterator

from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import connector_ref, queue_ref, quoted
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.conversation import receive_connectors_failing_exchange_online
from exchange_tls.diagnosis.facts.exchange_online import EXO_SUFFIX, to_exchange_online
from exchange_tls.diagnosis.facts.store import fit_for_smtp
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules._shared import TENANT_ATTRIBUTION
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.remediation.commands import (
    GetExchangeCertificate,
    GetQueue,
    GetReceiveConnector,
    GetSendConnector,
    RetryQueue,
    SetReceiveConnector,
    SetSendConnector,
)
from exchange_tls.remediation.plans.certificates import new_certificate_steps
from exchange_tls.remediation.plans.connectors import domain_validation_steps
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__: list[str] = []

SET_SEND_CONNECTOR = "https://learn.microsoft.com/powershell/module/exchange/set-sendconnector"
SET_RECEIVE_CONNECTOR = (
    "https://learn.microsoft.com/powershell/module/exchange/set-receiveconnector"
)
HEALTH_CHECKER = "https://github.com/microsoft/CSS-Exchange/tree/main/Diagnostics/HealthChecker"
HYBRID_CONNECTORS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow/set-up-connectors-to-route-mail"
_NOT_FOUND = "could not be found"


def _name_not_found(*, rank: int) -> Signature:
    """Return the signature of the queue error for a TlsCertificateName Exchange cannot find."""
    return Signature(
        groups=(("tlscertificatename", _NOT_FOUND),),
        reading="The send connector names a certificate (TlsCertificateName) that "
        "Exchange cannot find; no connection was made.",
        rank=rank,
    )


_NAME_SELECTION = (
    "Looks the name up as Exchange does (issuer and subject, case-insensitively); the fix "
    "names a certificate only when one carrying the connector's FQDN is fit (private key, "
    "valid, enabled for SMTP)."
)


def _queue_texts(context: Context, connector: SendConnector, needle: str) -> list[EvidenceRef]:
    refs = []
    for queue in context.queues_for_connector(connector):
        error = queue.last_error
        if error is not None and needle.casefold() in error.raw.casefold():
            refs.append(queue_ref(queue, f"the queue reports {quoted(needle)}"))
    return refs


@rule(
    "tls-certificate-name-not-found",
    title="The certificate named in TlsCertificateName is not on the server",
    severity=Severity.ERROR,
    failure_mode="F4",
    meaning="The connector's TlsCertificateName names an issuer and subject that no certificate "
    "in the store has (typically after a renewal changed the issuer). Exchange cannot start "
    "TLS and the queue shows '454 4.7.5 The certificate specified in TlsCertificateName of "
    "the SendConnector could not be found.'",
    needs=(
        (
            "the connector's TlsCertificateName and the certificate list, or the queue's 454 "
            "4.7.5 error"
        ),
    ),
    remedy="Set TlsCertificateName from a certificate fit for SMTP: "
    '"<I>$($c.Issuer)<S>$($c.Subject)"; when none is fit, get a new certificate first.',
    references=(SET_SEND_CONNECTOR,),
    signatures=(_name_not_found(rank=1),),
    selection=_NAME_SELECTION,
    contradiction="The queue's 454 4.7.5 raises the confidence to high.",
    inputs=(
        "certificates+send-connectors",
        "queues",
    ),
    side=FaultSide.LOCAL,
)
def tls_certificate_name_not_found(context: Context, report: Report) -> Iterator[Finding]:
    """F4: TlsCertificateName names no certificate of the inventory."""
    for connector in context.connectors:
        name = connector.tls_certificate_name
        if name is None or name.issuer is None:
            continue
        queue_refs = _queue_texts(context, connector, _NOT_FOUND)
        inventory_says = bool(context.certificates) and not any(
            name.matches(certificate) for certificate in context.certificates
        )
        if not (inventory_says or queue_refs):
            continue
        evidence = [
            connector_ref(
                connector,
                "the connector names this certificate",
                f"TlsCertificateName: {name.render()}",
            )
        ]
        if inventory_says:
            evidence.append(
                EvidenceRef(
                    source=None,
                    excerpt=(
                        f"{len(context.certificates)} certificates in the inventory, none with "
                        "that issuer and subject"
                    ),
                    claim="no certificate in the store matches",
                )
            )
        evidence.extend(queue_refs)
        steps = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetExchangeCertificate(
                    properties=("Thumbprint", "Issuer", "Subject", "Services", "NotAfter")
                ),
            )
        ]
        fit = fit_for_smtp(context, connector) if context.certificates else None
        if fit is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "",
                        tls_certificate_from_thumbprint=fit.thumbprint,
                    ),
                    note=(
                        "Builds the value from the certificate that carries the connector's "
                        "FQDN and is fit (private key, valid, SMTP); check it is the one you "
                        "want."
                    ),
                )
            )
        elif context.certificates:
            steps.extend(new_certificate_steps(connector.fqdn or context.evidence.server_fqdn))
        steps.append(RemediationStep(purpose=Purpose.FIX, command=RetryQueue()))
        steps.append(
            RemediationStep(purpose=Purpose.VERIFY, command=GetQueue(filter="Status -eq 'Retry'"))
        )
        advice = (
            f" The certificate {fit.subject} ({fit.thumbprint}) is fit to be named instead."
            if fit is not None
            else (
                " No certificate in the store is fit to be named (private key, valid, SMTP): "
                "a new certificate is needed."
                if context.certificates
                else ""
            )
        )
        yield report(
            summary=(
                f"Send connector {quoted(connector.name)} names the certificate "
                f"{quoted(name.render())}, which is not in the certificate store.{advice}"
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if queue_refs else Confidence.MEDIUM,
            preconditions=(
                ("the certificate list is from the connector's source server",)
                if inventory_says
                else ()
            ),
            remediation=tuple(steps),
            subject=connector.name or "",
        )


@rule(
    "tls-certificate-name-invalid",
    title="TlsCertificateName is not in the form <I>issuer<S>subject",
    severity=Severity.ERROR,
    failure_mode="F5",
    meaning="The connector's TlsCertificateName lost its <I> or <S> marker (web pages drop them "
    "as HTML tags) or is otherwise malformed, so it can match no certificate. The markers "
    "are case-insensitive (<i>/<s> work, as HealthChecker and Exchange accept them).",
    needs=("the connector's TlsCertificateName",),
    remedy='Set it again from the certificate: "<I>$($c.Issuer)<S>$($c.Subject)".',
    references=(SET_SEND_CONNECTOR, HEALTH_CHECKER),
    signatures=(_name_not_found(rank=2),),
    selection=_NAME_SELECTION,
    contradiction="None: a malformed value matches nothing whatever the log says.",
    inputs=("send-connectors",),
    side=FaultSide.LOCAL,
)
def tls_certificate_name_invalid(context: Context, report: Report) -> Iterator[Finding]:
    """F5: a malformed TlsCertificateName."""
    for connector in context.connectors:
        name = connector.tls_certificate_name
        if name is None or name.issuer is not None:
            continue
        identity = connector.name or ""
        steps = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetSendConnector(identity=identity, properties=("TlsCertificateName",)),
            )
        ]
        fit = fit_for_smtp(context, connector)
        if fit is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=identity, tls_certificate_from_thumbprint=fit.thumbprint
                    ),
                    note="Builds the value from the fit certificate that carries the "
                    "connector's FQDN.",
                )
            )
        elif context.certificates:
            steps.extend(new_certificate_steps(connector.fqdn or context.evidence.server_fqdn))
        steps.append(
            RemediationStep(
                purpose=Purpose.VERIFY,
                command=GetSendConnector(identity=identity, properties=("TlsCertificateName",)),
                note="The value should read <I>issuer<S>subject of the certificate.",
            )
        )
        yield report(
            summary=(
                f"Send connector {quoted(connector.name)} has TlsCertificateName "
                f"{quoted(name.raw)}, which lacks its <I> or <S> marker."
            ),
            evidence=(
                connector_ref(
                    connector, "the value is malformed", f"TlsCertificateName: {name.raw}"
                ),
            ),
            confidence=Confidence.HIGH,
            remediation=tuple(steps),
            subject=connector.name or "",
        )


@rule(
    "receive-connector-certificate-not-found",
    title="A receive connector's TlsCertificateName names no certificate on the server",
    severity=Severity.ERROR,
    failure_mode="F4",
    meaning="A receive connector names (TlsCertificateName) a certificate the store does not "
    "hold, typically after a renewal: the connector cannot offer the intended certificate "
    "to Exchange Online or partners, which then fail STARTTLS or misattribute the mail "
    "(KB 2989382).",
    needs=("the receive connector's TlsCertificateName", "the certificate list"),
    remedy="Set the receive connector's TlsCertificateName from the certificate that is fit "
    "(private key, valid, SMTP), or re-run the Hybrid Configuration Wizard.",
    references=(SET_RECEIVE_CONNECTOR,),
    selection="Looks the name up in the store as for send connectors.",
    contradiction="None: configuration only.",
    inputs=("certificates+receive-connectors",),
    side=FaultSide.LOCAL,
)
def receive_connector_certificate_not_found(context: Context, report: Report) -> Iterator[Finding]:
    """Report a receive connector's stale TlsCertificateName."""
    if not context.certificates:
        return
    # Exchange Online's sessions that show the effect: its receive-side rule reports both.
    failing = receive_connectors_failing_exchange_online(context)
    for connector in context.receive_connectors:
        name = connector.tls_certificate_name
        if name is None or name.issuer is None or (connector.name or "").casefold() in failing:
            continue
        if any(name.matches(certificate) for certificate in context.certificates):
            continue
        identity = connector.identity or connector.name or ""
        steps: list[RemediationStep] = []
        if identity:
            steps.append(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetReceiveConnector(
                        identity=identity, properties=("Identity", "Fqdn", "TlsCertificateName")
                    ),
                )
            )
        fit = fit_for_smtp(context, connector)
        if fit is not None and identity:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetReceiveConnector(
                        identity=identity,
                        tls_certificate_name=f"<I>{fit.issuer}<S>{fit.subject}",
                    ),
                    note="The certificate that carries the connector's FQDN and is fit.",
                )
            )
        elif fit is None:
            steps.extend(new_certificate_steps(connector.fqdn or context.evidence.server_fqdn))
        if identity:
            steps.append(
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetReceiveConnector(
                        identity=identity, properties=("TlsCertificateName",)
                    ),
                    note="The value should name a certificate Get-ExchangeCertificate lists.",
                )
            )
        yield report(
            summary=(
                f"Receive connector {quoted(connector.name)} names the certificate "
                f"{quoted(name.render())}, which is not in the certificate store."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the receive connector names this certificate",
                    f"TlsCertificateName: {name.render()}",
                ),
                EvidenceRef(
                    source=None,
                    excerpt=f"{len(context.certificates)} certificates, none with that "
                    "issuer and subject",
                    claim="no certificate in the store matches",
                ),
            ),
            confidence=Confidence.MEDIUM,
            preconditions=("the certificate list is from the connector's server",),
            remediation=tuple(steps),
            subject=identity,
        )


@rule(
    "exchange-online-connector-incomplete",
    title="A connector to Exchange Online lacks TlsCertificateName or CloudServicesMailEnabled",
    severity=Severity.WARNING,
    failure_mode="F13",
    meaning="A send connector whose smart host is Exchange Online (*.mail.protection.outlook."
    "com) should name its certificate (TlsCertificateName) and set CloudServicesMailEnabled, "
    "as the Hybrid Configuration Wizard does; without them Exchange Online cannot attribute "
    "the mail to the organisation's certificate-based connector (HealthChecker's connector "
    "check).",
    needs=("the send connector's SmartHosts, TlsCertificateName and CloudServicesMailEnabled",),
    remedy="Set TlsCertificateName from the certificate Exchange Online's inbound connector "
    "expects and CloudServicesMailEnabled $true, or re-run the Hybrid Configuration Wizard.",
    references=(HEALTH_CHECKER, HYBRID_CONNECTORS),
    signatures=(TENANT_ATTRIBUTION,),
    selection="The connector's configuration only.",
    contradiction="None: configuration only.",
    inputs=("send-connectors",),
    side=FaultSide.LOCAL,
)
def exchange_online_connector_incomplete(context: Context, report: Report) -> Iterator[Finding]:
    """HealthChecker's ExoConnectorCheck: name the certificate, mark the connector."""
    for connector in context.connectors:
        smart_to_exo = any(
            host.strip().casefold().endswith(EXO_SUFFIX) for host in connector.smart_hosts or ()
        )
        if not smart_to_exo:
            continue
        lacks = []
        if connector.tls_certificate_name is None:
            lacks.append("TlsCertificateName")
        if connector.cloud_services_mail_enabled is False:
            lacks.append("CloudServicesMailEnabled $true")
        if not lacks:
            continue
        steps = [
            RemediationStep(
                purpose=Purpose.CHECK,
                command=GetSendConnector(
                    identity=connector.name or "",
                    properties=("SmartHosts", "TlsCertificateName", "CloudServicesMailEnabled"),
                ),
            )
        ]
        fit = fit_for_smtp(context, connector)
        if fit is not None and connector.tls_certificate_name is None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "",
                        tls_certificate_from_thumbprint=fit.thumbprint,
                    ),
                    note="The certificate must be the one Exchange Online's inbound connector "
                    "expects (TlsSenderCertificateName); check it there.",
                )
            )
        steps.append(
            RemediationStep(
                purpose=Purpose.VERIFY,
                command=GetSendConnector(
                    identity=connector.name or "",
                    properties=("TlsCertificateName", "CloudServicesMailEnabled"),
                ),
                note="Both set; CloudServicesMailEnabled is best set by re-running the Hybrid "
                "Configuration Wizard.",
            )
        )
        yield report(
            summary=(
                f"Send connector {quoted(connector.name)} sends to Exchange Online without "
                f"{' and '.join(lacks)}."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the connector's Exchange Online settings",
                    f"SmartHosts: {', '.join(connector.smart_hosts or ())}, "
                    f"TlsCertificateName: {connector.tls_certificate_name}, "
                    f"CloudServicesMailEnabled: {connector.cloud_services_mail_enabled}",
                ),
            ),
            confidence=Confidence.MEDIUM,
            remediation=tuple(steps),
            subject=connector.name or "",
        )


@rule(
    "no-certificate-for-connector-fqdn",
    title="No certificate matches the connector's FQDN",
    severity=Severity.WARNING,
    failure_mode="F7",
    meaning="The connector has no TlsCertificateName, so Exchange looks for a certificate by the "
    "connector's FQDN, and none has that name. Exchange then sends without a client "
    "certificate, which peers that authenticate by certificate (Exchange Online) refuse.",
    needs=("the connector's FQDN and settings", "the certificate list"),
    remedy="Get a certificate that contains the FQDN, or set the connector's FQDN to a name in "
    "the certificate; enable it for SMTP.",
    references=(SET_SEND_CONNECTOR,),
    signatures=(
        Signature(
            groups=(("starttls is required to send mail",), ("disallowed this secure domain",)),
            reading="TLS is required on this path, and one end did not offer STARTTLS.",
            rank=2,
        ),
    ),
    selection="Uses Exchange's selection by FQDN; fires only when it finds no fit certificate.",
    contradiction="None: configuration only.",
    inputs=("certificates+send-connectors",),
    side=FaultSide.LOCAL,
)
def no_certificate_for_connector_fqdn(context: Context, report: Report) -> Iterator[Finding]:
    """F7: TLS matters for the connector, and no certificate fits its FQDN."""
    if not context.certificates:
        return
    for connector in context.connectors:
        if connector.tls_certificate_name is not None:
            continue
        wants_tls = (
            connector.require_tls
            or connector.cloud_services_mail_enabled
            or connector.tls_auth_level
        )
        fqdn = connector.fqdn or context.evidence.server_fqdn
        if not wants_tls or not fqdn or context.selected_certificate(connector) is not None:
            continue
        reasons = context.selection(connector).reasons()
        yield report(
            summary=(
                f"Send connector {quoted(connector.name)} uses TLS, but no certificate in the "
                f"store that has the name {quoted(fqdn)} is fit: {'; '.join(reasons)}."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the connector selects its certificate by this name",
                    f"Fqdn: {fqdn}, RequireTLS: {connector.require_tls}",
                ),
                EvidenceRef(
                    source=None,
                    excerpt=f"{len(context.certificates)} certificates, none fit for {fqdn}",
                    claim="no fit certificate has the name",
                ),
            ),
            confidence=Confidence.MEDIUM,
            preconditions=("the certificate list is from the connector's source server",),
            remediation=(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetExchangeCertificate(
                        domain_name=fqdn,
                        properties=("Thumbprint", "Services", "Subject", "CertificateDomains"),
                    ),
                ),
                *new_certificate_steps(fqdn),
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetExchangeCertificate(
                        domain_name=fqdn, properties=("Thumbprint", "Services", "NotAfter")
                    ),
                    note="The first certificate listed is the one the connector picks; it "
                    "should have SMTP.",
                ),
            ),
            subject=connector.name or "",
        )


@rule(
    "tls-domain-validation-misconfigured",
    title="TlsAuthLevel and TlsDomain do not fit together",
    severity=Severity.ERROR,
    failure_mode="F15",
    meaning="DomainValidation needs a TlsDomain on a smart-host connector, and a TlsDomain is "
    "allowed only with DomainValidation; otherwise Exchange refuses to send with '421 "
    "TLSAuthLevel cannot be DomainValidation with out a valid TLS Domain.' or '421 TLS "
    "Domain can only be specified with TLSAuthLevel set to DomainValidation.' TlsAuthLevel "
    "can be set only when RequireTLS is $true.",
    needs=("the connector's TlsAuthLevel, TlsDomain, RequireTLS and SmartHosts",),
    remedy="A stray TlsDomain: clear it (-TlsDomain $null), or, on a RequireTLS connector "
    "meant to validate the domain, set TlsAuthLevel DomainValidation. A missing TlsDomain: "
    "set the domain in the smart host's certificate (mail.protection.outlook.com for "
    "Exchange Online).",
    references=(SET_SEND_CONNECTOR,),
    signatures=(
        Signature(
            groups=(
                ("tlsauthlevel cannot be domainvalidation",),
                ("tls domain can only be specified",),
            ),
            reading="The connector's TlsAuthLevel and TlsDomain do not fit together.",
            rank=1,
        ),
    ),
    selection="The connector's configuration only.",
    contradiction="None: Exchange refuses the combination before any connection.",
    inputs=(
        "send-connectors",
        "queues",
    ),
    side=FaultSide.LOCAL,
)
def tls_domain_validation_misconfigured(context: Context, report: Report) -> Iterator[Finding]:
    """F15: DomainValidation without TlsDomain, or TlsDomain without it."""
    for connector in context.connectors:
        level = (connector.tls_auth_level or "").casefold()
        missing_domain = (
            level == "domainvalidation" and not connector.tls_domain and bool(connector.smart_hosts)
        )
        stray_domain = bool(connector.tls_domain) and level != "domainvalidation"
        if not (missing_domain or stray_domain):
            continue
        problem = (
            "DomainValidation without a TlsDomain"
            if missing_domain
            else "a TlsDomain without DomainValidation"
        )
        identity = connector.name or ""
        steps = domain_validation_steps(
            connector, stray_domain=stray_domain, to_exchange_online=to_exchange_online(connector)
        )
        advice = (
            ""
            if stray_domain or to_exchange_online(connector)
            else " Set -TlsDomain to the domain the smart host's certificate is issued for "
            f"({', '.join(connector.smart_hosts or ())}); it cannot be read from this evidence."
        )
        yield report(
            summary=f"Send connector {quoted(connector.name)} has {problem}.{advice}",
            evidence=(
                connector_ref(
                    connector,
                    problem,
                    f"TlsAuthLevel: {connector.tls_auth_level}, TlsDomain: "
                    f"{connector.tls_domain}, RequireTLS: {connector.require_tls}",
                ),
            ),
            confidence=Confidence.HIGH,
            remediation=tuple(steps),
            subject=identity,
        )


@rule(
    "protocol-logging-disabled",
    title="A failing connector has no protocol log to show why",
    severity=Severity.WARNING,
    failure_mode=None,
    meaning="A queue is failing through a send connector whose ProtocolLoggingLevel is None, "
    "and no session of that connector is in the evidence. The queue's error alone cannot tell "
    "a TLS failure from a network one (KB 4051498, step 1).",
    needs=(
        "a failing queue",
        "its connector with ProtocolLoggingLevel None",
        "no sessions of that connector",
    ),
    remedy="Set ProtocolLoggingLevel Verbose on the connector, retry the queue, and collect the "
    "send protocol log.",
    references=("https://support.microsoft.com/help/4051498",),
    selection="The connector serving the failing queue (smart host or address space).",
    contradiction="Silent when the evidence holds sessions of the connector.",
    inputs=("queues+send-connectors",),
    side=FaultSide.LOCAL,
)
def protocol_logging_disabled(context: Context, report: Report) -> Iterator[Finding]:
    """Collect more evidence: turn on protocol logging for a failing connector."""
    for connector in context.connectors:
        if connector.logging_enabled is not False or context.sessions_of(connector):
            continue
        failing = [queue for queue in context.queues_for_connector(connector) if queue.is_failing]
        if not failing:
            continue
        yield report(
            summary=(
                f"Queue {failing[0].identity} is failing through send connector "
                f"{quoted(connector.name)}, whose protocol logging is off; turn it on to see "
                "whether TLS or the network fails."
            ),
            evidence=(
                queue_ref(failing[0], "the queue is failing"),
                connector_ref(connector, "protocol logging is off", "ProtocolLoggingLevel: None"),
            ),
            confidence=Confidence.HIGH,
            remediation=(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "", protocol_logging_level="Verbose"
                    ),
                    note="Logging may take a few minutes to start.",
                ),
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=RetryQueue(identity=failing[0].identity)
                    if failing[0].identity
                    else RetryQueue(),
                ),
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetQueue(identity=failing[0].identity)
                    if failing[0].identity
                    else GetQueue(filter="Status -eq 'Retry'"),
                    note=(
                        "Then collect TransportRoles\\Logs\\Hub\\ProtocolLog\\SmtpSend and "
                        "diagnose again."
                    ),
                ),
            ),
            subject=connector.name or "",
        )
