"""Local subgraphs: bounded searches that touch only the part of the network they can reach.

A walk of network length ``d`` from a node ``a`` never leaves the disc of straight radius
``c * d`` around ``a`` (metric CRS), where ``c`` (:func:`straight_factor`) is the largest ratio of
the straight distance between an edge's two end nodes to its length over all edges (by the
triangle inequality, summed along the path).  Edge lengths are geodesic on the ellipsoid while
node coordinates are projected, so ``c`` is about the projection's scale factor (1 +- 0.001), not 1;
in a walking profile's view, where lengths are costs, it is smaller.  It is taken from the data,
not assumed, so the bound holds for any length model; a small tolerance covers rounding.

A chunk of sources (a virtual node per source, joined to its edge's end nodes, see
:func:`searches.augmented`) bounded by ``limit_m`` therefore only needs the *induced subgraph*
of the nodes within ``c * limit_m`` of its anchors (the end nodes of the sources' edges): the
bounded Dijkstra on it gives exactly the distances of the whole network for every node within
the limit.  Sources are grouped by square tiles so a chunk's subgraph is compact.

:func:`k_nearest_local` (the labels of :class:`~geo_service.core.network.labels.KNearestLabels`)
grows the limit from a small window: after a pass with limit ``L`` every source within ``L`` of a
node is known exactly, so a node whose k-th label is at most ``L`` is final; only the nodes not yet
proven take part in the next pass, with ``2 L``, up to the labels' radius.  :func:`pairs_local`
serves :func:`searches.distances_within`.

Units: metres.  CRS: the network's metric CRS.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from .snapping import Snap

if TYPE_CHECKING:
    from ._walk import WalkNetwork

REL_TOL = 1e-9
"""Relative widening of every straight-line bound (rounding of lengths and coordinates)."""
ABS_TOL_M = 1e-3
"""Absolute widening of every straight-line bound, metres."""


# ----------------------------------------------------------------------------- the bound
def straight_factor(net: WalkNetwork) -> float:
    """``c``: straight distance (metric CRS) <= ``c`` x network distance, for every path of ``net``.

    The largest ratio of an edge's end-to-end straight distance to its length (``edge_length_m``:
    metres, or costs in a profile's view), widened by :data:`REL_TOL`; ``inf`` when an edge of
    length zero joins two distinct points (no straight-line bound holds: searches fall back to the
    whole network).  Kept on the network.
    """
    c = net.__dict__.get("_straight_factor")
    if c is None:
        d = net.node_xy[net.edge_u] - net.node_xy[net.edge_v]
        straight = np.hypot(d[:, 0], d[:, 1])
        length = net.edge_length_m
        pos = straight > ABS_TOL_M
        if np.any(pos & ~(length > 0)):
            c = math.inf
        elif pos.any():
            c = float(np.max(straight[pos] / length[pos])) * (1.0 + REL_TOL)
        else:
            c = 1.0
        net.__dict__["_straight_factor"] = c
    return float(c)


def reach_m(net: WalkNetwork, limit_m: float) -> float:
    """Straight radius (m, metric CRS) that holds every node within ``limit_m`` of network distance."""
    return straight_factor(net) * float(limit_m) * (1.0 + REL_TOL) + ABS_TOL_M


# ----------------------------------------------------------------------------- nodes in a box
class NodeGrid:
    """Nodes bucketed in square cells (metric CRS), for box queries; about 16 nodes per cell."""

    def __init__(self, node_xy: np.ndarray, cell_m: float | None = None):
        self.xy = node_xy
        lo = node_xy.min(axis=0)
        hi = node_xy.max(axis=0)
        span = np.maximum(hi - lo, 1.0)
        if cell_m is None:
            cell_m = max(math.sqrt(float(span[0] * span[1]) * 16.0 / max(len(node_xy), 1)), 10.0)
        self.cell = float(cell_m)
        self.origin = lo
        self.nx = int(span[0] // self.cell) + 1
        self.ny = int(span[1] // self.cell) + 1
        cells = self._cells(node_xy)
        self.order = np.argsort(cells, kind="stable").astype(np.int64)
        self.ptr = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells, minlength=self.nx * self.ny), out=self.ptr[1:])

    def _cells(self, xy: np.ndarray) -> np.ndarray:
        ix = np.clip(((xy[:, 0] - self.origin[0]) // self.cell).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((xy[:, 1] - self.origin[1]) // self.cell).astype(np.int64), 0, self.ny - 1)
        return ix * self.ny + iy

    def in_box(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sorted indices of the nodes with ``lo <= xy <= hi`` (metric CRS, m)."""
        ix0, iy0 = np.floor((lo - self.origin) / self.cell).astype(np.int64)
        ix1, iy1 = np.floor((hi - self.origin) / self.cell).astype(np.int64)
        ix0, ix1 = max(ix0, 0), min(ix1, self.nx - 1)
        iy0, iy1 = max(iy0, 0), min(iy1, self.ny - 1)
        if ix0 > ix1 or iy0 > iy1:
            return np.zeros(0, dtype=np.int64)
        cols = np.arange(ix0, ix1 + 1) * self.ny
        lo_ptr = self.ptr[cols + iy0]
        hi_ptr = self.ptr[cols + iy1 + 1]  # cells of one column are contiguous
        cnt = hi_ptr - lo_ptr
        if cnt.sum() == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.repeat(lo_ptr - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        cand = self.order[pos]
        xy = self.xy[cand]
        keep = (xy[:, 0] >= lo[0]) & (xy[:, 0] <= hi[0]) & (xy[:, 1] >= lo[1]) & (xy[:, 1] <= hi[1])
        return np.sort(cand[keep])


def node_grid(net: WalkNetwork) -> NodeGrid:
    """The network's :class:`NodeGrid`, built once and kept."""
    g = net.__dict__.get("_node_grid")
    if g is None:
        g = net.__dict__["_node_grid"] = NodeGrid(net.node_xy)
    return g


# ----------------------------------------------------------------------------- induced subgraphs
@dataclass
class LocalGraph:
    """The induced subgraph of ``nodes`` plus one virtual node per source of a chunk.

    Attributes
    ----------
    nodes : int64 (n_sub,)
        Sorted node indices of the network; local node ``i`` is ``nodes[i]``.
    aug : csr_matrix (n_sub + c, n_sub + c)
        Adjacency (m) among ``nodes`` in the network's own row and column order, and virtual node
        ``n_sub + j`` for source ``j`` of the chunk, joined to its edge's two ends.
    """

    nodes: np.ndarray
    aug: sparse.csr_matrix


def local_graph(net: WalkNetwork, nodes: np.ndarray, sources: Snap, src: np.ndarray, scratch: np.ndarray) -> LocalGraph:
    """The subgraph of the sorted ``nodes`` with virtual nodes for ``sources[src]`` (reachable ones).

    The ends of every source's edge must be among ``nodes``.  ``scratch``: int64 (n_nodes,) filled
    with -1, left so.  Column order inside a row is the network's, so a Dijkstra pass explores the
    subgraph exactly as it explores the whole network.
    """
    base = net.csr
    n_sub = len(nodes)
    scratch[nodes] = np.arange(n_sub)
    try:
        lo, hi = base.indptr[nodes], base.indptr[nodes + 1]
        cnt = hi - lo
        pos = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        cols = scratch[base.indices[pos]]
        keep = cols >= 0
        row = np.repeat(np.arange(n_sub), cnt)[keep]
        e = sources.edge[src]
        L = net.edge_length_m[e]
        ends = np.stack([scratch[net.edge_u[e]], scratch[net.edge_v[e]]], axis=1).ravel()
    finally:
        scratch[nodes] = -1
    if (ends < 0).any():  # pragma: no cover - the callers put the anchors in
        raise ValueError("a source's edge lies outside the subgraph")
    k = len(src)
    w = np.stack(
        [sources.offset_m[src] + sources.frac[src] * L, sources.offset_m[src] + (1 - sources.frac[src]) * L], 1
    )
    indptr = np.zeros(n_sub + k + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_sub), out=indptr[1 : n_sub + 1])
    indptr[n_sub + 1 :] = indptr[n_sub] + 2 * np.arange(1, k + 1)
    indices = np.concatenate([cols[keep], ends]).astype(np.int32)
    data = np.concatenate([base.data[pos[keep]], w.ravel()])
    aug = sparse.csr_matrix((data, indices, indptr), shape=(n_sub + k, n_sub + k))
    return LocalGraph(nodes, aug)


def anchors(net: WalkNetwork, sources: Snap, src: np.ndarray) -> np.ndarray:
    """``(2 c, 2)`` coordinates (metric CRS) of the end nodes of the edges of ``sources[src]``."""
    e = sources.edge[src]
    return np.concatenate([net.node_xy[net.edge_u[e]], net.node_xy[net.edge_v[e]]])


def source_chunks(
    net: WalkNetwork,
    sources: Snap,
    src: np.ndarray,
    tile_m: float,
    reach: float,
    bytes_per_cell: int,
    chunk_bytes: float,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(src_chunk, nodes)``: the sources ``src`` grouped by square tiles of ``tile_m`` (m), and their subgraph nodes.

    ``nodes`` (sorted) are those within the box of the chunk's anchors widened by ``reach`` (m); a tile is
    split so that ``len(chunk) * len(nodes) * bytes_per_cell`` stays under ``chunk_bytes``.
    """
    if len(src) == 0:
        return
    grid = node_grid(net)
    u_xy = net.node_xy[net.edge_u[sources.edge[src]]]
    key = np.floor((u_xy - grid.origin) / tile_m).astype(np.int64)
    tile = key[:, 0] * (int(key[:, 1].max()) + 1) + key[:, 1]
    # within a tile, by the Morton position of the edge's first node (neighbours together)
    order = np.lexsort((net.edge_u[sources.edge[src]], tile))
    src, tile = src[order], tile[order]
    starts = np.flatnonzero(np.r_[True, tile[1:] != tile[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(src)]):
        part = src[a:b]
        while len(part):
            xy = anchors(net, sources, part)
            nodes = grid.in_box(xy.min(axis=0) - reach, xy.max(axis=0) + reach)
            fit = max(1, int(chunk_bytes // (bytes_per_cell * (len(nodes) + len(part)))))
            if fit >= len(part):
                yield part, nodes
                break
            head = part[:fit]
            xy = anchors(net, sources, head)
            yield head, grid.in_box(xy.min(axis=0) - reach, xy.max(axis=0) + reach)
            part = part[fit:]


def can_prune(net: WalkNetwork, limit_m: float, tile_m: float) -> bool:
    """Whether local subgraphs are smaller than the network: a finite bound and an extent well beyond it."""
    if not np.isfinite(limit_m) or not np.isfinite(straight_factor(net)):
        return False
    x0, y0, x1, y1 = net.bounds_m
    return max(x1 - x0, y1 - y0) > 2.0 * reach_m(net, limit_m) + tile_m


# ----------------------------------------------------------------------------- k nearest labels
def first_window_m(net: WalkNetwork, n_sources: int, k: int, radius_m: float) -> float:
    """The first limit (m) of :func:`k_nearest_local`: about the walk to a node's k-th source on average.

    From the sources' density over the network's extent (straight radius holding ``k`` sources) times 1.5
    for detours, at least 200 m, at most ``radius_m``.
    """
    x0, y0, x1, y1 = net.bounds_m
    area = max((x1 - x0) * (y1 - y0), 1.0)
    r = 1.5 * math.sqrt(k * area / (math.pi * max(n_sources, 1)))
    return float(min(radius_m, max(r, 200.0)))


def k_nearest_local(
    net: WalkNetwork, sources: Snap, k: int, radius_m: float, chunk_bytes: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node the ``k`` nearest sources within ``radius_m`` (m): ``(dist_m, source, pred)``, as the labels hold.

    Passes with a growing limit (see the module notes); every pass searches, on local subgraphs, the
    sources whose anchors lie within reach of a node not yet proven, and recomputes those nodes' labels.
    Equal to the whole-network search: the same sources at the same distances (a distance is the same
    min-plus sum whatever part of the network is searched).
    """
    n = net.n_nodes
    best_d = np.full((n, k), np.inf)
    best_s = np.full((n, k), -1, dtype=np.int32)
    best_p = np.full((n, k), -1, dtype=np.int32)
    ok = np.flatnonzero(sources.reachable)
    if len(ok) == 0:
        return best_d, best_s, best_p
    radius_m = float(radius_m)
    limit = first_window_m(net, len(ok), k, radius_m) if np.isfinite(straight_factor(net)) else radius_m
    open_ = np.ones(n, dtype=bool)  # nodes whose labels are not proven yet
    scratch = np.full(n, -1, dtype=np.int64)
    grid = node_grid(net)
    while True:
        final = limit >= radius_m
        limit = min(limit, radius_m)
        reach = reach_m(net, limit) if np.isfinite(straight_factor(net)) else math.inf
        src = ok if not np.isfinite(reach) else _sources_near(grid, net, sources, ok, open_, reach)
        best_d[open_], best_s[open_], best_p[open_] = np.inf, -1, -1
        tile = max(limit, 200.0)
        if not np.isfinite(reach):
            chunks: Iterator = _whole_chunks(net, src, chunk_bytes)
        else:
            chunks = source_chunks(net, sources, src, tile, reach, 12, chunk_bytes)
        for part, nodes in chunks:
            _merge_pass(net, sources, part, nodes, limit, open_, scratch, best_d, best_s, best_p)
        if final:
            break
        open_ &= ~(best_d[:, k - 1] <= limit)
        if not open_.any():
            break
        limit *= 2.0
    return best_d, best_s, best_p


def _whole_chunks(net: WalkNetwork, src: np.ndarray, chunk_bytes: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    nodes = np.arange(net.n_nodes)
    step = max(1, int(chunk_bytes // (12 * (net.n_nodes + len(src)))))
    for a in range(0, len(src), step):
        yield src[a : a + step], nodes


def _sources_near(grid: NodeGrid, net: WalkNetwork, sources: Snap, ok: np.ndarray, open_: np.ndarray, reach: float):
    """The sources of ``ok`` with an anchor within ``reach`` (m, straight, cell-rounded up) of an open node."""
    if open_.all():
        return ok
    cells = np.zeros(grid.nx * grid.ny, dtype=bool)
    cells[grid._cells(net.node_xy[open_])] = True
    r = int(math.ceil(reach / grid.cell))
    mask = cells.reshape(grid.nx, grid.ny)
    # dilate by r cells (a box: a superset of the disc), by cumulative sums along both axes
    mask = _dilate(_dilate(mask, r, 0), r, 1)
    e = sources.edge[ok]
    near_u = mask.ravel()[grid._cells(net.node_xy[net.edge_u[e]])]
    near_v = mask.ravel()[grid._cells(net.node_xy[net.edge_v[e]])]
    return ok[near_u | near_v]


def _dilate(mask: np.ndarray, r: int, axis: int) -> np.ndarray:
    """``mask`` (bool 2-D) dilated by ``r`` cells along ``axis``."""
    c = np.cumsum(mask, axis=axis, dtype=np.int64)
    size = mask.shape[axis]
    hi = np.take(c, np.minimum(np.arange(size) + r, size - 1), axis=axis)
    lo_idx = np.arange(size) - r - 1
    lo = np.where(
        np.expand_dims(lo_idx >= 0, 1 - axis),
        np.take(c, np.maximum(lo_idx, 0), axis=axis),
        0,
    )
    return (hi - lo) > 0


def _merge_pass(net, sources, part, nodes, limit, open_, scratch, best_d, best_s, best_p) -> None:
    """One bounded Dijkstra from the sources ``part`` on the subgraph of ``nodes``; merge into the open rows."""
    k = best_d.shape[1]
    g = local_graph(net, nodes, sources, part, scratch)
    n_sub = len(nodes)
    d, p = csgraph.dijkstra(
        g.aug, directed=True, indices=n_sub + np.arange(len(part)), limit=float(limit), return_predecessors=True
    )
    d = d[:, :n_sub]
    rows = np.flatnonzero(np.isfinite(d).any(axis=0) & open_[nodes])
    if len(rows) == 0:
        return
    d = d[:, rows].T  # (r, c)
    p = p[:, rows].T
    p = np.where((p >= 0) & (p < n_sub), nodes[np.clip(p, 0, n_sub - 1)], -1).astype(np.int32)
    s = np.broadcast_to(part.astype(np.int32), d.shape)
    at = nodes[rows]
    cand_d = np.concatenate([best_d[at], d], axis=1)
    cand_s = np.concatenate([best_s[at], s], axis=1)
    cand_p = np.concatenate([best_p[at], p], axis=1)
    key_s = np.where(np.isfinite(cand_d), cand_s, np.iinfo(np.int32).max)
    order = _lex_topk(cand_d, key_s, k)
    r_all = np.arange(len(rows))[:, None]
    bd = cand_d[r_all, order]
    best_d[at] = bd
    best_s[at] = np.where(np.isfinite(bd), cand_s[r_all, order], -1)
    best_p[at] = np.where(np.isfinite(bd), cand_p[r_all, order], -1)


# ----------------------------------------------------------------------------- pairs within a limit
def pairs_local(
    net: WalkNetwork, sources: Snap, targets: Snap, limit_m: float, tile_m: float, chunk_bytes: float = 2e8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (source, target) pairs within ``limit_m`` (m) by walking, chunk by chunk on local subgraphs.

    Returns ``(source_idx, target_idx, walk_m)`` as :func:`searches.distances_within`.
    """
    ok_s = np.flatnonzero(sources.reachable)
    ok_t = np.flatnonzero(targets.reachable)
    empty = np.zeros(0, dtype=np.int64)
    if ok_s.size == 0 or ok_t.size == 0:
        return empty, empty, np.zeros(0)
    te_all = targets.edge[ok_t]
    # targets by edge end node: a target is measured when an end of its edge is in the subgraph
    t_by_node = np.concatenate([net.edge_u[te_all], net.edge_v[te_all]]).astype(np.int64)
    t_order = np.argsort(t_by_node, kind="stable")
    t_ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(t_by_node, minlength=net.n_nodes), out=t_ptr[1:])
    scratch = np.full(net.n_nodes, -1, dtype=np.int64)
    reach = reach_m(net, limit_m)
    out_s, out_t, out_d = [], [], []
    for part, nodes in source_chunks(net, sources, ok_s, tile_m, reach, 8, chunk_bytes):
        lo, hi = t_ptr[nodes], t_ptr[nodes + 1]
        cnt = hi - lo
        if cnt.sum() == 0:
            continue
        pos = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        tin = np.unique(t_order[pos] % len(ok_t))  # positions into ok_t
        g = local_graph(net, nodes, sources, part, scratch)
        n_sub = len(nodes)
        d = csgraph.dijkstra(g.aug, directed=True, indices=n_sub + np.arange(len(part)), limit=float(limit_m))
        te = te_all[tin]
        tf = targets.frac[ok_t[tin]]
        tL = net.edge_length_m[te]
        toff = targets.offset_m[ok_t[tin]]
        iu = np.searchsorted(nodes, net.edge_u[te])
        iv = np.searchsorted(nodes, net.edge_v[te])
        has_u = (iu < n_sub) & (nodes[np.minimum(iu, n_sub - 1)] == net.edge_u[te])
        has_v = (iv < n_sub) & (nodes[np.minimum(iv, n_sub - 1)] == net.edge_v[te])
        du = np.where(has_u[None, :], d[:, np.where(has_u, iu, 0)], np.inf)
        dv = np.where(has_v[None, :], d[:, np.where(has_v, iv, 0)], np.inf)
        dd = np.minimum(du + tf * tL, dv + (1.0 - tf) * tL) + toff
        same = sources.edge[part][:, None] == te[None, :]
        if same.any():
            r, c = np.nonzero(same)
            direct = sources.offset_m[part[r]] + np.abs(sources.frac[part[r]] - tf[c]) * tL[c] + toff[c]
            dd[r, c] = np.minimum(dd[r, c], direct)
        r, c = np.nonzero(dd <= limit_m)
        out_s.append(part[r])
        out_t.append(ok_t[tin[c]])
        out_d.append(dd[r, c])
    if not out_s:
        return empty, empty, np.zeros(0)
    return np.concatenate(out_s), np.concatenate(out_t), np.concatenate(out_d)


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
