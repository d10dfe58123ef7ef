"""F1, F2, F3: one decision about every credential failure.

A credential failure (``UnknownCredentials`` or ``NoCredentials``) has three causes that
exclude each other: the certificate is not enabled for SMTP (F1), it has no private key
(F2), or its key cannot be read (F3). :func:`credential_failures` decides between them
once per diagnosis, per connector and presented certificate, from the log and the
inventory; the three rules only report its decisions. Without a log, the same function
predicts them from the configuration (the certificate a connector selects), at medium
confidence; a log that shows TLS working with that certificate silences the prediction.
"""

from __future__ import annotations

import enum

import attrs

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.presented import proven_by_log
from exchange_tls.diagnosis.model import Confidence
from exchange_tls.protocol_log.models import CertificateIdentity, SmtpSession

__all__ = ["Cause", "CredentialFailure", "credential_failures"]


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
