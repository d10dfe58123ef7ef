"""Credential failures: a certificate not enabled for SMTP (F1), keyless (F2), key unreadable (F3).

The three causes exclude each other;
:func:`~exchange_tls.diagnosis.facts.credentials.credential_failures` decides between
them once per diagnosis, from the log and the inventory (or, without a log, predicts
them from the certificate a connector selects), and the three rules here only report
its decisions. The steps they carry are the plans of
:mod:`exchange_tls.remediation.plans.certificates`.
"""

from __future__ import annotations

from collections.abc import Iterator

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import (
    certificate_ref,
    connector_ref,
    failure_row,
    queue_ref,
    quoted,
    row_at,
    row_ref,
)
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.credentials import Cause, CredentialFailure, credential_failures
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules._shared import TIMEOUT
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import CertificateIdentity, SmtpSession
from exchange_tls.remediation.plans.certificates import (
    enable_smtp_steps,
    grant_key_access_steps,
    reimport_with_key_steps,
    valid_thumbprint,
)

__all__: list[str] = []

KB4051498 = "https://support.microsoft.com/help/4051498"
KB4495258 = "https://learn.microsoft.com/troubleshoot/exchange/mailflow/tls-negotiation-failed-with-error-nocredentials-error"
ENABLE_DOCS = "https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate"
_SELECTION = (
    "Judges the certificate the session's 'Sending certificate' block names; without a "
    "log, the certificate the connector selects (TlsCertificateName, else its FQDN, in "
    "Exchange's order)."
)
_CREDENTIAL_CONTRADICTION = (
    "One decision separates F1, F2 and F3, so at most one of them speaks per connector and "
    "certificate. A prediction from the configuration is dropped when the log shows TLS "
    "succeeding with that certificate."
)

# -- F1, F2, F3: one decision ------------------------------------------------------------


def _session_evidence(session: SmtpSession) -> list[EvidenceRef]:
    refs = []
    row = failure_row(session)
    if row is not None:
        claim = f"connector {quoted(session.connector_id)} failed the TLS handshake"
        refs.append(row_ref(row, claim))
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
    when = f"{success.end:%Y-%m-%d %H:%M} UTC"
    failures = timeline.failures_since
    if failures:
        sentence = (
            f" TLS last succeeded at {when}, with {failures} "
            f"{'failure' if failures == 1 else 'failures'} since."
        )
    else:
        # No failure after the last success: the connector negotiated TLS again after the
        # failure cited, which a reader weighing the error should know.
        sentence = f" The connector negotiated TLS again at {when}, after the failures cited."
    changed = timeline.changed_certificate
    if changed is not None:
        before = success.tls.local_certificate if success.tls else None
        sentence += (
            f" The certificate presented changed at the first failure, from "
            f"{before.thumbprint if before else 'another'} to {changed.thumbprint}: the "
            "likely trigger."
        )
    return sentence, refs


def _queue_evidence(context: Context, session: SmtpSession | None) -> list[EvidenceRef]:
    if session is None:
        return []
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
        if valid_thumbprint(value):
            return valid_thumbprint(value)
    return None


def _failing_queue_ids(context: Context, session: SmtpSession | None) -> list[str | None]:
    if session is None:
        return []
    return [
        queue.identity
        for queue in context.queues
        if queue.identity and queue.is_failing and session in context.sessions_for_queue(queue)
    ]


def _failure_evidence(
    context: Context, failure: CredentialFailure, claim: str, excerpt: str
) -> tuple[list[EvidenceRef], str]:
    """Cite the session's rows (or the connector's selection), the certificate, the queues."""
    evidence: list[EvidenceRef] = []
    history = ""
    if failure.session is not None:
        evidence.extend(_session_evidence(failure.session))
    elif failure.connector is not None:
        reasons = "; ".join(context.selection(failure.connector).reasons()[:2])
        evidence.append(
            connector_ref(
                failure.connector,
                "the connector selects this certificate",
                f"{reasons}",
            )
        )
    if failure.certificate is not None:
        evidence.append(certificate_ref(failure.certificate, claim, excerpt))
    evidence.extend(_queue_evidence(context, failure.session))
    if failure.session is not None:
        history, history_refs = _history(context, failure.session)
        evidence.extend(history_refs)
    return evidence, history


def _what(failure: CredentialFailure) -> str:
    if failure.session is None:
        return (
            " No log is at hand: this is predicted from the configuration; the send protocol "
            "log would show 'TLS negotiation failed with error …' after the certificate block."
        )
    return ""


@rule(
    "certificate-not-enabled-for-smtp",
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
        "or, without a log: the connector and the certificate it selects, lacking SMTP "
        "(medium confidence)",
    ),
    remedy="Enable the certificate for SMTP alone (-Services adds to what is there), answer "
    "N to the prompt to overwrite the default SMTP certificate; then retry the queues.",
    references=(KB4051498, ENABLE_DOCS),
    signatures=(
        TIMEOUT,
        Signature(
            groups=(("unknowncredentials",),),
            reading="UnknownCredentials: Schannel could not use this server's certificate, "
            "typically one not enabled for SMTP (KB 4051498).",
            rank=1,
        ),
    ),
    selection=_SELECTION,
    contradiction=_CREDENTIAL_CONTRADICTION,
    inputs=("send-log",),
    side=FaultSide.LOCAL,
)
def certificate_not_enabled_for_smtp(context: Context, report: Report) -> Iterator[Finding]:
    """F1: the presented (or selected) certificate lacks SMTP."""
    for failure in credential_failures(context):
        if failure.cause is not Cause.NOT_ENABLED:
            continue
        certificate = failure.certificate
        identity = failure.identity
        thumbprint = _thumbprint(identity, certificate)
        evidence, history = _failure_evidence(
            context,
            failure,
            "the certificate is not enabled for SMTP",
            f"Thumbprint {certificate.thumbprint if certificate else ''}, Services: "
            f"{certificate.services if certificate else ''}",
        )
        name = (
            identity.subject
            if identity and identity.subject
            else (certificate.subject if certificate and certificate.subject else None)
        ) or "the certificate"
        missing = (
            " The certificate list was not in the evidence: the check step confirms that "
            "SMTP is missing from its services."
            if certificate is None
            else ""
        )
        failing = (
            ", so TLS fails with UnknownCredentials and mail waits in the queue"
            if failure.session is not None
            else ", so TLS through it will fail with UnknownCredentials"
        )
        yield report(
            summary=(
                f"Send connector {quoted(failure.connector_id)} presents {name} "
                f"(thumbprint {thumbprint or 'unknown'}), which is not enabled for SMTP"
                f"{failing}.{history}{missing}{_what(failure)}"
            ),
            evidence=tuple(evidence),
            confidence=failure.confidence,
            preconditions=(
                (
                    "the session's own 'Sending certificate' block names the certificate"
                    if failure.session is not None
                    else "the connector selects the certificate as Exchange does"
                ),
                "Services as Get-ExchangeCertificate reported them",
            ),
            remediation=enable_smtp_steps(thumbprint, _failing_queue_ids(context, failure.session)),
            subject=thumbprint or failure.connector_id,
        )


@rule(
    "certificate-missing-private-key",
    title="The certificate the connector presents has no private key",
    severity=Severity.ERROR,
    failure_mode="F2",
    meaning="The selected certificate is in the store without its private key, so it cannot "
    "be used for TLS; the handshake fails with NoCredentials (Microsoft KB 4495258).",
    needs=(
        "a send session failing with NoCredentials, or the presented certificate with "
        "HasPrivateKey False",
        "or, without a log: the certificate the connector selects with HasPrivateKey False "
        "(medium confidence)",
    ),
    remedy="Remove the keyless certificate, import it again from a PFX file that holds its "
    "key, enable it for SMTP (answer N to the overwrite prompt), point TlsCertificateName at "
    "it if its issuer or subject changed, and retry the queues (KB 4495258).",
    references=(KB4495258,),
    signatures=(
        TIMEOUT,
        Signature(
            groups=(("nocredentials",),),
            reading="NoCredentials: the certificate Exchange selected has no usable private "
            "key (KB 4495258).",
            rank=1,
        ),
    ),
    selection=_SELECTION,
    contradiction=_CREDENTIAL_CONTRADICTION,
    inputs=(
        "send-log",
        "certificates",
    ),
    side=FaultSide.LOCAL,
)
def certificate_missing_private_key(context: Context, report: Report) -> Iterator[Finding]:
    """F2: NoCredentials, or the presented certificate has no key."""
    for failure in credential_failures(context):
        if failure.cause is not Cause.NO_KEY:
            continue
        certificate = failure.certificate
        thumbprint = _thumbprint(failure.identity, certificate)
        evidence, _ = _failure_evidence(
            context, failure, "the certificate has no private key", "HasPrivateKey : False"
        )
        error = (
            failure.session.tls.error
            if failure.session is not None and failure.session.tls is not None
            else None
        )
        failing = f", so TLS fails with {error}" if error else ", so TLS through it will fail"
        yield report(
            summary=(
                f"Send connector {quoted(failure.connector_id)} presents the certificate with "
                f"thumbprint {thumbprint or 'unknown'}, which has no private key"
                f"{failing}.{_what(failure)}"
            ),
            evidence=tuple(evidence),
            confidence=failure.confidence,
            preconditions=("NoCredentials means the selected certificate's key is missing",),
            remediation=reimport_with_key_steps(
                thumbprint, _failing_queue_ids(context, failure.session)
            ),
            subject=thumbprint or failure.connector_id,
        )


@rule(
    "certificate-key-inaccessible",
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
    "Enable-ExchangeCertificate -Services SMTP -NetworkServiceAllowed, then retry the queues.",
    references=(ENABLE_DOCS,),
    signatures=(TIMEOUT,),
    selection=_SELECTION,
    contradiction=_CREDENTIAL_CONTRADICTION,
    inputs=("certificates+send-log",),
    side=FaultSide.LOCAL,
)
def certificate_key_inaccessible(context: Context, report: Report) -> Iterator[Finding]:
    """F3: the certificate looks right, but its key cannot be used."""
    for failure in credential_failures(context):
        if failure.cause is not Cause.KEY_UNREADABLE or failure.certificate is None:
            continue
        if failure.session is None or failure.session.tls is None:
            continue
        thumbprint = _thumbprint(failure.identity, failure.certificate)
        if thumbprint is None:
            continue
        evidence, _ = _failure_evidence(
            context,
            failure,
            "the certificate is enabled for SMTP and has its key",
            f"Services: {failure.certificate.services}, HasPrivateKey: True",
        )
        yield report(
            summary=(
                f"Send connector {quoted(failure.connector_id)} presents the certificate "
                f"{thumbprint}, "
                f"which is enabled for SMTP and has its key, yet TLS fails with "
                f"{failure.session.tls.error}: the key's permissions are the likely cause."
            ),
            evidence=tuple(evidence),
            confidence=Confidence.MEDIUM,
            preconditions=("this failure signature is inferred, not documented by Microsoft",),
            remediation=grant_key_access_steps(
                thumbprint, _failing_queue_ids(context, failure.session)
            ),
            subject=thumbprint,
        )
