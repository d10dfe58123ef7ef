"""The ``exchange-tls probe`` subcommand's options, without the probe.

The options are registered with every other subcommand's, but the probe (sockets, TLS,
``cryptography``) is imported only when ``probe`` runs: :func:`_run` hands the arguments
to :func:`exchange_tls.probe.command.run`.
"""

from __future__ import annotations

import argparse

__all__ = ["DEFAULT_JOBS", "DEFAULT_TIMEOUT", "add_parser"]

#: Probes at once for ``--from-logs`` unless ``--jobs`` says otherwise.
DEFAULT_JOBS = 4
#: Seconds for the connection, each reply and the handshake: the probe's own default
#: (``exchange_tls.probe.DEFAULT_TIMEOUT``; a test holds the two together).
DEFAULT_TIMEOUT = 10.0


def _run(arguments: argparse.Namespace) -> int:
    from exchange_tls.probe import command

    return command.run(arguments)


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
    command.set_defaults(run=_run)
