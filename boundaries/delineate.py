"""Proposing community plans: multilevel partitioning, contiguity repair, local refinement.

Algorithm (per street, per connected part of the street's unit graph)
--------------------------------------------------------------------
1. **Number of communities** ``k`` from the households, the band and the
   community workers available (:func:`number_of_communities`), unless given.
2. **Partition** the unit graph with METIS (``pymetis``, multilevel k-way,
   contiguous parts requested), vertex weight = households, edge weight =
   shared tile boundary in metres (a quarter along arterial roads, so cuts
   follow arterials; hard barriers have no edges at all).
3. **Contiguity repair**: stray fragments of a part join the neighbouring
   part they share the longest boundary with.
4. **Local refinement** by moves that never disconnect a part: first the
   household band (over-full parts shed boundary units, short parts take
   them), then, where single moves stall (tight bands), ejection chains and
   cycles of moves through neighbouring parts (:mod:`boundaries._refine`);
   then compactness (moves that raise the parts' Polsby-Popper values, each
   repaired by short chains so every part stays inside the band and near the
   mean size), then, when an existing plan is given in ``closest`` mode,
   moves back to the unit's old community.

``minimal_change`` mode starts from the existing plan instead and only
touches communities that break a rule (not contiguous, outside the band, not
nested in one street); a plan that complies is returned unchanged.  Breaches
are fixed by the cheapest of: moving boundary units (fewest residents first),
merging a small community into a neighbour, splitting a large one.

Every community is contiguous through the graph of
:mod:`boundaries.adjacency` and nested in its street.  Communities that
cannot meet the band are reported with the reason in Chinese: a unit above
the band, a street or cut-off area below it, a total no number of
communities divides into the band, a ``k`` outside the counts that can,
units too coarse for a narrow band (no set of units sums into it), or the
units' shapes and contiguity.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csgraph

from ._refine import band_chains, compact_chains, subset_sum_reaches
from .adjacency import UnitGraph, UnitSet

__all__ = ["MODES", "Band", "Proposal", "delineate", "number_of_communities", "partition_component"]

MODES = ("fresh", "closest", "minimal_change")


@dataclass(frozen=True)
class Band:
    """Household band of a community (households, inclusive)."""

    min_households: int = 1000
    max_households: int = 3000
    target_households: float | None = None

    def __post_init__(self):
        if not (0 < self.min_households <= self.max_households):
            from geo_service.core._errors import InputError

            raise InputError(
                f"household band must satisfy 0 < MIN <= MAX, got {self.min_households}-{self.max_households}",
                f"户数范围应满足 0 < 下限 ≤ 上限，收到 {self.min_households}-{self.max_households}",
            )

    @property
    def target(self) -> float:
        return float(self.target_households or (self.min_households + self.max_households) / 2)

    def contains(self, hh) -> np.ndarray:
        hh = np.asarray(hh)
        return (hh >= self.min_households) & (hh <= self.max_households)


@dataclass
class Proposal:
    """A proposed plan.

    Attributes
    ----------
    labels : int array
        Community index of every unit (row of ``communities``); -1 = not assigned.
    communities : DataFrame
        ``code``, ``name``, ``street_code``, ``households``, ``residents``, ``units``.
    problems : list of dict
        Communities outside the band (or streets short of workers) with the reason
        (``code``, ``kind``, ``reason``, ``reason_zh``...).
    stats : dict
        Per-street ``k``, timings (s), moves made.
    """

    labels: np.ndarray
    communities: pd.DataFrame
    problems: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- k
def number_of_communities(
    households: float,
    band: Band,
    *,
    residents: float | None = None,
    workers_available: float | None = None,
    workers_per_10000: float = 18.0,
) -> dict:
    """How many communities a set of units should form.

    ``k`` is the count whose mean size is nearest the band's target, within
    ``[ceil(H / max), floor(H / min)]`` (the counts that can meet the band), and
    not more than the workers available can staff: each community needs at least
    the norm staffing of a community at the band's lower bound
    (``ceil(workers_per_10000 * min_households * residents_per_household / 10000)``).

    Returns
    -------
    dict
        ``k``, ``k_min``, ``k_max`` (band-feasible range; ``k_min > k_max`` when
        none), ``k_workers`` (or None), ``min_staff`` and ``feasible``.
    """
    h = float(households)
    k_min = max(1, math.ceil(h / band.max_households))
    k_max = math.floor(h / band.min_households)
    k = max(1, round(h / band.target))
    if k_max >= k_min:
        k = min(max(k, k_min), k_max)
    k_workers = None
    min_staff = None
    if workers_available is not None and np.isfinite(workers_available) and residents:
        per_hh = residents / max(h, 1.0)
        min_staff = max(1, math.ceil(workers_per_10000 * band.min_households * per_hh / 10_000))
        k_workers = int(workers_available // min_staff)
        if k_workers < k:
            k = max(k_workers, k_min if k_max >= k_min else 1, 1)
    return {
        "k": int(k),
        "k_min": int(k_min),
        "k_max": int(k_max),
        "k_workers": k_workers,
        "min_staff": min_staff,
        "feasible": bool(k_max >= k_min),
    }


# ---------------------------------------------------------------------------- local graph
class _Local:
    """A component's graph as Python adjacency lists for the move loops.

    ``tiles`` (metric polygons, optional) give each unit's tile area (m²) and perimeter (m) and each
    edge's shared length (m, ``ln`` beside ``nbr``) for the Polsby-Popper objective of
    :func:`boundaries._refine.compact_chains`; without them ``area`` is None.
    """

    def __init__(self, g: UnitGraph, hh: np.ndarray, res: np.ndarray, w: np.ndarray, tiles: np.ndarray | None = None):
        self.n = g.n
        m = g.weighted(w)
        self.csr = m
        ip, ix, dw = m.indptr, m.indices, m.data
        self.nbr = [ix[ip[v] : ip[v + 1]].tolist() for v in range(g.n)]
        self.wt = [dw[ip[v] : ip[v + 1]].tolist() for v in range(g.n)]
        self.hh = hh.astype(np.int64)
        self.res = res.astype(np.int64)
        self.hh_l = self.hh.tolist()
        self.res_l = self.res.tolist()
        self.area = self.perim = self.ln = None
        if tiles is not None:
            self.area = shapely.area(tiles).tolist()
            self.perim = shapely.length(tiles).tolist()
            lm = g.weighted(g.length_m + 1e-9)  # the same pattern as the weights
            self.ln = [lm.data[ip[v] : ip[v + 1]].tolist() for v in range(g.n)]

    def connected_without(self, labels: list, v: int) -> bool:
        """Is part ``labels[v]`` still connected after removing ``v``?"""
        p = labels[v]
        same = [u for u in self.nbr[v] if labels[u] == p]
        if len(same) <= 1:
            return True
        targets = set(same)
        start = same[0]
        seen = {v, start}
        stack = [start]
        targets.discard(start)
        nbr = self.nbr
        while stack and targets:
            x = stack.pop()
            for y in nbr[x]:
                if y not in seen and labels[y] == p:
                    seen.add(y)
                    targets.discard(y)
                    stack.append(y)
        return not targets

    def link(self, labels: list, v: int) -> dict:
        """Edge weight from ``v`` to each part it touches."""
        out: dict = {}
        for u, w in zip(self.nbr[v], self.wt[v]):
            p = labels[u]
            out[p] = out.get(p, 0.0) + w
        return out


def _components_of_parts(csr: sparse.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """Connected fragment id of every vertex within its own part."""
    coo = csr.tocoo()
    keep = labels[coo.row] == labels[coo.col]
    m = sparse.coo_matrix((np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=csr.shape)
    _, frag = csgraph.connected_components(m, directed=False)
    return frag


def repair_contiguity(loc: _Local, labels: np.ndarray, *, keep_min_hh: int | None = None) -> np.ndarray:
    """Make every part connected: each fragment other than a part's largest (by households) joins the
    neighbouring part it shares the longest boundary with; a fragment of at least ``keep_min_hh``
    households becomes a part of its own instead.  Returns new labels (parts may be renumbered)."""
    labels = labels.copy()
    for _ in range(50):
        frag = _components_of_parts(loc.csr, labels)
        n_frag = frag.max() + 1
        f_hh = np.bincount(frag, weights=loc.hh, minlength=n_frag)
        f_part = np.zeros(n_frag, np.int64)
        f_part[frag] = labels
        order = np.lexsort((-f_hh, f_part))
        first = np.ones(n_frag, bool)
        first[order[1:]] = f_part[order[1:]] != f_part[order[:-1]]
        stray = np.flatnonzero(~first)
        if stray.size == 0:
            return labels
        next_label = labels.max() + 1
        coo = loc.csr.tocoo()
        for f in stray[np.argsort(f_hh[stray])]:  # smallest first
            members = np.flatnonzero(frag == f)
            if keep_min_hh is not None and f_hh[f] >= keep_min_hh:
                labels[members] = next_label
                next_label += 1
                continue
            sel = np.isin(coo.row, members) & (labels[coo.col] != labels[members[0]])
            if not sel.any():
                continue  # an isolated fragment: nothing to join
            tot = pd.Series(coo.data[sel]).groupby(labels[coo.col[sel]]).sum()
            labels[members] = int(tot.idxmax())
    return labels


# ---------------------------------------------------------------------------- moves
def _band_phase(
    loc: _Local,
    labels: list,
    band: Band,
    part_hh: dict,
    *,
    cost: str = "cut",
    old: list | None = None,
    max_rounds: int = 400,
) -> int:
    """Single-unit moves towards the band.  ``cost``: ``cut`` (prefer moves that shorten the cut)
    or ``residents`` (prefer moving the fewest residents; minimal-change mode)."""
    lo, hi = band.min_households, band.max_households
    part_n: dict = {}
    for p in labels:
        part_n[p] = part_n.get(p, 0) + 1
    moves = 0
    for _ in range(max_rounds):
        bad = [p for p, h in part_hh.items() if h > hi or h < lo]
        if not bad:
            break
        boundary = _boundary_units(loc, labels)
        progressed = False
        for p in sorted(bad, key=lambda q: -max(part_hh[q] - hi, lo - part_hh[q])):
            if _try_move(loc, labels, band, part_hh, part_n, p, cost, old, boundary):
                moves += 1
                progressed = True
        if not progressed:
            break
    return moves


def _try_move(loc, labels, band, part_hh, part_n, p, cost, old, boundary) -> bool:
    """Best connectivity-keeping single-unit move that brings part ``p`` towards the band."""
    lo, hi = band.min_households, band.max_households
    h = part_hh[p]
    cands = []
    for v in boundary:
        q0 = labels[v]
        hv = loc.hh_l[v]
        if h > hi and q0 == p:
            link = loc.link(labels, v)
            for q in link:
                if q != p and part_hh[q] + hv <= hi:
                    cands.append((_score(loc, v, p, q, link, cost, part_hh, old, labels), v, p, q))
        elif h < lo and q0 != p and part_hh[q0] - hv >= lo:
            link = loc.link(labels, v)
            if p in link:
                cands.append((_score(loc, v, q0, p, link, cost, part_hh, old, labels), v, q0, p))
    cands.sort()
    for _, v, a, b in cands:
        if labels[v] != a or part_n.get(a, 0) <= 1:
            continue
        if loc.connected_without(labels, v):
            labels[v] = b
            hv = loc.hh_l[v]
            part_hh[a] -= hv
            part_hh[b] += hv
            part_n[a] -= 1
            part_n[b] = part_n.get(b, 0) + 1
            return True
    return False


def _score(loc, v, a, b, link, cost, part_hh, old, labels) -> float:
    """Lower is better: moving unit ``v`` from part ``a`` to ``b``."""
    cut = link.get(a, 0.0) - link.get(b, 0.0)  # increase of the cut
    if cost == "residents":
        back = 0.0 if old is None else (-1e6 if old[v] == b else 0.0)
        return loc.res_l[v] * 1000.0 + back + cut
    return cut


def _boundary_units(loc: _Local, labels: list) -> list:
    return [v for v in range(loc.n) if any(labels[u] != labels[v] for u in loc.nbr[v])]


def _refine(loc: _Local, lab: np.ndarray, band: Band, tol: float, old: list | None) -> tuple[np.ndarray, int]:
    """Refine a partition of one component: the band (single-unit moves, then ejection chains), then
    compactness (moves keeping every part within ``tol`` of the mean size, or in the band when that is
    narrower, and there repaired by short chains), then, given ``old`` (matched part of every unit),
    moves back to it.  Returns the labels and the units moved."""
    lab_l = lab.tolist()
    part_hh = {p: int(v) for p, v in enumerate(np.bincount(lab, weights=loc.hh).astype(np.int64))}
    lo, hi = band.min_households, band.max_households
    moves = _band_phase(loc, lab_l, band, part_hh)
    moves += band_chains(loc, lab_l, part_hh, lo, hi)
    mean = float(loc.hh.sum()) / max(len(part_hh), 1)
    w_lo, w_hi = max(lo, math.ceil(mean * (1 - tol))), min(hi, math.floor(mean * (1 + tol)))
    # compactness moves are repaired by chains only where the band itself binds (tight bands)
    moves += compact_chains(loc, lab_l, part_hh, w_lo, w_hi, repair=w_lo == lo or w_hi == hi)
    if old is not None:
        moves += _closest_phase(loc, lab_l, band, part_hh, old)
    return np.asarray(lab_l, np.int64), moves


def _closest_phase(loc: _Local, labels: list, band: Band, part_hh: dict, old: list, sweeps: int = 4) -> int:
    """Moves back to the unit's old community (matched part) that keep the band and connectivity
    and lengthen the cut by at most the unit's own cut share."""
    moves = 0
    for _ in range(sweeps):
        changed = 0
        for v in _boundary_units(loc, labels):
            a, b = labels[v], old[v]
            if b < 0 or a == b:
                continue
            link = loc.link(labels, v)
            if b not in link:
                continue
            hv = loc.hh_l[v]
            if part_hh[b] + hv > band.max_households or part_hh[a] - hv < band.min_households:
                continue
            if loc.connected_without(labels, v):
                labels[v] = b
                part_hh[a] -= hv
                part_hh[b] += hv
                changed += 1
        moves += changed
        if not changed:
            break
    return moves


# ---------------------------------------------------------------------------- partition
def partition_component(
    g: UnitGraph, hh: np.ndarray, k: int, *, seed: int = 0, weights: np.ndarray | None = None
) -> np.ndarray:
    """METIS k-way partition of a connected graph (households as vertex weights), contiguity repaired.

    Returns part labels 0..k'-1 (k' <= k when METIS leaves a part empty).
    """
    if k <= 1 or g.n <= 1:
        return np.zeros(g.n, np.int64)
    import pymetis

    w = g.edge_weights() if weights is None else weights
    w_int = np.maximum(1, np.round(w)).astype(np.int64)
    m = g.weighted(w_int)
    opts = pymetis.Options(seed=int(seed), contig=1, ufactor=30, niter=20)
    vw = np.maximum(hh.astype(np.int64), 1)
    k = int(min(k, g.n))
    try:
        _, parts = pymetis.part_graph(
            k, adjacency=pymetis.CSRAdjacency(m.indptr, m.indices), vweights=vw, eweights=m.data, options=opts
        )
    except (RuntimeError, ValueError):  # pragma: no cover - METIS refuses contig on odd graphs: run without
        opts = pymetis.Options(seed=int(seed), ufactor=30, niter=20)
        _, parts = pymetis.part_graph(
            k, adjacency=pymetis.CSRAdjacency(m.indptr, m.indices), vweights=vw, eweights=m.data, options=opts
        )
    parts = np.asarray(parts, np.int64)
    _, parts = np.unique(parts, return_inverse=True)
    return parts


def partition_around_large_units(g: UnitGraph, hh: np.ndarray, band: Band, *, seed: int = 0) -> np.ndarray:
    """Partition a connected graph in which some units alone exceed the band's maximum households.

    Such a unit cannot be brought into the band by any grouping, so it becomes a community of its own and the
    rest is partitioned piece by piece (the connected pieces left when those units are taken out), each into
    the number of communities that suits its households (:func:`number_of_communities`). A piece too small for
    a community (fewer households than the band's minimum) joins the neighbouring large unit it shares the
    longest boundary with, rather than standing alone as one more community outside the band.

    METIS alone does badly here: when a few units hold most households (a large compound at the centre of a
    star of blocks, as in real extracts), it leaves parts empty and returns fewer, oversized communities.

    Returns part labels 0..k'-1.
    """
    large = hh > band.max_households
    labels = np.full(g.n, -1, np.int64)
    labels[large] = np.arange(int(large.sum()))
    next_label = int(large.sum())
    rest = np.flatnonzero(~large)
    if rest.size:
        sub, _ = g.subgraph(rest)
        n_pieces, piece = csgraph.connected_components(sub.csr(), directed=False)
        for c in range(n_pieces):
            members = rest[piece == c]
            households = float(hh[members].sum())
            if households < band.min_households:
                continue  # joins a neighbouring large unit below
            k = min(number_of_communities(households, band)["k"], members.size)
            parts = partition_component(g.subgraph(members)[0], hh[members], k, seed=seed)
            labels[members] = parts + next_label
            next_label += int(parts.max()) + 1
    stranded = np.flatnonzero(labels < 0)
    if stranded.size:
        m = g.weighted(g.edge_weights() + 1e-9)
        sub, _ = g.subgraph(stranded)
        _, piece = csgraph.connected_components(sub.csr(), directed=False)
        for c in range(int(piece.max()) + 1):
            members = stranded[piece == c]
            link = np.asarray(m[members].sum(axis=0)).ravel()
            link[labels < 0] = 0.0
            if link.max() > 0:
                labels[members] = labels[int(np.argmax(link))]
            else:  # pragma: no cover - a connected graph always links a piece to a labelled unit
                labels[members] = next_label
                next_label += 1
    return _relabel(labels)


def _relabel(parts: np.ndarray) -> np.ndarray:
    _, out = np.unique(parts, return_inverse=True)
    return out.astype(np.int64)


# ---------------------------------------------------------------------------- main
def delineate(
    us: UnitSet,
    band: Band = Band(),
    *,
    streets: list[str] | None = None,
    k: int | dict | None = None,
    existing: np.ndarray | None = None,
    existing_codes: pd.DataFrame | None = None,
    mode: str = "fresh",
    workers_per_10000: float = 18.0,
    compactness_tol: float = 0.25,
    seed: int = 0,
) -> Proposal:
    """Propose a plan for the units of ``streets`` (default: all).

    Parameters
    ----------
    us : UnitSet
        Prepared units (:func:`boundaries.adjacency.prepare_units`).
    band : Band
        Households per community.
    streets : list of str, optional
        Street codes to delineate; other units stay unassigned (-1).
    k : int or dict, optional
        Number of communities: an int for a single street, or ``{street_code: k}``.
    existing : int array, optional
        Community index of every unit in an existing plan (-1 = none): used by
        modes ``closest`` and ``minimal_change``.
    existing_codes : DataFrame, optional
        ``code``, ``name`` per existing community index (codes and names are kept).
    mode : {"fresh", "closest", "minimal_change"}
    """
    from geo_service.core._errors import InputError

    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", f"模式应为 {'、'.join(MODES)} 之一", mode=mode)
    if mode != "fresh" and existing is None:
        raise InputError(
            "modes closest and minimal_change need an existing plan",
            "“最接近现状”和“最小调整”模式需要指定现状方案（--from-plan）",
        )
    t0 = time.perf_counter()
    codes_all = us.streets["code"].tolist()
    if streets is None:
        streets = [c for c in codes_all]
    elif not streets:
        raise InputError(
            "streets is empty: give at least one street code, or leave it out for all streets",
            "街道列表为空：请至少给出一个街道代码，或不填以划分全部街道",
        )
    unknown = [s for s in streets if s not in codes_all]
    if unknown:
        raise InputError(
            f"no population units in street(s) {', '.join(unknown)}",
            f"街道 {'、'.join(unknown)} 下没有人口单元",
            streets=unknown,
        )
    if isinstance(k, (int, np.integer)) and len(streets) != 1:
        raise InputError("a single k needs a single street", "指定社区数量（--k）时只能选择一个街道")
    labels = np.full(us.n, -1, np.int64)
    rows, problems, street_stats = [], [], {}
    next_id = 0
    for code in streets:
        s_idx = codes_all.index(code)
        s_row = us.streets.iloc[s_idx]
        idx = np.flatnonzero(us.street == s_idx)
        k_street = k.get(code) if isinstance(k, dict) else k
        if (
            k_street is not None and int(k_street) > idx.size
        ):  # each community needs a unit (and k sets a loop's length)
            raise InputError(
                f"k = {k_street} communities, but street {code} has only {idx.size} population units",
                f"社区数量 {k_street} 超过街道 {code} 的人口单元数 {idx.size}",
                street=code,
                k=int(k_street),
            )
        res = _delineate_street(
            us, idx, s_row, band, k_street, existing, mode, workers_per_10000, compactness_tol, seed
        )
        lab = res["labels"]
        for p in range(res["n_parts"]):
            members = idx[lab == p]
            if members.size == 0:
                continue
            labels[members] = next_id
            rows.append({"_part": next_id, "street_code": code, "_old": res["part_old"].get(p, -1)})
            next_id += 1
        for pr in res["problems"]:
            problems.append({"street_code": code, **pr})
        street_stats[code] = res["stats"]
    comm = pd.DataFrame(rows, columns=["_part", "street_code", "_old"])
    comm = _name_communities(comm, labels, us, existing_codes)
    comm["households"] = np.bincount(
        labels[labels >= 0], weights=us.households[labels >= 0], minlength=len(comm)
    ).astype(np.int64)
    comm["residents"] = np.bincount(labels[labels >= 0], weights=us.residents[labels >= 0], minlength=len(comm)).astype(
        np.int64
    )
    comm["units"] = np.bincount(labels[labels >= 0], minlength=len(comm)).astype(np.int64)
    problems = _attach_codes(problems, comm, labels, us, band)
    stats = {
        "seconds": round(time.perf_counter() - t0, 3),
        "mode": mode,
        "streets": street_stats,
        "band": [band.min_households, band.max_households],
        "communities": len(comm),
    }
    return Proposal(labels, comm.drop(columns=["_part", "_old"]), problems, stats)


def _name_communities(comm: pd.DataFrame, labels, us: UnitSet, existing_codes: pd.DataFrame | None) -> pd.DataFrame:
    comm = comm.copy()
    codes, names = [], []
    used = set()
    if existing_codes is not None:
        for old in comm["_old"]:
            if old >= 0 and old < len(existing_codes):
                c = str(existing_codes.iloc[old]["code"])
                if c not in used:
                    used.add(c)
    seq: dict = {}
    for _, r in comm.iterrows():  # one row per community
        old = int(r["_old"])
        if (
            existing_codes is not None
            and 0 <= old < len(existing_codes)
            and str(existing_codes.iloc[old]["code"]) not in codes
        ):
            codes.append(str(existing_codes.iloc[old]["code"]))
            names.append(str(existing_codes.iloc[old].get("name", existing_codes.iloc[old]["code"])))
            continue
        st = r["street_code"]
        n = seq.get(st, 0)
        while True:
            n += 1
            c = f"{st}{n:03d}" if st else f"C{n:03d}"
            if c not in used and c not in codes:
                break
        seq[st] = n
        codes.append(c)
        names.append(f"待命名社区{c[-3:]}")
    comm["code"] = codes
    comm["name"] = names
    return comm[["_part", "code", "name", "street_code", "_old"]]


def _attach_codes(problems, comm, labels, us, band) -> list:
    out = []
    for pr in problems:
        unit = pr.pop("_unit", None)
        if unit is not None and labels[unit] >= 0:
            c = comm.iloc[labels[unit]]
            pr = {"code": c["code"], "name": c["name"], "households": int(c["households"]), **pr}
        out.append(pr)
    return out


def _delineate_street(
    us: UnitSet, idx, s_row, band: Band, k_street, existing, mode, workers_per_10000, tol, seed
) -> dict:
    g, _ = us.graph.subgraph(idx)
    hh = us.households[idx]
    res = us.residents[idx]
    n_comp, comp = csgraph.connected_components(g.csr(), directed=False)
    comp_hh = np.bincount(comp, weights=hh, minlength=n_comp)
    comp_res = np.bincount(comp, weights=res, minlength=n_comp)
    H, R = float(hh.sum()), float(res.sum())
    workers = s_row["workers_available"]
    kinfo = number_of_communities(H, band, residents=R, workers_available=workers, workers_per_10000=workers_per_10000)
    problems = []
    if (
        kinfo["k_workers"] is not None
        and kinfo["k_workers"] < kinfo["k"]
        or (kinfo["k_workers"] is not None and kinfo["k_workers"] < kinfo["k_min"])
    ):
        problems.append(
            {
                "kind": "workers_short",
                "reason": f"{workers:.0f} community workers can staff at most {kinfo['k_workers']} communities "
                f"of {kinfo['min_staff']} workers",
                "reason_zh": f"街道可配备社区工作者 {workers:.0f} 人，按每个社区至少 {kinfo['min_staff']} 人"
                f"最多支撑 {kinfo['k_workers']} 个社区",
            }
        )
    # communities per component
    k_comp = _split_k(comp_hh, band, k_street if k_street is not None else None, kinfo)
    labels = np.full(idx.size, -1, np.int64)
    part_old: dict = {}
    old_local = existing[idx] if existing is not None else None
    n_parts = 0
    stats = {"units": int(idx.size), "households": int(H), "k_info": kinfo, "components": int(n_comp), "moves": 0}
    t_metis = 0.0
    for c in range(n_comp):
        cidx = np.flatnonzero(comp == c)
        gc, _ = g.subgraph(cidx)
        loc = _Local(gc, hh[cidx], res[cidx], gc.edge_weights(), us.tiles_m[idx[cidx]])
        if mode == "minimal_change":
            lab, moves, old_of_part = _minimal_change(loc, gc, old_local[cidx], band, seed)
        else:
            t1 = time.perf_counter()
            lab = None
            if k_street is None and (hh[cidx] > band.max_households).any() and cidx.size > 1:
                lab = partition_around_large_units(gc, hh[cidx], band, seed=seed)
                if kinfo["k_workers"] is not None and lab.max() + 1 > k_comp[c]:
                    lab = None  # more communities than the street's workers can staff: the count decides
            if lab is None:  # a count asked for (k) or set by the workers: METIS with that count
                lab = partition_component(gc, hh[cidx], int(k_comp[c]), seed=seed)
            lab = _relabel(repair_contiguity(loc, lab))
            t_metis += time.perf_counter() - t1
            old_of_part = {}
            old_l = None
            if mode == "closest":
                lab, old_of_part = _match_old(lab, old_local[cidx], res[cidx])
                inv = {o: p for p, o in old_of_part.items()}
                old_l = [inv.get(int(o), -1) for o in old_local[cidx]]
            lab, moves = _refine(loc, lab, band, tol, old_l)
            lab_u = _relabel(lab)
            old_of_part = {
                int(lab_u[np.flatnonzero(lab == p)[0]]): o for p, o in old_of_part.items() if (lab == p).any()
            }
            lab = lab_u
        stats["moves"] += moves
        labels[cidx] = lab + n_parts
        for p, o in old_of_part.items():
            part_old[p + n_parts] = o
        n_parts += int(lab.max()) + 1 if lab.size else 0
        problems += _band_reasons(loc, lab, band, comp_hh[c], comp_res[c], n_comp, H, us, idx[cidx])
    stats["metis_seconds"] = round(t_metis, 3)
    stats["k"] = int(n_parts)
    return {"labels": labels, "n_parts": n_parts, "part_old": part_old, "problems": problems, "stats": stats}


def _split_k(comp_hh: np.ndarray, band: Band, k_street: int | None, kinfo: dict) -> np.ndarray:
    """Communities per connected component: band-feasible counts, summing to the street's k when possible."""
    lo = np.maximum(1, np.ceil(comp_hh / band.max_households)).astype(int)
    hi = np.maximum(1, np.floor(comp_hh / band.min_households)).astype(int)
    hi = np.maximum(hi, lo)
    want = k_street if k_street is not None else kinfo["k"]
    base = np.clip(np.round(comp_hh / band.target).astype(int), lo, hi)
    if k_street is None and (kinfo["k_workers"] is None or base.sum() <= kinfo["k_workers"]):
        return base
    k_c = base.copy()
    # adjust towards the wanted total within [lo, hi], largest deviation first
    for _ in range(int(abs(k_c.sum() - want)) + len(k_c)):
        diff = want - k_c.sum()
        if diff == 0:
            break
        size = comp_hh / np.maximum(k_c, 1)
        if diff > 0:
            cand = np.flatnonzero(k_c < np.maximum(hi, k_c + (k_street is not None)))
            if cand.size == 0:
                break
            c = cand[np.argmax(size[cand])]
            k_c[c] += 1
        else:
            cand = np.flatnonzero(k_c > np.maximum(1, lo if k_street is None else 1))
            if cand.size == 0:
                break
            c = cand[np.argmin(size[cand])]
            k_c[c] -= 1
    return np.minimum(k_c, np.maximum(1, (comp_hh > 0).astype(int) * 10**9))


def _match_old(lab: np.ndarray, old: np.ndarray, res: np.ndarray) -> tuple[np.ndarray, dict]:
    """Match new parts to old communities by shared residents (Hungarian); return labels and part -> old."""
    ok = old >= 0
    if not ok.any():
        return lab, {}
    olds, old_i = np.unique(old[ok], return_inverse=True)
    n_new = lab.max() + 1
    mat = np.zeros((n_new, olds.size))
    np.add.at(mat, (lab[ok], old_i), res[ok] + 1)
    r, c = linear_sum_assignment(-mat)
    return lab, {int(p): int(olds[o]) for p, o in zip(r, c) if mat[p, o] > 0}


def _minimal_change(loc: _Local, g: UnitGraph, old: np.ndarray, band: Band, seed: int) -> tuple[np.ndarray, int, dict]:
    """Fix the breaches of an existing plan moving as few residents as possible."""
    lab = old.copy()
    moves = 0
    # units without a community: join the neighbouring part they share the longest boundary with
    if (lab < 0).any():
        base = lab.max() + 1 if (lab >= 0).any() else 0
        lab = np.where(lab < 0, base + np.arange(lab.size), lab)  # temporarily alone
        moves += int((old < 0).sum())
    orig = lab.copy()
    lab = repair_contiguity(loc, lab, keep_min_hh=band.min_households)
    moves += int((lab != orig).sum())
    lab_l = lab.tolist()
    part_hh: dict = {}
    for v, p in enumerate(lab_l):
        part_hh[p] = part_hh.get(p, 0) + loc.hh_l[v]
    old_l = orig.tolist()
    # 1) merge parts far below the band whose households are fewer than the deficit
    for p in sorted(part_hh, key=lambda q: part_hh[q]):
        if p not in part_hh or part_hh[p] >= band.min_households:
            continue
        deficit = band.min_households - part_hh[p]
        if part_hh[p] > deficit:
            continue  # cheaper to take units from neighbours (step 3)
        members = [v for v in range(loc.n) if lab_l[v] == p]
        shared: dict = {}
        for v in members:
            for u, w in zip(loc.nbr[v], loc.wt[v]):
                q = lab_l[u]
                if q != p:
                    shared[q] = shared.get(q, 0.0) + w
        fits = [q for q in shared if part_hh[q] + part_hh[p] <= band.max_households]
        if fits:
            q = max(fits, key=lambda x: shared[x])
            for v in members:
                lab_l[v] = q
            part_hh[q] += part_hh.pop(p)
            moves += len(members)
    # 2) split parts that cannot shed their excess: more than the band allows and >= 2 x min
    for p in list(part_hh):
        h = part_hh[p]
        if h <= band.max_households:
            continue
        n_split = math.ceil(h / band.max_households)
        if h / n_split < band.min_households:
            continue
        members = np.asarray([v for v in range(loc.n) if lab_l[v] == p], np.int64)
        sub, _ = g.subgraph(members)
        n_sub, _ = csgraph.connected_components(sub.csr(), directed=False)
        if n_sub != 1:
            continue
        parts = partition_component(sub, loc.hh[members], n_split, seed=seed)
        sub_loc = _Local(sub, loc.hh[members], loc.res[members], sub.edge_weights())
        parts = _relabel(repair_contiguity(sub_loc, parts))
        # the piece holding most residents keeps the community
        keep = int(np.argmax(np.bincount(parts, weights=loc.res[members] + 1)))
        nxt = max(part_hh) + 1
        for q in range(parts.max() + 1):
            sel = members[parts == q]
            if q == keep:
                continue
            for v in sel.tolist():
                lab_l[v] = nxt
            part_hh[nxt] = int(loc.hh[sel].sum())
            part_hh[p] -= part_hh[nxt]
            moves += sel.size
            nxt += 1
    # 3) single-unit moves, fewest residents first
    moves += _band_phase(loc, lab_l, band, part_hh, cost="residents", old=old_l)
    moves += band_chains(loc, lab_l, part_hh, band.min_households, band.max_households)
    lab = np.asarray(lab_l, np.int64)
    uniq, new = np.unique(lab, return_inverse=True)
    # part -> old community it continues (the original label, when it was one)
    old_of = {}
    for k, o in enumerate(uniq):
        if o in set(old[old >= 0].tolist()):
            old_of[k] = int(o)
    return new.astype(np.int64), moves, old_of


def _band_reasons(
    loc: _Local,
    lab: np.ndarray,
    band: Band,
    comp_hh: float,
    comp_res: float,
    n_comp: int,
    street_hh: float,
    us: UnitSet,
    global_idx: np.ndarray,
) -> list:
    """Why the parts of one component outside the band are there (English, Chinese and a ``reason_code``):
    a unit above the band, a street or cut-off area below it, a household total no number of communities
    can divide into the band, the number of communities asked for, units too coarse for a narrow band
    (no set of units sums into it), else the shapes and contiguity of the units."""
    out = []
    if lab.size == 0:
        return out
    part_hh = np.bincount(lab, weights=loc.hh)
    lo, hi = band.min_households, band.max_households
    why = None
    for p in np.flatnonzero((part_hh < lo) | (part_hh > hi)):
        members = np.flatnonzero(lab == p)
        big = members[loc.hh[members] > hi]
        if big.size:
            u = int(global_idx[big[0]])
            code, reason, reason_zh = _unit_too_large(us, u, hi)
        else:
            why = why or _component_reason(loc, band, comp_hh, n_comp, part_hh.size)
            code, reason, reason_zh = why
        out.append(
            {
                "kind": "below_band" if part_hh[p] < lo else "above_band",
                "reason_code": code,
                "reason": reason,
                "reason_zh": reason_zh,
                "_unit": int(global_idx[members[0]]),
            }
        )
    return out


def _unit_too_large(us: UnitSet, u: int, hi: int) -> tuple[str, str, str]:
    name = str(us.units.iloc[u].get("name") or us.units.iloc[u].get("source_id"))
    h = int(us.households[u])
    return (
        "unit_too_large",
        f"unit {name} alone has {h} households, above the band's maximum {hi}; units are not split",
        f"人口单元「{name}」单独即有 {h} 户，超过上限 {hi} 户，人口单元不可拆分",
    )


def _component_reason(loc: _Local, band: Band, comp_hh: float, n_comp: int, k: int) -> tuple[str, str, str]:
    """``(reason_code, reason, reason_zh)`` for a part of a component (``k`` parts) left outside the band."""
    lo, hi = band.min_households, band.max_households
    h = int(comp_hh)
    if comp_hh < lo and n_comp == 1:
        return (
            "street_too_small",
            f"the whole street has {h} households, fewer than the minimum {lo}",
            f"整个街道仅 {h} 户，低于下限 {lo} 户",
        )
    if comp_hh < lo:
        return (
            "isolated_area_too_small",
            "these units are cut off from the rest of the street by a river, railway or other barrier "
            f"without a crossing and have {h} households together, fewer than the minimum {lo}",
            f"该片区被河流、铁路等障碍与街道其他部分隔开（无桥梁或通道），合计仅 {h} 户，低于下限 {lo} 户",
        )
    if math.ceil(comp_hh / hi) > math.floor(comp_hh / lo):
        return (
            "band_infeasible",
            f"{h} households cannot be divided into communities of {lo}-{hi} households",
            f"该片区共 {h} 户，无法分成户数均在 {lo}-{hi} 户之间的若干社区",
        )
    if not (k * lo <= comp_hh <= k * hi):
        return (
            "k_infeasible",
            f"{h} households in {k} communities make {comp_hh / k:.0f} per community, outside {lo}-{hi}; "
            f"choose between {math.ceil(comp_hh / hi)} and {math.floor(comp_hh / lo)} communities",
            f"该片区共 {h} 户，分为 {k} 个社区时平均每个 {comp_hh / k:.0f} 户，不在 {lo}-{hi} 户之间；"
            f"社区数量应在 {math.ceil(comp_hh / hi)}–{math.floor(comp_hh / lo)} 个之间",
        )
    if not subset_sum_reaches(loc.hh_l, lo, hi):
        return (
            "units_too_coarse",
            f"no set of population units sums to {lo}-{hi} households: the band is narrower than the units' "
            "sizes allow",
            f"任何人口单元组合的户数都落不进 {lo}-{hi} 户：户数范围过窄，人口单元户数颗粒过粗（单元不可拆分），"
            "请放宽户数范围",
        )
    return (
        "no_feasible_move",
        "unit sizes and shapes (contiguity) leave no move or chain of moves that brings this community into the band",
        "受人口单元规模、形状与连通性限制，逐个调整单元及沿相邻社区链式调整后，该社区户数仍无法进入范围",
    )
