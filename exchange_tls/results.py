"""What a reader returns: a list of models that also carries its problems."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from exchange_tls.errors import Problem

__all__ = ["ReadResult"]

T = TypeVar("T")


class ReadResult(list[T]):
    """A ``list`` of models, with the problems found and the format read.

    It is a plain list for code that only wants the models, and says what could not be
    read for code that cares.

    >>> result = ReadResult(["a"], problems=(), format="list")
    >>> result, result.problems, result.format
    (['a'], (), 'list')
    """

    problems: tuple[Problem, ...]
    format: str | None

    def __init__(
        self,
        items: Iterable[T] = (),
        *,
        problems: Iterable[Problem] = (),
        format: str | None = None,
    ) -> None:
        super().__init__(items)
        self.problems = tuple(problems)
        self.format = format

    def _repr_html_(self) -> str:
        from exchange_tls.views.html import list_html

        return list_html(self)

    def __str__(self) -> str:
        from exchange_tls.views.records import records
        from exchange_tls.views.tables import text_table

        try:
            return text_table(records(self))
        except TypeError:  # not models of this package: a list prints as a list
            return super().__str__()

    def to_dataframe(self) -> Any:
        """Return the models as a pandas DataFrame (needs the ``pandas`` extra)."""
        from exchange_tls.views.frames import to_dataframe

        return to_dataframe(self)
