"""Coverage runs against the store: read the layers, compute, keep the result.

A run records its parameters, the network version and the layer revisions it
saw; :func:`current_coverage` reuses the newest run whose inputs are unchanged
and recomputes otherwise (facilities or units edited, a new network).
"""

from __future__ import annotations

import threading

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service._errors import InputError
from geo_service.network import WalkNetwork, load_network
from geo_service.norms import Norms, load_norms

from .coverage import (
    CoverageParams,
    CoverageResult,
    community_rates,
    compute_coverage,
    service_areas,
)

KIND = "coverage"
INPUT_LAYERS = ("population_units", "facilities", "communities", "network_edges")
_RUN_LOCK = threading.Lock()


def norms_for(store) -> Norms:
    return load_norms(store.settings.norms_file)


def resolve_plan(store, plan: int | str | None) -> dict | None:
    """The chosen plan, else the adopted one (newest), else None."""
    if plan is not None:
        return store.get_plan(plan)
    adopted = [p for p in store.list_plans() if p["status"] == "adopted"]
    return adopted[-1] if adopted else None


def _input_revisions(store) -> dict[str, int]:
    revs = store.layer_revisions()
    return {k: int(revs.get(k, 0)) for k in INPUT_LAYERS}


def compute_from_store(store, *, params: CoverageParams | None = None, plan: int | str | None = None,
                       network: int | str | None = None, norms: Norms | None = None) -> tuple[CoverageResult, WalkNetwork, dict | None]:
    """Read the layers and compute (nothing stored)."""
    params = params or CoverageParams()
    net = load_network(store, network)
    units = store.read_layer("population_units")
    if len(units) == 0:
        raise InputError("there are no population units; import them first", "没有人口单元数据，请先导入")
    facilities = store.read_layer("facilities")
    if len(facilities) == 0:
        raise InputError("there are no facilities; import them first", "没有设施数据，请先导入")
    p = resolve_plan(store, plan)
    communities = store.read_layer("communities", plan_id=p["id"]) if p else None
    result = compute_coverage(net, units, facilities, norms or norms_for(store), params=params, communities=communities)
    return result, net, p


def run_coverage(store, *, params: CoverageParams | None = None, plan: int | str | None = None,
                 network: int | str | None = None, norms: Norms | None = None, created_by: str | None = None) -> int:
    """Compute and store one coverage run; return its id.

    Outputs: ``units`` (unit polygons with every per-category figure), ``communities``
    (polygons with rates), ``streets`` (rates, no geometry), ``gaps`` (ranked units).
    """
    params = params or CoverageParams()
    revisions = _input_revisions(store)
    result, net, p = compute_from_store(store, params=params, plan=plan, network=network, norms=norms)
    units = result.units.copy()
    units["feature_key"] = units["unit_id"].astype(str)
    outputs: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"units": units}
    if p is not None:
        communities = store.read_layer("communities", plan_id=p["id"])
        cm = community_rates(result, communities)
        cm["feature_key"] = cm["community_code"].astype(str)
        outputs["communities"] = cm
    streets = result.rates("street_code").reset_index()
    streets["feature_key"] = streets["street_code"].astype(str)
    outputs["streets"] = streets
    gaps = result.gaps()
    gaps["feature_key"] = gaps["unit_id"].astype(str)
    outputs["gaps"] = gaps
    summary = result.summary()
    summary["streets"] = _records(streets.drop(columns=["feature_key"]))
    summary["plan"] = None if p is None else {"id": p["id"], "name": p["name"]}
    summary["network"] = {"id": net.network_id, "name": net.name, "version": net.version}
    params_dict = {**params.as_dict(), "plan_id": None if p is None else p["id"], "network_id": net.network_id}
    return store.save_analysis(
        KIND, params=params_dict, summary=summary, outputs=outputs, network_id=net.network_id,
        network_version=net.version, plan_id=None if p is None else p["id"], data_revisions=revisions,
        created_by=created_by,
    )


def current_coverage(store, *, params: CoverageParams | None = None, plan: int | str | None = None,
                     network: int | str | None = None, recompute: bool = False) -> dict:
    """The newest stored run for these inputs, recomputed if any input changed since."""
    params = params or CoverageParams()
    p = resolve_plan(store, plan)
    with _RUN_LOCK:
        if not recompute:
            run = _matching_run(store, params, p, network)
            if run is not None:
                return run
        rid = run_coverage(store, params=params, plan=None if p is None else p["id"], network=network)
        return store.get_analysis(rid)


def _matching_run(store, params: CoverageParams, plan: dict | None, network) -> dict | None:
    want = {**params.as_dict(), "plan_id": None if plan is None else plan["id"]}
    revisions = _input_revisions(store)
    net = load_network(store, network)
    for run in store.list_analyses(KIND, limit=50):
        if run["status"] != "done" or run["network_version"] != net.version:
            continue
        if any(run["params"].get(k) != v for k, v in want.items()):
            continue
        if {k: run["data_revisions"].get(k) for k in INPUT_LAYERS} != revisions:
            continue
        return store.get_analysis(run["id"])
    return None


def service_areas_from_store(store, *, categories: list[str] | None = None, walk_m: float | None = None,
                             facility_ids: list[int] | None = None, levels=("5min", "10min", "15min"),
                             network=None) -> gpd.GeoDataFrame:
    """Service-area polygons per category (EPSG:4326), or of chosen facilities."""
    from .coverage import category_rules, service_area

    net = load_network(store, network)
    norms = norms_for(store)
    facilities = store.read_layer("facilities")
    status = facilities["status"].fillna("existing") if "status" in facilities.columns else None
    if facility_ids:
        chosen = facilities[facilities["id"].isin([int(i) for i in facility_ids])]
        missing = sorted({int(i) for i in facility_ids} - set(chosen["id"].astype(int)))
        if missing:
            from geo_service._errors import NotFoundError

            raise NotFoundError(f"no facilities with ids {missing}", f"没有编号为 {missing} 的设施", ids=missing)
        cats = sorted(set(chosen["category"]))
        thr = walk_m if walk_m is not None else min(norms.service_radius_m(c) or np.inf for c in cats)
        geom = service_area(net, chosen, float(thr))
        return gpd.GeoDataFrame([{"facility_ids": [int(i) for i in chosen["id"]], "walk_m": float(thr), "geometry": geom}],
                                geometry="geometry", crs=4326)
    rules = category_rules(norms, levels, categories)
    if walk_m is not None:
        from dataclasses import replace

        rules = {c: replace(r, threshold_m=float(walk_m)) for c, r in rules.items()}
    supply = facilities[(status == "existing").to_numpy()] if status is not None else facilities
    if categories:
        empty = [c for c in categories if (supply["category"] == c).sum() == 0]
        if empty:
            raise InputError(f"no existing facility of category {empty}", f"没有现状设施：{'、'.join(rules[c].label_zh for c in empty)}",
                             categories=empty)
    return service_areas(net, supply, rules)


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else (v.item() if isinstance(v, np.generic) else v))
                    for k, v in rec.items()})
    return out
