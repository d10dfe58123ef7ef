"""The pure half of a domain's TLS policy: name matching, TLSA matching, MTA-STS policies.

Nothing here looks anything up: the probe (:mod:`exchange_tls.probe`) resolves and
fetches, and hands the answers to these functions, which tests and rules call directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from exchange_tls.probe_results.models import MtaStsPolicy, TlsaRecord

__all__ = [
    "MAX_POLICY_BYTES",
    "PolicyError",
    "host_matches_name",
    "match_tlsa",
    "mx_pattern_matches",
    "parse_mta_sts_policy",
    "parse_sts_record",
    "tlsa_digest",
]

#: RFC 8461 §3.3 lets a sender stop reading a policy at 64 KiB.
MAX_POLICY_BYTES = 64 * 1024


class PolicyError(ValueError):
    """An MTA-STS record or policy that is not valid."""


def _labels(name: str) -> list[str]:
    return name.strip().rstrip(".").casefold().split(".")


def host_matches_name(host: str, pattern: str) -> bool:
    """Whether a certificate name (RFC 6125: ``*`` only as the whole leftmost label) covers host.

    >>> host_matches_name("mx1.example.com", "*.example.com")
    True
    >>> host_matches_name("a.mx1.example.com", "*.example.com")
    False
    >>> host_matches_name("MX1.Example.com.", "mx1.example.com")
    True
    """
    wanted, given = _labels(host), _labels(pattern)
    if not host.strip() or not pattern.strip() or len(wanted) != len(given):
        return False
    if given[0] == "*":
        # A wildcard stands for exactly one label, and never for a public suffix alone.
        return len(given) > 2 and wanted[1:] == given[1:] and wanted[0] != ""
    return wanted == given


def mx_pattern_matches(host: str, pattern: str) -> bool:
    """Whether an MTA-STS ``mx:`` pattern covers an MX host (RFC 8461 §4.1).

    A leading ``*.`` matches exactly one label:

    >>> mx_pattern_matches("mx1.example.com", "*.example.com")
    True
    >>> mx_pattern_matches("example.com", "*.example.com")
    False
    >>> mx_pattern_matches("a.b.example.com", "*.example.com")
    False
    """
    wanted, given = _labels(host), _labels(pattern)
    if given[0] == "*":
        return len(wanted) == len(given) and wanted[1:] == given[1:] and wanted[0] != ""
    return wanted == given


def tlsa_digest(record: TlsaRecord, der: bytes) -> str | None:
    """Return what a certificate's DER gives under the record's selector and matching type.

    ``None`` for a selector or matching type RFC 6698 does not define.
    """
    if record.selector == 0:
        selected = der
    elif record.selector == 1:
        # cryptography is imported for a DANE check only: reading probes does not need it.
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        certificate = x509.load_der_x509_certificate(der)
        selected = certificate.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
    else:
        return None
    if record.matching_type == 0:
        return selected.hex()
    if record.matching_type == 1:
        return hashlib.sha256(selected).hexdigest()
    if record.matching_type == 2:
        return hashlib.sha512(selected).hexdigest()
    return None


def match_tlsa(records: Sequence[TlsaRecord], chain: Sequence[bytes]) -> TlsaRecord | None:
    """Return the first record the presented chain (DER, server's own first) satisfies.

    DANE-EE (usage 3) matches the server's own certificate; DANE-TA (usage 2) matches a
    certificate of the chain above it (RFC 7672 §3.1). PKIX usages 0 and 1 do not apply to
    SMTP and never match.
    """
    for record in records:
        if record.usage == 3:
            candidates: Sequence[bytes] = chain[:1]
        elif record.usage == 2:
            candidates = chain[1:]
        else:
            continue
        for der in candidates:
            try:
                digest = tlsa_digest(record, der)
            except ValueError:
                continue
            if digest is not None and digest == record.data:
                return record
    return None


def parse_sts_record(text: str) -> str:
    """Return the policy id of an ``_mta-sts`` TXT record (``v=STSv1; id=…``).

    >>> parse_sts_record("v=STSv1; id=20240601T000000;")
    '20240601T000000'
    """
    fields = _fields(text, ";", "=")
    if fields.get("v") != "STSv1":
        raise PolicyError(f"not an MTA-STS record (v=STSv1 missing): {text!r}")
    policy_id = fields.get("id", "")
    if not policy_id or not policy_id.isalnum() or len(policy_id) > 32:
        raise PolicyError(f"the record has no valid id (1 to 32 letters or digits): {text!r}")
    return policy_id


def _fields(text: str, separator: str, equals: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(separator):
        key, found, value = part.partition(equals)
        if found:
            fields.setdefault(key.strip(), value.strip())
    return fields


def parse_mta_sts_policy(text: str) -> MtaStsPolicy:
    r"""Read an MTA-STS policy file; raises :class:`PolicyError` when it is not valid.

    >>> policy = parse_mta_sts_policy(
    ...     "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\n"
    ...     "max_age: 86400\n"
    ... )
    >>> policy.mode, policy.mx, policy.max_age
    ('enforce', ('mx1.example.com', '*.example.net'), 86400)
    """
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"the policy is longer than {MAX_POLICY_BYTES:,} characters")
    values: dict[str, str] = {}
    mx: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        key, found, value = line.partition(":")
        if not found:
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            mx.append(value)
        else:
            values.setdefault(key, value)
    version, mode, age = values.get("version"), values.get("mode"), values.get("max_age")
    max_age = int(age) if age is not None and age.isdigit() else None
    policy = MtaStsPolicy(version=version, mode=mode, mx=tuple(mx), max_age=max_age)
    if version != "STSv1":
        raise PolicyError("the policy's version is not STSv1")
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"the policy's mode is not enforce, testing or none: {mode!r}")
    if max_age is None:
        raise PolicyError("the policy has no valid max_age")
    if mode != "none" and not mx:
        raise PolicyError("the policy lists no mx")
    return policy
