"""Judge a presented chain: trust, validity and name, each on its own, as RFC 8460 types.

The probe's handshake accepts any certificate, so that it can report the chain, the
version and the cipher of a server whose certificate is bad. The chain is judged here
afterwards, one question at a time, so that an expired certificate is reported as
expired and not as "verify failed": trust by the path from the certificate to a trusted
root (names and signatures); validity against ``now``; the name on its own (RFC 6125).
When several things are wrong, the report names the first of: not trusted, expired,
wrong name.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import ssl
import warnings
from collections.abc import Sequence

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from exchange_tls.certificates.x509 import windows_name
from exchange_tls.probe_results.policy import host_matches_name
from exchange_tls.tls_results import TlsResultType

__all__ = ["Verdict", "load_trust", "name_matches", "system_trust", "verify_chain"]


@attrs.frozen(kw_only=True)
class Verdict:
    """What the chain check found."""

    name_matches: bool | None
    result_type: TlsResultType | None
    error: str | None


def load_trust(path: str | os.PathLike[str]) -> tuple[x509.Certificate, ...]:
    """Read the trusted roots of a PEM file (``--trust CAFILE``)."""
    with open(path, "rb") as stream:
        data = stream.read()
    with warnings.catch_warnings():
        # A system bundle holds old roots cryptography frowns on (a serial of zero); they
        # are the system's to trust, not a problem of the probed server.
        warnings.simplefilter("ignore")
        return tuple(x509.load_pem_x509_certificates(data))


@functools.cache
def system_trust() -> tuple[x509.Certificate, ...]:
    """Return the roots this machine's OpenSSL trusts (its CA bundle), or none found."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            try:
                return load_trust(candidate)
            except ValueError:
                continue
    return ()


def name_matches(certificate: x509.Certificate, name: str) -> bool:
    """Whether the certificate is for ``name``: its DNS or IP names, else its common name."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = None
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        address = None
    if names is not None:
        if address is not None:
            return address in names.get_values_for_type(x509.IPAddress)
        return any(host_matches_name(name, dns) for dns in names.get_values_for_type(x509.DNSName))
    # RFC 6125 allows the common name only when the certificate has no subject alt names.
    common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return address is None and any(host_matches_name(name, str(a.value)) for a in common)


#: Certificates followed from the server's own to a root; real chains have 2 to 4.
MAX_DEPTH = 8


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _trusted(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]) -> str | None:
    """Return why the chain does not lead to a trusted root, or ``None`` when it does.

    The path is built by names and signatures only (from the server's certificate through
    the presented ones to a root of the store). It does not judge extensions: a strict
    profile check would call certificates that every mail server accepts untrusted, and
    a false alarm costs more here than a lax check.
    """
    trusted = set(roots)
    current, seen = chain[0], 0
    while seen < MAX_DEPTH:
        if current in trusted:
            return None
        root = next((r for r in roots if _issued_by(current, r)), None)
        if root is not None:
            return None
        issuer = next((c for c in chain[1:] if c != current and _issued_by(current, c)), None)
        if issuer is None:
            if current.issuer == current.subject:
                return "a self-signed certificate that is not among the trusted roots"
            return (
                "the chain does not lead to a trusted root: no trusted certificate issued "
                f"{windows_name(current.subject) or 'the certificate'} "
                f"(issuer {windows_name(current.issuer)})"
            )
        current, seen = issuer, seen + 1
    return f"the chain is longer than {MAX_DEPTH} certificates"


def verify_chain(
    chain_der: Sequence[bytes],
    server_name: str | None,
    *,
    roots: Sequence[x509.Certificate],
    now: dt.datetime,
) -> Verdict:
    """Judge the chain the server presented (its own certificate first)."""
    if not chain_der:
        return Verdict(
            name_matches=None,
            result_type=TlsResultType.VALIDATION_FAILURE,
            error="the server presented no certificate",
        )
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError as error:
        return Verdict(
            name_matches=None,
            result_type=TlsResultType.VALIDATION_FAILURE,
            error=f"the server presented a certificate that cannot be read: {error}",
        )
    leaf = chain[0]
    matches = None if not server_name else name_matches(leaf, server_name)
    if not roots:
        untrusted: str | None = None
        unknown = "no trusted roots to check against (give --trust CAFILE)"
    else:
        untrusted, unknown = _trusted(chain, roots), None
    if untrusted is not None:
        return Verdict(
            name_matches=matches, result_type=TlsResultType.CERTIFICATE_NOT_TRUSTED, error=untrusted
        )
    if leaf.not_valid_after_utc < now:
        return Verdict(
            name_matches=matches,
            result_type=TlsResultType.CERTIFICATE_EXPIRED,
            error=f"the certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        )
    if leaf.not_valid_before_utc > now:
        return Verdict(
            name_matches=matches,
            result_type=TlsResultType.VALIDATION_FAILURE,
            error=f"the certificate is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
        )
    if matches is False:
        return Verdict(
            name_matches=False,
            result_type=TlsResultType.CERTIFICATE_HOST_MISMATCH,
            error=f"the certificate is not for {server_name}",
        )
    return Verdict(name_matches=matches, result_type=None, error=unknown)
