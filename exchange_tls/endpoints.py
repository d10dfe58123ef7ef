"""Network endpoints as Exchange writes them: ``IP:port``, ``[IPv6]:port``, or worse.

Protocol logs, queue errors and message tracking print endpoints in several shapes, and
published samples mask them (``10.**.**.31:37964``, ``2a0X:3cXX::XX00:25``). An
:class:`Endpoint` keeps the text as written and parses what it can: ``host`` is a
normalised IP address or ``None`` when the text is masked or not an address.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

__all__ = ["Endpoint", "host_of"]


def _port(text: str) -> int | None:
    if text.isdigit() and text.isascii() and len(text) <= 5 and int(text) <= 65535:
        return int(text)
    return None


# A dotted quad as ipaddress writes it (no leading zeros, which it refuses anyway): such
# text is its own canonical form. Most endpoints are; ip_address costs microseconds.
_CANONICAL_IPV4 = re.compile(
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
)


def _address(text: str) -> str | None:
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    if text.count(":") == 1:
        return None  # IPv4 has no colon and IPv6 at least two: an address with its port
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@attrs.frozen
class Endpoint:
    """An IP endpoint: host address and port, with the text it was read from.

    >>> Endpoint.parse("216.32.181.234:25")
    Endpoint(host='216.32.181.234', port=25, raw='216.32.181.234:25')
    >>> Endpoint.parse("[2001:DB8::1]:25").host
    '2001:db8::1'
    >>> Endpoint.parse("10.**.**.31:37964")
    Endpoint(host=None, port=37964, raw='10.**.**.31:37964')
    """

    #: The IP address in canonical form, or ``None`` when the text is not an address.
    host: str | None
    #: The port, or ``None`` when there is none or it is not a number.
    port: int | None
    #: The text as written.
    raw: str = attrs.field(eq=False)

    @classmethod
    def parse(cls, text: str, *, port_required: bool = False) -> Endpoint:
        """Read ``IPv4:port``, ``[IPv6]:port``, bare IPv6 with a port, or a bare address.

        Never raises: what cannot be read is kept in :attr:`raw` with ``host=None``.
        Queue errors print IPv6 endpoints without brackets (``2001:db8::5:25``); pass
        ``port_required=True`` where the context says a port follows, and the text is
        split at its last colon. Without it, such text is split only when the part
        before the last colon is itself a compressed IPv6 address.
        """
        raw = text
        text = text.strip()
        if text.startswith("["):
            close = text.find("]")
            if close != -1:
                rest = text[close + 1 :]
                port = _port(rest[1:]) if rest.startswith(":") else None
                return cls(host=_address(text[1:close]), port=port, raw=raw)
        whole = None if port_required else _address(text)
        if whole is not None:
            # A bare IPv6 address whose last group could also be a port is taken as an
            # address with a port only when the rest is itself an address.
            if ":" in text and text.count(":") > 1:
                head, _, tail = text.rpartition(":")
                if _port(tail) is not None and _address(head) is not None and "::" in head:
                    return cls(host=_address(head), port=_port(tail), raw=raw)
            return cls(host=whole, port=None, raw=raw)
        head, separator, tail = text.rpartition(":")
        if separator:
            return cls(host=_address(head), port=_port(tail), raw=raw)
        return cls(host=None, port=None, raw=raw)

    def __str__(self) -> str:
        if self.host is None:
            return self.raw
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def host_of(text: str) -> str | None:
    """Return ``Endpoint.parse(text).host``, reading a dotted quad and its port at once.

    Most remote endpoints in a log are a canonical dotted quad and a port, which is that
    host; a summary asks for the host of tens of thousands of them, and parsing costs
    microseconds.

    >>> host_of("216.32.181.234:25"), host_of("[2001:DB8::1]:25"), host_of("10.**.**.31:25")
    ('216.32.181.234', '2001:db8::1', None)
    """
    address, colon, port = text.partition(":")
    if colon and ":" not in port and _CANONICAL_IPV4.fullmatch(address):
        return address
    return Endpoint.parse(text).host if text else None
