"""The evidence kinds, in one table: how each is recognised, read, merged, named and counted.

A kind of evidence is one :class:`Kind` entry: how to recognise it from a file's content
(its first characters, or the PowerShell records they read as), how to parse it, the
:class:`~exchange_tls.Evidence` field it fills, what a user collects to provide it, the
key that says two records are the same object, how its records name their server, and
whether the coverage counts it. Everything that handles evidence by kind is a loop over
this table: :func:`~exchange_tls.load_evidence` over :data:`KINDS`,
:meth:`Evidence.merge <exchange_tls.Evidence.merge>`, ``Evidence.is_empty``, the scopes,
``available_kinds`` and the coverage's counts over :data:`ALL_KINDS`. A new kind of
evidence is its package, one entry here and its typed field on ``Evidence``
(CONTRIBUTING.md shows the diff).

Protocol logs are streamed and summarised, not parsed whole (:mod:`exchange_tls.pipeline`),
so they are not in :data:`KINDS`; :data:`LOG_KINDS` describes them for merging, scopes
and coverage. Recognition goes in the table's order: first the kinds whose text says
what they are (the manifest, a ``.reg`` export, event XML), then the PowerShell kinds by
their .NET type names, then by the properties their records carry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from exchange_tls.certificates.reader import parse_certificates
from exchange_tls.connectors.hybrid import (
    hybrid_key,
    looks_like_hybrid_configuration,
    parse_hybrid_configuration,
)
from exchange_tls.connectors.reader import parse_receive_connectors, parse_send_connectors
from exchange_tls.errors import Problem, Severity
from exchange_tls.events.models import event_key
from exchange_tls.events.reader import parse_events, recognises_events
from exchange_tls.inventory.reader import inventory_key, looks_like_inventory, parse_inventory
from exchange_tls.manifest import looks_like_manifest, parse_manifest
from exchange_tls.merging import merge_records
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.records import PSObject
from exchange_tls.probe_results.saved import looks_like_probe_results, parse_probe_results
from exchange_tls.protocol_log.models import Direction, SmtpSession
from exchange_tls.protocol_log.reader import parse_protocol_log
from exchange_tls.protocol_log.sessions import assemble_sessions
from exchange_tls.protocol_log.summary import SessionSummary
from exchange_tls.queues.reader import parse_queues
from exchange_tls.tls_reports.reader import looks_like_tls_report, parse_tls_reports
from exchange_tls.tls_settings.reader import parse_tls_settings, recognises_tls_settings

__all__ = ["ALL_KINDS", "KINDS", "LOG_KINDS", "Kind", "ReadOptions", "kind_named", "recognise"]


@attrs.frozen(kw_only=True)
class ReadOptions:
    """What every parser may need beyond the text: the day order and the zone of dates."""

    date_order: DateOrder | None = None
    tz: dt.tzinfo = dt.timezone.utc


#: ``parse(text, source, options)``: the records of a file, and its problems.
Parse = Callable[[str, str, ReadOptions], tuple[Sequence[object], Sequence[Problem]]]


@attrs.frozen(kw_only=True)
class Kind:
    """One kind of evidence (see the module's docstring).

    >>> queues = kind_named("queues")
    >>> queues.field, queues.noun, queues.description
    ('queues', 'queue', 'Get-Queue | Format-List *')
    """

    #: The kind's name, as ``LoadedFile.kind``, the rules' ``inputs`` and the coverage say it.
    name: str
    #: The :class:`~exchange_tls.Evidence` field its records go to.
    field: str
    #: One record, in words (``"send connector"``): conflicts and problems name it so.
    noun: str
    #: What a user collects to provide it; the coverage's advice quotes it.
    description: str
    parse: Parse = attrs.field(repr=False)
    #: Whether the start of a file's text is of this kind, before reading records.
    recognise_text: Callable[[str], bool] | None = attrs.field(default=None, repr=False)
    #: Whether a file's PowerShell records are of this kind, beyond the properties below.
    recognise_records: Callable[[list[PSObject]], bool] | None = attrs.field(
        default=None, repr=False
    )
    #: A .NET type name that settles the kind (``ExchangeCertificate``).
    type_name: str | None = None
    #: The most telling properties of its records, scored when no type name settles it.
    properties: tuple[str, ...] = ()
    #: Which records are the same object, for merging; ``None``: records never merge.
    key: Callable[[Any], object] | None = attrs.field(default=None, repr=False)
    #: The servers a record names (a queue's ``EX01\\9``), for telling servers apart.
    servers: Callable[[Any], Iterable[str | None]] | None = attrs.field(default=None, repr=False)
    #: Whether the field holds one record (or ``None``) rather than a tuple of them.
    single: bool = False
    #: Whether the coverage counts it and it makes evidence non-empty: the manifest only
    #: describes the collection, so it is not counted.
    counted: bool = True
    #: Which of the field's records are of this kind, when kinds share a field (the
    #: protocol logs share ``sessions``, by direction).
    holds: Callable[[Any], bool] | None = attrs.field(default=None, repr=False)
    #: How many a session summary counted, when the logs were summarised.
    summarised: Callable[[SessionSummary], int] | None = attrs.field(default=None, repr=False)

    def field_records(self, evidence: object) -> tuple[Any, ...]:
        """Return the records of this kind's field in ``evidence`` (an ``Evidence``)."""
        value = getattr(evidence, self.field)
        if self.single:
            return () if value is None else (value,)
        return tuple(value)

    def records(self, evidence: object) -> tuple[Any, ...]:
        """Return this kind's records in ``evidence``: its field's, of this kind only."""
        records = self.field_records(evidence)
        if self.holds is None:
            return records
        return tuple(record for record in records if self.holds(record))

    def count(self, evidence: object) -> int:
        """Return how many records of this kind ``evidence`` holds, as the coverage counts."""
        if not self.counted:
            return 0
        summary = getattr(evidence, "summary", None)
        if self.summarised is not None and summary is not None:
            return self.summarised(summary)
        return len(self.records(evidence))

    def merge(self, records: Iterable[Any]) -> tuple[list[Any], list[Problem]]:
        """Return records of several files or folders as one object each, and the conflicts.

        Records the :attr:`key` says are one object are merged
        (:func:`~exchange_tls.merging.merge_records`); a :attr:`single` kind keeps the
        first record and says so when a later one differs.
        """
        items = list(records)
        if self.single:
            later = [item for item in items[1:] if _facts(item) != _facts(items[0])]
            if not later:
                return items[:1], []
            return items[:1], [
                Problem(
                    message=f"a second {self.noun}; the first one is used",
                    source=str(getattr(later[0], "source", None) or f"<{self.name}>"),
                    severity=Severity.WARNING,
                    code=f"second-{self.name}",
                )
            ]
        if self.key is None:
            return items, []
        return merge_records(items, self.key, kind=self.noun)

    def named_servers(self, evidence: object) -> list[str | None]:
        """Return the servers this kind's records in ``evidence`` name, in order."""
        if self.servers is None:
            return []
        return [name for record in self.records(evidence) for name in self.servers(record)]


def _facts(record: Any) -> Any:
    """Return a record without where it came from: two files may state the same facts."""
    if attrs.has(type(record)) and "source" in attrs.fields_dict(type(record)):
        return attrs.evolve(record, source=None)
    return record


def _reader(parse: Callable[..., Any], *, dated: bool = False) -> Parse:
    """Adapt a ``parse_*`` reader to the table: its records and problems; dates if it has."""

    def read(
        text: str, source: str, options: ReadOptions
    ) -> tuple[list[object], Sequence[Problem]]:
        dates = {"date_order": options.date_order, "tz": options.tz} if dated else {}
        result = parse(text, source=source, **dates)
        return list(result), result.problems

    return read


def _fold_name(record: object) -> object:
    return (getattr(record, "name", None) or "").casefold() or None


def _single_source_server(connector: Any) -> tuple[str, ...]:
    """Return a send connector's source transport server when it has only one."""
    servers = connector.source_transport_servers or ()
    return servers if len(servers) == 1 else ()


def _sessions(direction: Direction) -> Parse:
    """Read a small protocol log whole: its sessions of one direction (files are streamed)."""

    def read(
        text: str, source: str, options: ReadOptions
    ) -> tuple[list[object], Sequence[Problem]]:
        log = parse_protocol_log(text, source=source)
        sessions = [s for s in assemble_sessions(log) if _direction(s) is direction]
        return list(sessions), log.problems

    return read


def _direction(session: SmtpSession) -> Direction:
    return Direction.RECEIVE if session.direction is Direction.RECEIVE else Direction.SEND


#: The protocol logs, by direction: streamed and summarised by :mod:`exchange_tls.pipeline`
#: rather than read by :func:`~exchange_tls.load_evidence`'s loop; here for merging, scopes
#: and coverage. Both fill ``sessions``, which a summary may stand behind.
LOG_KINDS: tuple[Kind, ...] = (
    Kind(
        name="send-log",
        field="sessions",
        noun="send session",
        description="a send protocol log (TransportRoles\\Logs\\Hub\\ProtocolLog\\SmtpSend)",
        parse=_sessions(Direction.SEND),
        holds=lambda session: _direction(session) is Direction.SEND,
        summarised=lambda summary: summary.send_sessions,
    ),
    Kind(
        name="receive-log",
        field="sessions",
        noun="receive session",
        description=(
            "a receive protocol log (TransportRoles\\Logs\\FrontEnd\\ProtocolLog\\SmtpReceive)"
        ),
        parse=_sessions(Direction.RECEIVE),
        holds=lambda session: _direction(session) is Direction.RECEIVE,
        summarised=lambda summary: summary.receive_sessions,
    ),
)


#: Every kind of evidence but protocol logs, in the order they are recognised.
KINDS: tuple[Kind, ...] = (
    Kind(
        name="manifest",
        field="manifest",
        noun="collector manifest",
        description="the collector's manifest.json (Export-ExchangeTlsEvidence.ps1)",
        single=True,
        counted=False,
        servers=lambda manifest: (manifest.server,),
        parse=_reader(parse_manifest),
        recognise_text=looks_like_manifest,
    ),
    Kind(
        name="tls-reports",
        field="tls_reports",
        noun="TLS report",
        description="SMTP TLS reports (RFC 8460), mailed to the rua address of _smtp._tls.<domain>",
        parse=_reader(parse_tls_reports),
        recognise_text=looks_like_tls_report,
    ),
    Kind(
        name="probes",
        field="probes",
        noun="probe",
        description="a saved probe of the remote host (exchange-tls probe HOST --format json "
        "-o FILE)",
        parse=_reader(parse_probe_results),
        recognise_text=looks_like_probe_results,
        key=lambda probe: (probe.host.casefold(), probe.port, probe.probed_at),
    ),
    Kind(
        name="tls-settings",
        field="tls_settings",
        noun="registry export",
        description="the SCHANNEL and .NET Framework registry keys (reg export)",
        parse=_reader(parse_tls_settings),
        recognise_text=recognises_tls_settings,
        recognise_records=lambda records: recognises_tls_settings("", records),
    ),
    Kind(
        name="events",
        field="events",
        noun="event",
        description="the MSExchangeTransport and Schannel events (Get-WinEvent)",
        parse=_reader(parse_events, dated=True),
        recognise_text=recognises_events,
        recognise_records=lambda records: recognises_events("", records),
        key=event_key,
    ),
    Kind(
        name="hybrid-configuration",
        field="hybrid_configurations",
        noun="hybrid configuration",
        description="Get-HybridConfiguration | Format-List *",
        parse=_reader(parse_hybrid_configuration),
        recognise_records=looks_like_hybrid_configuration,
        key=hybrid_key,
    ),
    Kind(
        name="inventory",
        field="inventory",
        noun="server inventory record",
        description="Get-ExchangeServer | Format-List * and Get-CimInstance "
        "Win32_OperatingSystem | Format-List Caption,Version,BuildNumber",
        parse=_reader(parse_inventory),
        recognise_records=looks_like_inventory,
        key=inventory_key,
    ),
    Kind(
        name="certificates",
        field="certificates",
        noun="certificate",
        description="Get-ExchangeCertificate | Format-List *",
        parse=_reader(parse_certificates, dated=True),
        type_name="ExchangeCertificate",
        properties=("Thumbprint", "RawData", "CertificateDomains", "HasPrivateKey", "RootCAType"),
        key=lambda certificate: getattr(certificate, "thumbprint", None),
    ),
    Kind(
        name="queues",
        field="queues",
        noun="queue",
        description="Get-Queue | Format-List *",
        parse=_reader(parse_queues, dated=True),
        type_name="QueueInfo",
        properties=(
            "DeliveryType",
            "NextHopDomain",
            "MessageCount",
            "LastError",
            "NextHopCategory",
        ),
        key=lambda queue: getattr(queue, "identity", None),
        servers=lambda queue: (queue.server,),
    ),
    Kind(
        name="send-connectors",
        field="send_connectors",
        noun="send connector",
        description="Get-SendConnector | Format-List *",
        parse=_reader(parse_send_connectors),
        type_name="SmtpSendConnectorConfig",
        properties=("SmartHosts", "AddressSpaces", "IgnoreSTARTTLS", "DNSRoutingEnabled"),
        key=_fold_name,
        servers=_single_source_server,
    ),
    Kind(
        name="receive-connectors",
        field="receive_connectors",
        noun="receive connector",
        description="Get-ReceiveConnector | Format-List *",
        parse=_reader(parse_receive_connectors),
        type_name="ReceiveConnector",
        properties=("Bindings", "RemoteIPRanges", "AuthMechanism", "PermissionGroups"),
        key=lambda connector: (
            getattr(connector, "identity", None) or getattr(connector, "name", None)
        ),
        servers=lambda connector: (connector.server,),
    ),
)

#: Every kind, the protocol logs first: what merging, scopes and coverage iterate.
ALL_KINDS: tuple[Kind, ...] = (*LOG_KINDS, *KINDS)


def kind_named(name: str) -> Kind:
    """Return the kind with this name; raises ``LookupError`` if there is none.

    >>> kind_named("certificates").field, kind_named("send-log").field
    ('certificates', 'sessions')
    """
    entry = next((kind for kind in ALL_KINDS if kind.name == name), None)
    if entry is None:
        raise LookupError(f"no evidence kind {name!r}")
    return entry


def recognise(head: str, records: list[PSObject] | None) -> Kind | None:
    r"""Return the kind a file's start (and its records, if it reads as any) shows, or ``None``.

    >>> recognise("Windows Registry Editor Version 5.00\n", None).name
    'tls-settings'
    """
    for kind in KINDS:
        if kind.recognise_text is not None and kind.recognise_text(head):
            return kind
    if records is None:
        return None
    for kind in KINDS:
        if kind.recognise_records is not None and kind.recognise_records(records):
            return kind
    scores = {kind.name: 0 for kind in KINDS if kind.properties}
    for record in records[:20]:
        names = " ".join(record.type_names)
        for kind in KINDS:
            if kind.type_name is not None and kind.type_name in names:
                return kind
        for kind in KINDS:
            if kind.properties:
                scores[kind.name] += sum(record.get(name) is not None for name in kind.properties)
    name, score = max(scores.items(), key=lambda item: item[1])
    return kind_named(name) if score else None
