"""Evaluating a community plan: figures per community and in total, with a flag for every broken rule.

A plan is an assignment of units to communities (``labels``: community index
per unit, -1 = unassigned) plus a table of the communities (``code``,
``name``, ``street_code`` and, when known, ``community_workers``).  Figures
per community:

* residents, households, deviation from the household band;
* contiguity through the unit graph (:mod:`boundaries.adjacency`), and whether
  a split is caused by a hard barrier (river, railway) without a crossing;
* nesting: all units in the community's street;
* Polsby-Popper ``4*pi*A/P**2`` and convex-hull ``A/A_hull`` compactness of the
  community polygon dissolved from unit tiles, in the metric CRS;
* barriers crossed: arterial roads straddled (soft), rivers/railways crossed
  on a bridge/underpass (allowed, reported);
* community service station: contained, and share of residents within the
  5-minute walking distance (``station_walk_m`` per unit, metres);
* households per community worker against the norm (18 workers per 10,000
  residents by default);
* residents moved relative to another plan (units whose community code differs).

Flags carry an English ``code``, a ``severity`` (``error`` breaks a rule of
Art. 3 / the band, ``warning`` is advice) and a Chinese ``label_zh``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from .adjacency import KIND_ARTERIAL, KIND_CROSSING, PRECISION_M, UnitSet
from .delineate import Band

__all__ = ["FLAG_LABELS", "EvalContext", "Evaluation", "community_figures", "dissolve", "evaluate_plan", "totals_of"]

FLAG_LABELS = {
    "below_band": ("error", "户数低于下限"),
    "above_band": ("error", "户数超过上限"),
    "not_contiguous": ("error", "社区范围不连续（由互不相邻的几片组成）"),
    "barrier_split": ("error", "跨越河流、铁路等障碍且无桥梁或通道相连"),
    "not_nested": ("error", "社区跨越街道边界（未嵌套在一个街道内）"),
    "workers_short": ("error", "社区工作者配备不足（低于每万人标准）"),
    "no_station_within_5min": ("warning", "5分钟步行范围内无社区综合服务站"),
    "crosses_arterial": ("warning", "社区跨越城市主干路（边界宜沿主干路划定）"),
    "low_compactness": ("warning", "社区形状不紧凑（Polsby-Popper 指数低于 0.2）"),
    "empty": ("error", "社区不含任何人口单元"),
}
LOW_PP = 0.2


@dataclass
class EvalContext:
    """Inputs of an evaluation besides the plan.

    Attributes
    ----------
    band : Band
    workers_per_10000 : float
        Norm: community workers per 10,000 residents.
    walk_m : float
        The 5-minute walking distance (m).
    station_walk_m : float array, optional
        Walking distance (m) from every unit to the nearest community service station.
    station_method : str
        ``network`` or ``straight_line`` (how ``station_walk_m`` was computed) or ``none``.
    stations_m : array of Point, optional
        Community service stations (metric CRS) for the "contains a station" figure.
    """

    band: Band = field(default_factory=Band)
    workers_per_10000: float = 18.0
    walk_m: float = 300.0
    station_walk_m: np.ndarray | None = None
    station_method: str = "none"
    stations_m: np.ndarray | None = None
    other_labels: np.ndarray | None = None
    other_codes: np.ndarray | None = None


@dataclass
class Evaluation:
    """Per-community figures (``communities``, with metric ``geometry``) and ``totals``."""

    communities: pd.DataFrame
    totals: dict


def dissolve(us: UnitSet, labels: np.ndarray, which: np.ndarray, n_comm: int, *, wgs84: bool = False) -> np.ndarray:
    """Community polygons for the community indices ``which``: union of their units' tiles
    (metric CRS, or EPSG:4326 with ``wgs84=True`` from the tiles transformed once)."""
    tiles = us.tiles_wgs84 if wgs84 and us.tiles_wgs84 is not None else us.tiles_m
    which = np.asarray(which, dtype=np.int64)
    out = np.full(which.size, None, dtype=object)
    if which.size == 0:
        return out
    pos = np.full(max(n_comm, 1), -1, np.int64)
    pos[which] = np.arange(which.size)
    sel = np.flatnonzero((labels >= 0) & (pos[np.maximum(labels, 0)] >= 0))
    grp = pos[labels[sel]]
    order = np.argsort(grp, kind="stable")
    sel, grp = sel[order], grp[order]
    counts = np.bincount(grp, minlength=which.size)
    if counts.max(initial=0) == 0:
        return out
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mat = np.full((which.size, int(counts.max())), None, dtype=object)
    mat[grp, np.arange(grp.size) - starts[grp]] = tiles[sel]
    # tiles are an exact coverage (boundaries.adjacency.clean_coverage): coverage union is exact and fast
    out[:] = shapely.coverage_union_all(mat, axis=1)
    bad = np.flatnonzero(~shapely.is_valid(out))
    if bad.size:
        out[bad] = shapely.union_all(mat[bad], axis=1, grid_size=PRECISION_M)
    return out


def community_figures(us: UnitSet, labels: np.ndarray, comm: pd.DataFrame, which, ctx: EvalContext) -> pd.DataFrame:
    """Figures and flags of the communities ``which`` (indices into ``comm``).

    Parameters
    ----------
    us : UnitSet
    labels : int array
        Community index per unit (-1 = unassigned).
    comm : DataFrame
        One row per community: ``code``, ``name``, ``street_code`` (and
        optionally ``community_workers``, ``has_fixed_office``).
    which : int array
        Community indices to compute (all for a full evaluation, the touched ones for an edit).
    ctx : EvalContext

    Returns
    -------
    DataFrame
        One row per community of ``which`` (``index`` = community index), ``geometry`` metric.
    """
    which = np.asarray(which, dtype=np.int64)
    n_comm = len(comm)
    band = ctx.band
    lab = np.asarray(labels, dtype=np.int64)
    in_which = np.zeros(max(n_comm, 1), bool)
    in_which[which] = True
    members_mask = (lab >= 0) & in_which[np.maximum(lab, 0)]
    sel = np.flatnonzero(members_mask)
    hh = np.bincount(lab[sel], weights=us.households[sel], minlength=n_comm)[which].astype(np.int64)
    res = np.bincount(lab[sel], weights=us.residents[sel], minlength=n_comm)[which].astype(np.int64)
    n_units = np.bincount(lab[sel], minlength=n_comm)[which].astype(np.int64)
    # contiguity: components of the graph restricted to same-community edges
    g = us.graph
    e_in = (lab[g.i] == lab[g.j]) & members_mask[g.i]
    n_parts = _parts_per_community(us.n, g.i[e_in], g.j[e_in], lab, sel, n_comm)[which]
    gs = g.with_severed() if g.severed_i.size else None
    if gs is not None:
        e2 = (lab[gs.i] == lab[gs.j]) & members_mask[gs.i]
        n_parts_nobar = _parts_per_community(us.n, gs.i[e2], gs.j[e2], lab, sel, n_comm)[which]
    else:
        n_parts_nobar = n_parts
    arterial_in = np.bincount(lab[g.i[e_in & (g.kind == KIND_ARTERIAL)]], minlength=n_comm)[which]
    crossing_in = np.bincount(lab[g.i[e_in & (g.kind == KIND_CROSSING)]], minlength=n_comm)[which]
    # nesting
    st_codes = us.streets["code"].to_numpy(dtype=object)
    unit_street = np.where(us.street >= 0, st_codes[np.maximum(us.street, 0)], "")
    comm_street = comm["street_code"].astype(object).where(comm["street_code"].notna(), "").astype(str).to_numpy()
    wrong = np.zeros(n_comm, np.int64)
    bad_units = sel[unit_street[sel] != comm_street[lab[sel]]]
    np.add.at(wrong, lab[bad_units], 1)
    nested = wrong[which] == 0
    # geometry and compactness
    geoms = dissolve(us, lab, which, n_comm)
    area = np.where(shapely.is_missing(geoms), 0.0, shapely.area(geoms))
    perim = np.where(shapely.is_missing(geoms), 0.0, shapely.length(geoms))
    hull = np.where(shapely.is_missing(geoms), 0.0, shapely.area(shapely.convex_hull(geoms)))
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(perim > 0, 4 * math.pi * area / perim**2, np.nan)
        ch = np.where(hull > 0, area / hull, np.nan)
    # service stations
    has_station = np.full(which.size, None, dtype=object)
    if ctx.stations_m is not None and len(ctx.stations_m):
        tree = shapely.STRtree(np.asarray(ctx.stations_m, dtype=object))
        ok = ~shapely.is_missing(geoms)
        qi, _ = tree.query(geoms[ok], predicate="intersects")
        hs = np.zeros(which.size, bool)
        hs[np.flatnonzero(ok)[qi]] = True
        has_station = hs
    elif ctx.stations_m is not None:
        has_station = np.zeros(which.size, bool)
    reach_share = np.full(which.size, np.nan)
    min_walk = np.full(which.size, np.nan)
    if ctx.station_walk_m is not None:
        d = np.asarray(ctx.station_walk_m, dtype=float)
        within = np.isfinite(d) & (d <= ctx.walk_m)
        pos = np.full(n_comm, -1, np.int64)
        pos[which] = np.arange(which.size)
        r_in = np.bincount(pos[lab[sel]], weights=us.residents[sel] * within[sel], minlength=which.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach_share = np.where(res > 0, r_in / np.maximum(res, 1), np.nan)
        mw = np.full(which.size, np.inf)
        np.minimum.at(mw, pos[lab[sel]], np.where(np.isfinite(d[sel]), d[sel], np.inf))
        min_walk = np.where(np.isfinite(mw), mw, np.nan)
    # workers
    workers = _workers(us, lab, comm, ctx)[which]
    needed = np.ceil(res * ctx.workers_per_10000 / 10_000).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        hh_per_worker = np.where(workers > 0, hh / workers, np.nan)
        norm_hh_per_worker = np.where(res > 0, (10_000 / ctx.workers_per_10000) * hh / np.maximum(res, 1), np.nan)
    # residents moved relative to another plan
    moved_in = np.full(which.size, np.nan)
    if ctx.other_labels is not None and ctx.other_codes is not None:
        codes_now = comm["code"].astype(str).to_numpy()
        ol = np.asarray(ctx.other_labels, dtype=np.int64)
        other_code = np.where(ol >= 0, np.asarray(ctx.other_codes, dtype=object)[np.maximum(ol, 0)], None)
        moved = other_code[sel] != codes_now[lab[sel]]
        pos = np.full(n_comm, -1, np.int64)
        pos[which] = np.arange(which.size)
        moved_in = np.bincount(pos[lab[sel]], weights=us.residents[sel] * moved, minlength=which.size)
    dev = np.where(
        hh < band.min_households,
        hh - band.min_households,
        np.where(hh > band.max_households, hh - band.max_households, 0),
    )
    out = pd.DataFrame(
        {
            "code": comm["code"].astype(str).to_numpy()[which],
            "name": comm["name"].astype(str).to_numpy()[which],
            "street_code": comm_street[which],
            "units": n_units,
            "households": hh,
            "residents": res,
            "band_min": band.min_households,
            "band_max": band.max_households,
            "deviation_households": dev.astype(np.int64),
            "in_band": band.contains(hh),
            "contiguous": n_parts <= 1,
            "parts": n_parts.astype(np.int64),
            "barrier_split": (n_parts > 1) & (n_parts_nobar < n_parts),
            "nested": nested,
            "area_km2": area / 1e6,
            "perimeter_km": perim / 1e3,
            "polsby_popper": pp,
            "convex_hull_ratio": ch,
            "arterial_edges_crossed": arterial_in.astype(np.int64),
            "barrier_crossings_used": crossing_in.astype(np.int64),
            "has_station": has_station,
            "station_min_walk_m": min_walk,
            "station_reach_share": reach_share,
            "community_workers": workers,
            "workers_needed": needed,
            "households_per_worker": hh_per_worker,
            "norm_households_per_worker": norm_hh_per_worker,
            "residents_moved_in": moved_in,
        },
        index=which,
    )
    out["geometry"] = geoms
    out["geometry_wgs84"] = (
        dissolve(us, lab, which, n_comm, wgs84=True) if us.tiles_wgs84 is not None else us.to_wgs84(geoms)
    )
    out["flags"] = [_flags(r, ctx) for r in out.itertuples()]
    return out


def _parts_per_community(
    n: int, i: np.ndarray, j: np.ndarray, lab: np.ndarray, sel: np.ndarray, n_comm: int
) -> np.ndarray:
    m = sparse.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, comp = csgraph.connected_components(m, directed=False)
    out = np.zeros(n_comm, np.int64)
    if sel.size:
        pairs = np.unique(np.stack([lab[sel], comp[sel]], 1), axis=0)
        np.add.at(out, pairs[:, 0], 1)
    return out


def _workers(us: UnitSet, lab: np.ndarray, comm: pd.DataFrame, ctx: EvalContext) -> np.ndarray:
    """Workers per community: the plan's own figure, else the street's available workers shared by residents."""
    n_comm = len(comm)
    given = (
        pd.to_numeric(comm["community_workers"], errors="coerce").to_numpy(float)
        if "community_workers" in comm
        else np.full(n_comm, np.nan)
    )
    if not np.isnan(given).any():
        return given
    res = np.bincount(lab[lab >= 0], weights=us.residents[lab >= 0], minlength=n_comm)
    out = given.copy()
    avail = dict(zip(us.streets["code"], us.streets["workers_available"]))
    codes = comm["street_code"].astype(str).to_numpy()
    for s in np.unique(codes):  # one pass per street: largest-remainder share of the street's workers
        w = avail.get(s, np.nan)
        idx = np.flatnonzero((codes == s) & np.isnan(given))
        if idx.size == 0 or not np.isfinite(w):
            continue
        share = w * res[idx] / max(res[idx].sum(), 1)
        base = np.floor(share)
        rest = round(w - base.sum())
        if rest > 0:
            base[np.argsort(-(share - base))[:rest]] += 1
        out[idx] = base
    return out


def _flag(code: str, **detail) -> dict:
    sev, label = FLAG_LABELS[code]
    return {"code": code, "severity": sev, "label_zh": label, **detail}


def _flags(r, ctx: EvalContext) -> list:
    f = []
    if r.units == 0:
        return [_flag("empty")]
    if r.households < r.band_min:
        f.append(_flag("below_band", detail_zh=f"{r.households} 户，低于下限 {r.band_min} 户"))
    if r.households > r.band_max:
        f.append(_flag("above_band", detail_zh=f"{r.households} 户，超过上限 {r.band_max} 户"))
    if r.barrier_split:
        f.append(_flag("barrier_split", detail_zh=f"分为 {r.parts} 片"))
    elif not r.contiguous:
        f.append(_flag("not_contiguous", detail_zh=f"分为 {r.parts} 片"))
    if not r.nested:
        f.append(_flag("not_nested"))
    if np.isfinite(r.community_workers) and r.community_workers < r.workers_needed:
        f.append(
            _flag(
                "workers_short",
                detail_zh=f"现有 {int(r.community_workers)} 人，"
                f"按每万人 {ctx.workers_per_10000:g} 名应配 {int(r.workers_needed)} 人",
            )
        )
    if ctx.station_walk_m is not None or r.has_station is not None:
        reaches = bool(r.has_station) if r.has_station is not None else False
        if not reaches and np.isfinite(r.station_min_walk_m):
            reaches = r.station_min_walk_m <= ctx.walk_m
        if not reaches:
            f.append(_flag("no_station_within_5min", detail_zh=f"步行 {ctx.walk_m:g} 米内无社区综合服务站"))
    if r.arterial_edges_crossed > 0:
        f.append(_flag("crosses_arterial"))
    if np.isfinite(r.polsby_popper) and r.polsby_popper < LOW_PP:
        f.append(_flag("low_compactness", detail_zh=f"Polsby-Popper {r.polsby_popper:.2f}"))
    return f


def totals_of(rows: pd.DataFrame, us: UnitSet, labels: np.ndarray, ctx: EvalContext) -> dict:
    """Plan totals from the per-community rows."""
    hh = rows["households"].to_numpy(float)
    mean = float(hh.mean()) if hh.size else float("nan")
    flag_counts: dict = {}
    for fl in rows["flags"]:
        for x in fl:
            flag_counts[x["code"]] = flag_counts.get(x["code"], 0) + 1
    unassigned = int((np.asarray(labels) < 0).sum())
    out = {
        "communities": len(rows),
        "units": int(us.n),
        "unassigned_units": unassigned,
        "households": int(rows["households"].sum()),
        "residents": int(rows["residents"].sum()),
        "in_band": int(rows["in_band"].sum()),
        "in_band_share": float(rows["in_band"].mean()) if len(rows) else float("nan"),
        "contiguous": int(rows["contiguous"].sum()),
        "nested": int(rows["nested"].sum()),
        "households_min": int(hh.min()) if hh.size else 0,
        "households_max": int(hh.max()) if hh.size else 0,
        "households_mean": mean,
        "households_cv": float(hh.std() / mean) if hh.size and mean > 0 else float("nan"),
        "polsby_popper_mean": float(np.nanmean(rows["polsby_popper"])) if len(rows) else float("nan"),
        "convex_hull_ratio_mean": float(np.nanmean(rows["convex_hull_ratio"])) if len(rows) else float("nan"),
        "community_workers": float(np.nansum(rows["community_workers"])) if len(rows) else 0.0,
        "workers_needed": int(rows["workers_needed"].sum()),
        "flag_counts": flag_counts,
        "communities_flagged": int(sum(1 for fl in rows["flags"] if any(x["severity"] == "error" for x in fl))),
        "band": [ctx.band.min_households, ctx.band.max_households],
        "workers_per_10000": ctx.workers_per_10000,
        "walk_m": ctx.walk_m,
        "station_distance_method": ctx.station_method,
    }
    if ctx.station_walk_m is not None:
        d = np.asarray(ctx.station_walk_m, dtype=float)
        ok = np.asarray(labels) >= 0
        within = np.isfinite(d) & (d <= ctx.walk_m) & ok
        out["station_reach_share"] = float(us.residents[within].sum() / max(us.residents[ok].sum(), 1))
    if ctx.other_labels is not None and "residents_moved_in" in rows:
        out["residents_moved"] = int(np.nansum(rows["residents_moved_in"]))
    return out


def evaluate_plan(us: UnitSet, labels: np.ndarray, comm: pd.DataFrame, ctx: EvalContext | None = None) -> Evaluation:
    """Evaluate a whole plan: every community's figures and flags, and the totals."""
    ctx = ctx or EvalContext()
    comm = comm.reset_index(drop=True)
    rows = community_figures(us, labels, comm, np.arange(len(comm)), ctx)
    return Evaluation(rows, totals_of(rows, us, labels, ctx))
