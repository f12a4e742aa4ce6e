"""Fast GeoJSON serialization of GeoDataFrames (vectorized geometry encoding, orjson for properties)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

GEOJSON_MEDIA_TYPE = "application/geo+json"
"""The media type of GeoJSON (RFC 7946), for responses and links."""

_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def _default(value):
    """orjson fallback: pandas timestamps and other scalars."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(type(value).__name__)


def _dumps(value) -> bytes:
    return orjson.dumps(value, option=_OPTS, default=_default)


def _records(df: pd.DataFrame) -> list[dict]:
    clean = df.astype(object).where(df.notna(), None)
    return clean.to_dict("records")


def features_json(gdf: gpd.GeoDataFrame, *, id_column: str = "id", precision: int = 7) -> list[bytes]:
    """Encode each row as a GeoJSON Feature (bytes), ``id`` from ``id_column``.

    Coordinates are rounded to ``precision`` decimals (7 decimals of a degree is about 1 cm).
    """
    if gdf.empty:
        return []
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if precision is not None:
        geoms = (
            shapely.set_precision(geoms, 10.0**-precision, mode="pointwise")
            if gdf.crs is None or gdf.crs.is_geographic
            else geoms
        )
    geo = shapely.to_geojson(geoms)
    props = gdf.drop(columns=[gdf.geometry.name])
    ids = props[id_column].to_numpy() if id_column in props.columns else np.arange(len(props))
    recs = _records(props)
    out = []
    for fid, g, p in zip(ids, geo, recs):
        out.append(
            b'{"type":"Feature","id":'
            + _dumps(fid)
            + b',"geometry":'
            + (g.encode() if g is not None else b"null")
            + b',"properties":'
            + _dumps(p)
            + b"}"
        )
    return out


def feature_collection_json(gdf: gpd.GeoDataFrame, *, extra: dict | None = None, id_column: str = "id") -> bytes:
    """A GeoJSON FeatureCollection as bytes, with extra top-level members (links, counts)."""
    feats = features_json(gdf, id_column=id_column)
    head = b'{"type":"FeatureCollection"'
    for k, v in (extra or {}).items():
        head += b"," + orjson.dumps(k) + b":" + _dumps(v)
    return head + b',"features":[' + b",".join(feats) + b"]}"


def feature_json(gdf: gpd.GeoDataFrame, *, extra: dict | None = None, id_column: str = "id") -> bytes:
    feat = features_json(gdf, id_column=id_column)[0]
    if not extra:
        return feat
    tail = b"".join(b"," + orjson.dumps(k) + b":" + _dumps(v) for k, v in extra.items())
    return feat[:-1] + tail + b"}"
