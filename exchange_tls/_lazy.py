"""Names a package exports, imported from their modules on first use (PEP 562).

A package's ``__init__`` names what it exports and where each lives; the module is
imported the first time a name is touched, so importing a package's models does not
import its readers (and their ``cryptography``, ``pyparsing`` or ``email``). The same
imports stay written under ``if TYPE_CHECKING:`` in the ``__init__``, so type checkers
and the architecture contracts (import-linter) see exactly what they saw before.

>>> import exchange_tls.queues as queues
>>> queues.parse_last_error.__module__
'exchange_tls.queues.last_error'
>>> "parse_last_error" in dir(queues)
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, where: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for names imported on first use.

    ``where`` maps each name to the module that defines it, relative to ``package``
    (``"models"``) or absolute (``"exchange_tls.endpoints"``); ``public`` is the package's
    ``__all__``, which ``dir()`` shows. A name, once imported, is set on the package, so
    later lookups are ordinary attribute lookups. A name that is also a submodule's
    (``views.records``) cannot be lazy: importing the submodule sets the attribute first.
    """
    clashes = [name for name, module in where.items() if module.rsplit(".", 1)[-1] == name]
    if clashes:
        raise ValueError(f"{package}: import {', '.join(clashes)} in __init__, not lazily")
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if not module.startswith("exchange_tls."):
            module = f"{package}.{module}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(public)

    return __getattr__, __dir__
