r"""Scopes: which server each piece of evidence came from, and evidence grouped by server.

Evidence from several servers must not be judged as one: a certificate with its key on
one server says nothing of the same thumbprint on another, and "now" differs between
them. :func:`gather` turns groups of evidence (a folder each, as the loader finds them)
into one scope per server:

1. A group's server is learned from the evidence itself, as each kind of the table
   (:data:`exchange_tls.kinds.ALL_KINDS`) says its records name one: the collector's
   manifest, the server part of queue identities (``EX01\9``), a send connector's
   single source transport server, receive connectors' server. When the group names
   none, or several, the group's own name (its folder) stands for the server.
2. Groups of the same server are one scope: every kind's records are merged by
   :meth:`Evidence.merge <exchange_tls.Evidence.merge>`, so where they disagree the fact
   is left unknown and a ``conflict`` is reported.
3. One scope is returned as plain evidence of that server; several, as evidence whose
   ``scopes`` hold each server's, which ``diagnose()`` judges one by one.
4. SMTP TLS reports are the domain's, not one server's: a group that holds reports and
   nothing else (a folder of them given beside the servers' folders) joins every scope,
   and each server's rules judge the MX hosts that are that server.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.errors import Problem, Severity
from exchange_tls.kinds import ALL_KINDS

__all__ = ["gather", "named_servers"]


def named_servers(evidence: Evidence) -> tuple[str, ...]:
    r"""Return the servers the evidence names, in order of first mention, case folded.

    >>> from exchange_tls.queues.models import QueueRecord
    >>> named_servers(Evidence(queues=[QueueRecord(identity="EX01\\9")]))
    ('ex01',)
    """
    names = [name for kind in ALL_KINDS for name in kind.named_servers(evidence)]
    folded = (name.strip().casefold() for name in names if name and name.strip())
    return tuple(dict.fromkeys(folded))


def _upper(name: str) -> str:
    # Exchange prints server names in capitals (EX01); a folder name is kept as written.
    return name.upper()


def _merge_group(server: str | None, parts: list[Evidence]) -> Evidence:
    if len(parts) == 1:
        return attrs.evolve(parts[0], server=server)
    return Evidence.merge(parts, server=server)


def _reports_only(evidence: Evidence) -> bool:
    """Whether the evidence is TLS reports and nothing else (files and problems aside)."""
    return bool(evidence.tls_reports) and not any(
        kind.field_records(evidence) for kind in ALL_KINDS if kind.field != "tls_reports"
    )


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
        key
        for key, (server, parts) in by_server.items()
        if server is None and all(_reports_only(part) for part in parts)
    ]
    if len(reports) < len(by_server):
        for key in reports:
            _, parts = by_server.pop(key)
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
    return Evidence.merge(scopes, scoped=True)
