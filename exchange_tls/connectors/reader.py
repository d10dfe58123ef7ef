"""Read ``Get-SendConnector`` and ``Get-ReceiveConnector`` output in any format."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO, Literal, TypeVar

from exchange_tls.certificates.names import TlsCertificateName, parse_tls_certificate_name
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.errors import ErrorMode, Problem, ProblemCollector
from exchange_tls.powershell.binding import split_lines
from exchange_tls.powershell.reader import Format, read_records
from exchange_tls.powershell.records import PSObject
from exchange_tls.powershell.values import as_bool, as_int, as_text, as_texts
from exchange_tls.results import ReadResult
from exchange_tls.sources import read_source

__all__ = [
    "parse_receive_connectors",
    "parse_send_connectors",
    "read_receive_connectors",
    "read_send_connectors",
]

T = TypeVar("T")


def _tls_name(
    record: PSObject, source: str, collector: ProblemCollector
) -> TlsCertificateName | None:
    prop = record.get("TlsCertificateName")
    text = as_text(prop.value) if prop is not None else None
    if text is None:
        return None
    name = parse_tls_certificate_name(text, source=source)
    for problem in name.problems:
        collector.report(
            Problem(
                message=problem.message,
                source=source,
                line=prop.line if prop else None,
                severity=problem.severity,
                code=problem.code,
            )
        )
    return name


def _not_a(kind: str, record: PSObject, source: str, collector: ProblemCollector) -> None:
    collector.report(
        Problem(
            message=f"record has no Name or Identity; it is not a {kind} "
            f"(properties: {', '.join(record.names[:6])})",
            source=source,
            line=record.source.line,
            code=f"not-a-{kind.replace(' ', '-')}",
        )
    )


def _send(record: PSObject, source: str, collector: ProblemCollector) -> SendConnector | None:
    value = record.value_of
    name = as_text(value("Name"))
    identity = as_text(value("Identity"))
    if name is None and identity is None:
        _not_a("send connector", record, source, collector)
        return None
    return SendConnector(
        name=name or identity,
        identity=identity,
        fqdn=as_text(value("Fqdn")),
        tls_certificate_name=_tls_name(record, source, collector),
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


def _receive(record: PSObject, source: str, collector: ProblemCollector) -> ReceiveConnector | None:
    value = record.value_of
    name = as_text(value("Name"))
    identity = as_text(value("Identity"))
    if name is None and identity is None:
        _not_a("receive connector", record, source, collector)
        return None
    return ReceiveConnector(
        name=name or identity,
        identity=identity,
        fqdn=as_text(value("Fqdn")),
        tls_certificate_name=_tls_name(record, source, collector),
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


def _parse(
    text: str,
    format: Format | Literal["auto"],
    source: str,
    errors: ErrorMode,
    bind: Callable[[PSObject, str, ProblemCollector], T | None],
) -> ReadResult[T]:
    collector = ProblemCollector(errors)
    used, records, _ = read_records(
        split_lines(text), source=source, format=format, collector=collector
    )
    models = [model for record in records if (model := bind(record, source, collector))]
    return ReadResult(models, problems=collector.problems, format=used)


def parse_send_connectors(
    text: str,
    format: Format | Literal["auto"] = "auto",
    *,
    source: str = "<send connectors>",
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
    return _parse(text, format, source, errors, _send)


def parse_receive_connectors(
    text: str,
    format: Format | Literal["auto"] = "auto",
    *,
    source: str = "<receive connectors>",
    errors: ErrorMode = "collect",
) -> ReadResult[ReceiveConnector]:
    """Read ``Get-ReceiveConnector`` output: Format-List, CSV, JSON or CLIXML."""
    return _parse(text, format, source, errors, _receive)


def read_send_connectors(
    file: str | os.PathLike[str] | BinaryIO,
    format: Format | Literal["auto"] = "auto",
    *,
    errors: ErrorMode = "collect",
) -> ReadResult[SendConnector]:
    """Read a file of ``Get-SendConnector`` output in any encoding."""
    decoded = read_source(file)
    result = parse_send_connectors(decoded.text, format, source=decoded.source, errors=errors)
    return ReadResult(result, problems=(*decoded.problems, *result.problems), format=result.format)


def read_receive_connectors(
    file: str | os.PathLike[str] | BinaryIO,
    format: Format | Literal["auto"] = "auto",
    *,
    errors: ErrorMode = "collect",
) -> ReadResult[ReceiveConnector]:
    """Read a file of ``Get-ReceiveConnector`` output in any encoding."""
    decoded = read_source(file)
    result = parse_receive_connectors(decoded.text, format, source=decoded.source, errors=errors)
    return ReadResult(result, problems=(*decoded.problems, *result.problems), format=result.format)
