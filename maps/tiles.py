"""Mapbox vector tiles (MVT) in Web Mercator, from a layer or an analysis output.

PostGIS encodes the tile in the database (``ST_AsMVTGeom`` + ``ST_AsMVT``); on SpatiaLite the features of
the tile (R*Tree bbox read) are clipped and encoded here with ``mapbox-vector-tile``, with the same extent
(4096), buffer (64 px) and layer/attribute layout, so both backends give equivalent tiles:

- one MVT layer named after the collection;
- the feature id is the collection's ``id``;
- attributes: the layer's fields (``source_id`` and the declared fields; timestamps left out) or every
  property of an analysis output (lists and objects as JSON text).

The PostGIS query is the one SQL statement of the service outside ``storage.py``: ``ST_AsMVT`` has no
counterpart in the Store API yet (candidate to move there as ``Store.mvt_tile``).
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import shapely

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
WEB_MERCATOR_HALF = 20037508.342789244


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Bounds of tile z/x/y (XYZ scheme, y down from the north) in EPSG:3857 metres."""
    size = 2 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * size
    maxy = WEB_MERCATOR_HALF - y * size
    return minx, maxy - size, minx + size, maxy


def tile_bounds_lonlat(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """Bounds of the tile in lon/lat, widened by ``margin`` (a fraction of the tile size)."""
    n = 1 << z

    def lon(xx):
        return xx / n * 360.0 - 180.0

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)


def valid_tile(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def to_3857(geoms: np.ndarray) -> np.ndarray:
    """Lon/lat geometries to Web Mercator (latitudes clamped to +-85.0511)."""

    def fn(c):
        lon = c[:, 0]
        lat = np.clip(c[:, 1], -85.05112878, 85.05112878)
        x = np.radians(lon) * 6378137.0
        y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * 6378137.0
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _attr(value):
    """An MVT attribute value: str, int, float or bool; lists/dicts as JSON; None/NaN left out."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def encode_tile(
    gdf: gpd.GeoDataFrame,
    layer_name: str,
    z: int,
    x: int,
    y: int,
    *,
    attributes: list[str] | None = None,
    geoms_3857: np.ndarray | None = None,
) -> bytes:
    """Encode lon/lat features as one MVT layer of tile z/x/y; ``b""`` when nothing is left in the tile.

    Geometries are projected to Web Mercator, clipped to the tile plus a 64-pixel buffer (as ``ST_AsMVTGeom``)
    and quantized to a 4096 grid by ``mapbox_vector_tile``.  ``geoms_3857``: the rows' geometries already in
    Web Mercator (a static export projects a layer once for all its tiles).
    """
    import mapbox_vector_tile

    if gdf.empty:
        return b""
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * BUFFER / EXTENT
    if geoms_3857 is None:
        geoms_3857 = to_3857(np.asarray(gdf.geometry.values, dtype=object))
    geoms = geoms_3857
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = np.where(keep, geoms, None)
    clipped = shapely.clip_by_rect(geoms, minx - pad, miny - pad, maxx + pad, maxy + pad)
    cols = attributes if attributes is not None else [c for c in gdf.columns if c not in (gdf.geometry.name, "id")]
    data = {c: gdf[c].to_numpy(dtype=object) for c in cols if c in gdf.columns}
    ids = gdf["id"].to_numpy() if "id" in gdf.columns else np.arange(len(gdf))
    features = []
    for i, g in enumerate(clipped):
        if g is None or g.is_empty:
            continue
        if g.geom_type == "GeometryCollection":  # clipping a polygon along an edge can leave lines/points
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")] or list(
                shapely.get_parts(g)
            )
            g = shapely.union_all(parts)
            if g.is_empty:
                continue
        props = {}
        for c, col in data.items():
            v = _attr(col[i])
            if v is not None:
                props[c] = v
        features.append({"geometry": g, "properties": props, "id": int(ids[i])})
    if not features:
        return b""
    tile = mapbox_vector_tile.encode(
        [{"name": layer_name, "features": features}],
        default_options={
            "quantize_bounds": (minx, miny, maxx, maxy),
            "extents": EXTENT,
            "y_coord_down": False,
            "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid,
        },
    )
    # Polygons smaller than a grid cell can vanish when quantized: check the tile when only such features are left.
    cell = ((maxx - minx) / EXTENT) ** 2
    polys = [f["geometry"] for f in features if f["geometry"].geom_type in ("Polygon", "MultiPolygon")]
    if (
        len(polys) == len(features)
        and max(p.area for p in polys) < 4 * cell
        and not mapbox_vector_tile.decode(tile).get(layer_name, {}).get("features")
    ):
        return b""
    return tile
