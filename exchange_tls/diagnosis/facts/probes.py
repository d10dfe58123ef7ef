"""Probes joined to sessions: which saved probe speaks for the remote host of a session.

A probe is joined to a send session by the address it connected to (``192.0.2.7:25``,
the protocol log's remote endpoint) or by the host it probed, when that is what the log
names. A probe made through ``--connect-to`` records the mapped address, so it joins only
by its host name. The facts are computed once per :class:`Context`.
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange_tls.diagnosis.cite import shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.endpoints import Endpoint
from exchange_tls.probe_results import SmtpProbe
from exchange_tls.protocol_log.models import SmtpSession

__all__ = [
    "explains_protocol_failure",
    "probe_of",
    "probe_ref",
    "probes",
    "remote_host",
]

#: The TLS errors of a handshake dropped or refused for want of a common version.
PROTOCOL_ERRORS = ("SocketError", "AlgorithmMismatch")


def probes(context: Context) -> tuple[SmtpProbe, ...]:
    """Return the saved probes in the evidence (none before the kind is loaded)."""
    found: tuple[SmtpProbe, ...] = getattr(context.evidence, "probes", ())
    return found


def _fold(text: str) -> str:
    return text.strip().strip("[]").rstrip(".").casefold()


def _index(context: Context) -> dict[str, SmtpProbe]:
    """Each probe by its address and its host name, the latest probe of a host winning."""
    index: dict[str, SmtpProbe] = {}
    ordered = sorted(probes(context), key=lambda p: (p.probed_at is not None, p.probed_at))
    for probe in ordered:
        index[_fold(probe.host)] = probe
        if probe.address:
            host = Endpoint.parse(probe.address).host
            if host:
                index[_fold(host)] = probe
    return index


def remote_host(session: SmtpSession) -> str | None:
    """Return the remote host a session's log names, if any."""
    endpoint = session.remote_endpoint
    return endpoint.host if endpoint is not None and endpoint.host else None


def probe_of(context: Context, host: str | None) -> SmtpProbe | None:
    """Return the probe of this remote host (address or name), if one was saved."""
    if not host:
        return None
    index: dict[str, SmtpProbe] = context.memo("probes by host", lambda: _index(context))
    return index.get(_fold(host))


def explains_protocol_failure(context: Context, session: SmtpSession) -> bool:
    """Whether a probe shows the remote of this failing session accepts only old TLS.

    The rule ``tls-protocol-mismatch`` leaves such sessions to ``probe-remote-legacy-tls``,
    which names the remote as the side to change.
    """
    tls = session.tls
    if tls is None or tls.succeeded is not False or tls.error not in PROTOCOL_ERRORS:
        return False
    probe = probe_of(context, remote_host(session))
    return probe is not None and probe.only_legacy


def probe_ref(probe: SmtpProbe, claim: str) -> EvidenceRef:
    """Cite a saved probe: what it reached and saw."""
    when = f" at {probe.probed_at:%Y-%m-%d %H:%M} UTC" if probe.probed_at else ""
    facts = [f"probe of {probe.host}:{probe.port}{when}: stage {probe.stage.value}"]
    if probe.tls_version:
        facts.append(f"{probe.tls_version} {probe.cipher or ''}".rstrip())
    if probe.accepted_versions is not None:
        facts.append(f"accepts {', '.join(probe.accepted_versions) or 'no version'}")
    if probe.result_type is not None:
        facts.append(str(probe.result_type))
    if probe.error:
        facts.append(probe.error)
    return EvidenceRef(source=probe.source, excerpt=shorten("; ".join(facts)), claim=claim)


def sessions_to(context: Context, probe: SmtpProbe) -> Iterable[SmtpSession]:
    """Return the send sessions to the host a probe probed."""
    for session in context.send_sessions:
        if probe_of(context, remote_host(session)) is probe:
            yield session
