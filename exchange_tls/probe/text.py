"""A probe in words, for a terminal: one line per fact, the outcome first."""

from __future__ import annotations

from exchange_tls.probe_results import SmtpProbe

__all__ = ["probe_text"]


def _yes(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    return "unknown" if value is None else (yes if value else no)


def probe_text(probe: SmtpProbe) -> str:
    """Return the probe as text (the remote's words are the caller's to make safe)."""
    where = f" ({probe.address})" if probe.address else ""
    outcome = "ok" if probe.healthy else f"{probe.result_type or 'failed'}: {probe.error}"
    lines = [
        f"{probe.host} port {probe.port}{where}",
        f"  result:        {outcome}",
        f"  stage reached: {probe.stage.value}",
    ]
    if probe.banner is not None:
        lines.append(f"  banner:        {probe.banner}")
    if probe.ehlo_name is not None:
        lines.append(f"  EHLO sent as:  {probe.ehlo_name}")
    if probe.starttls_offered is not None:
        lines.append(f"  STARTTLS:      {_yes(probe.starttls_offered, 'offered', 'not offered')}")
    if probe.tls_version is not None:
        lines.append(f"  TLS:           {probe.tls_version} {probe.cipher or ''}".rstrip())
    for index, facts in enumerate(probe.chain):
        label = "certificate:  " if index == 0 else "  issued by:  "
        lines.append(f"  {label} {facts.subject or '(no subject)'}")
        lines.append(
            f"                 issuer {facts.issuer}; valid {facts.not_before:%Y-%m-%d} to "
            f"{facts.not_after:%Y-%m-%d}; thumbprint {facts.thumbprint}"
        )
        if index == 0 and facts.dns_names:
            lines.append(f"                 names {', '.join(facts.dns_names)}")
    if probe.chain:
        lines.append(f"  name matches:  {_yes(probe.name_matches)} ({probe.server_name})")
    if probe.verification_error and probe.healthy:
        lines.append(f"  note:          {probe.verification_error}")
    if probe.versions:
        tried = ", ".join(f"{v.version} {_yes(v.accepted)}" for v in probe.versions)
        lines.append(f"  versions:      {tried}")
    dane = probe.dane
    if dane is not None:
        if dane.error:
            state = dane.error
        elif not dane.records:
            state = "no TLSA records"
        else:
            matched = f"matches {dane.matched}" if dane.matched else "matches no usable record"
            records = "1 record" if len(dane.records) == 1 else f"{len(dane.records)} records"
            state = f"{records}, DNSSEC {_yes(dane.authenticated)}, {matched}"
        lines.append(f"  DANE:          {dane.name}: {state}")
    domain = probe.domain
    if domain is not None:
        hosts = ", ".join(f"{mx.host} ({mx.preference})" for mx in domain.mx) or "none"
        lines.append(f"  MX of {domain.domain}: {domain.mx_error or hosts}")
        sts = domain.mta_sts
        if sts is not None:
            if sts.record is None and sts.fetch_error is None:
                text = "no _mta-sts record"
            elif sts.fetch_error or sts.policy_error:
                text = f"{sts.result_type}: {sts.fetch_error or sts.policy_error}"
            else:
                policy = sts.policy
                assert policy is not None  # noqa: S101 -- fetched and valid
                listed = _yes(sts.host_matches, "listed", "NOT listed")
                text = f"mode {policy.mode}, mx {', '.join(policy.mx)}; {sts.host} {listed}"
            lines.append(f"  MTA-STS:       {text}")
    return "\n".join(lines)
