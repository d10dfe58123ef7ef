"""The TLS reports' overview: sessions per day and result type, as ``summary`` prints it.

Each report is counted once (a report read as ``.json`` and as its mail is one report),
under the day its range starts (UTC). Successful sessions come from the policies'
summaries; failed sessions per result type from the failure details, so a type a sender
invents is counted under its own name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import attrs

from exchange_tls.diagnosis.coverage import plural
from exchange_tls.tls_reports.models import TlsReport

__all__ = ["TlsReportCount", "TlsReportSummary", "tls_report_summary"]

#: The result-type column's value for the sessions that negotiated TLS.
SUCCESSFUL = "(successful)"


@attrs.frozen(kw_only=True)
class TlsReportCount:
    """Sessions of one day and one result type, and the reports and senders behind them."""

    day: str
    result_type: str
    sessions: int
    reports: int
    senders: int


@attrs.frozen(kw_only=True)
class TlsReportSummary:
    """What the TLS reports say, per day and result type.

    >>> from exchange_tls import parse_tls_reports
    >>> reports = parse_tls_reports(
    ...     '{"organization-name": "Google Inc.", "report-id": "1", "date-range": '
    ...     '{"start-datetime": "2024-06-01T00:00:00Z", "end-datetime": "2024-06-01T23:59:59Z"},'
    ...     '"policies": [{"policy": {"policy-type": "no-policy-found"}, "summary": '
    ...     '{"total-successful-session-count": 40, "total-failure-session-count": 2},'
    ...     '"failure-details": [{"result-type": "certificate-expired",'
    ...     '"failed-session-count": 2}]}]}'
    ... )
    >>> print(tls_report_summary(reports))
    1 TLS report from 1 sender: 40 sessions negotiated TLS, 2 failed
    day         result_type          sessions  reports  senders
    ----------  -------------------  --------  -------  -------
    2024-06-01  (successful)         40        1        1
    2024-06-01  certificate-expired  2         1        1
    """

    reports: int
    senders: int
    successful_sessions: int
    failed_sessions: int
    rows: tuple[TlsReportCount, ...]

    def records(self) -> list[dict[str, object]]:
        """Return the rows as records, for tables and JSON."""
        return [attrs.asdict(row) for row in self.rows]

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready description."""
        return {
            "reports": self.reports,
            "senders": self.senders,
            "successful_sessions": self.successful_sessions,
            "failed_sessions": self.failed_sessions,
            "by_day_and_result_type": self.records(),
        }

    def __str__(self) -> str:
        from exchange_tls.views.tables import text_table

        heading = (
            f"{plural(self.reports, 'TLS report')} from {plural(self.senders, 'sender')}: "
            f"{self.successful_sessions} sessions negotiated TLS, {self.failed_sessions} failed"
        )
        return heading + ("\n" + text_table(self.records()) if self.rows else "")


def tls_report_summary(reports: Iterable[TlsReport]) -> TlsReportSummary:
    """Count the reports' sessions per day and result type (see the module's docstring)."""
    seen: set[tuple[object, ...]] = set()
    sessions: dict[tuple[str, str], int] = defaultdict(int)
    counted_reports: dict[tuple[str, str], set[int]] = defaultdict(set)
    counted_senders: dict[tuple[str, str], set[str]] = defaultdict(set)
    senders: set[str] = set()
    total = successful = failed = 0
    for report in reports:
        key = ((report.organization_name or "").casefold(), report.report_id, report.start)
        if report.report_id is not None and key in seen:
            continue
        seen.add(key)
        total += 1
        sender = report.organization_name or "(unnamed sender)"
        senders.add(sender)
        day = "(unknown)" if report.start is None else f"{report.start:%Y-%m-%d}"
        successful += report.successful_sessions
        failed += report.failed_sessions
        tallies = [(SUCCESSFUL, report.successful_sessions)]
        tallies += [
            (str(detail.result_type), detail.failed_session_count or 0)
            for detail in report.failure_details
        ]
        for kind, count in tallies:
            cell = (day, kind)
            sessions[cell] += count
            counted_reports[cell].add(total)
            counted_senders[cell].add(sender)
    rows = tuple(
        TlsReportCount(
            day=day,
            result_type=kind,
            sessions=sessions[(day, kind)],
            reports=len(counted_reports[(day, kind)]),
            senders=len(counted_senders[(day, kind)]),
        )
        for day, kind in sorted(
            sessions, key=lambda cell: (cell[0], cell[1] != SUCCESSFUL, cell[1])
        )
    )
    return TlsReportSummary(
        reports=total,
        senders=len(senders),
        successful_sessions=successful,
        failed_sessions=failed,
        rows=rows,
    )
