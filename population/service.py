"""Population-unit builds against the store: read the layers, compute, update ``population_units``, keep the run.

The new units and the run (kind ``units``: parameters with the totals' digest, the summary, the input-layer
revisions) are written in ONE transaction: on any error nothing is written. :func:`build_units` reuses the newest
run whose parameters and inputs (buildings, residential areas, admin areas, roads and the units it wrote) are
unchanged, unless ``recompute``.

**How a rebuild matches units.** Unit ids (``source_id``) come from what a unit is (see :mod:`population.units`:
``c-`` + compound id, ``b-`` + a key of the block's outline, ``s-`` + building id).  A rebuild updates the stored
unit of the same ``source_id`` in place (same row ``id``, new residents and households), inserts units that are new
and deletes the stored units it no longer makes.  A rebuild with other totals, another weight or persons per
household therefore keeps every unit, its row id and its ``source_id``; the communities of every plan (whose
versions assign units by ``source_id``) still hold all their units, and coverage and the audit run on them without a
new delineation.  The summary counts the kept, new and removed units.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd

from geo_service.core._errors import UnknownLayerError
from geo_service.core.runs import RunCache

from .compute import UnitsResult, compute_units, match_totals, summary_lines
from .params import UnitsParams

__all__ = ["KIND", "INPUT_LAYERS", "RUNS", "build_units", "check_totals", "compute_from_store", "run_units_job"]

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


def check_totals(store, params: UnitsParams) -> dict:
    """Match the totals of ``params`` against the stored admin areas (nothing computed or written); see
    :func:`population.compute.match_totals` (``InputError`` naming the totals that match no area)."""
    areas = _read(store, "admin_areas")
    frame = areas.drop(columns=areas.geometry.name) if areas is not None else None
    if frame is None:
        frame = gpd.GeoDataFrame({"level": [], "code": [], "name": []})
    return match_totals(frame, params)


def _write_units(store, units: gpd.GeoDataFrame, conn) -> dict[str, int]:
    """Update the stored units of the same ``source_id``, insert the new ones, delete the others (the caller's
    transaction); return the counts ``kept``, ``new``, ``removed``."""
    frame = _layer_frame(units)
    existing = store.existing_source_ids(conn, "population_units")
    ids = set(frame["source_id"].astype(str))
    stale = [fid for sid, fid in existing.items() if sid not in ids]
    if stale and len(stale) == len(existing):
        store.delete_layer("population_units", conn=conn)
    else:
        for fid in stale:
            store.delete_feature("population_units", int(fid), conn=conn)
    kept = len(existing) - len(stale)
    store.upsert_layer("population_units", frame, conn=conn)
    return {"kept": kept, "new": len(frame) - kept, "removed": len(stale)}


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
            counts = _write_units(store, result.units, conn)
            summary["ids"] = counts
            summary["replaced_units"] = counts["kept"] + counts["removed"]  # units stored before this build
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
    """The ``units`` background job: build units from the totals in ``params``; return the run id and unit count.

    ``params``: ``totals`` (rows: code and/or name, residents, households, level), ``levels`` (the level of rows
    without one), ``totals_source`` (the uploaded file's name, for the run's summary), ``raster`` (path of an
    uploaded population raster) and ``column_map``, as ``POST /units/build`` and ``POST /jobs`` store them.
    """
    try:
        up = UnitsParams.from_input(
            store.norms,
            rows=params.get("totals"),
            levels=params.get("levels"),
            rows_source=str(params.get("totals_source") or "job"),
            column_map=params.get("column_map"),
            raster=params.get("raster"),
        )
        run = build_units(store, up, created_by=created_by, recompute=True)
    finally:  # done or failed: an uploaded raster has served (a process killed mid-job leaves it for the retry)
        _remove_upload(store, params.get("raster"))
    out = {"units_run_id": int(run["id"]), "units": run["summary"]["units"]}
    if run["summary"].get("ids"):
        out["ids"] = run["summary"]["ids"]
    return out


def _remove_upload(store, path) -> None:
    """Delete ``path`` when it is a file that ``POST /units/build`` kept under ``<data dir>/uploads``; a caller's own
    raster (CLI, ``POST /jobs`` with a path) is never touched."""
    if not path:
        return
    uploads = (Path(store.settings.data_dir) / "uploads").resolve()
    p = Path(path).resolve()
    if p.parent == uploads and p.name.startswith("units-raster-"):
        p.unlink(missing_ok=True)
