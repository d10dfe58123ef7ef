"""Read ``Get-ExchangeCertificate`` output in any PowerShell format."""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
from collections.abc import Mapping
from typing import BinaryIO, Literal, TypeVar

from exchange_tls.arguments import check_arguments
from exchange_tls.certificates.models import (
    ROOT_CA_NUMBERS,
    STATUS_NUMBERS,
    CertificateStatus,
    ExchangeCertificate,
    RootCAType,
    Services,
)
from exchange_tls.certificates.x509 import CertificateFacts, read_der
from exchange_tls.errors import ErrorMode, Severity
from exchange_tls.powershell.binding import RecordBinder, parse_records
from exchange_tls.powershell.dates import DateOrder
from exchange_tls.powershell.reader import Format
from exchange_tls.powershell.records import PSObject, PSValue
from exchange_tls.powershell.values import as_bool, as_enum, as_int, as_text, as_texts
from exchange_tls.results import ReadResult, read_text_file

__all__ = ["parse_certificates", "read_certificates"]

E = TypeVar("E", bound=enum.Enum)
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_CERTIFICATE_PROPERTIES = ("Thumbprint", "RawData", "Subject", "Services", "CertificateDomains")
_DATE_PROPERTIES = ("NotAfter", "NotBefore")


class _CertificateBinder(RecordBinder[ExchangeCertificate]):
    def services(self, record: PSObject, serialized: dict[str, int | None]) -> Services | None:
        prop = record.get("Services")
        value: PSValue = prop.value if prop is not None else None
        if isinstance(value, PSObject):
            value = value.to_string if value.to_string is not None else value.value
        if value is None or value == "":
            number = serialized.get("Services")
            return Services.parse(number) if number is not None else None
        try:
            return Services.parse(value if isinstance(value, int) else str(value))
        except ValueError as error:
            self.report(f"Services: {error}", prop.line if prop else None, "unknown-value")
            return None

    def enum(
        self,
        record: PSObject,
        name: str,
        enum_type: type[E],
        numbers: Mapping[int, E],
        serialized: int | None,
    ) -> E | int | None:
        prop = record.get(name)
        if prop is None or prop.value is None or prop.value == "":
            if serialized is None:
                return None
            return numbers.get(serialized, serialized)
        member, reason = as_enum(enum_type, prop.value, numbers)
        if member is not None:
            return member
        number = as_int(prop.value)
        if number is not None:
            # A number whose name is not known for sure is kept, never guessed.
            return number
        if reason is not None:
            self.report(f"{name}: {reason}", prop.line, "unknown-value")
        return None

    def der(self, record: PSObject) -> CertificateFacts | None:
        raw = record.value_of("RawData")
        if not isinstance(raw, bytes):
            return None
        try:
            facts = read_der(raw)
        except ValueError as error:
            self.report(f"RawData is not a certificate: {error}", record.source.line, "bad-der")
            return None
        for warning in facts.warnings:
            self.report(
                f"certificate: {warning}", record.source.line, "lax-certificate", Severity.INFO
            )
        return facts

    def serialized(self, record: PSObject) -> dict[str, int | None]:
        data = record.value_of("SerializationData")
        if not isinstance(data, bytes):
            return {}
        # The .NET binary format reader is imported for serialised certificates only.
        from exchange_tls.certificates.nrbf import NrbfError, read_nrbf

        try:
            root = read_nrbf(data, source=self.source)
        except NrbfError as error:
            self.report(f"SerializationData: {error.message}", record.source.line, "bad-nrbf")
            return {}
        values: dict[str, int | None] = {}
        for name in ("Services", "Status", "RootCAType"):
            member = root.get(name)
            values[name] = getattr(member, "enum_value", None)
        return values

    def bind(self, record: PSObject) -> ExchangeCertificate | None:
        if not any(record.get(name) is not None for name in _CERTIFICATE_PROPERTIES):
            self.report(
                "record has none of Thumbprint, RawData, Subject, Services or "
                f"CertificateDomains; it is not a certificate (properties: "
                f"{', '.join(record.names[:6])})",
                record.source.line,
                "not-a-certificate",
                Severity.ERROR,
            )
            return None
        facts = self.der(record)
        serialized = self.serialized(record)
        subject_prop = record.get("Subject")
        subject = as_text(subject_prop.value) if subject_prop else None
        truncated = bool(subject_prop and subject_prop.truncated)
        thumbprint = as_text(record.value_of("Thumbprint"))
        if facts is not None and thumbprint and thumbprint.upper() != facts.thumbprint:
            self.report(
                f"Thumbprint {thumbprint} is not the SHA-1 of RawData ({facts.thumbprint})",
                record.source.line,
                "thumbprint-mismatch",
            )
        if thumbprint and not _THUMBPRINT.fullmatch(thumbprint):
            # Kept as written: it still tells the certificates of a paste apart, but no
            # command can name it and it matches no log.
            self.report(
                f"Thumbprint {thumbprint!r} is not 40 hexadecimal digits (masked or cut in "
                "the paste?); kept as written, and no command can name it",
                record.source.line,
                "damaged-thumbprint",
            )
        domains = as_texts(record.value_of("CertificateDomains"))
        if domains is None and facts is not None:
            domains = facts.dns_names
        identity = as_text(record.value_of("Identity"))
        server = as_text(record.value_of("PSComputerName"))
        if server is None and identity and "\\" in identity:
            server = identity.split("\\", 1)[0]
        return ExchangeCertificate(
            thumbprint=(thumbprint or (facts.thumbprint if facts else None) or "").upper() or None,
            services=self.services(record, serialized),
            subject=subject or (facts.subject if facts else None),
            subject_truncated=truncated,
            issuer=as_text(record.value_of("Issuer")) or (facts.issuer if facts else None),
            not_before=self.date(record, "NotBefore") or (facts.not_before if facts else None),
            not_after=self.date(record, "NotAfter") or (facts.not_after if facts else None),
            certificate_domains=domains,
            has_private_key=as_bool(record.value_of("HasPrivateKey")),
            is_self_signed=as_bool(record.value_of("IsSelfSigned"))
            if record.get("IsSelfSigned")
            else (facts.subject == facts.issuer if facts else None),
            root_ca_type=self.enum(
                record, "RootCAType", RootCAType, ROOT_CA_NUMBERS, serialized.get("RootCAType")
            ),
            status=self.enum(
                record, "Status", CertificateStatus, STATUS_NUMBERS, serialized.get("Status")
            ),
            serial_number=as_text(record.value_of("SerialNumber"))
            or (facts.serial_number if facts else None),
            friendly_name=as_text(record.value_of("FriendlyName")),
            public_key_size=as_int(record.value_of("PublicKeySize"))
            or (facts.public_key_size if facts else None),
            identity=identity,
            server=server,
            source=record.source,
        )


def parse_certificates(
    text: str,
    *,
    source: str = "<certificates>",
    format: Format | Literal["auto"] = "auto",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    errors: ErrorMode = "collect",
) -> ReadResult[ExchangeCertificate]:
    r"""Read ``Get-ExchangeCertificate`` output: table, Format-List, CSV, JSON or CLIXML.

    >>> certificates = parse_certificates(
    ...     "Thumbprint                                Services   Subject\n"
    ...     "----------                                --------   -------\n"
    ...     "B8FFF722AAF9E4CFA055581061F6020C70BAC8AF  IP.WS..    CN=outlook.contoso.com\n"
    ... )
    >>> [(c.thumbprint[:8], str(c.services), c.subject) for c in certificates]
    [('B8FFF722', 'IMAP, POP, IIS, SMTP', 'CN=outlook.contoso.com')]
    >>> certificates.format, certificates.source
    ('table', '<certificates>')
    """
    check_arguments(
        "parse_certificates",
        text=text,
        source=source,
        format=format,
        date_order=date_order,
        tz=tz,
        errors=errors,
    )
    return parse_records(
        text,
        _CertificateBinder,
        source=source,
        format=format,
        errors=errors,
        date_properties=_DATE_PROPERTIES,
        date_order=date_order,
        tz=tz,
    )


def read_certificates(
    file: str | os.PathLike[str] | BinaryIO,
    *,
    format: Format | Literal["auto"] = "auto",
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    errors: ErrorMode = "collect",
) -> ReadResult[ExchangeCertificate]:
    """Read a file of ``Get-ExchangeCertificate`` output; see :func:`parse_certificates`."""
    check_arguments(
        "read_certificates", file=file, format=format, date_order=date_order, tz=tz, errors=errors
    )
    return read_text_file(
        file,
        lambda text, source: parse_certificates(
            text, source=source, format=format, date_order=date_order, tz=tz, errors=errors
        ),
    )
