"""Which certificate a send connector presents, in the order Exchange chooses.

Exchange looks a send connector's certificate up by its ``TlsCertificateName`` (issuer
and subject) when one is set; otherwise by the connector's ``Fqdn`` (or the server's own
name), an exact match before a wildcard (domain.md §2.4). When several certificates fit,
the one valid longest comes first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import SendConnector

__all__ = ["candidate_certificates", "names_match"]

_EARLIEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def names_match(pattern: str, host: str) -> bool | None:
    """Return True for an exact match, False for a wildcard match, None for none.

    >>> names_match("mail.contoso.com", "MAIL.contoso.com")
    True
    >>> names_match("*.contoso.com", "mail.contoso.com")
    False
    >>> names_match("*.contoso.com", "a.b.contoso.com") is None
    True
    """
    pattern, host = pattern.strip().casefold(), host.strip().casefold()
    if pattern == host:
        return True
    if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
        return False
    return None


def _names(certificate: ExchangeCertificate) -> list[str]:
    names = list(certificate.certificate_domains or ())
    if certificate.subject and certificate.subject.upper().startswith("CN="):
        common = certificate.subject[3:].split(",", 1)[0].strip()
        if common and common not in names:
            names.append(common)
    return names


def _validity(certificate: ExchangeCertificate) -> dt.datetime:
    return certificate.not_after or _EARLIEST


def candidate_certificates(
    connector: SendConnector,
    inventory: Iterable[ExchangeCertificate],
    *,
    server_fqdn: str | None = None,
) -> list[ExchangeCertificate]:
    """Return the certificates the connector could present, Exchange's choice first.

    With ``TlsCertificateName`` set: those with that issuer and subject, longest
    validity first. Otherwise: those whose names fit the connector's FQDN (or
    ``server_fqdn`` when the connector has none), exact matches before wildcards,
    longest validity first within each.
    """
    certificates = list(inventory)
    name = connector.tls_certificate_name
    if name is not None and name.issuer is not None:
        matching = [certificate for certificate in certificates if name.matches(certificate)]
        return sorted(matching, key=_validity, reverse=True)
    fqdn = connector.fqdn or server_fqdn
    if not fqdn:
        return []
    exact: list[ExchangeCertificate] = []
    wildcard: list[ExchangeCertificate] = []
    for certificate in certificates:
        results = {names_match(pattern, fqdn) for pattern in _names(certificate)}
        if True in results:
            exact.append(certificate)
        elif False in results:
            wildcard.append(certificate)
    return sorted(exact, key=_validity, reverse=True) + sorted(
        wildcard, key=_validity, reverse=True
    )
