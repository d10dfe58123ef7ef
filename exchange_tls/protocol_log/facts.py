"""What a session's rows say: TLS, certificates, connection and authentication failures.

Theory of operation. One pass over a session's rows, in sequence order. C-level column
scans pick the rows that can state a fact: information rows (``*``), rows whose data
mention STARTTLS, and the first disconnect. Each goes to the handler of its event:

- information: :func:`_on_information`, which picks a handler by the text's prefix (the
  exact strings Exchange writes, ``domain.md`` §2, §8): a ``… certificate`` label reads
  the certificate block of ``Certificate …`` rows that follows (the loop then skips
  them), or the condensed one-row block; a ``Certificate …`` row with no label before it
  starts a block of its own; then the TLS failure and success lines, ``Failed to
  connect.``, the authentication failures, the client chain status and
  ``TlsDomainCapabilities``. Other information rows state nothing.
- disconnect: :func:`_on_disconnect` (the session is complete; its reason).
- the command event (``>`` on send logs, ``<`` on receive logs): :func:`_on_command`
  (STARTTLS sent).
- the reply event: :func:`_on_reply` (STARTTLS offered in the EHLO reply).

After the pass, :func:`_offer_refused` reads an EHLO reply that ended without STARTTLS,
and :func:`_handshake` builds the :class:`TlsHandshake` when anything about TLS was seen.
:func:`plain_success` is the same reading cut short, for the common successful session.
Only ``str`` methods and a few anchored regular expressions are used here; nothing is
parsed with a grammar.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from exchange_tls.powershell.dates import from_iso
from exchange_tls.protocol_log.lines import (
    CERTIFICATE as _CERTIFICATE,
)
from exchange_tls.protocol_log.lines import (
    CERTIFICATE_LABELS as _CERTIFICATE_LABELS,
)
from exchange_tls.protocol_log.lines import (
    PROTOCOL as _PROTOCOL,
)
from exchange_tls.protocol_log.lines import (
    SENDING as _SENDING,
)
from exchange_tls.protocol_log.lines import (
    THUMBPRINT_CONTEXT as _THUMBPRINT_CONTEXT,
)
from exchange_tls.protocol_log.lines import (
    TLS_FAILED as _TLS_FAILED,
)
from exchange_tls.protocol_log.lines import (
    TLS_SUCCEEDED as _TLS_SUCCEEDED,
)
from exchange_tls.protocol_log.lines import (
    InformationKind,
    classify_information,
    fact_text,
    is_certificate_context,
    is_error_reply,
    is_thumbprint_context,
    normalise_thumbprint,
)
from exchange_tls.protocol_log.lines import (
    normalise_thumbprint as _thumbprint,
)
from exchange_tls.protocol_log.models import (
    CertificateIdentity,
    ConnectFailure,
    Direction,
    Event,
    ProtocolLogRow,
    TlsHandshake,
)
from exchange_tls.sources import SourceRef

__all__ = [
    "InformationKind",
    "SessionFacts",
    "classify_information",
    "fact_text",
    "infer_direction",
    "is_certificate_context",
    "is_error_reply",
    "is_thumbprint_context",
    "normalise_thumbprint",
    "plain_success",
    "session_facts",
]

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
_CONDENSED_LABELS = "Subject Issuer name Serial number Thumbprint Not before Not after"
# The lookbehind starts the search only where a hex run starts: without it, a long run
# of hex digits is tried from each of its positions, which is quadratic.
_THUMBPRINT_AND_DATES = re.compile(
    r"(?<![0-9A-Fa-f])(?P<serial>[0-9A-Fa-f]+) (?P<thumbprint>[0-9A-Fa-f]{40}) "
    r"(?P<not_before>\d{4}-\d\d-\d\dT[\d:.]+Z) (?P<not_after>\d{4}-\d\d-\d\dT[\d:.]+Z)"
    r"(?: (?P<names>.*))?$"
)
# A second DN starts at a space that does not follow a comma and precedes "TYPE=".
_DN_BOUNDARY = re.compile(r"(?<!,) (?=[A-Za-z][A-Za-z0-9.]*=)")
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


def _block_identity(
    label: str, source: SourceRef, block: list[ProtocolLogRow]
) -> CertificateIdentity:
    """Read the classic block: ``block`` holds its rows, one ``Certificate …`` each."""
    contexts = list(map(_CONTEXT, block))
    # Later rows win, as they would when read one by one.
    names = [context[len(_CERTIFICATE) :] for context in contexts]
    values = dict(zip(names, map(_DATA, block), strict=True))
    thumbprint_source = None
    if "thumbprint" in values:
        last = len(block) - 1 - contexts[::-1].index(_THUMBPRINT_CONTEXT)
        thumbprint_source = block[last].source
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


# A row's field by its place in the tuple: attrgetter would go through the field's
# descriptor on each call, which costs about three times as much on these hot paths.
_EVENT = operator.itemgetter(ProtocolLogRow._fields.index("event"))
_DATA = operator.itemgetter(ProtocolLogRow._fields.index("data"))
_CONTEXT = operator.itemgetter(ProtocolLogRow._fields.index("context"))


def _indexes(flags: Iterable[object]) -> list[int]:
    """Return the positions where ``flags`` is true, without a Python-level loop."""
    return list(itertools.compress(itertools.count(), flags))


class _Pass:
    """One pass over a session's rows: the columns it reads and what it has found."""

    __slots__ = (
        "chain_status",
        "data",
        "domain",
        "error",
        "events",
        "evidence",
        "facts",
        "first_tls",
        "local",
        "offered",
        "remote",
        "requested",
        "rows",
        "skip_until",
        "succeeded",
        "success",
    )

    def __init__(self, rows: list[ProtocolLogRow]) -> None:
        self.rows = rows
        self.events: list[Event] = list(map(_EVENT, rows))
        self.data: list[str] = list(map(_DATA, rows))
        self.facts = SessionFacts()
        self.offered: bool | None = None
        self.requested = False
        #: The first row that shows TLS at work; an EHLO reply after it says nothing
        #: about the offer.
        self.first_tls: int | None = None
        self.succeeded: bool | None = None
        self.error: str | None = None
        self.success: re.Match[str] | None = None
        self.local: CertificateIdentity | None = None
        self.remote: CertificateIdentity | None = None
        self.chain_status: str | None = None
        self.domain: re.Match[str] | None = None
        self.evidence: list[ProtocolLogRow] = []
        #: Rows before this index belong to a certificate block already read.
        self.skip_until = -1

    def tls_evidence(self, index: int) -> None:
        """Cite row ``index`` as a TLS fact, and note the first such row."""
        if self.first_tls is None:
            self.first_tls = index
        self.evidence.append(self.rows[index])


# -- handlers of information rows, picked by the text's prefix ----------------------------


def _read_block(state: _Pass, index: int, label: str, start: int) -> None:
    """Read the run of ``Certificate …`` rows from ``start``, labelled by row ``index``."""
    rows, events = state.rows, state.events
    end, count, information = start, len(events), Event.INFORMATION
    while end < count and events[end] is information and rows[end].context.startswith(_CERTIFICATE):
        end += 1
    state.tls_evidence(index)
    identity = _block_identity(label, rows[index].source, rows[start:end])
    _keep_certificate(state, label, identity)
    state.skip_until = end


def _keep_certificate(state: _Pass, label: str, identity: CertificateIdentity) -> None:
    if label == _SENDING:
        state.local = identity
    else:
        state.remote = identity


def _on_certificate_label(state: _Pass, index: int, text: str) -> None:
    """Read the certificate a label (``Sending certificate``…) introduces: a block or one row."""
    label = text[: text.index(" certificate") + len(" certificate")]
    if _CONDENSED_LABELS in text:
        state.tls_evidence(index)
        _keep_certificate(state, label, _condensed(state.rows[index], label))
    else:
        _read_block(state, index, label, index + 1)


def _on_tls_failed(state: _Pass, index: int, text: str) -> None:
    state.tls_evidence(index)
    state.succeeded = False
    state.error = text[len(_TLS_FAILED) :].strip() or None


def _on_tls_succeeded(state: _Pass, index: int, text: str) -> None:
    state.tls_evidence(index)
    state.success = _TLS_SUCCEEDED.match(text)
    if state.success is not None:
        state.succeeded = True


def _on_connect_failed(state: _Pass, index: int, text: str) -> None:
    match = _CONNECT_FAILED.match(text)
    state.facts.connect_failure = ConnectFailure(
        winsock_error=int(match.group("winsock")) if match else None,
        win32_error=int(match.group("win32")) if match else None,
        message=(match.group("message") or None) if match else None,
        text=text,
        source=state.rows[index].source,
    )


def _on_auth_failed(state: _Pass, index: int, text: str) -> None:
    match = _AUTH_FAILED.match(text)
    if match is not None:
        state.facts.auth_failure = match.group("error")


def _on_chain_status(state: _Pass, index: int, text: str) -> None:
    status = _CHAIN_STATUS.match(text)
    state.chain_status = status.group("status") if status else None
    state.evidence.append(state.rows[index])


def _on_domain(state: _Pass, index: int, text: str) -> None:
    state.domain = _DOMAIN.match(text)
    state.evidence.append(state.rows[index])


_InformationHandler = Callable[[_Pass, int, str], None]
# Tried in order; the first prefix the text starts with picks the handler.
_INFORMATION_HANDLERS: tuple[tuple[str | tuple[str, ...], _InformationHandler], ...] = (
    (_CERTIFICATE_LABELS, _on_certificate_label),
    (_TLS_FAILED, _on_tls_failed),
    ("TLS protocol ", _on_tls_succeeded),
    ("Failed to connect.", _on_connect_failed),
    (("Outbound Authentication failed", "Inbound AUTH"), _on_auth_failed),
    ("Client certificate chain validation status", _on_chain_status),
    ("TlsDomainCapabilities=", _on_domain),
)


# -- handlers of rows, picked by the row's event ------------------------------------------


def _on_information(state: _Pass, index: int) -> None:
    row = state.rows[index]
    context, data = row.context, row.data
    if context.startswith(_CERTIFICATE) and data:
        # A block whose label row is missing (an excerpt): Exchange labels the
        # certificate it presents "Sending certificate", so that is what it is.
        _read_block(state, index, _SENDING, index)
        return
    text = context or data
    for prefix, handler in _INFORMATION_HANDLERS:
        if text.startswith(prefix):
            handler(state, index, text)
            return


def _on_disconnect(state: _Pass, index: int) -> None:
    state.facts.complete = True
    row = state.rows[index]
    state.facts.disconnect_reason = row.context or row.data or None


def _on_command(state: _Pass, index: int) -> None:
    if state.data[index][:8].upper().startswith("STARTTLS"):
        state.requested = True
        state.tls_evidence(index)


def _on_reply(state: _Pass, index: int) -> None:
    data = state.data[index]
    if data.startswith("250") and "STARTTLS" in data.replace("-", " ").split():
        # A STARTTLS offer: "250-STARTTLS", or inside the one-line EHLO reply of
        # Exchange 2013 and later.
        state.offered = True


_RowHandler = Callable[[_Pass, int], None]
# Exchange sends commands on a send log and replies on a receive log (see Event).
_SEND_HANDLERS: dict[Event, _RowHandler] = {
    Event.INFORMATION: _on_information,
    Event.DISCONNECT: _on_disconnect,
    Event.SEND: _on_command,
    Event.RECEIVE: _on_reply,
}
_RECEIVE_HANDLERS: dict[Event, _RowHandler] = {
    **_SEND_HANDLERS,
    Event.RECEIVE: _on_command,
    Event.SEND: _on_reply,
}


def session_facts(rows: list[ProtocolLogRow], direction: Direction | None) -> SessionFacts:
    """Gather the facts of one session from its rows, in sequence order.

    Most rows are plain SMTP traffic. Column-wise C-level scans pick out the rows that
    can state a fact (information rows, the disconnect, STARTTLS and EHLO), and only
    those go to the handler of their event (see the module's docstring).
    """
    state = _Pass(rows)
    events = state.events
    information = _indexes(map(operator.is_, events, itertools.repeat(Event.INFORMATION)))
    starttls = _indexes(map(operator.contains, state.data, itertools.repeat("STARTTLS")))
    interesting = sorted({*information, *starttls})
    if Event.DISCONNECT in events:
        interesting.append(events.index(Event.DISCONNECT))
        interesting.sort()
    receive = direction is Direction.RECEIVE
    handlers = _RECEIVE_HANDLERS if receive else _SEND_HANDLERS
    for index in interesting:
        if index < state.skip_until:
            continue
        handler = handlers.get(events[index])
        if handler is not None:
            handler(state, index)
    if state.offered is None:
        command_event = Event.RECEIVE if receive else Event.SEND
        reply_event = Event.SEND if receive else Event.RECEIVE
        state.offered = _offer_refused(
            events, state.data, state.first_tls, command_event, reply_event, len(rows)
        )
    if state.first_tls is not None or state.offered is not None:
        state.facts.tls = _handshake(state)
    return state.facts


def _handshake(state: _Pass) -> TlsHandshake:
    """Build the handshake from what the pass found."""
    success = state.success
    protocol_raw, cipher, cipher_bits, hash_name, hash_bits, kex, kex_bits = (
        success.groups() if success else (None,) * 7
    )
    version = _PROTOCOL.match(protocol_raw) if protocol_raw else None
    domain = state.domain
    return TlsHandshake(
        starttls_offered=state.offered,
        starttls_requested=state.requested,
        succeeded=state.succeeded,
        error=state.error,
        protocol=version.group("version") if version else protocol_raw,
        protocol_raw=protocol_raw,
        cipher=cipher,
        cipher_strength=int(cipher_bits) if cipher_bits else None,
        hash_algorithm=hash_name,
        hash_strength=int(hash_bits) if hash_bits else None,
        key_exchange=kex,
        key_exchange_strength=int(kex_bits) if kex_bits else None,
        local_certificate=state.local,
        remote_certificate=state.remote,
        client_certificate_status=state.chain_status,
        domain_capabilities=domain.group("capabilities") if domain else None,
        domain_status=domain.group("status") if domain else None,
        evidence_rows=tuple(state.evidence),
    )


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


def plain_success(
    rows: Sequence[ProtocolLogRow],
    direction: Direction,
    columns: Sequence[tuple[Any, ...]] | None = None,
) -> tuple[str | None, str | None] | None:
    """Return the certificate thumbprint and protocol of a plainly successful session.

    A plain success is the common case, read without building any model: the session
    began here (a connect row or sequence number 0), negotiated TLS, presented one
    certificate in the usual block, and met no failure, no error reply and nothing else
    :func:`session_facts` would have to weigh. Anything else returns ``None``, and the
    session is read in full. What this returns is what :func:`session_facts` finds for
    the same rows (a test holds them to it).

    Most sessions are plain, and most plain sessions of a log have the same shape: the
    same events and contexts row by row. What the information rows say depends on that
    shape alone when each has a context, so it is read once per shape
    (:class:`_PlainShape`); each session then costs a few C-level scans of its columns:
    its shape, its replies' first characters and its thumbprint.

    ``columns``, when given, are the rows' columns, one tuple per field
    (:func:`~exchange_tls.protocol_log.sessions.ordered_columns` gives them): the
    summary has taken them already, and they are read instead of the rows.
    """
    if columns is None:
        data = None
        events, contexts = tuple(map(_EVENT, rows)), tuple(map(_CONTEXT, rows))
    else:
        data = columns[_DATA_PLACE]
        events, contexts = columns[_EVENT_PLACE], columns[_CONTEXT_PLACE]
    key = (direction, events, contexts)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _PlainShape(events, contexts, direction)
        if len(_SHAPES) >= _MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = shape
    if not shape.readable:
        return _plain_success_row_by_row(rows, direction)
    if shape.protocol is None:
        return None
    # A reply that begins with 4 or 5 is read whole, as the row-by-row reading does.
    if shape.replies is not None:
        # The picker takes the same places of the rows or of their data column.
        replies = tuple(map(_DATA, shape.replies(rows))) if data is None else shape.replies(data)
        if not _ERROR_HEADS.isdisjoint(map(_HEAD, replies)) and any(map(is_error_reply, replies)):
            return None
    if shape.thumbprint is None:
        return None, shape.protocol
    at = shape.thumbprint
    return _thumbprint(rows[at].data if data is None else data[at]), shape.protocol


_HEAD = operator.itemgetter(slice(0, 1))
_EVENT_PLACE = ProtocolLogRow._fields.index("event")
_DATA_PLACE = ProtocolLogRow._fields.index("data")
_CONTEXT_PLACE = ProtocolLogRow._fields.index("context")
_ERROR_HEADS = frozenset("45")
# Distinct shapes are few (a log's sessions differ in their number of recipients and
# replies); the cap only bounds a pathological log.
_MAX_SHAPES = 4096


class _PlainShape:
    """What :func:`plain_success` reads from a session's events and contexts alone.

    ``readable`` is false when that is not enough: an information row without a context
    (its data is read instead), or no connect row (sequence number 0 decides); such a
    session is read row by row. Otherwise ``protocol`` is what the session negotiated, or
    ``None`` when its shape is no plain success; ``thumbprint`` is the row whose data is
    the thumbprint, and ``replies`` picks the replies' places from the rows or from their
    data column (``None`` when there are none).
    """

    __slots__ = ("protocol", "readable", "replies", "thumbprint")

    def __init__(
        self, events: tuple[Event, ...], contexts: tuple[str, ...], direction: Direction
    ) -> None:
        information = Event.INFORMATION
        self.readable = Event.CONNECT in events and all(
            context for event, context in zip(events, contexts, strict=True) if event is information
        )
        self.protocol: str | None = None
        self.thumbprint: int | None = None
        self.replies: Callable[[Sequence[Any]], tuple[Any, ...]] | None = None
        if not self.readable:
            return
        reply_event = Event.SEND if direction is Direction.RECEIVE else Event.RECEIVE
        replies = _indexes(event is reply_event for event in events)
        if len(replies) == 1:
            only = replies[0]
            self.replies = lambda data: (data[only],)
        elif replies:
            self.replies = operator.itemgetter(*replies)
        in_block = False
        blocks = 0
        thumbprint: int | None = None
        protocol: str | None = None
        for index, (event, context) in enumerate(zip(events, contexts, strict=True)):
            if event is not information:
                in_block = False
                continue
            if is_certificate_context(context):
                if not in_block:
                    return
                if is_thumbprint_context(context):
                    thumbprint = index
                continue
            in_block = False
            kind, named = classify_information(context)
            if kind is InformationKind.SENDING:
                blocks += 1
                in_block = True
            elif kind is InformationKind.TLS_SUCCEEDED:
                if protocol is not None:
                    return
                protocol = named
            elif kind is not InformationKind.OTHER:
                return
        if blocks <= 1:
            self.protocol, self.thumbprint = protocol, thumbprint


_SHAPES: dict[tuple[Direction, tuple[Event, ...], tuple[str, ...]], _PlainShape] = {}


def _plain_success_row_by_row(
    rows: Sequence[ProtocolLogRow], direction: Direction
) -> tuple[str | None, str | None] | None:
    """Read :func:`plain_success` one row at a time, for a shape its columns cannot settle."""
    reply_event = Event.SEND if direction is Direction.RECEIVE else Event.RECEIVE
    information = Event.INFORMATION
    started = False
    in_block = False
    blocks = 0
    thumbprint: str | None = None
    protocol: str | None = None
    for row in rows:
        event = row.event
        if event is information:
            data, context = row.data, row.context
            if is_certificate_context(context):
                if not in_block:
                    return None
                if is_thumbprint_context(context):
                    thumbprint = _thumbprint(data)
                continue
            in_block = False
            kind, named = classify_information(context or data)
            if kind is InformationKind.SENDING:
                blocks += 1
                in_block = True
            elif kind is InformationKind.TLS_SUCCEEDED:
                if protocol is not None:
                    return None
                protocol = named
            elif kind is not InformationKind.OTHER:
                return None
            continue
        in_block = False
        if event is Event.CONNECT or row.sequence_number == 0:
            started = True
        # Not elif: a session's row 0 can be an error reply (an excerpt that lost its
        # connect row), and that is no plain success.
        if event is reply_event and is_error_reply(row.data):
            return None
    if not started or protocol is None or blocks > 1:
        return None
    return thumbprint, protocol
