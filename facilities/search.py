"""Search on the project's own layers: compounds, roads, facilities, shelters, streets, buildings, by name.

No online geocoder: :func:`build_index` turns the stored layers (EPSG:4326 GeoDataFrames) into one entry per
named feature (roads: one entry per road name, its segments together) with a representative point and a kind;
:func:`search` ranks the entries for a :class:`SearchQuery`.  :class:`SearchService` keeps one index per process
and rebuilds it when the revision of one of :data:`LAYERS` changes.

Ranking (lower first): the match tier — exact name, name prefix, name substring, every query character in
order (subsequence), pinyin initials (exact, prefix, substring; ``xhxq`` finds 新华小区) — then the field that
matched (name, then address, then category label; addresses and labels match exactly, by prefix or as a
substring only), the kind (:data:`KIND_PRIORITY`), the shorter name, and with ``near`` the straight-line
distance.  Text is normalised first (NFKC: full-width letters, digits and spaces become half-width; lower case;
spaces removed).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import shapely

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.runs import input_revisions

MAX_QUERY_CHARS = 100
DEFAULT_LIMIT = 10
MAX_LIMIT = 50

# kind -> (priority, Chinese label); ties of the same tier and field go to the lower priority
KINDS: dict[str, tuple[int, str]] = {
    "facility": (0, "服务设施"),
    "shelter": (0, "避难场所"),
    "compound": (1, "小区"),
    "road": (2, "道路"),
    "street": (3, "街道"),
    "district": (4, "区县"),
    "residential_area": (5, "住宅小区与居住用地"),
    "building": (6, "建筑物"),
}
KIND_PRIORITY = {k: p for k, (p, _zh) in KINDS.items()}
# the layers an index is built from (their revisions decide when to rebuild)
LAYERS = ("facilities", "shelters", "population_units", "roads", "admin_areas", "residential_areas", "buildings")

TIERS = ("exact", "prefix", "substring", "subsequence", "pinyin_exact", "pinyin_prefix", "pinyin_substring")
FIELDS = ("name", "address", "category")
_SPACES = re.compile(r"\s+")
_PINYIN_QUERY = re.compile(r"^[a-z0-9]+$")


def normalize(text) -> str:
    """Text for matching: NFKC (full-width to half-width, 　 to space), lower case, no whitespace."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(text))).lower()


@functools.lru_cache(maxsize=262_144)  # kept across rebuilds: an edit re-reads the layers, not the dictionary
def pinyin_initials(text: str) -> str:
    """First letters of the pinyin of each Chinese character (``新华小区`` -> ``xhxq``); other characters kept.

    ``text`` is normalised.  Empty when ``pypinyin`` is not installed.
    """
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:  # pragma: no cover - pypinyin is a dependency; the bonus goes quietly without it
        return ""
    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors=lambda chars: list(chars))).lower()


# ----------------------------------------------------------------------------- the index
@dataclass(frozen=True)
class _Blob:
    """One searchable text per entry joined by newlines: a C-speed scan, then the match positions to entries."""

    text: str
    values: list[str]  # the lines
    starts: list[int]  # offset of each line in ``text``
    entry: list[int]  # entry index of each line

    @classmethod
    def of(cls, values: list[str], entries) -> _Blob:
        starts, pos = [], 0
        for v in values:
            starts.append(pos)
            pos += len(v) + 1
        return cls("\n".join(values), list(values), starts, [int(e) for e in entries])

    def lines(self, pattern: re.Pattern) -> set[int]:
        """Line numbers that ``pattern`` (which never crosses a newline) matches."""
        starts = self.starts
        return {bisect.bisect_right(starts, m.start()) - 1 for m in pattern.finditer(self.text)}


@dataclass(frozen=True)
class SearchIndex:
    """Named features of the stored layers, one entry each, with a representative point (EPSG:4326).

    ``records`` are the entries as returned in hits (without the match fields); ``revisions`` the layer
    revisions it was built from.
    """

    records: list[dict]
    names: list[str]  # normalised
    kinds: list[str]
    lon: np.ndarray
    lat: np.ndarray
    name_blob: _Blob
    address_blob: _Blob
    category_blob: _Blob
    initials_blob: _Blob
    revisions: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


def _text(v) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _points(geoms) -> np.ndarray:
    """Representative points (a point on the geometry: inside polygons, on lines) as an (n, 2) lon/lat array."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.zeros((0, 2))
    return shapely.get_coordinates(shapely.point_on_surface(arr)).reshape(-1, 2)


def _rows(layer: str, frame) -> list[dict]:
    """Entries of one layer: ``kind``, ``layer``, ``id``, ``name``, ``address``, ``category``, ``category_zh``,
    ``lon``, ``lat``, ``feature_count``; unnamed features are left out."""
    if frame is None or len(frame) == 0 or "name" not in frame.columns:
        return []
    frame = frame[frame["name"].map(_text).notna().to_numpy() & frame.geometry.notna().to_numpy()]
    frame = frame[~frame.geometry.is_empty.to_numpy()]
    if len(frame) == 0:
        return []
    if layer == "roads":
        return _road_rows(frame)
    pts = _points(frame.geometry.to_numpy())
    out = []
    for (lon, lat), row in zip(pts, frame.drop(columns="geometry").to_dict(orient="records")):
        kind, category, category_zh = _kind(layer, row)
        out.append(
            {
                "kind": kind,
                "kind_zh": KINDS[kind][1],
                "layer": layer,
                "id": int(row["id"]),
                "name": _text(row["name"]),
                "address": _text(row.get("address")),
                "category": category,
                "category_zh": category_zh,
                "status": _text(row.get("status")),
                "feature_count": 1,
                "lon": round(float(lon), 7),
                "lat": round(float(lat), 7),
            }
        )
    return out


def _kind(layer: str, row: dict) -> tuple[str, str | None, str | None]:
    """(kind, category code, category label) of one feature."""
    if layer == "facilities":
        c = _text(row.get("category"))
        return "facility", c, vocab.FACILITY_CATEGORIES.get(c or "", c)
    if layer == "shelters":
        c = _text(row.get("shelter_class"))
        return "shelter", c, vocab.SHELTER_CLASSES.get(c or "", "应急避难场所")
    if layer == "population_units":
        c = _text(row.get("unit_type")) or "compound"
        return "compound", c, vocab.UNIT_TYPES.get(c, c)
    if layer == "admin_areas":
        c = _text(row.get("level"))
        return ("street" if c == "street" else "district"), c, vocab.ADMIN_LEVELS.get(c or "", c)
    if layer == "residential_areas":
        c = _text(row.get("kind"))
        return "residential_area", c, vocab.RESIDENTIAL_AREA_KINDS.get(c or "", c)
    if layer == "buildings":
        c = _text(row.get("use"))
        return "building", c, vocab.BUILDING_USES.get(c or "", c)
    raise ValueError(f"no search kind for layer {layer!r}")


def _road_rows(frame) -> list[dict]:
    """One entry per road name: its segments as one multi-line, a point on it near their middle."""
    names = frame["name"].map(_text).to_numpy()
    uniques, codes = np.unique(names.astype(str), return_inverse=True)
    parts, idx = shapely.get_parts(frame.geometry.to_numpy(), return_index=True)
    order = np.argsort(codes[idx], kind="stable")
    lines = shapely.multilinestrings(parts[order], indices=codes[idx][order])
    pts = _points(lines)
    ids = frame["id"].to_numpy()
    classes = frame["road_class"].to_numpy() if "road_class" in frame.columns else np.full(len(frame), None)
    out = []
    for i, name in enumerate(uniques):
        members = np.flatnonzero(codes == i)
        c = _text(classes[members[0]])
        out.append(
            {
                "kind": "road",
                "kind_zh": KINDS["road"][1],
                "layer": "roads",
                "id": int(ids[members].min()),
                "name": str(name),
                "address": None,
                "category": c,
                "category_zh": vocab.ROAD_CLASSES.get(c or "", c),
                "status": None,
                "feature_count": int(len(members)),
                "lon": round(float(pts[i, 0]), 7),
                "lat": round(float(pts[i, 1]), 7),
            }
        )
    return out


def build_index(frames: dict, revisions: dict | None = None) -> SearchIndex:
    """The search index of the layers in ``frames`` (layer name -> GeoDataFrame in EPSG:4326; any of
    :data:`LAYERS`, missing ones count as empty)."""
    records: list[dict] = []
    for layer in LAYERS:
        records.extend(_rows(layer, frames.get(layer)))
    names = [normalize(r["name"]) for r in records]
    cache: dict[str, str] = {}
    for n in names:
        if n not in cache:
            cache[n] = pinyin_initials(n)
    initials = [cache[n] for n in names]
    addr = [(i, normalize(r["address"])) for i, r in enumerate(records) if r["address"]]
    cats = [(i, normalize(r["category_zh"])) for i, r in enumerate(records) if r["category_zh"]]
    return SearchIndex(
        records=records,
        names=names,
        kinds=[r["kind"] for r in records],
        lon=np.array([r["lon"] for r in records], dtype=float),
        lat=np.array([r["lat"] for r in records], dtype=float),
        name_blob=_Blob.of(names, range(len(names))),
        address_blob=_Blob.of([a for _i, a in addr], [i for i, _a in addr]),
        category_blob=_Blob.of([c for _i, c in cats], [i for i, _c in cats]),
        initials_blob=_Blob.of(initials, range(len(initials))),
        revisions=dict(revisions or {}),
    )


# ----------------------------------------------------------------------------- the query
@dataclass(frozen=True)
class SearchQuery:
    """One search: the text (as typed and normalised), how many hits, which kinds, an optional point (EPSG:4326)."""

    text: str
    normalized: str
    limit: int = DEFAULT_LIMIT
    kinds: tuple[str, ...] | None = None
    near: tuple[float, float] | None = None

    @classmethod
    def from_input(cls, q, limit=DEFAULT_LIMIT, kinds=None, near=None) -> SearchQuery:
        """The one constructor from CLI arguments or HTTP query parameters; a Chinese error for bad values.

        ``kinds``: a comma-separated string or a list of :data:`KINDS`; ``near``: ``"lon,lat"`` or a pair.
        """
        text = "" if q is None else str(q)
        if len(text) > MAX_QUERY_CHARS:
            raise InputError(
                f"the query is longer than {MAX_QUERY_CHARS} characters",
                f"搜索内容过长：最多 {MAX_QUERY_CHARS} 个字（现有 {len(text)} 个）",
                length=len(text),
                max_length=MAX_QUERY_CHARS,
            )
        norm = normalize(text)
        if not norm:
            raise InputError("the query is empty", "请输入要搜索的小区、道路、设施名称或地址")
        if limit is None:
            limit = DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or not 1 <= limit <= MAX_LIMIT:
            raise InputError(
                f"limit must be between 1 and {MAX_LIMIT}", f"返回条数必须在 1 到 {MAX_LIMIT} 之间", limit=limit
            )
        return cls(text.strip(), norm, int(limit), _parse_kinds(kinds), _parse_near(near))


def _parse_kinds(kinds) -> tuple[str, ...] | None:
    if kinds is None:
        return None
    items = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    items = [str(k).strip() for k in items if str(k).strip()]
    if not items:
        return None
    unknown = [k for k in items if k not in KINDS]
    if unknown:
        raise InputError(
            f"unknown kinds {unknown}; use {', '.join(KINDS)}",
            f"未知的类型「{'、'.join(unknown)}」：可用 " + "、".join(f"{k}（{zh}）" for k, (_p, zh) in KINDS.items()),
            kinds=unknown,
            allowed=list(KINDS),
        )
    return tuple(dict.fromkeys(items))


def _parse_near(near) -> tuple[float, float] | None:
    if near is None or (isinstance(near, str) and not near.strip()):
        return None
    try:
        parts = near.split(",") if isinstance(near, str) else list(near)
        lon, lat = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise InputError(
            "near must be 'lon,lat'", "参考位置 near 的格式应为「经度,纬度」（EPSG:4326）", near=str(near)
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError("near is outside [-180, 180] x [-90, 90]", "参考位置 near 的经纬度无效", near=str(near))
    return lon, lat


def _subsequence(q: str) -> re.Pattern:
    """Every character of ``q`` in order on one line; each gap excludes the next character (linear matching)."""
    parts = [re.escape(q[0])]
    for c in q[1:]:
        parts.append(f"[^\\n{re.escape(c)}]*+{re.escape(c)}")
    return re.compile("".join(parts))


def _distance_m(lon0: float, lat0: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine, mean Earth radius), metres."""
    p0, p = math.radians(lat0), np.radians(lat)
    a = np.sin((p - p0) / 2) ** 2 + math.cos(p0) * np.cos(p) * np.sin(np.radians(lon - lon0) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _matches(index: SearchIndex, q: str) -> dict[int, tuple[int, int]]:
    """Entry -> best (tier, field) of every entry that matches ``q`` (normalised)."""
    best: dict[int, tuple[int, int]] = {}

    def add(entry: int, tier: int, fld: int) -> None:
        key = (tier, fld)
        if entry not in best or key < best[entry]:
            best[entry] = key

    literal = re.compile(re.escape(q))
    for fld, blob in ((0, index.name_blob), (1, index.address_blob), (2, index.category_blob)):
        for line in blob.lines(literal):
            text = blob.values[line]
            add(blob.entry[line], 0 if text == q else 1 if text.startswith(q) else 2, fld)
    if len(q) > 1:
        for line in index.name_blob.lines(_subsequence(q)):
            add(index.name_blob.entry[line], 3, 0)
    if _PINYIN_QUERY.match(q):
        blob = index.initials_blob
        for line in blob.lines(literal):
            ini = blob.values[line]
            add(blob.entry[line], 4 if ini == q else 5 if ini.startswith(q) else 6, 0)
    return best


def search(index: SearchIndex, query: SearchQuery) -> list[dict]:
    """The best ``query.limit`` entries of ``index`` for ``query``, best first.

    Each hit is the entry's record plus ``rank``, ``match`` (one of :data:`TIERS`), ``matched_field`` (one of
    :data:`FIELDS`) and, with ``query.near``, ``distance_m`` (straight line from the point, metres).
    """
    best = _matches(index, query.normalized)
    if query.kinds is not None:
        wanted = set(query.kinds)
        best = {e: k for e, k in best.items() if index.kinds[e] in wanted}
    if not best:
        return []
    entries = np.fromiter(best, dtype=np.int64, count=len(best))
    dist = None
    if query.near is not None:
        dist = _distance_m(query.near[0], query.near[1], index.lon[entries], index.lat[entries])
    keys = []
    for j, e in enumerate(entries.tolist()):
        tier, fld = best[e]
        d = float(dist[j]) if dist is not None else 0.0
        keys.append((tier, fld, KIND_PRIORITY[index.kinds[e]], len(index.names[e]), d, index.names[e], e, j))
    hits = []
    for rank, (tier, fld, _p, _n, _d, _name, e, j) in enumerate(heapq.nsmallest(query.limit, keys), start=1):
        hit = dict(index.records[e])
        hit.update({"rank": rank, "match": TIERS[tier], "matched_field": FIELDS[fld]})
        if dist is not None:
            hit["distance_m"] = round(float(dist[j]), 1)
        hits.append(hit)
    return hits


# ----------------------------------------------------------------------------- per process
class SearchService:
    """One :class:`SearchIndex` per process over a store, rebuilt when a layer of :data:`LAYERS` changes
    (its revision, read on every query: one small SELECT).  Thread-safe."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None

    def index(self) -> SearchIndex:
        want = input_revisions(self.store, LAYERS)
        idx = self._index
        if idx is not None and idx.revisions == want:
            return idx
        with self._lock:
            idx = self._index
            if idx is not None and idx.revisions == want:
                return idx
            frames = {layer: self.store.read_layer(layer) for layer in LAYERS}
            idx = build_index(frames, want)
            self._index = idx
            return idx

    def search(self, q, limit=DEFAULT_LIMIT, kinds=None, near=None) -> dict:
        """Hits for the raw inputs (validated by :meth:`SearchQuery.from_input`) with the query as understood."""
        query = SearchQuery.from_input(q, limit, kinds, near)
        hits = search(self.index(), query)
        return {
            "query": {
                "q": query.text,
                "normalized": query.normalized,
                "limit": query.limit,
                "kinds": list(query.kinds) if query.kinds else None,
                "near": list(query.near) if query.near else None,
            },
            "count": len(hits),
            "results": hits,
        }
