"""Evidence bundles shipped with the package, for the command line and the docs.

>>> sorted(path.name for path in example_files())[0]
'SEND2017100704-1.LOG'
"""

from __future__ import annotations

import sys
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["EXAMPLE", "example_files"]

#: The name of the bundle that the command line uses when it is given no path.
EXAMPLE = "kb4051498"


def example_files(name: str = EXAMPLE) -> list[Traversable]:
    """Return the evidence files of a bundled example, in name order, without its README."""
    folder = resources.files(__name__).joinpath(name)
    if not folder.is_dir():
        raise ValueError(f"there is no bundled example named {name!r}")
    return sorted(
        (entry for entry in folder.iterdir() if entry.is_file() and entry.name != "README.md"),
        key=lambda entry: entry.name,
    )
