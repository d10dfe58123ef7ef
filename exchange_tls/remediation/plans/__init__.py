"""Remediation plans: the steps a finding carries, built from the evidence models.

A plan is a pure function of models (certificates, connectors, queue identities), so it
can be read and tested without a diagnosis; the rules decide *whether* a plan applies
and pass what it needs.
"""

from __future__ import annotations

__all__: list[str] = []
