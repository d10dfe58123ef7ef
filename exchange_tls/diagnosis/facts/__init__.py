"""Derived facts: what several rules read, decided once per :class:`Context`.

A fact is computed from the joined evidence and memoised on the context
(:meth:`~exchange_tls.diagnosis.context.Context.memo`), so every rule that reads it sees
the same decision and it costs one computation per diagnosis. Rule modules keep the
``@rule`` declarations and the checks; the remediation plans they attach live in
:mod:`exchange_tls.remediation.plans`.
"""

from __future__ import annotations

__all__: list[str] = []
