import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import (
    Evidence,
    diagnose,
    load_evidence,
    parse_certificates,
    parse_events,
    parse_hybrid_configuration,
    parse_receive_connectors,
    parse_tls_settings,
)
from exchange_tls.cli import main
from exchange_tls.diagnosis import CATALOGUE
from exchange_tls.loading import classify
from exchange_tls.remediation.commands import (
    GetItemProperty,
    RestartComputer,
    SetHybridConfiguration,
)
from exchange_tls.sources import decode_bytes

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)
P = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols"
NET = "HKEY_LOCAL_MACHINE\\SOFTWARE\\{}Microsoft\\.NETFramework\\{}"


def reg(*blocks: tuple[str, tuple[str, ...]]) -> Evidence:
    """Return evidence holding a reg export of the given keys and values."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for key, values in blocks:
        lines += [f"[{key}]", *values, ""]
    return Evidence(tls_settings=parse_tls_settings("\n".join(lines), source="x.reg"))


def tls(
    version: str, side: str, enabled: int | None, disabled_by_default: int | None
) -> tuple[str, tuple[str, ...]]:
    """Return a protocol key block."""
    values = []
    if enabled is not None:
        values.append(f'"Enabled"=dword:{enabled:08x}')
    if disabled_by_default is not None:
        values.append(f'"DisabledByDefault"=dword:{disabled_by_default:08x}')
    return (f"{P}\\{version}\\{side}", tuple(values))


def dotnet(
    node: str, version: str, system_default: int | None, strong: int | None
) -> tuple[str, tuple[str, ...]]:
    """Return a .NET Framework key block."""
    values = []
    if system_default is not None:
        values.append(f'"SystemDefaultTlsVersions"=dword:{system_default:08x}')
    if strong is not None:
        values.append(f'"SchUseStrongCrypto"=dword:{strong:08x}')
    return (NET.format(node, version), tuple(values))


ALL_DOTNET = tuple(
    dotnet(node, version, 1, 1)
    for node in ("", "Wow6432Node\\")
    for version in ("v4.0.30319", "v2.0.50727")
)
SCHANNEL_36871 = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Schannel'/><EventID>36871</EventID><Level>2</Level>"
    "<TimeCreated SystemTime='2025-05-31T10:00:00Z'/></System><EventData>"
    "<Data Name='Type'>client</Data><Data Name='ErrorState'>10013</Data></EventData></Event>"
)
EVENT_12014 = (
    "Log Name:      Application\nSource:        {provider}\nDate:          2025-05-31 09:58:02\n"
    "Event ID:      12014\nLevel:         Error\nComputer:      EX01.contoso.com\nDescription:\n"
    "Microsoft Exchange could not find a certificate that contains the domain name mail.contoso.com "
    "in the personal store on the local computer. Therefore, it is unable to support the STARTTLS "
    "SMTP verb for the connector Default Frontend EX01 with a FQDN parameter of mail.contoso.com. "
    "If the connector's FQDN is not specified, the computer's FQDN is used.\n"
)
CERT = (
    "CertificateDomains : {{mail.contoso.com}}\nHasPrivateKey : True\nIssuer : {issuer}\n"
    "NotAfter : 2026-12-31 23:59:59\nServices : IIS, SMTP\nStatus : Valid\n"
    "Subject : CN=mail.contoso.com\nThumbprint : 8E3A1C5B7D9F2A4C6E8B0D1F3A5C7E9B2D4F6A81\n"
)
OLD = "<I>CN=Old CA<S>CN=mail.contoso.com"
NEW = "<I>CN=New CA<S>CN=mail.contoso.com"


def receive(name: str) -> Any:
    """Return a Default Frontend receive connector naming ``name``."""
    return parse_receive_connectors(
        f"Identity : EX01\\Default Frontend EX01\nName : Default Frontend EX01\n"
        f"Bindings : {{0.0.0.0:25}}\nFqdn : mail.contoso.com\nTlsCertificateName : {name}\n"
    )


def hybrid(name: str) -> Any:
    """Return a hybrid configuration naming ``name``."""
    return parse_hybrid_configuration(
        f"Name : Hybrid Configuration\nOnPremisesSmartHost : mail.contoso.com\n"
        f"ReceivingTransportServers : {{EX01}}\nTlsCertificateName : {name}\n"
    )


def certificates(issuer: str) -> Any:
    """Return the certificate list: one certificate for mail.contoso.com from ``issuer``."""
    return parse_certificates(CERT.format(issuer=issuer))


SCENARIOS: dict[str, tuple[Evidence, Evidence]] = {
    "tls12-disabled-in-registry": (
        reg((P, ()), tls("TLS 1.2", "Client", 0, 1), tls("TLS 1.2", "Server", 1, 0)),
        # Enabled absent and DisabledByDefault 0: the Windows default, offered.
        reg((P, ()), tls("TLS 1.2", "Client", None, 0), tls("TLS 1.2", "Server", 1, 0)),
    ),
    "tls13-enabled-in-registry": (
        reg((P, ()), tls("TLS 1.3", "Server", 1, 0)),
        # The key exists without values: the default, which is off for TLS 1.3.
        reg((P, ()), tls("TLS 1.3", "Server", None, None)),
    ),
    "tls-client-server-mismatch": (
        reg((P, ()), tls("TLS 1.1", "Client", 0, 1)),
        reg((P, ()), tls("TLS 1.1", "Client", 0, 1), tls("TLS 1.1", "Server", 0, 1)),
    ),
    "dotnet-tls-settings-missing": (
        reg(*ALL_DOTNET[:3], dotnet("Wow6432Node\\", "v2.0.50727", 1, None)),
        reg(*ALL_DOTNET),
    ),
    "starttls-certificate-missing-event": (
        Evidence(events=parse_events(EVENT_12014.format(provider="MSExchangeFrontEndTransport"))),
        # The same id from another provider means nothing here.
        Evidence(events=parse_events(EVENT_12014.format(provider="MSExchangeIS"))),
    ),
    "receive-connector-certificate-not-found": (
        Evidence(receive_connectors=receive(OLD), certificates=certificates("CN=New CA")),
        Evidence(receive_connectors=receive(NEW), certificates=certificates("CN=New CA")),
    ),
    "hybrid-certificate-mismatch": (
        Evidence(
            hybrid_configurations=hybrid(OLD),
            receive_connectors=receive(NEW),
            certificates=certificates("CN=New CA"),
        ),
        Evidence(
            hybrid_configurations=hybrid(NEW),
            receive_connectors=receive(NEW),
            certificates=certificates("CN=New CA"),
        ),
    ),
}


def test_every_server_settings_rule_has_a_scenario_pair() -> None:
    """Each rule of server_settings.py has a scenario and a near miss here."""
    rules = {
        rule.rule_id for rule in CATALOGUE if rule.check.__module__.endswith(".server_settings")
    }
    # receive-connector-certificate-not-found is declared with the connector rules; its
    # scenario pair stays here, where the receive-connector evidence is built.
    assert rules == set(SCENARIOS) - {"receive-connector-certificate-not-found"}


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_rule_fires_on_its_scenario_alone(rule_id: str) -> None:
    """Each rule fires on its scenario, cites evidence, and no other rule fires."""
    scenario, _ = SCENARIOS[rule_id]
    findings = diagnose(scenario, now=NOW).findings
    assert [finding.rule_id for finding in findings] == [rule_id]
    assert findings[0].evidence
    assert findings[0].remediation


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_rule_stays_silent_on_its_near_miss(rule_id: str) -> None:
    """Each rule stays silent on evidence that only looks like its failure."""
    _, near_miss = SCENARIOS[rule_id]
    assert rule_id not in [finding.rule_id for finding in diagnose(near_miss, now=NOW).findings]


def test_registry_fixes_create_a_missing_key_and_name_the_restart() -> None:
    """A key absent from the export is created before its values are set; a restart ends the fix."""
    evidence = reg((P, ()), tls("TLS 1.1", "Server", 0, 1))
    [finding] = diagnose(evidence, now=NOW).findings
    fixes = [step.command.render() for step in finding.remediation if step.purpose.value == "fix"]
    key = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.1\\Client"
    assert fixes[0] == (
        f"if (-not (Test-Path -LiteralPath '{key}')) {{ New-Item -Path '{key}' -Force | Out-Null }}"
    )
    assert fixes[-1] == "Restart-Computer"
    assert f"Set-ItemProperty -Path '{key}' -Name 'Enabled' -Value 0 -Type DWord" in fixes


def test_an_existing_key_is_never_recreated() -> None:
    """When the key is in the export, no New-Item is written (it would replace the key)."""
    [finding] = diagnose(reg((P, ()), tls("TLS 1.2", "Client", 0, 1)), now=NOW).findings
    assert not [step for step in finding.remediation if step.command.cmdlet == "New-Item"]


def test_schannel_events_alone_give_no_registry_finding() -> None:
    """Without registry evidence, Schannel 36871 events do not claim a setting."""
    evidence = Evidence(events=parse_events(SCHANNEL_36871))
    assert diagnose(evidence, now=NOW).findings == ()


def test_a_partial_export_is_never_an_all_clear() -> None:
    """An export of TLS 1.2 only leaves the other versions unknown, not enabled."""
    evidence = reg(tls("TLS 1.2", "Client", 1, 0))
    [settings_] = evidence.tls_settings
    assert (
        settings_.protocol(
            "TLS 1.0", __import__("exchange_tls.tls_settings", fromlist=["Side"]).Side.CLIENT
        )
        is None
    )


def test_acceptance_events_and_registry_only_name_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`diagnose` on only events and registry exports, TLS 1.2 off for the client: high, key named."""
    status = main(
        ["diagnose", str(ROOT / "examples" / "tls12-disabled-client"), "--format", "json"]
    )
    document = json.loads(capsys.readouterr().out)
    [finding] = document["findings"]
    assert status == 1
    assert (finding["rule_id"], finding["confidence"]) == ("tls12-disabled-in-registry", "high")
    key = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Client"
    assert key in finding["summary"]
    assert {ref["source"].rsplit("/", 1)[-1] for ref in finding["evidence"]} == {
        "registry-schannel.reg",
        "events-schannel.xml",
    }
    commands = [step["command"]["powershell"] for step in finding["remediation"]]
    assert f"Set-ItemProperty -Path '{key}' -Name 'Enabled' -Value 1 -Type DWord" in commands
    assert "Restart-Computer" in commands


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("events/wevtutil-qe-f-xml.xml", "events"),
        ("events/get-eventlog-application-transport.csv", "events"),
        ("events/expta-blog_ex2010_event-12014_viewer-copy_no-description-label.txt", "events"),
        (
            "corpus/events/css-exchange_healthchecker_e19_getwineventoldestapplication_clixml.xml",
            "events",
        ),
        ("tls-settings/get-itemproperty-tls12-client-fl.txt", "tls-settings"),
        (
            "tls-settings/regedit4-dotnet_wow64-v4-systemdefaulttlsversions-missing.reg",
            "tls-settings",
        ),
        (
            "corpus/other/css-exchange_healthchecker_e19_gethybridconfiguration_clixml.xml",
            "hybrid-configuration",
        ),
    ],
)
def test_load_evidence_classifies_the_new_kinds(name: str, kind: str) -> None:
    """Each new kind is told from its content."""
    text = (DATA / name).read_bytes()
    assert classify(decode_bytes(text).text, name) == kind


def test_load_evidence_combines_a_folder_of_server_evidence(tmp_path: Path) -> None:
    """A folder of events, registry exports and hybrid output fills the new Evidence fields."""
    for name in (
        "events/wevtutil-qe-f-xml.xml",
        "tls-settings/reg-export-schannel-protocols_tls12-client-disabled_utf16.reg",
        "tls-settings/regedit4-dotnet_wow64-v4-systemdefaulttlsversions-missing.reg",
    ):
        (tmp_path / Path(name).name).write_bytes((DATA / name).read_bytes())
    evidence = load_evidence(tmp_path)
    assert len(evidence.events) == 2
    assert len(evidence.tls_settings) == 2
    rule_ids = sorted(finding.rule_id for finding in diagnose(evidence, now=NOW).findings)
    assert rule_ids == [
        "dotnet-tls-settings-missing",
        "starttls-certificate-missing-event",
        "tls12-disabled-in-registry",
    ]


def _tree_sitter() -> Any:
    tree_sitter = pytest.importorskip("tree_sitter")
    tree_sitter_powershell = pytest.importorskip("tree_sitter_powershell")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def _literals(node: Any) -> list[str]:
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "verbatim_string_characters":
            found.append(current.text.decode())
        stack.extend(reversed(current.children))
    return found


texts = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=30
)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_registry_and_hybrid_commands_parse_as_one_command_with_one_literal(value: str) -> None:
    """Hostile text stays one quoted literal: tree-sitter reads one command, no error."""
    parser = _tree_sitter()
    for command in (
        GetItemProperty(path="HKLM:\\SOFTWARE\\" + (value or "x")),
        SetHybridConfiguration(tls_certificate_name=value),
        RestartComputer(),
    ):
        text = command.render(what_if=True)
        tree = parser.parse(text.encode("utf-8"))
        assert not tree.root_node.has_error, text
        names = [node.text.decode() for node in _find(tree.root_node, "command_name")]
        assert names == [command.cmdlet]


def _find(node: Any, kind: str) -> list[Any]:
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == kind:
            found.append(current)
        stack.extend(current.children)
    return found


def test_dropped_handshakes_join_the_registry_finding() -> None:
    """A send session that failed with SocketError is cited by the client-side TLS 1.2 finding."""
    from exchange_tls import assemble_sessions, parse_protocol_log

    rows = [
        "2025-05-31T10:00:00.000Z,Outbound,0A,0,10.0.0.1:1000,192.0.2.25:25,+,,",
        "2025-05-31T10:00:01.000Z,Outbound,0A,1,10.0.0.1:1000,192.0.2.25:25,>,STARTTLS,",
        "2025-05-31T10:00:02.000Z,Outbound,0A,2,10.0.0.1:1000,192.0.2.25:25,<,220 2.0.0 SMTP server ready,",
        "2025-05-31T10:00:03.000Z,Outbound,0A,3,10.0.0.1:1000,192.0.2.25:25,*,,TLS negotiation failed with error SocketError",
        "2025-05-31T10:00:04.000Z,Outbound,0A,4,10.0.0.1:1000,192.0.2.25:25,-,,Local",
    ]
    log = parse_protocol_log(
        "#Log-type: SMTP Send Protocol Log\n#Fields: date-time,connector-id,session-id,sequence-number,"
        "local-endpoint,remote-endpoint,event,data,context\n" + "\n".join(rows) + "\n",
        source="SEND2025053110-1.LOG",
    )
    registry = reg((P, ()), tls("TLS 1.2", "Client", 0, 1))
    evidence = Evidence(sessions=assemble_sessions(log.rows), tls_settings=registry.tls_settings)
    [finding] = [
        f for f in diagnose(evidence, now=NOW).findings if f.rule_id == "tls12-disabled-in-registry"
    ]
    cited = {(ref.source.source, ref.source.line) for ref in finding.evidence if ref.source}
    assert ("SEND2025053110-1.LOG", 6) in cited
    assert finding.confidence.value == "high"


def test_the_same_events_and_hybrid_configuration_in_two_formats_are_merged(tmp_path: Path) -> None:
    """The collector writes CLIXML and JSON of each export: each event and hybrid object once."""
    corpus = DATA / "corpus"
    (tmp_path / "events.xml").write_bytes(
        (
            corpus / "events/css-exchange_healthchecker_e19_getwineventoldestapplication_clixml.xml"
        ).read_bytes()
    )
    (tmp_path / "events.json").write_text(
        json.dumps(
            {
                "Id": 16028,
                "RecordId": 142609,
                "ProviderName": "MSExchangeTransportSubmission",
                "LogName": "Application",
                "MachineName": "Solo-E19A.Solo.com",
                "TimeCreated": "/Date(1718703726008)/",
            }
        )
    )
    (tmp_path / "hybrid.xml").write_bytes(
        (
            corpus / "other/css-exchange_healthchecker_e19_gethybridconfiguration_clixml.xml"
        ).read_bytes()
    )
    (tmp_path / "hybrid.json").write_text(
        json.dumps(
            {
                "Name": "Hybrid Configuration",
                "OnPremisesSmartHost": {"Domain": "mail.contoso.com"},
                "ReceivingTransportServers": ["ex-02"],
                "TlsCertificateName": {
                    "CertificateSubject": "CN=mail.contoso.com",
                    "CertificateIssuer": "CN=GeoTrust TLS RSA CA G1, OU=www.digicert.com, O=DigiCert Inc, C=US",
                },
            }
        )
    )
    evidence = load_evidence(tmp_path)
    assert not [problem for problem in evidence.problems if problem.code == "unclassified"]
    assert len(evidence.events) == 1
    [hybrid_configuration] = evidence.hybrid_configurations
    assert hybrid_configuration.tls_certificate_name is not None
    assert str(hybrid_configuration.tls_certificate_name.subject) == "CN=mail.contoso.com"


def test_the_published_12014_event_names_its_connector() -> None:
    """The expta.com 12014 text (its FQDN lost in the page) still names the connector."""
    from exchange_tls import read_events

    events = read_events(
        DATA / "events/expta-blog_ex2010_event-12014_viewer-copy_no-description-label.txt"
    )
    [finding] = diagnose(Evidence(events=events), now=NOW).findings
    assert finding.rule_id == "starttls-certificate-missing-event"
    assert finding.subject == "Default internal receive connector MAILGATE"
    assert "the connector Default internal receive connector MAILGATE" in finding.summary


def test_a_mismatch_is_in_the_values_not_only_in_what_is_offered() -> None:
    """Both sides off, but DisabledByDefault set on one only: HealthChecker's Misconfigured."""
    evidence = reg((P, ()), tls("TLS 1.0", "Client", 0, 1), tls("TLS 1.0", "Server", 0, None))
    [finding] = diagnose(evidence, now=NOW).findings
    assert (finding.rule_id, finding.subject) == ("tls-client-server-mismatch", "TLS 1.0")


def test_names_that_differ_only_in_spacing_are_the_same_certificate() -> None:
    """A hybrid name written with other spacing than the connector's is not a mismatch."""
    evidence = Evidence(
        hybrid_configurations=hybrid("<I>CN=New CA<S>CN=mail.contoso.com"),
        receive_connectors=receive("<I>CN=New CA <S>CN=mail.contoso.com"),
    )
    assert diagnose(evidence, now=NOW).findings == ()


def test_a_client_credential_event_is_not_cited_for_the_server_side() -> None:
    """36871 for a client credential supports the client-side finding only."""
    registry = reg((P, ()), tls("TLS 1.2", "Client", 0, 1), tls("TLS 1.2", "Server", 0, 1))
    evidence = Evidence(events=parse_events(SCHANNEL_36871), tls_settings=registry.tls_settings)
    findings = {f.subject: f for f in diagnose(evidence, now=NOW).findings}

    def cites_event(subject: str) -> bool:
        return any("Schannel" in ref.excerpt for ref in findings[subject].evidence)

    assert cites_event("TLS 1.2 Client")
    assert not cites_event("TLS 1.2 Server")
