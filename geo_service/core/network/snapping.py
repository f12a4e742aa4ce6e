"""Snapping points to the nearest network edge.

:class:`_SegmentIndex` answers exact nearest-edge queries over every edge segment
(numpy + a k-d tree); :func:`snap` and :func:`snap_xy` turn points into a :class:`Snap`:
edge, position along it and the straight off-network leg.

Units: metres.  CRS: the network's metric CRS for every coordinate here; :func:`snap`
takes inputs in any CRS (default EPSG:4326).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

if TYPE_CHECKING:
    from ._walk import WalkNetwork

DEFAULT_MAX_SNAP_M = 300.0


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


def snap(net: WalkNetwork, geoms, *, crs=4326, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
    """Snap points (or polygons, by their representative point) to the nearest edge of ``net``.

    Parameters
    ----------
    geoms : array-like of shapely geometries or GeoSeries
        In ``crs`` (default EPSG:4326; a GeoSeries brings its own CRS; None: already in the
        network's metric CRS).  Polygons and lines are represented by ``point_on_surface``.
    max_snap_m : float
        Points farther than this (m) from every edge are unreachable (``edge == -1``).
    """
    if isinstance(geoms, gpd.GeoSeries):
        crs = geoms.crs if geoms.crs is not None else crs
        geoms = geoms.values
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        empty = np.empty(0)
        return Snap(np.empty(0, dtype=np.int64), empty, empty, np.empty((0, 2)), np.empty((0, 2)))
    points = net.to_metric(geoms, crs) if crs is not None else geoms
    return net.snap_xy(_point_xy(points), max_snap_m=max_snap_m)


def _point_xy(points: np.ndarray) -> np.ndarray:
    """``(n, 2)`` coordinates of geometries (a point on the surface of non-points), NaN for missing or empty ones."""
    bad = shapely.is_missing(points) | shapely.is_empty(points)
    non_point = ~bad & (shapely.get_type_id(points) != 0)
    if non_point.any():
        points = points.copy()
        points[non_point] = shapely.point_on_surface(points[non_point])
    xy = np.full((len(points), 2), np.nan)
    xy[~bad] = shapely.get_coordinates(points[~bad])
    return xy


def snap_xy(tree: _SegmentIndex, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
    """Snap metric coordinates ``(n, 2)`` (m) to the nearest edge of the index (see :func:`snap`)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    edge = np.full(n, -1, dtype=np.int64)
    frac = np.full(n, np.nan)
    off = np.full(n, np.nan)
    snapped = np.full((n, 2), np.nan)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        ei, f, dist, sxy = tree.nearest(xy[ok], float(max_snap_m))
        hit = ei >= 0
        idx = np.nonzero(ok)[0][hit]
        edge[idx] = ei[hit]
        frac[idx] = f[hit]
        off[idx] = dist[hit]
        snapped[idx] = sxy[hit]
    return Snap(edge, frac, off, xy, snapped)


class _SegmentIndex:
    """Exact nearest-edge queries over all edge segments, in numpy + a k-d tree.

    Segments longer than ``piece_m`` (m) are cut into pieces for indexing; the tree holds
    piece midpoints.  A query takes the ``k`` nearest midpoints, measures the exact
    point-to-segment distance of each, and widens ``k`` for the points where a closer
    piece could still hide (its midpoint within best distance + half the longest piece).
    Pieces are (segment, t0, t1) triples over the network's own coordinates (metric CRS):
    about 50 bytes each with the tree, against ~250 for a shapely LineString in an STRtree.
    """

    piece_t0: np.ndarray
    piece_t1: np.ndarray

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
        self.piece_seg: np.ndarray | None
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
        """Per point (metric CRS): edge (-1 beyond ``max_m`` metres), fraction along it, distance (m), snapped xy."""
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
        return self._located(best_d, best_p, best_t, max_m)

    def _located(self, best_d: np.ndarray, best_p: np.ndarray, best_t: np.ndarray, max_m: float):
        """Edge, fraction, distance (m) and snapped xy of the best piece and position on it per point."""
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
        """Approximate bytes held by the index (its arrays and the k-d tree)."""
        total = self.seg_a.nbytes + self.seg_along0.nbytes + self.seg_edge.nbytes + self.edge_len.nbytes
        if self.piece_seg is not None:
            total += self.piece_seg.nbytes + self.piece_t0.nbytes + self.piece_t1.nbytes
        return int(total + self.n * (16 + 8))
