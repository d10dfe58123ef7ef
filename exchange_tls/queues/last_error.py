"""``LastError``: what a queue says went wrong, in every form Exchange prints it.

Exchange 2013 and later print a bracketed list of ``{KEY=value}`` items::

    [{LRT=10/7/2017 4:47:56 AM};{LED=451 4.4.0 Primary target …};{FQDN=…};{IP=…}]

Message tracking's ``RecipientStatus`` wraps the same list in braces (``{[…]}``), and
older servers print the reply alone. Keys come in any order, values may be empty, and the
``LED`` (the error text) may itself contain ``;``, brackets and quotes, so the list is
split only between items: at ``}`` ``;`` ``{``.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.endpoints import Endpoint
from exchange_tls.errors import ParseError, Problem, Severity
from exchange_tls.powershell.dates import DateOrder, parse_culture_datetime
from exchange_tls.smtp import SmtpReply, normalize_quotes, parse_smtp_reply

__all__ = ["LastError", "parse_last_error"]

_KNOWN_KEYS = ("LRT", "LED", "FQDN", "IP")
_ITEM_BOUNDARY = re.compile(r"\}\s*;\s*\{")
_LOST_BOUNDARY = re.compile(r"\}\s*;\s*")
_KEY = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z0-9_-]*)\s*=(?P<value>.*)$", re.DOTALL)
_LABEL = re.compile(r"^\s*(?:LastError|RecipientStatus|Last Error)\s*:\s*", re.IGNORECASE)
# Starting only where a run of blanks starts keeps a long run without a line break
# linear: otherwise it is tried from each of its positions.
_WRAPPED = re.compile(r"(?<![ \t])[ \t]*\n\s*")
_QUOTE_PREFIX = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)


@attrs.frozen
class LastError:
    """A queue's last error: the SMTP reply and where and when it happened.

    >>> error = parse_last_error(
    ...     "[{LRT=};{LED=450 4.4.317 Cannot connect to remote server};{FQDN=};{IP=}]"
    ... )
    >>> error.reply.code, error.fqdn, error.ip
    (450, None, None)
    """

    #: The error, parsed; ``None`` when the text holds no SMTP reply.
    reply: SmtpReply | None
    #: The remote host's name (``FQDN=``), or ``None`` when empty or absent.
    fqdn: str | None = None
    #: The remote address (``IP=``), or ``None`` when empty or absent.
    ip: Endpoint | None = None
    #: When the last retry happened, in UTC; ``None`` when absent or ambiguous.
    last_retry_time: dt.datetime | None = None
    #: The last-retry text as printed, always kept.
    last_retry_text: str | None = None
    #: The whole text as given.
    raw: str = ""
    #: Other items, such as ``("MSG", "")``, in order.
    extra: tuple[tuple[str, str], ...] = ()
    #: The text of the ``LED`` item (or of the whole error in the plain form).
    description: str | None = None
    #: What was doubtful while reading it.
    problems: tuple[Problem, ...] = attrs.field(default=(), eq=False)

    def get(self, key: str) -> str | None:
        """Return the value of an extra item such as ``MSG``, or ``None``."""
        for name, value in self.extra:
            if name.upper() == key.upper():
                return value
        return None


# The list with angle brackets, as some pastes and retyped posts show it:
# "[<LED=451 4.4.395 …>;<MSG=>;<FQDN=…>;<IP=>;<LRT=…>]", with or without the outer [ ].
# Retyped or machine-read pastes also damage the keys: "<LRI-2019/11/4 13:31:03>" (LRT,
# its T read as I), "<led-451 4.4.0 …>", "<FQDN-host>": any case, "-" for "=".
_ANGLE_FORM = re.compile(r"^\[?\s*<\s*(?:LRT|LRI|LED|FQDN|IP|MSG)\s*[=-]", re.IGNORECASE)
_ANGLE_BOUNDARY = re.compile(r">\s*;\s*<")
_ANGLE_KEY = re.compile(r"^\s*(?P<key>LRT|LRI|LED|FQDN|IP|MSG)\s*(?P<sign>[=-])", re.IGNORECASE)


def _from_angle_form(body: str) -> tuple[str, bool]:
    """Rewrite the angle-bracket list in the usual ``[{KEY=…};{KEY=…}]`` form.

    Also return whether a key was damaged (``LRI``, ``-`` for ``=``, lower case) and
    repaired.
    """
    inner = body.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1].strip()
    inner = inner.removeprefix("<")
    inner = inner.removesuffix(">")
    items = []
    repaired = False
    for item in _ANGLE_BOUNDARY.split(inner):
        match = _ANGLE_KEY.match(item)
        if match is not None:
            key = match.group("key").upper().replace("LRI", "LRT")
            repaired |= f"{key}=" != f"{match.group('key')}{match.group('sign')}"
            item = f"{key}={item[match.end() :]}"
        items.append(item)
    return "[{" + "};{".join(items) + "}]", repaired


def _unwrap(text: str) -> str:
    """Join lines a console wrapped (the break replaced a space) and strip quoting."""
    text = normalize_quotes(text.replace("\r\n", "\n").replace("\r", "\n"))
    # A Markdown or e-mail quote ("> ") in front of each line comes from a paste.
    text = _QUOTE_PREFIX.sub("", text).strip()
    text = _LABEL.sub("", text, count=1)
    return _WRAPPED.sub(" ", text).strip()


def _items(body: str) -> list[str]:
    """Split between items; the LED alone may hold anything, so only it is not split further.

    A paste can lose the ``{KEY=`` of an item (``{MSG=};host}``): in a value other than
    the LED, ``};`` then marks where the next, keyless, item starts.
    """
    items: list[str] = []
    for item in _ITEM_BOUNDARY.split(body):
        if item.lstrip().upper().startswith("LED="):
            items.append(item)
        else:
            items.extend(_LOST_BOUNDARY.split(item))
    return items


def parse_last_error(
    text: str,
    *,
    date_order: DateOrder | None = None,
    tz: dt.tzinfo = dt.timezone.utc,
    source: str = "<LastError>",
    line: int | None = None,
) -> LastError:
    """Parse a queue ``LastError`` or a tracking ``RecipientStatus``.

    Accepts the bracket form with keys in any order, the ``{[…]}`` form, and the plain
    reply. ``MSG`` and unknown keys land in :attr:`LastError.extra`. The last-retry
    time is read only when its day order is certain or ``date_order`` says it; an
    ambiguous date becomes ``None`` plus a warning in :attr:`LastError.problems`.

    >>> error = parse_last_error(
    ...     "[{LED=451 4.4.397 Error communicating with target host. -> 421 4.4.2 "
    ...     "Connection dropped due to TimedOut};{MSG=};{FQDN=mail.contoso.com};"
    ...     "{IP=192.0.2.25};{LRT=8/20/2018 12:00:39 AM}]"
    ... )
    >>> str(error.reply.enhanced), error.reply.nested.code, error.get("MSG")
    ('4.4.397', 421, '')
    >>> error.last_retry_time.isoformat()
    '2018-08-20T00:00:39+00:00'

    Raises :class:`~exchange_tls.ParseError` when the text holds neither a bracket
    list nor an SMTP reply.
    """
    check_arguments(
        "parse_last_error", text=text, date_order=date_order, tz=tz, source=source, line=line
    )
    problems: list[Problem] = []

    def report(message: str, severity: Severity, code: str) -> None:
        problems.append(
            Problem(
                message=message,
                source=source,
                line=line,
                severity=severity,
                code=code,
            )
        )

    unwrapped = _unwrap(text)
    body = unwrapped
    if _ANGLE_FORM.match(body):
        body, repaired = _from_angle_form(body)
        report(
            "read the <KEY=…> form of the LastError list as [{KEY=…}]",
            Severity.INFO,
            "angle-bracket-form",
        )
        if repaired:
            report(
                "read damaged keys of the LastError list (such as <LRI-…> and <led-…>) "
                "as LRT=, LED=, FQDN=, IP=",
                Severity.WARNING,
                "damaged-keys",
            )
    if body.startswith("{[") and body.endswith("]}"):
        body = body[1:-1]
    if not body.startswith("[{"):
        reply = parse_smtp_reply(body, source=source)
        return LastError(reply=reply, raw=text, description=body, problems=tuple(problems))
    if body.endswith("}]"):
        body = body[2:-2]
    else:
        report("LastError has no closing '}]'; it may be cut short", Severity.WARNING, "truncated")
        body = body[2:].rstrip("]}")
    values: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for item in _items(body):
        match = _KEY.match(item)
        if match is None:
            # A paste can lose a key ("{MSG=};host}" lost "{FQDN="); keep the text.
            report(f"LastError item without KEY=: {item!r}", Severity.WARNING, "item-without-key")
            extra.append(("", item))
            continue
        key, value = match.group("key").upper(), match.group("value").strip()
        if key in _KNOWN_KEYS and key not in values:
            values[key] = value
        else:
            extra.append((match.group("key"), value))
    description = values.get("LED") or None
    led_reply: SmtpReply | None = None
    if description:
        try:
            led_reply = parse_smtp_reply(description, source=source)
        except ParseError as error:
            report(
                f"LED is not an SMTP reply: {error.message}", Severity.WARNING, "led-not-a-reply"
            )
    last_retry_text = values.get("LRT") or None
    last_retry_time = None
    if last_retry_text:
        reading = parse_culture_datetime(last_retry_text, date_order, tz=tz)
        last_retry_time = reading.value
        if reading.reason is not None:
            report(f"LRT: {reading.reason}", Severity.WARNING, "ambiguous-date")
    ip_text = values.get("IP") or None
    return LastError(
        reply=led_reply,
        fqdn=values.get("FQDN") or None,
        ip=Endpoint.parse(ip_text) if ip_text else None,
        last_retry_time=last_retry_time,
        last_retry_text=last_retry_text,
        raw=text,
        extra=tuple(extra),
        description=description,
        problems=tuple(problems),
    )
