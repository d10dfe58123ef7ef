"""The package's version, a leaf module: every other module may import it.

``VERSION`` is the source tree's version, which hatch reads when it builds
(``[tool.hatch.version]`` in pyproject.toml); ``__version__`` is the installed
distribution's (``importlib.metadata``), which is the same once built, and the source
tree's when the package runs from a checkout that is not installed. It is looked up on
first use (PEP 562): ``importlib.metadata`` (and the ``email`` package it imports) is
not something every run of the command line needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["VERSION", "__version__"]

VERSION = "0.1.0.dev0"


def _installed_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("exchange_tls")
    except metadata.PackageNotFoundError:
        return VERSION


if TYPE_CHECKING:
    __version__: str
else:

    def __getattr__(name: str) -> str:
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        version = globals()["__version__"] = _installed_version()
        return version
