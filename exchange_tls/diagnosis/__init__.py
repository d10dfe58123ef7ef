"""Diagnosis: the rule catalogue and ``diagnose()``."""

from __future__ import annotations

from exchange_tls.diagnosis.catalogue import CATALOGUE, Rule
from exchange_tls.diagnosis.engine import diagnose
from exchange_tls.diagnosis.evidence import Evidence
from exchange_tls.diagnosis.explain import ErrorExplanation, explain_error
from exchange_tls.diagnosis.model import (
    SCHEMA_VERSION,
    Confidence,
    Diagnosis,
    EvidenceRef,
    Finding,
)

__all__ = [
    "CATALOGUE",
    "SCHEMA_VERSION",
    "Confidence",
    "Diagnosis",
    "ErrorExplanation",
    "Evidence",
    "EvidenceRef",
    "Finding",
    "Rule",
    "diagnose",
    "explain_error",
]
