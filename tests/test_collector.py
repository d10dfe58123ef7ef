from pathlib import Path

import pytest

tree_sitter = pytest.importorskip("tree_sitter")
tree_sitter_powershell = pytest.importorskip("tree_sitter_powershell")

SCRIPT = Path(__file__).parent.parent / "examples" / "collect" / "Export-ExchangeTlsEvidence.ps1"
# Cmdlets the collector may run: reads, exports, and file work in its own folder.
ALLOWED = {
    "Get-ExchangeCertificate",
    "Get-SendConnector",
    "Get-ReceiveConnector",
    "Get-Queue",
    "Get-TransportService",
    "Get-TransportServer",
    "Get-Command",
    "Get-Date",
    "Get-ChildItem",
    "Export-Clixml",
    "ConvertTo-Json",
    "Set-Content",
    "Join-Path",
    "Split-Path",
    "Test-Path",
    "New-Item",
    "Copy-Item",
    "Compress-Archive",
    "Remove-Item",
    "Where-Object",
    "Write-Host",
    "Out-Null",
    "Export-Evidence",
    "Get-HybridConfiguration",
    "Get-ExchangeServer",
    "Get-CimInstance",
    "Select-Object",
    "Get-WinEvent",
    # reg.exe is used only as "reg.exe export" into the script's folder (tested below).
    "reg.exe",
    "Export-RegistryKey",
}


def parse(source: bytes) -> object:
    """Parse PowerShell with the tree-sitter grammar."""
    language = tree_sitter.Language(tree_sitter_powershell.language())
    return tree_sitter.Parser(language).parse(source)


def nodes(node: object, kind: str) -> list[object]:
    """Return every node of a kind below ``node``."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == kind:  # type: ignore[attr-defined]
            found.append(current)
        stack.extend(current.children)  # type: ignore[attr-defined]
    return found


def test_collector_parses_as_powershell() -> None:
    """The collector script parses without a syntax error."""
    tree = parse(SCRIPT.read_bytes())
    assert not tree.root_node.has_error  # type: ignore[attr-defined]


def test_collector_only_reads_exchange() -> None:
    """Every cmdlet the collector runs is a read, an export, or work in its own folder."""
    tree = parse(SCRIPT.read_bytes())
    names = {node.text.decode() for node in nodes(tree.root_node, "command_name")}  # type: ignore[attr-defined]
    assert names <= ALLOWED, names - ALLOWED
    assert {
        "Get-ExchangeCertificate",
        "Get-SendConnector",
        "Get-ReceiveConnector",
        "Get-Queue",
    } <= names


def test_collector_removes_only_its_own_folder() -> None:
    """Remove-Item is applied to the script's temporary folder and nothing else."""
    text = SCRIPT.read_text(encoding="utf-8")
    removals = [line.strip() for line in text.splitlines() if "Remove-Item" in line]
    assert removals == ["Remove-Item -Path $work -Recurse -Force -ErrorAction SilentlyContinue"]


def test_collector_exports_formats_the_library_reads() -> None:
    """It writes Export-Clixml and ConvertTo-Json, and copies protocol logs."""
    text = SCRIPT.read_text(encoding="utf-8")
    assert "Export-Clixml" in text
    assert "ConvertTo-Json" in text
    assert "SendProtocolLogPath" in text


def test_a_collector_shaped_zip_reads(tmp_path: Path) -> None:
    """A zip laid out as the collector writes it (CLIXML, JSON, log folders) reads whole."""
    import json
    import zipfile

    from exchange_tls import load_evidence

    data = Path(__file__).parent / "data"
    bundled = Path(__file__).parent.parent / "exchange_tls" / "bundled" / "kb4051498"
    archive = tmp_path / "ExchangeTlsEvidence-EX01-202406011000.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.write(
            data
            / "corpus/certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml",
            "get-exchangecertificate.xml",
        )
        writer.write(
            data
            / "corpus/other/css-exchange_healthchecker-datacollection_GetSendConnector_clixml.xml",
            "get-sendconnector.xml",
        )
        writer.write(
            data
            / "corpus/other/css-exchange_healthchecker-datacollection_GetReceiveConnector_clixml.xml",
            "get-receiveconnector.xml",
        )
        writer.writestr(
            "get-queue.json",
            json.dumps(
                [
                    {
                        "Identity": "EX01\\9",
                        "Status": 3,
                        "NextHopDomain": "x.example",
                        "MessageCount": 2,
                    }
                ]
            ),
        )
        writer.write(bundled / "SEND2017100704-1.LOG", "SmtpSend/SEND2017100704-1.LOG")
    evidence = load_evidence(archive)
    assert (
        len(evidence.certificates),
        len(evidence.send_connectors),
        len(evidence.receive_connectors),
    ) == (3, 1, 5)
    assert len(evidence.queues) == 1
    assert len(evidence.sessions) == 1


def test_collector_runs_reg_exe_only_to_export() -> None:
    """reg.exe is only ever called as 'reg.exe export', which reads the registry."""
    text = SCRIPT.read_text(encoding="utf-8")
    calls = [
        line.strip()
        for line in text.splitlines()
        if "reg.exe" in line and not line.strip().startswith("#")
    ]
    assert calls == ["& reg.exe export $Key $file /y | Out-Null"]


def test_collector_gathers_the_server_evidence() -> None:
    """Hybrid configuration, transport and Schannel events, SCHANNEL and .NET keys, a manifest."""
    text = SCRIPT.read_text(encoding="utf-8")
    for needle in (
        "Get-HybridConfiguration",
        "Get-ExchangeServer -Identity $env:COMPUTERNAME",
        "Win32_OperatingSystem",
        "'MSExchangeTransport', 'MSExchangeFrontEndTransport'",
        "ProviderName = 'Schannel'",
        "StartTime",
        "SecurityProviders\\SCHANNEL",
        "Microsoft\\.NETFramework",
        "Wow6432Node",
        "'v4.0.30319', 'v2.0.50727'",
        "ExchangeTlsEvidence = 1",
        "CollectedUtc",
        "'manifest.json'",
    ):
        assert needle in text, needle


def test_collector_page_documents_every_file_it_writes() -> None:
    """Every file name the collector writes appears in docs/collector.md."""
    import re

    text = SCRIPT.read_text(encoding="utf-8")
    page = (SCRIPT.parent.parent.parent / "docs" / "collector.md").read_text(encoding="utf-8")
    names = set(re.findall(r"-Name '([a-z-]+)'", text)) | {"manifest"}
    names |= {
        f"registry-dotnet-{version}{suffix}"
        for version in ("v4.0.30319", "v2.0.50727")
        for suffix in ("", "-wow6432")
    }
    missing = sorted(name for name in names if name not in page)
    assert missing == []


def test_a_collector_zip_of_server_evidence_reads(tmp_path: Path) -> None:
    """A zip with events, registry exports, the hybrid configuration and a manifest reads."""
    import zipfile

    from exchange_tls import load_evidence

    data = Path(__file__).parent / "data"
    archive = tmp_path / "ExchangeTlsEvidence-EX01-202406011000.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.write(data / "events/wevtutil-qe-f-xml.xml", "events-schannel.xml")
        writer.write(
            data / "tls-settings/reg-export-schannel-protocols_tls12-client-disabled_utf16.reg",
            "registry-schannel.reg",
        )
        writer.write(
            data / "corpus/other/css-exchange_healthchecker_e19_gethybridconfiguration_clixml.xml",
            "get-hybridconfiguration.xml",
        )
        writer.writestr(
            "manifest.json",
            '{"ExchangeTlsEvidence": 1, "Server": "EX01", "Fqdn": "ex01.contoso.com", '
            '"CollectedUtc": "2024-06-01T10:30:00Z", "Days": 2, "Files": []}',
        )
    evidence = load_evidence(archive)
    assert len(evidence.events) == 2
    assert len(evidence.tls_settings) == 1
    assert len(evidence.hybrid_configurations) == 1
    assert evidence.manifest is not None
    assert evidence.manifest.server == "EX01"
    assert not [problem for problem in evidence.problems if problem.code == "unclassified"]
