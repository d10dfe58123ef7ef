"""What a queue error alone can and cannot say: the replies, and the causes that fit.

Theory of operation. A queue's ``LastError`` is often all an admin has, and it misleads:
Exchange reports a TLS handshake it broke off itself as ``421 4.4.1 Connection timed
out``, exactly as it reports a firewall (KB 4051498). So an error alone never yields a
finding. :func:`explain_error` decodes the reply chain and lists the rules of the
catalogue whose failure modes produce that error, each with the evidence that would
confirm it. The signatures below are the exact strings of domain.md, sections 5 to 7;
every rule carries the signatures of the errors it explains
(:attr:`~exchange_tls.diagnosis.catalogue.Rule.signatures`); a match adds the rule, the
most direct readings first (a signature's rank), then in catalogue order. What Exchange
Online writes is read as well, and a code no signature names falls back on its enhanced
status class (4.7.5: the certificate rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from exchange_tls.arguments import check_arguments
from exchange_tls.diagnosis.catalogue import CATALOGUE, Rule, Signature, lookup
from exchange_tls.diagnosis.phrases import read_phrases
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import ParseError
from exchange_tls.queues.last_error import LastError, parse_last_error
from exchange_tls.smtp import SmtpReply

__all__ = ["ErrorExplanation", "explain_error"]


#: What Exchange Online writes about this organisation's servers, and what it means. These
#: are readings only: the rules that explain them carry their own signatures.
_EXCHANGE_ONLINE = (
    Signature(
        groups=(("4.7.320",), ("subjectmismatch",)),
        reading="Exchange Online validated the on-premises certificate and its subject did "
        "not match the name it expected (4.7.320 Certificate validation failed, "
        "SubjectMismatch): the receive side presents the wrong certificate, or the inbound "
        "connector in Exchange Online names another.",
        rank=1,
    ),
    Signature(
        groups=(("failed to establish appropriate tls channel",),),
        reading="Failed to establish appropriate TLS channel: Exchange could not set up the "
        "TLS channel it needed; the reason that follows (UnknownCredentials, Access Denied) "
        "names the credential problem.",
        rank=1,
    ),
    Signature(
        groups=(("4.4.317",),),
        reading="Exchange Online could not connect to the on-premises server (4.4.317); the "
        "text in brackets says why, often the receive side's STARTTLS.",
        rank=1,
    ),
    Signature(
        groups=(("4.4.317", "starttls is required"),),
        reading="Exchange Online requires TLS to the on-premises server, and the on-premises "
        "receive connector did not offer STARTTLS: most often its TlsCertificateName still "
        "names a certificate that was renewed or removed (KB 2989382; event 12014 on the "
        "receiving server). The on-premises receive side must change, not a send connector.",
        rank=1,
    ),
    Signature(
        groups=(("must issue a starttls command first", "451 5.7.3"),),
        reading="'451 5.7.3 Must issue a STARTTLS command first' is deceptive: TLS was "
        "attempted and failed, usually over the certificate, and the session went on without "
        "it; the protocol log of the same session shows the TLS failure.",
        rank=1,
    ),
)
#: The deceptive reply: the causes of a failed TLS attempt first (Microsoft's reading).
_DECEPTIVE = ("451 5.7.3", "must issue a starttls command first")
_FAILED_ATTEMPT = (
    "certificate-not-enabled-for-smtp",
    "certificate-missing-private-key",
    "tls-protocol-mismatch",
)
#: Exchange Online's codes about its connection to this organisation's receive side.
_TO_ON_PREMISES = (("4.4.317",), ("4.7.320",))
#: Rules of the sending side, which a code about the receive side cannot implicate.
_SEND_SIDE_ONLY = frozenset(
    {"remote-starttls-unavailable", "remote-requires-starttls", "starttls-ignored-by-connector"}
)
#: The on-premises receive side, most likely first, for 4.4.317 ... STARTTLS is required.
_RECEIVE_SIDE = (
    "receive-connector-certificate-not-found",
    "exchange-online-rejects-receive-certificate",
    "starttls-certificate-missing-event",
    "inbound-tls-failure",
    "no-certificate-for-connector-fqdn",
)
#: Enhanced status classes to rule ids, for codes no signature names (RFC 3463 subjects).
_CLASS_FALLBACK = {
    "7.5": (
        "certificate-expired",
        "certificate-untrusted",
        "certificate-missing-private-key",
        "tls-certificate-name-not-found",
    ),
    "7.4": ("tls-protocol-mismatch",),
    "7.3": ("remote-starttls-unavailable", "remote-requires-starttls"),
    "4.1": ("connection-failure",),
    "4.2": ("connection-failure", "tls-protocol-mismatch"),
}
_CLASS_READING = {
    "7.5": "X.7.5 is a cryptographic failure (RFC 3463): a certificate or key problem.",
    "7.4": "X.7.4 is a security feature not supported (RFC 3463): no common TLS feature.",
    "7.3": "X.7.3 is a required security conversion that was not possible: STARTTLS.",
    "4.1": "X.4.1 is no answer from the host: the network, or a TLS failure reported so.",
    "4.2": "X.4.2 is a bad connection: dropped, by the network or a TLS mismatch.",
}
_BLANKS = re.compile(r"\s+")
_REPLY_CODE = re.compile(r"(?<![\w.])[2-5][0-9]{2}(?=[ -])")


@attrs.frozen(kw_only=True)
class ErrorExplanation:
    """A queue error decoded, with the causes that fit it and how to tell them apart."""

    error: LastError
    #: What each matching signature says about the error, most specific first.
    readings: tuple[str, ...]
    #: Rules whose failure mode produces this error; their ``needs`` say what confirms each.
    candidates: tuple[Rule, ...]
    #: Which end must change, when the text alone tells (``None``: it does not).
    side: FaultSide | None = None

    @property
    def replies(self) -> tuple[SmtpReply, ...]:
        """The reply and every reply nested in it, outermost first."""
        return () if self.error.reply is None else self.error.reply.chain

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "error": self.error.raw,
            "replies": [
                {
                    "code": reply.code,
                    "enhanced": None if reply.enhanced is None else str(reply.enhanced),
                    "meaning": None if reply.enhanced is None else reply.enhanced.description,
                    "text": reply.text,
                }
                for reply in self.replies
            ],
            "readings": list(self.readings),
            "side": None if self.side is None else self.side.value,
            "candidates": [
                {
                    "rule_id": rule.rule_id,
                    "title": rule.title,
                    "failure_mode": rule.failure_mode,
                    "confirmed_by": list(rule.needs),
                }
                for rule in self.candidates
            ],
        }


def explain_error(text: str) -> ErrorExplanation:
    """Decode a queue error, SMTP reply or log line; list the causes and what confirms each.

    Raises :class:`~exchange_tls.ParseError` when the text holds neither an SMTP reply nor
    a phrase :mod:`~exchange_tls.diagnosis.phrases` reads.

    >>> explanation = explain_error(
    ...     '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection '
    ...     'timed out." Attempted failover to alternate host, but that did not succeed.'
    ... )
    >>> [f"{reply.code} {reply.enhanced}" for reply in explanation.replies]
    ['451 4.4.0', '421 4.4.1']
    >>> [rule.rule_id for rule in explanation.candidates][:2]
    ['certificate-not-enabled-for-smtp', 'certificate-missing-private-key']
    >>> explain_error("TLS negotiation failed with error UnknownCredentials.").side
    <FaultSide.LOCAL: 'local'>
    """
    check_arguments("explain_error", text=text)
    readings: list[str] = []
    phrases = read_phrases(_BLANKS.sub(" ", text.casefold()))
    try:
        error = parse_last_error(text)
    except ParseError:
        # Prose around the error ("the queue shows: 451 4.4.0 …"): read from the first
        # reply code, and say so; without one, the first refusal stands unless the text
        # is a phrase read without a reply (a log line, a status word).
        start = _REPLY_CODE.search(text)
        if start is None:
            if not phrases:
                raise
            error = LastError(reply=None, raw=text.strip(), description=text.strip())
        else:
            error = parse_last_error(text[start.start() :])
            readings.append(
                f"Read from the reply code at character {start.start() + 1}; the text before "
                "it is not part of the error."
            )
    folded = _BLANKS.sub(" ", error.raw.casefold())
    matched: dict[str, tuple[int, int]] = {}
    found: dict[str, int] = {}
    for place, entry in enumerate(CATALOGUE):
        for signature in entry.signatures:
            if signature.matches(folded):
                best = matched.get(entry.rule_id, (signature.rank, place))
                matched[entry.rule_id] = min(best, (signature.rank, place))
                found[signature.reading] = min(found.get(signature.reading, 9), signature.rank)
    for signature in _EXCHANGE_ONLINE:
        if signature.matches(folded):
            found[signature.reading] = min(found.get(signature.reading, 9), signature.rank)
    known = {entry.rule_id for entry in CATALOGUE}
    for phrase in phrases:
        found[phrase.text] = min(found.get(phrase.text, 9), phrase.rank)
        for place, rule_id in enumerate(phrase.rule_ids):
            if rule_id in known:
                best = matched.get(rule_id, (phrase.rank, place))
                matched[rule_id] = min(best, (phrase.rank, place))
    side = _agreed_side(phrase.side for phrase in phrases)
    if any(all(code in folded for code in group) for group in _TO_ON_PREMISES):
        # Exchange Online about its connection to this organisation: the receive side.
        for rule_id in _SEND_SIDE_ONLY:
            matched.pop(rule_id, None)
        if "starttls is required" in folded:
            for place, rule_id in enumerate(_RECEIVE_SIDE):
                matched[rule_id] = (0, place)
        side = FaultSide.LOCAL
    if all(fragment in folded for fragment in _DECEPTIVE):
        for place, rule_id in enumerate(_FAILED_ATTEMPT):
            matched[rule_id] = (1, place)
        if "remote-requires-starttls" in matched:
            matched["remote-requires-starttls"] = (2, 0)
    if not matched:
        for reply in () if error.reply is None else error.reply.chain:
            if reply.enhanced is None:
                continue
            key = ".".join(str(reply.enhanced).split(".")[1:])
            for place, rule_id in enumerate(_CLASS_FALLBACK.get(key, ())):
                matched.setdefault(rule_id, (4, place))
            if key in _CLASS_READING:
                found.setdefault(
                    f"No entry for {reply.enhanced}; by its class: {_CLASS_READING[key]}", 4
                )
    readings.extend(sorted(found, key=lambda reading: found[reading]))
    if side is not None:
        readings.append(f"The side that must change: {_SIDE_WORDS[side]}.")
    return ErrorExplanation(
        error=error,
        readings=tuple(readings),
        candidates=tuple(lookup(rule_id) for rule_id in sorted(matched, key=matched.__getitem__)),
        side=side,
    )


_SIDE_WORDS = {
    FaultSide.LOCAL: "this organisation's Exchange server (its certificate, connector or settings)",
    FaultSide.REMOTE: "the remote server",
    FaultSide.BETWEEN: "something between the two servers (a firewall, a proxy, DNS)",
}


def _agreed_side(sides: Iterable[FaultSide | None]) -> FaultSide | None:
    """Return the side every reading that names one names; ``None`` if none or they differ."""
    named = {side for side in sides if side is not None}
    return named.pop() if len(named) == 1 else None
