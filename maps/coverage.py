"""Life-circle coverage map (Art. 12) from a stored ``coverage`` analysis run.

Reads the run's outputs (see ``facilities/coverage.py``):

- ``units``: unit polygons with ``residents``, per category ``<category>_walk_m`` / ``<category>_covered``,
  ``complete_5min`` / ``complete_10min`` / ``complete_15min`` and the residents of each served age group
  ``residents_<group>``;
- ``communities``: per community ``<category>_rate``, ``<category>_group_rate`` (over the group the category
  serves, :mod:`facilities.groups`) and ``complete_<level>_rate`` (geometry from the run, or joined from the
  ``communities`` layer by code);
- ``gaps``: units ranked by residents with ``missing_categories``;
- ``service_areas``: polygons with ``category`` and ``walk_m``.

A category selector (each category with the group it serves and its TD/T 1062-2021 tier) recolours the units by
walking distance and shows that category's service areas; a second legend gives, per category, the city-wide
coverage of the group it serves.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np

from geo_service.core import vocab
from geo_service.core._errors import NotFoundError
from geo_service.core.ages import GROUP_ZH
from geo_service.core.settings import Settings

from .base import (
    Control,
    DataLayer,
    Script,
    bounds_of,
    js,
    legend,
    new_map,
    synthetic_note,
    tile_url,
    use_tiles,
)

WALK_CLASSES = [
    (300, "#1a9850", "≤300 米（5 分钟）"),
    (500, "#91cf60", "300–500 米（10 分钟）"),
    (1000, "#fee08b", "500–1000 米（15 分钟）"),
    (1500, "#fc8d59", "1000–1500 米"),
    (None, "#d73027", "超过 1500 米"),
]
BEYOND = "#a50026"  # reachable, but no facility within the analysis bound (the largest threshold, 1000 m)
GAPS_SHOWN = 50
UNREACHABLE = "#9e9e9e"  # more than the snapping distance (300 m) from any street
RATE_CLASSES = [(0.5, "#d73027"), (0.7, "#fc8d59"), (0.85, "#fee08b"), (0.95, "#91cf60"), (None, "#1a9850")]
LEVELS = {"5min": "5 分钟", "10min": "10 分钟", "15min": "15 分钟"}


def _categories(units: gpd.GeoDataFrame) -> list[str]:
    cats = [c[: -len("_walk_m")] for c in units.columns if c.endswith("_walk_m")]
    order = list(vocab.FACILITY_CATEGORIES)
    return sorted(cats, key=lambda c: order.index(c) if c in order else len(order))


def _label(cat: str) -> str:
    return vocab.FACILITY_CATEGORIES.get(cat, cat)


def _rate_label(col: str) -> str:
    """``complete_15min_rate`` -> 完整生活圈达标率（15 分钟）; ``<c>_straight_rate`` -> 直线距离覆盖率·类别."""
    base = col[: -len("_rate")]
    if base.endswith("_group"):
        return f"服务对象覆盖率·{_label(base[: -len('_group')])}"
    straight = base.endswith("_straight")
    base = base.removesuffix("_straight")
    prefix = "（按直线距离）" if straight else ""
    if base.startswith("complete_") and base[len("complete_") :] in LEVELS:
        return f"完整生活圈达标率（{LEVELS[base[len('complete_') :]]}）{prefix}"
    return f"覆盖率·{_label(base)}{prefix}"


def _community_geometry(store, run: dict, comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Community rates without geometry get the polygons of the ``communities`` layer (same plan) by code."""
    if len(comm) and comm.geometry.notna().any():
        return comm
    plan_id = run.get("plan_id")
    layer = store.read_layer("communities", plan_id=plan_id) if plan_id else store.read_layer("communities")
    key = next((k for k in ("code", "community_code", "feature_key", "source_id") if k in comm.columns), None)
    if key is None or layer.empty:
        return comm.iloc[0:0]
    by_code = dict(zip(layer["code"].astype(str), layer.geometry))
    by_sid = dict(zip(layer["source_id"].astype(str), layer.geometry))
    geoms = [by_code.get(str(v)) or by_sid.get(str(v)) for v in comm[key]]
    out = gpd.GeoDataFrame(
        comm.drop(columns=[comm.geometry.name]), geometry=gpd.GeoSeries(geoms, index=comm.index), crs=4326
    )
    if "name" not in out.columns:
        out["name"] = [dict(zip(layer["code"].astype(str), layer["name"])).get(str(v)) for v in comm[key]]
    return out[out.geometry.notna()]


@dataclass
class _RunOutputs:
    """The stored outputs of one coverage run that the map draws (EPSG:4326 frames, None when not stored).

    Attributes
    ----------
    units : GeoDataFrame or None
        Unit polygons with ``residents`` and per category ``<c>_walk_m`` (m); with vector tiles only the first
        200 rows (column names and bounds).
    n_units : int
        Units in the run.
    units_tiles : bool
        The units are drawn from vector tiles instead of inline.
    gaps, areas, comm : GeoDataFrame or None
        Gap units, service-area polygons (``walk_m`` in m) and community rates (fractions) with polygons.
    cats : list of str
        The analysed categories, in vocabulary order.
    """

    units: gpd.GeoDataFrame | None
    n_units: int
    units_tiles: bool
    gaps: gpd.GeoDataFrame | None
    areas: gpd.GeoDataFrame | None
    comm: gpd.GeoDataFrame | None
    cats: list[str]


def coverage_map(
    store, *, settings: Settings | None = None, tiles_base: str = "", run_id: int | None = None, **_options
) -> folium.Map:
    """The coverage map of a stored run: communities, units, service areas, gaps, category selector, legend.

    Parameters
    ----------
    store : Store
    settings : Settings, optional
        Basemap settings.
    tiles_base : str
        Prefix of the vector-tile URLs (used when the run has too many units to inline).
    run_id : int, optional
        The coverage run (default: the newest).

    Returns
    -------
    folium.Map
        Layers in EPSG:4326; distances in metres, rates as fractions of residents.
    """
    run = _coverage_run(store, run_id)
    rid = int(run["id"])
    out = _read_outputs(store, run)
    m = _new_coverage_map(store, run, out, settings)
    first = out.cats[0] if out.cats else ""
    profiles = {c["category"]: c for c in run["summary"].get("categories", [])}
    labels = {c: _label(c) for c in out.cats}
    Script(f"window.geoCoverage = {{category: {js(first)}, labels: {js(labels)}}};").add_to(m)
    _add_communities_layer(m, rid, out.comm)
    restyle = [
        name
        for name in (_add_units_layer(m, rid, out, tiles_base), _add_service_areas_layer(m, rid, out.areas))
        if name is not None
    ]
    _add_gaps_layer(m, rid, out.gaps)
    _add_category_selector(m, out.cats, restyle, profiles)
    _walk_legend().add_to(m)
    if any("group_rate" in p for p in profiles.values()):
        _group_legend([profiles[c] for c in out.cats if c in profiles]).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _coverage_run(store, run_id: int | None) -> dict:
    """The coverage run ``run_id`` (default: the newest); :class:`NotFoundError` when there is none."""
    run = store.get_analysis(run_id) if run_id is not None else store.latest_analysis("coverage")
    if run is None or run["kind"] != "coverage":
        raise NotFoundError(f"no coverage run {run_id}", f"没有编号为 {run_id} 的生活圈覆盖分析结果", run_id=run_id)
    return run


def _read_outputs(store, run: dict) -> _RunOutputs:
    """Read the run's outputs (computing and storing its service areas the first time a map asks)."""
    rid = int(run["id"])
    from facilities.service import ensure_service_areas

    ensure_service_areas(store, store.get_analysis(rid))  # stored with the run the first time a map asks
    outputs = store.get_analysis(rid)["outputs"]

    def read(name):
        return store.read_analysis_output(rid, name) if outputs.get(name) else None

    units = read("units")
    n_units = int(outputs.get("units", 0))
    units_tiles = use_tiles(n_units)
    if units_tiles:
        units = store.read_analysis_output(rid, "units", limit=200)  # column names and bounds only
    gaps, areas = read("gaps"), read("service_areas")
    comm = read("communities")
    comm = _community_geometry(store, run, comm) if comm is not None else None
    cats = _categories(units) if units is not None else sorted({*areas["category"]}) if areas is not None else []
    return _RunOutputs(units, n_units, units_tiles, gaps, areas, comm, cats)


def _new_coverage_map(store, run: dict, out: _RunOutputs, settings: Settings | None) -> folium.Map:
    """The base map, fitted to the communities, units and gaps (EPSG:4326), with the run's title."""
    rid = int(run["id"])
    when = (
        run["created_at"].strftime("%Y-%m-%d %H:%M")
        if hasattr(run["created_at"], "strftime")
        else str(run["created_at"])
    )
    comm, units, gaps = out.comm, out.units, out.gaps
    return new_map(
        bounds_of(*(f for f in (comm, units, gaps) if f is not None))
        if not out.units_tiles
        else bounds_of(comm, gaps, units),
        settings=settings,
        title_zh="15 分钟社区生活圈覆盖",
        subtitle_zh=f"分析运行 {rid}（{when}）；居住单元 {out.n_units:,} 个；选择类别查看步行距离与服务范围",
        synthetic_zh=synthetic_note(store),
        tiles_needed=out.units_tiles,
    )


def _walk_colour_js() -> str:
    """JS ``function(v, reachable)``: the colour of a walking distance ``v`` (m) by :data:`WALK_CLASSES`."""
    return (
        "function(v, reachable){ if (reachable===false) return "
        + js(UNREACHABLE)
        + ";"
        + " if (v===null||v===undefined||!isFinite(v)) return "
        + js(BEYOND)
        + ";"
        + "".join(f"if (v<={t}) return {js(c)};" for t, c, _ in WALK_CLASSES if t is not None)
        + f"return {js(WALK_CLASSES[-1][1])};}}"
    )


def _rate_colour_js() -> str:
    """JS ``function(v)``: the colour of a coverage rate ``v`` (fraction of residents) by :data:`RATE_CLASSES`."""
    return (
        "function(v){ if (v===null||v===undefined) return '#bdbdbd';"
        + "".join(f"if (v<{t}) return {js(c)};" for t, c in RATE_CLASSES if t is not None)
        + f"return {js(RATE_CLASSES[-1][1])};}}"
    )


def _add_communities_layer(m: folium.Map, rid: int, comm: gpd.GeoDataFrame | None) -> None:
    """Communities coloured by the complete-life-circle rate of the largest level (hidden at first)."""
    if comm is None or not len(comm):
        return
    rate_cols = [c for c in comm.columns if c.endswith("_rate")]
    level = next(
        (f"complete_{lv}_rate" for lv in ("15min", "10min", "5min") if f"complete_{lv}_rate" in comm.columns), None
    )
    fields = [["name", "社区", None, None]] + [[c, _rate_label(c), "%", None] for c in rate_cols]
    DataLayer(
        "社区完整生活圈达标率" + (f"（{LEVELS[level[9:-5]]}）" if level else ""),
        f"analysis_{rid}_communities",
        gdf=comm,
        fields=fields,
        columns=rate_cols,
        style_js="function(p){return {color:'#333', weight:2, fillOpacity:0.35, "
        f"fillColor:({_rate_colour_js()})(p[{js(level)}])}};}}",
        show=False,
    ).add_to(m)


def _add_units_layer(m: folium.Map, rid: int, out: _RunOutputs, tiles_base: str) -> str | None:
    """Units coloured by the walking distance (m) of the selected category; returns the layer's JS name."""
    units = out.units
    if units is None:
        return None
    fields = [["name", "居住单元", None, None], ["residents", "常住人口", "人", None]]
    fields += [
        [f"complete_{lv}", f"{LEVELS[lv]}生活圈配套齐全", None, None]
        for lv in LEVELS
        if f"complete_{lv}" in units.columns
    ]
    for c in out.cats:
        fields.append([f"{c}_walk_m", f"步行距离·{_label(c)}", "米", None])
    fields += [
        [col, GROUP_ZH[col[len("residents_") :]], "人", None]
        for col in units.columns
        if col.startswith("residents_") and col[len("residents_") :] in GROUP_ZH
    ]
    ul = DataLayer(
        "居住单元步行距离（按所选类别）",
        f"analysis_{rid}_units",
        gdf=None if out.units_tiles else units,
        tiles=tile_url(f"analysis_{rid}_units", tiles_base) if out.units_tiles else None,
        fields=fields,
        title_field="name" if "name" in units.columns else None,
        columns=["reachable"] if "reachable" in units.columns else None,
        style_js="function(p){return {color:'#555', weight:0.4, fillOpacity:0.7, "
        f"fillColor:({_walk_colour_js()})(p[geoCoverage.category+'_walk_m'], p.reachable)}};}}",
    )
    ul.add_to(m)
    return ul.get_name()


def _add_service_areas_layer(m: folium.Map, rid: int, areas: gpd.GeoDataFrame | None) -> str | None:
    """Service areas (walk in m) of the selected category; returns the layer's JS name."""
    if areas is None or not len(areas):
        return None
    sl = DataLayer(
        "服务范围（所选类别）",
        f"analysis_{rid}_service_areas",
        gdf=areas,
        fields=[["category", "设施类别", None, vocab.FACILITY_CATEGORIES], ["walk_m", "步行距离", "米", None]],
        title_field=None,
        style_js="function(p){return {color:'#08519c', weight:1.5, dashArray:'4 3', "
        "fillColor:'#6baed6', fillOpacity:0.12};}",
        filter_js="function(p){return p.category===geoCoverage.category;}",
    )
    sl.add_to(m)
    return sl.get_name()


def _add_gaps_layer(m: folium.Map, rid: int, gaps: gpd.GeoDataFrame | None) -> None:
    """The :data:`GAPS_SHOWN` most populous gap units (residents), outlined."""
    if gaps is None or not len(gaps):
        return
    missing = (
        ["missing_zh", "缺少的设施", None, None]
        if "missing_zh" in gaps.columns
        else ["missing_categories", "缺少的设施", None, vocab.FACILITY_CATEGORIES]
    )
    gap_fields = [
        ["rank", "排名", None, None],
        ["name", "居住单元", None, None],
        ["residents", "常住人口", "人", None],
        missing,
    ]
    if len(gaps) > GAPS_SHOWN:  # the most populous gaps: a map of every unit lacking something says nothing
        gaps = gaps.sort_values("rank").head(GAPS_SHOWN)
    DataLayer(
        f"短板单元（缺少设施，按人口排序，{len(gaps)} 个）",
        f"analysis_{rid}_gaps",
        gdf=gaps,
        fields=gap_fields,
        title_field=None,
        style_js="function(p){return {color:'#b30000', weight:2.5, fill:true, fillOpacity:0.05};}",
    ).add_to(m)


def _option_label(c: str, profile: dict | None) -> str:
    """``幼儿园（服务3–6岁幼儿·基础保障型）``: the category, the group it serves and its tier."""
    if not profile or "group_zh" not in profile:
        return _label(c)
    who = "" if profile.get("group") in (None, "all") else f"服务{profile['group_zh']}"
    parts = [p for p in (who, profile.get("tier_zh") if profile.get("tier") else None) if p]
    return f"{_label(c)}（{'·'.join(parts)}）" if parts else _label(c)


def _add_category_selector(
    m: folium.Map, cats: list[str], restyle: list[str], profiles: dict[str, dict] | None = None
) -> None:
    """The category drop-down; a change sets ``geoCoverage.category`` and restyles the ``restyle`` layers."""
    profiles = profiles or {}
    options = "".join(
        f'<option value="{html.escape(c)}">{html.escape(_option_label(c, profiles.get(c)))}</option>' for c in cats
    )
    Control(
        f'<label>设施类别 <select id="geo-coverage-category">{options}</select></label>', "topleft", "geo-select"
    ).add_to(m)
    Script(
        "document.getElementById('geo-coverage-category').addEventListener('change', function(e){"
        " geoCoverage.category = e.target.value;" + "".join(f" {name}.restyle();" for name in restyle) + "});"
    ).add_to(m)


def _walk_legend() -> Control:
    """Legend of the walking-distance classes (m), the unreachable colour and the outlined layers."""
    return legend(
        "步行距离（所选类别）",
        [("fill", c, label) for _, c, label in WALK_CLASSES]
        + [
            ("fill", BEYOND, "1000 米内没有"),
            ("fill", UNREACHABLE, "距道路超过 300 米"),
            ("line", "#b30000", "短板单元"),
            ("line", "#08519c", "服务范围"),
        ],
    )


def _rate_colour(v: float | None) -> str:
    """The colour of a rate (fraction) by :data:`RATE_CLASSES`, grey when unknown."""
    if v is None:
        return "#bdbdbd"
    return next((c for t, c in RATE_CLASSES if t is None or v < t), RATE_CLASSES[-1][1])


def _group_legend(categories: list[dict]) -> Control:
    """Per category the city-wide coverage of the group it serves (the summary's ``group_rate``, fraction)."""
    rows = []
    for c in categories:
        who = c.get("group_zh") or "全体居民"
        rate = c.get("group_rate")
        figure = f"{rate:.0%}" if rate is not None else f"无法计算（{c.get('group_note_zh') or '缺少年龄数据'}）"
        tier = f"，{c['tier_zh']}" if c.get("tier") else ""
        rows.append(("fill", _rate_colour(rate), f"{c['category_zh']}：{who} {figure}{tier}"))
    return legend("服务对象覆盖率（全市，TD/T 1062-2021 分级）", rows)


def example_outputs(
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    categories=("kindergarten", "health_station", "elderly_day_care"),
) -> dict[str, gpd.GeoDataFrame]:
    """Outputs of the shape of a coverage run, by straight-line distance (for tests and demos only)."""
    from geo_service.core.crs import metric_crs_for

    crs = metric_crs_for(units)
    u = units.to_crs(crs)
    f = facilities.to_crs(crs)
    out = gpd.GeoDataFrame(
        {"feature_key": units["source_id"].astype(str), "name": units["name"], "residents": units["residents"]},
        geometry=units.geometry.values,
        crs=4326,
    )
    cent = u.geometry.centroid
    radius = {"kindergarten": 300, "health_station": 1000, "elderly_day_care": 500}
    for c in categories:
        pts = f[f["category"] == c].geometry
        if len(pts):
            d = np.array([pts.distance(p).min() for p in cent]) * 1.3
        else:
            d = np.full(len(u), np.nan)
        out[f"{c}_walk_m"] = np.round(d, 1)
        out[f"{c}_covered"] = d <= radius.get(c, 500)
    covered = np.column_stack([out[f"{c}_covered"] for c in categories])
    out["complete_5min"] = covered[:, :1].all(axis=1)
    out["complete_10min"] = covered[:, :2].all(axis=1)
    out["complete_15min"] = covered.all(axis=1)
    missing = [[c for c, ok in zip(categories, row) if not ok] for row in covered]
    gaps = out[[bool(m) for m in missing]].copy()
    gaps["missing_categories"] = [m for m in missing if m]
    gaps = gaps.sort_values("residents", ascending=False).head(50)
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    gaps = gaps[["feature_key", "name", "residents", "missing_categories", "rank", "geometry"]]
    areas = []
    for c in categories:
        pts = f[f["category"] == c]
        if len(pts):
            geom = pts.geometry.buffer(radius.get(c, 500) / 1.3).union_all()
            areas.append({"feature_key": c, "category": c, "walk_m": radius.get(c, 500), "geometry": geom})
    areas = gpd.GeoDataFrame(areas, geometry="geometry", crs=crs).to_crs(4326)
    cj = gpd.sjoin(
        gpd.GeoDataFrame(out.drop(columns="geometry"), geometry=units.geometry.representative_point().values, crs=4326),
        communities[["code", "geometry"]],
        predicate="within",
    )
    rates = cj.groupby("code").apply(
        lambda g: {
            **{
                f"{c}_rate": float((g[f"{c}_covered"] * g["residents"]).sum() / max(g["residents"].sum(), 1))
                for c in categories
            },
            **{
                f"complete_{lv}_rate": float(
                    (g[f"complete_{lv}"] * g["residents"]).sum() / max(g["residents"].sum(), 1)
                )
                for lv in ("5min", "10min", "15min")
            },
        },
        include_groups=False,
    )
    comm = communities[["code", "name", "geometry"]].copy()
    comm["feature_key"] = comm["code"]
    for k in rates.iloc[0] if len(rates) else []:
        comm[k] = [rates.get(code, {}).get(k) if code in rates.index else None for code in comm["code"]]
    return {"units": out, "gaps": gaps, "service_areas": areas, "communities": comm.drop(columns=["code"])}
