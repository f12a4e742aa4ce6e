"""Closing communities' space gaps with the spaces a city really has (Art. 18 ¶2-3): the solver.

Spopt style: :func:`solve_exact` and :func:`solve_greedy` take a :class:`GapProblem` of plain arrays and return a
:class:`GapSolution`; nothing here reads a map or a store (:mod:`.gap_spaces` builds the problem from the layers).

The problem
-----------
*Needs* ``k`` belong to communities: the service floor-area gap (m², **divisible** over several spaces), a missing
facility category a space can host (m² = the category's minimum floor area, one space each; elderly care and
childcare **need a ground floor or a lift**) and a missing office (hosted by any space given to the community,
0 m²). *Candidates* ``j`` are idle assets and spaces to buy, lease, swap or extend: floor area ``A_j`` (m²), a cost
over the rent horizon ``c_j`` (yuan: one-off price + rent x area x years, paid once a space is used) and the number
of communities it may serve (1 unless it is large enough to split by floor). *Pairs* ``p = (i, j)`` say which
candidate may serve which community (inside it, or within the walking limit of most of its residents) and the
walk (m).

Variables: ``w_p`` (binary) community ``i`` uses candidate ``j``; ``u_j`` (binary) candidate ``j`` is used;
``v_e`` per entry ``e = (k, p)`` with ``p`` of ``k``'s community (and a ground-floor-or-lift candidate when ``k``
needs one): 0/1 for a single-space need, m² for the divisible one.  Constraints::

    sum_{e in p} area_e v_e <= A_j w_p        per pair         (area_e = a_k for single-space needs, 1 else)
    sum_{e of j} area_e v_e <= A_j            per candidate
    sum_{p of j} w_p <= parts_j               per candidate    (one community unless split by floor)
    w_p <= u_j                                per pair
    sum_{e of k} v_e <= 1  (or a_k m²)        per need
    v_e <= w_p                                per zero-area entry (the office)
    sum_j c_j u_j <= budget                   optional

Objective, lexicographic (each stage keeps the optimum of the ones before, HiGHS MILP via
:func:`scipy.optimize.milp`): (1) most m² of need closed, (2) most residents served (residents of the community x
the share of each need closed), (3) least cost over the rent horizon (yuan), (4) shortest walks (sum of the walks
of the pairs used, m).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from geo_service.core._errors import InputError

TIME_LIMIT_S = 55.0  # per stage; hit only far beyond the benchmarked sizes
_EPS = 1e-6


@dataclass(frozen=True)
class GapPlanParams:
    """Parameters of the gap plan.

    Parameters
    ----------
    budget_yuan : float or None
        Largest total cost over the rent horizon (yuan); None: no budget.
    """

    budget_yuan: float | None = None

    @classmethod
    def from_input(cls, budget_yuan: float | str | None = None) -> GapPlanParams:
        """The one constructor from CLI options, HTTP query values or a job's stored parameters.

        Raises :class:`InputError` (Chinese message) for a budget that is not a number or below zero.
        """
        if budget_yuan is None or (isinstance(budget_yuan, str) and not budget_yuan.strip()):
            return cls()
        try:
            b = float(budget_yuan)
        except (TypeError, ValueError):
            raise InputError(
                f"budget {budget_yuan!r} is not a number", f"预算「{budget_yuan}」不是数值（单位：元）"
            ) from None
        params = cls(budget_yuan=b)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise :class:`InputError` unless the budget is None or a finite number >= 0 (yuan)."""
        b = self.budget_yuan
        if b is not None and (not math.isfinite(b) or b < 0):
            raise InputError(
                f"the budget must be a number >= 0 yuan, got {b}", f"预算不能小于 0 元（收到 {b:g}）", budget_yuan=b
            )

    @property
    def is_default(self) -> bool:
        return self == GapPlanParams()

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GapProblem:
    """A gap-closing problem as arrays.

    Attributes
    ----------
    n_communities : int
    need_community : ndarray of int, (K,)
        Community of each need.
    need_m2 : ndarray of float, (K,)
        Floor area (m²) of each need; 0 for a need any space fills (the office).
    need_divisible : ndarray of bool, (K,)
        The need may be spread over several spaces (the service floor-area gap).
    need_ground : ndarray of bool, (K,)
        The need requires a ground floor or a lift.
    need_residents : ndarray of float, (K,)
        Residents served when the need is closed (those of its community).
    cand_m2 : ndarray of float, (J,)
        Floor area (m², > 0) of each candidate.
    cand_cost_yuan : ndarray of float, (J,)
        Cost (yuan, >= 0) over the rent horizon once the candidate is used.
    cand_ground_ok : ndarray of bool, (J,)
        On the ground floor (or low enough) or with a lift.
    cand_parts : ndarray of int, (J,)
        Communities the candidate may serve (>= 1).
    pair_community, pair_candidate : ndarray of int, (P,)
        Which candidate may serve which community (each pair at most once).
    pair_walk_m : ndarray of float, (P,)
        Walk (m, >= 0) of the pair; the last stage minimises their sum over the pairs used.
    """

    n_communities: int
    need_community: np.ndarray
    need_m2: np.ndarray
    need_divisible: np.ndarray
    need_ground: np.ndarray
    need_residents: np.ndarray
    cand_m2: np.ndarray
    cand_cost_yuan: np.ndarray
    cand_ground_ok: np.ndarray
    cand_parts: np.ndarray
    pair_community: np.ndarray
    pair_candidate: np.ndarray
    pair_walk_m: np.ndarray

    @classmethod
    def build(cls, n_communities: int, needs: dict, candidates: dict, pairs: dict) -> GapProblem:
        """A checked problem from dicts of array-likes (keys: the attribute names without their prefix).

        Raises :class:`InputError` with a Chinese message for wrong lengths, indices out of range, areas that are
        not positive, negative costs or walks, duplicate pairs.
        """
        k, j, p = (len(np.asarray(d.get(next(iter(d)), []))) if d else 0 for d in (needs, candidates, pairs))
        nk = np.asarray(needs.get("divisible", np.zeros(k, bool)), dtype=bool)
        prob = cls(
            n_communities=int(n_communities),
            need_community=np.asarray(needs["community"], dtype=np.int64).reshape(-1),
            need_m2=np.asarray(needs["m2"], dtype=float).reshape(-1),
            need_divisible=nk.reshape(-1),
            need_ground=np.asarray(needs.get("ground", np.zeros(k, bool)), dtype=bool).reshape(-1),
            need_residents=np.asarray(needs.get("residents", np.ones(k)), dtype=float).reshape(-1),
            cand_m2=np.asarray(candidates["m2"], dtype=float).reshape(-1),
            cand_cost_yuan=np.asarray(candidates.get("cost_yuan", np.zeros(j)), dtype=float).reshape(-1),
            cand_ground_ok=np.asarray(candidates.get("ground_ok", np.ones(j, bool)), dtype=bool).reshape(-1),
            cand_parts=np.asarray(candidates.get("parts", np.ones(j)), dtype=np.int64).reshape(-1),
            pair_community=np.asarray(pairs.get("community", []), dtype=np.int64).reshape(-1),
            pair_candidate=np.asarray(pairs.get("candidate", []), dtype=np.int64).reshape(-1),
            pair_walk_m=np.asarray(pairs.get("walk_m", np.zeros(p)), dtype=float).reshape(-1),
        )
        prob.check()
        return prob

    @property
    def n_needs(self) -> int:
        return len(self.need_community)

    @property
    def n_candidates(self) -> int:
        return len(self.cand_m2)

    def check(self) -> None:
        """Raise :class:`InputError` (Chinese message) unless the arrays describe a problem."""
        k, j, p = self.n_needs, self.n_candidates, len(self.pair_community)
        groups = (
            ("需求", k, (self.need_m2, self.need_divisible, self.need_ground, self.need_residents)),
            ("候选空间", j, (self.cand_cost_yuan, self.cand_ground_ok, self.cand_parts)),
            ("社区与空间配对", p, (self.pair_candidate, self.pair_walk_m)),
        )
        for label, n, arrays in groups:
            if any(len(a) != n for a in arrays):
                raise InputError(f"arrays of the {label} differ in length", f"{label}的各数组长度不一致")
        if self.n_communities < 0:
            raise InputError("n_communities must be >= 0", "社区数不能为负")
        _in_range(self.need_community, self.n_communities, "需求所属社区")
        _in_range(self.pair_community, self.n_communities, "配对中的社区")
        _in_range(self.pair_candidate, j, "配对中的候选空间")
        _bad_if(
            ~np.isfinite(self.cand_m2) | (self.cand_m2 <= 0), "candidate without area", "候选空间的建筑面积必须大于 0"
        )
        _bad_if(
            ~np.isfinite(self.cand_cost_yuan) | (self.cand_cost_yuan < 0), "negative cost", "候选空间的费用不能为负"
        )
        _bad_if(self.cand_parts < 1, "parts < 1", "候选空间可服务的社区数至少为 1")
        _bad_if(~np.isfinite(self.need_m2) | (self.need_m2 < 0), "negative need", "需求面积不能为负")
        _bad_if(self.need_divisible & (self.need_m2 <= 0), "divisible need of 0 m2", "可分摊的面积缺口必须大于 0")
        _bad_if(~np.isfinite(self.need_residents) | (self.need_residents < 0), "bad residents", "受益居民数不能为负")
        _bad_if(~np.isfinite(self.pair_walk_m) | (self.pair_walk_m < 0), "negative walk", "步行距离不能为负")
        if p:
            key = self.pair_community * max(j, 1) + self.pair_candidate
            if len(np.unique(key)) != p:
                raise InputError("a (community, candidate) pair is given twice", "社区与候选空间的配对有重复")


def _in_range(idx: np.ndarray, n: int, label: str) -> None:
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise InputError(f"{label}: index out of range", f"{label}编号超出范围")


def _bad_if(mask: np.ndarray, en: str, zh: str) -> None:
    if np.any(mask):
        raise InputError(en, zh, rows=[int(i) for i in np.flatnonzero(mask)[:20]])


@dataclass
class GapSolution:
    """A gap plan.

    Attributes
    ----------
    method : str
        ``"milp"`` or ``"greedy"``.
    alloc_need, alloc_candidate, alloc_pair : ndarray of int
        One row per (need, candidate) used.
    alloc_m2 : ndarray of float
        Floor area (m²) of the need closed by that candidate (0 for the office).
    need_closed_m2 : ndarray of float, (K,)
        Floor area (m²) closed per need.
    need_closed_share : ndarray of float, (K,)
        Share of each need closed (0..1; an office 0 or 1).
    cand_used : ndarray of bool, (J,)
    pair_used : ndarray of bool, (P,)
    closed_m2, need_m2, residents_served, cost_yuan, walk_m : float
        Totals: m² closed and needed, residents served (residents x share closed, per need), cost over the rent
        horizon (yuan), sum of the walks of the pairs used (m).
    optimal : bool
        Every MILP stage proven optimal (False for the greedy).
    seconds : float
    budget_yuan : float or None
    """

    method: str
    alloc_need: np.ndarray
    alloc_candidate: np.ndarray
    alloc_pair: np.ndarray
    alloc_m2: np.ndarray
    need_closed_m2: np.ndarray
    need_closed_share: np.ndarray
    cand_used: np.ndarray
    pair_used: np.ndarray
    closed_m2: float
    need_m2: float
    residents_served: float
    cost_yuan: float
    walk_m: float
    optimal: bool
    seconds: float
    budget_yuan: float | None = None

    def totals(self) -> dict:
        """The totals as JSON values."""
        return {
            "method": self.method,
            "need_m2": round(self.need_m2, 1),
            "closed_m2": round(self.closed_m2, 1),
            "residents_served": round(self.residents_served, 1),
            "cost_yuan": round(self.cost_yuan, 2),
            "walk_m": round(self.walk_m, 1),
            "spaces_used": int(self.cand_used.sum()),
            "optimal": bool(self.optimal),
            "seconds": round(self.seconds, 3),
            "budget_yuan": self.budget_yuan,
        }


@dataclass(frozen=True)
class _Entries:
    """The (need, pair) entries: ``need``, ``pair``, ``cand``, area per unit of ``v`` (m²), share per unit."""

    need: np.ndarray
    pair: np.ndarray
    cand: np.ndarray
    area: np.ndarray
    share: np.ndarray
    discrete: np.ndarray


def _entries(pb: GapProblem) -> _Entries:
    """Every (need, pair) with the pair in the need's community and, for a ground-floor need, a candidate that
    has a ground floor or a lift."""
    order = np.argsort(pb.pair_community, kind="stable")
    starts = np.searchsorted(pb.pair_community[order], np.arange(pb.n_communities + 1))
    counts = np.diff(starts)[pb.need_community] if pb.n_needs else np.zeros(0, np.int64)
    need = np.repeat(np.arange(pb.n_needs), counts)
    offs = np.arange(len(need)) - np.repeat(np.cumsum(counts) - counts, counts)
    pair = order[starts[pb.need_community[need]] + offs] if len(need) else np.zeros(0, np.int64)
    cand = pb.pair_candidate[pair]
    keep = ~pb.need_ground[need] | pb.cand_ground_ok[cand]
    need, pair, cand = need[keep], pair[keep], cand[keep]
    discrete = ~pb.need_divisible[need]
    area = np.where(discrete, pb.need_m2[need], 1.0)
    share = np.where(discrete, 1.0, 1.0 / np.where(pb.need_m2[need] > 0, pb.need_m2[need], 1.0))
    return _Entries(need, pair, cand, area, share, discrete)


def _model(pb: GapProblem, en: _Entries, budget: float | None):
    """Constraint matrix and bounds of the MILP over ``[w (P), u (J), v (E)]``."""
    n_p, n_j, n_e, n_k = len(pb.pair_community), pb.n_candidates, len(en.need), pb.n_needs
    ow, ou, ov = 0, n_p, n_p + n_j
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def block(rr, cc, vv, n_rows, lower, upper):
        nonlocal r
        rows.append(np.asarray(rr) + r)
        cols.append(np.asarray(cc))
        vals.append(np.asarray(vv, dtype=float))
        lo.append(np.broadcast_to(np.asarray(lower, float), (n_rows,)))
        hi.append(np.broadcast_to(np.asarray(upper, float), (n_rows,)))
        r += n_rows

    a_pair = pb.cand_m2[pb.pair_candidate]
    # area per pair <= A_j w_p
    block(np.r_[en.pair, np.arange(n_p)], np.r_[ov + np.arange(n_e), ow + np.arange(n_p)], np.r_[en.area, -a_pair],
          n_p, -np.inf, 0.0)  # fmt: skip
    # area per candidate <= A_j
    block(en.cand, ov + np.arange(n_e), en.area, n_j, -np.inf, pb.cand_m2)
    # communities per candidate <= parts
    block(pb.pair_candidate, ow + np.arange(n_p), np.ones(n_p), n_j, -np.inf, pb.cand_parts)
    # w_p <= u_j
    block(np.r_[np.arange(n_p), np.arange(n_p)], np.r_[ow + np.arange(n_p), ou + pb.pair_candidate],
          np.r_[np.ones(n_p), -np.ones(n_p)], n_p, -np.inf, 0.0)  # fmt: skip
    # each need at most once (m² for the divisible one)
    block(en.need, ov + np.arange(n_e), np.ones(n_e), n_k, -np.inf, np.where(pb.need_divisible, pb.need_m2, 1.0))
    zero = np.flatnonzero(en.discrete & (en.area <= 0))  # v_e <= w_p where the need takes no area
    if len(zero):
        block(np.r_[np.arange(len(zero)), np.arange(len(zero))], np.r_[ov + zero, ow + en.pair[zero]],
              np.r_[np.ones(len(zero)), -np.ones(len(zero))], len(zero), -np.inf, 0.0)  # fmt: skip
    if budget is not None:
        block(np.zeros(n_j, np.int64), ou + np.arange(n_j), pb.cand_cost_yuan, 1, -np.inf, budget)
    a = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, ov + n_e))
    upper = np.r_[np.ones(n_p + n_j), np.where(en.discrete, 1.0, pb.need_m2[en.need])]
    integrality = np.r_[np.ones(n_p + n_j), en.discrete.astype(float)]
    return a, np.concatenate(lo), np.concatenate(hi), upper, integrality


def _objectives(pb: GapProblem, en: _Entries) -> list[np.ndarray]:
    """The four stages as cost vectors to minimise: -m², -residents served, yuan, m of walks."""
    n_p, n_j, n_e = len(pb.pair_community), pb.n_candidates, len(en.need)
    z_pj = np.zeros(n_p + n_j)
    m2 = np.r_[z_pj, -en.area]
    res = np.r_[z_pj, -pb.need_residents[en.need] * en.share]
    cost = np.r_[np.zeros(n_p), pb.cand_cost_yuan, np.zeros(n_e)]
    walk = np.r_[pb.pair_walk_m, np.zeros(n_j + n_e)]
    return [m2, res, cost, walk]


def solve_exact(problem: GapProblem, budget_yuan: float | None = None, *, time_limit_s: float = TIME_LIMIT_S):
    """The lexicographic optimum (m² closed, residents served, cost, walks) by four HiGHS MILP stages.

    Without a budget the problem falls apart into the connected components of the (community, space) pairs; they
    are solved in batches of about :data:`BATCH_ENTRIES` entries (each stage's optimum of a batch is the sum of its
    components' optima, so batching changes nothing but the time). A budget joins them all into one model.

    Parameters
    ----------
    problem : GapProblem
    budget_yuan : float, optional
        Largest total cost over the rent horizon (yuan, >= 0).
    time_limit_s : float
        HiGHS time limit per stage and batch (s); when hit, the best plan found is kept and ``optimal`` is False.

    Returns
    -------
    GapSolution
    """
    GapPlanParams(budget_yuan).validate()
    t0 = time.perf_counter()
    pb, en = problem, _entries(problem)
    n_p, n_j = len(pb.pair_community), pb.n_candidates
    x = np.zeros(n_p + n_j + len(en.need))
    optimal = True
    key = en.need * max(n_p, 1) + en.pair
    order = np.argsort(key, kind="stable")
    for p_idx in _batches(pb, en, budget_yuan):
        sub = _sub_problem(pb, p_idx)
        sub_en = _entries(sub.problem)
        if len(sub_en.need) == 0:
            continue
        xs, ok = _stages(sub.problem, sub_en, budget_yuan, time_limit_s)
        optimal &= ok
        sp_n, sj_n = len(p_idx), len(sub.j_idx)
        x[p_idx] = xs[:sp_n]
        x[n_p + sub.j_idx] = xs[sp_n : sp_n + sj_n]
        g_key = sub.k_idx[sub_en.need] * max(n_p, 1) + p_idx[sub_en.pair]
        x[n_p + n_j + order[np.searchsorted(key[order], g_key)]] = xs[sp_n + sj_n :]
    return _solution(pb, en, x, "milp", optimal, t0, budget_yuan)


BATCH_ENTRIES = 400


def _batches(pb: GapProblem, en: _Entries, budget) -> list[np.ndarray]:
    """Pair indices per batch: whole connected components of the pair graph, about :data:`BATCH_ENTRIES` entries
    each (one batch with a budget)."""
    n_p, n_c = len(pb.pair_community), pb.n_communities
    if n_p == 0:
        return []
    if budget is not None:
        return [np.arange(n_p)]
    g = sp.coo_array((np.ones(n_p), (pb.pair_community, n_c + pb.pair_candidate)), shape=(n_c + pb.n_candidates,) * 2)
    _, label = connected_components(g, directed=False)
    comp = label[pb.pair_community]
    per_pair = np.bincount(en.pair, minlength=n_p)
    order = np.argsort(comp, kind="stable")
    out, start, size = [], 0, 0
    for i in range(n_p):
        size += per_pair[order[i]]
        last = i == n_p - 1 or comp[order[i + 1]] != comp[order[i]]
        if last and (size >= BATCH_ENTRIES or i == n_p - 1):
            out.append(np.sort(order[start : i + 1]))
            start, size = i + 1, 0
    return out


@dataclass(frozen=True)
class _Sub:
    problem: GapProblem
    k_idx: np.ndarray  # sub need -> need
    j_idx: np.ndarray  # sub candidate -> candidate


def _sub_problem(pb: GapProblem, p_idx: np.ndarray) -> _Sub:
    """The part of ``pb`` on the pairs ``p_idx``: their communities' needs and their candidates, re-indexed."""
    c_idx = np.unique(pb.pair_community[p_idx])
    j_idx = np.unique(pb.pair_candidate[p_idx])
    k_idx = np.flatnonzero(np.isin(pb.need_community, c_idx))
    sub = GapProblem(
        n_communities=len(c_idx),
        need_community=np.searchsorted(c_idx, pb.need_community[k_idx]),
        need_m2=pb.need_m2[k_idx],
        need_divisible=pb.need_divisible[k_idx],
        need_ground=pb.need_ground[k_idx],
        need_residents=pb.need_residents[k_idx],
        cand_m2=pb.cand_m2[j_idx],
        cand_cost_yuan=pb.cand_cost_yuan[j_idx],
        cand_ground_ok=pb.cand_ground_ok[j_idx],
        cand_parts=pb.cand_parts[j_idx],
        pair_community=np.searchsorted(c_idx, pb.pair_community[p_idx]),
        pair_candidate=np.searchsorted(j_idx, pb.pair_candidate[p_idx]),
        pair_walk_m=pb.pair_walk_m[p_idx],
    )
    return _Sub(sub, k_idx, j_idx)


def _stages(pb: GapProblem, en: _Entries, budget, time_limit_s: float) -> tuple[np.ndarray, bool]:
    """Variable values ``[w, u, v]`` of the four lexicographic stages, and whether each was proven optimal."""
    a, lo, hi, upper, integrality = _model(pb, en, budget)
    extra_rows: list[np.ndarray] = []
    extra_hi: list[float] = []
    extra_tol: list[float] = []
    optimal, x = True, None
    for c in _objectives(pb, en):
        res = None
        for widen in (1.0, 100.0, 10_000.0):  # the kept optimum of the stages before, with HiGHS' tolerances
            cons = [LinearConstraint(a, lo, hi)]
            if extra_rows:
                slack = np.array([t * widen for t in extra_tol])
                cons.append(LinearConstraint(np.vstack(extra_rows), -np.inf, np.asarray(extra_hi) + slack))
            res = milp(
                c,
                constraints=cons,
                integrality=integrality,
                bounds=(np.zeros(len(upper)), upper),
                options={"time_limit": float(time_limit_s), "mip_rel_gap": 1e-9, "disp": False},
            )
            if res.x is not None or res.status == 1:  # solved, or out of time
                break
        if res is None or res.x is None:  # no feasible point in time: keep the plan of the stage before
            optimal = False
            break
        optimal &= res.status == 0
        x = res.x
        extra_rows.append(c.reshape(1, -1))
        extra_hi.append(float(res.fun))
        extra_tol.append(1e-7 * abs(float(res.fun)) + 1e-4)
    return (np.zeros(a.shape[1]) if x is None else x), optimal


def _solution(pb: GapProblem, en: _Entries, x: np.ndarray, method, optimal, t0, budget) -> GapSolution:
    """The plan read from the variable values ``x`` = [w, u, v] (rounded: binaries at 0.5, m² to 1e-6)."""
    n_p, n_j = len(pb.pair_community), pb.n_candidates
    v = x[n_p + n_j :] if len(x) > n_p + n_j else np.zeros(len(en.need))
    # single-space needs at 0/1; m² to 0.01 (the stages' tolerances leave a few 1e-5 m² off either way), never above
    # the need, and what rounding up adds beyond a space's area taken off its largest share
    cm2 = np.round(np.where(v > _EPS, v, 0.0), 2)
    v = np.where(en.discrete, np.round(v), np.minimum(cm2, pb.need_m2[en.need]))
    area_used = np.bincount(en.cand, weights=np.where(en.discrete, en.area, 1.0) * v, minlength=pb.n_candidates)
    for jj in np.flatnonzero(area_used > pb.cand_m2 + 1e-9):
        e = np.flatnonzero((en.cand == jj) & ~en.discrete)
        if len(e):
            big = e[np.argmax(v[e])]
            v[big] = max(v[big] - (area_used[jj] - pb.cand_m2[jj]), 0.0)
    used_e = v > 0
    amount = np.where(en.discrete, en.area, 1.0) * v
    pair_used = np.zeros(n_p, bool)
    pair_used[en.pair[used_e]] = True
    cand_used = np.zeros(n_j, bool)
    cand_used[pb.pair_candidate[pair_used]] = True
    need_closed = np.bincount(en.need[used_e], weights=amount[used_e], minlength=pb.n_needs)
    share = np.bincount(en.need[used_e], weights=(en.share * v)[used_e], minlength=pb.n_needs)
    share = np.minimum(share, 1.0)
    return GapSolution(
        method=method,
        alloc_need=en.need[used_e],
        alloc_candidate=en.cand[used_e],
        alloc_pair=en.pair[used_e],
        alloc_m2=amount[used_e],
        need_closed_m2=need_closed,
        need_closed_share=share,
        cand_used=cand_used,
        pair_used=pair_used,
        closed_m2=float(need_closed.sum()),
        need_m2=float(pb.need_m2.sum()),
        residents_served=float((pb.need_residents * share).sum()),
        cost_yuan=float(pb.cand_cost_yuan[cand_used].sum()),
        walk_m=float(pb.pair_walk_m[pair_used].sum()),
        optimal=bool(optimal),
        seconds=time.perf_counter() - t0,
        budget_yuan=budget,
    )


def solve_greedy(problem: GapProblem, budget_yuan: float | None = None) -> GapSolution:
    """The planners' hand method, as the benchmark's peer: needs largest first (m²), each to the space already
    used by its community, else the cheapest per m² (yuan over the rent horizon), then the nearest (m).

    Same constraints as :func:`solve_exact`; no optimality claim.
    """
    GapPlanParams(budget_yuan).validate()
    t0 = time.perf_counter()
    pb, en = problem, _entries(problem)
    n_p, n_j = len(pb.pair_community), pb.n_candidates
    left = pb.cand_m2.astype(float).copy()
    parts_left = pb.cand_parts.astype(np.int64).copy()
    spent = 0.0
    budget = math.inf if budget_yuan is None else float(budget_yuan)
    w = np.zeros(n_p, bool)
    u = np.zeros(n_j, bool)
    v = np.zeros(len(en.need))
    by_need = np.argsort(en.need, kind="stable")
    starts = np.searchsorted(en.need[by_need], np.arange(pb.n_needs + 1))
    cost_m2 = pb.cand_cost_yuan / pb.cand_m2
    for k in np.argsort(-pb.need_m2, kind="stable"):
        es = by_need[starts[k] : starts[k + 1]]
        if not len(es):
            continue
        p, j = en.pair[es], en.cand[es]
        rank = np.lexsort((pb.pair_walk_m[p], np.where(w[p], 0.0, cost_m2[j]), ~w[p]))
        rest = pb.need_m2[k]
        for e, pp, jj in zip(es[rank], p[rank], j[rank]):
            if not w[pp] and parts_left[jj] < 1:
                continue
            extra = 0.0 if u[jj] else pb.cand_cost_yuan[jj]
            if spent + extra > budget + _EPS:
                continue
            take = min(rest, left[jj]) if pb.need_divisible[k] else (rest if left[jj] >= rest - _EPS else -1.0)
            if take < 0 or (pb.need_divisible[k] and take <= _EPS):
                continue
            v[e] = take if pb.need_divisible[k] else 1.0
            left[jj] -= take
            if not w[pp]:
                w[pp] = True
                parts_left[jj] -= 1
            if not u[jj]:
                u[jj] = True
                spent += extra
            rest -= take
            if not pb.need_divisible[k] or rest <= _EPS:
                break
    x = np.r_[w.astype(float), u.astype(float), v]
    return _solution(pb, en, x, "greedy", False, t0, budget_yuan)
