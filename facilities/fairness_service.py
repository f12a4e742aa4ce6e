"""Runs of issue 17 against the store: fairness of access, group-weighted coverage, hubs and service-space tiers.

Each run is stored (``analysis_runs``) and reused while its parameters, the network version and the revisions of
its input layers are unchanged (:class:`geo_service.core.runs.RunCache`):

* ``fairness``: walking distance from every unit to the nearest existing facility of each category (own walks up to
  the search limit, see :mod:`facilities.fairness`), then Gini, Palma, shares beyond thresholds and the
  worst-served units per street and city-wide; outputs ``table`` and ``worst_<category>``.
* ``group_coverage``: the current coverage run's group figures (its city and street rates over the group each
  category serves, :mod:`facilities.groups`) as one long table; output ``table``.  Nothing is recomputed: a
  coverage run older than the group figures is weighed here from its per-unit ``<category>_covered``.
* ``hubs``: embedded service hubs and the 30/80 m² service-space tiers of the plan's communities; outputs ``hubs``
  and ``service_space``.

Residents per age group come from ``population.ages.group_residents``, which the caller (API, CLI) passes in as
``groups_of``: the domain packages do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core._errors import InputError
from geo_service.core.network import load_network
from geo_service.core.norms import Norms
from geo_service.core.runs import RunCache
from geo_service.core.vocab import FACILITY_CATEGORIES, in_service

from .coverage import snap_units, walk_to_nearest
from .fairness import FairnessParams, FairnessResult, compute_fairness
from .groups import GROUP_SUFFIXES, category_profile, group_coverage, group_table, not_analysed_notes
from .hubs import check_hubs, service_floor_tiers, with_hub_functions
from .service import INPUT_LAYERS as COVERAGE_LAYERS
from .service import current_coverage, entrances_of, resolve_plan

GroupsOf = Callable[[pd.DataFrame, Norms], pd.DataFrame]

FAIRNESS_LAYERS = ("population_units", "facilities", "network_edges", "unit_entrances")
FAIRNESS_RUNS = RunCache("fairness", FAIRNESS_LAYERS)
GROUPS_RUNS = RunCache("group_coverage", COVERAGE_LAYERS)
HUBS_LAYERS = ("facilities", "communities")
HUBS_RUNS = RunCache("hubs", HUBS_LAYERS)


def fairness_categories(norms: Norms) -> list[str]:
    """The categories a fairness run covers: every required one of the life circles, then those serving a group."""
    cats: list[str] = []
    for lv in ("5min", "10min", "15min", "block"):
        cats += [c for c in norms.required_facilities(lv) if c not in cats]
    served = dict(norms.entry("age_groups.served_by").value)  # type: ignore[attr-defined]
    return cats + [c for c in served if c not in cats]


def check_category(category: str | None, norms: Norms) -> str | None:
    """``category`` if a fairness run covers it, else a Chinese :class:`InputError` (None passes)."""
    if category is None or category == "":
        return None
    cats = fairness_categories(norms)
    if category not in cats:
        label = FACILITY_CATEGORIES.get(category)
        raise InputError(
            f"category {category!r} is not analysed; known: {', '.join(cats)}",
            f"未知的设施类别「{category}」" if label is None else f"公平性分析不包含「{label}」",
            allowed=cats,
        )
    return category


def _units(store) -> gpd.GeoDataFrame:
    units = store.read_layer("population_units")
    if len(units) == 0:
        raise InputError("there are no population units; import them first", "没有人口单元数据，请先导入")
    return units.reset_index(drop=True).assign(unit_id=lambda f: f["id"])


def walks_from_store(store, categories, limit_m: float, network=None):
    """Walking distance (m, inf beyond ``limit_m`` or off the network) from every unit to each category.

    Returns
    -------
    units : GeoDataFrame, EPSG:4326
        The population units with ``unit_id``.
    walks : dict of str to ndarray
    counts : dict of str to int
        Existing facilities per category.
    net : WalkNetwork
    warnings : list of str
        Chinese notes on the whole run.
    by_category : dict of str to list of str
        Chinese notes on one category (no facility).
    """
    net = load_network(store, network)
    units = _units(store)
    entrances, unknown = entrances_of(store, units)
    snap, owner = snap_units(net, units, entrances=entrances)
    supply = in_service(with_hub_functions(store.read_layer("facilities")))  # hubs serve what they list
    walks, counts, warnings, by_category = {}, {}, [], {}
    if unknown:
        warnings.append(f"{unknown} 个小区出入口所属的人口单元不存在，未计入")
    for c in categories:
        fac = supply[supply["category"].to_numpy() == c]
        counts[c] = len(fac)
        if len(fac) == 0:
            walks[c] = np.full(len(units), np.inf)
            by_category[c] = [f"没有现状「{FACILITY_CATEGORIES[c]}」设施：全部单元计为不可达"]
            continue
        walks[c], _ = walk_to_nearest(net, net.snap(fac.geometry), snap, limit_m, owner, len(units))
    return units, walks, counts, net, warnings, by_category


def compute_fairness_from_store(
    store, params: FairnessParams, groups_of: GroupsOf, *, network=None
) -> tuple[FairnessResult, object, dict]:
    """Read the layers, walk, weigh and compute (nothing stored).

    Returns the result, the network, the existing facilities per category and Chinese notes per category.
    """
    norms = store.norms
    cats = fairness_categories(norms)
    limit = params.resolved_limit_m(norms)
    units, walks, counts, net, warnings, by_category = walks_from_store(store, cats, limit, network)
    groups = groups_of(units, norms)
    own = {c: norms.service_radius_m(c) for c in cats}
    result = compute_fairness(units, walks, groups, norms, params=params, category_thresholds=own)
    result.notes += warnings
    return result, net, counts, by_category


def run_fairness(store, params: FairnessParams, groups_of: GroupsOf, *, network=None, created_by=None) -> int:
    """Compute and store one fairness run; return its id."""
    revisions = FAIRNESS_RUNS.revisions(store)
    result, net, counts, by_category = compute_fairness_from_store(store, params, groups_of, network=network)
    norms = store.norms
    table = result.table.assign(feature_key=lambda t: t["category"] + ":" + t["street_code"].astype(str))
    outputs: dict[str, pd.DataFrame] = {"table": table}
    for c, frame in result.worst.items():
        if len(frame):
            outputs[f"worst_{c}"] = frame.assign(
                feature_key=lambda t: t["scope"] + ":" + t["street_code"].astype(str) + ":" + t["rank"].astype(str)
            )
    summary = {
        "limit_m": result.limit_m,
        "unreached": result.unreached,
        "thresholds_m": result.thresholds,
        "threshold_norms": {
            lv: dict(zip(("source", "status"), norms.source_of(f"life_circles.{lv}"))) for lv in result.thresholds
        },
        "categories": [{**category_profile(c, norms), "facilities": counts[c]} for c in counts],
        "notes": result.notes,
        "category_notes": by_category,
        "network": {"id": net.network_id, "name": net.name, "version": net.version},
    }
    return store.save_analysis(
        "fairness",
        params=params.as_dict(),
        summary=summary,
        outputs=outputs,
        network_id=net.network_id,
        network_version=net.version,
        data_revisions=revisions,
        created_by=created_by,
    )


def current_fairness(
    store,
    params: FairnessParams,
    groups_of: GroupsOf,
    *,
    network=None,
    recompute: bool = False,
    created_by: str | None = None,
    allow_compute: bool = True,
) -> dict:
    """The stored fairness run for ``params`` and today's inputs, else a new one."""
    return FAIRNESS_RUNS.current(
        store,
        params.as_dict(),
        lambda: load_network(store, network).version,
        lambda: run_fairness(store, params, groups_of, network=network, created_by=created_by),
        recompute=recompute,
        allow_compute=allow_compute,
    )


def read_table(store, run: dict, name: str = "table") -> pd.DataFrame:
    """One stored output of a run as a plain frame (empty when the run has none)."""
    if not run.get("outputs", {}).get(name):
        return pd.DataFrame()
    frame = store.read_analysis_output(run["id"], name)
    return pd.DataFrame(frame.drop(columns=["id", "feature_key", "geometry"], errors="ignore"))


# ----------------------------------------------------------------------------- groups
def groups_table_from_run(store, coverage_run: dict) -> tuple[pd.DataFrame, list[str]] | None:
    """The long table from a coverage run's own group figures (summary and streets), None for an older run."""
    cats = coverage_run["summary"].get("categories", [])
    if not cats or any("group_rate" not in c for c in cats):
        return None
    city: dict = {}
    keys = dict(zip(GROUP_SUFFIXES, ("group_residents", "group_uncovered_residents", "group_rate")))
    keys |= {"_group_derived_share": "group_derived_share", "_group_note": "group_note_zh"}
    for c in cats:
        city[f"{c['category']}_rate"] = c["walk_rate"]
        city |= {f"{c['category']}{suffix}": c.get(key) for suffix, key in keys.items()}
    streets = read_table(store, coverage_run, "streets")
    categories = [c["category"] for c in cats]
    return group_table(city, streets if len(streets) else None, categories, store.norms), categories


def run_groups(store, groups_of: GroupsOf, coverage_run: dict, *, created_by=None) -> int:
    """Group-weighted coverage from a stored coverage run (its own group figures); stored, returns the run id.

    ``groups_of`` (residents per age group) is used only for a coverage run stored before the group figures.
    """
    revisions = GROUPS_RUNS.revisions(store)
    norms = store.norms
    groups_of(_units(store), norms)  # refuses contradictory age groups (AgeGroupError, HTTP 422) before any figure
    from_run = groups_table_from_run(store, coverage_run)
    if from_run is not None:
        table, categories = from_run
        return _save_groups(store, coverage_run, table, categories, revisions, created_by)
    cov_units = read_table(store, coverage_run, "units")
    if len(cov_units) == 0:
        raise InputError("the coverage run has no units", "覆盖分析结果中没有人口单元")
    units = _units(store)
    groups = groups_of(units, norms)
    pos = pd.Index(units["unit_id"]).get_indexer(cov_units["unit_id"])
    if (pos < 0).any():
        raise InputError(
            "coverage and units differ; recompute coverage", "覆盖分析与人口单元不一致，请重新计算覆盖分析"
        )
    result = group_coverage(cov_units, groups.iloc[pos].reset_index(drop=True), norms)
    return _save_groups(
        store, coverage_run, result.table, [c["category"] for c in result.categories], revisions, created_by
    )


def _save_groups(store, coverage_run: dict, table: pd.DataFrame, categories, revisions, created_by) -> int:
    """Store the group-coverage table of ``coverage_run``; returns the run id."""
    norms = store.norms
    table = table.assign(feature_key=lambda t: t["category"] + ":" + t["street_code"].astype(str))
    summary = {
        "categories": [category_profile(c, norms) for c in categories],
        "notes": not_analysed_notes(categories, norms) + _null_notes(table),
        "coverage_run_id": coverage_run["id"],
    }
    return store.save_analysis(
        "group_coverage",
        params={"coverage_run_id": coverage_run["id"]},
        summary=summary,
        outputs={"table": table},
        network_id=coverage_run.get("network_id"),
        network_version=coverage_run.get("network_version"),
        plan_id=coverage_run.get("plan_id"),
        data_revisions=revisions,
        created_by=created_by,
    )


def _null_notes(table: pd.DataFrame) -> list[str]:
    """The distinct reasons of the city rows' null group rates."""
    city = table[table["scope"] == "city"]
    return list(dict.fromkeys(f"{r.category_zh}：{r.note_zh}" for r in city.itertuples() if r.note_zh))


def current_groups(
    store, groups_of: GroupsOf, *, recompute: bool = False, created_by=None, allow_compute: bool = True
) -> dict:
    """The group-weighted coverage of the current (default) coverage run."""
    cov = current_coverage(store, created_by=created_by, allow_compute=allow_compute)
    return GROUPS_RUNS.current(
        store,
        {"coverage_run_id": cov["id"]},
        lambda: cov.get("network_version"),
        lambda: run_groups(store, groups_of, cov, created_by=created_by),
        recompute=recompute,
        allow_compute=allow_compute,
    )


# ----------------------------------------------------------------------------- hubs and service space
def run_hubs(store, *, plan=None, created_by=None) -> int:
    """Embedded hubs and service-space tiers (of the chosen or adopted plan, if any); stored, returns the run id."""
    revisions = HUBS_RUNS.revisions(store)
    norms = store.norms
    facilities = store.read_layer("facilities")
    p = resolve_plan(store, plan)
    hubs = check_hubs(facilities, norms)
    outputs: dict[str, pd.DataFrame] = {}
    if len(hubs):
        outputs["hubs"] = gpd.GeoDataFrame(
            hubs.assign(feature_key=hubs["facility_id"].astype(str)),
            geometry=gpd.points_from_xy(hubs["lon"], hubs["lat"]),
            crs=4326,
        )
    tiers = pd.DataFrame()
    if p is not None:
        communities = store.read_layer("communities", plan_id=p["id"])
        if len(communities):
            tiers = service_floor_tiers(communities, facilities, norms)
            outputs["service_space"] = gpd.GeoDataFrame(
                tiers.assign(feature_key=tiers["community_code"]), geometry=communities.geometry.values, crs=4326
            )
    hub_src, hub_status = norms.source_of("community.embedded_hub")
    summary = {
        "hubs": int(len(hubs)),
        "hubs_by_status": {k: int(v) for k, v in (hubs["hub_status"].value_counts().items() if len(hubs) else [])},
        "communities": int(len(tiers)),
        "tiers": {k: int(v) for k, v in (tiers["floor_tier"].value_counts().items() if len(tiers) else [])},
        "plan": None if p is None else {"id": p["id"], "name": p["name"]},
        "norms": _hub_norms(norms) | {"embedded_hub_source": hub_src, "embedded_hub_status": hub_status},
        "notes": ([] if len(facilities) else ["没有设施数据，请先导入设施图层"])
        + ([] if p is not None else ["没有社区划分方案：未计算各社区服务用房分级"]),
    }
    return store.save_analysis(
        "hubs",
        params={"plan_id": None if p is None else p["id"]},
        summary=summary,
        outputs=outputs,
        plan_id=None if p is None else p["id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def _hub_norms(norms: Norms) -> dict:
    hub = norms.entry("community.embedded_hub")
    return {
        "hub_floor_m2": hub.floor_m2,  # type: ignore[attr-defined]
        "hub_preferred_floor_m2": hub.preferred_floor_m2,  # type: ignore[attr-defined]
        "hub_min_functions": hub.min_functions,  # type: ignore[attr-defined]
        "hub_min_core_functions": hub.min_core_functions,  # type: ignore[attr-defined]
        "hub_core_functions": list(hub.core_functions),  # type: ignore[attr-defined]
        "minimum_m2_per_100_households": norms.service_floor_m2_per_100_households,
        "target_m2_per_100_households": norms.entry("community.service_floor_m2_per_100_households_target").value,  # type: ignore[attr-defined]
    }


def current_hubs(store, *, plan=None, recompute=False, created_by=None, allow_compute=True) -> dict:
    """The stored hubs run for today's facilities and communities (and the plan), else a new one."""
    p = resolve_plan(store, plan)
    pid = None if p is None else p["id"]
    return HUBS_RUNS.current(
        store,
        {"plan_id": pid},
        lambda: None,
        lambda: run_hubs(store, plan=pid, created_by=created_by),
        recompute=recompute,
        allow_compute=allow_compute,
    )
