"""Plans for registry values: check, create the key when missing, set, restart, verify."""

from __future__ import annotations

from collections.abc import Iterable

from exchange_tls.remediation.commands import (
    EnsureRegistryKey,
    GetItemProperty,
    RestartComputer,
    SetItemProperty,
)
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.tls_settings.models import powershell_path

__all__ = ["registry_steps", "set_dword_steps"]

_REBOOT = (
    "Schannel and .NET read these values when they start: restart the server for the "
    "change to take effect (one restart for all the registry changes)."
)
_NEW_KEY_NOTE = (
    "The key does not exist in the export, so it is created first (only if it is still "
    "missing: New-Item -Force on a key that exists would replace it and its values)."
)


def set_dword_steps(
    key: str, exists: bool, values: Iterable[tuple[str, int]]
) -> list[RemediationStep]:
    """Create the key when it is missing, then set each DWORD value."""
    path = powershell_path(key)
    steps = []
    if not exists:
        steps.append(
            RemediationStep(
                purpose=Purpose.FIX, command=EnsureRegistryKey(path=path), note=_NEW_KEY_NOTE
            )
        )
    steps.extend(
        RemediationStep(
            purpose=Purpose.FIX, command=SetItemProperty(path=path, name=name, value=value)
        )
        for name, value in values
    )
    return steps


def registry_steps(
    changes: list[tuple[str, bool, list[tuple[str, int]]]],
) -> tuple[RemediationStep, ...]:
    """Check each key, set its values (creating missing keys), restart once, verify.

    ``changes``: the registry key, whether the export shows it exists, and its values.
    """
    checks = [
        RemediationStep(
            purpose=Purpose.CHECK,
            command=GetItemProperty(path=powershell_path(key)),
            note=None if exists else "The key is missing: the command reports that.",
        )
        for key, exists, _ in changes
    ]
    fixes = [
        step for key, exists, values in changes for step in set_dword_steps(key, exists, values)
    ]
    fixes.append(RemediationStep(purpose=Purpose.FIX, command=RestartComputer(), note=_REBOOT))
    verify = [
        RemediationStep(purpose=Purpose.VERIFY, command=GetItemProperty(path=powershell_path(key)))
        for key, _, _ in changes
    ]
    return (*checks, *fixes, *verify)
