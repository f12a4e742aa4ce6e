"""Audit runs against the store: read the layers of one plan, audit, keep the result.

A run records its parameters, the plan, the network version and the layer revisions it
saw (:meth:`Store.save_analysis`, kind ``audit``); :func:`current_audit` reuses the newest
run whose inputs are unchanged and recomputes otherwise.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo_service.core._errors import InputError, NotFoundError
from geo_service.core.coherence import require_coherent
from geo_service.core.network import WalkProfile, load_network
from geo_service.core.norms import Norms
from geo_service.core.runs import RunCache

from .audit import AuditParams, AuditResult, GapPlanParams, compute_audit
from .hazards import hazard_zones, shelters_in_hazards
from .service import entrances_of, resolve_plan

KIND = "audit"
INPUT_LAYERS = (
    "population_units",
    "facilities",
    "shelters",
    "communities",
    "plan_parcels",
    "developments",
    "network_edges",
    "unit_entrances",
    "idle_assets",
    "space_candidates",
    "hazards",
)
OUTPUTS = (
    "communities",
    "category_counts",
    "facilities",
    "shelters",
    "units",
    "assignment",
    "shelter_share",
    "central",
    "shelter_sites",
    "parcels",
    "developments",
    "streets",
    "cannot_assess",
    "gap_plan",
    "hazard_zones",
)
RUNS = RunCache(KIND, INPUT_LAYERS)
# Stored with every run and asked of the runs reused: runs of an older shape (before the group checks and hubs as
# supply, issue 17) are recomputed.
RESULT_VERSION = 2


def _plan_or_error(store, plan) -> dict:
    p = resolve_plan(store, plan)
    if p is None:
        raise InputError(
            "no community plan: name one with --plan / plan=, or adopt one first",
            "没有社区划分方案：请指定方案，或先批准一个方案",
        )
    return p


def audit_from_store(
    store,
    *,
    params: AuditParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    norms: Norms | None = None,
    gap_params: GapPlanParams | None = None,
) -> tuple[AuditResult, dict, object]:
    """Read the inputs and audit (nothing stored); returns the result, the plan and the network."""
    require_coherent(store, INPUT_LAYERS)  # layers far apart: a wrong CRS or another city's file
    params = params or AuditParams()
    p = _plan_or_error(store, plan)
    communities = store.read_layer("communities", plan_id=p["id"])
    units = store.read_layer("population_units")
    try:
        net = load_network(store, network)
    except NotFoundError:
        if network is not None:
            raise
        net = None  # no network yet: the audit runs without the shelter assignment and says so
    walk_net = net  # evacuees who walk slower or need step-free routes: the network as their profile walks it
    if net is not None and params.profile != "standard":
        walk_net = net.for_profile(WalkProfile.from_input(params.profile, norms or store.norms))
    entrances, unknown = entrances_of(store, units) if len(units) else (None, 0)
    result = compute_audit(
        communities,
        units,
        store.read_layer("facilities"),
        store.read_layer("shelters"),
        store.read_layer("plan_parcels"),
        store.read_layer("developments"),
        norms or store.norms,
        net=walk_net,
        params=params,
        entrances=entrances,
        idle_assets=store.read_layer("idle_assets"),
        space_candidates=store.read_layer("space_candidates"),
        gap_params=gap_params or GapPlanParams(),
    )
    if unknown:
        result.warnings.append(f"{unknown} 个小区出入口所属的人口单元不存在，未计入")
    flag_shelters_in_hazards(result, store.read_layer("hazards"), norms or store.norms, net)
    result.totals["walking_profile"] = params.profile
    return result, p, net


def flag_shelters_in_hazards(result: AuditResult, hazards: gpd.GeoDataFrame, norms: Norms, net) -> None:
    """Art. 15: mark the shelters lying in a hazard zone (fault band, flood extent, landslide radius).

    Adds ``in_hazard``, ``hazard_level`` (worst), ``hazard_level_zh``, ``hazard_names``, ``hazard_zh`` and the ids
    and kinds to ``result.shelters``, the zones to ``result.hazard_zones``, ``shelters_in_hazard_zones`` to the
    totals and a warning naming how many.
    """
    if len(hazards) == 0:
        return
    zones = hazard_zones(hazards, norms, metric_crs=None if net is None else net.crs)
    result.hazard_zones = zones
    if len(result.shelters) == 0:
        result.totals["shelters_in_hazard_zones"] = 0
        return
    flags = shelters_in_hazards(result.shelters, zones)
    result.shelters = result.shelters.drop(columns=[c for c in flags.columns if c in result.shelters]).join(flags)
    n = int(flags["in_hazard"].sum())
    result.totals["shelters_in_hazard_zones"] = n
    if n:
        result.warnings.append(
            f"{n} 处避难场所位于灾害风险区（活动断裂带避让带、洪涝淹没区或地质灾害隐患点影响范围）内，"
            "应另选场址或经论证采取防护措施"
        )


def _keyed(result: AuditResult) -> dict[str, pd.DataFrame]:
    keys = {
        "communities": "community_code",
        "category_counts": "community_code",
        "facilities": "facility_id",
        "shelters": "shelter_id",
        "units": "unit_id",
        "parcels": "parcel_id",
        "developments": "development_id",
        "streets": "street_code",
        "central": "shelter_id",
        "shelter_share": "area_code",
        "shelter_sites": "parcel_id",
        "hazard_zones": "hazard_id",
    }
    out = {}
    for name in OUTPUTS:
        frame = getattr(result, name)
        if frame is None or len(frame) == 0:
            continue
        frame = frame.copy()
        if name in keys:
            frame["feature_key"] = frame[keys[name]].astype(str)
        elif name == "assignment":
            frame["feature_key"] = frame["unit_id"].astype(str) + "-" + frame["shelter_id"].astype(str)
        elif name == "gap_plan":
            frame["feature_key"] = [
                f"{c}-{n}-{lay or 'open'}-{cid if cid is not None else ''}"
                for c, n, lay, cid in zip(
                    frame["community_code"], frame["need"], frame["candidate_layer"], frame["candidate_id"]
                )
            ]
        out[name] = frame
    return out


def run_audit(
    store,
    *,
    params: AuditParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    norms: Norms | None = None,
    created_by: str | None = None,
    gap_params: GapPlanParams | None = None,
) -> int:
    """Audit and store one run; return its id."""
    params = params or AuditParams()
    gap_params = gap_params or GapPlanParams()
    revisions = RUNS.revisions(store)
    result, p, net = audit_from_store(
        store, params=params, plan=plan, network=network, norms=norms, gap_params=gap_params
    )
    summary = result.summary()
    summary["plan"] = {"id": p["id"], "name": p["name"], "status": p["status"]}
    summary["network"] = None if net is None else {"id": net.network_id, "name": net.name, "version": net.version}
    summary["params"] = {**params.as_dict(), **gap_params.as_dict()}
    params_dict = {
        **params.as_dict(),
        **gap_params.as_dict(),
        "plan_id": p["id"],
        "network_id": None if net is None else net.network_id,
        "result_version": RESULT_VERSION,
    }
    return store.save_analysis(
        KIND,
        params=params_dict,
        summary=summary,
        outputs=_keyed(result),
        network_id=None if net is None else net.network_id,
        network_version=None if net is None else net.version,
        plan_id=p["id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def current_audit(
    store,
    *,
    params: AuditParams | None = None,
    plan: int | str | None = None,
    network: int | str | None = None,
    recompute: bool = False,
    created_by: str | None = None,
    allow_compute: bool = True,
    gap_params: GapPlanParams | None = None,
) -> dict:
    """The newest stored audit for these inputs, recomputed if any input changed since (``created_by``: who asked;
    ``gap_params``: the gap plan's budget)."""
    params = params or AuditParams()
    gap_params = gap_params or GapPlanParams()
    p = _plan_or_error(store, plan)

    def version():
        try:
            return load_network(store, network).version
        except NotFoundError:
            return None

    return RUNS.current(
        store,
        {**params.as_dict(), **gap_params.as_dict(), "plan_id": p["id"], "result_version": RESULT_VERSION},
        version,
        lambda: run_audit(
            store, params=params, plan=p["id"], network=network, created_by=created_by, gap_params=gap_params
        ),
        recompute=recompute,
        allow_compute=allow_compute,
    )


def run_tables(store, run_id: int) -> dict[str, gpd.GeoDataFrame]:
    """Every stored output of an audit run (for the XLSX, CSV and GeoJSON exports)."""
    run = store.get_analysis(run_id)
    return {name: store.read_analysis_output(run_id, name) for name in run.get("outputs", {})}
