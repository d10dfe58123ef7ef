"""Whether a connector or a session goes to Exchange Online."""

from __future__ import annotations

from exchange_tls.connectors.models import SendConnector
from exchange_tls.diagnosis.context import Context
from exchange_tls.protocol_log.models import SmtpSession

__all__ = ["EXO_SUFFIX", "session_to_exchange_online", "to_exchange_online"]

#: The smart host suffix of Exchange Online's MX endpoints.
EXO_SUFFIX = ".mail.protection.outlook.com"


def to_exchange_online(connector: SendConnector) -> bool:
    """Whether the connector sends to Exchange Online (hybrid or a smart host there)."""
    return bool(connector.cloud_services_mail_enabled) or any(
        host.strip().casefold().endswith(EXO_SUFFIX) for host in connector.smart_hosts or ()
    )


def session_to_exchange_online(context: Context, session: SmtpSession) -> bool:
    """Whether the session went to Exchange Online: its connector, certificate or banner."""
    connector = context.connector_named(session.connector_id)
    if connector is not None and to_exchange_online(connector):
        return True
    remote = session.tls.remote_certificate if session.tls else None
    names = [remote.subject or "", *(remote.alternate_names or ())] if remote else []
    if any("outlook.com" in name.casefold() for name in names):
        return True
    return any("outlook.com" in reply.text.casefold() for reply in session.replies[:1])
