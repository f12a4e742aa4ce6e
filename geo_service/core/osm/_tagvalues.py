"""Reading OSM tag values: multi-values, missing values and names.

Tags are a mapping of OSM key to value as read by osmnx or pyosmium; a
value may be missing, ``None``, a float NaN (a missing value in a
GeoDataFrame) or a ``;``-separated list (OSM multi-values).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_NAME_KEYS = ("name:zh", "name:zh-Hans", "name")
_ALL_NAME_KEYS = ("name:zh", "name:zh-Hans", "name", "official_name", "name:en", "short_name")
_RE_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _missing(value: Any) -> bool:
    """True for ``None`` and float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _first(value: Any) -> str | None:
    """The first of ``;``-separated values (OSM multi-values), stripped."""
    if _missing(value):
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).split(";")[0].strip()
    return text or None


def _values(tags: Mapping[str, Any], key: str) -> set[str]:
    """All ``;``-separated values of ``key``, stripped (empty set when missing)."""
    v = tags.get(key)
    if _missing(v):
        return set()
    return {p.strip() for p in str(v).split(";") if p.strip()}


def _text(tags: Mapping[str, Any], key: str) -> str | None:
    """The whole value of ``key``, stripped, or None when missing or blank."""
    v = tags.get(key)
    if _missing(v):
        return None
    text = str(v).strip()
    return text or None


def _name(tags: Mapping[str, Any]) -> str | None:
    """``name:zh`` (or ``name:zh-Hans``, ``name``): the first that is written in
    Chinese characters (``name:zh`` sometimes holds an English name), else the
    first present."""
    texts = [t for k in _NAME_KEYS if (t := _text(tags, k)) is not None]
    for text in texts:
        if _RE_CJK.search(text):
            return text
    return texts[0] if texts else None


def _names(tags: Mapping[str, Any]) -> str:
    """All name variants, joined, for keyword matching."""
    return " ".join(t for k in _ALL_NAME_KEYS if (t := _text(tags, k)) is not None)
