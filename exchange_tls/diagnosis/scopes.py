r"""Scopes: which server each piece of evidence came from, and evidence grouped by server.

Evidence from several servers must not be judged as one: a certificate with its key on
one server says nothing of the same thumbprint on another, and "now" differs between
them. :func:`gather` turns groups of evidence (a folder each, as the loader finds them)
into one scope per server:

1. A group's server is learned from the evidence itself: the collector's manifest, the
   server part of queue identities (``EX01\9``), receive connectors' server, a send
   connector's single source transport server. When the group names none, or several,
   the group's own name (its folder) stands for the server.
2. Groups of the same server are one scope: their records are merged with
   :func:`~exchange_tls.merging.merge_records`, so where they disagree the fact is left
   unknown and a ``conflict`` is reported.
3. One scope is returned as plain evidence of that server; several, as evidence whose
   ``scopes`` hold each server's, which ``diagnose()`` judges one by one.
4. SMTP TLS reports are the domain's, not one server's: a group that holds reports and
   nothing else (a folder of them given beside the servers' folders) joins every scope,
   and each server's rules judge the MX hosts that are that server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.errors import Problem, Severity
from exchange_tls.merging import merge_records
from exchange_tls.protocol_log.summary import merge_summaries

__all__ = ["gather", "named_servers"]


def named_servers(evidence: Evidence) -> tuple[str, ...]:
    r"""Return the servers the evidence names, in order of first mention, case folded.

    >>> from exchange_tls.queues.models import QueueRecord
    >>> named_servers(Evidence(queues=[QueueRecord(identity="EX01\\9")]))
    ('ex01',)
    """
    names: list[str | None] = []
    manifest = getattr(evidence, "manifest", None)
    names.append(getattr(manifest, "server", None))
    names.extend(queue.server for queue in evidence.queues)
    names.extend(connector.server for connector in evidence.receive_connectors)
    for connector in evidence.send_connectors:
        servers = connector.source_transport_servers or ()
        if len(servers) == 1:
            names.append(servers[0])
    folded = (name.strip().casefold() for name in names if name and name.strip())
    return tuple(dict.fromkeys(folded))


def _upper(name: str) -> str:
    # Exchange prints server names in capitals (EX01); a folder name is kept as written.
    return name.upper()


def _merge_group(server: str | None, parts: list[Evidence]) -> Evidence:
    if len(parts) == 1:
        return attrs.evolve(parts[0], server=server)
    problems: list[Problem] = [problem for part in parts for problem in part.problems]
    certificates, found = merge_records(
        (c for part in parts for c in part.certificates),
        lambda c: c.thumbprint,
        kind="certificate",
    )
    problems += found
    queues, found = merge_records(
        (q for part in parts for q in part.queues), lambda q: q.identity, kind="queue"
    )
    problems += found
    send, found = merge_records(
        (c for part in parts for c in part.send_connectors),
        lambda c: (c.name or "").casefold() or None,
        kind="send connector",
    )
    problems += found
    receive, found = merge_records(
        (c for part in parts for c in part.receive_connectors),
        lambda c: c.identity or c.name,
        kind="receive connector",
    )
    problems += found
    return Evidence(
        sessions=[s for part in parts for s in part.sessions],
        certificates=certificates,
        queues=queues,
        send_connectors=send,
        receive_connectors=receive,
        problems=problems,
        server_fqdn=next((p.server_fqdn for p in parts if p.server_fqdn), None),
        files=[f for part in parts for f in part.files],
        summary=merge_summaries(part.summary for part in parts),
        server=server,
        tls_reports=[r for part in parts for r in part.tls_reports],
    )


def _reports_only(evidence: Evidence) -> bool:
    """Whether the evidence is TLS reports alone (with the files and problems of reading)."""
    others = (
        evidence.sessions,
        evidence.certificates,
        evidence.queues,
        evidence.send_connectors,
        evidence.receive_connectors,
        evidence.events,
        evidence.tls_settings,
        evidence.hybrid_configurations,
    )
    return bool(evidence.tls_reports) and evidence.manifest is None and not any(others)


def gather(groups: Mapping[str, Evidence]) -> Evidence:
    r"""Return the evidence of each server, from evidence grouped by where it was found.

    >>> from exchange_tls.queues.models import QueueRecord
    >>> fleet = gather({
    ...     "a": Evidence(queues=[QueueRecord(identity="EX01\\9")]),
    ...     "b": Evidence(queues=[QueueRecord(identity="EX02\\3")]),
    ... })
    >>> [scope.server for scope in fleet.scopes]
    ['EX01', 'EX02']
    """
    by_server: dict[str, tuple[str | None, list[Evidence]]] = {}
    for name, evidence in groups.items():
        servers = named_servers(evidence)
        server = _upper(servers[0]) if len(servers) == 1 else None
        if len(servers) > 1:
            note = Problem(
                message=f"names several servers ({', '.join(map(_upper, servers))}); "
                "its evidence is judged together, as one scope",
                source=name,
                severity=Severity.WARNING,
                code="several-servers",
            )
            evidence = attrs.evolve(evidence, problems=(note, *evidence.problems))
        by_server.setdefault(server or name, (server, []))[1].append(evidence)
    reports = [
        (key, parts)
        for key, (server, parts) in by_server.items()
        if server is None and all(_reports_only(part) for part in parts)
    ]
    if len(reports) < len(by_server):
        for key, parts in reports:
            del by_server[key]
            for _, others in by_server.values():
                others.extend(parts)
    # A group that names no server is known by its folder, but only to tell it from others.
    several = len(by_server) > 1
    scopes = [
        _merge_group(server or (key if several else None), parts)
        for key, (server, parts) in by_server.items()
    ]
    if len(scopes) == 1:
        return scopes[0]
    return _fleet(scopes)


def _fleet(scopes: Iterable[Evidence]) -> Evidence:
    parts = list(scopes)
    return Evidence(
        sessions=[s for part in parts for s in part.sessions],
        certificates=[c for part in parts for c in part.certificates],
        queues=[q for part in parts for q in part.queues],
        send_connectors=[c for part in parts for c in part.send_connectors],
        receive_connectors=[c for part in parts for c in part.receive_connectors],
        problems=[p for part in parts for p in part.problems],
        files=[f for part in parts for f in part.files],
        scopes=parts,
        tls_reports=[r for part in parts for r in part.tls_reports],
    )
