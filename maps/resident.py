"""The resident page: nearest shelter and service points with walking routes, phone-first, in Chinese.

Drawn with MapLibre GL JS from the service's own vector tiles (walking network, road names, compounds, facilities
and shelters), so streets and places show without any basemap; a raster basemap (``GEO_BASEMAP``) is an option,
off by default.  Labels need no glyph server: the style has no ``glyphs`` URL, and MapLibre draws every character
on the phone with TinySDF from the device's own fonts (``text-font`` lists common CJK fonts, then sans-serif), so
the page works fully offline.

Two modes, one page (``maps/static/resident/resident.js``):

- ``service``: taps ask ``/nearest`` (profiles, turn-by-turn steps); when the service cannot be reached the page
  answers from the per-area files (:mod:`maps.resident_answers`) cached by its service worker;
- ``static`` (``geo-service export-resident``): every answer comes from the exported per-area files.
"""

from __future__ import annotations

import html
import json

from geo_service.core import vocab
from geo_service.core.settings import Settings, get_settings

from .base import basemap_layers, bounds_of, synthetic_note
from .resident_answers import AREA_Z, profile_speeds

DEFAULT_CATEGORY = "health_station"
MAPLIBRE_JS = "vendor/maplibre-gl-5.24.1/maplibre-gl.js"
MAPLIBRE_CSS = "vendor/maplibre-gl-5.24.1/maplibre-gl.css"
RESIDENT_JS = "resident/resident.js"
RESIDENT_CSS = "resident/resident.css"
SW_JS = "resident/sw.js"
# the vector-tile layers of the page (collection ids of /tiles) and the attributes they need
TILE_LAYERS: dict[str, list[str]] = {
    "admin_areas": ["name", "level"],
    "population_units": ["name"],
    "residential_areas": ["name"],
    "network_edges": ["road_class", "name"],
    "roads": ["name", "road_class"],
    "facilities": ["name", "category", "status"],
    "shelters": ["name", "shelter_class", "capacity_persons", "status"],
}
TILE_MINZOOM = 11
TILE_MAXZOOM = 14
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Zen Hei"]
PROFILES = [
    {"code": "standard", "label": "标准"},
    {"code": "elderly", "label": "老年人"},
    {"code": "wheelchair", "label": "轮椅"},
]


SHELTER_OPTION = {"code": "shelter", "label": "应急避难场所"}


def resident_categories() -> list[dict]:
    """Shelter first, then every facility category of the vocabulary (used until ``/nearest/categories`` answers)."""
    return [dict(SHELTER_OPTION)] + [{"code": c, "label": z} for c, z in vocab.FACILITY_CATEGORIES.items()]


def categories_with_data(counted: list[dict]) -> list[dict]:
    """The page's category list from ``/nearest/categories`` (``category``, ``category_zh``, ``count``): shelter
    first (always: a tap asks for the nearest shelter, and says so when there is none), then the facility
    categories that have features, so a resident is never offered a category the county has no data for."""
    facilities = [c for c in counted if c["category"] != "shelter"]
    return [dict(SHELTER_OPTION)] + [{"code": c["category"], "label": c["category_zh"]} for c in facilities]


def _default_category(cats: list[dict]) -> str:
    """The health station when it has data, else the first facility category offered, else shelter."""
    codes = [c["code"] for c in cats]
    if DEFAULT_CATEGORY in codes:
        return DEFAULT_CATEGORY
    return next((c for c in codes if c != "shelter"), "shelter")


def page_config(store, settings: Settings, *, mode: str, base: str, categories: list[dict] | None = None) -> dict:
    """Everything the page script needs: extent, tile layers with data, URLs (relative to ``base``), speeds."""
    admin = store.read_layer("admin_areas")
    frames = [admin] if len(admin) else [store.read_layer("shelters")]
    bounds = bounds_of(*frames)
    layers, _ = basemap_layers(settings)
    static = mode == "static"
    present = [name for name in TILE_LAYERS if store.count(name) > 0]
    cats = categories or resident_categories()
    return {
        "mode": mode,
        "bounds": bounds,
        "basemap": layers,
        "categories": cats,
        "labels": {c["code"]: c["label"] for c in resident_categories()},
        "default_category": _default_category(cats),
        "has_shelters": store.count("shelters") > 0,
        "profiles": PROFILES,
        "speeds_mps": profile_speeds(store.norms),
        "tile_layers": present,
        "tile_url": base + ("tiles/{layer}/{z}/{x}/{y}.pbf" if static else "tiles/{layer}/{z}/{x}/{y}.mvt"),
        "tile_minzoom": TILE_MINZOOM,
        "tile_maxzoom": TILE_MAXZOOM,
        "fonts": FONTS,
        "area_z": AREA_Z,
        "areas_url": base + ("areas/" if static else "resident/areas/"),
        "nearest_url": None if static else base + "nearest",
        "search_url": None if static else base + "search",
        "sw_url": base + ("sw.js" if static else "resident/sw.js"),
        "sw_scope": base if static else base + "resident",
    }


def resident_page(
    store,
    *,
    settings: Settings | None = None,
    static_url: str = "/static",
    categories_url: str | None = None,
    mode: str = "service",
    base: str = "/",
    categories: list[dict] | None = None,
) -> str:
    """The page; ``categories_url`` is fetched for the category list when the service offers it.

    ``mode`` is ``service`` (answers from ``/nearest``) or ``static`` (answers from exported files, every URL
    relative to ``base``).
    """
    settings = settings or get_settings()
    _, note = basemap_layers(settings)
    cfg = page_config(store, settings, mode=mode, base=base, categories=categories)
    cfg["categories_url"] = categories_url
    cfg["precache"] = [f"{static_url}/{p}" for p in (MAPLIBRE_JS, MAPLIBRE_CSS, RESIDENT_JS, RESIDENT_CSS)]
    synthetic = synthetic_note(store)
    banner = f'<div class="synthetic">⚠ {html.escape(synthetic)}</div>' if synthetic else ""
    note_html = f'<p class="hint">{html.escape(note)}</p>' if note else ""
    cfg_json = json.dumps(cfg, ensure_ascii=False).replace("</", "<\\/")
    profiles = "".join(
        f'<label><input type="radio" name="profile" value="{p["code"]}"{" checked" if i == 0 else ""}>'
        f"{p['label']}</label>"
        for i, p in enumerate(PROFILES)
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#b71c1c">
<title>就近避难场所与服务网点查询</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{static_url}/{MAPLIBRE_CSS}">
<link rel="stylesheet" href="{static_url}/{RESIDENT_CSS}">
</head><body>
<header><h1>就近避难场所与服务网点</h1><p>点击地图上您的位置，或使用定位、搜索，查看步行路线、距离和时间</p></header>
{banner}
<div id="offline" class="offline" hidden></div>
<form class="search" id="search-form" role="search" autocomplete="off">
<input id="search" type="search" placeholder="搜索小区、道路、设施或地址" aria-label="搜索小区、道路、设施或地址">
<button type="submit">搜索</button></form>
<ul id="search-results" class="search-results" hidden></ul>
<div class="bar"><label for="category">查找</label><select id="category" aria-label="服务类别"></select>
<button id="locate" type="button">定位</button></div>
<div class="bar profiles" role="radiogroup" aria-label="出行方式"><span>出行方式</span>{profiles}</div>
{note_html}
<div id="map" role="application" aria-label="地图"></div>
<div class="legend" id="legend">
<span><i class="sw shelter-route"></i>到避难场所的路线</span>
<span><i class="sw service-route"></i>到服务网点的路线</span>
<span><i class="dot shelter"></i>避难场所</span><span><i class="dot facility"></i>服务设施</span>
<span><i class="dot me"></i>我的位置</span></div>
<div id="error" class="error" hidden></div>
<div id="results"><p class="hint">在地图上点击您所在的位置即可查询；\
红色实线为到最近应急避难场所的路线，蓝色虚线为到所选服务网点的路线。</p></div>
<script type="application/json" id="resident-config">{cfg_json}</script>
<script src="{static_url}/{MAPLIBRE_JS}"></script>
<script src="{static_url}/{RESIDENT_JS}"></script>
</body></html>"""
