r"""Console prompts pasted with PowerShell output, blanked out and reported.

Forum posts and blogs paste the command with its output: ``PS C:\Users\admin> Get-WinEvent
…``, ``[EX01]: PS C:\> …``, or the Exchange Management Shell's ``[PS] C:\Windows\system32>``.
The prompt names a drive or provider path, which keeps wrapped text that happens to start
with "PS " out of it. A prompt line and its ``>>`` continuations are blanked, so that every
record still points at the line it came from, and each is reported.
"""

from __future__ import annotations

import re

from exchange_tls.errors import Problem, ProblemCollector, Severity

__all__ = ["has_prompts", "without_prompts"]

_PROMPT = re.compile(
    r"^[ \t]*(?:\[[^\]\r\n]{1,100}\]: )?(?:\[PS\] |PS )[A-Za-z][\w.\\-]*:[^\r\n>]{0,260}>"
)


def has_prompts(lines: list[str]) -> bool:
    r"""Whether any line is a pasted console prompt.

    >>> has_prompts(["PS C:\\> Get-WinEvent -LogName System", "Id : 36871"])
    True
    >>> has_prompts(["PS: a note that is no prompt"])
    False
    """
    return any(_PROMPT.match(line) for line in lines)


def without_prompts(lines: list[str], source: str, collector: ProblemCollector) -> list[str]:
    r"""Blank out pasted prompt lines and their ``>>`` continuations, each a problem.

    >>> collector = ProblemCollector()
    >>> lines = ["[PS] C:\\>Get-EventLog Application |", ">> Format-List", "Id : 1"]
    >>> without_prompts(lines, "x", collector)
    ['', '', 'Id : 1']
    >>> [problem.line for problem in collector.problems]
    [1, 2]
    """
    kept: list[str] = []
    in_command = False
    for number, line in enumerate(lines, start=1):
        if _PROMPT.match(line) or (in_command and line.lstrip().startswith(">>")):
            collector.report(
                Problem(
                    message="ignored a PowerShell prompt and the command typed after it",
                    source=source,
                    line=number,
                    column=1,
                    line_text=line,
                    severity=Severity.INFO,
                    code="prompt-line",
                )
            )
            kept.append("")
            in_command = True
        else:
            kept.append(line)
            in_command = False
    return kept
