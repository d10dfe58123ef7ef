"""The normaliser of signatures: decoration out, causes kept."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls.protocol_log.signatures import (
    SIGNATURE_TEXT_LIMIT,
    normalise_signature_text,
)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_label = st.text(_LETTERS + "0123456789", min_size=1, max_size=12).filter(
    lambda label: label[0] in _LETTERS
)
_hosts = st.builds(
    lambda labels, top: ".".join([*labels, top]),
    st.lists(_label, min_size=1, max_size=4),
    st.text(_LETTERS, min_size=2, max_size=6),
)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(lambda address: f"[{address}]")
_ipv6_bare = st.ip_addresses(v=6).map(
    lambda address: ipaddress.IPv6Address(address).exploded  # eight groups
)
_moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)
_hex_ids = st.builds(
    lambda head, tail: head + tail,
    st.text("0123456789", min_size=1, max_size=4),
    st.text("0123456789ABCDEF", min_size=7, max_size=30),
).filter(lambda text: any(c in "ABCDEF" for c in text))
_numbers = st.integers(min_value=100_000, max_value=10**15).map(str)
_addresses = st.builds(
    lambda local, host: f"<{local}@{host}>", st.text(_LETTERS, min_size=1, max_size=10), _hosts
)
_guids = st.uuids().map(lambda value: "{" + str(value) + "}")

#: Each kind of decoration, as a way to write it: a slot of a template takes one kind.
DECORATION = {
    "host": _hosts,
    "ipv4": _ipv4,
    "ipv4-port": st.builds(lambda ip, port: f"{ip}:{port}", _ipv4, st.integers(1, 65535)),
    "ipv6": _ipv6,
    "ipv6-bare": _ipv6_bare,
    "rfc5322": _moments.map(lambda m: m.strftime("%a, %d %b %Y %H:%M:%S +0000")),
    "iso": _moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"),
    "us": _moments.map(lambda m: f"{m.month}/{m.day}/{m.year} {m:%I:%M:%S %p}"),
    "clock": _moments.map(lambda m: m.strftime("%H:%M:%S")),
    "hex": _hex_ids,
    "number": _numbers,
    "address": _addresses,
    "guid": _guids,
    "internal-id": st.integers(0, 10**9).map(lambda n: f"[InternalId={n}, Hostname=mx{n}]"),
}

#: Words that say something about a cause, as Exchange and its peers write them.
WORDS = [
    "220",
    "250-",
    "421",
    "451",
    "550",
    "4.4.1",
    "5.7.64",
    "4.7.320",
    "Microsoft",
    "ESMTP",
    "MAIL",
    "Service",
    "ready",
    "at",
    "Hello",
    "Connection",
    "timed",
    "out.",
    "TLS",
    "negotiation",
    "failed",
    "with",
    "error",
    "UnknownCredentials",
    "0x80090325",
    "Winsock",
    "code:",
    "10060,",
    "Queued",
    "for",
    "delivery",
    "TenantAttribution;",
    "ATTR36",
    "SP_PROT_TLS1_2_CLIENT",
]

_slots = st.lists(
    st.one_of(
        st.sampled_from(WORDS), st.sampled_from(sorted(DECORATION)).map(lambda k: ("slot", k))
    ),
    min_size=1,
    max_size=12,
)


def _fill(data: st.DataObject, template: list[str | tuple[str, str]]) -> str:
    return " ".join(
        part if isinstance(part, str) else data.draw(DECORATION[part[1]]) for part in template
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), template=_slots)
def test_texts_that_differ_only_in_decoration_share_a_signature(
    data: st.DataObject, template: list[str | tuple[str, str]]
) -> None:
    """Two fillings of a template's slots normalise alike."""
    first, second = _fill(data, template), _fill(data, template)
    assert normalise_signature_text(first) == normalise_signature_text(second)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_normalising_is_idempotent_and_bounded(text: str) -> None:
    """Once normalised, a text stays as it is; it is never longer than the limit."""
    once = normalise_signature_text(text)
    assert normalise_signature_text(once) == once
    assert len(once) <= SIGNATURE_TEXT_LIMIT


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "TLS negotiation failed with error UnknownCredentials",
            "TLS negotiation failed with error NoCredentials",
        ),
        ("421 4.4.1 Connection timed out", "421 4.4.2 Connection dropped"),
        ("550 5.7.64 TenantAttribution", "550 5.7.1 TenantAttribution"),
        ("Winsock error code: 10060", "Winsock error code: 10061"),
        ("error 0x80090325", "error 0x80090326"),
        ("450 4.7.320 Certificate validation failed", "450 4.7.321 Certificate expired"),
    ],
)
def test_causes_are_kept(first: str, second: str) -> None:
    """What tells causes apart survives: reply codes, error names, status codes."""
    assert normalise_signature_text(first) != normalise_signature_text(second)


def test_decoration_of_real_banners_and_replies() -> None:
    """Banners and replies as Exchange and Exchange Online write them."""
    identity = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert normalise_signature_text(
        "220 EX01.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 7 Dec 2026 08:41:55 +0000"
    ) == ("220 <host> Microsoft ESMTP MAIL Service ready at <time>")
    assert (
        normalise_signature_text(
            "550 5.7.64 TenantAttribution; Relay Access Denied ATTR36 "
            "[AM6PR04MB1234.eurprd04.prod.outlook.com 2026-12-07T08:41:55.123Z 08DA1234567890AB]"
        )
        == "550 5.7.64 TenantAttribution; Relay Access Denied ATTR36 [<host> <time> <id>]"
    )
    assert normalise_signature_text(f"Message {identity} from 2001:db8::1") == (
        "Message <guid> from <ip>"
    )


def test_a_non_string_is_a_type_error() -> None:
    """The parameter is named."""
    with pytest.raises(TypeError, match="text"):
        normalise_signature_text(b"220 x")  # type: ignore[arg-type]


def test_an_ipv4_mapped_ipv6_address_in_brackets_is_one_address() -> None:
    """``[::ffff:1.2.3.4]`` is one address, not an IPv6 prefix around an IPv4 one."""
    assert normalise_signature_text("from [::ffff:0.0.0.0]") == normalise_signature_text(
        "from [::]"
    )


def test_a_host_after_a_clock_is_not_its_zone() -> None:
    """``12:00:00 z.aa`` is a time and a host, as ``12:00:00 b.aa`` is."""
    assert normalise_signature_text("12:00:00 z.aa") == normalise_signature_text("12:00:00 b.aa")


@pytest.mark.parametrize(
    "text",
    ["0000:0000:0000:0000:0000:ffff:1.2.3.4", "::ffff:1.2.3.4", "64:ff9b::1.2.3.4"],
)
def test_an_ipv6_address_with_an_ipv4_tail_is_one_address(text: str) -> None:
    """Python 3.13 writes an IPv4-mapped address exploded with a dotted tail: one address."""
    assert normalise_signature_text(f"from {text} now") == "from <ip> now"
