"""Per-area answers of the resident page: what a phone needs to find its nearest shelter without the service.

The city is cut into areas, the Web Mercator tiles of zoom :data:`AREA_Z` (about 2 km across in China).
For each area there are two small JSON documents:

- **net** (``net/{x}/{y}.json``): every walking-network edge within ``max_snap_m`` (300 m) of the area, its two
  end nodes, its length (m, geodesic) and its vertices in the network's metric CRS relative to the area's origin
  (mm), the area of each end node, and a quadratic fit from lon/lat to that metric CRS and back (residual well
  under a millimetre over the area): a tap is snapped to its nearest edge exactly as ``/nearest`` does.
- **labels** (``{category}/{x}/{y}.json``): for each node inside the area, its nearest source of the category by
  walking: distance (m), source index, predecessor node toward it and the edge to that predecessor, so that the
  client rebuilds the route hop by hop, fetching the areas it passes through.

Per category one ``{category}/sources.json`` lists the sources (name, address, capacity ...) with their snap on
the network (edge, fraction, off-street leg).  The answers are those of ``/nearest`` with ``k=1`` and the standard
walking profile: the same snap, the same search radius (5 km), the same candidates (the edge's two ends and
sources on the same edge); the nearest source of every node comes from one multi-source Dijkstra per category.

Units: metres; CRS: EPSG:4326 for lon/lat, the network's metric CRS for ``coords``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

from facilities.nearest import LABEL_RADIUS_M, SHELTER, _record, category_label, validate_category
from geo_service.core import vocab
from geo_service.core._errors import NotFoundError
from geo_service.core.network import DEFAULT_MAX_SNAP_M, Snap, WalkNetwork

AREA_Z = 14
FORMAT_VERSION = 2


def lonlat_to_tile(lon, lat, z: int = AREA_Z) -> tuple[np.ndarray, np.ndarray]:
    """XYZ tile column and row of lon/lat (EPSG:4326) at zoom ``z``."""
    n = 1 << z
    lon = np.asarray(lon, dtype=float)
    lat = np.radians(np.clip(np.asarray(lat, dtype=float), -85.05112878, 85.05112878))
    x = np.floor((lon + 180.0) / 360.0 * n).astype(np.int64)
    y = np.floor((1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / math.pi) / 2.0 * n).astype(np.int64)
    return np.clip(x, 0, n - 1), np.clip(y, 0, n - 1)


def tile_lonlat_bounds(x: int, y: int, z: int = AREA_Z) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of tile z/x/y in degrees."""
    n = 1 << z

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _quadratic_terms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(a), a, b, a * a, a * b, b * b])


def fit_quadratic(src: np.ndarray, dst: np.ndarray) -> tuple[list[list[float]], float]:
    """Least-squares quadratic map ``src (n, 2) -> dst (n, 2)``: coefficients per output and the largest residual."""
    terms = _quadratic_terms(src[:, 0], src[:, 1])
    coefs, *_ = np.linalg.lstsq(terms, dst, rcond=None)
    resid = float(np.abs(terms @ coefs - dst).max())
    return coefs.T.tolist(), resid


@dataclass
class AreaGrid:
    """The areas of a network: node areas, edges per area and the projection fits.

    Built once per network (:meth:`build`); :meth:`net_area` gives one area's net document.
    """

    net: WalkNetwork
    max_snap_m: float
    node_tx: np.ndarray
    node_ty: np.ndarray
    edge_bbox: np.ndarray  # (m, 4) metric bbox of each edge
    areas: list[tuple[int, int]]
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, net: WalkNetwork, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> AreaGrid:
        lon, lat = net.metric_to_lonlat(net.node_xy[:, 0], net.node_xy[:, 1])
        tx, ty = lonlat_to_tile(lon, lat)
        starts = net.edge_offsets[:-1]
        mins = np.minimum.reduceat(net.edge_coords, starts, axis=0)
        maxs = np.maximum.reduceat(net.edge_coords, starts, axis=0)
        bbox = np.column_stack([mins, maxs])
        # areas: every tile holding a node, or within the snap distance of an edge (a tap there reaches it)
        x0, y0, x1, y1 = net.bounds_m
        pad = max_snap_m
        corners_lon, corners_lat = net.metric_to_lonlat(
            np.array([x0 - pad, x1 + pad, x0 - pad, x1 + pad]), np.array([y0 - pad, y0 - pad, y1 + pad, y1 + pad])
        )
        cx, cy = lonlat_to_tile(corners_lon, corners_lat)
        areas = [(int(x), int(y)) for x in range(cx.min(), cx.max() + 1) for y in range(cy.min(), cy.max() + 1)]
        grid = cls(net, float(max_snap_m), tx, ty, bbox, [])
        grid.areas = [a for a in areas if grid._edges_near(*a).size or ((tx == a[0]) & (ty == a[1])).any()]
        return grid

    def _area_frame(self, x: int, y: int) -> dict:
        """Origin, the quadratic fits lon/lat <-> metric (relative to the origin) and the metric bbox of an area."""
        key = ("frame", x, y)
        if key in self._cache:
            return self._cache[key]
        w, s, e, n = tile_lonlat_bounds(x, y)
        lon0, lat0 = (w + e) / 2, (s + n) / 2
        # the fit covers the area plus the snap distance (about 0.004 degrees for 300 m), with a margin
        pad = 2.0 * self.max_snap_m / 111_000.0 + 0.002
        g = np.linspace(0.0, 1.0, 9)
        glon, glat = np.meshgrid(w - pad + g * (e - w + 2 * pad), s - pad + g * (n - s + 2 * pad))
        mx, my = self.net.lonlat_to_metric(glon.ravel(), glat.ravel())
        ox, oy = self.net.lonlat_to_metric(lon0, lat0)
        ll = np.column_stack([glon.ravel() - lon0, glat.ravel() - lat0])
        xy = np.column_stack([np.asarray(mx) - ox, np.asarray(my) - oy])
        fwd, r1 = fit_quadratic(ll, xy)
        inv, r2 = fit_quadratic(xy, ll)
        ex, ey = self.net.lonlat_to_metric(np.array([w, e, w, e]), np.array([s, s, n, n]))
        frame = {
            "lon0": lon0,
            "lat0": lat0,
            "x0": float(ox),
            "y0": float(oy),
            "fwd": fwd,
            "inv": inv,
            "fit_residual_m": r1,
            "fit_residual_deg": r2,
            "bbox_m": (float(np.min(ex)), float(np.min(ey)), float(np.max(ex)), float(np.max(ey))),
        }
        self._cache[key] = frame
        return frame

    def _edges_near(self, x: int, y: int) -> np.ndarray:
        bx0, by0, bx1, by1 = self._area_frame(x, y)["bbox_m"]
        pad = self.max_snap_m + 1.0
        b = self.edge_bbox
        hit = (b[:, 0] <= bx1 + pad) & (b[:, 2] >= bx0 - pad) & (b[:, 1] <= by1 + pad) & (b[:, 3] >= by0 - pad)
        return np.nonzero(hit)[0]

    def nodes_in(self, x: int, y: int) -> np.ndarray:
        return np.nonzero((self.node_tx == x) & (self.node_ty == y))[0]

    def net_area(self, x: int, y: int) -> dict:
        """The net document of area x/y (see the module docstring); edges empty outside the network."""
        net = self.net
        frame = self._area_frame(x, y)
        edges = self._edges_near(x, y)
        ox, oy = frame["x0"], frame["y0"]
        coords = []
        for e in edges.tolist():
            c = np.round((net.edge_coords[net.edge_offsets[e] : net.edge_offsets[e + 1]] - (ox, oy)) * 100)
            c = c.astype(np.int64)
            c[1:] = np.diff(c, axis=0)  # centimetres: the first vertex, then steps
            coords.append(c.ravel().tolist())
        ends = np.unique(np.concatenate([net.edge_u[edges], net.edge_v[edges]])) if len(edges) else np.empty(0, int)
        node_area = {str(int(i)): [int(self.node_tx[i]), int(self.node_ty[i])] for i in ends.tolist()}
        return {
            "version": FORMAT_VERSION,
            "z": AREA_Z,
            "x": int(x),
            "y": int(y),
            "max_snap_m": self.max_snap_m,
            **{k: frame[k] for k in ("lon0", "lat0", "x0", "y0", "fwd", "inv")},
            "edge": edges.tolist(),
            "u": net.edge_u[edges].tolist(),
            "v": net.edge_v[edges].tolist(),
            "length_m": np.round(net.edge_length_m[edges], 4).tolist(),
            "coords": coords,
            "node_area": node_area,
        }


@dataclass
class CategoryAnswers:
    """Nearest source of one category for every node and the sources' records and snaps.

    One multi-source Dijkstra (:meth:`WalkNetwork.nearest`) bounded by the label radius of ``/nearest``
    (5 km): per node the walk (m) to, the index of and the predecessor toward its nearest source.
    """

    category: str
    sources_snap: Snap
    radius_m: float
    dist_m: np.ndarray  # (n,) inf beyond the radius
    source: np.ndarray  # (n,) -1 beyond the radius
    pred: np.ndarray  # (n,) -1 next to the source or beyond the radius
    records: list[dict]
    lonlat: np.ndarray  # (s, 2) source points
    snap_lonlat: np.ndarray  # (s, 2) their snap locations

    @classmethod
    def build(cls, net: WalkNetwork, frame, category: str, *, max_snap_m: float = DEFAULT_MAX_SNAP_M):
        snap = net.snap(frame.geometry, max_snap_m=max_snap_m)
        found = net.nearest(snap, limit_m=LABEL_RADIUS_M)
        pred = found.pred.astype(np.int64)
        pred[(pred >= net.n_nodes) | (pred < 0)] = -1
        records = [_record(row, category) for row in frame.to_dict(orient="records")]
        lon, lat = net.metric_to_lonlat(snap.xy[:, 0], snap.xy[:, 1])
        slon, slat = net.metric_to_lonlat(snap.snapped_xy[:, 0], snap.snapped_xy[:, 1])
        return cls(
            category,
            snap,
            LABEL_RADIUS_M,
            found.dist_m,
            found.source,
            pred,
            records,
            np.column_stack([lon, lat]),
            np.column_stack([slon, slat]),
        )

    def sources(self, speeds: dict) -> dict:
        """The ``sources.json`` document: one item per source with its record and snap."""
        snap = self.sources_snap
        items = []
        for i, rec in enumerate(self.records):
            ok = bool(snap.edge[i] >= 0)
            items.append(
                {
                    **rec,
                    "edge": int(snap.edge[i]),
                    "frac": round(float(snap.frac[i]), 9) if ok else None,
                    "offset_m": round(float(snap.offset_m[i]), 3) if ok else None,
                    "lon": _r7(self.lonlat[i, 0]),
                    "lat": _r7(self.lonlat[i, 1]),
                    "snap_lon": _r7(self.snap_lonlat[i, 0]) if ok else None,
                    "snap_lat": _r7(self.snap_lonlat[i, 1]) if ok else None,
                }
            )
        return {
            "version": FORMAT_VERSION,
            "category": self.category,
            "category_zh": category_label(self.category),
            "radius_m": self.radius_m,
            "speeds_mps": speeds,
            "items": items,
        }

    def area(self, grid: AreaGrid, x: int, y: int) -> dict:
        """Labels of the nodes of area x/y (walk, source, predecessor node and edge) as :func:`_label_columns`."""
        net = grid.net
        nodes = grid.nodes_in(x, y)
        d = self.dist_m[nodes]
        ok = np.isfinite(d) & (self.source[nodes] >= 0)
        nodes, d = nodes[ok], d[ok]
        src = self.source[nodes]
        pred = self.pred[nodes]
        pedge = _pair_edges(net, nodes, pred)
        return {
            "version": FORMAT_VERSION,
            "category": self.category,
            "z": AREA_Z,
            "x": int(x),
            "y": int(y),
            **_label_columns(nodes, d, src, pred, pedge),
        }


def _label_columns(nodes, d, src, pred, pedge) -> dict:
    """Node labels as compact columns: node ids as steps from the previous one (Morton order keeps them small),
    walk in centimetres, the predecessor as a step from its node (0: next to the source), the predecessor edge."""
    nodes = np.asarray(nodes, dtype=np.int64)
    dn = np.diff(nodes, prepend=0)
    dp = np.where(pred >= 0, pred - nodes, 0)
    return {
        "dn": dn.tolist(),
        "d_cm": np.round(np.asarray(d) * 100).astype(np.int64).tolist(),
        "s": np.asarray(src, dtype=np.int64).tolist(),
        "dp": dp.astype(np.int64).tolist(),
        "e": np.asarray(pedge, dtype=np.int64).tolist(),
    }


def _pair_edges(net: WalkNetwork, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (shortest) edge joining each node pair ``a[i]``-``b[i]`` (one vectorised lookup); -1 where ``b < 0``."""
    keys, edges = net._pair_index()
    n = np.int64(net.n_nodes)
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    key = lo * n + hi
    i = np.clip(np.searchsorted(keys, key), 0, max(len(keys) - 1, 0))
    ok = (b >= 0) & (len(keys) > 0)
    if ok.any() and not (keys[i[ok]] == key[ok]).all():
        raise KeyError("a predecessor without an edge")  # pragma: no cover - labels follow edges
    return np.where(ok, edges[i] if len(keys) else -1, -1).astype(np.int64)


def _r7(v) -> float | None:
    v = float(v)
    return round(v, 7) if math.isfinite(v) else None


def category_frame(store, category: str):
    """The in-service features of ``category`` (``shelter`` or a facility category)."""
    if category == SHELTER:
        frame = store.read_layer("shelters")
    else:
        frame = store.read_layer("facilities", where={"category": category})
    return vocab.in_service(frame)


def profile_speeds(norms) -> dict:
    """Walking speed (m/s) of each profile, from the norms."""
    speeds = {"standard": float(norms.walking_speed_mps)}
    for name, entry in (
        ("elderly", "mobility.elderly_walking_speed_mps"),
        ("wheelchair", "mobility.wheelchair_speed_mps"),
    ):
        try:
            speeds[name] = float(norms.entry(entry).value)
        except Exception:  # noqa: BLE001 - an older norms file: the standard speed
            speeds[name] = speeds["standard"]
    return speeds


class ResidentAnswers:
    """Per-area answers of one store, rebuilt when the network or a source layer changes (thread-safe)."""

    def __init__(self, store, *, max_snap_m: float = DEFAULT_MAX_SNAP_M):
        self.store = store
        self.max_snap_m = float(max_snap_m)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._grid: AreaGrid | None = None
        self._cats: dict[str, tuple[int, CategoryAnswers]] = {}

    def grid(self) -> AreaGrid:
        from geo_service.core.network import load_network

        net = load_network(self.store)
        with self._lock:
            if self._grid is None or self._grid.net is not net or self._key != (net.version,):
                self._grid = AreaGrid.build(net, max_snap_m=self.max_snap_m)
                self._key = (net.version,)
                self._cats.clear()
            return self._grid

    def category(self, category: str) -> CategoryAnswers:
        category = validate_category(category)
        grid = self.grid()
        layer = "shelters" if category == SHELTER else "facilities"
        rev = int(self.store.layer_revisions().get(layer, 0))
        with self._lock:
            got = self._cats.get(category)
            if got is not None and got[0] == rev:
                return got[1]
        frame = category_frame(self.store, category)
        if len(frame) == 0:
            raise NotFoundError(
                f"no existing {category} is stored",
                f"当前没有「{category_label(category)}」的现状数据",
                category=category,
            )
        answers = CategoryAnswers.build(grid.net, frame, category, max_snap_m=self.max_snap_m)
        with self._lock:
            self._cats[category] = (rev, answers)
        return answers

    def sources(self, category: str) -> dict:
        return self.category(category).sources(profile_speeds(self.store.norms))

    def net_area(self, x: int, y: int) -> dict:
        return self.grid().net_area(x, y)

    def labels_area(self, category: str, x: int, y: int) -> dict:
        answers = self.category(category)
        return answers.area(self.grid(), x, y)
