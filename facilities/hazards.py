"""Hazard zones (Art. 15: risk identification): zones from the ``hazards`` layer, shelters inside them, and the
walking network with the edges through active zones taken out.

* :func:`hazard_zones` -- one polygon per hazard: points and lines buffered by their ``radius_m`` or the default
  radius of their kind (norms ``hazards.geohazard_default_radius_m``, ``hazards.fault_zone_default_radius_m``),
  polygons as drawn (buffered by ``radius_m`` when one is given), in a metric CRS and back to EPSG:4326;
* :func:`shelters_in_hazards` -- per shelter the zones it lies in (ids, kinds, worst level, names, a Chinese text);
* :func:`masked_network` -- the walking network without the edges that touch a zone (evacuation routes that
  avoid active hazards).

Pure functions over GeoDataFrames (EPSG:4326 in and out) and the :class:`WalkNetwork` arrays (its metric CRS).
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo_service.core.crs import metric_crs_for
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import Norms
from geo_service.core.vocab import HAZARD_KINDS, HAZARD_LEVELS

LEVEL_RANK = {"low": 1, "medium": 2, "high": 3}
ZONE_COLUMNS = ["hazard_id", "source_id", "name", "kind", "kind_zh", "level", "level_zh", "radius_m"]


def default_radius_m(kind: str, norms: Norms) -> float:
    """Buffer radius (m) of a hazard point or line given without ``radius_m``.

    ``fault_zone``: ``hazards.fault_zone_default_radius_m`` (200 m, half-width of the avoidance band of
    GB 50011 4.1.7); every other kind: ``hazards.geohazard_default_radius_m`` (100 m).
    """
    key = "hazards.fault_zone_default_radius_m" if kind == "fault_zone" else "hazards.geohazard_default_radius_m"
    return float(norms.entry(key).value)


def _column(frame: pd.DataFrame, name: str, default=None) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=object)
    return frame[name].to_numpy(dtype=object)


def hazard_zones(
    hazards: gpd.GeoDataFrame, norms: Norms, *, metric_crs: pyproj.CRS | str | int | None = None
) -> gpd.GeoDataFrame:
    """One zone polygon per hazard.

    Parameters
    ----------
    hazards : GeoDataFrame, EPSG:4326
        The ``hazards`` layer: ``id`` (else 1..n), optional ``source_id``, ``name``, ``kind``
        (:data:`~geo_service.core.vocab.HAZARD_KINDS`), ``level`` (high/medium/low), ``radius_m`` (m);
        point, line or polygon geometries.
    norms : Norms
        For the default radii of points and lines without ``radius_m`` (:func:`default_radius_m`).
    metric_crs : CRS, optional
        Where the buffers are drawn (metres); default :func:`geo_service.core.crs.metric_crs_for` the hazards.

    Returns
    -------
    GeoDataFrame, EPSG:4326
        ``hazard_id``, ``source_id``, ``name``, ``kind``, ``kind_zh``, ``level``, ``level_zh``, ``radius_m``
        (the radius applied, m; 0 for a polygon taken as drawn) and the zone polygon; hazards with an empty
        geometry are left out.
    """
    if hazards is None or len(hazards) == 0:
        return gpd.GeoDataFrame({c: [] for c in ZONE_COLUMNS}, geometry=[], crs=4326)
    h = hazards if hazards.crs is not None else hazards.set_crs(4326)
    h = h.to_crs(4326)
    geom = np.asarray(h.geometry.values, dtype=object)
    keep = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    h, geom = h[keep], geom[keep]
    kind = np.array([k if k in HAZARD_KINDS else "other" for k in _column(h, "kind", "other")], dtype=object)
    level = np.array([v if v in HAZARD_LEVELS else "high" for v in _column(h, "level", "high")], dtype=object)
    given = pd.to_numeric(pd.Series(_column(h, "radius_m")), errors="coerce").to_numpy(dtype=float)
    polygonal = shapely.get_dimensions(geom) == 2
    default = np.array([default_radius_m(k, norms) for k in kind], dtype=float)
    radius = np.where(np.isfinite(given) & (given >= 0), given, np.where(polygonal, 0.0, default))
    crs = pyproj.CRS.from_user_input(metric_crs) if metric_crs is not None else metric_crs_for(h)
    metric = np.asarray(gpd.GeoSeries(geom, crs=4326).to_crs(crs).values, dtype=object)
    metric = shapely.make_valid(metric)
    zone = np.where(radius > 0, shapely.buffer(metric, radius, quad_segs=16), metric)
    # a polygon taken as drawn keeps only its areal part (make_valid may add stray lines)
    zone = np.array([_areal(z) for z in zone], dtype=object)
    ids = h["id"].to_numpy() if "id" in h.columns else np.arange(1, len(h) + 1)
    out = gpd.GeoDataFrame(
        {
            "hazard_id": ids,
            "source_id": _column(h, "source_id"),
            "name": _column(h, "name"),
            "kind": kind,
            "kind_zh": [HAZARD_KINDS[k] for k in kind],
            "level": level,
            "level_zh": [HAZARD_LEVELS[v] for v in level],
            "radius_m": radius,
        },
        geometry=gpd.GeoSeries(zone, crs=crs).to_crs(4326).values,
        crs=4326,
    )
    return out.reset_index(drop=True)


def _areal(g):
    """The polygonal part of a geometry (an empty polygon when it has none)."""
    if g is None or shapely.get_dimensions(g) == 2 and shapely.get_type_id(g) in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_dimensions(p) == 2]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _label(kind_zh: str, level_zh: str, name) -> str:
    text = f"{kind_zh}，{level_zh}风险"
    return f"{name}：{text}" if isinstance(name, str) and name else text


def shelters_in_hazards(shelters: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """The hazard zones each shelter lies in (its geometry touches the zone).

    Parameters
    ----------
    shelters : GeoDataFrame, EPSG:4326
        Any geometry (points or site polygons).
    zones : GeoDataFrame, EPSG:4326
        From :func:`hazard_zones`.

    Returns
    -------
    DataFrame, same index as ``shelters``
        ``in_hazard`` (bool); ``hazard_ids`` (ids joined with ``,``), ``hazard_kinds`` (kind codes joined with
        ``,``), ``hazard_level`` (the worst level: high > medium > low), ``hazard_level_zh``, ``hazard_names``
        (joined with ``、``) and ``hazard_zh`` (a Chinese line per zone, joined with ``；``), all None for a
        shelter outside every zone.
    """
    n = len(shelters)
    cols = ["hazard_ids", "hazard_kinds", "hazard_level", "hazard_level_zh", "hazard_names", "hazard_zh"]
    out = pd.DataFrame({"in_hazard": np.zeros(n, dtype=bool)}, index=shelters.index)
    for c in cols:
        out[c] = pd.Series([None] * n, index=shelters.index, dtype=object)
    if n == 0 or zones is None or len(zones) == 0:
        return out
    sg = np.asarray(shelters.to_crs(4326).geometry.values, dtype=object)
    zg = np.asarray(zones.geometry.values, dtype=object)
    si, zi = shapely.STRtree(zg).query(sg, predicate="intersects")
    if si.size == 0:
        return out
    rank = np.array([LEVEL_RANK.get(v, 0) for v in zones["level"]])
    order = np.lexsort((zi, -rank[zi], si))  # per shelter: the worst level first
    si, zi = si[order], zi[order]
    z = zones.reset_index(drop=True)
    for s in np.unique(si):
        hit = zi[si == s]
        row = out.index[s]
        out.at[row, "in_hazard"] = True
        out.at[row, "hazard_ids"] = ",".join(str(z.at[k, "hazard_id"]) for k in hit)
        out.at[row, "hazard_kinds"] = ",".join(dict.fromkeys(str(z.at[k, "kind"]) for k in hit))
        out.at[row, "hazard_level"] = z.at[hit[0], "level"]
        out.at[row, "hazard_level_zh"] = z.at[hit[0], "level_zh"]
        names = [str(z.at[k, "name"]) for k in hit if isinstance(z.at[k, "name"], str) and z.at[k, "name"]]
        out.at[row, "hazard_names"] = "、".join(names) or None
        out.at[row, "hazard_zh"] = "；".join(
            _label(z.at[k, "kind_zh"], z.at[k, "level_zh"], z.at[k, "name"]) for k in hit
        )
    return out


def blocked_edges(net: WalkNetwork, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Boolean mask (``net.n_edges``): edges whose geometry touches any zone (EPSG:4326 polygons)."""
    blocked = np.zeros(net.n_edges, dtype=bool)
    if zones is None or len(zones) == 0 or net.n_edges == 0:
        return blocked
    zm = net.to_metric(np.asarray(zones.geometry.values, dtype=object))
    zm = zm[~shapely.is_empty(zm)]
    if len(zm) == 0:
        return blocked
    # candidate edges by their bounding boxes (no shapely object per edge), then the exact test
    lo = np.minimum.reduceat(net.edge_coords, net.edge_offsets[:-1], axis=0)
    hi = np.maximum.reduceat(net.edge_coords, net.edge_offsets[:-1], axis=0)
    boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    _z, cand = shapely.STRtree(boxes).query(zm, predicate="intersects")
    cand = np.unique(cand)
    if cand.size:
        lines = net.geometries_of(cand)
        zone_union = shapely.union_all(zm)
        shapely.prepare(zone_union)
        blocked[cand[shapely.intersects(zone_union, lines)]] = True
    return blocked


def masked_network(net: WalkNetwork, zones: gpd.GeoDataFrame) -> tuple[WalkNetwork, np.ndarray]:
    """The walking network without the edges that touch a zone.

    Parameters
    ----------
    net : WalkNetwork
        The full network (metric CRS, metres).
    zones : GeoDataFrame, EPSG:4326
        The active zones (:func:`hazard_zones`).

    Returns
    -------
    masked : WalkNetwork
        Same nodes (same positions and ids), only the edges kept; ``version`` is the full network's with the
        number of removed edges appended. ``net`` itself when nothing is removed.
    blocked : bool array (``net.n_edges``)
        The removed edges, as positions in ``net``.
    """
    blocked = blocked_edges(net, zones)
    if not blocked.any():
        return net, blocked
    keep = ~blocked
    starts, ends = net.edge_offsets[:-1][keep], net.edge_offsets[1:][keep]
    counts = ends - starts
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(net.edge_offsets.dtype)
    vertex = np.repeat(starts - offsets[:-1], counts) + np.arange(int(counts.sum()))
    values = {}
    m, kept = net.n_edges, np.flatnonzero(keep)
    for f in dataclasses.fields(net):
        if f.name.startswith("_"):
            continue  # caches (CSR, spatial index, geometries) are rebuilt for the masked edges
        v = getattr(net, f.name)
        if f.name == "edge_coords":
            v = v[vertex]
        elif f.name == "edge_offsets":
            v = offsets
        elif hasattr(v, "take_edges"):
            v = v.take_edges(kept)  # per-edge attributes (steps, kerbs, road names)
        elif isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == m and not f.name.startswith("node_"):
            v = v[keep]  # every per-edge array (lengths, classes, and any the engine adds)
        values[f.name] = v
    values["version"] = f"{net.version}-without-{int(blocked.sum())}-edges"
    return WalkNetwork(**values), blocked
