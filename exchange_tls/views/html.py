"""HTML: the notebook's fragments and the self-contained report.

:func:`report` writes one HTML file that opens from disk with no network: the verdict
and coverage, the findings grouped by server with their evidence, the remediation script
with copy buttons, an inline-SVG timeline of TLS outcomes per connector and hour, and
the certificate inventory with the certificate Exchange selects marked.

Every value that comes from evidence goes through :func:`~exchange_tls.views.tables.html_cell`
(HTML-escaped, control characters shown as escapes), and the page's Content Security
Policy lets only its own copy-button script run, by hash: even text that slipped through
unescaped could not run a script.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from exchange_tls._version import __version__
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis, Finding
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.views.records import (
    certificate_record,
    records,
    server_of_queue,
    server_of_session,
    session_record,
    tls_outcome,
)
from exchange_tls.views.tables import html_cell, html_table, pick
from exchange_tls.views.text import coverage_line, more, seen_line

__all__ = [
    "diagnosis_html",
    "finding_html",
    "group_by_server",
    "html_cell_lines",
    "known_servers",
    "list_html",
    "report",
    "session_html",
    "timeline_svg",
]

_SEVERITY_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#00639b"}
#: Problems listed in the report; the JSON carries them all.
SHOWN_PROBLEMS = 200
#: Evidence lines listed per finding; past this, the page says how many more the JSON has.
SHOWN_EVIDENCE = 500
#: Up to this many hours, the timeline has a column for every hour; past it, only for the
#: hours with sessions.
TIMELINE_HOURS = 14 * 24
UNKNOWN_SERVER = "Server not named in the evidence"


# -- notebook fragments ----------------------------------------------------------------------


def _evidence_rows(finding: Finding) -> str:
    rows = "".join(
        "<tr>"
        f"<td><code>{html_cell(ref.source or '(derived)')}</code></td>"
        f"<td>{html_cell(ref.claim)}</td>"
        f'<td><code class="line">{html_cell(ref.excerpt)}</code></td>'
        "</tr>"
        for ref in finding.evidence[:SHOWN_EVIDENCE]
    )
    rest = more(len(finding.evidence), SHOWN_EVIDENCE)
    if rest:
        rows += f'<tr><td colspan="3">{html_cell(rest)} (all of them in --format json)</td></tr>'
    return rows


def _script_of(finding: Finding) -> str:
    return "\n".join(
        f"# {step.purpose.value}" + (f": {step.note}" if step.note else "") + "\n"
        f"{step.command.render()}"
        for step in finding.remediation
    )


def finding_html(finding: Finding, *, number: int | None = None) -> str:
    """Render one finding: severity, title, summary, evidence (file:line, line), fix."""
    colour = _SEVERITY_COLOURS[finding.severity.value]
    anchor = f' id="finding-{number}"' if number is not None else ""
    seen = seen_line(finding)
    parts = [
        f'<article class="finding"{anchor} data-rule="{html_cell(finding.rule_id)}">',
        f'<h4 style="color:{colour}">{html_cell(finding.severity.value.upper())} '
        f"<code>{html_cell(finding.rule_id)}</code>: {html_cell(finding.title)}</h4>",
        f"<p>{html_cell(finding.summary)}</p>",
        f"<p><small>{html_cell(finding.confidence.value)} confidence"
        + (f"; {html_cell(seen)}" if seen else "")
        + "</small></p>",
        '<table class="evidence"><thead><tr><th>Where</th><th>What it shows</th>'
        f"<th>The line</th></tr></thead><tbody>{_evidence_rows(finding)}</tbody></table>",
    ]
    if finding.remediation:
        target = f"script-{number}" if number is not None else "script"
        parts.append(
            '<div class="script"><p>Remediation '
            f'<button type="button" class="copy" data-target="{target}">Copy</button></p>'
            f'<pre id="{target}"><code>{html_cell_lines(_script_of(finding))}</code></pre></div>'
        )
    parts.append("</article>")
    return "".join(parts)


def html_cell_lines(text: str) -> str:
    """Escape text of several lines for a ``<pre>`` block, keeping its newlines."""
    return "\n".join(html_cell(line) for line in text.split("\n"))


def diagnosis_html(diagnosis: Diagnosis) -> str:
    """Render a diagnosis for a notebook: the verdict, the coverage, each finding."""
    reasons = "".join(f"<li>{html_cell(reason)}</li>" for reason in diagnosis.reasons)
    advice = "".join(f"<li>Next: {html_cell(item)}</li>" for item in diagnosis.advice)
    return (
        f"<p><b>Verdict: {html_cell(diagnosis.verdict.value)}</b></p>"
        + (f"<ul>{reasons}{advice}</ul>" if reasons or advice else "")
        + f"<p>{html_cell(coverage_line(diagnosis.coverage))}</p>"
        + "".join(finding_html(finding) for finding in diagnosis.findings)
    )


def session_html(session: SmtpSession) -> str:
    """Render a session: its facts, then its rows with file and line."""
    rows = [
        {
            "line": str(row.source),
            "event": row.event.value,
            "data": row.data,
            "context": row.context,
        }
        for row in session.rows
    ]
    return html_table([session_record(session)]) + html_table(rows)


#: Rows a notebook table shows; a DataFrame (``to_dataframe()``) holds them all.
SHOWN_ROWS = 1000


def list_html(items: Iterable[object]) -> str:
    """Render a list of models as a table of its first :data:`SHOWN_ROWS` rows."""
    listed = list(items)
    rest = more(len(listed), SHOWN_ROWS)
    note = f"<p><em>{html_cell(rest)} (to_dataframe() has them all)</em></p>" if rest else ""
    return html_table(records(listed[:SHOWN_ROWS])) + note


# -- servers -----------------------------------------------------------------------------------

_SERVER_PREFIX = re.compile(r"(?<![\w\\-])([A-Za-z0-9][A-Za-z0-9-]{0,62})\\[^\s\\]")


def _servers_named(text: str) -> list[str]:
    return [match.group(1) for match in _SERVER_PREFIX.finditer(text)]


def known_servers(evidence: Evidence | None, diagnosis: Diagnosis) -> list[str]:
    r"""Return the servers the evidence names, from queue identities (``EX01\9``) and more.

    Certificates, receive connectors, receive logs and the queue excerpts findings cite
    name servers too.
    """
    names: list[str | None] = []
    if evidence is not None:
        names += [server_of_queue(queue) for queue in evidence.queues]
        names += [certificate.server for certificate in evidence.certificates]
        names += [connector.server for connector in evidence.receive_connectors]
        names += [server_of_session(session) for session in evidence.sessions]
    for finding in diagnosis.findings:
        for ref in finding.evidence:
            # A queue's excerpt starts with its identity, SERVER\Queue.
            match = _SERVER_PREFIX.match(ref.excerpt)
            if match:
                names.append(match.group(1))
    folded: dict[str, str] = {}
    for name in names:
        if name:
            folded.setdefault(name.casefold(), name)
    return sorted(folded.values(), key=str.casefold)


def group_by_server(
    diagnosis: Diagnosis, evidence: Evidence | None = None
) -> list[tuple[str, list[Finding]]]:
    """Group the findings by the server their evidence names.

    With one server known from the evidence, every finding is that server's; with none
    (a send log names no server), all are in one group that says so.
    """
    servers = known_servers(evidence, diagnosis)
    by_fold = {server.casefold(): server for server in servers}
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in diagnosis.findings:
        named = {
            by_fold[name.casefold()]
            for ref in finding.evidence
            for text in (ref.excerpt, ref.claim, finding.subject)
            for name in _servers_named(text)
            if name.casefold() in by_fold
        }
        if not named and len(servers) == 1:
            named = {servers[0]}
        for server in sorted(named, key=str.casefold) or [UNKNOWN_SERVER]:
            groups[server].append(finding)
    return sorted(groups.items(), key=lambda item: (item[0] == UNKNOWN_SERVER, item[0].casefold()))


# -- timeline ----------------------------------------------------------------------------------


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


def timeline_svg(sessions: Sequence[SmtpSession]) -> str:
    """Draw TLS outcomes per connector per hour as inline SVG.

    A cell is green when every TLS negotiation in it succeeded, red when every one failed,
    amber when both happened, and grey when sessions did not log a TLS outcome. Up to two
    weeks, every hour has a column, quiet ones empty; over a longer span only the hours
    with sessions do, and the caption says so.
    """
    logged = [session for session in sessions if session.rows]
    if not logged:
        return "<p><em>No protocol-log sessions: no timeline.</em></p>"
    hours = sorted({_hour(session.start) for session in logged})
    span = int((hours[-1] - hours[0]) / dt.timedelta(hours=1)) + 1
    contiguous = span <= TIMELINE_HOURS
    if contiguous:
        hours = [hours[0] + dt.timedelta(hours=n) for n in range(span)]
    column_of = {hour: column for column, hour in enumerate(hours)}
    counts: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    connectors: dict[str, str] = {}
    for session in logged:
        key = session.connector_id.casefold()
        connectors.setdefault(key, session.connector_id)
        counts[key, column_of[_hour(session.start)]][tls_outcome(session) or "no TLS"] += 1
    label_width, cell, row_height, top = 240, 14, 20, 30
    # Room for the first axis label even when there are only a few columns.
    width = max(label_width + len(hours) * cell + 10, label_width + 140)
    height = top + row_height * len(connectors) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="TLS outcomes per connector per hour">'
    ]
    label_every = 8  # columns: about 110 pixels between axis labels
    for column in range(0, len(hours), label_every):
        moment = hours[column]
        label = f"{moment:%Y-%m-%d %H:00}" if column == 0 else f"{moment:%m-%d %H:00}"
        x = label_width + column * cell
        parts.append(f'<text x="{x}" y="{top - 10}" class="axis">{html_cell(label)}</text>')
    for row, (key, name) in enumerate(sorted(connectors.items())):
        y = top + row * row_height
        shown = name if len(name) <= 34 else name[:33] + "…"
        parts.append(
            f'<text x="0" y="{y + cell - 2}" class="label">{html_cell(shown)}'
            f"<title>{html_cell(name)}</title></text>"
        )
        for column, moment in enumerate(hours):
            outcome = counts.get((key, column))
            if not outcome:
                continue
            ok, failed = outcome["ok"], outcome["failed"]
            state = "mixed" if ok and failed else "failed" if failed else "ok" if ok else "unknown"
            detail = ", ".join(f"{count} {what}" for what, count in sorted(outcome.items()))
            parts.append(
                f'<rect x="{label_width + column * cell}" y="{y}" width="{cell - 2}" '
                f'height="{cell}" class="cell {state}">'
                f"<title>{html_cell(name)}, {moment:%Y-%m-%d %H:00} UTC: "
                f"{html_cell(detail)}</title></rect>"
            )
    parts.append("</svg>")
    caption = (
        "One column per hour (UTC)."
        if contiguous
        else f"One column per hour (UTC) with sessions: {len(hours)} of the {span} hours "
        "between the first session and the last; the hours without sessions are left out."
    )
    return f'<div class="timeline">{"".join(parts)}<p><small>{caption}</small></p></div>'


# -- the report --------------------------------------------------------------------------------

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
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em;
  color: #1b1b1b; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
code, pre { font: 13px/1.4 ui-monospace, Consolas, monospace; }
pre { background: #f4f4f4; padding: .8em; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.verdict { padding: .6em 1em; border-left: .5em solid; }
.verdict-problems { border-color: #b00020; background: #fdecee; }
.verdict-healthy { border-color: #1e7d32; background: #e9f6ea; }
.verdict-inconclusive { border-color: #a15c00; background: #fff4e0; }
.finding { border: 1px solid #ddd; padding: .2em 1em; margin: 1em 0; }
code.line { white-space: pre-wrap; }
table.evidence { width: 100%; table-layout: fixed; }
table.evidence th:nth-child(1) { width: 28%; } table.evidence th:nth-child(2) { width: 30%; }
td { overflow-wrap: anywhere; }
button.copy { margin-left: 1em; }
tr.selected td { background: #e9f6ea; font-weight: bold; }
div.timeline { overflow-x: auto; }
svg.timeline text { font: 11px sans-serif; fill: #333; }
rect.ok { fill: #2e7d32; } rect.failed { fill: #c62828; } rect.mixed { fill: #ef8f00; }
rect.unknown { fill: #9e9e9e; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; }
.meta { color: #555; }
"""


def _script_hash() -> str:
    digest = hashlib.sha256(_COPY_SCRIPT.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _iso(moment: dt.datetime | None) -> str:
    return "not known" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _verdict_section(diagnosis: Diagnosis) -> str:
    verdict = diagnosis.verdict.value
    items = "".join(f"<li>{html_cell(reason)}</li>" for reason in diagnosis.reasons)
    items += "".join(f"<li>Next: {html_cell(advice)}</li>" for advice in diagnosis.advice)
    return (
        f'<section id="verdict" class="verdict verdict-{verdict}">'
        f'<h2>Verdict: <span class="verdict-value">{verdict}</span></h2>'
        f"<ul>{items}</ul></section>"
    )


def _coverage_section(diagnosis: Diagnosis) -> str:
    coverage = diagnosis.coverage
    parts = ['<section id="coverage"><h2>What was read</h2>']
    parts.append(f"<p>{html_cell(coverage_line(coverage))}</p>")
    counts = [
        {"what": noun, "count": count}
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
    parts.append(f"<details><summary>Counts</summary>{html_table(counts)}</details>")
    if coverage.left_out:
        parts.append("<h3>Left out</h3>")
        parts.append(html_table(records(coverage.left_out)))
    if coverage.rules_not_run:
        parts.append("<h3>Rules that could not run</h3>")
        parts.append(
            html_table(
                [
                    {"rule": gap.rule_id, "collect one of": "; ".join(gap.missing)}
                    for gap in coverage.rules_not_run
                ]
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _findings_section(diagnosis: Diagnosis, evidence: Evidence | None) -> str:
    parts = ['<section id="findings"><h2>Findings</h2>']
    if not diagnosis.findings:
        parts.append("<p>No finding.</p>")
    number = 0
    for server, findings in group_by_server(diagnosis, evidence):
        heading = server if server == UNKNOWN_SERVER else f"Server {server}"
        parts.append(
            f'<section class="server"><h3>{html_cell(heading)} '
            f"({html_cell(plural(len(findings), 'finding'))})</h3>"
        )
        for finding in findings:
            number += 1
            parts.append(finding_html(finding, number=number))
        parts.append("</section>")
    parts.append("</section>")
    return "".join(parts)


def _script_section(diagnosis: Diagnosis) -> str:
    if not any(finding.remediation for finding in diagnosis.findings):
        return ""
    return (
        '<section id="remediation"><h2>Remediation script</h2>'
        "<p>Run it in the Exchange Management Shell. Changes carry <code>-WhatIf</code>: "
        "read what they would do, then remove <code>-WhatIf</code> to apply them."
        '<button type="button" class="copy" data-target="script-all">Copy</button></p>'
        f'<pre id="script-all"><code>{html_cell_lines(diagnosis.to_script())}</code></pre>'
        "</section>"
    )


def _timeline_section(evidence: Evidence | None) -> str:
    parts = ['<section id="timeline"><h2>TLS outcomes per connector over time</h2>']
    if evidence is None:
        parts.append("<p><em>Give the evidence to draw the timeline.</em></p>")
    else:
        parts.append(
            '<p class="legend"><span style="background:#2e7d32"></span> every TLS negotiation '
            'succeeded <span style="background:#c62828"></span> every one failed '
            '<span style="background:#ef8f00"></span> both <span style="background:#9e9e9e">'
            "</span> no TLS outcome logged. Hover a cell for its counts.</p>"
        )
        parts.append(timeline_svg(evidence.sessions))
    parts.append("</section>")
    return "".join(parts)


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
        columns = ("thumbprint", "services", "subject", "not_after", "has_private_key", "status")
        head = "".join(f"<th>{html_cell(c)}</th>" for c in ("selected for", *columns))
        body = []
        for certificate in context.certificates:
            row = pick([certificate_record(certificate)], columns)[0]
            chosen_for = selected.get(id(certificate), [])
            mark = (
                "&#10004; " + html_cell(", ".join(f"send connector {n!r}" for n in chosen_for))
                if chosen_for
                else ""
            )
            css = ' class="selected"' if chosen_for else ""
            cells = "".join(f"<td>{html_cell(row[c])}</td>" for c in columns)
            body.append(f"<tr{css}><td>{mark}</td>{cells}</tr>")
        parts.append(
            "<p>&#10004; marks the certificate Exchange selects for each send connector "
            "(by its TlsCertificateName, else its FQDN).</p>"
            f'<table class="certificates"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _problems_section(diagnosis: Diagnosis) -> str:
    problems = diagnosis.problems
    if not problems:
        return ""
    shown = records(problems[:SHOWN_PROBLEMS])
    rest = more(len(problems), SHOWN_PROBLEMS)
    return (
        '<section id="problems"><h2>What could not be read with certainty</h2>'
        + html_table(shown)
        + (f"<p>{html_cell(rest)} (all of them in --format json)</p>" if rest else "")
        + "</section>"
    )


def report(diagnosis: Diagnosis, evidence: Evidence | None = None) -> str:
    """Write the diagnosis as one self-contained HTML page (no network, no CDN).

    With the evidence, the page also draws the timeline and lists the certificates.
    """
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_script_hash()}'; base-uri 'none'; form-action 'none'"
    )
    verdict = diagnosis.verdict.value
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>exchange_tls report: {verdict}</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<header><h1>Outbound SMTP TLS diagnosis</h1>",
            f'<p class="meta">Written by exchange_tls {html_cell(__version__)}; '
            f"validity judged at {html_cell(_iso(diagnosis.now))}.</p></header>",
            _verdict_section(diagnosis),
            _coverage_section(diagnosis),
            _findings_section(diagnosis, evidence),
            _script_section(diagnosis),
            _timeline_section(evidence),
            _certificates_section(evidence, diagnosis),
            _problems_section(diagnosis),
            f"<script>{_COPY_SCRIPT}</script>",
            "</body></html>\n",
        ]
    )
