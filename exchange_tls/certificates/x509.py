"""Read a certificate's DER (``RawData``) with the ``cryptography`` package.

``cryptography`` is imported when a DER is read: most pasted certificate listings carry
no ``RawData``, and importing ``cryptography.x509`` costs more than reading them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import warnings
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier

__all__ = ["CertificateFacts", "read_der", "windows_name"]


@functools.cache
def _short_names() -> dict[ObjectIdentifier, str]:
    """Return the short names Windows writes (X500DistinguishedName), e.g. "S" for the state."""
    from cryptography.x509.oid import NameOID

    return {
        NameOID.COMMON_NAME: "CN",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
        NameOID.ORGANIZATION_NAME: "O",
        NameOID.LOCALITY_NAME: "L",
        NameOID.STATE_OR_PROVINCE_NAME: "S",
        NameOID.COUNTRY_NAME: "C",
        NameOID.EMAIL_ADDRESS: "E",
        NameOID.DOMAIN_COMPONENT: "DC",
        NameOID.STREET_ADDRESS: "STREET",
        NameOID.SERIAL_NUMBER: "SERIALNUMBER",
        NameOID.GIVEN_NAME: "G",
        NameOID.SURNAME: "SN",
        NameOID.TITLE: "T",
    }


_NEEDS_QUOTES = set(',+="\n<>#;')


@attrs.frozen(kw_only=True)
class CertificateFacts:
    """What the DER of a certificate says."""

    thumbprint: str
    subject: str
    issuer: str
    serial_number: str
    not_before: dt.datetime
    not_after: dt.datetime
    dns_names: tuple[str, ...]
    public_key_size: int | None
    #: What ``cryptography`` noticed while reading, such as a malformed country name.
    warnings: tuple[str, ...] = ()


def _value(value: str) -> str:
    if value and (_NEEDS_QUOTES & set(value) or value != value.strip()):
        return '"' + value.replace('"', '""') + '"'
    return value


def windows_name(name: x509.Name) -> str:
    """Write a name as Windows does: most specific RDN first, ``, `` between."""
    short_names = _short_names()
    return ", ".join(
        " + ".join(
            f"{short_names.get(attribute.oid, attribute.oid.dotted_string)}="
            f"{_value(str(attribute.value))}"
            for attribute in rdn
        )
        for rdn in reversed(name.rdns)
    )


def read_der(data: bytes) -> CertificateFacts:
    """Read DER bytes; raises ``ValueError`` when they are not a certificate."""
    from cryptography import x509

    try:
        return _read_der(data)
    except (TypeError, x509.InvalidVersion) as error:
        # cryptography raises these outside ValueError for some malformed certificates
        # (a BitString attribute under the wrong OID, version 5); to the caller each is
        # just another bad certificate.
        raise ValueError(f"malformed certificate: {error}") from error


def _read_der(data: bytes) -> CertificateFacts:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm

    # cryptography warns about lax certificates (a seven-letter country); those warnings
    # are facts about the evidence, returned rather than raised or printed.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        certificate = x509.load_der_x509_certificate(data)
        try:
            extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            dns_names = tuple(extension.value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            dns_names = ()
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as error:
            # Unreadable extensions leave the names unknown, and say so.
            warnings.warn(f"extensions not read: {error}", stacklevel=1)
            dns_names = ()
        try:
            key_size = getattr(certificate.public_key(), "key_size", None)
        except (ValueError, UnsupportedAlgorithm):
            # A key cryptography cannot load (GOST, an unknown OID) leaves its size
            # unknown; the rest of the certificate is still evidence.
            key_size = None
        subject = windows_name(certificate.subject)
        issuer = windows_name(certificate.issuer)
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        # A serial that is not positive warns on access; the warning is a fact too.
        serial = f"{certificate.serial_number:X}"
    return CertificateFacts(
        # Windows' thumbprint is the SHA-1 of the DER, not a security measure here.
        thumbprint=hashlib.sha1(data, usedforsecurity=False).hexdigest().upper(),
        subject=subject,
        issuer=issuer,
        # Windows shows whole bytes: an odd number of hex digits gets its leading zero.
        serial_number=serial.rjust(len(serial) + len(serial) % 2, "0"),
        not_before=not_before,
        not_after=not_after,
        dns_names=dns_names,
        public_key_size=key_size if isinstance(key_size, int) else None,
        warnings=tuple(dict.fromkeys(str(warning.message) for warning in caught)),
    )
