"""Event log records, and what the events this library knows about mean."""

from __future__ import annotations

import datetime as dt
import enum
import re

import attrs

from exchange_tls.sources import SourceRef

__all__ = [
    "INTERNAL_TRANSPORT_EVENTS",
    "EventMeaning",
    "EventRecord",
    "Family",
    "Level",
    "alert_name",
    "event_key",
    "family_of",
    "meaning_of",
    "meaning_of_text",
]


class Family(enum.Enum):
    """Which part of the server wrote an event this library gives meaning to."""

    #: ``MSExchangeTransport`` and ``MSExchangeFrontEndTransport`` (Application log).
    TRANSPORT = "transport"
    #: ``Schannel`` (System log), the Windows TLS provider.
    SCHANNEL = "schannel"


@attrs.frozen(kw_only=True)
class EventMeaning:
    """What an event id means, and where that is published."""

    family: Family
    event_id: int
    #: The symbolic name Exchange gives it, or a short name for Schannel events.
    name: str
    #: What it means for outbound or inbound TLS, in a sentence.
    gist: str
    reference: str


_TECHNET = "https://technet.microsoft.com/library/{}(v=exchg.141)"
_EXPTA = "https://blog.expta.com/2010/09/how-to-fix-msexchangetransport-event-id.html"
# Exchange's event constants (TransportEventLogConstants): the id is the low 16 bits of
# the code, 2147757815 -> 12023; no Microsoft page documents 12020, 12022 or 12023.
_TRANSPORT_CONSTANTS = "domain.md section 6.1 (TransportEventLogConstants, decompiled)"
# A published case that shows 36871 and 36874 with the TLS settings behind them.
_SCHANNEL_CASE = "https://en.ittrip.xyz/windows-server/fix-schannel-errors"
# Microsoft's table of the TLS alert numbers that 36887 and 36888 name.
_SCHANNEL_ALERTS = (
    "https://learn.microsoft.com/windows/win32/secauthn/schannel-error-codes-for-tls-and-ssl-alerts"
)

_MEANINGS: tuple[EventMeaning, ...] = (
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12012,
        name="InternalTransportCertificateMissingInAD",
        gist="the internal transport certificate could not be read from Active Directory",
        reference=_TECHNET.format("ff984391"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12013,
        name="CannotLoadInternalTransportCertificateFromStore",
        gist="the certificate configured for Exchange-to-Exchange authentication cannot be "
        "loaded from the personal store",
        reference=_TECHNET.format("ff985435"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12014,
        name="CannotLoadSTARTTLSCertificateFromStore",
        gist="no certificate in the personal store contains the connector's FQDN (or the "
        "TlsCertificateName), so STARTTLS is not offered on that connector",
        reference=_EXPTA,
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12015,
        name="InternalTransportCertificateExpired",
        gist="an internal transport certificate expired",
        reference=_TECHNET.format("ff981561"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12016,
        name="STARTTLSCertificateExpired",
        gist="the STARTTLS certificate for an FQDN has expired",
        reference=_TECHNET.format("ff983405"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12017,
        name="InternalTransportCertificateExpiresSoon",
        gist="an internal transport certificate will expire soon",
        reference=_TECHNET.format("ff985092"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12018,
        name="STARTTLSCertificateExpiresSoon",
        gist="the STARTTLS certificate will expire soon",
        reference=_TECHNET.format("ff982351"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12019,
        name="RemoteInternalTransportCertificateExpired",
        gist="a remote server's internal transport certificate expired",
        reference=_TECHNET.format("ff980723"),
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12020,
        name="RemoteSTARTTLSCertificateExpired",
        gist="a remote server's STARTTLS certificate has expired",
        reference=_TRANSPORT_CONSTANTS,
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12022,
        name="InternalTransportCertificateCorruptedInAD",
        gist="the internal transport certificate published in Active Directory is corrupt",
        reference=_TRANSPORT_CONSTANTS,
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12023,
        name="CannotLoadInternalTransportCertificateFallbackServerFQDN",
        gist="the certificate configured for authentication with other Exchange servers (the "
        "internal transport certificate) cannot be loaded from the personal store; a "
        "certificate with the server's FQDN is used meanwhile",
        reference=_TRANSPORT_CONSTANTS,
    ),
    EventMeaning(
        family=Family.TRANSPORT,
        event_id=12024,
        name="CannotLoadInternalTransportCertificateFallbackEphemeralCertificate",
        gist="the internal transport certificate cannot be loaded; an ephemeral self-signed "
        "certificate is used meanwhile",
        reference=_TECHNET.format("ff983190"),
    ),
    EventMeaning(
        family=Family.SCHANNEL,
        event_id=36871,
        name="credential-creation-failed",
        gist="a fatal error occurred while creating a TLS client or server credential "
        "(often no TLS version both enabled and allowed)",
        reference=_SCHANNEL_CASE,
    ),
    EventMeaning(
        family=Family.SCHANNEL,
        event_id=36874,
        name="no-common-cipher-suite",
        gist="a remote client offered no cipher suite (or protocol) this server supports",
        reference=_SCHANNEL_CASE,
    ),
    EventMeaning(
        family=Family.SCHANNEL,
        event_id=36887,
        name="fatal-alert-received",
        gist="the remote endpoint sent a fatal TLS alert",
        reference=_SCHANNEL_ALERTS,
    ),
    EventMeaning(
        family=Family.SCHANNEL,
        event_id=36888,
        name="fatal-alert-sent",
        gist="this server generated a fatal TLS alert and sent it to the remote endpoint",
        reference=_SCHANNEL_ALERTS,
    ),
)
_BY_KEY = {(meaning.family, meaning.event_id): meaning for meaning in _MEANINGS}

#: Texts that name an event whatever id a report gives it: public reports quote the
#: internal transport certificate's text (Microsoft's, for 12013) under neighbouring ids.
#: The most specific fragment first.
_BY_TEXT: tuple[tuple[str, int], ...] = (
    ("an ephemeral, self-signed certificate with thumbprint", 12024),
    ("configured for authentication with other exchange servers", 12013),
    ("internal transport certificate that is used for smtp authentication", 12012),
    ("an internal transport certificate expired", 12015),
)
#: The internal transport certificate's events, whose fixes are the same.
INTERNAL_TRANSPORT_EVENTS = frozenset({12012, 12013, 12015, 12017, 12022, 12023, 12024})

# TLS alert descriptions (RFC 5246 section 7.2 and RFC 8446 section 6), as Schannel
# events 36887 and 36888 give them by number.
_ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}


def alert_name(code: int) -> str | None:
    """Return the TLS alert's name for its number, or ``None`` when unknown.

    >>> from exchange_tls.events import alert_name
    >>> alert_name(70)
    'protocol_version'
    """
    return _ALERTS.get(code)


def family_of(provider: str | None) -> Family | None:
    """Return the family of an event provider (source) name, or ``None``."""
    folded = (provider or "").strip().casefold()
    if folded in ("msexchangetransport", "msexchangefrontendtransport"):
        return Family.TRANSPORT
    if folded == "schannel":
        return Family.SCHANNEL
    return None


def meaning_of(provider: str | None, event_id: int | None) -> EventMeaning | None:
    """Return what an event means, or ``None`` for an id this library does not know.

    >>> from exchange_tls.events import meaning_of
    >>> meaning_of("MSExchangeTransport", 12014).name
    'CannotLoadSTARTTLSCertificateFromStore'
    >>> meaning_of("MSExchangeTransport", 12023).name
    'CannotLoadInternalTransportCertificateFallbackServerFQDN'
    >>> meaning_of("MSExchangeTransport", 12099) is None
    True
    """
    family = family_of(provider)
    if family is None or event_id is None:
        return None
    return _BY_KEY.get((family, event_id))


def meaning_of_text(provider: str | None, message: str | None) -> EventMeaning | None:
    """Return what a transport event's message says it is, whatever its id.

    >>> meaning_of_text(
    ...     "MSExchangeFrontEndTransport",
    ...     "Microsoft Exchange could not load the certificate with thumbprint of AB from the "
    ...     "personal store on the local computer. This certificate was configured for "
    ...     "authentication with other Exchange servers.",
    ... ).event_id
    12013
    """
    if family_of(provider) is not Family.TRANSPORT or not message:
        return None
    folded = " ".join(message.casefold().split())
    for fragment, event_id in _BY_TEXT:
        if fragment in folded:
            return _BY_KEY[(Family.TRANSPORT, event_id)]
    return None


class Level(enum.Enum):
    """An event's level, as Windows names it."""

    CRITICAL = "Critical"
    ERROR = "Error"
    WARNING = "Warning"
    INFORMATION = "Information"
    VERBOSE = "Verbose"


@attrs.frozen(kw_only=True)
class EventRecord:
    """One event log entry; what the input did not carry is ``None``."""

    #: ``Application``, ``System`` …
    log: str | None = None
    #: The provider (``Source`` in Get-EventLog): ``MSExchangeTransport``, ``Schannel`` ….
    provider: str | None = None
    #: The event id (the low 16 bits of Get-EventLog's InstanceId).
    event_id: int | None = None
    level: Level | None = None
    #: When it was written, in UTC.
    time: dt.datetime | None = None
    machine: str | None = None
    message: str | None = None
    record_id: int | None = None
    #: The event's data fields: (name, value) pairs; names are ``None`` where the
    #: format gives values only (Get-EventLog's ReplacementStrings).
    data: tuple[tuple[str | None, str], ...] | None = None
    source: SourceRef | None = None

    @property
    def meaning(self) -> EventMeaning | None:
        """What this event means, by its id, else by its text; ``None`` when neither is known."""
        by_id = meaning_of(self.provider, self.event_id)
        return by_id if by_id is not None else meaning_of_text(self.provider, self.message)

    def datum(self, name: str) -> str | None:
        """Return the data field called ``name`` (case-insensitive), or ``None``."""
        folded = name.casefold()
        for key, value in self.data or ():
            if key is not None and key.casefold() == folded:
                return value
        return None

    @property
    def alert(self) -> int | None:
        """The TLS alert number of a Schannel 36887/36888 event, or ``None``."""
        if self.meaning is None or self.event_id not in (36887, 36888):
            return None
        value = self.datum("AlertDesc")
        if value is None and self.message:
            match = re.search(r"alert code is (\d+)", self.message)
            value = match.group(1) if match else None
        return int(value) if value is not None and value.isdigit() else None


def event_key(event: EventRecord) -> object:
    """Return the key that makes two records the same event (CLIXML and JSON of one export).

    ``None`` when the record has no record id: such events are never merged.
    """
    if event.record_id is None:
        return None
    return (
        (event.machine or "").casefold(),
        (event.log or "").casefold(),
        (event.provider or "").casefold(),
        event.record_id,
        event.event_id,
    )
