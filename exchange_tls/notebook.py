"""Notebook views, kept for code that imported them from here: see :mod:`exchange_tls.views`.

As an IPython extension (``%load_ext exchange_tls.notebook``), it shows a single
certificate, connector, queue or session as an HTML table.

>>> from exchange_tls.notebook import records, to_dataframe
"""

from __future__ import annotations

from typing import Any

from exchange_tls.views.display import register
from exchange_tls.views.frames import to_dataframe
from exchange_tls.views.records import records

__all__ = ["load_ipython_extension", "records", "to_dataframe"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the HTML display of single records with IPython (``%load_ext``)."""
    register(ipython)
