"""Population-unit builds against the store: read the layers, compute, replace ``population_units``, keep the run.

The new units and the run (kind ``units``: parameters with the totals' digest, the summary, the input-layer
revisions) are written in ONE transaction: on any error nothing is written. :func:`build_units` reuses the newest
run whose parameters and inputs (buildings, residential areas, admin areas, roads and the units it wrote) are
unchanged, unless ``recompute``.
"""

from __future__ import annotations

import time

import geopandas as gpd

from geo_service.core._errors import UnknownLayerError
from geo_service.core.runs import RunCache

from .compute import UnitsResult, compute_units, summary_lines
from .params import UnitsParams

__all__ = ["KIND", "INPUT_LAYERS", "RUNS", "build_units", "compute_from_store"]

KIND = "units"
INPUT_LAYERS = ("buildings", "residential_areas", "admin_areas", "roads", "population_units")
RUNS = RunCache(KIND, INPUT_LAYERS)
LAYER_FIELDS = ("name", "unit_type", "residents", "households", "residents_60plus", "residents_0_6", "street_code")


def _read(store, layer: str) -> gpd.GeoDataFrame | None:
    """A layer of the store, or None when the layer is not declared (yet) or empty."""
    try:
        frame = store.read_layer(layer)
    except UnknownLayerError:
        return None
    return frame if len(frame) else None


def compute_from_store(store, params: UnitsParams) -> UnitsResult:
    """Read buildings, residential areas, roads and admin areas from the store and compute (nothing written)."""
    areas = _read(store, "admin_areas")
    if areas is None:
        areas = gpd.GeoDataFrame({"level": [], "code": [], "name": []}, geometry=[], crs=4326)
    return compute_units(
        _read(store, "buildings"), _read(store, "residential_areas"), _read(store, "roads"), areas, params
    )


def _layer_frame(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = units[["source_id", *[c for c in LAYER_FIELDS if c in units.columns], "geometry"]].copy()
    for col in LAYER_FIELDS:
        if col not in frame.columns:
            frame[col] = None
    return frame


def build_units(store, params: UnitsParams, *, created_by: str | None = None, recompute: bool = False) -> dict:
    """Build the population units and store them with the run; return the run (``id``, ``params``, ``summary``).

    With ``params.dry_run`` nothing is written and the run dict has ``id`` None.
    """
    if params.dry_run:
        t0 = time.perf_counter()
        result = compute_from_store(store, params)
        summary = {**result.summary, "seconds": round(time.perf_counter() - t0, 3)}
        summary["lines_zh"] = summary_lines(summary)
        return {"id": None, "kind": KIND, "params": params.as_dict(), "summary": summary, "dry_run": True}

    def compute() -> int:
        t0 = time.perf_counter()
        result = compute_from_store(store, params)
        summary = {**result.summary, "seconds": round(time.perf_counter() - t0, 3)}
        summary["lines_zh"] = summary_lines(summary)
        with store.transaction() as conn:
            removed = store.delete_layer("population_units", conn=conn)
            store.upsert_layer("population_units", _layer_frame(result.units), conn=conn)
            summary["replaced_units"] = int(removed)
            return store.save_analysis(
                KIND,
                params=params.as_dict(),
                summary=summary,
                data_revisions=RUNS.revisions(store, store.layer_revisions_in(conn)),  # after this run's own write
                created_by=created_by,
                conn=conn,
            )

    return RUNS.current(store, params.as_dict(), lambda: None, compute, recompute=recompute)


def run_units_job(store, params: dict, created_by: str | None) -> dict:
    """The ``units`` background job: build units from the totals in ``params``; return the run id and unit count."""
    up = UnitsParams.from_input(store.norms, rows=params.get("totals"), levels=params.get("levels"))
    run = build_units(store, up, created_by=created_by, recompute=True)
    return {"units_run_id": int(run["id"]), "units": run["summary"]["units"]}
