"""A domain's policy, looked up: MX, DANE (TLSA) and MTA-STS, with injected I/O.

The resolver and the fetcher are parameters, so tests answer from a local zone and a
local HTTPS server. :class:`DnspythonResolver` (the ``probe`` extra) asks real DNS with
the DNSSEC OK bit and reports the resolver's AD flag; :class:`HttpsFetcher` fetches a
policy over verified HTTPS without following redirects (RFC 8461 §3.3).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from exchange_tls.probe_results.models import (
    DaneCheck,
    DomainPolicy,
    MtaStsCheck,
    MxHost,
    TlsaRecord,
)
from exchange_tls.probe_results.policy import (
    MAX_POLICY_BYTES,
    PolicyError,
    match_tlsa,
    mx_pattern_matches,
    parse_mta_sts_policy,
    parse_sts_record,
)

__all__ = [
    "DnsAnswer",
    "DnsError",
    "DnspythonResolver",
    "Fetcher",
    "HttpsFetcher",
    "Resolver",
    "check_dane",
    "check_domain",
]


class DnsError(OSError):
    """A lookup that failed (SERVFAIL, timeout), as opposed to a name with no records."""


@attrs.frozen(kw_only=True)
class DnsAnswer:
    """The records of one lookup and whether the resolver validated them (its AD flag)."""

    records: tuple[Any, ...] = ()
    authenticated: bool | None = None


class Resolver(Protocol):
    """What the policy checks ask of DNS; an empty answer for a name without records."""

    def mx(self, name: str) -> DnsAnswer:
        """Return ``MxHost`` records."""
        ...

    def tlsa(self, name: str) -> DnsAnswer:
        """Return ``TlsaRecord`` records."""
        ...

    def txt(self, name: str) -> DnsAnswer:
        """Return the TXT strings, each record's strings joined."""
        ...


#: ``fetch(url)``: the body of an HTTPS GET; raises ``OSError`` or ``ValueError`` on failure.
Fetcher = Callable[[str], bytes]


class DnspythonResolver:
    """A :class:`Resolver` on dnspython (``pip install exchange_tls[probe]``)."""

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        port: int = 53,
        timeout: float = 5.0,
    ) -> None:
        try:
            import dns.exception
            import dns.flags
            import dns.resolver
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError(
                "DNS lookups need dnspython: pip install 'exchange_tls[probe]'"
            ) from error
        self._dns = dns
        resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            resolver.nameservers = list(nameservers)
        resolver.port = port
        resolver.lifetime = timeout
        # Ask for DNSSEC (the DO bit) so that a validating resolver sets AD on its answer.
        resolver.use_edns(0, dns.flags.DO, 1232)
        self._resolver = resolver

    def _query(self, name: str, rdtype: str) -> tuple[list[Any], bool | None]:
        dns = self._dns
        try:
            answer = self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], None
        except dns.exception.DNSException as error:
            raise DnsError(f"{rdtype} lookup of {name} failed: {error}") from error
        authenticated = bool(answer.response.flags & dns.flags.AD)
        return list(answer.rrset or ()), authenticated

    def mx(self, name: str) -> DnsAnswer:
        """Return the MX records of ``name``."""
        records, authenticated = self._query(name, "MX")
        found = tuple(
            MxHost(preference=int(r.preference), host=r.exchange.to_text().rstrip("."))
            for r in records
        )
        return DnsAnswer(records=found, authenticated=authenticated)

    def tlsa(self, name: str) -> DnsAnswer:
        """Return the TLSA records of ``name``."""
        records, authenticated = self._query(name, "TLSA")
        found = tuple(
            TlsaRecord(usage=r.usage, selector=r.selector, matching_type=r.mtype, data=r.cert.hex())
            for r in records
        )
        return DnsAnswer(records=found, authenticated=authenticated)

    def txt(self, name: str) -> DnsAnswer:
        """Return the TXT records of ``name``."""
        records, authenticated = self._query(name, "TXT")
        found = tuple(b"".join(r.strings).decode("utf-8", "replace") for r in records)
        return DnsAnswer(records=found, authenticated=authenticated)


class HttpsFetcher:
    """Fetch a policy over HTTPS: verified, no redirects, at most 64 KiB, with a timeout.

    ``connect`` maps host names to ``(address, port)`` as ``--connect-to`` does (the
    certificate is still checked for the host name); ``trust`` is a CA file.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        trust: str | None = None,
        connect: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        self._timeout = timeout
        self._context = ssl.create_default_context(cafile=trust)
        self._map = {host.casefold(): target for host, target in (connect or {}).items()}

    def __call__(self, url: str) -> bytes:
        """Return the body of ``url``; raises ``OSError`` or ``ValueError`` on failure."""
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        if scheme != "https" or not host:
            raise ValueError(f"not an https URL: {url!r}")
        target = self._map.get(host.casefold(), (host, 443))
        connection = _MappedHttps(host, target, self._context, self._timeout)
        try:
            connection.request("GET", "/" + path, headers={"User-Agent": "exchange-tls probe"})
            response = connection.getresponse()
            if response.status != 200:
                raise OSError(f"HTTP {response.status} {response.reason} from {url}")
            body = response.read(MAX_POLICY_BYTES + 1)
        finally:
            connection.close()
        if len(body) > MAX_POLICY_BYTES:
            raise ValueError(f"the policy at {url} is larger than {MAX_POLICY_BYTES:,} bytes")
        return body


class _MappedHttps(http.client.HTTPSConnection):
    """An HTTPS connection to a mapped address that still verifies the original host name."""

    def __init__(
        self, host: str, target: tuple[str, int], context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, 443, timeout=timeout, context=context)
        self._target = target
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(self._target, timeout=self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def check_dane(
    host: str, chain_der: Sequence[bytes], resolver: Resolver, port: int = 25
) -> DaneCheck:
    """Look up ``_<port>._tcp.<host>`` TLSA and match the presented chain against it."""
    name = f"_{port}._tcp.{host.rstrip('.')}"
    try:
        answer = resolver.tlsa(name)
    except DnsError as error:
        return DaneCheck(name=name, error=str(error))
    records = tuple(r for r in answer.records if isinstance(r, TlsaRecord))
    check = DaneCheck(name=name, records=records, authenticated=answer.authenticated)
    if not check.usable:
        return check
    if not chain_der:
        return attrs.evolve(check, error="the server presented no certificate to match")
    return attrs.evolve(check, matched=match_tlsa(check.usable, chain_der))


def _mta_sts(domain: str, host: str | None, resolver: Resolver, fetcher: Fetcher) -> MtaStsCheck:
    check = MtaStsCheck(domain=domain, host=host)
    try:
        answer = resolver.txt(f"_mta-sts.{domain}")
    except DnsError as error:
        return attrs.evolve(check, fetch_error=f"the _mta-sts record cannot be read: {error}")
    records = [text for text in answer.records if str(text).startswith("v=STSv1")]
    if not records:
        return check
    record = records[0]
    url = f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    check = attrs.evolve(check, record=record, url=url)
    if len(records) > 1:
        return attrs.evolve(check, policy_error="more than one v=STSv1 record (RFC 8461 §3.1)")
    try:
        parse_sts_record(record)
    except PolicyError as error:
        return attrs.evolve(check, policy_error=str(error))
    try:
        body = fetcher(url)
    except (OSError, ValueError) as error:
        return attrs.evolve(check, fetch_error=f"{type(error).__name__}: {error}")
    try:
        policy = parse_mta_sts_policy(body.decode("utf-8"))
    except (PolicyError, UnicodeDecodeError) as error:
        return attrs.evolve(check, policy_error=str(error))
    matches = None if host is None else any(mx_pattern_matches(host, p) for p in policy.mx)
    return attrs.evolve(check, policy=policy, host_matches=matches)


def check_domain(
    domain: str, host: str | None, *, resolver: Resolver, fetcher: Fetcher
) -> DomainPolicy:
    """Look up a domain's MX hosts and its MTA-STS policy; match ``host`` against both."""
    domain = domain.strip().rstrip(".").casefold()
    try:
        answer = resolver.mx(domain)
        mx = tuple(sorted((r for r in answer.records if isinstance(r, MxHost)), key=_mx_order))
        policy = DomainPolicy(domain=domain, mx=mx, mx_authenticated=answer.authenticated)
    except DnsError as error:
        policy = DomainPolicy(domain=domain, mx_error=str(error))
    return attrs.evolve(policy, mta_sts=_mta_sts(domain, host, resolver, fetcher))


def _mx_order(mx: MxHost) -> tuple[int, str]:
    return (mx.preference, mx.host)
