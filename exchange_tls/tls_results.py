"""One vocabulary for how a TLS session failed: the result types of RFC 8460.

SMTP TLS reports (RFC 8460 §4.3), Exchange Online's 4.7.32x replies and the probe's
outcomes all say the same few things (no STARTTLS, an expired certificate, a name that does
not match …). They share this enum, so a rule can join a report's failure detail, an NDR
and a probe of the same host without translating between three vocabularies.

The values are the IANA "STARTTLS Validation Result Types" registry's names. A report may
carry a type this enum does not know; readers keep such a type as its text (see
:func:`result_type`), never drop it.
"""

from __future__ import annotations

import enum

__all__ = ["TlsResultType", "exchange_online_result_type", "result_type"]


class TlsResultType(enum.Enum):
    """A result type of RFC 8460 (the IANA registry's name is the value)."""

    # Negotiation failures (RFC 8460 §4.3.1).
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
    VALIDATION_FAILURE = "validation-failure"
    # Policy failures: DANE (§4.3.2.1) and MTA-STS (§4.3.2.2).
    TLSA_INVALID = "tlsa-invalid"
    DNSSEC_INVALID = "dnssec-invalid"
    DANE_REQUIRED = "dane-required"
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"
    STS_POLICY_INVALID = "sts-policy-invalid"
    STS_WEBPKI_INVALID = "sts-webpki-invalid"

    def __str__(self) -> str:
        return self.value

    @property
    def is_certificate(self) -> bool:
        """Whether the type blames the certificate the receiving server presented."""
        return self in _CERTIFICATE_TYPES

    @property
    def is_policy(self) -> bool:
        """Whether the type is about a DANE or MTA-STS policy, not the handshake itself."""
        return self in _POLICY_TYPES


_CERTIFICATE_TYPES = frozenset(
    {
        TlsResultType.CERTIFICATE_HOST_MISMATCH,
        TlsResultType.CERTIFICATE_EXPIRED,
        TlsResultType.CERTIFICATE_NOT_TRUSTED,
    }
)
_POLICY_TYPES = frozenset(
    {
        TlsResultType.TLSA_INVALID,
        TlsResultType.DNSSEC_INVALID,
        TlsResultType.DANE_REQUIRED,
        TlsResultType.STS_POLICY_FETCH_ERROR,
        TlsResultType.STS_POLICY_INVALID,
        TlsResultType.STS_WEBPKI_INVALID,
    }
)

_BY_VALUE = {member.value: member for member in TlsResultType}


def result_type(text: str) -> TlsResultType | str:
    """Return the result type a report names, or its text when the registry lacks it.

    Case and surrounding white space do not matter; an unknown type is kept as written
    (stripped), so a report from a newer sender loses nothing.

    >>> result_type("Certificate-Expired")
    <TlsResultType.CERTIFICATE_EXPIRED: 'certificate-expired'>
    >>> result_type("quantum-failure")
    'quantum-failure'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    stripped = text.strip()
    return _BY_VALUE.get(stripped.casefold(), stripped)


#: Exchange Online's enhanced status codes for outbound TLS, by the subject and detail
#: digits (4.7.321 and 5.7.321 alike), from Microsoft's "Email non-delivery reports and
#: SMTP errors in Exchange Online".
_EXCHANGE_ONLINE = {
    (7, 321): TlsResultType.STARTTLS_NOT_SUPPORTED,
    (7, 322): TlsResultType.CERTIFICATE_EXPIRED,
    (7, 323): TlsResultType.TLSA_INVALID,
    (7, 324): TlsResultType.DNSSEC_INVALID,
    (7, 325): TlsResultType.CERTIFICATE_HOST_MISMATCH,
    # 4.7.320 "Certificate validation failed" carries the reason in [Message=…].
    (7, 320): TlsResultType.VALIDATION_FAILURE,
}


def exchange_online_result_type(enhanced: str) -> TlsResultType | None:
    """Return the result type an Exchange Online enhanced status code stands for.

    Accepts the code as text (``"4.7.322"``) in either class, 4 or 5; ``None`` for a code
    that is not one of Exchange Online's TLS codes.

    >>> exchange_online_result_type("5.7.325")
    <TlsResultType.CERTIFICATE_HOST_MISMATCH: 'certificate-host-mismatch'>
    >>> exchange_online_result_type("4.4.1") is None
    True
    """
    if not isinstance(enhanced, str):
        raise TypeError(f"enhanced must be a str, not {type(enhanced).__name__}")
    parts = enhanced.strip().split(".")
    if len(parts) != 3 or parts[0] not in ("4", "5") or not all(p.isdigit() for p in parts):
        return None
    return _EXCHANGE_ONLINE.get((int(parts[1]), int(parts[2])))
