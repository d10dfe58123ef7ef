"""How models show themselves, without importing a view: the hooks the views install.

The models (sessions, read results, findings, the diagnosis) keep ``print(...)``, the
notebook's HTML (``_repr_html_``), ``to_dataframe()`` and ``Diagnosis.render(format)``,
but how they look is decided in :mod:`exchange_tls.views`, which sits above them. So the
models ask this module, and :mod:`exchange_tls.views` registers its renderers here when
it is imported; ``import exchange_tls`` registers a loader that imports them the first
time a model is shown (below), so a user's code sees no difference. The layers stay
one-way: this module imports nothing of the package, the models import it, and only the
views (and the edges above them) import the views.

The formats a diagnosis renders to (``text``, ``json``, ``markdown``, ``html``, ``ps1``)
are registered here too: the command line's ``--format``, ``Diagnosis.render`` and the
docs list them from :func:`formats`.

So that ``import exchange_tls`` stays quick, the package root does not import the views
at once: it registers a loader (:func:`register_loader`) that imports them the first time
a model is printed or shown, or a format is asked for.
"""

from __future__ import annotations

import html as _html
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = [
    "Format",
    "format_named",
    "formats",
    "frame",
    "html",
    "register_format",
    "register_frame",
    "register_html",
    "register_loader",
    "register_text",
    "text",
]

Renderer = Callable[[Any], str]

_TEXT: dict[type, Renderer] = {}
_HTML: dict[type, Renderer] = {}
_FRAMES: list[Callable[[Sequence[Any]], Any]] = []
_FORMATS: dict[str, Format] = {}
_LOADERS: list[Callable[[], object]] = []


def register_loader(load: Callable[[], object]) -> None:
    """Call ``load()`` (which installs renderers) before the first renderer is looked up."""
    _LOADERS.append(load)


def _load() -> None:
    """Run the registered loaders once each (a loader that asks for a renderer is not rerun)."""
    while _LOADERS:
        _LOADERS.pop(0)()


def _lookup(table: dict[type, Renderer], value: object) -> Renderer | None:
    """Return the renderer of the nearest class of ``value`` (its own first, then bases)."""
    for cls in type(value).__mro__:
        renderer = table.get(cls)
        if renderer is not None:
            return renderer
    return None


def register_text(cls: type, render: Renderer) -> None:
    """Make ``str()`` of a ``cls`` instance (a subclass's too) ``render(instance)``."""
    _TEXT[cls] = render


def register_html(cls: type, render: Renderer) -> None:
    """Make the notebook's HTML of a ``cls`` instance ``render(instance)``."""
    _HTML[cls] = render


def register_frame(to_dataframe: Callable[[Sequence[Any]], Any]) -> None:
    """Make ``to_dataframe()`` of models build the DataFrame with ``to_dataframe(items)``."""
    _FRAMES[:] = [to_dataframe]


def text(value: object, default: Renderer = repr) -> str:
    """Return ``value`` as text, as the views show it; ``default`` before they are installed.

    >>> from exchange_tls import display
    >>> display.text(3.5, default=lambda value: f"<{value}>")
    '<3.5>'
    """
    _load()
    render = _lookup(_TEXT, value)
    return (render or default)(value)


def html(value: object) -> str:
    """Return ``value`` as an HTML fragment, as the views show it (escaped text without them).

    >>> from exchange_tls import display
    >>> display.html(object.__new__(type("Plain", (), {"__repr__": lambda self: "<plain>"})))
    '<pre>&lt;plain&gt;</pre>'
    """
    _load()
    render = _lookup(_HTML, value)
    if render is None:
        return f"<pre>{_html.escape(text(value))}</pre>"
    return render(value)


def frame(items: Sequence[Any]) -> Any:
    """Return models as a pandas DataFrame, as the views build it."""
    _load()
    if not _FRAMES:
        raise RuntimeError("no DataFrame view is installed: import exchange_tls.views")
    return _FRAMES[0](items)


@attrs.frozen(kw_only=True)
class Format:
    """A format a diagnosis renders to: its name, what it is for, and its renderer.

    ``render(diagnosis, evidence, colour=...)`` returns the whole document, as the command
    line writes it (a final newline included); ``evidence`` is the evidence the diagnosis
    was made from, for formats that draw it (``None`` when not at hand), and ``colour``
    asks for terminal colours where the format has them.
    """

    name: str
    #: What the format is for, as ``--format``'s help and the docs say it.
    description: str
    render: Callable[..., str] = attrs.field(repr=False)
    #: The usual file name suffix of a document in this format.
    suffix: str = ".txt"


def register_format(entry: Format) -> None:
    """Add a format (or replace the one of that name): ``--format`` and ``render`` offer it."""
    _FORMATS[entry.name] = entry


def formats() -> tuple[Format, ...]:
    """Return the registered formats, in the order they were registered."""
    _load()
    return tuple(_FORMATS.values())


def format_named(name: str) -> Format:
    """Return the format called ``name``; ``ValueError`` names the formats there are."""
    if not isinstance(name, str):
        raise TypeError(f"format must be a str, not {type(name).__name__}")
    _load()
    entry = _FORMATS.get(name)
    if entry is None:
        known = ", ".join(_FORMATS) or "none (import exchange_tls.views)"
        raise ValueError(f"unknown format {name!r}; the formats are: {known}")
    return entry
