"""Buildings and residential areas of an OSM extract.

* ``buildings``: ways and relations with ``building=*`` (not ``no``) whose
  geometry is a (Multi)Polygon; building nodes are skipped (counted in the
  stats).  ``floors`` from ``building:levels`` (1..200), ``height_m`` from
  ``height`` in metres (``"12"``, ``"12.5"``, ``"12 m"``, ``"12米"``; > 0 and
  <= 1000, other units are ignored), ``dwellings`` from ``building:flats``,
  ``use`` from :func:`building_use`, ``compound_id`` the ``source_id`` of the
  compound (a ``residential_areas`` feature of kind ``compound``) that holds
  the building's representative point.
* ``residential_areas``: ``landuse=residential`` polygons, and named
  ``place=neighbourhood`` polygons; kind ``compound`` when the name ends in
  小区, 花园 or 苑 (after a part such as ``-北区``, ``（东区）`` or ``二期``
  is taken off), else ``residential_land``.

Everything is in EPSG:4326 (longitude, latitude in degrees).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from ..layers import BUILDINGS, RESIDENTIAL_AREAS
from ._common import CRS, _parse_error, _parse_errors
from ._tagvalues import _first, _name, _text, _values

#: Columns of the buildings frame (``buildings`` layer fields plus ``source_id``).
BUILDING_COLUMNS = ["source_id", *BUILDINGS.field_names, "geometry"]
#: Columns of the residential areas frame (``residential_areas`` layer fields plus ``source_id``).
RESIDENTIAL_AREA_COLUMNS = ["source_id", *RESIDENTIAL_AREAS.field_names, "geometry"]

#: Tags read for this module (osmnx ``tags`` argument).
BUILDING_TAGS: dict[str, bool | str | list[str]] = {
    "building": True,
    "landuse": "residential",
    "place": "neighbourhood",
}

#: ``building`` values of housing.
RESIDENTIAL_BUILDINGS = frozenset(
    {"apartments", "residential", "house", "dormitory", "terrace", "detached", "semidetached_house", "bungalow"}
)
#: ``building`` / ``building:use`` values that make a housing building mixed-use (商住) when present beside one.
_SHOP_OFFICE = frozenset({"commercial", "retail", "office"})
_MIXED_USE = frozenset({"mixed", "mixed_use"})

_NUMERIC = {"floors": "Int64", "height_m": "float64", "dwellings": "Int64", "households": "Int64", "residents": "Int64"}
_RE_HEIGHT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:m|米|metres?|meters?)?\s*")
_RE_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")
_RE_PART = re.compile(r"[\s\-－—·・]*[（(]?[东南西北中一二三四五六七八九十\dA-Za-z]+[区期][）)]?$")
_COMPOUND_ENDINGS = ("小区", "花园", "苑")


def building_use(tags: Mapping[str, Any]) -> str:
    """Use (:data:`~geo_service.core.vocab.BUILDING_USES`) of an OSM building.

    ``mixed`` when ``building:use`` is ``mixed``, or when ``building`` and
    ``building:use`` together name housing and shops/offices (e.g.
    ``building=commercial;residential``, or ``building=residential`` with
    ``building:use=retail``); ``residential`` for housing values
    (:data:`RESIDENTIAL_BUILDINGS`); else ``other``.
    """
    values = _values(tags, "building") | _values(tags, "building:use")
    if _values(tags, "building:use") & _MIXED_USE:
        return "mixed"
    if values & RESIDENTIAL_BUILDINGS:
        return "mixed" if values & _SHOP_OFFICE else "residential"
    return "other"


def residential_kind(name: str | None) -> str:
    """``compound`` for a name ending in 小区/花园/苑 (after a part such as ``-北区`` or ``二期``), else
    ``residential_land``."""
    if not name:
        return "residential_land"
    base = _RE_PART.sub("", name.strip()) or name.strip()
    return "compound" if base.endswith(_COMPOUND_ENDINGS) else "residential_land"


def _number(tags: Mapping[str, Any], key: str, pattern: re.Pattern[str]) -> float | None:
    text = _first(tags.get(key))
    m = pattern.fullmatch(text) if text is not None else None
    return float(m.group(1)) if m else None


def _floors(tags: Mapping[str, Any]) -> int | None:
    """``building:levels`` as a whole number of floors in 1..200, else None."""
    v = _number(tags, "building:levels", _RE_NUMBER)
    return int(round(v)) if v is not None and 1 <= round(v) <= 200 else None


def _height_m(tags: Mapping[str, Any]) -> float | None:
    """``height`` in metres (> 0 and <= 1000), else None (feet and other units are not read)."""
    v = _number(tags, "height", _RE_HEIGHT)
    return v if v is not None and 0 < v <= 1000 else None


def _dwellings(tags: Mapping[str, Any]) -> int | None:
    v = _number(tags, "building:flats", _RE_NUMBER)
    return int(v) if v is not None and v == int(v) else None


def _polygonal(geom: BaseGeometry | None) -> BaseGeometry | None:
    """The (Multi)Polygon of a feature geometry (polygon parts of a collection), or None."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [p for g in geom.geoms if isinstance(g, (Polygon, MultiPolygon)) for p in getattr(g, "geoms", [g])]
        if parts:
            return parts[0] if len(parts) == 1 else MultiPolygon(parts)
    return None


def _load(
    xml_path: Path | None,
    polygon: Polygon | None,
    load_features: Callable[[Any, dict], gpd.GeoDataFrame] | None,
) -> gpd.GeoDataFrame | None:
    """The features with :data:`BUILDING_TAGS` (within ``polygon`` when given), None when there are none."""
    import osmnx as ox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            if load_features is None:
                return ox.features_from_xml(cast(Path, xml_path), polygon=polygon, tags=BUILDING_TAGS)
            return load_features(ox, BUILDING_TAGS)
        except ox._errors.InsufficientResponseError:
            return None
        except _parse_errors() as exc:
            if xml_path is None:
                raise
            raise _parse_error(xml_path, exc) from exc


def _rows(gdf: gpd.GeoDataFrame | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Building rows, residential area rows (OSM id order) and the number of building nodes skipped."""
    buildings: list[dict[str, Any]] = []
    areas: list[dict[str, Any]] = []
    skipped = 0
    if gdf is None or not len(gdf):
        return buildings, areas, skipped
    columns = [c for c in gdf.columns if c != "geometry"]
    for (element, osm_id), values, raw in zip(
        gdf.index, gdf[columns].itertuples(index=False, name=None), gdf.geometry, strict=True
    ):
        tags = {c: v for c, v in zip(columns, values, strict=True) if isinstance(v, str)}
        geom = _polygonal(raw)
        source_id = f"osm:{element}/{int(osm_id)}"
        order = (element, int(osm_id))
        name = _name(tags)
        if _text(tags, "building") not in (None, "no"):
            if geom is None:
                skipped += 1
            else:
                buildings.append(
                    {
                        "source_id": source_id,
                        "name": name,
                        "floors": _floors(tags),
                        "height_m": _height_m(tags),
                        "use": building_use(tags),
                        "dwellings": _dwellings(tags),
                        "households": None,
                        "compound_id": None,
                        "geometry": geom,
                        "_order": order,
                    }
                )
        residential = "residential" in _values(tags, "landuse")
        neighbourhood = "neighbourhood" in _values(tags, "place") and name is not None
        if geom is not None and (residential or neighbourhood):
            row = {"source_id": source_id, "name": name, "kind": residential_kind(name), "geometry": geom}
            areas.append({**row, "households": None, "residents": None, "_order": order})
    buildings.sort(key=lambda r: r["_order"])
    areas.sort(key=lambda r: r["_order"])
    return buildings, areas, skipped


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    """Layer frame: numeric columns typed, text columns object with None for missing; EPSG:4326."""
    data: dict[str, Any] = {}
    for col in columns[:-1]:
        values = [r[col] for r in rows]
        data[col] = pd.array(values, dtype=_NUMERIC[col]) if col in _NUMERIC else pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries([r["geometry"] for r in rows], crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)[columns]


def _assign_compounds(buildings: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> None:
    """Set ``compound_id`` of the buildings whose representative point lies in a compound (the first in id order)."""
    compounds = areas[areas["kind"].eq("compound").to_numpy()]
    if not len(buildings) or not len(compounds):
        return
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    b_idx, c_idx = shapely.STRtree(compounds.geometry.to_numpy()).query(points, predicate="within")
    first = pd.Series(c_idx).groupby(b_idx).min()
    ids = compounds["source_id"].to_numpy()
    col = buildings["compound_id"].to_numpy(dtype=object).copy()
    col[first.index.to_numpy()] = ids[first.to_numpy()]
    buildings["compound_id"] = pd.Series(col, index=buildings.index, dtype=object)


def _read_buildings(
    xml_path: Path | None,
    bounds: tuple[float, float, float, float],
    clip: bool,
    stats: dict[str, Any],
    load_features: Callable[[Any, dict], gpd.GeoDataFrame] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings and residential areas frames (EPSG:4326) of an OSM XML file.

    Parameters
    ----------
    xml_path : Path or None
        OSM XML file; None when ``load_features`` is given.
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees (EPSG:4326).
    clip : bool
        Keep only the features that intersect ``bounds``.
    stats : dict
        Filled with ``buildings``, ``buildings_by_use``, ``building_points_skipped``,
        ``residential_areas`` and ``residential_areas_by_kind``.
    load_features : callable, optional
        ``load_features(osmnx, tags) -> GeoDataFrame``: the features from elsewhere (e.g. Overpass).

    Returns
    -------
    buildings, residential_areas : GeoDataFrame
        Columns :data:`BUILDING_COLUMNS` and :data:`RESIDENTIAL_AREA_COLUMNS`; heights in metres.
    """
    gdf = _load(xml_path, box(*bounds) if clip else None, load_features)
    building_rows, area_rows, skipped = _rows(gdf)
    buildings = _frame(building_rows, BUILDING_COLUMNS)
    areas = _frame(area_rows, RESIDENTIAL_AREA_COLUMNS)
    _assign_compounds(buildings, areas)
    stats["buildings"] = len(buildings)
    stats["buildings_by_use"] = {u: int(n) for u, n in buildings["use"].value_counts().sort_index().items()}
    stats["building_points_skipped"] = skipped
    stats["residential_areas"] = len(areas)
    stats["residential_areas_by_kind"] = {k: int(n) for k, n in areas["kind"].value_counts().sort_index().items()}
    return buildings, areas


def empty_buildings() -> gpd.GeoDataFrame:
    """An empty buildings frame (columns :data:`BUILDING_COLUMNS`)."""
    return _frame([], BUILDING_COLUMNS)


def empty_residential_areas() -> gpd.GeoDataFrame:
    """An empty residential areas frame (columns :data:`RESIDENTIAL_AREA_COLUMNS`)."""
    return _frame([], RESIDENTIAL_AREA_COLUMNS)
