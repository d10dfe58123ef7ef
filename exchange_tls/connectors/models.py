"""Send and receive connector models."""

from __future__ import annotations

import attrs

from exchange_tls import display
from exchange_tls.certificates.names import TlsCertificateName
from exchange_tls.sources import SourceRef

__all__ = ["ReceiveConnector", "SendConnector"]


@attrs.frozen(kw_only=True)
class SendConnector:
    """A send connector as ``Get-SendConnector`` describes it; unknown is ``None``."""

    name: str | None
    identity: str | None = None
    #: The FQDN given in EHLO and used to select the certificate; ``None`` means the
    #: server's own FQDN.
    fqdn: str | None = None
    tls_certificate_name: TlsCertificateName | None = None
    require_tls: bool | None = None
    #: ``EncryptionOnly``, ``CertificateValidation`` or ``DomainValidation``.
    tls_auth_level: str | None = None
    tls_domain: str | None = None
    ignore_starttls: bool | None = None
    smart_hosts: tuple[str, ...] | None = None
    #: Address spaces as written (``SMTP:*;1``).
    address_spaces: tuple[str, ...] | None = None
    #: ``None`` or ``Verbose`` as written (a string: ``None`` is a real value here).
    protocol_logging_level: str | None = None
    cloud_services_mail_enabled: bool | None = None
    source_transport_servers: tuple[str, ...] | None = None
    dns_routing_enabled: bool | None = None
    domain_secure_enabled: bool | None = None
    enabled: bool | None = None
    port: int | None = None
    smart_host_auth_mechanism: str | None = None
    source: SourceRef | None = None

    @property
    def logging_enabled(self) -> bool | None:
        """Whether protocol logging is ``Verbose``; ``None`` when not known."""
        if self.protocol_logging_level is None:
            return None
        return self.protocol_logging_level.casefold() == "verbose"

    def _repr_html_(self) -> str:
        # How it shows in a notebook is the views' (exchange_tls.display): a table.
        return display.html(self)


@attrs.frozen(kw_only=True)
class ReceiveConnector:
    """A receive connector as ``Get-ReceiveConnector`` describes it."""

    name: str | None
    identity: str | None = None
    fqdn: str | None = None
    tls_certificate_name: TlsCertificateName | None = None
    require_tls: bool | None = None
    auth_mechanism: str | None = None
    bindings: tuple[str, ...] | None = None
    remote_ip_ranges: tuple[str, ...] | None = None
    transport_role: str | None = None
    protocol_logging_level: str | None = None
    enabled: bool | None = None
    server: str | None = None
    source: SourceRef | None = None

    def _repr_html_(self) -> str:
        # How it shows in a notebook is the views' (exchange_tls.display): a table.
        return display.html(self)
