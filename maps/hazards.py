"""The shelter scenario map: active hazard zones, closed shelters, the new assignment and the residents left
without a place (from a stored ``shelter_scenario`` run, see :mod:`facilities.scenario_service`).

Layers (EPSG:4326, inline GeoJSON; every asset from ``maps/static/vendor``):

- active hazard zones, by level (red high, orange medium, yellow low);
- walking routes of the assignment after the scenario (they avoid the active zones);
- shelters: open ones green (popup: load before/after and capacity), closed ones black with the reason;
- population units with residents left without a place after the scenario, orange;
- a box with the totals (before -> after).
"""

from __future__ import annotations

import folium
import geopandas as gpd

from geo_service.core import vocab
from geo_service.core.settings import Settings

from . import assets
from .base import DataLayer, add_summary_box, bounds_of, js, legend, new_map, summary_table, synthetic_note

LEVEL_COLORS = {"high": "#d7301f", "medium": "#fc8d59", "low": "#fdcc8a"}
OPEN_COLOR, CLOSED_COLOR, ROUTE_COLOR, UNPLACED_COLOR = "#1a9850", "#111111", "#2171b5", "#6a3d9a"

SHELTER_FIELDS = [
    ["shelter_class", "类别", None, vocab.SHELTER_CLASSES],
    ["capacity_persons", "容纳人数", "人", None],
    ["load_before", "情景前安置人数", "人", None],
    ["load_after", "情景后安置人数", "人", None],
    ["closed_reason", "关闭原因", None, None],
]
UNIT_FIELDS = [
    ["demand", "需安置人数", "人", None],
    ["unplaced_before", "情景前无法安置", "人", None],
    ["unplaced_after", "情景后无法安置", "人", None],
    ["unplaced_reason", "原因", None, None],
]
ZONE_FIELDS = [
    ["kind", "灾害类型", None, vocab.HAZARD_KINDS],
    ["level", "风险等级", None, vocab.HAZARD_LEVELS],
    ["radius_m", "影响半径", "m", None],
]
ROUTE_FIELDS = [["persons", "人数", "人", None], ["walk_m", "步行距离", "m", None]]


def totals_html(t: dict) -> str:
    """The scenario's totals as a small Chinese table (before -> after)."""
    rows = [
        ("启用的灾害风险区", "、".join(t.get("hazards_active_zh") or t.get("hazards_active") or []) or "无"),
        (
            "关闭的避难场所",
            f"{t['shelters_closed']} 处（点名关闭 {t['shelters_named_closed']}，位于灾害区 "
            f"{t['shelters_in_active_zones']}）",
        ),
        ("可用容量", f"{t['capacity_before']:,} → {t['capacity_after']:,} 人"),
        ("需安置人数", f"{t['demand']:,} 人"),
        ("无法安置", f"{t['unplaced_before']:,} → {t['unplaced_after']:,} 人"),
        ("平均步行距离", f"{t['mean_walk_before_m'] or '—'} → {t['mean_walk_after_m'] or '—'} 米"),
        ("因灾害封闭的路段", f"{t['edges_removed']} 段"),
    ]
    return summary_table(rows)


def scenario_map(
    store, run: dict, tables: dict[str, gpd.GeoDataFrame], *, settings: Settings | None = None
) -> folium.Map:
    """The folium map of one stored scenario run (``tables``: its outputs by name)."""
    t = run["summary"]
    zones, shelters = tables.get("zones"), tables.get("shelters")
    routes, units = tables.get("routes"), tables.get("units")
    frames = [f for f in (units, shelters, zones) if f is not None and len(f)]
    active = "、".join(t.get("hazards_active_zh") or t.get("hazards_active") or []) or "无"
    m = new_map(
        bounds_of(*frames),
        settings=settings,
        title_zh="避难场所情景分析",
        subtitle_zh=f"运行 {run['id']}；启用灾害风险区：{active}；关闭避难场所 {t['shelters_closed']} 处；"
        "点击要素查看详情",
        synthetic_zh=synthetic_note(store),
    )
    if zones is not None and len(zones):
        colors = js(LEVEL_COLORS)
        DataLayer(
            f"启用的灾害影响区（{len(zones)} 处）",
            f"analysis_{run['id']}_zones",
            gdf=zones,
            fields=ZONE_FIELDS,
            tooltip_field="name",
            style_js=f"function(p){{var c={colors}[p.level]||'#d7301f';"
            "return {color:c,weight:2,fillColor:c,fillOpacity:0.35};}",
        ).add_to(m)
    if routes is not None and len(routes):
        has_line = routes[routes.geometry.notna() & ~routes.geometry.is_empty]
        DataLayer(
            f"情景后的步行避难路线（{len(has_line):,} 条）",
            f"analysis_{run['id']}_routes",
            gdf=has_line,
            fields=ROUTE_FIELDS,
            title_field=None,
            style_js=f"function(p){{return {{color:{js(ROUTE_COLOR)},weight:2.5,opacity:0.8}};}}",
        ).add_to(m)
    if units is not None and len(units):
        lost = units[units["unplaced_after"] > 0]
        DataLayer(
            f"情景后有居民无法安置的人口单元（{len(lost):,} 个）",
            f"analysis_{run['id']}_units",
            gdf=lost,
            fields=UNIT_FIELDS,
            tooltip_field="name",
            style_js=f"function(p){{return {{color:{js(UNPLACED_COLOR)},weight:1.5,fillColor:{js(UNPLACED_COLOR)},"
            "fillOpacity:0.5};}",
        ).add_to(m)
    if shelters is not None and len(shelters):
        shown = shelters[shelters["serving"].astype(bool) | shelters["closed"].astype(bool)]
        DataLayer(
            f"避难场所（{len(shown):,} 处，黑色为关闭）",
            f"analysis_{run['id']}_shelters",
            gdf=shown,
            fields=SHELTER_FIELDS,
            columns=["closed"],
            tooltip_field="name",
            point={"radius": 7},
            style_js=f"function(p){{var c=p.closed?{js(CLOSED_COLOR)}:{js(OPEN_COLOR)};"
            "return {color:'#fff',weight:1.5,fillColor:c,fillOpacity:0.95};}",
        ).add_to(m)
    legend(
        "图例",
        [
            ("fill", LEVEL_COLORS["high"], "灾害影响区（高风险）"),
            ("fill", LEVEL_COLORS["medium"], "灾害影响区（中风险）"),
            ("fill", LEVEL_COLORS["low"], "灾害影响区（低风险）"),
            ("line", ROUTE_COLOR, "步行避难路线（避开灾害区）"),
            ("dot", OPEN_COLOR, "开放的避难场所"),
            ("dot", CLOSED_COLOR, "关闭的避难场所"),
            ("fill", UNPLACED_COLOR, "有居民无法安置的人口单元"),
        ],
    ).add_to(m)
    add_summary_box(m, "情景前 → 情景后", totals_html(t))
    return m


def scenario_page(
    store,
    run: dict,
    tables: dict[str, gpd.GeoDataFrame],
    *,
    settings: Settings | None = None,
    inline: bool = False,
    static_url: str = "/static",
) -> str:
    """The scenario map as one HTML page: assets from ``static_url`` (served) or embedded (``inline``: one file
    that works offline); never a reference to the internet."""
    m = scenario_map(store, run, tables, settings=settings)
    return assets.render_page(m, "the scenario map", static_url=static_url, inline=inline)
