"""What a session's rows say: TLS, certificates, connection and authentication failures.

Theory of operation. One pass over a session's rows, in sequence order. Most rows are
SMTP commands and replies and are passed over with two cheap tests (the event, the
first characters). Information rows (``*``) are matched by the exact strings Exchange
writes (``domain.md`` §2, §8): a certificate block starts at a ``… certificate`` label
and collects the ``Certificate …`` rows that follow; the outcome of the handshake is
one line; everything else is a single labelled line. Only ``str`` methods and a few
anchored regular expressions are used here; nothing is parsed with a grammar.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
from collections.abc import Iterable, Sequence

from exchange_tls.powershell.dates import from_iso
from exchange_tls.protocol_log.models import (
    CertificateIdentity,
    ConnectFailure,
    Direction,
    Event,
    ProtocolLogRow,
    RowValues,
    TlsHandshake,
)
from exchange_tls.sources import SourceRef

__all__ = ["SessionFacts", "infer_direction", "plain_success", "session_facts"]

_TLS_FAILED = "TLS negotiation failed with error "
_TLS_SUCCEEDED = re.compile(
    r"^TLS protocol (?P<protocol>\S+) negotiation succeeded using bulk encryption algorithm "
    r"(?P<cipher>\S+) with strength (?P<cipher_strength>\d+) bits, MAC hash algorithm "
    r"(?P<hash>\S+) with strength (?P<hash_strength>\d+) bits and key exchange algorithm "
    r"(?P<kex>\S+) with strength (?P<kex_strength>\d+) bits"
)
_CONNECT_FAILED = re.compile(
    r"^Failed to connect\. Winsock error code: (?P<winsock>-?\d+), Win32 error code: "
    r"(?P<win32>-?\d+)(?:.*?, Error Message: (?P<message>.*))?",
    re.DOTALL,
)
_AUTH_FAILED = re.compile(
    r"^(?:Outbound Authentication failed with|Inbound AUTH \S+ failed because of) (?P<error>\S+)"
)
_CHAIN_STATUS = re.compile(r"^Client certificate chain validation status: '(?P<status>[^']*)'")
_DOMAIN = re.compile(
    r"^TlsDomainCapabilities='(?P<capabilities>[^']*)'; Status='(?P<status>[^']*)'"
)
_CERTIFICATE_LABELS = ("Sending certificate", "Remote certificate", "Received certificate")
_CONDENSED_LABELS = "Subject Issuer name Serial number Thumbprint Not before Not after"
_PROTOCOL = re.compile(r"^SP_PROT_(?P<version>(?:TLS|SSL)\d(?:_\d)?)_(?:CLIENT|SERVER)$")
# The lookbehind starts the search only where a hex run starts: without it, a long run
# of hex digits is tried from each of its positions, which is quadratic.
_THUMBPRINT_AND_DATES = re.compile(
    r"(?<![0-9A-Fa-f])(?P<serial>[0-9A-Fa-f]+) (?P<thumbprint>[0-9A-Fa-f]{40}) "
    r"(?P<not_before>\d{4}-\d\d-\d\dT[\d:.]+Z) (?P<not_after>\d{4}-\d\d-\d\dT[\d:.]+Z)"
    r"(?: (?P<names>.*))?$"
)
# A second DN starts at a space that does not follow a comma and precedes "TYPE=".
_DN_BOUNDARY = re.compile(r"(?<!,) (?=[A-Za-z][A-Za-z0-9.]*=)")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_COMMANDS = (
    "EHLO",
    "HELO",
    "STARTTLS",
    "MAIL FROM",
    "RCPT TO",
    "DATA",
    "BDAT",
    "QUIT",
    "AUTH",
    "XEXCH50",
    "RSET",
    "NOOP",
)


class SessionFacts:
    """The facts of one session, gathered in one pass (see the module's docstring)."""

    __slots__ = (
        "auth_failure",
        "complete",
        "connect_failure",
        "disconnect_reason",
        "tls",
    )

    def __init__(self) -> None:
        self.auth_failure: str | None = None
        self.connect_failure: ConnectFailure | None = None
        self.disconnect_reason: str | None = None
        self.complete = False
        self.tls: TlsHandshake | None = None


def infer_direction(rows: list[ProtocolLogRow]) -> Direction | None:
    """Tell send from receive when the log does not say.

    By who sends SMTP commands, else by a connection attempt (only sends make them),
    else by the connector id's shape.
    """
    for row in rows:
        if row.event not in (Event.SEND, Event.RECEIVE) or not row.data:
            continue
        is_reply = row.data[:3].isdigit()
        is_command = row.data.upper().startswith(_COMMANDS)
        if not (is_reply or is_command):
            continue
        exchange_sends_commands = (row.event is Event.SEND) == is_command
        return Direction.SEND if exchange_sends_commands else Direction.RECEIVE
    for row in rows:
        if row.context == "attempting to connect" or row.context.startswith("Failed to connect."):
            return Direction.SEND
    # Last, the connector id: receive connectors are logged as "SERVER\Name", send
    # connectors by their name alone (domain.md §1.5).
    return Direction.RECEIVE if "\\" in rows[0].connector_id else Direction.SEND


def _timestamp(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = from_iso(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _thumbprint(text: str | None) -> str | None:
    """Upper-case a real thumbprint; keep a masked one (``xxxx``) as written."""
    if not text:
        return None
    text = text.strip()
    return text.upper() if _HEX.fullmatch(text) else text


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(";") if name)


def _split_dns(text: str) -> tuple[str | None, str | None]:
    """Split ``subject issuer`` joined by a space, when exactly one split is possible."""
    boundaries = [match.start() for match in _DN_BOUNDARY.finditer(text)]
    if len(boundaries) != 1:
        return None, None
    return text[: boundaries[0]], text[boundaries[0] + 1 :]


def _condensed(row: ProtocolLogRow, label: str) -> CertificateIdentity:
    """Read the one-row certificate block: values joined by spaces in ``data``."""
    data = row.data.strip()
    match = _THUMBPRINT_AND_DATES.search(data)
    if match is None:
        return CertificateIdentity(label=label, source=row.source)
    subject, issuer = _split_dns(data[: match.start()].strip())
    return CertificateIdentity(
        subject=subject,
        issuer=issuer,
        serial_number=match.group("serial"),
        thumbprint=match.group("thumbprint").upper(),
        not_before=_timestamp(match.group("not_before")),
        not_after=_timestamp(match.group("not_after")),
        alternate_names=_names(match.group("names") or ""),
        label=label,
        source=row.source,
        thumbprint_source=row.source,
    )


_CERTIFICATE = "Certificate "
_THUMBPRINT_CONTEXT = "Certificate thumbprint"


def _block_identity(
    label: str,
    source: SourceRef,
    rows: list[ProtocolLogRow],
    data: list[str],
    contexts: list[str],
    start: int,
    end: int,
) -> CertificateIdentity:
    """Read the classic block: rows ``start`` to ``end``, one ``Certificate …`` each."""
    # Later rows win, as they would when read one by one.
    names = [context[len(_CERTIFICATE) :] for context in contexts[start:end]]
    values = dict(zip(names, data[start:end], strict=True))
    thumbprint_source = None
    if "thumbprint" in values:
        last = end - 1 - contexts[start:end][::-1].index(_THUMBPRINT_CONTEXT)
        thumbprint_source = rows[last].source
    alternate_names = values.get("alternate names")
    return CertificateIdentity(
        subject=values.get("subject") or None,
        issuer=values.get("issuer name") or None,
        serial_number=values.get("serial number") or None,
        thumbprint=_thumbprint(values.get("thumbprint")),
        not_before=_timestamp(values.get("not before", "")),
        not_after=_timestamp(values.get("not after", "")),
        alternate_names=_names(alternate_names) if alternate_names is not None else None,
        label=label,
        source=source,
        thumbprint_source=thumbprint_source,
    )


_EVENT, _DATA, _CONTEXT = operator.itemgetter(6), operator.itemgetter(7), operator.itemgetter(8)


def _indexes(flags: Iterable[object]) -> list[int]:
    """Return the positions where ``flags`` is true, without a Python-level loop."""
    return list(itertools.compress(itertools.count(), flags))


def session_facts(
    rows: list[ProtocolLogRow], direction: Direction | None, values: Sequence[RowValues]
) -> SessionFacts:
    """Gather the facts of one session from its rows, in sequence order.

    ``values`` are the rows' values, which ordering the rows has read already. Most rows
    are plain SMTP traffic. Column-wise C-level scans pick out the rows that can state a
    fact (information rows, the disconnect, STARTTLS and EHLO), and only those go
    through the loop below.
    """
    facts = SessionFacts()
    count = len(rows)
    events = list(map(_EVENT, values))
    data = list(map(_DATA, values))
    contexts = list(map(_CONTEXT, values))
    information = _indexes(map(operator.is_, events, itertools.repeat(Event.INFORMATION)))
    starttls = _indexes(map(operator.contains, data, itertools.repeat("STARTTLS")))
    interesting = sorted({*information, *starttls})
    if Event.DISCONNECT in events:
        interesting.append(events.index(Event.DISCONNECT))
        interesting.sort()
    command_event = Event.RECEIVE if direction is Direction.RECEIVE else Event.SEND
    reply_event = Event.SEND if direction is Direction.RECEIVE else Event.RECEIVE
    offered: bool | None = None
    requested = False
    first_tls: int | None = None
    succeeded: bool | None = None
    error: str | None = None
    success: re.Match[str] | None = None
    local: CertificateIdentity | None = None
    remote: CertificateIdentity | None = None
    chain_status: str | None = None
    domain: re.Match[str] | None = None
    evidence: list[ProtocolLogRow] = []
    information_event = Event.INFORMATION
    # Rows up to here belong to a certificate block already read.
    skip_until = -1

    def tls_seen(index: int) -> None:
        nonlocal first_tls
        if first_tls is None:
            first_tls = index

    for index in interesting:
        if index < skip_until:
            continue
        row = rows[index]
        event = events[index]
        if event is information_event:
            context = contexts[index]
            if context.startswith(_CERTIFICATE) and data[index]:
                # A block whose label row is missing (an excerpt): Exchange labels the
                # certificate it presents "Sending certificate", so that is what it is.
                label, start = "Sending certificate", index
            else:
                text = context or data[index]
                if text.startswith(_CERTIFICATE_LABELS):
                    label = text[: text.index(" certificate") + len(" certificate")]
                    start = index + 1
                    if _CONDENSED_LABELS in text:
                        tls_seen(index)
                        evidence.append(row)
                        identity = _condensed(row, label)
                        if label == "Sending certificate":
                            local = identity
                        else:
                            remote = identity
                        continue
                else:
                    start = -1
            if start >= 0:
                # The block is the run of "Certificate …" information rows that follows.
                end = start
                while (
                    end < count
                    and events[end] is information_event
                    and contexts[end].startswith(_CERTIFICATE)
                ):
                    end += 1
                tls_seen(index)
                evidence.append(row)
                identity = _block_identity(label, row.source, rows, data, contexts, start, end)
                if label == "Sending certificate":
                    local = identity
                else:
                    remote = identity
                skip_until = end
            elif text.startswith(_TLS_FAILED):
                tls_seen(index)
                succeeded = False
                error = text[len(_TLS_FAILED) :].strip() or None
                evidence.append(row)
            elif text.startswith("TLS protocol "):
                tls_seen(index)
                success = _TLS_SUCCEEDED.match(text)
                if success is not None:
                    succeeded = True
                evidence.append(row)
            elif text.startswith("Failed to connect."):
                match = _CONNECT_FAILED.match(text)
                facts.connect_failure = ConnectFailure(
                    winsock_error=int(match.group("winsock")) if match else None,
                    win32_error=int(match.group("win32")) if match else None,
                    message=(match.group("message") or None) if match else None,
                    text=text,
                    source=row.source,
                )
            elif text.startswith(("Outbound Authentication failed", "Inbound AUTH")):
                match = _AUTH_FAILED.match(text)
                if match is not None:
                    facts.auth_failure = match.group("error")
            elif text.startswith("Client certificate chain validation status"):
                status = _CHAIN_STATUS.match(text)
                chain_status = status.group("status") if status else None
                evidence.append(row)
            elif text.startswith("TlsDomainCapabilities="):
                domain = _DOMAIN.match(text)
                evidence.append(row)
        elif event is Event.DISCONNECT:
            facts.complete = True
            facts.disconnect_reason = contexts[index] or data[index] or None
        elif event is command_event:
            if data[index][:8].upper().startswith("STARTTLS"):
                requested = True
                tls_seen(index)
                evidence.append(row)
        elif (
            event is reply_event
            and data[index].startswith("250")
            and "STARTTLS" in data[index].replace("-", " ").split()
        ):
            # A STARTTLS offer: "250-STARTTLS", or inside the one-line EHLO reply of
            # Exchange 2013 and later.
            offered = True
    if offered is None:
        offered = _offer_refused(events, data, first_tls, command_event, reply_event, count)
    if first_tls is not None or offered is not None:
        protocol_raw, cipher, cipher_bits, hash_name, hash_bits, kex, kex_bits = (
            success.groups() if success else (None,) * 7
        )
        version = _PROTOCOL.match(protocol_raw) if protocol_raw else None
        facts.tls = TlsHandshake(
            starttls_offered=offered,
            starttls_requested=requested,
            succeeded=succeeded,
            error=error,
            protocol=version.group("version") if version else protocol_raw,
            protocol_raw=protocol_raw,
            cipher=cipher,
            cipher_strength=int(cipher_bits) if cipher_bits else None,
            hash_algorithm=hash_name,
            hash_strength=int(hash_bits) if hash_bits else None,
            key_exchange=kex,
            key_exchange_strength=int(kex_bits) if kex_bits else None,
            local_certificate=local,
            remote_certificate=remote,
            client_certificate_status=chain_status,
            domain_capabilities=domain.group("capabilities") if domain else None,
            domain_status=domain.group("status") if domain else None,
            evidence_rows=tuple(evidence),
        )
    return facts


def _offer_refused(
    events: list[Event],
    data: list[str],
    first_tls: int | None,
    command_event: Event,
    reply_event: Event,
    count: int,
) -> bool | None:
    """Return False when the EHLO reply ended without STARTTLS before any TLS began.

    After TLS the second EHLO reply no longer lists STARTTLS, so only the reply to an
    EHLO sent before TLS can say that STARTTLS was not offered.
    """
    end = count if first_tls is None else first_tls
    ehlo = next(
        (
            index
            for index in range(end)
            if events[index] is command_event and data[index][:4].upper() in ("EHLO", "HELO")
        ),
        None,
    )
    if ehlo is None:
        return None
    for index in range(ehlo + 1, end):
        if events[index] is reply_event and data[index][3:4] == " " and data[index][:1] == "2":
            return False
    return None


_PLAIN_BREAKERS = (
    _TLS_FAILED,
    "Failed to connect.",
    "Outbound Authentication failed",
    "Inbound AUTH",
    *_CERTIFICATE_LABELS,
)
_SENDING = "Sending certificate"


def plain_success(
    values: Sequence[RowValues], direction: Direction
) -> tuple[str | None, str | None] | None:
    """Return the certificate thumbprint and protocol of a plainly successful session.

    A plain success is the common case, read without building any model: the session
    began here (a connect row or sequence number 0), negotiated TLS, presented one
    certificate in the usual block, and met no failure, no error reply and nothing else
    :func:`session_facts` would have to weigh. Anything else returns ``None``, and the
    session is read in full. What this returns is what :func:`session_facts` finds for
    the same rows (a test holds them to it).
    """
    reply_event = Event.SEND if direction is Direction.RECEIVE else Event.RECEIVE
    information = Event.INFORMATION
    started = False
    in_block = False
    blocks = 0
    thumbprint: str | None = None
    protocol: str | None = None
    for row in values:
        event = row[6]
        if event is information:
            data, context = row[7], row[8]
            if context.startswith(_CERTIFICATE):
                if not in_block:
                    return None
                if context == _THUMBPRINT_CONTEXT:
                    thumbprint = _thumbprint(data)
                continue
            in_block = False
            text = context or data
            if text == _SENDING:
                blocks += 1
                in_block = True
            elif text.startswith("TLS protocol "):
                success = _TLS_SUCCEEDED.match(text)
                if success is None or protocol is not None:
                    return None
                raw = success.group("protocol")
                version = _PROTOCOL.match(raw)
                protocol = version.group("version") if version else raw
            elif text.startswith(_PLAIN_BREAKERS):
                return None
            continue
        in_block = False
        if event is Event.CONNECT or row[3] == 0:
            started = True
        # A reply can be the first row a log kept (sequence number 0): still a reply.
        if event is reply_event:
            data = row[7]
            if data[:1] in ("4", "5") and data[1:3].isdigit():
                return None
    if not started or protocol is None or blocks > 1:
        return None
    return thumbprint, protocol
