"""The network as arrays: building, node order, adjacency.

Functions here build the arrays a :class:`~geo_service.core.network.WalkNetwork` holds
(node coordinates, edges ``u``/``v`` with lengths and road classes, ragged edge
geometries), from the stored ``network_nodes``/``network_edges`` frames or from a
road-centreline layer (:func:`edges_from_lines`), put the nodes in Morton order and
derive the symmetric CSR adjacency.

Units: metres.  CRS: the network's metric CRS for every array; EPSG:4326 for the frames
that say so.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse

from .. import crs as _crs
from .._errors import InputError

ROAD_CLASS_CODES = ("arterial", "local", "path", "crossing")
KERB_CODES = ("raised", "rolled", "lowered", "flush", "no", "yes")
"""OSM ``kerb`` values as int8 codes (-1: no kerb tagged; an unknown value counts as ``yes``)."""


class GraphArrays(NamedTuple):
    """The arrays of a network, nodes in Morton order, edge geometries oriented from ``u`` to ``v``.

    Attributes
    ----------
    node_xy : (n, 2) float64
        Node coordinates, metric CRS (m).
    node_ids : (n,) int64
        Stored ``node_idx`` of each internal node.
    edge_u, edge_v : (m,) int32
        Internal end nodes of each edge.
    edge_length_m : (m,) float64
        Edge lengths, metres.
    edge_class : (m,) int8
        Codes into :data:`ROAD_CLASS_CODES`, -1 unknown.
    edge_coords : (k, 2) float64
        All edge vertices, metric CRS (m), ragged by ``edge_offsets``.
    edge_offsets : (m + 1,) int64
        Offsets into ``edge_coords``.
    edge_attrs : EdgeAttributes or None
        Steps, kerbs, road names of the edges and node elevations, when the data has them.
    """

    node_xy: np.ndarray
    node_ids: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_class: np.ndarray
    edge_coords: np.ndarray
    edge_offsets: np.ndarray
    edge_attrs: EdgeAttributes | None = None


class EdgeAttributes(NamedTuple):
    """What walking profiles and turn-by-turn directions need beyond lengths.

    Attributes
    ----------
    steps : (m,) bool
        The edge is a flight of steps (OSM ``highway=steps``).
    kerb : (m,) int8
        Codes into :data:`KERB_CODES`, -1 where no kerb is tagged.
    name_idx : (m,) int32
        Index of the edge's road name into ``names``, -1 unnamed.
    names : (q,) str
        The distinct road names.
    node_elev_m : (n,) float64
        Elevation of each node (internal order), metres; NaN where unknown (no raster imported).
    """

    steps: np.ndarray
    kerb: np.ndarray
    name_idx: np.ndarray
    names: np.ndarray
    node_elev_m: np.ndarray

    def take_edges(self, idx: np.ndarray) -> EdgeAttributes:
        """The attributes of the edges ``idx`` (node elevations unchanged)."""
        return self._replace(steps=self.steps[idx], kerb=self.kerb[idx], name_idx=self.name_idx[idx])

    def has_elevation(self) -> bool:
        return bool(np.isfinite(self.node_elev_m).any())


class PairIndex(NamedTuple):
    """The adjacency of a network and its node-pair lookup.

    Attributes
    ----------
    csr : scipy.sparse.csr_matrix (n, n)
        Symmetric adjacency holding the shortest parallel edge per node pair, metres.
    pair_keys : (p,) int64
        Sorted keys ``min(a, b) * n + max(a, b)`` of the joined node pairs.
    pair_edge : (p,) int64
        The (shortest) edge joining each pair.
    """

    csr: sparse.csr_matrix
    pair_keys: np.ndarray
    pair_edge: np.ndarray


# ----------------------------------------------------------------------------- building
def arrays_from_frames(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, metric_crs: pyproj.CRS | str | int | None
) -> tuple[GraphArrays, pyproj.CRS]:
    """Validate node and edge frames (EPSG:4326, as stored) and build the arrays.

    Parameters
    ----------
    nodes : GeoDataFrame
        ``node_idx`` (0..n-1) and Point geometry, EPSG:4326.
    edges : GeoDataFrame
        ``u``, ``v``, ``length_m`` (m), optional ``road_class``, LineString geometry from ``u``
        to ``v`` (a missing geometry is replaced by the straight segment).
    metric_crs : CRS-like or None
        The metric CRS of the arrays; None chooses one from the data.

    Returns
    -------
    arrays : GraphArrays
    metric : pyproj.CRS
    """
    if len(nodes) == 0 or len(edges) == 0:
        raise InputError("the network has no nodes or no edges", "步行网络没有节点或路段")
    for col in ("u", "v", "length_m"):
        if col not in edges.columns:
            raise InputError(f"network edges lack column {col!r}", f"步行网络路段缺少字段「{col}」")
    metric = pyproj.CRS.from_user_input(metric_crs) if metric_crs is not None else _crs.metric_crs_for(nodes)
    nodes = nodes.sort_values("node_idx") if "node_idx" in nodes.columns else nodes
    if "node_idx" in nodes.columns and not np.array_equal(nodes["node_idx"].to_numpy(), np.arange(len(nodes))):
        raise InputError("network node_idx must run 0..n-1", "步行网络节点序号必须为 0..n-1")
    node_xy = shapely.get_coordinates(nodes.to_crs(metric).geometry.values)
    n = len(node_xy)
    u = edges["u"].to_numpy(dtype=np.int64)
    v = edges["v"].to_numpy(dtype=np.int64)
    if u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n:
        raise InputError("network edges refer to unknown nodes", "步行网络路段引用了不存在的节点")
    length = edges["length_m"].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(length)) or (length < 0).any():
        raise InputError("network edge lengths must be finite and >= 0", "步行网络路段长度必须为非负数")
    geoms = np.asarray(gpd.GeoSeries(edges.geometry.values, crs=edges.crs).to_crs(metric).values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        geoms[missing] = shapely.linestrings(np.stack([node_xy[u[missing]], node_xy[v[missing]]], axis=1))
    cls_codes = class_codes(edges["road_class"] if "road_class" in edges.columns else None, len(edges))
    attrs = attributes_from_frames(nodes, edges)
    return ordered_arrays(node_xy, u, v, length, cls_codes, geoms, attrs), metric


def attributes_from_frames(nodes: pd.DataFrame, edges: pd.DataFrame) -> EdgeAttributes | None:
    """Steps, kerbs, names (edges) and elevations (nodes, stored order) from the stored columns, if any.

    ``steps`` (bool), ``kerb`` (OSM value), ``name`` (road name) of ``edges``; ``elevation_m`` (m) of ``nodes``.
    None when none of these columns holds a value.
    """
    m, n = len(edges), len(nodes)

    def col(frame, name):
        return frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index)

    steps = np.array([bool(x) and x == x for x in col(edges, "steps").to_numpy(dtype=object)], dtype=bool)
    kerb = kerb_codes(col(edges, "kerb").to_numpy(dtype=object))
    raw = col(edges, "name").to_numpy(dtype=object)
    named = np.array([isinstance(x, str) and x.strip() != "" for x in raw], dtype=bool)
    names, inv = np.unique(np.array([str(x).strip() for x in raw[named]], dtype=str), return_inverse=True)
    name_idx = np.full(m, -1, dtype=np.int32)
    name_idx[named] = inv.ravel().astype(np.int32)
    elev = pd.to_numeric(col(nodes, "elevation_m"), errors="coerce").to_numpy(dtype=np.float64)
    if not (steps.any() or (kerb >= 0).any() or named.any() or np.isfinite(elev).any()):
        return None
    return EdgeAttributes(steps, kerb, name_idx, names.astype(str), elev if len(elev) == n else np.full(n, np.nan))


def kerb_codes(values) -> np.ndarray:
    """OSM ``kerb`` values to int8 codes into :data:`KERB_CODES` (-1 none; an unknown value counts as ``yes``)."""
    lookup = {c: i for i, c in enumerate(KERB_CODES)}
    out = np.full(len(values), -1, dtype=np.int8)
    for i, x in enumerate(values):
        if isinstance(x, str) and x.strip():
            out[i] = lookup.get(x.strip().lower(), lookup["yes"])
    return out


def ordered_arrays(node_xy, u, v, length, cls_codes, geoms, attrs: EdgeAttributes | None = None) -> GraphArrays:
    """Arrays with the nodes in Morton order and every edge geometry oriented from ``u`` to ``v``.

    Parameters
    ----------
    node_xy : (n, 2) array
        Node coordinates, metric CRS (m), in stored order.
    u, v : (m,) int arrays
        Stored end nodes of each edge.
    length : (m,) float array
        Edge lengths, metres.
    cls_codes : (m,) int8 array
        Road class codes (see :func:`class_codes`).
    geoms : (m,) array of LineStrings
        Edge geometries, metric CRS.
    attrs : EdgeAttributes or None
        Edge attributes, node elevations in stored order (reordered here).
    """
    coords, offsets = ragged_lines(geoms)
    # Nodes in Morton (Z-curve) order: neighbours in space are neighbours in memory, which makes
    # every Dijkstra pass faster (0.75-1.5 s instead of 1.4-1.9 s on 2 million nodes).
    order = morton_order(np.asarray(node_xy, dtype=np.float64))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    arrays = GraphArrays(
        node_xy=np.ascontiguousarray(np.asarray(node_xy, dtype=np.float64)[order]),
        node_ids=order.astype(np.int64),
        edge_u=position[u].astype(np.int32),
        edge_v=position[v].astype(np.int32),
        edge_length_m=length.astype(np.float64),
        edge_class=cls_codes,
        edge_coords=coords,
        edge_offsets=offsets,
        edge_attrs=None if attrs is None else attrs._replace(node_elev_m=np.asarray(attrs.node_elev_m)[order]),
    )
    orient_geometries(arrays.edge_coords, arrays.edge_offsets, arrays.node_xy, arrays.edge_u, arrays.edge_v)
    return arrays


def orient_geometries(
    edge_coords: np.ndarray, edge_offsets: np.ndarray, node_xy: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray
) -> None:
    """Make every edge geometry run from ``u`` to ``v`` and end exactly on the node points (in place, metric CRS)."""
    start = edge_coords[edge_offsets[:-1]]
    end = edge_coords[edge_offsets[1:] - 1]
    pu, pv = node_xy[edge_u], node_xy[edge_v]
    fwd = np.hypot(*(start - pu).T) + np.hypot(*(end - pv).T)
    rev = np.hypot(*(start - pv).T) + np.hypot(*(end - pu).T)
    flip = np.nonzero(rev < fwd)[0]
    for e in flip:  # few: stored edges already run from u to v
        a, b = edge_offsets[e], edge_offsets[e + 1]
        edge_coords[a:b] = edge_coords[a:b][::-1].copy()
    edge_coords[edge_offsets[:-1]] = pu
    edge_coords[edge_offsets[1:] - 1] = pv


def digest(
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_length_m: np.ndarray,
    attrs: EdgeAttributes | None = None,
) -> str:
    """A 16-hex-digit content hash of the node coordinates (m) and the edges.

    Steps, kerbs and elevations count when present (a network without them hashes as before).
    """
    h = hashlib.sha1()
    extra = () if attrs is None else (attrs.steps, attrs.kerb, attrs.node_elev_m)
    for arr in (node_xy, edge_u, edge_v, edge_length_m, *extra):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def morton_order(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """Permutation putting points (metric CRS) in Z-curve (Morton) order of a 2^bits grid over their extent."""
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    span = float(np.ptp(xy, axis=0).max()) or 1.0
    q = ((xy - xy.min(axis=0)) / span * (2**bits - 1)).astype(np.uint64)

    def spread(v):
        v = v & np.uint64(0xFFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        v = (v | (v << np.uint64(1))) & np.uint64(0x55555555)
        return v

    return np.argsort(spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1)), kind="stable")


def class_codes(values, n: int) -> np.ndarray:
    """Road class names to int8 codes into :data:`ROAD_CLASS_CODES` (-1 unknown; all -1 when ``values`` is None)."""
    if values is None:
        return np.full(n, -1, dtype=np.int8)
    lookup = {c: i for i, c in enumerate(ROAD_CLASS_CODES)}
    return pd.Series(values).map(lookup).fillna(-1).to_numpy(dtype=np.int8)


def class_names(edge_class: np.ndarray) -> np.ndarray:
    """Road class codes back to names (object array, None for -1)."""
    return np.array([*ROAD_CLASS_CODES, None], dtype=object)[
        np.where(edge_class < 0, len(ROAD_CLASS_CODES), edge_class)
    ]


def ragged_lines(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All vertices of (Multi)LineStrings and per-geometry offsets into them.

    A MultiLineString is merged, else its longest part is kept.

    Returns
    -------
    coords : (k, 2) float64
        Vertices, in the CRS of ``geoms``.
    offsets : (len(geoms) + 1,) int64
    """
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    if (types != 1).any():
        multi = types == 5
        if multi.any():  # a MultiLineString edge: merge it, else take its longest part
            merged = shapely.line_merge(geoms[multi])
            still = shapely.get_type_id(merged) == 5
            if still.any():
                merged[still] = [max(g.geoms, key=lambda p: p.length) for g in merged[still]]
            geoms = geoms.copy()
            geoms[multi] = merged
        if (shapely.get_type_id(geoms) != 1).any():
            raise InputError("network edges must be LineStrings", "步行网络路段必须为线要素")
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    counts = np.bincount(idx, minlength=len(geoms))
    offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return coords.astype(np.float64), offsets


# ----------------------------------------------------------------------------- adjacency
def build_csr(n: int, edge_u: np.ndarray, edge_v: np.ndarray, edge_length_m: np.ndarray) -> PairIndex:
    """Symmetric CSR adjacency (n x n, metres) with the shortest parallel edge per node pair, and the pair index."""
    keep = edge_u != edge_v  # self loops never shorten a path
    a = np.minimum(edge_u, edge_v)[keep].astype(np.int64)
    b = np.maximum(edge_u, edge_v)[keep].astype(np.int64)
    w = edge_length_m[keep]
    eidx = np.nonzero(keep)[0]
    key = a * n + b
    order = np.lexsort((w, key))
    key, w, eidx, a, b = key[order], w[order], eidx[order], a[order], b[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w, eidx, a, b = key[first], w[first], eidx[first], a[first], b[first]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    data = np.concatenate([w, w])
    # explicit zeros are edges for csgraph on sparse input; keep them by building CSR directly
    order = np.lexsort((cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return PairIndex(sparse.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n, n)), key, eidx)


def pair_edge(pair_keys: np.ndarray, pair_edges: np.ndarray, n: int, a: int, b: int) -> int:
    """The (shortest) edge joining nodes ``a`` and ``b`` (see :class:`PairIndex`); KeyError when none does."""
    lo, hi = min(a, b), max(a, b)
    key = lo * n + hi
    i = int(np.searchsorted(pair_keys, key))
    if i >= len(pair_keys) or pair_keys[i] != key:
        raise KeyError((a, b))
    return int(pair_edges[i])


def path_edges(
    pair_keys: np.ndarray, pair_edges: np.ndarray, n: int, nodes: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The edges along a node path (one vectorised pair lookup): ``(hop start nodes, edges)``; KeyError on a gap."""
    a = np.asarray(nodes[:-1], dtype=np.int64)
    b = np.asarray(nodes[1:], dtype=np.int64)
    keys = np.minimum(a, b) * n + np.maximum(a, b)
    i = np.searchsorted(pair_keys, keys)
    if (i >= len(pair_keys)).any() or (pair_keys[np.minimum(i, len(pair_keys) - 1)] != keys).any():
        raise KeyError(tuple(nodes))
    return a, pair_edges[i]


def node_position(node_ids: np.ndarray | None, ids) -> np.ndarray:
    """Internal node index of stored ``node_idx`` values (``node_ids``: stored id of each internal node)."""
    ids = np.asarray(ids, dtype=np.int64)
    if node_ids is None:
        return ids
    position = np.empty(len(node_ids), dtype=np.int64)
    position[node_ids] = np.arange(len(node_ids))
    return position[ids]


# ----------------------------------------------------------------------------- edge geometries
def edge_geometries(edge_coords: np.ndarray, edge_offsets: np.ndarray) -> np.ndarray:
    """Shapely LineStrings of all edges (CRS of ``edge_coords``, the metric CRS)."""
    counts = np.diff(edge_offsets)
    idx = np.repeat(np.arange(len(edge_offsets) - 1), counts)
    return shapely.linestrings(edge_coords, indices=idx)


def geometries_of(edge_coords: np.ndarray, edge_offsets: np.ndarray, edges) -> np.ndarray:
    """LineStrings (metric CRS) of the given edge indices."""
    edges = np.asarray(edges, dtype=np.int64)
    if len(edges) == 0:
        return np.empty(0, dtype=object)
    starts, ends = edge_offsets[edges], edge_offsets[edges + 1]
    counts = ends - starts
    idx = np.repeat(np.arange(len(edges)), counts)
    pos = np.repeat(starts, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    return shapely.linestrings(edge_coords[pos], indices=idx)


# ----------------------------------------------------------------------------- line layers
def edges_from_lines(
    lines: gpd.GeoDataFrame, *, snap_tolerance_m: float = 0.5
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Node a road-centreline layer where lines cross or touch; return ``(nodes, edges)`` in EPSG:4326.

    Parameters
    ----------
    lines : GeoDataFrame
        (Multi)LineStrings with an optional ``road_class`` and ``name`` (kept per piece, for directions); any CRS.
    snap_tolerance_m : float
        Line ends closer than this (metres, in a metric CRS chosen from the data) become one node.

    Returns
    -------
    nodes : GeoDataFrame
        ``node_idx`` and Point geometry, EPSG:4326.
    edges : GeoDataFrame
        ``u``, ``v``, ``road_class``, ``name``, ``length_m`` (geodesic, m) and LineString geometry, EPSG:4326.

    Notes
    -----
    Every crossing of two centrelines becomes a junction (a centreline layer carries no
    bridge levels); mark grade-separated crossings by splitting the layer yourself.
    """
    if len(lines) == 0:
        raise InputError("the road layer is empty", "道路中心线图层为空")
    if lines.crs is None:
        raise InputError("the road layer has no CRS", "道路中心线图层缺少坐标系")
    metric = _crs.metric_crs_for(lines)
    noded, piece_class, piece_name = _noded_pieces(lines.to_crs(metric), snap_tolerance_m)
    ends = np.concatenate(
        [shapely.get_coordinates(shapely.get_point(noded, 0)), shapely.get_coordinates(shapely.get_point(noded, -1))]
    )
    key = np.round(ends / snap_tolerance_m).astype(np.int64)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    node_xy = np.zeros((len(uniq), 2))
    np.add.at(node_xy, inv, ends)
    node_xy /= np.bincount(inv)[:, None]
    m = len(noded)
    u, v = inv[:m], inv[m:]
    nodes = gpd.GeoDataFrame({"node_idx": np.arange(len(uniq))}, geometry=shapely.points(node_xy), crs=metric).to_crs(
        4326
    )
    edges = gpd.GeoDataFrame(
        {"u": u, "v": v, "road_class": piece_class, "name": piece_name}, geometry=noded, crs=metric
    ).to_crs(4326)
    edges["length_m"] = _crs.geodesic_lengths_m(edges.geometry.values)
    keep = edges["u"].to_numpy() != edges["v"].to_numpy()
    return nodes, edges[keep].reset_index(drop=True)


def _noded_pieces(g: gpd.GeoDataFrame, snap_tolerance_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines of ``g`` (metric CRS) noded where they cross or touch, and each piece's road class and name."""
    geoms = shapely.line_merge(np.asarray(g.geometry.values, dtype=object))
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts = shapely.set_precision(parts, snap_tolerance_m / 10)
    none = np.full(len(g), None, dtype=object)
    classes = (g["road_class"].to_numpy(dtype=object) if "road_class" in g.columns else none)[idx]
    names = (g["name"].to_numpy(dtype=object) if "name" in g.columns else none)[idx]
    noded = shapely.get_parts(shapely.union_all(parts))
    noded = noded[shapely.length(noded) > 0]
    # road class of each noded piece: the class of the input line it lies on
    tree = shapely.STRtree(parts)
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    (pi, li) = tree.query_nearest(mid, all_matches=False)
    piece_class = np.full(len(noded), None, dtype=object)
    piece_class[pi] = classes[li]
    piece_name = np.full(len(noded), None, dtype=object)
    piece_name[pi] = names[li]
    return noded, piece_class, piece_name
