"""pandas DataFrames of models, from the same records as every other view.

pandas is optional (``pip install "exchange_tls[pandas]"``): :func:`to_dataframe` says
so clearly when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exchange_tls.views.records import records

__all__ = ["to_dataframe"]


def to_dataframe(items: Iterable[object]) -> Any:
    """Return a pandas DataFrame of models (any that :func:`~exchange_tls.views.record` takes).

    Raises ImportError with the install command when pandas is missing.
    """
    try:
        import pandas  # optional: imported only when asked for
    except ImportError as error:
        raise ImportError(
            'to_dataframe() needs pandas: pip install "exchange_tls[pandas]"'
        ) from error
    return pandas.DataFrame.from_records(records(items))
