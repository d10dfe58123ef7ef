"""What a queue error alone can and cannot say: the replies, and the causes that fit.

Theory of operation. A queue's ``LastError`` is often all an admin has, and it misleads:
Exchange reports a TLS handshake it broke off itself as ``421 4.4.1 Connection timed
out``, exactly as it reports a firewall (KB 4051498). So an error alone never yields a
finding. :func:`explain_error` decodes the reply chain and lists the rules of the
catalogue whose failure modes produce that error, each with the evidence that would
confirm it. The signatures below are the exact strings of domain.md, sections 5 to 7;
every one that matches adds its rules, most specific signatures first.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from exchange_tls.diagnosis import rules as _rules  # noqa: F401 -- fills the catalogue
from exchange_tls.diagnosis.catalogue import Rule, lookup
from exchange_tls.errors import ParseError
from exchange_tls.queues.last_error import LastError, parse_last_error
from exchange_tls.smtp import SmtpReply

__all__ = ["ErrorExplanation", "explain_error"]


@attrs.frozen
class _Signature:
    """Text that marks an error: any one group matches when all its fragments appear."""

    groups: tuple[tuple[str, ...], ...]
    rule_ids: tuple[str, ...]
    reading: str

    def matches(self, text: str) -> bool:
        return any(all(fragment in text for fragment in group) for group in self.groups)


# Fragments are matched against the error's text case-folded, with runs of blanks as one.
_SIGNATURES = (
    _Signature(
        groups=(("failed to connect. winsock error code",), ("connection refused",)),
        rule_ids=("connection-failure",),
        reading="The connection itself failed: a Winsock error or a refusal comes from the "
        "network, before any TLS.",
    ),
    _Signature(
        groups=(("dns query failed",),),
        rule_ids=("connection-failure",),
        reading="The next hop's name did not resolve: DNS, not TLS.",
    ),
    _Signature(
        groups=(("tlscertificatename", "could not be found"),),
        rule_ids=("tls-certificate-name-not-found", "tls-certificate-name-invalid"),
        reading="The send connector names a certificate (TlsCertificateName) that Exchange "
        "cannot find; no connection was made.",
    ),
    _Signature(
        groups=(
            ("tlsauthlevel cannot be domainvalidation",),
            ("tls domain can only be specified",),
        ),
        rule_ids=("tls-domain-validation-misconfigured",),
        reading="The connector's TlsAuthLevel and TlsDomain do not fit together.",
    ),
    _Signature(
        groups=(("certificate validation failure",),),
        rule_ids=(
            "certificate-untrusted",
            "certificate-revocation-check-failed",
            "certificate-expired",
        ),
        reading="A certificate in the handshake failed validation.",
    ),
    _Signature(
        groups=(("must issue a starttls command first",),),
        rule_ids=("remote-requires-starttls", "tls-protocol-mismatch"),
        reading="The remote host requires STARTTLS, and the message went without it.",
    ),
    _Signature(
        groups=(("starttls is required to send mail",), ("disallowed this secure domain",)),
        rule_ids=("remote-starttls-unavailable", "no-certificate-for-connector-fqdn"),
        reading="TLS is required on this path, and one end did not offer STARTTLS.",
    ),
    _Signature(
        groups=(
            ("temporary authentication failure",),
            ("internal transport certificate",),
            ("exchange server authentication",),
        ),
        rule_ids=("internal-transport-certificate-problem",),
        reading="Exchange servers could not authenticate each other (the intra-organisation "
        "leg, before the Internet connector).",
    ),
    _Signature(
        groups=(("temporary server error", "prx"),),
        rule_ids=("self-signed-certificate-external",),
        reading="Exchange Online did not attribute the connection to your organisation's "
        "connector, which a self-signed certificate causes.",
    ),
    _Signature(
        groups=(("connection dropped",),),
        rule_ids=("tls-protocol-mismatch", "connection-failure"),
        reading="The connection was dropped: a TLS version or cipher mismatch does this, as "
        "does the network.",
    ),
    _Signature(
        groups=(("connection timed out",), ("unable to connect",)),
        rule_ids=(
            "certificate-not-enabled-for-smtp",
            "certificate-missing-private-key",
            "certificate-key-inaccessible",
            "certificate-revocation-check-failed",
            "connection-failure",
        ),
        reading="A timeout as the queue sees it. Exchange reports a TLS handshake it broke "
        "off itself in the same words (KB 4051498), so this is not proof of a network "
        "problem: the send protocol log tells.",
    ),
)
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
    """Decode a queue error or SMTP reply; list the causes that fit and what confirms each.

    Raises :class:`~exchange_tls.ParseError` when the text holds no SMTP reply.

    >>> explanation = explain_error(
    ...     '451 4.4.0 Primary target IP address responded with: "421 4.4.1 Connection '
    ...     'timed out." Attempted failover to alternate host, but that did not succeed.'
    ... )
    >>> [f"{reply.code} {reply.enhanced}" for reply in explanation.replies]
    ['451 4.4.0', '421 4.4.1']
    >>> [rule.rule_id for rule in explanation.candidates][:2]
    ['certificate-not-enabled-for-smtp', 'certificate-missing-private-key']
    """
    readings: list[str] = []
    try:
        error = parse_last_error(text)
    except ParseError:
        # Prose around the error ("the queue shows: 451 4.4.0 …"): read from the first
        # reply code, and say so; without one, the first refusal stands.
        start = _REPLY_CODE.search(text)
        if start is None:
            raise
        error = parse_last_error(text[start.start() :])
        readings.append(
            f"Read from the reply code at character {start.start() + 1}; the text before "
            "it is not part of the error."
        )
    folded = _BLANKS.sub(" ", error.raw.casefold())
    rule_ids: list[str] = []
    for signature in _SIGNATURES:
        if signature.matches(folded):
            readings.append(signature.reading)
            rule_ids.extend(signature.rule_ids)
    return ErrorExplanation(
        error=error,
        readings=tuple(readings),
        candidates=tuple(lookup(rule_id) for rule_id in dict.fromkeys(rule_ids)),
    )
