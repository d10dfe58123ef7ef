"""Rules about the certificate a connector presents: bindings, key, validity, trust."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from exchange_tls.certificates.models import (
    CertificateStatus,
    ExchangeCertificate,
    Services,
)
from exchange_tls.diagnosis.catalogue import finding, rule
from exchange_tls.diagnosis.cite import (
    certificate_ref,
    connector_ref,
    failure_row,
    queue_ref,
    row_at,
    row_ref,
)
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import CertificateIdentity, SmtpSession
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    GetQueue,
    ImportExchangeCertificate,
    RetryQueue,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

KB4051498 = "https://support.microsoft.com/help/4051498"
KB4495258 = "https://learn.microsoft.com/troubleshoot/exchange/mailflow/tls-negotiation-failed-with-error-nocredentials-error"
ENABLE_DOCS = "https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate"
SOON = dt.timedelta(days=30)
_INSPECT = ("Thumbprint", "Services", "HasPrivateKey", "Status", "NotAfter", "Subject")
PROMPT_NOTE = (
    'Enabling SMTP asks "Overwrite the existing default SMTP certificate?". Answer N: '
    "the default SMTP certificate is the internal transport certificate, and replacing it "
    "can break mail flow between Exchange servers and EdgeSync. -Force would answer Yes, "
    "so it is not used."
)


def _credential_failures(context: Context, errors: tuple[str, ...]) -> Iterator[SmtpSession]:
    for session in context.send_sessions:
        tls = session.tls
        if tls is not None and tls.succeeded is False and tls.error in errors:
            yield session


def _latest_per_certificate(
    sessions: Iterator[SmtpSession],
) -> dict[tuple[str, str], SmtpSession]:
    """Return the last failing session per connector and presented certificate."""
    latest: dict[tuple[str, str], SmtpSession] = {}
    for session in sessions:
        assert session.tls is not None  # noqa: S101 -- filtered by the caller
        identity = session.tls.local_certificate
        key = (
            session.connector_id,
            (identity.thumbprint or identity.subject or "") if identity else "",
        )
        latest[key] = session
    return latest


def _session_evidence(session: SmtpSession) -> list[EvidenceRef]:
    refs = []
    row = failure_row(session)
    if row is not None:
        refs.append(row_ref(row, f"connector {session.connector_id!r} failed the TLS handshake"))
    identity = session.tls.local_certificate if session.tls else None
    if identity is not None:
        thumbprint_row = row_at(session, identity.thumbprint_source)
        if thumbprint_row is not None:
            refs.append(row_ref(thumbprint_row, "this is the certificate Exchange presented"))
    return refs


def _history(context: Context, session: SmtpSession) -> tuple[str, list[EvidenceRef]]:
    """Describe the connector's TLS timeline: last success, failures since, any new certificate."""
    timeline = context.timeline(context.sessions_named(session.connector_id))
    if timeline.last_success is None:
        return "", []
    success = timeline.last_success
    row = next((r for r in success.rows if r.text.startswith("TLS protocol ")), success.rows[0])
    refs = [row_ref(row, "the connector's last successful TLS handshake")]
    sentence = (
        f" TLS last succeeded at {success.end:%Y-%m-%d %H:%M} UTC, with "
        f"{timeline.failures_since} failure(s) since."
    )
    changed = timeline.changed_certificate
    if changed is not None:
        before = success.tls.local_certificate if success.tls else None
        sentence += (
            f" The certificate presented changed at the first failure, from "
            f"{before.thumbprint if before else 'another'} to {changed.thumbprint}: the "
            "likely trigger."
        )
    return sentence, refs


def _queue_evidence(context: Context, session: SmtpSession) -> list[EvidenceRef]:
    claim = "the queue's error looks like a network problem, but it follows the TLS failure above"
    return [
        queue_ref(queue, claim)
        for queue in context.queues
        if queue.is_failing and session in context.sessions_for_queue(queue)
    ]


def _thumbprint(
    identity: CertificateIdentity | None, certificate: ExchangeCertificate | None
) -> str | None:
    for value in (
        certificate.thumbprint if certificate else None,
        identity.thumbprint if identity else None,
    ):
        if value and len(value) == 40 and all(c in "0123456789ABCDEF" for c in value.upper()):
            return value.upper()
    return None


def _inspect(thumbprint: str | None) -> RemediationStep | None:
    if thumbprint is None:
        return None
    return RemediationStep(
        purpose=Purpose.CHECK,
        command=GetExchangeCertificate(thumbprint=thumbprint, properties=_INSPECT),
        note="Services should include SMTP and HasPrivateKey should be True.",
    )


def _retry_and_verify(queues: list[str | None]) -> list[RemediationStep]:
    steps = [
        RemediationStep(
            purpose=Purpose.FIX, command=RetryQueue(), note="Retry the queues waiting in Retry now."
        )
    ]
    steps.extend(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetQueue(identity=identity)
            if identity
            else GetQueue(filter="Status -eq 'Retry'"),
            note="The queue should drain; the send protocol log should show "
            "'TLS protocol … negotiation succeeded'.",
        )
        for identity in queues or [None]
    )
    return steps


def _failing_queue_ids(context: Context, session: SmtpSession) -> list[str | None]:
    return [
        queue.identity
        for queue in context.queues
        if queue.identity and queue.is_failing and session in context.sessions_for_queue(queue)
    ]


@rule(
    rule_id="certificate-not-enabled-for-smtp",
    title="The certificate the connector presents is not enabled for SMTP",
    severity=Severity.ERROR,
    failure_mode="F1",
    meaning="Exchange selected a certificate for outbound TLS (by TlsCertificateName or the "
    "connector's FQDN) that is not enabled for the SMTP service, so the transport service "
    "cannot use its private key. The handshake fails with UnknownCredentials, and the queue "
    "shows '421 4.4.1 Connection timed out', which looks like a firewall problem but is not "
    "(Microsoft KB 4051498).",
    needs=(
        "a send session with 'TLS negotiation failed with error UnknownCredentials' and its "
        "'Sending certificate' block",
        "the certificate in Get-ExchangeCertificate output, with Services lacking SMTP "
        "(without it, the finding has medium confidence)",
    ),
    remedy="Enable the certificate for SMTP, keeping its other services, and answer N to the "
    "prompt to overwrite the default SMTP certificate; then retry the queues.",
    references=(KB4051498, ENABLE_DOCS),
)
def certificate_not_enabled_for_smtp(context: Context) -> Iterator[Finding]:
    """F1: UnknownCredentials with the presented certificate lacking SMTP."""
    failures = _latest_per_certificate(_credential_failures(context, ("UnknownCredentials",)))
    for (connector_id, _), session in sorted(failures.items()):
        assert session.tls is not None  # noqa: S101 -- a failing TLS session
        identity = session.tls.local_certificate
        certificate = context.certificate_for(identity)
        if certificate is not None:
            if certificate.services is None or Services.SMTP in certificate.services:
                continue  # enabled, or not known: another rule speaks (key access)
            if certificate.has_private_key is False:
                continue  # no key at all: certificate-missing-private-key
        thumbprint = _thumbprint(identity, certificate)
        evidence = _session_evidence(session)
        confidence = Confidence.MEDIUM
        if certificate is not None:
            evidence.append(
                certificate_ref(
                    certificate,
                    "the certificate is not enabled for SMTP",
                    f"Thumbprint {certificate.thumbprint}, Services: {certificate.services}",
                )
            )
            confidence = Confidence.HIGH
        evidence.extend(_queue_evidence(context, session))
        history, history_refs = _history(context, session)
        evidence.extend(history_refs)
        services = (
            certificate.services if certificate and certificate.services else Services.NONE
        ) | Services.SMTP
        steps = [step for step in [_inspect(thumbprint)] if step is not None]
        if thumbprint is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(thumbprint=thumbprint, services=services),
                    note=PROMPT_NOTE,
                )
            )
        steps.extend(_retry_and_verify(_failing_queue_ids(context, session)))
        name = identity.subject if identity and identity.subject else "the certificate"
        missing = (
            ""
            if certificate is not None
            else (
                " The certificate list was not in the evidence: the check step confirms that "
                "SMTP is missing from its services."
            )
        )
        yield finding(
            "certificate-not-enabled-for-smtp",
            summary=(
                f"Send connector {connector_id!r} presents {name} "
                f"(thumbprint {thumbprint or 'unknown'}), which is not enabled for SMTP, so "
                f"TLS fails with UnknownCredentials and mail waits in the queue.{history}{missing}"
            ),
            evidence=tuple(evidence),
            confidence=confidence,
            preconditions=(
                "the session's own 'Sending certificate' block names the certificate",
                "Services as Get-ExchangeCertificate reported them",
            ),
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
            subject=thumbprint or connector_id,
        )


@rule(
    rule_id="certificate-missing-private-key",
    title="The certificate the connector presents has no private key",
    severity=Severity.ERROR,
    failure_mode="F2",
    meaning="The selected certificate is in the store without its private key, so it cannot "
    "be used for TLS; the handshake fails with NoCredentials (Microsoft KB 4495258).",
    needs=(
        "a send session failing with NoCredentials, or the presented certificate with "
        "HasPrivateKey False",
    ),
    remedy="Import the certificate again from a PFX file that holds its key, enable it for "
    "SMTP (answer N to the overwrite prompt), and retry the queues.",
    references=(KB4495258,),
)
def certificate_missing_private_key(context: Context) -> Iterator[Finding]:
    """F2: NoCredentials, or the presented certificate has no key."""
    sessions = _credential_failures(context, ("NoCredentials", "UnknownCredentials"))
    for (connector_id, _), session in sorted(_latest_per_certificate(sessions).items()):
        assert session.tls is not None  # noqa: S101 -- a failing TLS session
        identity = session.tls.local_certificate
        certificate = context.certificate_for(identity)
        no_key = certificate is not None and certificate.has_private_key is False
        if not no_key and session.tls.error != "NoCredentials":
            continue
        if certificate is not None and certificate.has_private_key is True:
            continue  # a key is there: certificate-key-inaccessible
        thumbprint = _thumbprint(identity, certificate)
        evidence = _session_evidence(session)
        if certificate is not None and no_key:
            evidence.append(
                certificate_ref(
                    certificate, "the certificate has no private key", "HasPrivateKey : False"
                )
            )
        evidence.extend(_queue_evidence(context, session))
        steps = [step for step in [_inspect(thumbprint)] if step is not None]
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=ImportExchangeCertificate(
                    file_path="C:\\Certificates\\certificate-with-key.pfx"
                ),
                note="Replace the path with the PFX file that holds the certificate and its key.",
            )
        )
        if thumbprint is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(
                        thumbprint=thumbprint,
                        services=(
                            certificate.services
                            if certificate and certificate.services
                            else Services.NONE
                        )
                        | Services.SMTP,
                    ),
                    note=PROMPT_NOTE,
                )
            )
        steps.extend(_retry_and_verify(_failing_queue_ids(context, session)))
        yield finding(
            "certificate-missing-private-key",
            summary=(
                f"Send connector {connector_id!r} presents the certificate with thumbprint "
                f"{thumbprint or 'unknown'}, which has no private key, so TLS fails "
                f"with {session.tls.error}."
            ),
            evidence=tuple(evidence),
            confidence=Confidence.HIGH if no_key else Confidence.MEDIUM,
            preconditions=("NoCredentials means the selected certificate's key is missing",),
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
            subject=thumbprint or connector_id,
        )


@rule(
    rule_id="certificate-key-inaccessible",
    title="The transport service cannot read the certificate's private key",
    severity=Severity.ERROR,
    failure_mode="F3",
    meaning="The certificate is enabled for SMTP and has its private key, yet the handshake "
    "fails with UnknownCredentials or NoCredentials: the key's permissions keep the "
    "transport service (NETWORK SERVICE) out.",
    needs=(
        "a failing send session with UnknownCredentials or NoCredentials",
        "the presented certificate with SMTP in Services and HasPrivateKey True",
    ),
    remedy="Grant NETWORK SERVICE read access to the key with "
    "Enable-ExchangeCertificate -NetworkServiceAllowed, then retry the queues.",
    references=(ENABLE_DOCS,),
)
def certificate_key_inaccessible(context: Context) -> Iterator[Finding]:
    """F3: the certificate looks right, but its key cannot be used."""
    sessions = _credential_failures(context, ("UnknownCredentials", "NoCredentials"))
    for (connector_id, _), session in sorted(_latest_per_certificate(sessions).items()):
        assert session.tls is not None  # noqa: S101 -- a failing TLS session
        certificate = context.certificate_for(session.tls.local_certificate)
        if certificate is None or certificate.services is None:
            continue
        if Services.SMTP not in certificate.services or certificate.has_private_key is not True:
            continue
        thumbprint = _thumbprint(session.tls.local_certificate, certificate)
        if thumbprint is None:
            continue
        evidence = _session_evidence(session)
        evidence.append(
            certificate_ref(
                certificate,
                "the certificate is enabled for SMTP and has its key",
                f"Services: {certificate.services}, HasPrivateKey: True",
            )
        )
        steps = [
            step
            for step in [
                _inspect(thumbprint),
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(
                        thumbprint=thumbprint, services=Services.SMTP, network_service_allowed=True
                    ),
                    note=PROMPT_NOTE,
                ),
                *_retry_and_verify(_failing_queue_ids(context, session)),
            ]
            if step is not None
        ]
        yield finding(
            "certificate-key-inaccessible",
            summary=(
                f"Send connector {connector_id!r} presents the certificate {thumbprint}, which "
                f"is enabled for SMTP and has its key, yet TLS fails with {session.tls.error}: "
                "the key's permissions are the likely cause."
            ),
            evidence=tuple(evidence),
            confidence=Confidence.MEDIUM,
            preconditions=("this failure signature is inferred, not documented by Microsoft",),
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
            subject=thumbprint,
        )


def _smtp_certificates(context: Context) -> list[tuple[ExchangeCertificate, list[str]]]:
    """Certificates that carry SMTP or that a connector selects, with why they matter."""
    reasons: dict[int, list[str]] = {}
    chosen: dict[int, ExchangeCertificate] = {}
    for certificate in context.certificates:
        if certificate.services is not None and Services.SMTP in certificate.services:
            chosen[id(certificate)] = certificate
            reasons.setdefault(id(certificate), []).append("it is enabled for SMTP")
    for connector in context.connectors:
        selected = context.selected_certificate(connector)
        if selected is not None:
            chosen[id(selected)] = selected
            reasons.setdefault(id(selected), []).append(
                f"send connector {connector.name!r} presents it"
            )
    return [(certificate, reasons[key]) for key, certificate in chosen.items()]


@rule(
    rule_id="certificate-expired",
    title="A certificate used for SMTP has expired",
    severity=Severity.ERROR,
    failure_mode="F6",
    meaning="A certificate enabled for SMTP, or presented by a send connector, is past its "
    "NotAfter date (Status DateInvalid). Peers that validate certificates refuse it.",
    needs=("the certificate with NotAfter and the time of the evidence, or Status DateInvalid",),
    remedy="Renew the certificate, import it, enable it for SMTP, point TlsCertificateName at "
    "it, and remove the old one.",
)
def certificate_expired(context: Context) -> Iterator[Finding]:
    """F6: an SMTP certificate past NotAfter."""
    for certificate, reasons in _smtp_certificates(context):
        expired_by_date = (
            context.now is not None
            and certificate.not_after is not None
            and certificate.not_after < context.now
        )
        if not (expired_by_date or certificate.status is CertificateStatus.DATE_INVALID):
            continue
        when = certificate.not_after.date().isoformat() if certificate.not_after else "unknown"
        yield finding(
            "certificate-expired",
            summary=(
                f"The certificate {certificate.subject} ({certificate.thumbprint}) expired on "
                f"{when}; {', and '.join(reasons)}."
            ),
            evidence=(
                certificate_ref(
                    certificate,
                    "the certificate is past its validity",
                    f"NotAfter: {when}, Status: {certificate.status}",
                ),
            ),
            confidence=Confidence.HIGH,
            preconditions=("the evidence's latest time stands for now",) if expired_by_date else (),
            remediation=tuple(
                step
                for step in [
                    _inspect(
                        certificate.thumbprint
                        if certificate.thumbprint and len(certificate.thumbprint) == 40
                        else None
                    )
                ]
                if step is not None
            ),
            subject=certificate.thumbprint or certificate.subject or "",
        )


@rule(
    rule_id="certificate-expiring-soon",
    title="A certificate used for SMTP expires within 30 days",
    severity=Severity.WARNING,
    failure_mode="F6",
    meaning="A certificate enabled for SMTP, or presented by a send connector, expires within "
    "30 days of the evidence's time.",
    needs=("the certificate's NotAfter and the time of the evidence",),
    remedy="Renew and replace the certificate before it expires.",
)
def certificate_expiring_soon(context: Context) -> Iterator[Finding]:
    """F6 ahead of time: NotAfter within 30 days."""
    if context.now is None:
        return
    for certificate, reasons in _smtp_certificates(context):
        if (
            certificate.not_after is None
            or not context.now <= certificate.not_after < context.now + SOON
        ):
            continue
        days = (certificate.not_after - context.now).days
        yield finding(
            "certificate-expiring-soon",
            summary=(
                f"The certificate {certificate.subject} ({certificate.thumbprint}) expires in "
                f"{days} days; {', and '.join(reasons)}."
            ),
            evidence=(
                certificate_ref(
                    certificate,
                    "the certificate expires soon",
                    f"NotAfter: {certificate.not_after.isoformat()}",
                ),
            ),
            confidence=Confidence.HIGH,
            preconditions=("the evidence's latest time stands for now",),
            subject=certificate.thumbprint or certificate.subject or "",
        )


def _status_rule(
    context: Context,
    statuses: tuple[CertificateStatus, ...],
    rule_id: str,
    explain: str,
) -> Iterator[Finding]:
    for certificate, reasons in _smtp_certificates(context):
        if certificate.status not in statuses:
            continue
        yield finding(
            rule_id,
            summary=(
                f"The certificate {certificate.subject} ({certificate.thumbprint}) has Status "
                f"{certificate.status}: {explain} It matters because {', and '.join(reasons)}."
            ),
            evidence=(
                certificate_ref(
                    certificate, f"Status is {certificate.status}", f"Status: {certificate.status}"
                ),
            ),
            confidence=Confidence.HIGH,
            subject=certificate.thumbprint or certificate.subject or "",
        )


@rule(
    rule_id="certificate-untrusted",
    title="A certificate used for SMTP is not trusted",
    severity=Severity.ERROR,
    failure_mode="F11",
    meaning="Exchange reports Status Untrusted or Invalid for a certificate used for SMTP: its "
    "chain does not build to a trusted root (an intermediate or root is missing).",
    needs=("the certificate with Status Untrusted or Invalid",),
    remedy="Import the intermediate and root certificates into the Local Machine stores, then "
    "check Status again.",
)
def certificate_untrusted(context: Context) -> Iterator[Finding]:
    """F11: Status Untrusted or Invalid."""
    yield from _status_rule(
        context,
        (CertificateStatus.UNTRUSTED, CertificateStatus.INVALID),
        "certificate-untrusted",
        "its chain does not build to a trusted root.",
    )


@rule(
    rule_id="certificate-revocation-check-failed",
    title="The revocation of a certificate used for SMTP cannot be checked",
    severity=Severity.ERROR,
    failure_mode="F12",
    meaning="Status RevocationCheckFailure: the server cannot reach the certificate's CRL or "
    "OCSP endpoints (a firewall or proxy).",
    needs=("the certificate with Status RevocationCheckFailure",),
    remedy="Allow the CRL, AIA and OCSP addresses through the firewall or proxy.",
)
def certificate_revocation_check_failed(context: Context) -> Iterator[Finding]:
    """F12: Status RevocationCheckFailure."""
    yield from _status_rule(
        context,
        (CertificateStatus.REVOCATION_CHECK_FAILURE,),
        "certificate-revocation-check-failed",
        "the server cannot reach the certificate's revocation lists.",
    )


@rule(
    rule_id="self-signed-certificate-external",
    title="A connector to Exchange Online presents a self-signed certificate",
    severity=Severity.WARNING,
    failure_mode="F13",
    meaning="A send connector to Exchange Online (CloudServicesMailEnabled, or a "
    "mail.protection.outlook.com smart host) presents a self-signed certificate; Exchange "
    "Online accepts only certificates from a trusted public CA.",
    needs=("the connector's settings", "the certificate it selects, self-signed"),
    remedy="Use a certificate from a public CA, enable it for SMTP and set TlsCertificateName.",
)
def self_signed_certificate_external(context: Context) -> Iterator[Finding]:
    """F13: a self-signed certificate towards Exchange Online."""
    for connector in context.connectors:
        external = connector.cloud_services_mail_enabled or any(
            host.casefold().endswith(".mail.protection.outlook.com")
            for host in connector.smart_hosts or ()
        )
        selected = context.selected_certificate(connector)
        if not external or selected is None or selected.is_self_signed is not True:
            continue
        yield finding(
            "self-signed-certificate-external",
            summary=(
                f"Send connector {connector.name!r} goes to Exchange Online but presents the "
                f"self-signed certificate {selected.subject} ({selected.thumbprint})."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the connector sends to Exchange Online",
                    f"SmartHosts: {', '.join(connector.smart_hosts or ())}",
                ),
                certificate_ref(
                    selected,
                    "the certificate it presents is self-signed",
                    f"IsSelfSigned: True, Subject: {selected.subject}",
                ),
            ),
            confidence=Confidence.HIGH,
            subject=connector.name or "",
        )
