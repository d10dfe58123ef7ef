"""Read ``Get-HybridConfiguration`` output: the certificate Exchange Online is told about.

The Hybrid Configuration Wizard records the certificate it configured for secure mail
in ``TlsCertificateName`` (``<I>issuer<S>subject``, like a connector's), with the
on-premises smart host and the servers that send and receive hybrid mail. After a
certificate renewal this value, the hybrid receive connector's ``TlsCertificateName``
and the Exchange Online inbound connector must all name the new certificate.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Literal

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.certificates.names import TlsCertificateName
from exchange_tls.connectors.reader import ConnectorBinder
from exchange_tls.errors import ErrorMode
from exchange_tls.powershell.binding import parse_records
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject, PSValue
from exchange_tls.powershell.values import as_text, as_texts
from exchange_tls.results import ReadResult, read_text_file
from exchange_tls.sources import SourceRef

__all__ = [
    "HybridConfiguration",
    "hybrid_key",
    "looks_like_hybrid_configuration",
    "parse_hybrid_configuration",
    "read_hybrid_configuration",
]

_TYPE = "HybridConfiguration"
_PROPERTIES = ("OnPremisesSmartHost", "ReceivingTransportServers", "SendingTransportServers")


@attrs.frozen(kw_only=True)
class HybridConfiguration:
    """The hybrid configuration object; what the input did not carry is ``None``."""

    name: str | None = None
    #: The certificate configured for hybrid mail flow.
    tls_certificate_name: TlsCertificateName | None = None
    #: The line of ``TlsCertificateName``, to cite.
    tls_certificate_name_source: SourceRef | None = None
    on_premises_smart_host: str | None = None
    receiving_transport_servers: tuple[str, ...] | None = None
    sending_transport_servers: tuple[str, ...] | None = None
    edge_transport_servers: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    #: The server the export ran against (``PSComputerName``), when present.
    server: str | None = None
    source: SourceRef | None = None


def hybrid_key(hybrid: HybridConfiguration) -> object:
    """Return the key that makes two records the same hybrid configuration.

    The hybrid configuration is one object per organisation: its name is the key.
    """
    return (hybrid.name or "Hybrid Configuration").casefold()


def looks_like_hybrid_configuration(records: list[PSObject]) -> bool:
    """Whether PowerShell records are ``Get-HybridConfiguration`` output."""
    for record in records[:5]:
        if any(name.endswith(_TYPE) for name in record.type_names):
            return True
        if sum(record.get(name) is not None for name in _PROPERTIES) >= 2:
            return True
    return False


def _certificate_name_text(value: PSValue) -> str | None:
    """Return ``<I>issuer<S>subject`` from text, or from the object JSON makes of it."""
    if isinstance(value, PSObject) and value.to_string is None:
        issuer = as_text(value.value_of("CertificateIssuer"))
        subject = as_text(value.value_of("CertificateSubject"))
        if issuer is not None and subject is not None:
            return f"<I>{issuer}<S>{subject}"
    return as_text(value)


class _HybridBinder(ConnectorBinder[HybridConfiguration]):
    def bind(self, record: PSObject) -> HybridConfiguration:
        value = record.value_of
        prop = record.get("TlsCertificateName")
        text = _certificate_name_text(prop.value) if prop is not None else None
        line = prop.line if prop is not None and prop.line is not None else record.source.line
        return HybridConfiguration(
            name=as_text(value("Name")) or as_text(value("Identity")),
            tls_certificate_name=self.tls_certificate_name(record, text),
            tls_certificate_name_source=SourceRef(self.source, line) if prop is not None else None,
            on_premises_smart_host=as_text(value("OnPremisesSmartHost")),
            receiving_transport_servers=as_texts(value("ReceivingTransportServers")),
            sending_transport_servers=as_texts(value("SendingTransportServers")),
            edge_transport_servers=as_texts(value("EdgeTransportServers")),
            domains=as_texts(value("Domains")),
            features=as_texts(value("Features")),
            server=as_text(value("PSComputerName")),
            source=record.source,
        )


def parse_hybrid_configuration(
    text: str,
    *,
    source: str = "<hybrid configuration>",
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[HybridConfiguration]:
    r"""Read ``Get-HybridConfiguration`` output: Format-List, CSV, JSON or CLIXML.

    >>> from exchange_tls import parse_hybrid_configuration
    >>> [hybrid] = parse_hybrid_configuration(
    ...     "OnPremisesSmartHost : mail.contoso.com\n"
    ...     "TlsCertificateName  : <I>CN=Contoso CA<S>CN=mail.contoso.com\n"
    ... )
    >>> hybrid.on_premises_smart_host, str(hybrid.tls_certificate_name.subject)
    ('mail.contoso.com', 'CN=mail.contoso.com')
    """
    check_arguments(
        "parse_hybrid_configuration", text=text, source=source, format=format, errors=errors
    )
    return parse_records(text, _HybridBinder, source=source, format=format, errors=errors)


def read_hybrid_configuration(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    errors: ErrorMode = "collect",
) -> ReadResult[HybridConfiguration]:
    """Read a file of ``Get-HybridConfiguration`` output in any encoding."""
    check_arguments("read_hybrid_configuration", file=file, format=format, errors=errors)
    return read_text_file(
        file,
        lambda text, source: parse_hybrid_configuration(
            text, source=source, format=format, errors=errors
        ),
    )
