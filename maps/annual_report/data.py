"""Gathering the report's inputs from the existing analyses (nothing is computed here that they compute).

- Art. 3: the adopted boundary plan evaluated by :class:`boundaries.service.PlanService` (communities, the
  household band, workers);
- Art. 12: the current life-circle coverage run (:func:`facilities.service.current_coverage`);
- Art. 15 and 18: the current audit run (:func:`facilities.audit_service.current_audit`) and its tables
  (shelters, emergency assignment, fixed-shelter share, office and service space, developments).

Every run is the stored one while its inputs are unchanged, else recomputed by its own service. Frames are in
EPSG:4326 as stored; the figures project them to the metric CRS of the data (:mod:`geo_service.core.crs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from geo_service.core._errors import NotFoundError

AUDIT_TABLES = ("communities", "streets", "shelters", "units", "shelter_share", "central", "developments")
COVERAGE_TABLES = ("units", "streets", "communities")


@dataclass
class ReportInputs:
    """Everything the report shows, read from the store's analyses.

    Attributes
    ----------
    meta : dict
        The store's metadata (``dataset``: name, synthetic flag).
    county : dict
        Name and code of the county (区县) of the admin areas, or of the city when none is stored.
    streets : geopandas.GeoDataFrame
        Streets (街道) with ``code``, ``name`` and polygons, EPSG:4326.
    plan : dict
        The adopted plan row; ``plan_version`` its evaluated version.
    evaluation : boundaries.evaluate.Evaluation
        Per-community figures of the adopted plan and its ``totals`` (Art. 3); ``communities.geometry`` in the
        units' metric CRS, ``geometry_wgs84`` in EPSG:4326.
    coverage, audit : dict
        The coverage and audit runs (``id``, ``summary``, ``outputs``…).
    coverage_tables, audit_tables : dict of GeoDataFrame
        Their stored outputs (EPSG:4326).
    norms : geo_service.core.norms.Norms
        The store's norms (the city's override included).
    seconds : dict
        Time spent per source (s).
    """

    meta: dict
    county: dict
    streets: gpd.GeoDataFrame
    plan: dict
    plan_version: int
    evaluation: object
    coverage: dict
    audit: dict
    coverage_tables: dict = field(default_factory=dict)
    audit_tables: dict = field(default_factory=dict)
    norms: object = None
    seconds: dict = field(default_factory=dict)


def adopted_plan(store) -> dict:
    """The newest adopted boundary plan; :class:`NotFoundError` (Chinese message) when none is adopted."""
    adopted = [p for p in store.list_plans() if p["status"] == "adopted"]
    if not adopted:
        raise NotFoundError(
            "no adopted boundary plan: adopt one before building the annual report",
            "尚无已采纳的社区划分方案，无法生成年度体检报告：请先采纳一个方案（geo-service plan adopt）",
        )
    return adopted[-1]


def county_of(store, meta: dict) -> dict:
    """Name and code of the report's area: the county admin area(s), else the dataset's name."""
    areas = store.read_layer("admin_areas", where={"level": "county"})
    if len(areas):
        names = [str(n) for n in areas["name"].tolist()]
        codes = [str(c) for c in areas["code"].tolist()]
        return {"name": "、".join(names), "code": "、".join(codes)}
    ds = meta.get("dataset") or {}
    return {"name": ds.get("name_zh") or ds.get("name") or "本地区", "code": ""}


def gather(store, *, created_by: str | None = None, allow_compute: bool = True) -> ReportInputs:
    """Read (or have their services compute) the plan evaluation, coverage and audit of ``store``.

    Parameters
    ----------
    store : geo_service.core.storage.Store
    created_by : str, optional
        Who asked (recorded on a run that has to be computed).
    allow_compute : bool
        False: only stored runs of unchanged inputs are used (an anonymous web request), else
        :class:`~geo_service.core._errors.NotComputedError` from the services.
    """
    import time

    from boundaries.service import PlanService
    from facilities.audit_service import current_audit, run_tables
    from facilities.service import current_coverage

    seconds = {}
    t = time.perf_counter()
    plan = adopted_plan(store)
    meta = store.get_metadata() or {}
    streets = store.read_layer("admin_areas", where={"level": "street"})
    if streets.empty:
        raise NotFoundError(
            "no streets (admin areas of level street) are stored", "尚未导入街道行政区划，无法按街道汇总"
        )
    svc = PlanService(store)
    row, evaluation, version = svc.evaluate(plan["id"])
    seconds["art3"] = time.perf_counter() - t

    t = time.perf_counter()
    coverage = current_coverage(store, created_by=created_by, allow_compute=allow_compute)
    cov_tables = {
        n: store.read_analysis_output(coverage["id"], n) for n in COVERAGE_TABLES if coverage["outputs"].get(n)
    }
    seconds["art12"] = time.perf_counter() - t

    t = time.perf_counter()
    audit = current_audit(store, created_by=created_by, allow_compute=allow_compute)
    tables = run_tables(store, audit["id"])
    seconds["art15_18"] = time.perf_counter() - t
    return ReportInputs(
        meta=meta,
        county=county_of(store, meta),
        streets=streets,
        plan=row,
        plan_version=version,
        evaluation=evaluation,
        coverage=coverage,
        audit=audit,
        coverage_tables=cov_tables,
        audit_tables={k: v for k, v in tables.items() if k in AUDIT_TABLES},
        norms=store.norms,
        seconds=seconds,
    )
