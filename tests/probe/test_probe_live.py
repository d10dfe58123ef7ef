"""The probe against local servers, one per case, through the library and the command line."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from exchange_tls.cli import main
from exchange_tls.probe import probe_smtp
from exchange_tls.probe_results import ProbeStage, parse_probe_results
from exchange_tls.tls_results import TlsResultType

#: The name the local servers' certificates are for (conftest.MX).
MX = "mx.probe.test"
#: The fixtures' types (conftest is not importable under --import-mode=importlib).
Servers = Pki = Any
#: Short: the silent server is waited for this long.
TIMEOUT = 0.6


async def _banner_421(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
    await writer.drain()
    await asyncio.wait_for(reader.readline(), 2)


async def _drop_after_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mx.probe.test ESMTP\r\n")
    await reader.readline()
    writer.write(b"250-mx.probe.test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
    await reader.readline()
    # The remote end of KB 4051498: it says yes to STARTTLS and hangs up in the handshake.
    writer.write(b"220 2.0.0 SMTP server ready\r\n")
    await writer.drain()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.wait_for(reader.read(), 5)


Case = tuple[Callable[[Servers, Pki], int], dict[str, Any], ProbeStage, TlsResultType | None, str]

CASES: dict[str, Case] = {
    "healthy": (lambda s, p: s.smtp(p.context()), {}, ProbeStage.DONE, None, ""),
    "no-starttls": (
        lambda s, p: s.smtp(None),
        {},
        ProbeStage.EHLO,
        TlsResultType.STARTTLS_NOT_SUPPORTED,
        "does not offer STARTTLS",
    ),
    "expired": (
        lambda s, p: s.smtp(p.context(expired=True)),
        {},
        ProbeStage.VERIFY,
        TlsResultType.CERTIFICATE_EXPIRED,
        "expired on",
    ),
    "name-mismatch": (
        lambda s, p: s.smtp(p.context("other.probe.test")),
        {},
        ProbeStage.VERIFY,
        TlsResultType.CERTIFICATE_HOST_MISMATCH,
        "not for mx.probe.test",
    ),
    "untrusted-root": (
        lambda s, p: s.smtp(p.context(ca=p.stranger)),
        {},
        ProbeStage.VERIFY,
        TlsResultType.CERTIFICATE_NOT_TRUSTED,
        "trusted root",
    ),
    "tls12-against-tls13-client": (
        lambda s, p: s.smtp(p.context(maximum=ssl.TLSVersion.TLSv1_2)),
        {"minimum_version": "TLSv1.3"},
        ProbeStage.HANDSHAKE,
        TlsResultType.VALIDATION_FAILURE,
        "handshake failed",
    ),
    "banner-421": (
        lambda s, p: s.scripted(_banner_421),
        {},
        ProbeStage.BANNER,
        None,
        "421 4.3.2",
    ),
    "drop-after-starttls": (
        lambda s, p: s.scripted(_drop_after_starttls),
        {},
        ProbeStage.HANDSHAKE,
        TlsResultType.VALIDATION_FAILURE,
        "handshake failed",
    ),
    "never-answers": (
        lambda s, p: s.scripted(_silent),
        {},
        ProbeStage.BANNER,
        None,
        "no answer",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_local_case_has_its_own_stage_and_result_type(
    case: str, servers: Servers, pki: Pki
) -> None:
    """The library names where each case stopped and what failed, in RFC 8460's words."""
    start, options, stage, kind, words = CASES[case]
    port = start(servers, pki)
    probe = probe_smtp(
        MX,
        port,
        timeout=TIMEOUT,
        trust=pki.trust_file,
        connect={MX: ("127.0.0.1", port)},
        **options,
    )
    assert (probe.stage, probe.result_type) == (stage, kind)
    assert words in (probe.error or "")
    assert probe.healthy is (case == "healthy")
    assert probe.address == f"127.0.0.1:{port}"


_CLI_OPTIONS = {"minimum_version": "--min-tls"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_local_case_through_the_command_line_json(
    case: str, servers: Servers, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """``exchange-tls probe --format json`` says the same, and reads back as evidence."""
    start, options, stage, kind, _ = CASES[case]
    port = start(servers, pki)
    extra = [arg for key, value in options.items() for arg in (_CLI_OPTIONS[key], value)]
    status = main(
        [
            "probe",
            MX,
            "--port",
            str(port),
            "--connect-to",
            f"{MX}=127.0.0.1:{port}",
            "--trust",
            str(pki.trust_file),
            "--timeout",
            str(TIMEOUT),
            "--format",
            "json",
            *extra,
        ]
    )
    document = json.loads(capsys.readouterr().out)
    assert status == (0 if case == "healthy" else 1)
    assert document["stage"] == stage.value
    assert document["result_type"] == (None if kind is None else kind.value)
    for key in ("host", "port", "starttls_offered", "tls_version", "name_matches", "error"):
        assert key in document
    if stage in (ProbeStage.DONE, ProbeStage.VERIFY):
        assert set(document["certificate"]) >= {"subject", "not_after", "thumbprint"}
        assert document["tls_version"] in ("TLSv1.2", "TLSv1.3")
    (probe,) = parse_probe_results(json.dumps(document), source="probe.json")
    assert (probe.stage, probe.result_type) == (stage, kind)


def test_a_healthy_probe_reports_the_chain_and_never_sends_mail(servers: Servers, pki: Pki) -> None:
    """The healthy case: STARTTLS offered, a modern version, the certificate, the name."""
    port = servers.smtp(pki.context())
    probe = probe_smtp(
        MX, port, timeout=TIMEOUT, trust=pki.trust_file, connect={MX: ("127.0.0.1", port)}
    )
    assert probe.starttls_offered is True
    assert probe.capabilities is not None
    assert "STARTTLS" in probe.capabilities
    assert probe.name_matches is True
    assert probe.certificate is not None
    assert MX in probe.certificate.dns_names
    assert probe.banner is not None
    assert probe.banner.startswith("220 ")
    assert probe.ehlo_name is not None
    assert probe.ehlo_name != "localhost"


def test_versions_one_by_one_against_a_tls10_only_server(servers: Servers, pki: Pki) -> None:
    """A server limited to TLS 1.0 accepts it alone; the probe says it is legacy only."""
    port = servers.smtp(pki.context(minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1))
    probe = probe_smtp(
        MX,
        port,
        timeout=TIMEOUT,
        trust=pki.trust_file,
        connect={MX: ("127.0.0.1", port)},
        versions=True,
    )
    assert probe.tls_version == "TLSv1"
    assert probe.accepted_versions == ("TLSv1",)
    assert probe.only_legacy


def test_an_ehlo_name_is_sent_as_given(servers: Servers, pki: Pki) -> None:
    """``ehlo_name`` is what the probe says in EHLO."""
    port = servers.smtp(pki.context())
    probe = probe_smtp(
        MX,
        port,
        ehlo_name="probe.contoso.test",
        timeout=TIMEOUT,
        trust=pki.trust_file,
        connect={MX: ("127.0.0.1", port)},
    )
    assert probe.ehlo_name == "probe.contoso.test"
    assert probe.healthy


def test_a_refused_connection_stops_at_connect(servers: Servers) -> None:
    """Nothing listening: the probe stops at the connection, with the reason."""
    port = servers.scripted(_silent)
    servers.close()
    probe = probe_smtp(MX, port, timeout=TIMEOUT, connect={MX: ("127.0.0.1", port)})
    assert probe.stage is ProbeStage.CONNECT
    assert probe.error is not None
    assert "cannot connect" in probe.error


def test_wrong_types_are_refused_by_name() -> None:
    """Public functions given the wrong type raise TypeError naming the parameter."""
    with pytest.raises(TypeError, match="host"):
        probe_smtp(b"mx", 25)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="port"):
        probe_smtp("mx", "25")  # type: ignore[arg-type]


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(100):
        writer.write(b"220-still talking\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)


def test_a_server_that_drips_forever_is_cut_off(servers: Servers) -> None:
    """Each line arrives in time, yet the whole conversation has a deadline."""
    port = servers.scripted(_drip)
    probe = probe_smtp(MX, port, timeout=0.2, connect={MX: ("127.0.0.1", port)})
    assert probe.stage is ProbeStage.BANNER
    assert probe.error is not None
    assert "no answer" in probe.error


def test_a_bad_ehlo_name_is_refused_before_any_connection() -> None:
    """``--ehlo`` with a space is a usage error: nothing is probed."""
    with pytest.raises(SystemExit) as caught:
        main(["probe", MX, "--ehlo", "two words"])
    assert caught.value.code == 2
