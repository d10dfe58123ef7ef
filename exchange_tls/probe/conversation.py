r"""The probe's SMTP client as a state machine without I/O (in the manner of h11).

:class:`Conversation` is fed the bytes the server sent and answers with :class:`Action`
values: bytes to send, "start TLS now", or "close". It sends one command at a time and
waits for its whole reply (no pipelining), so a multi-line reply or a reply split across
packets is read as one, and a reply nobody asked for is an error rather than the answer
to the next command. It never sends ``MAIL``, ``RCPT`` or ``DATA``: its only commands
are ``EHLO``, ``STARTTLS`` and ``QUIT``.

>>> talk = Conversation(ehlo_name="probe.example.org")
>>> talk.receive_data(b"220 mx.example.com ESMTP\r\n")
[Action(kind='send', data=b'EHLO probe.example.org\r\n')]
>>> talk.receive_data(b"250-mx.example.com\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
[Action(kind='send', data=b'STARTTLS\r\n')]
>>> talk.receive_data(b"220 2.0.0 Ready to start TLS\r\n")
[Action(kind='starttls', data=b'')]
>>> talk.tls_established()
[Action(kind='send', data=b'QUIT\r\n')]
>>> talk.receive_data(b"221 2.0.0 Bye\r\n"), talk.stage.value
([Action(kind='close', data=b'')], 'handshake')
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

from exchange_tls.probe_results.models import ProbeStage
from exchange_tls.tls_results import TlsResultType

__all__ = ["MAX_LINE", "MAX_LINES", "Action", "Conversation", "Reply", "ReplyReader"]

#: Longer reply lines than RFC 5321's 512 octets are tolerated up to this; past it the
#: server is not speaking SMTP.
MAX_LINE = 4096
#: Lines of one reply; a long EHLO reply has about 20.
MAX_LINES = 200


@attrs.frozen
class Reply:
    """One whole SMTP reply: its code and its lines' text (without code and separator)."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The reply as the server wrote it, lines joined by ``" / "``."""
        return " / ".join(f"{self.code} {line}".rstrip() for line in self.lines)


class ProtocolError(ValueError):
    """What the server sent is not an SMTP reply."""


class ReplyReader:
    """Collects bytes into whole replies; multi-line replies (``250-``) end at ``250 ``."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[str] = []
        self._code: int | None = None

    @property
    def pending(self) -> bool:
        """Whether bytes of a reply not yet complete are held."""
        return bool(self._buffer or self._lines)

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return the replies they complete. Raises :class:`ProtocolError`."""
        self._buffer += data
        replies: list[Reply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    raise ProtocolError(f"a reply line longer than {MAX_LINE} bytes")
                return replies
            raw, self._buffer = self._buffer[:end].rstrip(b"\r"), self._buffer[end + 1 :]
            reply = self._line(raw.decode("utf-8", "replace"))
            if reply is not None:
                replies.append(reply)

    def _line(self, line: str) -> Reply | None:
        if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
            raise ProtocolError(f"not an SMTP reply line: {line[:80]!r}")
        code = int(line[:3])
        if self._code is not None and code != self._code:
            raise ProtocolError(f"a multi-line reply changed its code: {line[:80]!r}")
        self._code = code
        self._lines.append(line[4:])
        if len(self._lines) > MAX_LINES:
            raise ProtocolError(f"a reply of more than {MAX_LINES} lines")
        if line[3:4] == "-":
            return None
        reply = Reply(code, tuple(self._lines))
        self._lines, self._code = [], None
        return reply


@attrs.frozen
class Action:
    """What the caller must do next: send ``data``, start TLS, or close the connection."""

    kind: Literal["send", "starttls", "close"]
    data: bytes = b""


_CLOSE = Action("close")


class _State(enum.Enum):
    BANNER = "banner"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    HANDSHAKE = "handshake"
    QUIT = "quit"
    CLOSED = "closed"


def _command(text: str) -> bytes:
    return text.encode("ascii") + b"\r\n"


class Conversation:
    """The client side of one probe, from the banner to QUIT (see the module docstring).

    After the run, ``stage`` is the last stage reached, and ``error`` and ``result_type``
    say what stopped it (both ``None`` when the conversation reached the TLS handshake and
    ended well; the handshake's own outcome is the caller's to record).
    """

    def __init__(self, *, ehlo_name: str) -> None:
        if not ehlo_name or any(
            c.isspace() or not c.isprintable() or not c.isascii() for c in ehlo_name
        ):
            raise ValueError(f"ehlo_name must be one printable ASCII word, not {ehlo_name!r}")
        self.ehlo_name = ehlo_name
        self.stage = ProbeStage.BANNER
        self.banner: str | None = None
        self.capabilities: tuple[str, ...] | None = None
        self.starttls_offered: bool | None = None
        self.error: str | None = None
        self.result_type: TlsResultType | None = None
        self._state = _State.BANNER
        self._reader = ReplyReader()

    @property
    def closed(self) -> bool:
        """Whether the conversation is over."""
        return self._over()

    def _over(self) -> bool:
        # A method, not the property: a checker must not assume the state a call changed.
        return self._state is _State.CLOSED

    def receive_data(self, data: bytes) -> list[Action]:
        """Take bytes from the server; return what to do next."""
        if self.closed:
            return []
        try:
            replies = self._reader.feed(data)
        except ProtocolError as error:
            return self._fail(f"the server does not speak SMTP: {error}")
        actions: list[Action] = []
        for index, reply in enumerate(replies):
            if self._over():
                break
            actions.extend(self._on_reply(reply))
            late = index + 1 < len(replies) or self._reader.pending
            if late and self._state in (_State.EHLO, _State.STARTTLS, _State.HANDSHAKE):
                # We sent one command and the server already said more: a reply to nothing
                # (or, after STARTTLS's 220, bytes meant to be read as encrypted).
                what = "after its 220 to STARTTLS" if self._state is _State.HANDSHAKE else ""
                return [*actions[:-1], *self._fail(f"the server sent data nobody asked for {what}")]
        return actions

    def _fail(self, error: str, kind: TlsResultType | None = None) -> list[Action]:
        self.error, self.result_type = error.rstrip(), kind
        self._state = _State.CLOSED
        return [_CLOSE]

    def _quit(self) -> list[Action]:
        self._state = _State.QUIT
        return [Action("send", _command("QUIT"))]

    def _on_reply(self, reply: Reply) -> list[Action]:
        state = self._state
        if state is _State.BANNER:
            self.banner = reply.text
            if reply.code != 220:
                self.error = f"the server refused the session in its banner: {reply.text}"
                return self._quit()
            self.stage, self._state = ProbeStage.EHLO, _State.EHLO
            return [Action("send", _command(f"EHLO {self.ehlo_name}"))]
        if state is _State.EHLO:
            if reply.code != 250:
                self.error = f"the server refused EHLO: {reply.text}"
                return self._quit()
            self.capabilities = tuple(line.strip() for line in reply.lines[1:])
            keywords = {line.split(" ", 1)[0].upper() for line in self.capabilities}
            self.starttls_offered = "STARTTLS" in keywords
            if not self.starttls_offered:
                self.error = "the server's EHLO reply does not offer STARTTLS"
                self.result_type = TlsResultType.STARTTLS_NOT_SUPPORTED
                return self._quit()
            self.stage, self._state = ProbeStage.STARTTLS, _State.STARTTLS
            return [Action("send", _command("STARTTLS"))]
        if state is _State.STARTTLS:
            if reply.code != 220:
                self.error = f"the server refused STARTTLS: {reply.text}"
                self.result_type = TlsResultType.STARTTLS_NOT_SUPPORTED
                return self._quit()
            self.stage, self._state = ProbeStage.HANDSHAKE, _State.HANDSHAKE
            return [Action("starttls")]
        if state is _State.QUIT:
            self._state = _State.CLOSED
            return [_CLOSE]
        return self._fail(f"the server sent a reply nobody asked for: {reply.text}")

    def tls_established(self) -> list[Action]:
        """Say goodbye once the caller finished the TLS handshake (never mail)."""
        if self._state is not _State.HANDSHAKE:
            raise RuntimeError("tls_established() before a 220 reply to STARTTLS")
        return self._quit()

    def handshake_failed(self, error: str) -> list[Action]:
        """Record why the caller's TLS handshake failed, and close."""
        return self._fail(f"the TLS handshake failed: {error}", TlsResultType.VALIDATION_FAILURE)

    def connection_lost(self, error: str | None = None) -> None:
        """Record that the server closed the connection (or it broke, with ``error``)."""
        if self._state is _State.QUIT or self.closed:
            self._state = _State.CLOSED
            return
        waiting = {
            _State.BANNER: "its banner",
            _State.EHLO: "its reply to EHLO",
            _State.STARTTLS: "its reply to STARTTLS",
            _State.HANDSHAKE: "the TLS handshake",
        }[self._state]
        self._fail(f"the connection was closed before {waiting}" + (f": {error}" if error else ""))

    def timed_out(self, seconds: float) -> None:
        """Nothing came within the caller's timeout."""
        if self._state is _State.QUIT or self.closed:
            self._state = _State.CLOSED
            return
        waiting = {
            _State.BANNER: "a banner",
            _State.EHLO: "a reply to EHLO",
            _State.STARTTLS: "a reply to STARTTLS",
            _State.HANDSHAKE: "the TLS handshake to finish",
        }[self._state]
        self._fail(f"no answer: waited {seconds:g} s for {waiting}")
