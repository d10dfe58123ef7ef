"""The rule catalogue: every rule, with what it needs and what it covers."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.errors import Severity
from exchange_tls.remediation.steps import RemediationStep

__all__ = ["CATALOGUE", "Rule", "finding", "lookup", "rule"]

Check = Callable[[Context], Iterable[Finding]]


@attrs.frozen(kw_only=True)
class Rule:
    """One rule: its id, what it means, the evidence it needs, and its check."""

    rule_id: str
    title: str
    severity: Severity
    #: The failure mode it covers (``F1`` …), or ``None``.
    failure_mode: str | None
    #: What the finding means, for the docs.
    meaning: str
    #: The evidence the rule needs to fire.
    needs: tuple[str, ...]
    #: The remediation, in words, for the docs.
    remedy: str
    references: tuple[str, ...] = ()
    check: Check = attrs.field(repr=False)


#: Every rule, in the order they were registered (a family module at a time).
CATALOGUE: list[Rule] = []


def rule(
    *,
    rule_id: str,
    title: str,
    severity: Severity,
    failure_mode: str | None,
    meaning: str,
    needs: tuple[str, ...],
    remedy: str,
    references: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register a check function as a rule of the catalogue."""

    def register(check: Check) -> Check:
        CATALOGUE.append(
            Rule(
                rule_id=rule_id,
                title=title,
                severity=severity,
                failure_mode=failure_mode,
                meaning=meaning,
                needs=needs,
                remedy=remedy,
                references=references,
                check=check,
            )
        )
        return check

    return register


def lookup(rule_id: str) -> Rule:
    """Return the registered rule with this id; raises ``LookupError`` if there is none."""
    entry = next((entry for entry in CATALOGUE if entry.rule_id == rule_id), None)
    if entry is None:
        raise LookupError(f"no rule {rule_id!r} in the catalogue")
    return entry


def finding(
    rule_id: str,
    *,
    summary: str,
    evidence: tuple[EvidenceRef, ...],
    confidence: Confidence,
    preconditions: tuple[str, ...] = (),
    remediation: tuple[RemediationStep, ...] = (),
    subject: str = "",
) -> Finding:
    """Build a finding of a registered rule.

    Its title, severity, failure mode and references come from the catalogue, so a
    finding cannot drift from the rule's documentation.
    """
    entry = lookup(rule_id)
    return Finding(
        rule_id=rule_id,
        severity=entry.severity,
        title=entry.title,
        summary=summary,
        evidence=evidence,
        confidence=confidence,
        preconditions=preconditions,
        remediation=remediation,
        failure_mode=entry.failure_mode,
        references=entry.references,
        subject=subject,
    )
