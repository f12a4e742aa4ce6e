"""Comparisons kept as stored runs: computed once per data state, read by every process and every reader.

A comparison run (kind ``scenario_comparison``, :class:`~geo_service.core.runs.RunCache`) records what the two
states are — ``baseline``, or a scenario's id, name and changes — the analyses, the norms (a hash) and the current
plan, with the network version and the revisions of every layer an analysis reads. It stores the summary and the
three difference layers (``units``, ``communities``, ``shelters``), so a comparison made in the workbench is then
read, not computed again (:func:`facilities.whatif.service.current_comparison`), by its XLSX link, its map page,
another server process or a resident's browser. Editing a scenario (its changes or name), the data, the norms or
the adopted plan makes the stored run stale.

One analysis of one state (``/scenarios/{id}/coverage`` and the like) is kept the same way (kind
``scenario_analysis``): its JSON answer, keyed by the state, the analysis, the norms and the plan.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo_service.core.jsonvalues import plain
from geo_service.core.runs import RunCache

from ..service import resolve_plan
from .analyses import _INPUTS, ANALYSES, _norms_key
from .compare import Comparison, is_baseline

KIND = "scenario_comparison"
RUNS = RunCache(KIND, _INPUTS)
KEYS = {"units": "unit_id", "communities": "community_code", "shelters": "shelter_id"}  # feature key per layer
ANALYSIS_KIND = "scenario_analysis"
ANALYSIS_RUNS = RunCache(ANALYSIS_KIND, _INPUTS)


def state_key(store, ref) -> str | dict:
    """What a state is for the cache: ``baseline``, or the scenario's id, name and stored (checked) changes."""
    if is_baseline(ref):
        return "baseline"
    row = store.get_scenario(ref)
    return {"id": int(row["id"]), "name": row["name"], "changes": row["changes"]}


def _norms_and_plan(store) -> dict:
    """What every stored whatif run is keyed by besides its states: the norms' hash and the current plan."""
    plan = resolve_plan(store, None)
    return {"norms": _norms_key(store.norms), "plan_id": None if plan is None else int(plan["id"])}


def comparison_key(store, a, b, analyses=ANALYSES) -> dict:
    """The parameters of a comparison run: both states, the analyses, the norms' hash and the current plan."""
    return {
        "a": state_key(store, a),
        "b": state_key(store, b),
        "analyses": sorted(analyses),
        **_norms_and_plan(store),
    }


def analysis_key(store, ref, analysis: str) -> dict:
    """The parameters of one analysis run of a state: the state, the analysis, the norms' hash and the plan."""
    return {"state": state_key(store, ref), "analysis": analysis, **_norms_and_plan(store)}


def save_analysis_answer(store, answer: dict, want: dict, revisions: dict, network_version, created_by=None) -> int:
    """Store the JSON answer of one analysis of a state as a run; return its id."""
    return store.save_analysis(
        ANALYSIS_KIND,
        params=want,
        summary=plain(answer),
        network_version=network_version,
        plan_id=want["plan_id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def save_comparison(store, cmp_, want: dict, revisions: dict, network_version, created_by: str | None = None) -> int:
    """Store one comparison as a run; return its id."""
    outputs, columns = {}, {}
    for name, frame in cmp_.layers().items():
        columns[name] = [[c, frame[c].dtype.kind] for c in frame.columns if c != frame.geometry.name]
        if len(frame):
            outputs[name] = frame.assign(feature_key=frame[KEYS[name]].astype(str))
    return store.save_analysis(
        KIND,
        params=want,
        summary={**plain(cmp_.summary), "columns": columns},
        outputs=outputs,
        network_version=network_version,
        plan_id=want["plan_id"],
        data_revisions=revisions,
        created_by=created_by,
    )


def comparison_of_run(store, run: dict):
    """The :class:`~facilities.whatif.compare.Comparison` stored in ``run`` (columns and dtypes as computed)."""
    summary = dict(run["summary"])
    columns = summary.pop("columns", {})
    layers = {}
    for name in KEYS:
        kinds = dict(columns.get(name, []))
        if name in run.get("outputs", {}):
            frame = store.read_analysis_output(run["id"], name)
        else:
            frame = gpd.GeoDataFrame(geometry=[], crs=4326)
        for c, kind in kinds.items():  # JSON keeps no dtype: numbers (null for NaN) and flags as computed
            values = frame[c] if c in frame.columns else pd.Series(None, index=frame.index, dtype=object)
            if kind in "fiu":
                values = pd.to_numeric(values, errors="coerce")
                frame[c] = values.astype(int) if kind != "f" and values.notna().all() else values.astype(float)
            elif kind == "b":
                frame[c] = values.astype(bool)
            else:
                frame[c] = values
        layers[name] = gpd.GeoDataFrame(frame[[*kinds, "geometry"]], geometry="geometry", crs=4326)
    return Comparison(summary, layers["units"], layers["communities"], layers["shelters"])
