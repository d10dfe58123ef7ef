"""``exchange-tls probe``: probe remote SMTP servers' STARTTLS, by name or from the logs.

The command line registers it with :func:`add_parser` (defined in
:mod:`exchange_tls.cli_probe`, so that the command line does not import the probe until
it runs); :func:`run` does the work. A probe
is always asked for by name: ``HOST``, the MX hosts of ``--domain``, or the remote hosts
whose sessions failed in ``--from-logs`` evidence; ``--connect-to`` sends any of them to
another address (a test server on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

import attrs

from exchange_tls.cli_probe import DEFAULT_JOBS, add_parser
from exchange_tls.probe import DnspythonResolver, HttpsFetcher, probe_smtp
from exchange_tls.probe.policy import DnsError, Resolver
from exchange_tls.probe.text import probe_text
from exchange_tls.probe_results import SmtpProbe, probes_to_json
from exchange_tls.safe_text import for_json, for_terminal

__all__ = ["DEFAULT_JOBS", "Target", "add_parser", "failed_hosts", "run"]

#: The most hosts ``--from-logs`` or ``--domain`` probes in one run.
MAX_TARGETS = 200
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@attrs.frozen(kw_only=True)
class Target:
    """A host to probe, with the name its certificate should carry when known."""

    host: str
    port: int = 25
    server_name: str | None = None


def _banner_name(session: object) -> str | None:
    """Return the host name a session's banner announces (``220 mx.contoso.com ESMTP``), if any."""
    for reply in getattr(session, "replies", ())[:1]:
        if reply.code == 220 and reply.text:
            word: str = reply.text.split()[0]
            if "." in word and not _is_address(word):
                return word.rstrip(".")
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def failed_hosts(evidence: object) -> list[Target]:
    """Return the remote hosts of failing send sessions in the evidence, most failures first."""
    from exchange_tls.protocol_log.models import Direction

    counts: dict[tuple[str, int], int] = {}
    names: dict[tuple[str, int], str] = {}
    for session in getattr(evidence, "sessions", ()):
        tls, remote = session.tls, session.remote_endpoint
        if session.direction is Direction.RECEIVE or remote is None or not remote.host:
            continue
        if tls is None or tls.succeeded is not False:
            continue
        key = (remote.host, remote.port or 25)
        counts[key] = counts.get(key, 0) + 1
        name = _banner_name(session)
        if name:
            names.setdefault(key, name)
    summary = getattr(evidence, "summary", None)
    for signature, found in getattr(summary, "occurrences", ()):
        if signature[2] != "tls-failed" or signature[0] == "receive":
            continue
        for occurrence in found:
            if occurrence.remote_host:
                key = (occurrence.remote_host, 25)
                counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts, key=lambda key: (-counts[key], key))
    return [Target(host=h, port=p, server_name=names.get((h, p))) for h, p in ordered]


def _targets(arguments: argparse.Namespace, resolver: Resolver | None) -> list[Target]:
    targets: list[Target] = []
    if arguments.host:
        targets.append(
            Target(host=arguments.host, port=arguments.port, server_name=arguments.server_name)
        )
    if arguments.from_logs:
        from exchange_tls.loading import load_evidence

        # Summaries, not whole sessions: the failing hosts are kept, the memory stays flat.
        evidence = load_evidence(*arguments.from_logs)
        targets.extend(failed_hosts(evidence))
    if arguments.domain and not targets and resolver is not None:
        answer = resolver.mx(arguments.domain.strip().rstrip("."))
        targets.extend(Target(host=mx.host, port=arguments.port) for mx in answer.records)
    return list(dict.fromkeys(targets))


def _resolver(arguments: argparse.Namespace) -> Resolver | None:
    if not arguments.domain:
        return None
    if arguments.dns_server is not None:
        address, port = arguments.dns_server
        return DnspythonResolver([address], port=port, timeout=arguments.timeout)
    return DnspythonResolver(timeout=arguments.timeout)


def _probe(arguments: argparse.Namespace, target: Target, resolver: Resolver | None) -> SmtpProbe:
    mapping = dict(arguments.connect_to)
    return probe_smtp(
        target.host,
        target.port,
        ehlo_name=arguments.ehlo,
        server_name=target.server_name,
        timeout=arguments.timeout,
        trust=arguments.trust,
        connect=mapping,
        minimum_version=arguments.min_tls,
        versions=arguments.versions,
        resolver=resolver,
        domain=arguments.domain,
        fetcher=HttpsFetcher(timeout=arguments.timeout, trust=arguments.trust, connect=mapping),
    )


@contextlib.contextmanager
def _output(target: str | None) -> Iterator[TextIO]:
    if target is None or target == "-":
        yield sys.stdout
        return
    with open(target, "w", encoding="utf-8", newline="\n") as stream:
        yield stream


def _say(text: str) -> None:
    sys.stderr.write(f"exchange-tls probe: {text}\n")
    sys.stderr.flush()


def run(arguments: argparse.Namespace) -> int:
    """Probe what the arguments name; exit 0 when every probe is healthy, else 1."""
    if not (arguments.host or arguments.from_logs or arguments.domain):
        _say("give HOST, --domain or --from-logs")
        return EXIT_USAGE
    try:
        resolver = _resolver(arguments)
        targets = _targets(arguments, resolver)
    except (DnsError, ImportError) as error:
        _say(str(error))
        return EXIT_USAGE
    if not targets:
        _say("no host to probe")
        return EXIT_OK if arguments.from_logs else EXIT_FAILED
    if len(targets) > MAX_TARGETS:
        _say(f"{len(targets)} hosts; probing the {MAX_TARGETS} with the most failures")
        targets = targets[:MAX_TARGETS]
    probes = _run_all(arguments, targets, resolver)
    with _output(arguments.output) as stream:
        if arguments.format == "json":
            stream.write(for_json(probes_to_json(probes)) + "\n")
        else:
            stream.write("\n\n".join(for_terminal(probe_text(p), newlines=True) for p in probes))
            stream.write("\n")
    return EXIT_OK if all(probe.healthy for probe in probes) else EXIT_FAILED


def _run_all(
    arguments: argparse.Namespace, targets: Sequence[Target], resolver: Resolver | None
) -> list[SmtpProbe]:
    if len(targets) == 1:
        return [_probe(arguments, targets[0], resolver)]
    done = 0
    results: list[SmtpProbe] = []
    with ThreadPoolExecutor(max_workers=min(arguments.jobs, len(targets))) as pool:
        for probe in pool.map(lambda target: _probe(arguments, target, resolver), targets):
            done += 1
            state = "ok" if probe.healthy else f"stopped at {probe.stage.value}"
            _say(f"[{done}/{len(targets)}] {for_terminal(probe.host)}:{probe.port} {state}")
            results.append(probe)
    return results
