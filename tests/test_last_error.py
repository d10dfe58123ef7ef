import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import LastError, ParseError, Severity, parse_last_error
from exchange_tls.endpoints import Endpoint

KB_LED = (
    '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection timed out." '
    "Attempted failover to alternate host, but that did not succeed. Either there are no "
    "alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted "
    "was 216.32.181.234:25"
)


def test_kb4051498_last_error_meets_the_acceptance_points() -> None:
    """The KB LastError gives 451 4.4.0 around 421 4.4.1 and the endpoint 216.32.181.234:25."""
    error = parse_last_error(KB_LED)
    assert error.reply is not None
    assert error.reply.code == 451
    assert str(error.reply.enhanced) == "4.4.0"
    assert error.reply.nested is not None
    assert error.reply.nested.code == 421
    assert str(error.reply.nested.enhanced) == "4.4.1"
    assert error.reply.last_endpoint is not None
    assert (error.reply.last_endpoint.host, error.reply.last_endpoint.port) == (
        "216.32.181.234",
        25,
    )


@pytest.mark.parametrize(
    "text",
    [
        f"[{{LRT=8/20/2018 12:00:39 AM}};{{LED={KB_LED}}};{{FQDN=mx.contoso.com}};{{IP=192.0.2.9}}]",
        f"[{{IP=192.0.2.9}};{{FQDN=mx.contoso.com}};{{LED={KB_LED}}};{{MSG=}};{{LRT=8/20/2018 12:00:39 AM}}]",
    ],
    ids=["documented-order", "reversed-with-msg"],
)
def test_bracket_form_parses_in_any_key_order(text: str) -> None:
    """Keys in either order give the same values."""
    error = parse_last_error(text)
    assert error.fqdn == "mx.contoso.com"
    assert error.ip == Endpoint(host="192.0.2.9", port=None, raw="")
    assert error.last_retry_time == dt.datetime(2018, 8, 20, 0, 0, 39, tzinfo=dt.timezone.utc)
    assert error.reply is not None
    assert error.reply.nested is not None
    assert error.description == KB_LED


def test_extra_keeps_msg_and_unknown_keys() -> None:
    """MSG and unknown keys are kept in extra, in order, with empty values."""
    error = parse_last_error("[{LED=421 4.4.2 Connection dropped};{MSG=};{XYZ=1};{FQDN=}]")
    assert error.extra == (("MSG", ""), ("XYZ", "1"))
    assert error.get("msg") == ""
    assert error.fqdn is None


def test_led_containing_item_separators_stays_whole() -> None:
    """An LED with ';', brackets and quotes is split only between items."""
    led = "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required [x;y] {z} 'q'"
    error = parse_last_error(f"[{{LRT=}};{{LED={led}}};{{FQDN=}};{{IP=}}]")
    assert error.description == led
    assert error.reply is not None
    assert error.reply.text == led[10:]


def test_recipient_status_form_in_braces() -> None:
    """Message tracking's {[…]} form is read like the queue's."""
    error = parse_last_error(
        "RecipientStatus         : {[{LRT=};{LED=550 5.7.1 RESOLVER.RST.AuthRequired; "
        "authentication required};{FQDN=};{IP=}]}"
    )
    assert error.reply is not None
    assert (error.reply.code, str(error.reply.enhanced)) == (550, "5.7.1")
    assert error.last_retry_time is None
    assert error.problems == ()


def test_plain_form_without_brackets() -> None:
    """A reply alone is a LastError with only the reply."""
    error = parse_last_error(KB_LED)
    assert (error.fqdn, error.ip, error.last_retry_text) == (None, None, None)
    assert error.description == KB_LED


def test_console_wrapped_last_error_is_joined() -> None:
    """Lines a console wrapped (blank lines between them too) join with a space."""
    wrapped = (
        "[{LRT=15-01-21 23:50:05};{LED=450 4.7.0 Proxy session setup failed on Frontend with "
        "'451 4.4.0 Primary target IP address responded with: \"451 4.4.0 Security\n\n"
        'status InvalidToken." Attempted failover to alternate host, but that did not '
        "succeed.'};{FQDN=MAILSERVER.DOMAIN.LOCAL};{IP=192.168.12.4}]"
    )
    error = parse_last_error(wrapped, date_order="DMY")
    assert error.reply is not None
    assert error.reply.innermost.text == "Security status InvalidToken"
    assert error.last_retry_time == dt.datetime(2021, 1, 15, 23, 50, 5, tzinfo=dt.timezone.utc)


def test_ambiguous_date_is_none_with_a_warning() -> None:
    """Without a hint, 12/03/2025 is neither read nor guessed, and a warning says why."""
    error = parse_last_error("[{LRT=12/03/2025 19:50:43};{LED=421 4.4.2 x}]", source="q", line=7)
    assert error.last_retry_time is None
    assert error.last_retry_text == "12/03/2025 19:50:43"
    [problem] = error.problems
    assert problem.severity is Severity.WARNING
    assert (problem.source, problem.line) == ("q", 7)
    assert str(problem) == (
        "q:7: warning: LRT: ambiguous date '12/03/2025 19:50:43': it reads as MDY or DMY; "
        "pass date_order"
    )


@pytest.mark.parametrize(
    ("order", "expected"),
    [("MDY", dt.datetime(2025, 12, 3, 19, 50, 43)), ("DMY", dt.datetime(2025, 3, 12, 19, 50, 43))],
)
def test_date_order_hint_resolves_the_date(order: str, expected: dt.datetime) -> None:
    """A date_order hint reads the same digits as the culture means them."""
    error = parse_last_error("[{LRT=12/03/2025 19:50:43};{LED=421 4.4.2 x}]", date_order=order)  # type: ignore[arg-type]
    assert error.last_retry_time == expected.replace(tzinfo=dt.timezone.utc)


def test_local_time_zone_is_converted_to_utc() -> None:
    """With tz given, the server's local time becomes UTC."""
    tz = dt.timezone(dt.timedelta(hours=2))
    error = parse_last_error("[{LRT=2019/11/4 13:31:03};{LED=421 4.4.2 x}]", tz=tz)
    assert error.last_retry_time == dt.datetime(2019, 11, 4, 11, 31, 3, tzinfo=dt.timezone.utc)


def test_lost_key_is_kept_and_reported() -> None:
    """An item that lost its KEY= (a paste) is kept in extra and reported."""
    error = parse_last_error(
        "[{LED=451 4.4.397 Error communicating with target host. -> 421 4.4.2 Connection "
        "dropped due to TimedOut};{MSG=};Contoso-mail.protection.outlook.com};"
        "{IP=Office365IPAddressHere};{LRT=8/20/2018 12:00:39 AM}]"
    )
    assert error.extra == (("MSG", ""), ("", "Contoso-mail.protection.outlook.com"))
    assert [problem.code for problem in error.problems] == ["item-without-key"]
    assert error.ip == Endpoint(host=None, port=None, raw="Office365IPAddressHere")


def test_truncated_bracket_form_is_read_with_a_warning() -> None:
    """A LastError cut before its closing '}]' is read and flagged."""
    error = parse_last_error("[{LRT=};{LED=421 4.4.1 Connection timed out};{FQDN=mx.contoso")
    assert error.fqdn == "mx.contoso"
    assert [problem.code for problem in error.problems] == ["truncated"]


def test_led_that_is_not_a_reply_is_kept_as_description() -> None:
    """An LED without an SMTP code keeps its text and warns."""
    error = parse_last_error("[{LED=A matching connector cannot be found};{FQDN=}]")
    assert error.reply is None
    assert error.description == "A matching connector cannot be found"
    assert [problem.code for problem in error.problems] == ["led-not-a-reply"]


@pytest.mark.parametrize("text", ["", "garbage", "Status : Retry", '"unbalanced'])
def test_text_without_a_reply_raises_parse_error(text: str) -> None:
    """Text that is neither a bracket list nor a reply raises ParseError."""
    with pytest.raises(ParseError):
        parse_last_error(text)


# -- properties ------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){1,3}", fullmatch=True)
ips = st.ip_addresses(v=4).map(str)
dates = st.datetimes(min_value=dt.datetime(2001, 1, 13), max_value=dt.datetime(2049, 12, 31)).map(
    lambda value: value.replace(microsecond=0)
)


@st.composite
def last_errors(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """Draw a bracket-form LastError text with its expected values, in any key order."""
    code = draw(st.sampled_from([421, 450, 451, 454, 550]))
    led = f"{code} 4.4.1 " + draw(
        st.text(alphabet="abc ;[]'\"xyz", min_size=1, max_size=30).map(str.strip).filter(bool)
    )
    fqdn = draw(hosts)
    ip = draw(ips)
    when = draw(dates)
    items = {
        "LRT": when.strftime("%Y/%m/%d %H:%M:%S"),
        "LED": led,
        "FQDN": fqdn,
        "IP": ip,
        "MSG": "",
    }
    order = draw(st.permutations(list(items)))
    text = "[" + ";".join(f"{{{key}={items[key]}}}" for key in order) + "]"
    expected = {"led": led, "fqdn": fqdn, "ip": ip, "when": when.replace(tzinfo=dt.timezone.utc)}
    return text, expected


@given(last_errors())
def test_rendered_last_errors_parse_back(case: tuple[str, dict[str, object]]) -> None:
    """A generated LastError in Exchange's bracket form parses back to its values."""
    text, expected = case
    error = parse_last_error(text)
    assert isinstance(error, LastError)
    assert error.description == expected["led"]
    assert error.fqdn == expected["fqdn"]
    assert error.ip is not None
    assert error.ip.host == expected["ip"]
    assert error.last_retry_time == expected["when"]
    assert error.get("MSG") == ""


@given(st.text(max_size=200))
def test_any_text_gives_last_error_or_parse_error(text: str) -> None:
    """Arbitrary text parses or raises ParseError, never anything else."""
    with contextlib.suppress(ParseError):
        parse_last_error(text)
