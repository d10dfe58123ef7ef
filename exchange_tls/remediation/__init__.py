"""Remediation: command objects that render to PowerShell, and the steps that use them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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
    from exchange_tls.remediation.quoting import quote
    from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = [
    "Command",
    "EnableExchangeCertificate",
    "EnsureRegistryKey",
    "GetExchangeCertificate",
    "GetItemProperty",
    "GetQueue",
    "GetReceiveConnector",
    "GetSendConnector",
    "ImportExchangeCertificate",
    "NewExchangeCertificate",
    "Purpose",
    "RemediationStep",
    "RemoveExchangeCertificate",
    "RenewExchangeCertificate",
    "RestartComputer",
    "RestartService",
    "RetryQueue",
    "SetHybridConfiguration",
    "SetItemProperty",
    "SetReceiveConnector",
    "SetSendConnector",
    "TestNetConnection",
    "quote",
]

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "Command": "commands",
            "EnableExchangeCertificate": "commands",
            "EnsureRegistryKey": "commands",
            "GetExchangeCertificate": "commands",
            "GetItemProperty": "commands",
            "GetQueue": "commands",
            "GetReceiveConnector": "commands",
            "GetSendConnector": "commands",
            "ImportExchangeCertificate": "commands",
            "NewExchangeCertificate": "commands",
            "RemoveExchangeCertificate": "commands",
            "RenewExchangeCertificate": "commands",
            "RestartComputer": "commands",
            "RestartService": "commands",
            "RetryQueue": "commands",
            "SetHybridConfiguration": "commands",
            "SetItemProperty": "commands",
            "SetReceiveConnector": "commands",
            "SetSendConnector": "commands",
            "TestNetConnection": "commands",
            "quote": "quoting",
            "Purpose": "steps",
            "RemediationStep": "steps",
        },
        __all__,
    )
