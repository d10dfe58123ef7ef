"""Write docs/rules.md from the rule catalogue before Sphinx reads the sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange_tls import CATALOGUE


def render() -> str:
    """Return the rule catalogue page as MyST Markdown."""
    lines = [
        "# Rule catalogue",
        "",
        "This page is generated from `exchange_tls.CATALOGUE`; every rule that",
        "{func}`~exchange_tls.diagnose` runs is here, in the order findings are ranked.",
        "",
        "| rule | severity | failure mode |",
        "|---|---|---|",
    ]
    lines.extend(
        f"| [`{rule.rule_id}`](#{rule.rule_id}) | {rule.severity.value} "
        f"| {rule.failure_mode or 'none'} |"
        for rule in CATALOGUE
    )
    for rule in CATALOGUE:
        lines += [
            "",
            f"({rule.rule_id})=",
            f"## `{rule.rule_id}`",
            "",
            f"**{rule.title}.** Severity {rule.severity.value}"
            + (f"; failure mode {rule.failure_mode}." if rule.failure_mode else "."),
            "",
            rule.meaning,
            "",
            "Evidence it needs:",
            "",
            *[f"- {need}" for need in rule.needs],
            "",
            f"Remediation: {rule.remedy}",
        ]
        if rule.references:
            lines += ["", "References: " + ", ".join(f"<{url}>" for url in rule.references)]
    return "\n".join(lines) + "\n"


def setup(app: Any) -> dict[str, Any]:
    """Generate the page when the extension loads, before any source is read."""
    target = Path(app.srcdir) / "rules.md"
    text = render()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return {"parallel_read_safe": True}
