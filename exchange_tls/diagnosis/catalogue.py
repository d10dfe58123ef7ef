"""The rule catalogue: every rule, declared once, with what it needs and what it covers.

A rule is declared by decorating its check with :func:`rule`. Its id, title, severity,
failure mode, needs and references are written there and nowhere else: the check
receives a :class:`Report`, a finding builder bound to the rule, so a finding cannot
drift from its rule's documentation::

    @rule(
        "certificate-expired",
        title="A certificate used for SMTP has expired",
        severity=Severity.ERROR,
        ...
    )
    def certificate_expired(context: Context, report: Report) -> Iterator[Finding]:
        yield report(summary=..., evidence=..., confidence=..., subject=...)

A check that takes only the context (the form before the bound builder) still
registers; it builds findings with :func:`finding` and the rule id.

:data:`CATALOGUE` is an immutable sequence: the rules of :mod:`exchange_tls.diagnosis.rules`,
in the order their modules register them. Once it has been read, registering another
rule is an error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import overload

import attrs

from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.remediation.steps import RemediationStep

__all__ = ["CATALOGUE", "Catalogue", "Report", "Rule", "Signature", "finding", "lookup", "rule"]

Check = Callable[[Context], Iterable[Finding]]
BoundCheck = Callable[[Context, "Report"], Iterable[Finding]]


@attrs.frozen
class Signature:
    """Text that marks an error a rule explains: any group matches when all its fragments do.

    Fragments are matched against the error's text case-folded, with runs of blanks as
    one. ``rank`` orders the candidates :func:`~exchange_tls.explain_error` lists: 1 for
    text that points straight at the rule, 2 for a cause among several, 3 for a remote
    possibility.
    """

    groups: tuple[tuple[str, ...], ...]
    reading: str
    rank: int = 2

    def matches(self, folded: str) -> bool:
        """Whether the case-folded, blank-squeezed text carries the signature."""
        return any(all(fragment in folded for fragment in group) for group in self.groups)


def _groups(groups: Iterable[str | frozenset[str]]) -> tuple[frozenset[str], ...]:
    return tuple(
        group if isinstance(group, frozenset) else frozenset(group.split("+")) for group in groups
    )


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
    #: The error texts this rule explains (read by ``explain_error``).
    signatures: tuple[Signature, ...] = ()
    #: Which certificate or connector the rule judges, in words, for the docs.
    selection: str = ""
    #: What in the logs lowers or silences the rule, in words, for the docs.
    contradiction: str = ""
    #: The evidence kinds that let the rule run (``exchange_tls.diagnosis.coverage.KINDS``):
    #: any one group suffices, a group being kinds joined by ``+``
    #: (``("send-log", "send-connectors+certificates")``). Empty: any evidence.
    inputs: tuple[frozenset[str], ...] = attrs.field(default=(), converter=_groups)
    #: Which end must change when the rule fires, when the rule alone tells (a finding
    #: may name another: :class:`Report` takes ``side``).
    side: FaultSide | None = None
    #: The check: reads the context, yields findings.
    check: Check = attrs.field(repr=False)


@attrs.frozen
class Report:
    """A finding builder bound to one rule: the rule body says only what it found.

    ``severity`` lowers (or raises) the rule's severity for this finding; ``because``
    says why, and is added to the summary and the preconditions.
    """

    rule: Rule

    def __call__(
        self,
        *,
        summary: str,
        evidence: tuple[EvidenceRef, ...],
        confidence: Confidence,
        subject: str,
        preconditions: tuple[str, ...] = (),
        remediation: tuple[RemediationStep, ...] = (),
        severity: Severity | None = None,
        because: str | None = None,
        side: FaultSide | None = None,
    ) -> Finding:
        """Build a finding of the bound rule; ``side`` defaults to the rule's."""
        entry = self.rule
        chosen = entry.severity if severity is None else severity
        if chosen is not entry.severity:
            if not because:
                raise ValueError("a changed severity needs its reason")
            summary = f"{summary} Reported as {chosen.value}, not {entry.severity.value}: {because}"
            preconditions = (*preconditions, f"severity {chosen.value}: {because}")
        return Finding(
            rule_id=entry.rule_id,
            severity=chosen,
            title=entry.title,
            summary=summary,
            evidence=evidence,
            confidence=confidence,
            preconditions=preconditions,
            remediation=remediation,
            failure_mode=entry.failure_mode,
            references=entry.references,
            subject=subject,
            side=entry.side if side is None else side,
        )


_PENDING: list[Rule] = []


class Catalogue(Sequence[Rule]):
    """The registered rules, frozen into a tuple the first time they are read."""

    def __init__(self) -> None:
        self._rules: tuple[Rule, ...] | None = None

    @property
    def frozen(self) -> bool:
        """Whether the catalogue has been read (and so takes no more rules)."""
        return self._rules is not None

    def _all(self) -> tuple[Rule, ...]:
        if self._rules is None:
            # Importing the rules package registers every rule; only then is it frozen.
            from exchange_tls.diagnosis import rules as _rules  # noqa: F401

            self._rules = tuple(_PENDING)
        return self._rules

    @overload
    def __getitem__(self, index: int) -> Rule: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Rule, ...]: ...
    def __getitem__(self, index: int | slice) -> Rule | tuple[Rule, ...]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._all())

    def __repr__(self) -> str:
        return f"Catalogue({', '.join(entry.rule_id for entry in self._all())})"


#: Every rule, in the order they were registered (a family module at a time).
CATALOGUE = Catalogue()


def rule(
    rule_id: str,
    *,
    title: str,
    severity: Severity,
    failure_mode: str | None,
    meaning: str,
    needs: tuple[str, ...],
    remedy: str,
    references: tuple[str, ...] = (),
    signatures: tuple[Signature, ...] = (),
    selection: str = "",
    contradiction: str = "",
    inputs: tuple[str, ...] = (),
    side: FaultSide | None = None,
) -> Callable[[BoundCheck | Check], BoundCheck | Check]:
    """Register a check as a rule of the catalogue; the check gets a bound :class:`Report`."""

    def register(body: BoundCheck | Check) -> BoundCheck | Check:
        if CATALOGUE.frozen:
            raise RuntimeError(f"the catalogue is frozen; cannot register {rule_id!r}")
        if any(entry.rule_id == rule_id for entry in _PENDING):
            raise ValueError(f"rule {rule_id!r} is registered twice")
        bound = len(inspect.signature(body).parameters) == 2
        holder: list[Report] = []

        # One callable type for wraps(): the union of the two check shapes is not one.
        wrapped: Callable[..., Iterable[Finding]] = body

        @functools.wraps(wrapped)
        def check(context: Context) -> Iterable[Finding]:
            if bound:
                return wrapped(context, holder[0])
            return wrapped(context)

        entry = Rule(
            rule_id=rule_id,
            title=title,
            severity=severity,
            failure_mode=failure_mode,
            meaning=meaning,
            needs=needs,
            remedy=remedy,
            references=references,
            signatures=signatures,
            selection=selection,
            contradiction=contradiction,
            inputs=inputs,
            side=side,
            check=check,
        )
        holder.append(Report(entry))
        _PENDING.append(entry)
        return body

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
    severity: Severity | None = None,
    because: str | None = None,
    side: FaultSide | None = None,
) -> Finding:
    """Build a finding of a registered rule by its id (the form before :class:`Report`).

    Its title, severity, failure mode and references come from the catalogue, so a
    finding cannot drift from the rule's documentation.
    """
    return Report(lookup(rule_id))(
        summary=summary,
        evidence=evidence,
        confidence=confidence,
        preconditions=preconditions,
        remediation=remediation,
        subject=subject,
        severity=severity,
        because=because,
        side=side,
    )
