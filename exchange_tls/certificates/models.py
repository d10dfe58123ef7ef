"""The certificate model: one certificate as ``Get-ExchangeCertificate`` describes it."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from exchange_tls import display
from exchange_tls.sources import SourceRef

__all__ = ["CertificateStatus", "ExchangeCertificate", "RootCAType", "Services"]

# ServicesStringForm: one position per service, its letter when set, "." when not.
_FLAG_LETTERS = "IPUWSFC"


class Services(enum.Flag):
    """``AllowedServices``: the Exchange services a certificate is enabled for.

    >>> Services.parse("IP.WS..") == Services.IMAP | Services.POP | Services.IIS | Services.SMTP
    True
    >>> str(Services.parse("IMAP, POP, IIS, SMTP")), Services.parse(16).to_flag_string()
    ('IMAP, POP, IIS, SMTP', '....S..')
    """

    NONE = 0
    IMAP = 1
    POP = 2
    UM = 4
    IIS = 8
    SMTP = 16
    FEDERATION = 32
    UMCALLROUTER = 64

    @classmethod
    def parse(cls, value: str | int) -> Services:
        """Read names (``IMAP, POP, IIS, SMTP``), a number, or a 6/7-letter flag string.

        Raises ``ValueError`` for anything else.
        """
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 128:
                raise ValueError(f"not a Services value: {value}")
            return cls(value)
        text = str(value).strip()
        if text.isdigit():
            return cls.parse(int(text))
        if len(text) in (6, 7) and set(text) <= set(_FLAG_LETTERS + ".") and "," not in text:
            return cls._from_flags(text)
        result = cls.NONE
        for name in text.replace(";", ",").split(","):
            name = name.strip().upper()
            if not name:
                continue
            if name not in cls.__members__:
                raise ValueError(f"not a service: {name!r}")
            result |= cls[name]
        return result

    @classmethod
    def _from_flags(cls, text: str) -> Services:
        result = cls.NONE
        for position, letter in enumerate(text):
            if letter == ".":
                continue
            if letter != _FLAG_LETTERS[position]:
                raise ValueError(f"{text!r}: {letter!r} cannot stand at position {position + 1}")
            result |= cls(1 << position)
        return result

    def to_flag_string(self) -> str:
        """Return ``ServicesStringForm``, such as ``IP.WS..``."""
        return "".join(
            letter if self.value & (1 << position) else "."
            for position, letter in enumerate(_FLAG_LETTERS)
        )

    def __str__(self) -> str:
        if self.value == 0:
            return "None"
        names = [member.name for member in Services if member.value and member in self]
        spelled = {"FEDERATION": "Federation", "UMCALLROUTER": "UMCallRouter"}
        return ", ".join(spelled.get(name, name) for name in names if name is not None)


class CertificateStatus(enum.Enum):
    """``Status``; there is no ``Expired``: an expired certificate is ``DateInvalid``."""

    DATE_INVALID = "DateInvalid"
    INVALID = "Invalid"
    PENDING_REQUEST = "PendingRequest"
    REVOCATION_CHECK_FAILURE = "RevocationCheckFailure"
    REVOKED = "Revoked"
    UNKNOWN = "Unknown"
    UNTRUSTED = "Untrusted"
    VALID = "Valid"

    def __str__(self) -> str:
        return self.value


class RootCAType(enum.Enum):
    """``RootCAType`` (``CertificateAuthorityType``): where the root CA is trusted."""

    NONE = "None"
    THIRD_PARTY = "ThirdParty"
    ENTERPRISE = "Enterprise"
    REGISTRY = "Registry"
    GROUP_POLICY = "GroupPolicy"
    UNKNOWN = "Unknown"

    def __str__(self) -> str:
        return self.value


#: The numbers known for sure (domain.md §3.4); any other number is kept as a number.
STATUS_NUMBERS = {0: CertificateStatus.UNKNOWN, 1: CertificateStatus.VALID}
ROOT_CA_NUMBERS = {0: RootCAType.NONE, 3: RootCAType.REGISTRY}


@attrs.frozen(kw_only=True)
class ExchangeCertificate:
    """A certificate in Exchange's store, as its evidence describes it.

    A property the evidence did not carry is ``None``. ``status`` and ``root_ca_type``
    may be a plain number when the evidence gave one whose name is not known.
    """

    #: 40 upper-case hex digits.
    thumbprint: str | None
    services: Services | None = None
    subject: str | None = None
    #: Whether the subject was cut short by a table (``CN=webmail.ex...``).
    subject_truncated: bool = False
    issuer: str | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    certificate_domains: tuple[str, ...] | None = None
    has_private_key: bool | None = None
    is_self_signed: bool | None = None
    root_ca_type: RootCAType | int | None = None
    status: CertificateStatus | int | None = None
    serial_number: str | None = None
    friendly_name: str | None = None
    #: Public key size in bits.
    public_key_size: int | None = None
    #: ``Server\\Thumbprint`` where the evidence carries it.
    identity: str | None = None
    server: str | None = None
    source: SourceRef | None = None

    def is_valid_at(self, moment: dt.datetime) -> bool | None:
        """Whether ``moment`` lies in the validity period; ``None`` when not known."""
        if self.not_before is None or self.not_after is None:
            return None
        return self.not_before <= moment <= self.not_after

    @property
    def smtp_enabled(self) -> bool | None:
        """Whether the certificate is enabled for SMTP; ``None`` when not known."""
        return None if self.services is None else Services.SMTP in self.services

    def _repr_html_(self) -> str:
        # How it shows in a notebook is the views' (exchange_tls.display): a table.
        return display.html(self)
