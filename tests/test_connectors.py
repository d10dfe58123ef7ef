import datetime as dt
from pathlib import Path

import pytest

from exchange_tls import (
    ExchangeCertificate,
    SendConnector,
    parse_send_connectors,
    parse_tls_certificate_name,
    read_certificates,
    read_receive_connectors,
    read_send_connectors,
)
from exchange_tls.connectors import candidate_certificates
from exchange_tls.connectors.selection import names_match

DATA = Path(__file__).parent / "data" / "corpus" / "other"
BUNDLED = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"
UTC = dt.timezone.utc


def test_corpus_send_connector_names_localhost() -> None:
    """The CSS-Exchange send connector's TlsCertificateName is CN=localhost twice."""
    [connector] = read_send_connectors(
        DATA / "css-exchange_healthchecker-datacollection_GetSendConnector_clixml.xml"
    )
    name = connector.tls_certificate_name
    assert name is not None
    assert (str(name.issuer), str(name.subject)) == ("CN=localhost", "CN=localhost")
    assert name.render() == "<I>CN=localhost<S>CN=localhost"
    assert connector.name == "Mail to O365"
    assert connector.smart_hosts == ("microsoft-com.mail.protection.outlook.com",)
    assert connector.address_spaces == ("SMTP:*;1",)
    assert (connector.require_tls, connector.port, connector.protocol_logging_level) == (
        False,
        25,
        "None",
    )
    assert connector.logging_enabled is False
    assert connector.fqdn is None


def test_corpus_relay_connector_to_m365() -> None:
    """The relay-to-M365 connector requires TLS with certificate validation."""
    [connector] = read_send_connectors(
        DATA
        / "css-exchange_healthchecker-datacollection_GetSendConnectorConfiguredToRelayToM365_clixml.xml"
    )
    assert connector.require_tls is True
    assert connector.fqdn == "mail.contoso.com"
    assert connector.cloud_services_mail_enabled is True
    assert connector.tls_certificate_name is None


def test_corpus_receive_connectors() -> None:
    """Receive connectors read with their FQDN and bindings."""
    result = read_receive_connectors(
        DATA / "css-exchange_healthchecker-datacollection_GetReceiveConnector_clixml.xml"
    )
    assert len(result) == 5
    assert result[0].name == "Default WIN-CTD3L0RGEN4"
    assert result[0].fqdn == "WIN-CTD3L0RGEN4.exlab.dom"
    assert result[0].bindings


def test_bundled_list_connector_selects_the_third_party_certificate() -> None:
    """The bundled connector's TlsCertificateName selects the KB's wildcard certificate."""
    [connector] = read_send_connectors(BUNDLED / "get-sendconnector-fl.txt")
    inventory = read_certificates(BUNDLED / "get-exchangecertificate-fl.txt", date_order="MDY")
    [chosen] = candidate_certificates(connector, inventory)
    assert chosen.thumbprint == "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
    assert chosen.smtp_enabled is False


def test_lost_markers_in_a_list_are_reported_at_their_line() -> None:
    """A TlsCertificateName without <I>/<S> is a warning at its line."""
    result = parse_send_connectors("Name : Out\nTlsCertificateName : CN=CACN=mail\n")
    assert [(p.code, p.line) for p in result.problems] == [("tls-name-syntax", 2)]


def _certificate(
    subject: str, domains: tuple[str, ...], years: int, issuer: str = "CN=CA"
) -> ExchangeCertificate:
    return ExchangeCertificate(
        thumbprint=f"{years:040d}",
        subject=subject,
        issuer=issuer,
        certificate_domains=domains,
        not_after=dt.datetime(2020 + years, 1, 1, tzinfo=UTC),
    )


def test_selection_by_fqdn_puts_exact_before_wildcard() -> None:
    """By FQDN: exact names first (longest validity first), then wildcards."""
    wildcard = _certificate("CN=*.contoso.com", ("*.contoso.com",), 9)
    exact_short = _certificate("CN=mail.contoso.com", ("mail.contoso.com",), 1)
    exact_long = _certificate("CN=mail.contoso.com", ("mail.contoso.com",), 5)
    other = _certificate("CN=other.example", ("other.example",), 7)
    connector = SendConnector(name="Out", fqdn="MAIL.contoso.com")
    assert candidate_certificates(connector, [wildcard, exact_short, other, exact_long]) == [
        exact_long,
        exact_short,
        wildcard,
    ]


def test_selection_by_tls_certificate_name_prefers_longest_validity() -> None:
    """By TlsCertificateName: matching issuer and subject, the longest validity first."""
    old = _certificate("CN=mail.contoso.com", (), 1, issuer="CN=Contoso CA")
    new = _certificate("CN=mail.contoso.com", (), 4, issuer="CN=Contoso CA")
    elsewhere = _certificate("CN=mail.contoso.com", (), 9, issuer="CN=Other CA")
    connector = SendConnector(
        name="Out",
        fqdn="nomatch.example",
        tls_certificate_name=parse_tls_certificate_name("<I>CN=Contoso CA<S>CN=mail.contoso.com"),
    )
    assert candidate_certificates(connector, [old, elsewhere, new]) == [new, old]


def test_selection_falls_back_to_the_server_fqdn() -> None:
    """A connector without Fqdn uses the server's own name."""
    server = _certificate("CN=EX01", ("EX01", "ex01.contoso.local"), 3)
    connector = SendConnector(name="Out")
    assert candidate_certificates(connector, [server]) == []
    assert candidate_certificates(connector, [server], server_fqdn="EX01.contoso.local") == [server]


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mail.contoso.com", "mail.contoso.com", True),
        ("*.contoso.com", "mail.contoso.com", False),
        ("*.contoso.com", "contoso.com", None),
        ("*.contoso.com", "a.mail.contoso.com", None),
        ("mail.contoso.com", "smtp.contoso.com", None),
    ],
)
def test_names_match(pattern: str, host: str, expected: bool | None) -> None:
    """Exact is True, a one-label wildcard is False, anything else is None."""
    assert names_match(pattern, host) is expected
