"""Write the generated pages (rule catalogue, CLI reference) before Sphinx reads sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange_tls.diagnosis import CATALOGUE


def _signature(groups: tuple[tuple[str, ...], ...]) -> str:
    return " or ".join(" + ".join(f"`{fragment}`" for fragment in group) for group in groups)


def render() -> str:
    """Return the rule catalogue page as MyST Markdown."""
    lines = [
        "# Rule catalogue",
        "",
        "This page is generated from `exchange_tls.diagnosis.CATALOGUE`; every rule that",
        "{func}`~exchange_tls.diagnose` runs is here, in the catalogue's order, which breaks",
        "ties when findings are ranked (after severity and confidence).",
        "For each rule: which certificate or connector it judges (Exchange's",
        "[certificate selection](exchange-facts.md#certificate-selection)), what in the logs",
        "lowers or silences it (the log outranks the configuration), the error texts",
        "{func}`~exchange_tls.explain_error` maps to it, and its sources. The facts behind",
        "the rules, with their sources, are in [Facts the rules rely on](exchange-facts.md).",
        "",
        "```{toctree}",
        ":hidden:",
        "",
        "exchange-facts",
        "```",
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
            "Runs on: "
            + (
                "; or ".join(" with ".join(sorted(group)) for group in rule.inputs)
                if rule.inputs
                else "any evidence (it speaks for what the other rules do not)"
            )
            + ". Without it, the coverage lists the rule among those that could not run.",
            "",
            f"Remediation: {rule.remedy}",
        ]
        if rule.selection:
            lines += ["", f"What it judges: {rule.selection}"]
        if rule.contradiction:
            lines += ["", f"What the logs change: {rule.contradiction}"]
        if rule.signatures:
            lines += ["", "Errors it explains:", ""]
            lines.extend(
                f"- {_signature(signature.groups)} (rank {signature.rank}): {signature.reading}"
                for signature in rule.signatures
            )
        if rule.references:
            lines += ["", "Sources: " + ", ".join(f"<{url}>" for url in rule.references)]
    return "\n".join(lines) + "\n"


def render_cli() -> str:
    """Return the command-line reference page, from the argument parser itself."""
    from exchange_tls.cli import build_parser

    parser = build_parser()
    lines = [
        "# Command line",
        "",
        "This page is generated from the `exchange-tls` argument parser.",
        "`python -m exchange_tls` runs the same command line; with no arguments it",
        "diagnoses the bundled KB 4051498 example.",
        "",
        "Exit status of `diagnose`: 0 healthy, 1 problems, 2 usage or input error, 3",
        "inconclusive, 4 internal error (see the help below and {doc}`verdicts`). An error",
        "is one line on stderr; `--debug` shows the traceback.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    subparsers = next(
        action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction"
    )
    for name, command in subparsers.choices.items():  # type: ignore[attr-defined]
        lines += [
            "",
            f"## `exchange-tls {name}`",
            "",
            "```text",
            command.format_help().rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _write(target: Path, text: str) -> None:
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def setup_all(app: Any) -> None:
    """Write every generated page."""
    _write(Path(app.srcdir) / "rules.md", render())
    _write(Path(app.srcdir) / "cli.md", render_cli())


def setup(app: Any) -> dict[str, Any]:
    """Generate the pages when the extension loads, before any source is read."""
    setup_all(app)
    return {"parallel_read_safe": True}
