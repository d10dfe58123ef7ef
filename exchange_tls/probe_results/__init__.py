"""Probe results as evidence: what a probe of a remote SMTP server saw, saved and read back.

This package opens no socket (the probe itself is :mod:`exchange_tls.probe`, an edge
module). It holds the typed results, their JSON form, and the pure halves of DANE and
MTA-STS, so that :func:`~exchange_tls.diagnose` can join saved probes to the sessions of
the logs without any network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "DaneCheck": "models",
            "DomainPolicy": "models",
            "MtaStsCheck": "models",
            "MtaStsPolicy": "models",
            "MxHost": "models",
            "ProbeStage": "models",
            "SmtpProbe": "models",
            "TlsaRecord": "models",
            "VersionSupport": "models",
            "looks_like_probe_results": "saved",
            "parse_probe_results": "saved",
            "probe_to_dict": "saved",
            "probes_to_json": "saved",
            "read_probe_results": "saved",
        },
        __all__,
    )
