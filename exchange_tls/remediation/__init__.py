"""Remediation: command objects that render to PowerShell, and the steps that use them."""

from __future__ import annotations

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
