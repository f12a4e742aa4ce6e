"""Maximal covering siting: choose k new sites for one facility category (issue 3, "Siting").

Pure arrays: no database, no network, no geometry.  The caller (the coverage analysis) computes, with the
walking-network engine, which population units each candidate site would cover within the category's
threshold, and which units the existing facilities already cover; this module chooses the sites.

Problem (the maximal covering location problem, MCLP, Church & ReVelle 1974): given

- ``demand_weight``  w_i, residents of population unit i (i = 0 .. n_units-1),
- ``already_covered`` c_i, unit i is reached by an existing facility within the threshold (kept fixed),
- ``coverage``        A_ji = 1 when candidate site j reaches unit i within the threshold (walking metres),

choose at most ``k`` candidates S maximising the newly covered residents

    f(S) = sum over units i with c_i = False and A_ji = 1 for some j in S of w_i.

Two solvers:

- :func:`greedy_siting` -- greedy with lazy evaluation (CELF, Leskovec et al. 2007): a max-heap of upper
  bounds of each candidate's marginal gain; since f is monotone submodular a stale bound can only be too
  high, so only the popped candidate is re-evaluated.  Initial gains are one sparse matrix-vector product;
  a re-evaluation sums the still-uncovered weights over one CSR row.  Greedy reaches at least
  (1 - 1/e) ~ 63.2 % of the optimum (Nemhauser, Wolsey & Fisher 1978); in practice far closer, see
  ``docs/benchmarks.md``.
- :func:`exact_siting` -- the MCLP as a mixed-integer programme solved by HiGHS through
  :func:`scipy.optimize.milp` (no extra dependency); for small and medium instances and to measure the
  greedy gap (:func:`siting_gap_report`).

Conventions shared by both solvers
----------------------------------
- A pick is reported only when it adds residents: once no remaining candidate has a positive gain the
  greedy stops early (``stop_reason == "no_gain"``) and reports fewer than ``k`` picks; the exact solver
  drops chosen sites that add nothing.  Zero-gain sites would be arbitrary choices, so none are proposed.
- ``k`` larger than the number of candidates is allowed: at most every candidate is picked.
- Ties between equal gains go to the lowest candidate index (deterministic).
- Residents are floats (population units may carry fractional estimates); gains are in residents.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint, milp

from geo_service.core._errors import InputError
from geo_service.core.jsonvalues import plain

__all__ = [
    "GREEDY_BOUND",
    "SitingGapReport",
    "SitingResult",
    "coverage_from_pairs",
    "exact_siting",
    "greedy_siting",
    "siting_gap_report",
]

GREEDY_BOUND = 1.0 - 1.0 / math.e
"""Worst-case ratio greedy / optimum for monotone submodular maximisation under a cardinality constraint."""


@dataclass(frozen=True)
class SitingResult:
    """Chosen sites in pick order, with what each adds.

    Attributes
    ----------
    picks : np.ndarray of int64
        Row positions in ``coverage`` of the chosen candidates, in pick order.
    pick_ids : list
        The chosen candidates' ids (``candidate_ids`` as given, else the positions).
    gain_residents : np.ndarray of float64
        Marginal gain of each pick: residents newly covered by it, given the existing facilities and the
        earlier picks (all > 0).
    covered_residents : np.ndarray of float64
        Residents covered after each pick, existing facilities included (cumulative).
    covered_share : np.ndarray of float64
        ``covered_residents / total_residents`` (0..1; 0 when there are no residents).
    baseline_covered_residents : float
        Residents already covered by the existing facilities.
    total_residents : float
        Residents of all units.
    objective_residents : float
        Newly covered residents of the whole selection (``gain_residents.sum()``).
    k : int
        Number of sites requested.
    stop_reason : str
        ``"k_reached"``, ``"no_gain"`` (no remaining candidate adds residents) or
        ``"candidates_exhausted"`` (every candidate picked).
    method : str
        ``"greedy_lazy"`` or ``"milp"``.
    optimal : bool
        Proven optimal (the exact solver finished); False for greedy.
    evaluations : int
        Greedy: lazy gain re-evaluations after the first vectorised pass.  Exact: 0.
    seconds : float
        Solver wall time.
    """

    picks: np.ndarray
    pick_ids: list
    gain_residents: np.ndarray
    covered_residents: np.ndarray
    covered_share: np.ndarray
    baseline_covered_residents: float
    total_residents: float
    objective_residents: float
    k: int
    stop_reason: str
    method: str
    optimal: bool = False
    evaluations: int = 0
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)

    @property
    def final_covered_share(self) -> float:
        """Share of residents covered after all picks (existing facilities included)."""
        if self.total_residents <= 0:
            return 0.0
        return (self.baseline_covered_residents + self.objective_residents) / self.total_residents

    def to_dict(self) -> dict:
        """JSON-ready summary (for the API / stored analysis runs)."""
        return {
            "method": self.method,
            "k": self.k,
            "stop_reason": self.stop_reason,
            "optimal": self.optimal,
            "total_residents": self.total_residents,
            "baseline_covered_residents": self.baseline_covered_residents,
            "objective_residents": self.objective_residents,
            "final_covered_share": self.final_covered_share,
            "picks": [
                {
                    "order": n + 1,
                    "candidate": plain(pid),
                    "gain_residents": float(g),
                    "covered_residents": float(c),
                    "covered_share": float(s),
                }
                for n, (pid, g, c, s) in enumerate(
                    zip(self.pick_ids, self.gain_residents, self.covered_residents, self.covered_share)
                )
            ],
        }


@dataclass(frozen=True)
class SitingGapReport:
    """Greedy against the exact optimum on one instance.

    With ``best = max(exact, greedy)`` objective: ``gap_pct = 100 * (best - greedy) / best`` (0 when
    ``best`` is 0), ``ratio = greedy / best`` (1 when ``best`` is 0), ``within_bound``: ``ratio >= 1 - 1/e``.
    When the exact solver proved optimality, ``best`` is the optimum and ``gap_pct`` the true gap.  When it
    stopped at its time limit (``exact_optimal`` False), its incumbent may even be worse than greedy;
    then ``gap_pct`` is a lower bound of the true gap and ``gap_bound_pct``, against HiGHS' dual bound
    ``exact_bound_residents`` (an upper bound of the optimum), an upper bound; both coincide when optimal.
    """

    k: int
    greedy_objective_residents: float
    exact_objective_residents: float
    gap_pct: float
    ratio: float
    within_bound: bool
    exact_optimal: bool
    exact_bound_residents: float
    gap_bound_pct: float
    greedy_seconds: float
    exact_seconds: float
    greedy: SitingResult
    exact: SitingResult

    @property
    def time_ratio(self) -> float:
        """Exact time / greedy time."""
        return self.exact_seconds / max(self.greedy_seconds, 1e-9)


# --------------------------------------------------------------------------------------------------------
# input checking


def _bad(message: str, message_zh: str, **detail) -> InputError:
    return InputError(message, message_zh, **detail)


def _check_weights(demand_weight) -> np.ndarray:
    w = np.asarray(demand_weight)
    if w.ndim != 1:
        raise _bad(
            f"demand_weight must be one-dimensional (residents per unit), got shape {w.shape}",
            f"demand_weight 须为一维数组（每个人口单元的居民数），实际形状为 {w.shape}",
            field="demand_weight",
        )
    if w.dtype.kind not in "biuf":
        raise _bad(
            f"demand_weight must be numeric, got dtype {w.dtype}",
            f"demand_weight 须为数值，实际类型为 {w.dtype}",
            field="demand_weight",
        )
    w = w.astype(np.float64, copy=False)
    finite = np.isfinite(w)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise _bad(
            f"demand_weight has {bad.size} non-finite values (NaN or infinite), first at unit {int(bad[0])}",
            f"demand_weight 含 {bad.size} 个无效值（NaN 或无穷），第一个位于单元 {int(bad[0])}",
            field="demand_weight",
            units=bad[:20].tolist(),
        )
    if (w < 0).any():
        bad = np.flatnonzero(w < 0)
        raise _bad(
            f"demand_weight has {bad.size} negative values (residents cannot be negative), first at unit {int(bad[0])}",
            f"demand_weight 含 {bad.size} 个负值（居民数不能为负），第一个位于单元 {int(bad[0])}",
            field="demand_weight",
            units=bad[:20].tolist(),
        )
    return w


def _check_covered(already_covered, n_units: int) -> np.ndarray:
    if already_covered is None:
        return np.zeros(n_units, dtype=bool)
    c = np.asarray(already_covered)
    if c.shape != (n_units,):
        raise _bad(
            f"already_covered must have shape ({n_units},) like demand_weight, got {c.shape}",
            f"already_covered 的形状须与 demand_weight 一致，为 ({n_units},)，实际为 {c.shape}",
            field="already_covered",
        )
    if c.dtype == bool:
        return c
    if c.dtype.kind not in "biuf" or not np.isin(c, (0, 1)).all():
        raise _bad(
            "already_covered must be booleans (or 0/1)",
            "already_covered 须为布尔值（或 0/1）",
            field="already_covered",
        )
    return c.astype(bool)


def _check_coverage(coverage, n_units: int) -> sp.csr_array:
    """Binary CSR (int8 data all 1, canonical: sorted, no duplicates, no explicit zeros); a copy."""
    if not sp.issparse(coverage):
        raise _bad(
            "coverage must be a scipy.sparse matrix (candidates x units, 1 where the candidate reaches the unit)",
            "coverage 须为 scipy.sparse 稀疏矩阵（候选点 × 人口单元，可达处为 1）",
            field="coverage",
            got=type(coverage).__name__,
        )
    if coverage.ndim != 2 or coverage.shape[1] != n_units:
        raise _bad(
            f"coverage must have shape (n_candidates, {n_units}), got {coverage.shape}",
            f"coverage 的形状须为 (候选点数, {n_units})，实际为 {coverage.shape}",
            field="coverage",
        )
    a = sp.csr_array(coverage, copy=True)
    data = a.data
    if data.dtype != bool:
        if data.dtype.kind not in "biuf":
            raise _bad(
                f"coverage must hold booleans or 0/1, got dtype {data.dtype}",
                f"coverage 须为布尔值或 0/1，实际类型为 {data.dtype}",
                field="coverage",
            )
        if not np.isfinite(data).all():
            raise _bad(
                "coverage has NaN or infinite entries",
                "coverage 含 NaN 或无穷值",
                field="coverage",
            )
        if not np.isin(data, (0, 1)).all():
            raise _bad(
                "coverage entries must be 0 or 1 (apply the walking threshold first, e.g. coverage_from_pairs)",
                "coverage 的元素须为 0 或 1（请先按步行距离阈值转换，例如用 coverage_from_pairs）",
                field="coverage",
            )
    a.sum_duplicates()  # canonical: duplicate (j, i) entries merged, indices sorted
    a.data = (a.data != 0).astype(np.int8)
    a.eliminate_zeros()
    return a


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise _bad(
            f"k must be a non-negative integer, got {k!r}",
            f"k 须为非负整数，实际为 {k!r}",
            field="k",
        )
    return int(k)


def _check_ids(candidate_ids, n_candidates: int) -> list | None:
    if candidate_ids is None:
        return None
    ids = list(candidate_ids)
    if len(ids) != n_candidates:
        raise _bad(
            f"candidate_ids has {len(ids)} entries for {n_candidates} candidates (rows of coverage)",
            f"candidate_ids 有 {len(ids)} 个，但候选点（coverage 的行）有 {n_candidates} 个",
            field="candidate_ids",
        )
    return ids


def _prepare(demand_weight, already_covered, coverage, k, candidate_ids):
    w = _check_weights(demand_weight)
    covered = _check_covered(already_covered, w.size)
    a = _check_coverage(coverage, w.size)
    k = _check_k(k)
    ids = _check_ids(candidate_ids, a.shape[0])
    return w, covered, a, k, ids


def coverage_from_pairs(
    candidate_idx,
    unit_idx,
    walk_m,
    threshold_m: float,
    n_candidates: int,
    n_units: int,
) -> sp.csr_array:
    """Build the candidate x unit coverage relation from reachable pairs.

    Pairs are passed as coordinate arrays so that a walking distance of 0 m is kept (a sparse matrix of
    distances would drop it).  A pair covers when ``walk_m <= threshold_m`` (inclusive: a unit exactly at
    the threshold is covered, as in the life-circle coverage).

    Parameters
    ----------
    candidate_idx, unit_idx : array_like of int, shape (n_pairs,)
        Row (candidate) and column (unit) positions.
    walk_m : array_like of float, shape (n_pairs,)
        Walking distance of each pair, metres (>= 0).
    threshold_m : float
        Walking threshold, metres.
    n_candidates, n_units : int
        Shape of the result.

    Returns
    -------
    scipy.sparse.csr_array of int8, shape (n_candidates, n_units)
    """
    cand = np.asarray(candidate_idx)
    unit = np.asarray(unit_idx)
    d = np.asarray(walk_m, dtype=np.float64)
    if not (cand.ndim == unit.ndim == d.ndim == 1 and cand.size == unit.size == d.size):
        raise _bad(
            "candidate_idx, unit_idx and walk_m must be one-dimensional arrays of the same length",
            "candidate_idx、unit_idx 与 walk_m 须为等长的一维数组",
            field="pairs",
        )
    if cand.size and (cand.dtype.kind not in "iu" or unit.dtype.kind not in "iu"):
        raise _bad("pair indices must be integers", "配对索引须为整数", field="pairs")
    if cand.size and (cand.min() < 0 or cand.max() >= n_candidates or unit.min() < 0 or unit.max() >= n_units):
        raise _bad("pair index out of range", "配对索引超出范围", field="pairs")
    if not np.isfinite(d).all() or (d < 0).any():
        raise _bad(
            "walk_m must be finite and non-negative (metres)",
            "walk_m 须为有限的非负数（米）",
            field="walk_m",
        )
    if not (np.isfinite(threshold_m) and threshold_m >= 0):
        raise _bad(
            "threshold_m must be a non-negative number (metres)", "threshold_m 须为非负数（米）", field="threshold_m"
        )
    keep = d <= threshold_m
    a = sp.coo_array(
        (np.ones(int(keep.sum()), dtype=np.int8), (cand[keep], unit[keep])), shape=(n_candidates, n_units)
    ).tocsr()
    a.sum_duplicates()
    a.data[:] = 1
    return a


# --------------------------------------------------------------------------------------------------------
# solvers


def _result(picks, gains, ids, total, baseline, k, stop_reason, method, optimal, evaluations, seconds, detail=None):
    picks = np.asarray(picks, dtype=np.int64)
    gains = np.asarray(gains, dtype=np.float64)
    covered = baseline + np.cumsum(gains)
    share = covered / total if total > 0 else np.zeros_like(covered)
    pick_ids = [ids[p] for p in picks] if ids is not None else picks.tolist()
    return SitingResult(
        picks=picks,
        pick_ids=pick_ids,
        gain_residents=gains,
        covered_residents=covered,
        covered_share=share,
        baseline_covered_residents=float(baseline),
        total_residents=float(total),
        objective_residents=float(gains.sum()),
        k=k,
        stop_reason=stop_reason,
        method=method,
        optimal=optimal,
        evaluations=evaluations,
        seconds=seconds,
        detail=detail or {},
    )


def _greedy_core(w_open: np.ndarray, a: sp.csr_array, k: int):
    """CELF on residual weights ``w_open`` (modified in place). Returns picks, gains, stop_reason, evaluations."""
    n_cand = a.shape[0]
    indptr, indices = a.indptr, a.indices
    gains0 = a @ w_open  # one sparse mat-vec: every candidate's first gain
    # heap of (-upper_bound, candidate, round_evaluated); only candidates that can add anything
    pos = np.flatnonzero(gains0 > 0)
    heap = list(zip((-gains0[pos]).tolist(), pos.tolist(), [0] * pos.size))
    heapq.heapify(heap)
    picks: list[int] = []
    gains: list[float] = []
    evaluations = 0
    while len(picks) < k:
        if not heap:
            stop = "candidates_exhausted" if len(picks) == n_cand else "no_gain"
            return picks, gains, stop, evaluations
        neg_bound, j, rnd = heap[0]
        if rnd == len(picks):  # bound is fresh: j is the best candidate
            heapq.heappop(heap)
            row = indices[indptr[j] : indptr[j + 1]]
            picks.append(j)
            gains.append(-neg_bound)
            w_open[row] = 0.0
            continue
        row = indices[indptr[j] : indptr[j + 1]]
        g = float(w_open[row].sum())
        evaluations += 1
        if g > 0:
            heapq.heapreplace(heap, (-g, j, len(picks)))
        else:
            heapq.heappop(heap)  # can never add anything again (gains only shrink)
    return picks, gains, "k_reached", evaluations


def greedy_siting(
    demand_weight,
    already_covered,
    coverage,
    k: int,
    candidate_ids: Sequence | None = None,
) -> SitingResult:
    """Choose up to ``k`` sites greedily with lazy evaluation (CELF).

    Parameters
    ----------
    demand_weight : array_like of float, shape (n_units,)
        Residents per population unit (>= 0, finite).
    already_covered : array_like of bool, shape (n_units,), or None
        True where an existing facility of the category reaches the unit within the walking threshold
        (those residents count as covered and add nothing). None = no existing facility.
    coverage : scipy.sparse matrix, shape (n_candidates, n_units)
        Entry (j, i) is 1 (or True) when candidate site j reaches unit i within the walking threshold
        (see :func:`coverage_from_pairs`); other entries 0 / absent.
    k : int
        Number of new sites wanted (>= 0; may exceed the number of candidates).
    candidate_ids : sequence, optional
        Ids of the candidates (rows of ``coverage``), reported in ``pick_ids``.

    Returns
    -------
    SitingResult
        Picks in order with each pick's marginal gain (residents); fewer than ``k`` picks when no remaining
        candidate adds residents (``stop_reason``).

    Raises
    ------
    geo_service.core._errors.InputError
        Shapes disagree, negative / NaN residents, non-binary coverage, negative k.

    Notes
    -----
    Equal to plain greedy (argmax of the marginal gain each round, ties to the lowest index) but each round
    re-evaluates only the candidates popped from the heap.  Cost: one sparse mat-vec (nnz) plus, per
    re-evaluation, one CSR row.
    """
    w, covered, a, k, ids = _prepare(demand_weight, already_covered, coverage, k, candidate_ids)
    t0 = time.perf_counter()
    total = float(w.sum())
    baseline = float(w[covered].sum())
    w_open = np.where(covered, 0.0, w)
    picks, gains, stop, evaluations = _greedy_core(w_open, a, k)
    seconds = time.perf_counter() - t0
    return _result(picks, gains, ids, total, baseline, k, stop, "greedy_lazy", False, evaluations, seconds)


def exact_siting(
    demand_weight,
    already_covered,
    coverage,
    k: int,
    candidate_ids: Sequence | None = None,
    *,
    time_limit_s: float | None = 60.0,
    mip_rel_gap: float = 0.0,
) -> SitingResult:
    """Solve the MCLP exactly as a MILP with HiGHS (:func:`scipy.optimize.milp`).

    Formulation, on the units that matter (not covered yet, residents > 0, reachable by some candidate)::

        max  sum_i w_i y_i
        s.t. y_i <= sum_{j : A_ji = 1} x_j     for each such unit i
             sum_j x_j <= k
             x_j in {0, 1},  0 <= y_i <= 1

    (y may stay continuous: for integral x the optimum sets y_i = min(1, sum_j A_ji x_j), which is 0/1.)

    The chosen sites are reported in greedy order within the set (largest marginal gain first), so
    ``gain_residents`` reads like the greedy result; sites that add nothing are dropped.

    Parameters
    ----------
    demand_weight, already_covered, coverage, k, candidate_ids
        As in :func:`greedy_siting`.
    time_limit_s : float or None
        HiGHS time limit, seconds (None: none).  When it is hit the best solution found is returned with
        ``optimal=False``.
    mip_rel_gap : float
        Relative MIP gap at which HiGHS may stop (0 = prove optimality).

    Returns
    -------
    SitingResult
        ``method == "milp"``; ``optimal`` tells whether optimality was proven; ``detail`` holds HiGHS'
        status message, the solver's objective and dual bound.
    """
    w, covered, a, k, ids = _prepare(demand_weight, already_covered, coverage, k, candidate_ids)
    t0 = time.perf_counter()
    total = float(w.sum())
    baseline = float(w[covered].sum())
    w_open = np.where(covered, 0.0, w)
    n_cand = a.shape[0]
    k_eff = min(k, n_cand)
    reach = (a.T @ np.ones(n_cand)) > 0
    units = np.flatnonzero(reach & (w_open > 0))
    detail: dict = {}
    if k_eff == 0 or units.size == 0:
        chosen = np.zeros(0, dtype=np.int64)
        optimal = True
        detail["message"] = "trivial: nothing to gain"
    else:
        sub = sp.csc_array(a[:, units])  # candidates x relevant units
        n_u = units.size
        # rows 0..n_u-1: y_i - sum_j A_ji x_j <= 0 ; last row: sum_j x_j <= k
        cover_rows = sp.hstack([-sub.T, sp.eye_array(n_u)], format="csr")
        card_row = sp.hstack([sp.csr_array(np.ones((1, n_cand))), sp.csr_array((1, n_u))], format="csr")
        a_ub = sp.vstack([cover_rows, card_row], format="csr")
        ub = np.concatenate([np.zeros(n_u), [k_eff]])
        c = np.concatenate([np.zeros(n_cand), -w_open[units]])
        integrality = np.concatenate([np.ones(n_cand), np.zeros(n_u)])
        options = {"mip_rel_gap": mip_rel_gap}
        if time_limit_s is not None:
            options["time_limit"] = float(time_limit_s)
        res = milp(
            c,
            constraints=LinearConstraint(a_ub, -np.inf, ub),
            integrality=integrality,
            bounds=(0, 1),
            options=options,
        )
        detail.update(status=int(res.status), message=str(res.message))
        optimal = res.status == 0
        if res.x is None:  # time limit before any feasible point: report nothing chosen, not optimal
            chosen = np.zeros(0, dtype=np.int64)
        else:
            detail["milp_objective_residents"] = float(-res.fun)
            chosen = np.flatnonzero(res.x[:n_cand] > 0.5)
        if getattr(res, "mip_dual_bound", None) is not None and np.isfinite(res.mip_dual_bound):
            detail["dual_bound_residents"] = float(-res.mip_dual_bound)
    # order the chosen sites greedily within the set, recomputing gains from the coverage itself
    sub_rows = a[chosen] if chosen.size else sp.csr_array((0, a.shape[1]), dtype=np.int8)
    order_picks, order_gains, _, _ = _greedy_core(w_open.copy(), sp.csr_array(sub_rows), chosen.size)
    picks = chosen[np.asarray(order_picks, dtype=np.int64)] if order_picks else np.zeros(0, dtype=np.int64)
    if len(picks) == k:
        stop = "k_reached"
    elif len(picks) == n_cand:
        stop = "candidates_exhausted"
    else:
        stop = "no_gain"
    seconds = time.perf_counter() - t0
    return _result(picks, order_gains, ids, total, baseline, k, stop, "milp", optimal, 0, seconds, detail)


def siting_gap_report(
    demand_weight,
    already_covered,
    coverage,
    k: int,
    candidate_ids: Sequence | None = None,
    *,
    time_limit_s: float | None = 60.0,
) -> SitingGapReport:
    """Run :func:`greedy_siting` and :func:`exact_siting` on one instance and compare their objectives.

    Returns
    -------
    SitingGapReport
        Objectives in residents, ``gap_pct`` (how far greedy is below the optimum, percent), the ratio and
        whether it honours the (1 - 1/e) bound, and both solvers' times.  If the exact solver hit its time
        limit (``exact_optimal`` False) the true gap lies between ``gap_pct`` and ``gap_bound_pct``.
    """
    greedy = greedy_siting(demand_weight, already_covered, coverage, k, candidate_ids)
    exact = exact_siting(demand_weight, already_covered, coverage, k, candidate_ids, time_limit_s=time_limit_s)
    g, e = greedy.objective_residents, exact.objective_residents
    best = max(e, g)
    if best > 0:
        ratio = g / best
        gap = 100.0 * (best - g) / best
    else:
        ratio, gap = 1.0, 0.0
    if exact.optimal:
        bound = e
    else:  # HiGHS' dual bound, or the greedy guarantee optimum <= greedy / (1 - 1/e), whichever is tighter
        bound = max(best, min(exact.detail.get("dual_bound_residents", math.inf), g / GREEDY_BOUND))
    gap_bound = 100.0 * (bound - g) / bound if bound > 0 else 0.0
    return SitingGapReport(
        k=greedy.k,
        greedy_objective_residents=g,
        exact_objective_residents=e,
        gap_pct=gap,
        ratio=ratio,
        within_bound=ratio >= GREEDY_BOUND - 1e-12,
        exact_optimal=exact.optimal,
        exact_bound_residents=bound,
        gap_bound_pct=gap_bound,
        greedy_seconds=greedy.seconds,
        exact_seconds=exact.seconds,
        greedy=greedy,
        exact=exact,
    )
