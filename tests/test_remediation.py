import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import Services
from exchange_tls.remediation import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    GetQueue,
    RestartService,
    RetryQueue,
    SetItemProperty,
    SetReceiveConnector,
    SetSendConnector,
    TestNetConnection,
    quote,
)
from exchange_tls.remediation.quoting import SINGLE_QUOTES

T = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
HOSTILE = [
    "Outbound to Office 365",
    "it's",
    "a'; Remove-Item C:\\ -Recurse; '",
    "$(Stop-Service MSExchangeTransport)",
    "`n`r`0 back`ticks",
    "\u2018curly\u2019 \u201alow\u201b quotes",
    '"double" and $env:USERNAME',
    "; | & > < @( ) { }",
    "",
]


def tokens(text: str) -> list[str]:
    """Split rendered PowerShell into tokens: words, single-quoted literals, expressions."""
    result, position = [], 0
    while position < len(text):
        char = text[position]
        if char == " ":
            position += 1
        elif char in SINGLE_QUOTES:
            end = position + 1
            while True:
                if end >= len(text):
                    raise AssertionError(f"unterminated literal in {text!r}")
                if text[end] in SINGLE_QUOTES:
                    if end + 1 < len(text) and text[end + 1] in SINGLE_QUOTES:
                        end += 2
                        continue
                    break
                end += 1
            result.append(text[position : end + 1])
            position = end + 1
        else:
            end = position
            while end < len(text) and text[end] != " ":
                end += 1
            result.append(text[position:end])
            position = end
    return result


def unquote(token: str) -> str:
    """Read a single-quoted literal back: strip the quotes, undouble quote characters."""
    assert token[0] in SINGLE_QUOTES
    assert token[-1] in SINGLE_QUOTES
    body, out, index = token[1:-1], [], 0
    while index < len(body):
        out.append(body[index])
        index += 2 if body[index] in SINGLE_QUOTES else 1
    return "".join(out)


def argument(rendered: str, name: str) -> list[str]:
    """Return the tokens that follow -Name up to the next parameter."""
    parts = tokens(rendered)
    start = parts.index(f"-{name}") + 1
    end = start
    while (
        end < len(parts)
        and parts[end] != "|"
        and not (parts[end].startswith("-") and parts[end][1:2].isalpha())
    ):
        end += 1
    return parts[start:end]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_connector_name_is_exactly_one_literal(value: str) -> None:
    """A hostile connector name renders as one quoted argument equal to itself."""
    rendered = SetSendConnector(identity=value, protocol_logging_level="Verbose").render()
    [literal] = argument(rendered, "Identity")
    assert unquote(literal) == value
    assert argument(rendered, "ProtocolLoggingLevel") == ["Verbose"]
    assert tokens(rendered)[0] == "Set-SendConnector"


strings = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=40
)


@settings(max_examples=300)
@given(strings, strings, strings)
def test_every_string_parameter_stays_one_literal(name: str, domain: str, host: str) -> None:
    """Any string in any string parameter renders as exactly one literal equal to it."""
    cases = [
        (
            SetSendConnector(
                identity=name, fqdn=domain, tls_domain=host, tls_auth_level="DomainValidation"
            ),
            {"Identity": name, "Fqdn": domain, "TlsDomain": host},
        ),
        (
            SetReceiveConnector(identity=name, tls_certificate_name=domain, fqdn=host),
            {"Identity": name, "TlsCertificateName": domain, "Fqdn": host},
        ),
        (
            GetExchangeCertificate(domain_name=name or "x", server=domain or "x"),
            {"DomainName": name or "x", "Server": domain or "x"},
        ),
        (GetQueue(identity=name or "x"), {"Identity": name or "x"}),
        (RetryQueue(identity=name or "x"), {"Identity": name or "x"}),
        (TestNetConnection(computer_name=name), {"ComputerName": name}),
        (SetItemProperty(path=name, name=domain, value=1), {"Path": name, "Name": domain}),
        (RestartService(name=name), {"Name": name}),
        (
            EnableExchangeCertificate(thumbprint=T, services=Services.SMTP, server=name or "x"),
            {"Server": name or "x"},
        ),
    ]
    for command, expected in cases:
        rendered = command.render(what_if=True)
        for parameter, value in expected.items():
            [literal] = argument(rendered, parameter)
            assert unquote(literal) == value


def test_quote_doubles_every_single_quote_character() -> None:
    """Each of the five single-quote characters is doubled inside the literal."""
    assert (
        quote("a'b\u2018c\u2019d\u201ae\u201bf")
        == "'a''b\u2018\u2018c\u2019\u2019d\u201a\u201ae\u201b\u201bf'"
    )


def test_nul_is_refused() -> None:
    """A NUL cannot be written in a PowerShell literal and is refused."""
    with pytest.raises(ValueError, match="NUL"):
        quote("a\x00b")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: EnableExchangeCertificate(thumbprint="xyz", services=Services.SMTP),
            "40 hex digits",
        ),
        (lambda: EnableExchangeCertificate(thumbprint=T, services=Services.NONE), "no service"),
        (lambda: SetSendConnector(identity="Out", tls_auth_level="Sometimes"), "must be one of"),
        (
            lambda: SetSendConnector(
                identity="Out", tls_domain="example.net", tls_auth_level="CertificateValidation"
            ),
            "DomainValidation",
        ),
        (lambda: SetSendConnector(identity="Out", protocol_logging_level="Loud"), "must be one of"),
        (lambda: GetExchangeCertificate(properties=("Services; rm",)), "not a property name"),
        (lambda: TestNetConnection(computer_name="x", port=0), "port"),
    ],
)
def test_invalid_values_are_refused(make: object, message: str) -> None:
    """Commands refuse values that are not what their parameter takes."""
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_switches_booleans_and_what_if() -> None:
    """Switches render bare, booleans as $true/$false, -WhatIf only on changes."""
    assert SetSendConnector(identity="Out", require_tls=True, ignore_starttls=False).render() == (
        "Set-SendConnector -Identity 'Out' -RequireTLS $true -IgnoreSTARTTLS $false"
    )
    enable = EnableExchangeCertificate(thumbprint=T, services="SMTP", network_service_allowed=True)
    assert enable.render(what_if=True).endswith("-Services 'SMTP' -NetworkServiceAllowed -WhatIf")
    assert (
        GetQueue().render(what_if=True)
        == "Get-Queue | Format-List 'Identity','Status','MessageCount','NextHopDomain','LastError'"
    )


def test_commands_describe_themselves_as_data() -> None:
    """to_dict gives the cmdlet, typed parameters and the rendered PowerShell."""
    command = EnableExchangeCertificate(thumbprint=T.lower(), services="IMAP, POP, IIS, SMTP")
    assert command.to_dict() == {
        "cmdlet": "Enable-ExchangeCertificate",
        "parameters": {
            "thumbprint": T,
            "services": "IMAP, POP, IIS, SMTP",
            "network_service_allowed": False,
        },
        "changes_state": True,
        "powershell": f"Enable-ExchangeCertificate -Thumbprint '{T}' -Services 'IMAP','POP','IIS','SMTP'",
    }
