"""The map page of a what-if comparison (issue 17): units coloured by coverage gained or lost, communities by the
change of their service-space gap, shelters by the change of their load (from :mod:`facilities.whatif.compare`).

Layers (EPSG:4326, inline GeoJSON; every asset from ``maps/static/vendor``, no reference to the internet).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from geo_service.core.settings import Settings

from . import assets
from .base import DataLayer, add_summary_box, bounds_of, js, legend, new_map, summary_table, synthetic_note

IDLE_COLOR = "#737373"  # an added or closed shelter whose load does not change
CHANGE_COLORS = {"gained": "#1a9850", "lost": "#d73027", "mixed": "#984ea3", "same": "#bdbdbd"}
UNIT_FIELDS = [
    ["residents", "常住人口", "人", None],
    ["change_zh", "变化", None, None],
    ["gained", "新增覆盖", None, None],
    ["lost", "失去覆盖", None, None],
]
COMMUNITY_FIELDS = [
    ["gap_m2_a", "方案甲面积缺口", "m²", None],
    ["gap_m2_b", "方案乙面积缺口", "m²", None],
    ["gap_change_m2", "缺口变化", "m²", None],
]
SHELTER_FIELDS = [
    ["state_zh", "方案中", None, None],
    ["capacity_persons", "容纳人数", "人", None],
    ["load_a", "方案甲安置", "人", None],
    ["load_b", "方案乙安置", "人", None],
    ["load_change", "变化", "人", None],
]


def _count(v) -> str:
    """Persons with thousands separators; a dash when unknown."""
    return "—" if v is None else f"{int(round(float(v))):,}"


def _summary_html(summary: dict) -> str:
    rows = [
        ("比较", f"{summary['a']} → {summary['b']}"),
        ("新增覆盖（人次）", f"{summary['newly_covered']:,}"),
        ("失去覆盖（人次）", f"{summary['newly_uncovered']:,}"),
        ("面积缺口缩小", "—" if summary["service_gap_closed_m2"] is None else f"{summary['service_gap_closed_m2']} m²"),
        ("未安置避难人数", f"{_count(summary['unplaced_a'])} → {_count(summary['unplaced_b'])}"),
    ]
    rows += [("注", note) for note in summary.get("notes", [])]
    return summary_table(rows)


def _changed_shelters(shelters: gpd.GeoDataFrame, summary: dict) -> gpd.GeoDataFrame:
    """Shelters whose load changes or that are in one state only (an added shelter placing nobody is shown too:
    the summary's notes name it), with ``state_zh``: 新增/关闭/两方案均有, from ``summary['a']``/``['b']``."""
    if not len(shelters):
        return shelters
    in_a, in_b = shelters["in_a"].astype(bool), shelters["in_b"].astype(bool)
    keep = (shelters["load_change"] != 0) | (in_a != in_b)
    out = shelters[keep].copy()
    a, b = in_a[keep], in_b[keep]
    out["state_zh"] = np.where(
        a & b, "两方案均有", np.where(b, f"仅「{summary['b']}」有（新增）", f"仅「{summary['a']}」有（关闭）")
    )
    return out


def comparison_map(store, summary: dict, layers: dict[str, gpd.GeoDataFrame], *, settings: Settings | None = None):
    """The folium map of a comparison (``layers``: ``units``, ``communities``, ``shelters`` difference tables)."""
    units, cm, sh = layers["units"], layers["communities"], layers["shelters"]
    frames = [f for f in (units, cm, sh) if f is not None and len(f)]
    m = new_map(
        bounds_of(*frames),
        settings=settings,
        title_zh="情景方案比较",
        subtitle_zh=f"{summary['a']} → {summary['b']}；点击要素查看详情",
        synthetic_zh=synthetic_note(store),
    )
    cm = cm[cm.geometry.notna()] if len(cm) else cm
    if len(cm):
        DataLayer(
            "社区面积缺口变化",
            "whatif_communities",
            gdf=cm,
            fields=COMMUNITY_FIELDS,
            tooltip_field="name",
            style_js="function(p){var d=p.gap_change_m2||0;var c=d<0?'#1a9850':(d>0?'#d73027':'#999');"
            "return {color:c,weight:1.5,fillOpacity:0};}",
        ).add_to(m)
    changed = units[units["change"] != "same"] if len(units) else units
    if len(changed):
        DataLayer(
            f"覆盖变化的人口单元（{len(changed):,} 个）",
            "whatif_units",
            gdf=changed,
            fields=UNIT_FIELDS,
            columns=["change"],
            tooltip_field="name",
            style_js=f"function(p){{var c={js(CHANGE_COLORS)}[p.change]||'#999';"
            "return {color:c,weight:1,fillColor:c,fillOpacity:0.6};}",
        ).add_to(m)
    moved = _changed_shelters(sh, summary)
    if len(moved):
        DataLayer(
            f"新增、关闭或安置人数变化的避难场所（{len(moved):,} 处）",
            "whatif_shelters",
            gdf=moved,
            fields=SHELTER_FIELDS,
            columns=["load_change"],
            tooltip_field="name",
            point={"radius": 6},
            style_js=f"function(p){{var c=p.load_change>0?'#2171b5':(p.load_change<0?'#fd8d3c':{js(IDLE_COLOR)});"
            "return {color:'#fff',weight:1,fillColor:c,fillOpacity:0.95};}",
        ).add_to(m)
    legend(
        "图例",
        [
            ("fill", CHANGE_COLORS["gained"], "新增覆盖的人口单元"),
            ("fill", CHANGE_COLORS["lost"], "失去覆盖的人口单元"),
            ("fill", CHANGE_COLORS["mixed"], "有增有减"),
            ("line", "#1a9850", "面积缺口缩小的社区"),
            ("line", "#d73027", "面积缺口扩大的社区"),
            ("dot", "#2171b5", "安置人数增加的避难场所"),
            ("dot", "#fd8d3c", "安置人数减少的避难场所"),
            ("dot", IDLE_COLOR, "新增或关闭、安置人数不变的避难场所"),
        ],
    ).add_to(m)
    add_summary_box(m, "情景比较", _summary_html(summary))
    return m


def comparison_page(
    store,
    summary: dict,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    settings: Settings | None = None,
    inline: bool = False,
    static_url: str = "/static",
) -> str:
    """The comparison map as one HTML page: assets from ``static_url`` or embedded (``inline``: works offline)."""
    m = comparison_map(store, summary, layers, settings=settings)
    return assets.render_page(m, "the comparison map", static_url=static_url, inline=inline)
