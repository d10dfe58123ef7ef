"""The certificates Exchange presents, and the sessions that prove one works."""

from __future__ import annotations

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.cite import quoted
from exchange_tls.diagnosis.context import Context
from exchange_tls.protocol_log.models import SmtpSession

__all__ = ["connectors_naming", "presented_certificates", "proven_by_log"]


def proven_by_log(context: Context, certificate: ExchangeCertificate) -> SmtpSession | None:
    """Return the last session whose TLS succeeded presenting this certificate, if any."""
    if not certificate.thumbprint:
        return None
    wanted = certificate.thumbprint.upper()

    def find() -> SmtpSession | None:
        found = None
        for session in context.sessions:
            tls = session.tls
            if tls is None or tls.succeeded is not True or tls.local_certificate is None:
                continue
            if (tls.local_certificate.thumbprint or "").upper() == wanted:
                found = session
        return found

    return context.memo(f"proven:{wanted}", find)


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
            add(selection.presented, f"{kind} connector {quoted(connector.name)} presents it")
        elif selection.candidates:
            # Nothing carrying the name is fit; the best of them is what the connector
            # is meant to present (event 12016: "the existing certificate … has expired").
            add(
                selection.candidates[0].certificate,
                f"it is the certificate {kind} connector {quoted(connector.name)} would present, "
                "and no fit certificate carries its name",
            )
    for session in context.sessions:
        identity = session.tls.local_certificate if session.tls else None
        certificate = context.certificate_for(identity)
        if certificate is not None:
            add(certificate, f"the log shows it presented by {quoted(session.connector_id)}")
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


def connectors_naming(
    context: Context, certificate: ExchangeCertificate
) -> list[SendConnector | ReceiveConnector]:
    """Return the send and receive connectors whose TlsCertificateName names the certificate."""
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
