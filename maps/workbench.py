"""The planners' workbench (``/workbench``): one page of plain JS modules over the service's own API.

Plan editor on MapLibre GL JS (units from the vector tiles, painted with feature-state), delineation jobs, plan
comparison, adoption with a city-wide preview, and the staff pages (layer upload, audit and coverage tables).
Every asset is served from ``maps/static`` (no CDN); no build step: a fresh clone serves the page without Node.
"""

from __future__ import annotations

import html
import json

from .base import bounds_of, synthetic_note

MAPLIBRE_JS = "vendor/maplibre-gl-5.24.1/maplibre-gl.js"
MAPLIBRE_CSS = "vendor/maplibre-gl-5.24.1/maplibre-gl.css"
TABS = (
    ("edit", "编辑方案"),
    ("propose", "自动划分"),
    ("compare", "方案对比"),
    ("adopt", "采纳"),
    ("upload", "上传图层"),
    ("results", "审计与覆盖"),
    ("scenarios", "情景"),
)


def workbench_config(store) -> dict:
    """What the page needs before its first request: the city's bounds (EPSG:4326) and its streets."""
    admin = store.read_layer("admin_areas")
    units_bounds = bounds_of(admin) if len(admin) else bounds_of(store.read_layer("population_units"))
    streets = []
    if len(admin) and "level" in admin.columns:
        st = admin[admin["level"] == "street"].sort_values("code")
        streets = [{"code": str(c), "name": str(n)} for c, n in zip(st["code"], st["name"])]
    return {"bounds": units_bounds, "streets": streets, "synthetic": synthetic_note(store)}


def workbench_page(store, *, static_url: str = "/static") -> str:
    """The HTML of ``/workbench`` (Chinese, desktop first, usable on a tablet)."""
    cfg = workbench_config(store)
    cfg_json = json.dumps(cfg, ensure_ascii=False).replace("</", "<\\/")
    banner = f'<div class="synthetic">⚠ {html.escape(cfg["synthetic"])}</div>' if cfg["synthetic"] else ""
    tabs = "".join(
        f'<button type="button" role="tab" data-tab="{k}" id="tab-{k}" aria-controls="pane-{k}">{v}</button>'
        for k, v in TABS
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>社区划分与设施工作台</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{static_url}/{MAPLIBRE_CSS}">
<link rel="stylesheet" href="{static_url}/workbench/workbench.css">
</head><body>
<header class="top">
  <h1>社区划分与设施工作台</h1>
  <nav class="tabs" role="tablist">{tabs}</nav>
  <div class="who">
    <span id="role" class="role">未登录（只读）</span>
    <form id="signin" autocomplete="off">
      <input id="token" type="password" placeholder="令牌 gs_…" aria-label="令牌" size="14">
      <button type="submit">登录</button>
    </form>
    <button type="button" id="signout" hidden>退出</button>
  </div>
</header>
{banner}
<div id="msg" class="msg" role="status" hidden></div>
<main>
  <div id="map" role="application" aria-label="地图"></div>
  <aside id="side">
    <section id="pane-edit" class="pane" data-pane="edit"></section>
    <section id="pane-propose" class="pane" data-pane="propose" hidden></section>
    <section id="pane-compare" class="pane" data-pane="compare" hidden></section>
    <section id="pane-adopt" class="pane" data-pane="adopt" hidden></section>
    <section id="pane-upload" class="pane" data-pane="upload" hidden></section>
    <section id="pane-results" class="pane" data-pane="results" hidden></section>
    <section id="pane-scenarios" class="pane" data-pane="scenarios" hidden></section>
  </aside>
</main>
<script type="application/json" id="workbench-config">{cfg_json}</script>
<script src="{static_url}/{MAPLIBRE_JS}"></script>
<script type="module" src="{static_url}/workbench/app.js"></script>
</body></html>"""
