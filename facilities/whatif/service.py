"""What-if scenarios against the store: create, check, run, compare, batch (what the CLI, API and job call).

A scenario is stored (``Store.create_scenario``) with its changes in canonical form (features named by ``id``,
plan by id) after :meth:`ScenarioChanges.resolved` checked them against the current data; it is checked again each
time it runs, since the data may have changed since. The references ``baseline``/``现状`` name the current layers.
"""

from __future__ import annotations

import time
from pathlib import Path

from geo_service.core._errors import InputError
from geo_service.core.jsonvalues import plain

from ..service import SitingParams, siting_from_store
from .analyses import ANALYSES, WhatIfResult, _network_version, baseline, full_result, scenario_result
from .changes import ScenarioChanges
from .compare import Comparison, compare_results, is_baseline
from .runs import (
    ANALYSIS_RUNS,
    RUNS,
    analysis_key,
    comparison_key,
    comparison_of_run,
    save_analysis_answer,
    save_comparison,
)
from .view import ScenarioView

MAX_BATCH = 20


def parse_analyses(value) -> tuple[str, ...]:
    """``coverage,audit,shelters`` (text or a list; ``e2sfca`` is part of coverage) as a tuple; InputError for an
    unknown name."""
    if value in (None, "", []):
        return ANALYSES
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(x).strip().lower() for x in items if str(x).strip()]
    names = ["coverage" if n in ("e2sfca", "accessibility") else n for n in names]
    bad = [n for n in names if n not in ANALYSES]
    if bad:
        raise InputError(
            f"unknown analyses {bad}; known: {', '.join(ANALYSES)}, e2sfca",
            f"未知的分析：{'、'.join(bad)}（可用：coverage、e2sfca、audit、shelters）",
            analyses=bad,
        )
    return tuple(dict.fromkeys(names))


def check_changes(store, data) -> ScenarioChanges:
    """The changes ``data`` (dict or JSON text) checked on their own and against the current data."""
    return ScenarioChanges.from_input(data).resolved(store)


def create_scenario(store, name: str, data, *, description: str | None = None, created_by: str | None = None) -> dict:
    """Check and store a scenario; return its row. Nothing is stored when a check fails."""
    changes = check_changes(store, data)
    sid = store.create_scenario(name, changes.as_dict(), description=description, created_by=created_by)
    return store.get_scenario(sid)


def update_scenario(store, ref, *, name=None, description=None, data=None, actor: str | None = None) -> dict:
    """Change a scenario's name, description or changes (checked first)."""
    changes = None if data is None else check_changes(store, data).as_dict()
    return store.update_scenario(ref, name=name, description=description, changes=changes, actor=actor)


def view_of(store, ref) -> ScenarioView | None:
    """The read-only view of scenario ``ref`` (id or name; checked against today's data), None for the baseline."""
    if is_baseline(ref):
        return None
    row = store.get_scenario(ref)
    return ScenarioView(store, check_changes(store, row["changes"]), name=row["name"])


def result_of(store, ref, analyses=ANALYSES, *, reuse: bool = True) -> WhatIfResult:
    """The analyses of ``ref`` (a scenario, or the baseline); ``reuse=False``: recompute everything (the peer)."""
    view = view_of(store, ref)
    if view is None:
        return baseline(store, analyses)
    return scenario_result(view, analyses) if reuse else full_result(view, analyses)


def compare(store, a, b, analyses=ANALYSES, *, reuse: bool = True) -> Comparison:
    """Compare ``a`` and ``b`` (scenario ids or names, or ``baseline``)."""
    return compare_results(result_of(store, a, analyses, reuse=reuse), result_of(store, b, analyses, reuse=reuse))


def current_comparison(store, a, b, analyses=ANALYSES, *, allow_compute: bool = True, created_by: str | None = None):
    """The stored comparison of ``a`` and ``b`` for today's data (:mod:`facilities.whatif.runs`), else computed and
    stored (``allow_compute=False``: :class:`~geo_service.core._errors.NotComputedError` instead, as for other
    analyses read without a token).

    Returns
    -------
    (dict, Comparison)
        The run (``id``, ``created_at``…) and the comparison read back from it (layers in EPSG:4326).
    """
    want = comparison_key(store, a, b, analyses)

    def compute() -> int:
        revisions = RUNS.revisions(store)  # before computing: an edit meanwhile makes the run stale, not wrong
        version = _network_version(store)
        return save_comparison(store, compare(store, a, b, analyses), want, revisions, version, created_by)

    run = RUNS.current(store, want, lambda: _network_version(store), compute, allow_compute=allow_compute)
    return run, comparison_of_run(store, run)


def siting(store, ref, params: SitingParams) -> dict:
    """Siting (:func:`facilities.service.siting_from_store`) on a scenario's facilities, units and norms."""
    view = view_of(store, ref)
    return siting_from_store(store if view is None else view, params)


def analysis_json(result: WhatIfResult, analysis: str) -> dict:
    """One analysis of a result as JSON: coverage summary (with covered residents), audit summary, shelter totals."""
    out = {"scenario": result.label, "how": result.how.get(analysis), "notes": list(result.notes)}
    if analysis == "coverage":
        s = result.summary()
        out["coverage"] = s.get("coverage")
        out["e2sfca_categories"] = sorted(k.removesuffix("_e2sfca_per_1000") for k in result.access)
    elif analysis == "audit":
        out["audit"] = None if result.audit is None else plain(result.audit.summary())
    else:
        out["shelters"] = None if result.shelters is None else plain(dict(result.shelters.totals))
    return out


def current_analysis(store, ref, analysis: str, *, allow_compute: bool = True, created_by: str | None = None) -> dict:
    """The stored answer (:func:`analysis_json`) of one analysis of ``ref`` for today's data, else computed and
    stored (``allow_compute=False``: :class:`~geo_service.core._errors.NotComputedError` instead, as for a
    comparison read without a token)."""
    want = analysis_key(store, ref, analysis)

    def compute() -> int:
        revisions = ANALYSIS_RUNS.revisions(store)  # before computing: an edit meanwhile makes the run stale
        version = _network_version(store)
        answer = analysis_json(result_of(store, ref, (analysis,)), analysis)
        return save_analysis_answer(store, answer, want, revisions, version, created_by)

    run = ANALYSIS_RUNS.current(store, want, lambda: _network_version(store), compute, allow_compute=allow_compute)
    return run["summary"]


def run_batch(
    store, refs, *, analyses=ANALYSES, out_dir: Path | None = None, reuse: bool = True, store_runs: bool = True
) -> dict:
    """Every scenario of ``refs`` against the baseline (computed once): per scenario the comparison summary;
    with ``out_dir`` also ``<name>.xlsx`` per scenario. Every scenario is checked before anything runs.
    ``store_runs``: keep each comparison as a stored run (:mod:`facilities.whatif.runs`)."""
    refs = [r for r in refs if not is_baseline(r)]
    if not refs:
        raise InputError("name at least one scenario", "请至少指定一个情景方案")
    if len(refs) > MAX_BATCH:
        raise InputError(f"at most {MAX_BATCH} scenarios in one batch", f"一次最多批量计算 {MAX_BATCH} 个情景方案")
    views = [view_of(store, r) for r in refs]
    revisions, version = RUNS.revisions(store), _network_version(store)  # before computing (see runs.py)
    t0 = time.perf_counter()
    base = baseline(store, analyses) if reuse else full_result(ScenarioView(store, ScenarioChanges()), analyses)
    base.label = "现状"
    base_s = round(time.perf_counter() - t0, 3)
    items = []
    for ref, view in zip(refs, views):
        t = time.perf_counter()
        res = scenario_result(view, analyses, base) if reuse else full_result(view, analyses)
        cmp_ = compare_results(base, res)
        if store_runs:  # the workbench, the XLSX link and other processes then read it
            save_comparison(store, cmp_, comparison_key(store, "baseline", ref, analyses), revisions, version)
        item = {"scenario": view.scenario_name, "seconds": round(time.perf_counter() - t, 3), **cmp_.summary}
        if out_dir is not None:
            from .report import write_comparison_xlsx

            path = Path(out_dir) / f"{_safe(view.scenario_name)}.xlsx"
            write_comparison_xlsx(path, cmp_.summary, cmp_.layers())
            item["xlsx"] = str(path)
        items.append(item)
    return {"baseline_seconds": base_s, "seconds": round(time.perf_counter() - t0, 3), "scenarios": items}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name)) or "scenario"


def run_batch_job(store, params: dict, created_by: str | None) -> dict:
    """The ``scenario_batch`` background job: ``params["scenarios"]`` (ids or names), optional ``analyses``;
    returns per scenario the comparison summary with the baseline (JSON)."""
    refs = params.get("scenarios") or []
    if isinstance(refs, str):
        refs = [r for r in refs.split(",") if r.strip()]
    out = run_batch(store, refs, analyses=parse_analyses(params.get("analyses")))
    return plain(out)
