import pytest

import exchange_tls
from exchange_tls.bundled import example_files


def test_version_is_a_string() -> None:
    """The package exposes its version."""
    assert isinstance(exchange_tls.__version__, str)
    assert exchange_tls.__version__[0].isdigit()


def test_public_names_are_all_importable() -> None:
    """Every name in __all__ exists on the package."""
    for name in exchange_tls.__all__:
        assert hasattr(exchange_tls, name), name


def test_bundled_example_has_the_four_kinds_of_evidence() -> None:
    """The KB 4051498 bundle holds a send log, certificates, a queue and a connector."""
    names = [entry.name for entry in example_files()]
    assert names == [
        "SEND2017100704-1.LOG",
        "get-exchangecertificate-fl.txt",
        "get-queue-fl.txt",
        "get-sendconnector-fl.txt",
    ]


def test_unknown_bundled_example_is_refused() -> None:
    """Asking for a bundle that does not exist is a ValueError."""
    with pytest.raises(ValueError, match="no bundled example"):
        example_files("nope")
