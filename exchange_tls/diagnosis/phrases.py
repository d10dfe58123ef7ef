"""What the texts around SMTP replies say: log lines, status words, Schannel's messages, codes.

Theory of operation. An admin pastes whatever the server showed: a protocol-log line
(``TLS negotiation failed with error UnknownCredentials.``, often with the period of the
KB article that quoted it), a status word from message tracking or an NDR
(``SMTPSEND.SuspiciousRemoteServerError``), the English message of a Schannel status
(``The client and server cannot communicate, because they do not possess a common
algorithm``) or an Exchange Online code. :func:`read_phrases` reads each of these from the
case-folded text and returns what it says, the rules that explain it, and which end of
the connection must change (:class:`~exchange_tls.diagnosis.weight.FaultSide`), where the
text alone tells.

The Schannel messages are Windows' texts for the SSPI status codes (``winerror.h``;
"SSPI Status Codes" on Microsoft Learn); each leads to the error name Exchange writes in
its log, so the meaning comes from one table (:mod:`~exchange_tls.diagnosis.schannel`).
Exchange Online's TLS codes come from :mod:`exchange_tls.tls_results`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from exchange_tls.diagnosis.schannel import schannel_error
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.tls_results import TlsResultType, exchange_online_result_type

__all__ = ["SCHANNEL_MESSAGES", "STATUS_WORDS", "Reading", "read_phrases"]


@attrs.frozen(kw_only=True)
class Reading:
    """What one phrase of a text says."""

    text: str
    rule_ids: tuple[str, ...] = ()
    side: FaultSide | None = None
    #: 1 points straight at a cause; 2 one cause among several (as Signature.rank).
    rank: int = 1


#: Windows' English messages for the SSPI status codes, to the name Exchange logs.
SCHANNEL_MESSAGES: tuple[tuple[str, str], ...] = (
    ("the credentials supplied to the package were not recognized", "UnknownCredentials"),
    ("no credentials are available in the security package", "NoCredentials"),
    (
        "the client and server cannot communicate, because they do not possess a common algorithm",
        "AlgorithmMismatch",
    ),
    ("the token supplied to the function is invalid", "InvalidToken"),
    ("the message received was unexpected or badly formatted", "IllegalMessage"),
    ("the certificate chain was issued by an authority that is not trusted", "UntrustedRoot"),
    ("the received certificate has expired", "CertExpired"),
    ("the target principal name is incorrect", "WrongPrincipal"),
    ("the specified target is unknown or unreachable", "TargetUnknown"),
    ("an unknown error occurred while processing the certificate", "CertUnknown"),
    ("the message or signature supplied for verification has been altered", "MessageAltered"),
    ("the supplied message is incomplete", "IncompleteMessage"),
    ("the clocks on the client and server machines are skewed", "TimeSkew"),
    ("the local security authority cannot be contacted", "InternalError"),
)

#: The SSPI errors whose fault the name alone places: this server's own credentials.
_LOCAL_ERRORS = frozenset({"unknowncredentials", "nocredentials"})
_TLS_FAILED = re.compile(r"tls negotiation failed with error (?P<name>[a-z]+)")

#: Status words of Exchange's NDRs and message tracking (``SMTPSEND.…``), what they say.
STATUS_WORDS: dict[str, Reading] = {
    "smtpsend.suspiciousremoteservererror": Reading(
        text="SMTPSEND.SuspiciousRemoteServerError: the remote server disconnected abruptly "
        "during the conversation (Exchange Online's wording: 'remote server disconnected "
        "abruptly; retry will be delayed'). Public reports trace it to a TLS handshake the "
        "other end broke off (a server offering only TLS 1.0) or to a firewall's SMTP "
        "inspection ('fixup') in between; the receiving side's protocol log tells which.",
        rule_ids=("tls-protocol-mismatch", "starttls-masked-by-firewall"),
        side=None,
        rank=2,
    ),
    "smtpsend.dns.nonexistentdomain": Reading(
        text="SMTPSEND.DNS.NonExistentDomain: the recipient's domain does not exist in DNS; "
        "not a TLS problem.",
        side=FaultSide.REMOTE,
    ),
    "smtpsend.dns.mxloopback": Reading(
        text="SMTPSEND.DNS.MxLoopback: the domain's MX points back at this server; a DNS or "
        "routing error, not a TLS problem.",
        side=FaultSide.BETWEEN,
    ),
    "smtpsend.blindsecuredomain": Reading(
        text="SMTPSEND.BlindSecureDomain: the destination is a Domain Secure (mutual TLS) "
        "domain and TLS could not be established with it.",
        rule_ids=("remote-starttls-unavailable",),
        side=None,
        rank=2,
    ),
}
_STATUS_WORD = re.compile(r"\bsmtp(?:send|receive)\.[a-z0-9.]*[a-z0-9]")

#: Exchange Online's codes for MTA-STS (RFC 8461): its outbound mail to a domain that
#: publishes a policy.
_MTA_STS = {
    "4.4.8": "MTA-STS: the MX hosts of the destination failed its MTA-STS policy (an MX not "
    "listed in the policy); Exchange Online retries.",
    "5.4.8": "MTA-STS: the MX hosts of the destination failed its MTA-STS policy (an MX not "
    "listed in the policy); permanent.",
    "4.7.5": "Certificate validation failed for a host the destination's MTA-STS policy "
    "covers (its certificate is not trusted, expired or for another name).",
}
_RESULT_TYPE_READING = {
    TlsResultType.STARTTLS_NOT_SUPPORTED: "the destination does not offer STARTTLS",
    TlsResultType.CERTIFICATE_EXPIRED: "the destination's certificate has expired",
    TlsResultType.TLSA_INVALID: "the destination's TLSA records match none of its "
    "certificates (DANE)",
    TlsResultType.DNSSEC_INVALID: "the destination's DNSSEC records did not validate (DANE)",
    TlsResultType.CERTIFICATE_HOST_MISMATCH: "the destination's certificate is for another name",
    TlsResultType.VALIDATION_FAILURE: "Exchange Online could not validate the destination's "
    "certificate; the [Message=…] says why (SubjectMismatch: the certificate's name is not "
    "the one the connector expects)",
}
_ENHANCED = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def _tls_failed(folded: str) -> Iterator[Reading]:
    match = _TLS_FAILED.search(folded)
    if match is None:
        return
    known = schannel_error(match.group("name"))
    if known is None:
        yield Reading(
            text=f"A failed TLS handshake, with an error ({match.group('name')}) that is not "
            "in the table of errors Exchange writes.",
            rank=2,
        )
        return
    yield _schannel_reading(known.name, "The protocol log's TLS failure")


def _schannel_reading(name: str, what: str) -> Reading:
    known = schannel_error(name)
    assert known is not None  # noqa: S101 -- every name here is in the table
    hedge = "" if known.sourced else " (the SSPI meaning; no Exchange case documents it)"
    side = FaultSide.LOCAL if name.casefold() in _LOCAL_ERRORS else None
    where = " This server must change." if side is FaultSide.LOCAL else ""
    return Reading(
        text=f"{what}: {known.name} ({known.code or 'a socket error'}){hedge}. "
        f"{known.meaning}{where}",
        rule_ids=known.rule_ids,
        side=side,
        rank=1 if known.sourced else 2,
    )


def _schannel_messages(folded: str) -> Iterator[Reading]:
    for message, name in SCHANNEL_MESSAGES:
        if message in folded:
            yield _schannel_reading(name, "Schannel's message for the SSPI status")


def _status_words(folded: str) -> Iterator[Reading]:
    for word in dict.fromkeys(_STATUS_WORD.findall(folded)):
        known = STATUS_WORDS.get(word)
        if known is not None:
            yield known
        else:
            direction = "sending" if word.startswith("smtpsend") else "receiving"
            yield Reading(
                text=f"{word}: a status word of Exchange's {direction} side that no table "
                "here explains; the reply code beside it classifies it.",
                rank=3,
            )


def _exchange_online_codes(folded: str) -> Iterator[Reading]:
    for klass, subject, detail in dict.fromkeys(_ENHANCED.findall(folded)):
        code = f"{klass}.{subject}.{detail}"
        result = exchange_online_result_type(code)
        if result is not None and code != "4.7.320":
            # 4.7.320 is read with its [Message=] by the signatures of explain.
            permanence = "permanent" if klass == "5" else "Exchange Online retries"
            yield Reading(
                text=f"Exchange Online {code} ({result.value}, RFC 8460): "
                f"{_RESULT_TYPE_READING[result]}; {permanence}. The receiving server must "
                "change: this organisation's receive connector when Exchange Online was "
                "delivering to it (hybrid), else the destination's server.",
                rule_ids=("inbound-tls-failure",),
            )
        elif code in _MTA_STS:
            yield Reading(text=_MTA_STS[code], side=FaultSide.REMOTE, rank=2)


def read_phrases(folded: str) -> tuple[Reading, ...]:
    """Return what the phrases of a case-folded text say, in the text's order of kinds.

    >>> [r.side.value for r in read_phrases("tls negotiation failed with error nocredentials.")]
    ['local']
    >>> read_phrases("smtpsend.suspiciousremoteservererror")[0].rule_ids[0]
    'tls-protocol-mismatch'
    """
    if not isinstance(folded, str):
        raise TypeError(f"folded must be a str, not {type(folded).__name__}")
    return (
        *_tls_failed(folded),
        *_schannel_messages(folded),
        *_status_words(folded),
        *_exchange_online_codes(folded),
    )
