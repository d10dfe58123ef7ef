"""The timeline of TLS outcomes per connector and hour, counted from the summaries' tallies.

A summarised log keeps only a few sessions whole; the rest are counted (ordinary sessions
in tallies, unusual ones as occurrences of their signature). The timeline counts all of
them, so its totals are the coverage's: an hour with 40 failed and 2 ok sessions is drawn
mostly failed, whatever few sessions were kept whole. Counts are written in a table beside
the picture, readable without hovering, on a phone and on paper.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence

import attrs

from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.protocol_log.summary import SessionSummary, signature_of
from exchange_tls.views.tables import html_cell

__all__ = ["OUTCOMES", "TIMELINE_HOURS", "Outcomes", "outcomes", "timeline_svg", "timeline_table"]

#: Up to this many hours, the timeline has a column for every hour; past it, only for the
#: hours with sessions.
TIMELINE_HOURS = 14 * 24
#: Connectors the table lists by name; the rest are added up in one row.
SHOWN_CONNECTORS = 20
#: What a session's TLS came to: negotiated, failed, or neither (no TLS, a refused
#: connection, an error reply before TLS was logged).
OUTCOMES = ("ok", "failed", "other")


@attrs.frozen(kw_only=True)
class Outcomes:
    """Sessions by connector, hour and TLS outcome; every session counted once."""

    #: (connector folded, hour) -> outcome -> sessions.
    cells: dict[tuple[str, dt.datetime], Counter[str]]
    #: Connector folded -> the name as the logs write it.
    names: dict[str, str]

    def total(self, outcome: str | None = None) -> int:
        """Return the sessions counted, of one outcome or of all."""
        return sum(
            sum(counts.values()) if outcome is None else counts[outcome]
            for counts in self.cells.values()
        )

    def by_connector(self) -> dict[str, Counter[str]]:
        """Return the outcomes added up per connector (folded)."""
        totals: dict[str, Counter[str]] = defaultdict(Counter)
        for (connector, _), counts in self.cells.items():
            totals[connector].update(counts)
        return dict(totals)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


def _outcome_of_signature(outcome: str) -> str:
    return {"ok": "ok", "tls-failed": "failed"}.get(outcome, "other")


def _from_sessions(sessions: Sequence[SmtpSession], *, ordinary: bool) -> Outcomes:
    cells: dict[tuple[str, dt.datetime], Counter[str]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for session in sessions:
        if not session.rows:
            continue
        outcome = _outcome_of_signature(signature_of(session)[2])
        if outcome == "ok" and not ordinary:
            continue  # already in the tallies
        key = session.connector_id.casefold()
        names.setdefault(key, session.connector_id)
        cells[key, _hour(session.start)][outcome] += 1
    return Outcomes(cells=cells, names=names)


def _from_summary(summary: SessionSummary) -> Outcomes:
    # Ordinary sessions kept whole are in the tallies too; with no tallies at all, every
    # session was kept whole (keep_sessions=True) and each counts from the sessions.
    counted = _from_sessions(summary.sessions, ordinary=not summary.tallies)
    cells, names = counted.cells, counted.names
    for tally in summary.tallies:
        key = tally.connector_id.casefold()
        names.setdefault(key, tally.connector_id)
        cells[key, _hour(tally.hour)]["ok"] += tally.sessions
    for signature, found in summary.occurrences:
        _, connector, outcome, _, _ = signature
        names.setdefault(connector, connector)
        for hour, sessions in found.hours:
            cells[connector, _hour(hour)][_outcome_of_signature(outcome)] += sessions
    return Outcomes(cells=cells, names=names)


def outcomes(source: Evidence | SessionSummary | Sequence[SmtpSession]) -> Outcomes:
    """Count sessions by connector, hour and TLS outcome.

    From evidence or a summary, every session summarised is counted, kept whole or not;
    from a list of sessions, those sessions.
    """
    if isinstance(source, Evidence):
        if source.summary is not None:
            return _from_summary(source.summary)
        return _from_sessions(source.sessions, ordinary=True)
    if isinstance(source, SessionSummary):
        return _from_summary(source)
    return _from_sessions(source, ordinary=True)


def _state(counts: Counter[str]) -> str:
    ok, failed = counts["ok"], counts["failed"]
    if ok and failed:
        return "mixed"
    return "failed" if failed else "ok" if ok else "unknown"


def timeline_svg(source: Evidence | SessionSummary | Sequence[SmtpSession]) -> str:
    """Draw TLS outcomes per connector per hour as inline SVG.

    A cell is green when every TLS negotiation in it succeeded, red when every one failed,
    amber when both happened, and grey when sessions did not log a TLS outcome. Up to two
    weeks, every hour has a column, quiet ones empty; over a longer span only the hours
    with sessions do, and the caption says so. :func:`timeline_table` writes the counts.
    """
    counted = outcomes(source)
    if not counted.cells:
        return "<p><em>No protocol-log sessions: no timeline.</em></p>"
    hours = sorted({hour for _, hour in counted.cells})
    span = int((hours[-1] - hours[0]) / dt.timedelta(hours=1)) + 1
    contiguous = span <= TIMELINE_HOURS
    if contiguous:
        hours = [hours[0] + dt.timedelta(hours=n) for n in range(span)]
    label_width, cell, row_height, top = 170, 14, 20, 30
    width = max(label_width + len(hours) * cell + 10, label_width + 140)
    connectors = sorted(counted.names.items())
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
    for row, (key, name) in enumerate(connectors):
        y = top + row * row_height
        shown = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<text x="0" y="{y + cell - 2}" class="label">{html_cell(shown)}'
            f"<title>{html_cell(name)}</title></text>"
        )
        for column, moment in enumerate(hours):
            counts = counted.cells.get((key, moment))
            if not counts:
                continue
            detail = ", ".join(f"{counts[what]} {what}" for what in OUTCOMES if counts[what])
            parts.append(
                f'<rect x="{label_width + column * cell}" y="{y}" width="{cell - 2}" '
                f'height="{cell}" class="cell {_state(counts)}">'
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


def timeline_table(source: Evidence | SessionSummary | Sequence[SmtpSession]) -> str:
    """Write the timeline's counts per connector: sessions, TLS ok and failed, the failing hours.

    Bounded: the first :data:`SHOWN_CONNECTORS` connectors by failures, the rest added up.
    """
    counted = outcomes(source)
    if not counted.cells:
        return ""
    failing_hours: dict[str, list[dt.datetime]] = defaultdict(list)
    for (connector, hour), counts in counted.cells.items():
        if counts["failed"]:
            failing_hours[connector].append(hour)
    totals = sorted(
        counted.by_connector().items(),
        key=lambda item: (-item[1]["failed"], -sum(item[1].values()), item[0]),
    )
    rows = []
    for key, counts in totals[:SHOWN_CONNECTORS]:
        hours = sorted(failing_hours.get(key, []))
        when = (
            f"{hours[0]:%Y-%m-%d %H:00} to {hours[-1]:%Y-%m-%d %H:00} UTC ({len(hours)} h)"
            if hours
            else ""
        )
        rows.append((counted.names[key], counts, when))
    rest = totals[SHOWN_CONNECTORS:]
    if rest:
        added: Counter[str] = Counter()
        for _, counts in rest:
            added.update(counts)
        rows.append((f"and {len(rest)} more connectors", added, ""))
    body = "".join(
        f"<tr><td>{html_cell(name)}</td><td class=num>{sum(counts.values())}</td>"
        + "".join(f"<td class=num>{counts[what]}</td>" for what in OUTCOMES)
        + f"<td>{html_cell(when)}</td></tr>"
        for name, counts, when in rows
    )
    all_counts = Counter({what: counted.total(what) for what in OUTCOMES})
    foot = (
        f"<tr><th>All</th><td class=num>{counted.total()}</td>"
        + "".join(f"<td class=num>{all_counts[what]}</td>" for what in OUTCOMES)
        + "<td></td></tr>"
    )
    return (
        '<div class="scroll"><table class="outcomes"><thead><tr><th>Connector</th>'
        "<th>Sessions</th><th>TLS negotiated</th><th>TLS failed</th><th>Other</th>"
        f"<th>Hours with TLS failures</th></tr></thead><tbody>{body}</tbody>"
        f"<tfoot>{foot}</tfoot></table></div>"
    )
