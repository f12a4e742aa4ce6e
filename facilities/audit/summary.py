"""The audit's summary tables: communities ranked worst first, flagged facilities, what cannot be assessed,
streets, and the county totals.

Tables are EPSG:4326 where they have geometry; areas in m², people in residents / persons, households.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core.vocab import FACILITY_CATEGORIES

from ._common import CANNOT, CLOSE_ZH, GAP, STATUS_ZH, AuditContext, _col, _ids, _labels, _num
from .parcels import GapPlan
from .space import CommunitySpace, FacilityLayer


def community_table(
    ctx: AuditContext, space: CommunitySpace, plan: GapPlan, risk_n: np.ndarray, units: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """One row per community with every finding, ranked: most issues, largest gap (m²), most unplaced first.

    Parameters
    ----------
    ctx : AuditContext
    space : CommunitySpace
    plan : GapPlan
    risk_n : ndarray of int
        Facilities at risk per community.
    units : GeoDataFrame
        The unit table of the shelter topic (its ``{class}_demand`` ... columns are summed per community).

    Returns
    -------
    GeoDataFrame, EPSG:4326
    """
    out = _community_columns(ctx, space, plan, risk_n)
    _add_shelter_columns(out, units)
    return _rank(out, ctx, space, risk_n)


def _community_columns(ctx: AuditContext, space: CommunitySpace, plan: GapPlan, risk_n) -> pd.DataFrame:
    """The space and plan columns of the community table (in input order)."""
    sf, communities = space.floor, ctx.communities
    return pd.DataFrame(
        {
            "community_code": ctx.cm_code,
            "name": communities["name"].to_numpy(dtype=object),
            "street_code": _col(communities, "street_code"),
            "households": sf.households,
            "residents": _num(communities, "residents"),
            "has_fixed_office": space.has_office,
            "office_source": space.office_source,
            "service_floor_m2": np.round(sf.floor_known, 1),
            "service_facilities": sf.space_n,
            "service_floor_required_m2": np.round(sf.required_m2, 1),
            "service_floor_gap_m2": np.round(sf.gap_out, 1),
            "service_floor_status": sf.status,
            "service_floor_status_zh": [STATUS_ZH[s] for s in sf.status],
            "cannot_assess_reason": sf.reason,
            "facilities_below_minimum": space.below_n,
            "missing_categories": [",".join(m) for m in space.missing],
            "missing_categories_zh": [_labels(m) for m in space.missing],
            "missing_category_count": space.missing_n,
            "planned_facilities": plan.planned_n,
            "planned_service_floor_m2": np.round(plan.planned_floor, 1),
            "gap_after_planned_m2": np.round(plan.after_planned, 1),
            "plan_can_close": plan.close,
            "plan_can_close_zh": [CLOSE_ZH.get(c) if c else None for c in plan.close],
            "closing_parcel_ids": plan.close_ids,
            "closing_parcel_area_m2": np.round(plan.close_area, 1),
            "facilities_at_risk": risk_n,
        }
    )


def _add_shelter_columns(out: pd.DataFrame, units: gpd.GeoDataFrame) -> None:
    """Per assignment class: demand, placed, unplaced, unplaced with the plan (persons) and the placed share."""
    for c in units.attrs.get("classes", []):
        kinds = ("demand", "placed", "unplaced", "unplaced_with_plan")
        agg = units.groupby("community_code")[[f"{c}_{k}" for k in kinds]].sum()
        for k in kinds:
            out[f"{c}_{k}"] = out["community_code"].map(agg[f"{c}_{k}"]).fillna(0).astype(np.int64).to_numpy()
        out[f"{c}_placed_share"] = np.where(
            out[f"{c}_demand"] > 0, out[f"{c}_placed"] / out[f"{c}_demand"].clip(lower=1), np.nan
        ).round(4)


def _rank(out: pd.DataFrame, ctx: AuditContext, space: CommunitySpace, risk_n) -> gpd.GeoDataFrame:
    """Count the issues of each community, sort worst first and number the ranks."""
    n_cm, sf = ctx.n_cm, space.floor
    issue_flags = {
        "无固定办公场所": ~space.has_office,
        "综合服务面积不足": sf.status == GAP,
        "设施低于最小面积": space.below_n > 0,
        "缺少应配设施": space.missing_n > 0,
        "存在无法安置的居民": out["emergency_unplaced"].to_numpy() > 0
        if "emergency_unplaced" in out
        else np.zeros(n_cm, bool),
        "设施用地规划为他用": risk_n > 0,
    }
    flags = np.column_stack(list(issue_flags.values()))
    out["issues"] = flags.sum(axis=1)
    names = np.array(list(issue_flags), dtype=object)
    out["issues_zh"] = ["；".join(names[row]) for row in flags]
    unplaced_sort = out["emergency_unplaced"].to_numpy() if "emergency_unplaced" in out else np.zeros(n_cm)
    order = np.lexsort((ctx.cm_code, -unplaced_sort, -np.nan_to_num(sf.gap_out), -out["issues"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, n_cm + 1))
    return gpd.GeoDataFrame(out, geometry=ctx.cm_geom[order], crs=4326)


def facility_flags(fl: FacilityLayer, space: CommunitySpace, at_risk, planned) -> dict[str, np.ndarray]:
    """Per facility: below its minimum floor area, floor area unknown, at risk, planned but not built."""
    return {
        "below_minimum": space.below,
        "area_unknown": space.min_unknown | (space.floor.is_space & ~np.isfinite(fl.floor)),
        "at_risk": at_risk,
        "planned_not_built": planned,
    }


def facilities_table(
    ctx: AuditContext, fl: FacilityLayer, space: CommunitySpace, flags: dict[str, np.ndarray], risk_code
) -> gpd.GeoDataFrame:
    """The flagged facilities (any of ``flags``) with their floor area and minimum (m²) and the findings.

    Returns
    -------
    GeoDataFrame, EPSG:4326
        Points (a point inside polygons).
    """
    fac, cat = fl.frame, fl.cat
    cm_code = ctx.cm_code
    cm_of = np.where(fl.comm >= 0, cm_code[np.maximum(fl.comm, 0)], None) if len(fac) else np.zeros(0, object)
    keep = np.zeros(len(fac), bool)
    for v in flags.values():
        keep |= v
    findings = zip(
        flags["below_minimum"][keep],
        flags["area_unknown"][keep],
        flags["at_risk"][keep],
        flags["planned_not_built"][keep],
        risk_code[keep],
    )
    return gpd.GeoDataFrame(
        {
            "facility_id": _ids(fac)[keep],
            "name": _col(fac, "name")[keep],
            "category": cat[keep],
            "category_zh": [FACILITY_CATEGORIES.get(c, c) for c in cat[keep]],
            "status": fl.status[keep],
            "community_code": cm_of[keep],
            "floor_area_m2": fl.floor[keep],
            "min_floor_m2": space.fac_min[keep] if len(fac) else fl.floor[keep],
            **{k: v[keep] for k, v in flags.items()},
            "parcel_land_use_code": risk_code[keep],
            "finding_zh": [_fac_finding(b, u, r, p, code) for b, u, r, p, code in findings],
        },
        geometry=fl.pts[keep] if len(fac) else [],
        crs=4326,
    )


def _fac_finding(below, unknown, risk, planned, code) -> str:
    """The findings of one facility, in Chinese."""
    parts = []
    if below:
        parts.append("低于最小建筑面积")
    if unknown:
        parts.append("缺少建筑面积，无法评估")
    if risk:
        parts.append(f"所在地块规划为他用（{code}）")
    if planned:
        parts.append("规划或在建，尚未建成")
    return "；".join(parts)


def cannot_assess_table(
    ctx: AuditContext,
    space: CommunitySpace,
    fl: FacilityLayer,
    area_unknown: np.ndarray,
    shelters: gpd.GeoDataFrame,
    developments: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Every feature a check could not assess, with the check and the reason (Chinese).

    Returns
    -------
    DataFrame
        ``layer``, ``feature_id`` (str), ``name``, ``check_zh``, ``reason_zh``.
    """
    sf, names = space.floor, ctx.communities["name"]
    rows = []
    for i in np.flatnonzero(sf.status == CANNOT):
        rows.append(("communities", ctx.cm_code[i], names.iloc[i], "综合服务设施面积", sf.reason[i]))
    fids, fnames = _ids(fl.frame), _col(fl.frame, "name")
    for i in np.flatnonzero(area_unknown):
        reason = f"{FACILITY_CATEGORIES.get(fl.cat[i], fl.cat[i])}缺少建筑面积"
        rows.append(("facilities", fids[i], fnames[i], "设施建筑面积", reason))
    for r in shelters.loc[shelters["assessable"].eq(False)].itertuples():
        rows.append(("shelters", r.shelter_id, r.name, "避难容量", r.cannot_assess_reason))
    for r in developments.loc[developments["status_check"] == CANNOT].itertuples():
        rows.append(("developments", r.development_id, r.name, "配建设施面积", r.cannot_assess_reason))
    cannot = pd.DataFrame(rows, columns=["layer", "feature_id", "name", "check_zh", "reason_zh"])
    cannot["feature_id"] = cannot["feature_id"].astype(str)
    return cannot


def street_summary(comm: gpd.GeoDataFrame, dev: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per street: communities, households, findings, floor-area gap (m²), unplaced residents, developments.

    Streets with the most communities with a floor-area gap come first, then the largest gap.
    """
    c = comm.drop(columns="geometry").copy()
    c["street_code"] = c["street_code"].fillna("（未知街道）")
    agg = {
        "communities": ("community_code", "size"),
        "households": ("households", "sum"),
        "without_office": ("has_fixed_office", lambda s: int((~s.astype(bool)).sum())),
        "with_space_gap": ("service_floor_status", lambda s: int((s == GAP).sum())),
        "cannot_assess": ("service_floor_status", lambda s: int((s == CANNOT).sum())),
        "service_floor_gap_m2": ("service_floor_gap_m2", "sum"),
        "missing_categories": ("missing_category_count", lambda s: int((s > 0).sum())),
        "facilities_at_risk": ("facilities_at_risk", "sum"),
    }
    if "emergency_unplaced" in c:
        agg["emergency_demand"] = ("emergency_demand", "sum")
        agg["emergency_unplaced"] = ("emergency_unplaced", "sum")
    st = c.groupby("street_code").agg(**agg).reset_index()
    st["service_floor_gap_m2"] = st["service_floor_gap_m2"].round(1)
    if len(dev):
        d = dev.copy()
        d["street_code"] = d["community_code"].map(dict(zip(comm["community_code"], comm["street_code"])))
        owed = d[d["status_check"] == GAP].groupby("street_code")["owed_m2"].agg(["size", "sum"])
        st["developments_owing"] = st["street_code"].map(owed["size"]).fillna(0).astype(np.int64)
        st["developments_owed_m2"] = st["street_code"].map(owed["sum"]).fillna(0.0).round(1)
    sort_cols = ["with_space_gap", "service_floor_gap_m2"]
    return st.sort_values(sort_cols, ascending=False, kind="stable").reset_index(drop=True)


def county_totals(
    ctx: AuditContext, space: CommunitySpace, plan: GapPlan, flags: dict[str, np.ndarray], cannot: pd.DataFrame
) -> dict:
    """The county figures of the space and plan topics (the shelter and development totals are added after)."""
    sf, close = space.floor, plan.close
    return {
        "communities": int(ctx.n_cm),
        "communities_without_office": int((~space.has_office).sum()),
        "communities_with_space_gap": int((sf.status == GAP).sum()),
        "service_floor_gap_m2": round(float(np.nansum(sf.gap_out)), 1),
        "communities_gap_closable_by_plan": int(np.isin(close, ["yes", "planned"]).sum()),
        "communities_gap_partly_closable": int((close == "partly").sum()),
        "communities_gap_not_closable": int((close == "no").sum()),
        "communities_missing_categories": int((space.missing_n > 0).sum()),
        "facilities_below_minimum": int(flags["below_minimum"].sum()),
        "facilities_at_risk": int(flags["at_risk"].sum()),
        "facilities_planned_not_built": int(flags["planned_not_built"].sum()),
        "cannot_assess": {k: int(v) for k, v in cannot["layer"].value_counts().items()},
    }
