"""``exchange-tls probe``: probe remote SMTP servers' STARTTLS, by name or from the logs.

The command line registers it with :func:`add_parser`; :func:`run` does the work. A probe
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

from exchange_tls.probe import DEFAULT_TIMEOUT, DnspythonResolver, HttpsFetcher, probe_smtp
from exchange_tls.probe.policy import DnsError, Resolver
from exchange_tls.probe.text import probe_text
from exchange_tls.probe_results import SmtpProbe, probes_to_json
from exchange_tls.safe_text import for_json, for_terminal

__all__ = ["Target", "add_parser", "failed_hosts", "run"]

#: Probes at once for ``--from-logs`` unless ``--jobs`` says otherwise.
DEFAULT_JOBS = 4
#: The most hosts ``--from-logs`` or ``--domain`` probes in one run.
MAX_TARGETS = 200
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@attrs.frozen(kw_only=True)
class Target:
    """A host to probe, with the name its certificate should carry when known."""

    host: str
    port: int = 25
    server_name: str | None = None


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not IP:PORT (or [IPv6]:PORT)")
    return host, int(port)


def _connect_to(text: str) -> tuple[str, tuple[str, int]]:
    host, found, target = text.partition("=")
    if not found or not host.strip():
        raise argparse.ArgumentTypeError(f"--connect-to takes HOST=IP:PORT, not {text!r}")
    return host.strip(), _endpoint(target)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _ehlo(text: str) -> str:
    if not text or not all(c.isascii() and c.isprintable() and not c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"--ehlo takes one name without spaces, not {text!r}")
    return text


def _jobs(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 64:
        raise argparse.ArgumentTypeError(f"--jobs takes 1 to 64, not {text!r}")
    return int(text)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``probe`` on the command line's subcommands."""
    command = commands.add_parser(
        "probe",
        help="probe a remote SMTP server's STARTTLS, certificate, DANE and MTA-STS",
        description="Connect to a remote SMTP server, read its banner, send EHLO and "
        "STARTTLS, complete the TLS handshake, judge the certificate it presents, and QUIT. "
        "It never sends mail (no MAIL, RCPT or DATA). Save the JSON and give it to "
        "'exchange-tls diagnose' with the logs: the findings then cite the probe.",
    )
    command.add_argument("host", nargs="?", metavar="HOST", help="the server to probe")
    command.add_argument("--port", type=int, default=25, help="its port (default 25)")
    command.add_argument(
        "--server-name",
        metavar="NAME",
        help="the name its certificate must carry, sent in SNI (default: HOST)",
    )
    command.add_argument(
        "--ehlo",
        metavar="NAME",
        type=_ehlo,
        help="the name to send in EHLO (default: this machine's FQDN, else its address "
        "as a literal such as [192.0.2.1])",
    )
    command.add_argument(
        "--trust",
        metavar="CAFILE",
        help="trusted roots, PEM, for the server's certificate and the MTA-STS policy host "
        "(default: the system's)",
    )
    command.add_argument(
        "--format", "-f", choices=("text", "json"), default="text", help="text or json"
    )
    command.add_argument("--output", "-o", metavar="FILE", help="write to FILE")
    command.add_argument(
        "--domain",
        metavar="DOMAIN",
        help="also look up DOMAIN's MX hosts, the TLSA records of each probed host (DANE) "
        "and DOMAIN's MTA-STS policy; without HOST, probe every MX host",
    )
    command.add_argument(
        "--from-logs",
        metavar="PATH",
        action="append",
        default=[],
        help="probe every remote host whose send sessions failed TLS in this evidence (repeatable)",
    )
    command.add_argument(
        "--connect-to",
        metavar="HOST=IP:PORT",
        type=_connect_to,
        action="append",
        default=[],
        help="connect to IP:PORT when probing HOST (the certificate is still checked for "
        "HOST); repeatable",
    )
    command.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"for the connection, each reply and the handshake (default {DEFAULT_TIMEOUT:g})",
    )
    command.add_argument(
        "--versions", action="store_true", help="also try each TLS version on its own connection"
    )
    command.add_argument(
        "--min-tls",
        choices=("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"),
        help="offer no version older than this (default: every version, so the server's "
        "best shows)",
    )
    command.add_argument(
        "--dns-server",
        metavar="IP:PORT",
        type=_endpoint,
        help="ask this DNS server (default: the system's resolver)",
    )
    command.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"probes at once for several hosts (default {DEFAULT_JOBS})",
    )
    command.set_defaults(run=run)


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
