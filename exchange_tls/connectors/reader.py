"""Read ``Get-SendConnector`` and ``Get-ReceiveConnector`` output in any format."""

from __future__ import annotations

import os
from typing import BinaryIO, Literal, TypeVar

from exchange_tls.arguments import check_arguments
from exchange_tls.certificates.names import TlsCertificateName, parse_tls_certificate_name
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.errors import ErrorMode, ParseError
from exchange_tls.powershell.binding import RecordBinder, parse_records
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_bool, as_int, as_text, as_texts
from exchange_tls.results import ReadResult, read_text_file

__all__ = [
    "ConnectorBinder",
    "parse_receive_connectors",
    "parse_send_connectors",
    "read_receive_connectors",
    "read_send_connectors",
]

C = TypeVar("C")


class ConnectorBinder(RecordBinder[C]):
    """What the binders of connectors and of the hybrid configuration share.

    :meth:`tls_certificate_name` reads ``TlsCertificateName`` and reports a value it
    keeps as written at its line.
    """

    def tls_certificate_name(
        self, record: PSObject, text: str | None = None
    ) -> TlsCertificateName | None:
        """Read ``TlsCertificateName`` (or ``text`` made of it); a problem goes at its line."""
        prop = record.get("TlsCertificateName")
        if text is None:
            text = as_text(prop.value) if prop is not None else None
        if text is None:
            return None
        line = prop.line if prop is not None else None
        try:
            return parse_tls_certificate_name(text, source=self.source)
        except ParseError as error:
            self.report(error.message, line, error.code or "tls-name")
            return TlsCertificateName.as_written(text)

    def named(self, record: PSObject, kind: str) -> tuple[str, str | None] | None:
        """Return the record's name and identity, or report that it is not a ``kind``."""
        name = as_text(record.value_of("Name"))
        identity = as_text(record.value_of("Identity"))
        if name is None and identity is None:
            self.report(
                f"record has no Name or Identity; it is not a {kind} "
                f"(properties: {', '.join(record.names[:6])})",
                record.source.line,
                f"not-a-{kind.replace(' ', '-')}",
            )
            return None
        return name or identity or "", identity


class _SendBinder(ConnectorBinder[SendConnector]):
    def bind(self, record: PSObject) -> SendConnector | None:
        named = self.named(record, "send connector")
        if named is None:
            return None
        value = record.value_of
        return SendConnector(
            name=named[0],
            identity=named[1],
            fqdn=as_text(value("Fqdn")),
            tls_certificate_name=self.tls_certificate_name(record),
            require_tls=as_bool(value("RequireTLS")),
            tls_auth_level=as_text(value("TlsAuthLevel")),
            tls_domain=as_text(value("TlsDomain")),
            ignore_starttls=as_bool(value("IgnoreSTARTTLS")),
            smart_hosts=as_texts(value("SmartHosts")),
            address_spaces=as_texts(value("AddressSpaces")),
            protocol_logging_level=as_text(value("ProtocolLoggingLevel")),
            cloud_services_mail_enabled=as_bool(value("CloudServicesMailEnabled")),
            source_transport_servers=as_texts(value("SourceTransportServers")),
            dns_routing_enabled=as_bool(value("DNSRoutingEnabled")),
            domain_secure_enabled=as_bool(value("DomainSecureEnabled")),
            enabled=as_bool(value("Enabled")),
            port=as_int(value("Port")),
            smart_host_auth_mechanism=as_text(value("SmartHostAuthMechanism")),
            source=record.source,
        )


class _ReceiveBinder(ConnectorBinder[ReceiveConnector]):
    def bind(self, record: PSObject) -> ReceiveConnector | None:
        named = self.named(record, "receive connector")
        if named is None:
            return None
        value = record.value_of
        return ReceiveConnector(
            name=named[0],
            identity=named[1],
            fqdn=as_text(value("Fqdn")),
            tls_certificate_name=self.tls_certificate_name(record),
            require_tls=as_bool(value("RequireTLS")),
            auth_mechanism=as_text(value("AuthMechanism")),
            bindings=as_texts(value("Bindings")),
            remote_ip_ranges=as_texts(value("RemoteIPRanges")),
            transport_role=as_text(value("TransportRole")),
            protocol_logging_level=as_text(value("ProtocolLoggingLevel")),
            enabled=as_bool(value("Enabled")),
            server=as_text(value("Server")),
            source=record.source,
        )


def parse_send_connectors(
    text: str,
    *,
    source: str = "<send connectors>",
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[SendConnector]:
    r"""Read ``Get-SendConnector`` output: Format-List, CSV, JSON or CLIXML.

    >>> [connector] = parse_send_connectors(
    ...     "Name               : Outbound to Office 365\n"
    ...     "Fqdn               : mail.contoso.com\n"
    ...     "RequireTLS         : True\n"
    ...     "TlsCertificateName : <I>CN=Contoso CA<S>CN=mail.contoso.com\n"
    ... )
    >>> connector.require_tls, str(connector.tls_certificate_name.subject)
    (True, 'CN=mail.contoso.com')
    """
    check_arguments("parse_send_connectors", text=text, source=source, format=format, errors=errors)
    return parse_records(text, _SendBinder, source=source, format=format, errors=errors)


def parse_receive_connectors(
    text: str,
    *,
    source: str = "<receive connectors>",
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[ReceiveConnector]:
    """Read ``Get-ReceiveConnector`` output: Format-List, CSV, JSON or CLIXML."""
    check_arguments(
        "parse_receive_connectors", text=text, source=source, format=format, errors=errors
    )
    return parse_records(text, _ReceiveBinder, source=source, format=format, errors=errors)


def read_send_connectors(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[SendConnector]:
    """Read a file of ``Get-SendConnector`` output in any encoding."""
    check_arguments("read_send_connectors", file=file, format=format, errors=errors)
    return read_text_file(
        file,
        lambda text, source: parse_send_connectors(
            text, source=source, format=format, errors=errors
        ),
    )


def read_receive_connectors(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[ReceiveConnector]:
    """Read a file of ``Get-ReceiveConnector`` output in any encoding."""
    check_arguments("read_receive_connectors", file=file, format=format, errors=errors)
    return read_text_file(
        file,
        lambda text, source: parse_receive_connectors(
            text, source=source, format=format, errors=errors
        ),
    )
