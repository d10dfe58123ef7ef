"""Notebook views, kept for code that imported them from here: see :mod:`exchange_tls.views`.

>>> from exchange_tls.notebook import records, to_dataframe
"""

from __future__ import annotations

from exchange_tls.views.frames import to_dataframe
from exchange_tls.views.records import records

__all__ = ["records", "to_dataframe"]
