"""Nearest shelter or service point for residents: a snap plus a label lookup.

For each category (``shelter`` or a facility category) and walking profile (standard,
elderly, wheelchair) the k-nearest labels of every network node are built once
(:class:`~geo_service.core.network.KNearestLabels`, on the network as the profile walks
it) and kept until the network or the layer changes; a query snaps the point to the
nearest street edge open to the profile and reads the labels of the edge's two ends.
Every route comes with turn-by-turn steps in Chinese
(:func:`geo_service.core.network.directions.route_steps`).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from geo_service.core import vocab
from geo_service.core._errors import InputError, NotFoundError
from geo_service.core.network import (
    DEFAULT_MAX_SNAP_M,
    KNearestLabels,
    WalkNetwork,
    WalkProfile,
    labels_cache_path,
    load_network,
    profile_code,
)
from geo_service.core.network.directions import route_steps
from geo_service.core.network.shared_labels import shared_labels

SHELTER = "shelter"
K_MAX = 5
LABEL_RADIUS_M = 5000.0
REVISION_TTL_S = 2.0
STUDY_AREA_MARGIN_M = 2000.0  # around the network's extent: farther is "outside the study area"


def category_label(category: str) -> str:
    if category == SHELTER:
        return "应急避难场所"
    return vocab.FACILITY_CATEGORIES.get(category, category)


def validate_category(category: str) -> str:
    c = (category or "").strip()
    if c == SHELTER or c in vocab.FACILITY_CATEGORIES:
        return c
    # accept the Chinese label too
    for code, label in vocab.FACILITY_CATEGORIES.items():
        if c == label:
            return code
    if c in ("避难场所", "应急避难场所"):
        return SHELTER
    raise InputError(
        f"unknown category {category!r}; use 'shelter' or a facility category",
        f"未知的类别「{category}」：请使用 shelter（避难场所）或设施类别代码",
        category=category,
        allowed=[SHELTER, *vocab.FACILITY_CATEGORIES],
    )


@dataclass(frozen=True)
class NearestQuery:
    """One nearest-facility question: from (lon, lat), EPSG:4326, the ``k`` nearest of ``category`` by walking."""

    lon: float
    lat: float
    category: str
    k: int = 3
    profile: WalkProfile = WalkProfile()

    @classmethod
    def from_input(
        cls, lon, lat, category: str, k=3, profile: str | None = None, *, norms=None, k_max: int = K_MAX
    ) -> NearestQuery:
        """The one constructor from CLI arguments or HTTP query parameters; a Chinese error for bad values.

        ``category`` is ``shelter``, a facility category code or its Chinese label; ``k`` is 1 to ``k_max``;
        ``profile`` is ``standard`` (default), ``elderly`` or ``wheelchair`` (speeds and closures from
        ``norms``, the store's).
        """
        category = validate_category(category)
        walk_profile = WalkProfile.from_input(profile, norms) if norms is not None else WalkProfile()
        if not (isinstance(k, int) and 1 <= k <= k_max):
            raise InputError(f"k must be between 1 and {k_max}", f"k 必须在 1 到 {k_max} 之间", k=k)
        for name, v, lo, hi in (("lon", lon, -180, 180), ("lat", lat, -90, 90)):
            if v is None or not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(
                    f"{name} must be a finite number in [{lo}, {hi}]",
                    f"{'经度' if name == 'lon' else '纬度'}无效",
                    **{name: v},
                )
        return cls(float(lon), float(lat), category, k, walk_profile)


@dataclass
class _Index:
    labels: KNearestLabels
    records: list[dict]
    revision: int
    origin: str = "built"
    """``built`` by this process, or loaded from the ``shared_file`` another process wrote."""


class NearestService:
    """Answers nearest-facility queries from precomputed labels (thread-safe)."""

    def __init__(
        self,
        store,
        *,
        network: int | str | None = None,
        k_max: int = K_MAX,
        radius_m: float = LABEL_RADIUS_M,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        walking_speed_mps: float | None = None,
    ):
        self.store = store
        self.network = network
        self.k_max = int(k_max)
        self.radius_m = float(radius_m)
        self.max_snap_m = float(max_snap_m)
        self._speed = walking_speed_mps
        self._lock = threading.Lock()
        self._indexes: dict[tuple, _Index] = {}
        self._revs: tuple[float, dict] = (0.0, {})
        self._net: WalkNetwork | None = None
        self._categories: tuple[tuple, list[dict]] | None = None
        self._profiles: dict[str, WalkProfile] = {}

    # ------------------------------------------------------------------ state
    @property
    def walking_speed_mps(self) -> float:
        if self._speed is None:
            self._speed = self.store.norms.walking_speed_mps
        return float(self._speed)

    def profile(self, profile: str | None) -> WalkProfile:
        """The walking profile named ``profile`` (None: standard), from the store's norms; kept."""
        code = profile_code(profile)
        p = self._profiles.get(code)
        if p is None:
            p = WalkProfile.from_input(code, self.store.norms)
            speed = self.walking_speed_mps  # the service's own speed (default the norms') is the standard one
            if p.name == "standard" and speed != p.speed_mps:
                p = WalkProfile("standard", speed, speed, slope=p.slope)
            self._profiles[code] = p
        return p

    def _revisions(self) -> dict:
        now = time.monotonic()
        stamp, revs = self._revs
        if now - stamp > REVISION_TTL_S:
            revs = self.store.layer_revisions()
            self._revs = (now, revs)
        return revs

    def net(self) -> WalkNetwork:
        revs = self._revisions()
        if self._net is None or self._net_rev != revs.get("network_edges", 0):
            self._net = load_network(self.store, self.network)
            self._net_rev = revs.get("network_edges", 0)
            self._indexes.clear()
        return self._net

    def _index(self, category: str, profile: WalkProfile | None = None) -> _Index:
        profile = profile or self.profile(None)
        net = self.net().for_profile(profile)
        rev = int(self._revisions().get(_layer_of(category), 0))
        key = (net.version, category, profile.key)
        idx = self._indexes.get(key)
        if idx is not None and idx.revision == rev:
            return idx
        with self._lock:
            idx = self._indexes.get(key)
            if idx is not None and idx.revision == rev:
                return idx
            idx = self._build(net, category, rev, profile)
            self._indexes[key] = idx
            return idx

    def _build(self, net: WalkNetwork, category: str, rev: int, profile: WalkProfile) -> _Index:
        """Labels of ``category`` on ``net`` (a profile's view): from the shared file when it holds this
        data revision, else built once across processes and written there (:mod:`~geo_service.core.network.
        shared_labels`)."""
        if category == SHELTER:
            frame = self.store.read_layer("shelters")
        else:
            frame = self.store.read_layer("facilities", where={"category": category})
        frame = vocab.in_service(frame)
        if len(frame) == 0:
            raise NotFoundError(
                f"no existing {category} is stored",
                f"当前没有「{category_label(category)}」的现状数据",
                category=category,
            )
        ids = hashlib.sha1(np.ascontiguousarray(frame["id"].to_numpy(dtype=np.int64)).tobytes()).hexdigest()[:16]
        key = (
            f"{self.store.url}|{net.version}|{category}|{profile.key}|rev={rev}|ids={ids}|k={self.k_max}"
            f"|r={self.radius_m!r}|snap={self.max_snap_m!r}"
        )

        def build() -> KNearestLabels:
            snap = net.snap(frame.geometry, max_snap_m=self.max_snap_m)
            return KNearestLabels.build(net, snap, k_max=self.k_max, radius_m=self.radius_m)

        path = labels_cache_path(self.store, net.network_id, f"{category}|{profile.key}")
        labels, origin = shared_labels(path, key, net, build)
        records = [_record(row, category) for row in frame.to_dict(orient="records")]
        return _Index(labels, records, rev, origin)

    def ready(self, category: str, profile: str | None = None) -> bool:
        """Whether a query of ``category`` is answered from memory now: no database read, no label build.

        The HTTP route answers such a query on the event loop (about a millisecond of numpy) and sends
        the others (first query of a category, revision check due, unknown category) to a worker thread.
        """
        try:
            category = validate_category(category)
            walk_profile = self._profiles.get(profile_code(profile))
        except InputError:
            return False
        stamp, revs = self._revs
        net = self._net
        if net is None or self._speed is None or walk_profile is None or time.monotonic() - stamp > REVISION_TTL_S:
            return False
        if self._net_rev != revs.get("network_edges", 0):
            return False
        views = net.__dict__.get("_profile_views", {})
        version = views[walk_profile.key].version if walk_profile.key in views else net.version
        idx = self._indexes.get((version, category, walk_profile.key))
        return idx is not None and idx.revision == int(revs.get(_layer_of(category), 0))

    def warm(self, categories=None) -> None:
        """Build the labels now (default: shelters and every facility category present)."""
        cats = categories or [c["category"] for c in self.categories()]
        for c in cats:
            try:
                self._index(c)
            except NotFoundError:
                pass

    def categories(self) -> list[dict]:
        """Categories that have existing features: ``category``, ``category_zh``, ``count``.

        Kept until the shelters or facilities layer changes (its revision, read on every call): the
        resident page asks on every load, and counting reads the whole facilities layer (about 30 ms).
        """
        revs = self.store.layer_revisions()
        key = (revs.get("shelters", 0), revs.get("facilities", 0))
        cached = self._categories
        if cached is not None and cached[0] == key:
            return [dict(c) for c in cached[1]]
        out = self._count_categories()
        self._categories = (key, [dict(c) for c in out])
        return out

    def _count_categories(self) -> list[dict]:
        out = []
        n_sh = self.store.count("shelters")
        if n_sh:
            out.append({"category": SHELTER, "category_zh": category_label(SHELTER), "count": n_sh})
        fac = self.store.read_layer("facilities")
        if len(fac):
            counts = fac["category"].value_counts()
            for code in vocab.FACILITY_CATEGORIES:
                if code in counts.index:
                    out.append({"category": code, "category_zh": category_label(code), "count": int(counts[code])})
        return out

    # ------------------------------------------------------------------ query
    def query(
        self,
        lon: float,
        lat: float,
        category: str,
        k: int = 3,
        *,
        with_route: bool = True,
        profile: str | None = None,
    ) -> dict:
        """The ``k`` nearest features of ``category`` by walking from (lon, lat), EPSG:4326.

        ``profile``: ``standard`` (default), ``elderly`` or ``wheelchair``; ``walk_min`` is the profile's
        walking time, ``walk_m`` the metres walked.  Each route carries its turn-by-turn ``steps``.
        """
        walk_profile = self.profile(profile)
        q = NearestQuery.from_input(lon, lat, category, k, k_max=self.k_max)
        lon, lat, category, k = q.lon, q.lat, q.category, q.k
        base = self.net()
        net = base.for_profile(walk_profile)
        x, y = net.lonlat_to_metric(lon, lat)
        x0, y0, x1, y1 = base.bounds_m
        m = self.max_snap_m
        margin = max(STUDY_AREA_MARGIN_M, m)
        if not (x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin):
            raise InputError("the point is outside the study area", "该位置在研究区域之外", lon=lon, lat=lat)
        point = net.snap_xy(np.array([[x, y]]), max_snap_m=m)
        if not point.reachable[0]:
            raise InputError(
                f"the point is more than {m:.0f} m from any street",
                f"该位置距离{_open_streets(walk_profile)}超过 {m:.0f} 米，无法规划步行路线",
                lon=lon,
                lat=lat,
                max_snap_m=m,
            )
        idx = self._index(category, walk_profile)
        src, walk, via = idx.labels.query(point, k)
        real = net is not base  # a profile's view: label distances are costs, metres come from the pieces
        parts, legs, steps = self._routes(idx, net, point, src, via, with_route, real)
        starts = [[st["x"], st["y"]] for r in steps for st in r]
        allxy = np.concatenate([point.snapped_xy[:1], *parts, np.array(starts, dtype=np.float64).reshape(-1, 2)])
        lon_lat = np.column_stack(net.metric_to_lonlat(allxy[:, 0], allxy[:, 1]))
        snapped_lon, snapped_lat = float(lon_lat[0, 0]), float(lon_lat[0, 1])
        routes = _route_dicts(lon_lat, parts, steps, len(src))
        results = []
        for rank, (s, d, route) in enumerate(zip(src, walk, routes), start=1):
            rec = dict(idx.records[int(s)])
            walk_m = sum(legs[rank - 1].lengths_m) if real else d
            rec.update(
                {
                    "rank": rank,
                    "walk_m": round(float(walk_m), 1),
                    "walk_min": round(float(d) / walk_profile.reference_speed_mps / 60.0, 1),
                    "route": route,
                }
            )
            results.append(rec)
        out = {
            "query": {
                "lon": lon,
                "lat": lat,
                "category": category,
                "category_zh": category_label(category),
                "k": k,
                "profile": walk_profile.name,
                "profile_zh": walk_profile.label_zh,
            },
            "snap": {
                "lon": round(snapped_lon, 7),
                "lat": round(snapped_lat, 7),
                "offset_m": round(float(point.offset_m[0]) / net.offset_scale, 1),
            },
            "walking_speed_mps": walk_profile.speed_mps,
            "results": results,
            "labels_from": idx.origin,
        }
        if len(results) < k:
            who = "" if walk_profile.name == "standard" else f"（{walk_profile.label_zh}）"
            out["message_zh"] = (
                f"步行{who} {self.radius_m / 1000:.0f} 公里内只找到 {len(results)} 处「{category_label(category)}」"
                if results
                else f"步行{who} {self.radius_m / 1000:.0f} 公里内没有「{category_label(category)}」"
            )
        return out

    @staticmethod
    def _routes(idx: _Index, net: WalkNetwork, point, src, via, with_route: bool, real: bool) -> tuple:
        """Route vertices and steps (metric CRS) of each result when ``with_route``; the pieces when either."""
        parts: list = []
        legs: list = []
        steps: list = []
        if not (with_route or real):
            return parts, legs, steps
        first_legs: dict = {}
        for s, v in zip(src, via):
            lg = idx.labels.route_legs(point, int(s), int(v), first_legs)
            legs.append(lg)
            if with_route:
                parts.append(lg.coords())
                steps.append(route_steps(net, lg, idx.records[int(s)].get("name")))
        return parts, legs, steps


def _route_dicts(lon_lat: np.ndarray, parts: list, steps: list, n: int) -> list[dict | None]:
    """GeoJSON LineStrings (EPSG:4326, 7 decimals) with their ``steps`` from the transformed vertices."""
    if not parts:
        return [None] * n
    sizes = [len(c) for c in parts]
    rounded = np.round(lon_lat[1 : 1 + sum(sizes)], 7)
    ends = np.cumsum(sizes)
    pts = np.round(lon_lat[1 + sum(sizes) :], 7).tolist()
    out, j = [], 0
    for coords, st in zip(np.split(rounded, ends[:-1]), steps):
        route_steps_ll = []
        for step in st:
            lo, la = pts[j]
            j += 1
            route_steps_ll.append({k: v for k, v in step.items() if k not in ("x", "y")} | {"lon": lo, "lat": la})
        out.append({"type": "LineString", "coordinates": coords.tolist(), "steps": route_steps_ll})
    return out


def _open_streets(profile: WalkProfile) -> str:
    return "步行道路" if profile.name == "standard" else f"{profile.label_zh}可通行的道路"


def _layer_of(category: str) -> str:
    """The layer holding the features of a query category."""
    return "shelters" if category == SHELTER else "facilities"


def _record(row: dict, category: str) -> dict:
    def clean(v):
        if v is None:
            return None
        if isinstance(v, float) and math.isnan(v):
            return None
        return v.item() if isinstance(v, np.generic) else v

    if category == SHELTER:
        cap = clean(row.get("capacity_persons"))
        cat = clean(row.get("shelter_class"))
        return {
            "layer": "shelters",
            "id": int(row["id"]),
            "source_id": clean(row.get("source_id")),
            "name": clean(row.get("name")),
            "address": clean(row.get("address")),
            "category": SHELTER,
            "category_zh": vocab.SHELTER_CLASSES.get(cat, category_label(SHELTER)),
            "shelter_class": cat,
            "capacity": None if cap is None else int(cap),
            "effective_area_m2": clean(row.get("effective_area_m2")),
            "status": clean(row.get("status")),
            "opening_hours": None,
        }
    cap = clean(row.get("capacity"))
    return {
        "layer": "facilities",
        "id": int(row["id"]),
        "source_id": clean(row.get("source_id")),
        "name": clean(row.get("name")),
        "address": clean(row.get("address")),
        "category": clean(row.get("category")),
        "category_zh": category_label(clean(row.get("category")) or ""),
        "capacity": None if cap is None else int(cap),
        "status": clean(row.get("status")),
        "opening_hours": clean(row.get("opening_hours")),
    }
