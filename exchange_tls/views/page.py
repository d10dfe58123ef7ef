"""The self-contained HTML report: the answer first, bounded, readable on a phone and on paper.

:func:`report_page` writes one HTML file that opens from disk with no network. It opens
with the verdict, then each finding's headline (title, what it affects, the impact, the
one fix with a copy button), grouped by server; each finding's evidence, capped with "N
more", and its whole plan are folded under it. Then the timeline of TLS outcomes per
connector and hour, counted from the summaries' tallies and written in a table as well as
drawn; the certificate inventory with the certificate Exchange selects marked; the whole
remediation script, each command once; and, folded at the end, what was read, what was
left out and the rules that could not run.

The page has no horizontal scrolling at 390 pixels (long unbroken strings wrap, wide
tables scroll inside their own box) and a print stylesheet. Its Content Security Policy
lets only its own copy-button script run, by hash: even text that slipped through
unescaped could not run a script.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import defaultdict

from exchange_tls._version import __version__
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis
from exchange_tls.remediation.steps import Purpose
from exchange_tls.views.headline import is_reboot, moment, verdict_reasons
from exchange_tls.views.html import (
    finding_html,
    group_by_server,
    html_cell_lines,
    server_heading,
)
from exchange_tls.views.records import certificate_record
from exchange_tls.views.tables import html_cell, html_table, pick
from exchange_tls.views.text import coverage_line, more
from exchange_tls.views.timeline import timeline_svg, timeline_table

__all__ = ["SHOWN_CERTIFICATES", "SHOWN_PROBLEMS", "plan_script", "report_page"]

#: Problems listed in the report; the JSON carries them all.
SHOWN_PROBLEMS = 50
#: Certificates listed in the inventory; the rest are counted.
SHOWN_CERTIFICATES = 50

_COPY_SCRIPT = """\
function fallbackCopy(text) {
  var area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  var copied = false;
  try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
  document.body.removeChild(area);
  return copied;
}
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.getAttribute("data-target")).textContent;
    function done(copied) {
      button.textContent = copied ? "Copied" : "Select the text to copy it";
      button.setAttribute("data-copied", copied ? "yes" : "no");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { done(true); },
        function () { done(fallbackCopy(text)); }
      );
    } else {
      done(fallbackCopy(text));
    }
  });
});
"""

_STYLE = """\
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 1em auto; max-width: 72em;
  padding: 0 1em; color: #1b1b1b; overflow-wrap: anywhere; }
h1 { font-size: 1.35em; margin: .2em 0; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc;
  margin-top: 1.4em; } h3 { font-size: 1.1em; margin: .4em 0; } h4 { margin: .8em 0 .3em; }
code, pre { font: 13px/1.4 ui-monospace, Consolas, monospace; }
pre { background: #f4f4f4; padding: .6em .8em; margin: .3em 0; white-space: pre-wrap;
  overflow-wrap: anywhere; max-width: 100%; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #f0f0f0; overflow-wrap: normal; }
td.num { white-space: nowrap; overflow-wrap: normal; }
table.certificates td { min-width: 6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
div.scroll { max-width: 100%; overflow-x: auto; }
.meta { color: #555; margin: 0; }
.verdict { padding: .4em 1em; border-left: .5em solid; margin: .6em 0; }
.verdict h2 { border: 0; margin: .2em 0; }
.verdict ul { margin: .2em 0; padding-left: 1.2em; }
.verdict-problems { border-color: #b00020; background: #fdecee; }
.verdict-healthy { border-color: #1e7d32; background: #e9f6ea; }
.verdict-inconclusive { border-color: #a15c00; background: #fff4e0; }
.finding { border: 1px solid #ccc; border-radius: 4px; padding: .3em 1em .6em; margin: .8em 0; }
.finding > p { margin: .3em 0; }
.severity { color: #fff; border-radius: 3px; padding: 0 .35em; font-size: .85em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1em .8em; margin: .4em 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.script p { margin: .4em 0 0; }
button.copy { margin-left: .6em; font: inherit; font-size: .9em; padding: .1em .7em; }
details > summary { cursor: pointer; color: #00639b; margin: .4em 0; }
code.line { white-space: pre-wrap; }
table.evidence { width: 100%; table-layout: fixed; }
table.evidence th:nth-child(1) { width: 28%; } table.evidence th:nth-child(2) { width: 30%; }
tr.selected td { background: #e9f6ea; font-weight: bold; }
div.timeline { max-width: 100%; overflow-x: auto; }
svg.timeline text { font: 11px sans-serif; fill: #333; }
rect.ok { fill: #2e7d32; } rect.failed { fill: #c62828; } rect.mixed { fill: #ef8f00; }
rect.unknown { fill: #9e9e9e; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; }
.note { border-left: .3em solid #a15c00; padding-left: .6em; }
@media (max-width: 40em) {
  body { padding: 0 .5em; font-size: 14px; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-left: .8em; }
  table.evidence, table.evidence tbody, table.evidence tr, table.evidence td { display: block;
    width: auto; }
  table.evidence thead { display: none; }
  table.evidence td { border: 0; border-top: 1px solid #ddd; padding: .2em 0; }
}
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  button.copy, details > summary { display: none; }
  details::details-content { content-visibility: visible; display: block; }
  pre, code { white-space: pre-wrap; overflow-wrap: anywhere; }
  div.scroll, div.timeline { overflow: visible; }
  svg.timeline { max-width: 100%; height: auto; }
  .finding, tr, pre, dl.facts, .verdict { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; }
}
"""


def _script_hash() -> str:
    digest = hashlib.sha256(_COPY_SCRIPT.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def plan_script(diagnosis: Diagnosis) -> str:
    """Return every finding's plan as one script, each command once, changes with -WhatIf.

    A command two findings share is written under the first; a reboot is never a line of
    it, only a note to restart as a separate, confirmed step.
    """
    lines = [
        "# Run it in the Exchange Management Shell. Changes carry -WhatIf: read what they",
        "# would do, then remove -WhatIf to apply them.",
    ]
    written: set[str] = set()
    reboot = False
    for number, finding in enumerate(diagnosis.findings, start=1):
        body: list[str] = []
        for purpose in (Purpose.CHECK, Purpose.FIX, Purpose.VERIFY):
            for step in finding.remediation:
                if step.purpose is not purpose:
                    continue
                if is_reboot(step):
                    reboot = True
                    continue
                command = step.command.render(what_if=purpose is Purpose.FIX)
                if command in written:
                    continue
                written.add(command)
                body += [f"# {purpose.value}", command]
        if body:
            title = " ".join(finding.title.split())
            lines += ["", f"# [{number}] {finding.severity.value.upper()}: {title}", *body]
    if reboot:
        lines += ["", "# Then restart the server as a separate step, at a time mail can wait:"]
        lines.append("# Restart-Computer -Confirm")
    return "\n".join(lines) + "\n"


def _verdict_section(diagnosis: Diagnosis) -> str:
    verdict = diagnosis.verdict.value
    items = "".join(f"<li>{html_cell(reason)}</li>" for reason in verdict_reasons(diagnosis))
    items += "".join(f"<li>Next: {html_cell(advice)}</li>" for advice in diagnosis.advice)
    return (
        f'<section id="verdict" class="verdict verdict-{verdict}">'
        f'<h2>Verdict: <span class="verdict-value">{verdict}</span></h2>'
        f"<ul>{items}</ul></section>"
    )


def _findings_section(diagnosis: Diagnosis, evidence: Evidence | None) -> str:
    if not diagnosis.findings:
        return '<section id="findings"><p>No finding.</p></section>'
    parts = ['<section id="findings">']
    groups = group_by_server(diagnosis, evidence)
    number = 0
    for server, findings in groups:
        parts.append(
            f'<section class="server"><h2>{html_cell(server_heading(server, findings))}</h2>'
        )
        for finding in findings:
            number += 1
            parts.append(finding_html(finding, number=number, evidence=evidence))
        parts.append("</section>")
    parts.append("</section>")
    return "".join(parts)


def _script_section(diagnosis: Diagnosis) -> str:
    if not any(finding.remediation for finding in diagnosis.findings):
        return ""
    return (
        '<section id="remediation"><h2>Remediation script</h2><details>'
        "<summary>Every finding's plan in one script, each command once</summary>"
        "<p>Changes carry <code>-WhatIf</code>: read what they would do, then remove it to "
        'apply them.<button type="button" class="copy" data-target="script-all">Copy</button></p>'
        f'<pre id="script-all"><code>{html_cell_lines(plan_script(diagnosis))}</code></pre>'
        "</details></section>"
    )


def _timeline_section(evidence: Evidence | None) -> str:
    parts = ['<section id="timeline"><h2>TLS outcomes per connector over time</h2>']
    if evidence is None:
        parts.append("<p><em>Give the evidence to draw the timeline.</em></p>")
    else:
        parts.append(timeline_table(evidence))
        parts.append(
            '<p class="legend"><span style="background:#2e7d32"></span> every TLS negotiation '
            'succeeded <span style="background:#c62828"></span> every one failed '
            '<span style="background:#ef8f00"></span> both <span style="background:#9e9e9e">'
            "</span> no TLS outcome logged.</p>"
        )
        parts.append(timeline_svg(evidence))
    parts.append("</section>")
    return "".join(parts)


_CERTIFICATE_COLUMNS = {
    "thumbprint": "Thumbprint",
    "services": "Services",
    "subject": "Subject",
    "not_after": "Valid until",
    "has_private_key": "Private key",
    "status": "Status",
}


def _certificates_section(evidence: Evidence | None, diagnosis: Diagnosis) -> str:
    parts = ['<section id="certificates"><h2>Certificate inventory</h2>']
    if evidence is None:
        parts.append("<p><em>Give the evidence to list the certificates.</em></p>")
    elif not evidence.certificates:
        parts.append("<p><em>No Get-ExchangeCertificate output was read.</em></p>")
    else:
        context = Context(evidence, diagnosis.now)
        selected: dict[int, list[str]] = defaultdict(list)
        for connector in context.connectors:
            chosen = context.selected_certificate(connector)
            if chosen is not None:
                selected[id(chosen)].append(connector.name or connector.identity or "?")
        columns = tuple(_CERTIFICATE_COLUMNS)
        head = "".join(
            f"<th>{html_cell(c)}</th>" for c in ("Selected for", *_CERTIFICATE_COLUMNS.values())
        )
        body = []
        for certificate in context.certificates[:SHOWN_CERTIFICATES]:
            row = pick([certificate_record(certificate)], columns)[0]
            row["has_private_key"] = {True: "yes", False: "no"}.get(row["has_private_key"])  # type: ignore[call-overload]
            if isinstance(row["not_after"], dt.datetime):
                row["not_after"] = moment(row["not_after"])
            chosen_for = selected.get(id(certificate), [])
            mark = (
                "&#10004; " + html_cell(", ".join(f"send connector '{n}'" for n in chosen_for))
                if chosen_for
                else ""
            )
            css = ' class="selected"' if chosen_for else ""
            cells = "".join(f"<td>{html_cell(row[c])}</td>" for c in columns)
            body.append(f"<tr{css}><td>{mark}</td>{cells}</tr>")
        rest = more(len(context.certificates), SHOWN_CERTIFICATES)
        parts.append(
            "<p>&#10004; marks the certificate Exchange selects for each send connector "
            "(by its TlsCertificateName, else its FQDN).</p>"
            f'<div class="scroll"><table class="certificates"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
            + (
                f"<p>{html_cell(rest)} (exchange-tls certificates lists them all)</p>"
                if rest
                else ""
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _bookkeeping_section(diagnosis: Diagnosis) -> str:
    """Say what was read, what was left out, which rules could not run, what was uncertain."""
    coverage = diagnosis.coverage
    counts = [
        {"What": noun, "How many": count}
        for noun, count in (
            ("files", coverage.files),
            ("send sessions", coverage.send_sessions),
            ("receive sessions", coverage.receive_sessions),
            ("TLS negotiations that succeeded", coverage.tls_succeeded),
            ("TLS negotiations that failed", coverage.tls_failed),
            ("certificates", coverage.certificates),
            ("send connectors", coverage.send_connectors),
            ("receive connectors", coverage.receive_connectors),
            ("queues", coverage.queues),
            ("failing queues", coverage.failing_queues),
        )
    ]
    parts = [
        '<section id="coverage"><h2>What was read</h2>',
        f"<p>{html_cell(coverage_line(coverage))}</p>",
        "<details><summary>Counts, files left out, rules that could not run, and what could "
        "not be read with certainty</summary>",
        f'<h4>Counts</h4><div class="scroll">{html_table(counts)}</div>',
    ]
    if coverage.left_out:
        left = [
            {"File": p.source, "Why it was left out": p.message}
            for p in coverage.left_out[:SHOWN_PROBLEMS]
        ]
        parts.append(f'<h4>Left out</h4><div class="scroll">{html_table(left)}</div>')
        rest = more(len(coverage.left_out), SHOWN_PROBLEMS)
        if rest:
            parts.append(f"<p>{html_cell(rest)} (all of them in --format json)</p>")
    if coverage.rules_not_run:
        gaps = [
            {"Rule": gap.rule_id, "Collect one of": "; ".join(gap.missing)}
            for gap in coverage.rules_not_run
        ]
        parts.append(
            f'<h4>Rules that could not run</h4><div class="scroll">{html_table(gaps)}</div>'
        )
    left_out = set(map(id, coverage.left_out))
    uncertain = [
        p for p in diagnosis.problems if id(p) not in left_out and p not in coverage.left_out
    ]
    if uncertain:
        rows = [
            {
                "Where": p.source if p.line is None else f"{p.source}:{p.line}",
                "How bad": p.severity.value,
                "What": p.message,
            }
            for p in uncertain[:SHOWN_PROBLEMS]
        ]
        parts.append(
            "<h4>What could not be read with certainty</h4>"
            f'<div class="scroll">{html_table(rows)}</div>'
        )
        rest = more(len(uncertain), SHOWN_PROBLEMS)
        if rest:
            parts.append(f"<p>{html_cell(rest)} (all of them in --format json)</p>")
    parts.append("</details></section>")
    return "".join(parts)


def report_page(diagnosis: Diagnosis, evidence: Evidence | None = None) -> str:
    """Write the diagnosis as one self-contained HTML page (no network, no CDN).

    With the evidence, the page also draws the timeline and lists the certificates.
    """
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_script_hash()}'; base-uri 'none'; form-action 'none'"
    )
    verdict = diagnosis.verdict.value
    judged = moment(diagnosis.now)
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>exchange_tls report: {verdict}</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<header><h1>SMTP TLS diagnosis</h1>",
            f'<p class="meta"><small>exchange_tls {html_cell(__version__)}; validity judged at '
            f"{html_cell(judged)}.</small></p></header>",
            _verdict_section(diagnosis),
            _findings_section(diagnosis, evidence),
            _timeline_section(evidence),
            _certificates_section(evidence, diagnosis),
            _script_section(diagnosis),
            _bookkeeping_section(diagnosis),
            f"<script>{_COPY_SCRIPT}</script>",
            "</body></html>\n",
        ]
    )
