"""SMTP replies and enhanced status codes, as Exchange writes them.

An :class:`SmtpReply` is a basic code, an optional :class:`EnhancedStatusCode` and text.
Exchange wraps the reply of the remote host inside its own (``451 4.4.0 Primary target
IP address responded with: "421 4.4.1 Connection timed out." …``); the inner reply is
:attr:`SmtpReply.nested`, and the endpoint Exchange tried last is
:attr:`SmtpReply.last_endpoint`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable
from importlib import resources

import attrs
import pyparsing as pp

from exchange_tls._reply_grammar import find_last_endpoint, parse_reply_line, parse_wrapper
from exchange_tls.arguments import check_arguments
from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import ParseError

__all__ = ["EnhancedStatusCode", "SmtpReply", "normalize_quotes", "parse_smtp_reply"]

# Deeper nesting than this is not something Exchange writes; it is kept as text so that a
# hostile reply cannot exhaust the stack.
MAX_NESTING = 16
# The longest EHLO reply seen has about 20 lines; past this a "reply" is not one.
MAX_REPLY_LINES = 1000

_QUOTES = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
    }
)


def normalize_quotes(text: str) -> str:
    """Replace the curly and typographic quotes that web pages add with straight ones.

    >>> normalize_quotes("\u201c421 4.4.1 Connection timed out.\u201d")
    '"421 4.4.1 Connection timed out."'
    """
    return text.translate(_QUOTES)


@functools.cache
def _registry() -> dict[str, tuple[str, str]]:
    """Map registry keys (``X.4.1``, ``X.4.XXX``, ``4.X.X``) to (title, reference)."""
    data = resources.files("exchange_tls").joinpath("data/smtp-enhanced-status-codes.csv")
    rows = csv.DictReader(io.StringIO(data.read_text(encoding="utf-8")))
    return {row["code"]: (row["title"], row["reference"]) for row in rows}


@functools.cache
def _exchange_details() -> dict[str, str]:
    """Map Exchange-specific codes (``4.4.397``) to their descriptions."""
    data = resources.files("exchange_tls").joinpath("data/exchange-status-codes.csv")
    rows = csv.DictReader(io.StringIO(data.read_text(encoding="utf-8")))
    return {row["code"]: row["description"] for row in rows}


def _code_part(value: int) -> int:
    if not 0 <= value <= 999:
        raise ValueError(f"subject and detail have 1 to 3 digits, got {value}")
    return value


@attrs.frozen(order=True)
class EnhancedStatusCode:
    """An RFC 3463 enhanced status code, ``class.subject.detail``.

    >>> code = EnhancedStatusCode.parse("4.4.1")
    >>> str(code), code.description, code.subject_description
    ('4.4.1', 'No answer from host', 'Network and Routing Status')
    >>> EnhancedStatusCode.parse("4.4.397").description
    'Error communicating with the target host (Exchange)'
    >>> EnhancedStatusCode.parse("5.7.999").description
    'Permanent Failure: Security or Policy Status'
    """

    #: 2 success, 4 persistent transient failure, 5 permanent failure.
    status_class: int = attrs.field(validator=attrs.validators.in_((2, 4, 5)))
    subject: int = attrs.field(converter=_code_part)
    detail: int = attrs.field(converter=_code_part)

    @classmethod
    def parse(cls, text: str) -> EnhancedStatusCode:
        """Read ``"4.4.1"``; raises ``ValueError`` for anything else."""
        parts = text.strip().split(".")
        if len(parts) != 3 or not all(part.isdigit() and len(part) <= 3 for part in parts):
            raise ValueError(f"not an enhanced status code: {text!r}")
        status_class, subject, detail = (int(part) for part in parts)
        return cls(status_class, subject, detail)

    def __str__(self) -> str:
        return f"{self.status_class}.{self.subject}.{self.detail}"

    @property
    def class_description(self) -> str:
        """The registry title of the class, such as ``Persistent Transient Failure``."""
        return _registry()[f"{self.status_class}.X.X"][0]

    @property
    def subject_description(self) -> str:
        """The registry title of the subject, such as ``Network and Routing Status``.

        An unregistered subject is described by its class alone.
        """
        entry = _registry().get(f"X.{self.subject}.XXX")
        return entry[0] if entry else f"Unregistered subject {self.subject}"

    @property
    def registered(self) -> bool:
        """Whether ``X.subject.detail`` is in the IANA registry."""
        return f"X.{self.subject}.{self.detail}" in _registry()

    @property
    def exchange_description(self) -> str | None:
        """What Exchange means by this code where it is not in the registry, or ``None``."""
        return _exchange_details().get(str(self))

    @property
    def description(self) -> str:
        """The registry title; else Exchange's meaning; else class and subject.

        This follows RFC 3463's rule that a client must at least honour the class and
        the subject when it does not know the detail.
        """
        entry = _registry().get(f"X.{self.subject}.{self.detail}")
        if entry is not None:
            return entry[0]
        exchange = self.exchange_description
        if exchange is not None:
            return exchange
        return f"{self.class_description}: {self.subject_description}"


def _optional_enhanced(value: EnhancedStatusCode | str | None) -> EnhancedStatusCode | None:
    if value is None or isinstance(value, EnhancedStatusCode):
        return value
    return EnhancedStatusCode.parse(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class SmtpReply:
    """An SMTP reply: basic code, enhanced code, text, and what Exchange wrapped in it.

    >>> reply = parse_smtp_reply("454 4.7.5 Certificate validation failure")
    >>> reply.code, str(reply.enhanced), reply.text
    (454, '4.7.5', 'Certificate validation failure')
    """

    #: The basic reply code, 200 to 599.
    code: int = attrs.field(
        validator=attrs.validators.and_(attrs.validators.ge(200), attrs.validators.le(599))
    )
    #: The enhanced status code, or ``None`` when the reply has none.
    enhanced: EnhancedStatusCode | None = attrs.field(converter=_optional_enhanced)
    #: Everything after the codes; the lines of a multi-line reply joined with LF.
    text: str
    #: The text of each line of a multi-line reply, without codes.
    lines: tuple[str, ...] = attrs.field(converter=_strings, default=())
    #: The reply of the remote host that Exchange quoted inside this one.
    nested: SmtpReply | None = None
    #: The endpoint Exchange tried last (``The last endpoint attempted was …``).
    last_endpoint: Endpoint | None = None
    #: Which Exchange wrapper holds :attr:`nested`: ``primary-target``,
    #: ``primary-target-error``, ``proxy-session``, ``bracketed-message`` or ``chained``.
    wrapper: str | None = None
    #: The wrapper's inner text when it is not itself a reply (a Winsock error).
    inner_text: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            object.__setattr__(self, "lines", tuple(self.text.split("\n")))

    @property
    def chain(self) -> tuple[SmtpReply, ...]:
        """This reply and every reply nested in it, outermost first."""
        replies: list[SmtpReply] = []
        reply: SmtpReply | None = self
        while reply is not None:
            replies.append(reply)
            reply = reply.nested
        return tuple(replies)

    @property
    def innermost(self) -> SmtpReply:
        """The deepest nested reply: usually what the remote host said."""
        return self.chain[-1]

    @property
    def is_transient(self) -> bool:
        """Whether the basic code is a 4xx transient failure."""
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        """Whether the basic code is a 5xx permanent failure."""
        return self.code >= 500

    def render(self) -> str:
        r"""Return the reply as an SMTP server writes it, one line per line.

        >>> print(parse_smtp_reply("250-mail.contoso.com Hello\n250 STARTTLS").render())
        250-mail.contoso.com Hello
        250 STARTTLS
        """
        enhanced = f"{self.enhanced} " if self.enhanced is not None else ""
        rendered = []
        for index, line in enumerate(self.lines):
            separator = " " if index == len(self.lines) - 1 else "-"
            rendered.append(f"{self.code}{separator}{enhanced}{line}".rstrip(" "))
        return "\n".join(rendered)

    def __str__(self) -> str:
        return self.render()


def _join_wrapped_lines(text: str) -> list[str]:
    """Split into reply lines; a line that starts without a code continues the last."""
    lines: list[str] = []
    for raw in text.split("\n"):
        stripped = raw.strip()
        if not stripped:
            continue
        if lines and not (stripped[:3].isdigit() and stripped[3:4] in ("", " ", "-")):
            lines[-1] = f"{lines[-1].rstrip()} {stripped}"
        else:
            lines.append(stripped)
    return lines


def _build(text: str, source: str, depth: int) -> SmtpReply:
    lines = _join_wrapped_lines(text)
    if not lines:
        raise ParseError("expected an SMTP reply, found nothing", source=source, line=1, column=1)
    if len(lines) > MAX_REPLY_LINES:
        raise ParseError(
            f"an SMTP reply of more than {MAX_REPLY_LINES} lines is not one",
            source=source,
            line=MAX_REPLY_LINES + 1,
            column=1,
            line_text=lines[MAX_REPLY_LINES],
        )
    parsed = []
    number = 0
    try:
        for number, line in enumerate(lines, start=1):  # noqa: B007 -- used in the handler
            parsed.append(parse_reply_line(line))
    except pp.ParseBaseException as error:
        raise ParseError(
            "expected an SMTP reply code (200-599)"
            if error.loc == 0
            else f"expected {error.parser_element or 'reply text'}",
            source=source,
            line=number,
            column=error.loc + 1,
            line_text=lines[number - 1],
        ) from None
    code, _, enhanced, _ = parsed[0]
    texts = tuple(line_text for _, _, _, line_text in parsed)
    full_text = "\n".join(texts)
    nested: SmtpReply | None = None
    wrapper_kind: str | None = None
    inner_text: str | None = None
    own_text = full_text
    wrapper = parse_wrapper(full_text) if depth < MAX_NESTING else None
    if wrapper is not None:
        wrapper_kind, inner, own_text = wrapper
        inner = inner.strip()
        if wrapper_kind.startswith("primary-target") and inner.endswith("."):
            # Exchange writes the inner reply as "{0}." and adds that full stop itself.
            inner = inner[:-1].rstrip()
        try:
            nested = _build(inner, source, depth + 1)
        except ParseError:
            inner_text = inner
    endpoint_text = find_last_endpoint(own_text)
    return SmtpReply(
        code=code,
        enhanced=enhanced,
        text=full_text,
        lines=texts,
        nested=nested,
        last_endpoint=(
            Endpoint.parse(endpoint_text, port_required=True) if endpoint_text else None
        ),
        wrapper=wrapper_kind,
        inner_text=inner_text,
    )


def parse_smtp_reply(text: str, *, source: str = "<reply>") -> SmtpReply:
    """Parse an SMTP reply, with the replies Exchange wraps inside it.

    Accepts a plain reply (``421 4.4.1 text``), one without an enhanced code, multi-line
    replies (``250-…`` lines), text wrapped by a console (a line without a code
    continues the one before), and curly quotes from web pages.

    >>> reply = parse_smtp_reply(
    ...     '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection '
    ...     'timed out." Attempted failover to alternate host, but that did not succeed. '
    ...     "Either there are no alternate hosts, or delivery failed to all alternate "
    ...     "hosts. The last endpoint attempted was 216.32.181.234:25"
    ... )
    >>> reply.code, str(reply.enhanced), reply.nested.code, str(reply.nested.enhanced)
    (451, '4.4.0', 421, '4.4.1')
    >>> reply.nested.text
    'Connection timed out'
    >>> reply.last_endpoint
    Endpoint(host='216.32.181.234', port=25, raw='216.32.181.234:25')

    Raises :class:`~exchange_tls.ParseError` when the text does not start with a code.
    """
    check_arguments("parse_smtp_reply", text=text, source=source)
    return _build(normalize_quotes(text.replace("\r\n", "\n").replace("\r", "\n")), source, 0)
