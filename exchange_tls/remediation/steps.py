"""A remediation step: why it is there, the command, and what to know when running it."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from exchange_tls.remediation.commands import Command

__all__ = ["Purpose", "RemediationStep"]


class Purpose(enum.Enum):
    """Where a step stands: look first, then change, then confirm."""

    CHECK = "check"
    FIX = "fix"
    VERIFY = "verify"


_ORDER = {Purpose.CHECK: 0, Purpose.FIX: 1, Purpose.VERIFY: 2}


@attrs.frozen(kw_only=True)
class RemediationStep:
    """One step of a remediation."""

    purpose: Purpose = attrs.field(converter=Purpose)
    command: Command
    #: What to know: the answer to a prompt, what to look for in the output.
    note: str | None = None

    @property
    def order(self) -> int:
        """The step's place: checks, then fixes, then verifications."""
        return _ORDER[self.purpose]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {"purpose": self.purpose.value, "command": self.command.to_dict(), "note": self.note}
