"""pandas DataFrames of models, from the same records as every other view.

pandas is optional (``pip install "exchange_tls[pandas]"``): :func:`to_dataframe` says
so clearly when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exchange_tls.views.records import records

__all__ = ["ORDERED", "to_dataframe"]

#: Columns whose values have an order of importance, most important first: a DataFrame
#: sorts them by it (ordered categories), not by name.
ORDERED: dict[str, tuple[str, ...]] = {
    "severity": ("error", "warning", "info"),
    "confidence": ("high", "medium", "low"),
}


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
    frame = pandas.DataFrame.from_records(records(items))
    for column, order in ORDERED.items():
        if column in frame.columns:
            frame[column] = pandas.Categorical(frame[column], categories=order, ordered=True)
    for column in frame.columns:
        values = frame[column].dropna()
        # True, False and unknown: a nullable boolean, not objects that sort as strings.
        if len(values) and values.map(lambda value: isinstance(value, bool)).all():
            frame[column] = frame[column].astype("boolean")
    return frame
