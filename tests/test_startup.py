"""Start-up: a run imports what it needs, and every lazily exported name still resolves.

The command line's default run (the bundled KB 4051498 example) runs in a fresh
interpreter; what it must not import is named here, so that an import added at the top of
a module that the run does not need fails a test rather than a benchmark. No test here is
timed: ``benchmarks/bench_startup.py`` measures.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import exchange_tls
from exchange_tls import cli_probe, pipeline
from exchange_tls.protocol_log import columnar

#: The source tree this test imports, first on the child's path (not an installed copy).
SOURCE_ROOT = Path(exchange_tls.__file__).resolve().parent.parent

#: What the bundled diagnosis needs none of: extras, process pools, the network and mail
#: stacks, ``cryptography`` (the bundled certificates carry no RawData), the probe, the
#: columnar reader, the readers of formats the example is not in, and the views it does
#: not show.
NOT_IMPORTED = (
    "pyarrow",
    "numpy",
    "pandas",
    "evtx",
    "multiprocessing",
    "concurrent.futures.process",
    "email",
    "urllib.request",
    "http.client",
    "ssl",
    "socket",
    "importlib.metadata",
    "defusedxml",
    "cryptography",
    "exchange_tls.probe",
    "exchange_tls.protocol_log.columnar",
    "exchange_tls.protocol_log.columnar_checks",
    "exchange_tls.protocol_log.columnar_counts",
    "exchange_tls.powershell.format_clixml",
    "exchange_tls.powershell.format_csv",
    "exchange_tls.powershell.format_json",
    "exchange_tls.views.html",
    "exchange_tls.views.page",
    "exchange_tls.views.timeline",
    "exchange_tls.views.tls_reports",
    "exchange_tls.views.frames",
)

#: The packages whose ``__init__`` exports names imported on first use.
LAZY_PACKAGES = (
    "exchange_tls",
    "exchange_tls.certificates",
    "exchange_tls.connectors",
    "exchange_tls.events",
    "exchange_tls.inventory",
    "exchange_tls.probe_results",
    "exchange_tls.protocol_log",
    "exchange_tls.queues",
    "exchange_tls.remediation",
    "exchange_tls.tls_reports",
    "exchange_tls.tls_settings",
    "exchange_tls.views",
)


def _fresh(code: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``code`` in a fresh interpreter; return it and the modules it had imported."""
    listing = tmp_path / "modules.json"
    script = f"{code}\nimport json, sys\nopen({str(listing)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    path = os.pathsep.join([str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")])
    completed = subprocess.run(  # noqa: S603 -- our own interpreter, our own code
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed, set(json.loads(listing.read_text(encoding="utf-8")))


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(name + ".") for module in modules)


def test_the_bundled_diagnosis_imports_only_what_it_needs(tmp_path: Path) -> None:
    """``exchange-tls diagnose`` without paths imports none of the heavy modules it needs not."""
    completed, modules = _fresh(
        "import sys\nfrom exchange_tls.cli import main\nassert main(['diagnose']) == 1\n"
        "sys.stdout.flush()",
        tmp_path,
    )
    assert "Enable-ExchangeCertificate -Thumbprint '054FB2800CE2E07A56DE07920D3C9847D3058CE1'" in (
        completed.stdout
    )
    assert "exchange_tls.diagnosis.rules" in modules  # it did diagnose
    assert [name for name in NOT_IMPORTED if _loaded(modules, name)] == []


def test_a_bare_import_loads_no_reader_and_still_prints(tmp_path: Path) -> None:
    """``import exchange_tls`` imports no reader or view; ``print(diagnosis)`` still works."""
    _, modules = _fresh("import exchange_tls", tmp_path)
    assert not _loaded(modules, "exchange_tls.views")
    assert not _loaded(modules, "exchange_tls.diagnosis")
    assert not _loaded(modules, "pyparsing")
    completed, modules = _fresh(
        "import exchange_tls\n"
        "from exchange_tls.bundled import example_files\n"
        "evidence = exchange_tls.load_evidence(example_files()[0].parent, date_order='MDY')\n"
        "diagnosis = exchange_tls.diagnose(evidence)\n"
        "print(diagnosis)\n"
        "assert '<table' in diagnosis._repr_html_()",
        tmp_path,
    )
    assert "certificate-not-enabled-for-smtp" in completed.stdout
    assert "exchange_tls.views.html" in modules


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazily_exported_name_resolves(package: str) -> None:
    """Each name in a lazy package's ``__all__`` resolves, and ``dir()`` shows exactly them."""
    module = importlib.import_module(package)
    assert sorted(dir(module)) == sorted(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is not None, f"{package}.{name}"
        # Only the views' registries are modules; a function shadowed by its module
        # (views.records) would show here.
        assert not isinstance(value, types.ModuleType) or name in ("formats", "hooks"), name
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")  # noqa: B009 -- the lookup is the test


def test_subpackages_are_still_attributes_of_the_package() -> None:
    """``exchange_tls.views`` and the like stay reachable after ``import exchange_tls``."""
    assert exchange_tls.views.text_table is not None
    assert exchange_tls.protocol_log.parse_protocol_log is exchange_tls.parse_protocol_log


def test_the_deferred_imports_agree_with_what_they_defer_to() -> None:
    """Constants and checks copied to keep modules out of a run match their originals."""
    from exchange_tls.probe import DEFAULT_TIMEOUT

    assert cli_probe.DEFAULT_TIMEOUT == DEFAULT_TIMEOUT
    assert pipeline.columnar_available() == columnar.columnar_available()
