"""A province in one run: one coverage task per county on Dask distributed (issue 18).

The counties come from a *source*:

- a database URL (PostGIS or a SpatiaLite file) holding many counties: ``admin_areas`` rows of level ``county``
  and every layer of all of them in one store, with one walking network;
- a folder of county datasets: one service SpatiaLite file (``*.sqlite``) per county, each with its own network.

One task per county reads a *window*: the county buffered by the largest walking threshold of the norms plus the
snapping margins (see :func:`window_margins_m`), so that facilities across the border count.  Every walk shorter
than the threshold from a unit inside the county stays inside the window, and every facility in the window snaps to
the same street as in the whole network, so the county's per-unit results equal those of one run over the whole
source (tests/test_batch.py checks this exactly on ten counties placed edge to edge).  Units outside the county are
context only: results are kept for units inside it (by their representative point).

Results: ``OUT/coverage/county=<code>/part-0.parquet`` (GeoParquet, one row per unit), a marker
``OUT/_done/<code>.json`` with the county's summary (a rerun skips finished counties), ``OUT/_failed/<code>.json``
for a county that failed (validation or computation; retried on the next run), ``OUT/省级汇总.xlsx`` and
``OUT/省级汇总地图.html``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .core._errors import InputError
from .core.crs import metric_crs_for
from .core.sample_city.province import join_networks
from .core.storage import Store

ANALYSES = ("coverage",)
RESULT_COLUMNS_ZH = {
    "county_code": "区县代码",
    "county_name": "区县名称",
    "units": "人口单元数",
    "residents": "常住人口",
    "households": "户数",
    "unreachable_residents": "无法步行到达的人口",
    "seconds": "计算用时（秒）",
}


# --------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class County:
    """One county of a source: its code, name and outline (EPSG:4326)."""

    code: str
    name: str
    geometry: shapely.Geometry


class StoreSource:
    """Many counties in one store (PostGIS or SpatiaLite URL)."""

    def __init__(self, url: str):
        self.url = url

    def _store(self) -> Store:
        return Store(self.url)

    def counties(self) -> list[County]:
        store = self._store()
        try:
            areas = store.read_layer("admin_areas", where={"level": "county"})
        finally:
            store.dispose()
        return [County(str(r.code), str(r.name), r.geometry) for r in areas.itertuples()]

    def read_window(self, window: shapely.Geometry) -> dict[str, gpd.GeoDataFrame]:
        store = self._store()
        try:
            return read_window(store, window)
        finally:
            store.dispose()

    def norms(self):
        store = self._store()
        try:
            return store.norms
        finally:
            store.dispose()


class FolderSource:
    """One county per SpatiaLite file of a folder (each a service store with its own network)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.files = sorted(self.folder.glob("*.sqlite"))
        if not self.files:
            raise InputError(f"no *.sqlite county datasets in {folder}", f"文件夹 {folder} 中没有区县数据（*.sqlite）")

    def counties(self) -> list[County]:
        out = []
        for path in self.files:
            src = StoreSource(f"sqlite:///{path}")
            found = src.counties()
            if len(found) != 1:
                raise InputError(
                    f"{path.name}: {len(found)} county outlines (admin_areas level county), expected 1",
                    f"{path.name}：区县边界（行政区划 level=county）有 {len(found)} 个，应为 1 个",
                )
            out.append(found[0])
        return out

    def read_window(self, window: shapely.Geometry) -> dict[str, gpd.GeoDataFrame]:
        parts = [StoreSource(f"sqlite:///{p}").read_window(window) for p in self.files]
        parts = [p for p in parts if len(p["network_edges"])]
        return merge_windows(parts)

    def norms(self):
        return StoreSource(f"sqlite:///{self.files[0]}").norms()


def open_source(source: str) -> StoreSource | FolderSource:
    """A folder path gives a :class:`FolderSource`; a database URL or a .sqlite file a :class:`StoreSource`."""
    path = Path(source)
    if "://" not in source and path.is_dir():
        return FolderSource(path)
    if "://" not in source:
        if not path.exists():
            raise InputError(f"no such county source: {source}", f"找不到区县数据来源：{source}（文件夹或数据库地址）")
        source = f"sqlite:///{path.resolve()}"
    return StoreSource(source)


# --------------------------------------------------------------------------------------------- windows
def window_margins_m(norms, params) -> tuple[float, float]:
    """Metres around a county for its facilities and for its network.

    ``walk`` is the longest walk the coverage searches (the largest category threshold or life-circle walk, as
    :func:`facilities.coverage.compute_coverage` takes it).  Facilities within ``walk + snap`` of the county can be
    reached by a walk of at most ``walk`` from a unit in it; their nearest street lies within a further ``snap``,
    hence the network margin ``walk + 2 snap``.
    """
    from facilities.coverage import category_rules

    rules = category_rules(norms, params.levels, params.categories)
    walks = [r.threshold_m for r in rules.values()]
    walks += [float(norms.life_circle(lv).walk_m or 0.0) for lv in params.levels]
    walk = float(max(walks))
    return walk + params.max_snap_m, walk + 2.0 * params.max_snap_m


def _buffer(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    frame = gpd.GeoSeries([geom], crs=4326)
    metric = metric_crs_for(gpd.GeoDataFrame(geometry=frame))
    return frame.to_crs(metric).buffer(metres).to_crs(4326).iloc[0]


def read_window(store: Store, window: shapely.Geometry) -> dict[str, gpd.GeoDataFrame]:
    """The layers a coverage task needs, intersecting ``window`` (EPSG:4326); the network re-indexed."""
    bbox = tuple(window.bounds)
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in ("population_units", "facilities", "unit_entrances"):
        frame = store.read_layer(layer, bbox=bbox)
        out[layer] = frame[frame.intersects(window)].reset_index(drop=True)
    plans = [p for p in store.list_plans() if p.get("status") == "adopted"]
    comm = store.read_layer("communities", bbox=bbox, plan_id=plans[0]["id"]) if plans else None
    out["communities"] = comm[comm.intersects(window)].reset_index(drop=True) if comm is not None else None
    nets = store.list_networks()
    if not nets:
        raise InputError("no walking network", "没有步行网络")
    net = nets[-1]
    edges = store.read_layer("network_edges", bbox=bbox, network_id=net["id"])
    edges = edges[edges.intersects(window)]
    ends_bbox = tuple(edges.total_bounds) if len(edges) else bbox  # edges reach out of the window: all their ends
    nodes = store.read_layer("network_nodes", network_id=net["id"], bbox=ends_bbox)
    nodes = nodes[nodes["node_idx"].isin(np.union1d(edges["u"], edges["v"]))]
    out["network_nodes"], out["network_edges"] = nodes, edges
    out["metric_epsg"] = net.get("metric_epsg")
    return out


def merge_windows(parts: list[dict]) -> dict:
    """Windows of several stores as one: layers concatenated, networks joined where nodes coincide (to 1 mm)."""
    if not parts:
        raise InputError("no network in the window", "该区县范围内没有步行网络")
    out: dict = {"metric_epsg": parts[0]["metric_epsg"]}
    for layer in ("population_units", "facilities", "unit_entrances", "communities"):
        frames = [p[layer] for p in parts if p.get(layer) is not None and len(p[layer])]
        out[layer] = pd.concat(frames, ignore_index=True) if frames else parts[0][layer]
        if out[layer] is not None and "id" in out[layer].columns and len(frames) > 1:
            out[layer]["id"] = np.arange(1, len(out[layer]) + 1)  # ids of different stores collide; source_id holds
    out["network_nodes"], out["network_edges"] = join_networks(
        [(p["network_nodes"], p["network_edges"]) for p in parts]
    )
    return out


# --------------------------------------------------------------------------------------------- one county
@dataclass
class CountyResult:
    """What one task returns: the county, its summary row and where its units went."""

    code: str
    name: str
    summary: dict
    path: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


def run_county(source, county: County, out_dir: str, params_dict: dict) -> CountyResult:
    """Coverage of one county on its window; writes its GeoParquet part and its done marker."""
    import time

    from facilities.coverage import CoverageParams, compute_coverage
    from facilities.service import entrances_for

    from .core.network import WalkNetwork

    t0 = time.perf_counter()
    norms = source.norms()
    params = CoverageParams.from_input(**params_dict)
    fac_m, net_m = window_margins_m(norms, params)
    data = source.read_window(_buffer(county.geometry, net_m))
    fac_window = _buffer(county.geometry, fac_m)
    units, facilities = data["population_units"], data["facilities"]
    facilities = facilities[facilities.intersects(fac_window)]
    inside = units.geometry.representative_point().within(county.geometry).to_numpy()
    if not inside.any():
        raise InputError(f"county {county.code} has no population units", f"区县 {county.code} 没有人口单元")
    nodes, edges = join_networks([(data["network_nodes"], data["network_edges"])])  # numbered 0..n-1
    net = WalkNetwork.from_frames(nodes, edges, metric_crs=data["metric_epsg"], name=f"window {county.code}")
    entrances, _unknown = entrances_for(data["unit_entrances"], units)  # outside the window: not needed here
    result = compute_coverage(
        net, units, facilities, norms, params=params, communities=data["communities"], entrances=entrances
    )
    result.units = _beyond_window_as_inf(result.units[inside].reset_index(drop=True), result.rules, fac_m)
    summary = result.summary()
    path = Path(out_dir) / "coverage" / f"county={county.code}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    _plain(result.units).to_parquet(path)
    seconds = time.perf_counter() - t0
    done = CountyResult(county.code, county.name, summary, str(path), seconds, list(result.warnings))
    marker = Path(out_dir) / "_done" / f"{county.code}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(done.__dict__, ensure_ascii=False), encoding="utf-8")
    return done


def _beyond_window_as_inf(units: gpd.GeoDataFrame, rules: dict, margin_m: float) -> gpd.GeoDataFrame:
    """Straight-line distances past the window's facility margin are not known here: inf, like walks past the limit.

    (Walks and every coverage flag are exact; only a crow-fly distance to a facility outside the window is.)
    """
    units = units.copy()
    for c in rules:
        col = f"{c}_straight_m"
        if col in units.columns:
            units[col] = np.where(units[col].to_numpy(dtype=float) > margin_m, np.inf, units[col].to_numpy(dtype=float))
    return units


def _plain(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Parquet-safe columns: lists as JSON text, objects as text."""
    out = units.copy()
    for c in out.columns:
        if c != "geometry" and out[c].dtype == object:
            out[c] = [json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in out[c]]
            out[c] = out[c].astype("string")
    return out


# --------------------------------------------------------------------------------------------- the batch
@dataclass
class BatchReport:
    """Counties done now, skipped (done before), failed (with the Chinese reason)."""

    done: list[CountyResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    summary_xlsx: Path | None = None
    summary_map: Path | None = None


def finished_counties(out_dir: Path) -> set[str]:
    return {p.stem for p in (Path(out_dir) / "_done").glob("*.json")}


def run_batch(
    source: str,
    out_dir: Path,
    *,
    analyses: Iterable[str] = ("coverage",),
    scheduler: str | None = None,
    workers: int = 1,
    params: dict | None = None,
    recompute: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> BatchReport:
    """Run the analyses of every county of ``source`` on Dask; return the report (see the module docstring)."""
    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown:
        raise InputError(
            f"unknown or unsupported analyses: {unknown}; supported: {list(ANALYSES)}",
            f"不支持的分析：{'、'.join(unknown)}；批量计算目前支持：{'、'.join(ANALYSES)}",
        )
    out_dir = Path(out_dir)
    src = open_source(source)
    counties = src.counties()
    if not counties:
        raise InputError("no county outlines in the source", "数据来源中没有区县边界（行政区划 level=county）")
    report = BatchReport()
    todo = [c for c in counties if recompute or c.code not in finished_counties(out_dir)]
    report.skipped = [c.code for c in counties if c not in todo]
    _run_on_dask(src, todo, out_dir, params or {}, scheduler, workers, report, progress)
    _write_summary(out_dir, counties, report)
    return report


def _run_on_dask(src, todo, out_dir, params, scheduler, workers, report, progress) -> None:
    from distributed import Client, LocalCluster, as_completed

    if not todo:
        return
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=max(int(workers), 1), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        futures = {
            client.submit(run_county, src, c, str(out_dir), params, key=f"county-{c.code}", retries=2, pure=False): c
            for c in todo
        }
        for i, fut in enumerate(as_completed(futures), start=1):
            county = futures[fut]
            try:
                report.done.append(fut.result())
                (out_dir / "_failed" / f"{county.code}.json").unlink(missing_ok=True)
            except Exception as exc:  # a county's failure is reported; the batch goes on
                message = getattr(exc, "message_zh", None) or f"{type(exc).__name__}: {exc}"
                report.failed[county.code] = message
                failed = out_dir / "_failed" / f"{county.code}.json"
                failed.parent.mkdir(parents=True, exist_ok=True)
                failed.write_text(json.dumps({"code": county.code, "error": message}, ensure_ascii=False), "utf-8")
            if progress:
                progress(i, len(todo), county.code)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def summary_table(out_dir: Path, counties: list[County]) -> pd.DataFrame:
    """One row per finished county (from the done markers): totals and the walking rate of each category."""
    names = {c.code: c.name for c in counties}
    rows = []
    for marker in sorted((Path(out_dir) / "_done").glob("*.json")):
        done = json.loads(marker.read_text(encoding="utf-8"))
        s = done["summary"]
        row = {
            "county_code": done["code"],
            "county_name": names.get(done["code"], done["name"]),
            "units": s["units"],
            "residents": s["residents"],
            "households": s["households"],
            "unreachable_residents": s["unreachable_residents"],
        }
        for cat in s["categories"]:
            row[f"{cat['category_zh']}步行覆盖率"] = cat["walk_rate"]
        for lv in s["levels"]:
            row[f"{lv['level']}生活圈完整覆盖率"] = lv["complete_rate"]
        row["seconds"] = round(done["seconds"], 2)
        rows.append(row)
    return pd.DataFrame(rows)


def _write_summary(out_dir: Path, counties: list[County], report: BatchReport) -> None:
    table = summary_table(out_dir, counties)
    if table.empty:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = out_dir / "省级汇总.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as writer:
        table.rename(columns=RESULT_COLUMNS_ZH).to_excel(writer, sheet_name="区县汇总", index=False)
        if report.failed:
            pd.DataFrame({"区县代码": list(report.failed), "失败原因": list(report.failed.values())}).to_excel(
                writer, sheet_name="失败的区县", index=False
            )
    report.summary_xlsx = xlsx
    report.summary_map = _summary_map(out_dir, counties, table)


def _summary_map(out_dir: Path, counties: list[County], table: pd.DataFrame) -> Path:
    import folium

    frame = gpd.GeoDataFrame(
        {"county_code": [c.code for c in counties], "county_name": [c.name for c in counties]},
        geometry=[c.geometry for c in counties],
        crs=4326,
    ).merge(table.drop(columns=["county_name"]), on="county_code", how="left")
    rate_cols = [c for c in table.columns if c.endswith("完整覆盖率")]
    shown = rate_cols[-1] if rate_cols else "residents"
    minx, miny, maxx, maxy = frame.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None)
    values = frame[shown].astype(float)
    top = float(np.nanmax(values)) if values.notna().any() else 1.0

    def style(feature):
        v = feature["properties"].get(shown)
        share = 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) / (top or 1.0)
        return {
            "fillColor": f"#{int(255 * (1 - share)):02x}{int(120 + 100 * share):02x}60",
            "weight": 1,
            "color": "#333",
            "fillOpacity": 0.7,
        }

    folium.GeoJson(
        frame.to_json(na="null"),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(["county_code", "county_name", shown], aliases=["区县代码", "区县名称", shown]),
        name=f"区县：{shown}",
    ).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    from maps import assets

    assets.localize(fmap, "/static")
    page = assets.inline_assets(fmap.get_root().render(), "/static")  # one offline file, no CDN
    path = out_dir / "省级汇总地图.html"
    path.write_text(page, encoding="utf-8")
    return path
