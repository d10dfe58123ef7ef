import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import Endpoint
from exchange_tls.endpoints import host_of
from exchange_tls.powershell.dates import (
    infer_date_order,
    parse_culture_datetime,
    parse_serialized_datetime,
)

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("216.32.181.234:25", "216.32.181.234", 25),
        ("[2001:db8::1]:25", "2001:db8::1", 25),
        ("[2001:DB8::1]", "2001:db8::1", None),
        ("10.10.248.7", "10.10.248.7", None),
        ("10.**.**.31:37964", None, 37964),
        ("InternalIPOfMyMailServer:10437", None, 10437),
        ("", None, None),
        ("1.2.3.4:99999", "1.2.3.4", None),
        ("2001:db8::1", "2001:db8::1", None),
    ],
)
def test_endpoint_parse(text: str, host: str | None, port: int | None) -> None:
    """Endpoints parse what they can and keep the text as written."""
    endpoint = Endpoint.parse(text)
    assert (endpoint.host, endpoint.port, endpoint.raw) == (host, port, text)


def test_bare_ipv6_with_port_needs_the_context() -> None:
    """'2001:db8::5:25' is an address alone, or address and port when a port is required."""
    assert Endpoint.parse("2001:db8::5:25", port_required=True) == Endpoint("2001:db8::5", 25, "")
    assert str(Endpoint.parse("2001:db8::5:25", port_required=True)) == "[2001:db8::5]:25"


@given(st.ip_addresses(), st.integers(min_value=0, max_value=65535))
def test_endpoint_round_trip(address: object, port: int) -> None:
    """Any address and port print and parse back to the same endpoint."""
    host = str(address)
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    endpoint = Endpoint.parse(text)
    assert (endpoint.host, endpoint.port) == (host, port)
    assert Endpoint.parse(str(endpoint)) == endpoint


@given(st.text(max_size=60))
def test_endpoint_parse_never_raises(text: str) -> None:
    """Endpoint.parse accepts any text."""
    assert Endpoint.parse(text).raw == text


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("8/20/2018 12:00:39 AM", None, dt.datetime(2018, 8, 20, 0, 0, 39)),
        ("12/02/2018 1:53:00 PM", "DMY", dt.datetime(2018, 2, 12, 13, 53)),
        ("02.02.2028 4:22:23", None, dt.datetime(2028, 2, 2, 4, 22, 23)),
        ("2019/11/4 13:31:03", None, dt.datetime(2019, 11, 4, 13, 31, 3)),
        ("15-01-21 23:50:05", "DMY", dt.datetime(2021, 1, 15, 23, 50, 5)),
        ("15-01-21 23:50:05", "YMD", dt.datetime(2015, 1, 21, 23, 50, 5)),
        ("25/03/2025", None, dt.datetime(2025, 3, 25)),
        ("1/1/99 12:00:00 PM", None, dt.datetime(1999, 1, 1, 12)),
    ],
)
def test_culture_dates(text: str, order: str | None, expected: dt.datetime) -> None:
    """Culture dates read when certain or when the order is given."""
    reading = parse_culture_datetime(text, order)  # type: ignore[arg-type]
    assert reading.value == expected.replace(tzinfo=UTC)
    assert reading.reason is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "12/03/2025 19:50:43",
            "ambiguous date '12/03/2025 19:50:43': it reads as MDY or DMY; pass date_order",
        ),
        (
            "15-01-21 23:50:05",
            "ambiguous date '15-01-21 23:50:05': it reads as DMY or YMD; pass date_order",
        ),
        ("31/31/2020", "not a valid date: '31/31/2020'"),
        ("1/2/2020 25:00", "not a valid time of day: '1/2/2020 25:00'"),
        ("1/2/2020 13:00 PM", "not a valid time of day: '1/2/2020 13:00 PM'"),
        ("yesterday", "not a date: 'yesterday'"),
    ],
)
def test_doubtful_dates_are_none_with_a_reason(text: str, reason: str) -> None:
    """A date that cannot be read with certainty is None, and the reason says why."""
    reading = parse_culture_datetime(text)
    assert (reading.value, reading.reason) == (None, reason)


def test_hint_that_does_not_fit_is_refused() -> None:
    """A DMY hint for 8/20/2018 is refused rather than bent."""
    reading = parse_culture_datetime("8/20/2018", "DMY")
    assert reading.value is None
    assert reading.reason == "'8/20/2018' is not a valid DMY date"


def test_order_inference_needs_one_fitting_order() -> None:
    """Inference picks the only order that fits every date, or none."""
    assert infer_date_order(["12/03/2025", "3/25/2025"]) == "MDY"
    assert infer_date_order(["12/03/2025", "3/25/2025", "25/03/2025"]) is None
    assert infer_date_order([]) is None


@given(st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2049, 12, 31)))
def test_us_format_round_trip(value: dt.datetime) -> None:
    """Any date printed in en-US form reads back with the MDY hint."""
    value = value.replace(microsecond=0)
    text = f"{value.month}/{value.day}/{value.year} {value.strftime('%I:%M:%S %p').lstrip('0')}"
    assert parse_culture_datetime(text, "MDY").value == value.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(0)/", dt.datetime(1970, 1, 1, tzinfo=UTC)),
        ("/Date(1507351676000+0200)/", dt.datetime(2017, 10, 7, 4, 47, 56, tzinfo=UTC)),
        ("2017-10-07T04:47:56Z", dt.datetime(2017, 10, 7, 4, 47, 56, tzinfo=UTC)),
        ("2017-10-07T04:47:56", dt.datetime(2017, 10, 7, 4, 47, 56, tzinfo=UTC)),
        ("not a date", None),
        ("/Date(99999999999999999999)/", None),
    ],
)
def test_serialized_dates(text: str, expected: dt.datetime | None) -> None:
    """JSON's /Date(ms)/ and ISO 8601 read as UTC; anything else is None."""
    assert parse_serialized_datetime(text) == expected


def _address_by_ipaddress(text: str) -> str | None:
    """Read an address as ipaddress does: the reading _address is held to."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


_ADDRESS_LIKE = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: ".".join(f"{int(p):03d}" for p in str(a).split("."))),
    st.tuples(st.ip_addresses().map(str), st.integers(0, 70000)).map(lambda t: f"{t[0]}:{t[1]}"),
    st.text(alphabet="0123456789.:abcdefABCDEF%[]x* ", max_size=45),
    st.lists(st.integers(0, 300), min_size=3, max_size=5).map(lambda ns: ".".join(map(str, ns))),
)


@given(_ADDRESS_LIKE)
def test_an_address_reads_as_ipaddress_reads_it(text: str) -> None:
    """The shortcuts (a canonical dotted quad, one colon) give what ipaddress gives."""
    from exchange_tls.endpoints import _address

    assert _address(text) == _address_by_ipaddress(text)


@settings(max_examples=300, deadline=None)
@given(
    remote=st.one_of(
        st.builds(
            "{}.{}.{}.{}{}".format,
            *(
                st.sampled_from(["0", "1", "10", "255", "256", "01", "199", "x", ""])
                for _ in range(4)
            ),
            st.sampled_from(["", ":", ":25", ":4711", ":99999", ":x", "::25", ": 25", " :25"]),
        ),
        st.sampled_from(["[2001:db8::1]:25", "2001:db8::5:25", "10.**.**.31:37964", " 1.2.3.4:25"]),
        st.text(max_size=12),
    )
)
def test_a_remote_host_is_what_endpoint_parse_reads(remote: str) -> None:
    """The shortcut for a canonical dotted quad and a port, both ways: Endpoint.parse's host."""
    parsed = Endpoint.parse(remote).host if remote else None
    assert host_of(remote) == parsed
