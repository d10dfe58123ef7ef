"""Rules about the certificate a connector presents: bindings, key, validity, trust.

Theory of operation. A credential failure (``UnknownCredentials`` or ``NoCredentials``)
has three causes that exclude each other: the certificate is not enabled for SMTP (F1),
it has no private key (F2), or its key cannot be read (F3). :func:`credential_failures`
decides between them once, per connector and presented certificate, from the log and
the inventory; the three rules only report its decisions. Without a log, the same
function predicts them from the configuration (the certificate a connector selects),
at medium confidence; a log that shows TLS working with that certificate silences the
prediction.

The validity rules (expiry, status, self-signed) judge only the certificates Exchange
presents: the one each connector selects
(:func:`~exchange_tls.connectors.selection.select_certificate`) and the ones the logs
show presented. A finding predicted from the configuration is lowered to a warning,
with the reason, when the logs show TLS succeeding with the same certificate.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from typing import overload

import attrs

from exchange_tls.certificates.models import (
    CertificateStatus,
    ExchangeCertificate,
    Services,
)
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
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
from exchange_tls.diagnosis.reported import expired_when_reported
from exchange_tls.diagnosis.rules._shared import (
    TENANT_ATTRIBUTION,
    TIMEOUT,
    proven_by_log,
    to_exchange_online,
)
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import CertificateIdentity, SmtpSession
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    GetQueue,
    GetSendConnector,
    ImportExchangeCertificate,
    RemoveExchangeCertificate,
    RenewExchangeCertificate,
    RetryQueue,
    SetReceiveConnector,
    SetSendConnector,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = ["Cause", "CredentialFailure", "credential_failures", "presented_certificates"]

KB4051498 = "https://support.microsoft.com/help/4051498"
KB4495258 = "https://learn.microsoft.com/troubleshoot/exchange/mailflow/tls-negotiation-failed-with-error-nocredentials-error"
ENABLE_DOCS = "https://learn.microsoft.com/powershell/module/exchange/enable-exchangecertificate"
RENEW_DOCS = "https://learn.microsoft.com/exchange/architecture/client-access/renew-certificates"
SELECTION_DOCS = (
    "https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates"
)
SOON = dt.timedelta(days=30)
_INSPECT = ("Thumbprint", "Services", "HasPrivateKey", "Status", "NotAfter", "Subject")
PROMPT_NOTE = (
    'Enabling SMTP asks "Overwrite the existing default SMTP certificate?". Answer N: '
    "the default SMTP certificate is the internal transport certificate, and replacing it "
    "can break mail flow between Exchange servers and EdgeSync. -Force would answer Yes, "
    "so it is not used. -Services adds to the services the certificate has, so SMTP alone "
    "is named: repeating IIS would turn 'Require SSL' back on."
)
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
_VALIDITY_SELECTION = (
    "Judges only certificates Exchange presents: each connector's selected certificate "
    "and the certificates the logs show presented; never every SMTP certificate in the "
    "store."
)
_VALIDITY_CONTRADICTION = (
    "Lowered to a warning, with the reason, when the logs show TLS succeeding with the "
    "same certificate."
)


# -- F1, F2, F3: one decision ------------------------------------------------------------


class Cause(enum.Enum):
    """Why a certificate's credentials fail: the three failure modes that exclude each other."""

    NOT_ENABLED = "F1"
    NO_KEY = "F2"
    KEY_UNREADABLE = "F3"


@attrs.frozen(kw_only=True)
class CredentialFailure:
    """The decided cause of a credential failure (or of one the configuration predicts)."""

    cause: Cause
    connector_id: str
    #: The last failing session, or ``None`` for a prediction from the configuration.
    session: SmtpSession | None
    identity: CertificateIdentity | None
    certificate: ExchangeCertificate | None
    confidence: Confidence
    #: The connector whose selection predicts the failure (configuration only).
    connector: SendConnector | None = None
    #: Why the decision fell this way, in words.
    reason: str = ""


def _decide(
    error: str | None, certificate: ExchangeCertificate | None
) -> tuple[Cause, Confidence, str] | None:
    if certificate is not None:
        if certificate.has_private_key is False:
            return Cause.NO_KEY, Confidence.HIGH, "the certificate has no private key"
        if certificate.services is not None and Services.SMTP not in certificate.services:
            return Cause.NOT_ENABLED, Confidence.HIGH, "the certificate lacks SMTP"
        if certificate.services is not None and certificate.has_private_key is True:
            if error is None:
                return None
            return (
                Cause.KEY_UNREADABLE,
                Confidence.MEDIUM,
                "the certificate has SMTP and its key, so the key's permissions remain",
            )
    if error == "NoCredentials":
        return Cause.NO_KEY, Confidence.MEDIUM, "NoCredentials means the key is missing"
    if error == "UnknownCredentials":
        return Cause.NOT_ENABLED, Confidence.MEDIUM, "UnknownCredentials, inventory unknown"
    return None


def credential_failures(context: Context) -> tuple[CredentialFailure, ...]:
    """Decide F1, F2 or F3 for every credential failure, once per diagnosis.

    From the log: the last session failing with UnknownCredentials or NoCredentials per
    connector and presented certificate. From the configuration, for connectors with no
    such session: the certificate the connector selects, when it lacks SMTP or its key
    and no session shows TLS working with it.
    """
    return context.memo("credential-failures", lambda: _credential_failures(context))


def _credential_failures(context: Context) -> tuple[CredentialFailure, ...]:
    latest: dict[tuple[str, str], SmtpSession] = {}
    for session in context.send_sessions:
        tls = session.tls
        if tls is None or tls.succeeded is not False:
            continue
        if tls.error not in ("UnknownCredentials", "NoCredentials"):
            continue
        identity = tls.local_certificate
        key = (
            session.connector_id,
            (identity.thumbprint or identity.subject or "") if identity else "",
        )
        latest[key] = session
    decided: list[CredentialFailure] = []
    seen_connectors: set[str] = set()
    for (connector_id, _), session in sorted(latest.items()):
        assert session.tls is not None  # noqa: S101 -- a failing TLS session
        identity = session.tls.local_certificate
        certificate = context.certificate_for(identity)
        if certificate is None and identity is None:
            connector = context.connector_named(connector_id)
            if connector is not None:
                certificate = context.selected_certificate(connector)
        decision = _decide(session.tls.error, certificate)
        if decision is None:
            continue
        cause, confidence, reason = decision
        seen_connectors.add(connector_id.casefold())
        decided.append(
            CredentialFailure(
                cause=cause,
                connector_id=connector_id,
                session=session,
                identity=identity,
                certificate=certificate,
                confidence=confidence,
                reason=reason,
            )
        )
    for connector in context.connectors:
        if (connector.name or "").casefold() in seen_connectors or connector.enabled is False:
            continue
        selected = context.selected_certificate(connector)
        if selected is None or proven_by_log(context, selected) is not None:
            continue
        decision = _decide(None, selected)
        if decision is None:
            continue
        cause, _, reason = decision
        decided.append(
            CredentialFailure(
                cause=cause,
                connector_id=connector.name or "",
                session=None,
                identity=None,
                certificate=selected,
                confidence=Confidence.MEDIUM,
                connector=connector,
                reason=reason,
            )
        )
    return tuple(decided)


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


def _queue_evidence(context: Context, session: SmtpSession | None) -> list[EvidenceRef]:
    if session is None:
        return []
    claim = "the queue's error looks like a network problem, but it follows the TLS failure above"
    return [
        queue_ref(queue, claim)
        for queue in context.queues
        if queue.is_failing and session in context.sessions_for_queue(queue)
    ]


def _valid_thumbprint(value: str | None) -> str | None:
    if value and len(value) == 40 and all(c in "0123456789ABCDEF" for c in value.upper()):
        return value.upper()
    return None


def _thumbprint(
    identity: CertificateIdentity | None, certificate: ExchangeCertificate | None
) -> str | None:
    for value in (
        certificate.thumbprint if certificate else None,
        identity.thumbprint if identity else None,
    ):
        if _valid_thumbprint(value):
            return _valid_thumbprint(value)
    return None


@overload
def _inspect(thumbprint: str) -> RemediationStep: ...
@overload
def _inspect(thumbprint: str | None) -> RemediationStep | None: ...
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
        steps = [step for step in [_inspect(thumbprint)] if step is not None]
        if thumbprint is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=EnableExchangeCertificate(thumbprint=thumbprint, services="SMTP"),
                    note=PROMPT_NOTE,
                )
            )
        steps.extend(_retry_and_verify(_failing_queue_ids(context, failure.session)))
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
                f"Send connector {failure.connector_id!r} presents {name} "
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
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
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
        steps = [step for step in [_inspect(thumbprint)] if step is not None]
        if thumbprint is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=RemoveExchangeCertificate(thumbprint=thumbprint),
                    note="KB 4495258: remove the copy without its key first, then import the "
                    "PFX; the command asks for confirmation.",
                )
            )
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
                    command=EnableExchangeCertificate(thumbprint=thumbprint, services="SMTP"),
                    note=PROMPT_NOTE
                    + " If the PFX holds a renewed certificate, use its thumbprint and set "
                    "the connector's TlsCertificateName from it.",
                )
            )
        steps.extend(_retry_and_verify(_failing_queue_ids(context, failure.session)))
        error = (
            failure.session.tls.error
            if failure.session is not None and failure.session.tls is not None
            else None
        )
        failing = f", so TLS fails with {error}" if error else ", so TLS through it will fail"
        yield report(
            summary=(
                f"Send connector {failure.connector_id!r} presents the certificate with "
                f"thumbprint {thumbprint or 'unknown'}, which has no private key"
                f"{failing}.{_what(failure)}"
            ),
            evidence=tuple(evidence),
            confidence=failure.confidence,
            preconditions=("NoCredentials means the selected certificate's key is missing",),
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
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
        steps = [
            _inspect(thumbprint),
            RemediationStep(
                purpose=Purpose.FIX,
                command=EnableExchangeCertificate(
                    thumbprint=thumbprint, services=Services.SMTP, network_service_allowed=True
                ),
                note=PROMPT_NOTE,
            ),
            *_retry_and_verify(_failing_queue_ids(context, failure.session)),
        ]
        yield report(
            summary=(
                f"Send connector {failure.connector_id!r} presents the certificate {thumbprint}, "
                f"which is enabled for SMTP and has its key, yet TLS fails with "
                f"{failure.session.tls.error}: the key's permissions are the likely cause."
            ),
            evidence=tuple(evidence),
            confidence=Confidence.MEDIUM,
            preconditions=("this failure signature is inferred, not documented by Microsoft",),
            remediation=tuple(sorted(steps, key=lambda step: step.order)),
            subject=thumbprint,
        )


# -- validity: only what Exchange presents ------------------------------------------------


def presented_certificates(context: Context) -> list[tuple[ExchangeCertificate, list[str]]]:
    """Return the certificates Exchange presents, with why each matters.

    Each send and receive connector's selected certificate, and every certificate the
    logs show presented. With no connector and no log at all, the certificates enabled
    for SMTP stand in (the finding then says so).
    """
    return context.memo("presented", lambda: _presented(context))


def _presented(context: Context) -> list[tuple[ExchangeCertificate, list[str]]]:
    reasons: dict[int, list[str]] = {}
    chosen: dict[int, ExchangeCertificate] = {}

    def add(certificate: ExchangeCertificate, why: str) -> None:
        chosen[id(certificate)] = certificate
        whys = reasons.setdefault(id(certificate), [])
        if why not in whys:
            whys.append(why)

    connectors: list[SendConnector | ReceiveConnector] = [
        *context.connectors,
        *context.receive_connectors,
    ]
    for connector in connectors:
        if connector.enabled is False:
            continue  # a disabled connector presents nothing
        kind = "send" if isinstance(connector, SendConnector) else "receive"
        selection = context.selection(connector)
        if selection.presented is not None:
            add(selection.presented, f"{kind} connector {connector.name!r} presents it")
        elif selection.candidates:
            # Nothing carrying the name is fit; the best of them is what the connector
            # is meant to present (event 12016: "the existing certificate … has expired").
            add(
                selection.candidates[0].certificate,
                f"it is the certificate {kind} connector {connector.name!r} would present, "
                "and no fit certificate carries its name",
            )
    for session in context.sessions:
        identity = session.tls.local_certificate if session.tls else None
        certificate = context.certificate_for(identity)
        if certificate is not None:
            add(certificate, f"the log shows it presented by {session.connector_id!r}")
    if not chosen and not connectors and not context.sessions:
        for certificate in context.certificates:
            smtp = certificate.services is not None and Services.SMTP in certificate.services
            auth = (
                (certificate.subject or "")
                .casefold()
                .startswith("cn=microsoft exchange server auth certificate")
            )
            if smtp and not auth:
                add(
                    certificate,
                    "it is enabled for SMTP (no connector or log says which certificate "
                    "Exchange presents)",
                )
    return [(certificate, reasons[key]) for key, certificate in chosen.items()]


def _contradicted(
    context: Context, certificate: ExchangeCertificate, since: dt.datetime | None = None
) -> tuple[Severity | None, str | None, list[EvidenceRef]]:
    """Lower a configuration finding to a warning when the log shows TLS working with it.

    ``since``: only a success at or after this moment counts (a success before a
    certificate expired proves nothing about it now).
    """
    session = proven_by_log(context, certificate)
    if session is None or (since is not None and session.end < since):
        return None, None, []
    row = next((r for r in session.rows if r.text.startswith("TLS protocol ")), session.rows[0])
    because = (
        f"the log shows TLS succeeding with this certificate at {session.end:%Y-%m-%d %H:%M} "
        f"UTC ({session.connector_id!r}); peers that validate certificates may still refuse it"
    )
    return (
        Severity.WARNING,
        because,
        [row_ref(row, "TLS succeeded with this certificate")],
    )


def _subject(certificate: ExchangeCertificate) -> str:
    return certificate.thumbprint or certificate.subject or ""


def _connectors_naming(
    context: Context, certificate: ExchangeCertificate
) -> list[SendConnector | ReceiveConnector]:
    every: list[SendConnector | ReceiveConnector] = [
        *context.connectors,
        *context.receive_connectors,
    ]
    return [
        connector
        for connector in every
        if connector.tls_certificate_name is not None
        and connector.tls_certificate_name.matches(certificate)
    ]


def _renewal_steps(
    context: Context, certificate: ExchangeCertificate
) -> tuple[RemediationStep, ...]:
    thumbprint = _valid_thumbprint(certificate.thumbprint)
    if thumbprint is None:
        return ()
    steps: list[RemediationStep] = [_inspect(thumbprint)]
    if certificate.is_self_signed:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=RenewExchangeCertificate(thumbprint=thumbprint),
                note="Renews the self-signed certificate with the same names. Answer N if "
                "asked to overwrite the default SMTP certificate unless this is it. Then "
                "enable the new thumbprint for SMTP.",
            )
        )
    else:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=RenewExchangeCertificate(
                    thumbprint=thumbprint, request_file="C:\\Certificates\\renewal.req"
                ),
                note="Writes a renewal request with the same names; send it to the CA, then "
                "complete it with Import-ExchangeCertificate -FileData on the CA's answer.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.FIX,
            command=GetExchangeCertificate(
                domain_name=_first_name(certificate) or "",
                properties=("Thumbprint", "NotAfter", "Services", "Issuer", "Subject"),
            )
            if _first_name(certificate)
            else GetExchangeCertificate(properties=("Thumbprint", "NotAfter", "Subject")),
            note="Find the new certificate's thumbprint; enable it with "
            "Enable-ExchangeCertificate -Thumbprint <new> -Services SMTP (answer N to the "
            "overwrite prompt).",
        )
    )
    for connector in _connectors_naming(context, certificate):
        note = (
            "TlsCertificateName names issuer and subject: set it again from the new "
            "certificate if either changed (replace the thumbprint with the new one)."
        )
        if isinstance(connector, SendConnector):
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(
                        identity=connector.name or "", tls_certificate_from_thumbprint=thumbprint
                    ),
                    note=note,
                )
            )
        elif connector.identity or connector.name:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetReceiveConnector(
                        identity=connector.identity or connector.name or "",
                        tls_certificate_name=f"<I>{certificate.issuer}<S>{certificate.subject}",
                    ),
                    note=note,
                )
            )
    steps.append(
        RemediationStep(
            purpose=Purpose.FIX,
            command=RemoveExchangeCertificate(thumbprint=thumbprint),
            note="Only once the new certificate is enabled and mail flows; it asks for "
            "confirmation.",
        )
    )
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetExchangeCertificate(
                properties=("Thumbprint", "Services", "NotAfter", "Status", "Subject")
            ),
            note="The new certificate should be Valid with SMTP; the send protocol log should "
            "show it in the 'Sending certificate' block.",
        )
    )
    return tuple(steps)


def _first_name(certificate: ExchangeCertificate) -> str | None:
    names = [n for n in certificate.certificate_domains or () if not n.startswith("*")]
    if names:
        return names[0]
    subject = certificate.subject or ""
    if subject.upper().startswith("CN="):
        common = subject[3:].split(",", 1)[0].strip()
        return common if common and not common.startswith("*") else None
    return None


@rule(
    "certificate-expired",
    title="A certificate Exchange presents has expired",
    severity=Severity.ERROR,
    failure_mode="F6",
    meaning="A certificate a connector presents (or that the logs show presented) is past its "
    "NotAfter date (Status DateInvalid). Peers that validate certificates refuse it.",
    needs=("the certificate with NotAfter and the time of the evidence, or Status DateInvalid",),
    remedy="Renew the certificate (a renewal request for a CA, or a new self-signed one), "
    "import it, enable it for SMTP, point TlsCertificateName at it, and remove the old one.",
    references=(RENEW_DOCS, SELECTION_DOCS),
    signatures=(
        Signature(
            groups=(("certificate validation failure",),),
            reading="A certificate in the handshake failed validation.",
            rank=3,
        ),
        Signature(
            groups=(("certificate is expired",), ("certexpired",)),
            reading="A certificate in the handshake is expired: this server's (when the remote "
            "reports it) or the remote's.",
            rank=1,
        ),
    ),
    selection=_VALIDITY_SELECTION,
    contradiction=_VALIDITY_CONTRADICTION,
    inputs=("certificates",),
)
def certificate_expired(context: Context, report: Report) -> Iterator[Finding]:
    """F6: a presented certificate past NotAfter."""
    # A TLS report that shows it expired says so with the senders' sessions: one finding.
    reported = expired_when_reported(context)
    for certificate, reasons in presented_certificates(context):
        if (certificate.thumbprint or "").upper() in reported:
            continue
        expired_by_date = (
            context.now is not None
            and certificate.not_after is not None
            and certificate.not_after < context.now
        )
        if not (expired_by_date or certificate.status is CertificateStatus.DATE_INVALID):
            continue
        when = certificate.not_after.date().isoformat() if certificate.not_after else "unknown"
        severity, because, proof = _contradicted(context, certificate, certificate.not_after)
        yield report(
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
                *proof,
            ),
            confidence=Confidence.HIGH,
            preconditions=("the evidence's latest time stands for now",) if expired_by_date else (),
            remediation=_renewal_steps(context, certificate),
            subject=_subject(certificate),
            severity=severity,
            because=because,
        )


@rule(
    "certificate-expiring-soon",
    title="A certificate Exchange presents expires within 30 days",
    severity=Severity.WARNING,
    failure_mode="F6",
    meaning="A certificate a connector presents (or that the logs show presented) expires "
    "within 30 days of the evidence's time.",
    needs=("the certificate's NotAfter and the time of the evidence",),
    remedy="Renew and replace the certificate before it expires.",
    references=(RENEW_DOCS,),
    selection=_VALIDITY_SELECTION,
    contradiction="None: a certificate that works today still expires.",
    inputs=("certificates",),
)
def certificate_expiring_soon(context: Context, report: Report) -> Iterator[Finding]:
    """F6 ahead of time: NotAfter within 30 days."""
    if context.now is None:
        return
    for certificate, reasons in presented_certificates(context):
        if (
            certificate.not_after is None
            or not context.now <= certificate.not_after < context.now + SOON
        ):
            continue
        days = (certificate.not_after - context.now).days
        yield report(
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
            remediation=_renewal_steps(context, certificate),
            subject=_subject(certificate),
        )


def _status_rule(
    context: Context,
    report: Report,
    statuses: tuple[CertificateStatus, ...],
    explain: str,
) -> Iterator[Finding]:
    for certificate, reasons in presented_certificates(context):
        if certificate.status not in statuses:
            continue
        severity, because, proof = _contradicted(context, certificate)
        thumbprint = _valid_thumbprint(certificate.thumbprint)
        steps = [step for step in [_inspect(thumbprint)] if step]
        if thumbprint is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetExchangeCertificate(
                        thumbprint=thumbprint, properties=("Thumbprint", "Status")
                    ),
                    note="Status should read Valid.",
                )
            )
        yield report(
            summary=(
                f"The certificate {certificate.subject} ({certificate.thumbprint}) has Status "
                f"{certificate.status}: {explain} It matters because {', and '.join(reasons)}."
            ),
            evidence=(
                certificate_ref(
                    certificate, f"Status is {certificate.status}", f"Status: {certificate.status}"
                ),
                *proof,
            ),
            confidence=Confidence.HIGH,
            remediation=tuple(steps),
            subject=_subject(certificate),
            severity=severity,
            because=because,
        )


_VALIDATION = Signature(
    groups=(("certificate validation failure",),),
    reading="A certificate in the handshake failed validation.",
    rank=2,
)


@rule(
    "certificate-untrusted",
    title="A certificate Exchange presents is not trusted",
    severity=Severity.ERROR,
    failure_mode="F11",
    meaning="Exchange reports Status Untrusted or Invalid for a certificate it presents: its "
    "chain does not build to a trusted root (an intermediate or root is missing).",
    needs=("the presented certificate with Status Untrusted or Invalid",),
    remedy="Import the intermediate and root certificates into the Local Machine stores, then "
    "check Status again.",
    signatures=(
        _VALIDATION,
        Signature(
            groups=(("untrustedroot",),),
            reading="UntrustedRoot: a chain ends at a root the validating side does not trust.",
            rank=1,
        ),
    ),
    selection=_VALIDITY_SELECTION,
    contradiction=_VALIDITY_CONTRADICTION,
    inputs=("certificates",),
)
def certificate_untrusted(context: Context, report: Report) -> Iterator[Finding]:
    """F11: Status Untrusted or Invalid."""
    yield from _status_rule(
        context,
        report,
        (CertificateStatus.UNTRUSTED, CertificateStatus.INVALID),
        "its chain does not build to a trusted root.",
    )


@rule(
    "certificate-revocation-check-failed",
    title="The revocation of a certificate Exchange presents cannot be checked",
    severity=Severity.ERROR,
    failure_mode="F12",
    meaning="Status RevocationCheckFailure: the server cannot reach the certificate's CRL or "
    "OCSP endpoints (a firewall or proxy).",
    needs=("the presented certificate with Status RevocationCheckFailure",),
    remedy="Allow the CRL, AIA and OCSP addresses through the firewall or proxy.",
    signatures=(_VALIDATION, TIMEOUT),
    selection=_VALIDITY_SELECTION,
    contradiction=_VALIDITY_CONTRADICTION,
    inputs=("certificates",),
)
def certificate_revocation_check_failed(context: Context, report: Report) -> Iterator[Finding]:
    """F12: Status RevocationCheckFailure."""
    yield from _status_rule(
        context,
        report,
        (CertificateStatus.REVOCATION_CHECK_FAILURE,),
        "the server cannot reach the certificate's revocation lists.",
    )


@rule(
    "self-signed-certificate-external",
    title="A connector to Exchange Online presents a self-signed certificate",
    severity=Severity.WARNING,
    failure_mode="F13",
    meaning="A send connector to Exchange Online (CloudServicesMailEnabled, or a "
    "mail.protection.outlook.com smart host) presents a self-signed certificate; Exchange "
    "Online accepts only certificates from a trusted public CA.",
    needs=("the connector's settings", "the certificate it selects, self-signed"),
    remedy="Use a certificate from a public CA, enable it for SMTP and set TlsCertificateName.",
    signatures=(
        Signature(
            groups=(("temporary server error", "prx"),),
            reading="Exchange Online did not attribute the connection to your organisation's "
            "connector, which a self-signed certificate causes.",
            rank=2,
        ),
        TENANT_ATTRIBUTION,
    ),
    selection="Judges the certificate the connector selects (Exchange's order).",
    contradiction="None beyond the selection: Exchange Online's rule does not depend on the log.",
    inputs=("certificates+send-connectors",),
)
def self_signed_certificate_external(context: Context, report: Report) -> Iterator[Finding]:
    """F13: a self-signed certificate towards Exchange Online."""
    for connector in context.connectors:
        selected = context.selected_certificate(connector)
        if not to_exchange_online(connector) or selected is None:
            continue
        if selected.is_self_signed is not True:
            continue
        yield report(
            summary=(
                f"Send connector {connector.name!r} goes to Exchange Online but presents the "
                f"self-signed certificate {selected.subject} ({selected.thumbprint})."
            ),
            evidence=(
                connector_ref(
                    connector,
                    "the connector sends to Exchange Online",
                    f"SmartHosts: {', '.join(connector.smart_hosts or ())}, "
                    f"CloudServicesMailEnabled: {connector.cloud_services_mail_enabled}",
                ),
                certificate_ref(
                    selected,
                    "the certificate it presents is self-signed",
                    f"IsSelfSigned: True, Subject: {selected.subject}",
                ),
            ),
            confidence=Confidence.HIGH,
            remediation=tuple(_self_signed_steps(context, connector)),
            subject=connector.name or "",
        )


def _self_signed_steps(context: Context, connector: SendConnector) -> list[RemediationStep]:
    """Check the CA-issued certificates; name a fit one; read the connector back."""
    steps = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetExchangeCertificate(
                properties=("Thumbprint", "Subject", "Issuer", "IsSelfSigned", "Services")
            ),
            note="Look for a certificate from a public CA that carries the connector's FQDN.",
        )
    ]
    fit = next(
        (
            certificate
            for certificate in context.selection(connector).fit
            if certificate.is_self_signed is False
            and _valid_thumbprint(certificate.thumbprint)
            and certificate.services is not None
            and Services.SMTP in certificate.services
        ),
        None,
    )
    if fit is not None:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX,
                command=SetSendConnector(
                    identity=connector.name or "", tls_certificate_from_thumbprint=fit.thumbprint
                ),
                note="Names the CA-issued certificate that carries the connector's FQDN.",
            )
        )
    steps.append(
        RemediationStep(
            purpose=Purpose.VERIFY,
            command=GetSendConnector(
                identity=connector.name or "", properties=("Fqdn", "TlsCertificateName")
            ),
            note="Without a CA-issued certificate, request one (New-ExchangeCertificate "
            "-GenerateRequest), import it and enable it for SMTP first.",
        )
    )
    return steps
