"""numpy and pandas values as plain Python values that JSON can carry: the one converter of the code base.

Missing and non-finite numbers (NaN, NaT, ``pd.NA``, ±infinity) become ``None``; numpy scalars their Python
equivalents; arrays, tuples and lists lists; mappings dicts with text keys. Dates stay ``datetime`` objects for the
database drivers; :func:`dumps` writes them as ISO 8601 text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["dumps", "json_default", "json_records", "plain"]


def plain(value: Any) -> Any:
    """``value`` as plain Python, recursively (see the module docstring)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):  # before float and int: np.float64 is a float
        return plain(value.item())
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [plain(v) for v in items]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def json_default(value: Any) -> Any:
    """The ``default`` of :func:`json.dumps`: plain values, ISO 8601 dates, else the value's text."""
    out = plain(value)
    if out is not value:
        return out
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    """JSON text of ``value`` (UTF-8 characters kept, non-finite numbers as ``null``)."""
    return json.dumps(plain(value), ensure_ascii=False, default=json_default)


def json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as dicts of plain values (column name -> value)."""
    cols = [str(c) for c in frame.columns]
    data = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    return [{c: plain(d[i]) for c, d in zip(cols, data)} for i in range(len(frame))]
