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
from exchange_tls.queues.models import QueueRecord
from exchange_tls.tls_settings.models import TlsSettings

__all__ = ["Evidence"]


def _tuple(value: Iterable[object]) -> tuple[object, ...]:
    return tuple(value)


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
    #: Event log entries (MSExchangeTransport, Schannel …).
    events: tuple[EventRecord, ...] = attrs.field(default=(), converter=_tuple)
    #: The TLS registry settings read, one per file (combine with ``TlsSettings.combine``).
    tls_settings: tuple[TlsSettings, ...] = attrs.field(default=(), converter=_tuple)
    hybrid_configurations: tuple[HybridConfiguration, ...] = attrs.field(
        default=(), converter=_tuple
    )
    #: The collector's manifest (server, time of collection), when one was read.
    manifest: CollectionManifest | None = None

    def to_dataframe(self, kind: str = "sessions") -> Any:
        """Return the sessions, certificates or queues as a pandas DataFrame."""
        from exchange_tls.notebook import to_dataframe

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
