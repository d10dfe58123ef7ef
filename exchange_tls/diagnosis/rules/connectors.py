"""Rules about send connector settings: certificate name, FQDN, domain validation, logging."""

from __future__ import annotations

from collections.abc import Iterator

from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.catalogue import finding, rule
from exchange_tls.diagnosis.cite import connector_ref, queue_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.errors import Severity
from exchange_tls.remediation.commands import (
    GetExchangeCertificate,
    GetQueue,
    RetryQueue,
    SetSendConnector,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

SET_SEND_CONNECTOR = "https://learn.microsoft.com/powershell/module/exchange/set-sendconnector"
_NOT_FOUND = "could not be found"


def _queue_texts(context: Context, connector: SendConnector, needle: str) -> list[EvidenceRef]:
    refs = []
    for queue in context.queues_for_connector(connector):
        error = queue.last_error
        if error is not None and needle.casefold() in error.raw.casefold():
            refs.append(queue_ref(queue, f"the queue reports {needle!r}"))
    return refs


def _best_thumbprint(context: Context, connector: SendConnector) -> str | None:
    fqdn_only = SendConnector(name=connector.name, fqdn=connector.fqdn)
    selected = context.selected_certificate(fqdn_only)
    if selected is not None and selected.thumbprint and len(selected.thumbprint) == 40:
        return selected.thumbprint
    return None


@rule(
    rule_id="tls-certificate-name-not-found",
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
    remedy="Set TlsCertificateName from the certificate that should be used: "
    '"<I>$($c.Issuer)<S>$($c.Subject)".',
    references=(SET_SEND_CONNECTOR,),
)
def tls_certificate_name_not_found(context: Context) -> Iterator[Finding]:
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
        thumbprint = _best_thumbprint(context, connector)
        if thumbprint:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "", tls_certificate_from_thumbprint=thumbprint
                    ),
                    note=(
                        "Builds the value from the certificate that matches the connector's "
                        "FQDN; check it is the one you want."
                    ),
                )
            )
        steps.append(RemediationStep(purpose=Purpose.FIX, command=RetryQueue()))
        steps.append(
            RemediationStep(purpose=Purpose.VERIFY, command=GetQueue(filter="Status -eq 'Retry'"))
        )
        yield finding(
            "tls-certificate-name-not-found",
            summary=(
                f"Send connector {connector.name!r} names the certificate {name.render()!r}, "
                "which is not in the certificate store."
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
    rule_id="tls-certificate-name-invalid",
    title="TlsCertificateName is not in the form <I>issuer<S>subject",
    severity=Severity.ERROR,
    failure_mode="F5",
    meaning="The connector's TlsCertificateName lost its <I> or <S> marker (web pages drop them "
    "as HTML tags) or is otherwise malformed, so it can match no certificate.",
    needs=("the connector's TlsCertificateName",),
    remedy='Set it again from the certificate: "<I>$($c.Issuer)<S>$($c.Subject)".',
    references=(SET_SEND_CONNECTOR,),
)
def tls_certificate_name_invalid(context: Context) -> Iterator[Finding]:
    """F5: a malformed TlsCertificateName."""
    for connector in context.connectors:
        name = connector.tls_certificate_name
        if name is None or name.issuer is not None:
            continue
        steps = []
        thumbprint = _best_thumbprint(context, connector)
        if thumbprint:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "", tls_certificate_from_thumbprint=thumbprint
                    ),
                )
            )
        yield finding(
            "tls-certificate-name-invalid",
            summary=(
                f"Send connector {connector.name!r} has TlsCertificateName {name.raw!r}, which "
                "lacks its <I> or <S> marker."
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
    rule_id="no-certificate-for-connector-fqdn",
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
)
def no_certificate_for_connector_fqdn(context: Context) -> Iterator[Finding]:
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
        yield finding(
            "no-certificate-for-connector-fqdn",
            summary=(
                f"Send connector {connector.name!r} uses TLS, but no certificate in the store "
                f"has the name {fqdn!r}."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the connector selects its certificate by this name",
                    f"Fqdn: {fqdn}, RequireTLS: {connector.require_tls}",
                ),
                EvidenceRef(
                    source=None,
                    excerpt=f"{len(context.certificates)} certificates, none for {fqdn}",
                    claim="no certificate has the name",
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
            ),
            subject=connector.name or "",
        )


@rule(
    rule_id="tls-domain-validation-misconfigured",
    title="TlsAuthLevel and TlsDomain do not fit together",
    severity=Severity.ERROR,
    failure_mode="F15",
    meaning="DomainValidation needs a TlsDomain on a smart-host connector, and a TlsDomain is "
    "allowed only with DomainValidation; otherwise Exchange refuses to send with '421 "
    "TLSAuthLevel cannot be DomainValidation with out a valid TLS Domain.' or '421 TLS "
    "Domain can only be specified with TLSAuthLevel set to DomainValidation.'",
    needs=("the connector's TlsAuthLevel, TlsDomain and SmartHosts",),
    remedy=(
        "Set both together: -TlsAuthLevel DomainValidation -TlsDomain <domain>, or clear TlsDomain."
    ),
    references=(SET_SEND_CONNECTOR,),
)
def tls_domain_validation_misconfigured(context: Context) -> Iterator[Finding]:
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
        fix = (
            SetSendConnector(
                identity=connector.name or "",
                tls_auth_level="DomainValidation",
                tls_domain=connector.tls_domain or "mail.protection.outlook.com",
            )
            if stray_domain
            else SetSendConnector(
                identity=connector.name or "",
                tls_auth_level="DomainValidation",
                tls_domain="mail.protection.outlook.com",
            )
        )
        yield finding(
            "tls-domain-validation-misconfigured",
            summary=f"Send connector {connector.name!r} has {problem}.",
            evidence=(
                connector_ref(
                    connector,
                    problem,
                    f"TlsAuthLevel: {connector.tls_auth_level}, TlsDomain: {connector.tls_domain}",
                ),
            ),
            confidence=Confidence.HIGH,
            remediation=(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=fix,
                    note=(
                        "Use the domain the remote certificate is issued for; "
                        "mail.protection.outlook.com for Exchange Online."
                    ),
                ),
            ),
            subject=connector.name or "",
        )


@rule(
    rule_id="protocol-logging-disabled",
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
)
def protocol_logging_disabled(context: Context) -> Iterator[Finding]:
    """Collect more evidence: turn on protocol logging for a failing connector."""
    for connector in context.connectors:
        if connector.logging_enabled is not False or context.sessions_of(connector):
            continue
        failing = [queue for queue in context.queues_for_connector(connector) if queue.is_failing]
        if not failing:
            continue
        yield finding(
            "protocol-logging-disabled",
            summary=(
                f"Queue {failing[0].identity} is failing through send connector "
                f"{connector.name!r}, whose protocol logging is off; turn it on to see whether "
                "TLS or the network fails."
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
