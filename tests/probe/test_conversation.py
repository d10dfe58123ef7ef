"""The probe's SMTP client without sockets: scripted servers, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls.probe.conversation import Action, Conversation, ProtocolError, ReplyReader
from exchange_tls.probe_results import ProbeStage
from exchange_tls.tls_results import TlsResultType

SEND_EHLO = Action("send", b"EHLO probe.test\r\n")
SEND_STARTTLS = Action("send", b"STARTTLS\r\n")
SEND_QUIT = Action("send", b"QUIT\r\n")
STARTTLS = Action("starttls")
CLOSE = Action("close")
EHLO_OK = b"250-mx.test Hello\r\n250-SIZE 10240000\r\n250-PIPELINING\r\n250 STARTTLS\r\n"

# (server chunks, then what the client does: "tls" once STARTTLS is answered, "eof" for a
# closed connection, "timeout"), actions expected, final stage, result type, error words.
TABLE = [
    (
        "healthy",
        [b"220 mx.test ESMTP\r\n", EHLO_OK, b"220 2.0.0 Go ahead\r\n", "tls", b"221 Bye\r\n"],
        [SEND_EHLO, SEND_STARTTLS, STARTTLS, SEND_QUIT, CLOSE],
        ProbeStage.HANDSHAKE,
        None,
        None,
    ),
    (
        "multi-line banner, replies split across packets",
        [b"220-mx.test ESMTP\r\n220-no UCE\r\n", b"220 ready\r\n", EHLO_OK[:20], EHLO_OK[20:]],
        [SEND_EHLO, SEND_STARTTLS],
        ProbeStage.STARTTLS,
        None,
        None,
    ),
    (
        "421 banner",
        [b"421 4.3.2 Service not available\r\n", "eof"],
        [SEND_QUIT],
        ProbeStage.BANNER,
        None,
        "421 4.3.2",
    ),
    (
        "554 banner, then the QUIT answered",
        [b"554 5.7.1 No SMTP service here\r\n", b"221 Bye\r\n"],
        [SEND_QUIT, CLOSE],
        ProbeStage.BANNER,
        None,
        "554 5.7.1",
    ),
    (
        "no STARTTLS in EHLO",
        [b"220 mx ESMTP\r\n", b"250-mx\r\n250 SIZE 1000\r\n", b"221 Bye\r\n"],
        [SEND_EHLO, SEND_QUIT, CLOSE],
        ProbeStage.EHLO,
        TlsResultType.STARTTLS_NOT_SUPPORTED,
        "does not offer STARTTLS",
    ),
    (
        "STARTTLS offered in lower case, bare 250 line",
        [b"220 mx ESMTP\r\n", b"250-mx\r\n250-starttls\r\n250\r\n"],
        [SEND_EHLO, SEND_STARTTLS],
        ProbeStage.STARTTLS,
        None,
        None,
    ),
    (
        "EHLO refused",
        [b"220 mx ESMTP\r\n", b"501 5.5.4 Invalid domain name\r\n", b"221 Bye\r\n"],
        [SEND_EHLO, SEND_QUIT, CLOSE],
        ProbeStage.EHLO,
        None,
        "refused EHLO",
    ),
    (
        "STARTTLS refused with 454",
        [b"220 mx ESMTP\r\n", EHLO_OK, b"454 4.7.0 TLS not available\r\n", "eof"],
        [SEND_EHLO, SEND_STARTTLS, SEND_QUIT],
        ProbeStage.STARTTLS,
        TlsResultType.STARTTLS_NOT_SUPPORTED,
        "454 4.7.0",
    ),
    (
        "closed before the banner",
        ["eof"],
        [],
        ProbeStage.BANNER,
        None,
        "before its banner",
    ),
    (
        "silent after EHLO",
        [b"220 mx ESMTP\r\n", "timeout"],
        [SEND_EHLO],
        ProbeStage.EHLO,
        None,
        "no answer",
    ),
    (
        "a reply to a command never sent (pipelining confusion)",
        [b"220 mx ESMTP\r\n250 surprise\r\n"],
        [CLOSE],
        ProbeStage.EHLO,
        None,
        "nobody asked for",
    ),
    (
        "bytes after the 220 to STARTTLS (injection)",
        [b"220 mx ESMTP\r\n", EHLO_OK, b"220 go ahead\r\n250 injected\r\n"],
        [SEND_EHLO, SEND_STARTTLS, CLOSE],
        ProbeStage.HANDSHAKE,
        None,
        "after its 220 to STARTTLS",
    ),
    (
        "not SMTP at all",
        [b"HTTP/1.1 400 Bad Request\r\n"],
        [CLOSE],
        ProbeStage.BANNER,
        None,
        "does not speak SMTP",
    ),
    (
        "a multi-line reply that changes its code",
        [b"220-mx\r\n250 odd\r\n"],
        [CLOSE],
        ProbeStage.BANNER,
        None,
        "changed its code",
    ),
]


@pytest.mark.parametrize(
    ("steps", "actions", "stage", "kind", "words"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_conversation_table(
    steps: list[bytes | str],
    actions: list[Action],
    stage: ProbeStage,
    kind: TlsResultType | None,
    words: str | None,
) -> None:
    """Each scripted server gives its actions, stage, result type and error."""
    talk = Conversation(ehlo_name="probe.test")
    done: list[Action] = []
    for step in steps:
        if step == "tls":
            done.extend(talk.tls_established())
        elif step == "eof":
            talk.connection_lost()
        elif step == "timeout":
            talk.timed_out(1.0)
        else:
            assert isinstance(step, bytes)
            done.extend(talk.receive_data(step))
    assert done == actions
    assert talk.stage is stage
    assert talk.result_type is kind
    if words is None:
        assert talk.error is None
    else:
        assert talk.error is not None
        assert words in talk.error


def test_the_client_never_sends_mail_commands() -> None:
    """Whatever the server says, the only commands are EHLO, STARTTLS and QUIT."""
    for _, steps, *_ in TABLE:
        talk = Conversation(ehlo_name="probe.test")
        for step in steps:
            if isinstance(step, bytes):
                for action in talk.receive_data(step):
                    verb = action.data.split(b" ")[0].strip().upper()
                    assert action.kind != "send" or verb in (b"EHLO", b"STARTTLS", b"QUIT")


@pytest.mark.parametrize("name", ["", "two words", "naïve.example", "tab\there"])
def test_an_ehlo_name_must_be_one_ascii_word(name: str) -> None:
    """An EHLO name that would break the command line is refused before anything is sent."""
    with pytest.raises(ValueError, match="ehlo_name"):
        Conversation(ehlo_name=name)


@given(st.lists(st.binary(max_size=300), max_size=12))
def test_any_bytes_give_actions_or_a_recorded_error(chunks: list[bytes]) -> None:
    """Hostile input never raises: the conversation acts, or fails with a reason."""
    talk = Conversation(ehlo_name="probe.test")
    for chunk in chunks:
        for action in talk.receive_data(chunk):
            assert action.kind in ("send", "starttls", "close")
    talk.connection_lost()
    assert talk.closed
    assert talk.error is None or isinstance(talk.error, str)


@given(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)), min_size=1, max_size=8
    )
)
def test_a_multi_line_reply_reads_back_whole(lines: list[str]) -> None:
    """Any reply written as SMTP writes it is read as one reply with its lines."""
    wire = "".join(
        f"250{'-' if index < len(lines) - 1 else ' '}{line}\r\n" for index, line in enumerate(lines)
    ).encode()
    reader = ReplyReader()
    replies = [reply for byte in wire for reply in reader.feed(bytes([byte]))]
    assert [(r.code, r.lines) for r in replies] == [(250, tuple(lines))]


def test_an_endless_line_is_refused() -> None:
    """A line past the limit is not SMTP; the reader says so rather than grow forever."""
    with pytest.raises(ProtocolError, match="longer than"):
        ReplyReader().feed(b"2" * 10_000)
