"""The walking network (nodes and edges frames) of an OSM extract.

The pipeline of :func:`_read_network` follows :func:`osmnx.graph_from_polygon`:

1. unsimplified, bidirectional graph of the whole file (``retain_all``);
2. walking filter on the OSM way tags
   (:func:`~geo_service.core.osm.tags.walk_exclusion`), isolated nodes removed;
3. topological simplification (:func:`osmnx.simplify_graph`) with
   ``edge_attrs_differ=["osmid", "road_class"]``: nodes are intersections,
   dead ends and the points where one OSM way ends and another begins, so
   every edge is the geometry of exactly *one* OSM way between two nodes and
   carries one ``osm_way_id`` and one ``road_class``.  Simplifying *before*
   clipping keeps the true intersection/dead-end status of nodes near the
   border (no artificial dead ends at the bounding box);
4. clipping to the extract's bounds (:func:`osmnx.truncate.truncate_graph_bbox`:
   nodes outside are dropped with their edges, so a street segment that
   crosses the border is dropped whole, from its last node inside; an edge
   between two inside nodes keeps its full geometry even where it bulges
   outside);
5. largest weakly connected component (optional);
6. undirected graph (:func:`osmnx.convert.to_undirected`: a two-way street is
   one edge; parallel edges remain only when their geometries differ).

Closed loops (a way that returns to its start with no junction on the way,
or a free-standing ring) would become self-loops, which routing cannot use
and which the ``u != v`` rule of the edge layer forbids.  They are split at
the OSM node halfway along the loop, which becomes a network node, so the
loop is kept as two edges with different geometries.

Every edge keeps what walking profiles and directions need: its way's ``name``
(``name:zh`` first), ``steps`` (``highway=steps``) and ``kerb``: the way's own
``kerb`` tag, else the ``kerb`` of a node along it (``barrier=kerb`` without a
value counts as ``yes``); a kerb node at the end of an edge marks only crossings
(a kerb between a crossing and the sidewalk does not close the sidewalk).

Coordinates are longitude/latitude in degrees (EPSG:4326).  Edge length
``length_m`` is the geodesic length on the WGS84 ellipsoid in metres
(:func:`geo_service.core.crs.geodesic_lengths_m`), the model of every network
path (``build-network`` too); osmnx's own spherical lengths are not used.
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from ..crs import geodesic_lengths_m
from ._common import CRS, Progress, _parse_error, _parse_errors
from .tags import _WAY_TAGS, road_class, walk_exclusion

#: Columns of the nodes frame (``network_nodes`` layer without ``network_id``).
NODE_COLUMNS = ["node_idx", "osm_id", "geometry"]
#: Columns of the edges frame (``network_edges`` layer without ``network_id``).
EDGE_COLUMNS = ["u", "v", "length_m", "road_class", "osm_way_id", "name", "steps", "kerb", "geometry"]

Bounds = tuple[float, float, float, float]
#: An edge row: (u node_idx, v node_idx, road class, OSM way id, LineString in EPSG:4326, name, steps, kerb).
_EdgeRow = tuple[int, int, Any, int, LineString, Any, bool, Any]
#: Kerb values, most restrictive first (the one an edge gets when it passes several kerbs).
_KERB_ORDER = ("raised", "yes", "rolled", "lowered", "flush", "no")
_NODE_TAGS = ("kerb", "barrier")

_SETTINGS_LOCK = threading.RLock()


@contextmanager
def _osmnx_way_tags() -> Iterator[Any]:
    """Make osmnx keep the way tags the walking filter needs (restored after).

    osmnx's settings are module globals: the lock serialises readers of this
    module (other code changing ``osmnx.settings`` concurrently is not covered).

    Yields
    ------
    module
        The :mod:`osmnx` module.
    """
    import osmnx as ox

    with _SETTINGS_LOCK:
        old, old_nodes = ox.settings.useful_tags_way, ox.settings.useful_tags_node
        ox.settings.useful_tags_way = list(dict.fromkeys([*old, *_WAY_TAGS]))
        ox.settings.useful_tags_node = list(dict.fromkeys([*old_nodes, *_NODE_TAGS]))
        try:
            yield ox
        finally:
            ox.settings.useful_tags_way = old
            ox.settings.useful_tags_node = old_nodes


def _read_network(
    xml_path: Path | None,
    bounds: Bounds,
    clip: bool,
    lcc: bool,
    stats: dict[str, Any],
    report: Progress,
    load_graph: Callable[[Any], nx.MultiDiGraph] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges frames (EPSG:4326) of the walking network of an OSM XML file.

    Parameters
    ----------
    xml_path : Path or None
        OSM XML file (plain, ``.bz2`` or ``.gz``); None when ``load_graph`` is given.
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` in degrees (EPSG:4326), for the clipping.
    clip : bool
        Drop the nodes outside ``bounds`` (step 4).
    lcc : bool
        Keep only the largest weakly connected component (step 5).
    stats : dict
        Filled with the counts of the steps (see :func:`geo_service.core.osm.read_osm`).
    report : callable
        Progress callback ``report(stage, fraction)``.
    load_graph : callable, optional
        ``load_graph(osmnx) -> MultiDiGraph``: the unsimplified graph from
        elsewhere (e.g. Overpass) instead of ``xml_path``.

    Returns
    -------
    nodes, edges : GeoDataFrame
        Columns :data:`NODE_COLUMNS` and :data:`EDGE_COLUMNS`.
    """
    report("network", 0.1)
    G = _load_graph(xml_path, load_graph)
    stats["osm_nodes"] = G.number_of_nodes()
    report("filter", 0.3)
    _walk_filter(G, stats)
    kerbs = _kerb_nodes(G)
    report("simplify", 0.45)
    S, stats["loops_split"] = _simplify(G)
    report("clip", 0.6)
    S = _clip(S, bounds, clip, stats)
    S = _largest_component(S, lcc, stats)
    report("undirected", 0.7)
    return _network_frames(S, stats, kerbs)


def _kerb_nodes(G: nx.MultiDiGraph) -> dict[tuple[float, float], str]:
    """``(lon, lat) -> kerb value`` of the nodes tagged ``kerb=*`` or ``barrier=kerb`` (``yes`` without a value)."""
    out: dict[tuple[float, float], str] = {}
    for _, d in G.nodes(data=True):
        kerb = d.get("kerb")
        if not isinstance(kerb, str) and d.get("barrier") == "kerb":
            kerb = "yes"
        if isinstance(kerb, str) and kerb.strip():
            out[(float(d["x"]), float(d["y"]))] = kerb.strip().split(";")[0].lower()
    return out


def _edge_kerb(way_kerb: Any, coords: tuple, crossing: bool, kerbs: dict[tuple[float, float], str]) -> str | None:
    """The kerb of one edge: its way's tag, else the most restrictive kerb node on it (ends only for crossings)."""
    if isinstance(way_kerb, list):
        way_kerb = way_kerb[0]
    if isinstance(way_kerb, str) and way_kerb.strip():
        return way_kerb.strip().split(";")[0].lower()
    if not kerbs:
        return None
    pts = coords if crossing else coords[1:-1]
    found = [kerbs[(float(x), float(y))] for x, y in pts if (float(x), float(y)) in kerbs]
    if not found:
        return None
    return min(found, key=lambda k: _KERB_ORDER.index(k) if k in _KERB_ORDER else 1)


def _load_graph(xml_path: Path | None, load_graph: Callable[[Any], nx.MultiDiGraph] | None) -> nx.MultiDiGraph:
    """Step 1: the unsimplified bidirectional graph with the way tags (an empty graph when there is no data)."""
    with _osmnx_way_tags() as ox, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            if load_graph is None:
                return ox.graph_from_xml(cast(Path, xml_path), bidirectional=True, simplify=False, retain_all=True)
            return load_graph(ox)
        except ox._errors.InsufficientResponseError:
            return nx.MultiDiGraph(crs=CRS)
        except _parse_errors() as exc:
            if xml_path is None:  # downloaded data (read_osm_place): reported there with the real cause
                raise
            raise _parse_error(xml_path, exc) from exc


def _walk_filter(G: nx.MultiDiGraph, stats: dict[str, Any]) -> None:
    """Step 2, in place: drop the edges of non-walkable ways, then isolated nodes; set ``road_class``."""
    reasons: dict[int, str | None] = {}
    classes: dict[int, str] = {}
    drop = []
    for u, v, k, d in G.edges(keys=True, data=True):
        wid = d["osmid"]
        if wid not in reasons:
            reasons[wid] = walk_exclusion(d)
            if reasons[wid] is None:
                classes[wid] = road_class(d)
        if reasons[wid] is None:
            d["road_class"] = classes[wid]
        else:
            drop.append((u, v, k))
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, deg in G.degree() if deg == 0])
    by_reason = Counter(r for r in reasons.values() if r is not None and r != "not_highway")
    stats["ways_read"] = sum(1 for r in reasons.values() if r != "not_highway")
    stats["dropped_by_filter"] = sum(by_reason.values())
    stats["dropped_by_reason"] = dict(sorted(by_reason.items()))


def _clip(S: nx.MultiDiGraph, bounds: Bounds, clip: bool, stats: dict[str, Any]) -> nx.MultiDiGraph:
    """Step 4: drop the nodes outside ``bounds`` (degrees, EPSG:4326) when ``clip``, then isolated nodes."""
    import osmnx as ox

    n_before = S.number_of_nodes()
    if clip and S.number_of_nodes():
        try:
            S = ox.truncate.truncate_graph_bbox(S, bounds)
        except ValueError:  # no node inside the bounds
            S = nx.MultiDiGraph(**S.graph)
    S.remove_nodes_from([n for n, deg in S.degree() if deg == 0])
    stats["nodes_clipped"] = n_before - S.number_of_nodes()
    return S


def _largest_component(S: nx.MultiDiGraph, lcc: bool, stats: dict[str, Any]) -> nx.MultiDiGraph:
    """Step 5: keep the largest weakly connected component when ``lcc``."""
    import osmnx as ox

    n_comp = nx.number_weakly_connected_components(S) if S.number_of_nodes() else 0
    if lcc and n_comp > 1:
        n_before = S.number_of_nodes()
        S = ox.truncate.largest_component(S, strongly=False)
        stats["components_removed"] = n_comp - 1
        stats["nodes_removed_by_component"] = n_before - S.number_of_nodes()
    else:
        stats["components_removed"] = 0
        stats["nodes_removed_by_component"] = 0
    stats["components"] = 1 if (lcc and n_comp) else n_comp
    return S


# --------------------------------------------------------------------------
# Simplification (step 3)
# --------------------------------------------------------------------------

_DIFFER = ["osmid", "road_class"]


def _simplify(G: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int]:
    """Simplify; self-loops and free-standing rings are split at their middle.

    Returns
    -------
    S : MultiDiGraph
        The simplified graph (split nodes have the attribute ``_split``).
    loops : int
        The number of loops and rings split.
    """
    import osmnx as ox

    if G.number_of_edges() == 0:
        G.graph["simplified"] = True
        return G, 0
    S = ox.simplify_graph(G, edge_attrs_differ=_DIFFER, track_merged=True, remove_rings=False)
    split, loops = _loop_middles(S)
    ring_cuts, rings = _ring_cuts(G)
    split |= ring_cuts
    loops += rings
    if not split:
        for _, _, d in S.edges(data=True):
            d.pop("merged_edges", None)
        return S, 0
    G = G.copy()
    for n in split:
        G.nodes[n]["_split"] = True
    S = ox.simplify_graph(G, node_attrs_include=["_split"], edge_attrs_differ=_DIFFER, remove_rings=False)
    return S, loops


def _loop_middles(S: nx.MultiDiGraph) -> tuple[set[int], int]:
    """The OSM node halfway along each self-loop of ``S`` (one per loop, either direction) and the count."""
    split: set[int] = set()
    loops = 0
    seen: set[frozenset] = set()
    for u, v, d in S.edges(data=True):
        if u != v or "merged_edges" not in d:
            continue
        path = [a for a, _ in d["merged_edges"]] + [d["merged_edges"][-1][1]]
        key = frozenset(path)
        if key in seen:
            continue  # the same loop in the other direction
        seen.add(key)
        if len(path) >= 3:
            split.add(path[len(path) // 2])
            loops += 1
    return split, loops


def _ring_cuts(G: nx.MultiDiGraph) -> tuple[set[int], int]:
    """Cut nodes of the free-standing rings of ``G`` and the number of rings.

    A free-standing ring (a closed way touching nothing) has no endpoint at
    all: it is cut at its smallest node id and the node opposite to it.
    """
    split: set[int] = set()
    rings = 0
    for comp in nx.weakly_connected_components(G):
        if len(comp) < 3:
            continue
        ring = G.subgraph(comp).to_undirected(as_view=True)
        if all(len(ring[n]) == 2 for n in comp) and len({d["osmid"] for *_, d in ring.edges(data=True)}) == 1:
            start = min(comp)
            hops = nx.single_source_shortest_path_length(ring, start)
            far = max(hops.values())
            split.update({start, min(n for n, h in hops.items() if h == far)})
            rings += 1
    return split, rings


# --------------------------------------------------------------------------
# Frames (step 6)
# --------------------------------------------------------------------------


def _network_frames(
    S: nx.MultiDiGraph, stats: dict[str, Any], kerbs: dict[tuple[float, float], str] | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges frames (EPSG:4326) of the simplified graph ``S``, made undirected.

    Nodes are numbered 0..n-1 in OSM id order; edges are sorted by their end
    nodes, then OSM way id and geodesic length.  Self-loops and edges with the same
    geometry as an earlier one (in either direction) are dropped.
    """
    osm_ids = np.array(sorted(S.nodes), dtype="int64")
    nodes = _nodes_frame(S, osm_ids)
    idx = {int(n): i for i, n in enumerate(osm_ids)}
    rows, stats["edges_dropped_duplicate_or_loop"] = _edge_rows(S, idx, kerbs or {})
    lengths = geodesic_lengths_m(np.array([r[4] for r in rows], dtype=object))
    order = sorted(
        range(len(rows)),
        key=lambda i: (min(rows[i][0], rows[i][1]), max(rows[i][0], rows[i][1]), rows[i][3], lengths[i]),
    )
    edges = _edges_frame([rows[i] for i in order], lengths[order])
    stats["split_nodes"] = sum(1 for n in osm_ids.tolist() if S.nodes[n].get("_split"))
    stats["nodes"] = len(nodes)
    stats["edges"] = len(edges)
    stats["ways_kept"] = int(edges["osm_way_id"].nunique())
    stats["edges_by_class"] = {c: int(n) for c, n in edges["road_class"].value_counts().sort_index().items()}
    stats["steps_edges"] = int(edges["steps"].sum())
    stats["kerb_edges"] = int(edges["kerb"].notna().sum())
    return nodes, edges


def _nodes_frame(S: nx.MultiDiGraph, osm_ids: np.ndarray) -> gpd.GeoDataFrame:
    """``node_idx``, ``osm_id`` and Point geometry (lon/lat, EPSG:4326) of the nodes ``osm_ids``."""
    return gpd.GeoDataFrame(
        {
            "node_idx": np.arange(len(osm_ids), dtype="int64"),
            "osm_id": osm_ids,
        },
        geometry=gpd.points_from_xy(
            [S.nodes[n]["x"] for n in osm_ids.tolist()], [S.nodes[n]["y"] for n in osm_ids.tolist()]
        ),
        crs=CRS,
    )


def _edge_rows(
    S: nx.MultiDiGraph, idx: dict[int, int], kerbs: dict[tuple[float, float], str]
) -> tuple[list[_EdgeRow], int]:
    """The edge rows of ``S`` made undirected, and the number of self-loops and duplicates dropped."""
    import osmnx as ox

    rows: list[_EdgeRow] = []
    if not S.number_of_edges():
        return rows, 0
    U = ox.convert.to_undirected(S)
    seen: set[tuple] = set()
    duplicates = 0
    for _, _, d in U.edges(data=True):
        frm, to = int(d["from"]), int(d["to"])
        geom: LineString = d["geometry"]
        way = d["osmid"]
        if isinstance(way, list):  # not expected with edge_attrs_differ=["osmid"]
            way = min(way)
        cls = d.get("road_class")
        if isinstance(cls, list):
            cls = sorted(cls)[0]
        coords = tuple(geom.coords)
        key = min(coords, coords[::-1])
        if frm == to or key in seen:
            duplicates += 1
            continue
        seen.add(key)
        highway = d.get("highway")
        steps = "steps" in (highway if isinstance(highway, list) else [highway])
        kerb = _edge_kerb(d.get("kerb"), coords, cls == "crossing", kerbs)
        rows.append((idx[frm], idx[to], cls, int(way), geom, _way_name(d), steps, kerb))
    return rows, duplicates


def _way_name(d: dict) -> str | None:
    """The way's Chinese name (``name:zh``, else ``name``), None when it has none."""
    for key in ("name:zh", "name"):
        v = d.get(key)
        if isinstance(v, list):
            v = v[0]
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _edges_frame(rows: list[_EdgeRow], lengths_m: np.ndarray) -> gpd.GeoDataFrame:
    """Edges frame: ``u``, ``v`` (node_idx), ``length_m`` (geodesic, metres), ``road_class``, ``osm_way_id``,
    geometry (LineStrings, EPSG:4326, lon/lat degrees)."""
    return gpd.GeoDataFrame(
        {
            "u": pd.array([r[0] for r in rows], dtype="int64"),
            "v": pd.array([r[1] for r in rows], dtype="int64"),
            "length_m": pd.array(lengths_m, dtype="float64"),
            "road_class": pd.Series([r[2] for r in rows], dtype=object),
            "osm_way_id": pd.array([r[3] for r in rows], dtype="int64"),
            "name": pd.Series([r[5] for r in rows], dtype=object),
            "steps": pd.array([r[6] for r in rows], dtype=bool),
            "kerb": pd.Series([r[7] for r in rows], dtype=object),
        },
        geometry=gpd.GeoSeries([r[4] for r in rows], crs=CRS),
        crs=CRS,
    )
