"""Facilities and shelters map for staff: one layer per facility category and per shelter class (Chinese)."""

from __future__ import annotations

import folium

from geo_service.core import vocab
from geo_service.core.settings import Settings

from .base import (
    PALETTE,
    DataLayer,
    bounds_of,
    field_specs,
    js,
    legend,
    new_map,
    swatch,
    synthetic_note,
    tile_url,
    use_tiles,
)

FACILITY_FIELDS = [
    "name",
    "category",
    "status",
    "address",
    "floor_area_m2",
    "land_area_m2",
    "capacity",
    "opening_hours",
    "source_id",
]
SHELTER_FIELDS = ["name", "shelter_class", "status", "address", "effective_area_m2", "capacity_persons", "source_id"]
SHELTER_COLORS = {"emergency": "#e31a1c", "fixed": "#b10026", "central": "#67000d"}
CATEGORY_COLORS = {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(vocab.FACILITY_CATEGORIES)}


def facilities_map(store, *, settings: Settings | None = None, tiles_base: str = "", **_options) -> folium.Map:
    """Every facility by category and every shelter by class, popups with the declared fields in Chinese."""
    fac = store.read_layer("facilities")
    shel = store.read_layer("shelters")
    tiles = use_tiles(len(fac) + len(shel))
    m = new_map(
        bounds_of(fac, shel),
        settings=settings,
        title_zh="社区服务设施与应急避难场所",
        subtitle_zh=f"社区服务设施 {len(fac):,} 处，应急避难场所 {len(shel):,} 处；"
        "右上角按类别开关图层，点击要素查看详情",
        synthetic_zh=synthetic_note(store),
        tiles_needed=tiles,
    )
    fac_fields = field_specs("facilities", FACILITY_FIELDS)
    counts = fac["category"].value_counts().to_dict() if len(fac) else {}
    for code, label in vocab.FACILITY_CATEGORIES.items():
        n = int(counts.get(code, 0))
        if not n:
            continue
        color = CATEGORY_COLORS[code]
        style = f"function(p){{return {{color:'#333', weight:1, fillColor:{js(color)}, fillOpacity:0.8}};}}"
        DataLayer(
            swatch(color, f"{label}（{n}）"),
            "facilities",
            gdf=None if tiles else fac[fac["category"] == code],
            tiles=tile_url("facilities", tiles_base) if tiles else None,
            fields=fac_fields,
            style_js=style,
            filter_js=f"function(p){{return p.category==={js(code)};}}" if tiles else "null",
            point={"radius": 5},
        ).add_to(m)
    shel_fields = field_specs("shelters", SHELTER_FIELDS)
    counts = shel["shelter_class"].value_counts().to_dict() if len(shel) else {}
    for code, label in vocab.SHELTER_CLASSES.items():
        n = int(counts.get(code, 0))
        if not n:
            continue
        color = SHELTER_COLORS[code]
        style = f"function(p){{return {{color:'#fff', weight:1.5, fillColor:{js(color)}, fillOpacity:0.75}};}}"
        DataLayer(
            swatch(color, f"{label}（{n}）", dot=False),
            "shelters",
            gdf=None if tiles else shel[shel["shelter_class"] == code],
            tiles=tile_url("shelters", tiles_base) if tiles else None,
            fields=shel_fields,
            style_js=style,
            filter_js=f"function(p){{return p.shelter_class==={js(code)};}}" if tiles else "null",
            point={"radius": 7, "radiusField": "capacity_persons", "scale": 0.08, "min": 5, "max": 16},
        ).add_to(m)
    legend(
        "图例",
        [
            ("dot", "#1f77b4", "社区服务设施（颜色区分类别，见右上图层列表）"),
            ("fill", SHELTER_COLORS["emergency"], "应急避难场所（圆点大小表示容纳人数）"),
        ],
    ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m
