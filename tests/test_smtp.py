import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import EnhancedStatusCode, ParseError, SmtpReply, parse_smtp_reply
from exchange_tls.endpoints import Endpoint
from tests.growth import assert_linear, prefix_of

KB4051498 = (
    '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out." '
    "Attempted failover to alternate host, but that did not succeed. Either there are no "
    "alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted "
    "was 216.32.181.234:25"
)
PROXY_IPV6 = (
    "450 4.7.0 Proxy session setup failed on Frontend with '451 4.4.0 Primary target IP "
    'address responded with: "451 4.4.0 Security status InvalidToken." Attempted failover '
    "to alternate host, but that did not succeed. Either there are no alternate hosts, or "
    "delivery failed to all alternate hosts. The last endpoint attempted was "
    "2001:db8:3c00:2::1200:25'"
)

# (text, [(code, enhanced) outermost first], wrapper kinds outermost first, innermost text)
CASES = [
    ("421 4.4.1 Connection timed out", [(421, "4.4.1")], [None], "Connection timed out"),
    ("250 ok", [(250, None)], [None], "ok"),
    ("220", [(220, None)], [None], ""),
    (
        "550 4.4.7 QUEUE.Expired; message expired",
        [(550, "4.4.7")],
        [None],
        "QUEUE.Expired; message expired",
    ),
    (
        KB4051498,
        [(451, "4.4.0"), (421, "4.4.1")],
        ["primary-target", None],
        "Connection timed out",
    ),
    (
        PROXY_IPV6,
        [(450, "4.7.0"), (451, "4.4.0"), (451, "4.4.0")],
        ["proxy-session", "primary-target", None],
        "Security status InvalidToken",
    ),
    (
        "451 4.4.397 Error communicating with target host. -> 421 4.4.2 Connection dropped due to TimedOut",
        [(451, "4.4.397"), (421, "4.4.2")],
        ["chained", None],
        "Connection dropped due to TimedOut",
    ),
    (
        "450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is required to send mail] [LastAttemptedServerName=mx.contoso.com] [LastAttemptedIP=192.0.2.7:25]",
        [(450, "4.4.317"), (451, "5.7.3")],
        ["bracketed-message", None],
        "STARTTLS is required to send mail",
    ),
    (
        "441 4.4.1 Error encountered while communicating with primary target IP address: "
        '"Failed to connect. Winsock error code: 10060, Win32 error code: 10060." Attempted '
        "failover to alternate host, but that did not succeed.",
        [(441, "4.4.1")],
        ["primary-target-error"],
        "Error encountered while communicating with primary target IP address: "
        '"Failed to connect. Winsock error code: 10060, Win32 error code: 10060." Attempted '
        "failover to alternate host, but that did not succeed.",
    ),
]


@pytest.mark.parametrize(("text", "chain", "wrappers", "innermost"), CASES)
def test_reply_chain_is_read(
    text: str, chain: list[tuple[int, str | None]], wrappers: list[str | None], innermost: str
) -> None:
    """Each reply, with Exchange's wrappers, parses into the expected chain."""
    reply = parse_smtp_reply(text)
    assert [(r.code, str(r.enhanced) if r.enhanced else None) for r in reply.chain] == chain
    assert [r.wrapper for r in reply.chain] == wrappers
    assert reply.innermost.text == innermost


def test_kb4051498_reply_names_the_last_endpoint() -> None:
    """The KB 4051498 queue error gives 451 4.4.0, nested 421 4.4.1, and the endpoint."""
    reply = parse_smtp_reply(KB4051498)
    assert reply.code == 451
    assert str(reply.enhanced) == "4.4.0"
    assert reply.nested is not None
    assert reply.nested.code == 421
    assert str(reply.nested.enhanced) == "4.4.1"
    assert reply.last_endpoint == Endpoint(host="216.32.181.234", port=25, raw="")
    assert reply.nested.last_endpoint is None


def test_last_endpoint_belongs_to_the_reply_that_says_it() -> None:
    """Inside a proxy wrapper, the IPv6 endpoint belongs to the middle reply."""
    reply = parse_smtp_reply(PROXY_IPV6)
    assert reply.last_endpoint is None
    assert reply.nested is not None
    assert reply.nested.last_endpoint == Endpoint(host="2001:db8:3c00:2::1200", port=25, raw="")


def test_masked_ipv6_endpoint_keeps_its_text() -> None:
    """A masked endpoint keeps port and text, with no host."""
    reply = parse_smtp_reply(PROXY_IPV6.replace("2001:db8:3c00:2::1200", "2a0X:3cXX:XX2:XXX::XX00"))
    endpoint = reply.chain[1].last_endpoint
    assert endpoint is not None
    assert (endpoint.host, endpoint.port, endpoint.raw) == (None, 25, "2a0X:3cXX:XX2:XXX::XX00:25")


def test_bracketed_last_attempted_ip_is_the_endpoint() -> None:
    """Exchange Online's [LastAttemptedIP=…] is read as the last endpoint."""
    reply = parse_smtp_reply(CASES[7][0])
    assert str(reply.last_endpoint) == "192.0.2.7:25"


def test_winsock_error_is_kept_as_inner_text() -> None:
    """A wrapped text that is not a reply stays as inner_text, with no nested reply."""
    reply = parse_smtp_reply(CASES[8][0])
    assert reply.nested is None
    assert reply.inner_text == (
        "Failed to connect. Winsock error code: 10060, Win32 error code: 10060"
    )


def test_curly_quotes_from_web_pages_are_straightened() -> None:
    """Curly quotes around the inner reply still nest it."""
    curly = KB4051498.replace('"421', "\u201c421").replace('out."', "out.\u201d")
    assert parse_smtp_reply(curly).nested == parse_smtp_reply(KB4051498).nested


def test_multi_line_reply_keeps_each_line() -> None:
    """A 250- multi-line reply keeps its lines and renders back the same."""
    text = "250-mail.contoso.com Hello [192.0.2.1]\n250-SIZE 37748736\n250-STARTTLS\n250 CHUNKING"
    reply = parse_smtp_reply(text)
    assert reply.lines == (
        "mail.contoso.com Hello [192.0.2.1]",
        "SIZE 37748736",
        "STARTTLS",
        "CHUNKING",
    )
    assert reply.render() == text


def test_multi_line_enhanced_reply() -> None:
    """Multi-line replies with an enhanced code on each line keep it once."""
    text = (
        "550-5.7.26 This mail has been blocked because the sender is\n550 5.7.26 unauthenticated."
    )
    reply = parse_smtp_reply(text)
    assert str(reply.enhanced) == "5.7.26"
    assert reply.text == "This mail has been blocked because the sender is\nunauthenticated."
    assert reply.render() == text


def test_console_wrapped_reply_is_joined() -> None:
    """A line without a code continues the one before, as a console wraps it."""
    wrapped = KB4051498.replace("Either there", "Either\nthere").replace(
        "4.4.1 Connection", "4.4.1\nConnection"
    )
    assert parse_smtp_reply(wrapped) == parse_smtp_reply(KB4051498)


def test_mismatched_basic_and_enhanced_classes_are_kept() -> None:
    """550 with 4.4.7 keeps both codes as written."""
    reply = parse_smtp_reply("550 4.4.7 QUEUE.Expired; message expired")
    assert reply.is_permanent
    assert reply.enhanced == EnhancedStatusCode(4, 4, 7)


def test_retyped_enhanced_code_is_left_in_the_text() -> None:
    """'4.4 2' is not an enhanced code; it stays in the text."""
    reply = parse_smtp_reply("421 4.4 2 connection dropped due to socket error")
    assert reply.enhanced is None
    assert reply.text == "4.4 2 connection dropped due to socket error"


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("Connection timed out", "expected an SMTP reply code (200-599)", 1),
        ("", "expected an SMTP reply, found nothing", 1),
        ("4211 4.4.1 x", "expected an SMTP reply code (200-599)", 1),
        ("421x4.4.1", "expected '-' or space", 4),
    ],
)
def test_non_replies_raise_parse_error_with_position(text: str, message: str, column: int) -> None:
    """Text that is not a reply raises ParseError naming the column."""
    with pytest.raises(ParseError) as caught:
        parse_smtp_reply(text, source="q.txt")
    assert caught.value.message == message
    assert (caught.value.source, caught.value.column) == ("q.txt", column)


def test_parse_error_renders_the_offending_line() -> None:
    """The ParseError message shows the line and a caret, word for word."""
    with pytest.raises(ParseError) as caught:
        parse_smtp_reply("250-OK\n999 unknown", source="session")
    assert str(caught.value) == (
        "session:2:1: expected an SMTP reply code (200-599)\n    999 unknown\n    ^"
    )


# -- enhanced status codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("4.7.3", "Security conversion required but not possible"),
        ("5.7.3", "Security conversion required but not possible"),
        ("4.4.1", "No answer from host"),
        ("4.4.3", "Directory server failure"),
        ("5.7.30", "REQUIRETLS support required"),
        ("4.4.397", "Error communicating with the target host (Exchange)"),
        ("4.4.316", "Connection refused by the remote server (Exchange Online)"),
        ("4.4.101", "Proxy session setup failed on the Exchange Online frontend"),
        ("4.4.999", "Persistent Transient Failure: Network and Routing Status"),
        ("5.9.1", "Permanent Failure: Unregistered subject 9"),
    ],
)
def test_enhanced_code_descriptions(code: str, description: str) -> None:
    """Registry titles first, then Exchange's meanings, then class and subject."""
    assert EnhancedStatusCode.parse(code).description == description


def test_451_5_7_3_reply_description_is_the_registry_title() -> None:
    """parse_smtp_reply('451 5.7.3 …').enhanced.description is the X.7.3 title."""
    reply = parse_smtp_reply("451 5.7.3 STARTTLS is required to send mail")
    assert reply.enhanced is not None
    assert reply.enhanced.description == "Security conversion required but not possible"
    assert reply.enhanced.subject_description == "Security or Policy Status"
    assert reply.enhanced.class_description == "Permanent Failure"
    assert reply.enhanced.registered


@pytest.mark.parametrize("text", ["3.4.1", "4.4", "4.1000.1", "a.b.c", "4.4.1.1"])
def test_invalid_enhanced_codes_are_refused(text: str) -> None:
    """Only 2, 4 or 5 dot 1-3 digits dot 1-3 digits is an enhanced code."""
    with pytest.raises(ValueError, match=r"enhanced status code|must be in|1 to 3 digits"):
        EnhancedStatusCode.parse(text)


def test_enhanced_codes_order_and_print() -> None:
    """Enhanced codes print as class.subject.detail and sort numerically."""
    codes = [EnhancedStatusCode.parse(text) for text in ("5.7.3", "4.4.10", "4.4.2")]
    assert [str(code) for code in sorted(codes)] == ["4.4.2", "4.4.10", "5.7.3"]


# -- properties --------------------------------------------------------------------------

reply_codes = st.integers(min_value=200, max_value=599)
enhanced_codes = st.builds(
    EnhancedStatusCode,
    st.sampled_from([2, 4, 5]),
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=999),
)
plain_text = (
    st.text(
        alphabet=st.characters(
            min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="\"'[]->"
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(lambda text: text and not text[:1].isdigit() and not text.endswith("."))
)


@st.composite
def replies(draw: st.DrawFn, depth: int = 0) -> SmtpReply:
    """Draw a reply, possibly with an Exchange wrapper around a nested reply."""
    code = draw(reply_codes)
    enhanced = draw(st.none() | enhanced_codes)
    if depth < 2 and draw(st.booleans()):
        nested = draw(replies(depth + 1))
        endpoint = draw(st.none() | st.sampled_from(["192.0.2.10:25", "2001:db8::7:25"]))
        inner = nested.render()
        text = f'Primary target IP address responded with: "{inner}." Attempted failover to alternate host, but that did not succeed.'
        if endpoint:
            text += f" The last endpoint attempted was {endpoint}"
        return SmtpReply(
            code=code,
            enhanced=enhanced,
            text=text,
            nested=nested,
            last_endpoint=Endpoint.parse(endpoint, port_required=True) if endpoint else None,
            wrapper="primary-target",
        )
    return SmtpReply(code=code, enhanced=enhanced, text=draw(plain_text))


@given(replies())
def test_rendered_replies_parse_back_to_the_same_model(reply: SmtpReply) -> None:
    """A generated reply, rendered as Exchange writes it, parses back to itself."""
    assert parse_smtp_reply(reply.render()) == reply


@given(st.text(max_size=300))
def test_any_text_gives_a_reply_or_a_parse_error(text: str) -> None:
    """Arbitrary text either parses or raises ParseError, nothing else."""
    try:
        parse_smtp_reply(text)
    except ParseError as error:
        position = (error.line, error.column)
        assert None not in position


@pytest.mark.parametrize(
    "text",
    [
        "451 4.4.0 " + '"' * 1_000_000,
        "451 4.4.0 Primary target IP address responded with: " + '"x' * 500_000,
        "451 4.4.0 " + "Proxy session setup failed on Frontend with '" * 20_000,
        "451 4.4.0 " + "a -> 451 " * 100_000,
        "451 4.4.0 [Message=" + "]" * 1_000_000,
        "x" * 1_000_000,
        "451-\n" * 200_000,
    ],
    ids=["quotes", "primary-quotes", "proxy-repeat", "chain", "brackets", "garbage", "lines"],
)
def test_hostile_megabyte_replies_end_linearly(text: str) -> None:
    """1 MB of pathological input parses or fails, in time linear in its size."""
    with contextlib.suppress(ParseError):
        parse_smtp_reply(text)
    # Time budgets are in benchmarks/bench_pathological.py; here, growth only.
    assert_linear(parse_smtp_reply, prefix_of(text), len(text) // 8)
