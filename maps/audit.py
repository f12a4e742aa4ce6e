"""Facilities and shelters audit map (Deyang regulation Art. 18) from a stored ``audit`` analysis run.

The run comes from :func:`facilities.audit_service.current_audit` (the newest run whose inputs are
unchanged, recomputed otherwise) or, with ``run_id``, one stored run.  Its outputs (see
``facilities/audit/``) are drawn as:

- ``communities``: coloured by the number of findings, hatched grey where the service floor area cannot be
  assessed; the popup lists every finding (office, floor-area gap, missing categories, unplaced residents,
  whether and with which reserved parcel the plan closes the gap);
- ``shelters``: one layer per class, a black ring around those over capacity when every resident walks to the
  nearest one (nearest-first); ``assignment``: unit -> shelter lines, width by persons (off by default above
  :data:`ASSIGNMENT_SHOW_MAX`, vector tiles above ``INLINE_MAX_FEATURES`` like every layer);
- ``units`` with unplaced residents, by reason; flagged ``facilities``; reserved ``parcels`` (those assigned
  to close a gap apart); ``developments`` by whether they owe facility area;
- a box with the county totals of the run's summary.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core._errors import NotFoundError
from geo_service.core.settings import Settings

from .base import (
    Control,
    DataLayer,
    Script,
    bounds_of,
    js,
    new_map,
    swatch,
    synthetic_note,
    tile_url,
    use_tiles,
)
from .facilities import SHELTER_COLORS

KIND = "audit"
ASSIGNMENT_SHOW_MAX = 3000  # more assignment lines than this are off by default (a thicket that hides the rest)

ISSUE_CLASSES = [
    (0, "#1a9850", "无问题"),
    (1, "#fee08b", "1 项问题"),
    (2, "#fdae61", "2 项问题"),
    (3, "#f46d43", "3 项问题"),
    (4, "#d73027", "4 项问题"),
    (None, "#a50026", "5 项及以上问题"),
]
HATCH_BG, HATCH_LINE = "#d9d9d9", "#737373"
HATCH_CSS = f"repeating-linear-gradient(45deg,{HATCH_LINE} 0 1.5px,{HATCH_BG} 1.5px 5px)"
OVER_CAPACITY = "#000000"
ASSIGNMENT_COLOR = "#2171b5"
UNPLACED_COLORS = {"capacity": "#9e9ac8", "reach": "#6a51a3", "network": "#525252"}
FACILITY_FLAGS = [  # (column, label, colour)
    ("at_risk", "用地规划为他用的设施", "#e7298a"),
    ("below_minimum", "低于最小建筑面积的设施", "#ff7f00"),
    ("area_unknown", "缺少建筑面积的设施（无法评估）", "#969696"),
    ("planned_not_built", "规划或在建、尚未建成的设施", "#1b9e77"),
]
PARCEL_ASSIGNED, PARCEL_FREE, PARCEL_OCCUPIED = "#006d2c", "#74c476", "#c7e9c0"
DEV_COLORS = {"gap": "#8c510a", "ok": "#35978f"}
CAPACITY_SOURCE = {"declared": "申报容纳人数", "area": "按有效避难面积折算"}
UNKNOWN_STREET = "—"

COMMUNITY_FIELDS = [
    ("rank", "问题排名", None),
    ("community_code", "社区代码", None),
    ("street_zh", "所属街道", None),
    ("households", "户数", "户"),
    ("issues", "问题数", "项"),
    ("issues_zh", "发现的问题", None),
    ("has_fixed_office", "有固定办公场所", None),
    ("office_source", "办公场所依据", None),
    ("service_floor_m2", "综合服务设施建筑面积", "m²"),
    ("service_floor_required_m2", "应配建筑面积（每百户 30 m²）", "m²"),
    ("service_floor_gap_m2", "面积缺口", "m²"),
    ("service_floor_status_zh", "综合服务面积评估", None),
    ("cannot_assess_reason", "无法评估原因", None),
    ("facilities_below_minimum", "低于最小面积的设施", "处"),
    ("missing_categories_zh", "缺少的应配设施", None),
    ("group_shortfall_zh", "缺少应配设施的服务对象", None),
    ("group_note_zh", "服务对象人数说明", None),
    ("facilities_at_risk", "用地规划为他用的设施", "处"),
    ("planned_service_floor_m2", "规划、在建设施建筑面积", "m²"),
    ("gap_after_planned_m2", "计入规划设施后的缺口", "m²"),
    ("plan_can_close_zh", "规划能否补足缺口", None),
    ("closing_parcel_zh", "补足缺口的预留地块（编号）", None),
    ("closing_parcel_area_m2", "补足地块面积", "m²"),
    ("gap_plan_status_zh", "闲置、购租空间补足结果", None),
    ("gap_plan_zh", "补足方式", None),
    ("gap_plan_cost_yuan", "补足费用（含租金年限）", "元"),
    ("gap_plan_open_zh", "仍有缺口及原因", None),
]
SHELTER_FIELDS = [
    ("shelter_id", "避难场所编号", None),
    ("shelter_class_zh", "类别", None),
    ("status", "状态", None, vocab.FACILITY_STATUS),
    ("capacity_persons", "容纳人数", "人"),
    ("capacity_source", "容纳人数依据", None, CAPACITY_SOURCE),
    ("effective_area_m2", "有效避难面积", "m²"),
    ("below_min_site_area", "场地面积低于下限", None),
    ("assessable", "可评估", None),
    ("cannot_assess_reason", "无法评估原因", None),
    ("hazard_zh", "所在灾害风险区", None),
]
HAZARD_COLOR = "#b2182b"
HAZARD_FIELDS = [
    ("name", "名称", None),
    ("kind_zh", "灾害类型", None),
    ("level_zh", "风险等级", None),
    ("radius_m", "影响半径", "米"),
]
UNIT_FIELDS = [("unit_id", "居住单元编号", None), ("community_zh", "所属社区", None), ("residents", "常住人口", "人")]
FACILITY_FIELDS = [
    ("facility_id", "设施编号", None),
    ("category_zh", "类别", None),
    ("status", "状态", None, vocab.FACILITY_STATUS),
    ("community_zh", "所在社区", None),
    ("floor_area_m2", "建筑面积", "m²"),
    ("min_floor_m2", "最小建筑面积", "m²"),
    ("parcel_land_use_code", "所在地块规划用途", None, vocab.LAND_USE_CODES),
    ("finding_zh", "发现的问题", None),
]
PARCEL_FIELDS = [
    ("parcel_id", "地块编号", None),
    ("land_use_code", "用地分类", None, vocab.LAND_USE_CODES),
    ("planned_use", "规划用途", None),
    ("status", "状态", None, vocab.PARCEL_STATUS),
    ("area_m2", "用地面积", "m²"),
    ("floor_capacity_m2", "可建建筑面积", "m²"),
    ("occupied", "已有设施占用", None),
    ("community_zh", "所在社区", None),
    ("assigned_zh", "用于补足缺口的社区", None),
    ("gap_closed_m2", "补足面积", "m²"),
]
SITE_FIELDS = [
    ("parcel_id", "地块编号", None),
    ("land_use_code", "用地分类", None, vocab.LAND_USE_CODES),
    ("planned_use", "规划用途", None),
    ("status", "状态", None, vocab.PARCEL_STATUS),
    ("area_m2", "用地面积", "m²"),
    ("capacity_persons", "估算可容纳", "人"),
    ("community_zh", "所在社区", None),
    ("emergency_assigned_with_plan", "按规划补充时安置", "人"),
]
SITE_COLOR, SITE_USED = "#74c476", "#006d2c"
DEVELOPMENT_FIELDS = [
    ("development_id", "项目编号", None),
    ("status", "状态", None, vocab.DEVELOPMENT_STATUS),
    ("community_zh", "所在社区", None),
    ("planned_households", "规划户数", "户"),
    ("required_facility_area_m2", "应配建设施面积", "m²"),
    ("required_source", "应配建面积依据", None),
    ("built_facility_area_m2", "已配建设施面积", "m²"),
    ("owed_m2", "欠配面积", "m²"),
    ("status_check_zh", "配建评估", None),
    ("cannot_assess_reason", "无法评估原因", None),
    ("handover_stage_zh", "移交进度", None),
    ("handed_over_area_m2", "已移交社区面积", "m²"),
    ("handover_date", "移交日期", None),
    ("handover_finding_zh", "移交核查", None),
]
GAP_KIND_COLORS = {  # kind of the space closing a gap -> line colour
    "asset_free_transfer": "#1b9e77",
    "asset_lease": "#66a61e",
    "asset_sale": "#e6ab02",
    "purchase": "#d95f02",
    "lease": "#7570b3",
    "swap": "#e7298a",
    "extension": "#a6761d",
}
GAP_KIND_ZH = {
    "asset_free_transfer": "闲置资产无偿移交",
    "asset_lease": "闲置资产租赁",
    "asset_sale": "闲置资产购买",
    **vocab.SPACE_CANDIDATE_KINDS,
}
GAP_PLAN_FIELDS = [
    ("community_zh", "社区", None),
    ("need_zh", "补足的需求", None),
    ("need_m2", "需求面积", "m²"),
    ("how_zh", "补足方式", None),
    ("candidate_name", "空间名称", None),
    ("kind_zh", "获取方式", None),
    ("owner", "产权单位", None),
    ("candidate_area_m2", "空间建筑面积", "m²"),
    ("closed_m2", "本空间补足面积", "m²"),
    ("floor_level", "所在楼层", "层"),
    ("has_lift", "有电梯", None),
    ("condition_zh", "房屋状况", None),
    ("walk_m", "居民平均步行距离", "米"),
    ("cost_yuan", "费用（含租金年限）", "元"),
    ("rent_yuan_per_year", "年租金", "元/年"),
]
HANDOVER_SHORT = "#b2182b"


def _fields(spec: list[tuple], frame: gpd.GeoDataFrame | None) -> list[list]:
    """Popup rows (name, label_zh, unit, vocab) of the columns the frame has (all of them when ``frame`` is None)."""
    out = []
    for row in spec:
        name, label, unit, vocab_ = (*row, None)[:4]
        if frame is None or name in frame.columns:
            out.append([name, label, unit, vocab_])
    return out


def _classes(frame: gpd.GeoDataFrame | None, suffix: str) -> list[str]:
    """Shelter classes that got an assignment (``<class><suffix>`` columns), in vocabulary order."""
    if frame is None:
        return []
    return [c for c in vocab.SHELTER_CLASSES if f"{c}{suffix}" in frame.columns]


def _class_label(c: str) -> str:
    return vocab.SHELTER_CLASSES.get(c, c).removesuffix("场所")


def _flag(values: pd.Series) -> np.ndarray:
    """A yes/no column as booleans (missing = no)."""
    return np.array([v is True or (v is not None and not pd.isna(v) and bool(v)) for v in values], dtype=bool)


def _unplaced_counts(units: gpd.GeoDataFrame | None) -> list[int]:
    """Units with unplaced residents, per assignment class."""
    if units is None:
        return []
    return [
        int((pd.to_numeric(units[f"{c}_unplaced"], errors="coerce").fillna(0) > 0).sum())
        for c in _classes(units, "_unplaced")
    ]


def _flag_counts(fac: gpd.GeoDataFrame | None) -> list[int]:
    """Flagged facilities, per flag."""
    if fac is None:
        return []
    return [int(_flag(fac[col]).sum()) for col, _label, _color in FACILITY_FLAGS if col in fac.columns]


def _tag(c: str, classes: list[str]) -> str:
    """``（紧急避难）`` after a shelter-assignment figure when the run assigned residents for several classes."""
    return f"（{_class_label(c)}）" if len(classes) > 1 else ""


def _n(value, digits: int = 0, unit: str = "") -> str:
    """A figure as the map writes it: thousands separators, ``digits`` decimals, ``—`` when missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    text = f"{float(value):,.{digits}f}" if digits else f"{round(float(value)):,}"
    return text + (f" {unit}" if unit else "")


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{float(value) * 100:.1f}%"


def _name_map(frame: gpd.GeoDataFrame | None, key: str) -> dict:
    if frame is None or key not in frame.columns or "name" not in frame.columns:
        return {}
    return {str(k): n for k, n in zip(frame[key], frame["name"]) if k is not None}


def _labelled(codes, names: dict) -> list:
    """``名称（代码）`` per code (the code alone when the name is unknown; None when there is no code)."""
    out = []
    for c in codes:
        if c is None or (isinstance(c, float) and np.isnan(c)):
            out.append(None)
        else:
            n = names.get(str(c))
            out.append(f"{n}（{c}）" if n else str(c))
    return out


def _run(store, run_id, plan) -> dict:
    """The stored run ``run_id``, else the current audit of ``plan`` (default: the adopted plan)."""
    if run_id is not None:
        run = store.get_analysis(run_id)
        if run["kind"] != KIND:
            raise NotFoundError(
                f"run {run_id} is not an audit", f"编号为 {run_id} 的分析结果不是设施与避难场所审计", run_id=run_id
            )
        return run
    from facilities.audit_service import current_audit

    return current_audit(store, plan=plan)


def no_plan_reason(store, run_id: int | None = None, plan: int | str | None = None) -> str | None:
    """Why the map of these options cannot be drawn for want of a plan (Chinese), else None.

    Without a run and a plan, the audit is of the adopted plan: there must be one. :mod:`maps.registry` turns
    the reason into :class:`maps.registry.MapUnavailable` before it calls :func:`audit_map`.
    """
    from facilities.service import resolve_plan

    if run_id is None and plan is None and resolve_plan(store, None) is None:
        return "尚无已批准的社区划分方案，无法审计：请先批准一个方案，或在地址中用 ?plan=方案编号 指定"
    return None


def _available(store) -> str | None:
    if not store.list_plans():
        return "尚无社区划分方案，无法进行设施与避难场所审计：请先导入或划分社区并批准方案"
    return None


def summary_html(summary: dict) -> str:
    """The county totals of an audit run (Chinese) as the map's summary box."""
    s = summary
    rows: list[tuple[str, str]] = []
    plan = s.get("plan") or {}
    if plan:
        rows.append(("社区划分方案", html.escape(str(plan.get("name", "")))))
    rows += [
        ("社区", _n(s.get("communities"), unit="个")),
        ("无固定办公场所的社区", _n(s.get("communities_without_office"), unit="个")),
        ("综合服务面积不足的社区", _n(s.get("communities_with_space_gap"), unit="个")),
        ("综合服务面积缺口合计", _n(s.get("service_floor_gap_m2"), 1, "m²")),
        (
            "规划可补足缺口的社区",
            _n(s.get("communities_gap_closable_by_plan"), unit="个")
            + f"（部分补足 {_n(s.get('communities_gap_partly_closable'))} 个，"
            f"无可用地块 {_n(s.get('communities_gap_not_closable'))} 个）",
        ),
        ("缺少应配设施的社区", _n(s.get("communities_missing_categories"), unit="个")),
        ("低于最小建筑面积的设施", _n(s.get("facilities_below_minimum"), unit="处")),
        ("用地规划为他用的设施", _n(s.get("facilities_at_risk"), unit="处")),
        ("规划或在建、尚未建成的设施", _n(s.get("facilities_planned_not_built"), unit="处")),
        (
            "避难场所",
            _n(s.get("shelters"), unit="处")
            + (f"（无法评估 {_n(s.get('shelters_cannot_assess'))} 处）" if s.get("shelters_cannot_assess") else ""),
        ),
        ("常住人口", _n(s.get("residents"), unit="人")),
    ]
    rows += _shelter_rows(s)
    if s.get("fixed_share") is not None:
        rows.append(
            (
                "固定避难场所可容纳人口比例",
                _pct(s.get("fixed_share")) + f"（未达标的街道 {_n(s.get('streets_below_fixed_share'))} 个）",
            )
        )
    if s.get("central_shelters") is not None:
        central = s.get("central_shelters")
        n_central = len(central) if isinstance(central, list) else central
        rows.append(("中心避难场所", _n(n_central, unit="处") + f"（应有 {_n(s.get('central_shelters_needed'))} 处）"))
    rows += [
        ("新建住宅项目", _n(s.get("developments"), unit="个")),
        (
            "配建设施面积不足的项目",
            _n(s.get("developments_owing"), unit="个") + f"，欠配 {_n(s.get('developments_owed_m2'), 1, 'm²')}",
        ),
        ("已移交社区但面积不足的项目", _n(s.get("developments_handed_over_short"), unit="个")),
    ]
    g = s.get("gap_plan") or {}
    if g:
        rows += [
            (
                "闲置、购租空间可补足的社区",
                _n(g.get("communities_closed"), unit="个")
                + f"（部分补足 {_n(g.get('communities_partly'))} 个，仍有缺口 {_n(g.get('communities_open'))} 个）",
            ),
            (
                "缺口补足面积",
                f"{_n(g.get('closed_m2'), 1)} / {_n(g.get('need_m2'), 1, 'm²')}，"
                f"用空间 {_n(g.get('spaces_used'))} 处，费用 {_n(g.get('cost_yuan'), unit='元')}",
            ),
        ]
    cannot = s.get("cannot_assess") or {}
    if cannot:
        names = {"communities": "社区", "facilities": "设施", "shelters": "避难场所", "developments": "新建住宅项目"}
        units = {"facilities": "处", "shelters": "处"}
        rows.append(
            (
                "无法评估（缺少数据）",
                "、".join(f"{names.get(k, k)} {_n(v)} {units.get(k, '个')}" for k, v in cannot.items()),
            )
        )
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    notes = "".join(f"<li>{html.escape(str(w))}</li>" for w in s.get("warnings") or [])
    notes = f'<ul class="geo-notes">{notes}</ul>' if notes else ""
    return (
        f'<details open><summary>审计汇总（全域）</summary><table class="geo-summary">{body}</table>{notes}</details>'
    )


def _shelter_rows(s: dict) -> list[tuple[str, str]]:
    """Summary rows of each assignment class: placed, unplaced (persons), units out of reach, mean walk (m)."""
    rows: list[tuple[str, str]] = []
    if s.get("shelters_in_hazard_zones"):
        rows.append(("位于灾害风险区的避难场所", _n(s.get("shelters_in_hazard_zones"), unit="处")))
    for c in vocab.SHELTER_CLASSES:
        e = s.get(c)
        if not isinstance(e, dict) or "placed" not in e:
            continue
        label = _class_label(c)
        rows += [
            (f"{label}：步行 {_n(e.get('walk_limit_m'))} 米内可安置", _n(e.get("placed"), unit="人")),
            (
                f"{label}：无法安置",
                _n(e.get("unplaced"), unit="人") + f"（就近避难时 {_n(e.get('unplaced_nearest_first'))} 人）",
            ),
            (f"{label}：步行范围内没有避难场所的居住单元", _n(e.get("units_without_shelter_in_reach"), unit="个")),
            (f"{label}：就近避难时超出容量的场所", _n(e.get("shelters_over_capacity_nearest_first"), unit="处")),
            (f"{label}：平均步行距离", _n(e.get("mean_walk_m"), 1, "米")),
        ]
        wp = e.get("with_plan")
        if isinstance(wp, dict):
            rows.append(
                (
                    f"{label}：按规划补充后仍无法安置",
                    _n(wp.get("unplaced"), unit="人")
                    + f"（规划场所安置 {_n(wp.get('placed_by_planned_shelters'))} 人，"
                    f"规划公园、广场安置 {_n(wp.get('placed_by_sites'))} 人）",
                )
            )
    return rows


@dataclass
class _Audit:
    """One audit run's outputs as the map draws them (frames EPSG:4326; None when the run has no such output).

    The ``_add_*`` steps replace a frame by the labelled copy they drew, so the legend sees what was drawn.
    """

    run: dict
    rid: int
    summary: dict
    tiles_base: str
    comm: gpd.GeoDataFrame
    shel: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame | None
    fac: gpd.GeoDataFrame | None
    parcels: gpd.GeoDataFrame | None
    dev: gpd.GeoDataFrame | None
    sites: gpd.GeoDataFrame | None
    assign: gpd.GeoDataFrame | None
    n_assign: int
    assign_tiles: bool
    gap: gpd.GeoDataFrame | None = None
    hazards: gpd.GeoDataFrame | None = None
    comm_names: dict = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    unit_layers: list = field(default_factory=list)
    over_n: int = 0


def audit_map(
    store,
    *,
    settings: Settings | None = None,
    tiles_base: str = "",
    run_id: int | None = None,
    plan: int | str | None = None,
    **_options,
) -> folium.Map:
    """Map of one audit run (default: the current audit of the adopted plan, computed if needed).

    Layers, bottom to top: communities, developments, reserved parcels, candidate shelter sites, units with
    unplaced residents, assignment lines, shelters, flagged facilities; then the legend, the summary box and
    the layer control. Geometries are EPSG:4326; figures in m², m, residents and households.
    """
    a = _read_run(store, _run(store, run_id, plan), tiles_base)
    _label_communities(store, a)
    m = _new_audit_map(store, a, settings)
    _add_communities(m, a)
    _add_developments(m, a)
    _add_parcels(m, a)
    _add_sites(m, a)
    _add_unplaced_units(m, a)
    _add_assignment(m, a)
    _add_gap_plan(m, a)
    _add_hazards(m, a)
    _add_shelters(m, a)
    _add_facilities(m, a)
    _legend("图例", _legend_rows(a)).add_to(m)
    Control(summary_html(a.summary), "bottomleft", "geo-audit-summary").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _read_run(store, run: dict, tiles_base: str) -> _Audit:
    """Read the outputs of ``run`` the map draws (the assignment only as a sample when it goes by tiles)."""
    rid = int(run["id"])
    outputs = run.get("outputs") or {}

    def read(name):
        return store.read_analysis_output(rid, name) if outputs.get(name) else None

    comm, shel, units, fac, parcels, dev, sites = (
        read(n) for n in ("communities", "shelters", "units", "facilities", "parcels", "developments", "shelter_sites")
    )
    if comm is None:
        raise NotFoundError(f"audit run {rid} has no communities", f"审计运行 {rid} 没有社区结果", run_id=rid)
    n_assign = int(outputs.get("assignment", 0))
    assign_tiles = use_tiles(n_assign)
    assign = store.read_analysis_output(rid, "assignment", limit=1 if assign_tiles else None) if n_assign else None
    a = _Audit(
        run,
        rid,
        run.get("summary") or {},
        tiles_base,
        comm,
        shel,
        units,
        fac,
        parcels,
        dev,
        sites,
        assign,
        n_assign,
        assign_tiles,
    )
    a.gap = read("gap_plan")
    a.hazards = read("hazard_zones")
    return a


def _label_communities(store, a: _Audit) -> None:
    """Street names, the "cannot be assessed" flag and the closing parcels of the communities; the classes."""
    comm = a.comm
    streets = store.read_layer("admin_areas")
    streets = streets[streets["level"] == "street"] if "level" in streets.columns else streets.iloc[0:0]
    street_names = _name_map(streets, "code")
    comm_names = _name_map(comm, "community_code")
    comm = comm.copy()
    comm["street_zh"] = _labelled(comm.get("street_code", pd.Series([None] * len(comm))), street_names)
    comm["cannot"] = (
        comm["service_floor_status"].eq("cannot_assess") if "service_floor_status" in comm.columns else False
    )
    if "closing_parcel_ids" in comm.columns:
        comm["closing_parcel_zh"] = [
            None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).replace(",", "、")
            for v in comm["closing_parcel_ids"]
        ]
    a.comm, a.comm_names, a.classes = comm, comm_names, _classes(comm, "_unplaced")


def _new_audit_map(store, a: _Audit, settings: Settings | None) -> folium.Map:
    """The map with its title, the hatch pattern for "cannot be assessed" and the audit's CSS."""
    run, rid, summary, comm, units, shel, fac, assign_tiles = (
        a.run,
        a.rid,
        a.summary,
        a.comm,
        a.units,
        a.shel,
        a.fac,
        a.assign_tiles,
    )
    plan_row = summary.get("plan") or {}
    when = (
        run["created_at"].strftime("%Y-%m-%d %H:%M")
        if hasattr(run["created_at"], "strftime")
        else str(run["created_at"])
    )
    m = new_map(
        bounds_of(*(f for f in (comm, units, shel) if f is not None)),
        settings=settings,
        title_zh="设施与避难场所审计",
        subtitle_zh=(
            f"审计运行 {rid}（{when}）；方案：{plan_row.get('name', run.get('plan_id'))}；社区 {len(comm):,} 个，"
            f"避难场所 {len(shel) if shel is not None else 0:,} 处；点击要素查看审计结果"
        ),
        synthetic_zh=synthetic_note(store),
        tiles_needed=assign_tiles or use_tiles(max(_unplaced_counts(units) + _flag_counts(fac) + [0])),
    )
    # canvas pattern for "cannot be assessed" (Leaflet's canvas renderer takes any fillStyle)
    Script(
        "window.geoAudit = {hatch: (function(){ var c = document.createElement('canvas'); c.width = c.height = 8;"
        f" var x = c.getContext('2d'); x.fillStyle = {js(HATCH_BG)}; x.fillRect(0, 0, 8, 8);"
        f" x.strokeStyle = {js(HATCH_LINE)}; x.lineWidth = 1.5; x.beginPath(); x.moveTo(-2, 10); x.lineTo(10, -2);"
        " x.moveTo(-2, 2); x.lineTo(2, -2); x.moveTo(6, 10); x.lineTo(10, 6); x.stroke();"
        " return x.createPattern(c, 'repeat'); })()};"
    ).add_to(m)
    m.get_root().header.add_child(
        folium.Element(
            "<style>.geo-audit-summary{max-width:380px;max-height:44vh;overflow-y:auto}"
            ".geo-audit-summary summary{font-weight:bold;cursor:pointer}"
            ".geo-summary{border-collapse:collapse;font-size:11.5px;line-height:1.35;margin-top:4px}"
            ".geo-summary th{text-align:left;color:#555;font-weight:normal;padding:1px 8px 1px 0;"
            "vertical-align:top;white-space:nowrap}"
            ".geo-summary td{vertical-align:top}"
            ".geo-notes{margin:4px 0 0;padding-left:16px;font-size:12px;color:#8a6d00}"
            ".geo-legend{max-height:46vh;overflow-y:auto}"
            ".geo-legend .ring{border-radius:50%;background:transparent!important}</style>"
        ),
        name="geo_audit_css",
    )
    return m


def _add_communities(m: folium.Map, a: _Audit) -> None:
    """Communities coloured by their number of findings, hatched where the floor area cannot be assessed."""
    rid, comm, classes = a.rid, a.comm, a.classes
    issue_js = (
        "function(n){"
        + "".join(f"if (n<={t}) return {js(c)};" for t, c, _ in ISSUE_CLASSES if t is not None)
        + f"return {js(ISSUE_CLASSES[-1][1])};}}"
    )
    comm_fields = _fields(COMMUNITY_FIELDS, comm)
    comm_fields += [  # residents of the group each required category serves (issue 17)
        [col, f"服务对象人口·{vocab.FACILITY_CATEGORIES.get(col[: -len('_group_residents')], col)}", "人", None]
        for col in comm.columns
        if col.endswith("_group_residents")
    ]
    for c in classes:
        tag = _tag(c, classes)
        comm_fields += _fields(
            [
                (f"{c}_demand", f"需避难安置的居民{tag}", "人"),
                (f"{c}_placed", f"可安置的居民{tag}", "人"),
                (f"{c}_unplaced", f"无法安置的居民{tag}", "人"),
                (f"{c}_placed_share", f"安置比例{tag}", "%"),
            ],
            comm,
        )
    comm_layer = DataLayer(
        f"社区审计结果（按问题数着色，{len(comm)} 个）",
        f"analysis_{rid}_communities",
        gdf=comm,
        fields=comm_fields,
        columns=["cannot"],
        tooltip_field="name",
        style_js=(
            "function(p){ var c = p.cannot; return {color: c ? " + js(HATCH_LINE) + " : '#333', weight: c ? 2 : 1.2,"
            " dashArray: c ? '5 4' : null, fillOpacity: c ? 0.75 : 0.45,"
            f" fillColor: c ? geoAudit.hatch : ({issue_js})(p.issues || 0)}}; }}"
        ),
    )
    comm_layer.add_to(m)
    # Points (circle markers) would go to the map's own canvas, stacked above the data layers' shared canvas, and take
    # every click: polygons and lines under them would never open their popups.  One canvas for all layers.
    name = comm_layer.get_name()
    Script(
        f"if ({name}.options && {name}.options.renderer) {{map}}.options.renderer = {name}.options.renderer;"
    ).add_to(m)


def _add_developments(m: folium.Map, a: _Audit) -> None:
    """New residential developments by whether they owe facility floor area (m²)."""
    rid, dev, comm_names = a.rid, a.dev, a.comm_names
    if dev is not None and len(dev):
        dev = dev.copy()
        dev["community_zh"] = _labelled(dev["community_code"], comm_names) if "community_code" in dev.columns else None
        owing = int((dev["status_check"] == "gap").sum()) if "status_check" in dev.columns else 0
        DataLayer(
            f"新建住宅项目（配建不足 {owing} 个，共 {len(dev)} 个）",
            f"analysis_{rid}_developments",
            gdf=dev,
            fields=_fields(DEVELOPMENT_FIELDS, dev),
            columns=["status_check", "handover_short"],
            style_js=(
                "function(p){ if (p.handover_short===true) return {color:"
                + js(HANDOVER_SHORT)
                + ", weight:3.5, fillColor:"
                + js(HANDOVER_SHORT)
                + ", fillOpacity:0.45};"
                " if (p.status_check==='gap') return {color:" + js(DEV_COLORS["gap"]) + ", weight:2.5, dashArray:'6 3',"
                " fillColor:" + js(DEV_COLORS["gap"]) + ", fillOpacity:0.35};"
                " if (p.status_check==='ok') return {color:"
                + js(DEV_COLORS["ok"])
                + ", weight:1.5, fillColor:"
                + js(DEV_COLORS["ok"])
                + ", fillOpacity:0.2};"
                " return {color:"
                + js(HATCH_LINE)
                + ", weight:1.5, dashArray:'5 4', fillColor: geoAudit.hatch, fillOpacity:0.8}; }"
            ),
        ).add_to(m)
        a.dev = dev


def _add_parcels(m: folium.Map, a: _Audit) -> None:
    """Reserved community-service parcels: those assigned to close a floor-area gap apart."""
    rid, parcels, comm_names = a.rid, a.parcels, a.comm_names
    if parcels is not None and len(parcels):
        parcels = parcels.copy()
        parcels["community_zh"] = (
            _labelled(parcels["community_code"], comm_names) if "community_code" in parcels.columns else None
        )
        parcels["assigned_zh"] = (
            _labelled(parcels["assigned_to_community"], comm_names)
            if "assigned_to_community" in parcels.columns
            else None
        )
        assigned = parcels["assigned_zh"].notna().to_numpy()
        pf = _fields(PARCEL_FIELDS, parcels)
        DataLayer(
            f"其他预留社区服务设施用地（{int((~assigned).sum())} 块）",
            f"analysis_{rid}_parcels",
            gdf=parcels[~assigned],
            fields=pf,
            columns=["occupied"],
            title_field="planned_use",
            style_js=(
                "function(p){ return {color:'#41ab5d', weight:1, fillColor: p.occupied ? "
                + js(PARCEL_OCCUPIED)
                + " : "
                + js(PARCEL_FREE)
                + ", fillOpacity:0.5}; }"
            ),
        ).add_to(m)
        DataLayer(
            f"用于补足面积缺口的预留地块（{int(assigned.sum())} 块）",
            f"analysis_{rid}_parcels",
            gdf=parcels[assigned],
            fields=pf,
            title_field="planned_use",
            style_js=f"function(p){{ return {{color:{js(PARCEL_ASSIGNED)}, weight:3,"
            f" fillColor:{js(PARCEL_ASSIGNED)}, fillOpacity:0.6}}; }}",
        ).add_to(m)
        a.parcels = parcels


def _add_sites(m: folium.Map, a: _Audit) -> None:
    """Parks and squares of the plan that could take shelters (off by default)."""
    rid, sites, comm_names = a.rid, a.sites, a.comm_names
    if sites is not None and len(sites):
        sites = sites.copy()
        sites["community_zh"] = (
            _labelled(sites["community_code"], comm_names) if "community_code" in sites.columns else None
        )
        DataLayer(
            f"规划公园、广场（可设避难场所 {len(sites)} 块）",
            f"analysis_{rid}_shelter_sites",
            gdf=sites,
            fields=_fields(SITE_FIELDS, sites),
            columns=["emergency_assigned_with_plan"],
            title_field="planned_use",
            show=False,
            style_js=(
                "function(p){ var u = (p.emergency_assigned_with_plan || 0) > 0; return {color:"
                + js(SITE_USED)
                + ", weight: u ? 2.5 : 1, dashArray:'4 3', fillColor: u ? "
                + js(SITE_USED)
                + " : "
                + js(SITE_COLOR)
                + ", fillOpacity:0.45}; }"
            ),
        ).add_to(m)
        a.sites = sites


def _add_unplaced_units(m: folium.Map, a: _Audit) -> None:
    """Per assignment class: population units with unplaced residents, coloured by the reason."""
    rid, units, classes, comm_names, tiles_base = a.rid, a.units, a.classes, a.comm_names, a.tiles_base
    unit_layers = []
    if units is not None and classes:
        units = units.copy()
        units["community_zh"] = (
            _labelled(units["community_code"], comm_names) if "community_code" in units.columns else None
        )
        for c in _classes(units, "_unplaced"):
            label, tag = _class_label(c), _tag(c, classes)
            col, why = f"{c}_unplaced", f"{c}_unplaced_reason"
            sel = units[pd.to_numeric(units[col], errors="coerce").fillna(0) > 0]
            tiles = use_tiles(len(sel))
            # tiles carry the stored columns only (no joined community name)
            fields = _fields(
                UNIT_FIELDS
                if not tiles
                else [
                    ("unit_id", "居住单元编号", None),
                    ("community_code", "所属社区代码", None),
                    ("residents", "常住人口", "人"),
                ],
                units,
            )
            fields += _fields(
                [
                    (f"{c}_placed", f"可安置{tag}", "人"),
                    (col, f"无法安置{tag}", "人"),
                    (why, "无法安置原因", None),
                    (f"{c}_unplaced_nearest_first", "就近避难时无法安置", "人"),
                    (f"{c}_nearest_walk_m", "到最近避难场所步行距离", "米"),
                ],
                units,
            )
            color_js = (
                "function(r){ r = r || ''; if (r.indexOf('容量') >= 0) return "
                + js(UNPLACED_COLORS["capacity"])
                + "; if (r.indexOf('网络') >= 0) return "
                + js(UNPLACED_COLORS["network"])
                + "; return "
                + js(UNPLACED_COLORS["reach"])
                + "; }"
            )
            layer = DataLayer(
                f"有无法安置居民的居住单元（{label}，{len(sel):,} 个）",
                f"analysis_{rid}_units",
                gdf=None if tiles else sel,
                tiles=tile_url(f"analysis_{rid}_units", tiles_base) if tiles else None,
                fields=fields,
                columns=[why],
                style_js="function(p){ return {color:'#3f007d', weight:0.8, fillOpacity:0.7,"
                f" fillColor:({color_js})(p[{js(why)}])}}; }}",
                filter_js=f"function(p){{ return (p[{js(col)}] || 0) > 0; }}" if tiles else "null",
            )
            layer.add_to(m)
            unit_layers.append(layer)
    a.units, a.unit_layers = units, unit_layers


def _add_assignment(m: folium.Map, a: _Audit) -> None:
    """Assignment lines unit -> shelter, width by persons (off by default above ``ASSIGNMENT_SHOW_MAX``)."""
    rid, assign, n_assign, assign_tiles, units, shel, tiles_base = (
        a.rid,
        a.assign,
        a.n_assign,
        a.assign_tiles,
        a.units,
        a.shel,
        a.tiles_base,
    )
    if assign is not None and n_assign:
        fields = [
            ["shelter_class", "避难场所类别", None, vocab.SHELTER_CLASSES],
            ["unit_id", "居住单元编号", None, None],
        ]
        if not assign_tiles:
            assign = assign.copy()
            assign["unit_zh"] = _labelled(assign["unit_id"], _name_map(units, "unit_id"))
            assign["shelter_zh"] = _labelled(assign["shelter_id"], _name_map(shel, "shelter_id"))
            fields = [
                ["shelter_class", "避难场所类别", None, vocab.SHELTER_CLASSES],
                ["unit_zh", "居住单元", None, None],
                ["shelter_zh", "避难场所", None, None],
            ]
        else:
            fields.append(["shelter_id", "避难场所编号", None, None])
        fields += [["persons", "安置人数", "人", None], ["walk_m", "步行距离", "米", None]]
        DataLayer(
            f"避难安置（居住单元→避难场所，线宽表示人数，{n_assign:,} 条）",
            f"analysis_{rid}_assignment",
            gdf=None if assign_tiles else assign,
            tiles=tile_url(f"analysis_{rid}_assignment", tiles_base) if assign_tiles else None,
            fields=fields,
            title_field=None,
            style_js=(
                f"function(p){{ return {{color:{js(ASSIGNMENT_COLOR)}, opacity:0.65, fill:false,"
                " weight: Math.max(0.6, Math.min(6, Math.sqrt(p.persons || 0) / 7))}; }"
            ),
            show=n_assign <= ASSIGNMENT_SHOW_MAX,
        ).add_to(m)


def _add_gap_plan(m: folium.Map, a: _Audit) -> None:
    """Gap plan: a line from each community to each space closing one of its needs, coloured by how the space is
    gained (idle asset free / leased / bought, purchase, lease, swap, extension); owner and terms in the popup."""
    gap = a.gap
    if gap is None or not len(gap) or "kind" not in gap.columns:
        return
    lines = gap[gap["kind"].isin(list(GAP_KIND_COLORS))].copy()
    if not len(lines):
        return
    lines["community_zh"] = _labelled(lines["community_code"], a.comm_names)
    lines["kind_zh"] = lines["kind"].map(GAP_KIND_ZH)
    colors = "{" + ",".join(f"{js(k)}:{js(v)}" for k, v in GAP_KIND_COLORS.items()) + "}"
    DataLayer(
        f"缺口补足方案（社区→闲置、购租、置换、扩建空间，{len(lines):,} 条）",
        f"analysis_{a.rid}_gap_plan",
        gdf=lines,
        fields=_fields(GAP_PLAN_FIELDS, lines),
        columns=["kind"],
        title_field="candidate_name",
        style_js=f"function(p){{ var c = {colors}[p.kind] || '#444';"
        " return {color: c, weight: 3.5, opacity: 0.9, dashArray: p.kind==='extension' ? '6 4' : null,"
        " fill: false}; }",
    ).add_to(m)
    a.gap = lines


def _add_hazards(m: folium.Map, a: _Audit) -> None:
    """Art. 15: hazard zones (fault bands, flood extents, landslide radii), hatched red, under the shelters."""
    zones = a.hazards
    if zones is None or not len(zones):
        return
    DataLayer(
        swatch(HAZARD_COLOR, f"灾害风险区（{len(zones)} 处）", dot=False),
        f"analysis_{a.rid}_hazard_zones",
        gdf=zones,
        fields=_fields(HAZARD_FIELDS, zones),
        columns=["level"],
        title_field="name",
        style_js=f"function(p){{ return {{color:{js(HAZARD_COLOR)}, weight:1.5, dashArray:'4 3',"
        f" fillColor:{js(HAZARD_COLOR)}, fillOpacity: p.level==='high' ? 0.28 : 0.16}}; }}",
    ).add_to(m)


def _add_shelters_in_hazards(m: folium.Map, a: _Audit, sf: list) -> None:
    shel = a.shel
    if shel is None or "in_hazard" not in shel.columns:
        return
    inside = shel[_flag(shel["in_hazard"])]
    if not len(inside):
        return
    DataLayer(
        f"位于灾害风险区的避难场所（{len(inside)} 处）",
        f"analysis_{a.rid}_shelters",
        gdf=inside,
        fields=sf,
        style_js=f"function(p){{ return {{color:{js(HAZARD_COLOR)}, weight:3, dashArray:'2 3', fill:false}}; }}",
        point={"radius": 12, "radiusField": "capacity_persons", "scale": 0.08, "min": 11, "max": 21},
    ).add_to(m)


def _add_shelters(m: folium.Map, a: _Audit) -> None:
    """One layer per shelter class (size by capacity, persons), a ring around those over capacity."""
    rid, shel, summary = a.rid, a.shel, a.summary
    over_n = 0
    if shel is not None and len(shel):
        sh_classes = _classes(shel, "_nearest_first_load")
        sf = _fields(SHELTER_FIELDS, shel)
        shel = shel.copy()
        for c in sh_classes:
            tag = _tag(c, sh_classes)
            sf += _fields(
                [
                    (f"{c}_assigned", f"分配安置人数{tag}", "人"),
                    (f"{c}_nearest_first_load", f"就近避难人数{tag}", "人"),
                    (f"{c}_over_capacity_nearest_first", f"就近避难时超出容量{tag}", None),
                    (f"{c}_utilisation", f"容量利用率{tag}", "%"),
                ],
                shel,
            )
            # a site of a class that takes no one in this assignment: no figures (not 0 persons)
            serving = (summary.get(c) or {}).get("serving_classes") or [c]
            idle = ~shel["shelter_class"].isin(serving).to_numpy()
            for k in ("assigned", "nearest_first_load", "over_capacity_nearest_first", "utilisation"):
                if f"{c}_{k}" in shel.columns:
                    shel[f"{c}_{k}"] = shel[f"{c}_{k}"].astype(object).where(~idle, None)
        over_cols = [f"{c}_over_capacity_nearest_first" for c in sh_classes]
        shel["over_capacity"] = np.column_stack([_flag(shel[c]) for c in over_cols]).any(axis=1) if over_cols else False
        counts = shel["shelter_class"].value_counts().to_dict()
        for code, label in vocab.SHELTER_CLASSES.items():
            n = int(counts.get(code, 0))
            if not n:
                continue
            color = SHELTER_COLORS.get(code, "#e31a1c")
            DataLayer(
                swatch(color, f"{label}（{n}）", dot=False),
                f"analysis_{rid}_shelters",
                gdf=shel[shel["shelter_class"] == code],
                fields=sf,
                columns=["assessable"],
                style_js=(
                    f"function(p){{ return {{color: p.assessable===false ? {js(HATCH_LINE)} : '#fff', weight:1.5,"
                    f" fillColor: p.assessable===false ? {js(HATCH_BG)} : {js(color)}, fillOpacity:0.8}}; }}"
                ),
                point={"radius": 6, "radiusField": "capacity_persons", "scale": 0.06, "min": 4, "max": 14},
            ).add_to(m)
        over = shel[shel["over_capacity"]]
        over_n = len(over)
        if over_n:
            DataLayer(
                f"就近避难时超出容量的避难场所（{over_n} 处）",
                f"analysis_{rid}_shelters",
                gdf=over,
                fields=sf,
                style_js=f"function(p){{ return {{color:{js(OVER_CAPACITY)}, weight:2.5, fill:false}}; }}",
                point={
                    "radius": 10,
                    "radiusField": "capacity_persons",
                    "scale": 0.08,
                    "min": 9,
                    "max": 19,
                },  # around the dot
            ).add_to(m)
    a.shel, a.over_n = shel, over_n
    if shel is not None and len(shel):
        _add_shelters_in_hazards(m, a, _fields(SHELTER_FIELDS, shel))


def _add_facilities(m: folium.Map, a: _Audit) -> None:
    """Flagged facilities, one layer per flag (planned ones hollow and off by default)."""
    rid, fac, comm_names, tiles_base = a.rid, a.fac, a.comm_names, a.tiles_base
    if fac is not None and len(fac):
        fac = fac.copy()
        fac["community_zh"] = _labelled(fac["community_code"], comm_names) if "community_code" in fac.columns else None
        ff = _fields(FACILITY_FIELDS, fac)
        for col, label, color in FACILITY_FLAGS:
            if col not in fac.columns:
                continue
            sel = fac[_flag(fac[col])]
            if not len(sel):
                continue
            hollow = col == "planned_not_built"
            tiles = use_tiles(len(sel))
            DataLayer(
                swatch(color, f"{label}（{len(sel):,}）"),
                f"analysis_{rid}_facilities",
                gdf=None if tiles else sel,
                tiles=tile_url(f"analysis_{rid}_facilities", tiles_base) if tiles else None,
                fields=[f if f[0] != "community_zh" else ["community_code", "所在社区代码", None, None] for f in ff]
                if tiles
                else ff,
                filter_js=f"function(p){{ var v = p[{js(col)}]; return !!v && v !== 'false'; }}" if tiles else "null",
                style_js=(
                    f"function(p){{ return {{color:{js(color)}, weight:2.5, fillColor:'#fff', fillOpacity:0.9}}; }}"
                    if hollow
                    else f"function(p){{ return {{color:'#222', weight:1, fillColor:{js(color)}, fillOpacity:0.9}}; }}"
                ),
                point={"radius": 5 if hollow else 6},
                show=not hollow,  # planned facilities are many and not a defect of what exists
            ).add_to(m)
        a.fac = fac


def _legend_rows(a: _Audit) -> list[tuple[str, str, str]]:
    """Legend rows (kind, colour or CSS background, label) of what the map draws."""
    shel, over_n, n_assign, unit_layers, fac, parcels, sites, dev = (
        a.shel,
        a.over_n,
        a.n_assign,
        a.unit_layers,
        a.fac,
        a.parcels,
        a.sites,
        a.dev,
    )
    rows = [("fill", c, f"社区：{label}") for _, c, label in ISSUE_CLASSES]
    rows.append(("fill", HATCH_CSS, "社区：综合服务面积无法评估（缺少数据）"))
    rows += [
        ("dot", SHELTER_COLORS[c], label + "（大小表示容纳人数）")
        for c, label in vocab.SHELTER_CLASSES.items()
        if shel is not None and (shel["shelter_class"] == c).any()
    ]
    if shel is not None and "assessable" in shel.columns and (~_flag(shel["assessable"])).any():
        rows.append(("dot", HATCH_BG, "避难场所：无法评估（缺少有效面积和容纳人数）"))
    if over_n:
        rows.append(("ring", OVER_CAPACITY, "就近避难时超出容量的避难场所（黑圈）"))
    if a.hazards is not None and len(a.hazards):
        rows.append(("fill", HAZARD_COLOR, "灾害风险区（断裂带避让带、洪涝淹没区、地质灾害隐患点影响范围）"))
        rows.append(("ring", HAZARD_COLOR, "位于灾害风险区的避难场所（红色虚线圈）"))
    if n_assign:
        rows.append(("line", ASSIGNMENT_COLOR, "避难安置：居住单元→避难场所（线宽表示人数）"))
    if a.gap is not None and len(a.gap) and "kind" in a.gap.columns:
        kinds = set(a.gap["kind"])
        rows += [("line", c, f"缺口补足：{GAP_KIND_ZH[k]}") for k, c in GAP_KIND_COLORS.items() if k in kinds]
    if unit_layers:
        rows += [
            ("fill", UNPLACED_COLORS["reach"], "居住单元：步行范围内没有避难场所"),
            ("fill", UNPLACED_COLORS["capacity"], "居住单元：步行范围内避难场所容量已满"),
            ("fill", UNPLACED_COLORS["network"], "居住单元：距步行网络过远"),
        ]
    if fac is not None and len(fac):
        rows += [
            ("dot", color, label)
            for col, label, color in FACILITY_FLAGS
            if col in fac.columns and _flag(fac[col]).any()
        ]
    if parcels is not None and len(parcels):
        rows += [
            ("fill", PARCEL_ASSIGNED, "用于补足面积缺口的预留地块"),
            ("fill", PARCEL_FREE, "其他预留社区服务设施用地（空闲）"),
            ("fill", PARCEL_OCCUPIED, "预留用地（已有设施占用）"),
        ]
    if sites is not None and len(sites):
        rows += [
            ("fill", SITE_USED, "规划公园、广场：按规划补充时需设为避难场所"),
            ("fill", SITE_COLOR, "规划公园、广场：可设为避难场所"),
        ]
    if dev is not None and len(dev):
        rows += [
            ("fill", DEV_COLORS["gap"], "新建住宅项目：配建设施面积不足"),
            ("fill", DEV_COLORS["ok"], "新建住宅项目：配建达标"),
        ]
        if "handover_short" in dev.columns and _flag(dev["handover_short"]).any():
            rows.append(("fill", HANDOVER_SHORT, "新建住宅项目：已移交社区但面积不足"))
        if "status_check" in dev.columns and (dev["status_check"] == "cannot_assess").any():
            rows.append(("fill", HATCH_CSS, "新建住宅项目：无法评估（缺少数据）"))
    return rows


def _legend(title_zh: str, rows: list[tuple[str, str, str]]) -> Control:
    """Legend box like :func:`maps.base.legend`, with a ``ring`` kind (hollow circle) and CSS backgrounds (hatching)."""
    items = []
    for kind, color, label in rows:
        if kind == "line":
            style = f"border-color:{color}"
        elif kind == "ring":
            style = f"border:3px solid {color}"
        else:
            style = f"background:{color}"
        items.append(
            f'<div class="row"><span class="sw {kind}" style="{html.escape(style)}"></span>{html.escape(label)}</div>'
        )
    return Control(
        f'<div class="geo-legend"><h4>{html.escape(title_zh)}</h4>{"".join(items)}</div>', "bottomright", "geo-legend"
    )
