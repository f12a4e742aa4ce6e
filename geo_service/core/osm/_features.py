"""Facilities and shelters frames of an OSM extract.

Features with one of the keys :data:`~geo_service.core.osm.tags.FEATURE_KEYS`
are read with osmnx and mapped with
:func:`~geo_service.core.osm.tags.facility_category` and
:func:`~geo_service.core.osm.tags.shelter_class`.  Geometries are Points or
(Multi)Polygons in EPSG:4326 (lines become their midpoint); areas are
geodesic, in m² on the WGS84 ellipsoid.  A point facility lying inside a
polygon facility of the same category is a duplicate (the same place mapped
twice) and is dropped.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from ..layers import FACILITIES, SHELTERS
from ._common import CRS, _parse_error, _parse_errors
from ._tagvalues import _name, _text
from .tags import FEATURE_KEYS, facility_category, shelter_class

#: Columns of the facilities frame (``facilities`` layer fields plus ``source_id``).
FACILITY_COLUMNS = ["source_id", *FACILITIES.field_names, "geometry"]
#: Columns of the shelters frame (``shelters`` layer fields plus ``source_id``).
SHELTER_COLUMNS = ["source_id", *SHELTERS.field_names, "geometry"]

_GEOD = Geod(ellps="WGS84")

_NUMERIC = {
    "floor_area_m2": "float64", "land_area_m2": "float64", "effective_area_m2": "float64",
    "capacity": "Int64", "capacity_persons": "Int64",
}  # fmt: skip

_ADDR_ORDER = (
    "addr:province", "addr:city", "addr:district", "addr:subdistrict", "addr:suburb",
    "addr:street", "addr:place", "addr:housenumber", "addr:housename", "addr:unit",
    "addr:floor", "addr:door",
)  # fmt: skip


def _read_features(
    xml_path: Path | None,
    bounds: tuple[float, float, float, float],
    clip: bool,
    stats: dict[str, Any],
    load_features: Callable[[Any, dict], gpd.GeoDataFrame] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Facilities and shelters frames (EPSG:4326) of an OSM XML file.

    Parameters
    ----------
    xml_path : Path or None
        OSM XML file; None when ``load_features`` is given.
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees (EPSG:4326).
    clip : bool
        Keep only the features that intersect ``bounds``.
    stats : dict
        Filled with ``features_read``, ``unmapped_features``,
        ``facility_duplicates_dropped``, ``facilities``,
        ``facilities_by_category`` and ``shelters``.
    load_features : callable, optional
        ``load_features(osmnx, tags) -> GeoDataFrame``: the features from
        elsewhere (e.g. Overpass) instead of ``xml_path``.

    Returns
    -------
    facilities, shelters : GeoDataFrame
        Columns :data:`FACILITY_COLUMNS` and :data:`SHELTER_COLUMNS`.
    """
    gdf = _load_features(xml_path, box(*bounds) if clip else None, load_features)
    fac_rows, shel_rows, unmapped = _feature_rows(gdf)
    stats["features_read"] = 0 if gdf is None else len(gdf)
    stats["unmapped_features"] = unmapped

    facilities, duplicates = _facilities_frame(fac_rows)
    shelters = _frame(shel_rows, SHELTER_COLUMNS)
    stats["facility_duplicates_dropped"] = duplicates
    stats["facilities"] = len(facilities)
    stats["facilities_by_category"] = {c: int(n) for c, n in facilities["category"].value_counts().sort_index().items()}
    stats["shelters"] = len(shelters)
    return facilities, shelters


def _load_features(
    xml_path: Path | None,
    polygon: Polygon | None,
    load_features: Callable[[Any, dict], gpd.GeoDataFrame] | None,
) -> gpd.GeoDataFrame | None:
    """The features with one of :data:`FEATURE_KEYS` (within ``polygon`` when given), None when there are none."""
    import osmnx as ox

    tags: dict[str, bool | str | list[str]] = {k: True for k in FEATURE_KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            if load_features is None:
                return ox.features_from_xml(cast(Path, xml_path), polygon=polygon, tags=tags)
            return load_features(ox, tags)
        except ox._errors.InsufficientResponseError:
            return None
        except _parse_errors() as exc:
            if xml_path is None:  # downloaded data (read_osm_place): reported there with the real cause
                raise
            raise _parse_error(xml_path, exc) from exc


def _feature_rows(gdf: gpd.GeoDataFrame | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Facility rows, shelter rows and the number of features that are neither (or have no geometry)."""
    fac_rows: list[dict[str, Any]] = []
    shel_rows: list[dict[str, Any]] = []
    unmapped = 0
    if gdf is None or not len(gdf):
        return fac_rows, shel_rows, unmapped
    columns = [c for c in gdf.columns if c != "geometry"]
    for (element, osm_id), values, raw_geom in zip(
        gdf.index, gdf[columns].itertuples(index=False, name=None), gdf.geometry, strict=True
    ):
        tags = {c: v for c, v in zip(columns, values, strict=True) if isinstance(v, str)}
        geom = _feature_geometry(raw_geom)
        if geom is None:
            unmapped += 1
            continue
        source_id = f"osm:{element}/{int(osm_id)}"
        area = _geodesic_area(geom) if isinstance(geom, (Polygon, MultiPolygon)) else None
        category = facility_category(tags)
        shelter = shelter_class(tags)
        if category is None and shelter is None:
            unmapped += 1
            continue
        common = {"source_id": source_id, "name": _name(tags)}
        address = _address(tags)
        if category is not None:
            order = (element != "node", element, int(osm_id))
            fac_rows.append({**_facility_row(common, category, tags, address, geom, area), "_order": order})
        if shelter is not None:
            shel_rows.append(
                {
                    **common,
                    "shelter_class": shelter,
                    "effective_area_m2": round(area, 1) if area is not None else None,
                    "capacity_persons": _int_tag(tags, "capacity:persons", "capacity"),
                    "status": "existing",
                    "address": address,
                    "geometry": geom,
                }
            )
    return fac_rows, shel_rows, unmapped


def _facility_row(
    common: dict[str, Any],
    category: str,
    tags: Mapping[str, Any],
    address: str | None,
    geom: BaseGeometry,
    area: float | None,
) -> dict[str, Any]:
    """One facility row.

    ``area`` is the geodesic area (m²) of a polygon, None for a point.  A
    building polygon gives the floor area (``building:floor_area``, else area
    × ``building:levels``); any other polygon gives the land area.
    """
    floor_area = _float_tag(tags, "building:floor_area")
    land_area = None
    if area is not None and "building" in tags and tags["building"] != "no":
        levels = _int_tag(tags, "building:levels")
        if floor_area is None and levels:
            floor_area = round(area * levels, 1)
    elif area is not None:
        land_area = round(area, 1)
    return {
        **common,
        "category": category,
        "floor_area_m2": floor_area,
        "land_area_m2": land_area,
        "capacity": _int_tag(tags, "capacity", "capacity:persons"),
        "status": "existing",
        "address": address,
        "opening_hours": _text(tags, "opening_hours"),
        "geometry": geom,
    }


def _address(tags: Mapping[str, Any]) -> str | None:
    """``addr:full`` or the ``addr:*`` parts from largest to smallest, space-joined."""
    if (full := _text(tags, "addr:full")) is not None:
        return full
    parts = [t for k in _ADDR_ORDER if (t := _text(tags, k)) is not None]
    return " ".join(parts) or None


def _int_tag(tags: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` whose value is a whole number (optionally ``~`` and ``人``/``persons``)."""
    for key in keys:
        text = _text(tags, key)
        if text is None:
            continue
        m = re.fullmatch(r"\s*~?\s*(\d+)\s*(?:人|persons?)?\s*", text)
        if m:
            return int(m.group(1))
    return None


def _float_tag(tags: Mapping[str, Any], key: str) -> float | None:
    """The value of ``key`` as an area in m² (a number, optionally followed by m2/m²/㎡/平方米/平米)."""
    text = _text(tags, key)
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:m2|m²|㎡|平方米|平米)?\s*", text)
    return float(m.group(1)) if m else None


def _geodesic_area(geom: BaseGeometry) -> float:
    """Area in m² on the WGS84 ellipsoid of a lon/lat geometry (EPSG:4326)."""
    area, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def _feature_geometry(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Point or (Multi)Polygon for the layers (lines become their midpoint)."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, (Point, Polygon, MultiPolygon)):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if isinstance(g, (Polygon, MultiPolygon)) and not g.is_empty]
        if polys:
            parts = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
            return parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if geom.geom_type in ("LineString", "LinearRing"):
        return geom.interpolate(0.5, normalized=True)
    return geom.representative_point()


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    """Layer frame: numeric columns typed, text columns object with None for missing; EPSG:4326."""
    data: dict[str, Any] = {}
    for col in columns:
        if col == "geometry":
            continue
        values = [r.get(col) for r in rows]  # a field the OSM rules do not fill (e.g. functions) is empty
        if col in _NUMERIC:
            data[col] = pd.array(values, dtype=_NUMERIC[col])
        else:
            data[col] = pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries([r["geometry"] for r in rows], crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)[columns]


def _facilities_frame(rows: list[dict[str, Any]]) -> tuple[gpd.GeoDataFrame, int]:
    """Facilities frame; a point inside a polygon of the same category is dropped
    (the polygon takes the point's name, address and hours when it has none)."""
    if not rows:
        return _frame([], FACILITY_COLUMNS), 0
    rows, dropped = _merge_points_into_polygons(rows)
    rows.sort(key=lambda r: r["_order"])
    return _frame(rows, FACILITY_COLUMNS), dropped


def _merge_points_into_polygons(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Rows without the points that lie in a polygon of the same category, and how many were dropped."""
    polygons = [r for r in rows if not isinstance(r["geometry"], Point)]
    if not polygons:
        return rows, 0
    from shapely import STRtree

    tree = STRtree([r["geometry"] for r in polygons])
    keep = []
    dropped = 0
    for r in rows:
        if isinstance(r["geometry"], Point):
            hits = [
                polygons[i]
                for i in tree.query(r["geometry"], predicate="intersects")
                if polygons[i]["category"] == r["category"]
            ]
            if hits:
                target = hits[0]
                for col in ("name", "address", "opening_hours", "capacity"):
                    if target[col] is None and r[col] is not None:
                        target[col] = r[col]
                dropped += 1
                continue
        keep.append(r)
    return keep, dropped
