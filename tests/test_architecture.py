"""The architecture contracts (pyproject.toml, [tool.importlinter]) hold, and really bite.

Each case copies the package to a temporary folder, makes one deliberately wrong import
in the copy, and runs import-linter on it with the project's own contracts: the contract
that forbids the import must break, naming the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).parents[1]
_LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
)


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts on the package under ``tree``."""
    return subprocess.run(  # noqa: S603 -- our own interpreter, our own code
        [sys.executable, "-c", _LINT, str(ROOT / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Return a folder holding a copy of the package's source (no data files needed)."""
    shutil.copytree(
        ROOT / "exchange_tls",
        tmp_path / "exchange_tls",
        ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.LOG", "*.log", "*.txt"),
    )
    return tmp_path


def add_import(module: Path, statement: str) -> None:
    """Append a function to ``module`` whose body makes the import ``statement``."""
    with module.open("a", encoding="utf-8") as file:
        file.write(f"\n\ndef _deliberately_wrong() -> None:\n    {statement}\n")


def test_the_package_keeps_its_contracts(tree: Path) -> None:
    """The package as it is keeps every contract."""
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_model_importing_a_view_inside_a_function_breaks_the_contracts(tree: Path) -> None:
    """A model's method importing the views breaks 'views at the edge' and the layers."""
    add_import(
        tree / "exchange_tls" / "protocol_log" / "models.py",
        "from exchange_tls.views.text import more  # noqa: F401",
    )
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Models never import the views" in result.stdout
    assert "BROKEN" in result.stdout
    assert "exchange_tls.protocol_log.models -> exchange_tls.views.text" in result.stdout


def test_remediation_importing_the_diagnosis_breaks_the_layers(tree: Path) -> None:
    """Plans are functions of models: remediation importing diagnosis breaks the layers."""
    add_import(
        tree / "exchange_tls" / "remediation" / "plans" / "certificates.py",
        "from exchange_tls.diagnosis.context import Context  # noqa: F401",
    )
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers: from the command line down to the base modules BROKEN" in result.stdout
    assert "exchange_tls.remediation.plans.certificates -> exchange_tls.diagnosis" in (
        result.stdout
    )


def test_a_base_module_importing_a_reader_breaks_the_layers(tree: Path) -> None:
    """The base modules import nothing above them: errors.py importing a reader breaks."""
    add_import(
        tree / "exchange_tls" / "errors.py",
        "import exchange_tls.queues.reader  # noqa: F401",
    )
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "exchange_tls.errors -> exchange_tls.queues.reader" in result.stdout


def test_a_socket_outside_the_probe_breaks_the_network_contract(tree: Path) -> None:
    """Only probe/ opens network connections: a socket in the loader breaks the contract."""
    add_import(tree / "exchange_tls" / "loading.py", "import socket  # noqa: F401")
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Only probe/ opens network connections BROKEN" in result.stdout
    assert "exchange_tls.loading -> socket" in result.stdout
