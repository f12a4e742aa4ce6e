"""The changes of a what-if scenario: their JSON format, checked on its own and against the current data.

A scenario's ``changes`` (see ``docs/scenarios.md`` and ``docs/examples/scenario_changes.json``)::

    {
      "facilities": {"add": [{"category": "kindergarten", "name": "新幼儿园", "lon": 104.39, "lat": 31.13,
                              "floor_area_m2": 1200, "capacity": 270}],
                     "move": [{"id": 12, "lon": 104.40, "lat": 31.12}],
                     "close": [15, "F-0031"]},
      "shelters":   {"add": [...], "move": [...], "close": [...]},
      "developments": [{"name": "新城小区", "households": 3000, "lon": 104.41, "lat": 31.14, "radius_m": 150}],
      "plan": "2026调整方案",
      "norms": {"service_radius_m.kindergarten": 500, "life_circles.5min.walk_m": 350},
      "cost_inputs": {"新建幼儿园": {"yuan": 6000000, "note": "含装修"}}
    }

Points are ``lon``/``lat`` (EPSG:4326 degrees) or a GeoJSON ``geometry``; a development is a GeoJSON polygon or a
point with ``radius_m`` (metres, drawn as a circle in the data's metric CRS). ``move``/``close`` name features by
``id`` or ``source_id``. A norm key is ``section.entry`` (its ``value``) or ``section.entry.field``.

:meth:`ScenarioChanges.from_input` checks the shape (types, categories, numbers, coordinates);
:meth:`ScenarioChanges.resolved` checks against the store (unknown ids, plans and norm keys, places far from the
data) and returns the canonical changes (features named by ``id``). Every problem is listed in one
:class:`InputError` with a Chinese message naming the offending ids.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from geo_service.core._errors import GeoServiceError, InputError
from geo_service.core.norms import Norms, load_norms
from geo_service.core.vocab import FACILITY_CATEGORIES, FACILITY_STATUS, SHELTER_CLASSES

FEATURE_LAYERS = ("facilities", "shelters")
LAYER_ZH = {"facilities": "设施", "shelters": "避难场所"}
MAX_ITEMS = 500  # features added, moved or closed per layer; developments; norm keys
MAX_RADIUS_M = 2000.0
NEAR_DATA_KM = 20.0  # a changed place farther than this from the population units is refused (wrong coordinates)
_NUMBERS = {
    "facilities": ("floor_area_m2", "land_area_m2", "capacity"),
    "shelters": ("effective_area_m2", "capacity_persons"),
}
_TEXTS = ("name", "address", "opening_hours", "functions", "source_id")
_CATEGORY_BY_ZH = {v: k for k, v in FACILITY_CATEGORIES.items()}
_CLASS_BY_ZH = {v: k for k, v in SHELTER_CLASSES.items()}


@dataclass(frozen=True)
class Development:
    """A new compound: ``households`` (households), ``residents`` (persons; None: households x the norm's persons
    per household), ``geometry`` (EPSG:4326 polygon, or a point drawn as a circle of ``radius_m`` metres)."""

    name: str
    households: int
    residents: int | None
    geometry: Any
    radius_m: float | None = None
    street_code: str | None = None
    built_facility_area_m2: float | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "households": self.households}
        if self.residents is not None:
            out["residents"] = self.residents
        if self.radius_m is not None:
            out.update(lon=float(self.geometry.x), lat=float(self.geometry.y), radius_m=self.radius_m)
        else:
            out["geometry"] = mapping(self.geometry)
        if self.street_code is not None:
            out["street_code"] = self.street_code
        if self.built_facility_area_m2 is not None:
            out["built_facility_area_m2"] = self.built_facility_area_m2
        return out


@dataclass(frozen=True)
class ScenarioChanges:
    """A scenario's changes, checked (see the module docstring for the JSON format).

    ``add[layer]``: new features (fields and an EPSG:4326 point); ``move[layer]``: (ref, point);
    ``close[layer]``: refs (``id`` as int once :meth:`resolved`, else id or source id as given).
    """

    add: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    move: dict[str, tuple[tuple[Any, Any], ...]] = field(default_factory=dict)
    close: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    developments: tuple[Development, ...] = ()
    plan: str | None = None
    norms: dict[str, Any] = field(default_factory=dict)
    cost_inputs: dict[str, dict] = field(default_factory=dict)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_input(cls, data) -> ScenarioChanges:
        """Parse and check the JSON of a scenario's changes (no store); one :class:`InputError` lists every
        problem."""
        problems: list[str] = []
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InputError(f"changes are not JSON: {exc}", f"情景变更不是有效的 JSON：{exc}") from None
        if not isinstance(data, dict):
            raise InputError("changes must be a JSON object", "情景变更须为 JSON 对象")
        known = {*FEATURE_LAYERS, "developments", "plan", "norms", "cost_inputs"}
        unknown = sorted(set(data) - known)
        if unknown:
            problems.append(f"未知的变更项：{'、'.join(unknown)}（可用：{'、'.join(sorted(known))}）")
        add: dict[str, tuple[dict, ...]] = {}
        move: dict[str, tuple[tuple[Any, Any], ...]] = {}
        close: dict[str, tuple[Any, ...]] = {}
        for layer in FEATURE_LAYERS:
            part = data.get(layer) or {}
            if not isinstance(part, dict):
                problems.append(f"「{layer}」须为含 add、move、close 的对象")
                continue
            bad = sorted(set(part) - {"add", "move", "close"})
            if bad:
                problems.append(f"「{layer}」中未知的变更：{'、'.join(bad)}（可用：add、move、close）")
            add[layer] = tuple(_new_feature(layer, i, item, problems) for i, item in enumerate(_items(part, "add")))
            move[layer] = tuple(_moved(layer, i, item, problems) for i, item in enumerate(_items(part, "move")))
            close[layer] = tuple(_ref(layer, item, problems) for item in _items(part, "close"))
            for what, items in (("add", add[layer]), ("move", move[layer]), ("close", close[layer])):
                if len(items) > MAX_ITEMS:
                    problems.append(f"{LAYER_ZH[layer]}的 {what} 最多 {MAX_ITEMS} 项")
        devs = tuple(_development(i, d, problems) for i, d in enumerate(_list(data.get("developments"), problems)))
        plan = data.get("plan")
        if plan is not None and not isinstance(plan, (str, int)):
            problems.append("「plan」须为社区划分方案的名称或编号")
        norms = data.get("norms") or {}
        if not isinstance(norms, dict) or any(not isinstance(k, str) for k in norms):
            problems.append('「norms」须为「规范项路径: 新值」的对象，如 {"service_radius_m.kindergarten": 500}')
            norms = {}
        costs = _cost_inputs(data.get("cost_inputs"), problems)
        if problems:
            raise InputError("invalid scenario changes: " + "; ".join(problems), "情景变更有误：" + "；".join(problems))
        return cls(
            {k: v for k, v in add.items() if v},
            {k: v for k, v in move.items() if v},
            {k: v for k, v in close.items() if v},
            devs,
            None if plan in (None, "") else str(plan),
            dict(norms),
            costs,
        )

    # ------------------------------------------------------------------ against the data
    def resolved(self, store) -> ScenarioChanges:
        """The changes checked against ``store``'s data, with moved and closed features named by their ``id``.

        Raises one :class:`InputError` naming every unknown id, plan or norm key and every place far from the
        population units; nothing is stored by this check.
        """
        problems: list[str] = []
        move: dict[str, tuple[tuple[Any, Any], ...]] = {}
        close: dict[str, tuple[Any, ...]] = {}
        for layer in FEATURE_LAYERS:
            refs = [r for r, _ in self.move.get(layer, ())] + list(self.close.get(layer, ()))
            if not refs:
                continue
            frame = store.read_layer(layer)
            ids = _lookup(frame, refs)
            missing = [str(r) for r in refs if ids.get(str(r)) is None]
            if missing:
                problems.append(f"没有这些{LAYER_ZH[layer]}：{'、'.join(missing[:50])}")
                continue
            move[layer] = tuple((ids[str(r)], g) for r, g in self.move.get(layer, ()))
            close[layer] = tuple(sorted({ids[str(r)] for r in self.close.get(layer, ())}))
            twice = sorted({i for i, _ in move[layer]} & set(close[layer]))
            if twice:
                problems.append(f"{LAYER_ZH[layer]} {'、'.join(map(str, twice))} 既被迁移又被关闭")
        plan = self.plan
        if plan is not None:
            try:
                plan = str(store.get_plan(plan)["id"])
            except GeoServiceError:
                problems.append(f"没有社区划分方案「{self.plan}」")
        try:
            scenario_norms(store.norms, self.norms, getattr(store.settings, "norms_file", None))
        except GeoServiceError as exc:
            problems.append(exc.message_zh)
        problems.extend(_far_places(store, self))
        if problems:
            raise InputError(
                "the scenario does not fit the current data: " + "; ".join(problems),
                "情景变更与现状数据不符：" + "；".join(problems),
                problems=problems,
            )
        return ScenarioChanges(
            dict(self.add),
            {k: v for k, v in move.items() if v},
            {k: v for k, v in close.items() if v},
            self.developments,
            plan,
            dict(self.norms),
            dict(self.cost_inputs),
        )

    # ------------------------------------------------------------------ output
    def as_dict(self) -> dict:
        """The JSON of these changes (the stored form)."""
        out: dict[str, Any] = {}
        for layer in FEATURE_LAYERS:
            part: dict[str, list] = {}
            if self.add.get(layer):
                part["add"] = [_feature_json(f) for f in self.add[layer]]
            if self.move.get(layer):
                part["move"] = [_ref_json({"lon": g.x, "lat": g.y}, r) for r, g in self.move[layer]]
            if self.close.get(layer):
                part["close"] = list(self.close[layer])
            if part:
                out[layer] = part
        if self.developments:
            out["developments"] = [d.as_dict() for d in self.developments]
        if self.plan is not None:
            out["plan"] = self.plan
        if self.norms:
            out["norms"] = dict(self.norms)
        if self.cost_inputs:
            out["cost_inputs"] = dict(self.cost_inputs)
        return out

    def part_fingerprint(self, part: str) -> str:
        """A short hash of one part (``facilities``, ``shelters``, ``developments``, ``plan``, ``norms``); '' when
        the scenario does not change it."""
        value = self.as_dict().get(part)
        if not value:
            return ""
        return hashlib.sha1(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A short hash of every change that enters an analysis (cost inputs excluded)."""
        parts = [self.part_fingerprint(p) for p in (*FEATURE_LAYERS, "developments", "plan", "norms")]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]

    def touched_categories(self, frame_of) -> set[str]:
        """Facility categories whose supply changes: of added, moved and closed facilities (``frame_of(layer)``
        gives the base layer, for the categories of moved and closed ones)."""
        cats = {f["category"] for f in self.add.get("facilities", ())}
        cats |= {c for f in self.add.get("facilities", ()) for c in _functions(f.get("functions"))}
        refs = {int(r) for r, _ in self.move.get("facilities", ())} | {int(r) for r in self.close.get("facilities", ())}
        if refs:
            base = frame_of("facilities")
            rows = base[base["id"].astype(int).isin(refs).to_numpy()]
            cats |= set(rows["category"].astype(str))
            if "functions" in rows.columns:  # an embedded hub serves the categories of its functions too
                cats |= {c for v in rows["functions"] for c in _functions(v)}
        return cats

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.move or self.close or self.developments or self.plan or self.norms)


# ----------------------------------------------------------------------------- norms
def norm_override(changes: dict[str, Any]) -> dict:
    """Dotted keys (``section.entry`` sets its ``value``, ``section.entry.field`` that field) as the nested
    override layout of ``norms.toml``."""
    out: dict = {}
    for key, value in changes.items():
        parts = str(key).split(".")
        if len(parts) not in (2, 3) or not all(parts):
            raise InputError(
                f"norm key {key!r} must be section.entry or section.entry.field",
                f"规范项「{key}」应写作 节.项 或 节.项.字段，如 service_radius_m.kindergarten",
                key=key,
            )
        section, entry = parts[0], parts[1]
        out.setdefault(section, {}).setdefault(entry, {})[parts[2] if len(parts) == 3 else "value"] = value
    return out


def scenario_norms(base: Norms, changes: dict[str, Any], city_file=None) -> Norms:
    """The store's norms (``base``: the packaged ones with the city's file ``city_file`` on top) with the
    scenario's dotted keys on top, validated like a norms override; unknown keys raise with their names."""
    if not changes:
        return base
    unknown = []
    for key in changes:
        try:
            base.entry(str(key))
        except GeoServiceError:
            unknown.append(str(key))
    if unknown:
        raise InputError(
            f"unknown norm keys: {', '.join(unknown)}",
            f"没有这些规范项：{'、'.join(unknown)}",
            keys=unknown,
        )
    override = norm_override(changes)
    if city_file is not None:
        from pathlib import Path

        path = Path(city_file)
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".json":
                city = json.loads(text)
            else:
                import tomllib

                city = tomllib.loads(text)
            override = _deep_merge(city, override)
    override.setdefault("meta", {})["name"] = "情景方案"
    return load_norms(override)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ----------------------------------------------------------------------------- helpers
def _functions(value) -> set[str]:
    """The categories named in a facility's ``functions`` (comma-separated text), empty when none."""
    if not isinstance(value, str):
        return set()
    return {x.strip() for x in value.replace("，", ",").split(",") if x.strip()}


def _items(part: dict, key: str) -> list:
    value = part.get(key) or []
    return value if isinstance(value, list) else [value]


def _list(value, problems: list[str]) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append("「developments」须为列表")
        return []
    if len(value) > MAX_ITEMS:
        problems.append(f"新建住宅项目最多 {MAX_ITEMS} 个")
        return []
    return value


def _number(value, what: str, problems: list[str], *, positive: bool = False) -> float | None:
    if value is None or value == "":
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        problems.append(f"{what}须为数字，收到 {value!r}")
        return None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        problems.append(f"{what}须为{'正' if positive else '非负'}数，收到 {value!r}")
        return None
    return x


def _point(item: dict, what: str, problems: list[str]):
    """The point of an item (``lon``/``lat`` or a GeoJSON point ``geometry``), EPSG:4326; None after a problem."""
    if "geometry" in item and item["geometry"] is not None:
        g = _geometry(item["geometry"], what, problems)
        if g is not None and g.geom_type != "Point":
            problems.append(f"{what}的位置须为点，收到 {g.geom_type}")
            return None
        return g
    lon, lat = item.get("lon"), item.get("lat")
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        problems.append(f"{what}缺少经纬度（lon、lat）或 geometry")
        return None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        problems.append(f"{what}的经纬度超出范围：({lon}, {lat})")
        return None
    return shapely.Point(x, y)


def _geometry(value, what: str, problems: list[str]):
    try:
        g = shape(value)
    except Exception as exc:  # shapely raises several types for a bad GeoJSON geometry
        problems.append(f"{what}的 geometry 不是有效的 GeoJSON 几何：{exc}")
        return None
    if g.is_empty or not g.is_valid:
        problems.append(f"{what}的几何无效（{shapely.is_valid_reason(g)}）")
        return None
    x0, y0, x1, y1 = g.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        problems.append(f"{what}的坐标超出经纬度范围")
        return None
    return g


def _choices(vocabulary: dict[str, str]) -> str:
    """The accepted values of a vocabulary, as a user reads them: ``emergency（紧急避难场所）、…``."""
    return "、".join(f"{code}（{zh}）" for code, zh in vocabulary.items())


def _new_feature(layer: str, i: int, item, problems: list[str]) -> dict:
    what = f"新增{LAYER_ZH[layer]}第 {i + 1} 项"
    if not isinstance(item, dict):
        problems.append(f"{what}须为对象")
        return {}
    out: dict[str, Any] = {}
    if layer == "facilities":
        cat = str(item.get("category") or "").strip()
        cat = _CATEGORY_BY_ZH.get(cat, cat)
        if cat not in FACILITY_CATEGORIES:
            problems.append(f"{what}的设施类别「{item.get('category')}」未知（可用：{_choices(FACILITY_CATEGORIES)}）")
        out["category"] = cat
    else:
        cls = str(item.get("shelter_class") or "emergency").strip()
        cls = _CLASS_BY_ZH.get(cls, cls)
        if cls not in SHELTER_CLASSES:
            problems.append(
                f"{what}的避难场所类别「{item.get('shelter_class')}」未知（可用：{_choices(SHELTER_CLASSES)}）"
            )
        out["shelter_class"] = cls
    status = str(item.get("status") or "existing")
    if status not in FACILITY_STATUS:
        problems.append(f"{what}的状态「{status}」未知（可用：{'、'.join(FACILITY_STATUS)}）")
    out["status"] = status
    for name in _NUMBERS[layer]:
        x = _number(item.get(name), f"{what}的 {name}", problems)
        if x is not None:
            out[name] = int(round(x)) if name in ("capacity", "capacity_persons") else x
    for name in _TEXTS:
        if item.get(name) not in (None, ""):
            out[name] = str(item[name])[:200]
    known = {"category", "shelter_class", "status", "lon", "lat", "geometry", *_NUMBERS[layer], *_TEXTS}
    extra = sorted(set(item) - known)
    if extra:
        problems.append(f"{what}中未知的字段：{'、'.join(extra)}")
    out["geometry"] = _point(item, what, problems)
    return out


def _moved(layer: str, i: int, item, problems: list[str]) -> tuple[Any, Any]:
    what = f"迁移{LAYER_ZH[layer]}第 {i + 1} 项"
    if not isinstance(item, dict) or ("id" not in item and "source_id" not in item):
        problems.append(f"{what}须为含 id（或 source_id）和新位置的对象")
        return None, None
    return _ref(layer, item.get("id", item.get("source_id")), problems), _point(item, what, problems)


def _ref(layer: str, value, problems: list[str]):
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        problems.append(f"{LAYER_ZH[layer]}编号须为整数或来源编号，收到 {value!r}")
        return None
    return value if isinstance(value, int) else str(value).strip()


def _development(i: int, item, problems: list[str]) -> Development:
    what = f"新建住宅项目第 {i + 1} 项"
    if not isinstance(item, dict):
        problems.append(f"{what}须为对象")
        return Development("", 0, None, None)
    known = {"name", "households", "residents", "geometry", "lon", "lat", "radius_m", "street_code"}
    known.add("built_facility_area_m2")
    extra = sorted(set(item) - known)
    if extra:
        problems.append(f"{what}中未知的字段：{'、'.join(extra)}")
    hh = _number(item.get("households"), f"{what}的户数 households", problems, positive=True)
    if hh is None and item.get("households") is None:
        problems.append(f"{what}缺少户数 households")
    res = _number(item.get("residents"), f"{what}的常住人口 residents", problems)
    built = _number(item.get("built_facility_area_m2"), f"{what}的已配建设施面积", problems)
    radius = None
    if item.get("geometry") is not None:
        geom = _geometry(item["geometry"], what, problems)
        if geom is not None and geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"{what}的 geometry 须为面（Polygon），或给出 lon、lat 与半径 radius_m")
            geom = None
    else:
        geom = _point(item, what, problems)
        radius = _number(item.get("radius_m"), f"{what}的半径 radius_m", problems, positive=True)
        if radius is None and item.get("radius_m") is None:
            problems.append(f"{what}须给出面 geometry，或点（lon、lat）与半径 radius_m")
        elif radius is not None and radius > MAX_RADIUS_M:
            problems.append(f"{what}的半径不超过 {MAX_RADIUS_M:.0f} 米")
    return Development(
        str(item.get("name") or f"新建住宅项目{i + 1}")[:200],
        int(round(hh or 0)),
        None if res is None else int(round(res)),
        geom,
        radius,
        None if item.get("street_code") in (None, "") else str(item["street_code"]),
        built,
    )


def _cost_inputs(value, problems: list[str]) -> dict[str, dict]:
    """``{item: yuan}`` or ``{item: {"yuan": number, "note": text}}`` as ``{item: {"yuan", "note"}}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("「cost_inputs」须为「项目: 金额（元）」的对象")
        return {}
    out = {}
    for item, v in value.items():
        entry = v if isinstance(v, dict) else {"yuan": v}
        extra = sorted(set(entry) - {"yuan", "note"})
        if extra:
            problems.append(f"费用项「{item}」中未知的字段：{'、'.join(extra)}（可用：yuan、note）")
        yuan = _number(entry.get("yuan"), f"费用项「{item}」的金额（元）", problems)
        note = entry.get("note")
        out[str(item)[:200]] = {"yuan": yuan, "note": None if note is None else str(note)[:1000]}
    return out


def _lookup(frame, refs) -> dict[str, int | None]:
    """``str(ref)`` -> the feature's ``id`` (by id, else by source id), None when unknown."""
    by_id = {int(i): int(i) for i in frame["id"]} if len(frame) else {}
    by_src = dict(zip(frame["source_id"].astype(str), frame["id"].astype(int))) if len(frame) else {}
    out: dict[str, int | None] = {}
    for r in refs:
        key = str(r)
        hit = by_src.get(key)
        if hit is None and key.lstrip("-").isdigit():
            hit = by_id.get(int(key))
        out[key] = hit
    return out


def _far_places(store, changes: ScenarioChanges) -> list[str]:
    """Changed places farther than :data:`NEAR_DATA_KM` from the population units' extent (wrong coordinates)."""
    box = store.extent("population_units")
    if box is None:
        return []
    pad = NEAR_DATA_KM / 111.0
    x0, y0, x1, y1 = box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad
    out = []
    places = [
        (f"新增{LAYER_ZH[k]}「{f.get('name') or i + 1}」", f["geometry"])
        for k, v in changes.add.items()
        for i, f in enumerate(v)
    ]
    places += [(f"迁移的{LAYER_ZH[k]} {r}", g) for k, v in changes.move.items() for r, g in v]
    places += [(f"新建住宅项目「{d.name}」", d.geometry) for d in changes.developments]
    for what, g in places:
        if g is None:
            continue
        gx0, gy0, gx1, gy1 = g.bounds
        if gx1 < x0 or gx0 > x1 or gy1 < y0 or gy0 > y1:
            out.append(f"{what}距人口单元超过 {NEAR_DATA_KM:.0f} 公里（坐标是否有误？）")
    return out


def _feature_json(f: dict) -> dict:
    out = {k: v for k, v in f.items() if k != "geometry"}
    g = f["geometry"]
    out.update(lon=float(g.x), lat=float(g.y))
    return out


def _ref_json(place: dict, ref) -> dict:
    return {"id": ref, **{k: float(np.round(v, 8)) for k, v in place.items()}}
