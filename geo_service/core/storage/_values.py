"""Values between Python frames and the database: timestamps, JSON, WKB rows, paging.

Shared by every repository of :mod:`geo_service.core.storage`; no database access here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from .. import models
from ..jsonvalues import json_default, json_records, plain

SRID = models.SRID
BATCH_ROWS = 5000
_MULTI = {
    "MULTIPOLYGON": (shapely.GeometryType.POLYGON, shapely.multipolygons),
    "MULTILINESTRING": (shapely.GeometryType.LINESTRING, shapely.multilinestrings),
}


@dataclass
class WriteResult:
    """What one write did: rows inserted and rows updated (matched by ``source_id``)."""

    inserted: int = 0
    updated: int = 0


def utcnow() -> datetime:
    """The current time, timezone-aware UTC.

    Returns
    -------
    datetime
    """
    return datetime.now(UTC)


def promote_to_storage(geoms: np.ndarray, storage_geometry: str) -> np.ndarray:
    """Promote single-part geometries to the multi-part type a column stores.

    Parameters
    ----------
    geoms : array of shapely geometries
    storage_geometry : str
        GeoAlchemy2 geometry type of the column (``MULTIPOLYGON``, ...).

    Returns
    -------
    numpy.ndarray
        The geometries, single parts wrapped in their multi-part type.
    """
    geoms = np.asarray(geoms, dtype=object)
    if storage_geometry not in _MULTI:
        return geoms
    single_type, make_multi = _MULTI[storage_geometry]
    single = shapely.get_type_id(geoms) == single_type
    out = geoms.copy()
    if single.any():
        out[single] = make_multi(geoms[single].reshape(-1, 1))
    return out


def _paged(stmt, table: sa.Table, ids, limit: int | None, offset: int):
    """``stmt`` restricted to ``ids`` (if given), ordered by ``id``, one page of ``limit`` from ``offset``."""
    if ids is not None:
        stmt = stmt.where(table.c.id.in_([int(i) for i in ids]))
    stmt = stmt.order_by(table.c.id)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    if offset:
        stmt = stmt.offset(int(offset))
    return stmt


def _json_rows(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row; NaN/NaT and infinities become null, numpy scalars plain numbers."""
    return [json.dumps(row, ensure_ascii=False, default=json_default) for row in json_records(frame)]


def _plain_records(frame: gpd.GeoDataFrame, cols: list[str]) -> list[dict[str, Any]]:
    """Rows of ``cols`` as plain Python values plus the geometry as ``wkb`` (missing columns are None)."""
    wkb = shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object))
    data = {
        c: frame[c].to_numpy(dtype=object) if c in frame.columns else np.full(len(frame), None, dtype=object)
        for c in cols
    }
    return [{**{c: plain(data[c][i]) for c in cols}, "wkb": wkb[i]} for i in range(len(frame))]


def _rows_to_frame(rows, names: list[str]) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4326) from result rows whose last value is the geometry's WKB."""
    if not rows:
        return gpd.GeoDataFrame({n: [] for n in names}, geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    data = list(zip(*rows))
    wkb = [bytes(b) if b is not None else None for b in data[-1]]
    frame = pd.DataFrame({n: list(col) for n, col in zip(names, data[:-1])})
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=SRID)


def _inserted_id(result: sa.CursorResult) -> int:
    """The primary key of the one row an INSERT made."""
    key = result.inserted_primary_key
    assert key is not None  # single-row INSERTs always report their key
    return int(key[0])
