"""Distinguished names and ``TlsCertificateName``: how Exchange names certificates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import pyparsing as pp

from exchange_tls.arguments import check_arguments
from exchange_tls.certificates._dn_grammar import Ava, parse_dn, parse_tls_name
from exchange_tls.errors import ParseError, Problem, Severity

if TYPE_CHECKING:
    from exchange_tls.certificates.models import ExchangeCertificate

__all__ = [
    "MAX_NAME_CHARS",
    "DistinguishedName",
    "TlsCertificateName",
    "parse_tls_certificate_name",
]

#: The longest distinguished name parsed; real ones are under a few hundred characters.
#: A longer one is kept as written (compared as text) and reported.
MAX_NAME_CHARS = 16_384


def _key(text: str) -> str:
    """Compare as PowerShell's ``-eq`` does: case-insensitive, spaces after commas aside."""
    return ",".join(part.strip() for part in text.split(",")).casefold()


@attrs.frozen(eq=False)
class DistinguishedName:
    """An X.500 name as Windows writes it: ``CN=*.domain.com, OU=IT, O=Contoso, C=US``.

    Two names are equal when Exchange would take them as the same: case-insensitively,
    whatever the spaces after commas. The text is kept as written.

    >>> name = DistinguishedName.parse('CN=mail.contoso.com, O="Contoso, Ltd", S=DE, C=US')
    >>> name.common_name, name.get("O"), name.get("S")
    ('mail.contoso.com', 'Contoso, Ltd', 'DE')
    >>> name == DistinguishedName.parse('cn=MAIL.contoso.com,O="Contoso, Ltd",S=DE,C=US')
    True
    """

    #: The name as written.
    text: str
    #: The RDNs in written order (most specific first), each a tuple of (type, value).
    rdns: tuple[tuple[Ava, ...], ...]

    @classmethod
    def parse(cls, text: str, *, source: str = "<name>") -> DistinguishedName:
        """Parse a distinguished name; raises :class:`~exchange_tls.ParseError`."""
        if len(text) > MAX_NAME_CHARS:
            raise ParseError(
                f"a distinguished name longer than {MAX_NAME_CHARS:,} characters",
                source=source,
                line=1,
                column=MAX_NAME_CHARS + 1,
                line_text=text,
            )
        try:
            rdns = parse_dn(text)
        except pp.ParseBaseException as error:
            raise ParseError(
                f"expected {error.parser_element or 'a distinguished name'}",
                source=source,
                line=1,
                column=error.loc + 1,
                line_text=text,
            ) from None
        return cls(text=text, rdns=rdns)

    def get(self, attribute: str) -> str | None:
        """Return the first value of ``attribute`` (``CN``, ``O``, ``S``…), or ``None``."""
        wanted = attribute.casefold()
        for rdn in self.rdns:
            for name, value in rdn:
                if name.casefold() == wanted:
                    return value
        return None

    @property
    def common_name(self) -> str | None:
        """The ``CN`` value, or ``None``."""
        return self.get("CN")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DistinguishedName):
            return NotImplemented
        return _key(self.text) == _key(other.text)

    def __hash__(self) -> int:
        return hash(_key(self.text))

    def __str__(self) -> str:
        return self.text


@attrs.frozen
class TlsCertificateName:
    """A connector's ``TlsCertificateName``: ``<I>issuer<S>subject``.

    >>> name = parse_tls_certificate_name("<I>CN=Contoso CA, O=Contoso<S>CN=mail.contoso.com")
    >>> str(name.issuer), str(name.subject)
    ('CN=Contoso CA, O=Contoso', 'CN=mail.contoso.com')
    >>> name.render()
    '<I>CN=Contoso CA, O=Contoso<S>CN=mail.contoso.com'
    """

    #: The issuer, or ``None`` when the value lost its markers.
    issuer: DistinguishedName | None
    #: The subject, or ``None`` when the value lost its markers.
    subject: DistinguishedName | None
    #: The value as written.
    raw: str

    @classmethod
    def as_written(cls, text: str) -> TlsCertificateName:
        """Keep a value as the connector holds it, whether or not it parses; never raises.

        This is what a reader keeps (and reports) when
        :func:`parse_tls_certificate_name` would raise: a value that lost a marker, or
        is too long to read, names nothing (``issuer`` and ``subject`` are ``None``); a
        name that is not well-formed is kept as written and compared as text.

        >>> TlsCertificateName.as_written("CN=Contoso CACN=mail.contoso.com").issuer is None
        True
        """
        return _read(text, "<TlsCertificateName>")[0]

    def render(self) -> str:
        """Return the value as Exchange writes it."""
        if self.issuer is None or self.subject is None:
            return self.raw
        return f"<I>{self.issuer.text}<S>{self.subject.text}"

    def matches(self, certificate: ExchangeCertificate) -> bool:
        """Whether the certificate's issuer and subject are the ones named."""
        if self.issuer is None or self.subject is None:
            return False
        if certificate.issuer is None or certificate.subject is None:
            return False
        return _key(self.issuer.text) == _key(certificate.issuer) and _key(
            self.subject.text
        ) == _key(certificate.subject)

    def __str__(self) -> str:
        return self.render()


def _name(text: str, source: str, problems: list[Problem], what: str) -> DistinguishedName:
    try:
        return DistinguishedName.parse(text, source=source)
    except ParseError as error:
        problems.append(
            Problem(
                message=f"the {what} is not a well-formed name ({error.message}); "
                "it is compared as written",
                source=source,
                severity=Severity.WARNING,
                code="bad-name",
            )
        )
        return DistinguishedName(text=text, rdns=())


def parse_tls_certificate_name(
    text: str, *, source: str = "<TlsCertificateName>"
) -> TlsCertificateName:
    """Parse ``<I>issuer<S>subject`` as ``Set-SendConnector -TlsCertificateName`` takes it.

    Like every decoder of one string it raises :class:`~exchange_tls.ParseError` (with a
    ``code``) for a value it cannot read: one that lost its ``<I>`` or ``<S>`` marker (web
    pages take them for HTML tags), is too long, or names a malformed issuer or subject.
    :meth:`TlsCertificateName.as_written` keeps such a value, as the connector readers do.
    """
    check_arguments("parse_tls_certificate_name", text=text, source=source)
    name, problems = _read(text, source)
    if problems:
        first = problems[0]
        raise ParseError(first.message, source=source, line_text=first.line_text, code=first.code)
    return name


def _read(text: str, source: str) -> tuple[TlsCertificateName, tuple[Problem, ...]]:
    """Read a value leniently: what to keep, and what was wrong with it."""
    problems: list[Problem] = []
    stripped = text.strip()
    if len(stripped) > 2 * MAX_NAME_CHARS + len("<I><S>"):
        problems.append(
            Problem(
                message=f"TlsCertificateName is longer than two names of {MAX_NAME_CHARS:,} "
                "characters; it is kept as written and not read",
                source=source,
                severity=Severity.WARNING,
                code="tls-name-too-long",
            )
        )
        return TlsCertificateName(issuer=None, subject=None, raw=text), tuple(problems)
    try:
        issuer_text, subject_text = parse_tls_name(stripped)
    except pp.ParseBaseException:
        problems.append(
            Problem(
                message="TlsCertificateName lacks its <I> or <S> marker; the syntax is "
                "<I>issuer<S>subject (a web page may have taken them for HTML tags)",
                source=source,
                line_text=text,
                severity=Severity.WARNING,
                code="tls-name-syntax",
            )
        )
        return TlsCertificateName(issuer=None, subject=None, raw=text), tuple(problems)
    name = TlsCertificateName(
        issuer=_name(issuer_text, source, problems, "issuer"),
        subject=_name(subject_text, source, problems, "subject"),
        raw=text,
    )
    return name, tuple(problems)
