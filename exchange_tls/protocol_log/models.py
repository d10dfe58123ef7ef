"""Models of SMTP protocol logs: rows, headers, sessions and their TLS facts."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
import operator
import warnings
from collections.abc import Iterable
from typing import Any, NamedTuple

import attrs

from exchange_tls import display
from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import ParseError
from exchange_tls.results import ReadResult
from exchange_tls.smtp import SmtpReply, parse_smtp_reply
from exchange_tls.sources import SourceRef

__all__ = [
    "CertificateIdentity",
    "ConnectFailure",
    "Direction",
    "Event",
    "ProtocolLog",
    "ProtocolLogHeader",
    "ProtocolLogRow",
    "SmtpSession",
    "TlsHandshake",
]


class Event(enum.Enum):
    """The ``event`` field: what a row records."""

    CONNECT = "+"
    DISCONNECT = "-"
    #: Sent by Exchange: commands on a send log, replies on a receive log.
    SEND = ">"
    #: Received by Exchange: replies on a send log, commands on a receive log.
    RECEIVE = "<"
    INFORMATION = "*"

    # Enum's own __hash__ is a Python function; members are singletons compared by
    # identity, so the identity hash is equivalent and keeps dict lookups on the hot
    # path in C.
    __hash__ = object.__hash__


class Direction(enum.Enum):
    """Which side of SMTP the log records."""

    #: ``SMTP Send Protocol Log``: Exchange is the client (send connectors).
    SEND = "send"
    #: ``SMTP Receive Protocol Log``: Exchange is the server (receive connectors).
    RECEIVE = "receive"

    __hash__ = object.__hash__  # see Event.__hash__


def _quote(field: str) -> str:
    """Quote a field the way Exchange's CSV writer does: only when it must."""
    if "," in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


@functools.lru_cache(maxsize=4096)
def _endpoint(text: str) -> Endpoint | None:
    # Endpoints repeat on every row of a session; parsing each distinct text once keeps
    # endpoint access cheap on the hot path.
    return Endpoint.parse(text) if text else None


class ProtocolLogRow(NamedTuple):
    """One row of a protocol log: a named tuple of its raw values.

    The fields are the nine of the log in their standard order, the two endpoints as
    written (:attr:`local_endpoint_text`, :attr:`remote_endpoint_text`), then where the
    row came from (:attr:`path`, :attr:`line`) and the log's :attr:`direction`.
    Properties add what is derived: the parsed :attr:`local_endpoint` and
    :attr:`remote_endpoint`, :attr:`source` and :attr:`text`. Rows compare, hash and
    pickle as tuples of their values. Build one by name with :meth:`create`, or many
    from columns with :meth:`from_columns` (what the reader does: a named tuple built in
    bulk costs no more than the former single-slot attrs object, see
    ``benchmarks/README.md``).

    >>> import datetime
    >>> row = ProtocolLogRow.create(
    ...     timestamp=datetime.datetime(2017, 10, 7, 4, 42, 56, tzinfo=datetime.timezone.utc),
    ...     connector_id="Outbound to Office 365",
    ...     session_id="08D50D3D9730A8D2",
    ...     sequence_number=21,
    ...     remote_endpoint="216.32.181.234:25",
    ...     event=Event.INFORMATION,
    ...     context="TLS negotiation failed with error UnknownCredentials",
    ...     path="SEND20171007-1.LOG",
    ...     line=27,
    ... )
    >>> row.event, str(row.remote_endpoint), str(row.source)
    (<Event.INFORMATION: '*'>, '216.32.181.234:25', 'SEND20171007-1.LOG:27')
    >>> row.remote_endpoint_text, row.local_endpoint
    ('216.32.181.234:25', None)
    """

    #: When the row was written, in UTC.
    timestamp: dt.datetime
    #: The connector: its name on send logs, ``SERVER\Name`` on receive logs.
    connector_id: str
    #: The session's 16 hex digits, shared by all its rows.
    session_id: str
    #: The row's place in its session, from 0; ``None`` when the field is not a number.
    sequence_number: int | None
    #: Exchange's end of the connection as written (``10.0.0.25:25``), or ``""``.
    local_endpoint_text: str
    #: The other end of the connection as written, or ``""``.
    remote_endpoint_text: str
    #: What the row records.
    event: Event
    #: The SMTP text or the value of an information row, as written.
    data: str
    #: The label or message of an information row, or a disconnect reason.
    context: str
    #: The file (or name) the row came from.
    path: str
    #: The row's line in :attr:`path`, from 1.
    line: int
    #: The log's direction, from its header or file name; ``None`` when unknown.
    direction: Direction | None

    @classmethod
    def create(
        cls,
        *,
        timestamp: dt.datetime,
        connector_id: str,
        session_id: str,
        sequence_number: int | None,
        event: Event,
        local_endpoint: str = "",
        remote_endpoint: str = "",
        data: str = "",
        context: str = "",
        path: str = "<row>",
        line: int = 1,
        direction: Direction | None = None,
    ) -> ProtocolLogRow:
        """Build a row from named values; endpoints are given as written in the log."""
        return cls(
            timestamp,
            connector_id,
            session_id,
            sequence_number,
            local_endpoint,
            remote_endpoint,
            event,
            data,
            context,
            path,
            line,
            direction,
        )

    @classmethod
    def from_columns(
        cls,
        columns: Iterable[Iterable[Any]],
        *,
        path: str,
        first_line: int,
        direction: Direction | None,
    ) -> list[ProtocolLogRow]:
        """Build rows in bulk from the nine columns of a batch, already typed.

        ``columns`` are the values of each field in the standard order (timestamps,
        connector ids, session ids, sequence numbers, local and remote endpoint texts,
        events, data, contexts), one column per field; the rows of the batch are on
        consecutive lines from ``first_line``. The rows are built by C calls only, with
        no Python ``__new__`` per row: that is what keeps typed rows close to the cost
        of splitting them.

        >>> import datetime
        >>> moment = datetime.datetime(2024, 3, 13, 9, 1, 19, tzinfo=datetime.timezone.utc)
        >>> rows = ProtocolLogRow.from_columns(
        ...     [(moment, moment), ("Out", "Out"), ("0A", "0A"), (0, 1), ("", ""),
        ...      ("", ""), (Event.CONNECT, Event.DISCONNECT), ("", ""), ("", "Local")],
        ...     path="SEND.LOG", first_line=6, direction=Direction.SEND,
        ... )
        >>> [(row.event.value, row.context, str(row.source)) for row in rows]
        [('+', '', 'SEND.LOG:6'), ('-', 'Local', 'SEND.LOG:7')]
        >>> rows[1] == ProtocolLogRow.create(
        ...     timestamp=moment, connector_id="Out", session_id="0A", sequence_number=1,
        ...     event=Event.DISCONNECT, context="Local", path="SEND.LOG", line=7,
        ...     direction=Direction.SEND,
        ... )
        True
        """
        # tuple.__new__ over zipped columns runs in C; the generated NamedTuple
        # __new__ is a Python function and would cost about as much as the rest.
        values = zip(
            *columns,
            itertools.repeat(path),
            itertools.count(first_line),
            itertools.repeat(direction),
        )
        return list(map(_new_row, itertools.repeat(cls), values))

    @property
    def local_endpoint(self) -> Endpoint | None:
        """Exchange's end of the connection, or ``None`` when the field is empty."""
        return _endpoint(self.local_endpoint_text)

    @property
    def remote_endpoint(self) -> Endpoint | None:
        """The other end of the connection, or ``None`` when the field is empty."""
        return _endpoint(self.remote_endpoint_text)

    @property
    def source(self) -> SourceRef:
        """The file and line the row came from."""
        return SourceRef(self.path, self.line)

    @property
    def text(self) -> str:
        """The row's message: ``data``, or ``context`` where ``data`` is empty."""
        return self.data or self.context

    def to_line(self) -> str:
        """Write the row as Exchange does: CSV, quoting only fields with ``,`` or ``"``.

        >>> import datetime
        >>> print(ProtocolLogRow.create(
        ...     timestamp=datetime.datetime(2017, 10, 7, 4, 42, 56, 804000, datetime.timezone.utc),
        ...     connector_id="Out", session_id="08D50D3D",
        ...     sequence_number=17, event=Event.INFORMATION,
        ...     data='CN=x, O="A" Inc', context="Certificate subject",
        ... ).to_line())
        2017-10-07T04:42:56.804Z,Out,08D50D3D,17,,,*,"CN=x, O=""A"" Inc",Certificate subject
        """
        moment = self.timestamp
        stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
        sequence = "" if self.sequence_number is None else str(self.sequence_number)
        fields = (
            stamp,
            self.connector_id,
            self.session_id,
            sequence,
            self.local_endpoint_text,
            self.remote_endpoint_text,
            self.event.value,
            self.data,
            self.context,
        )
        return ",".join(_quote(field) for field in fields)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-ready values."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "connector_id": self.connector_id,
            "session_id": self.session_id,
            "sequence_number": self.sequence_number,
            "local_endpoint": self.local_endpoint_text,
            "remote_endpoint": self.remote_endpoint_text,
            "event": self.event.value,
            "data": self.data,
            "context": self.context,
            "source": str(self.source),
        }

    def __repr__(self) -> str:
        return (
            f"ProtocolLogRow({self.source}, {self.session_id}#{self.sequence_number}, "
            f"{self.event.value!r}, data={self.data!r}, context={self.context!r})"
        )


_new_row = tuple.__new__


@attrs.frozen(kw_only=True)
class ProtocolLogHeader:
    """The ``#`` directives at the top of a protocol log."""

    software: str | None = None
    #: ``#Version``; it does not tell the Exchange version (2016 writes 15.0.0.0).
    version: str | None = None
    log_type: str | None = None
    date: dt.datetime | None = None
    fields: tuple[str, ...] = ()
    source: SourceRef | None = None

    @property
    def direction(self) -> Direction | None:
        """The direction ``#Log-type`` names, or ``None``."""
        log_type = (self.log_type or "").casefold()
        if "send" in log_type:
            return Direction.SEND
        if "receive" in log_type:
            return Direction.RECEIVE
        return None


@attrs.frozen(kw_only=True)
class ProtocolLog(ReadResult[ProtocolLogRow]):
    """A whole protocol log read into memory: a :class:`~exchange_tls.ReadResult` of rows.

    Its ``items`` are the rows (``rows`` is the same tuple, by its older name), with the
    log's header blocks; ``source`` names the log and ``format`` is ``"csv"``.
    """

    #: The ``#`` header blocks, in the order met (a log appended to has several).
    headers: tuple[ProtocolLogHeader, ...] = ()

    @property
    def rows(self) -> tuple[ProtocolLogRow, ...]:
        """The rows: the same tuple as ``items``, kept under the name it had."""
        return self.items

    @property
    def name(self) -> str:
        """Deprecated: the log's label, now ``source``; warns for one minor release."""
        warnings.warn(
            "ProtocolLog.name is deprecated; use ProtocolLog.source",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.source or "<log>"

    def __str__(self) -> str:
        return display.text(self)

    @property
    def header(self) -> ProtocolLogHeader | None:
        """The first header block, or ``None`` when the log has none."""
        return self.headers[0] if self.headers else None

    @property
    def direction(self) -> Direction | None:
        """The direction from the header, else the one the rows carry."""
        if self.header is not None and self.header.direction is not None:
            return self.header.direction
        return next((row.direction for row in self.rows if row.direction), None)


@attrs.frozen(kw_only=True)
class CertificateIdentity:
    """A certificate as a protocol log describes it."""

    subject: str | None = None
    issuer: str | None = None
    serial_number: str | None = None
    #: 40 hex digits, upper case, as the log writes it.
    thumbprint: str | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    alternate_names: tuple[str, ...] | None = attrs.field(default=None)
    #: ``Sending certificate``, ``Remote certificate``, ``Received certificate``.
    label: str | None = None
    #: The row where the certificate block starts.
    source: SourceRef | None = None
    #: The row that gives the thumbprint (the block's ``Certificate thumbprint`` row).
    thumbprint_source: SourceRef | None = None


@attrs.frozen(kw_only=True)
class ConnectFailure:
    """``Failed to connect. Winsock error code: …``: the TCP connection failed."""

    winsock_error: int | None
    win32_error: int | None
    message: str | None
    text: str
    source: SourceRef | None = None


@attrs.frozen(kw_only=True)
class TlsHandshake:
    """What a session's rows say about STARTTLS and the TLS handshake."""

    #: Whether the server's EHLO reply offered STARTTLS; ``None`` when not logged.
    starttls_offered: bool | None = None
    #: Whether the client sent STARTTLS.
    starttls_requested: bool = False
    #: ``True`` on the success line, ``False`` on the failure line, else ``None``.
    succeeded: bool | None = None
    #: The SSPI or socket error name, such as ``UnknownCredentials``.
    error: str | None = None
    #: The protocol, such as ``TLS1_2``; :attr:`protocol_raw` has ``SP_PROT_TLS1_2_CLIENT``.
    protocol: str | None = None
    protocol_raw: str | None = None
    #: The bulk encryption algorithm, such as ``CALG_AES_256``, and its strength in bits.
    cipher: str | None = None
    cipher_strength: int | None = None
    hash_algorithm: str | None = None
    hash_strength: int | None = None
    key_exchange: str | None = None
    key_exchange_strength: int | None = None
    #: The certificate Exchange presented (``Sending certificate``).
    local_certificate: CertificateIdentity | None = None
    #: The peer's certificate (``Remote certificate`` or ``Received certificate``).
    remote_certificate: CertificateIdentity | None = None
    #: ``Client certificate chain validation status: '…'`` (receive side).
    client_certificate_status: str | None = None
    #: ``TlsDomainCapabilities='…'`` and ``Status='…'``.
    domain_capabilities: str | None = None
    domain_status: str | None = None
    #: The rows that state these facts, in order: what a finding cites.
    evidence_rows: tuple[ProtocolLogRow, ...] = ()

    @property
    def evidence(self) -> tuple[SourceRef, ...]:
        """Where the rows that state these facts are: file and line, in order."""
        return tuple(row.source for row in self.evidence_rows)


_TIMESTAMP = operator.attrgetter("timestamp")


@attrs.frozen(kw_only=True)
class SmtpSession:
    """One SMTP session: its rows in sequence order, and what they say."""

    connector_id: str
    session_id: str
    direction: Direction | None
    rows: tuple[ProtocolLogRow, ...]
    #: Whether the session's disconnect row was seen.
    complete: bool
    tls: TlsHandshake | None = None
    connect_failure: ConnectFailure | None = None
    #: ``Outbound Authentication failed with …`` and similar, the error name.
    auth_failure: str | None = None
    #: The disconnect row's reason (``Local``, ``Remote(ConnectionReset)``).
    disconnect_reason: str | None = None

    @property
    def start(self) -> dt.datetime:
        """The first row's time."""
        # C-level maps: summaries ask every session for its times.
        moment: dt.datetime = min(map(_TIMESTAMP, self.rows))
        return moment

    @property
    def end(self) -> dt.datetime:
        """The last row's time."""
        moment: dt.datetime = max(map(_TIMESTAMP, self.rows))
        return moment

    @property
    def remote_endpoint(self) -> Endpoint | None:
        """The remote endpoint of the first row that names one."""
        return next((row.remote_endpoint for row in self.rows if row.remote_endpoint), None)

    @property
    def local_endpoint(self) -> Endpoint | None:
        """The local endpoint of the first row that names one."""
        return next((row.local_endpoint for row in self.rows if row.local_endpoint), None)

    @property
    def sources(self) -> tuple[str, ...]:
        """The files the session's rows came from, in order (rotated files span)."""
        return tuple(dict.fromkeys(row.source.source for row in self.rows))

    def _repr_html_(self) -> str:
        return display.html(self)

    def __str__(self) -> str:
        return display.text(self)

    @functools.cached_property
    def replies(self) -> tuple[SmtpReply, ...]:
        """The SMTP replies in the session, multi-line replies joined, parsed lazily."""
        reply_event = Event.RECEIVE if self.direction is not Direction.RECEIVE else Event.SEND
        replies: list[SmtpReply] = []
        pending: list[str] = []
        for row in self.rows:
            if row.event is not reply_event or not row.data[:3].isdigit():
                continue
            pending.append(row.data)
            if row.data[3:4] != "-":
                replies.extend(_reply(pending, row.source.source))
                pending = []
        if pending:
            replies.extend(_reply(pending, self.rows[-1].source.source))
        return tuple(replies)


def _reply(lines: list[str], source: str) -> list[SmtpReply]:
    try:
        return [parse_smtp_reply("\n".join(lines), source=source)]
    except ParseError:
        return []
