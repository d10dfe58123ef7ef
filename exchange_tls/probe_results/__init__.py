"""Probe results as evidence: what a probe of a remote SMTP server saw, saved and read back.

This package opens no socket (the probe itself is :mod:`exchange_tls.probe`, an edge
module). It holds the typed results, their JSON form, and the pure halves of DANE and
MTA-STS, so that :func:`~exchange_tls.diagnose` can join saved probes to the sessions of
the logs without any network.
"""

from __future__ import annotations

from exchange_tls.probe_results.models import (
    DaneCheck,
    DomainPolicy,
    MtaStsCheck,
    MtaStsPolicy,
    MxHost,
    ProbeStage,
    SmtpProbe,
    TlsaRecord,
    VersionSupport,
)
from exchange_tls.probe_results.saved import (
    looks_like_probe_results,
    parse_probe_results,
    probe_to_dict,
    probes_to_json,
    read_probe_results,
)

__all__ = [
    "DaneCheck",
    "DomainPolicy",
    "MtaStsCheck",
    "MtaStsPolicy",
    "MxHost",
    "ProbeStage",
    "SmtpProbe",
    "TlsaRecord",
    "VersionSupport",
    "looks_like_probe_results",
    "parse_probe_results",
    "probe_to_dict",
    "probes_to_json",
    "read_probe_results",
]
