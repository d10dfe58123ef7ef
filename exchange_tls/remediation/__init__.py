"""Remediation: command objects that render to PowerShell, and the steps that use them."""

from __future__ import annotations

from exchange_tls.remediation.commands import (
    Command,
    EnableExchangeCertificate,
    GetExchangeCertificate,
    GetQueue,
    ImportExchangeCertificate,
    NewExchangeCertificate,
    RestartService,
    RetryQueue,
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
    "GetExchangeCertificate",
    "GetQueue",
    "ImportExchangeCertificate",
    "NewExchangeCertificate",
    "Purpose",
    "RemediationStep",
    "RestartService",
    "RetryQueue",
    "SetItemProperty",
    "SetReceiveConnector",
    "SetSendConnector",
    "TestNetConnection",
    "quote",
]
