"""What every reader of files and text returns: its models, problems, format and source.

:class:`ReadResult` is the one shape; ``parse_*(text, *, source=...)`` returns it,
``read_*(path)`` returns it with ``source`` the path, and :func:`read_text_file` is the
scaffold every ``read_*`` shares (decode the file, parse its text, keep both problems).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO, TypeVar, overload

import attrs

from exchange_tls import display
from exchange_tls.errors import Problem
from exchange_tls.sources import read_source

__all__ = ["ReadResult", "read_text_file"]

T = TypeVar("T")
R = TypeVar("R", bound="ReadResult[Any]")


def _items(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(items)


def _problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(problems)


@attrs.frozen(kw_only=True)
class ReadResult(Sequence[T]):
    """The models a reader found, the problems it met, the format it read and its source.

    It is an immutable sequence of the models for code that only wants them (``len``,
    indexing, slicing, iteration, ``in``), and says what could not be read for code that
    cares. A slice is a plain tuple; two results are equal when all four fields are.

    >>> result = ReadResult(items=["a", "b"], format="list", source="queues.txt")
    >>> len(result), result[0], result[-1:], "b" in result
    (2, 'a', ('b',), True)
    >>> result.items, result.problems, result.format, result.source
    (('a', 'b'), (), 'list', 'queues.txt')
    """

    #: The models read, in the order of the input.
    items: tuple[T, ...] = attrs.field(converter=_items)
    #: What could not be read, or was read with a guess; see :class:`~exchange_tls.Problem`.
    problems: tuple[Problem, ...] = attrs.field(default=(), converter=_problems)
    #: The format detected or asked for (``"list"``, ``"csv"``, ``"reg"``...), if known.
    format: str | None = None
    #: What the text was read from: the path for ``read_*``, the ``source=`` label for
    #: ``parse_*``.
    source: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self.items[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __contains__(self, value: object) -> bool:
        return value in self.items

    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        """Return the index of the first item equal to ``value``; ``ValueError`` if none."""
        return self.items.index(value, start, stop)

    def count(self, value: Any) -> int:
        """Return how many items equal ``value``."""
        return self.items.count(value)

    def _repr_html_(self) -> str:
        return display.html(self)

    def __str__(self) -> str:
        return display.text(self, default=lambda result: str(result.items))

    def to_dataframe(self) -> Any:
        """Return the models as a pandas DataFrame (needs the ``pandas`` extra)."""
        return display.frame(self.items)


def read_text_file(file: str | os.PathLike[str] | BinaryIO, parse: Callable[[str, str], R]) -> R:
    """Decode ``file`` and read its text with ``parse(text, source)``.

    The result's ``source`` is the file's path (or stream name), and its problems are the
    decoding's (a guessed encoding, undecodable bytes) followed by the parser's.
    """
    decoded = read_source(file)
    result = parse(decoded.text, decoded.source)
    return attrs.evolve(
        result, problems=(*decoded.problems, *result.problems), source=decoded.source
    )
