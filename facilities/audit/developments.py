"""New residential developments against the facility floor area they owe.

Required area (m²): the approved figure (``required_facility_area_m2``), else planned households x 30 m² per
100 households (``community.service_floor_m2_per_100_households``); owed = required - built (m², >= 0).
Inputs and table are EPSG:4326.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from ._common import CANNOT, GAP, OK, STATUS_ZH, AuditContext, _code_of, _col, _containing, _empty, _ids, _num, _points


def audit_developments(developments: gpd.GeoDataFrame | None, ctx: AuditContext) -> tuple[gpd.GeoDataFrame, dict]:
    """Facility floor area (m²) each development owes, the largest debt first.

    Parameters
    ----------
    developments : GeoDataFrame, EPSG:4326, or None
        ``planned_households`` (households), ``required_facility_area_m2`` and ``built_facility_area_m2`` (m²).
    ctx : AuditContext

    Returns
    -------
    table : GeoDataFrame, EPSG:4326
        One row per development; ``cannot_assess`` where the required or built area is unknown.
    totals : dict
        ``developments``, ``developments_owing``, ``developments_owed_m2`` (m²).
    """
    dev = developments if developments is not None else _empty()
    per100 = float(ctx.norms.service_floor_m2_per_100_households)
    hh = _num(dev, "planned_households")
    declared = _num(dev, "required_facility_area_m2")
    required = np.where(np.isfinite(declared), declared, hh * per100 / 100.0)
    req_source = np.where(
        np.isfinite(declared), "项目批复", np.where(np.isfinite(hh), "按每百户 30 m² 计算", None)
    ).astype(object)
    built = _num(dev, "built_facility_area_m2")
    owed = np.maximum(required - built, 0.0)
    ok = np.isfinite(required) & np.isfinite(built)
    status = np.where(~ok, CANNOT, np.where(owed > 1e-9, GAP, OK)).astype(object)
    reason = np.full(len(dev), None, dtype=object)
    reason[~np.isfinite(required)] = "缺少规划户数和应配建面积"
    reason[np.isfinite(required) & ~np.isfinite(built)] = "缺少已配建设施面积"
    comm = _containing(_points(dev), ctx.cm_geom) if len(dev) else np.zeros(0, np.int64)
    out = gpd.GeoDataFrame(
        {
            "development_id": _ids(dev),
            "name": _col(dev, "name"),
            "status": _col(dev, "status"),
            "community_code": _code_of(comm, ctx.cm_code) if len(dev) else [],
            "planned_households": hh,
            "required_facility_area_m2": np.round(required, 1),
            "required_source": req_source,
            "built_facility_area_m2": built,
            "owed_m2": np.where(ok, np.round(owed, 1), np.nan),
            "status_check": status,
            "status_check_zh": [STATUS_ZH[x] for x in status],
            "cannot_assess_reason": reason,
        },
        geometry=np.asarray(dev.geometry.values, dtype=object) if len(dev) else [],
        crs=4326,
    )
    out = out.sort_values("owed_m2", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    totals = {
        "developments": len(dev),
        "developments_owing": int((status == GAP).sum()),
        "developments_owed_m2": round(float(np.nansum(np.where(ok, owed, np.nan))), 1) if len(dev) else 0.0,
    }
    return out, totals
