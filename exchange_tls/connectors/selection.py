"""Which certificate a connector presents, chosen the way Exchange chooses, with reasons.

Theory of operation. :func:`select_certificate` answers "which certificate does Exchange
present here, and why" for a send or a receive connector:

1. **The name looked up.** A connector with a well-formed ``TlsCertificateName`` looks
   its certificate up by issuer and subject; otherwise by its ``Fqdn`` (or the server's
   own name when it has none), an exact name before a wildcard (domain.md §2.4, from the
   transport code).
2. **Not candidates.** The Exchange Auth certificate (``CN=Microsoft Exchange Server Auth
   Certificate``) signs OAuth tokens and is never a STARTTLS certificate; it is left out
   with that reason.
3. **Exchange's order** among the certificates that carry the name ("Selection of inbound
   STARTTLS certificates"): only certificates with a private key; valid ones (within
   NotBefore and NotAfter, Status not DateInvalid); certificates from a CA before
   self-signed ones; the most recent NotBefore first. The longest NotAfter, then the
   thumbprint, break the last ties (ours, so the answer never depends on input
   order). Unknown facts (``None``) neither exclude nor prefer a certificate.

The order between the exact-versus-wildcard step and the documented steps is inferred:
the name match is taken first, as the transport code looks names up before it compares
certificates. The same order is applied to send connectors (inferred; the documented
order is written for the receive side).

:attr:`Selection.chosen` is the first fit candidate. When none is fit, a send connector
that names its certificate in ``TlsCertificateName`` still presents the named one (KB
4495258: a keyless certificate there fails with NoCredentials): that is
:attr:`Selection.presented`.

The receive side, as "Selection of inbound STARTTLS certificates" (Microsoft Learn)
documents it: a receive connector whose ``AuthMechanism`` lacks ``TLS`` does not advertise
STARTTLS and loads no certificate; when no certificate carries ``TlsCertificateName`` (or
the FQDN, or the server's name), STARTTLS is not advertised and event 12014 is logged;
when the only candidates have expired, the first is still presented, STARTTLS still
advertised, and event 12016 logged. A certificate without SMTP in Services is still chosen
("TLS communication will fail at later stage"), so Services is no flaw here.
:attr:`Selection.offers_starttls` says whether the connector advertises STARTTLS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import attrs

from exchange_tls.arguments import check_argument, check_arguments, instance_of
from exchange_tls.certificates.models import CertificateStatus, ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector

__all__ = [
    "AUTH_CERTIFICATE_SUBJECT",
    "Candidate",
    "Selection",
    "candidate_certificates",
    "names_match",
    "select_certificate",
]

#: The subject of the certificate Exchange uses for OAuth, never for SMTP TLS.
AUTH_CERTIFICATE_SUBJECT = "CN=Microsoft Exchange Server Auth Certificate"
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


def _label(certificate: ExchangeCertificate) -> str:
    return f"{certificate.subject or 'a certificate'} ({certificate.thumbprint or 'no thumbprint'})"


@attrs.frozen(kw_only=True)
class Candidate:
    """A certificate that carries the name looked up, with what keeps it from being used."""

    certificate: ExchangeCertificate
    #: How it carries the name: ``TlsCertificateName``, ``exact`` or ``wildcard``.
    match: str
    #: Why Exchange would pass it over: no private key, expired, not yet valid.
    flaws: tuple[str, ...] = ()

    @property
    def fit(self) -> bool:
        """Whether nothing keeps Exchange from using it."""
        return not self.flaws

    @property
    def expired_only(self) -> bool:
        """Whether its only flaws are its dates (the receive side still presents it)."""
        return bool(self.flaws) and all(
            flaw.startswith(("it expired", "its Status is DateInvalid")) for flaw in self.flaws
        )


@attrs.frozen(kw_only=True)
class Selection:
    """Exchange's choice of certificate for a connector, and why."""

    #: What was looked up: ``TlsCertificateName <I>…<S>…`` or ``FQDN mail.contoso.com``.
    lookup: str | None
    #: Whether the lookup is by ``TlsCertificateName`` (else by FQDN).
    by_name: bool
    #: The certificates that carry the name, in Exchange's order (fit ones first).
    candidates: tuple[Candidate, ...]
    #: Certificates left out whatever their name, with the reason (the Auth certificate).
    excluded: tuple[tuple[ExchangeCertificate, str], ...] = ()
    #: ``send`` or ``receive``: the receive side's documented rules differ (see the module).
    direction: str = "send"
    #: A receive connector whose AuthMechanism lacks TLS (``None``: not known, or a send one).
    tls_not_enabled: bool | None = None

    @property
    def chosen(self) -> ExchangeCertificate | None:
        """The certificate Exchange would present: the first fit candidate."""
        return next((c.certificate for c in self.candidates if c.fit), None)

    @property
    def presented(self) -> ExchangeCertificate | None:
        """The chosen certificate; else the named one (send) or an expired one (receive)."""
        if self.tls_not_enabled:
            return None
        if self.chosen is not None:
            return self.chosen
        if self.direction == "receive":
            # Documented: an expired certificate is still presented (event 12016).
            return next(
                (c.certificate for c in self.candidates if c.expired_only),
                None,
            )
        if self.by_name and self.candidates:
            return self.candidates[0].certificate
        return None

    @property
    def offers_starttls(self) -> bool | None:
        """Whether a receive connector advertises STARTTLS; ``None`` for a send connector."""
        if self.direction != "receive":
            return None
        if self.tls_not_enabled:
            return False
        return self.presented is not None

    @property
    def fit(self) -> tuple[ExchangeCertificate, ...]:
        """Every candidate nothing keeps Exchange from using, in Exchange's order."""
        return tuple(c.certificate for c in self.candidates if c.fit)

    def reasons(self) -> tuple[str, ...]:
        """Say why the chosen certificate is chosen and why each other one is not."""
        if self.tls_not_enabled:
            return (
                "the receive connector's AuthMechanism lacks TLS: Exchange does not advertise "
                "STARTTLS on it and loads no certificate",
            )
        if self.lookup is None:
            return ("the connector has no FQDN and the server's name is not known",)
        excluded = [f"not {_label(cert)}: {why}" for cert, why in self.excluded]
        if not self.candidates:
            lines = [f"no certificate in the store carries {self.lookup}"]
            if self.direction == "receive":
                lines.append("Exchange does not advertise STARTTLS here and logs event 12014")
            return (*lines, *excluded)
        chosen = self.presented
        lines = []
        for candidate in self.candidates:
            label = _label(candidate.certificate)
            if candidate.certificate is chosen and not candidate.fit:
                lines.append(
                    f"Exchange would still present {label}, {', '.join(candidate.flaws)}: "
                    "STARTTLS stays advertised and event 12016 is logged"
                )
            elif candidate.certificate is chosen and candidate.certificate.is_self_signed:
                lines.append(
                    f"Exchange would present {label}: it carries {self.lookup}, and no valid "
                    "certificate from a CA does, so the self-signed one is used"
                )
            elif candidate.certificate is chosen:
                lines.append(f"Exchange would present {label}: it carries {self.lookup}")
            elif candidate.flaws:
                lines.append(f"not {label}: {', '.join(candidate.flaws)}")
            else:
                lines.append(f"not {label}: {_why_after(candidate, self.candidates)}")
        return (*lines, *excluded)


def _why_after(candidate: Candidate, candidates: tuple[Candidate, ...]) -> str:
    first = next(c for c in candidates if c.fit)
    if first.match == "exact" and candidate.match == "wildcard":
        return "an exact name comes before a wildcard"
    if candidate.certificate.is_self_signed and not first.certificate.is_self_signed:
        return "a certificate from a CA comes before a self-signed one"
    return "a certificate with a more recent NotBefore comes first"


def _flaws(certificate: ExchangeCertificate, now: dt.datetime | None) -> tuple[str, ...]:
    flaws = []
    if certificate.has_private_key is False:
        flaws.append("it has no private key")
    if now is not None and certificate.not_after is not None and certificate.not_after < now:
        flaws.append(f"it expired on {certificate.not_after.date().isoformat()}")
    elif now is not None and certificate.not_before is not None and certificate.not_before > now:
        flaws.append(f"it is valid only from {certificate.not_before.date().isoformat()}")
    elif certificate.status is CertificateStatus.DATE_INVALID:
        flaws.append("its Status is DateInvalid")
    return tuple(flaws)


def _order(candidate: Candidate) -> tuple[bool, int, bool, dt.datetime, dt.datetime]:
    certificate = candidate.certificate
    return (
        not candidate.fit,
        1 if candidate.match == "wildcard" else 0,
        certificate.is_self_signed is True,
        _EARLIEST if certificate.not_before is None else certificate.not_before,
        _EARLIEST if certificate.not_after is None else certificate.not_after,
    )


def select_certificate(
    connector: SendConnector | ReceiveConnector,
    inventory: Iterable[ExchangeCertificate],
    *,
    server_fqdn: str | None = None,
    now: dt.datetime | None = None,
) -> Selection:
    """Return the certificate Exchange presents for the connector, with its reasons.

    ``now`` judges validity; without it, dates do not exclude a certificate.

    >>> from exchange_tls import ExchangeCertificate, SendConnector
    >>> exact = ExchangeCertificate(thumbprint="A" * 40, subject="CN=mail.contoso.com")
    >>> wildcard = ExchangeCertificate(thumbprint="B" * 40, subject="CN=*.contoso.com")
    >>> selection = select_certificate(
    ...     SendConnector(name="Out", fqdn="mail.contoso.com"), [wildcard, exact]
    ... )
    >>> selection.chosen is exact
    True
    >>> print(selection.reasons()[1].split(": ")[1])
    an exact name comes before a wildcard
    """
    check_arguments("select_certificate", inventory=inventory, server_fqdn=server_fqdn, now=now)
    takes = instance_of(
        SendConnector, ReceiveConnector, description="a SendConnector or a ReceiveConnector"
    )
    check_argument("select_certificate", "connector", connector, takes)
    certificates = list(inventory)
    for certificate in certificates:
        takes = instance_of(ExchangeCertificate, description="an iterable of ExchangeCertificate")
        check_argument("select_certificate", "inventory", certificate, takes)
    excluded = tuple(
        (certificate, "it is the Exchange Auth certificate, used for OAuth, never for SMTP TLS")
        for certificate in certificates
        if (certificate.subject or "").strip().casefold() == AUTH_CERTIFICATE_SUBJECT.casefold()
    )
    left_out = {id(certificate) for certificate, _ in excluded}
    usable = [c for c in certificates if id(c) not in left_out]
    name = connector.tls_certificate_name
    candidates: list[Candidate] = []
    if name is not None and name.issuer is not None:
        lookup: str | None = f"TlsCertificateName {name.render()}"
        by_name = True
        candidates = [
            Candidate(certificate=c, match="TlsCertificateName", flaws=_flaws(c, now))
            for c in usable
            if name.matches(c)
        ]
    else:
        by_name = False
        fqdn = connector.fqdn or server_fqdn
        lookup = f"the name {fqdn}" if fqdn else None
        for certificate in usable if fqdn else ():
            assert fqdn is not None  # noqa: S101 -- guarded by the loop's condition
            results = {names_match(pattern, fqdn) for pattern in _names(certificate)}
            if results <= {None}:
                continue
            match = "exact" if True in results else "wildcard"
            candidates.append(
                Candidate(certificate=certificate, match=match, flaws=_flaws(certificate, now))
            )
    # Stable sorts, last tie-breaker first: the thumbprint, the dates descending, then
    # the documented criteria ascending.
    candidates.sort(key=lambda c: (c.certificate.thumbprint or "", c.certificate.subject or ""))
    candidates.sort(key=lambda c: _order(c)[3:], reverse=True)
    candidates.sort(key=lambda c: _order(c)[:3])
    receive = isinstance(connector, ReceiveConnector)
    not_enabled = _tls_not_enabled(connector) if isinstance(connector, ReceiveConnector) else None
    return Selection(
        lookup=lookup,
        by_name=by_name,
        candidates=tuple(candidates),
        excluded=excluded,
        direction="receive" if receive else "send",
        tls_not_enabled=not_enabled,
    )


def _tls_not_enabled(connector: ReceiveConnector) -> bool | None:
    """Whether AuthMechanism is known and lacks TLS (``Tls, Integrated`` has it)."""
    if connector.auth_mechanism is None or connector.auth_mechanism.strip().isdigit():
        # A number is the flags value of a JSON export: not read here, so not known.
        return None
    mechanisms = {part.strip().casefold() for part in connector.auth_mechanism.split(",")}
    return "tls" not in mechanisms


def candidate_certificates(
    connector: SendConnector,
    inventory: Iterable[ExchangeCertificate],
    *,
    server_fqdn: str | None = None,
) -> list[ExchangeCertificate]:
    """Return the certificates the connector could present, Exchange's choice first.

    With ``TlsCertificateName`` set: those with that issuer and subject; otherwise those
    whose names fit the connector's FQDN (or ``server_fqdn`` when the connector has
    none), exact matches before wildcards; each in Exchange's order (see
    :func:`select_certificate`, which also says why).
    """
    selection = select_certificate(connector, inventory, server_fqdn=server_fqdn)
    return [candidate.certificate for candidate in selection.candidates]
