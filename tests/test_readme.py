import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_readme_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python examples in README.md run and print what they show."""
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(
        str(ROOT / "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0
    assert result.failed == 0
