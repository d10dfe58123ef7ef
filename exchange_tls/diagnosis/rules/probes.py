"""Rules that join saved probes of remote hosts to the sessions that failed to reach them.

A probe (``exchange-tls probe --format json``) is evidence of the other end: which TLS
versions the remote accepts, whether it offers STARTTLS, which certificate it presents,
whether its DANE and MTA-STS policies hold. These rules confirm or rule out a cause the
logs alone leave open, and name the side that must change. They read saved probes only:
``diagnose()`` never probes anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from exchange_tls.diagnosis.catalogue import Report, rule
from exchange_tls.diagnosis.cite import failure_row, plural, row_ref
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.probes import (
    PROTOCOL_ERRORS,
    explains_protocol_failure,
    probe_of,
    probe_ref,
    probes,
    remote_host,
    sessions_to,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.probe_results import SmtpProbe
from exchange_tls.probe_results.models import MODERN_VERSIONS
from exchange_tls.probe_results.policy import host_matches_name
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.remediation.commands import GetSendConnector, SetSendConnector, TestNetConnection
from exchange_tls.remediation.plans.tls import queues_drain
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.tls_results import TlsResultType

__all__: list[str] = []

RFC_7672 = "https://www.rfc-editor.org/rfc/rfc7672"
RFC_8461 = "https://www.rfc-editor.org/rfc/rfc8461"
RFC_8460 = "https://www.rfc-editor.org/rfc/rfc8460"
_VALIDATING = ("certificatevalidation", "domainvalidation")
#: Sessions cited by name in a finding; the rest are counted by the engine.
_CITED = 5


def _failure_refs(sessions: list[SmtpSession], claim: str) -> list[EvidenceRef]:
    refs = []
    for session in sessions[:_CITED]:
        row = failure_row(session) or (session.rows[0] if session.rows else None)
        if row is not None:
            refs.append(row_ref(row, claim))
    return refs


def _by_probe(
    context: Context, sessions: list[SmtpSession]
) -> list[tuple[SmtpProbe, list[SmtpSession]]]:
    groups: dict[int, tuple[SmtpProbe, list[SmtpSession]]] = {}
    for session in sessions:
        probe = probe_of(context, remote_host(session))
        if probe is not None:
            groups.setdefault(id(probe), (probe, []))[1].append(session)
    return sorted(groups.values(), key=lambda item: (item[0].host, item[0].port))


def _sided(finding: Finding, side: FaultSide) -> Finding:
    return attrs.evolve(finding, side=side)


_HUMAN = {"SSLv3": "SSL 3.0", "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2"}


def _accepted(probe: SmtpProbe) -> str:
    accepted = probe.accepted_versions
    if accepted is not None:
        return ", ".join(_HUMAN.get(v, v) for v in accepted) or "no version"
    return f"{_HUMAN.get(probe.tls_version or '', probe.tls_version)} at best"


@rule(
    "probe-remote-legacy-tls",
    title="The remote host accepts only TLS 1.0 or 1.1",
    severity=Severity.ERROR,
    failure_mode="F8",
    meaning="Send sessions to a host fail with SocketError or AlgorithmMismatch, and a probe "
    "of that host shows it accepts nothing newer than TLS 1.1. The two ends share no version "
    "because the remote is outdated: it must enable TLS 1.2. Re-enabling TLS 1.0 on this "
    "server would weaken every connection it makes.",
    needs=(
        "a send session failing with SocketError or AlgorithmMismatch",
        "a saved probe of its remote host whose negotiated or accepted versions are all "
        "older than TLS 1.2",
    ),
    remedy="The remote host's administrators enable TLS 1.2 (and 1.3); nothing changes here. "
    "Probe again to verify, then watch the queues drain.",
    references=(RFC_8460,),
    selection="Failing send sessions joined to a probe by remote address or host name.",
    contradiction="A probe of the same host that negotiated TLS 1.2 or later rules it out "
    "(see probe-rules-out-remote).",
    inputs=("send-log+probes",),
)
def probe_remote_legacy_tls(context: Context, report: Report) -> Iterator[Finding]:
    """F8 confirmed at the remote: it accepts only TLS 1.0/1.1."""
    failing = [s for s in context.send_sessions if explains_protocol_failure(context, s)]
    for probe, sessions in _by_probe(context, failing):
        error = sessions[0].tls.error if sessions[0].tls else "SocketError"
        finding = report(
            summary=(
                f"{plural(len(sessions), 'send session')} to {probe.host} failed the TLS handshake "
                f"with {error}, and a probe of {probe.host} shows it accepts "
                f"{_accepted(probe)} only: the remote host must enable TLS 1.2. Do not "
                "re-enable TLS 1.0 on this server to reach it."
            ),
            evidence=(
                *_failure_refs(sessions, f"the handshake failed with {error}"),
                probe_ref(probe, "the probe shows the remote accepts only TLS 1.1 or older"),
            ),
            confidence=Confidence.HIGH,
            preconditions=(
                "the probe offered TLS 1.0 to 1.3, so the version it got is the remote's best",
            ),
            remediation=(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=TestNetConnection(computer_name=probe.host, port=probe.port),
                    note="Once the remote reports TLS 1.2 enabled, probe it again: "
                    f"exchange-tls probe {probe.host} --versions",
                ),
                queues_drain("once the remote host accepts TLS 1.2"),
            ),
            subject=probe.host,
        )
        yield _sided(finding, FaultSide.REMOTE)


def _validating(context: Context, session: SmtpSession) -> bool | None:
    connector = context.connector_named(session.connector_id)
    if connector is None:
        return None
    return (connector.tls_auth_level or "").casefold() in _VALIDATING


def _domain_mismatch(context: Context, session: SmtpSession, probe: SmtpProbe) -> str | None:
    """Return the TlsDomain a DomainValidation connector wants, if the certificate lacks it."""
    connector = context.connector_named(session.connector_id)
    if connector is None or (connector.tls_auth_level or "").casefold() != "domainvalidation":
        return None
    wanted = connector.tls_domain
    certificate = probe.certificate
    if not wanted or certificate is None:
        return None
    if any(
        host_matches_name(wanted, name) or host_matches_name(name, wanted)
        for name in certificate.dns_names
    ):
        return None
    return wanted


@rule(
    "probe-remote-certificate",
    title="The remote host presents a certificate this server cannot accept",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="A send connector that validates the remote certificate (TlsAuthLevel "
    "CertificateValidation or DomainValidation) fails TLS to a host, and a probe of that "
    "host shows its certificate expired, issued by an untrusted root, not for its name, or "
    "(DomainValidation) not carrying the connector's TlsDomain. The remote must renew or "
    "replace its certificate.",
    needs=(
        "a failing send session on a connector with TlsAuthLevel CertificateValidation or "
        "DomainValidation (or no connector evidence)",
        "a saved probe of its remote host with a certificate result",
    ),
    remedy="The remote host's administrators renew or replace the certificate; to accept an "
    "untrusted root on purpose, import it into this server's Trusted Root store.",
    references=(RFC_8460,),
    selection="Failing send sessions joined to a probe by remote address or host name.",
    contradiction="Sessions on an EncryptionOnly connector: Exchange does not validate the "
    "remote certificate there, so the probe's certificate result is not their cause.",
    inputs=("send-log+probes",),
)
def probe_remote_certificate(context: Context, report: Report) -> Iterator[Finding]:
    """Find remote certificates the probe judged bad, under a validating connector."""
    failing = [
        s
        for s in context.send_sessions
        if s.tls is not None and s.tls.succeeded is False and _validating(context, s) is not False
    ]
    for probe, sessions in _by_probe(context, failing):
        wanted = _domain_mismatch(context, sessions[0], probe)
        if probe.result_type is not None and probe.result_type.is_certificate:
            why = f"{probe.result_type}: {probe.error}"
        elif wanted is not None:
            names = ", ".join(probe.certificate.dns_names) if probe.certificate else ""
            why = f"its certificate is for {names or 'no DNS name'}, not the TlsDomain {wanted}"
        else:
            continue
        known = _validating(context, sessions[0]) is True
        finding = report(
            summary=(
                f"{plural(len(sessions), 'send session')} to {probe.host} failed TLS, and a probe "
                f"of {probe.host} shows why: {why}. The remote host must renew or replace its "
                "certificate."
            ),
            evidence=(
                *_failure_refs(sessions, "TLS to the remote host failed"),
                probe_ref(probe, "the probe judged the remote certificate"),
            ),
            confidence=Confidence.HIGH if known else Confidence.MEDIUM,
            preconditions=(
                "the connector validates the remote certificate"
                if known
                else "the connector's TlsAuthLevel is not in the evidence: assumed to validate",
            ),
            remediation=(
                *(
                    RemediationStep(
                        purpose=Purpose.CHECK,
                        command=GetSendConnector(
                            identity=s.connector_id, properties=("TlsAuthLevel", "TlsDomain")
                        ),
                    )
                    for s in sessions[:1]
                    if s.connector_id
                ),
                queues_drain("once the remote presents a valid certificate"),
            ),
            subject=probe.host,
        )
        yield _sided(finding, FaultSide.REMOTE)


def _without_tls(session: SmtpSession) -> bool:
    tls = session.tls
    return tls is None or (not tls.starttls_requested and tls.succeeded is None)


@rule(
    "probe-starttls",
    title="Mail to a host goes without TLS, and a probe shows which end drops STARTTLS",
    severity=Severity.WARNING,
    failure_mode="F10",
    meaning="Send sessions to a host went without STARTTLS. A probe of the host settles "
    "why: it does not offer STARTTLS (the remote must), it offers STARTTLS though the logs "
    "show none offered (a device between strips it, such as a firewall's SMTP inspection), "
    "or it offers STARTTLS and the connector has IgnoreSTARTTLS $true (this server).",
    needs=("a send session without STARTTLS", "a saved probe of its remote host"),
    remedy="Remote: offer STARTTLS. Between: turn off SMTP inspection. Local: "
    "Set-SendConnector -IgnoreSTARTTLS $false.",
    references=(RFC_8460,),
    selection="Send sessions without a STARTTLS command, joined to a probe.",
    contradiction="A probe that stopped before EHLO says nothing of STARTTLS.",
    inputs=("send-log+probes",),
)
def probe_starttls(context: Context, report: Report) -> Iterator[Finding]:
    """Who drops STARTTLS: the remote, a device between, or this connector."""
    plain = [s for s in context.send_sessions if _without_tls(s)]
    for probe, sessions in _by_probe(context, plain):
        if probe.starttls_offered is None:
            continue
        connector = context.connector_named(sessions[0].connector_id)
        ignoring = connector is not None and connector.ignore_starttls is True
        stripped = any(s.tls is not None and s.tls.starttls_offered is False for s in sessions)
        steps: tuple[RemediationStep, ...] = ()
        if not probe.starttls_offered:
            side, why = (
                FaultSide.REMOTE,
                (
                    f"{probe.host} does not offer STARTTLS: the remote host must enable it"
                    + (" (IgnoreSTARTTLS on this connector is not the cause)" if ignoring else "")
                ),
            )
        elif stripped:
            side, why = (
                FaultSide.BETWEEN,
                (
                    f"{probe.host} offers STARTTLS to the probe, yet its EHLO reply in the logs "
                    "did not: a device between (a firewall's SMTP inspection) strips it"
                ),
            )
        elif ignoring and connector is not None:
            side, why = (
                FaultSide.LOCAL,
                (
                    f"{probe.host} offers STARTTLS, and send connector '{connector.name}' ignores "
                    "it (IgnoreSTARTTLS $true)"
                ),
            )
            steps = (
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetSendConnector(identity=connector.name or "", ignore_starttls=False),
                ),
            )
        else:
            continue
        finding = report(
            summary=(
                f"{plural(len(sessions), 'send session')} to {probe.host} went without TLS: {why}."
            ),
            evidence=(
                *_failure_refs(sessions, "the session went without STARTTLS"),
                probe_ref(probe, "the probe's EHLO shows whether STARTTLS is offered"),
            ),
            confidence=Confidence.HIGH,
            remediation=(*steps, queues_drain("once STARTTLS is used on the path")),
            subject=probe.host,
        )
        yield _sided(finding, side)


@rule(
    "probe-domain-policy",
    title="A remote host's DANE or MTA-STS policy does not hold",
    severity=Severity.WARNING,
    failure_mode=None,
    meaning="A probe found that the TLSA records of _25._tcp.<host> (DNSSEC-signed) match no "
    "certificate the host presents (tlsa-invalid), that the domain's MTA-STS policy cannot be "
    "fetched or read, or that the policy does not list the probed MX host. Senders that "
    "validate DANE (Exchange Online: 4.7.323) or enforce MTA-STS then refuse to deliver.",
    needs=("a saved probe with DANE or MTA-STS results",),
    remedy="The remote domain's administrators publish TLSA records of the certificate in "
    "use, or fix the MTA-STS policy (its URL, its mx lines).",
    references=(RFC_7672, RFC_8461, RFC_8460),
    selection="Every saved probe with a policy check; failing sessions to its host are cited.",
    contradiction="TLSA records without the resolver's AD flag do not apply (RFC 7672 §2.2).",
    inputs=("probes",),
)
def probe_domain_policy(context: Context, report: Report) -> Iterator[Finding]:
    """DANE mismatch, MTA-STS fetch or policy failure, MX not listed."""
    for probe in sorted(probes(context), key=lambda p: (p.host, p.port)):
        problems: list[str] = []
        dane = probe.dane
        if dane is not None and dane.result_type is TlsResultType.TLSA_INVALID:
            records = ", ".join(str(r) for r in dane.usable[:3])
            problems.append(
                f"tlsa-invalid: the TLSA records of {dane.name} ({records}) match "
                "no certificate the host presents"
            )
        sts = probe.domain.mta_sts if probe.domain is not None else None
        if sts is not None and sts.result_type is not None:
            problems.append(f"{sts.result_type}: {sts.fetch_error or sts.policy_error}")
        elif sts is not None and sts.host_matches is False and sts.policy is not None:
            problems.append(
                f"the MTA-STS policy of {sts.domain} (mode {sts.policy.mode}) lists "
                f"{', '.join(sts.policy.mx)}, not {sts.host}"
            )
        if not problems:
            continue
        failing = [
            s for s in sessions_to(context, probe) if s.tls is not None and s.tls.succeeded is False
        ]
        finding = report(
            summary=f"A probe of {probe.host} found: " + "; ".join(problems) + ".",
            evidence=(
                probe_ref(probe, "the probe checked the domain's TLS policy"),
                *_failure_refs(failing, "TLS to this host failed"),
            ),
            confidence=Confidence.HIGH,
            subject=probe.host,
        )
        yield _sided(finding, FaultSide.REMOTE)


@rule(
    "probe-rules-out-remote",
    title="A probe rules out the remote host",
    severity=Severity.INFO,
    failure_mode=None,
    meaning="Send sessions to a host fail TLS, yet a probe of the host negotiated TLS 1.2 or "
    "later and judged its certificate good: the remote's versions and certificate are not "
    "the cause. Look at this server (its TLS settings, its trust store) or a device between.",
    needs=("a failing send session", "a saved healthy probe of its remote host"),
    remedy="Follow the findings about this server; compare from this server with "
    "Test-NetConnection and a probe run on it.",
    selection="Failing send sessions joined to a healthy probe.",
    contradiction="A probe run from another network may take another path than this server.",
    inputs=("send-log+probes",),
)
def probe_rules_out_remote(context: Context, report: Report) -> Iterator[Finding]:
    """Say where a healthy probe of the remote leaves the cause: here or between."""
    failing = [s for s in context.send_sessions if s.tls is not None and s.tls.succeeded is False]
    for probe, sessions in _by_probe(context, failing):
        if not probe.healthy or probe.tls_version not in MODERN_VERSIONS:
            continue
        errors = sorted({s.tls.error or "an error" for s in sessions if s.tls is not None})
        protocol = any(s.tls is not None and s.tls.error in PROTOCOL_ERRORS for s in sessions)
        finding = report(
            summary=(
                f"{plural(len(sessions), 'send session')} to {probe.host} failed TLS "
                f"({', '.join(errors)}), yet a probe of {probe.host} negotiated "
                f"{probe.tls_version} and found its certificate good: the remote host is not "
                "the cause"
                + (
                    " of a version mismatch; this server's TLS 1.2 settings or a device between"
                    " are."
                    if protocol
                    else "; this server or a device between is."
                )
            ),
            evidence=(
                *_failure_refs(sessions, "TLS to the remote host failed"),
                probe_ref(probe, "the probe reached the remote with modern TLS"),
            ),
            confidence=Confidence.MEDIUM,
            preconditions=("the probe ran on a path like this server's",),
            subject=probe.host,
        )
        yield _sided(finding, FaultSide.LOCAL)
