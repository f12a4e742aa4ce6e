"""Shelter scenarios against the store: read the layers, compute (:mod:`facilities.scenario`), keep the run.

A run (kind ``shelter_scenario``) records the scenario's parameters, the plan, the network version and the
revisions of the layers it read; :func:`current_scenario` reuses the newest run whose inputs are unchanged.
Stored outputs: ``shelters``, ``units``, ``communities``, ``zones`` and ``routes`` (the assignment after, one
walking route per unit and shelter), all EPSG:4326.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd

from geo_service.core._errors import NotFoundError
from geo_service.core.network import load_network
from geo_service.core.runs import RunCache

from .scenario import ScenarioParams, ScenarioResult, assignment_routes, compute_scenario, pick
from .service import entrances_of, resolve_plan

KIND = "shelter_scenario"
INPUT_LAYERS = ("population_units", "shelters", "hazards", "communities", "network_edges", "unit_entrances")
OUTPUTS = ("shelters", "units", "communities", "zones", "routes")
RUNS = RunCache(KIND, INPUT_LAYERS)


def scenario_from_store(
    store, params: ScenarioParams, *, plan: int | str | None = None, routes: bool = True
) -> tuple[ScenarioResult, dict | None, object]:
    """Read the inputs and compute the scenario (nothing stored); returns the result, the plan and the network.

    ``routes``: also draw the walking route of every assigned pair (:func:`assignment_routes`).
    """
    net = load_network(store)
    p = resolve_plan(store, plan)
    communities = store.read_layer("communities", plan_id=p["id"]) if p else None
    units = store.read_layer("population_units")
    entrances, _unknown = entrances_of(store, units) if len(units) else (None, 0)
    result = compute_scenario(
        units,
        store.read_layer("shelters"),
        store.read_layer("hazards"),
        net,
        store.norms,
        params,
        entrances=entrances,
        communities=communities,
    )
    if routes:
        assignment_routes(result)
    return result, p, net


def _outputs(result: ScenarioResult) -> dict[str, gpd.GeoDataFrame]:
    keys = {"shelters": "shelter_id", "units": "unit_id", "communities": "community_code", "zones": "hazard_id"}
    out = {}
    for name, key in keys.items():
        frame = getattr(result, name).copy()
        if len(frame):
            frame["feature_key"] = frame[key].astype(str)
            out[name] = frame
    routes = result.assignment
    if len(routes):
        routes = routes.copy()
        routes["feature_key"] = routes["unit_id"].astype(str) + "-" + routes["shelter_id"].astype(str)
        out["routes"] = routes
    return out


def run_scenario(store, params: ScenarioParams, *, plan: int | str | None = None, created_by: str | None = None) -> int:
    """Compute and store one scenario run; return its id."""
    revisions = RUNS.revisions(store)
    result, p, net = scenario_from_store(store, params, plan=plan)
    summary = {**result.totals, "params": params.as_dict()}
    summary["plan"] = None if p is None else {"id": p["id"], "name": p["name"]}
    summary["network"] = {"id": net.network_id, "name": net.name, "version": net.version}
    return store.save_analysis(
        KIND,
        params={**params.as_dict(), "plan_id": None if p is None else p["id"]},
        summary=summary,
        outputs=_outputs(result),
        network_id=net.network_id,
        network_version=net.version,
        plan_id=None if p is None else p["id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def canonical(store, params: ScenarioParams) -> ScenarioParams:
    """The scenario with every hazard and shelter named by its stored ``id`` (a source id becomes the id), so
    that the same scenario asked either way is one stored run; unknown ids raise :class:`InputError`."""
    if not params.hazards and not params.closed:
        return params
    out = {}
    for name, layer, what in (("hazards", "hazards", "灾害风险区"), ("closed", "shelters", "避难场所")):
        ids = getattr(params, name)
        if ids:
            frame = store.read_layer(layer)
            out[name] = tuple(sorted(str(frame["id"].iloc[i]) for i in pick(frame, ids, what)))
    return dataclasses.replace(params, **out)


def current_scenario(
    store,
    params: ScenarioParams,
    *,
    plan: int | str | None = None,
    recompute: bool = False,
    created_by: str | None = None,
    allow_compute: bool = True,
) -> dict:
    """The newest stored run of this scenario for today's inputs, else a new one (``allow_compute=False``: raise
    :class:`~geo_service.core._errors.NotComputedError` instead)."""
    params = canonical(store, params)
    p = resolve_plan(store, plan)
    if plan is not None and p is None:
        raise NotFoundError(f"no plan {plan!r}", f"没有社区划分方案「{plan}」")
    pid = None if p is None else p["id"]
    return RUNS.current(
        store,
        {**params.as_dict(), "plan_id": pid},
        lambda: load_network(store).version,
        lambda: run_scenario(store, params, plan=pid, created_by=created_by),
        recompute=recompute,
        allow_compute=allow_compute,
    )


def run_tables(store, run_id: int) -> dict[str, gpd.GeoDataFrame]:
    """The stored outputs of a scenario run."""
    run = store.get_analysis(run_id)
    return {name: store.read_analysis_output(run_id, name) for name in run.get("outputs", {})}
