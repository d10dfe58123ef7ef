"""DANE and MTA-STS: pure matching, then from a local zone and a local HTTPS server."""

from __future__ import annotations

import hashlib
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls.cli import main
from exchange_tls.probe import DnspythonResolver, HttpsFetcher, probe_smtp
from exchange_tls.probe_results import TlsaRecord, parse_probe_results
from exchange_tls.probe_results.policy import (
    PolicyError,
    host_matches_name,
    match_tlsa,
    mx_pattern_matches,
    parse_mta_sts_policy,
    parse_sts_record,
)
from exchange_tls.tls_results import TlsResultType

MX = "mx.probe.test"
DOMAIN = "probe.test"
STS_HOST = "mta-sts.probe.test"
STS_PATH = "/.well-known/mta-sts.txt"
TIMEOUT = 2.0


def _chain() -> tuple[list[bytes], trustme.CA]:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert(MX)
    chain = [
        x509.load_pem_x509_certificate(blob.bytes()).public_bytes(Encoding.DER)
        for blob in leaf.cert_chain_pems
    ]
    return chain, root


def _spki_sha256(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()


@pytest.mark.parametrize(
    ("usage", "selector", "matching", "which"),
    [(3, 1, 1, 0), (3, 0, 0, 0), (3, 0, 2, 0), (3, 1, 2, 0), (2, 0, 1, 1), (2, 1, 1, 1)],
)
def test_tlsa_records_match_the_certificate_they_name(
    usage: int, selector: int, matching: int, which: int
) -> None:
    """Usages 2 and 3, selectors 0 and 1, matching types 0 to 2 each match their target."""
    chain, _ = _chain()
    der = chain[which]
    selected = (
        der
        if selector == 0
        else x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    data = {0: selected.hex(), 1: hashlib.sha256(selected).hexdigest()}.get(
        matching, hashlib.sha512(selected).hexdigest()
    )
    record = TlsaRecord(usage=usage, selector=selector, matching_type=matching, data=data)
    assert match_tlsa([record], chain) == record
    # The same digest under the other usage names the other certificate: no match.
    swapped = TlsaRecord(usage=5 - usage, selector=selector, matching_type=matching, data=data)
    assert match_tlsa([swapped], chain) is None


def test_pkix_usages_and_wrong_data_never_match() -> None:
    """Usages 0 and 1 do not apply to SMTP (RFC 7672); a wrong digest matches nothing."""
    chain, _ = _chain()
    digest = _spki_sha256(chain[0])
    assert (
        match_tlsa([TlsaRecord(usage=1, selector=1, matching_type=1, data=digest)], chain) is None
    )
    assert (
        match_tlsa([TlsaRecord(usage=3, selector=1, matching_type=1, data="00" * 32)], chain)
        is None
    )


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("mx1.example.com", "mx1.example.com", True),
        ("MX1.example.com.", "mx1.example.com", True),
        ("mx1.example.com", "*.example.com", True),
        ("a.mx1.example.com", "*.example.com", False),
        ("example.com", "*.example.com", False),
        ("mx1.example.net", "*.example.com", False),
    ],
)
def test_mx_patterns_match_one_label(host: str, pattern: str, expected: bool) -> None:
    """A leading ``*.`` stands for exactly one label (RFC 8461 §4.1)."""
    assert mx_pattern_matches(host, pattern) is expected


def test_a_wildcard_certificate_name_does_not_cover_a_bare_suffix() -> None:
    """``*.com`` covers nothing; ``*.example.com`` covers one label below it."""
    assert not host_matches_name("example.com", "*.com")
    assert host_matches_name("mx.example.com", "*.example.com")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "lists no mx"),
        ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "version"),
        ("version: STSv1\nmode: always\nmx: a.example\nmax_age: 1\n", "mode"),
        ("version: STSv1\nmode: enforce\nmx: a.example\n", "max_age"),
    ],
)
def test_an_invalid_policy_says_why(text: str, words: str) -> None:
    """A policy that RFC 8461 would not accept raises PolicyError with the reason."""
    with pytest.raises(PolicyError, match=words):
        parse_mta_sts_policy(text)


def test_sts_records() -> None:
    """The TXT record gives its id; without v=STSv1 it is not a record."""
    assert parse_sts_record("v=STSv1; id=abc123") == "abc123"
    with pytest.raises(PolicyError):
        parse_sts_record("v=spf1 -all")


@given(st.text(max_size=400))
def test_any_policy_text_parses_or_raises_policy_error(text: str) -> None:
    """Hostile policy text gives a policy or a PolicyError, nothing else."""
    try:
        policy = parse_mta_sts_policy(text)
    except PolicyError:
        return
    assert policy.version == "STSv1"


# -- from a local zone and a local HTTPS server ------------------------------------------


POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: *.probe.test\r\nmax_age: 604800\r\n"
OTHER_POLICY = b"version: STSv1\nmode: enforce\nmx: mail.elsewhere.test\nmax_age: 604800\n"


def _zone(zone: Any, tlsa: str | None) -> None:
    zone.add(f"{DOMAIN}. 300 IN MX 10 {MX}.")
    zone.add(f'_mta-sts.{DOMAIN}. 300 IN TXT "v=STSv1; id=20261207"')
    if tlsa:
        zone.add(f"_25._tcp.{MX}. 300 IN TLSA {tlsa}")


def _probe(servers: Any, pki: Any, zone: Any, https: Any, *, tlsa: str | None) -> Any:
    """Probe a fresh local server; ``tlsa`` is the zone's record, ``{spki}`` its key digest."""
    port = servers.smtp(pki.context())
    _zone(zone, (tlsa or "").format(spki=_spki_sha256(pki.last_der)))
    # The probe speaks of port 25, as DANE's _25._tcp does; the map sends it to the server.
    return probe_smtp(
        MX,
        25,
        timeout=TIMEOUT,
        trust=pki.trust_file,
        connect={MX: ("127.0.0.1", port)},
        resolver=DnspythonResolver(["127.0.0.1"], port=zone.port, timeout=TIMEOUT),
        domain=DOMAIN,
        fetcher=HttpsFetcher(
            timeout=TIMEOUT,
            trust=str(pki.trust_file),
            connect={STS_HOST: ("127.0.0.1", https.port)},
        ),
    )


def test_a_matching_tlsa_record_and_a_policy_listing_the_mx(
    servers: Any, pki: Any, zone: Any, https: Any
) -> None:
    """DANE-EE 3 1 1 of the presented key matches, DNSSEC-authenticated; MTA-STS lists the MX."""
    https.pages[STS_PATH] = POLICY
    probe = _probe(servers, pki, zone, https, tlsa="3 1 1 {spki}")
    assert probe.healthy
    assert probe.dane is not None
    assert (probe.dane.authenticated, probe.dane.matches, probe.dane.result_type) == (
        True,
        True,
        None,
    )
    assert str(probe.dane.matched).startswith("3 1 1 ")
    policy = probe.domain
    assert policy is not None
    assert [mx.host for mx in policy.mx] == [MX]
    assert policy.mx_authenticated is True
    sts = policy.mta_sts
    assert sts is not None
    assert sts.policy is not None
    assert (sts.policy.mode, sts.policy.mx, sts.host_matches) == (
        "enforce",
        ("*.probe.test",),
        True,
    )
    assert sts.result_type is None


def test_a_tlsa_record_that_does_not_match_and_a_policy_without_the_mx(
    servers: Any, pki: Any, zone: Any, https: Any
) -> None:
    """A digest of another key is tlsa-invalid; a policy naming other hosts does not list the MX."""
    https.pages[STS_PATH] = OTHER_POLICY
    probe = _probe(servers, pki, zone, https, tlsa="3 1 1 " + "ab" * 32)
    assert probe.dane is not None
    assert probe.dane.matches is False
    assert probe.dane.result_type is TlsResultType.TLSA_INVALID
    sts = probe.domain.mta_sts
    assert sts.host_matches is False
    assert sts.policy.mx == ("mail.elsewhere.test",)


def test_unsigned_tlsa_records_are_reported_but_not_a_failure(
    servers: Any, pki: Any, zone: Any, https: Any
) -> None:
    """Without the resolver's AD flag, TLSA records do not apply (RFC 7672 §2.2)."""
    zone.authenticated = False
    https.pages[STS_PATH] = POLICY
    probe = _probe(servers, pki, zone, https, tlsa="3 1 1 " + "ab" * 32)
    assert probe.dane is not None
    assert probe.dane.authenticated is False
    assert probe.dane.matches is False
    assert probe.dane.result_type is None


def test_a_policy_fetch_that_fails(servers: Any, pki: Any, zone: Any, https: Any) -> None:
    """A record but no policy at the well-known URL: sts-policy-fetch-error, with the status."""
    probe = _probe(servers, pki, zone, https, tlsa=None)
    sts = probe.domain.mta_sts
    assert sts.record == "v=STSv1; id=20261207"
    assert sts.policy is None
    assert sts.fetch_error is not None
    assert "404" in sts.fetch_error
    assert sts.result_type is TlsResultType.STS_POLICY_FETCH_ERROR


def test_the_command_line_reports_dane_and_mta_sts_in_json(
    servers: Any, pki: Any, zone: Any, https: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain`` with ``--dns-server`` and ``--connect-to``: the JSON holds both checks."""
    https.pages[STS_PATH] = POLICY
    port = servers.smtp(pki.context())
    _zone(zone, f"3 1 1 {_spki_sha256(pki.last_der)}")
    status = main(
        [
            "probe",
            MX,
            "--domain",
            DOMAIN,
            "--dns-server",
            f"127.0.0.1:{zone.port}",
            "--connect-to",
            f"{MX}=127.0.0.1:{port}",
            "--connect-to",
            f"{STS_HOST}=127.0.0.1:{https.port}",
            "--trust",
            str(pki.trust_file),
            "--timeout",
            str(TIMEOUT),
            "--format",
            "json",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["dane"]["matches"] is True
    assert document["domain"]["mta_sts"]["host_matches"] is True
    (probe,) = parse_probe_results(json.dumps(document))
    assert probe.dane is not None
    assert probe.dane.matched is not None
    assert probe.domain is not None
    assert probe.domain.mta_sts is not None
    assert probe.domain.mta_sts.policy is not None


def test_the_https_fetcher_checks_the_policy_host_name(pki: Any, https: Any) -> None:
    """A policy served under another name's certificate is not fetched (RFC 8461 §3.3)."""
    https.pages[STS_PATH] = POLICY
    fetch = HttpsFetcher(
        timeout=TIMEOUT,
        trust=str(pki.trust_file),
        connect={"mta-sts.other.test": ("127.0.0.1", https.port)},
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch("https://mta-sts.other.test" + STS_PATH)


def test_domain_without_a_host_probes_each_mx(
    servers: Any, pki: Any, zone: Any, https: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``probe --domain`` alone looks up the MX hosts and probes each."""
    https.pages[STS_PATH] = POLICY
    port = servers.smtp(pki.context())
    _zone(zone, None)
    status = main(
        [
            "probe",
            "--domain",
            DOMAIN,
            "--dns-server",
            f"127.0.0.1:{zone.port}",
            "--connect-to",
            f"{MX}=127.0.0.1:{port}",
            "--connect-to",
            f"{STS_HOST}=127.0.0.1:{https.port}",
            "--trust",
            str(pki.trust_file),
            "--timeout",
            str(TIMEOUT),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith(f"{MX} port 25")
    assert "MTA-STS:       mode enforce" in out
    assert "listed" in out


def test_published_policies_read_as_written() -> None:
    """Gmail's published policy and RFC 8461's example parse, and match as senders do."""
    data = Path(__file__).parent.parent / "data" / "probes"
    gmail = parse_mta_sts_policy((data / "mta-sts-gmail.txt").read_text(encoding="utf-8"))
    assert (gmail.mode, gmail.max_age) == ("enforce", 86400)
    assert any(mx_pattern_matches("alt1.gmail-smtp-in.l.google.com", p) for p in gmail.mx)
    assert any(mx_pattern_matches("gmail-smtp-in.l.google.com", p) for p in gmail.mx)
    assert not any(mx_pattern_matches("a.b.gmail-smtp-in.l.google.com", p) for p in gmail.mx)
    raw = (data / "mta-sts-rfc8461.txt").read_bytes().decode("utf-8")
    example = parse_mta_sts_policy(raw)
    assert example.mx == ("mail.example.com", "*.example.net", "backupmx.example.com")
    assert example.max_age == 604800


def test_a_dns_failure_is_a_usage_error_not_a_crash(capsys: pytest.CaptureFixture[str]) -> None:
    """No DNS server answering: the command says the lookup failed and exits 2."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    status = main(
        ["probe", "--domain", DOMAIN, "--dns-server", f"127.0.0.1:{port}", "--timeout", "0.5"]
    )
    assert status == 2
    assert "lookup of probe.test failed" in capsys.readouterr().err
