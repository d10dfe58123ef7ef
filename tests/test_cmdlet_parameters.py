"""Every rendered cmdlet uses parameters its reference lists, together in one parameter set.

The parameter sets are transcribed from the cmdlet references into
``tests/data/cmdlet-parameter-sets.json`` (see ``tests/data/README.md``). Each command is
rendered, read back by tree-sitter-powershell, and every command of its pipeline (and of
the registry-key guard) must fit one set: all the parameters it writes are in the set, and
the set's required parameters are written (or bound from the pipeline).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from exchange_tls import diagnose, load_evidence
from exchange_tls.remediation import commands as command_module
from exchange_tls.remediation.commands import (
    Command,
    EnableExchangeCertificate,
    EnsureRegistryKey,
    GetExchangeCertificate,
    GetItemProperty,
    GetQueue,
    GetReceiveConnector,
    GetSendConnector,
    ImportExchangeCertificate,
    NewExchangeCertificate,
    RemoveExchangeCertificate,
    RenewExchangeCertificate,
    RestartComputer,
    RestartService,
    RetryQueue,
    SetHybridConfiguration,
    SetItemProperty,
    SetReceiveConnector,
    SetSendConnector,
    TestNetConnection,
)

tree_sitter = pytest.importorskip("tree_sitter")
tree_sitter_powershell = pytest.importorskip("tree_sitter_powershell")

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"
SETS: dict[str, Any] = json.loads((DATA / "cmdlet-parameter-sets.json").read_text(encoding="utf-8"))
T = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

#: One instance per command class and per shape it renders (every optional parameter used).
INSTANCES: list[Command] = [
    EnableExchangeCertificate(thumbprint=T, services="SMTP"),
    EnableExchangeCertificate(thumbprint=T, services="SMTP", server="EX01"),
    EnableExchangeCertificate(thumbprint=T, services="SMTP", network_service_allowed=True),
    GetExchangeCertificate(),
    GetExchangeCertificate(thumbprint=T, server="EX01", properties=("Services",)),
    GetExchangeCertificate(domain_name="mail.contoso.com", properties=("Thumbprint",)),
    ImportExchangeCertificate(file_path="C:\\c.pfx", server="EX01"),
    NewExchangeCertificate(domain_names=("mail.contoso.com",)),
    RemoveExchangeCertificate(thumbprint=T, server="EX01"),
    RenewExchangeCertificate(thumbprint=T),
    RenewExchangeCertificate(thumbprint=T, request_file="C:\\renewal.req"),
    SetSendConnector(
        identity="Out",
        protocol_logging_level="Verbose",
        tls_certificate_name="<I>CN=CA<S>CN=mail",
        fqdn="mail.contoso.com",
        require_tls=True,
        ignore_starttls=False,
        tls_auth_level="DomainValidation",
        tls_domain="contoso.com",
    ),
    SetSendConnector(identity="Out", tls_certificate_from_thumbprint=T),
    SetSendConnector(identity="Out", clear_tls_domain=True),
    GetSendConnector(identity="Out", properties=("TlsDomain",)),
    SetReceiveConnector(
        identity="EX01\\Default",
        tls_certificate_name="<I>a<S>b",
        fqdn="x",
        protocol_logging_level="Verbose",
    ),
    GetReceiveConnector(identity="EX01\\Default", properties=("Fqdn",)),
    GetQueue(identity="EX01\\5"),
    GetQueue(filter="Status -eq 'Retry'"),
    RetryQueue(),
    RetryQueue(identity="EX01\\5"),
    TestNetConnection(computer_name="mx.example.net"),
    SetItemProperty(path="HKLM:\\SOFTWARE\\X", name="Enabled", value=1),
    GetItemProperty(path="HKLM:\\SOFTWARE\\X", names=("Enabled",)),
    EnsureRegistryKey(path="HKLM:\\SOFTWARE\\X"),
    RestartService(),
    RestartComputer(),
    SetHybridConfiguration(tls_certificate_name="<I>CN=CA<S>CN=mail"),
]


def _commands(text: str) -> list[tuple[str, list[str], bool]]:
    """Return each command's name, its parameter names, and whether it is fed by a pipe."""
    tree = _PARSER.parse(text.encode("utf-8"))
    assert not tree.root_node.has_error, text
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "command":
            name = node.child_by_field_name("command_name").text.decode()
            elements = node.child_by_field_name("command_elements")
            parameters = [
                child.text.decode().lstrip("-").split(":", 1)[0]
                for child in (elements.children if elements is not None else ())
                if child.type == "command_parameter"
            ]
            previous = node.prev_sibling
            piped = previous is not None and previous.type == "|"
            found.append((name, parameters, piped))
        stack.extend(reversed(node.children))
    return found


def _fits(cmdlet: str, parameters: list[str], piped: bool) -> str | None:
    """Return the name of the parameter set the parameters fit, or None."""
    entry = SETS[cmdlet]
    written = {name.casefold() for name in parameters}
    for set_name, shape in entry["sets"].items():
        known = {name.casefold() for name in shape["required"] + shape["optional"]}
        required = {name.casefold() for name in shape["required"]}
        if piped:
            required -= {name.casefold() for name in shape["pipeline"]}
        if written <= known and required <= written:
            return str(set_name)
    return None


def _check(text: str) -> None:
    for cmdlet, parameters, piped in _commands(text):
        assert cmdlet in SETS, f"{cmdlet} has no transcribed reference: {text}"
        assert _fits(cmdlet, parameters, piped), f"{cmdlet} {parameters} fits no set: {text}"


@pytest.mark.parametrize("command", INSTANCES, ids=lambda c: c.render()[:60])
@pytest.mark.parametrize("what_if", [False, True])
def test_every_command_fits_a_parameter_set_of_its_reference(
    command: Command, what_if: bool
) -> None:
    """Each rendered command's parameters are one parameter set of the cmdlet's reference."""
    _check(command.render(what_if=what_if))


def test_every_command_class_is_in_the_table() -> None:
    """A new command class cannot skip this check: every class has an instance above."""
    classes = {
        obj
        for _, obj in inspect.getmembers(command_module, inspect.isclass)
        # A private class is a shared base, not a command of its own.
        if issubclass(obj, Command) and obj is not Command and not obj.__name__.startswith("_")
    }
    assert classes == {type(instance) for instance in INSTANCES}


@pytest.mark.parametrize(
    "example", sorted(path.name for path in EXAMPLES.iterdir() if (path / "EXPECTED.md").exists())
)
def test_every_example_remediation_fits_its_references(example: str) -> None:
    """The commands the bundled examples' findings render fit their references."""
    diagnosis = diagnose(load_evidence(EXAMPLES / example))
    for finding in diagnosis.findings:
        for step in finding.remediation:
            _check(step.command.render(what_if=True))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Enable-ExchangeCertificate -Thumbprint 'x'", "Services is required"),
        ("Enable-ExchangeCertificate -Identity 'x' -Services 'SMTP' -Server 'y'", "Server"),
        ("Retry-Queue -Identity 'x' -Server 'y'", "Server only with Filter"),
        ("Get-Queue -Identity 'x' -Filter 'y'", "Filter only with Server"),
        ("Set-SendConnector -Identity 'x' -TlsSenderCertificateName 'y'", "an EXO parameter"),
        ("Import-ExchangeCertificate -FileName 'x'", "2013 only"),
    ],
)
def test_the_check_refuses_what_the_references_do_not_allow(text: str, reason: str) -> None:
    """The table is not vacuous: commands the references rule out fit no set."""
    [(cmdlet, parameters, piped)] = _commands(text)
    assert _fits(cmdlet, parameters, piped) is None, reason


def _scenarios() -> list[Any]:
    """Load the rule scenarios of test_diagnosis (every rule, firing and near miss)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_diagnosis_scenarios", Path(__file__).parent / "test_diagnosis.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [evidence for pair in module.SCENARIOS.values() for evidence in pair]


def test_every_rule_scenario_remediation_fits_its_references() -> None:
    """The commands every rule renders on its scenarios fit their references."""
    rendered = 0
    for evidence in _scenarios():
        for finding in diagnose(evidence).findings:
            for step in finding.remediation:
                _check(step.command.render(what_if=True))
                rendered += 1
    assert rendered > 50
