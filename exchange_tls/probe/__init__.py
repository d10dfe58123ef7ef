"""Probe a remote SMTP server's STARTTLS: the only part of the project that opens sockets.

:func:`probe_smtp` connects, reads the banner, sends ``EHLO``, ``STARTTLS``, completes the
TLS handshake, judges the presented chain, and says ``QUIT``. It never sends ``MAIL``,
``RCPT`` or ``DATA``. It runs only when called: reading evidence never probes anything.
Its result, :class:`~exchange_tls.probe_results.SmtpProbe`, saved as JSON, is evidence
that :func:`~exchange_tls.diagnose` joins to the sessions of the logs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence

import attrs
from cryptography import x509

from exchange_tls.probe.connection import (
    DEFAULT_TIMEOUT,
    Connector,
    address_map,
    default_ehlo_name,
    probe_once,
    resolve_trust,
    versions_one_by_one,
)
from exchange_tls.probe.policy import (
    DnsAnswer,
    DnsError,
    DnspythonResolver,
    Fetcher,
    HttpsFetcher,
    Resolver,
    check_dane,
    check_domain,
)
from exchange_tls.probe_results import ProbeStage, SmtpProbe

__all__ = [
    "DEFAULT_TIMEOUT",
    "Connector",
    "DnsAnswer",
    "DnsError",
    "DnspythonResolver",
    "Fetcher",
    "HttpsFetcher",
    "ProbeStage",
    "Resolver",
    "SmtpProbe",
    "address_map",
    "default_ehlo_name",
    "probe_smtp",
]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def probe_smtp(
    host: str,
    port: int = 25,
    *,
    ehlo_name: str | None = None,
    server_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    trust: str | os.PathLike[str] | Sequence[x509.Certificate] | None = None,
    connect: Connector | Mapping[str, tuple[str, int]] | None = None,
    minimum_version: str | None = None,
    maximum_version: str | None = None,
    versions: bool = False,
    resolver: Resolver | None = None,
    domain: str | None = None,
    fetcher: Fetcher | None = None,
) -> SmtpProbe:
    """Probe ``host``'s STARTTLS and return what it saw (see the module's docstring).

    ``server_name`` is the name the certificate must carry and the SNI sent (default:
    ``host``); ``ehlo_name`` the name sent in EHLO (default: this machine's FQDN, else an
    address literal); ``trust`` a CA file or certificates (default: the system's roots);
    ``connect`` a connector or a map of host to ``(address, port)``, so that tests and
    ``--connect-to`` reach a local server. ``minimum_version`` and ``maximum_version``
    (``"TLSv1"`` … ``"TLSv1.3"``) bound what the probe offers (default: every version this
    machine's TLS library can speak, so a server's best version shows); ``versions``
    tries each version on a connection of its own. With a ``resolver``, the TLSA records
    of ``_<port>._tcp.<host>`` are matched against the chain; with a ``domain`` too, its
    MX hosts and MTA-STS policy are looked up (the policy fetched by ``fetcher``).
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if not host.strip() or not 0 < port < 65536 or timeout <= 0:
        raise ValueError(f"no host to probe, or a bad port or timeout: {host!r} {port} {timeout}")
    connector: Connector
    if connect is None:
        connector = address_map({})
    elif isinstance(connect, Mapping):
        connector = address_map(connect)
    else:
        connector = connect
    # An address from the logs says nothing of the name a certificate should carry: the
    # name is checked only when one is known.
    checked_name = server_name or (None if _is_address(host) else host)
    outcome = probe_once(
        host,
        port,
        ehlo_name=ehlo_name,
        server_name=checked_name,
        timeout=float(timeout),
        roots=resolve_trust(trust),
        connect=connector,
        minimum=minimum_version,
        maximum=maximum_version,
    )
    probe = outcome.probe
    if versions and probe.stage is not ProbeStage.CONNECT:
        found = versions_one_by_one(
            host,
            port,
            ehlo_name=probe.ehlo_name,
            server_name=checked_name,
            timeout=float(timeout),
            connect=connector,
        )
        probe = attrs.evolve(probe, versions=found)
    if resolver is not None and outcome.chain_der:
        probe = attrs.evolve(probe, dane=check_dane(host, outcome.chain_der, resolver, port))
    if domain is not None:
        if resolver is None:
            resolver = DnspythonResolver(timeout=float(timeout))
        policy = check_domain(
            domain, host, resolver=resolver, fetcher=fetcher or HttpsFetcher(timeout=timeout)
        )
        probe = attrs.evolve(probe, domain=policy)
    return probe
