"""A synthetic province: sample cities of different seeds placed edge to edge, each a county of its own.

Used by the batch over many counties (:mod:`geo_service.batch`), its tests and benchmarks: counties touch, so a
facility across a border is the nearest for units near it and the county windows matter.  Each county carries every
layer the coverage and the audit read (:data:`LAYERS`), with codes and ``source_id`` of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .generate import generate_sample_city

LAYERS = (
    "admin_areas",
    "population_units",
    "facilities",
    "communities",
    "shelters",
    "plan_parcels",
    "developments",
    "idle_assets",
    "space_candidates",
    "hazards",
)  # every layer the coverage and the audit read (roads, barriers and buildings are left out)
METRIC_EPSG = 4544  # the sample city's own metric CRS (CGCS2000 3-degree GK zone 35, no prefix), metres


@dataclass
class County:
    """One county of the province: its code and its layers (EPSG:4326), network frames included."""

    code: str
    index: int
    layers: dict[str, gpd.GeoDataFrame]
    network_nodes: gpd.GeoDataFrame
    network_edges: gpd.GeoDataFrame


def county_code(index: int) -> str:
    """Six digits, unique per county: ``59`` and the index (0-9999)."""
    return f"59{index:04d}"


def _shift(frame: gpd.GeoDataFrame, dx_m: float, dy_m: float) -> gpd.GeoDataFrame:
    moved = frame.to_crs(METRIC_EPSG)
    moved = moved.set_geometry(shapely.transform(moved.geometry.values, lambda xy: xy + (dx_m, dy_m)))
    return moved.to_crs(4326)


def _recode(city, code: str) -> dict[str, gpd.GeoDataFrame]:
    """The layers of one city with codes and ids of county ``code`` (old county prefix 510699 replaced)."""
    old = str(city.admin_areas.loc[city.admin_areas["level"] == "county", "code"].iloc[0])

    def codes(series: pd.Series) -> pd.Series:
        return series.astype("string").str.replace(f"^{old}", code, regex=True)

    areas = city.admin_areas.copy()
    county_row = areas["level"] == "county"
    areas.loc[county_row, "parent_code"] = code[:4] + "00"
    areas.loc[~county_row, "parent_code"] = code
    areas["code"] = codes(areas["code"])
    areas.loc[county_row, "name"] = f"示例县{code[-3:]}"
    areas["source_id"] = code + ":" + areas["source_id"].astype(str)
    units = city.population_units.assign(
        street_code=codes(city.population_units["street_code"]),
        source_id=code + ":" + city.population_units["source_id"].astype(str),
    )
    communities = city.communities.assign(
        code=codes(city.communities["code"]),
        street_code=codes(city.communities["street_code"]),
        source_id=code + ":" + city.communities["source_id"].astype(str),
    )
    out = {"admin_areas": areas, "population_units": units, "communities": communities}
    for name in LAYERS:
        if name in out:
            continue
        frame = getattr(city, name)
        out[name] = frame.assign(source_id=code + ":" + frame["source_id"].astype(str)) if len(frame) else frame
    cands = out["space_candidates"]
    if len(cands) and "facility_source_id" in cands.columns:  # refers to a facility of the same county
        ref = cands["facility_source_id"]
        out["space_candidates"] = cands.assign(facility_source_id=ref.where(ref.isna(), code + ":" + ref.astype(str)))
    return out


def generate_province(
    n_counties: int,
    *,
    scale: float | Callable[[int], float] = 0.25,
    seed0: int = 100,
    columns: int | None = None,
) -> Iterator[County]:
    """Yield ``n_counties`` counties on a grid of ``columns`` (default: about square), edge to edge.

    Parameters
    ----------
    scale : float or callable
        Sample-city scale of every county, or ``scale(index)`` per county (1: about 8.3 km square, 600,000
        residents).  Cells of the grid are as large as the largest county's extent.
    seed0 : int
        County ``i`` uses seed ``seed0 + i``.
    """
    scale_of = scale if callable(scale) else (lambda _i: float(scale))
    cols = columns or max(1, math.ceil(math.sqrt(n_counties)))
    x_m = y_m = row_h_m = 0.0  # metres from the first county's south-west corner
    origin: tuple[float, float] | None = None
    for i in range(n_counties):
        if i and i % cols == 0:  # next row, above the tallest county of this one
            x_m, y_m, row_h_m = 0.0, y_m + row_h_m, 0.0
        city = generate_sample_city(scale=scale_of(i), seed=seed0 + i)
        county_outline = city.admin_areas[city.admin_areas["level"] == "county"].to_crs(METRIC_EPSG)
        minx, miny, maxx, maxy = county_outline.total_bounds
        origin = origin or (minx, miny)
        dx, dy = origin[0] + x_m - minx, origin[1] + y_m - miny
        x_m, row_h_m = x_m + (maxx - minx), max(row_h_m, maxy - miny)
        code = county_code(i)
        layers = {name: _shift(frame, dx, dy) for name, frame in _recode(city, code).items()}
        yield County(code, i, layers, _shift(city.network_nodes, dx, dy), _shift(city.network_edges, dx, dy))


def join_networks(parts: list[tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Several networks as one: nodes at the same place (to about 1 mm) become one node, numbered 0..n-1.

    Parameters
    ----------
    parts : list of (nodes, edges)
        EPSG:4326 frames as stored (``node_idx``; ``u``, ``v`` referring to it).
    """
    keys: dict[tuple[int, int], int] = {}
    node_frames, edge_frames = [], []
    for nodes, edges in parts:
        xy = np.round(shapely.get_coordinates(nodes.geometry.values) * 1e8).astype(np.int64)  # 1e-8 deg: ~1 mm
        start = len(keys)
        new_idx = np.fromiter((keys.setdefault((int(x), int(y)), len(keys)) for x, y in xy), np.int64, len(xy))
        remap = pd.Series(new_idx, index=nodes["node_idx"].to_numpy())
        fresh = new_idx >= start
        fresh &= ~pd.Series(new_idx).duplicated().to_numpy()  # one node for several at one place in a part
        node_frames.append(nodes[fresh].assign(node_idx=new_idx[fresh]))
        edge_frames.append(edges.assign(u=remap.loc[edges["u"]].to_numpy(), v=remap.loc[edges["v"]].to_numpy()))
    nodes = pd.concat(node_frames, ignore_index=True).sort_values("node_idx", ignore_index=True)
    return gpd.GeoDataFrame(nodes, crs=4326), gpd.GeoDataFrame(pd.concat(edge_frames, ignore_index=True), crs=4326)


def write_county(store, county: County, *, network_name: str | None = None) -> None:
    """Write one county's layers, its adopted plan and its network into ``store`` (added to what is there)."""
    _write_layers(store, [county])
    store.write_network(
        network_name or f"county {county.code}",
        "sample_province",
        county.network_nodes,
        county.network_edges,
        metric_epsg=METRIC_EPSG,
    )


def write_province(store, counties: list[County]) -> None:
    """Write every county into one store, with one joined network."""
    _write_layers(store, counties)
    nodes, edges = join_networks([(c.network_nodes, c.network_edges) for c in counties])
    store.write_network("province", "sample_province", nodes, edges, metric_epsg=METRIC_EPSG)


def _write_layers(store, counties: list[County]) -> None:
    with store.transaction() as conn:
        plan_id = store.get_or_create_plan(conn, "现状", status="adopted")
        for name in LAYERS:
            frames = [c.layers[name] for c in counties if len(c.layers[name])]
            if not frames:
                continue
            frame = pd.concat(frames, ignore_index=True)
            if name == "communities":
                store.upsert_layer(name, gpd.GeoDataFrame(frame, crs=4326), plan_id=plan_id, conn=conn)
            else:
                store.upsert_layer(name, gpd.GeoDataFrame(frame, crs=4326), conn=conn)


def connect_neighbours(counties: list[County], max_gap_m: float = 80.0, border_m: float = 1.0) -> int:
    """Join the street networks of touching counties, as roads run on across a county line; return the links.

    Each street end on a county's outline (within ``border_m``) is linked to the nearest street end of a
    neighbour within ``max_gap_m``.  The link and a copy of the neighbour's node go into the first county's own
    network, so a store of one county holds its links, and joining the networks by place connects them.
    """
    from scipy.spatial import cKDTree

    from ..crs import geodesic_lengths_m

    ends = []
    for c in counties:
        outline = c.layers["admin_areas"].loc[c.layers["admin_areas"]["level"] == "county"].to_crs(METRIC_EPSG)
        ring = outline.geometry.iloc[0].boundary
        xy = shapely.get_coordinates(c.network_nodes.to_crs(METRIC_EPSG).geometry.values)
        on_border = shapely.distance(shapely.points(xy), ring) <= border_m
        ends.append((xy[on_border], c.network_nodes["node_idx"].to_numpy()[on_border]))
    links = 0
    box = [np.r_[xy.min(axis=0), xy.max(axis=0)] if len(xy) else None for xy, _idx in ends]
    for i, a in enumerate(counties):
        for j in range(i + 1, len(counties)):
            xy_b, idx_b = ends[j]
            bi, bj = box[i], box[j]
            if bi is None or bj is None:
                continue
            if (bj[:2] > bi[2:] + max_gap_m).any() or (bi[:2] > bj[2:] + max_gap_m).any():
                continue  # not neighbours: no street end of one near one of the other
            dist, k = cKDTree(xy_b).query(ends[i][0], distance_upper_bound=max_gap_m)
            pairs = [(ends[i][1][n], xy_b[kk]) for n, (d, kk) in enumerate(zip(dist, k)) if np.isfinite(d)]
            links += _add_links(a, pairs, geodesic_lengths_m)
    return links


def _add_links(county: County, pairs, lengths) -> int:
    if not pairs:
        return 0
    nodes, edges = county.network_nodes, county.network_edges
    start = int(nodes["node_idx"].max()) + 1
    far = gpd.GeoSeries(shapely.points([xy for _u, xy in pairs]), crs=METRIC_EPSG).to_crs(4326)
    near = nodes.set_index("node_idx").geometry.loc[[u for u, _xy in pairs]].to_numpy()
    lines = shapely.linestrings(
        [[shapely.get_coordinates(p)[0], shapely.get_coordinates(q)[0]] for p, q in zip(near, far.values)]
    )
    new_nodes = gpd.GeoDataFrame({"node_idx": np.arange(start, start + len(pairs))}, geometry=far.values, crs=4326)
    new_edges = gpd.GeoDataFrame(
        {"u": [u for u, _xy in pairs], "v": new_nodes["node_idx"].to_numpy(), "length_m": lengths(lines)},
        geometry=lines,
        crs=4326,
    )
    if "road_class" in edges.columns:
        new_edges["road_class"] = "local"
    county.network_nodes = gpd.GeoDataFrame(pd.concat([nodes, new_nodes], ignore_index=True), crs=4326)
    county.network_edges = gpd.GeoDataFrame(pd.concat([edges, new_edges], ignore_index=True), crs=4326)
    return len(pairs)
