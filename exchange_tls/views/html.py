"""HTML fragments: a finding, a diagnosis, a session, a record, a list; servers of findings.

The notebook shows these, and the report (:mod:`exchange_tls.views.page`) is made of
them. A finding opens with its headline (title, what it affects, the impact, the one fix
with a copy button); its evidence, capped at :data:`SHOWN_EVIDENCE` lines with "N more",
and its full plan follow, folded.

Every value that comes from evidence goes through :func:`~exchange_tls.views.tables.html_cell`
(HTML-escaped, control characters shown as escapes).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.model import Diagnosis, Finding
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.views.headline import (
    evidence_more,
    fix_step,
    headline_facts,
    is_reboot,
    reboot_note,
    subject_rows,
)
from exchange_tls.views.records import (
    record,
    records,
    server_of_queue,
    server_of_session,
    session_record,
)
from exchange_tls.views.tables import header, html_cell, html_table
from exchange_tls.views.text import coverage_line, more, seen_line
from exchange_tls.views.timeline import timeline_svg

__all__ = [
    "SHOWN_EVIDENCE",
    "SHOWN_ROWS",
    "UNKNOWN_SERVER",
    "diagnosis_html",
    "finding_html",
    "group_by_server",
    "html_cell_lines",
    "known_servers",
    "list_html",
    "record_html",
    "report",
    "session_html",
    "timeline_svg",
]

_SEVERITY_COLOURS = {"error": "#b00020", "warning": "#8a4f00", "info": "#00639b"}
#: Evidence lines listed per finding; past this, the page says how many more the JSON has.
SHOWN_EVIDENCE = 10
#: Rows a notebook table shows; a DataFrame (``to_dataframe()``) holds them all.
SHOWN_ROWS = 1000
UNKNOWN_SERVER = "Server not named in the evidence"


def html_cell_lines(text: str) -> str:
    """Escape text of several lines for a ``<pre>`` block, keeping its newlines."""
    return "\n".join(html_cell(line, limit=None) for line in text.split("\n"))


def _evidence_table(finding: Finding) -> str:
    rows = "".join(
        "<tr>"
        f"<td><code>{html_cell(ref.source or '(derived)')}</code></td>"
        f"<td>{html_cell(ref.claim)}</td>"
        f'<td><code class="line">{html_cell(ref.excerpt)}</code></td>'
        "</tr>"
        for ref in finding.evidence[:SHOWN_EVIDENCE]
    )
    rest = evidence_more(finding, SHOWN_EVIDENCE)
    if rest:
        rows += f'<tr class="more"><td colspan="3">{html_cell(rest)}</td></tr>'
    return (
        '<table class="evidence"><thead><tr><th>Where</th><th>What it shows</th>'
        f"<th>The line</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _plan(finding: Finding) -> tuple[str, list[str]]:
    """Return the plan as pasteable text (no reboot in it) and the reboot notes apart."""
    script = "\n".join(
        f"# {step.purpose.value}" + (f": {step.note}" if step.note else "") + "\n"
        f"{step.command.render()}"
        for step in finding.remediation
        if not is_reboot(step)
    )
    notes = [reboot_note(step) for step in finding.remediation if is_reboot(step)]
    return script, notes


def _copy_block(target: str, text: str, label: str) -> str:
    return (
        f'<div class="script"><p>{label} '
        f'<button type="button" class="copy" data-target="{target}">Copy</button></p>'
        f'<pre id="{target}"><code>{html_cell_lines(text)}</code></pre></div>'
    )


def finding_html(
    finding: Finding, *, number: int | None = None, evidence: Evidence | None = None
) -> str:
    """Render one finding: its headline and fix, then its evidence and full plan, folded."""
    colour = _SEVERITY_COLOURS[finding.severity.value]
    anchor = f' id="finding-{number}"' if number is not None else ""
    suffix = f"-{number}" if number is not None else ""
    facts = "".join(
        f"<dt>{html_cell(name)}</dt><dd>{html_cell(value)}</dd>"
        for name, value in headline_facts(finding, evidence)
    )
    parts = [
        f'<article class="finding"{anchor} data-rule="{html_cell(finding.rule_id)}">',
        f'<h3><span class="severity" style="background:{colour}">'
        f"{html_cell(finding.severity.value.upper())}</span> {html_cell(finding.title)}</h3>",
        f"<p>{html_cell(finding.summary)}</p>",
        f'<dl class="facts">{facts}</dl>' if facts else "",
    ]
    step = fix_step(finding)
    if step is not None:
        parts.append(_copy_block(f"fix{suffix}", step.command.render(), "Fix"))
    seen = seen_line(finding)
    detail = [
        f"<p><small>Rule <code>{html_cell(finding.rule_id)}</code>, "
        f"{html_cell(finding.confidence.value)} confidence"
        + (f"; {html_cell(seen)}" if seen else "")
        + ".</small></p>"
    ]
    if finding.subjects is not None and finding.subjects.distinct > 1:
        detail.append(
            f"<h4>By {html_cell(finding.subjects.kind)}</h4>"
            + html_table(subject_rows(finding.subjects), css_class="subjects")
        )
    detail.append(f"<h4>Evidence</h4>{_evidence_table(finding)}")
    if finding.remediation:
        script, notes = _plan(finding)
        if script:
            detail.append(
                _copy_block(f"script{suffix}", script, "The whole plan: check, fix, verify")
            )
        detail += [f'<p class="note">{html_cell(note)}</p>' for note in notes]
    shown = min(len(finding.evidence), SHOWN_EVIDENCE)
    total = len(finding.evidence) + finding.evidence_omitted
    parts.append(
        f"<details><summary>Evidence ({shown} of {total} lines) and the whole "
        f"plan</summary>{''.join(detail)}</details>"
    )
    parts.append("</article>")
    return "".join(parts)


def diagnosis_html(diagnosis: Diagnosis) -> str:
    """Render a diagnosis for a notebook: the verdict, each finding, then what was read."""
    reasons = "".join(f"<li>{html_cell(reason)}</li>" for reason in diagnosis.reasons)
    advice = "".join(f"<li>Next: {html_cell(item)}</li>" for item in diagnosis.advice)
    return (
        f"<p><b>Verdict: {html_cell(diagnosis.verdict.value)}</b></p>"
        + (f"<ul>{reasons}{advice}</ul>" if reasons or advice else "")
        + "".join(
            finding_html(finding, number=number)
            for number, finding in enumerate(diagnosis.findings, start=1)
        )
        + f"<p><small>{html_cell(coverage_line(diagnosis.coverage))}</small></p>"
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


def record_html(item: object) -> str:
    """Render one model (a certificate, a connector, a queue …) as a two-column table."""
    rows = [{"property": header(name), "value": value} for name, value in record(item).items()]
    return html_table(rows, css_class="record")


def list_html(items: Iterable[object]) -> str:
    """Render a list of models as a table of its first :data:`SHOWN_ROWS` rows."""
    listed = list(items)
    rest = more(len(listed), SHOWN_ROWS)
    note = f"<p><em>{html_cell(rest)} (to_dataframe() has them all)</em></p>" if rest else ""
    return html_table(records(listed[:SHOWN_ROWS])) + note


def report(diagnosis: Diagnosis, evidence: Evidence | None = None) -> str:
    """Write the diagnosis as one self-contained HTML page (see :mod:`exchange_tls.views.page`)."""
    from exchange_tls.views.page import report_page  # the page is made of this module's parts

    return report_page(diagnosis, evidence)


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
        names.append(finding.server)
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
        if finding.server and finding.server.casefold() in by_fold:
            named.add(by_fold[finding.server.casefold()])
        if not named and len(servers) == 1:
            named = {servers[0]}
        for server in sorted(named, key=str.casefold) or [UNKNOWN_SERVER]:
            groups[server].append(finding)
    return sorted(groups.items(), key=lambda item: (item[0] == UNKNOWN_SERVER, item[0].casefold()))


def server_heading(server: str, findings: list[Finding]) -> str:
    """Say whose findings follow: ``Server EX01 (1 finding)``."""
    heading = server if server == UNKNOWN_SERVER else f"Server {server}"
    return f"{heading} ({plural(len(findings), 'finding')})"
