"""The spatial plan against the floor-area gaps: planned facilities, reserved parcels that close a gap,
existing facilities on land planned for another use.

Parcel areas are the ``area_m2`` attribute, else measured in the audit's metric CRS (m²); the search for
parcels near a community is a straight-line distance in that CRS (m). Inputs and tables are EPSG:4326.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from ._common import GAP, AuditContext, _col, _containing, _ids, _num, _points
from .space import CommunitySpace, FacilityLayer


@dataclass(frozen=True)
class ParcelLayer:
    """The plan parcels as arrays, one entry per parcel.

    Attributes
    ----------
    frame : GeoDataFrame, EPSG:4326
    code, status : ndarray of str
        Land-use code (stripped) and status (default ``planned``).
    geom, geom_m : ndarray of shapely geometries
        Parcel polygons in EPSG:4326 and in the metric CRS (m).
    area : ndarray of float
        Area (m²): the attribute, else measured.
    reserved : ndarray of bool
        Land for community services (``land_use.is_community_service_land``).
    occupied : ndarray of bool
        A facility (any status) stands on the parcel.
    free : ndarray of bool
        Reserved, planned or reserved, and not occupied.
    comm : ndarray of int
        Community holding the parcel, -1 if none.
    ids : ndarray
    far : float
        Floor area per m² of land (``land_use.service_floor_area_ratio``).
    fac_parcel : ndarray of int
        Per facility: the parcel it stands on, -1 if none.
    """

    frame: gpd.GeoDataFrame
    code: np.ndarray
    status: np.ndarray
    geom: np.ndarray
    geom_m: np.ndarray
    area: np.ndarray
    reserved: np.ndarray
    occupied: np.ndarray
    free: np.ndarray
    comm: np.ndarray
    ids: np.ndarray
    far: float
    fac_parcel: np.ndarray


@dataclass(frozen=True)
class GapPlan:
    """How the plan closes each community's floor-area gap.

    Attributes
    ----------
    planned : ndarray of bool
        Per facility: planned or under construction.
    planned_floor : ndarray of float
        Per community: floor area (m²) of planned service facilities with a known area.
    planned_n : ndarray of int
        Per community: planned facilities.
    after_planned : ndarray of float
        Per community: the gap (m²) left after the planned facilities (NaN without a gap).
    close, close_ids : ndarray of object
        Per community: ``yes`` / ``partly`` / ``no`` / ``planned`` and the ids of the closing parcels.
    close_area : ndarray of float
        Per community: land area (m²) of the closing parcels.
    pc_assigned : ndarray of object
        Per parcel: the community whose gap it closes.
    pc_used : ndarray of float
        Per parcel: floor area (m²) of the gap it closes.
    """

    planned: np.ndarray
    planned_floor: np.ndarray
    planned_n: np.ndarray
    after_planned: np.ndarray
    close: np.ndarray
    close_ids: np.ndarray
    close_area: np.ndarray
    pc_assigned: np.ndarray
    pc_used: np.ndarray


def planned_facilities(ctx: AuditContext, fl: FacilityLayer, space: CommunitySpace):
    """Planned and under-construction facilities and the service floor area (m²) they add per community.

    Returns
    -------
    planned : ndarray of bool
    planned_floor : ndarray of float
    planned_n : ndarray of int
    after_planned : ndarray of float
        Gap (m²) left after them, NaN where the community has no gap.
    """
    n_cm, sf = ctx.n_cm, space.floor
    planned = np.isin(fl.status, ["planned", "under_construction"])
    planned_space = planned & fl.service_space(sf.space_cats) & (fl.comm >= 0) & np.isfinite(fl.floor)
    planned_floor = np.bincount(fl.comm[planned_space], weights=fl.floor[planned_space], minlength=n_cm)
    planned_n = np.bincount(fl.comm[planned & (fl.comm >= 0)], minlength=n_cm)
    after_planned = np.where(sf.status == GAP, np.maximum(sf.gap - planned_floor, 0.0), np.nan)
    return planned, planned_floor, planned_n, after_planned


def parcel_layer(parcels: gpd.GeoDataFrame, ctx: AuditContext, fl: FacilityLayer) -> ParcelLayer:
    """Arrays of the plan parcels (EPSG:4326); records the land-use norms of the parcel checks."""
    lu = ctx.norms.land_use
    far = float(lu.service_floor_area_ratio)
    record = ctx.record
    record(
        "land_use.reserved_community_service", "预留社区服务设施用地代码", "、".join(lu.reserved_community_service), ""
    )
    record(
        "land_use.public_service_prefixes", "公共管理与公共服务用地代码前缀", "、".join(lu.public_service_prefixes), ""
    )
    record("land_use.service_floor_area_ratio", "预留地块可建建筑面积系数（容积率）", far, "")
    pc = parcels
    code = (
        pc["land_use_code"].astype(str).str.strip().to_numpy()
        if "land_use_code" in pc.columns
        else np.full(len(pc), "", object)
    )
    status = (
        pc["status"].fillna("planned").to_numpy(dtype=object)
        if "status" in pc.columns
        else np.full(len(pc), "planned", object)
    )
    geom = np.asarray(pc.geometry.values, dtype=object)
    geom_m = ctx.metric(geom)
    area = _num(pc, "area_m2")
    if len(pc):
        area = np.where(np.isfinite(area), area, shapely.area(geom_m))
    reserved = np.array([lu.is_community_service_land(c) for c in code], dtype=bool) if len(pc) else np.zeros(0, bool)
    fac_parcel = _containing(fl.pts, geom)  # which parcel each facility stands on (any status)
    occupied = np.zeros(len(pc), dtype=bool)
    occupied[fac_parcel[fac_parcel >= 0]] = True
    return ParcelLayer(
        frame=pc,
        code=code,
        status=status,
        geom=geom,
        geom_m=geom_m,
        area=area,
        reserved=reserved,
        occupied=occupied,
        free=reserved & np.isin(status, ["planned", "reserved"]) & ~occupied,
        comm=_containing(_points(pc), ctx.cm_geom) if len(pc) else np.zeros(0, np.int64),
        ids=_ids(pc),
        far=far,
        fac_parcel=fac_parcel,
    )


def plan_for_gaps(ctx: AuditContext, fl: FacilityLayer, space: CommunitySpace, pl: ParcelLayer) -> GapPlan:
    """Close each community's floor-area gap: planned facilities first, then free reserved parcels.

    Communities go largest gap (m², after planned facilities) first; each parcel closes one community's gap.
    Candidates lie within ``params.parcel_search_m`` (m, straight line in the metric CRS): community-service
    land before other public-service land, inside the community before near it, nearer first; the first one
    that suffices alone, else the ranked ones until the gap is closed.
    """
    planned, planned_floor, planned_n, after_planned = planned_facilities(ctx, fl, space)
    n_cm, n_pc = ctx.n_cm, len(pl.frame)
    plan = GapPlan(
        planned=planned,
        planned_floor=planned_floor,
        planned_n=planned_n,
        after_planned=after_planned,
        close=np.full(n_cm, None, dtype=object),
        close_ids=np.full(n_cm, None, dtype=object),
        close_area=np.full(n_cm, np.nan),
        pc_assigned=np.full(n_pc, None, dtype=object),
        pc_used=np.zeros(n_pc),
    )
    taken = np.zeros(n_pc, dtype=bool)
    cm_m = ctx.metric(ctx.cm_geom)
    free_idx = np.flatnonzero(pl.free)
    tree = shapely.STRtree(pl.geom_m[free_idx]) if len(free_idx) else None
    order = np.argsort(-np.nan_to_num(after_planned, nan=-1.0), kind="stable")
    for i in order:  # communities with a gap, largest first (a few hundred at most)
        if space.floor.status[i] != GAP:
            continue
        need = after_planned[i]
        if need <= 1e-9:
            plan.close[i] = "planned"
            continue
        if tree is None:
            plan.close[i] = "no"
            continue
        cand = free_idx[tree.query(cm_m[i], predicate="dwithin", distance=ctx.params.parcel_search_m)]
        cand = cand[~taken[cand]]
        if not len(cand):
            plan.close[i] = "no"
            continue
        _close_with(plan, i, need, _ranked(ctx, pl, cand, cm_m[i], i), pl, ctx.cm_code, taken)
    return plan


def _ranked(ctx: AuditContext, pl: ParcelLayer, cand: np.ndarray, community_m, i: int) -> np.ndarray:
    """Candidate parcels in order: community-service land (0702, 0704) before other public-service land (08...),
    inside community ``i`` before near it, then by distance (m)."""
    dist = shapely.distance(community_m, pl.geom_m[cand])
    inside = pl.comm[cand] == i
    own_code = np.isin(pl.code[cand], list(ctx.norms.land_use.reserved_community_service))
    return cand[np.lexsort((dist, ~inside, ~own_code))]


def _close_with(plan: GapPlan, i: int, need: float, ranked, pl: ParcelLayer, cm_code, taken) -> None:
    """Pick the parcels for community ``i`` (a gap of ``need`` m² of floor area) and mark them taken."""
    far, area = pl.far, pl.area
    ok_ranked = ranked[(area[ranked] * far) >= need - 1e-9]
    picks = [ok_ranked[0]] if len(ok_ranked) else []
    if not picks:
        got = 0.0
        for j in ranked:
            picks.append(j)
            got += area[j] * far
            if got >= need - 1e-9:
                break
    got = float(sum(area[j] * far for j in picks))
    plan.close[i] = "yes" if got >= need - 1e-9 else "partly"
    plan.close_ids[i] = ",".join(str(pl.ids[j]) for j in picks)
    plan.close_area[i] = float(sum(area[j] for j in picks))
    rest = need
    for j in picks:
        plan.pc_assigned[j] = cm_code[i]
        taken[j] = True
        plan.pc_used[j] = min(rest, area[j] * far)
        rest -= plan.pc_used[j]


def facilities_at_risk(ctx: AuditContext, fl: FacilityLayer, pl: ParcelLayer):
    """Existing facilities on a parcel planned for a use they may not stand on (``land_use.is_compatible``).

    Returns
    -------
    at_risk : ndarray of bool
        Per facility.
    risk_code : ndarray of object
        Per existing facility on a parcel: that parcel's land-use code.
    risk_n : ndarray of int
        Per community: facilities at risk.
    """
    lu = ctx.norms.land_use
    at_risk = np.zeros(len(fl), dtype=bool)
    risk_code = np.full(len(fl), None, dtype=object)
    on = fl.existing & (pl.fac_parcel >= 0)
    if on.any():
        codes = pl.code[pl.fac_parcel[on]]
        compat = np.array([lu.is_compatible(c, code) for c, code in zip(fl.cat[on], codes)], dtype=bool)
        at_risk[np.flatnonzero(on)[~compat]] = True
        risk_code[on] = codes
    ctx.record(
        "land_use.compatible_prefixes",
        "设施可占用的用地代码前缀",
        "、".join(lu.compatible_default) + "（另按类别增加）",
        "",
    )
    risk_n = np.bincount(fl.comm[at_risk & (fl.comm >= 0)], minlength=ctx.n_cm)
    return at_risk, risk_code, risk_n


def parcels_table(ctx: AuditContext, pl: ParcelLayer, plan: GapPlan) -> gpd.GeoDataFrame:
    """Reserved parcels (planned or reserved) with their floor capacity (m²) and the gap (m²) each closes.

    Returns
    -------
    GeoDataFrame, EPSG:4326
    """
    show = pl.reserved & np.isin(pl.status, ["planned", "reserved"])
    cm_code = ctx.cm_code
    return gpd.GeoDataFrame(
        {
            "parcel_id": pl.ids[show],
            "land_use_code": pl.code[show],
            "status": pl.status[show],
            "planned_use": _col(pl.frame, "planned_use")[show],
            "area_m2": np.round(pl.area[show], 1),
            "floor_capacity_m2": np.round(pl.area[show] * pl.far, 1),
            "occupied": pl.occupied[show],
            "community_code": np.where(pl.comm[show] >= 0, cm_code[np.maximum(pl.comm[show], 0)], None)
            if show.any()
            else [],
            "assigned_to_community": plan.pc_assigned[show],
            "gap_closed_m2": np.round(plan.pc_used[show], 1),
        },
        geometry=pl.geom[show],
        crs=4326,
    )
