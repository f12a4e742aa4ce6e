"""The :class:`WalkNetwork` class: the network's arrays plus thin methods over the package's modules.

Units: metres.  CRS: the network's metric CRS (``WalkNetwork.crs``) for every coordinate;
EPSG:4326 for the inputs and outputs that say so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
from scipy import sparse
from scipy.sparse import csgraph

from . import _geometry, _npz, graph, local, profiles, searches, snapping
from .profiles import WalkProfile
from .searches import NearestResult
from .snapping import DEFAULT_MAX_SNAP_M, Snap, _SegmentIndex


@dataclass
class WalkNetwork:
    """An undirected walking network as arrays (metric CRS, metres).

    Attributes
    ----------
    node_xy : (n, 2) float64
        Node coordinates, metric CRS (m); nodes are kept in Morton order.
    edge_u, edge_v : (m,) int32
        End nodes of each edge; its geometry runs from ``u`` to ``v``.
    edge_length_m : (m,) float64
        Edge lengths, metres.
    edge_class : (m,) int8
        Codes into ``ROAD_CLASS_CODES``, -1 unknown.
    edge_coords : (k, 2) float64
        All edge vertices, metric CRS (m), ragged by ``edge_offsets`` (m + 1,) int64.
    crs : pyproj.CRS
        The metric CRS.
    node_ids : (n,) int64 or None
        Stored ``node_idx`` of each internal node.
    edge_attrs : graph.EdgeAttributes or None
        Steps, kerbs and road names of the edges, node elevations (None: the data has none).
    profile : str
        ``"standard"`` for a network as stored; a walking profile's view (:meth:`for_profile`) holds
        only the edges open to it, and its ``edge_length_m`` are *costs*: walking time times the
        standard walking speed (metres at the standard speed on flat ground).
    base_edge : (m,) int64 or None
        In a profile's view, the index of each edge in the stored network.
    real_length_m : (m,) float64 or None
        In a profile's view, the true length of each edge, metres.
    offset_scale : float
        In a profile's view, the cost of one metre of off-network walk (flat ground).
    """

    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_class: np.ndarray
    edge_coords: np.ndarray
    edge_offsets: np.ndarray
    crs: pyproj.CRS
    name: str = ""
    network_id: int | None = None
    version: str = ""
    node_ids: np.ndarray | None = None
    edge_attrs: graph.EdgeAttributes | None = None
    profile: str = "standard"
    base_edge: np.ndarray | None = None
    real_length_m: np.ndarray | None = None
    offset_scale: float = 1.0
    _csr: sparse.csr_matrix | None = field(default=None, repr=False)
    _tree: _SegmentIndex | None = field(default=None, repr=False)
    _geoms: np.ndarray | None = field(default=None, repr=False)
    _pair_keys: np.ndarray | None = field(default=None, repr=False)
    _pair_edge: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ construction (graph)
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
        (a missing geometry is replaced by the straight segment).  ``metric_crs``: default
        chosen from the data.
        """
        arrays, metric = graph.arrays_from_frames(nodes, edges, metric_crs)
        return cls._from_graph(arrays, metric, name=name, network_id=network_id)

    @classmethod
    def _from_arrays(
        cls, node_xy, u, v, length, cls_codes, geoms, metric, *, name="", network_id=None, attrs=None
    ) -> WalkNetwork:
        """Build from stored-order arrays (metric CRS, metres; see :func:`graph.ordered_arrays`)."""
        arrays = graph.ordered_arrays(node_xy, u, v, length, cls_codes, geoms, attrs)
        return cls._from_graph(arrays, metric, name=name, network_id=network_id)

    @classmethod
    def _from_graph(cls, arrays: graph.GraphArrays, metric: pyproj.CRS, *, name="", network_id=None) -> WalkNetwork:
        net = cls(**arrays._asdict(), crs=metric, name=name, network_id=network_id)
        net.version = net._digest()
        return net

    def _orient_geometries(self) -> None:
        """Make every edge geometry run from ``u`` to ``v`` and end exactly on the node points."""
        graph.orient_geometries(self.edge_coords, self.edge_offsets, self.node_xy, self.edge_u, self.edge_v)

    def _digest(self) -> str:
        return graph.digest(self.node_xy, self.edge_u, self.edge_v, self.edge_length_m, self.edge_attrs)

    # ------------------------------------------------------------------ properties and lazy parts
    def node_position(self, node_ids) -> np.ndarray:
        """Internal node index of stored ``node_idx`` values."""
        return graph.node_position(self.node_ids, node_ids)

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
        pairs = graph.build_csr(self.n_nodes, self.edge_u, self.edge_v, self.edge_length_m)
        self._pair_keys, self._pair_edge = pairs.pair_keys, pairs.pair_edge
        self._csr = pairs.csr  # last: a set ``_csr`` means the pair index is there too

    def _pair_index(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pair_keys, pair_edge)`` of :class:`graph.PairIndex`, built with the CSR."""
        self.csr  # noqa: B018 - builds the pair index
        keys, edges = self._pair_keys, self._pair_edge
        if keys is None or edges is None:  # pragma: no cover - set together with the CSR
            raise RuntimeError("the pair index is missing")
        return keys, edges

    def edge_geometries(self) -> np.ndarray:
        """Shapely LineStrings of all edges (metric CRS), built once."""
        if self._geoms is None:
            with self._lock:
                if self._geoms is None:
                    self._geoms = graph.edge_geometries(self.edge_coords, self.edge_offsets)
        return self._geoms

    def geometries_of(self, edges) -> np.ndarray:
        """LineStrings (metric CRS) of the given edge indices, built on demand."""
        if self._geoms is not None:
            return self._geoms[np.asarray(edges, dtype=np.int64)]
        return graph.geometries_of(self.edge_coords, self.edge_offsets, edges)

    @property
    def tree(self) -> _SegmentIndex:
        """Nearest-edge index over the edge segments (no shapely objects: compact for big networks)."""
        if self._tree is None:
            with self._lock:
                if self._tree is None:
                    self._tree = _SegmentIndex(self.edge_coords, self.edge_offsets)
        return self._tree

    def warm(self) -> WalkNetwork:
        """Build the lazy parts (CSR, spatial index) now."""
        self.csr  # noqa: B018
        self.tree  # noqa: B018
        return self

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the nodes, metric CRS (m)."""
        b = self.__dict__.get("_bounds")
        if b is None:
            b = self.__dict__["_bounds"] = (*self.node_xy.min(axis=0), *self.node_xy.max(axis=0))
        return b

    def components(self) -> np.ndarray:
        """Connected-component label per node."""
        return csgraph.connected_components(self.csr, directed=False)[1]

    # ------------------------------------------------------------------ coordinates
    def _transformer(self, inverse: bool) -> pyproj.Transformer:
        """lon/lat <-> metric, cached per network (see :func:`_geometry.datum_transformer`)."""
        cache = self.__dict__.setdefault("_transformers", {})
        tr = cache.get(inverse)
        if tr is None:
            tr = cache[inverse] = _geometry.datum_transformer(self.crs, inverse)
        return tr

    def to_metric(self, geoms, crs=4326) -> np.ndarray:
        """Geometries (array-like, in ``crs``) to the network's metric CRS."""
        geoms = np.asarray(geoms, dtype=object)
        if crs in (4326, "EPSG:4326") and len(geoms) <= _geometry.SMALL_INPUT:
            return _geometry.transform_small(geoms, self._transformer(inverse=False))
        return _geometry.reproject(geoms, crs, self.crs)

    def to_wgs84(self, geoms) -> np.ndarray:
        """Metric geometries (array-like) to EPSG:4326 (lon, lat)."""
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) <= _geometry.SMALL_INPUT:
            return _geometry.transform_small(geoms, self._transformer(inverse=True))
        return _geometry.reproject(geoms, self.crs, 4326)

    def lonlat_to_metric(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes (EPSG:4326, scalars or arrays) to the network's metric x, y (m)."""
        return self._transformer(inverse=False).transform(lon, lat)

    def metric_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Metric x, y (m, scalars or arrays) to longitudes and latitudes (EPSG:4326)."""
        return self._transformer(inverse=True).transform(x, y)

    # ------------------------------------------------------------------ snapping
    def snap(self, geoms, *, crs=4326, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
        """Snap points (polygons and lines by a point on them) to the nearest edge; see :func:`snapping.snap`."""
        return snapping.snap(self, geoms, crs=crs, max_snap_m=max_snap_m)

    def snap_xy(self, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
        """Snap metric coordinates ``(n, 2)`` (m) to the nearest edge (see :meth:`snap`).

        In a profile's view the off-network leg ``offset_m`` is a cost (metres times :attr:`offset_scale`).
        """
        s = snapping.snap_xy(self.tree, xy, max_snap_m=max_snap_m)
        if self.offset_scale != 1.0:
            s.offset_m = s.offset_m * self.offset_scale
        return s

    # ------------------------------------------------------------------ walking profiles
    def for_profile(self, profile: WalkProfile) -> WalkNetwork:
        """The network as ``profile`` walks it (built once per profile and kept); see :mod:`.profiles`.

        The standard profile on a network without elevations is the network itself.
        """
        return profiles.profile_view(self, profile)

    def real_lengths(self) -> np.ndarray:
        """True edge lengths, metres (``edge_length_m`` outside a profile's view)."""
        return self.edge_length_m if self.real_length_m is None else self.real_length_m

    def edge_names(self, edges) -> list[str | None]:
        """Road names of the given edges (indices of this network or view), None where unnamed."""
        attrs = self.edge_attrs
        if attrs is None:
            return [None] * len(edges)
        idx = attrs.name_idx[np.asarray(edges, dtype=np.int64)]
        names = attrs.names
        return [None if i < 0 else str(names[i]) for i in idx.tolist()]

    # ------------------------------------------------------------------ shortest paths
    def _augmented(self, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
        """The CSR with one virtual node per reachable source (see :func:`searches.augmented`)."""
        return searches.augmented(self, sources)

    def nearest(self, sources: Snap, *, limit_m: float = np.inf) -> NearestResult:
        """One multi-source Dijkstra bounded by ``limit_m`` metres; see :func:`searches.nearest`."""
        return searches.nearest(self, sources, limit_m=limit_m)

    def distances_within(
        self, sources: Snap, targets: Snap, *, limit_m: float, chunk: int | None = None, tile_m: float | None = 1500.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (source, target) pairs within ``limit_m`` metres: ``(source_idx, target_idx, walk_m)``.

        See :func:`searches.distances_within` (tiles of ``tile_m`` metres on large networks).
        """
        return searches.distances_within(self, sources, targets, limit_m=limit_m, chunk=chunk, tile_m=tile_m)

    def _distances_tiled(self, sources: Snap, targets: Snap, limit_m: float, tile_m: float):
        """Pairs within ``limit_m`` (m) tile by tile on local subgraphs (see :func:`local.pairs_local`)."""
        return local.pairs_local(self, sources, targets, float(limit_m), float(tile_m))

    def _distances_direct(self, sources: Snap, targets: Snap, *, limit_m: float, chunk: int | None = None):
        return searches.distances_direct(self, sources, targets, limit_m=limit_m, chunk=chunk)

    def reachable_pieces(self, result: NearestResult, threshold_m: float) -> np.ndarray:
        """Edge pieces within ``threshold_m`` metres of the sources (metric LineStrings), for service areas."""
        return searches.reachable_pieces(self, result, threshold_m)

    def service_area(self, result: NearestResult, threshold_m: float, *, buffer_m: float = 30.0):
        """Area reachable within ``threshold_m``: reachable edge pieces buffered by ``buffer_m`` (metric polygon)."""
        return searches.service_area(self, result, threshold_m, buffer_m=buffer_m)

    # ------------------------------------------------------------------ route geometry
    def edge_coords_of(self, e: int) -> np.ndarray:
        """Vertices of edge ``e`` from ``u`` to ``v`` (metric CRS)."""
        return self.edge_coords[self.edge_offsets[e] : self.edge_offsets[e + 1]]

    def edge_piece(self, e: int, f0: float, f1: float) -> np.ndarray:
        """Coordinates along edge ``e`` from fraction ``f0`` to ``f1`` (either direction), metric CRS."""
        return _geometry.edge_piece(self.edge_coords_of(e), f0, f1)

    def pair_edge(self, a: int, b: int) -> int:
        """The (shortest) edge joining nodes ``a`` and ``b``."""
        keys, edges = self._pair_index()
        return graph.pair_edge(keys, edges, self.n_nodes, a, b)

    def path_coords(self, nodes: list[int]) -> list[np.ndarray]:
        """Coordinates of each edge along a node path, oriented along it (one vectorised pair lookup)."""
        if len(nodes) < 2:
            return []
        keys, edges = self._pair_index()
        hops, path = graph.path_edges(keys, edges, self.n_nodes, nodes)
        return _geometry.hop_coords(self.edge_coords, self.edge_offsets, self.edge_u, hops, path)

    def path_edges_coords(self, nodes: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The edges along a node path and their coordinates, oriented along it (metric CRS)."""
        if len(nodes) < 2:
            return np.zeros(0, dtype=np.int64), []
        keys, edges = self._pair_index()
        hops, path = graph.path_edges(keys, edges, self.n_nodes, nodes)
        return path, _geometry.hop_coords(self.edge_coords, self.edge_offsets, self.edge_u, hops, path)

    # ------------------------------------------------------------------ save / load, export
    def save(self, path: str | Path) -> Path:
        """Write the arrays to one ``.npz`` file (atomic rename); see :func:`_npz.save_npz`."""
        return _npz.save_npz(self, path)

    @classmethod
    def load(cls, path: str | Path) -> WalkNetwork:
        """A network saved by :meth:`save`; see :func:`_npz.load_npz`."""
        return _npz.load_npz(path, cls)

    def nbytes(self) -> int:
        """Bytes held by the arrays (CSR included once built)."""
        arrays = (
            self.node_xy,
            self.edge_u,
            self.edge_v,
            self.edge_length_m,
            self.edge_class,
            self.edge_coords,
            self.edge_offsets,
        )
        total = sum(a.nbytes for a in arrays)
        if self._csr is not None and self._pair_keys is not None and self._pair_edge is not None:
            total += self._csr.data.nbytes + self._csr.indices.nbytes + self._csr.indptr.nbytes
            total += self._pair_keys.nbytes + self._pair_edge.nbytes
        return int(total)

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame in the metric CRS (``u``, ``v``, ``length_m`` in metres, ``road_class``)."""
        return gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_length_m,
                "road_class": graph.class_names(self.edge_class),
            },
            geometry=self.edge_geometries(),
            crs=self.crs,
        )
