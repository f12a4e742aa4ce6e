"""The walking-network engine shared by every analysis.

A :class:`WalkNetwork` holds an undirected walking network as arrays: node
coordinates in a metric CRS chosen from the data, edges ``u``/``v`` with
lengths in metres and a road class, edge geometries (metric), and a
symmetric CSR adjacency of the shortest parallel edge between two nodes.

Points (facilities, residential units, a resident's position) are snapped
to the nearest *edge* (not node) with :meth:`WalkNetwork.snap`; the
off-network leg is part of every distance.  :meth:`WalkNetwork.nearest`
runs one multi-source Dijkstra (``scipy.sparse.csgraph``) from all the
snapped sources of a kind at once, bounded by a distance limit, giving
for every node the distance to, and the index of, the nearest source; the
route to it is read from the predecessor tree (:meth:`NearestResult.route`).

Networks are built from the stored ``network_nodes``/``network_edges``
tables (an OSM import or the sample city), or from a road-centreline layer
(:func:`edges_from_lines`, noded where lines cross or touch), and saved as
one ``.npz`` file that reloads without rebuilding (:func:`load_network`).

Units: metres; CRS: the network's metric CRS (``WalkNetwork.crs``) for all
coordinates, EPSG:4326 for inputs and outputs that say so.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from . import crs as _crs
from ._errors import InputError, NotFoundError

DEFAULT_MAX_SNAP_M = 300.0
ROAD_CLASS_CODES = ("arterial", "local", "path", "crossing")
_FORMAT_VERSION = 3


# ----------------------------------------------------------------------------- snapping
@dataclass
class Snap:
    """Points snapped to network edges.

    Attributes
    ----------
    edge : int64 array
        Edge index per point, -1 where unreachable.
    frac : float64 array
        Position along the edge from ``u`` (0) to ``v`` (1).
    offset_m : float64 array
        Straight off-network leg from the point to the edge, metres (NaN where unreachable).
    xy : (n, 2) float64 array
        The input points, metric CRS.
    snapped_xy : (n, 2) float64 array
        The snap locations on the edges, metric CRS (NaN where unreachable).
    """

    edge: np.ndarray
    frac: np.ndarray
    offset_m: np.ndarray
    xy: np.ndarray
    snapped_xy: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def reachable(self) -> np.ndarray:
        return self.edge >= 0

    def take(self, idx) -> Snap:
        return Snap(self.edge[idx], self.frac[idx], self.offset_m[idx], self.xy[idx], self.snapped_xy[idx])


# ----------------------------------------------------------------------------- results
@dataclass
class NearestResult:
    """Outcome of a multi-source pass: per node the distance to and index of the nearest source.

    Attributes
    ----------
    dist_m : float64 array (n_nodes,)
        Network distance from the nearest source (off-network leg of the source included), inf beyond ``limit_m``.
    source : int64 array (n_nodes,)
        Index (into the sources given to :meth:`WalkNetwork.nearest`) of the nearest source, -1 beyond the limit.
    pred : int32 array (n_nodes,)
        Predecessor of each node on its path from the source; ``>= n_nodes`` marks the source's
        virtual node, -9999 unreachable.
    limit_m : float
    """

    network: WalkNetwork
    sources: Snap
    dist_m: np.ndarray
    source: np.ndarray
    pred: np.ndarray
    limit_m: float

    def at(self, targets: Snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance from the nearest source to each snapped target point.

        Returns
        -------
        walk_m : float64 array
            Network distance including both off-network legs, metres; inf when no source
            is within the limit (or the target is unreachable).
        source : int64 array
            Index of the nearest source, -1 where none.
        via : int8 array
            How the target is reached: 0 through the edge's ``u`` end, 1 through ``v``,
            2 along the same edge as the source, -1 none.
        """
        net = self.network
        n_t = len(targets)
        walk = np.full(n_t, np.inf)
        src = np.full(n_t, -1, dtype=np.int64)
        via = np.full(n_t, -1, dtype=np.int8)
        ok = targets.reachable
        e = targets.edge[ok]
        t = targets.frac[ok]
        length = net.edge_length_m[e]
        du = self.dist_m[net.edge_u[e]] + t * length
        dv = self.dist_m[net.edge_v[e]] + (1.0 - t) * length
        use_v = dv < du
        best = np.where(use_v, dv, du)
        best_src = np.where(use_v, self.source[net.edge_v[e]], self.source[net.edge_u[e]])
        best_via = use_v.astype(np.int8)
        # a source on the same edge reaches the target along the edge directly
        s_edge = self.sources.edge
        if len(s_edge) and ok.any():
            order = np.argsort(s_edge, kind="stable")
            sorted_edges = s_edge[order]
            lo = np.searchsorted(sorted_edges, e, side="left")
            hi = np.searchsorted(sorted_edges, e, side="right")
            has = np.nonzero(hi > lo)[0]
            if len(has):
                counts = hi[has] - lo[has]
                tgt = np.repeat(has, counts)
                pos = np.repeat(lo[has], counts) + (
                    np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
                )
                s_idx = order[pos]
                d_same = self.sources.offset_m[s_idx] + np.abs(self.sources.frac[s_idx] - t[tgt]) * length[tgt]
                d_same = np.where(d_same <= self.limit_m, d_same, np.inf)
                # minimum per target among same-edge sources
                o = np.lexsort((d_same, tgt))
                tgt_o, d_o, s_o = tgt[o], d_same[o], s_idx[o]
                first = np.ones(len(tgt_o), dtype=bool)
                first[1:] = tgt_o[1:] != tgt_o[:-1]
                tg, dg, sg = tgt_o[first], d_o[first], s_o[first]
                better = dg < best[tg]
                best[tg[better]] = dg[better]
                best_src[tg[better]] = sg[better]
                best_via[tg[better]] = 2
        finite = np.isfinite(best)
        best_via[~finite] = -1
        best_src[~finite] = -1
        walk[ok] = best + targets.offset_m[ok]
        src[ok] = best_src
        via[ok] = best_via
        return walk, src, via

    def node_path(self, node: int) -> tuple[list[int], int]:
        """Nodes from ``node`` back to the source (inclusive) and the source index."""
        n = self.network.n_nodes
        path = [int(node)]
        p = int(self.pred[node])
        guard = 0
        while 0 <= p < n:
            path.append(p)
            p = int(self.pred[p])
            guard += 1
            if guard > n:  # pragma: no cover - a corrupt tree
                raise RuntimeError("predecessor cycle")
        # every reached node leads back to its source's virtual node (>= n); -9999 marks an unreached one
        return path, (int(p - n) if p >= n else -1)

    def route(self, targets: Snap, i: int) -> shapely.LineString | None:
        """Walking route (metric CRS) from target ``i`` to its nearest source, or None."""
        _walk, src, via = self.at(targets.take([i]))
        if src[0] < 0:
            return None
        net = self.network
        s = int(src[0])
        e = int(targets.edge[i])
        t = float(targets.frac[i])
        parts: list[np.ndarray] = [targets.xy[i : i + 1]]
        if via[0] == 2:
            parts.append(net.edge_piece(e, t, float(self.sources.frac[s])))
        else:
            end = int(net.edge_v[e] if via[0] == 1 else net.edge_u[e])
            parts.append(net.edge_piece(e, t, 1.0 if via[0] == 1 else 0.0))
            nodes, _s2 = self.node_path(end)
            parts.extend(net.path_coords(nodes))
            se = int(self.sources.edge[s])
            sf = float(self.sources.frac[s])
            last = nodes[-1]
            parts.append(net.edge_piece(se, 0.0 if net.edge_u[se] == last else 1.0, sf))
        parts.append(self.sources.xy[s : s + 1])
        return _route_line(parts)


# ----------------------------------------------------------------------------- the network
def _groups(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR-like grouping: ``order[indptr[k]:indptr[k + 1]]`` are the positions with key ``k``."""
    order = np.argsort(keys, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=indptr[1:])
    return order, indptr


def _gather(order: np.ndarray, indptr: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Positions of all members of ``groups`` (see :func:`_groups`); out-of-range groups are skipped."""
    groups = groups[(groups >= 0) & (groups < len(indptr) - 1)]
    lo, hi = indptr[groups], indptr[groups + 1]
    cnt = hi - lo
    if cnt.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    return order[np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())]


@dataclass
class WalkNetwork:
    """An undirected walking network as arrays (metric CRS, metres)."""

    node_xy: np.ndarray  # (n, 2) float64, metric
    edge_u: np.ndarray  # (m,) int32
    edge_v: np.ndarray  # (m,) int32
    edge_length_m: np.ndarray  # (m,) float64
    edge_class: np.ndarray  # (m,) int8 codes into ROAD_CLASS_CODES, -1 unknown
    edge_coords: np.ndarray  # (k, 2) float64, metric: all edge vertices, ragged
    edge_offsets: np.ndarray  # (m + 1,) int64 offsets into edge_coords
    crs: pyproj.CRS
    name: str = ""
    network_id: int | None = None
    version: str = ""
    node_ids: np.ndarray | None = None  # stored node_idx of each internal node (nodes are kept in Morton order)
    _csr: sparse.csr_matrix | None = field(default=None, repr=False)
    _tree: _SegmentIndex | None = field(default=None, repr=False)
    _geoms: np.ndarray | None = field(default=None, repr=False)
    _pair_keys: np.ndarray | None = field(default=None, repr=False)
    _pair_edge: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        *,
        metric_crs: pyproj.CRS | str | int | None = None,
        name: str = "",
        network_id: int | None = None,
    ) -> WalkNetwork:
        """Build from node and edge frames in EPSG:4326 (as stored, see ``Store.write_network``).

        ``nodes``: ``node_idx`` (0..n-1) and Point geometry; ``edges``: ``u``, ``v``,
        ``length_m`` (metres), optional ``road_class``, LineString geometry from ``u`` to ``v``
        (a missing geometry is replaced by the straight segment).
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
        cls_codes = _class_codes(edges["road_class"] if "road_class" in edges.columns else None, len(edges))
        return cls._from_arrays(node_xy, u, v, length, cls_codes, geoms, metric, name=name, network_id=network_id)

    @classmethod
    def _from_arrays(cls, node_xy, u, v, length, cls_codes, geoms, metric, *, name="", network_id=None) -> WalkNetwork:
        coords, offsets = _ragged_lines(geoms)
        # Nodes in Morton (Z-curve) order: neighbours in space are neighbours in memory, which makes
        # every Dijkstra pass faster (0.75-1.5 s instead of 1.4-1.9 s on 2 million nodes).
        order = _morton_order(np.asarray(node_xy, dtype=np.float64))
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        net = cls(
            node_xy=np.ascontiguousarray(np.asarray(node_xy, dtype=np.float64)[order]),
            node_ids=order.astype(np.int64),
            edge_u=position[u].astype(np.int32),
            edge_v=position[v].astype(np.int32),
            edge_length_m=length.astype(np.float64),
            edge_class=cls_codes,
            edge_coords=coords,
            edge_offsets=offsets,
            crs=metric,
            name=name,
            network_id=network_id,
        )
        net._orient_geometries()
        net.version = net._digest()
        return net

    def _orient_geometries(self) -> None:
        """Make every edge geometry run from ``u`` to ``v`` and end exactly on the node points."""
        start = self.edge_coords[self.edge_offsets[:-1]]
        end = self.edge_coords[self.edge_offsets[1:] - 1]
        pu, pv = self.node_xy[self.edge_u], self.node_xy[self.edge_v]
        fwd = np.hypot(*(start - pu).T) + np.hypot(*(end - pv).T)
        rev = np.hypot(*(start - pv).T) + np.hypot(*(end - pu).T)
        flip = np.nonzero(rev < fwd)[0]
        for e in flip:  # few: stored edges already run from u to v
            a, b = self.edge_offsets[e], self.edge_offsets[e + 1]
            self.edge_coords[a:b] = self.edge_coords[a:b][::-1].copy()
        self.edge_coords[self.edge_offsets[:-1]] = pu
        self.edge_coords[self.edge_offsets[1:] - 1] = pv

    def _digest(self) -> str:
        h = hashlib.sha1()
        for arr in (self.node_xy, self.edge_u, self.edge_v, self.edge_length_m):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ properties
    def node_position(self, node_ids) -> np.ndarray:
        """Internal node index of stored ``node_idx`` values."""
        ids = np.asarray(node_ids, dtype=np.int64)
        if self.node_ids is None:
            return ids
        position = np.empty(len(self.node_ids), dtype=np.int64)
        position[self.node_ids] = np.arange(len(self.node_ids))
        return position[ids]

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def csr(self) -> sparse.csr_matrix:
        """Symmetric adjacency (n x n) with the shortest parallel edge per node pair, metres."""
        if self._csr is None:
            with self._lock:
                if self._csr is None:
                    self._build_csr()
        return self._csr

    def _build_csr(self) -> None:
        n = self.n_nodes
        keep = self.edge_u != self.edge_v  # self loops never shorten a path
        a = np.minimum(self.edge_u, self.edge_v)[keep].astype(np.int64)
        b = np.maximum(self.edge_u, self.edge_v)[keep].astype(np.int64)
        w = self.edge_length_m[keep]
        eidx = np.nonzero(keep)[0]
        key = a * n + b
        order = np.lexsort((w, key))
        key, w, eidx, a, b = key[order], w[order], eidx[order], a[order], b[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, w, eidx, a, b = key[first], w[first], eidx[first], a[first], b[first]
        self._pair_keys = key
        self._pair_edge = eidx
        rows = np.concatenate([a, b])
        cols = np.concatenate([b, a])
        data = np.concatenate([w, w])
        # explicit zeros are edges for csgraph on sparse input; keep them by building CSR directly
        order = np.lexsort((cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        self._csr = sparse.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n, n))

    def edge_geometries(self) -> np.ndarray:
        """Shapely LineStrings of all edges (metric CRS), built once."""
        if self._geoms is None:
            with self._lock:
                if self._geoms is None:
                    counts = np.diff(self.edge_offsets)
                    idx = np.repeat(np.arange(self.n_edges), counts)
                    self._geoms = shapely.linestrings(self.edge_coords, indices=idx)
        return self._geoms

    def geometries_of(self, edges) -> np.ndarray:
        """LineStrings (metric CRS) of the given edge indices, built on demand."""
        edges = np.asarray(edges, dtype=np.int64)
        if self._geoms is not None:
            return self._geoms[edges]
        if len(edges) == 0:
            return np.empty(0, dtype=object)
        starts, ends = self.edge_offsets[edges], self.edge_offsets[edges + 1]
        counts = ends - starts
        idx = np.repeat(np.arange(len(edges)), counts)
        pos = np.repeat(starts, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        return shapely.linestrings(self.edge_coords[pos], indices=idx)

    @property
    def tree(self) -> _SegmentIndex:
        """Nearest-edge index over the edge segments (no shapely objects: compact for big networks)."""
        if self._tree is None:
            with self._lock:
                if self._tree is None:
                    self._tree = _SegmentIndex(self.edge_coords, self.edge_offsets)
        return self._tree

    def warm(self) -> WalkNetwork:
        """Build the lazy parts (CSR, edge geometries, spatial index) now."""
        self.csr  # noqa: B018
        self.tree  # noqa: B018
        return self

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        b = self.__dict__.get("_bounds")
        if b is None:
            b = self.__dict__["_bounds"] = (*self.node_xy.min(axis=0), *self.node_xy.max(axis=0))
        return b

    def components(self) -> np.ndarray:
        """Connected-component label per node."""
        return csgraph.connected_components(self.csr, directed=False)[1]

    # ------------------------------------------------------------------ coordinates
    def _transformer(self, inverse: bool) -> pyproj.Transformer:
        """lon/lat <-> metric, as a plain projection of the metric CRS's own datum.

        WGS84 and CGCS2000 agree at metre level (the service treats them as equal), and a
        pure projection pipeline is built in a millisecond, where a WGS84 -> CGCS2000
        operation search costs PROJ about 200 ms per thread.
        """
        cache = self.__dict__.setdefault("_transformers", {})
        tr = cache.get(inverse)
        if tr is None:
            geo = self.crs.geodetic_crs
            tr = cache[inverse] = (
                pyproj.Transformer.from_crs(self.crs, geo, always_xy=True)
                if inverse
                else pyproj.Transformer.from_crs(geo, self.crs, always_xy=True)
            )
        return tr

    def to_metric(self, geoms, crs=4326) -> np.ndarray:
        """Geometries (array-like, in ``crs``) to the network's metric CRS."""
        geoms = np.asarray(geoms, dtype=object)
        if crs in (4326, "EPSG:4326") and len(geoms) <= 64:  # small inputs: a cached transformer, no GeoSeries
            tr = self._transformer(inverse=False)
            return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        s = gpd.GeoSeries(geoms, crs=crs)
        return np.asarray(s.to_crs(self.crs).values, dtype=object)

    def to_wgs84(self, geoms) -> np.ndarray:
        """Metric geometries (array-like) to EPSG:4326 (lon, lat)."""
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) <= 64:
            tr = self._transformer(inverse=True)
            return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        return np.asarray(gpd.GeoSeries(geoms, crs=self.crs).to_crs(4326).values, dtype=object)

    # ------------------------------------------------------------------ snapping
    def snap(self, geoms, *, crs=4326, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
        """Snap points (or polygons, by their representative point) to the nearest edge.

        Parameters
        ----------
        geoms : array-like of shapely geometries or GeoSeries
            In ``crs`` (default EPSG:4326; a GeoSeries brings its own CRS).  Polygons and
            lines are represented by ``representative_point``.
        max_snap_m : float
            Points farther than this from every edge are unreachable (``edge == -1``).
        """
        if isinstance(geoms, gpd.GeoSeries):
            crs = geoms.crs if geoms.crs is not None else crs
            geoms = geoms.values
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) == 0:
            empty = np.empty(0)
            return Snap(np.empty(0, dtype=np.int64), empty, empty, np.empty((0, 2)), np.empty((0, 2)))
        points = self.to_metric(geoms, crs) if crs is not None else geoms
        bad = shapely.is_missing(points) | shapely.is_empty(points)
        non_point = ~bad & (shapely.get_type_id(points) != 0)
        if non_point.any():
            points = points.copy()
            points[non_point] = shapely.point_on_surface(points[non_point])
        xy = np.full((len(points), 2), np.nan)
        xy[~bad] = shapely.get_coordinates(points[~bad])
        return self.snap_xy(xy, max_snap_m=max_snap_m)

    def snap_xy(self, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
        """Snap metric coordinates ``(n, 2)`` to the nearest edge (see :meth:`snap`)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        n = len(xy)
        edge = np.full(n, -1, dtype=np.int64)
        frac = np.full(n, np.nan)
        off = np.full(n, np.nan)
        snapped = np.full((n, 2), np.nan)
        ok = np.isfinite(xy).all(axis=1)
        if ok.any():
            ei, f, dist, sxy = self.tree.nearest(xy[ok], float(max_snap_m))
            hit = ei >= 0
            idx = np.nonzero(ok)[0][hit]
            edge[idx] = ei[hit]
            frac[idx] = f[hit]
            off[idx] = dist[hit]
            snapped[idx] = sxy[hit]
        return Snap(edge, frac, off, xy, snapped)

    # ------------------------------------------------------------------ shortest paths
    def _augmented(self, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
        """The CSR with one virtual node per reachable source, joined to its edge's two ends."""
        base = self.csr
        n = self.n_nodes
        ok = np.nonzero(sources.reachable)[0]
        k = len(ok)
        e = sources.edge[ok]
        L = self.edge_length_m[e]
        w_u = sources.offset_m[ok] + sources.frac[ok] * L
        w_v = sources.offset_m[ok] + (1.0 - sources.frac[ok]) * L
        indptr = np.concatenate([base.indptr, base.indptr[-1] + 2 * np.arange(1, k + 1, dtype=np.int64)])
        indices = np.concatenate(
            [base.indices, np.stack([self.edge_u[e], self.edge_v[e]], axis=1).ravel().astype(base.indices.dtype)]
        )
        data = np.concatenate([base.data, np.stack([w_u, w_v], axis=1).ravel()])
        aug = sparse.csr_matrix((data, indices, indptr), shape=(n + k, n + k))
        return aug, ok

    def nearest(self, sources: Snap, *, limit_m: float = np.inf) -> NearestResult:
        """One multi-source Dijkstra: per node the distance to and index of the nearest source.

        Parameters
        ----------
        sources : Snap
            Snapped source points (facilities); unreachable ones are ignored.
        limit_m : float
            Search bound, metres; nodes farther from every source get ``inf`` / -1.
        """
        n = self.n_nodes
        aug, ok = self._augmented(sources)
        if len(ok) == 0:
            return NearestResult(
                self,
                sources,
                np.full(n, np.inf),
                np.full(n, -1, dtype=np.int64),
                np.full(n, -9999, dtype=np.int32),
                float(limit_m),
            )
        dist, pred, src = csgraph.dijkstra(
            aug,
            directed=True,
            indices=np.arange(n, n + len(ok)),
            min_only=True,
            limit=float(limit_m),
            return_predecessors=True,
        )
        source = np.where(src[:n] >= n, ok[np.clip(src[:n] - n, 0, len(ok) - 1)], -1).astype(np.int64)
        pred_n = pred[:n].astype(np.int32)
        # the virtual node index of the (reachable) source is n + position in ok: map to n + source index
        virt = pred_n >= n
        pred_n[virt] = n + ok[pred_n[virt] - n]
        return NearestResult(self, sources, dist[:n], source, pred_n, float(limit_m))

    def distances_within(
        self, sources: Snap, targets: Snap, *, limit_m: float, chunk: int | None = None, tile_m: float | None = 1500.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (source, target) pairs within ``limit_m`` by walking.

        Returns ``(source_idx, target_idx, walk_m)`` arrays (COO), both off-network legs
        included; zero distances are kept.

        On a network larger than a few tiles the sources are grouped in square tiles of
        ``tile_m`` metres and each group searches only the sub-network within ``limit_m``
        of it (a walk of at most ``limit_m`` never leaves that box, since an edge is never
        shorter than the straight line between its ends): the cost grows with the city,
        not with its square.  ``tile_m=None`` searches the whole network per chunk of sources.
        """
        if tile_m is not None and np.isfinite(limit_m) and self.n_nodes > 5_000:
            span = self.node_xy.max(axis=0) - self.node_xy.min(axis=0)
            if span.max() > 3 * (max(tile_m, limit_m) + 2 * limit_m):
                return self._distances_tiled(sources, targets, float(limit_m), float(tile_m))
        return self._distances_direct(sources, targets, limit_m=limit_m, chunk=chunk)

    def _distances_tiled(self, sources: Snap, targets: Snap, limit_m: float, tile_m: float):
        ok_s = np.flatnonzero(sources.reachable)
        ok_t = np.flatnonzero(targets.reachable)
        empty = np.zeros(0, dtype=np.int64)
        if ok_s.size == 0 or ok_t.size == 0:
            return empty, empty, np.zeros(0)
        cell = max(tile_m, limit_m)  # a tile and its 8 neighbours cover the tile's sources' box + limit_m
        nxy = self.node_xy
        origin = np.minimum(nxy.min(axis=0), sources.xy[ok_s].min(axis=0)) - cell
        top = np.maximum(nxy.max(axis=0), sources.xy[ok_s].max(axis=0))
        ny = int(np.floor((top[1] - origin[1]) / cell)) + 2
        nx_ = int(np.floor((top[0] - origin[0]) / cell)) + 2

        def cell_of(xy):
            k = np.floor((xy - origin) / cell).astype(np.int64)
            return k[:, 0] * ny + k[:, 1]

        node_order, node_ptr = _groups(cell_of(nxy), nx_ * ny)
        eu, ev = self.edge_u.astype(np.int64), self.edge_v.astype(np.int64)
        m = self.n_edges
        inc_order, inc_ptr = _groups(np.concatenate([eu, ev]), self.n_nodes)  # node -> incident edges (mod m)
        tgt_order, tgt_ptr = _groups(targets.edge[ok_t], m)  # edge -> reachable targets on it
        s_cell = cell_of(sources.xy[ok_s])
        order = np.argsort(s_cell, kind="stable")
        sc = s_cell[order]
        starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
        ends = np.r_[starts[1:], sc.size]
        around = np.array([-ny - 1, -ny, -ny + 1, -1, 0, 1, ny - 1, ny, ny + 1])
        out_s, out_t, out_d = [], [], []
        for a, b in zip(starts, ends):  # one pass per tile holding sources
            src = ok_s[order[a:b]]
            cand = _gather(node_order, node_ptr, sc[a] + around)
            lo = sources.xy[src].min(axis=0) - limit_m
            hi = sources.xy[src].max(axis=0) + limit_m
            nodes_in = cand[np.all((nxy[cand] >= lo) & (nxy[cand] <= hi), axis=1)]
            edges = np.unique(np.concatenate([_gather(inc_order, inc_ptr, nodes_in) % m, sources.edge[src]]))
            tin = ok_t[_gather(tgt_order, tgt_ptr, edges)]
            if tin.size == 0:
                continue
            nodes, inv = np.unique(np.concatenate([eu[edges], ev[edges]]), return_inverse=True)
            k = edges.size
            sub = WalkNetwork(
                node_xy=nxy[nodes],
                edge_u=inv[:k].astype(np.int32),
                edge_v=inv[k:].astype(np.int32),
                edge_length_m=self.edge_length_m[edges],
                edge_class=self.edge_class[edges],
                edge_coords=np.zeros((0, 2)),
                edge_offsets=np.zeros(k + 1, dtype=np.int64),
                crs=self.crs,
            )
            s_sub = sources.take(src)
            s_sub.edge = np.searchsorted(edges, s_sub.edge)
            t_sub = targets.take(tin)
            t_sub.edge = np.searchsorted(edges, t_sub.edge)
            i, j, d = sub._distances_direct(s_sub, t_sub, limit_m=limit_m)
            out_s.append(src[i])
            out_t.append(tin[j])
            out_d.append(d)
        if not out_s:
            return empty, empty, np.zeros(0)
        return np.concatenate(out_s), np.concatenate(out_t), np.concatenate(out_d)

    def _distances_direct(self, sources: Snap, targets: Snap, *, limit_m: float, chunk: int | None = None):
        n = self.n_nodes
        ok_t = np.nonzero(targets.reachable)[0]
        ok_s = np.nonzero(sources.reachable)[0]
        out_s, out_t, out_d = [], [], []
        if len(ok_t) == 0 or len(ok_s) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        te = targets.edge[ok_t]
        tf = targets.frac[ok_t]
        tL = self.edge_length_m[te]
        tu, tv = self.edge_u[te], self.edge_v[te]
        toff = targets.offset_m[ok_t]
        if chunk is None:
            chunk = max(1, int(2e8 // (8 * (n + len(ok_s)))))  # ~200 MB of distances per pass
        aug, ok = self._augmented(sources)
        for start in range(0, len(ok), chunk):
            rows = np.arange(start, min(start + chunk, len(ok)))
            d = csgraph.dijkstra(aug, directed=True, indices=n + rows, limit=float(limit_m))
            dd = np.minimum(d[:, tu] + tf * tL, d[:, tv] + (1.0 - tf) * tL) + toff
            # same edge: direct along the edge
            s_edge = sources.edge[ok[rows]]
            same = s_edge[:, None] == te[None, :]
            if same.any():
                r, c = np.nonzero(same)
                direct = sources.offset_m[ok[rows[r]]] + np.abs(sources.frac[ok[rows[r]]] - tf[c]) * tL[c] + toff[c]
                dd[r, c] = np.minimum(dd[r, c], direct)
            r, c = np.nonzero(dd <= limit_m)
            out_s.append(ok[rows[r]])
            out_t.append(ok_t[c])
            out_d.append(dd[r, c])
        return np.concatenate(out_s), np.concatenate(out_t), np.concatenate(out_d)

    # ------------------------------------------------------------------ geometry helpers
    def edge_coords_of(self, e: int) -> np.ndarray:
        return self.edge_coords[self.edge_offsets[e] : self.edge_offsets[e + 1]]

    def edge_piece(self, e: int, f0: float, f1: float) -> np.ndarray:
        """Coordinates along edge ``e`` from fraction ``f0`` to ``f1`` (either direction).

        Street edges have a handful of vertices: plain Python over lists is several times faster
        here than numpy calls (routes of ``/nearest`` are built from these on every request).
        """
        coords = self.edge_coords_of(e)
        seg = np.hypot(*np.diff(coords, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        total = cum[-1]
        if total == 0:
            return coords[:1]
        a, b = sorted((f0 * total, f1 * total))
        cl, cs = cum.tolist(), coords.tolist()
        out = [_interp(cs, cl, a), *(c for c, v in zip(cs, cl) if a < v < b), _interp(cs, cl, b)]
        return np.array(out if f0 <= f1 else out[::-1])

    def pair_edge(self, a: int, b: int) -> int:
        """The (shortest) edge joining nodes ``a`` and ``b``."""
        self.csr  # noqa: B018 - builds the pair index
        lo, hi = min(a, b), max(a, b)
        key = lo * self.n_nodes + hi
        i = int(np.searchsorted(self._pair_keys, key))
        if i >= len(self._pair_keys) or self._pair_keys[i] != key:
            raise KeyError((a, b))
        return int(self._pair_edge[i])

    def path_coords(self, nodes: list[int]) -> list[np.ndarray]:
        """Coordinates of each edge along a node path, oriented along it (one vectorised pair lookup)."""
        if len(nodes) < 2:
            return []
        self.csr  # noqa: B018 - builds the pair index
        a = np.asarray(nodes[:-1], dtype=np.int64)
        b = np.asarray(nodes[1:], dtype=np.int64)
        keys = np.minimum(a, b) * self.n_nodes + np.maximum(a, b)
        i = np.searchsorted(self._pair_keys, keys)
        if (i >= len(self._pair_keys)).any() or (
            self._pair_keys[np.minimum(i, len(self._pair_keys) - 1)] != keys
        ).any():
            raise KeyError(tuple(nodes))
        offsets, coords, edge_u = self.edge_offsets, self.edge_coords, self.edge_u
        out = []
        for hop, ed in zip(a.tolist(), self._pair_edge[i].tolist()):
            c = coords[offsets[ed] : offsets[ed + 1]]
            out.append(c if edge_u[ed] == hop else c[::-1])
        return out

    def lonlat_to_metric(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes (EPSG:4326, scalars or arrays) to the network's metric x, y."""
        return self._transformer(inverse=False).transform(lon, lat)

    def metric_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Metric x, y (scalars or arrays) to longitudes and latitudes (EPSG:4326)."""
        return self._transformer(inverse=True).transform(x, y)

    def reachable_pieces(self, result: NearestResult, threshold_m: float) -> np.ndarray:
        """Edge pieces within ``threshold_m`` of the sources (metric LineStrings), for service areas."""
        du = result.dist_m[self.edge_u]
        dv = result.dist_m[self.edge_v]
        L = self.edge_length_m
        full = (
            (du + L <= threshold_m)
            | (dv + L <= threshold_m)
            | ((du <= threshold_m) & (dv <= threshold_m) & (du + dv + L <= 2 * threshold_m))
        )
        pieces = list(self.geometries_of(np.nonzero(full)[0]))
        part = np.nonzero(~full & ((du < threshold_m) | (dv < threshold_m)))[0]
        for e in part:
            if du[e] < threshold_m:
                f = min(1.0, (threshold_m - du[e]) / L[e]) if L[e] > 0 else 1.0
                pieces.append(shapely.linestrings(self.edge_piece(e, 0.0, f)) if f > 0 else None)
            if dv[e] < threshold_m:
                f = min(1.0, (threshold_m - dv[e]) / L[e]) if L[e] > 0 else 1.0
                pieces.append(shapely.linestrings(self.edge_piece(e, 1.0 - f, 1.0)) if f > 0 else None)
        # sources on an edge whose ends are beyond the threshold still reach along it
        s = result.sources
        for i in np.nonzero(s.reachable & (s.offset_m < threshold_m))[0]:
            e = int(s.edge[i])
            if L[e] <= 0:
                continue
            reach = (threshold_m - s.offset_m[i]) / L[e]
            pieces.append(
                shapely.linestrings(self.edge_piece(e, max(0.0, s.frac[i] - reach), min(1.0, s.frac[i] + reach)))
            )
        pieces = np.array([p for p in pieces if p is not None and not p.is_empty and p.length > 0], dtype=object)
        return pieces

    def service_area(self, result: NearestResult, threshold_m: float, *, buffer_m: float = 30.0):
        """Area reachable within ``threshold_m``: reachable edge pieces buffered by ``buffer_m`` (metric polygon)."""
        pieces = self.reachable_pieces(result, threshold_m)
        if len(pieces) == 0:
            return shapely.Polygon()
        return shapely.union_all(shapely.buffer(pieces, buffer_m, quad_segs=4))

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Write the arrays to one ``.npz`` file (atomic rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            format_version=np.array(_FORMAT_VERSION),
            node_xy=self.node_xy,
            edge_u=self.edge_u,
            edge_v=self.edge_v,
            edge_length_m=self.edge_length_m,
            edge_class=self.edge_class,
            edge_coords=self.edge_coords,
            edge_offsets=self.edge_offsets,
            crs=np.array(self.crs.to_wkt()),
            name=np.array(self.name),
            network_id=np.array(-1 if self.network_id is None else self.network_id),
            version=np.array(self.version),
            # the derived adjacency too, so a reload does not rebuild it
            node_ids=self.node_ids if self.node_ids is not None else np.arange(self.n_nodes),
            csr_data=self.csr.data,
            csr_indices=self.csr.indices,
            csr_indptr=self.csr.indptr,
            pair_keys=self._pair_keys,
            pair_edge=self._pair_edge,
        )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> WalkNetwork:
        with np.load(Path(path), allow_pickle=False) as z:
            if int(z["format_version"]) != _FORMAT_VERSION:
                raise ValueError("network cache format changed")
            nid = int(z["network_id"])
            n = len(z["node_xy"])
            csr = sparse.csr_matrix((z["csr_data"], z["csr_indices"], z["csr_indptr"]), shape=(n, n))
            net = cls(
                node_xy=z["node_xy"],
                edge_u=z["edge_u"],
                edge_v=z["edge_v"],
                edge_length_m=z["edge_length_m"],
                edge_class=z["edge_class"],
                edge_coords=z["edge_coords"],
                edge_offsets=z["edge_offsets"],
                crs=pyproj.CRS.from_wkt(str(z["crs"])),
                name=str(z["name"]),
                network_id=None if nid < 0 else nid,
                version=str(z["version"]),
                node_ids=z["node_ids"],
            )
            net._csr, net._pair_keys, net._pair_edge = csr, z["pair_keys"], z["pair_edge"]
            return net

    def nbytes(self) -> int:
        """Bytes held by the arrays (CSR included once built)."""
        total = sum(
            a.nbytes
            for a in (
                self.node_xy,
                self.edge_u,
                self.edge_v,
                self.edge_length_m,
                self.edge_class,
                self.edge_coords,
                self.edge_offsets,
            )
        )
        if self._csr is not None:
            total += self._csr.data.nbytes + self._csr.indices.nbytes + self._csr.indptr.nbytes
            total += self._pair_keys.nbytes + self._pair_edge.nbytes
        return int(total)

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame in the metric CRS (``u``, ``v``, ``length_m``, ``road_class``)."""
        cls_names = np.array([*ROAD_CLASS_CODES, None], dtype=object)[
            np.where(self.edge_class < 0, len(ROAD_CLASS_CODES), self.edge_class)
        ]
        return gpd.GeoDataFrame(
            {"u": self.edge_u, "v": self.edge_v, "length_m": self.edge_length_m, "road_class": cls_names},
            geometry=self.edge_geometries(),
            crs=self.crs,
        )


# ----------------------------------------------------------------------------- nearest edge
class _SegmentIndex:
    """Exact nearest-edge queries over all edge segments, in numpy + a k-d tree.

    Segments longer than ``piece_m`` are cut into pieces for indexing; the tree holds
    piece midpoints.  A query takes the ``k`` nearest midpoints, measures the exact
    point-to-segment distance of each, and widens ``k`` for the points where a closer
    piece could still hide (its midpoint within best distance + half the longest piece).
    Pieces are (segment, t0, t1) triples over the network's own coordinates: about 50
    bytes each with the tree, against ~250 for a shapely LineString in an STRtree.
    """

    def __init__(self, coords: np.ndarray, offsets: np.ndarray, piece_m: float = 120.0):
        from scipy.spatial import cKDTree

        self.coords = coords
        n_edges = len(offsets) - 1
        counts = np.diff(offsets)
        is_start = np.ones(len(coords), dtype=bool)
        is_start[offsets[1:] - 1] = False
        self.seg_a = np.nonzero(is_start)[0].astype(np.int64)  # coordinate index of each segment start
        seg_edge = np.repeat(np.arange(n_edges, dtype=np.int32), counts - 1)
        d = coords[self.seg_a + 1] - coords[self.seg_a]
        seg_len = np.hypot(d[:, 0], d[:, 1])
        cum = np.cumsum(seg_len)
        first_seg = np.concatenate([[0], np.cumsum(counts - 1)[:-1]])
        before = np.concatenate([[0.0], cum])[first_seg]  # total length before each edge's first segment
        self.seg_along0 = cum - seg_len - before[seg_edge]
        self.seg_edge = seg_edge
        self.edge_len = np.bincount(seg_edge, weights=seg_len, minlength=n_edges)
        n_pieces = np.maximum(1, np.ceil(seg_len / piece_m).astype(np.int64))
        if (n_pieces == 1).all():
            self.piece_seg = None  # one piece per segment: no piece arrays
            mid = coords[self.seg_a] + d / 2
            self.half = float(seg_len.max() / 2) if len(seg_len) else 0.0
        else:
            rep = np.repeat(np.arange(len(seg_len), dtype=np.int64), n_pieces)
            j = np.arange(n_pieces.sum()) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
            self.piece_seg = rep
            self.piece_t0 = (j / n_pieces[rep]).astype(np.float64)
            self.piece_t1 = ((j + 1) / n_pieces[rep]).astype(np.float64)
            mid = coords[self.seg_a[rep]] + d[rep] * ((self.piece_t0 + self.piece_t1) / 2)[:, None]
            self.half = float((seg_len / n_pieces).max() / 2)
        self.n = len(mid)
        self.tree = cKDTree(mid, balanced_tree=False, compact_nodes=False)

    def _piece(self, ip: np.ndarray):
        """Segment index, start and end coordinates of pieces."""
        if self.piece_seg is None:
            seg = ip
            a = self.coords[self.seg_a[seg]]
            b = self.coords[self.seg_a[seg] + 1]
            return seg, a, b, np.zeros(ip.shape), np.ones(ip.shape)
        seg = self.piece_seg[ip]
        p0 = self.coords[self.seg_a[seg]]
        d = self.coords[self.seg_a[seg] + 1] - p0
        t0, t1 = self.piece_t0[ip], self.piece_t1[ip]
        return seg, p0 + d * t0[..., None], p0 + d * t1[..., None], t0, t1

    def nearest(self, xy: np.ndarray, max_m: float):
        """Per point: edge (-1 beyond ``max_m``), fraction along it, distance, snapped coordinates."""
        m = len(xy)
        best_d = np.full(m, np.inf)
        best_p = np.full(m, -1, dtype=np.int64)
        best_t = np.zeros(m)
        todo = np.arange(m)
        k = min(8, self.n)
        while len(todo):
            dm, ip = self.tree.query(xy[todo], k=k, distance_upper_bound=max_m + self.half)
            dm = dm.reshape(len(todo), -1)
            ip = ip.reshape(len(todo), -1)
            valid = ip < self.n
            ipc = np.where(valid, ip, 0)
            _, a, b, _, _ = self._piece(ipc)
            p = xy[todo][:, None, :]
            ab = b - a
            L2 = (ab**2).sum(axis=2)
            t = np.clip(np.divide(((p - a) * ab).sum(axis=2), L2, out=np.zeros_like(L2), where=L2 > 0), 0.0, 1.0)
            q = a + ab * t[..., None]
            dist = np.where(valid, np.hypot(p[..., 0] - q[..., 0], p[..., 1] - q[..., 1]), np.inf)
            col = np.argmin(dist, axis=1)
            rows = np.arange(len(todo))
            bd = dist[rows, col]
            better = bd < best_d[todo]
            best_d[todo[better]] = bd[better]
            best_p[todo[better]] = ip[rows, col][better]
            best_t[todo[better]] = t[rows, col][better]
            if k >= self.n:
                break
            # a closer piece may hide beyond the k-th midpoint when all k were in range and close enough
            again = valid[:, -1] & (dm[:, -1] <= np.minimum(best_d[todo], max_m) + self.half)
            todo = todo[again]
            k = min(k * 4, self.n)
        hit = best_d <= max_m
        pc = np.maximum(best_p, 0)
        seg, a, b, t0, t1 = self._piece(pc)
        edge = np.where(hit, self.seg_edge[seg], -1).astype(np.int64)
        seg_len = np.hypot(*(self.coords[self.seg_a[seg] + 1] - self.coords[self.seg_a[seg]]).T)
        along = self.seg_along0[seg] + seg_len * (t0 + best_t * (t1 - t0))
        el = self.edge_len[np.maximum(edge, 0)]
        frac = np.clip(np.divide(along, el, out=np.zeros_like(along), where=el > 0), 0.0, 1.0)
        sxy = a + (b - a) * best_t[:, None]
        return edge, np.where(hit, frac, np.nan), np.where(hit, best_d, np.nan), np.where(hit[:, None], sxy, np.nan)

    def nbytes(self) -> int:
        total = self.seg_a.nbytes + self.seg_along0.nbytes + self.seg_edge.nbytes + self.edge_len.nbytes
        if self.piece_seg is not None:
            total += self.piece_seg.nbytes + self.piece_t0.nbytes + self.piece_t1.nbytes
        return int(total + self.n * (16 + 8))


# ----------------------------------------------------------------------------- helpers
def _morton_order(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """Permutation putting points in Z-curve (Morton) order of a 2^bits grid over their extent."""
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


def _route_coords(parts: list[np.ndarray]) -> np.ndarray:
    """The vertices of one route from coordinate pieces, repeated vertices dropped (a zero-length walk keeps two)."""
    coords = np.concatenate([p for p in parts if len(p)])
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)
    coords = coords[keep]
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    return coords


def _route_line(parts: list[np.ndarray]) -> shapely.LineString:
    """One LineString from coordinate pieces (see :func:`_route_coords`)."""
    return shapely.linestrings(_route_coords(parts))


def _interp(coords: list, cum: list, d: float) -> list[float]:
    """The point at distance ``d`` along a polyline (``coords`` and cumulative lengths ``cum`` as lists)."""
    i = min(max(bisect.bisect_right(cum, d) - 1, 0), len(cum) - 2)
    seg = cum[i + 1] - cum[i]
    f = 0.0 if seg == 0 else (d - cum[i]) / seg
    (ax, ay), (bx, by) = coords[i], coords[i + 1]
    return [ax + f * (bx - ax), ay + f * (by - ay)]


def _class_codes(values, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, -1, dtype=np.int8)
    lookup = {c: i for i, c in enumerate(ROAD_CLASS_CODES)}
    return pd.Series(values).map(lookup).fillna(-1).to_numpy(dtype=np.int8)


def _ragged_lines(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def edges_from_lines(
    lines: gpd.GeoDataFrame, *, snap_tolerance_m: float = 0.5
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Node a road-centreline layer where lines cross or touch; return ``(nodes, edges)`` in EPSG:4326.

    Parameters
    ----------
    lines : GeoDataFrame
        (Multi)LineStrings with an optional ``road_class``; any CRS.
    snap_tolerance_m : float
        Line ends closer than this become one node.

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
    g = lines.to_crs(metric)
    geoms = shapely.line_merge(np.asarray(g.geometry.values, dtype=object))
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts = shapely.set_precision(parts, snap_tolerance_m / 10)
    classes = (
        g["road_class"].to_numpy(dtype=object) if "road_class" in g.columns else np.full(len(g), None, dtype=object)
    )[idx]
    noded = shapely.get_parts(shapely.union_all(parts))
    noded = noded[shapely.length(noded) > 0]
    # road class of each noded piece: the class of the input line it lies on
    tree = shapely.STRtree(parts)
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    (pi, li) = tree.query_nearest(mid, all_matches=False)
    piece_class = np.full(len(noded), None, dtype=object)
    piece_class[pi] = classes[li]
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
    geod = pyproj.Geod(ellps="WGS84")
    edges = gpd.GeoDataFrame({"u": u, "v": v, "road_class": piece_class}, geometry=noded, crs=metric).to_crs(4326)
    edges["length_m"] = [geod.geometry_length(x) for x in edges.geometry.values]
    keep = edges["u"].to_numpy() != edges["v"].to_numpy()
    return nodes, edges[keep].reset_index(drop=True)


# ----------------------------------------------------------------------------- store-backed loading
_CACHE: dict[tuple, WalkNetwork] = {}
_CACHE_LOCK = threading.Lock()


def _pick_network(store, network: int | str | None) -> dict:
    nets = store.list_networks()
    if not nets:
        raise NotFoundError(
            "no walking network is stored; import OSM data or the sample city first",
            "尚未导入步行网络，请先导入 OSM 数据或示例城市",
            network=network,
        )
    if network is None:
        return nets[-1]
    for n in nets:
        if str(n["id"]) == str(network) or n["name"] == str(network):
            return n
    raise NotFoundError(
        f"no walking network {network!r}", f"没有名为或编号为 {network!r} 的步行网络", network=str(network)
    )


def network_cache_path(store, row: dict) -> Path:
    stamp = hashlib.sha1(
        f"{store.url}|{row['id']}|{row['updated_at']}|{row['node_count']}|{row['edge_count']}".encode()
    ).hexdigest()[:12]
    return Path(store.settings.data_dir) / "networks" / f"network_{row['id']}_{stamp}.npz"


def load_network(store, network: int | str | None = None, *, use_cache: bool = True) -> WalkNetwork:
    """The stored walking network as a :class:`WalkNetwork`, built once and kept.

    Looks in the process cache, then in the ``.npz`` file under the data directory
    (keyed by the network's id and update time), and only then reads the tables and
    builds (saving the file for next time).  ``network``: id or name, default the newest.
    """
    row = _pick_network(store, network)
    path = network_cache_path(store, row)
    key = (str(store.url), str(path))
    if use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
    net = None
    if use_cache and path.exists():
        try:
            net = WalkNetwork.load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # a stale or broken cache file is rebuilt
            net = None
    if net is None:
        nodes = store.read_layer("network_nodes", network_id=row["id"])
        edges = store.read_layer("network_edges", network_id=row["id"])
        metric = pyproj.CRS.from_epsg(row["metric_epsg"]) if row.get("metric_epsg") else None
        net = WalkNetwork.from_frames(nodes, edges, metric_crs=metric, name=row["name"], network_id=row["id"])
        try:
            net.save(path)
        except OSError:  # a read-only data dir: keep it in memory only
            pass
    net.network_id = row["id"]
    net.name = row["name"]
    net.warm()
    if use_cache:
        with _CACHE_LOCK:
            for k in [
                k for k in _CACHE if k[0] == key[0] and k != key and k[1].rsplit("_", 1)[0] == key[1].rsplit("_", 1)[0]
            ]:
                del _CACHE[k]
            _CACHE[key] = net
    return net


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# ----------------------------------------------------------------------------- k-nearest labels
@dataclass
class KNearestLabels:
    """Precomputed k-nearest sources for every node, for snap-plus-lookup queries.

    For each node the ``k_max`` nearest sources within ``radius_m`` (ordered by distance,
    ties by source index), their distances and the predecessor of the node on the path
    from each.  The k nearest sources of any point on an edge are among the labels of
    the edge's two end nodes (plus sources on the same edge), and a source in a node's
    labels is in the labels of its predecessor toward that source, so a query and its
    routes are lookups only.

    Attributes
    ----------
    dist_m : float64 (n, k_max), inf where fewer sources are in reach
    source : int32 (n, k_max), -1 where none
    pred : int32 (n, k_max), predecessor node, ``-1`` when the node is next to the source
    """

    network: WalkNetwork
    sources: Snap
    radius_m: float
    dist_m: np.ndarray
    source: np.ndarray
    pred: np.ndarray

    @property
    def k_max(self) -> int:
        return int(self.dist_m.shape[1])

    @classmethod
    def build(
        cls, net: WalkNetwork, sources: Snap, *, k_max: int = 5, radius_m: float = 3000.0, chunk_bytes: float = 1.5e8
    ) -> KNearestLabels:
        """Bounded Dijkstra from the sources, in chunks, keeping the best ``k_max`` per node."""
        n = net.n_nodes
        best_d = np.full((n, k_max), np.inf)
        best_s = np.full((n, k_max), -1, dtype=np.int32)
        best_p = np.full((n, k_max), -1, dtype=np.int32)
        aug, ok = net._augmented(sources)
        chunk = max(1, int(chunk_bytes // (12 * (n + len(ok)))))
        rows_all = np.arange(n)[:, None]
        for start in range(0, len(ok), chunk):
            rows = np.arange(start, min(start + chunk, len(ok)))
            d, p = csgraph.dijkstra(
                aug, directed=True, indices=n + rows, limit=float(radius_m), return_predecessors=True
            )
            d = d[:, :n].T  # (n, c)
            p = p[:, :n].T.astype(np.int32)
            p[p >= n] = -1
            s = np.broadcast_to(ok[rows].astype(np.int32), d.shape)
            cand_d = np.concatenate([best_d, d], axis=1)
            cand_s = np.concatenate([best_s, s], axis=1)
            cand_p = np.concatenate([best_p, p], axis=1)
            # order by (distance, source index); unreachable last
            key_s = np.where(np.isfinite(cand_d), cand_s, np.iinfo(np.int32).max)
            order = _lex_topk(cand_d, key_s, k_max)
            best_d = cand_d[rows_all, order]
            best_s = np.where(np.isfinite(best_d), cand_s[rows_all, order], -1).astype(np.int32)
            best_p = np.where(np.isfinite(best_d), cand_p[rows_all, order], -1).astype(np.int32)
        return cls(net, sources, float(radius_m), best_d, best_s, best_p)

    def query(self, point: Snap, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` nearest sources of one snapped point: ``(source_idx, walk_m, via_node)``.

        ``via_node`` is the edge end the path leaves through (-1 along the same edge).
        Distances include both off-network legs; exactly the sources whose network
        distance from the snap location is at most ``radius_m`` are found.
        """
        if k > self.k_max:
            raise InputError(f"k must be at most {self.k_max}", f"k 不能超过 {self.k_max}", k=k)
        if len(point) != 1 or not point.reachable[0]:
            raise InputError("the point is not on the network", "该位置不在步行网络附近")
        net = self.network
        e, t, off = int(point.edge[0]), float(point.frac[0]), float(point.offset_m[0])
        L = float(net.edge_length_m[e])
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        cand_s = [self.source[u], self.source[v]]
        cand_d = [self.dist_m[u] + t * L, self.dist_m[v] + (1 - t) * L]
        cand_via = [np.full(self.k_max, u), np.full(self.k_max, v)]
        same = np.nonzero(self.sources.edge == e)[0]
        if len(same):
            cand_s.append(same.astype(np.int32))
            cand_d.append(self.sources.offset_m[same] + np.abs(self.sources.frac[same] - t) * L)
            cand_via.append(np.full(len(same), -1))
        s = np.concatenate(cand_s)
        d = np.concatenate(cand_d)
        via = np.concatenate(cand_via)
        # a distance above the radius may be too long (its other end lies beyond the labels): drop it
        keep = (s >= 0) & (d <= self.radius_m)
        s, d, via = s[keep], d[keep], via[keep]
        order = np.lexsort((s, d))
        s, d, via = s[order], d[order], via[order]
        _, first = np.unique(s, return_index=True)
        first = np.sort(first)[:k]
        return s[first].astype(np.int64), d[first] + off, via[first]

    def node_path(self, node: int, src: int) -> list[int]:
        """Nodes from ``node`` to the node next to source ``src`` (following the labels)."""
        path = [int(node)]
        x = int(node)
        for _ in range(self.network.n_nodes):
            row = self.source[x].tolist()  # k entries: a list lookup beats numpy calls here
            if src not in row:
                raise KeyError((node, src))
            p = int(self.pred[x, row.index(src)])
            if p < 0:
                return path
            path.append(p)
            x = p
        raise RuntimeError("label path cycle")  # pragma: no cover

    def route_coords(self, point: Snap, src: int, via: int, first_legs: dict | None = None) -> np.ndarray:
        """Vertices (metric CRS, ``(n, 2)``) of the walking route from the snapped point to source ``src``.

        ``first_legs`` (a dict kept across the results of one query) memoises the piece of the
        point's own edge towards each of its two ends.
        """
        net = self.network
        e, t = int(point.edge[0]), float(point.frac[0])
        se, sf = int(self.sources.edge[src]), float(self.sources.frac[src])
        parts = [point.xy[:1]]
        if via < 0:
            parts.append(net.edge_piece(e, t, sf))
        else:
            end = 0.0 if via == net.edge_u[e] else 1.0
            legs = first_legs if first_legs is not None else {}
            if end not in legs:
                legs[end] = net.edge_piece(e, t, end)
            parts.append(legs[end])
            nodes = self.node_path(via, src)
            parts.extend(net.path_coords(nodes))
            parts.append(net.edge_piece(se, 0.0 if net.edge_u[se] == nodes[-1] else 1.0, sf))
        parts.append(self.sources.xy[src : src + 1])
        return _route_coords(parts)

    def route(self, point: Snap, src: int, via: int) -> shapely.LineString:
        """Walking route (metric CRS) from the snapped point to source ``src``."""
        return shapely.linestrings(self.route_coords(point, src, via))

    def nbytes(self) -> int:
        return int(self.dist_m.nbytes + self.source.nbytes + self.pred.nbytes)


def _lex_topk(d: np.ndarray, s: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest ``(d, s)`` pairs per row."""
    # argpartition on distance first (cheap), then an exact lexicographic sort of a small window
    m = d.shape[1]
    if m > 4 * k:
        w = min(m, 2 * k)
        part = np.argpartition(d, w - 1, axis=1)[:, :w]
        # rows where ties at the window edge could matter fall back to the full sort
        kth = np.take_along_axis(d, part, axis=1).max(axis=1)
        ties = (d == kth[:, None]).sum(axis=1) > (np.take_along_axis(d, part, axis=1) == kth[:, None]).sum(axis=1)
        dd = np.take_along_axis(d, part, axis=1)
        ss = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((ss, dd), axis=1)[:, :k]
        out = np.take_along_axis(part, order, axis=1)
        if ties.any():
            r = np.nonzero(ties)[0]
            out[r] = np.lexsort((s[r], d[r]), axis=1)[:, :k]
        return out
    return np.lexsort((s, d), axis=1)[:, :k]
