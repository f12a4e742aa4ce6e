"""Shortest-path searches: the multi-source Dijkstra pass, pairwise distances within a limit, routes.

Every search runs on the network's CSR adjacency augmented with one virtual node per
snapped source (:func:`augmented`), so the off-network leg and the position along the
source's edge are part of every distance.  :func:`nearest` runs one multi-source pass
(``scipy.sparse.csgraph``) and returns a :class:`NearestResult`, which measures targets
(:meth:`NearestResult.at`) and reads routes from the predecessor tree
(:meth:`NearestResult.route`).  :func:`distances_within` lists every (source, target) pair
within a walking distance, on local subgraphs on a large network (:mod:`.local`).

Units: metres.  CRS: the network's metric CRS for every coordinate and geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from . import local
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

    When the network extends well beyond the limit, the sources are grouped in square tiles of
    ``tile_m`` metres (metric CRS) and each group searches only the induced subgraph of the nodes
    that a walk of ``limit_m`` can reach (:func:`.local.pairs_local`; the straight-line bound is
    taken from the edges' own lengths): the cost grows with the city, not with its square, and the
    pairs are exactly those of the whole-network search.  ``tile_m=None`` searches the whole network
    per chunk of sources.
    """
    if tile_m is not None and net.n_nodes > 2_000 and local.can_prune(net, limit_m, tile_m):
        return local.pairs_local(net, sources, targets, float(limit_m), float(tile_m))
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
