"""Shelters: capacities, the assignment of residents on foot, the fixed-shelter share, central shelters.

* capacity (persons) of each shelter: declared, else floor(effective area (m²) / per-capita norm (m²/person));
* residents (x ``day_night_factor``) of each population unit assigned to the shelters of a class within its
  walking limit (m, on the :class:`WalkNetwork`), respecting capacities, exactly (min-cost flow,
  :mod:`facilities.shelters`), with the nearest-first result beside it; then again with the plan (planned
  shelters, then parks and squares of the plan);
* fixed shelters against the share of residents of each street and of the county they must hold;
* central shelters against their population and built-up area (km²) limits (straight-line nearest).

Inputs and tables are EPSG:4326; areas and straight-line distances in the audit's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core.vocab import SHELTER_CLASSES

from ..coverage import snap_units
from ..shelters import assign_exact, assign_nearest_first, nearest_loads
from ._common import AuditContext, _code_of, _col, _containing, _empty, _ids, _num, _points


@dataclass(frozen=True)
class ShelterInputs:
    """The layers the shelter topic reads (EPSG:4326).

    Attributes
    ----------
    shelters : GeoDataFrame or None
        ``shelter_class``, ``status``, ``effective_area_m2`` (m²), ``capacity_persons`` (persons).
    units : GeoDataFrame
        Population units: ``id``, ``residents`` (residents), optional ``name``, ``street_code``.
    parcels : GeoDataFrame or None
        Plan parcels (parks and squares of the plan become candidate sites).
    entrances : GeoDataFrame or None
        Unit entrances (``unit_id``); a unit is reached from its nearest entrance.
    net : WalkNetwork or None
        Without it there is no assignment.
    """

    shelters: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame | None = None
    entrances: gpd.GeoDataFrame | None = None
    net: object = None


@dataclass
class ShelterResult:
    """The tables of the shelter topic (GeoDataFrames in EPSG:4326) and its totals."""

    shelters: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    assignment: gpd.GeoDataFrame
    share: pd.DataFrame
    central: pd.DataFrame
    sites: gpd.GeoDataFrame
    totals: dict


@dataclass
class _Shelters:
    """Shelter arrays (one entry per shelter) and the shelter table being built."""

    frame: gpd.GeoDataFrame
    cls: np.ndarray
    status: np.ndarray
    area: np.ndarray  # effective area, m²
    capacity: np.ndarray  # persons, NaN when unknown
    assessable: np.ndarray
    in_use: np.ndarray
    pts: np.ndarray
    out: gpd.GeoDataFrame

    @property
    def n(self) -> int:
        return len(self.frame)

    def cap_int(self) -> np.ndarray:
        """Capacity (persons) as integers, 0 when unknown."""
        return np.where(np.isfinite(self.capacity), self.capacity, 0).astype(np.int64)


@dataclass
class _Units:
    """Population-unit arrays (one entry per unit) and the unit table being built."""

    frame: gpd.GeoDataFrame
    residents: np.ndarray  # residents
    demand: np.ndarray  # persons to place: residents x day_night_factor
    ids: np.ndarray
    pts: np.ndarray
    out: gpd.GeoDataFrame

    @property
    def n(self) -> int:
        return len(self.frame)


@dataclass
class _Snapped:
    """Units, shelters and candidate sites snapped to the walk network."""

    net: object
    u_snap: object
    owner: np.ndarray  # snapped point -> unit
    reach_u: np.ndarray  # per unit: reachable
    sh_snap: object
    sh_reach: np.ndarray
    site_snap: object
    site_reach: np.ndarray

    def pairs(self, src_snap, src_index, limit):
        """(unit, source, walk m) pairs within ``limit`` m for the sources ``src_index``."""
        snap = src_snap.take(src_index) if len(src_index) else None
        return _unit_pairs(self.net, snap, src_index, self.u_snap, self.owner, limit)


def audit_shelters(inputs: ShelterInputs, ctx: AuditContext) -> ShelterResult:
    """Run the shelter topic: capacities, assignments per class (as is and with the plan), shares, central."""
    sh = _shelter_table(inputs.shelters, ctx)
    un = _unit_table(inputs.units, ctx)
    totals: dict = {
        "day_night_factor": float(ctx.params.day_night_factor),
        "shelters": int(sh.n),
        "shelters_cannot_assess": int((~sh.assessable).sum()),
        "residents": int(un.residents.sum()),
        "demand_persons": int(un.demand.sum()),
    }
    sites = _shelter_sites(inputs.parcels, sh.pts, ctx.norms, ctx.metric)
    if len(sites):
        sites["community_code"] = _code_of(_containing(_points(sites), ctx.cm_geom), ctx.cm_code)
    limits = ctx.params.limits(ctx.norms)
    if "emergency" in limits:
        ctx.record("shelter.emergency_walk_limit_m", "紧急避难场所步行距离上限", limits["emergency"], "m")
    if inputs.net is None:
        ctx.notes.append("未提供步行网络，未计算避难安置")
        limits = {}
    lines_all, classes = [], []
    if un.n and limits:
        snapped = _snap(inputs, sh, un, sites, ctx)
        for c, limit in limits.items():
            classes.append(c)
            lines, pairs = _assign_class(c, limit, snapped, sh, un, totals, ctx)
            lines_all.append(lines)
            _assign_with_plan(c, limit, pairs, snapped, sh, un, sites, totals, ctx)
    un.out.attrs["classes"] = classes
    up_m, sh_m = ctx.metric(un.pts), ctx.metric(sh.pts)  # once, for the street of each shelter and central
    share = _fixed_share(sh, un, up_m, sh_m, totals, ctx)
    central = _central(sh, un, up_m, sh_m, totals, ctx)
    return ShelterResult(sh.out, un.out, _lines(lines_all), share, central, sites, totals)


def _shelter_table(shelters: gpd.GeoDataFrame | None, ctx: AuditContext) -> _Shelters:
    """Capacity (persons) of each shelter: declared, else floor(effective area m² / per-capita m²)."""
    s, record = ctx.norms.shelter, ctx.record
    sh = shelters if shelters is not None else _empty()
    n_sh = len(sh)
    cls = _col(sh, "shelter_class").astype(object)
    status = (
        sh["status"].fillna("existing").to_numpy(dtype=object)
        if "status" in sh.columns
        else np.full(n_sh, "existing", object)
    )
    per_capita = {
        "emergency": s.per_capita_emergency_m2,
        "fixed": s.per_capita_fixed_m2,
        "central": s.per_capita_fixed_m2,
    }
    record("shelter.per_capita_emergency_m2", "紧急避难场所人均有效避难面积", s.per_capita_emergency_m2, "m²/人")
    record("shelter.per_capita_fixed_m2", "固定、中心避难场所人均有效避难面积", s.per_capita_fixed_m2, "m²/人")
    area = _num(sh, "effective_area_m2")
    declared = _num(sh, "capacity_persons")
    pcap = np.array([per_capita.get(c, np.nan) for c in cls], dtype=float) if n_sh else np.zeros(0)
    from_area = np.floor(area / pcap + 1e-9)
    capacity = np.where(np.isfinite(declared), declared, from_area)
    cap_source = np.where(np.isfinite(declared), "declared", np.where(np.isfinite(from_area), "area", None))
    assessable = np.isfinite(capacity)
    record("shelter.min_site_area_m2", "避难场所最小场地面积（地震）", s.min_site_area_m2, "m²")
    pts = _points(sh) if n_sh else np.zeros(0, object)
    out = gpd.GeoDataFrame(
        {
            "shelter_id": _ids(sh),
            "name": _col(sh, "name"),
            "shelter_class": cls,
            "shelter_class_zh": [SHELTER_CLASSES.get(c, c) for c in cls],
            "status": status,
            "effective_area_m2": area,
            "capacity_persons": capacity,
            "capacity_source": cap_source.astype(object),
            "per_capita_m2": pcap,
            "assessable": assessable,
            "cannot_assess_reason": np.where(assessable, None, "缺少有效避难面积和容纳人数").astype(object),
            "below_min_site_area": np.isfinite(area) & (area < s.min_site_area_m2),
        },
        geometry=pts,
        crs=4326,
    )
    out["community_code"] = _code_of(_containing(pts, ctx.cm_geom), ctx.cm_code) if n_sh else []
    return _Shelters(sh, cls, status, area, capacity, assessable, status == "existing", pts, out)


def _unit_table(units: gpd.GeoDataFrame, ctx: AuditContext) -> _Units:
    """Residents and demand (persons = residents x ``day_night_factor``, rounded) of each population unit."""
    u = units
    n_u = len(u)
    residents = np.nan_to_num(_num(u, "residents"), nan=0.0)
    demand = np.round(residents * float(ctx.params.day_night_factor)).astype(np.int64)
    unit_ids = _ids(u)
    pts = _points(u) if n_u else np.zeros(0, object)
    unit_cm = _code_of(_containing(pts, ctx.cm_geom), ctx.cm_code) if n_u else np.zeros(0, object)
    out = gpd.GeoDataFrame(
        {
            "unit_id": unit_ids,
            "name": _col(u, "name"),
            "community_code": unit_cm,
            "street_code": _col(u, "street_code"),
            "residents": residents.astype(np.int64),
        },
        geometry=np.asarray(u.geometry.values, dtype=object) if n_u else [],
        crs=4326,
    )
    return _Units(u, residents, demand, unit_ids, pts, out)


def _snap(inputs: ShelterInputs, sh: _Shelters, un: _Units, sites: gpd.GeoDataFrame, ctx: AuditContext) -> _Snapped:
    """Snap units (by their entrances), shelters and candidate sites to the network; note the unreachable."""
    net, n_u = inputs.net, un.n
    u_snap, owner = snap_units(net, un.frame.assign(unit_id=un.ids), entrances=inputs.entrances)
    owner = np.arange(n_u) if owner is None else owner
    reach_u = np.zeros(n_u, dtype=bool)
    reach_u[owner[u_snap.reachable]] = True
    sh_snap = net.snap(sh.frame.geometry) if sh.n else None
    sh_reach = sh_snap.reachable if sh.n else np.zeros(0, bool)
    sh.out["reachable"] = sh_reach
    site_snap = net.snap(sites.geometry) if len(sites) else None
    if len(sites):
        ctx.record(
            "shelter.site_effective_share",
            "公园、广场用作避难场所的有效面积比例",
            ctx.norms.shelter.site_effective_share,
            "",
        )
        ctx.record("land_use.shelter_sites", "可作避难场所的用地代码", "、".join(ctx.norms.land_use.shelter_sites), "")
    unreach = sh.assessable & ~sh_reach
    if unreach.any():
        ctx.notes.append(f"{int(unreach.sum())} 处避难场所距步行网络过远，未参与安置")
    site_reach = site_snap.reachable if len(sites) else np.zeros(0, bool)
    return _Snapped(net, u_snap, owner, reach_u, sh_snap, sh_reach, site_snap, site_reach)


def _of_class(c: str, sp: _Snapped, sh: _Shelters, ctx: AuditContext) -> np.ndarray:
    """Shelters that take residents in the assignment of class ``c``: serving class, assessable, reachable."""
    return np.isin(sh.cls, list(ctx.params.serving(c))) & sh.assessable & sp.sh_reach


def _assign_class(c, limit, sp: _Snapped, sh: _Shelters, un: _Units, totals: dict, ctx: AuditContext):
    """Assign the residents to the existing shelters of class ``c`` within ``limit`` m on foot.

    Adds the ``{c}_*`` columns to the unit and shelter tables and ``totals[c]``; returns the assignment
    lines (unit -> shelter, persons, walk m; EPSG:4326) and the (unit, shelter) pairs within reach.
    """
    n_u, demand, capacity = un.n, un.demand, sh.capacity
    serving = _of_class(c, sp, sh, ctx) & sh.in_use
    idx = np.flatnonzero(serving)
    ui, ss, d = sp.pairs(sp.sh_snap, idx, limit)
    cap_int = sh.cap_int()
    exact = assign_exact(n_u, sh.n, ui, ss, d, demand, cap_int)
    greedy = assign_nearest_first(n_u, sh.n, ui, ss, d, demand, cap_int)
    _nearest, nload = nearest_loads(n_u, sh.n, ui, ss, d, demand)
    has_pair = np.bincount(ui, minlength=n_u) > 0
    nearest_walk = np.full(n_u, np.nan)
    if len(ui):
        mw = pd.Series(d).groupby(ui).min()
        nearest_walk[mw.index.to_numpy()] = mw.to_numpy()
    uo = un.out
    uo[f"{c}_demand"] = demand
    uo[f"{c}_placed"] = exact.placed
    uo[f"{c}_unplaced"] = exact.unplaced
    uo[f"{c}_unplaced_nearest_first"] = greedy.unplaced
    uo[f"{c}_nearest_walk_m"] = np.round(nearest_walk, 1)
    why = np.full(n_u, None, dtype=object)
    why[(exact.unplaced > 0) & has_pair] = "步行范围内避难场所容量已满"
    why[(exact.unplaced > 0) & ~has_pair] = f"{limit:.0f} 米步行范围内没有避难场所"
    why[(exact.unplaced > 0) & ~sp.reach_u] = "距步行网络过远"
    uo[f"{c}_unplaced_reason"] = why
    so = sh.out
    so[f"{c}_assigned"] = np.where(serving, exact.load, 0)
    so[f"{c}_nearest_first_load"] = np.where(serving, nload, 0)
    over = serving & (nload > np.where(np.isfinite(capacity), capacity, np.inf))
    so[f"{c}_over_capacity_nearest_first"] = over
    so[f"{c}_utilisation"] = np.where(
        serving & (capacity > 0), exact.load / np.where(capacity > 0, capacity, 1), np.nan
    ).round(4)
    totals[c] = {
        "walk_limit_m": float(limit),
        "serving_classes": list(ctx.params.serving(c)),
        "shelters_used": len(idx),
        "capacity_persons": int(cap_int[idx].sum()),
        "demand_persons": int(demand.sum()),
        "placed": int(exact.placed.sum()),
        "unplaced": int(exact.unplaced.sum()),
        "unplaced_nearest_first": int(greedy.unplaced.sum()),
        "placed_nearest_first": int(greedy.placed.sum()),
        "units_without_shelter_in_reach": int((~has_pair & (demand > 0)).sum()),
        "mean_walk_m": round(float(exact.person_walk_m / max(exact.placed.sum(), 1)), 1),
        "shelters_over_capacity_nearest_first": int(over.sum()),
        "method": exact.method,
    }
    return _assignment_lines(c, exact, sh, un), (ui, ss)


def _assignment_lines(c: str, exact, sh: _Shelters, un: _Units) -> gpd.GeoDataFrame:
    """One straight line (EPSG:4326) per unit -> shelter pair of the exact assignment of class ``c``."""
    if len(exact.unit):
        a = un.pts[exact.unit]
        b = sh.pts[exact.shelter]
        geom = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([shapely.get_x(a), shapely.get_y(a)]),
                    np.column_stack([shapely.get_x(b), shapely.get_y(b)]),
                ],
                axis=1,
            )
        )
    else:
        geom = np.zeros(0, object)
    return gpd.GeoDataFrame(
        {
            "shelter_class": c,
            "unit_id": un.ids[exact.unit],
            "shelter_id": _ids(sh.frame)[exact.shelter],
            "persons": exact.persons,
            "walk_m": np.round(exact.walk_m, 1),
        },
        geometry=geom,
        crs=4326,
    )


def _assign_with_plan(c, limit, pairs, sp: _Snapped, sh: _Shelters, un: _Units, sites, totals, ctx: AuditContext):
    """The assignment of class ``c`` with the plan: planned and building shelters, then parks and squares of
    the plan that are no shelter yet.

    Same max-placed flow, but the cost of a pair is its tier, not its walk: 0 to an existing shelter, 1 to a
    planned one, 2 to a new site. Moving one person off a new site changes the planned load by at most one
    (only the two ends of an augmenting cycle change load), so the optimum uses the fewest new-site places,
    then the fewest planned places: what the plan must add. ``pairs``: the (unit, existing shelter) pairs
    within reach of :func:`_assign_class`.
    """
    n_u, n_sh, n_site = un.n, sh.n, len(sites)
    of_class = _of_class(c, sp, sh, ctx)
    ui, ss = pairs
    pidx = np.flatnonzero(of_class & np.isin(sh.status, ["planned", "under_construction"]))
    pu, ps, _ = sp.pairs(sp.sh_snap, pidx, limit)
    sidx = np.flatnonzero(sp.site_reach)
    tu, ts, _ = _unit_pairs(
        sp.net, sp.site_snap.take(sidx) if len(sidx) else None, n_sh + sidx, sp.u_snap, sp.owner, limit
    )
    cap_int = sh.cap_int()
    site_cap = sites["capacity_persons"].fillna(0).to_numpy(dtype=np.int64) if n_site else np.zeros(0, np.int64)
    cap_plan = np.concatenate([cap_int, site_cap])
    tier = np.concatenate([np.zeros(len(ui)), np.ones(len(pu)), np.full(len(tu), 2.0)])
    plan = assign_exact(
        n_u, n_sh + n_site, np.concatenate([ui, pu, tu]), np.concatenate([ss, ps, ts]), tier, un.demand, cap_plan
    )
    un.out[f"{c}_unplaced_with_plan"] = plan.unplaced
    sh.out[f"{c}_assigned_with_plan"] = np.where(of_class, plan.load[:n_sh], 0)
    if n_site:
        sites[f"{c}_assigned_with_plan"] = plan.load[n_sh:]
        sites["reachable"] = sp.site_reach
    totals[c]["with_plan"] = {
        "planned_shelters": len(pidx),
        "planned_capacity_persons": int(cap_int[pidx].sum()),
        "placed_by_planned_shelters": int(plan.load[pidx].sum()),
        "candidate_sites": int(n_site),
        "candidate_capacity_persons": int(cap_plan[n_sh:].sum()),
        "sites_used": int((plan.load[n_sh:] > 0).sum()),
        "placed_by_sites": int(plan.load[n_sh:].sum()),
        "placed": int(plan.placed.sum()),
        "unplaced": int(plan.unplaced.sum()),
    }


def _lines(lines_all: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """The assignment lines of every class as one table (EPSG:4326)."""
    lines = (
        pd.concat(lines_all, ignore_index=True)
        if lines_all
        else gpd.GeoDataFrame(
            {"shelter_class": [], "unit_id": [], "shelter_id": [], "persons": [], "walk_m": []}, geometry=[], crs=4326
        )
    )
    return gpd.GeoDataFrame(lines, geometry="geometry", crs=4326)


def _fixed_share(sh: _Shelters, un: _Units, up_m, sh_m, totals: dict, ctx: AuditContext) -> pd.DataFrame:
    """Fixed shelters hold >= ``shelter.fixed_min_share`` (15 %) of the residents of their street and county.

    A shelter belongs to the street of its nearest unit (straight line between ``sh_m`` and ``up_m``, the
    shelter and unit points in the metric CRS).

    Returns
    -------
    DataFrame
        Per street, then ``全域``: residents, fixed capacity (persons), required persons, share, shortfall.
    """
    share_min = float(ctx.norms.shelter.fixed_min_share)
    ctx.record("shelter.fixed_min_share", "固定避难场所容纳人口比例下限", share_min, "")
    fixed = sh.in_use & np.isin(sh.cls, list(ctx.params.fixed_share_classes)) & sh.assessable
    ustreet = un.out["street_code"].to_numpy(dtype=object)
    street_of_sh = _nearest_unit_street(sh_m, up_m, ustreet)
    sh.out["street_code"] = street_of_sh
    residents, capacity = un.residents, sh.capacity
    rows = []
    for code in sorted({x for x in ustreet if x is not None and not (isinstance(x, float) and np.isnan(x))}):
        res = float(residents[ustreet == code].sum())
        cap = float(np.nansum(capacity[fixed & (street_of_sh == code)]))
        rows.append((code, res, cap))
    rows.append(("全域", float(residents.sum()), float(np.nansum(capacity[fixed]))))
    share = pd.DataFrame(rows, columns=["area_code", "residents", "fixed_capacity_persons"])
    share["required_persons"] = np.ceil(share["residents"] * share_min)
    share["share"] = np.where(
        share["residents"] > 0, share["fixed_capacity_persons"] / share["residents"].clip(lower=1), np.nan
    ).round(4)
    share["meets_norm"] = share["fixed_capacity_persons"] >= share["required_persons"]
    share["shortfall_persons"] = np.maximum(share["required_persons"] - share["fixed_capacity_persons"], 0)
    totals["fixed_share"] = float(share["share"].iloc[-1]) if len(share) else None
    totals["streets_below_fixed_share"] = int((~share["meets_norm"].iloc[:-1]).sum())
    return share


def _central(sh: _Shelters, un: _Units, up_m, sh_m, totals: dict, ctx: AuditContext) -> pd.DataFrame:
    """Central shelters: each unit to its nearest one (straight line, metric CRS), against the limits on
    residents served and built-up area served (km², the sum of the unit areas)."""
    s, n_u, residents = ctx.norms.shelter, un.n, un.residents
    ctx.record("shelter.central_max_residents", "中心避难场所服务人口上限", s.central_max_residents, "人")
    ctx.record("shelter.central_max_area_km2", "中心避难场所服务建成区面积上限", s.central_max_area_km2, "km²")
    central_idx = np.flatnonzero(sh.in_use & (sh.cls == "central"))
    unit_geom = np.asarray(un.frame.geometry.values, dtype=object)
    unit_area_km2 = shapely.area(ctx.metric(unit_geom)) / 1e6 if n_u else np.zeros(0)
    built_km2 = float(unit_area_km2.sum())
    need = int(
        max(
            np.ceil(residents.sum() / s.central_max_residents),
            np.ceil(built_km2 / s.central_max_area_km2),
            1 if n_u else 0,
        )
    )
    if len(central_idx) and n_u:
        near = shapely.STRtree(sh_m[central_idx]).nearest(up_m)
        served = np.bincount(near, weights=residents, minlength=len(central_idx))
        served_km2 = np.bincount(near, weights=unit_area_km2, minlength=len(central_idx))
    else:
        served = served_km2 = np.zeros(len(central_idx))
    central = pd.DataFrame(
        {
            "shelter_id": _ids(sh.frame)[central_idx],
            "name": _col(sh.frame, "name")[central_idx],
            "served_residents": served.round().astype(np.int64),
            "served_built_up_km2": np.round(served_km2, 3),
            "within_population_limit": served <= s.central_max_residents,
            "within_area_limit": served_km2 <= s.central_max_area_km2,
        }
    )
    totals["central_shelters"] = len(central_idx)
    totals["central_shelters_needed"] = need
    totals["built_up_km2"] = round(built_km2, 3)
    if n_u:
        ctx.notes.append("建成区面积按人口单元面积合计估算；中心避难场所服务范围按直线最近划分")
    return central


def _nearest_unit_street(points_m, unit_pts_m, unit_street) -> np.ndarray:
    """Street code of the nearest unit of each point (metric geometries, m)."""
    out = np.full(len(points_m), None, dtype=object)
    if len(points_m) == 0 or len(unit_pts_m) == 0:
        return out
    out[:] = unit_street[shapely.STRtree(unit_pts_m).nearest(points_m)]
    return out


def _unit_pairs(net, src_snap, src_index, u_snap, owner, limit):
    """(unit, source, walk m) pairs within ``limit`` m: one per unit and source, the shortest (entrances may
    give several); ``src_index`` maps the rows of ``src_snap`` to source positions."""
    if len(src_index) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    si, pi, d = net.distances_within(src_snap, u_snap, limit_m=float(limit))
    ui, ss = owner[pi], src_index[si]
    o = np.lexsort((d, ss, ui))
    ui, ss, d = ui[o], ss[o], d[o]
    first = np.r_[True, (ui[1:] != ui[:-1]) | (ss[1:] != ss[:-1])] if len(ui) else np.zeros(0, bool)
    return ui[first], ss[first], d[first]


def _shelter_sites(parcels, shelter_pts, norms, metric) -> gpd.GeoDataFrame:
    """Parks and squares of the plan (``land_use.shelter_sites``) that hold no shelter yet, with the persons
    they could take: floor(area x ``shelter.site_effective_share`` / per-capita emergency norm)."""
    pc = parcels if parcels is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    if len(pc) == 0 or "land_use_code" not in pc.columns:
        return gpd.GeoDataFrame({"parcel_id": [], "area_m2": [], "capacity_persons": []}, geometry=[], crs=4326)
    code = pc["land_use_code"].astype(str).str.strip().to_numpy()
    is_site = np.isin(code, list(norms.land_use.shelter_sites))
    geom = np.asarray(pc.geometry.values, dtype=object)
    has_shelter = np.zeros(len(pc), dtype=bool)
    if len(shelter_pts):
        hit = _containing(shelter_pts, geom)
        has_shelter[hit[hit >= 0]] = True
    keep = is_site & ~has_shelter
    area = _num(pc, "area_m2")[keep]
    area = np.where(np.isfinite(area), area, shapely.area(metric(geom[keep])))
    s = norms.shelter
    status = (
        pc["status"].fillna("planned").to_numpy(dtype=object)[keep]
        if "status" in pc.columns
        else np.full(int(keep.sum()), "planned", object)
    )
    return gpd.GeoDataFrame(
        {
            "parcel_id": _ids(pc)[keep],
            "land_use_code": code[keep],
            "status": status,
            "planned_use": _col(pc, "planned_use")[keep],
            "area_m2": np.round(area, 1),
            "capacity_persons": np.floor(area * s.site_effective_share / s.per_capita_emergency_m2 + 1e-9),
        },
        geometry=geom[keep],
        crs=4326,
    )
