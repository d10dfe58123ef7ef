"""The top level: exactly the public names, documented and exemplified, and the moved ones."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import exchange_tls
from exchange_tls import Confidence, Finding, Severity

API_PAGE = Path(__file__).parent.parent / "docs" / "api.md"
MOVED = {
    "CATALOGUE": "exchange_tls.diagnosis",
    "DecodedText": "exchange_tls.sources",
    "ErrorMode": "exchange_tls.errors",
    "ProblemCollector": "exchange_tls.errors",
    "ProtocolRowReader": "exchange_tls.protocol_log",
    "candidate_certificates": "exchange_tls.connectors",
    "decode_bytes": "exchange_tls.sources",
    "read_source": "exchange_tls.sources",
}


def _top_level_part() -> str:
    """Return the API page up to its part on subpackages."""
    return API_PAGE.read_text(encoding="utf-8").split("\n# Subpackages\n")[0]


def test_every_public_name_exists_once() -> None:
    """Each name in ``__all__`` is importable, and none is listed twice."""
    assert len(set(exchange_tls.__all__)) == len(exchange_tls.__all__)
    for name in exchange_tls.__all__:
        assert getattr(exchange_tls, name) is not None, name


def test_dir_is_all() -> None:
    """``dir(exchange_tls)`` shows the public names and nothing else."""
    assert sorted(dir(exchange_tls)) == sorted(exchange_tls.__all__)


def test_star_import_gives_exactly_all() -> None:
    """``from exchange_tls import *`` binds the public names only."""
    namespace: dict[str, object] = {}
    exec("from exchange_tls import *", namespace)  # noqa: S102 -- the statement under test
    assert set(namespace) - {"__builtins__"} == set(exchange_tls.__all__)


@pytest.mark.parametrize(("name", "module"), sorted(MOVED.items()))
def test_moved_name_warns_and_still_works(name: str, module: str) -> None:
    """A name that left the top level warns, naming its new home, and is the same object."""
    with pytest.warns(DeprecationWarning, match=rf"exchange_tls\.{name} .* from {module}$"):
        found = getattr(exchange_tls, name)
    assert found is getattr(importlib.import_module(module), name)
    assert name not in exchange_tls.__all__


def test_moved_name_warning_points_at_the_caller() -> None:
    """The warning is reported at the importing line, not inside the package."""
    with pytest.warns(DeprecationWarning, match="ProblemCollector") as caught:
        from exchange_tls import ProblemCollector  # noqa: F401
    assert caught[0].filename == __file__


def test_unknown_name_is_an_attribute_error() -> None:
    """A name the package never had raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = exchange_tls.nothing_here


def test_api_page_documents_exactly_all() -> None:
    """The API page's first part documents each top-level name, and no other."""
    documented = set(re.findall(r"^\.\. auto\w+:: exchange_tls\.(\w+)$", _top_level_part(), re.M))
    assert documented == set(exchange_tls.__all__)


def test_every_public_name_has_an_example_on_the_api_page() -> None:
    """Each top-level name is used in a doctested example of the API page."""
    part = _top_level_part()
    examples = "\n".join(
        line
        for block in re.findall(r"```\{doctest\}[^\n]*\n(.*?)```", part, re.S)
        for line in block.splitlines()
        if line.startswith((">>> ", "... "))
    )
    unused = [name for name in exchange_tls.__all__ if not re.search(rf"\b{name}\b", examples)]
    assert unused == []


def test_finding_rule_is_the_catalogue_entry() -> None:
    """``Finding.rule`` is the catalogue's rule of that id, or None for an unknown id."""

    def finding(rule_id: str) -> Finding:
        return Finding(
            rule_id=rule_id,
            severity=Severity.ERROR,
            title="t",
            summary="s",
            evidence=(),
            confidence=Confidence.HIGH,
        )

    known = finding("certificate-not-enabled-for-smtp").rule
    assert known is not None
    assert known.failure_mode == "F1"
    assert finding("no-such-rule").rule is None


def test_iter_protocol_rows_is_a_one_shot_iterator() -> None:
    """``iter_*`` gives an iterator: ``next()`` works, and a second pass reads nothing more."""
    log = Path(exchange_tls.__file__).parent / "bundled" / "kb4051498" / "SEND2017100704-1.LOG"
    rows = exchange_tls.iter_protocol_rows(log)
    first = next(rows)
    rest = list(rows)
    assert first.event is exchange_tls.Event.CONNECT
    assert len(rest) == len(exchange_tls.read_protocol_log(log).rows) - 1
    assert list(rows) == []
    assert rows.problems == ()
