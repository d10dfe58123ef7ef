"""Shared fixtures and the hypothesis profiles; the objects come from tests/builders.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from exchange_tls import Evidence, ExchangeCertificate, SendConnector
from tests import builders

# "ci" is thorough and reproducible: CI must not fail on an example that a later run
# cannot find again. "dev" is quick for the edit-test loop.
settings.register_profile(
    "ci",
    max_examples=300,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """Return the folder of test data files."""
    return DATA


@pytest.fixture
def kb_evidence() -> Evidence:
    """Return the evidence of the KB 4051498 example folder (examples/kb4051498)."""
    return builders.example("kb4051498")


@pytest.fixture
def fit_certificate() -> ExchangeCertificate:
    """Return a healthy SMTP certificate for mail.contoso.com (tests/builders.py)."""
    return builders.certificate()


@pytest.fixture
def tls_connector() -> SendConnector:
    """Return the send connector 'Out' for mail.contoso.com that requires TLS."""
    return builders.send_connector()
