"""New residential developments against the facility floor area they owe.

Required area (m²): the approved figure (``required_facility_area_m2``), else planned households x 30 m² per
100 households (``community.service_floor_m2_per_100_households``); owed = required - built (m², >= 0).

The owed area is tracked until handover (Art. 18 ¶2): planned -> under construction -> built -> handed over to the
community (``status``, ``handed_over_area_m2``, ``handover_date``). A development handed over with less than the
required area is flagged (``handover_short``, the m² missing); one handed over without the area handed over cannot be
checked; a completed one not yet handed over is listed as pending.
Inputs and table are EPSG:4326.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

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
    handover = _handover(dev, required)
    for k, v in handover.items():
        out[k] = v
    out = out.sort_values("owed_m2", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    stage = handover["handover_stage"]
    totals = {
        "developments": len(dev),
        "developments_owing": int((status == GAP).sum()),
        "developments_owed_m2": round(float(np.nansum(np.where(ok, owed, np.nan))), 1) if len(dev) else 0.0,
        "developments_handed_over": int((stage == "handed_over").sum()),
        "developments_handed_over_short": int(np.asarray(handover["handover_short"] == True).sum()),  # noqa: E712
        "developments_handover_short_m2": round(float(np.nansum(handover["handover_short_m2"])), 1),
        "developments_built_not_handed_over": int((stage == "completed").sum()),
    }
    return out, totals


STAGE_ZH = {
    "planned": "规划（尚未开工）",
    "under_construction": "在建",
    "completed": "已建成，尚未移交社区",
    "handed_over": "已移交社区",
}


def _handover(dev: gpd.GeoDataFrame, required: np.ndarray) -> dict[str, np.ndarray]:
    """Per development: its stage until handover, the area (m²) handed over, the shortfall (m²) of a development
    handed over, whether it is short (None when it cannot be told) and the finding in Chinese."""
    n = len(dev)
    stage = np.array([s if s in STAGE_ZH else "planned" for s in _col(dev, "status", "planned")], dtype=object)
    handed = _num(dev, "handed_over_area_m2")
    is_handed = stage == "handed_over"
    short_m2 = np.where(
        is_handed & np.isfinite(handed) & np.isfinite(required), np.maximum(required - handed, 0), np.nan
    )
    short = np.full(n, None, dtype=object)
    known = is_handed & np.isfinite(short_m2)
    short[known] = short_m2[known] > 1e-9
    finding = np.full(n, None, dtype=object)
    finding[known & (short_m2 > 1e-9)] = [f"已移交但少移交 {v:,.1f} m²" for v in short_m2[known & (short_m2 > 1e-9)]]
    finding[known & (short_m2 <= 1e-9)] = "已足额移交"
    finding[is_handed & ~np.isfinite(handed)] = "已移交，但缺少移交面积，无法核对"
    finding[is_handed & np.isfinite(handed) & ~np.isfinite(required)] = "已移交，但缺少应配建面积，无法核对"
    finding[stage == "completed"] = "已建成，配建设施尚未移交社区"
    dates = _col(dev, "handover_date")
    return {
        "handover_stage": stage,
        "handover_stage_zh": np.array([STAGE_ZH[s] for s in stage], dtype=object),
        "handed_over_area_m2": handed,
        "handover_date": np.array([None if pd.isna(d) else str(pd.Timestamp(d).date()) for d in dates], dtype=object),
        "handover_short_m2": np.where(known, np.round(short_m2, 1), np.nan),
        "handover_short": short,
        "handover_finding_zh": finding,
    }
