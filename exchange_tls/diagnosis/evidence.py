"""Evidence: everything ``diagnose()`` reads, already parsed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.hybrid import HybridConfiguration
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.errors import Problem
from exchange_tls.events.models import EventRecord
from exchange_tls.manifest import CollectionManifest
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.summary import SessionSummary
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
    #: The collector's manifest (server, time of collection), when one was read.
    manifest: CollectionManifest | None = None
    #: SMTP TLS reports (RFC 8460): what other mail systems saw of this domain's TLS.
    tls_reports: tuple[TlsReport, ...] = attrs.field(default=(), converter=_tuple)

    def to_dataframe(self, kind: str = "sessions") -> Any:
        """Return the sessions, certificates or queues as a pandas DataFrame."""
        from exchange_tls.views.frames import to_dataframe

        if kind not in ("sessions", "certificates", "queues"):
            raise ValueError("kind must be 'sessions', 'certificates' or 'queues'")
        return to_dataframe(getattr(self, kind))

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to diagnose."""
        return not (
            self.sessions
            or self.certificates
            or self.queues
            or self.send_connectors
            or self.receive_connectors
        )
