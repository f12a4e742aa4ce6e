"""The resident page: nearest shelter and service points with walking routes, phone-first, in Chinese."""

from __future__ import annotations

import html
import json

from geo_service.core import vocab
from geo_service.core.settings import Settings, get_settings

from . import assets
from .base import basemap_layers, bounds_of, synthetic_note

DEFAULT_CATEGORY = "health_station"


def resident_categories() -> list[dict]:
    """Shelter first, then every facility category of the vocabulary (used until ``/nearest/categories`` answers)."""
    return [{"code": "shelter", "label": "应急避难场所"}] + [
        {"code": c, "label": z} for c, z in vocab.FACILITY_CATEGORIES.items()
    ]


def resident_page(
    store, *, settings: Settings | None = None, static_url: str = "/static", categories_url: str | None = None
) -> str:
    """The page; ``categories_url`` is fetched for the category list when the service offers it."""
    settings = settings or get_settings()
    admin = store.read_layer("admin_areas")
    frames = [admin] if len(admin) else [store.read_layer("shelters")]
    bounds = bounds_of(*frames)
    context = None
    if len(admin):
        streets = admin[admin["level"] == "street"] if "level" in admin.columns else admin
        from .base import geojson_text

        context = json.loads(geojson_text(streets if len(streets) else admin, ["name"], simplify=1e-4))
    layers, note = basemap_layers(settings)
    labels = {c["code"]: c["label"] for c in resident_categories()}
    cfg = {
        "bounds": bounds,
        "basemap": layers,
        "categories": resident_categories(),
        "labels": labels,
        "default_category": DEFAULT_CATEGORY,
        "context": context,
        "categories_url": categories_url,
    }
    synthetic = synthetic_note(store)
    banner = f'<div class="synthetic">⚠ {html.escape(synthetic)}</div>' if synthetic else ""
    note_html = f'<p class="hint">{html.escape(note)}</p>' if note else ""
    cfg_json = json.dumps(cfg, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>就近避难场所与服务网点查询</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{static_url}/{assets.LEAFLET_CSS}">
<link rel="stylesheet" href="{static_url}/resident/resident.css">
</head><body>
<header><h1>就近避难场所与服务网点</h1><p>点击地图上您的位置，或使用定位，查看步行路线、距离和时间</p></header>
{banner}
<div class="bar"><label for="category">查找</label><select id="category" aria-label="服务类别"></select>
<button id="locate" type="button">定位我的位置</button></div>
{note_html}
<div id="map" role="application" aria-label="地图"></div>
<div id="error" class="error" hidden></div>
<div id="results"><p class="hint">在地图上点击您所在的位置即可查询；\
红色为最近的应急避难场所，蓝色为所选类别的服务网点。</p></div>
<script type="application/json" id="resident-config">{cfg_json}</script>
<script src="{static_url}/{assets.LEAFLET_JS}"></script>
<script src="{static_url}/resident/resident.js"></script>
</body></html>"""
