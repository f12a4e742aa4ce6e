"""Every analysis on a scenario, recomputing only what a change touches.

The baseline (the current layers) is computed once per store state and kept in process (:data:`_BASELINES`, keyed
by the store, the input layers' revisions, the network version and the norms), so a batch of scenarios shares it.
A scenario's result starts from the baseline and recomputes:

* **coverage** (walking and straight-line, per category, and E2SFCA): in full when the units change (a
  development), when a norm outside ``service_radius_m`` and the sections that coverage does not read changes
  (a life circle, a walking speed…); otherwise only the categories whose facilities were added, moved or closed
  or whose service radius changed (``CoverageParams.categories``): their columns replace the baseline's, and the
  life-circle flags of the levels requiring them and ``missing`` are derived again from the per-category columns.
  Another plan only moves units between communities: ``community_code`` is joined again. The network and the
  snapped units are the baseline's (same network revision: :func:`~geo_service.core.network.load_network`'s
  process cache).
* **the audit** (service floor space per community, developments, shelters): again in full when facilities,
  shelters, developments, the plan or any norm change; reused when the scenario changes none of these.
* **shelter assignment** (:func:`facilities.scenario_service.scenario_from_store` without hazards): again only when
  shelters, units or the plan change or a ``shelter``/``hazards``/``mobility`` norm does.

:func:`full_result` is the peer: every analysis recomputed on the scenario view. The tests check that both give the
same tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core._errors import InputError, NotFoundError
from geo_service.core.network import load_network
from geo_service.core.runs import MemoCache
from geo_service.core.vocab import in_service

from ..audit_service import INPUT_LAYERS as AUDIT_INPUT_LAYERS
from ..coverage import TOLERANCE_M, CoverageParams, CoverageResult, _unit_communities, category_rules
from ..scenario import ScenarioParams, ScenarioResult
from ..scenario_service import scenario_from_store
from ..service import accessibility_columns, compute_from_store, resolve_plan
from .view import ScenarioView

ANALYSES = ("coverage", "audit", "shelters")
ANALYSES_ZH = {"coverage": "生活圈覆盖与可达性（E2SFCA）", "audit": "设施与避难场所体检", "shelters": "避难场所分配"}
# norm sections that coverage does not read: a change there leaves coverage as it is
_NOT_COVERAGE = {"community", "shelter", "land_use", "facility_minimums", "hazards", "gap_plan", "population"}
_SHELTER_NORMS = {"shelter", "hazards", "mobility"}
_BASELINES = MemoCache(size=4)
_RESULTS = MemoCache(size=32)
_INPUTS = AUDIT_INPUT_LAYERS  # every layer an analysis reads: the audit's inputs cover coverage and shelters


@dataclass
class WhatIfResult:
    """The analyses of one state (the baseline or a scenario).

    Attributes
    ----------
    label : str
        ``baseline`` or the scenario's name.
    coverage : CoverageResult or None
        Units (EPSG:4326) with every per-category column; ``access`` the E2SFCA columns
        (``<category>_e2sfca_per_1000``, capacity per 1,000 residents) in unit order.
    audit : AuditResult or None
    shelters : ScenarioResult or None
        Shelter assignment (``totals["unplaced_before"]``: persons without a place; ``shelters.load_before``).
    plan : dict or None
        The plan used (communities).
    how : dict
        Per analysis how it was obtained: ``baseline`` (reused), ``partial`` (with the categories) or ``full``.
    notes : list of str
        Chinese notes (an analysis that could not run and why).
    """

    label: str
    coverage: CoverageResult | None = None
    access: dict[str, np.ndarray] = field(default_factory=dict)
    audit: object | None = None
    shelters: ScenarioResult | None = None
    plan: dict | None = None
    how: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cost_inputs: dict = field(default_factory=dict)
    communities: gpd.GeoDataFrame | None = None

    def summary(self) -> dict:
        """JSON figures of each analysis (coverage rates per category, audit totals, shelter totals)."""
        from geo_service.core.jsonvalues import plain

        out: dict = {"label": self.label, "how": dict(self.how), "notes": list(self.notes)}
        out["plan"] = None if self.plan is None else {"id": self.plan["id"], "name": self.plan["name"]}
        if self.coverage is not None:
            s = self.coverage.summary()
            res = self.coverage.units["residents"].to_numpy(dtype=float)
            for c in s["categories"]:
                c["covered_residents"] = int(round(float(res[self.coverage.units[f"{c['category']}_covered"]].sum())))
            out["coverage"] = s
        if self.audit is not None:
            out["audit"] = plain({k: v for k, v in self.audit.totals.items()})
        if self.shelters is not None:
            out["shelters"] = plain(dict(self.shelters.totals))
        return out


def _norms_key(norms) -> str:
    return hashlib.sha1(json.dumps(norms.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _network_version(store):
    try:
        return load_network(store).version
    except NotFoundError:
        return None


def baseline(store, analyses=ANALYSES) -> WhatIfResult:
    """The analyses of the current layers, computed once per store state (shared by every scenario of a batch)."""
    revs = store.layer_revisions()
    key = (
        str(store.url),
        tuple(int(revs.get(k, 0)) for k in _INPUTS),
        _network_version(store),
        _norms_key(store.norms),
        tuple(sorted(analyses)),
    )
    return _BASELINES.get(key, lambda: _compute(store, "现状", analyses))


def _compute(store, label: str, analyses) -> WhatIfResult:
    """Every analysis of ``analyses`` computed in full on ``store`` (a store or a :class:`ScenarioView`)."""
    out = WhatIfResult(label)
    out.plan = resolve_plan(store, None)
    out.communities = store.read_layer("communities", plan_id=out.plan["id"]) if out.plan else None
    if "coverage" in analyses:
        _full_coverage(store, out)
    if "audit" in analyses:
        _full_audit(store, out)
    if "shelters" in analyses:
        _full_shelters(store, out)
    return out


def _full_coverage(store, out: WhatIfResult) -> None:
    try:
        result, net, _p = compute_from_store(store, params=CoverageParams())
    except InputError as exc:
        out.notes.append(f"覆盖分析未计算：{exc.message_zh}")
        return
    units = store.read_layer("population_units")
    fac = in_service(store.read_layer("facilities"))
    out.access, _ = accessibility_columns(net, units, fac, list(result.rules))
    out.coverage = result
    out.how["coverage"] = "full"


def _full_audit(store, out: WhatIfResult) -> None:
    from ..audit_service import audit_from_store

    try:
        out.audit, _p, _net = audit_from_store(store)
        out.how["audit"] = "full"
    except InputError as exc:
        out.notes.append(f"体检未计算：{exc.message_zh}")


def _full_shelters(store, out: WhatIfResult) -> None:
    try:
        out.shelters, _p, _net = scenario_from_store(store, ScenarioParams(), routes=False)
        out.how["shelters"] = "full"
    except (InputError, NotFoundError) as exc:
        out.notes.append(f"避难场所分配未计算：{exc.message_zh}")


# ----------------------------------------------------------------------------- scenarios
def full_result(view: ScenarioView, analyses=ANALYSES) -> WhatIfResult:
    """The peer of :func:`scenario_result`: every analysis recomputed on the scenario, nothing reused."""
    out = _compute(view, view.scenario_name or "scenario", analyses)
    out.cost_inputs = dict(view.changes.cost_inputs)
    return out


def scenario_result(view: ScenarioView, analyses=ANALYSES, base: WhatIfResult | None = None) -> WhatIfResult:
    """The analyses of a scenario, reusing the baseline ``base`` (default :func:`baseline`) where the changes do
    not reach (see the module docstring); kept in process per scenario fingerprint and store state."""
    base = base if base is not None else baseline(view.base, analyses)
    revs = view.layer_revisions()
    key = (
        str(view.base.url),
        view.changes.fingerprint(),
        tuple(int(revs.get(k, 0)) for k in _INPUTS),
        _network_version(view.base),
        _norms_key(view.norms),
        tuple(sorted(analyses)),
        id(base),
    )
    out = _RESULTS.get(key, lambda: _scenario_result(view, analyses, base))
    return dataclasses.replace(out, label=view.scenario_name or out.label, cost_inputs=dict(view.changes.cost_inputs))


def _norm_sections(view: ScenarioView) -> set[str]:
    return {str(k).split(".")[0] for k in view.changes.norms}


def _scenario_result(view: ScenarioView, analyses, base: WhatIfResult) -> WhatIfResult:
    c = view.changes
    out = WhatIfResult(view.scenario_name or "scenario", notes=[])
    out.plan = resolve_plan(view, None)
    out.communities = view.read_layer("communities", plan_id=out.plan["id"]) if out.plan else None
    units_changed = bool(c.developments)
    if "coverage" in analyses:
        _scenario_coverage(view, base, out, units_changed)
    if "audit" in analyses:
        audit_touched = bool(c.add or c.move or c.close or c.developments or c.plan or c.norms)
        if audit_touched or base.audit is None and "audit" not in base.how:
            _full_audit(view, out)
        else:
            out.audit, out.how["audit"] = base.audit, "baseline"
    if "shelters" in analyses:
        touched = bool(
            c.add.get("shelters") or c.move.get("shelters") or c.close.get("shelters") or units_changed or c.plan
        )
        if touched or _norm_sections(view) & _SHELTER_NORMS or "shelters" not in base.how:
            _full_shelters(view, out)
        else:
            out.shelters, out.how["shelters"] = base.shelters, "baseline"
    return out


def _scenario_coverage(view: ScenarioView, base: WhatIfResult, out: WhatIfResult, units_changed: bool) -> None:
    sections = _norm_sections(view)
    radius_cats = {str(k).split(".")[1] for k in view.changes.norms if str(k).startswith("service_radius_m.")}
    if base.coverage is None or units_changed or sections - _NOT_COVERAGE - {"service_radius_m"}:
        _full_coverage(view, out)
        return
    touched = view.changes.touched_categories(view.base_layer) | radius_cats
    rules = category_rules(view.norms, base.coverage.levels, None)
    cats = [c for c in rules if c in touched]
    if not cats and view.changes.plan is None:
        out.coverage, out.access, out.how["coverage"] = base.coverage, base.access, "baseline"
        return
    try:
        out.coverage, out.access = partial_coverage(view, base.coverage, base.access, cats, rules)
    except InputError:  # e.g. the last facility of a touched category closed: the full run reports it
        _full_coverage(view, out)
        return
    out.how["coverage"] = "partial: " + ",".join(cats) if cats else "partial: communities"


def _prefix_of(col: str, cats) -> str | None:
    """The category whose ``<c>_`` prefix ``col`` has (the longest match), else None."""
    best = None
    for c in cats:
        if col.startswith(f"{c}_") and (best is None or len(c) > len(best)):
            best = c
    return best


def partial_coverage(
    view: ScenarioView, base: CoverageResult, base_access: dict, cats: list[str], rules: dict
) -> tuple[CoverageResult, dict]:
    """The baseline coverage with the columns of the categories ``cats`` recomputed on the scenario, the
    life-circle flags and ``missing`` derived again, and the communities of the scenario's plan.

    Parameters
    ----------
    view : ScenarioView
        The scenario (its units must be the baseline's: no development).
    base : CoverageResult
        The baseline (walking distances in metres, EPSG:4326 units).
    base_access : dict
        The baseline's E2SFCA columns.
    cats : list of str
        The categories whose supply or threshold changed.
    rules : dict
        The scenario's rules of every analysed category (thresholds in metres).
    """
    units = base.units.copy()
    counts = dict(base.facility_counts)
    access = dict(base_access)
    labels = [rules[c].label_zh for c in cats]
    warnings = [w for w in base.warnings if not any(lab in w for lab in labels)]
    if cats:
        part, net, _p = compute_from_store(view, params=dataclasses.replace(CoverageParams(), categories=tuple(cats)))
        if not np.array_equal(part.units["unit_id"].to_numpy(), units["unit_id"].to_numpy()):
            raise InputError("units differ from the baseline", "人口单元与现状不一致")  # pragma: no cover
        all_cats = list(rules)
        for col in [c for c in units.columns if _prefix_of(c, all_cats) in cats]:
            if col not in part.units.columns:
                units = units.drop(columns=col)
        for col in part.units.columns:
            if _prefix_of(col, all_cats) in cats:
                units[col] = part.units[col].to_numpy()
        for c in cats:
            counts[c] = part.facility_counts.get(c, 0)
            access.pop(f"{c}_e2sfca_per_1000", None)
        warnings += [w for w in part.warnings if w not in warnings]
        more, _ = accessibility_columns(
            net, view.read_layer("population_units"), in_service(view.read_layer("facilities")), cats
        )
        access.update(more)
    _life_circles(units, base, rules, set(cats))
    if view.changes.plan is not None:
        plan = resolve_plan(view, None)
        communities = view.read_layer("communities", plan_id=plan["id"]) if plan else None
        units["community_code"], units["community_name"] = _unit_communities(units, communities)
    result = dataclasses.replace(base, units=units, rules=dict(rules), facility_counts=counts, warnings=warnings)
    if cats:
        _merge_category_fields(result, base, part, cats, list(rules))
    return result, access


def _merge_category_fields(result: CoverageResult, base: CoverageResult, part: CoverageResult, cats, order) -> None:
    """Every other per-category mapping of the result (served groups, hubs counted…): the partial run's entries
    for ``cats``, the baseline's for the others, in the order of the rules."""
    for f in dataclasses.fields(CoverageResult):
        if f.name in ("rules", "facility_counts", "required", "level_walk_m"):
            continue
        old, new = getattr(base, f.name), getattr(part, f.name)
        if not isinstance(old, dict) or not isinstance(new, dict) or not set(old) | set(new) <= set(order):
            continue
        merged = {c: old[c] for c in old if c not in cats} | {c: new[c] for c in new if c in cats}
        setattr(result, f.name, {c: merged[c] for c in order if c in merged})


def _life_circles(units: pd.DataFrame, base: CoverageResult, rules: dict, cats: set[str]) -> None:
    """``complete_<level>`` (and ``_straight``) of the levels requiring one of ``cats``, and ``missing``, from the
    per-category columns of ``units`` (thresholds in metres)."""
    for lv in base.levels:
        req = [c for c in base.required[lv] if c in rules]
        if not req or not set(req) & cats:
            continue
        thr = base.level_walk_m[lv]
        for kind, flag, dist in (("", "_covered", "_walk_m"), ("_straight", "_straight_covered", "_straight_m")):
            conds = []
            for c in req:
                if rules[c].threshold_m <= thr:
                    conds.append(units[f"{c}{flag}"].to_numpy(dtype=bool))
                else:
                    d = units[f"{c}{dist}"].to_numpy(dtype=float)
                    conds.append(np.nan_to_num(d, nan=np.inf) <= thr + TOLERANCE_M)
            units[f"complete_{lv}{kind}"] = np.logical_and.reduce(conds)
    covered = np.stack([units[f"{c}_covered"].to_numpy(dtype=bool) for c in rules], axis=1)
    names = np.array(list(rules), dtype=object)
    units["missing"] = [list(names[~row]) for row in covered]
