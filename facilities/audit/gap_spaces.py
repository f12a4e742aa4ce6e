"""The audit's gap plan (Art. 18 ¶2-3): each community's remaining space needs against the idle assets and the
spaces a county could buy, lease, swap or extend, matched by :mod:`.gap_plan`.

* **needs** per community: the service floor-area gap (m²) left after planned facilities and the reserved parcels
  the plan assigns; a missing office; each required category it lacks that a space can host
  (``gap_plan.hostable_categories``, m² = the category's minimum floor area);
* **candidates**: ``idle_assets`` (free transfer, lease, sale) and ``space_candidates`` (purchase, lease, swap,
  extension); cost over ``gap_plan.rent_horizon_years`` = one-off price or cost + rent (yuan/m²/year) x area x
  years. A space serves one community unless its area holds several community service stations
  (``facility_minimums.community_service_station``): split by floor, one community per such part. Elderly care
  and childcare (``gap_plan.ground_or_lift_categories``) need a floor up to ``gap_plan.max_floor_without_lift`` or
  a lift. Spaces whose availability has ended, or whose cost is unknown, are left out with the reason;
* **pairs**: a space inside the community, or with ``gap_plan.outside_residents_share`` of the community's
  residents within ``gap_plan.outside_walk_limit_m`` on foot (network engine, units from their entrances);
  the walk of a pair is the residents' mean walk (m) to the space, counted up to :data:`WALK_CAP_M`.

Frames are EPSG:4326 in and out; walks in m on the :class:`WalkNetwork`, straight lines in the audit's metric CRS
when there is no network (then only spaces inside a community count, and a note says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core.vocab import ASSET_CONDITIONS, FACILITY_CATEGORIES, SPACE_CANDIDATE_KINDS

from ..coverage import snap_units
from ._common import GAP, AuditContext, _col, _containing, _empty, _ids, _num, _points
from .gap_plan import GapPlanParams, GapProblem, GapSolution, solve_exact, solve_greedy
from .parcels import GapPlan
from .space import CommunitySpace

WALK_CAP_M = 1000.0  # walks are measured up to this (m); units farther count at it
SERVICE = "service_space"
KIND_ZH = {
    "asset_free_transfer": "闲置资产无偿移交",
    "asset_lease": "闲置资产租赁",
    "asset_sale": "闲置资产购买",
    **SPACE_CANDIDATE_KINDS,
}
STATUS_ZH = {"closed": "已补足", "partly": "部分补足", "open": "仍有缺口", "none": "无缺口"}


@dataclass(frozen=True)
class GapInputs:
    """What the gap plan reads besides the audit's own findings (frames EPSG:4326; None = empty)."""

    idle_assets: gpd.GeoDataFrame | None
    space_candidates: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame
    entrances: gpd.GeoDataFrame | None = None
    net: object = None
    params: GapPlanParams = GapPlanParams()
    today: pd.Timestamp | None = None


@dataclass
class GapPlanResult:
    """The gap plan of an audit.

    Attributes
    ----------
    table : GeoDataFrame, EPSG:4326
        One row per need and space closing it (a line community -> space), and per need left open (a point in the
        community, with the reason).
    communities : DataFrame
        Per community with a need: ``community_code``, ``gap_plan_status`` (closed/partly/open), its Chinese label,
        ``gap_plan_zh`` (how the gaps close), ``gap_plan_need_m2``, ``gap_plan_closed_m2``, ``gap_plan_open_zh``.
    excluded : DataFrame
        Candidates left out: ``layer``, ``feature_id``, ``name``, ``reason_zh``.
    totals : dict
    """

    table: gpd.GeoDataFrame
    communities: pd.DataFrame
    excluded: pd.DataFrame
    totals: dict


@dataclass(frozen=True)
class _Needs:
    community: np.ndarray
    use: np.ndarray
    m2: np.ndarray
    divisible: np.ndarray
    ground: np.ndarray


@dataclass(frozen=True)
class _Cands:
    frame: pd.DataFrame  # one row per usable candidate, descriptive columns
    pts: np.ndarray  # EPSG:4326 points
    m2: np.ndarray
    cost: np.ndarray
    ground_ok: np.ndarray
    parts: np.ndarray


def gap_needs(ctx: AuditContext, space: CommunitySpace, plan: GapPlan) -> _Needs:
    """Per community, what a space could still close: service floor area (m²) after planned facilities and
    assigned parcels, a missing office, missing hostable categories (their minimum floor area, m²)."""
    gp = ctx.norms.entry("gap_plan.hostable_categories").value
    ground = set(ctx.norms.entry("gap_plan.ground_or_lift_categories").value)
    ctx.record("gap_plan.hostable_categories", "可由闲置或购租空间承接的设施", "、".join(
        FACILITY_CATEGORIES.get(c, c) for c in gp), "")  # fmt: skip
    ctx.record("gap_plan.ground_or_lift_categories", "须设在首层或有电梯的设施", "、".join(
        FACILITY_CATEGORIES.get(c, c) for c in ground), "")  # fmt: skip
    by_parcels = pd.Series(plan.pc_used).groupby(pd.Series(plan.pc_assigned, dtype=object)).sum()
    closed = pd.Series(ctx.cm_code).map(by_parcels).fillna(0.0).to_numpy(dtype=float)
    rest = np.where(space.floor.status == GAP, np.maximum(np.nan_to_num(plan.after_planned) - closed, 0.0), 0.0)
    rows: list[tuple[int, str, float, bool, bool]] = []
    for i in range(ctx.n_cm):
        if rest[i] > 1e-6:
            rows.append((i, SERVICE, float(rest[i]), True, False))
        if "community_office" in gp and not space.has_office[i]:
            rows.append((i, "community_office", 0.0, False, "community_office" in ground))
        for c in space.missing[i]:
            m2 = ctx.norms.facility_min_floor_m2(c)
            if c in gp and c != "community_office" and m2:
                rows.append((i, c, float(m2), False, c in ground))
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    return _Needs(
        np.asarray(cols[0], np.int64),
        np.asarray(cols[1], object),
        np.asarray(cols[2], float),
        np.asarray(cols[3], bool),
        np.asarray(cols[4], bool),
    )


def _candidate_rows(frame: gpd.GeoDataFrame | None, layer: str) -> pd.DataFrame:
    """Descriptive columns of one candidate layer (kind ``asset_<terms>`` for idle assets)."""
    f = frame if frame is not None else _empty()
    n = len(f)
    if layer == "idle_assets":
        kind = np.array([f"asset_{t}" if t else None for t in _col(f, "terms")], dtype=object)
        one_off = np.where(_col(f, "terms") == "sale", _num(f, "price_yuan"), np.nan)
        one_off = np.where(_col(f, "terms") == "free_transfer", 0.0, one_off)
    else:
        kind = _col(f, "kind")
        one_off = _num(f, "cost_yuan")
    return pd.DataFrame(
        {
            "candidate_layer": np.full(n, layer, dtype=object),
            "candidate_id": np.asarray(_ids(f), dtype=object),
            "candidate_name": _col(f, "name"),
            "kind": kind,
            "owner": _col(f, "owner"),
            "floor_area_m2": _num(f, "floor_area_m2"),
            "floor_level": _num(f, "floor_level"),
            "has_lift": _col(f, "has_lift"),
            "one_off_yuan": one_off,
            "rent_yuan_per_m2_year": _num(f, "rent_yuan_per_m2_year"),
            "available_from": _col(f, "available_from"),
            "available_to": _col(f, "available_to"),
            "condition": _col(f, "condition"),
            "facility_source_id": _col(f, "facility_source_id"),
            "address": _col(f, "address"),
        }
    ).assign(_geom=np.asarray(f.geometry.values, dtype=object) if n else np.zeros(0, object))


def _exclusions(df: pd.DataFrame, today: pd.Timestamp) -> np.ndarray:
    """Chinese reason per candidate it cannot be used for (None where it can)."""
    reason = np.full(len(df), None, dtype=object)
    kind = df["kind"].to_numpy(dtype=object)
    leased = np.isin(kind, ["asset_lease", "lease"])
    one_off_needed = np.isin(kind, ["asset_sale", "purchase", "swap", "extension"])
    rent, one_off = df["rent_yuan_per_m2_year"].to_numpy(float), df["one_off_yuan"].to_numpy(float)
    reason[one_off_needed & ~np.isfinite(one_off)] = "缺少费用（售价或一次性费用），无法比较"
    reason[leased & ~np.isfinite(rent)] = "租赁方式缺少租金，无法比较"
    ends = pd.to_datetime(pd.Series(df["available_to"].to_numpy(object)), errors="coerce", utc=True)
    expired = (ends < today).fillna(False).to_numpy(bool)
    reason[expired] = "可用期已结束"
    area = df["floor_area_m2"].to_numpy(float)
    reason[~(area > 0)] = "缺少建筑面积"
    return reason


def gap_candidates(inputs: GapInputs, ctx: AuditContext) -> tuple[_Cands, pd.DataFrame]:
    """Usable candidates (cost over the rent horizon, yuan; ground-floor-or-lift; parts) and the left-out ones."""
    norms = ctx.norms
    horizon = float(norms.entry("gap_plan.rent_horizon_years").value)
    max_floor = float(norms.entry("gap_plan.max_floor_without_lift").value)
    ctx.record("gap_plan.rent_horizon_years", "租金计入年限", horizon, "年")
    ctx.record("gap_plan.max_floor_without_lift", "无电梯时老年、托育设施所在最高楼层", max_floor, "层")
    frames = [_candidate_rows(inputs.idle_assets, "idle_assets")]
    frames.append(_candidate_rows(inputs.space_candidates, "space_candidates"))
    with warnings.catch_warnings():  # all-empty columns of one layer (no sale prices) keep the other's dtype
        warnings.simplefilter("ignore", FutureWarning)
        df = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    today = inputs.today if inputs.today is not None else pd.Timestamp.now(tz="UTC")
    reason = _exclusions(df, today)
    bad = reason != None  # noqa: E711 (elementwise)
    excluded = pd.DataFrame(
        {
            "layer": df["candidate_layer"].to_numpy()[bad],
            "feature_id": df["candidate_id"].astype(str).to_numpy()[bad],
            "name": df["candidate_name"].to_numpy()[bad],
            "check_zh": "缺口补足候选空间",
            "reason_zh": reason[bad],
        }
    )
    df = df[~bad].reset_index(drop=True)
    area = df["floor_area_m2"].to_numpy(float)
    rent = np.nan_to_num(df["rent_yuan_per_m2_year"].to_numpy(float))
    cost = np.nan_to_num(df["one_off_yuan"].to_numpy(float)) + rent * area * horizon
    lift = np.array([v is True or (isinstance(v, (bool, np.bool_)) and bool(v)) for v in df["has_lift"]], bool)
    level = df["floor_level"].to_numpy(float)
    ground_ok = lift | (np.isfinite(level) & (level >= 0) & (level <= max_floor))
    split = float(norms.facility_min_floor_m2("community_service_station") or 0.0)
    parts = np.maximum(1, np.floor(area / split).astype(np.int64)) if split > 0 else np.ones(len(df), np.int64)
    df["rent_yuan_per_year"] = np.where(rent > 0, rent * area, np.nan)
    df["cost_horizon_yuan"] = cost
    geoms = df.pop("_geom").to_numpy(dtype=object)
    pts = _points(gpd.GeoDataFrame(geometry=geoms, crs=4326)) if len(df) else np.zeros(0, object)
    return _Cands(df, pts, area, cost, ground_ok, parts), excluded


def gap_pairs(inputs: GapInputs, ctx: AuditContext, cands: _Cands, needy: np.ndarray):
    """(community, candidate, walk m, inside) for the communities ``needy`` (bool per community).

    A space inside the community pairs with it; one outside pairs when ``gap_plan.outside_residents_share`` of the
    community's residents live within ``gap_plan.outside_walk_limit_m`` of it on foot.
    """
    limit = float(ctx.norms.entry("gap_plan.outside_walk_limit_m").value)
    share_min = float(ctx.norms.entry("gap_plan.outside_residents_share").value)
    ctx.record("gap_plan.outside_walk_limit_m", "社区外空间的步行距离上限", limit, "m")
    ctx.record("gap_plan.outside_residents_share", "步行距离上限内居民须达到的比例", share_min, "")
    inside = _containing(cands.pts, ctx.cm_geom)
    units = inputs.units
    u_comm = _containing(_points(units), ctx.cm_geom) if len(units) else np.zeros(0, np.int64)
    res = np.nan_to_num(_num(units, "residents"))
    keep = (u_comm >= 0) & needy[np.maximum(u_comm, 0)] & (res > 0)
    uid = np.flatnonzero(keep)
    comm_res = np.bincount(u_comm[uid], weights=res[uid], minlength=ctx.n_cm)
    if len(cands.pts) == 0 or len(uid) == 0:
        ci = np.flatnonzero((inside >= 0) & needy[np.maximum(inside, 0)]) if len(cands.pts) else np.zeros(0, int)
        return inside[ci], ci, np.zeros(len(ci)), np.ones(len(ci), bool)
    ui, cj, d, walked = _unit_walks(inputs, ctx, cands, units.iloc[uid], uid)
    n_c = len(cands.pts)
    in_needy = (inside >= 0) & needy[np.maximum(inside, 0)]
    key = u_comm[ui] * n_c + cj
    all_key = np.unique(np.r_[key, inside[in_needy] * n_c + np.flatnonzero(in_needy)])
    pos = np.searchsorted(all_key, key)
    w_near = np.bincount(pos, weights=res[ui] * (d <= limit), minlength=len(all_key))
    w_walk = np.bincount(pos, weights=res[ui] * np.minimum(d, WALK_CAP_M), minlength=len(all_key))
    w_seen = np.bincount(pos, weights=res[ui], minlength=len(all_key))
    pc, pj = all_key // n_c, all_key % n_c
    unseen = np.maximum(comm_res[pc] - w_seen, 0.0)  # residents farther than the cap count at it
    walk = (w_walk + unseen * WALK_CAP_M) / np.maximum(comm_res[pc], 1e-9)
    is_inside = inside[pj] == pc
    near = walked & (comm_res[pc] > 0) & (w_near >= share_min * comm_res[pc] - 1e-9)
    ok = is_inside | near
    return pc[ok], pj[ok], walk[ok], is_inside[ok]


def _unit_walks(inputs: GapInputs, ctx: AuditContext, cands: _Cands, units: gpd.GeoDataFrame, uid: np.ndarray):
    """(unit position, candidate, walk m) within :data:`WALK_CAP_M`: on the network from the units' entrances,
    else straight lines in the metric CRS (and a note)."""
    net = inputs.net
    if net is None:
        ctx.notes.append("未提供步行网络：缺口补足方案只考虑社区内的空间，到空间的距离按直线计")
        up, cp = ctx.metric(_points(units)), ctx.metric(cands.pts)
        a, b = shapely.STRtree(cp).query(up, predicate="dwithin", distance=WALK_CAP_M)
        return uid[a], b, shapely.distance(up[a], cp[b]), False
    ids = units["id"].to_numpy() if "id" in units.columns else np.arange(len(units))
    ent = inputs.entrances
    if ent is not None and len(ent):
        ent = ent[ent["unit_id"].isin(ids)]
    u_snap, owner = snap_units(net, units.assign(unit_id=ids), entrances=ent)
    owner = np.arange(len(units)) if owner is None else owner
    c_snap = net.snap(gpd.GeoSeries(cands.pts, crs=4326))
    si, pi, d = net.distances_within(c_snap, u_snap, limit_m=WALK_CAP_M)
    ui = owner[pi]
    o = np.lexsort((d, si, ui))
    ui, si, d = ui[o], si[o], d[o]
    first = np.r_[True, (ui[1:] != ui[:-1]) | (si[1:] != si[:-1])] if len(ui) else np.zeros(0, bool)
    return uid[ui[first]], si[first], d[first], True


@dataclass(frozen=True)
class GapSetup:
    """The gap plan's inputs as the solver sees them, with what the tables need besides."""

    needs: _Needs
    cands: _Cands
    excluded: pd.DataFrame
    problem: GapProblem
    pair_inside: dict


def gap_setup(ctx: AuditContext, space: CommunitySpace, plan: GapPlan, inputs: GapInputs) -> GapSetup:
    """Needs, usable candidates, (community, candidate) pairs with their walks: the :class:`GapProblem`."""
    inputs.params.validate()
    needs = gap_needs(ctx, space, plan)
    cands, excluded = gap_candidates(inputs, ctx)
    needy = np.zeros(ctx.n_cm, bool)
    needy[needs.community] = True
    pc, pj, walk, inside = gap_pairs(inputs, ctx, cands, needy)
    residents = _num(ctx.communities, "residents")
    if not np.isfinite(residents).any() and len(inputs.units):
        u_comm = _containing(_points(inputs.units), ctx.cm_geom)
        sel = u_comm >= 0
        res_u = np.nan_to_num(_num(inputs.units, "residents"))[sel]
        residents = np.bincount(u_comm[sel], weights=res_u, minlength=ctx.n_cm)
    problem = GapProblem.build(
        ctx.n_cm,
        needs={
            "community": needs.community,
            "m2": needs.m2,
            "divisible": needs.divisible,
            "ground": needs.ground,
            "residents": np.nan_to_num(residents)[needs.community],
        },
        candidates={"m2": cands.m2, "cost_yuan": cands.cost, "ground_ok": cands.ground_ok, "parts": cands.parts},
        pairs={"community": pc, "candidate": pj, "walk_m": walk},
    )
    return GapSetup(needs, cands, excluded, problem, dict(zip(zip(pc.tolist(), pj.tolist()), inside.tolist())))


def audit_gap_plan(ctx: AuditContext, space: CommunitySpace, plan: GapPlan, inputs: GapInputs) -> GapPlanResult:
    """Match every community's remaining needs with the candidate spaces (exact, :func:`.gap_plan.solve_exact`;
    the greedy answer beside it in the totals) and tell per need how it closes or why it stays open."""
    su = gap_setup(ctx, space, plan, inputs)
    budget = inputs.params.budget_yuan
    exact = solve_exact(su.problem, budget)
    greedy = solve_greedy(su.problem, budget)
    if not exact.optimal:
        ctx.notes.append("缺口补足方案求解达到时间上限，结果可能不是最优")
    table = _plan_table(ctx, su.needs, su.cands, su.problem, exact, su.pair_inside, budget)
    per_comm = _community_rows(ctx, su.needs, exact, table)
    totals = _totals(su.needs, su.cands, su.excluded, exact, greedy, per_comm, budget)
    return GapPlanResult(table, per_comm, su.excluded, totals)


def _need_zh(use: str) -> str:
    if use == SERVICE:
        return "综合服务设施面积缺口"
    if use == "community_office":
        return "社区办公用房"
    return FACILITY_CATEGORIES.get(use, use)


def _yuan(v: float) -> str:
    return f"{v / 10_000:,.1f} 万元" if v >= 100_000 else f"{v:,.0f} 元"


def how_zh(row) -> str:
    """How one space closes a need, in Chinese (kind, name, owner, terms)."""
    kind, name, owner = row["kind"], row["candidate_name"] or f"编号 {row['candidate_id']}", row["owner"]
    by = f"{owner}，" if isinstance(owner, str) and owner else ""
    rent_y = row.get("rent_yuan_per_year")
    rent_txt = f"每年 {_yuan(float(rent_y))}" if rent_y is not None and np.isfinite(rent_y) else ""
    one_off = float(row["one_off_yuan"]) if np.isfinite(row["one_off_yuan"]) else 0.0
    if kind == "asset_free_transfer":
        return f"闲置资产「{name}」（{owner or '产权单位'}无偿移交）"
    if kind == "asset_lease":
        return f"租用闲置资产「{name}」（{by}{row['rent_yuan_per_m2_year']:g} 元/m²·年，{rent_txt}）"
    if kind == "asset_sale":
        return f"购买闲置资产「{name}」（{by}{_yuan(one_off)}）"
    if kind == "purchase":
        return f"购置「{name}」（{by}{_yuan(one_off)}）"
    if kind == "lease":
        extra = f"，另需一次性费用 {_yuan(one_off)}" if one_off > 0 else ""
        return f"租赁「{name}」（{by}{rent_txt}{extra}）"
    if kind == "swap":
        return f"调剂置换「{name}」（{by}费用 {_yuan(one_off)}）"
    if kind == "extension":
        fid = row.get("facility_source_id")
        ref = f"设施编号 {fid}，" if isinstance(fid, str) and fid else ""
        return f"扩建「{name}」（{ref}{by}费用 {_yuan(one_off)}）"
    return f"「{name}」"


def _open_reason(k, needs: _Needs, cands: _Cands, pb: GapProblem, sol: GapSolution, budget, ctx) -> str:
    """Why need ``k`` stays (partly) open, in Chinese."""
    i = needs.community[k]
    mine = pb.pair_candidate[pb.pair_community == i]
    limit = ctx.norms.entry("gap_plan.outside_walk_limit_m").value
    if len(mine) == 0:
        return f"社区内及步行 {limit:g} 米范围内没有可用的闲置或可购租空间"
    if needs.ground[k] and not cands.ground_ok[mine].any():
        return "附近空间均不在首层且无电梯（该设施须设在首层或有电梯）"
    if budget is not None:
        spare = budget - sol.cost_yuan
        free = mine[~sol.cand_used[mine]]
        if needs.ground[k]:
            free = free[cands.ground_ok[free]]
        if len(free) and (cands.cost[free] > spare + 1e-6).all():
            return f"预算不足（剩余 {_yuan(max(spare, 0.0))}）"
    return "附近可用空间面积不足或已用于其他社区"


def _plan_table(ctx, needs: _Needs, cands: _Cands, pb: GapProblem, sol: GapSolution, pair_inside, budget):
    """One row per (need, space) used and per need left open (EPSG:4326: lines community -> space, points)."""
    cm_pt = _points(ctx.communities) if ctx.n_cm else np.zeros(0, object)
    cf = cands.frame
    # cost of a space shared by its rows in proportion to the m² they take (evenly when none takes m²)
    j = sol.alloc_candidate
    m2_j = np.bincount(j, weights=sol.alloc_m2, minlength=pb.n_candidates)
    n_j = np.bincount(j, minlength=pb.n_candidates)
    part = np.where(m2_j[j] > 0, sol.alloc_m2 / np.where(m2_j[j] > 0, m2_j[j], 1.0), 1.0 / np.maximum(n_j[j], 1))
    rows = []
    recs = cf.to_dict("records")
    for a in range(len(j)):
        k, jj = sol.alloc_need[a], j[a]
        i = needs.community[k]
        c = recs[jj]
        rows.append(
            {
                **_need_cols(ctx, needs, k, sol),
                "closed_m2": round(float(sol.alloc_m2[a]), 1) if needs.m2[k] > 0 else None,
                "open_m2": None,
                **{col: c[col] for col in ("candidate_layer", "candidate_id", "candidate_name", "kind", "owner")},
                "kind_zh": KIND_ZH.get(c["kind"], c["kind"]),
                "how_zh": how_zh(c),
                "candidate_area_m2": c["floor_area_m2"],
                "floor_level": c["floor_level"],
                "has_lift": c["has_lift"],
                "condition_zh": ASSET_CONDITIONS.get(c["condition"], c["condition"]),
                "facility_source_id": c["facility_source_id"],
                "inside": bool(pair_inside.get((int(i), int(jj)), False)),
                "walk_m": round(float(pb.pair_walk_m[sol.alloc_pair[a]]), 1),
                "cost_yuan": round(float(cands.cost[jj] * part[a]), 2),
                "rent_yuan_per_year": round(float(c["rent_yuan_per_year"] * part[a]), 2)
                if np.isfinite(c["rent_yuan_per_year"])
                else None,
                "open_reason_zh": None,
                "geometry": shapely.LineString([cm_pt[i], cands.pts[jj]]),
            }
        )
    for k in np.flatnonzero(sol.need_closed_share < 1 - 1e-4):
        i = needs.community[k]
        rows.append(
            {
                **_need_cols(ctx, needs, k, sol),
                "closed_m2": None,
                "open_m2": round(float(needs.m2[k] - sol.need_closed_m2[k]), 1) if needs.m2[k] > 0 else None,
                "kind": "open",
                "kind_zh": "仍有缺口",
                "open_reason_zh": _open_reason(k, needs, cands, pb, sol, budget, ctx),
                "geometry": cm_pt[i],
            }
        )
    return _as_table(rows)


def _need_cols(ctx: AuditContext, needs: _Needs, k: int, sol: GapSolution) -> dict:
    i = needs.community[k]
    share = sol.need_closed_share[k]
    status = "closed" if share >= 1 - 1e-4 else ("partly" if share > 1e-6 else "open")
    return {
        "community_code": ctx.cm_code[i],
        "community_name": _col(ctx.communities, "name")[i],
        "street_code": _col(ctx.communities, "street_code")[i],
        "need": needs.use[k],
        "need_zh": _need_zh(needs.use[k]),
        "need_m2": round(float(needs.m2[k]), 1) if needs.m2[k] > 0 else None,
        "need_status": status,
        "need_status_zh": STATUS_ZH[status],
        "needs_ground_or_lift": bool(needs.ground[k]),
    }


TABLE_COLUMNS = (
    "community_code", "community_name", "street_code", "need", "need_zh", "need_m2", "need_status", "need_status_zh",
    "needs_ground_or_lift", "closed_m2", "open_m2", "kind", "kind_zh", "how_zh", "candidate_layer", "candidate_id",
    "candidate_name", "owner", "candidate_area_m2", "floor_level", "has_lift", "condition_zh", "facility_source_id",
    "inside", "walk_m", "cost_yuan", "rent_yuan_per_year", "open_reason_zh",
)  # fmt: skip


def _as_table(rows: list[dict]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, "geometry"])
    geom = df.pop("geometry").to_numpy(dtype=object)
    out = gpd.GeoDataFrame(df.astype(object).where(df.notna(), None), geometry=list(geom), crs=4326)
    return out.sort_values(["community_code", "need"], kind="stable").reset_index(drop=True)


def _community_rows(ctx, needs: _Needs, sol: GapSolution, table: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per community with a need: status, how its gaps close, m² needed and closed, what stays open."""
    by_comm: dict[str, list[dict]] = {}
    for r in table.drop(columns="geometry").to_dict("records"):
        by_comm.setdefault(r["community_code"], []).append(r)
    out = []
    for i in np.unique(needs.community):
        ks = np.flatnonzero(needs.community == i)
        share = sol.need_closed_share[ks]
        status = "closed" if (share >= 1 - 1e-4).all() else ("partly" if (share > 1e-6).any() else "open")
        rows = by_comm.get(ctx.cm_code[i], [])
        used = [r for r in rows if r["kind"] != "open"]
        hows = list(dict.fromkeys(f"{r['need_zh']}：{r['how_zh']}" for r in used))
        opens = [f"{r['need_zh']}：{r['open_reason_zh']}" for r in rows if r["kind"] == "open"]
        out.append(
            {
                "community_code": ctx.cm_code[i],
                "gap_plan_status": status,
                "gap_plan_status_zh": STATUS_ZH[status],
                "gap_plan_zh": "；".join(hows) or None,
                "gap_plan_need_m2": round(float(needs.m2[ks].sum()), 1),
                "gap_plan_closed_m2": round(float(sol.need_closed_m2[ks].sum()), 1),
                "gap_plan_cost_yuan": round(float(sum(r["cost_yuan"] or 0.0 for r in used)), 2),
                "gap_plan_open_zh": "；".join(opens) or None,
            }
        )
    cols = ["community_code", "gap_plan_status", "gap_plan_status_zh", "gap_plan_zh", "gap_plan_need_m2"]
    cols += ["gap_plan_closed_m2", "gap_plan_cost_yuan", "gap_plan_open_zh"]
    return pd.DataFrame(out, columns=cols)


def _totals(needs: _Needs, cands: _Cands, excluded, exact: GapSolution, greedy: GapSolution, per_comm, budget):
    st = per_comm["gap_plan_status"] if len(per_comm) else pd.Series([], dtype=object)
    rent = pd.to_numeric(cands.frame.loc[exact.cand_used, "rent_yuan_per_year"], errors="coerce") if len(
        cands.frame) else pd.Series([], dtype=float)  # fmt: skip
    return {
        "budget_yuan": budget,
        "needs": int(len(needs.m2)),
        "need_m2": round(float(needs.m2.sum()), 1),
        "closed_m2": round(exact.closed_m2, 1),
        "residents_served": round(exact.residents_served, 1),
        "communities_with_needs": int(len(per_comm)),
        "communities_closed": int((st == "closed").sum()),
        "communities_partly": int((st == "partly").sum()),
        "communities_open": int((st == "open").sum()),
        "candidates": int(len(cands.m2)),
        "candidates_excluded": int(len(excluded)),
        "spaces_used": int(exact.cand_used.sum()),
        "cost_yuan": round(exact.cost_yuan, 2),
        "rent_yuan_per_year": round(float(rent.sum()), 2),
        "walk_m": round(exact.walk_m, 1),
        "optimal": bool(exact.optimal),
        "seconds": round(exact.seconds, 3),
        "greedy": greedy.totals(),
    }
