"""An RFC 8460 report's JSON document, read into models at its JSON pointers.

Each key is read for what RFC 8460 §4.4 says it holds. A value of the wrong shape is a
problem at its JSON pointer (and line, for a text small enough to keep positions) and
reads as unknown (``None``); a report without ``policies`` is kept, with an error, so that
what it does say is not lost. ``mx-host`` is a list in the RFC's schema and a string in its
own example; both are read.

Bounds: a report keeps :data:`MAX_FAILURE_DETAILS` failure details as they are; the rest
are folded by result type, MX host, receiving address and reason (their sessions added
up), and past :data:`MAX_FOLDED` groups only counted. A report of 100,000 failure details
is read in bounded memory, and nothing it counts is lost.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import json.scanner
from typing import Any

import attrs

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.dates import from_iso
from exchange_tls.sources import SourceRef
from exchange_tls.tls_reports.models import (
    FailureDetail,
    TlsPolicyType,
    TlsReport,
    TlsReportPolicy,
)
from exchange_tls.tls_results import result_type

__all__ = ["MAX_FAILURE_DETAILS", "MAX_FOLDED", "json_reports"]

#: The failure details of one report kept as they are.
MAX_FAILURE_DETAILS = 1000
#: The groups the failure details beyond those are folded into; past these, only counted.
MAX_FOLDED = 1000
# Texts up to this size are parsed keeping the position of every object, for lines.
_POSITIONS_UP_TO = 1024 * 1024


# -- JSON with positions ------------------------------------------------------------------


def _load_with_positions(text: str) -> tuple[Any, dict[int, int]]:
    """Parse JSON keeping where each object starts (by ``id``), with the pure-Python scanner.

    Used for small texts only: the C scanner is faster and keeps no positions.
    """
    starts: dict[int, int] = {}
    decoder = json.JSONDecoder()
    parse_object = decoder.parse_object  # type: ignore[attr-defined]

    def remember(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        start = s_and_end[1] - 1
        value, end = parse_object(s_and_end, *args, **kwargs)
        starts[id(value)] = start
        return value, end

    # The pure-Python scanner calls the decoder's parse_object; the C one does not.
    decoder.parse_object = remember  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text), starts


@attrs.define
class _Reading:
    """What one report is read with: its text, source, problems and object positions."""

    text: str
    source: str
    collector: ProblemCollector
    starts: dict[int, int]
    _breaks: list[int] | None = None

    def line_of(self, value: object) -> int | None:
        """Return the line an object of the document starts on, when positions were kept."""
        start = self.starts.get(id(value))
        if start is None:
            return None
        if self._breaks is None:
            self._breaks = [index for index, char in enumerate(self.text) if char == "\n"]
        return bisect.bisect_left(self._breaks, start) + 1

    def ref(self, value: object, pointer: str) -> SourceRef:
        return SourceRef(self.source, self.line_of(value), pointer=pointer)

    def problem(
        self,
        message: str,
        pointer: str,
        value: object = None,
        severity: Severity = Severity.WARNING,
        code: str = "tls-report-value",
    ) -> None:
        where = f"at {pointer or '/'}: "
        self.collector.report(
            Problem(
                message=f"{where}{message}",
                source=self.source,
                line=self.line_of(value) if value is not None else None,
                severity=severity,
                code=code,
            )
        )


def _pointer(*parts: object) -> str:
    """Return an RFC 6901 pointer from keys and indexes (``~`` and ``/`` escaped)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _text(reading: _Reading, holder: dict[str, Any], key: str, pointer: str) -> str | None:
    value = holder.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        reading.problem(
            f"{key} should be text, not {type(value).__name__}; read as unknown",
            _pointer_join(pointer, key),
            holder,
        )
        return None
    return value.strip() or None


def _pointer_join(pointer: str, key: str) -> str:
    return pointer + _pointer(key)


def _count(reading: _Reading, holder: dict[str, Any], key: str, pointer: str) -> int | None:
    value = holder.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        reading.problem(
            f"{key} should be a count (a whole number, 0 or more), not {value!r:.40}; "
            "read as unknown",
            _pointer_join(pointer, key),
            holder,
        )
        return None
    return value


def _texts(reading: _Reading, holder: dict[str, Any], key: str, pointer: str) -> tuple[str, ...]:
    value = holder.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    reading.problem(
        f"{key} should be text or a list of text; left out",
        _pointer_join(pointer, key),
        holder,
    )
    return ()


def _moment(
    reading: _Reading, holder: dict[str, Any], key: str, pointer: str
) -> dt.datetime | None:
    text = _text(reading, holder, key, pointer)
    if text is None:
        return None
    try:
        moment = from_iso(text)
    except (ValueError, IndexError):
        reading.problem(
            f"{key} {text!r:.60} is not an RFC 3339 date-time; read as unknown",
            _pointer_join(pointer, key),
            holder,
        )
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError:
        return None


# -- the document -----------------------------------------------------------------------


def _detail(reading: _Reading, item: dict[str, Any], pointer: str) -> FailureDetail | None:
    kind = _text(reading, item, "result-type", pointer)
    if kind is None:
        reading.problem("a failure detail without a result-type; left out", pointer, item)
        return None
    return FailureDetail(
        result_type=result_type(kind),
        sending_mta_ip=_text(reading, item, "sending-mta-ip", pointer),
        receiving_mx_hostname=_host(_text(reading, item, "receiving-mx-hostname", pointer)),
        receiving_mx_helo=_text(reading, item, "receiving-mx-helo", pointer),
        receiving_ip=_text(reading, item, "receiving-ip", pointer),
        failed_session_count=_count(reading, item, "failed-session-count", pointer),
        failure_reason_code=_text(reading, item, "failure-reason-code", pointer),
        additional_information=_text(reading, item, "additional-information", pointer),
        pointer=pointer,
        source=reading.ref(item, pointer),
    )


def _host(name: str | None) -> str | None:
    """Return an MX host name as DNS compares it: no trailing dot, lower case."""
    if name is None:
        return None
    return name.rstrip(".").casefold() or None


def _fold_key(detail: FailureDetail) -> tuple[str, str, str, str]:
    return (
        str(detail.result_type),
        detail.receiving_mx_hostname or "",
        detail.receiving_ip or "",
        detail.failure_reason_code or "",
    )


class _Details:
    """The failure details of a report, within the bounds (see the module's theory, 3)."""

    def __init__(self) -> None:
        self.kept: list[FailureDetail] = []
        self.folded: dict[tuple[str, str, str, str], FailureDetail] = {}
        self.folded_count = 0
        self.omitted = 0
        self.omitted_sessions = 0

    def add(self, detail: FailureDetail) -> None:
        if len(self.kept) < MAX_FAILURE_DETAILS:
            self.kept.append(detail)
            return
        self.folded_count += 1
        key = _fold_key(detail)
        group = self.folded.get(key)
        if group is None and len(self.folded) >= MAX_FOLDED:
            self.omitted += 1
            self.omitted_sessions += detail.failed_session_count or 0
            return
        if group is None:
            # The group stands for several senders: the first one's address is not kept.
            self.folded[key] = attrs.evolve(detail, sending_mta_ip=None, folded=1)
            return
        self.folded[key] = attrs.evolve(
            group,
            failed_session_count=(group.failed_session_count or 0)
            + (detail.failed_session_count or 0),
            folded=group.folded + 1,
        )


def _policy(
    reading: _Reading, item: dict[str, Any], pointer: str, details: _Details
) -> TlsReportPolicy:
    described = item.get("policy")
    policy_pointer = _pointer_join(pointer, "policy")
    if described is None:
        reading.problem("a policy without its 'policy' description", pointer, item)
        described = {}
    elif not isinstance(described, dict):
        reading.problem("'policy' should be an object; read as unknown", policy_pointer, item)
        described = {}
    kind_text = _text(reading, described, "policy-type", policy_pointer)
    kind: TlsPolicyType | str | None = None
    if kind_text is not None:
        kind = next((t for t in TlsPolicyType if t.value == kind_text.casefold()), kind_text)
    summary = item.get("summary")
    summary_pointer = _pointer_join(pointer, "summary")
    if summary is None:
        reading.problem("a policy without its 'summary' counts", pointer, item)
        summary = {}
    elif not isinstance(summary, dict):
        reading.problem("'summary' should be an object; read as unknown", summary_pointer, item)
        summary = {}
    listed = item.get("failure-details")
    listed_pointer = _pointer_join(pointer, "failure-details")
    if listed is not None and not isinstance(listed, list):
        reading.problem("'failure-details' should be a list; left out", listed_pointer, item)
        listed = None
    kept_before = len(details.kept)
    for index, entry in enumerate(listed or ()):
        entry_pointer = f"{listed_pointer}/{index}"
        if not isinstance(entry, dict):
            reading.problem("a failure detail should be an object; left out", entry_pointer, item)
            continue
        detail = _detail(reading, entry, entry_pointer)
        if detail is not None:
            details.add(detail)
    return TlsReportPolicy(
        policy_type=kind,
        policy_string=_texts(reading, described, "policy-string", policy_pointer),
        policy_domain=_host(_text(reading, described, "policy-domain", policy_pointer)),
        mx_hosts=tuple(
            host
            for host in (_host(h) for h in _texts(reading, described, "mx-host", policy_pointer))
            if host
        ),
        successful_sessions=_count(
            reading, summary, "total-successful-session-count", summary_pointer
        ),
        failed_sessions=_count(reading, summary, "total-failure-session-count", summary_pointer),
        failure_details=tuple(details.kept[kept_before:]),
        pointer=pointer,
        source=reading.ref(item, pointer),
    )


def _report(reading: _Reading, document: dict[str, Any], pointer: str) -> TlsReport:
    date_range = document.get("date-range")
    range_pointer = _pointer_join(pointer, "date-range")
    start = end = None
    if date_range is None:
        reading.problem("the report has no date-range", pointer, document)
    elif not isinstance(date_range, dict):
        reading.problem("date-range should be an object; read as unknown", range_pointer, document)
    else:
        start = _moment(reading, date_range, "start-datetime", range_pointer)
        end = _moment(reading, date_range, "end-datetime", range_pointer)
    listed = document.get("policies")
    policies_pointer = _pointer_join(pointer, "policies")
    policies: list[TlsReportPolicy] = []
    details = _Details()
    if listed is None:
        reading.problem(
            "the report has no 'policies': it counts no sessions and names no failure",
            pointer,
            document,
            severity=Severity.ERROR,
            code="tls-report-policies",
        )
    elif not isinstance(listed, list):
        reading.problem(
            "'policies' should be a list; the report counts no sessions",
            policies_pointer,
            document,
            severity=Severity.ERROR,
            code="tls-report-policies",
        )
    else:
        for index, item in enumerate(listed):
            item_pointer = f"{policies_pointer}/{index}"
            if not isinstance(item, dict):
                reading.problem("a policy should be an object; left out", item_pointer, document)
                continue
            policies.append(_policy(reading, item, item_pointer, details))
    if details.folded_count:
        policies = _with_folded(policies, details)
        reading.problem(
            f"the report lists {MAX_FAILURE_DETAILS + details.folded_count:,} failure details; "
            f"the first {MAX_FAILURE_DETAILS:,} are kept and {details.folded_count:,} more are "
            f"folded by result type, MX host, address and reason into {len(details.folded):,}"
            + (
                f" ({details.omitted:,} past {MAX_FOLDED:,} groups are only counted: "
                f"{details.omitted_sessions:,} sessions)"
                if details.omitted
                else ""
            )
            + "; every session is counted",
            policies_pointer,
            severity=Severity.INFO,
            code="tls-report-folded",
        )
    return TlsReport(
        organization_name=_text(reading, document, "organization-name", pointer),
        start=start,
        end=end,
        contact_info=_text(reading, document, "contact-info", pointer),
        report_id=_text(reading, document, "report-id", pointer),
        policies=tuple(policies),
        source=SourceRef(reading.source, reading.line_of(document), pointer=pointer),
    )


def _with_folded(policies: list[TlsReportPolicy], details: _Details) -> list[TlsReportPolicy]:
    """Attach each folded group to the policy its first detail belongs to."""
    by_policy: dict[str, list[FailureDetail]] = {}
    for group in details.folded.values():
        owner = group.pointer.rsplit("/failure-details/", 1)[0]
        by_policy.setdefault(owner, []).append(group)
    changed = []
    for index, policy in enumerate(policies):
        extra = by_policy.get(policy.pointer, [])
        last = index == len(policies) - 1
        changed.append(
            attrs.evolve(
                policy,
                failure_details=(*policy.failure_details, *extra),
                omitted_details=details.omitted if last else 0,
                omitted_sessions=details.omitted_sessions if last else 0,
            )
        )
    return changed


def json_reports(text: str, source: str, collector: ProblemCollector) -> list[TlsReport]:
    """Read the reports of a JSON text (one report, or a list of them) into ``collector``."""
    text = text.lstrip("\ufeff")
    starts: dict[int, int] = {}
    try:
        if len(text) <= _POSITIONS_UP_TO:
            document, starts = _load_with_positions(text)
        else:
            document = json.loads(text)
    except json.JSONDecodeError as error:
        lines = text.split("\n", error.lineno)
        collector.report(
            Problem(
                message=f"the report is not JSON: {error.msg}",
                source=source,
                line=error.lineno,
                column=error.colno,
                line_text=lines[error.lineno - 1] if len(lines) >= error.lineno else None,
                severity=Severity.ERROR,
                code="tls-report-json",
            )
        )
        return []
    except RecursionError:
        collector.report(
            Problem(
                message="the report is nested too deeply to read",
                source=source,
                severity=Severity.ERROR,
                code="tls-report-json",
            )
        )
        return []
    reading = _Reading(text=text, source=source, collector=collector, starts=starts)
    documents: list[tuple[object, str]]
    if isinstance(document, list):
        documents = [(item, _pointer(index)) for index, item in enumerate(document)]
    else:
        documents = [(document, "")]
    reports = []
    for item, pointer in documents:
        if not isinstance(item, dict):
            reading.problem(
                "not an SMTP TLS report (RFC 8460): not a JSON object",
                pointer,
                severity=Severity.ERROR,
                code="tls-report-json",
            )
            continue
        reports.append(_report(reading, item, pointer))
    return reports
