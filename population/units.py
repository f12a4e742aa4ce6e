"""The geometry of population units: residential compounds where given, else street blocks, else single buildings.

**Stable unit ids.** A unit's ``source_id`` says what the unit is, not where it came in a list, so that a rebuild
(new totals, another weight, another persons-per-household) gives every unit the id it had, and boundary plans,
which keep their unit -> community assignment by ``source_id`` (``plan_versions``), stay valid without a new
delineation:

- a compound: ``c-`` + the compound's ``source_id`` (its id in ``residential_areas``);
- a street block: ``b-`` + the first 16 hex digits of the SHA-1 of the block's polygon in EPSG:4326, coordinates
  rounded to 1e-6 degree (about 0.1 m) and normalised (ring order and start vertex), so the id depends on the
  block's outline alone: the same roads, area boundaries and compounds give the same id;
- a single building (in no block): ``s-`` + the building's ``source_id`` (its id in ``buildings``).

Frames without ids (hand-built, not from the store) use the geometry key for compounds and buildings too
(``c-g…``, ``s-g…``).  A rebuild therefore keeps the id of every unit whose compound, block outline or building is
unchanged; a block whose roads or boundaries moved, a new compound or building gets a new id (and the plans' old
ids for it no longer match: those units are unassigned until the plan is edited).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["GEOMETRY_KEY_DECIMALS", "UnitGeometry", "geometry_keys", "make_units", "street_blocks"]

GEOMETRY_KEY_DECIMALS = 6  # degrees: about 0.1 m


def geometry_keys(geoms: np.ndarray, crs) -> list[str]:
    """A key of each geometry's shape and place: 16 hex digits of the SHA-1 of its WKB in EPSG:4326, coordinates
    rounded to :data:`GEOMETRY_KEY_DECIMALS` decimals of a degree, normalised (``shapely.normalize``)."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    wgs = geoms if crs is None else np.asarray(gpd.GeoSeries(geoms, crs=crs).to_crs(4326).values, dtype=object)
    rounded = shapely.transform(wgs, lambda xy: np.round(xy, GEOMETRY_KEY_DECIMALS))
    wkb = shapely.to_wkb(shapely.normalize(rounded), output_dimension=2)
    return [hashlib.sha1(w).hexdigest()[:16] for w in wkb]


def _ids(frame: pd.DataFrame, geoms: np.ndarray, crs, prefix: str) -> list[str]:
    """``prefix`` + the frame's own ``source_id`` where it has one, else ``prefix`` + ``g`` + the geometry key."""
    own = frame["source_id"].to_numpy(dtype=object) if "source_id" in frame.columns else np.full(len(frame), None)
    has = np.array([v is not None and v == v and str(v).strip() != "" for v in own], dtype=bool)
    keys = geometry_keys(geoms[~has], crs) if (~has).any() else []
    it = iter(keys)
    return [f"{prefix}{str(v).strip()}" if h else f"{prefix}g{next(it)}" for v, h in zip(own, has)]


def _unique(ids: list[str]) -> list[str]:
    """The ids, a repeated one suffixed ``~2``, ``~3``… in order (two features of one id or place)."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
        out.append(i if seen[i] == 1 else f"{i}~{seen[i]}")
    return out


@dataclass
class UnitGeometry:
    """Units (metric CRS) with ``source_id``, ``name``, ``unit_basis`` (compound | block | building),
    ``given_residents`` / ``given_households`` (a compound's own figures, NaN when absent); and per building the
    index of its unit (-1: none)."""

    units: gpd.GeoDataFrame
    building_unit: np.ndarray


def street_blocks(lines: np.ndarray) -> np.ndarray:
    """Polygons between lines (roads and area boundaries), metres: the lines are noded (``union_all``) and
    polygonised (``shapely.polygonize``)."""
    lines = lines[~shapely.is_empty(lines) & ~shapely.is_missing(lines)]
    if len(lines) == 0:
        return np.zeros(0, dtype=object)
    noded = shapely.union_all(lines)
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return polys[shapely.area(polys) > 1.0]


def _compound_of_building(buildings: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, points: np.ndarray) -> np.ndarray:
    """Index of each building's compound (-1: none): by ``compound_id`` (a compound's ``source_id`` or name),
    else the compound holding the building's representative point."""
    out = np.full(len(buildings), -1, dtype=np.int64)
    if len(compounds) == 0:
        return out
    if "compound_id" in buildings.columns:
        keys: dict[str, int] = {}
        for col in ("name", "source_id"):
            if col in compounds.columns:
                keys.update({str(v): i for i, v in enumerate(compounds[col]) if v is not None and v == v})
        cid = buildings["compound_id"].to_numpy(dtype=object)
        out[:] = [keys.get(str(c), -1) if c is not None and c == c else -1 for c in cid]
    rest = np.flatnonzero(out < 0)
    if len(rest):
        src, dst = shapely.STRtree(np.asarray(compounds.geometry.values)).query(points[rest], predicate="within")
        first = pd.Series(dst).groupby(src).first()
        out[rest[first.index.to_numpy()]] = first.to_numpy()
    return out


def make_units(
    buildings: gpd.GeoDataFrame,
    floor_area_m2: np.ndarray,
    compounds: gpd.GeoDataFrame,
    lines: np.ndarray,
) -> UnitGeometry:
    """Units from buildings, compounds and the lines that bound street blocks.

    Parameters
    ----------
    buildings : GeoDataFrame
        Footprints in a metric CRS (m).
    floor_area_m2 : ndarray
        Residential floor area per building (m²): buildings with 0 outside compounds make no unit.
    compounds : GeoDataFrame
        Residential compounds (``kind == "compound"``) in the same CRS, with ``name``, ``residents``,
        ``households`` where known.
    lines : ndarray of shapely geometries
        Road centre lines and the boundaries of the statistical areas, same CRS.

    Returns
    -------
    UnitGeometry
        Every compound is a unit; residential buildings outside compounds are grouped by street block (the block
        minus the compounds in it), and a building in no block is a unit of its own.
    """
    crs = buildings.crs if len(buildings) else compounds.crs
    geoms = np.asarray(buildings.geometry.values, dtype=object)
    points = shapely.point_on_surface(geoms) if len(geoms) else np.zeros(0, dtype=object)
    in_compound = _compound_of_building(buildings, compounds, points)
    building_unit = np.where(in_compound >= 0, in_compound, -1)
    frames = [_compound_units(compounds, crs)]
    loose = np.flatnonzero((in_compound < 0) & (floor_area_m2 > 0))
    no_buildings = len(buildings) == 0 and len(compounds) == 0
    blocks = street_blocks(lines) if len(loose) or no_buildings else np.zeros(0, dtype=object)
    block_of = np.full(len(loose), -1, dtype=np.int64)
    if len(blocks) and len(loose):
        src, dst = shapely.STRtree(blocks).query(points[loose], predicate="within")
        first = pd.Series(dst).groupby(src).first()
        block_of[first.index.to_numpy()] = first.to_numpy()
    used_blocks, block_idx = np.unique(block_of[block_of >= 0], return_inverse=True)
    if no_buildings:  # no buildings at all: every block is a unit (weighted by its area)
        used_blocks = np.arange(len(blocks))
    offset = len(compounds)
    building_unit[loose[block_of >= 0]] = offset + block_idx
    frames.append(_block_units(blocks[used_blocks], compounds, crs))
    single = loose[block_of < 0]
    offset += len(used_blocks)
    building_unit[single] = offset + np.arange(len(single))
    names = buildings["name"].to_numpy(dtype=object)[single] if "name" in buildings.columns else [None] * len(single)
    frames.append(
        pd.DataFrame(
            {
                "source_id": _ids(buildings.iloc[single], geoms[single], crs, "s-"),
                "name": [n if isinstance(n, str) and n else f"建筑 {i + 1}" for n, i in zip(names, single)],
                "unit_basis": "building",
                "geometry": geoms[single],
            }
        )
    )
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    units["source_id"] = _unique([str(v) for v in units["source_id"]])
    for col in ("given_residents", "given_households"):
        if col not in units.columns:
            units[col] = np.nan
        units[col] = pd.to_numeric(units[col], errors="coerce")
    return UnitGeometry(units, building_unit)


def _compound_units(compounds: gpd.GeoDataFrame, crs) -> pd.DataFrame:
    n = len(compounds)
    names = compounds["name"] if "name" in compounds.columns else pd.Series([None] * n)
    return pd.DataFrame(
        {
            "source_id": _ids(compounds, np.asarray(compounds.geometry.values, dtype=object), crs, "c-"),
            "name": [v if isinstance(v, str) and v else f"小区 {i + 1}" for i, v in enumerate(names)],
            "unit_basis": "compound",
            "given_residents": _optional(compounds, "residents"),
            "given_households": _optional(compounds, "households"),
            "geometry": np.asarray(compounds.geometry.values, dtype=object),
        }
    )


def _optional(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _block_units(blocks: np.ndarray, compounds: gpd.GeoDataFrame, crs) -> pd.DataFrame:
    """Blocks as units: each minus the compounds that overlap it; ids from the outline (:func:`geometry_keys`)."""
    blocks = np.array(blocks, dtype=object)
    if len(blocks) and len(compounds):
        cgeo = np.asarray(compounds.geometry.values, dtype=object)
        bi, ci = shapely.STRtree(cgeo).query(blocks, predicate="intersects")
        for b, cs in pd.Series(ci).groupby(bi):
            rest = shapely.difference(blocks[b], shapely.union_all(cgeo[cs.to_numpy()]))
            if not shapely.is_empty(rest) and shapely.area(rest) > 1.0:
                blocks[b] = rest
    return pd.DataFrame(
        {
            "source_id": [f"b-{k}" for k in geometry_keys(blocks, crs)],
            "name": [f"街坊 {i + 1}" for i in range(len(blocks))],
            "unit_basis": "block",
            "geometry": blocks,
        }
    )
