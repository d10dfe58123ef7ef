"""What the error after ``TLS negotiation failed with error`` means, and which rule owns it.

Exchange writes the enum *name* of an SSPI ``SecurityStatus`` (or a .NET ``SocketError``)
into the protocol log when a handshake fails. The table below maps each name Exchange can
write to its HRESULT, what it usually means for Exchange, whether that meaning has a
published Exchange source, and the rules that can claim a failure with that error. A
failure no rule claims is reported by ``unexplained-tls-failure``, which quotes this table.
"""

from __future__ import annotations

import attrs

__all__ = ["SCHANNEL_ERRORS", "SchannelError", "schannel_error"]

KB4051498 = "https://support.microsoft.com/help/4051498"
KB4495258 = "https://learn.microsoft.com/troubleshoot/exchange/mailflow/tls-negotiation-failed-with-error-nocredentials-error"
SOCKET_ERROR = "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/send-receive-emails-socketerror"
SECURITY_STATUS = "https://learn.microsoft.com/windows/win32/secauthn/sspi-status-codes"
SOCKET_ERROR_ENUM = "https://learn.microsoft.com/dotnet/api/system.net.sockets.socketerror"


@attrs.frozen(kw_only=True)
class SchannelError:
    """One error name Exchange writes after ``TLS negotiation failed with error``."""

    #: The name as Exchange writes it (``UnknownCredentials``).
    name: str
    #: The SSPI status code, or ``None`` for a socket error.
    hresult: int | None
    #: What the error usually means on an Exchange send or receive connector.
    meaning: str
    #: Whether an Exchange case documents this meaning; ``False``: the SSPI meaning only.
    sourced: bool
    #: Where the meaning comes from.
    references: tuple[str, ...]
    #: The rules that can claim a failure with this error, most specific first.
    rule_ids: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The HRESULT as Microsoft prints it (``0x8009030D``), or ``''``."""
        return "" if self.hresult is None else f"0x{self.hresult:08X}"


_CREDENTIAL_RULES = (
    "certificate-not-enabled-for-smtp",
    "certificate-missing-private-key",
    "certificate-key-inaccessible",
)

SCHANNEL_ERRORS: tuple[SchannelError, ...] = (
    SchannelError(
        name="UnknownCredentials",
        hresult=0x8009030D,
        meaning="This server's own certificate cannot be used: typically a third-party "
        "certificate that is not enabled for SMTP, so the transport service cannot use its "
        "key (KB 4051498).",
        sourced=True,
        references=(KB4051498, SECURITY_STATUS),
        rule_ids=_CREDENTIAL_RULES,
    ),
    SchannelError(
        name="NoCredentials",
        hresult=0x8009030E,
        meaning="The certificate Exchange selected has no usable private key (KB 4495258).",
        sourced=True,
        references=(KB4495258, SECURITY_STATUS),
        rule_ids=(
            "certificate-missing-private-key",
            "certificate-key-inaccessible",
            "certificate-not-enabled-for-smtp",
        ),
    ),
    SchannelError(
        name="SocketError",
        hresult=None,
        meaning="The other end dropped the connection during the handshake: classically a "
        "server offering only TLS 1.0/1.1 to a peer that requires TLS 1.2, such as Exchange "
        "Online.",
        sourced=True,
        references=(SOCKET_ERROR, SOCKET_ERROR_ENUM),
        rule_ids=("tls-protocol-mismatch",),
    ),
    SchannelError(
        name="AlgorithmMismatch",
        hresult=0x80090331,
        meaning="The two ends share no protocol version or cipher suite (one side disabled "
        "TLS 1.2 or the suites the other requires).",
        sourced=False,
        references=(SECURITY_STATUS,),
        rule_ids=("tls-protocol-mismatch",),
    ),
    SchannelError(
        name="InvalidToken",
        hresult=0x80090308,
        meaning="The handshake message received could not be processed: a peer or a device "
        "in between (SMTP inspection on a firewall) altered or cut the handshake.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="IllegalMessage",
        hresult=0x80090326,
        meaning="A malformed or unsupported TLS message: often a device in between, or a "
        "peer that answered with something other than TLS.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="IncompleteMessage",
        hresult=0x80090318,
        meaning="The handshake message was cut short: the connection broke mid-handshake "
        "(network device, timeout or a peer that gave up).",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="InternalError",
        hresult=0x80090304,
        meaning="Schannel failed internally; on Windows this often follows a cipher-suite or "
        "key-exchange setting the two ends cannot agree on, or a corrupt key container.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="UntrustedRoot",
        hresult=0x80090325,
        meaning="A certificate in the handshake chains to a root this server does not trust: "
        "the remote host's certificate (when the connector validates it) or an intermediate "
        "missing from the store.",
        sourced=False,
        references=(SECURITY_STATUS,),
        rule_ids=("certificate-untrusted",),
    ),
    SchannelError(
        name="CertExpired",
        hresult=0x80090328,
        meaning="A certificate in the handshake is past its validity: this server's (check "
        "NotAfter) or the remote host's.",
        sourced=False,
        references=(SECURITY_STATUS,),
        rule_ids=("certificate-expired",),
    ),
    SchannelError(
        name="CertUnknown",
        hresult=0x80090327,
        meaning="A certificate in the handshake could not be processed (an unknown or "
        "malformed certificate).",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="TargetUnknown",
        hresult=0x80090303,
        meaning="The name the handshake was made for is not known: typically the target "
        "name (the smart host or TlsDomain) does not match what the peer presents.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="WrongPrincipal",
        hresult=0x80090322,
        meaning="The peer's certificate is for another name than the one expected (the "
        "connector's TlsDomain or the smart host's name).",
        sourced=False,
        references=(SECURITY_STATUS,),
        rule_ids=("tls-domain-validation-misconfigured",),
    ),
    SchannelError(
        name="MessageAltered",
        hresult=0x8009030F,
        meaning="A handshake message failed its integrity check: something in between "
        "changed the traffic.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="TimeSkew",
        hresult=0x80090324,
        meaning="The clocks of the two ends differ too much.",
        sourced=False,
        references=(SECURITY_STATUS,),
    ),
    SchannelError(
        name="LogonDenied",
        hresult=0x8009030C,
        meaning="The credentials were refused (Exchange server authentication between servers).",
        sourced=False,
        references=(SECURITY_STATUS,),
        rule_ids=("internal-transport-certificate-problem",),
    ),
    SchannelError(
        name="TimedOut",
        hresult=None,
        meaning="The handshake did not complete in time: the network or a peer that stopped "
        "answering mid-handshake.",
        sourced=False,
        references=(SOCKET_ERROR_ENUM,),
        rule_ids=("connection-failure",),
    ),
)

_BY_NAME = {entry.name.casefold(): entry for entry in SCHANNEL_ERRORS}


def schannel_error(name: str | None) -> SchannelError | None:
    """Return what an error name from the log means, or ``None`` for a name not in the table.

    >>> schannel_error("UnknownCredentials").code
    '0x8009030D'
    >>> schannel_error("unknowncredentials").rule_ids[0]
    'certificate-not-enabled-for-smtp'
    >>> schannel_error("SomethingNew") is None
    True
    """
    return _BY_NAME.get((name or "").strip().casefold())
