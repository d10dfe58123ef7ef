r"""A generator of noisy, realistic days of an internet-facing Exchange server's evidence.

For tests and benchmarks (``benchmarks/generate_noisy.py`` is its command line). A day is
written as Exchange and the collector write it: send and receive protocol logs (UTF-8 BOM,
the five directives, CRLF), ``Get-SendConnector``, ``Get-ReceiveConnector``, ``Get-Queue``
and ``Get-ExchangeCertificate`` as ``Format-List`` text. The assumptions, documented in
``benchmarks/README.md`` as well:

* **Receive, internet-facing** (``EX01\\Default Frontend EX01``): Exchange Online (40.107.x.x,
  ``*.outbound.protection.outlook.com``), a partner (``mail.fabrikam.com``) and internet
  senders from a pool of remote hosts, all succeeding; among them scanners and old
  clients (``scanner_share`` of the connector's sessions) that fail the TLS handshake with
  one of seven Schannel errors, or that never ask for STARTTLS.
* **Receive, clients and internal** (``Client Frontend EX01``, ``Default EX01``): clients
  and the other server, with a smaller share of old clients failing.
* **Send**: ``Outbound to Office 365`` (a smart host in Exchange Online) and ``Internet Mail``
  (DNS, remote MX hosts from the pool, banners carrying their host name and the time; a
  ``connect_share`` of sessions fail to connect); ``To Fabrikam`` (the partner, address
  space ``fabrikam.com``, ``RequireTLS``) succeeds until ``fault_hour``, then **fails every
  session** (``UntrustedRoot``): the one real fault, with its queue in Retry and messages
  waiting.
* Banners and replies carry decoration: host names, times, message ids. With
  ``distinct_errors``, scanners' errors carry a distinct word each (texts no normaliser can
  fold), to measure bounded memory.

Each session's rows are written together (sessions do not interleave), in time order.
Everything is seeded: the same parameters give the same bytes.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:
...     written = write_day(pathlib.Path(folder), NoisyDay(sessions=200))
...     sorted(path.name for path in written)[:3]
['RECV2026121400-1.LOG', 'SEND2026121400-1.LOG', 'get-exchangecertificate-fl.txt']
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import IO

import attrs

__all__ = ["SCHANNEL_NOISE", "NoisyDay", "write_day"]

#: The seven Schannel errors scanners and old clients cause on a receive connector.
SCHANNEL_NOISE = (
    "IllegalMessage",
    "AlgorithmMismatch",
    "IncompleteMessage",
    "InvalidToken",
    "SocketError",
    "MessageAltered",
    "TimedOut",
)
# The 14th: a day number above 12, so that no date in the evidence reads as MDY or DMY.
_DAY = dt.datetime(2026, 12, 14, tzinfo=dt.timezone.utc)
_LOCAL_IP = "10.0.0.5"
_THUMBPRINT = "9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A291807"
_SERIAL = "4D2C1B0A99887766"
_SUBJECT = "CN=mail.contoso.com, O=Contoso Ltd, C=US"
_ISSUER = "CN=Contoso Issuing CA 2024, O=Contoso Ltd, C=US"
_SUCCESS = (
    "TLS protocol SP_PROT_TLS1_2_{side} negotiation succeeded using bulk encryption "
    "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with "
    "strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"
)
_HEADER = (
    "\ufeff#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP {kind} Protocol Log\r\n#Date: {date}\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)
_FRONTEND = "EX01\\Default Frontend EX01"
_CLIENTS = "EX01\\Client Frontend EX01"
_INTERNAL = "EX01\\Default EX01"
_PARTNER_IP = "198.51.100.25"
_PARTNER_IN = "198.51.100.20"


@attrs.frozen(kw_only=True)
class NoisyDay:
    """The parameters of a noisy day (see the module's docstring)."""

    #: Sessions in the day, both directions.
    sessions: int = 20_000
    #: Distinct internet hosts (senders, scanners, remote MX hosts).
    hosts: int = 5_000
    #: The share of the internet-facing receive connector's sessions that scanners and
    #: old clients fail (TLS errors and sessions without STARTTLS).
    scanner_share: float = 0.08
    #: The share of ``Internet Mail`` sessions that fail to connect.
    connect_share: float = 0.01
    #: From this hour on, every session to the partner fails: the real fault.
    fault_hour: int = 14
    #: When not 0, scanners' errors carry one of this many distinct words.
    distinct_errors: int = 0
    #: Approximate size of one protocol log file, in bytes, before a new one starts.
    file_bytes: int = 10_000_000
    seed: int = 4051498


def _host_ip(index: int) -> str:
    """Return a stable public-looking IPv4 address for host ``index`` of the pool."""
    value = (index * 2654435761 + 0x1F3D5B79) % (223 * 2**24)
    first = 1 + value // 2**24
    # Private and loopback ranges, and the first octets of Exchange Online's ranges: a
    # scanner's address never falls in Microsoft's, as on the real internet.
    if first in (10, 40, 52, 104, 127, 172, 192):
        first += 1
    return f"{first}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def _word(number: int) -> str:
    """Return a word of letters only, three or more (no normaliser takes it for an id)."""
    letters = ""
    number += 26 * 26  # at least three letters
    while number:
        number, digit = divmod(number, 26)
        letters = chr(97 + digit) + letters
    return letters


def _stamp(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _field(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if ("," in text or '"' in text) else text


class _Writer:
    """Rotating protocol logs of one direction."""

    def __init__(self, folder: Path, kind: str, prefix: str, limit: int) -> None:
        self.folder, self.kind, self.prefix, self.limit = folder, kind, prefix, limit
        self.paths: list[Path] = []
        self._out: IO[str] | None = None
        self._written = 0

    def write(self, moment: dt.datetime, lines: list[str]) -> None:
        if self._out is None or self._written >= self.limit:
            self.close()
            path = self.folder / f"{self.prefix}{moment:%Y%m%d%H}-{len(self.paths) + 1}.LOG"
            self._out = path.open("w", encoding="utf-8", newline="")
            self._out.write(_HEADER.format(kind=self.kind, date=_stamp(moment)))
            self._written = 0
            self.paths.append(path)
        text = "".join(lines)
        assert self._out is not None  # noqa: S101 -- opened above
        self._out.write(text)
        self._written += len(text)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _certificate_rows(label: str) -> list[tuple[str, str, str]]:
    return [
        ("*", "", label),
        ("*", _SUBJECT, "Certificate subject"),
        ("*", _ISSUER, "Certificate issuer name"),
        ("*", _SERIAL, "Certificate serial number"),
        ("*", _THUMBPRINT, "Certificate thumbprint"),
        ("*", "mail.contoso.com;autodiscover.contoso.com", "Certificate alternate names"),
    ]


class _Day:
    def __init__(self, folder: Path, day: NoisyDay) -> None:
        self.day = day
        self.rng = random.Random(day.seed)  # noqa: S311 -- reproducible data, not secrets
        self.send = _Writer(folder, "Send", "SEND", day.file_bytes)
        self.receive = _Writer(folder, "Receive", "RECV", day.file_bytes)
        self.number = 0
        self.partner_failures = 0
        self.partner_first_failure: dt.datetime | None = None

    def _rows(
        self,
        moment: dt.datetime,
        connector: str,
        local: str,
        remote: str,
        rows: list[tuple[str, str, str]],
    ) -> tuple[dt.datetime, list[str]]:
        self.number += 1
        session = f"{0x08DE16A000000000 + self.number:016X}"
        lines = []
        for sequence, (event, data, context) in enumerate(rows):
            moment += dt.timedelta(milliseconds=self.rng.randrange(1, 30))
            lines.append(
                f"{_stamp(moment)},{_field(connector)},{session},{sequence},{local},{remote},"
                f"{event},{_field(data)},{_field(context)}\r\n"
            )
        return moment, lines

    def _banner(self, moment: dt.datetime) -> str:
        return (
            "220 mail.contoso.com Microsoft ESMTP MAIL Service ready at "
            f"{moment:%a, %d %b %Y %H:%M:%S} +0000"
        )

    def inbound(self, moment: dt.datetime, connector: str, port: int) -> None:
        rng, day = self.rng, self.day
        roll = rng.random()
        failing = connector == _FRONTEND and roll < day.scanner_share
        failing = failing or (connector == _CLIENTS and roll < day.scanner_share / 4)
        if connector == _INTERNAL:
            ip, helo = "10.0.0.6", "EX02.contoso.com"
        elif connector == _FRONTEND and roll > 0.8:
            # Exchange Online and the partner never fail here, whatever the scanners' share:
            # their failing would be a real fault, not noise.
            ip = f"40.107.{rng.randrange(256)}.{rng.randrange(256)}"
            helo = f"NAM{rng.randrange(2, 13):02d}-DM6-obe.outbound.protection.outlook.com"
            failing = False
        elif connector == _FRONTEND and roll > 0.7:
            ip, helo = _PARTNER_IN, "mail.fabrikam.com"
            failing = False
        else:
            ip = _host_ip(rng.randrange(day.hosts))
            helo = f"[{ip}]"
        local = f"{_LOCAL_IP}:{port}"
        remote = f"{ip}:{rng.randrange(1024, 65535)}"
        rows = [
            ("+", "", ""),
            (">", self._banner(moment), ""),
            ("<", f"EHLO {helo}", ""),
            (">", f"250-mail.contoso.com Hello [{ip}]", ""),
            (">", "250-STARTTLS", ""),
            (">", "250 CHUNKING", ""),
        ]
        if failing and rng.random() < 0.25:
            rows += [("<", "QUIT", ""), (">", "221 2.0.0 Service closing transmission channel", "")]
        else:
            rows += [("<", "STARTTLS", ""), (">", "220 2.0.0 SMTP server ready", "")]
            rows += _certificate_rows("Sending certificate")
            if failing:
                error = rng.choice(SCHANNEL_NOISE)
                if day.distinct_errors:
                    error = f"{error} {_word(rng.randrange(day.distinct_errors))}"
                rows.append(("*", "", f"TLS negotiation failed with error {error}"))
            else:
                message = f"<{rng.getrandbits(48):012x}@{helo.strip('[]')}>"
                rows += [
                    ("*", "", _SUCCESS.format(side="SERVER")),
                    ("<", f"EHLO {helo}", ""),
                    ("<", f"MAIL FROM:<u{rng.randrange(10**5)}@example.org>", ""),
                    (">", "250 2.1.0 Sender OK", ""),
                    ("<", "RCPT TO:<someone@contoso.com>", ""),
                    (">", "250 2.1.5 Recipient OK", ""),
                    ("<", "BDAT 4096 LAST", ""),
                    (">", f"250 2.6.0 {message} [InternalId={rng.getrandbits(40)}] Queued", ""),
                    ("<", "QUIT", ""),
                ]
        rows.append(("-", "", "Remote"))
        _, lines = self._rows(moment, connector, local, remote, rows)
        self.receive.write(moment, lines)

    def outbound(self, moment: dt.datetime) -> None:
        rng, day = self.rng, self.day
        roll = rng.random()
        if roll < 0.45:
            connector = "Outbound to Office 365"
            ip = f"52.101.{rng.randrange(256)}.{rng.randrange(256)}"
            name = "contoso-com.mail.protection.outlook.com"
            banner = (
                f"220 {rng.choice(['AM', 'DB', 'SN'])}{rng.randrange(1, 9)}PEPF0000"
                f"{rng.getrandbits(20):05X}.mail.protection.outlook.com Microsoft ESMTP MAIL "
                f"Service ready at {moment:%a, %d %b %Y %H:%M:%S} +0000"
            )
        elif roll < 0.55:
            connector, ip, name = "To Fabrikam", _PARTNER_IP, "mail.fabrikam.com"
            banner = f"220 mail.fabrikam.com ESMTP ready {moment:%Y-%m-%dT%H:%M:%S}Z"
        else:
            connector = "Internet Mail"
            host = rng.randrange(day.hosts)
            ip, name = _host_ip(host), f"mx{host % 7}.domain{host}.example"
            banner = (
                f"220 {name} ESMTP Postfix ready at {moment:%H:%M:%S} id {rng.getrandbits(32):08X}"
            )
        local = f"{_LOCAL_IP}:{rng.randrange(1024, 65535)}"
        remote = f"{ip}:25"
        rows: list[tuple[str, str, str]] = [("+", "", "")]
        if connector == "Internet Mail" and rng.random() < day.connect_share:
            rows = [
                ("*", "", "attempting to connect"),
                (
                    "*",
                    "",
                    "Failed to connect. Winsock error code: 10060, Win32 error code: 10060, "
                    "Error Message: A connection attempt failed because the connected party "
                    "did not properly respond after a period of time",
                ),
            ]
            _, lines = self._rows(moment, connector, local, remote, rows)
            self.send.write(moment, lines)
            return
        rows += [
            ("<", banner, ""),
            (">", "EHLO mail.contoso.com", ""),
            ("<", f"250-{name} Hello [{_LOCAL_IP}]", ""),
            ("<", "250-STARTTLS", ""),
            ("<", "250 CHUNKING", ""),
            (">", "STARTTLS", ""),
            ("<", "220 2.0.0 SMTP server ready", ""),
            *_certificate_rows("Sending certificate"),
        ]
        if connector == "To Fabrikam" and moment.hour >= day.fault_hour:
            rows += [
                ("*", "", "TLS negotiation failed with error UntrustedRoot"),
                ("-", "", "Local"),
            ]
            self.partner_failures += 1
            if self.partner_first_failure is None:
                self.partner_first_failure = moment
        else:
            rows += [
                ("*", "", _SUCCESS.format(side="CLIENT")),
                (">", "EHLO mail.contoso.com", ""),
                (">", "MAIL FROM:<someone@contoso.com>", ""),
                ("<", "250 2.1.0 Sender OK", ""),
                (">", f"RCPT TO:<r{rng.randrange(10**4)}@{name.split('.', 1)[1]}>", ""),
                ("<", "250 2.1.5 Recipient OK", ""),
                (">", "BDAT 4096 LAST", ""),
                ("<", f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}", ""),
                (">", "QUIT", ""),
                ("-", "", "Local"),
            ]
        _, lines = self._rows(moment, connector, local, remote, rows)
        self.send.write(moment, lines)

    def run(self) -> None:
        rng, day = self.rng, self.day
        step = 86_400_000 / max(day.sessions, 1)
        for index in range(day.sessions):
            moment = _DAY + dt.timedelta(milliseconds=int(index * step))
            roll = rng.random()
            if roll < 0.5:
                self.outbound(moment)
            elif roll < 0.85:
                self.inbound(moment, _FRONTEND, 25)
            elif roll < 0.95:
                self.inbound(moment, _CLIENTS, 587)
            else:
                self.inbound(moment, _INTERNAL, 2525)
        self.send.close()
        self.receive.close()


_SEND_CONNECTORS = f"""
Name                 : Outbound to Office 365
Identity             : Outbound to Office 365
Fqdn                 : mail.contoso.com
RequireTLS           : True
TlsAuthLevel         : DomainValidation
TlsDomain            : mail.protection.outlook.com
CloudServicesMailEnabled : True
TlsCertificateName   : <I>{_ISSUER}<S>{_SUBJECT}
ProtocolLoggingLevel : Verbose
SmartHosts           : {{contoso-com.mail.protection.outlook.com}}
AddressSpaces        : {{smtp:contoso.mail.onmicrosoft.com;1}}
IgnoreSTARTTLS       : False

Name                 : Internet Mail
Identity             : Internet Mail
Fqdn                 : mail.contoso.com
RequireTLS           : False
ProtocolLoggingLevel : Verbose
SmartHosts           : {{}}
AddressSpaces        : {{SMTP:*;1}}
IgnoreSTARTTLS       : False

Name                 : To Fabrikam
Identity             : To Fabrikam
Fqdn                 : mail.contoso.com
RequireTLS           : True
TlsAuthLevel         : DomainValidation
TlsDomain            : fabrikam.com
ProtocolLoggingLevel : Verbose
SmartHosts           : {{mail.fabrikam.com}}
AddressSpaces        : {{SMTP:fabrikam.com;1}}
IgnoreSTARTTLS       : False
"""

_RECEIVE_CONNECTORS = """
Identity           : EX01\\Default Frontend EX01
Name               : Default Frontend EX01
Bindings           : {0.0.0.0:25, [::]:25}
RemoteIPRanges     : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255}
AuthMechanism      : Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer
Fqdn               : mail.contoso.com
TransportRole      : FrontendTransport
ProtocolLoggingLevel : Verbose

Identity           : EX01\\Client Frontend EX01
Name               : Client Frontend EX01
Bindings           : {0.0.0.0:587, [::]:587}
RemoteIPRanges     : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255}
AuthMechanism      : Tls, Integrated, BasicAuth, BasicAuthRequireTLS
Fqdn               : mail.contoso.com
TransportRole      : FrontendTransport
ProtocolLoggingLevel : Verbose

Identity           : EX01\\Default EX01
Name               : Default EX01
Bindings           : {0.0.0.0:2525, [::]:2525}
RemoteIPRanges     : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255}
AuthMechanism      : Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer
Fqdn               : EX01.contoso.com
TransportRole      : HubTransport
ProtocolLoggingLevel : Verbose
"""

_CERTIFICATES = f"""
CertificateDomains : {{mail.contoso.com, autodiscover.contoso.com}}
HasPrivateKey      : True
IsSelfSigned       : False
Issuer             : {_ISSUER}
NotAfter           : 12/31/2027 11:59:59 PM
NotBefore          : 1/1/2026 12:00:00 AM
RootCAType         : ThirdParty
Services           : IMAP, POP, IIS, SMTP
Status             : Valid
Subject            : {_SUBJECT}
Thumbprint         : {_THUMBPRINT}
"""


def _last_error(retried: str) -> str:
    """Return the partner queue's LastError: KB 4051498's timeout that a TLS failure hides."""
    return (
        f"[{{LRT={retried}}};{{LED=451 4.4.0 Primary target IP address responded with: "
        '"421 4.4.1 Connection timed out." Attempted failover to alternate host, but that did '
        "not succeed. Either there are no alternate hosts, or delivery failed to all alternate "
        f"hosts. The last endpoint attempted was {_PARTNER_IP}:25}};{{FQDN=mail.fabrikam.com}};"
        f"{{IP={_PARTNER_IP}}}]"
    )


def _queues(day: _Day) -> str:
    first = day.partner_first_failure or _DAY
    last = _DAY + dt.timedelta(hours=23, minutes=55)
    waiting = max(1, day.partner_failures // 3)

    def us(moment: dt.datetime) -> str:
        return f"{moment.month}/{moment.day}/{moment.year} {moment:%I:%M:%S %p}".replace(" 0", " ")

    return f"""
Identity      : EX01\\17
DeliveryType  : SmartHostConnectorDelivery
Status        : Retry
MessageCount  : {waiting}
NextHopDomain : mail.fabrikam.com
FirstRetryTime : {us(first)}
LastError     : {_last_error(us(last))}

Identity      : EX01\\3
DeliveryType  : SmartHostConnectorDelivery
Status        : Ready
MessageCount  : 0
NextHopDomain : contoso-com.mail.protection.outlook.com
"""


def write_day(folder: Path, day: NoisyDay | None = None) -> list[Path]:
    """Write a noisy day into ``folder``; return the files written."""
    day = NoisyDay() if day is None else day
    folder.mkdir(parents=True, exist_ok=True)
    run = _Day(folder, day)
    run.run()
    written = [*run.send.paths, *run.receive.paths]
    for name, text in (
        ("get-sendconnector-fl.txt", _SEND_CONNECTORS),
        ("get-receiveconnector-fl.txt", _RECEIVE_CONNECTORS),
        ("get-exchangecertificate-fl.txt", _CERTIFICATES),
        ("get-queue-fl.txt", _queues(run)),
    ):
        path = folder / name
        path.write_text(text.replace("\n", "\r\n"), encoding="utf-8")
        written.append(path)
    return written
