"""Shared builders for tests: protocol-log rows and sessions, certificates, connectors, queues.

Each builder returns a small, valid object with the defaults a test usually wants, and
takes keyword changes for what the test is about, so a test states only what matters to
it. ``record_of_kind`` builds one record of any evidence kind of the kinds table, for
tests that must cover every kind (a new kind adds its builder there).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from exchange_tls import (
    CertificateStatus,
    Evidence,
    ExchangeCertificate,
    ReceiveConnector,
    SendConnector,
    Services,
    assemble_sessions,
    load_evidence,
    parse_protocol_log,
    parse_queues,
)
from exchange_tls.connectors.hybrid import HybridConfiguration
from exchange_tls.events.models import EventRecord
from exchange_tls.inventory.models import ExchangeServerInfo
from exchange_tls.manifest import CollectionManifest
from exchange_tls.probe_results import ProbeStage, SmtpProbe
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.tls_reports.models import TlsReport
from exchange_tls.tls_settings.models import TlsSettings

__all__ = [
    "EXAMPLES",
    "NOW",
    "RECEIVE_HEADER",
    "SEND_HEADER",
    "T1",
    "T2",
    "UTC",
    "WRITINGS",
    "certificate",
    "example",
    "log_text",
    "manifest",
    "presented",
    "queue",
    "queues",
    "receive_connector",
    "receive_sessions",
    "record_of_kind",
    "send_connector",
    "send_sessions",
    "session_rows",
    "sessions_of",
    "write_field",
]

UTC = dt.timezone.utc
#: The time the builders' evidence describes.
NOW = dt.datetime(2024, 6, 1, tzinfo=UTC)
#: Two thumbprints of the published KB 4051498 example.
T1 = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
T2 = "A757A5B5395859FE5415EE33E0F5746199FEE979"

#: The example folders (each with its EXPECTED.md rules) and the bundled KB 4051498 example.
EXAMPLES = Path(__file__).parents[1] / "examples"
SEND_HEADER = (
    "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n"
    "#Log-type: SMTP Send Protocol Log\n#Date: 2024-06-01T00:00:00.000Z\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)
RECEIVE_HEADER = SEND_HEADER.replace("Send Protocol", "Receive Protocol")

_SUCCEEDED = (
    '*,,"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption '
    "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with "
    'strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)


# -- protocol logs ---------------------------------------------------------------------


def load_generator() -> Any:
    """Import benchmarks/generate_logs.py, the seeded generator of send logs."""
    spec = importlib.util.spec_from_file_location(
        "generate_logs", Path(__file__).parents[1] / "benchmarks" / "generate_logs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # A dataclass looks its module up in sys.modules while the module runs.
    previous = sys.modules.get(spec.name)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            del sys.modules[spec.name]
        else:
            sys.modules[spec.name] = previous
    return module


def session_rows(
    number: int, error: str | None, *, thumbprint: str = "A" * 40, receive: bool = False
) -> list[str]:
    """Return the CSV rows of one whole session that presents a certificate.

    The session fails with ``error`` or, without one, negotiates TLS 1.2; ``number``
    gives its minute of the day and its session id.
    """
    outcome = f"*,,TLS negotiation failed with error {error}" if error else _SUCCEEDED
    if receive:
        events = ["<,EHLO partner.example", ">,250-STARTTLS", "<,STARTTLS", ">,220 2.0.0 Ready"]
    else:
        events = [">,EHLO mail.contoso.com", "<,250 STARTTLS", ">,STARTTLS", "<,220 2.0.0 Ready"]
    body = [
        "+,,",
        *(f"{event}," for event in events),
        "*,,Sending certificate",
        "*,CN=mail.contoso.com,Certificate subject",
        "*,CN=Contoso CA,Certificate issuer name",
        f"*,{thumbprint},Certificate thumbprint",
        outcome,
        "-,,Local",
    ]
    connector = "Default Frontend EX01" if receive else "Out"
    return [
        f"2024-06-01T{number // 60:02d}:{number % 60:02d}:{index:02d}.000Z,{connector},"
        f"{0x08DC000000000000 + number:016X},{index},10.0.0.1:2525,192.0.2.25:25,{row}"
        for index, row in enumerate(body)
    ]


#: How a protocol log's field may be written: as Exchange does, and ways no CSV writer would.
WRITINGS = ("exchange", "quoted", "bare", "stray", "junk-after", "unclosed", "dropped")


def write_field(text: str, writing: str = "exchange") -> str | None:
    """Return one field of a protocol log row holding ``text``, written as ``writing`` says.

    ``exchange`` quotes the field only when it holds ``,`` or ``"``, doubling its quotes,
    as Exchange writes CSV; ``quoted`` quotes it always; ``bare`` writes the text as it
    is (stray quotes, more commas); ``stray`` puts a quote inside it; ``junk-after``
    writes text after the closing quote; ``unclosed`` leaves the quote open; ``dropped``
    leaves the field out (``None``), for a row with a field fewer.
    """
    doubled = '"' + text.replace('"', '""')
    if writing == "exchange":
        return doubled + '"' if "," in text or '"' in text else text
    return {
        "quoted": doubled + '"',
        "bare": text,
        "stray": text[:1] + '"' + text[1:],
        "junk-after": doubled + '"' + text[:1] + "x",
        "unclosed": doubled,
        "dropped": None,
    }[writing]


def log_text(*sessions: list[str], receive: bool = False) -> str:
    """Return a protocol log, header included, holding these sessions' rows."""
    rows = [row for session in sessions for row in session]
    return (RECEIVE_HEADER if receive else SEND_HEADER) + "\n".join(rows) + "\n"


def sessions_of(text: str, name: str = "SEND20240601-1.LOG") -> list[SmtpSession]:
    """Return the assembled sessions of a protocol log's text."""
    return list(assemble_sessions(parse_protocol_log(text, source=name).rows))


def send_sessions(
    *rows: str, name: str = "SEND20240601-1.LOG", connector: str = "Out"
) -> list[SmtpSession]:
    """Return the sessions of send-log rows, written ``event,data,context``.

    Rows are a second apart from ``NOW``; a row may start with ``SESSION|`` to name its
    session (``0A`` otherwise).
    """
    lines = []
    for number, row in enumerate(rows):
        session, _, rest = row.partition("|") if "|" in row else ("0A", "", row)
        lines.append(
            f"{NOW:%Y-%m-%dT%H:%M}:{number:02d}.000Z,{connector},{session},{number},"
            f"10.0.0.1:1000,192.0.2.25:25,{rest}"
        )
    return list(assemble_sessions(parse_protocol_log("\n".join(lines), source=name).rows))


def receive_sessions(
    *rows: str, connector: str = "EX01\\Default Frontend EX01", session: str = "0R"
) -> list[SmtpSession]:
    """Return the sessions of receive-log rows, written ``event,data,context``."""
    lines = [
        f"{NOW:%Y-%m-%dT%H:%M}:{number:02d}.000Z,{connector},{session},{number},"
        f"10.0.0.1:25,203.0.113.9:5000,{row}"
        for number, row in enumerate(rows)
    ]
    return list(
        assemble_sessions(parse_protocol_log("\n".join(lines), source="RECV20240601-1.LOG").rows)
    )


def presented(thumbprint: str = T1, error: str | None = None) -> list[str]:
    """Return the rows of a send session presenting a certificate: failing with ``error``."""
    outcome = f"*,,TLS negotiation failed with error {error}" if error else _SUCCEEDED
    return [
        ">,EHLO mail.contoso.com,",
        "<,250-mx Hello,",
        "<,250 STARTTLS,",
        ">,STARTTLS,",
        "<,220 2.0.0 SMTP server ready,",
        "*,,Sending certificate",
        "*,CN=mail.contoso.com,Certificate subject",
        "*,CN=Contoso CA,Certificate issuer name",
        f"*,{thumbprint},Certificate thumbprint",
        outcome,
        "-,,Local",
    ]


# -- configuration -----------------------------------------------------------------------


def certificate(thumbprint: str = T1, **changes: Any) -> ExchangeCertificate:
    """Return a healthy SMTP certificate for mail.contoso.com, with changes."""
    values: dict[str, Any] = {
        "thumbprint": thumbprint,
        "services": Services.IIS | Services.SMTP,
        "subject": "CN=mail.contoso.com",
        "issuer": "CN=Contoso CA",
        "certificate_domains": ("mail.contoso.com",),
        "has_private_key": True,
        "is_self_signed": False,
        "status": CertificateStatus.VALID,
        "not_before": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "not_after": dt.datetime(2025, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return ExchangeCertificate(**values)


def send_connector(**changes: Any) -> SendConnector:
    """Return a send connector 'Out' for mail.contoso.com that requires TLS, with changes."""
    values: dict[str, Any] = {
        "name": "Out",
        "fqdn": "mail.contoso.com",
        "require_tls": True,
        "protocol_logging_level": "Verbose",
    }
    values.update(changes)
    return SendConnector(**values)


def receive_connector(**changes: Any) -> ReceiveConnector:
    """Return the receive connector 'Default Frontend EX01', with changes."""
    values: dict[str, Any] = {
        "name": "Default Frontend EX01",
        "identity": "EX01\\Default Frontend EX01",
        "fqdn": "mail.contoso.com",
        "server": "EX01",
    }
    values.update(changes)
    return ReceiveConnector(**values)


def queues(text: str, source: str = "<queues>") -> list[QueueRecord]:
    """Return the queues of ``Get-Queue | Format-List`` text."""
    return list(parse_queues(text, source=source))


def queue(
    last_error: str | None = None,
    *,
    identity: str = "EX01\\5",
    next_hop: str = "mx.example.net",
    status: str | None = None,
) -> QueueRecord:
    """Return a queue: in Retry with this LastError, or Ready without one."""
    state = status or ("Retry" if last_error else "Ready")
    lines = [f"Identity : {identity}", f"Status : {state}", f"NextHopDomain : {next_hop}"]
    if last_error:
        lines.append(f"LastError : {last_error}")
    [record] = queues("\n".join(lines) + "\n")
    return record


def manifest(server: str = "EX01", **changes: Any) -> CollectionManifest:
    """Return the collector's manifest of ``server``."""
    values: dict[str, Any] = {
        "server": server,
        "fqdn": f"{server.lower()}.contoso.com",
        "collected": NOW,
        "days": 2,
    }
    values.update(changes)
    return CollectionManifest(**values)


def example(name: str, server: str | None = None) -> Evidence:
    """Return the evidence of an example folder (dates month first), as ``server``'s if given."""
    evidence = load_evidence(EXAMPLES / name, date_order="MDY")
    return evidence if server is None else attrs.evolve(evidence, server=server)


# -- one record of any kind ----------------------------------------------------------------


def _send_log(server: str, index: int) -> SmtpSession:
    [session] = send_sessions(f"S{index}|" + presented()[0], f"S{index}|-,,Local")
    return session


def _receive_log(server: str, index: int) -> SmtpSession:
    [session] = receive_sessions(
        ">,220 ready,", "-,,Local", connector=f"{server}\\Default Frontend", session=f"R{index}"
    )
    return session


#: One record of each kind of the kinds table, the ``index``-th of ``server``: records of
#: different indexes or servers are different objects, and each names ``server`` where
#: its kind names one. A new evidence kind adds its builder here.
RECORDS: dict[str, Callable[[str, int], object]] = {
    "send-log": _send_log,
    "receive-log": _receive_log,
    "manifest": lambda server, index: manifest(server),
    "tls-settings": lambda server, index: TlsSettings(server=f"{server} export {index}"),
    "events": lambda server, index: EventRecord(
        log="System", provider="Schannel", event_id=36871, record_id=index, machine=server
    ),
    "hybrid-configuration": lambda server, index: HybridConfiguration(
        name=f"{server} hybrid {index}"
    ),
    "inventory": lambda server, index: ExchangeServerInfo(name=f"{server} {index}"),
    "certificates": lambda server, index: certificate(f"{server}{index:038X}"[-40:]),
    "queues": lambda server, index: queue(identity=f"{server}\\{index}"),
    "send-connectors": lambda server, index: send_connector(
        name=f"{server} out {index}", source_transport_servers=(server,)
    ),
    "receive-connectors": lambda server, index: receive_connector(
        name=f"Receive {index}", identity=f"{server}\\Receive {index}", server=server
    ),
    "tls-reports": lambda server, index: TlsReport(
        organization_name=f"Sender of {server}", report_id=f"{server}-{index}"
    ),
    "probes": lambda server, index: SmtpProbe(
        host=f"mx{index}.{server.lower()}.example", port=25, stage=ProbeStage.DONE
    ),
}


def record_of_kind(kind: str, server: str = "EX01", index: int = 0) -> object:
    """Return the ``index``-th record of evidence kind ``kind`` for ``server``."""
    return RECORDS[kind](server, index)
