"""The evidence kinds, in one table: how each is recognised, read, merged and stored.

A kind of evidence is one :class:`Kind` entry: how to recognise it from a file's content
(its first characters, or the PowerShell records they read as), how to parse it, the key
that says two records are the same object, and the :class:`~exchange_tls.Evidence` field
it fills. :func:`~exchange_tls.load_evidence` is a loop over :data:`KINDS`; a new kind of
evidence is its package plus one entry here.

Protocol logs are not in the table: they are streamed and summarised, not parsed whole
(:mod:`exchange_tls.pipeline`). Recognition goes in the table's order: first the kinds
whose text says what they are (the manifest, a ``.reg`` export, event XML), then the
PowerShell kinds by their .NET type names, then by the properties their records carry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from exchange_tls.certificates.reader import parse_certificates
from exchange_tls.connectors.hybrid import (
    hybrid_key,
    looks_like_hybrid_configuration,
    parse_hybrid_configuration,
)
from exchange_tls.connectors.reader import parse_receive_connectors, parse_send_connectors
from exchange_tls.errors import Problem
from exchange_tls.events.models import event_key
from exchange_tls.events.reader import parse_events, recognises_events
from exchange_tls.manifest import looks_like_manifest, parse_manifest
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.records import PSObject
from exchange_tls.queues.reader import parse_queues
from exchange_tls.tls_reports.reader import looks_like_tls_report, parse_tls_reports
from exchange_tls.tls_settings.reader import parse_tls_settings, recognises_tls_settings

__all__ = ["KINDS", "Kind", "ReadOptions", "kind_named", "recognise"]


@attrs.frozen(kw_only=True)
class ReadOptions:
    """What every parser may need beyond the text: the day order and the zone of dates."""

    date_order: DateOrder | None = None
    tz: dt.tzinfo = dt.timezone.utc


#: ``parse(text, source, options)``: the records of a file, and its problems.
Parse = Callable[[str, str, ReadOptions], tuple[Sequence[object], Sequence[Problem]]]


@attrs.frozen(kw_only=True)
class Kind:
    """One kind of evidence (see the module's docstring)."""

    #: The kind's name, as ``LoadedFile.kind`` and the coverage say it.
    name: str
    #: The :class:`~exchange_tls.Evidence` field its records go to.
    field: str
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
    key: Callable[[object], object] | None = attrs.field(default=None, repr=False)


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


#: Every kind of evidence but protocol logs, in the order they are recognised.
KINDS: tuple[Kind, ...] = (
    Kind(
        name="manifest",
        field="manifest",
        parse=_reader(parse_manifest),
        recognise_text=looks_like_manifest,
    ),
    Kind(
        name="tls-reports",
        field="tls_reports",
        parse=_reader(parse_tls_reports),
        recognise_text=looks_like_tls_report,
    ),
    Kind(
        name="tls-settings",
        field="tls_settings",
        parse=_reader(parse_tls_settings),
        recognise_text=recognises_tls_settings,
        recognise_records=lambda records: recognises_tls_settings("", records),
    ),
    Kind(
        name="events",
        field="events",
        parse=_reader(parse_events, dated=True),
        recognise_text=recognises_events,
        recognise_records=lambda records: recognises_events("", records),
        key=event_key,  # type: ignore[arg-type] # an attrs field takes any callable of one record
    ),
    Kind(
        name="hybrid-configuration",
        field="hybrid_configurations",
        parse=_reader(parse_hybrid_configuration),
        recognise_records=looks_like_hybrid_configuration,
        key=hybrid_key,  # type: ignore[arg-type] # as above
    ),
    Kind(
        name="certificates",
        field="certificates",
        parse=_reader(parse_certificates, dated=True),
        type_name="ExchangeCertificate",
        properties=("Thumbprint", "RawData", "CertificateDomains", "HasPrivateKey", "RootCAType"),
        key=lambda certificate: getattr(certificate, "thumbprint", None),
    ),
    Kind(
        name="queues",
        field="queues",
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
    ),
    Kind(
        name="send-connectors",
        field="send_connectors",
        parse=_reader(parse_send_connectors),
        type_name="SmtpSendConnectorConfig",
        properties=("SmartHosts", "AddressSpaces", "IgnoreSTARTTLS", "DNSRoutingEnabled"),
        key=_fold_name,
    ),
    Kind(
        name="receive-connectors",
        field="receive_connectors",
        parse=_reader(parse_receive_connectors),
        type_name="ReceiveConnector",
        properties=("Bindings", "RemoteIPRanges", "AuthMechanism", "PermissionGroups"),
        key=lambda connector: (
            getattr(connector, "identity", None) or getattr(connector, "name", None)
        ),
    ),
)


def kind_named(name: str) -> Kind:
    """Return the kind with this name; raises ``LookupError`` if there is none.

    >>> kind_named("certificates").field
    'certificates'
    """
    entry = next((kind for kind in KINDS if kind.name == name), None)
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
