"""What other mail systems reported (RFC 8460), joined to this server's configuration.

Theory of operation. A TLS report names the MX host a sender connected to; the rules about
reports need to know whether that host is this server and, if so, which receive connector
answered and which certificate it presented while the report ran.

1. **Is the MX this server?** A failure detail's ``receiving-mx-hostname`` is tied to this
   server when a receive connector's ``Fqdn`` is that name, when it is the server's own
   FQDN, or when the certificate a port-25 receive connector presents names it. A host tied
   to nothing (Exchange Online, a gateway in front, another server) is left to the evidence
   of that host: no rule blames this server for it.
2. **Which certificate, then?** The connector's choice at the end of the report's range,
   made by :func:`~exchange_tls.connectors.selection.select_certificate` (the inbound
   selection), so a certificate renewed since is not blamed for failures before it.
3. **One report once.** The same report read twice (its ``.json`` and its mail) counts once:
   reports are known by sender, report id and range.
4. **The probe.** Saved probe results, when the evidence holds them (a ``probes`` field whose
   items carry ``host``), are looked up by host; nothing here depends on their presence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from exchange_tls.certificates.models import CertificateStatus, ExchangeCertificate, Services
from exchange_tls.connectors.models import ReceiveConnector
from exchange_tls.connectors.selection import names_match, select_certificate
from exchange_tls.diagnosis.cite import quoted
from exchange_tls.diagnosis.context import Context
from exchange_tls.tls_reports.models import FailureDetail, TlsReport, TlsReportPolicy
from exchange_tls.tls_results import TlsResultType

__all__ = [
    "ReportedFailure",
    "certificate_names",
    "expired_by",
    "expired_when_reported",
    "presented_when_reported",
    "probes_of",
    "reported_failures",
    "valid_through",
]


@attrs.frozen(kw_only=True)
class ReportedFailure:
    """One failure detail of a report, with the MX host tied (or not) to this server."""

    report: TlsReport
    policy: TlsReportPolicy
    detail: FailureDetail
    #: The receiving MX host the sender names (lower case), if it names one.
    host: str | None
    #: The receive connector that answers at that host, when the evidence says.
    connector: ReceiveConnector | None = None
    #: Why the host is this server, in words; ``None`` when nothing ties it here.
    tie: str | None = None

    @property
    def sessions(self) -> int:
        """The sessions that failed this way (0 when the sender gives no count)."""
        return self.detail.failed_session_count or 0

    @property
    def organisation(self) -> str:
        """The sending organisation, as the report names it."""
        return self.report.organization_name or "(unnamed sender)"

    @property
    def kind(self) -> TlsResultType | str:
        """The result type."""
        return self.detail.result_type


def certificate_names(certificate: ExchangeCertificate) -> list[str]:
    """Return the names a certificate carries: its domains, then its subject's CN."""
    names = list(certificate.certificate_domains or ())
    subject = certificate.subject or ""
    if subject.upper().startswith("CN="):
        common = subject[3:].split(",", 1)[0].strip()
        if common and common not in names:
            names.append(common)
    return names


def _carries(certificate: ExchangeCertificate, host: str) -> bool:
    return any(names_match(name, host) is not None for name in certificate_names(certificate))


def _listens_on_25(connector: ReceiveConnector) -> bool:
    if connector.enabled is False:
        return False
    bindings = connector.bindings
    return bindings is None or any(binding.strip().endswith(":25") for binding in bindings)


def _internet_facing(connectors: list[ReceiveConnector]) -> ReceiveConnector | None:
    """Return the port-25 connector that takes mail from anywhere, front end first."""
    for connector in connectors:
        ranges = " ".join(connector.remote_ip_ranges or ())
        if "0.0.0.0-255.255.255.255" in ranges and (
            (connector.transport_role or "").casefold() == "frontendtransport"
            or (connector.name or "").casefold().startswith("default frontend")
        ):
            return connector
    return connectors[0] if connectors else None


def _tie(context: Context, host: str | None) -> tuple[ReceiveConnector | None, str | None]:
    if not host:
        return None, None
    listening = [c for c in context.receive_connectors if _listens_on_25(c)]
    for connector in listening:
        if (connector.fqdn or "").rstrip(".").casefold() == host:
            return connector, f"receive connector {quoted(connector.name)} has the FQDN {host}"
    own = context.evidence.server_fqdn or (
        context.evidence.manifest.fqdn if context.evidence.manifest is not None else None
    )
    if own and own.rstrip(".").casefold() == host:
        return _internet_facing(listening), f"{host} is this server's FQDN"
    for connector in listening:
        certificate = _presented(context, connector, None)
        if certificate is not None and _carries(certificate, host):
            return connector, (
                f"the certificate receive connector {quoted(connector.name)} presents "
                f"({certificate.thumbprint}) names {host}"
            )
    if not context.receive_connectors:
        # Without connectors, a certificate enabled for SMTP that names the host is the
        # best evidence the host is this server (and the one it would present).
        for certificate in context.certificates:
            smtp = certificate.services is not None and Services.SMTP in certificate.services
            if smtp and _carries(certificate, host):
                return None, f"the certificate {certificate.thumbprint} on this server names {host}"
    return None, None


def _report_key(report: TlsReport) -> tuple[object, ...]:
    return (
        (report.organization_name or "").casefold(),
        report.report_id,
        report.start,
        report.end,
    )


def reported_failures(context: Context) -> tuple[ReportedFailure, ...]:
    """Return every failure detail of the evidence's reports, each once, tied where it can be."""
    return context.memo("reported failures", lambda: _reported(context))


def _reported(context: Context) -> tuple[ReportedFailure, ...]:
    seen: set[tuple[object, ...]] = set()
    ties: dict[str | None, tuple[ReceiveConnector | None, str | None]] = {}
    failures = []
    for report in context.evidence.tls_reports:
        key = _report_key(report)
        if report.report_id is not None and key in seen:
            continue
        seen.add(key)
        for policy in report.policies:
            for detail in policy.failure_details:
                host = detail.receiving_mx_hostname
                if host not in ties:
                    ties[host] = _tie(context, host)
                connector, tie = ties[host]
                failures.append(
                    ReportedFailure(
                        report=report,
                        policy=policy,
                        detail=detail,
                        host=host,
                        connector=connector,
                        tie=tie,
                    )
                )
    return tuple(failures)


def _presented(
    context: Context, connector: ReceiveConnector | None, moment: dt.datetime | None, host: str = ""
) -> ExchangeCertificate | None:
    # A connector stands in for itself; without one, Exchange's lookup by the MX name.
    chooser = connector if connector is not None else ReceiveConnector(name=None, fqdn=host)
    selection = select_certificate(
        chooser, context.certificates, server_fqdn=context.evidence.server_fqdn, now=moment
    )
    if selection.chosen is not None:
        return selection.chosen
    # Nothing fit at that moment: the connector still means the best candidate (an expired
    # certificate is what the senders were shown).
    return selection.candidates[0].certificate if selection.candidates else None


def presented_when_reported(
    context: Context, failure: ReportedFailure
) -> ExchangeCertificate | None:
    """Return the certificate this server presented at the host by the report's end."""
    if failure.tie is None:
        return None
    return context.memo(
        ("presented when reported", failure.connector, failure.host, failure.report.end),
        lambda: _presented(context, failure.connector, failure.report.end, failure.host or ""),
    )


def valid_through(
    certificate: ExchangeCertificate, start: dt.datetime | None, end: dt.datetime | None
) -> bool | None:
    """Whether the certificate was within its dates for the whole range; None if unknown."""
    if certificate.not_before is None or certificate.not_after is None:
        return None
    if start is not None and certificate.not_before > start:
        return False
    return not (end is not None and certificate.not_after < end)


def expired_by(certificate: ExchangeCertificate, end: dt.datetime | None) -> bool:
    """Whether the certificate had expired by ``end`` (a report's end).

    By its NotAfter; without one, by Status DateInvalid (which says so of the time of
    collection, the best the evidence then has).
    """
    if certificate.not_after is not None:
        return end is not None and certificate.not_after < end
    return certificate.status is CertificateStatus.DATE_INVALID


def expired_when_reported(context: Context) -> frozenset[str]:
    """Thumbprints of certificates a report shows expired at this server while it ran.

    The rules ``tls-report-certificate-expired`` and ``tls-report-validation-failure``
    report these with the senders' sessions and the renewal; the configuration rule
    ``certificate-expired`` leaves them to those (one finding per cause).
    """

    def find() -> frozenset[str]:
        found = set()
        for failure in reported_failures(context):
            if failure.kind not in _RENEWED_BY_REPORT_RULES:
                continue
            certificate = presented_when_reported(context, failure)
            if certificate is None or not certificate.thumbprint:
                continue
            if expired_by(certificate, failure.report.end):
                found.add(certificate.thumbprint.upper())
        return frozenset(found)

    return context.memo("expired when reported", find)


_RENEWED_BY_REPORT_RULES = (TlsResultType.CERTIFICATE_EXPIRED, TlsResultType.VALIDATION_FAILURE)


def probes_of(context: Context, host: str | None) -> list[Any]:
    """Return the saved probe results of ``host``, when the evidence holds any."""
    if not host:
        return []
    probes: Iterable[Any] = getattr(context.evidence, "probes", None) or ()
    return [
        probe
        for probe in probes
        if str(getattr(probe, "host", "") or "").rstrip(".").casefold() == host
    ]
