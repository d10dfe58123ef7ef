"""The queue model: one row of ``Get-Queue``."""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from exchange_tls import display
from exchange_tls.queues.last_error import LastError
from exchange_tls.sources import SourceRef

__all__ = ["DeliveryType", "QueueRecord", "QueueStatus"]


class QueueStatus(enum.IntEnum):
    """``Get-Queue``'s ``Status``, with Exchange's numbers (as JSON carries them)."""

    NONE = 0
    ACTIVE = 1
    READY = 2
    RETRY = 3
    SUSPENDED = 4
    CONNECTING = 5
    THROTTLED = 6

    def __str__(self) -> str:
        return self.name.capitalize()


class DeliveryType(enum.Enum):
    """``Get-Queue``'s ``DeliveryType``; the value is Exchange's name for it."""

    DELIVERY_AGENT = "DeliveryAgent"
    DNS_CONNECTOR_DELIVERY = "DnsConnectorDelivery"
    HEARTBEAT = "Heartbeat"
    MAPI_DELIVERY = "MapiDelivery"
    NON_SMTP_GATEWAY_DELIVERY = "NonSmtpGatewayDelivery"
    SHADOW_REDUNDANCY = "ShadowRedundancy"
    SMART_HOST_CONNECTOR_DELIVERY = "SmartHostConnectorDelivery"
    SMTP_DELIVERY_TO_EXO = "SmtpDeliveryToExo"
    SMTP_DELIVERY_TO_MAILBOX = "SmtpDeliveryToMailbox"
    SMTP_RELAY_TO_CONNECTOR_SOURCE_SERVERS = "SmtpRelayToConnectorSourceServers"
    SMTP_RELAY_TO_DAG = "SmtpRelayToDag"
    SMTP_RELAY_TO_MAILBOX_DELIVERY_GROUP = "SmtpRelayToMailboxDeliveryGroup"
    SMTP_RELAY_TO_REMOTE_ACTIVE_DIRECTORY_SITE = "SmtpRelayToRemoteActiveDirectorySite"
    SMTP_RELAY_TO_REMOTE_FOREST = "SmtpRelayToRemoteForest"
    SMTP_RELAY_TO_SERVERS = "SmtpRelayToServers"
    SMTP_RELAY_TO_TI_RG = "SmtpRelayToTiRg"
    SMTP_RELAY_WITHIN_AD_SITE = "SmtpRelayWithinAdSite"
    SMTP_RELAY_WITHIN_AD_SITE_TO_EDGE = "SmtpRelayWithinAdSiteToEdge"
    UNDEFINED = "Undefined"
    UNREACHABLE = "Unreachable"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class QueueRecord:
    """One queue as ``Get-Queue`` describes it.

    A property the evidence did not carry is ``None``; so is one that could not be read
    with certainty, with a problem that says why.
    """

    #: ``Server\\Queue``, such as ``EX01\\9`` or ``EX01\\Submission``.
    identity: str | None
    delivery_type: DeliveryType | None = None
    status: QueueStatus | None = None
    message_count: int | None = None
    #: The destination: a domain, a smart-host list, or a site or server name.
    next_hop_domain: str | None = None
    last_error: LastError | None = None
    retry_count: int | None = None
    last_retry_time: dt.datetime | None = None
    next_retry_time: dt.datetime | None = None
    first_retry_time: dt.datetime | None = None
    tls_domain: str | None = None
    next_hop_category: str | None = None
    next_hop_connector: str | None = None
    deferred_message_count: int | None = None
    #: Where the record starts in the evidence.
    source: SourceRef | None = None

    @property
    def server(self) -> str | None:
        """The server part of :attr:`identity`, or ``None``."""
        if self.identity is None or "\\" not in self.identity:
            return None
        return self.identity.split("\\", 1)[0]

    @property
    def is_failing(self) -> bool:
        """Whether the queue is in ``Retry`` or ``Suspended``, or carries an error.

        A ``LastError`` whose reply could not be read counts as an error: unread is not
        healthy.
        """
        if self.status in (QueueStatus.RETRY, QueueStatus.SUSPENDED):
            return True
        if self.last_error is None:
            return False
        reply = self.last_error.reply
        return reply is None or reply.code >= 400

    def _repr_html_(self) -> str:
        # How it shows in a notebook is the views' (exchange_tls.display): a table.
        return display.html(self)
