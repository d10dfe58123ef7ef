"""Write a diagnosis as a commented PowerShell script: check, fix and verify."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from exchange_tls._version import __version__
from exchange_tls.remediation.steps import Purpose
from exchange_tls.views.headline import is_reboot, reboot_note

if TYPE_CHECKING:
    from exchange_tls.diagnosis.model import Diagnosis

__all__ = ["render_script"]


# Every character that ends a line for PowerShell or for an editor showing the script.
_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
# PowerShell takes a line "# SIG # Begin signature block" as the start of an Authenticode
# signature, and refuses to run a script whose "signature" does not verify.
_SIGNATURE_MARK = re.compile(r"(?i)(sig\s*)#(\s*(?:begin|end)\s+signature\s+block)")


def _comment(text: str) -> list[str]:
    # One comment line per source line: a value with a line break cannot end the comment.
    text = _SIGNATURE_MARK.sub("\\1\uff03\\2", text)
    return ["# " + line for line in _LINE_BREAKS.split(text)]


def render_script(diagnosis: Diagnosis) -> str:
    """Return the script: a banner, then per finding its check, fix and verify steps.

    Commands that change state carry ``-WhatIf`` where the cmdlet takes it: remove it
    to make the change once the checks confirm the finding. A command two findings share
    is written once; a reboot is a comment, to run as a separate, confirmed step.
    """
    lines = [
        "#Requires -Version 5.1",
        "# Remediation script written by exchange_tls " + __version__,
        f"# Evidence time: {diagnosis.now.isoformat() if diagnosis.now else 'unknown'}",
        f"# Findings: {len(diagnosis.findings)}",
        "# Run it in the Exchange Management Shell. Changes carry -WhatIf: read what they",
        "# would do, then remove -WhatIf to apply them.",
        "",
    ]
    if not diagnosis.findings:
        lines.append("# Nothing to fix: the evidence shows no problem.")
    # A command two findings share is written once, under the first.
    written: dict[str, int] = {}
    for number, finding in enumerate(diagnosis.findings, start=1):
        lines.extend(
            _comment(
                f"[{number}] {finding.severity.value.upper()} {finding.rule_id}: {finding.title}"
            )
        )
        lines.extend(_comment(finding.summary))
        for ref in finding.evidence:
            lines.extend(_comment(f"  evidence: {ref}"))
        for purpose in (Purpose.CHECK, Purpose.FIX, Purpose.VERIFY):
            steps = [step for step in finding.remediation if step.purpose is purpose]
            if not steps:
                continue
            lines.append(f"# --- {purpose.value}")
            for step in steps:
                if is_reboot(step):
                    # Never a line of the script: removing -WhatIf would restart the
                    # server in the middle of it.
                    lines.extend(_comment(reboot_note(step)))
                    continue
                command = step.command.render(what_if=purpose is Purpose.FIX)
                if command in written:
                    lines.extend(_comment(f"{command[:60]}… as under [{written[command]}]"))
                    continue
                written[command] = number
                if step.note:
                    lines.extend(_comment(step.note))
                lines.append(command)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
