"""A province in one run: one task per county on Dask distributed, coverage and the audit (issue 18).

The counties come from a *source*:

- a database URL (PostGIS or a SpatiaLite file) holding many counties: ``admin_areas`` rows of level ``county``
  and every layer of all of them in one store, with one walking network;
- a folder of county datasets: one service SpatiaLite file (``*.sqlite``) per county, each with its own network.

One task per county reads a *window* once: the county buffered by the longest walk the analyses search plus the
snapping margins (see :func:`window_margins_m` and :func:`audit_margin_m`), so that facilities across the border
count.  Every walk shorter than that from a point inside the county stays inside the window, and every point snaps
to the same street as in the whole network, so the county's results equal those of one run over the whole source
(tests/test_batch.py checks this exactly on ten counties placed edge to edge).

- **coverage**: units outside the county are context only; results are kept for the units the county owns.
- **audit**: each county audits what it owns (:func:`owned_by`: the feature's representative point lies in the
  county; a point on a county line goes to the lowest county code): its communities of the adopted plan, units,
  facilities, shelters, parcels, developments, idle assets and space candidates, and the hazards whose zone
  reaches it.  Walks run on the window's network (streets across the line included); shelters of a neighbour do
  not take the county's residents (each county's plan must hold its own).

Results: ``OUT/coverage/county=<code>/part-0.parquet`` (GeoParquet, one row per unit),
``OUT/audit/<table>/county=<code>/part-0.parquet`` (one dataset per audit table), a marker ``OUT/_done/<code>.json``
with the county's summary, its audit headline figures and the analyses it holds (a rerun skips counties finished
for the analyses asked), ``OUT/_failed/<code>.json`` for a county that failed (validation or computation; retried
on the next run), ``OUT/省级汇总.xlsx`` and ``OUT/省级汇总地图.html``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
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

ANALYSES = ("coverage", "audit")
RESULT_COLUMNS_ZH = {
    "county_code": "区县代码",
    "county_name": "区县名称",
    "units": "人口单元数",
    "residents": "常住人口",
    "households": "户数",
    "unreachable_residents": "无法步行到达的人口",
    "seconds": "计算用时（秒）",
}


COVERAGE_LAYERS = ("admin_areas", "population_units", "facilities", "unit_entrances", "communities")
AUDIT_LAYERS = ("shelters", "plan_parcels", "developments", "idle_assets", "space_candidates", "hazards")
WINDOW_LAYERS = COVERAGE_LAYERS


# --------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class County:
    """One county of a source: its code, name and outline (EPSG:4326)."""

    code: str
    name: str
    geometry: shapely.Geometry


_STORES: dict[str, Store] = {}  # one open store per URL and worker process, reused by its tasks


def _open_store(url: str) -> Store:
    """The store of ``url`` of this process (opened once: engines and their pools are reused by every task)."""
    store = _STORES.get(url)
    if store is None:
        store = _STORES[url] = Store(url)
    return store


class StoreSource:
    """Many counties in one store (PostGIS or SpatiaLite URL)."""

    def __init__(self, url: str):
        self.url = url

    def _store(self) -> Store:
        return _open_store(self.url)

    def counties(self) -> list[County]:
        areas = self._store().read_layer("admin_areas", where={"level": "county"})
        return [County(str(r.code), str(r.name), r.geometry) for r in areas.itertuples()]

    def read_window(self, window: shapely.Geometry, *, layers=WINDOW_LAYERS, own: str | None = None) -> dict:
        """The ``layers`` and the network intersecting ``window`` (EPSG:4326); ``own`` is for folder sources."""
        return read_window(self._store(), window, layers=layers)

    def norms(self):
        return self._store().norms


class FolderSource:
    """One county per SpatiaLite file of a folder (each a service store with its own network)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.files = sorted(self.folder.glob("*.sqlite"))
        if not self.files:
            raise InputError(f"no *.sqlite county datasets in {folder}", f"文件夹 {folder} 中没有区县数据（*.sqlite）")
        self.file_of: dict[str, Path] = {}

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
            self.file_of[found[0].code] = path
        return out

    def read_window(self, window: shapely.Geometry, *, layers=WINDOW_LAYERS, own: str | None = None) -> dict:
        """The window over every file that has network in it; the file of county ``own`` first, keeping its ids
        (so that the county's own features carry the ids of its file, as in a run over that file alone)."""
        first = self.file_of.get(own) if own else None
        files = ([first] if first else []) + [p for p in self.files if p != first]
        parts = [StoreSource(f"sqlite:///{p}").read_window(window, layers=layers) for p in files]
        parts = [p for i, p in enumerate(parts) if len(p["network_edges"]) or (first and i == 0)]
        return merge_windows(parts, layers=layers)

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
    """Metres around a county for its facilities and for its network (coverage).

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


def audit_margin_m(norms, params) -> float:
    """Metres of network around a county for its audit: the longest walk the audit searches plus two snaps.

    The walks are the shelter classes' limits (``params.limits``), the gap plan's walks (counted up to
    ``facilities.audit.gap_spaces.WALK_CAP_M``) and its outside-walk limit; ``snap`` is the network's largest
    snapping distance.  Every path of that length from a unit or site of the county, and every nearest street,
    lies inside the window (the argument of :func:`window_margins_m`).
    """
    from facilities.audit.gap_spaces import WALK_CAP_M

    from .core.network.snapping import DEFAULT_MAX_SNAP_M

    walks = list(params.limits(norms).values()) + [WALK_CAP_M]
    walks.append(float(norms.entry("gap_plan.outside_walk_limit_m").value))
    return float(max(walks)) + 2.0 * float(DEFAULT_MAX_SNAP_M)


HAZARD_REACH_M = 5000.0  # hazards are read this much beyond the window: a zone reaching the county is not missed


def _buffer(geom: shapely.Geometry, metres: float) -> shapely.Geometry:
    frame = gpd.GeoSeries([geom], crs=4326)
    metric = metric_crs_for(gpd.GeoDataFrame(geometry=frame))
    return frame.to_crs(metric).buffer(metres).to_crs(4326).iloc[0]


def read_window(store: Store, window: shapely.Geometry, *, layers=WINDOW_LAYERS) -> dict:
    """The ``layers`` intersecting ``window`` (EPSG:4326; county outlines only of ``admin_areas``; communities of
    the newest adopted plan; hazards from a bounding box :data:`HAZARD_REACH_M` larger) and the newest network's
    edges intersecting it with all their end nodes."""
    bbox = tuple(window.bounds)
    out: dict = {}
    for layer in layers:
        if layer == "communities":
            plans = [p for p in store.list_plans() if p.get("status") == "adopted"]
            frame = store.read_layer(layer, bbox=bbox, plan_id=plans[-1]["id"]) if plans else None
        elif layer == "admin_areas":
            frame = store.read_layer(layer, bbox=bbox, where={"level": "county"})
        elif layer == "hazards":
            out[layer] = store.read_layer(layer, bbox=tuple(_buffer(window, HAZARD_REACH_M).bounds))
            continue
        else:
            frame = store.read_layer(layer, bbox=bbox)
        out[layer] = frame[frame.intersects(window)].reset_index(drop=True) if frame is not None else None
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


def merge_windows(parts: list[dict], *, layers=WINDOW_LAYERS) -> dict:
    """Windows of several stores as one: layers concatenated, networks joined where nodes coincide (to 1 mm).

    The first part keeps its ids; the ids of the others are shifted past them (ids of different stores collide;
    ``source_id`` holds).
    """
    if not parts:
        raise InputError("no network in the window", "该区县范围内没有步行网络")
    out: dict = {"metric_epsg": parts[0]["metric_epsg"]}
    for layer in layers:
        frames, top = [], 0
        for p in parts:
            frame = p.get(layer)
            if frame is None or not len(frame):
                continue
            if "id" in frame.columns and frames:
                frame = frame.assign(id=frame["id"].to_numpy() + top)
            top = max(top, int(frame["id"].max())) if "id" in frame.columns else top
            frames.append(frame)
        out[layer] = pd.concat(frames, ignore_index=True) if frames else parts[0][layer]
    nets = [(p["network_nodes"], p["network_edges"]) for p in parts if len(p["network_edges"])]
    if not nets:
        raise InputError("no network in the window", "该区县范围内没有步行网络")
    out["network_nodes"], out["network_edges"] = join_networks(nets)
    return out


def owned_by(frame: gpd.GeoDataFrame | None, county: County, outlines: gpd.GeoDataFrame | None) -> np.ndarray:
    """Which features belong to ``county``: those whose representative point (the point itself, else a point on
    the surface) lies inside its outline; a point on a county line goes to the county of the lowest code among
    the counties whose outline holds it (``outlines``: ``code`` and geometry, EPSG:4326), so each feature
    belongs to one county."""
    if frame is None or len(frame) == 0:
        return np.zeros(0 if frame is None else len(frame), dtype=bool)
    pts = np.asarray(frame.geometry.representative_point().values, dtype=object)
    owned = shapely.covers(county.geometry, pts)
    on_line = owned & ~shapely.contains_properly(county.geometry, pts)
    if on_line.any() and outlines is not None and len(outlines):
        lower = outlines[outlines["code"].astype(str) < county.code]
        for geom in lower.geometry.values:
            hit = np.flatnonzero(on_line)
            owned[hit[shapely.covers(geom, pts[hit])]] = False
    return owned


# --------------------------------------------------------------------------------------------- one county
@dataclass
class CountyResult:
    """What one task returns: the county, its summary row and where its units went.

    ``summary`` is the coverage summary (``{}`` without coverage), ``audit`` the audit's headline figures
    (``{}`` without the audit), ``paths`` the parts written per output (``coverage``, ``audit/<table>``),
    ``stats`` sizes, seconds per step and the worker's peak memory.
    """

    code: str
    name: str
    summary: dict
    path: str
    seconds: float
    warnings: list[str] = field(default_factory=list)
    audit: dict = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


def run_county(
    source, county: County, out_dir: str, params_dict: dict, analyses: Iterable[str] = ("coverage",)
) -> CountyResult:
    """The ``analyses`` of one county on one window (read once); writes its GeoParquet parts and its done marker.

    ``params_dict``: the coverage parameters (:meth:`CoverageParams.from_input`), and under the key ``audit``
    those of the audit (:meth:`AuditParams.from_input`).
    """
    from facilities.audit import AuditParams
    from facilities.coverage import CoverageParams

    from .core.network import WalkNetwork

    t0 = time.perf_counter()
    analyses = tuple(analyses)
    params_dict = dict(params_dict)
    audit_params = AuditParams.from_input(**params_dict.pop("audit", {}))
    params = CoverageParams.from_input(**params_dict)
    norms = source.norms()
    fac_m, net_m = window_margins_m(norms, params)
    if "audit" in analyses:
        net_m = max(net_m, audit_margin_m(norms, audit_params))
    layers = COVERAGE_LAYERS + (AUDIT_LAYERS if "audit" in analyses else ())
    data = source.read_window(_buffer(county.geometry, net_m), layers=layers, own=county.code)
    stats: dict = {"read_s": time.perf_counter() - t0}
    t = time.perf_counter()
    nodes, edges = join_networks([(data["network_nodes"], data["network_edges"])])  # numbered 0..n-1
    net = WalkNetwork.from_frames(nodes, edges, metric_crs=data["metric_epsg"], name=f"window {county.code}")
    stats.update(network_s=time.perf_counter() - t, nodes=len(nodes), edges=len(edges))
    done = CountyResult(county.code, county.name, {}, "", 0.0)
    if "coverage" in analyses:
        t = time.perf_counter()
        _county_coverage(county, data, net, norms, params, fac_m, out_dir, done)
        stats["coverage_s"] = time.perf_counter() - t
    if "audit" in analyses:
        t = time.perf_counter()
        _county_audit(county, data, net, norms, audit_params, out_dir, done)
        stats["audit_s"] = time.perf_counter() - t
    done.seconds = time.perf_counter() - t0
    done.stats = {**stats, "units_in_window": len(data["population_units"]), "peak_rss_mb": peak_rss_mb()}
    marker = Path(out_dir) / "_done" / f"{county.code}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**done.__dict__, "analyses": list(analyses)}, ensure_ascii=False), encoding="utf-8")
    return done


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB; the kernel's high-water mark, ``ru_maxrss``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _county_coverage(county, data, net, norms, params, fac_m, out_dir, done: CountyResult) -> None:
    """Coverage of the county's units on the window; the part ``OUT/coverage/county=<code>/part-0.parquet``."""
    from facilities.coverage import compute_coverage
    from facilities.service import entrances_for

    units, facilities = data["population_units"], data["facilities"]
    facilities = facilities[facilities.intersects(_buffer(county.geometry, fac_m))]
    inside = owned_by(units, county, data["admin_areas"])
    if not inside.any():
        raise InputError(f"county {county.code} has no population units", f"区县 {county.code} 没有人口单元")
    entrances, _unknown = entrances_for(data["unit_entrances"], units)  # outside the window: not needed here
    result = compute_coverage(
        net, units, facilities, norms, params=params, communities=data["communities"], entrances=entrances
    )
    result.units = _beyond_window_as_inf(result.units[inside].reset_index(drop=True), result.rules, fac_m)
    groups = getattr(result, "groups", None)  # residents per age group, row-aligned with the units
    if groups is not None:
        result.groups = dataclasses.replace(groups, frame=groups.frame[inside].reset_index(drop=True))
    path = Path(out_dir) / "coverage" / f"county={county.code}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    _plain(result.units).to_parquet(path)
    done.summary, done.path, done.paths["coverage"] = result.summary(), str(path), str(path)
    done.warnings += list(result.warnings)


def county_audit_inputs(county: County, data: dict, norms, metric_crs) -> dict:
    """The audit's inputs of one county from its window: the features the county owns (:func:`owned_by`) of
    every layer, and the hazards whose zone reaches the county.

    A community on a county line belongs to the county holding its representative point, as do units,
    facilities, shelters, parcels and the rest: each county audits its own plan, residents and sites (shelter
    capacity of one county is not counted for another), while walks run on the whole street network.
    """
    from facilities.hazards import hazard_zones

    outlines = data["admin_areas"]
    out = {}
    for layer in ("communities", "population_units", "facilities") + AUDIT_LAYERS:
        frame = data.get(layer)
        if layer == "hazards":
            if frame is not None and len(frame):
                zones = hazard_zones(frame, norms, metric_crs=metric_crs)
                reach = frame["id"].isin(zones.loc[zones.intersects(county.geometry), "hazard_id"])
                frame = frame[reach.to_numpy()].reset_index(drop=True)
        elif frame is not None:
            frame = frame[owned_by(frame, county, outlines)].reset_index(drop=True)
        out[layer] = frame if frame is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    return out


def audit_county(inputs: dict, entrances, norms, net, params):
    """The audit of one county's inputs (:func:`county_audit_inputs`) on ``net``, as
    :func:`facilities.audit_service.audit_from_store` runs it over a store."""
    from facilities.audit import compute_audit
    from facilities.audit_service import flag_shelters_in_hazards

    result = compute_audit(
        inputs["communities"],
        inputs["population_units"],
        inputs["facilities"],
        inputs["shelters"],
        inputs["plan_parcels"],
        inputs["developments"],
        norms,
        net=net,
        params=params,
        entrances=entrances,
        idle_assets=inputs["idle_assets"],
        space_candidates=inputs["space_candidates"],
    )
    flag_shelters_in_hazards(result, inputs["hazards"], norms, net)
    result.totals["walking_profile"] = params.profile
    return result


def _county_audit(county, data, net, norms, params, out_dir, done: CountyResult) -> None:
    """The audit of the county; one part per table ``OUT/audit/<table>/county=<code>/part-0.parquet``."""
    from facilities.audit_service import OUTPUTS
    from facilities.service import entrances_for

    from .core.network import WalkProfile

    inputs = county_audit_inputs(county, data, norms, net.crs)
    if not len(inputs["communities"]):
        raise InputError(
            f"county {county.code} has no communities in the adopted plan",
            f"区县 {county.code} 在已批准的社区划分方案中没有社区，无法审计",
        )
    walk_net = net if params.profile == "standard" else net.for_profile(WalkProfile.from_input(params.profile, norms))
    units = inputs["population_units"]
    entrances, unknown = entrances_for(data["unit_entrances"], units) if len(units) else (None, 0)
    result = audit_county(inputs, entrances, norms, walk_net, params)
    if unknown:
        result.warnings.append(f"{unknown} 个小区出入口所属的人口单元不存在，未计入")
    for name in OUTPUTS:
        table = getattr(result, name, None)
        if table is None or len(table) == 0:
            continue
        path = Path(out_dir) / "audit" / name / f"county={county.code}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        _plain(table).to_parquet(path)
        done.paths[f"audit/{name}"] = str(path)
    done.audit = audit_headline(result.totals)
    done.warnings += [f"审计：{w}" for w in result.warnings]


def audit_headline(totals: dict) -> dict:
    """The audit's headline figures of a county (JSON values) from the audit totals; absent figures are None."""

    def get(*path):
        v = totals
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        return v

    return {
        "communities": get("communities"),
        "communities_with_space_gap": get("communities_with_space_gap"),
        "service_floor_gap_m2": get("service_floor_gap_m2"),
        "communities_missing_categories": get("communities_missing_categories"),
        "communities_without_office": get("communities_without_office"),
        "shelters": get("shelters"),
        "emergency_capacity_persons": get("emergency", "capacity_persons"),
        "emergency_demand_persons": get("emergency", "demand_persons"),
        "emergency_unplaced": get("emergency", "unplaced"),
        "shelters_in_hazard_zones": get("shelters_in_hazard_zones"),
        "facilities_below_minimum": get("facilities_below_minimum"),
    }


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


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet-safe columns: lists, tuples, dicts and arrays as JSON text, other objects as text (None kept)."""
    out = frame.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for c in out.columns:
        if c != geometry and out[c].dtype == object:
            out[c] = [_json_cell(v) for v in out[c]]
            out[c] = out[c].astype("string")
    return out


def _json_cell(v):
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return v


# --------------------------------------------------------------------------------------------- the batch
@dataclass
class BatchReport:
    """Counties done now, skipped (done before), failed (with the Chinese reason)."""

    done: list[CountyResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    summary_xlsx: Path | None = None
    summary_map: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds: list_s, compute_s, summary_s


def finished_counties(out_dir: Path, analyses: Iterable[str] = ("coverage",)) -> set[str]:
    """Counties whose done marker covers every one of ``analyses`` (a marker of a coverage-only run does not
    finish a county for ``coverage,audit``)."""
    want = set(analyses)
    out = set()
    for p in (Path(out_dir) / "_done").glob("*.json"):
        try:
            marker = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a marker cut short (killed client): not finished
            continue
        if want <= set(marker.get("analyses", ["coverage"])):
            out.add(p.stem)
    return out


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
    analyses = tuple(dict.fromkeys(analyses))
    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown or not analyses:
        raise InputError(
            f"unknown or unsupported analyses: {unknown}; supported: {list(ANALYSES)}",
            f"不支持的分析：{'、'.join(unknown) or '（未指定）'}；批量计算支持：{'、'.join(ANALYSES)}",
        )
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    src = open_source(source)
    counties = src.counties()
    if not counties:
        raise InputError("no county outlines in the source", "数据来源中没有区县边界（行政区划 level=county）")
    report = BatchReport()
    finished = set() if recompute else finished_counties(out_dir, analyses)
    todo = largest_first([c for c in counties if c.code not in finished])
    report.skipped = [c.code for c in counties if c.code in finished]
    t1 = time.perf_counter()
    _run_on_dask(src, todo, out_dir, (params or {}, analyses), scheduler, workers, report, progress)
    t2 = time.perf_counter()
    _write_summary(out_dir, counties, report)
    report.timings = {"list_s": t1 - t0, "compute_s": t2 - t1, "summary_s": time.perf_counter() - t2}
    return report


def largest_first(counties: list[County]) -> list[County]:
    """Counties by decreasing outline area (a proxy of their cost): the long tasks start first, so that no worker
    is left with a large county while the others are idle at the end."""
    if not counties:
        return []
    frame = gpd.GeoSeries([c.geometry for c in counties], crs=4326)
    area = frame.to_crs(metric_crs_for(gpd.GeoDataFrame(geometry=frame))).area.to_numpy()
    return [counties[i] for i in np.argsort(-area, kind="stable")]


def _run_on_dask(src, todo, out_dir, job, scheduler, workers, report, progress) -> None:
    """Submit one task per county of ``todo`` (in that order, the first with the highest priority)."""
    from distributed import Client, LocalCluster, as_completed

    if not todo:
        return
    params, analyses = job
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
            client.submit(
                run_county,
                src,
                c,
                str(out_dir),
                params,
                analyses,
                key=f"county-{c.code}",
                retries=2,
                pure=False,
                priority=len(todo) - i,
            ): c
            for i, c in enumerate(todo)
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
            fut.release()
            if progress:
                progress(i, len(todo), county.code)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


AUDIT_COLUMNS_ZH = {
    "communities": "社区数",
    "communities_with_space_gap": "服务用房不足的社区数",
    "service_floor_gap_m2": "服务用房缺口（m²）",
    "communities_missing_categories": "缺少必配设施的社区数",
    "communities_without_office": "无固定办公场所的社区数",
    "shelters": "避难场所数",
    "emergency_capacity_persons": "紧急避难场所容量（人）",
    "emergency_demand_persons": "需安置人数",
    "emergency_unplaced": "紧急避难安置缺口（人）",
    "shelters_in_hazard_zones": "位于灾害风险区的避难场所数",
    "facilities_below_minimum": "面积低于下限的设施数",
}


def summary_table(out_dir: Path, counties: list[County]) -> pd.DataFrame:
    """One row per finished county (from the done markers): coverage totals and the walking rate of each
    category, and the audit's headline figures (:func:`audit_headline`) where the audit ran."""
    names = {c.code: c.name for c in counties}
    rows = []
    for marker in sorted((Path(out_dir) / "_done").glob("*.json")):
        done = json.loads(marker.read_text(encoding="utf-8"))
        s = done.get("summary") or {}
        row = {"county_code": done["code"], "county_name": names.get(done["code"], done["name"])}
        if s:
            row.update({k: s[k] for k in ("units", "residents", "households", "unreachable_residents")})
            for cat in s["categories"]:
                row[f"{cat['category_zh']}步行覆盖率"] = cat["walk_rate"]
            for lv in s["levels"]:
                row[f"{lv['level']}生活圈完整覆盖率"] = lv["complete_rate"]
        for key, value in (done.get("audit") or {}).items():
            row[f"audit_{key}"] = value
        row["seconds"] = round(done["seconds"], 2)
        rows.append(row)
    return pd.DataFrame(rows)


def _zh_columns(table: pd.DataFrame) -> pd.DataFrame:
    names = {**RESULT_COLUMNS_ZH, **{f"audit_{k}": f"审计：{v}" for k, v in AUDIT_COLUMNS_ZH.items()}}
    return table.rename(columns=names)


def _write_summary(out_dir: Path, counties: list[County], report: BatchReport) -> None:
    table = summary_table(out_dir, counties)
    if table.empty:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx = out_dir / "省级汇总.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as writer:
        _zh_columns(table).to_excel(writer, sheet_name="区县汇总", index=False)
        if report.failed:
            pd.DataFrame({"区县代码": list(report.failed), "失败原因": list(report.failed.values())}).to_excel(
                writer, sheet_name="失败的区县", index=False
            )
    report.summary_xlsx = xlsx
    report.summary_map = _summary_map(out_dir, counties, table)


def _summary_map(out_dir: Path, counties: list[County], table: pd.DataFrame) -> Path:
    """One offline HTML map: a layer per headline figure (complete-circle rate; the audit's emergency-shelter
    shortfall per resident and service-floor gap), every figure of the county in the tooltip."""
    import folium

    frame = gpd.GeoDataFrame(
        {"county_code": [c.code for c in counties], "county_name": [c.name for c in counties]},
        geometry=[c.geometry for c in counties],
        crs=4326,
    ).merge(table.drop(columns=["county_name"]), on="county_code", how="left")
    shown = [c for c in table.columns if c.endswith("完整覆盖率")][-1:]
    if "audit_emergency_unplaced" in frame.columns:
        frame["audit_unplaced_share"] = (
            frame["audit_emergency_unplaced"].astype(float) / frame["audit_emergency_demand_persons"].astype(float)
        ).round(4)
        shown += ["audit_unplaced_share", "audit_service_floor_gap_m2"]
    labels = {
        **{c: c for c in frame.columns},
        **RESULT_COLUMNS_ZH,
        **{f"audit_{k}": f"审计：{v}" for k, v in AUDIT_COLUMNS_ZH.items()},
        "audit_unplaced_share": "审计：紧急避难安置缺口占需安置人数比例",
    }
    shown = shown or ["residents"]
    tip = [c for c in frame.columns if c not in ("geometry", "seconds")]
    minx, miny, maxx, maxy = frame.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None)
    for n, col in enumerate(shown):
        _choropleth(frame, col, tip, labels, good_high=col.endswith("覆盖率"), show=n == 0).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    from maps import assets

    assets.localize(fmap, "/static")
    page = assets.inline_assets(fmap.get_root().render(), "/static")  # one offline file, no CDN
    path = out_dir / "省级汇总地图.html"
    path.write_text(page, encoding="utf-8")
    return path


def _choropleth(frame: gpd.GeoDataFrame, col: str, tip: list[str], labels: dict, *, good_high: bool, show: bool):
    """A GeoJson layer of the counties coloured by ``col`` (green good, red bad), the ``tip`` columns on hover."""
    import folium

    values = pd.to_numeric(frame[col], errors="coerce")
    top = float(np.nanmax(values)) if values.notna().any() else 1.0

    def style(feature):
        v = feature["properties"].get(col)
        share = 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) / (top or 1.0)
        good = share if good_high else 1.0 - share
        return {
            "fillColor": f"#{int(255 * (1 - good)):02x}{int(120 + 100 * good):02x}60",
            "weight": 1,
            "color": "#333",
            "fillOpacity": 0.7,
        }

    return folium.GeoJson(
        frame[tip + ["geometry"]].to_json(na="null"),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(tip, aliases=[labels.get(c, c) for c in tip]),
        name=f"区县：{labels.get(col, col)}",
        show=show,
    )
