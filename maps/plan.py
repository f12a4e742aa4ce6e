"""Plan map (Art. 3): communities of a boundary plan coloured by household deviation from the band, labelled,
with every figure of the plan evaluation (``boundaries``) in the popup and the broken rules flagged."""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np

from geo_service.core.settings import Settings

from .base import DataLayer, Script, bounds_of, js, legend, new_map, synthetic_note

DEVIATION_CLASSES = [
    (-1000, "#2166ac", "低于下限 1000 户以上"),
    (-1, "#67a9cf", "低于下限 1–1000 户"),
    (0, "#f7f7f7", "在户数区间内"),
    (1000, "#ef8a62", "超过上限 1–1000 户"),
    (None, "#b2182b", "超过上限 1000 户以上"),
]
FIELDS = [
    ("code", "社区代码", None),
    ("street_code", "所属街道代码", None),
    ("units", "人口单元", "个"),
    ("households", "户数", "户"),
    ("residents", "常住人口", "人"),
    ("band_min", "户数下限", "户"),
    ("band_max", "户数上限", "户"),
    ("deviation_households", "偏离户数区间", "户"),
    ("in_band", "户数在区间内", None),
    ("contiguous", "范围连续", None),
    ("parts", "组成片数", "片"),
    ("barrier_split", "被河流铁路分隔", None),
    ("nested", "嵌套在一个街道内", None),
    ("area_km2", "面积", "km²"),
    ("perimeter_km", "周长", "km"),
    ("polsby_popper", "紧凑度（Polsby-Popper）", None),
    ("convex_hull_ratio", "凸包面积比", None),
    ("arterial_edges_crossed", "跨越主干路段数", "段"),
    ("barrier_crossings_used", "经桥梁通道跨越障碍", "处"),
    ("has_station", "有社区综合服务站", None),
    ("station_min_walk_m", "到服务站最近步行距离", "米"),
    ("station_reach_share", "5分钟内可达服务站的居民比例", "%"),
    ("community_workers", "社区工作者", "人"),
    ("workers_needed", "应配社区工作者", "人"),
    ("households_per_worker", "每名工作者服务户数", "户"),
    ("norm_households_per_worker", "标准每名工作者服务户数", "户"),
    ("residents_moved_in", "相对对比方案迁入居民", "人"),
    ("flags_zh", "问题", None),
]


def _available(store) -> str | None:
    try:
        import boundaries.service  # noqa: F401
    except ImportError:  # pragma: no cover - the package ships with the service
        return "社区划分评估模块不可用"
    if not store.list_plans():
        return "尚无社区划分方案"
    return None


def plan_map(
    store,
    *,
    settings: Settings | None = None,
    tiles_base: str = "",
    plan: str | int | None = None,
    run_id: int | None = None,
    **_options,
) -> folium.Map:
    """Map of one plan (default: the adopted plan, else the newest)."""
    from boundaries.service import PlanService

    svc = PlanService(store)
    plans = svc.list_plans()
    if plan is None:
        chosen = next((p for p in plans if p.get("status") == "adopted"), plans[-1])
        plan = chosen["id"]
    row, ev, version = svc.evaluate(plan)
    comm = ev.communities.copy()
    geo = gpd.GeoDataFrame(
        comm.drop(columns=["geometry"]), geometry=gpd.GeoSeries(comm["geometry"].values, crs=svc.unit_set().crs)
    ).to_crs(4326)
    geo["id"] = np.arange(len(geo))
    geo["flags_zh"] = [[f["label_zh"] for f in (flags or [])] for flags in comm["flags"]]
    geo["has_error"] = [any(f.get("severity") == "error" for f in (flags or [])) for flags in comm["flags"]]
    for col in geo.columns:
        if geo[col].dtype == object and col not in ("flags_zh", "flags", "geometry"):
            geo[col] = geo[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
    geo = geo.drop(columns=["flags"])
    totals = ev.totals
    band = totals.get("band") or [None, None]
    m = new_map(
        bounds_of(geo),
        settings=settings,
        title_zh=f"社区划分方案：{row['name']}",
        subtitle_zh=(
            f"版本 {version}；社区 {totals.get('communities')} 个，户数在 {band[0]}–{band[1]} 户区间内的 "
            f"{totals.get('in_band')} 个，存在问题的 {totals.get('communities_flagged')} 个"
        ),
        synthetic_zh=synthetic_note(store),
    )
    dev_js = (
        "function(v){ if (v===null||v===undefined) return '#bdbdbd';"
        + "".join(
            f"if (v<{t}) return {js(c)};"
            if t is not None and t < 0
            else (f"if (v<={t}) return {js(c)};" if t is not None else "")
            for t, c, _ in DEVIATION_CLASSES
        )
        + f"return {js(DEVIATION_CLASSES[-1][1])};}}"
    )
    fields = [[name, label, unit, None] for name, label, unit in FIELDS if name in geo.columns or name == "flags_zh"]
    layer = DataLayer(
        "社区（按户数偏离着色）",
        "communities",
        gdf=geo,
        fields=fields,
        columns=["has_error", "deviation_households"],
        style_js="function(p){return {color: p.has_error ? '#d7191c' : '#555', weight: p.has_error ? 3 : 1, "
        f"fillOpacity: 0.7, fillColor: ({dev_js})(p.deviation_households)}};}}",
    )
    layer.add_to(m)
    flagged = geo[geo["flags_zh"].map(bool)]
    DataLayer(
        f"存在问题的社区（{len(flagged)} 个）",
        "communities",
        gdf=flagged,
        fields=fields,
        columns=["has_error"],
        style_js="function(p){return {color: p.has_error ? '#d7191c' : '#fdae61', weight: 3, "
        "dashArray: p.has_error ? null : '6 4', fill: false};}",
        show=False,
    ).add_to(m)
    labels = json.loads(
        geo.assign(geometry=geo.geometry.representative_point())[["name", "geometry"]].to_json(drop_id=True)
    )
    Script(
        "L.geoJSON("
        + js(labels)
        + ", {pointToLayer: function(f, ll){ return L.marker(ll, {icon: L.divIcon({className: 'geo-label', "
        "html: geoMaps.esc(f.properties.name || ''), iconSize: null}), interactive: false}); }}).addTo({map});"
    ).add_to(m)
    m.get_root().header.add_child(
        folium.Element(
            "<style>.geo-label{font:12px sans-serif;color:#222;text-shadow:0 0 2px #fff,0 0 2px #fff;"
            "white-space:nowrap;transform:translate(-50%,-50%)}</style>"
        ),
        name="geo_plan_labels",
    )
    legend(
        "户数偏离区间",
        [("fill", c, label) for _, c, label in DEVIATION_CLASSES] + [("line", "#d7191c", "违反规则（红色粗边框）")],
    ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m
