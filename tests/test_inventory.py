"""Server inventory: Get-ExchangeServer and Win32_OperatingSystem, and what depends on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls.errors import ParseError
from exchange_tls.inventory import (
    ExchangeBuild,
    ExchangeServerInfo,
    WindowsInfo,
    parse_build,
    parse_inventory,
    read_inventory,
    tls13_support,
)

DATA = Path(__file__).parent / "data" / "inventory"


@pytest.mark.parametrize(
    ("name", "build", "edition"),
    [
        ("css-exchange_e19_getexchangeserver.xml", "15.2.986.5", "StandardEvaluation"),
        ("css-exchange_e16_getexchangeserver.xml", "15.1.2375.7", "StandardEvaluation"),
    ],
)
def test_real_get_exchange_server_clixml(name: str, build: str, edition: str) -> None:
    """CSS-Exchange's HealthChecker test data: the build and edition are read."""
    (server,) = read_inventory(DATA / name)
    assert isinstance(server, ExchangeServerInfo)
    assert (str(server.build), server.edition, server.server_role) == (build, edition, "Mailbox")


@pytest.mark.parametrize(
    ("name", "build_number", "caption"),
    [
        ("css-exchange_e19_win32_operatingsystem.xml", 17763, "Windows Server 2019"),
        ("css-exchange_e16_win32_operatingsystem.xml", 14393, "Windows Server 2016"),
    ],
)
def test_real_win32_operating_system_clixml(name: str, build_number: int, caption: str) -> None:
    """CSS-Exchange's HealthChecker test data: the Windows build is read."""
    (system,) = read_inventory(DATA / name)
    assert isinstance(system, WindowsInfo)
    assert system.build_number == build_number
    assert system.caption is not None
    assert caption in system.caption
    assert system.is_server_2022_or_later is False


def test_the_real_servers_are_judged_for_tls13() -> None:
    """Exchange 2019 CU? (15.2.986) on Windows Server 2019: HealthChecker refuses TLS 1.3."""
    records = [
        *read_inventory(DATA / "css-exchange_e19_getexchangeserver.xml"),
        *read_inventory(DATA / "css-exchange_e19_win32_operatingsystem.xml"),
    ]
    support = tls13_support(records)
    assert support.supported is False
    assert "older than Exchange Server 2019 CU15" in support.reason
    assert "older than Windows Server 2022" in support.reason


def test_format_list_of_both_commands_in_one_file() -> None:
    """Two Format-List blocks in one file read as one record; both models come out."""
    result = parse_inventory(
        "Name                : EX01\n"
        "Fqdn                : ex01.contoso.com\n"
        "Edition             : Enterprise\n"
        "AdminDisplayVersion : Version 15.2 (Build 2562.17)\n"
        "\n"
        "Caption     : Microsoft Windows Server 2025 Datacenter\n"
        "Version     : 10.0.26100\n"
        "BuildNumber : 26100\n"
    )
    exchange, windows = result
    assert isinstance(exchange, ExchangeServerInfo)
    assert isinstance(windows, WindowsInfo)
    assert exchange.build is not None
    assert exchange.build.product == "Exchange Server SE"
    assert tls13_support(result).supported is True


def test_convert_to_json_version_object() -> None:
    """ConvertTo-Json writes AdminDisplayVersion as an object of numbers."""
    text = json.dumps(
        {
            "Name": "EX01",
            "Edition": "Standard",
            "AdminDisplayVersion": {"Major": 15, "Minor": 2, "Build": 1748, "Revision": 10},
        }
    )
    (server,) = parse_inventory(text)
    assert isinstance(server, ExchangeServerInfo)
    assert server.build == ExchangeBuild(15, 2, 1748, 10)


@pytest.mark.parametrize(
    ("build", "windows", "supported"),
    [
        (ExchangeBuild(15, 2, 1748, 10), 20348, True),  # 2019 CU15 on Server 2022
        (ExchangeBuild(15, 2, 2562, 17), 26100, True),  # SE on Server 2025
        (ExchangeBuild(15, 2, 1544, 4), 20348, False),  # near miss: CU14
        (ExchangeBuild(15, 2, 1748, 10), 17763, False),  # near miss: Server 2019
        (ExchangeBuild(15, 1, 2507, 6), 20348, False),  # Exchange 2016
    ],
)
def test_tls13_support_by_build(build: ExchangeBuild, windows: int, supported: bool) -> None:
    """HealthChecker's condition: Exchange 2019 CU15 / SE and Windows Server 2022 or later."""
    records = [ExchangeServerInfo(build=build), WindowsInfo(build_number=windows)]
    assert tls13_support(records).supported is supported


def test_missing_inventory_is_said() -> None:
    """Without the build or Windows, the answer is unknown and says what to collect."""
    support = tls13_support([])
    assert support.supported is None
    assert len(support.missing) == 2
    assert "Get-ExchangeServer" in support.reason


def test_a_record_of_another_kind_is_a_problem() -> None:
    """A record that is neither is refused with a problem, not guessed."""
    result = parse_inventory("Thumbprint : AB\nSubject : CN=x\n")
    assert list(result) == []
    assert [problem.code for problem in result.problems] == ["not-inventory"]


def test_wrong_type_is_refused() -> None:
    """A public function given the wrong type names the parameter."""
    with pytest.raises(TypeError, match="text"):
        parse_inventory(b"Edition : Standard")  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_any_text_reads_or_reports(text: str) -> None:
    """Any text gives records and problems, or a ParseError with a position."""
    try:
        result = parse_inventory(text)
    except ParseError:
        return
    for record in result:
        assert isinstance(record, (ExchangeServerInfo, WindowsInfo))


@given(
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 9999),
    st.integers(0, 999),
)
def test_builds_read_back(major: int, minor: int, build: int, revision: int) -> None:
    """Both spellings of a build read back to the same numbers."""
    expected = ExchangeBuild(major, minor, build, revision)
    assert parse_build(f"Version {major}.{minor} (Build {build}.{revision})") == expected
    assert parse_build(f"{major}.{minor:02d}.{build}.{revision:03d}") == expected


def test_inventory_files_load_as_their_kind(tmp_path: Path) -> None:
    """The collector's two files are recognised from their content, counted by the coverage."""
    import shutil

    from exchange_tls import diagnose, load_evidence

    for name in (
        "css-exchange_e19_getexchangeserver.xml",
        "css-exchange_e19_win32_operatingsystem.xml",
    ):
        shutil.copy(DATA / name, tmp_path / name)
    evidence = load_evidence(tmp_path)
    assert {type(record).__name__ for record in evidence.inventory} == {
        "ExchangeServerInfo",
        "WindowsInfo",
    }
    assert diagnose(evidence).coverage.counts["inventory"] == 2
