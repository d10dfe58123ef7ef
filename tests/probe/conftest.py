"""Local SMTP servers for the probe's tests: one per case, on 127.0.0.1, ephemeral ports.

Every server runs on one asyncio loop in a daemon thread, is closed when its test ends,
and the loop stops by itself after :data:`LIFETIME` seconds whatever happens. An autouse
guard refuses any connection or datagram to an address outside the loopback range, so
no test of the probe can reach the network, whatever a bug makes it try.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

#: Seconds after which the servers' loop stops on its own.
LIFETIME = 120.0
#: The name the local servers' certificates are for.
MX = "mx.probe.test"


def _loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return isinstance(address, str | bytes)  # a Unix socket path is local


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection or datagram beyond 127.0.0.0/8 and ::1."""
    for name in ("connect", "connect_ex"):
        original = getattr(socket.socket, name)

        def guarded(self: socket.socket, address: Any, _original: Any = original) -> Any:
            if not _loopback(address):
                raise AssertionError(f"a test tried to reach {address!r}")
            return _original(self, address)

        monkeypatch.setattr(socket.socket, name, guarded)
    original_sendto = socket.socket.sendto

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        if not _loopback(args[-1]):
            raise AssertionError(f"a test tried to send to {args[-1]!r}")
        return original_sendto(self, data, *args)

    monkeypatch.setattr(socket.socket, "sendto", sendto)


class Loop:
    """An asyncio loop in a daemon thread that stops by itself."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_later(LIFETIME, self.loop.stop)
        with warnings.catch_warnings():
            # The servers run outside pytest's warnings-as-errors; their warnings are theirs.
            warnings.simplefilter("ignore")
            try:
                self.loop.run_forever()
            finally:
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.close()

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def stop(self) -> None:
        """Stop the loop (it closes itself), unless its lifetime already ran out."""
        with contextlib.suppress(RuntimeError):  # closed: it stopped itself after LIFETIME
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Servers:
    """Starts servers on the loop and closes them all at the end of the test."""

    def __init__(self, loop: Loop) -> None:
        self._loop = loop
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: list[asyncio.StreamWriter] = []

    def _start(self, factory: Callable[[], asyncio.Protocol]) -> int:
        async def start() -> asyncio.AbstractServer:
            return await self._loop.loop.create_server(factory, "127.0.0.1", 0)

        server = self._loop.call(start())
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def smtp(self, context: ssl.SSLContext | None) -> int:
        """Start an aiosmtpd server; STARTTLS offered when given a TLS context."""
        return self._start(
            lambda: SMTP(_Handler(), hostname=MX, ident="ESMTP probe-test", tls_context=context)
        )

    def scripted(self, script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> int:
        """Start a server that runs ``script(reader, writer)`` on each connection."""

        async def start() -> asyncio.AbstractServer:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                self._writers.append(writer)
                try:
                    await script(reader, writer)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
                finally:
                    writer.close()

            return await asyncio.start_server(handle, "127.0.0.1", 0)

        server = self._loop.call(start())
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        """Close every server and connection this test started."""

        async def close() -> None:
            for writer in self._writers:
                writer.close()
            for server in self._servers:
                server.close()

        self._loop.call(close())


class _Handler:
    """Accepts nothing: the probe never sends mail, and a test would fail if it tried."""

    async def handle_RCPT(self, *args: Any) -> str:
        raise AssertionError("the probe sent RCPT")

    async def handle_DATA(self, *args: Any) -> str:
        raise AssertionError("the probe sent DATA")


@pytest.fixture(scope="package")
def server_loop() -> Iterator[Loop]:
    """Return the loop every local server of the session runs on."""
    loop = Loop()
    yield loop
    loop.stop()


@pytest.fixture
def servers(server_loop: Loop) -> Iterator[Servers]:
    """Start local servers for one test; they are closed when it ends."""
    started = Servers(server_loop)
    yield started
    started.close()


class Pki:
    """A trusted CA and an untrusted one, their certificates, and contexts made from them."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.stranger = trustme.CA()
        self.trust_file = folder / "trust.pem"
        self.ca.cert_pem.write_to_path(str(self.trust_file))

    def context(
        self,
        *names: str,
        ca: trustme.CA | None = None,
        expired: bool = False,
        minimum: ssl.TLSVersion | None = None,
        maximum: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        """Return a server context presenting a certificate for ``names`` (default: the MX)."""
        now = dt.datetime.now(dt.timezone.utc)
        dates = {}
        if expired:
            dates = {
                "not_before": now - dt.timedelta(days=400),
                "not_after": now - dt.timedelta(days=30),
            }
        leaf = (ca or self.ca).issue_cert(*(names or (MX,)), **dates)
        #: The DER of the last certificate made, for TLSA records that name it.
        self.last_der = x509.load_pem_x509_certificate(
            leaf.cert_chain_pems[0].bytes()
        ).public_bytes(Encoding.DER)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(context)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if minimum is not None:
                context.minimum_version = minimum
            if maximum is not None:
                context.maximum_version = maximum
        context.set_ciphers("ALL:@SECLEVEL=0")
        return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Return the certificates of the local servers."""
    return Pki(tmp_path_factory.mktemp("pki"))


class Zone:
    """A local DNS server (dnslib) answering from zone lines, with the AD flag as told."""

    def __init__(self) -> None:
        from dnslib import QTYPE, RR
        from dnslib.server import DNSLogger, DNSServer

        self._rr, self._qtype = RR, QTYPE
        self.records: list[Any] = []
        self.authenticated = True
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
        self.server = DNSServer(self, address="127.0.0.1", port=0, logger=quiet)
        # A short poll, so that stopping takes a blink rather than half a second.
        self.thread = threading.Thread(
            target=self.server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.port: int = self.server.server.server_address[1]

    def add(self, zone: str) -> None:
        """Add records written as zone lines."""
        self.records.extend(self._rr.fromZone(zone))

    def resolve(self, request: Any, handler: Any) -> Any:
        """Answer from the records (dnslib's resolver interface)."""
        reply = request.reply()
        name, qtype = request.q.qname, request.q.qtype
        for record in self.records:
            if record.rname == name and record.rtype == qtype:
                reply.add_answer(record)
        reply.header.ad = 1 if self.authenticated else 0
        return reply

    def stop(self) -> None:
        """Stop the DNS server."""
        self.server.server.shutdown()
        self.server.server.server_close()
        self.thread.join(5)


@pytest.fixture
def zone() -> Iterator[Zone]:
    """Serve a local DNS zone on 127.0.0.1, stopped when the test ends."""
    served = Zone()
    yield served
    served.stop()


class Https:
    """A local HTTPS server of a few paths (an MTA-STS policy host)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        import http.server

        pages = self.pages = {}  # type: dict[str, bytes]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.timeout = 1
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop the HTTPS server."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def https(pki: Pki) -> Iterator[Https]:
    """Serve HTTPS for mta-sts.probe.test on 127.0.0.1, stopped when the test ends."""
    served = Https(pki.context("mta-sts.probe.test"))
    yield served
    served.stop()
