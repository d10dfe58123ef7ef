"""Rules over SMTP TLS reports (RFC 8460): what senders saw, against what this server presents.

Theory of operation. Senders report failures this server's own logs never show: the
session ended before a row was written, or went on in clear text. Each rule reads the
failure details whose MX host is tied to this server (:mod:`exchange_tls.diagnosis.facts.reported`)
and judges them against the configuration:

* certificate failures (expired, host mismatch, not trusted) against the certificate the
  receive connector presented by the end of the report's range, its dates and its names;
* ``starttls-not-supported`` against the receive connector (``Tls`` in AuthMechanism, a
  certificate to present) and, when the configuration offers STARTTLS, a firewall between;
* ``validation-failure`` against the chain this server presents;
* MTA-STS and DANE failures against the policy the sender applied.

A failure the configuration cannot explain is still reported, lower, asking for what the
MX presented (a probe, or ``openssl s_client -starttls smtp``), and cites a probe when the
evidence holds one. One finding per cause: the details of every report that share it
(certificate, connector, policy) are folded into one, citing a bounded number of them and
counting every session and sending organisation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

import attrs

from exchange_tls.certificates.models import CertificateStatus, ExchangeCertificate, RootCAType
from exchange_tls.connectors.selection import names_match
from exchange_tls.diagnosis.catalogue import Report, rule
from exchange_tls.diagnosis.cite import certificate_ref, connector_ref, plural, shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.presented import connectors_naming
from exchange_tls.diagnosis.facts.reported import (
    ReportedFailure,
    certificate_names,
    expired_by,
    presented_when_reported,
    probes_of,
    reported_failures,
    valid_through,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules.certificates import RENEW_DOCS, SELECTION_DOCS
from exchange_tls.diagnosis.weight import FaultSide, Subjects
from exchange_tls.errors import Severity
from exchange_tls.remediation.commands import GetExchangeCertificate
from exchange_tls.remediation.plans.certificates import renewal_steps
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.tls_results import TlsResultType

__all__ = ["CITED_DETAILS", "detail_ref"]

RFC8460 = "https://www.rfc-editor.org/rfc/rfc8460"
RFC8461 = "https://www.rfc-editor.org/rfc/rfc8461"
RFC7672 = "https://www.rfc-editor.org/rfc/rfc7672"
#: How many failure details a finding cites by name; the rest are counted.
CITED_DETAILS = 5
_INPUTS = ("tls-reports+certificates", "tls-reports+receive-connectors")
_SELECTION = (
    "Judges the failure details whose MX host is this server (a receive connector's FQDN, "
    "the server's FQDN, or a name on the certificate a port-25 connector presents), against "
    "the certificate the receive connector presented by the end of the report's range."
)
_ASK_CHAIN = (
    "Ask what the MX presents from outside: exchange-tls probe {host}, or "
    "openssl s_client -connect {host}:25 -starttls smtp -showcerts"
)


# -- citing and folding ------------------------------------------------------------------


def detail_ref(failure: ReportedFailure) -> EvidenceRef:
    """Cite a failure detail: the report file, its JSON pointer and line, and what it says."""
    detail = failure.detail
    shown = {
        "result-type": str(detail.result_type),
        "sending-mta-ip": detail.sending_mta_ip,
        "receiving-mx-hostname": detail.receiving_mx_hostname,
        "receiving-ip": detail.receiving_ip,
        "failed-session-count": detail.failed_session_count,
        "failure-reason-code": detail.failure_reason_code,
    }
    excerpt = json.dumps({key: value for key, value in shown.items() if value is not None})
    report = failure.report
    span = _span([failure])
    folded = f" ({detail.folded} details folded)" if detail.folded else ""
    claim = (
        f"{failure.organisation} reports {plural(failure.sessions, 'session')} to "
        f"{failure.host or 'an unnamed MX'} failing with {detail.result_type}{span}{folded}"
    )
    source = detail.source if detail.source is not None else report.source
    return EvidenceRef(source=source, excerpt=shorten(excerpt), claim=claim)


def _span(failures: Iterable[ReportedFailure]) -> str:
    starts = [f.report.start for f in failures if f.report.start is not None]
    ends = [f.report.end for f in failures if f.report.end is not None]
    if not starts or not ends:
        return ""
    return f" between {min(starts):%Y-%m-%d %H:%M} and {max(ends):%Y-%m-%d %H:%M} UTC"


@attrs.frozen(kw_only=True)
class _Cause:
    """The failure details that share one cause, and what a finding says of them."""

    failures: tuple[ReportedFailure, ...]

    @property
    def sessions(self) -> int:
        return sum(failure.sessions for failure in self.failures)

    @property
    def hosts(self) -> str:
        return ", ".join(sorted({f.host or "(unnamed MX)" for f in self.failures}))

    def subjects(self) -> Subjects:
        tally: dict[str, int] = defaultdict(int)
        for failure in self.failures:
            tally[failure.organisation] += failure.sessions
        return Subjects.fold("sending organisation", tally)

    def refs(self) -> tuple[EvidenceRef, ...]:
        ordered = sorted(self.failures, key=lambda f: (-f.sessions, str(f.detail.source)))
        return tuple(detail_ref(failure) for failure in ordered[:CITED_DETAILS])

    def told(self) -> str:
        """Say who reported what: sessions, sending organisations, hosts and the range."""
        table = self.subjects()
        names = ", ".join(subject.name for subject in table.top[:3])
        more = f" and {table.distinct - 3} more" if table.distinct > 3 else ""
        kinds = ", ".join(sorted({str(f.kind) for f in self.failures}))
        return (
            f"{names}{more} reported {plural(self.sessions, 'session')} to {self.hosts} failing "
            f"with {kinds}{_span(self.failures)}"
        )


def _causes(
    failures: Iterable[ReportedFailure], key: Callable[[ReportedFailure], Hashable]
) -> list[_Cause]:
    groups: dict[Hashable, list[ReportedFailure]] = defaultdict(list)
    for failure in failures:
        groups[key(failure)].append(failure)
    return [_Cause(failures=tuple(group)) for group in groups.values()]


def _ours(context: Context, *kinds: TlsResultType) -> list[ReportedFailure]:
    return [f for f in reported_failures(context) if f.tie is not None and f.kind in kinds]


def _weigh(finding: Finding, cause: _Cause, side: FaultSide | None) -> Finding:
    return attrs.evolve(finding, subjects=cause.subjects(), side=side)


def _probe_refs(context: Context, cause: _Cause) -> list[EvidenceRef]:
    return [
        EvidenceRef(
            source=getattr(probe, "source", None),
            excerpt=shorten(_probe_text(probe)),
            claim=f"a probe of {host} from outside",
        )
        for host in sorted({f.host for f in cause.failures if f.host})
        for probe in probes_of(context, host)[:1]
    ]


def _probe_confirms(context: Context, cause: _Cause) -> str | None:
    """Return the result type a probe of the MX saw, when it is the one the senders report."""
    reported = {str(failure.kind) for failure in cause.failures}
    for host in sorted({f.host for f in cause.failures if f.host}):
        for probe in probes_of(context, host):
            seen = str(getattr(probe, "result_type", None) or "")
            if seen in reported:
                return seen
    return None


def _probe_text(probe: Any) -> str:
    parts = [f"{name}={getattr(probe, name)}" for name in _PROBE_FACTS if hasattr(probe, name)]
    return " ".join(parts) or "a saved probe"


_PROBE_FACTS = ("host", "port", "stage", "starttls_offered", "result_type", "error")


def _inspect(certificate: ExchangeCertificate) -> RemediationStep:
    return RemediationStep(
        purpose=Purpose.CHECK,
        command=GetExchangeCertificate(
            thumbprint=certificate.thumbprint,
            properties=("Thumbprint", "Subject", "CertificateDomains", "NotAfter", "Status"),
        ),
        note="The certificate the receive connector presents.",
    )


def _connector_refs(cause: _Cause) -> list[EvidenceRef]:
    refs: list[EvidenceRef] = []
    for failure in cause.failures:
        connector = failure.connector
        if connector is not None and all(ref.source != connector.source for ref in refs):
            refs.append(
                connector_ref(
                    connector,
                    f"the MX host is this server: {failure.tie}",
                    f"{connector.name}: Fqdn {connector.fqdn}",
                )
            )
    return refs[:2]


def _day(moment: dt.datetime | None) -> str:
    return "unknown" if moment is None else f"{moment:%Y-%m-%d}"


def _validity(certificate: ExchangeCertificate) -> str:
    return (
        f"NotBefore {_day(certificate.not_before)}, NotAfter {_day(certificate.not_after)}, "
        f"Status {certificate.status}"
    )


def _valid_now(context: Context, certificate: ExchangeCertificate) -> str:
    if context.now is not None and certificate.not_after is not None:
        if certificate.not_after >= context.now:
            return f"valid now (until {certificate.not_after:%Y-%m-%d})"
        return f"expired now (since {certificate.not_after:%Y-%m-%d})"
    if certificate.status is CertificateStatus.VALID:
        return "valid now (Get-ExchangeCertificate says Status Valid)"
    return "of unknown validity now"


# -- certificates --------------------------------------------------------------------------


def _by_certificate(context: Context, failure: ReportedFailure) -> Hashable:
    certificate = presented_when_reported(context, failure)
    return (certificate.thumbprint if certificate is not None else None) or failure.host


@rule(
    "tls-report-certificate-expired",
    title="Senders report an expired certificate at this server's MX",
    severity=Severity.ERROR,
    failure_mode="F6",
    meaning="An SMTP TLS report (RFC 8460) says sessions to one of this server's MX hosts "
    "failed with certificate-expired while the report ran, and the certificate the receive "
    "connector presents had expired by the report's end. Senders that validate certificates "
    "(MTA-STS, DANE, Exchange Online with TLS required) refuse it or deliver in clear text.",
    needs=("a TLS report naming this server's MX", "the certificate inventory"),
    remedy="Renew the certificate, enable it for SMTP, point TlsCertificateName at it and "
    "remove the old one. When the certificate is valid, find what else answers at the MX.",
    references=(RFC8460, RENEW_DOCS, SELECTION_DOCS),
    selection=_SELECTION,
    contradiction="When the presented certificate was valid throughout the report's range, "
    "the finding is a warning at low confidence that asks for the chain the MX presented.",
    inputs=_INPUTS,
)
def tls_report_certificate_expired(context: Context, report: Report) -> Iterator[Finding]:
    """Certificate-expired reports, against the certificate the connector presented."""
    failures = _ours(context, TlsResultType.CERTIFICATE_EXPIRED)
    for cause in _causes(failures, lambda f: _by_certificate(context, f)):
        first = cause.failures[0]
        certificate = presented_when_reported(context, first)
        ends = [f.report.end for f in cause.failures if f.report.end is not None]
        if certificate is None:
            yield _weigh(_unjoined(context, report, cause), cause, None)
            continue
        evidence = (
            *cause.refs(),
            certificate_ref(certificate, "the certificate the MX presents", _validity(certificate)),
            *_connector_refs(cause),
            *_probe_refs(context, cause),
        )
        if expired_by(certificate, max(ends, default=None)):
            when = f"{certificate.not_after:%Y-%m-%d}" if certificate.not_after else "(unknown)"
            finding = report(
                summary=f"{cause.told()}. The certificate this server presents there, "
                f"{certificate.subject} ({certificate.thumbprint}), expired on {when}, before "
                "the end of the report's range: renew it.",
                evidence=evidence,
                confidence=Confidence.HIGH,
                preconditions=(f"the MX host is this server: {first.tie}",),
                remediation=renewal_steps(certificate, connectors_naming(context, certificate)),
                subject=certificate.thumbprint or "",
            )
            yield _weigh(finding, cause, FaultSide.LOCAL)
            continue
        start = min((f.report.start for f in cause.failures if f.report.start), default=None)
        renewed = valid_through(certificate, start, max(ends, default=None)) is False
        hosts = cause.hosts
        confirmed = _probe_confirms(context, cause)
        finding = report(
            summary=f"{cause.told()}. The certificate this server presents there, "
            f"{certificate.subject} ({certificate.thumbprint}), is "
            f"{_valid_now(context, certificate)}"
            + (
                f" and became valid only on {certificate.not_before:%Y-%m-%d}, within the "
                "report's range: the failures may predate the renewal."
                if renewed and certificate.not_before is not None
                else ". Something else presented the expired certificate: a load balancer, "
                "a gateway or another server answering at that name, or an expired "
                "intermediate in the chain."
            )
            + " "
            + (
                f"A probe from outside saw {confirmed} at {hosts.split(', ')[0]} too: find "
                "what answers there in this server's stead"
                if confirmed
                else _ASK_CHAIN.format(host=hosts.split(", ")[0])
            )
            + ".",
            evidence=evidence,
            confidence=Confidence.MEDIUM if confirmed else Confidence.LOW,
            preconditions=(f"the MX host is this server: {first.tie}",),
            remediation=(_inspect(certificate),),
            subject=certificate.thumbprint or hosts,
            severity=Severity.INFO if renewed else Severity.WARNING,
            because="the certificate the configuration presents was renewed within the range"
            if renewed
            else "the certificate the configuration presents is valid; what the senders saw "
            "is not in the evidence",
        )
        yield _weigh(finding, cause, None)


def _unjoined(context: Context, report: Report, cause: _Cause) -> Finding:
    """Report a certificate failure at this server's MX with no certificate to judge."""
    return report(
        summary=f"{cause.told()}. No certificate in the evidence is the one this server "
        "presents there: collect Get-ExchangeCertificate and Get-ReceiveConnector.",
        evidence=(*cause.refs(), *_connector_refs(cause), *_probe_refs(context, cause)),
        confidence=Confidence.LOW,
        subject=cause.hosts,
        severity=Severity.WARNING,
        because="the certificate the MX presents is not in the evidence",
    )


@rule(
    "tls-report-certificate-name",
    title="Senders report a certificate that does not fit this server's MX",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="An SMTP TLS report says sessions to one of this server's MX hosts failed with "
    "certificate-host-mismatch or certificate-not-trusted, and the certificate the receive "
    "connector presents lacks the MX name, is self-signed, or chains to a CA only this "
    "organisation trusts.",
    needs=("a TLS report naming this server's MX", "the certificate inventory"),
    remedy="Present a certificate from a public CA that names the MX host (renew it with the "
    "name, enable it for SMTP, and point the receive connector's TlsCertificateName at it).",
    references=(RFC8460, SELECTION_DOCS),
    selection=_SELECTION,
    contradiction="When the certificate names the host and comes from a public CA, the "
    "finding is a warning at low confidence that asks for the chain the MX presented.",
    inputs=_INPUTS,
)
def tls_report_certificate_name(context: Context, report: Report) -> Iterator[Finding]:
    """Host-mismatch and not-trusted reports, against the presented certificate's names."""
    failures = _ours(
        context, TlsResultType.CERTIFICATE_HOST_MISMATCH, TlsResultType.CERTIFICATE_NOT_TRUSTED
    )
    for cause in _causes(failures, lambda f: (_by_certificate(context, f), f.kind)):
        first = cause.failures[0]
        certificate = presented_when_reported(context, first)
        if certificate is None:
            yield _weigh(_unjoined(context, report, cause), cause, None)
            continue
        names = certificate_names(certificate)
        flaw = _name_flaw(certificate, names, first)
        evidence = (
            *cause.refs(),
            certificate_ref(
                certificate,
                "the certificate the MX presents",
                f"Subject {certificate.subject}; names {', '.join(names) or '(none)'}; "
                f"RootCAType {certificate.root_ca_type}; IsSelfSigned {certificate.is_self_signed}",
            ),
            *_connector_refs(cause),
            *_probe_refs(context, cause),
        )
        steps = (
            (*renewal_steps(certificate, connectors_naming(context, certificate)),)
            if flaw
            else (_inspect(certificate),)
        )
        if flaw:
            finding = report(
                summary=f"{cause.told()}. The certificate this server presents there, "
                f"{certificate.subject} ({certificate.thumbprint}), {flaw}.",
                evidence=evidence,
                confidence=Confidence.HIGH,
                preconditions=(f"the MX host is this server: {first.tie}",),
                remediation=steps,
                subject=certificate.thumbprint or "",
            )
            yield _weigh(finding, cause, FaultSide.LOCAL)
            continue
        finding = report(
            summary=f"{cause.told()}. The certificate this server presents there, "
            f"{certificate.subject} ({certificate.thumbprint}), names {cause.hosts} and comes "
            "from a public CA: the senders saw another certificate, or a chain without its "
            f"intermediate. {_ASK_CHAIN.format(host=first.host)}.",
            evidence=evidence,
            confidence=Confidence.LOW,
            preconditions=(f"the MX host is this server: {first.tie}",),
            remediation=steps,
            subject=certificate.thumbprint or cause.hosts,
            severity=Severity.WARNING,
            because="the configuration presents a certificate that fits the MX",
        )
        yield _weigh(finding, cause, None)


def _name_flaw(
    certificate: ExchangeCertificate, names: list[str], failure: ReportedFailure
) -> str | None:
    """Say what about the certificate explains the failure, or ``None``."""
    host = failure.host or ""
    if failure.kind is TlsResultType.CERTIFICATE_HOST_MISMATCH:
        if host and not any(_fits(name, host) for name in names):
            return f"names {', '.join(names) or 'nothing'}, not {host}"
        return None
    if certificate.is_self_signed:
        return "is self-signed: no sender trusts it"
    if certificate.root_ca_type in (RootCAType.ENTERPRISE, RootCAType.REGISTRY):
        return (
            f"chains to a CA of RootCAType {certificate.root_ca_type}, which only this "
            "organisation trusts"
        )
    return None


def _fits(pattern: str, host: str) -> bool:
    return names_match(pattern, host) is not None
