"""Correlation: what ties queues, sessions, connectors and certificates together.

Every rule reads the evidence through a :class:`Context`, so the joins are made once
and the same way for all rules:

* a send session ties to its connector by connector id (the connector's name);
* a session's certificate ties to the inventory by thumbprint, else by issuer and
  subject;
* a queue ties to sessions by the endpoint its LastError names, and to a connector by
  smart host or address space; through the connector, to that connector's sessions;
* a connector ties to its certificate in Exchange's selection order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import attrs

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.connectors.selection import Selection, select_certificate
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.protocol_log.models import CertificateIdentity, Direction, SmtpSession
from exchange_tls.protocol_log.summary import Occurrences, signature_of
from exchange_tls.queues.models import QueueRecord

__all__ = ["Context", "Timeline"]

_T = TypeVar("_T")


@attrs.frozen(kw_only=True)
class Timeline:
    """A connector's TLS history in the logs."""

    last_success: SmtpSession | None
    first_failure: SmtpSession | None
    failures_since: int
    #: The certificate presented at the first failure, when it differs from the one
    #: presented at the last success before it: the likely trigger.
    changed_certificate: CertificateIdentity | None


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def _queue_hosts(queue: QueueRecord) -> set[str]:
    hosts: set[str] = set()
    error = queue.last_error
    if error is not None:
        if error.ip is not None and error.ip.host:
            hosts.add(error.ip.host)
        if error.reply is not None:
            for reply in error.reply.chain:
                if reply.last_endpoint is not None and reply.last_endpoint.host:
                    hosts.add(reply.last_endpoint.host)
    return hosts


def _causes_by_host(
    occurrences: tuple[tuple[tuple[str, ...], Occurrences], ...],
) -> dict[str, set[tuple[str, ...]]]:
    causes: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for signature, found in occurrences:
        for host, _ in found.hosts:
            causes[host].add(signature)
    return causes


class Context:
    """The evidence with its joins made (see the module's docstring)."""

    def __init__(self, evidence: Evidence, now: dt.datetime | None) -> None:
        self.evidence = evidence
        self.now = now
        # Every input is put in a total order first, so that the findings do not depend on
        # the order the evidence came in (repr breaks the last ties deterministically).
        self.sessions = sorted(
            evidence.sessions,
            key=lambda s: (
                s.start,
                s.connector_id,
                s.session_id,
                str(s.rows[0].source),
                len(s.rows),
                tuple(row.text for row in s.rows),
            ),
        )
        self.send_sessions = [s for s in self.sessions if s.direction is not Direction.RECEIVE]
        self.receive_sessions = [s for s in self.sessions if s.direction is Direction.RECEIVE]
        self.certificates = sorted(
            evidence.certificates, key=lambda c: (c.thumbprint or "", c.subject or "", repr(c))
        )
        self.queues = sorted(evidence.queues, key=lambda q: (q.identity or "", repr(q)))
        self.connectors = sorted(evidence.send_connectors, key=lambda c: (_fold(c.name), repr(c)))
        self.receive_connectors = sorted(
            evidence.receive_connectors, key=lambda c: (_fold(c.name), repr(c))
        )
        self._memo: dict[Hashable, Any] = {}

        self._by_thumbprint = {c.thumbprint: c for c in self.certificates if c.thumbprint}
        self._sessions_by_connector: dict[str, list[SmtpSession]] = defaultdict(list)
        for session in self.send_sessions:
            self._sessions_by_connector[_fold(session.connector_id)].append(session)

    # -- certificates -------------------------------------------------------------------

    def certificate_for(self, identity: CertificateIdentity | None) -> ExchangeCertificate | None:
        """Return the inventory certificate a log's certificate block names, if any."""
        if identity is None:
            return None
        if identity.thumbprint and identity.thumbprint in self._by_thumbprint:
            return self._by_thumbprint[identity.thumbprint]
        if identity.subject and identity.issuer:
            for certificate in self.certificates:
                if _fold(certificate.subject) == _fold(identity.subject) and _fold(
                    certificate.issuer
                ) == _fold(identity.issuer):
                    return certificate
        return None

    def memo(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """Compute a fact several rules read once per diagnosis (``key`` names it)."""
        if key not in self._memo:
            self._memo[key] = compute()
        result: _T = self._memo[key]
        return result

    def selection(self, connector: SendConnector | ReceiveConnector) -> Selection:
        """Return Exchange's choice of certificate for the connector, with its reasons."""
        # Keyed by value, not id(): rules build throwaway connectors (FQDN only), and a
        # freed object's id can come back for another.
        return self.memo(
            ("selection", connector),
            lambda: select_certificate(
                connector,
                self.certificates,
                server_fqdn=self.evidence.server_fqdn,
                now=self.now,
            ),
        )

    def selected_certificate(
        self, connector: SendConnector | ReceiveConnector
    ) -> ExchangeCertificate | None:
        """Return the certificate Exchange would present for the connector, if known."""
        return self.selection(connector).presented

    # -- connectors, sessions and queues --------------------------------------------------

    def connector_named(self, name: str | None) -> SendConnector | None:
        """Return the send connector with this name (as a connector id), if known."""
        for connector in self.connectors:
            if _fold(connector.name) == _fold(name) or _fold(connector.identity) == _fold(name):
                return connector
        return None

    def sessions_of(self, connector: SendConnector) -> list[SmtpSession]:
        """Return the send sessions logged for the connector."""
        return self.sessions_named(connector.name)

    def sessions_named(self, connector_id: str | None) -> list[SmtpSession]:
        """Return the send sessions whose connector id is ``connector_id``, in time order."""
        return list(self._sessions_by_connector.get(_fold(connector_id), ()))

    def connector_for_queue(self, queue: QueueRecord) -> SendConnector | None:
        """Return the connector serving the queue: by smart host, else address space."""
        hop = _fold(queue.next_hop_domain)
        if not hop:
            return None
        for connector in self.connectors:
            if any(_fold(host) == hop for host in connector.smart_hosts or ()):
                return connector
        for connector in self.connectors:
            for space in connector.address_spaces or ():
                domain = _fold(space.split(":", 1)[-1].split(";", 1)[0])
                if domain == hop or (domain.startswith("*.") and hop.endswith(domain[1:])):
                    return connector
        return None

    def sessions_for_queue(self, queue: QueueRecord) -> list[SmtpSession]:
        """Return the sessions to the endpoint the queue names, else its connector's.

        A failure to that endpoint stands for its cause: every session that failed the same
        way (connector, outcome, error, certificate) is returned with it, whether the
        sessions are all kept or a summary counted some of them.
        """
        hosts = _queue_hosts(queue)
        if hosts:
            causes: set[tuple[str, ...]] = {
                signature
                for s in self.send_sessions
                if s.remote_endpoint is not None and s.remote_endpoint.host in hosts
                for signature in [signature_of(s)]
                if signature[2] != "ok"
            }
            causes |= self._summarised_causes_to(hosts)
            matched = [
                s
                for s in self.send_sessions
                if (s.remote_endpoint is not None and s.remote_endpoint.host in hosts)
                or (causes and signature_of(s) in causes)
            ]
            if matched:
                return matched
        connector = self.connector_for_queue(queue)
        return self.sessions_of(connector) if connector is not None else []

    def _summarised_causes_to(self, hosts: set[str]) -> set[tuple[str, ...]]:
        """Return the causes a summary counted failing to these hosts, beyond those kept."""
        summary = self.evidence.summary
        if summary is None:
            return set()
        causes_by_host: dict[str, set[tuple[str, ...]]] = self.memo(
            "causes by host", lambda: _causes_by_host(summary.occurrences)
        )
        return set().union(*(causes_by_host.get(host, set()) for host in hosts))

    def queues_for_connector(self, connector: SendConnector) -> list[QueueRecord]:
        """Return the queues the connector serves."""
        return [queue for queue in self.queues if self.connector_for_queue(queue) is connector]

    def timeline(self, sessions: list[SmtpSession]) -> Timeline:
        """Last success, first failure after it, failures since, and a certificate change."""
        tls = [s for s in sessions if s.tls is not None and s.tls.succeeded is not None]
        last_success: SmtpSession | None = None
        first_failure: SmtpSession | None = None
        failures = 0
        for session in tls:
            assert session.tls is not None  # noqa: S101 -- filtered above
            if session.tls.succeeded:
                last_success, first_failure, failures = session, None, 0
            else:
                failures += 1
                if first_failure is None:
                    first_failure = session
        summary = self.evidence.summary
        if summary is not None and last_success is not None:
            # Failures a summary counted but did not keep whole are failures all the same.
            connector = last_success.connector_id.casefold()
            since = last_success.end
            failures += sum(
                found.since(since)
                for signature, found in summary.occurrences
                if signature[1] == connector and signature[2] == "tls-failed"
            )
        changed = None
        if last_success is not None and first_failure is not None:
            before = last_success.tls.local_certificate if last_success.tls else None
            after = first_failure.tls.local_certificate if first_failure.tls else None
            if before and after and before.thumbprint != after.thumbprint:
                changed = after
        return Timeline(
            last_success=last_success,
            first_failure=first_failure,
            failures_since=failures,
            changed_certificate=changed,
        )
