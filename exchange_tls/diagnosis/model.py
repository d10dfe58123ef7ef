"""Findings and the diagnosis that holds them."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

import attrs

from exchange_tls import display
from exchange_tls.diagnosis.weight import FaultSide, Impact, Share, Subjects
from exchange_tls.errors import Problem, Severity
from exchange_tls.remediation.steps import RemediationStep
from exchange_tls.sources import SourceRef

if TYPE_CHECKING:
    from exchange_tls.diagnosis.catalogue import Rule
    from exchange_tls.diagnosis.evidence import Evidence

__all__ = [
    "SCHEMA_VERSION",
    "Confidence",
    "Counts",
    "Coverage",
    "Diagnosis",
    "EvidenceRef",
    "Finding",
    "RuleGap",
    "Verdict",
    "schema",
]

#: The version of the JSON document that :meth:`Diagnosis.to_dict` writes; its JSON
#: Schema ships as ``exchange_tls/data/diagnosis.schema.json`` (:func:`schema`).
#: Version 2 added the verdict, the coverage and the problems, and the occurrences and
#: times of each finding; version 3 each finding's weight: ``subjects``, ``share``,
#: ``began``, ``impact`` and ``side``.
SCHEMA_VERSION = "3"


def schema() -> dict[str, Any]:
    """Return the JSON Schema of :meth:`Diagnosis.to_dict`."""
    text = resources.files("exchange_tls").joinpath("data/diagnosis.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class Verdict(enum.Enum):
    """What the evidence, taken together, says about outbound TLS."""

    #: At least one finding of severity error or warning.
    PROBLEMS = "problems"
    #: Positive evidence that the path works, and nothing failing.
    HEALTHY = "healthy"
    #: Too little evidence to say: nothing failing was seen, and nothing proved success.
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


class Confidence(enum.Enum):
    """How sure a finding is, from what its evidence covers."""

    #: Every link of the cause is in the evidence.
    HIGH = "high"
    #: The cause fits the evidence, but a link is inferred (say, the inventory is missing).
    MEDIUM = "medium"
    #: The evidence points this way; collect more to be sure.
    LOW = "low"


_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_CONFIDENCE_RANK = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


@attrs.frozen(kw_only=True)
class EvidenceRef:
    """One piece of evidence behind a finding: where it is, what it says, what it shows."""

    source: SourceRef | None
    #: The text at that place, shortened to one line.
    excerpt: str
    #: What this piece of evidence establishes.
    claim: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        described = {
            "source": None if self.source is None else self.source.source,
            "line": None if self.source is None else self.source.line,
            "excerpt": self.excerpt,
            "claim": self.claim,
        }
        if self.source is not None and self.source.pointer is not None:
            described["pointer"] = self.source.pointer  # in a JSON document (RFC 6901)
        return described

    def __str__(self) -> str:
        where = str(self.source) if self.source is not None else "(derived)"
        return f"{where}: {self.claim} — {self.excerpt}"


@attrs.frozen(kw_only=True)
class Finding:
    """Something wrong, proved by evidence, with the steps to fix it."""

    #: A stable kebab-case identifier, such as ``certificate-not-enabled-for-smtp``.
    rule_id: str
    severity: Severity
    title: str
    #: What is wrong here, in a sentence or two naming the things involved.
    summary: str
    evidence: tuple[EvidenceRef, ...]
    confidence: Confidence
    #: The conditions the rule relied on, in words.
    preconditions: tuple[str, ...] = ()
    remediation: tuple[RemediationStep, ...] = ()
    #: The failure mode in the catalogue (``F1`` …).
    failure_mode: str | None = None
    references: tuple[str, ...] = ()
    #: What the finding is about (a connector, a certificate thumbprint, a queue).
    subject: str = ""
    #: How many failing sessions and queues the finding accounts for (0: it rests on
    #: configuration alone).
    occurrences: int = 0
    #: The first and last time a failure it accounts for was seen.
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    #: The server (scope) the finding is about, when the evidence names one.
    server: str | None = None
    #: The subjects that share the cause (hosts, connectors, queues), bounded, with counts.
    subjects: Subjects | None = None
    #: The failing share of the subject's sessions, when the logs can tell.
    share: Share | None = None
    #: When the failures began: the first failure after the last success, when known.
    began: dt.datetime | None = None
    #: What waits because of it: messages in the queues it explains, and the oldest.
    impact: Impact | None = None
    #: Which end must change: this server, the remote, or something between.
    side: FaultSide | None = None
    #: Evidence the finding accounts for but does not list (failing sessions beyond the
    #: first, the last and a few exemplars; configuration beyond a dozen items).
    evidence_omitted: int = 0

    @property
    def rule(self) -> Rule | None:
        """The catalogue's rule behind the finding: its meaning, remedy and sources.

        ``None`` for a finding built by hand with an id the catalogue does not hold.
        """
        from exchange_tls.diagnosis.catalogue import CATALOGUE

        return next((entry for entry in CATALOGUE if entry.rule_id == self.rule_id), None)

    @property
    def sort_key(self) -> tuple[int, int]:
        """Most important first: severity, then confidence (the engine breaks ties)."""
        return (_SEVERITY_RANK[self.severity], _CONFIDENCE_RANK[self.confidence])

    def _repr_html_(self) -> str:
        return display.html(self)

    def __str__(self) -> str:
        return display.text(self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "title": self.title,
            "summary": self.summary,
            "subject": self.subject,
            "confidence": self.confidence.value,
            "failure_mode": self.failure_mode,
            "preconditions": list(self.preconditions),
            "evidence": [ref.to_dict() for ref in self.evidence],
            "remediation": [step.to_dict() for step in self.remediation],
            "references": list(self.references),
            "occurrences": self.occurrences,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "server": self.server,
            "subjects": None if self.subjects is None else self.subjects.to_dict(),
            "share": None if self.share is None else self.share.to_dict(),
            "began": _iso(self.began),
            "impact": None if self.impact is None else self.impact.to_dict(),
            "side": None if self.side is None else self.side.value,
            "evidence_omitted": self.evidence_omitted,
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@attrs.frozen(kw_only=True)
class RuleGap:
    """A rule that could not run, and the evidence it lacked."""

    rule_id: str
    #: The evidence kinds to collect, any one group of which lets the rule run.
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {"rule_id": self.rule_id, "missing": list(self.missing)}


def _pairs(counts: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple(dict(counts).items())


@attrs.frozen
class Counts(Mapping[str, int]):
    """How many records of each evidence kind were read, by the kind's name.

    Immutable and hashable; a kind that was not counted is absent (``get(kind, 0)``).

    >>> counts = Counts({"certificates": 3, "send-log": 12})
    >>> counts["certificates"], counts.get("queues", 0), sorted(counts)
    (3, 0, ['certificates', 'send-log'])
    """

    _items: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_pairs)

    def __getitem__(self, kind: str) -> int:
        for name, count in self._items:
            if name == kind:
                return count
        raise KeyError(kind)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)


#: The coverage's counts by their names before :attr:`Coverage.counts` (JSON keys too).
_NAMED_COUNTS = {
    "send_sessions": "send-log",
    "receive_sessions": "receive-log",
    "certificates": "certificates",
    "send_connectors": "send-connectors",
    "receive_connectors": "receive-connectors",
    "queues": "queues",
    "events": "events",
    "tls_settings": "tls-settings",
    "hybrid_configurations": "hybrid-configuration",
}


@attrs.frozen(kw_only=True, init=False)
class Coverage:
    """What the diagnosis read, what it left out, and which rules could not run.

    :attr:`counts` holds how many records of each evidence kind were read (sessions for
    the protocol logs), by the kind's name; ``certificates``, ``send_sessions`` and the
    other counts by name read it, and may be given by name.

    >>> Coverage().read_nothing
    True
    >>> coverage = Coverage(counts={"certificates": 3}, send_sessions=2)
    >>> coverage.certificates, coverage.counts["send-log"], coverage.queues
    (3, 2, 0)
    """

    #: Files read, and how many held each kind of evidence (``"unknown"``: left out).
    files: int = 0
    files_by_kind: tuple[tuple[str, int], ...] = ()
    #: Records read of each evidence kind, by name (:data:`exchange_tls.kinds.ALL_KINDS`).
    counts: Counts = Counts()
    #: Sessions (either direction) whose TLS negotiation succeeded, and failed.
    tls_succeeded: int = 0
    tls_failed: int = 0
    #: Queues in Retry or Suspended, or with a LastError.
    failing_queues: int = 0
    #: Files left out of the diagnosis, each with why.
    left_out: tuple[Problem, ...] = ()
    #: Every warning and error met while reading (left-out files included).
    problems: tuple[Problem, ...] = ()
    rules_not_run: tuple[RuleGap, ...] = ()

    def __init__(
        self,
        *,
        files: int = 0,
        files_by_kind: tuple[tuple[str, int], ...] = (),
        counts: Mapping[str, int] = Counts(),
        tls_succeeded: int = 0,
        tls_failed: int = 0,
        failing_queues: int = 0,
        left_out: tuple[Problem, ...] = (),
        problems: tuple[Problem, ...] = (),
        rules_not_run: tuple[RuleGap, ...] = (),
        **named: int,
    ) -> None:
        """Take the counts by kind, and any given by their names (``certificates=3``)."""
        unknown = sorted(set(named) - set(_NAMED_COUNTS))
        if unknown:
            raise TypeError(f"Coverage() got an unexpected keyword argument {unknown[0]!r}")
        by_kind = dict(counts)
        by_kind.update((_NAMED_COUNTS[name], count) for name, count in named.items())
        # attrs writes __attrs_init__ for a class with its own __init__; pyright cannot see it.
        self.__attrs_init__(  # pyright: ignore[reportAttributeAccessIssue]
            files=files,
            files_by_kind=files_by_kind,
            counts=Counts(by_kind),
            tls_succeeded=tls_succeeded,
            tls_failed=tls_failed,
            failing_queues=failing_queues,
            left_out=left_out,
            problems=problems,
            rules_not_run=rules_not_run,
        )

    @property
    def send_sessions(self) -> int:
        """Send sessions read (``counts["send-log"]``)."""
        return self.counts.get("send-log", 0)

    @property
    def receive_sessions(self) -> int:
        """Receive sessions read (``counts["receive-log"]``)."""
        return self.counts.get("receive-log", 0)

    @property
    def certificates(self) -> int:
        """Certificates read (``counts["certificates"]``)."""
        return self.counts.get("certificates", 0)

    @property
    def send_connectors(self) -> int:
        """Send connectors read (``counts["send-connectors"]``)."""
        return self.counts.get("send-connectors", 0)

    @property
    def receive_connectors(self) -> int:
        """Receive connectors read (``counts["receive-connectors"]``)."""
        return self.counts.get("receive-connectors", 0)

    @property
    def queues(self) -> int:
        """Queues read (``counts["queues"]``)."""
        return self.counts.get("queues", 0)

    @property
    def events(self) -> int:
        """Event log entries read (``counts["events"]``)."""
        return self.counts.get("events", 0)

    @property
    def tls_settings(self) -> int:
        """Registry exports of TLS settings read (``counts["tls-settings"]``)."""
        return self.counts.get("tls-settings", 0)

    @property
    def hybrid_configurations(self) -> int:
        """Hybrid configurations read (``counts["hybrid-configuration"]``)."""
        return self.counts.get("hybrid-configuration", 0)

    @property
    def read_nothing(self) -> bool:
        """Whether no record of any kind was read (no session, certificate, queue …)."""
        return not any(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description."""
        return {
            "files": self.files,
            "files_by_kind": dict(self.files_by_kind),
            "send_sessions": self.send_sessions,
            "receive_sessions": self.receive_sessions,
            "tls_succeeded": self.tls_succeeded,
            "tls_failed": self.tls_failed,
            "certificates": self.certificates,
            "send_connectors": self.send_connectors,
            "receive_connectors": self.receive_connectors,
            "queues": self.queues,
            "failing_queues": self.failing_queues,
            "events": self.events,
            "tls_settings": self.tls_settings,
            "hybrid_configurations": self.hybrid_configurations,
            "counts": dict(self.counts),
            "left_out": [_problem_dict(problem) for problem in self.left_out],
            "rules_not_run": [gap.to_dict() for gap in self.rules_not_run],
        }


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "source": problem.source,
        "line": problem.line,
        "column": problem.column,
        "severity": problem.severity.value,
        "code": problem.code,
        "message": problem.message,
    }


@attrs.frozen(kw_only=True)
class Diagnosis:
    """The findings for some evidence, most important first."""

    findings: tuple[Finding, ...]
    #: The moment the diagnosis judged validity against (``None`` when the evidence has
    #: no time at all).
    now: dt.datetime | None
    verdict: Verdict = Verdict.INCONCLUSIVE
    coverage: Coverage = Coverage()
    #: Why the verdict is what it is, in sentences.
    reasons: tuple[str, ...] = ()
    #: What to collect next when the evidence did not suffice.
    advice: tuple[str, ...] = ()
    #: The server this diagnosis is about, when the evidence names one.
    server: str | None = None
    #: One diagnosis per server when the evidence came from several; ``findings``,
    #: ``verdict`` and ``coverage`` above are then theirs taken together.
    scopes: tuple[Diagnosis, ...] = ()

    @property
    def healthy(self) -> bool:
        """Whether the verdict is :attr:`Verdict.HEALTHY` (never for too little evidence)."""
        return self.verdict is Verdict.HEALTHY

    @property
    def problems(self) -> tuple[Problem, ...]:
        """The warnings and errors met while reading the evidence."""
        return self.coverage.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis as the versioned JSON document (:data:`SCHEMA_VERSION`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "now": _iso(self.now),
            "verdict": self.verdict.value,
            "healthy": self.healthy,
            "reasons": list(self.reasons),
            "advice": list(self.advice),
            "coverage": self.coverage.to_dict(),
            "problems": [_problem_dict(problem) for problem in self.coverage.problems],
            "findings": [finding.to_dict() for finding in self.findings],
            "server": self.server,
            "servers": [
                {
                    "server": scope.server,
                    "now": _iso(scope.now),
                    "verdict": scope.verdict.value,
                    "reasons": list(scope.reasons),
                    "advice": list(scope.advice),
                }
                for scope in self.scopes
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _repr_html_(self) -> str:
        return display.html(self)

    def __str__(self) -> str:
        return display.text(self)

    def render(self, format: str = "text", evidence: Evidence | None = None) -> str:
        """Return the diagnosis as a document in ``format``, as ``--format`` writes it.

        The formats are the views' (:func:`exchange_tls.display.formats`): ``text``,
        ``json``, ``markdown``, ``html`` (given the evidence, the page also draws the
        timeline and the certificates) and ``ps1``.
        """
        return display.format_named(format).render(self, evidence)

    def to_html(self, evidence: Evidence | None = None) -> str:
        """Return the report as one self-contained HTML page (no network, no CDN).

        Given the evidence it was made from, the page also draws the timeline of TLS
        outcomes and lists the certificates, marking the one Exchange selects.
        """
        return self.render("html", evidence)

    def to_dataframe(self) -> Any:
        """Return the findings as a pandas DataFrame (needs the ``pandas`` extra)."""
        return display.frame(self.findings)

    def to_script(self) -> str:
        """Return a commented PowerShell script: check, fix and verify sections."""
        return self.render("ps1")
