"""The package's version, a leaf module: every other module may import it.

``VERSION`` is the source tree's version, which hatch reads when it builds
(``[tool.hatch.version]`` in pyproject.toml); ``__version__`` is the installed
distribution's (``importlib.metadata``), which is the same once built, and the source
tree's when the package runs from a checkout that is not installed.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["VERSION", "__version__"]

VERSION = "0.1.0.dev0"


def _installed_version() -> str:
    try:
        return metadata.version("exchange_tls")
    except metadata.PackageNotFoundError:
        return VERSION


__version__ = _installed_version()
