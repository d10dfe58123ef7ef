"""Findings and the diagnosis that holds them."""

from __future__ import annotations

import datetime as dt
import enum
import json
from importlib import resources
from typing import Any

import attrs

from exchange_tls.errors import Severity
from exchange_tls.remediation.steps import RemediationStep
from exchange_tls.sources import SourceRef

__all__ = ["SCHEMA_VERSION", "Confidence", "Diagnosis", "EvidenceRef", "Finding", "schema"]

#: The version of the JSON document that :meth:`Diagnosis.to_dict` writes; its JSON
#: Schema ships as ``exchange_tls/data/diagnosis.schema.json`` (:func:`schema`).
SCHEMA_VERSION = "1"


def schema() -> dict[str, Any]:
    """Return the JSON Schema of :meth:`Diagnosis.to_dict`."""
    text = resources.files("exchange_tls").joinpath("data/diagnosis.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


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
        return {
            "source": None if self.source is None else self.source.source,
            "line": None if self.source is None else self.source.line,
            "excerpt": self.excerpt,
            "claim": self.claim,
        }

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

    @property
    def sort_key(self) -> tuple[int, int, str, str]:
        """Most important first: severity, confidence, rule, subject."""
        return (
            _SEVERITY_RANK[self.severity],
            _CONFIDENCE_RANK[self.confidence],
            self.rule_id,
            self.subject,
        )

    def _repr_html_(self) -> str:
        from exchange_tls.notebook import finding_html

        return finding_html(self)

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
        }


@attrs.frozen(kw_only=True)
class Diagnosis:
    """The findings for some evidence, most important first."""

    findings: tuple[Finding, ...]
    #: The moment the diagnosis judged validity against (``None`` when the evidence has
    #: no time at all).
    now: dt.datetime | None

    @property
    def healthy(self) -> bool:
        """Whether no finding is an error or a warning."""
        return all(finding.severity is Severity.INFO for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis as the versioned JSON document (``schema_version`` 1)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "now": None if self.now is None else self.now.isoformat(),
            "healthy": self.healthy,
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def _repr_html_(self) -> str:
        from exchange_tls.notebook import diagnosis_html

        return diagnosis_html(self)

    def to_dataframe(self) -> Any:
        """Return the findings as a pandas DataFrame (needs the ``pandas`` extra)."""
        from exchange_tls.notebook import to_dataframe

        return to_dataframe(self.findings)

    def to_script(self) -> str:
        """Return a commented PowerShell script: check, fix and verify sections."""
        from exchange_tls.diagnosis.script import render_script

        return render_script(self)
