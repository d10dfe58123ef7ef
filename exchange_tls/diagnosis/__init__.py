"""Diagnosis: the rule catalogue and ``diagnose()``."""

from __future__ import annotations

from exchange_tls.diagnosis.catalogue import CATALOGUE, Rule
from exchange_tls.diagnosis.engine import diagnose
from exchange_tls.diagnosis.evidence import Evidence, LoadedFile
from exchange_tls.diagnosis.explain import ErrorExplanation, explain_error
from exchange_tls.diagnosis.model import (
    SCHEMA_VERSION,
    Confidence,
    Coverage,
    Diagnosis,
    EvidenceRef,
    Finding,
    RuleGap,
    Verdict,
)
from exchange_tls.diagnosis.schannel import SCHANNEL_ERRORS, SchannelError, schannel_error
from exchange_tls.diagnosis.weighing import Thresholds

__all__ = [
    "CATALOGUE",
    "SCHANNEL_ERRORS",
    "SCHEMA_VERSION",
    "Confidence",
    "Coverage",
    "Diagnosis",
    "ErrorExplanation",
    "Evidence",
    "EvidenceRef",
    "Finding",
    "LoadedFile",
    "Rule",
    "RuleGap",
    "SchannelError",
    "Thresholds",
    "Verdict",
    "diagnose",
    "explain_error",
    "schannel_error",
]
