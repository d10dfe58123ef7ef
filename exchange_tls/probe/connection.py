"""The thin socket layer of the probe: connect, run the conversation, handshake, judge.

This and :mod:`exchange_tls.probe.policy` are the only code of the project that opens
network connections, and only when a user asks for a probe.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Mapping, Sequence

import attrs
from cryptography import x509

from exchange_tls.certificates.x509 import read_der
from exchange_tls.probe.conversation import Action, Conversation
from exchange_tls.probe.verify import load_trust, system_trust, verify_chain
from exchange_tls.probe_results.models import ProbeStage, SmtpProbe, VersionSupport

__all__ = [
    "DEFAULT_TIMEOUT",
    "VERSIONS",
    "Connector",
    "address_map",
    "default_ehlo_name",
    "probe_once",
]

#: Seconds to wait for the connection, each reply and the handshake.
DEFAULT_TIMEOUT = 10.0
#: The whole conversation may last this many timeouts at most.
DEADLINE_TIMEOUTS = 6
#: Seconds to wait for the reply to QUIT.
QUIT_WAIT = 2.0
#: ``connect(host, port, timeout)``: a connected socket (tests map hosts to 127.0.0.1).
Connector = Callable[[str, int, float], socket.socket]
#: The versions tried one by one, oldest first, as OpenSSL names them.
VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS_VERSION = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_READ = 4096


def _direct(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


def address_map(mapping: Mapping[str, tuple[str, int]], *, strict: bool = False) -> Connector:
    """Return a connector that sends the mapped hosts to other addresses (``--connect-to``).

    Host names compare case-insensitively. With ``strict``, a host the map lacks is
    refused instead of connected to, so nothing but the mapped addresses is ever reached.
    """
    folded = {host.casefold().rstrip("."): target for host, target in mapping.items()}

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        target = folded.get(host.casefold().rstrip("."))
        if target is None:
            if strict:
                raise ConnectionRefusedError(f"{host} is not in the address map")
            return _direct(host, port, timeout)
        return _direct(target[0], target[1], timeout)

    return connect


def default_ehlo_name(local_address: str | None = None) -> str:
    """Return a name servers accept in EHLO: this machine's FQDN, else an address literal.

    RFC 5321 §4.1.1.1 asks for a fully qualified name or, failing that, an address
    literal; a fixed made-up name (as some scanners send) is refused by many servers.
    """
    fqdn = socket.getfqdn()
    if "." in fqdn and not fqdn.casefold().startswith("localhost") and fqdn.isascii():
        return fqdn
    if local_address:
        try:
            address = ipaddress.ip_address(local_address.split("%", 1)[0])
        except ValueError:
            address = None
        if address is not None:
            return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"
    return "[127.0.0.1]"


def _client_context(minimum: str | None, maximum: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The handshake accepts any certificate; verify.py judges the chain afterwards, so a bad
    # certificate is reported with the version, cipher and chain, not as a bare failure.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # TLS 1.0 and 1.1 are deprecated in Python; offering them is how the probe learns
        # that a server accepts nothing newer. The probe never sends mail over them.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _TLS_VERSION.get(minimum or "TLSv1", ssl.TLSVersion.TLSv1)
        if maximum is not None:
            context.maximum_version = _TLS_VERSION[maximum]
    context.set_ciphers("ALL:!aNULL:!eNULL:@SECLEVEL=0")
    return context


def _chain(tls: ssl.SSLSocket) -> list[bytes]:
    # Python 3.13 has get_unverified_chain() publicly; 3.10 to 3.12 have it on the
    # internal object. Without it, the server's own certificate is all there is.
    getter = getattr(tls, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            return [
                item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                for item in chain
            ]
        except (AttributeError, ValueError, ssl.SSLError):
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


@attrs.frozen(kw_only=True)
class _Outcome:
    probe: SmtpProbe
    chain_der: tuple[bytes, ...]


def _sni(name: str | None) -> str | None:
    if not name:
        return None
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name
    return None


def probe_once(
    host: str,
    port: int,
    *,
    ehlo_name: str | None,
    server_name: str | None,
    timeout: float,
    roots: Sequence[x509.Certificate] | None,
    connect: Connector,
    minimum: str | None = None,
    maximum: str | None = None,
    now: dt.datetime | None = None,
) -> _Outcome:
    """Run one probe over one connection (``roots`` ``None``: do not judge the chain)."""
    started = dt.datetime.now(dt.timezone.utc) if now is None else now
    fields: dict[str, object] = {
        "host": host,
        "port": port,
        "server_name": server_name,
        "probed_at": started.replace(microsecond=0),
    }
    try:
        raw = connect(host, port, timeout)
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        probe = SmtpProbe(
            **fields,  # type: ignore[arg-type]
            stage=ProbeStage.CONNECT,
            error=f"cannot connect to {host} port {port}: {reason}",
        )
        return _Outcome(probe=probe, chain_der=())
    sock: socket.socket = raw
    chain_der: list[bytes] = []
    version = cipher = None
    try:
        sock.settimeout(timeout)
        peer, local = sock.getpeername(), sock.getsockname()
        if isinstance(peer, tuple) and len(peer) >= 2:
            host_part = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
            fields["address"] = f"{host_part}:{peer[1]}"
        # A connector may hand over any stream socket (a socket pair in the docs' example).
        name = ehlo_name or default_ehlo_name(local[0] if isinstance(local, tuple) else None)
        fields["ehlo_name"] = name
        talk = Conversation(ehlo_name=name)
        context = _client_context(minimum, maximum)
        pending: list[Action] = []
        # Each read waits at most ``timeout``; the whole conversation at most a few of them,
        # so a server that drips a byte at a time cannot hold the probe for long.
        deadline = time.monotonic() + DEADLINE_TIMEOUTS * timeout
        while not talk.closed:
            if time.monotonic() > deadline:
                talk.timed_out(DEADLINE_TIMEOUTS * timeout)
                break
            if not pending:
                try:
                    data = sock.recv(_READ)
                except TimeoutError:
                    talk.timed_out(timeout)
                    break
                except OSError as error:
                    talk.connection_lost(error.strerror or str(error))
                    break
                if not data:
                    talk.connection_lost()
                    break
                pending = talk.receive_data(data)
                continue
            action = pending.pop(0)
            if action.kind == "send":
                try:
                    sock.sendall(action.data)
                except OSError as error:
                    talk.connection_lost(error.strerror or str(error))
                    break
                if action.data.startswith(b"QUIT"):
                    # The answer to QUIT is a courtesy: wait for it briefly.
                    sock.settimeout(min(timeout, QUIT_WAIT))
            elif action.kind == "starttls":
                try:
                    sock = context.wrap_socket(sock, server_hostname=_sni(server_name or host))
                except TimeoutError:
                    talk.timed_out(timeout)
                    break
                except (ssl.SSLError, OSError) as error:
                    pending = talk.handshake_failed(_tls_error(error))
                    continue
                assert isinstance(sock, ssl.SSLSocket)  # noqa: S101 -- wrapped just above
                version = sock.version()
                cipher = (sock.cipher() or (None,))[0]
                chain_der = _chain(sock)
                pending = talk.tls_established()
            else:
                break
    finally:
        sock.close()
    fields.update(
        banner=talk.banner,
        capabilities=talk.capabilities,
        starttls_offered=talk.starttls_offered,
        tls_version=version,
        cipher=cipher,
        chain=tuple(_facts(chain_der)),
    )
    if version is None or (talk.error is not None and talk.stage is not ProbeStage.HANDSHAKE):
        probe = SmtpProbe(
            **fields,  # type: ignore[arg-type]
            stage=talk.stage,
            result_type=talk.result_type,
            error=talk.error,
        )
        return _Outcome(probe=probe, chain_der=tuple(chain_der))
    if roots is None:
        probe = SmtpProbe(**fields, stage=ProbeStage.DONE)  # type: ignore[arg-type]
        return _Outcome(probe=probe, chain_der=tuple(chain_der))
    verdict = verify_chain(chain_der, server_name, roots=roots, now=started)
    failed = verdict.result_type is not None
    probe = SmtpProbe(
        **fields,  # type: ignore[arg-type]
        stage=ProbeStage.VERIFY if failed else ProbeStage.DONE,
        name_matches=verdict.name_matches,
        verification_error=verdict.error,
        result_type=verdict.result_type,
        error=verdict.error if failed else None,
    )
    return _Outcome(probe=probe, chain_der=tuple(chain_der))


def _facts(chain_der: list[bytes]) -> list[object]:
    facts: list[object] = []
    for der in chain_der:
        try:
            facts.append(read_der(der))
        except ValueError:  # noqa: PERF203 -- a certificate that cannot be read is left out
            continue
    return facts


def _tls_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.replace("_", " ").lower()
    if isinstance(error, ssl.SSLEOFError | ConnectionResetError | BrokenPipeError):
        return "the server closed the connection"
    return str(error) or type(error).__name__


def versions_one_by_one(
    host: str,
    port: int,
    *,
    ehlo_name: str | None,
    server_name: str | None,
    timeout: float,
    connect: Connector,
) -> tuple[VersionSupport, ...]:
    """Try each TLS version on a connection of its own; say which the server accepts."""
    found = []
    for version in VERSIONS:
        try:
            _client_context(version, version)
        except (ValueError, ssl.SSLError) as error:
            found.append(VersionSupport(version=version, accepted=None, error=str(error)))
            continue
        outcome = probe_once(
            host,
            port,
            ehlo_name=ehlo_name,
            server_name=server_name,
            timeout=timeout,
            roots=None,
            connect=connect,
            minimum=version,
            maximum=version,
        )
        probe = outcome.probe
        if probe.tls_version is not None:
            found.append(VersionSupport(version=version, accepted=True))
        elif probe.stage is ProbeStage.HANDSHAKE:
            found.append(VersionSupport(version=version, accepted=False, error=probe.error))
        else:
            # The probe stopped before the handshake: the version was never put to the test.
            found.append(VersionSupport(version=version, accepted=None, error=probe.error))
    return tuple(found)


def resolve_trust(
    trust: str | os.PathLike[str] | Sequence[x509.Certificate] | None,
) -> tuple[x509.Certificate, ...]:
    """Return the trusted roots: a PEM file's, the given certificates, or the system's."""
    if trust is None:
        return system_trust()
    if isinstance(trust, str | os.PathLike):
        return load_trust(trust)
    return tuple(trust)
