"""Shortest-path searches: the multi-source Dijkstra pass, pairwise distances within a limit, routes.

Every search runs on the network's CSR adjacency augmented with one virtual node per
snapped source (:func:`augmented`), so the off-network leg and the position along the
source's edge are part of every distance.  :func:`nearest` runs one multi-source pass
(``scipy.sparse.csgraph``) and returns a :class:`NearestResult`, which measures targets
(:meth:`NearestResult.at`) and reads routes from the predecessor tree
(:meth:`NearestResult.route`).  :func:`distances_within` lists every (source, target) pair
within a walking distance, tile by tile on a large network.

Units: metres.  CRS: the network's metric CRS for every coordinate and geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ._geometry import route_line
from .snapping import Snap

if TYPE_CHECKING:
    from ._walk import WalkNetwork


# ----------------------------------------------------------------------------- the multi-source pass
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
        The search bound, metres.
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
        if len(self.sources.edge) and ok.any():
            self._same_edge(e, t, length, best, best_src, best_via)
        finite = np.isfinite(best)
        best_via[~finite] = -1
        best_src[~finite] = -1
        walk[ok] = best + targets.offset_m[ok]
        src[ok] = best_src
        via[ok] = best_via
        return walk, src, via

    def _same_edge(
        self, e: np.ndarray, t: np.ndarray, length: np.ndarray, best: np.ndarray, best_src, best_via
    ) -> None:
        """Improve ``best``/``best_src``/``best_via`` (in place) with sources on the targets' own edges.

        ``e``, ``t``, ``length``: edge, fraction and edge length (m) of each reachable target.
        A source on the same edge reaches the target along the edge directly.
        """
        s_edge = self.sources.edge
        order = np.argsort(s_edge, kind="stable")
        sorted_edges = s_edge[order]
        lo = np.searchsorted(sorted_edges, e, side="left")
        hi = np.searchsorted(sorted_edges, e, side="right")
        has = np.nonzero(hi > lo)[0]
        if not len(has):
            return
        counts = hi[has] - lo[has]
        tgt = np.repeat(has, counts)
        pos = np.repeat(lo[has], counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
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
        return route_line(parts)


def augmented(net: WalkNetwork, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The CSR (metres) with one virtual node per reachable source, joined to its edge's two ends.

    Returns
    -------
    aug : csr_matrix (n + k, n + k)
        Virtual node ``n + j`` is the source ``ok[j]``.
    ok : int64 array (k,)
        Indices of the reachable sources.
    """
    base = net.csr
    n = net.n_nodes
    ok = np.nonzero(sources.reachable)[0]
    k = len(ok)
    e = sources.edge[ok]
    L = net.edge_length_m[e]
    w_u = sources.offset_m[ok] + sources.frac[ok] * L
    w_v = sources.offset_m[ok] + (1.0 - sources.frac[ok]) * L
    indptr = np.concatenate([base.indptr, base.indptr[-1] + 2 * np.arange(1, k + 1, dtype=np.int64)])
    indices = np.concatenate(
        [base.indices, np.stack([net.edge_u[e], net.edge_v[e]], axis=1).ravel().astype(base.indices.dtype)]
    )
    data = np.concatenate([base.data, np.stack([w_u, w_v], axis=1).ravel()])
    aug = sparse.csr_matrix((data, indices, indptr), shape=(n + k, n + k))
    return aug, ok


def nearest(net: WalkNetwork, sources: Snap, *, limit_m: float = np.inf) -> NearestResult:
    """One multi-source Dijkstra: per node the distance (m) to and index of the nearest source.

    Parameters
    ----------
    sources : Snap
        Snapped source points (facilities); unreachable ones are ignored.
    limit_m : float
        Search bound, metres; nodes farther from every source get ``inf`` / -1.
    """
    n = net.n_nodes
    aug, ok = net._augmented(sources)
    if len(ok) == 0:
        return NearestResult(
            net,
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
    return NearestResult(net, sources, dist[:n], source, pred_n, float(limit_m))


# ----------------------------------------------------------------------------- pairs within a limit
def distances_within(
    net: WalkNetwork,
    sources: Snap,
    targets: Snap,
    *,
    limit_m: float,
    chunk: int | None = None,
    tile_m: float | None = 1500.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (source, target) pairs within ``limit_m`` metres by walking.

    Returns ``(source_idx, target_idx, walk_m)`` arrays (COO), both off-network legs
    included; zero distances are kept.

    On a network larger than a few tiles the sources are grouped in square tiles of
    ``tile_m`` metres (metric CRS) and each group searches only the sub-network within
    ``limit_m`` of it (a walk of at most ``limit_m`` never leaves that box, since an edge is
    never shorter than the straight line between its ends): the cost grows with the city,
    not with its square.  ``tile_m=None`` searches the whole network per chunk of sources.
    """
    if tile_m is not None and np.isfinite(limit_m) and net.n_nodes > 5_000:
        span = net.node_xy.max(axis=0) - net.node_xy.min(axis=0)
        if span.max() > 3 * (max(tile_m, limit_m) + 2 * limit_m):
            return net._distances_tiled(sources, targets, float(limit_m), float(tile_m))
    return net._distances_direct(sources, targets, limit_m=limit_m, chunk=chunk)


def distances_direct(
    net: WalkNetwork, sources: Snap, targets: Snap, *, limit_m: float, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`distances_within` over the whole network, ``chunk`` sources per Dijkstra pass (default ~200 MB)."""
    n = net.n_nodes
    ok_t = np.nonzero(targets.reachable)[0]
    ok_s = np.nonzero(sources.reachable)[0]
    out_s, out_t, out_d = [], [], []
    if len(ok_t) == 0 or len(ok_s) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    te = targets.edge[ok_t]
    tf = targets.frac[ok_t]
    tL = net.edge_length_m[te]
    tu, tv = net.edge_u[te], net.edge_v[te]
    toff = targets.offset_m[ok_t]
    if chunk is None:
        chunk = max(1, int(2e8 // (8 * (n + len(ok_s)))))  # ~200 MB of distances per pass
    aug, ok = net._augmented(sources)
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


class _TileIndex:
    """The lookups of a tiled search: nodes per grid cell, edges per node, targets per edge.

    Cells are squares of ``cell`` metres (metric CRS) from ``origin``, numbered ``ix * ny + iy``.
    """

    def __init__(self, net: WalkNetwork, sources: Snap, targets: Snap, ok_s, ok_t, cell: float):
        nxy = net.node_xy
        self.cell = cell
        self.origin = np.minimum(nxy.min(axis=0), sources.xy[ok_s].min(axis=0)) - cell
        top = np.maximum(nxy.max(axis=0), sources.xy[ok_s].max(axis=0))
        self.ny = int(np.floor((top[1] - self.origin[1]) / cell)) + 2
        nx_ = int(np.floor((top[0] - self.origin[0]) / cell)) + 2
        self.node_order, self.node_ptr = _groups(self.cell_of(nxy), nx_ * self.ny)
        self.eu, self.ev = net.edge_u.astype(np.int64), net.edge_v.astype(np.int64)
        # node -> incident edges (mod m); edge -> reachable targets on it
        self.inc_order, self.inc_ptr = _groups(np.concatenate([self.eu, self.ev]), net.n_nodes)
        self.tgt_order, self.tgt_ptr = _groups(targets.edge[ok_t], net.n_edges)
        ny = self.ny
        self.around = np.array([-ny - 1, -ny, -ny + 1, -1, 0, 1, ny - 1, ny, ny + 1])

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        k = np.floor((xy - self.origin) / self.cell).astype(np.int64)
        return k[:, 0] * self.ny + k[:, 1]


def distances_tiled(
    net: WalkNetwork, sources: Snap, targets: Snap, limit_m: float, tile_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`distances_within` tile by tile: each tile's sources search the sub-network within ``limit_m`` (m)."""
    ok_s = np.flatnonzero(sources.reachable)
    ok_t = np.flatnonzero(targets.reachable)
    empty = np.zeros(0, dtype=np.int64)
    if ok_s.size == 0 or ok_t.size == 0:
        return empty, empty, np.zeros(0)
    # a tile and its 8 neighbours cover the tile's sources' box + limit_m
    ix = _TileIndex(net, sources, targets, ok_s, ok_t, max(tile_m, limit_m))
    s_cell = ix.cell_of(sources.xy[ok_s])
    order = np.argsort(s_cell, kind="stable")
    sc = s_cell[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    ends = np.r_[starts[1:], sc.size]
    out_s, out_t, out_d = [], [], []
    for a, b in zip(starts, ends):  # one pass per tile holding sources
        src = ok_s[order[a:b]]
        found = _tile_pairs(net, ix, sources, targets, ok_t, src, sc[a], limit_m)
        if found is not None:
            out_s.append(found[0])
            out_t.append(found[1])
            out_d.append(found[2])
    if not out_s:
        return empty, empty, np.zeros(0)
    return np.concatenate(out_s), np.concatenate(out_t), np.concatenate(out_d)


def _tile_pairs(net: WalkNetwork, ix: _TileIndex, sources: Snap, targets: Snap, ok_t, src, cell: int, limit_m: float):
    """The pairs of one tile's sources ``src`` (indices into ``sources``), or None when no target is near."""
    nxy = net.node_xy
    cand = _gather(ix.node_order, ix.node_ptr, cell + ix.around)
    lo = sources.xy[src].min(axis=0) - limit_m
    hi = sources.xy[src].max(axis=0) + limit_m
    nodes_in = cand[np.all((nxy[cand] >= lo) & (nxy[cand] <= hi), axis=1)]
    m = net.n_edges
    edges = np.unique(np.concatenate([_gather(ix.inc_order, ix.inc_ptr, nodes_in) % m, sources.edge[src]]))
    tin = ok_t[_gather(ix.tgt_order, ix.tgt_ptr, edges)]
    if tin.size == 0:
        return None
    nodes, inv = np.unique(np.concatenate([ix.eu[edges], ix.ev[edges]]), return_inverse=True)
    k = edges.size
    sub = type(net)(
        node_xy=nxy[nodes],
        edge_u=inv[:k].astype(np.int32),
        edge_v=inv[k:].astype(np.int32),
        edge_length_m=net.edge_length_m[edges],
        edge_class=net.edge_class[edges],
        edge_coords=np.zeros((0, 2)),
        edge_offsets=np.zeros(k + 1, dtype=np.int64),
        crs=net.crs,
    )
    s_sub = sources.take(src)
    s_sub.edge = np.searchsorted(edges, s_sub.edge)
    t_sub = targets.take(tin)
    t_sub.edge = np.searchsorted(edges, t_sub.edge)
    i, j, d = sub._distances_direct(s_sub, t_sub, limit_m=limit_m)
    return src[i], tin[j], d


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


# ----------------------------------------------------------------------------- service areas
def reachable_pieces(net: WalkNetwork, result: NearestResult, threshold_m: float) -> np.ndarray:
    """Edge pieces within ``threshold_m`` metres of the sources (metric LineStrings), for service areas."""
    du = result.dist_m[net.edge_u]
    dv = result.dist_m[net.edge_v]
    L = net.edge_length_m
    full = (
        (du + L <= threshold_m)
        | (dv + L <= threshold_m)
        | ((du <= threshold_m) & (dv <= threshold_m) & (du + dv + L <= 2 * threshold_m))
    )
    pieces = list(net.geometries_of(np.nonzero(full)[0]))
    part = np.nonzero(~full & ((du < threshold_m) | (dv < threshold_m)))[0]
    for e in part.tolist():
        if du[e] < threshold_m:
            f = min(1.0, (threshold_m - du[e]) / L[e]) if L[e] > 0 else 1.0
            pieces.append(shapely.linestrings(net.edge_piece(e, 0.0, f)) if f > 0 else None)
        if dv[e] < threshold_m:
            f = min(1.0, (threshold_m - dv[e]) / L[e]) if L[e] > 0 else 1.0
            pieces.append(shapely.linestrings(net.edge_piece(e, 1.0 - f, 1.0)) if f > 0 else None)
    # sources on an edge whose ends are beyond the threshold still reach along it
    s = result.sources
    for i in np.nonzero(s.reachable & (s.offset_m < threshold_m))[0]:
        se = int(s.edge[i])
        if L[se] <= 0:
            continue
        reach = (threshold_m - s.offset_m[i]) / L[se]
        pieces.append(shapely.linestrings(net.edge_piece(se, max(0.0, s.frac[i] - reach), min(1.0, s.frac[i] + reach))))
    return np.array([p for p in pieces if p is not None and not p.is_empty and p.length > 0], dtype=object)


def service_area(net: WalkNetwork, result: NearestResult, threshold_m: float, *, buffer_m: float = 30.0):
    """Area reachable within ``threshold_m`` metres: reachable edge pieces buffered by ``buffer_m`` (metric polygon)."""
    pieces = net.reachable_pieces(result, threshold_m)
    if len(pieces) == 0:
        return shapely.Polygon()
    return shapely.union_all(shapely.buffer(pieces, buffer_m, quad_segs=4))
