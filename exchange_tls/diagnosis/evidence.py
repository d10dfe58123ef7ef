"""Evidence: everything ``diagnose()`` reads, already parsed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from exchange_tls import display
from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.hybrid import HybridConfiguration
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.errors import Problem
from exchange_tls.events.models import EventRecord
from exchange_tls.inventory.models import InventoryRecord
from exchange_tls.kinds import ALL_KINDS
from exchange_tls.manifest import CollectionManifest
from exchange_tls.probe_results.models import SmtpProbe
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.summary import SessionSummary, merge_summaries
from exchange_tls.queues.models import QueueRecord
from exchange_tls.tls_reports.models import TlsReport
from exchange_tls.tls_settings.models import TlsSettings

__all__ = ["Evidence", "LoadedFile"]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    # Any, not object: each field's annotation states the item type, and a checker
    # must accept this converter for every such field.
    return tuple(value)


@attrs.frozen(kw_only=True)
class LoadedFile:
    """One file that was read: its name, what it holds, and its size in bytes.

    ``kind`` is ``"unknown"`` for a file whose content could not be placed; the reason is
    among the evidence's problems.
    """

    name: str
    kind: str
    #: Its size in bytes (inflated, for an archive member); ``None`` when it was not read.
    size: int | None
    #: A protocol log copied through a web page or a ticket, read with repairs.
    pasted: bool = False
    #: Why the file was left out; ``None`` when it was read.
    note: str | None = None


@attrs.frozen(kw_only=True)
class Evidence:
    """The parsed evidence of one Exchange organisation or server.

    >>> Evidence().is_empty
    True
    """

    sessions: tuple[SmtpSession, ...] = attrs.field(default=(), converter=_tuple)
    certificates: tuple[ExchangeCertificate, ...] = attrs.field(default=(), converter=_tuple)
    queues: tuple[QueueRecord, ...] = attrs.field(default=(), converter=_tuple)
    send_connectors: tuple[SendConnector, ...] = attrs.field(default=(), converter=_tuple)
    receive_connectors: tuple[ReceiveConnector, ...] = attrs.field(default=(), converter=_tuple)
    #: What could not be read while collecting the evidence.
    problems: tuple[Problem, ...] = attrs.field(default=(), converter=_tuple)
    #: The server's own FQDN, used when a send connector has none.
    server_fqdn: str | None = None
    #: The files the evidence was read from (empty when it was built in memory).
    files: tuple[LoadedFile, ...] = attrs.field(default=(), converter=_tuple)
    #: When the protocol logs were summarised rather than kept whole: the counts and the
    #: occurrences behind ``sessions``, which then holds the exemplars only.
    summary: SessionSummary | None = None
    #: The server the evidence came from, when it says (a queue's ``EX01\\9``, a manifest).
    server: str | None = None
    #: The evidence of each server, when it came from several: ``diagnose()`` judges each
    #: on its own. The fields above then hold all of it, for tables and notebooks.
    scopes: tuple[Evidence, ...] = attrs.field(default=(), converter=_tuple)
    #: Event log entries (MSExchangeTransport, Schannel …).
    events: tuple[EventRecord, ...] = attrs.field(default=(), converter=_tuple)
    #: The TLS registry settings read, one per file (combine with ``TlsSettings.combine``).
    tls_settings: tuple[TlsSettings, ...] = attrs.field(default=(), converter=_tuple)
    hybrid_configurations: tuple[HybridConfiguration, ...] = attrs.field(
        default=(), converter=_tuple
    )
    #: The server inventory: the Exchange build (Get-ExchangeServer) and the Windows version.
    inventory: tuple[InventoryRecord, ...] = attrs.field(default=(), converter=_tuple)
    #: The collector's manifest (server, time of collection), when one was read.
    manifest: CollectionManifest | None = None
    #: SMTP TLS reports (RFC 8460): what other mail systems saw of this domain's TLS.
    tls_reports: tuple[TlsReport, ...] = attrs.field(default=(), converter=_tuple)
    #: Saved probes of remote hosts (``exchange-tls probe --format json``).
    probes: tuple[SmtpProbe, ...] = attrs.field(default=(), converter=_tuple)

    def to_dataframe(self, kind: str = "sessions") -> Any:
        """Return the sessions, certificates or queues as a pandas DataFrame."""
        if kind not in ("sessions", "certificates", "queues"):
            raise ValueError("kind must be 'sessions', 'certificates' or 'queues'")
        return display.frame(getattr(self, kind))

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to diagnose: no record of any counted kind.

        >>> from exchange_tls.events.models import EventRecord
        >>> Evidence(events=[EventRecord(provider="Schannel", event_id=36871)]).is_empty
        False
        """
        return not any(kind.count(self) for kind in ALL_KINDS)

    @classmethod
    def merge(
        cls, parts: Iterable[Evidence], *, server: str | None = None, scoped: bool = False
    ) -> Evidence:
        r"""Return the evidence of several parts as one, every kind of the table merged.

        Records that are one object (the same thumbprint, queue identity, event …) are
        merged as :meth:`exchange_tls.kinds.Kind.merge` says: a fact one part lacks is
        taken from another, and where parts disagree the fact is left unknown and a
        ``conflict`` problem says so. With ``scoped=True`` the parts are the evidence of
        different servers: their records are kept side by side, not merged, and the parts
        become the ``scopes`` that ``diagnose()`` judges one by one.

        >>> from exchange_tls.queues.models import QueueRecord
        >>> a = Evidence(queues=[QueueRecord(identity="EX01\\9", message_count=3)])
        >>> b = Evidence(queues=[QueueRecord(identity="EX01\\9", status="Retry")])
        >>> [queue] = Evidence.merge([a, b]).queues
        >>> queue.message_count, queue.status
        (3, 'Retry')
        """
        evidence = list(parts)
        problems = [problem for part in evidence for problem in part.problems]
        fields: dict[str, Any] = {}
        for kind in ALL_KINDS:
            if kind.field in fields:
                continue  # kinds that share a field (the logs) merge it once
            records = [record for part in evidence for record in kind.field_records(part)]
            if scoped:
                # One server's single record (its manifest) does not describe the others.
                merged = [] if kind.single else records
            else:
                merged, found = kind.merge(records)
                problems.extend(found)
            fields[kind.field] = (merged[0] if merged else None) if kind.single else merged
        return cls(
            **fields,
            problems=problems,
            server_fqdn=None
            if scoped
            else next((part.server_fqdn for part in evidence if part.server_fqdn), None),
            files=[file for part in evidence for file in part.files],
            summary=None if scoped else merge_summaries(part.summary for part in evidence),
            server=server,
            scopes=evidence if scoped else (),
        )
