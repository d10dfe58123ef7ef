"""Rules over SMTP TLS reports beyond the certificate: STARTTLS, the chain, MTA-STS and DANE.

See :mod:`exchange_tls.diagnosis.rules.tls_reports` for how failure details are tied to
this server, cited and folded. Here:

* ``starttls-not-supported`` at this server's MX: a receive connector without ``Tls`` in
  its AuthMechanism does not offer STARTTLS; one whose ``TlsCertificateName`` names a
  certificate the server lacks does not either (KB 2989382), which
  ``receive-connector-certificate-not-found`` reports with the certificate to name; when
  the configuration offers STARTTLS, something between (a firewall's SMTP inspection)
  hides it from the senders.
* ``validation-failure``: the chain this server presents, judged for its dates, names and
  issuer; what the configuration cannot explain asks for the chain the MX presented.
* MTA-STS (``sts-*``) and DANE (``tlsa-invalid``, ``dnssec-invalid``, ``dane-required``):
  the policy the senders applied, its ``mx`` patterns against this server's MX names, and
  the certificate a TLSA record must match. These need no tie to this server: the policy is
  the domain's, and decides whether mail reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector
from exchange_tls.connectors.selection import names_match
from exchange_tls.diagnosis.catalogue import Report, rule
from exchange_tls.diagnosis.cite import certificate_ref, connector_ref, quoted, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.presented import connectors_naming
from exchange_tls.diagnosis.facts.reported import (
    ReportedFailure,
    certificate_names,
    expired_by,
    presented_when_reported,
    reported_failures,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules.certificates import SELECTION_DOCS
from exchange_tls.diagnosis.rules.tls_reports import (
    _ASK_CHAIN,
    _INPUTS,
    _SELECTION,
    RFC7672,
    RFC8460,
    RFC8461,
    _by_certificate,
    _Cause,
    _causes,
    _connector_refs,
    _inspect,
    _name_flaw,
    _ours,
    _probe_refs,
    _unjoined,
    _validity,
    _weigh,
)
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.remediation.commands import (
    GetReceiveConnector,
    TestNetConnection,
)
from exchange_tls.remediation.plans.certificates import renewal_steps
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.tls_results import TlsResultType

__all__ = ["KB2989382"]

KB2989382 = "https://learn.microsoft.com/troubleshoot/exchange/email-delivery/cannot-receive-mail-with-new-certificate"


# -- STARTTLS --------------------------------------------------------------------------------


def _offers_tls(connector: ReceiveConnector) -> bool | None:
    if connector.auth_mechanism is None:
        return None
    mechanisms = {part.strip().casefold() for part in connector.auth_mechanism.split(",")}
    return "tls" in mechanisms


def _offered_in_log(context: Context) -> EvidenceRef | None:
    """Return a receive-log row showing this server offering STARTTLS, if the logs hold one."""
    for session in context.receive_sessions:
        if session.tls is None or not session.tls.starttls_offered:
            continue
        row = next((r for r in session.rows if "STARTTLS" in r.text.upper()), None)
        if row is not None:
            return row_ref(row, "this server offers STARTTLS to the clients it logs")
    return None


@rule(
    "tls-report-starttls-not-supported",
    title="Senders report that this server's MX does not offer STARTTLS",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="An SMTP TLS report says sessions to one of this server's MX hosts found no "
    "STARTTLS. The receive connector does not offer it (no Tls in AuthMechanism, or a "
    "TlsCertificateName naming a certificate the server lacks, KB 2989382), or a firewall's "
    "SMTP inspection between the senders and the server hides it.",
    needs=("a TLS report naming this server's MX", "Get-ReceiveConnector"),
    remedy="Add Tls to the connector's AuthMechanism, or name a certificate the server has "
    "in TlsCertificateName; when the connector offers STARTTLS, turn off the firewall's SMTP "
    "(ESMTP) inspection.",
    references=(RFC8460, KB2989382),
    selection="The receive connector that answers at the reported MX host.",
    contradiction="When the connector is configured to offer STARTTLS, the finding names the "
    "network between, at medium confidence.",
    inputs=("tls-reports+receive-connectors",),
)
def tls_report_starttls_not_supported(context: Context, report: Report) -> Iterator[Finding]:
    """starttls-not-supported, against the receive connector and what lies between."""
    failures = _ours(context, TlsResultType.STARTTLS_NOT_SUPPORTED)
    for cause in _causes(failures, lambda f: f.connector or f.host):
        first = cause.failures[0]
        connector = first.connector
        base = (*cause.refs(), *_connector_refs(cause), *_probe_refs(context, cause))
        tied = (f"the MX host is this server: {first.tie}",)
        if connector is not None and _offers_tls(connector) is False:
            finding = report(
                summary=f"{cause.told()}. Receive connector {quoted(connector.name)} has "
                "AuthMechanism "
                f"{quoted(connector.auth_mechanism)}: without Tls it does not offer STARTTLS.",
                evidence=(
                    *base,
                    connector_ref(
                        connector, "Tls is not among its mechanisms", str(connector.auth_mechanism)
                    ),
                ),
                confidence=Confidence.HIGH,
                preconditions=tied,
                remediation=_auth_steps(connector),
                subject=connector.name or cause.hosts,
            )
            yield _weigh(finding, cause, FaultSide.LOCAL)
            continue
        if connector is not None and _names_a_lost_certificate(context, connector):
            # receive-connector-certificate-not-found says it, with the certificate to name.
            continue
        offered = _offered_in_log(context)
        host = first.host or ""
        finding = report(
            summary=f"{cause.told()}. The configuration offers STARTTLS there"
            + (" and the receive log shows it offered" if offered else "")
            + ": something between the senders and this server hides it, most often a "
            "firewall's SMTP (ESMTP) inspection, which replaces the STARTTLS line of the EHLO "
            "answer with a line of X's.",
            evidence=(*base, *([offered] if offered else [])),
            confidence=Confidence.MEDIUM,
            preconditions=(*tied, "the receive connector offers STARTTLS by its configuration"),
            remediation=(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=TestNetConnection(computer_name=host, port=25),
                    note="Run from outside the firewall; then send EHLO by hand: the answer "
                    "must list 250-STARTTLS. A line of X's (250-XXXXXXXA) means SMTP "
                    "inspection masks it: turn the inspection off for port 25.",
                ),
            ),
            subject=(connector.name if connector is not None else None) or cause.hosts,
        )
        yield _weigh(finding, cause, FaultSide.BETWEEN)


def _auth_steps(connector: ReceiveConnector) -> tuple[RemediationStep, ...]:
    identity = connector.identity or connector.name or ""
    return (
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetReceiveConnector(
                identity=identity, properties=("AuthMechanism", "Fqdn", "TlsCertificateName")
            ),
            note="Then add Tls to the mechanisms it lists: Set-ReceiveConnector -Identity "
            "<identity> -AuthMechanism <the list>,Tls.",
        ),
    )


def _names_a_lost_certificate(context: Context, connector: ReceiveConnector) -> bool:
    name = connector.tls_certificate_name
    if name is None or name.issuer is None or not context.certificates:
        return False
    return not any(name.matches(certificate) for certificate in context.certificates)


# -- the chain -------------------------------------------------------------------------------


def _chain_flaw(failure: ReportedFailure, certificate: ExchangeCertificate) -> str | None:
    """Say what about the presented certificate fails validation, or ``None``."""
    if expired_by(certificate, failure.report.end):
        if certificate.not_after is None:
            return "is past its validity (Status DateInvalid)"
        return f"expired on {certificate.not_after:%Y-%m-%d}, before the report's end"
    names = certificate_names(certificate)
    if failure.host and not any(names_match(n, failure.host) is not None for n in names):
        return f"names {', '.join(names) or 'nothing'}, not {failure.host}"
    # Past dates and names, what is left is trust: judged as certificate-not-trusted is.
    detail = attrs.evolve(failure.detail, result_type=TlsResultType.CERTIFICATE_NOT_TRUSTED)
    return _name_flaw(certificate, names, attrs.evolve(failure, detail=detail))


@rule(
    "tls-report-validation-failure",
    title="Senders report that this server's certificate chain failed validation",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="An SMTP TLS report says sessions to one of this server's MX hosts failed with "
    "validation-failure; the certificate the receive connector presents is expired, lacks "
    "the MX name, is self-signed or chains to a private CA.",
    needs=("a TLS report naming this server's MX", "the certificate inventory"),
    remedy="Present a publicly trusted, current certificate that names the MX, with its "
    "intermediate certificates installed.",
    references=(RFC8460, SELECTION_DOCS),
    selection=_SELECTION,
    contradiction="When the certificate looks right, the finding is a warning at low "
    "confidence that asks for the chain the MX presented (an intermediate may be missing).",
    inputs=_INPUTS,
)
def tls_report_validation_failure(context: Context, report: Report) -> Iterator[Finding]:
    """validation-failure, against the certificate (and so the chain) the MX presents."""
    failures = _ours(context, TlsResultType.VALIDATION_FAILURE)
    for cause in _causes(failures, lambda f: _by_certificate(context, f)):
        first = cause.failures[0]
        certificate = presented_when_reported(context, first)
        if certificate is None:
            yield _weigh(_unjoined(context, report, cause), cause, None)
            continue
        codes = sorted({f.detail.failure_reason_code or "" for f in cause.failures} - {""})
        said = f" (reason: {', '.join(codes)})" if codes else ""
        flaw = _chain_flaw(first, certificate)
        evidence = (
            *cause.refs(),
            certificate_ref(certificate, "the certificate the MX presents", _validity(certificate)),
            *_connector_refs(cause),
            *_probe_refs(context, cause),
        )
        tied = (f"the MX host is this server: {first.tie}",)
        if flaw:
            finding = report(
                summary=f"{cause.told()}{said}. The certificate this server presents there, "
                f"{certificate.subject} ({certificate.thumbprint}), {flaw}.",
                evidence=evidence,
                confidence=Confidence.HIGH,
                preconditions=tied,
                remediation=renewal_steps(certificate, connectors_naming(context, certificate)),
                subject=certificate.thumbprint or "",
            )
            yield _weigh(finding, cause, FaultSide.LOCAL)
            continue
        finding = report(
            summary=f"{cause.told()}{said}. The certificate this server presents there, "
            f"{certificate.subject} ({certificate.thumbprint}), is current and names the MX: "
            "the chain it is sent with may lack its intermediate certificate. "
            f"{_ASK_CHAIN.format(host=first.host)}.",
            evidence=evidence,
            confidence=Confidence.LOW,
            preconditions=tied,
            remediation=(_inspect(certificate),),
            subject=certificate.thumbprint or cause.hosts,
            severity=Severity.WARNING,
            because="the configuration presents a certificate that looks right",
        )
        yield _weigh(finding, cause, None)


# -- MTA-STS and DANE -------------------------------------------------------------------------

_POLICY_TYPES = (
    TlsResultType.STS_POLICY_FETCH_ERROR,
    TlsResultType.STS_POLICY_INVALID,
    TlsResultType.STS_WEBPKI_INVALID,
    TlsResultType.TLSA_INVALID,
    TlsResultType.DNSSEC_INVALID,
    TlsResultType.DANE_REQUIRED,
)


def _mode(failure: ReportedFailure) -> str | None:
    for line in failure.policy.policy_string:
        key, _, value = line.partition(":")
        if key.strip().casefold() == "mode":
            return value.strip().casefold()
    return None


def _mx_patterns(failure: ReportedFailure) -> list[str]:
    patterns = []
    for line in failure.policy.policy_string:
        key, _, value = line.partition(":")
        if key.strip().casefold() == "mx" and value.strip():
            patterns.append(value.strip().casefold())
    return patterns


def _policy_words(context: Context, cause: _Cause) -> tuple[str, list[EvidenceRef]]:
    """Say what the policy failure means here, with evidence from the configuration."""
    first = cause.failures[0]
    domain = first.policy.policy_domain or "the domain"
    kind = first.kind
    codes = sorted({f.detail.failure_reason_code or "" for f in cause.failures} - {""})
    reason = f" ({', '.join(codes)})" if codes else ""
    refs: list[EvidenceRef] = []
    if kind is TlsResultType.STS_POLICY_FETCH_ERROR:
        return (
            f"The senders could not fetch the MTA-STS policy "
            f"https://mta-sts.{domain}/.well-known/mta-sts.txt{reason}: check that the web "
            "server serves it over HTTPS with a valid certificate for mta-sts." + domain,
            refs,
        )
    if kind is TlsResultType.STS_POLICY_INVALID:
        return (
            f"The MTA-STS policy of {domain} is not valid{reason}: it needs "
            "'version: STSv1', a mode, mx lines and max_age.",
            refs,
        )
    if kind is TlsResultType.STS_WEBPKI_INVALID:
        words = [f"The MX certificate did not validate under the MTA-STS policy{reason}"]
        patterns = _mx_patterns(first)
        for failure in cause.failures[:1]:
            if failure.host and not any(names_match(p, failure.host) is not None for p in patterns):
                words.append(f"{failure.host} matches none of the policy's mx lines")
            certificate = presented_when_reported(context, failure)
            if certificate is not None:
                flaw = _chain_flaw(failure, certificate)
                refs.append(
                    certificate_ref(
                        certificate, "the certificate the MX presents", _validity(certificate)
                    )
                )
                if flaw:
                    words.append(f"the certificate it presents ({certificate.thumbprint}) {flaw}")
        return "; ".join(words) + ".", refs
    if kind is TlsResultType.TLSA_INVALID:
        words = [
            f"The DANE TLSA records (_25._tcp.{first.host or '<mx>'}) did not match the "
            f"certificate the MX presented{reason}"
        ]
        certificate = presented_when_reported(context, first)
        if certificate is not None:
            refs.append(
                certificate_ref(
                    certificate, "the certificate the MX presents", _validity(certificate)
                )
            )
            words.append(
                f"publish a TLSA record for {certificate.thumbprint}'s key (and, before the "
                "next renewal, for the new key too)"
            )
        return "; ".join(words) + ".", refs
    if kind is TlsResultType.DNSSEC_INVALID:
        return (f"DNSSEC validation of {domain}'s MX or TLSA records failed{reason}.", refs)
    return (
        f"The senders require DANE for {domain} and found no usable TLSA record{reason}.",
        refs,
    )


@rule(
    "tls-report-policy-failure",
    title="Senders report that the domain's MTA-STS or DANE policy failed",
    severity=Severity.WARNING,
    failure_mode=None,
    meaning="An SMTP TLS report says sessions failed on the domain's MTA-STS policy (fetch, "
    "syntax, or the MX certificate under web PKI) or its DANE records (TLSA, DNSSEC). In "
    "MTA-STS enforce mode or with DANE, senders then do not deliver.",
    needs=("a TLS report with a policy failure",),
    remedy="Serve a valid MTA-STS policy whose mx lines cover every MX; keep TLSA records "
    "matching the certificate the MX presents, renewing them with the certificate.",
    references=(RFC8460, RFC8461, RFC7672),
    selection="Every policy failure of the domain's reports; the MX certificate where the MX "
    "host is this server.",
    contradiction="An error only when the policy is enforced (MTA-STS mode enforce, or DANE).",
    inputs=("tls-reports",),
)
def tls_report_policy_failure(context: Context, report: Report) -> Iterator[Finding]:
    """MTA-STS and DANE failures, against the policy the senders applied."""
    failures = [f for f in reported_failures(context) if f.kind in _POLICY_TYPES]
    for cause in _causes(failures, lambda f: (f.policy.policy_domain, str(f.kind))):
        first = cause.failures[0]
        words, refs = _policy_words(context, cause)
        dane = first.kind in (
            TlsResultType.TLSA_INVALID,
            TlsResultType.DNSSEC_INVALID,
            TlsResultType.DANE_REQUIRED,
        )
        enforced = dane or _mode(first) == "enforce"
        finding = report(
            summary=f"{cause.told()}. {words}",
            evidence=(*cause.refs(), *refs, *_probe_refs(context, cause)),
            confidence=Confidence.MEDIUM,
            preconditions=(
                f"the policy was applied as the senders read it ({first.policy.policy_type})",
            ),
            subject=f"{first.policy.policy_domain or '(no domain)'} {first.kind}",
            severity=Severity.ERROR if enforced else None,
            because="the policy is enforced: senders that apply it do not deliver"
            if enforced
            else None,
        )
        side = FaultSide.LOCAL if first.kind is TlsResultType.TLSA_INVALID else FaultSide.BETWEEN
        yield _weigh(finding, cause, side)
