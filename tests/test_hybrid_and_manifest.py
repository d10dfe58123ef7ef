import datetime as dt
from pathlib import Path

import pytest

from exchange_tls.connectors.hybrid import parse_hybrid_configuration, read_hybrid_configuration
from exchange_tls.errors import ParseError
from exchange_tls.manifest import looks_like_manifest, parse_manifest

CORPUS = Path(__file__).parent / "data" / "corpus" / "other"


def test_real_get_hybridconfiguration_clixml_reads() -> None:
    """CSS-Exchange's Get-HybridConfiguration CLIXML gives the certificate, smart host and servers."""
    result = read_hybrid_configuration(
        CORPUS / "css-exchange_healthchecker_e19_gethybridconfiguration_clixml.xml"
    )
    assert result.format == "clixml"
    assert result.problems == ()
    [hybrid] = result
    assert hybrid.tls_certificate_name is not None
    assert str(hybrid.tls_certificate_name.subject) == "CN=mail.contoso.com"
    assert str(hybrid.tls_certificate_name.issuer).startswith("CN=GeoTrust TLS RSA CA G1")
    assert hybrid.on_premises_smart_host == "mail.contoso.com"
    assert hybrid.receiving_transport_servers == ("ex-02",)
    assert hybrid.sending_transport_servers == ("ex-02",)
    assert "SecureMail" in (hybrid.features or ())
    assert hybrid.server == "ex-02.365labs.net"
    assert hybrid.tls_certificate_name_source is not None
    assert hybrid.tls_certificate_name_source.line is not None


def test_hybrid_configuration_in_json_and_list_agree() -> None:
    """ConvertTo-Json and Format-List of the same object give the same model fields."""
    listed = parse_hybrid_configuration(
        "Name                      : Hybrid Configuration\n"
        "OnPremisesSmartHost       : mail.contoso.com\n"
        "ReceivingTransportServers : {EX01}\n"
        "TlsCertificateName        : <I>CN=Contoso CA<S>CN=mail.contoso.com\n"
    )
    json = parse_hybrid_configuration(
        '{"Name": "Hybrid Configuration", "OnPremisesSmartHost": "mail.contoso.com", '
        '"ReceivingTransportServers": ["EX01"], '
        '"TlsCertificateName": "<I>CN=Contoso CA<S>CN=mail.contoso.com"}'
    )
    fields = ("name", "on_premises_smart_host", "receiving_transport_servers")
    assert [getattr(listed[0], f) for f in fields] == [getattr(json[0], f) for f in fields]
    assert listed[0].tls_certificate_name == json[0].tls_certificate_name


def test_a_tls_certificate_name_without_markers_is_reported() -> None:
    """A TlsCertificateName that lost its <I>/<S> markers is a problem at its line."""
    result = parse_hybrid_configuration(
        "OnPremisesSmartHost : mail.contoso.com\nTlsCertificateName : CN=mail.contoso.com\n"
    )
    assert any(problem.line == 2 for problem in result.problems)


def test_manifest_reads_and_refuses_strangers() -> None:
    """The collector's manifest gives server and time; other JSON is refused with a problem."""
    text = (
        '{"ExchangeTlsEvidence": 1, "Server": "EX01", "Fqdn": "ex01.contoso.com", '
        '"CollectedUtc": "2024-06-01T10:30:00.1234567Z", "Days": 2, '
        '"Files": [{"Name": "get-queue.xml", "Source": "Get-Queue"}]}'
    )
    assert looks_like_manifest(text)
    result = parse_manifest(text)
    [manifest] = result
    assert (manifest.server, manifest.fqdn, manifest.days) == ("EX01", "ex01.contoso.com", 2)
    assert manifest.files == (("get-queue.xml", "Get-Queue"),)
    # Seven fractional digits, as PowerShell's round-trip format writes them.
    assert manifest.collected == dt.datetime(2024, 6, 1, 10, 30, 0, 123456, tzinfo=dt.timezone.utc)
    assert result.problems == ()
    other = parse_manifest('{"Name": "x"}')
    assert other.items == ()
    assert [problem.code for problem in other.problems] == ["manifest-key"]
    with pytest.raises(ParseError):
        parse_manifest("{not json", errors="raise")
