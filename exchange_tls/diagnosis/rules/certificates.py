"""Rules about the validity of the certificates Exchange presents: expiry, status, trust.

They judge only the certificates Exchange presents
(:func:`~exchange_tls.diagnosis.facts.presented.presented_certificates`): the one each
connector selects and the ones the logs show presented. A finding predicted from the
configuration is lowered to a warning, with the reason, when the logs show TLS
succeeding with the same certificate. The credential failures (F1, F2, F3) are in
:mod:`~exchange_tls.diagnosis.rules.credentials`; the steps are the plans of
:mod:`exchange_tls.remediation.plans.certificates`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from exchange_tls.certificates.models import CertificateStatus, ExchangeCertificate
from exchange_tls.diagnosis.catalogue import Report, Signature, rule
from exchange_tls.diagnosis.cite import (
    certificate_ref,
    connector_ref,
    quoted,
    row_ref,
)
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.exchange_online import to_exchange_online
from exchange_tls.diagnosis.facts.presented import (
    connectors_naming,
    presented_certificates,
    proven_by_log,
)
from exchange_tls.diagnosis.facts.reported import expired_when_reported
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules._shared import TENANT_ATTRIBUTION, TIMEOUT
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.moments import shift
from exchange_tls.remediation.plans.certificates import (
    renewal_steps,
    self_signed_steps,
    status_steps,
)

__all__: list[str] = []

RENEW_DOCS = "https://learn.microsoft.com/exchange/architecture/client-access/renew-certificates"
SELECTION_DOCS = (
    "https://learn.microsoft.com/exchange/mail-flow/mail-routing/inbound-starttls-certificates"
)
SOON = dt.timedelta(days=30)
_VALIDITY_SELECTION = (
    "Judges only certificates Exchange presents: each connector's selected certificate "
    "and the certificates the logs show presented; never every SMTP certificate in the "
    "store."
)
_VALIDITY_CONTRADICTION = (
    "Lowered to a warning, with the reason, when the logs show TLS succeeding with the "
    "same certificate."
)


# -- validity: only what Exchange presents ------------------------------------------------


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
        f"UTC ({quoted(session.connector_id)}); peers that validate certificates may still "
        "refuse it"
    )
    return (
        Severity.WARNING,
        because,
        [row_ref(row, "TLS succeeded with this certificate")],
    )


def _subject(certificate: ExchangeCertificate) -> str:
    return certificate.thumbprint or certificate.subject or ""


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
    side=FaultSide.LOCAL,
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
            remediation=renewal_steps(certificate, connectors_naming(context, certificate)),
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
    side=FaultSide.LOCAL,
)
def certificate_expiring_soon(context: Context, report: Report) -> Iterator[Finding]:
    """F6 ahead of time: NotAfter within 30 days."""
    if context.now is None:
        return
    for certificate, reasons in presented_certificates(context):
        if certificate.not_after is None or not context.now <= certificate.not_after < shift(
            context.now, SOON
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
            remediation=renewal_steps(certificate, connectors_naming(context, certificate)),
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
            remediation=status_steps(certificate),
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
    side=FaultSide.LOCAL,
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
    side=FaultSide.LOCAL,
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
    side=FaultSide.LOCAL,
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
                f"Send connector {quoted(connector.name)} goes to Exchange Online but presents the "
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
            remediation=tuple(self_signed_steps(connector, context.selection(connector).fit)),
            subject=connector.name or "",
        )
