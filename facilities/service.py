"""Coverage runs against the store: read the layers, compute, keep the result.

A run records its parameters, the network version and the layer revisions it
saw; :func:`current_coverage` reuses the newest run whose inputs are unchanged
and recomputes otherwise (facilities or units edited, a new network).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core._errors import InputError
from geo_service.core.coherence import require_coherent
from geo_service.core.jsonvalues import json_records
from geo_service.core.network import WalkNetwork, load_network
from geo_service.core.norms import Norms
from geo_service.core.runs import RunCache
from geo_service.core.vocab import in_service

from .coverage import (
    CoverageParams,
    CoverageResult,
    community_rates,
    compute_coverage,
    service_areas,
)
from .hubs import with_hub_functions

KIND = "coverage"
INPUT_LAYERS = ("population_units", "facilities", "communities", "network_edges", "unit_entrances")
RUNS = RunCache(KIND, INPUT_LAYERS)
# Stored with every run and asked of the runs reused: runs of an older shape (before the group rates and hubs as
# supply, issue 17) are recomputed instead of answering without those figures.
RESULT_VERSION = 2


def resolve_plan(store, plan: int | str | None) -> dict | None:
    """The chosen plan, else the adopted one (newest), else None."""
    if plan is not None:
        return store.get_plan(plan)
    adopted = [p for p in store.list_plans() if p["status"] == "adopted"]
    return adopted[-1] if adopted else None


def compute_from_store(
    store,
    *,
    params: CoverageParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    norms: Norms | None = None,
) -> tuple[CoverageResult, WalkNetwork, dict | None]:
    """Read the layers and compute (nothing stored)."""
    result, net, p, _inputs = _compute(store, params or CoverageParams(), plan, network, norms)
    return result, net, p


def _compute(store, params: CoverageParams, plan, network, norms):
    """Read the inputs once, compute; also return the inputs for the run's other outputs."""
    require_coherent(store, INPUT_LAYERS)  # layers far apart: a wrong CRS or another city's file
    net = load_network(store, network)
    units = store.read_layer("population_units")
    if len(units) == 0:
        raise InputError("there are no population units; import them first", "没有人口单元数据，请先导入")
    facilities = store.read_layer("facilities")
    if len(facilities) == 0:
        raise InputError("there are no facilities; import them first", "没有设施数据，请先导入")
    p = resolve_plan(store, plan)
    communities = store.read_layer("communities", plan_id=p["id"]) if p else None
    entrances, unknown = entrances_of(store, units)
    result = compute_coverage(
        net, units, facilities, norms or store.norms, params=params, communities=communities, entrances=entrances
    )
    if unknown:
        result.warnings.append(f"{unknown} 个小区出入口所属的人口单元不存在，未计入")
    return result, net, p, {"units": units, "facilities": facilities, "communities": communities}


def entrances_of(store, units: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame | None, int]:
    """Stored unit entrances with the ``unit_id`` of their unit, and how many name an unknown unit.

    A unit with entrances is reached from its nearest entrance only; other units from their
    representative point (see :func:`facilities.coverage.snap_units`).
    """
    return entrances_for(store.read_layer("unit_entrances"), units)


def entrances_for(ent: gpd.GeoDataFrame | None, units: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame | None, int]:
    """Entrance points (``unit_source_id``) given the ``unit_id`` of their unit among ``units`` (``id``,
    ``source_id``); also how many name a unit not in ``units``."""
    if ent is None or len(ent) == 0:
        return None, 0
    ids = pd.Series(units["id"].to_numpy(), index=units["source_id"].astype(str).to_numpy())
    unit_id = ent["unit_source_id"].astype(str).map(ids)
    known = unit_id.notna().to_numpy()
    ent = ent[known].assign(unit_id=unit_id[known].astype(np.int64).to_numpy())
    return gpd.GeoDataFrame(ent[["unit_id", "geometry"]], geometry="geometry", crs=units.crs), int((~known).sum())


def run_coverage(
    store,
    *,
    params: CoverageParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    norms: Norms | None = None,
    created_by: str | None = None,
) -> int:
    """Compute and store one coverage run; return its id.

    Outputs: ``units`` (unit polygons with every per-category figure and the residents of the served age
    groups), ``communities`` (polygons with rates), ``streets`` (rates, no geometry), ``gaps`` (ranked units).
    Rates are over all residents and over the group each category serves (``<c>_group_rate``…, see
    :mod:`facilities.groups`); the summary's categories carry the group, its TD/T 1062-2021 tier and the
    city-wide group figures.
    """
    params = params or CoverageParams()
    revisions = RUNS.revisions(store)
    result, net, p, inputs = _compute(store, params, plan, network, norms)
    units = result.units.copy()
    access, access_notes = accessibility_columns(
        net, inputs["units"], in_service(inputs["facilities"]), list(result.rules)
    )
    for col, values in access.items():
        units[col] = values
    units["feature_key"] = units["unit_id"].astype(str)
    outputs: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"units": units}
    if p is not None:
        cm = community_rates(result, inputs["communities"])
        cm["feature_key"] = cm["community_code"].astype(str)
        outputs["communities"] = cm
    streets = result.rates("street_code").reset_index()
    streets["feature_key"] = streets["street_code"].astype(str)
    outputs["streets"] = streets
    gaps = result.gaps()
    gaps["feature_key"] = gaps["unit_id"].astype(str)
    outputs["gaps"] = gaps
    summary = result.summary()
    summary["streets"] = json_records(streets.drop(columns=["feature_key"]))
    summary["plan"] = None if p is None else {"id": p["id"], "name": p["name"]}
    summary["accessibility"] = {
        "method": "E2SFCA",
        "unit": "capacity per 1,000 residents",
        "zones_m": [300, 500, 1000],
        "weights": [1.0, 0.68, 0.22],
        "categories": access_notes,
    }
    summary["network"] = {"id": net.network_id, "name": net.name, "version": net.version}
    params_dict = {
        **params.as_dict(),
        "plan_id": None if p is None else p["id"],
        "network_id": net.network_id,
        "result_version": RESULT_VERSION,
    }
    return store.save_analysis(
        KIND,
        params=params_dict,
        summary=summary,
        outputs=outputs,
        network_id=net.network_id,
        network_version=net.version,
        plan_id=None if p is None else p["id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def current_coverage(
    store,
    *,
    params: CoverageParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    recompute: bool = False,
    created_by: str | None = None,
    allow_compute: bool = True,
) -> dict:
    """The newest stored run for these inputs, recomputed if any input changed since (``created_by``: who asked)."""
    params = params or CoverageParams()
    p = resolve_plan(store, plan)
    want = {**params.as_dict(), "plan_id": None if p is None else p["id"], "result_version": RESULT_VERSION}
    return RUNS.current(
        store,
        want,
        lambda: load_network(store, network).version,
        lambda: run_coverage(
            store, params=params, plan=None if p is None else p["id"], network=network, created_by=created_by
        ),
        recompute=recompute,
        allow_compute=allow_compute,
    )


def service_areas_from_store(
    store,
    *,
    categories: list[str] | None = None,
    walk_m: float | None = None,
    facility_ids: list[int] | None = None,
    levels=("5min", "10min", "15min"),
    network=None,
) -> gpd.GeoDataFrame:
    """Service-area polygons per category (EPSG:4326), or of chosen facilities."""
    from .coverage import category_rules, service_area

    net = load_network(store, network)
    norms = store.norms
    facilities = store.read_layer("facilities")
    if facility_ids:
        chosen = facilities[facilities["id"].isin([int(i) for i in facility_ids])]
        missing = sorted({int(i) for i in facility_ids} - set(chosen["id"].astype(int)))
        if missing:
            from geo_service.core._errors import NotFoundError

            raise NotFoundError(f"no facilities with ids {missing}", f"没有编号为 {missing} 的设施", ids=missing)
        cats = sorted(set(chosen["category"]))
        thr = walk_m if walk_m is not None else min(norms.service_radius_m(c) or np.inf for c in cats)
        geom = service_area(net, chosen, float(thr))
        return gpd.GeoDataFrame(
            [{"facility_ids": [int(i) for i in chosen["id"]], "walk_m": float(thr), "geometry": geom}],
            geometry="geometry",
            crs=4326,
        )
    rules = category_rules(norms, levels, categories)
    if walk_m is not None:
        from dataclasses import replace

        rules = {c: replace(r, threshold_m=float(walk_m)) for c, r in rules.items()}
    supply = in_service(with_hub_functions(facilities))
    if categories:
        empty = [c for c in categories if (supply["category"] == c).sum() == 0]
        if empty:
            raise InputError(
                f"no existing facility of category {empty}",
                f"没有现状设施：{'、'.join(rules[c].label_zh for c in empty)}",
                categories=empty,
            )
    return service_areas(net, supply, rules)


def _supply(store) -> gpd.GeoDataFrame:
    """Existing facilities, hubs once more per category their ``functions`` list (EPSG:4326)."""
    return in_service(with_hub_functions(store.read_layer("facilities")))


# ----------------------------------------------------------------------------- siting
def candidate_sites(store, norms: Norms, candidates: list[tuple[float, float]] | None = None) -> gpd.GeoDataFrame:
    """Candidate points (EPSG:4326): given lon/lat pairs, else the plan parcels reserved for community services."""
    import shapely

    if candidates:
        arr = np.asarray(candidates, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
            raise InputError("candidates must be [lon, lat] pairs of finite numbers", "候选点应为 [经度, 纬度] 数对")
        return gpd.GeoDataFrame(
            {
                "candidate_id": [f"p{i + 1}" for i in range(len(arr))],
                "name": None,
                "land_use_code": None,
                "area_m2": np.nan,
            },
            geometry=shapely.points(arr),
            crs=4326,
        )
    parcels = store.read_layer("plan_parcels")
    codes = set(norms.land_use.reserved_community_service)
    if len(parcels):
        parcels = parcels[parcels["land_use_code"].astype(str).isin(codes).to_numpy()]
    if len(parcels) == 0:
        raise InputError(
            "no candidate sites: no plan parcel is reserved for community services; give candidate points",
            f"没有候选地块：国土空间规划中没有社区服务设施用地（{'、'.join(sorted(codes))}），请提供候选点",
            land_use_codes=sorted(codes),
        )
    return gpd.GeoDataFrame(
        {
            "candidate_id": parcels["id"].astype(str).to_numpy(),
            "name": parcels["name"].to_numpy() if "name" in parcels else None,
            "land_use_code": parcels["land_use_code"].to_numpy(),
            "area_m2": parcels["area_m2"].to_numpy() if "area_m2" in parcels else np.nan,
        },
        geometry=parcels.geometry.representative_point().values,
        crs=4326,
    )


@dataclass(frozen=True)
class SitingParams:
    """What a siting run chooses: ``k`` new sites of ``category`` covering within ``walk_m`` metres of walking.

    ``walk_m`` None: the category's threshold from the norms. ``candidates``: (lon, lat) pairs, EPSG:4326 (None:
    the plan parcels of community service land). ``exact_check``: also solve exactly and report the greedy gap.
    """

    category: str
    k: int
    walk_m: float | None = None
    candidates: tuple[tuple[float, float], ...] | None = None
    exact_check: bool = False

    @classmethod
    def from_input(cls, category: str, k, *, walk_m=None, candidates=None, exact_check: bool = False) -> SitingParams:
        """The one constructor from CLI options or an HTTP body; a Chinese error for bad values."""
        if walk_m is not None and (not np.isfinite(float(walk_m)) or float(walk_m) <= 0):
            raise InputError("walk_m must be positive", "步行距离必须大于 0")
        pts = None if candidates is None else tuple((float(lon), float(lat)) for lon, lat in candidates)
        return cls(category, k, None if walk_m is None else float(walk_m), pts, bool(exact_check))


def siting_from_store(store, params: SitingParams, *, network=None) -> dict:
    """Choose ``params.k`` new sites for ``params.category`` adding the most covered residents (greedy, lazy).

    Existing facilities stay; coverage is walking distance within the category's threshold
    (or ``params.walk_m``).  With ``params.exact_check`` (at most 300 candidates) the exact MILP optimum
    and the greedy gap are reported too.
    """
    category, k, walk_m, exact_check = params.category, params.k, params.walk_m, params.exact_check
    candidates = None if params.candidates is None else list(params.candidates)
    from .coverage import TOLERANCE_M, category_rules, walk_to_nearest
    from .siting import coverage_from_pairs, greedy_siting, siting_gap_report

    norms = store.norms
    rule = category_rules(norms, categories=[category])[category]
    thr = float(walk_m) if walk_m is not None else rule.threshold_m
    net = load_network(store, network)
    units = store.read_layer("population_units")
    if len(units) == 0:
        raise InputError("there are no population units", "没有人口单元数据")
    unit_snap = net.snap(units.geometry.representative_point())
    fac = _supply(store)  # hubs listing the category serve it too
    fac = fac[fac["category"].to_numpy() == category]
    if len(fac):
        walk, _ = walk_to_nearest(net, net.snap(fac.geometry), unit_snap, thr)
        covered = walk <= thr + TOLERANCE_M
    else:
        covered = np.zeros(len(units), dtype=bool)
    sites = candidate_sites(store, norms, candidates)
    site_snap = net.snap(sites.geometry)
    ci, ui, d = net.distances_within(site_snap, unit_snap, limit_m=thr + TOLERANCE_M)
    cov = coverage_from_pairs(ci, ui, d, thr + TOLERANCE_M, len(sites), len(units))
    residents = units["residents"].fillna(0).to_numpy(dtype=float)
    ids = list(sites["candidate_id"])
    result = greedy_siting(residents, covered, cov, int(k), ids)
    picks = []
    pos = {c: i for i, c in enumerate(ids)}
    for rank, (cid, gain, cum, share) in enumerate(
        zip(result.pick_ids, result.gain_residents, result.covered_residents, result.covered_share), start=1
    ):
        row = sites.iloc[pos[cid]]
        picks.append(
            {
                "rank": rank,
                "candidate_id": cid,
                "name": row["name"],
                "land_use_code": row["land_use_code"],
                "lon": float(row.geometry.x),
                "lat": float(row.geometry.y),
                "gain_residents": round(gain),
                "covered_residents": round(cum),
                "covered_share": float(share),
            }
        )
    out = {
        "category": category,
        "category_zh": rule.label_zh,
        "walk_m": thr,
        "k": int(k),
        "candidates": len(sites),
        "unreachable_candidates": int((~site_snap.reachable).sum()),
        "baseline_covered_residents": round(result.baseline_covered_residents),
        "total_residents": round(result.total_residents),
        "picks": picks,
        "stop_reason": result.stop_reason,
        "method": "greedy_lazy",
    }
    if exact_check:
        if len(sites) > 300:
            raise InputError(
                "the exact check is limited to 300 candidates", "精确校核最多支持 300 个候选点", candidates=len(sites)
            )
        rep = siting_gap_report(residents, covered, cov, int(k), ids, time_limit_s=30.0)
        out["exact_check"] = {
            "greedy_added_residents": round(rep.greedy_objective_residents),
            "exact_added_residents": round(rep.exact_objective_residents),
            "gap_pct": rep.gap_pct,
            "exact_optimal": bool(rep.exact_optimal),
        }
    return out


# ----------------------------------------------------------------------------- accessibility
def accessibility_columns(
    net: WalkNetwork, units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, categories
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """E2SFCA score per unit for every category whose facilities carry a capacity.

    Returns ``{"<c>_e2sfca_per_1000": scores}`` and per category a note (facilities used,
    facilities without capacity).
    """
    from .accessibility import e2sfca

    cols: dict[str, np.ndarray] = {}
    notes: dict[str, dict] = {}
    if "capacity" not in facilities.columns:
        return cols, notes
    unit_snap = net.snap(units.geometry.representative_point())
    residents = units["residents"].fillna(0).to_numpy(dtype=float)
    for c in categories:
        fac = facilities[facilities["category"].to_numpy() == c]
        if len(fac) == 0 or fac["capacity"].notna().sum() == 0:
            continue
        fs = net.snap(fac.geometry)
        fi, ui, d = net.distances_within(fs, unit_snap, limit_m=1000.0)
        res = e2sfca(ui, fi, d, residents, fac["capacity"].to_numpy(dtype=float))
        cols[f"{c}_e2sfca_per_1000"] = np.round(res.e2sfca_per_1000, 4)
        notes[c] = {
            "facilities_with_capacity": int(fac["capacity"].notna().sum()),
            "facilities_without_capacity": int(fac["capacity"].isna().sum()),
        }
    return cols, notes


def ensure_service_areas(store, run: dict, *, network=None) -> bool:
    """Add the ``service_areas`` output (one polygon per analysed category) to a coverage run that lacks it.

    Service areas take 1–2 s per category (buffered reachable streets), so a run stores them
    when a map first asks.  Returns True when it computed them.
    """
    from .coverage import category_rules

    if run.get("outputs", {}).get("service_areas"):
        return False
    cats = [c["category"] for c in run["summary"].get("categories", []) if c.get("facilities")]
    if not cats:
        return False
    net = load_network(store, network if network is not None else run.get("network_id"))
    areas = service_areas(net, _supply(store), category_rules(store.norms, categories=cats))
    if len(areas):
        store.add_analysis_output(run["id"], "service_areas", areas)
    return bool(len(areas))
