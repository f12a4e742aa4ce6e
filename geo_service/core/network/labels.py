"""K-nearest source labels on every node, for snap-plus-lookup queries (``/nearest``).

Units: metres.  CRS: the network's metric CRS for routes and coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.sparse import csgraph

from .._errors import InputError
from ._geometry import route_coords as _route_coords
from .local import _lex_topk, k_nearest_local
from .snapping import Snap

if TYPE_CHECKING:
    from ._walk import WalkNetwork


@dataclass
class RouteLegs:
    """A route as pieces: the off-network leg, the pieces along edges, the leg to the destination.

    Attributes
    ----------
    parts : list of (k, 2) float arrays
        Vertices of each piece, metric CRS, in walking order; the first and last are single points
        (the start and the destination), the off-network legs run between them and their neighbours.
    edges : list of int
        The edge (of the network or profile view walked) of each piece, -1 for the first and last.
    lengths_m : list of float
        True length of each piece, metres (the off-network legs for the first and last entries).
    """

    parts: list[np.ndarray]
    edges: list[int]
    lengths_m: list[float]

    def coords(self) -> np.ndarray:
        """The route's vertices (metric CRS), repeated vertices dropped."""
        return _route_coords(self.parts)


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
    radius_m : float
        The search radius, metres.
    dist_m : float64 (n, k_max)
        Network distances (m), inf where fewer sources are in reach.
    source : int32 (n, k_max)
        Source indices, -1 where none.
    pred : int32 (n, k_max)
        Predecessor node, ``-1`` when the node is next to the source.
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
        cls,
        net: WalkNetwork,
        sources: Snap,
        *,
        k_max: int = 5,
        radius_m: float = 3000.0,
        chunk_bytes: float = 1.5e8,
        method: str = "local",
    ) -> KNearestLabels:
        """The ``k_max`` nearest sources of every node within ``radius_m`` metres of walking.

        ``method="local"`` (default) runs bounded Dijkstra passes on local subgraphs with a growing
        window (:func:`.local.k_nearest_local`): time and memory grow with the sources' neighbourhoods,
        not with the network.  ``method="whole"`` searches the whole network per chunk of sources (the
        earlier method, kept as the reference).  Both give the same labels.  ``chunk_bytes`` bounds the
        distance and predecessor arrays of one Dijkstra pass.
        """
        if method == "local":
            d, s, p = k_nearest_local(net, sources, int(k_max), float(radius_m), chunk_bytes)
            return cls(net, sources, float(radius_m), d, s, p)
        if method != "whole":
            raise ValueError(f"unknown method {method!r}")
        return cls._build_whole(net, sources, k_max=k_max, radius_m=radius_m, chunk_bytes=chunk_bytes)

    @classmethod
    def _build_whole(
        cls, net: WalkNetwork, sources: Snap, *, k_max: int, radius_m: float, chunk_bytes: float
    ) -> KNearestLabels:
        """Bounded Dijkstra from the sources over the whole network, in chunks of about ``chunk_bytes``."""
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
        Distances (m) include both off-network legs; exactly the sources whose network
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
        return self.route_legs(point, src, via, first_legs).coords()

    def route_legs(self, point: Snap, src: int, via: int, first_legs: dict | None = None) -> RouteLegs:
        """The pieces of the walking route from the snapped point to source ``src`` (see :class:`RouteLegs`)."""
        net = self.network
        real = net.real_lengths()
        scale = net.offset_scale
        e, t = int(point.edge[0]), float(point.frac[0])
        se, sf = int(self.sources.edge[src]), float(self.sources.frac[src])
        parts = [point.xy[:1]]
        edges = [-1]
        lengths = [float(point.offset_m[0]) / scale]
        if via < 0:
            parts.append(net.edge_piece(e, t, sf))
            edges.append(e)
            lengths.append(abs(sf - t) * float(real[e]))
        else:
            end = 0.0 if via == net.edge_u[e] else 1.0
            legs = first_legs if first_legs is not None else {}
            if end not in legs:
                legs[end] = net.edge_piece(e, t, end)
            parts.append(legs[end])
            edges.append(e)
            lengths.append(abs(end - t) * float(real[e]))
            nodes = self.node_path(via, src)
            path, hop_parts = net.path_edges_coords(nodes)
            parts.extend(hop_parts)
            edges.extend(path.tolist())
            lengths.extend(real[path].tolist())
            last = 0.0 if net.edge_u[se] == nodes[-1] else 1.0
            parts.append(net.edge_piece(se, last, sf))
            edges.append(se)
            lengths.append(abs(sf - last) * float(real[se]))
        parts.append(self.sources.xy[src : src + 1])
        edges.append(-1)
        lengths.append(float(self.sources.offset_m[src]) / scale)
        return RouteLegs(parts, edges, lengths)

    def route(self, point: Snap, src: int, via: int) -> shapely.LineString:
        """Walking route (metric CRS) from the snapped point to source ``src``."""
        return shapely.linestrings(self.route_coords(point, src, via))

    def nbytes(self) -> int:
        """Bytes held by the label arrays."""
        return int(self.dist_m.nbytes + self.source.nbytes + self.pred.nbytes)
