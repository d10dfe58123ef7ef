"""The formats a diagnosis renders to: one registry for ``--format``, ``render`` and the docs.

Each format is registered once in :mod:`exchange_tls.display` with what it is for; the
command line offers them as ``diagnose --format`` (with their descriptions as its help),
:meth:`Diagnosis.render <exchange_tls.Diagnosis.render>` renders them, and the docs
list them. A new format is one :class:`~exchange_tls.display.Format` registered here.

>>> from exchange_tls import display
>>> [entry.name for entry in display.formats()]
['text', 'json', 'markdown', 'html', 'ps1']
"""

from __future__ import annotations

from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis
from exchange_tls.display import Format, register_format
from exchange_tls.safe_text import for_json
from exchange_tls.views.text import WIDTH, markdown_report, text_report

__all__ = ["FORMATS"]


def _text(
    diagnosis: Diagnosis,
    evidence: Evidence | None = None,
    *,
    colour: bool = False,
    width: int = WIDTH,
) -> str:
    return text_report(diagnosis, colour=colour, width=width) + "\n"


def _json(diagnosis: Diagnosis, evidence: Evidence | None = None, *, colour: bool = False) -> str:
    return for_json(diagnosis.to_json()) + "\n"


def _markdown(
    diagnosis: Diagnosis, evidence: Evidence | None = None, *, colour: bool = False
) -> str:
    return markdown_report(diagnosis) + "\n"


# The HTML report and the script are imported when asked for: a text diagnosis does
# not load them.
def _html(diagnosis: Diagnosis, evidence: Evidence | None = None, *, colour: bool = False) -> str:
    from exchange_tls.views.html import report

    return report(diagnosis, evidence)


def _ps1(diagnosis: Diagnosis, evidence: Evidence | None = None, *, colour: bool = False) -> str:
    from exchange_tls.views.script import render_script

    return render_script(diagnosis)


#: The formats, in the order ``--format`` lists them (text is the default).
FORMATS = (
    Format(name="text", description="text for a terminal (default)", render=_text),
    Format(name="json", description="json for other tools", render=_json, suffix=".json"),
    Format(
        name="markdown",
        description="markdown for a ticket or a wiki",
        render=_markdown,
        suffix=".md",
    ),
    Format(
        name="html",
        description="html: one self-contained page to share (verdict, findings, evidence, "
        "timeline, certificates; opens from disk with no network)",
        render=_html,
        suffix=".html",
    ),
    Format(name="ps1", description="ps1: the remediation script", render=_ps1, suffix=".ps1"),
)

for _entry in FORMATS:
    register_format(_entry)
