"""What a probe of a remote SMTP server saw: typed, immutable, and the same saved or live.

:class:`SmtpProbe` is what :func:`exchange_tls.probe.probe_smtp` returns and what a saved
probe (``exchange-tls probe --format json``) reads back as. These models open no socket
and import nothing that does: probe results are evidence, read by the pure
:func:`~exchange_tls.diagnose` like any other kind.
"""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from exchange_tls.certificates.x509 import CertificateFacts
from exchange_tls.sources import SourceRef
from exchange_tls.tls_results import TlsResultType

__all__ = [
    "LEGACY_VERSIONS",
    "MODERN_VERSIONS",
    "DaneCheck",
    "DomainPolicy",
    "MtaStsCheck",
    "MtaStsPolicy",
    "MxHost",
    "ProbeStage",
    "SmtpProbe",
    "TlsaRecord",
    "VersionSupport",
]

#: TLS versions as OpenSSL names them, oldest first.
LEGACY_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1")
MODERN_VERSIONS = ("TLSv1.2", "TLSv1.3")


class ProbeStage(enum.Enum):
    """How far a probe got; a probe that stopped early names the stage that failed."""

    #: The TCP connection (refused, timed out, unreachable).
    CONNECT = "connect"
    #: The server's greeting (a 421 banner, silence).
    BANNER = "banner"
    #: The EHLO exchange (refused, or no STARTTLS offered).
    EHLO = "ehlo"
    #: The STARTTLS command (refused with 454, or the connection dropped).
    STARTTLS = "starttls"
    #: The TLS handshake (no common version or cipher, dropped).
    HANDSHAKE = "handshake"
    #: Checking the certificate the server presented (expired, untrusted, wrong name).
    VERIFY = "verify"
    #: Every stage passed.
    DONE = "done"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class VersionSupport:
    """Whether the server accepted one TLS version, tried on its own connection."""

    version: str
    #: ``None`` when this machine's TLS library cannot offer the version at all.
    accepted: bool | None
    error: str | None = None


def _lower(text: str) -> str:
    return text.lower()


@attrs.frozen(kw_only=True)
class TlsaRecord:
    """A TLSA record (RFC 6698): usage, selector, matching type and the data in hex.

    >>> str(TlsaRecord(usage=3, selector=1, matching_type=1, data="AB01"))
    '3 1 1 ab01'
    """

    usage: int
    selector: int
    matching_type: int
    data: str = attrs.field(converter=_lower)

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching_type} {self.data}"


@attrs.frozen(kw_only=True)
class DaneCheck:
    """The ``_25._tcp.<mx>`` TLSA records and whether the presented chain matches one."""

    #: The name looked up: ``_25._tcp.mx.example.com``.
    name: str
    records: tuple[TlsaRecord, ...] = ()
    #: The resolver's AD flag: whether it validated the answer with DNSSEC (``None``: unknown).
    authenticated: bool | None = None
    #: The record the chain matched, if any.
    matched: TlsaRecord | None = None
    #: Why the lookup or the match could not be made.
    error: str | None = None

    @property
    def usable(self) -> tuple[TlsaRecord, ...]:
        """The records SMTP's DANE uses (RFC 7672): DANE-TA (2) and DANE-EE (3)."""
        return tuple(record for record in self.records if record.usage in (2, 3))

    @property
    def matches(self) -> bool | None:
        """Whether the chain matched a usable record; ``None`` when there is none to match."""
        if self.error is not None or not self.usable:
            return None
        return self.matched is not None

    @property
    def result_type(self) -> TlsResultType | None:
        """``tlsa-invalid`` when DNSSEC-signed usable records exist and none matched."""
        if self.matches is False and self.authenticated is not False:
            return TlsResultType.TLSA_INVALID
        return None


@attrs.frozen(kw_only=True)
class MxHost:
    """One MX record: its preference and host."""

    preference: int
    host: str


@attrs.frozen(kw_only=True)
class MtaStsPolicy:
    """An MTA-STS policy file (RFC 8461 §3.2)."""

    version: str | None
    #: ``enforce``, ``testing`` or ``none``.
    mode: str | None
    #: The MX patterns (``mx.example.com``, ``*.example.net``).
    mx: tuple[str, ...]
    max_age: int | None


@attrs.frozen(kw_only=True)
class MtaStsCheck:
    """A domain's MTA-STS: its ``_mta-sts`` TXT record, its policy, and the MX matched."""

    domain: str
    #: The ``_mta-sts`` TXT record (``v=STSv1; id=…``), ``None`` when there is none.
    record: str | None = None
    url: str | None = None
    policy: MtaStsPolicy | None = None
    #: Why the policy could not be fetched (HTTP status, TLS error, timeout).
    fetch_error: str | None = None
    #: Why the fetched policy is not a valid one.
    policy_error: str | None = None
    #: The MX host checked against the policy, and whether a pattern matches it.
    host: str | None = None
    host_matches: bool | None = None

    @property
    def result_type(self) -> TlsResultType | None:
        """The RFC 8460 result type of a policy that could not be used."""
        if self.fetch_error is not None:
            return TlsResultType.STS_POLICY_FETCH_ERROR
        if self.policy_error is not None:
            return TlsResultType.STS_POLICY_INVALID
        return None


@attrs.frozen(kw_only=True)
class DomainPolicy:
    """A domain's mail routing and TLS policy: its MX hosts and its MTA-STS."""

    domain: str
    mx: tuple[MxHost, ...] = ()
    #: The resolver's AD flag for the MX answer.
    mx_authenticated: bool | None = None
    mx_error: str | None = None
    mta_sts: MtaStsCheck | None = None


@attrs.frozen(kw_only=True)
class SmtpProbe:
    """What one probe of an SMTP server saw, from the connection to the QUIT.

    ``stage`` is where the probe stopped (:attr:`ProbeStage.DONE`: every stage passed);
    ``result_type`` says what failed in the words of RFC 8460, and ``error`` in words.
    Unknown is ``None``: a probe that never reached EHLO has ``starttls_offered`` ``None``.
    """

    host: str
    port: int
    #: The address the probe connected to (``192.0.2.7:25``), which sessions are joined by.
    address: str | None = None
    #: The name checked against the certificate (and sent in SNI).
    server_name: str | None = None
    ehlo_name: str | None = None
    probed_at: dt.datetime | None = None
    stage: ProbeStage
    banner: str | None = None
    #: The EHLO keywords (``STARTTLS``, ``SIZE 36700160``), ``None`` before EHLO.
    capabilities: tuple[str, ...] | None = None
    starttls_offered: bool | None = None
    #: The negotiated version as OpenSSL names it (``TLSv1.2``) and the cipher.
    tls_version: str | None = None
    cipher: str | None = None
    #: The certificates the server presented, its own first.
    chain: tuple[CertificateFacts, ...] = ()
    name_matches: bool | None = None
    #: Why the presented chain did not verify (``None``: it did, or it was not checked).
    verification_error: str | None = None
    result_type: TlsResultType | None = None
    error: str | None = None
    #: The versions tried one by one (empty: not asked for).
    versions: tuple[VersionSupport, ...] = ()
    dane: DaneCheck | None = None
    domain: DomainPolicy | None = None
    #: Where a saved probe was read from.
    source: SourceRef | None = attrs.field(default=None, eq=False)

    @property
    def certificate(self) -> CertificateFacts | None:
        """The server's own certificate, when it presented one."""
        return self.chain[0] if self.chain else None

    @property
    def healthy(self) -> bool:
        """Whether every stage passed and nothing failed."""
        return self.stage is ProbeStage.DONE and self.result_type is None and self.error is None

    @property
    def accepted_versions(self) -> tuple[str, ...] | None:
        """The versions the server accepted, when they were tried one by one."""
        if not self.versions:
            return None
        return tuple(v.version for v in self.versions if v.accepted)

    @property
    def only_legacy(self) -> bool:
        """Whether the server accepts TLS 1.1 or older only, as far as the probe shows."""
        accepted = self.accepted_versions
        if accepted is not None:
            return bool(accepted) and all(v in LEGACY_VERSIONS for v in accepted)
        # The probe offers every version its TLS library can, so the server picked its best.
        return self.tls_version in LEGACY_VERSIONS
