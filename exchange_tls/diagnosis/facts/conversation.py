"""What the rules of the whole conversation share: who the remote is, how a session ended.

A session is judged to its end (DESIGN §19): it is healthy when the mail was accepted, not
when TLS was negotiated. These helpers read, for a session the rules were given, the
refusal that ended it (:func:`~exchange_tls.protocol_log.outcome.refusal`, the same one
the summary's signatures use), whether the remote is Exchange Online or a known partner,
and the EHLO lines that show what the remote (or this server) offered.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator

from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.exchange_online import to_exchange_online
from exchange_tls.diagnosis.facts.sessions import replies_saying
from exchange_tls.diagnosis.model import EvidenceRef
from exchange_tls.protocol_log.models import Direction, Event, ProtocolLogRow, SmtpSession
from exchange_tls.protocol_log.outcome import mail_accepted, refusal, refusal_code
from exchange_tls.protocol_log.summary import signature_of
from exchange_tls.sources import SourceRef

__all__ = [
    "EXO_NAMES",
    "MASKED_VERB",
    "counted",
    "ehlo_reply_rows",
    "exchange_online",
    "exchange_online_receive_failures",
    "handshake_then_refused",
    "known_partner",
    "masked_starttls",
    "matters",
    "receive_connector_of",
    "receive_connectors_failing_exchange_online",
    "refusal_row",
    "refused_code",
    "remote_fault_replies",
    "sessions_not_remote",
    "sessions_without_offer",
]

#: Host names of Exchange Online's mail servers, in banners, EHLO and certificates.
EXO_NAMES = (".mail.protection.outlook.com", ".outbound.protection.outlook.com", "outlook.com")
#: A firewall's SMTP inspection replaces an EHLO keyword it does not allow by X's
#: (Cisco ASA's default ESMTP inspection removes the STARTTLS indication this way).
MASKED_VERB = re.compile(r"^250[- ]X{4,}[A-Z]?\s*$")


def _answers(session: SmtpSession) -> Event:
    return Event.SEND if session.direction is Direction.RECEIVE else Event.RECEIVE


def _commands(session: SmtpSession) -> Event:
    return Event.RECEIVE if session.direction is Direction.RECEIVE else Event.SEND


def refusal_row(session: SmtpSession) -> ProtocolLogRow | None:
    """Return the first refusal of the answering side in the session, or ``None``."""
    return refusal(session.rows, session.direction)


def refused_code(session: SmtpSession) -> str | None:
    """Return the refusal's codes (``550 5.7.64``), or ``None``."""
    row = refusal_row(session)
    return None if row is None else refusal_code(row.data)


def handshake_then_refused(session: SmtpSession) -> ProtocolLogRow | None:
    """Return the refusal of a session that negotiated TLS and was refused after it.

    Only a refusal that came after the handshake, in a session whose mail was not
    accepted, counts: a 550 5.1.1 for one recipient of a message that was then delivered
    is not a refused session.
    """
    tls = session.tls
    if tls is None or tls.succeeded is not True:
        return None
    row = refusal_row(session)
    if row is None or mail_accepted(session.rows, session.direction):
        return None
    handshake = next(
        (r for r in session.rows if r.text.startswith("TLS protocol ")),
        None,
    )
    if handshake is not None and _position(session, row) < _position(session, handshake):
        return None
    return row


def _position(session: SmtpSession, row: ProtocolLogRow) -> int:
    return next(index for index, candidate in enumerate(session.rows) if candidate is row)


def ehlo_reply_rows(session: SmtpSession) -> Iterator[ProtocolLogRow]:
    """Yield the reply rows to the first EHLO, before any TLS (what was offered in clear)."""
    commands, answers = _commands(session), _answers(session)
    started = False
    for row in session.rows:
        if row.event is commands:
            verb = row.data[:4].upper()
            if started and verb != "EHLO":
                return
            if verb in ("EHLO", "HELO"):
                if started:
                    return
                started = True
        elif started and row.event is answers:
            yield row
        elif row.event is Event.INFORMATION and started and row.text.startswith("TLS "):
            return


def masked_starttls(session: SmtpSession) -> ProtocolLogRow | None:
    """Return the EHLO line a firewall masked (``250-XXXXXXXA``), or ``None``."""
    return next((row for row in ehlo_reply_rows(session) if MASKED_VERB.match(row.data)), None)


def _names_exchange_online(text: str) -> bool:
    folded = text.casefold()
    return any(name in folded for name in EXO_NAMES[:2])


def exchange_online(context: Context, session: SmtpSession) -> bool:
    """Whether the other end is Exchange Online: its connector, banner, EHLO or certificate."""
    if session.direction is not Direction.RECEIVE:
        connector = context.connector_named(session.connector_id)
        if connector is not None and to_exchange_online(connector):
            return True
    tls = session.tls
    remote = tls.remote_certificate if tls is not None else None
    if remote is not None:
        names = [remote.subject or "", *(remote.alternate_names or ())]
        if any(_names_exchange_online(name) for name in names):
            return True
    for row in session.rows[:12]:
        if row.event in (Event.SEND, Event.RECEIVE) and _names_exchange_online(row.data):
            return True
    return False


def _receive_connector(context: Context, session: SmtpSession) -> ReceiveConnector | None:
    wanted = session.connector_id.casefold()
    for connector in context.receive_connectors:
        names = {(connector.identity or "").casefold(), (connector.name or "").casefold()}
        if wanted in names or wanted.split("\\")[-1] in names:
            return connector
    return None


def _networks(ranges: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for text in ranges:
        text = text.strip()
        try:
            if "-" in text:
                first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
                networks.extend(ipaddress.summarize_address_range(first, last))
            else:
                networks.append(ipaddress.ip_network(text, strict=False))
        except (ValueError, TypeError):
            continue
    return networks


def known_partner(context: Context, session: SmtpSession) -> bool:
    """Whether a receive session came from a host a receive connector names on purpose.

    A connector whose RemoteIPRanges is narrower than everyone (a partner's or an
    application's connector) names its remote hosts; the default connectors accept all.
    """
    connector = _receive_connector(context, session)
    remote = session.remote_endpoint
    if connector is None or remote is None or not remote.host or not connector.remote_ip_ranges:
        return False
    try:
        address = ipaddress.ip_address(remote.host)
    except ValueError:
        return False
    networks = _networks(connector.remote_ip_ranges)
    if not networks or any(network.prefixlen == 0 for network in networks):
        return False
    return any(address in network for network in networks if network.version == address.version)


def matters(context: Context, session: SmtpSession) -> bool:
    """Whether a refusal of this session is this organisation's problem, not background.

    Send sessions always; receive sessions when the remote is Exchange Online or a known
    partner (background refusals from unknown hosts are reported elsewhere, as such).
    """
    if session.direction is not Direction.RECEIVE:
        return True
    return exchange_online(context, session) or known_partner(context, session)


def sessions_not_remote(context: Context) -> frozenset[SourceRef]:
    """Return the rows of send sessions that lacked STARTTLS through no fault of the remote.

    The remote offered STARTTLS and this server did not send it (the connector ignores
    it), or a firewall masked the offer. Rules that blame the remote for a missing
    STARTTLS leave these rows to the rules that name the right side.
    """

    def read() -> frozenset[SourceRef]:
        sources: set[SourceRef] = set()
        for session in context.send_sessions:
            tls = session.tls
            ignored = (
                tls is not None and tls.starttls_offered is True and not tls.starttls_requested
            )
            if ignored or masked_starttls(session) is not None:
                sources.update(row.source for row in session.rows)
        return frozenset(sources)

    return context.memo("sessions-not-remote", read)


def receive_connector_of(context: Context, session: SmtpSession) -> ReceiveConnector | None:
    """Return the receive connector a receive session was logged on, if its settings are here."""
    return _receive_connector(context, session)


def _self_signed(context: Context, session: SmtpSession) -> bool:
    tls = session.tls
    local = tls.local_certificate if tls is not None else None
    if local is None:
        return False
    known = context.certificate_for(local)
    if known is not None and known.is_self_signed is not None:
        return known.is_self_signed
    return bool(local.subject) and local.subject == local.issuer


def exchange_online_receive_failures(
    context: Context,
) -> dict[tuple[str, str], list[SmtpSession]]:
    """Return Exchange Online's receive sessions that ended without mail, by connector and kind.

    ``self-signed``: this server presented a self-signed certificate (Exchange Online's
    4.7.320 on its side); ``no STARTTLS``: its EHLO reply offered none (4.4.317).
    """

    def read() -> dict[tuple[str, str], list[SmtpSession]]:
        groups: dict[tuple[str, str], list[SmtpSession]] = {}
        for session in context.receive_sessions:
            if not exchange_online(context, session) or mail_accepted(
                session.rows, session.direction
            ):
                continue
            tls = session.tls
            if tls is not None and tls.succeeded is True and _self_signed(context, session):
                kind = "self-signed"
            elif tls is not None and tls.starttls_offered is False:
                kind = "no STARTTLS"
            else:
                continue
            groups.setdefault((session.connector_id, kind), []).append(session)
        return groups

    return context.memo("exchange-online-receive-failures", read)


def receive_connectors_failing_exchange_online(context: Context) -> frozenset[str]:
    """Return the receive connectors (identity and name, folded) Exchange Online fails on."""
    names: set[str] = set()
    for connector_id, _ in exchange_online_receive_failures(context):
        names.add(connector_id.casefold())
        names.add(connector_id.split("\\")[-1].casefold())
    return frozenset(names)


def counted(context: Context, sessions: list[SmtpSession]) -> tuple[int, Counter[str]]:
    """Return how many sessions these stand for, and their remote hosts with counts.

    With a summary, the sessions kept whole stand for every session of their signature
    (the others are counted occurrences), so the full read and the summary say the same.
    """
    hosts: Counter[str] = Counter(
        s.remote_endpoint.host
        for s in sessions
        if s.remote_endpoint is not None and s.remote_endpoint.host
    )
    count = len(sessions)
    summary = context.evidence.summary
    if summary is not None:
        alike = {signature_of(session): session for session in sessions}
        for session in alike.values():
            found = summary.occurrences_like(session)
            count += found.count
            for host, number in found.hosts:
                if host:
                    hosts[host] += number
    return count, hosts


def remote_fault_replies(context: Context, needles: list[str]) -> list[EvidenceRef]:
    """Cite replies saying one of ``needles``, but not in sessions the remote is not to blame."""
    elsewhere = sessions_not_remote(context)
    return [ref for ref in replies_saying(context, needles) if ref.source not in elsewhere]


def sessions_without_offer(context: Context, connector: SendConnector) -> list[SmtpSession]:
    """Return the connector's sessions whose remote offered no STARTTLS, masked ones left out."""
    elsewhere = sessions_not_remote(context)
    return [
        session
        for session in context.sessions_of(connector)
        if session.tls is not None
        and session.tls.starttls_offered is False
        and session.rows[0].source not in elsewhere
    ]
