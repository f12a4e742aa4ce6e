"""Assignment of residents to emergency shelters (a transportation / min-cost-flow problem).

Pure arrays: no database, no network, no geometry.  The caller computes, with the walking-network
engine, which (population unit, shelter) pairs lie within the shelter class's walking limit and how far
each pair walks; this module decides how many residents of each unit go to which shelter.

Input, shared by every function (all positions are 0-based):

- ``n_units``, ``n_shelters``: number of population units and of shelters;
- ``pair_unit``, ``pair_shelter`` (int arrays, same length): the candidate pairs;
- ``pair_walk_m`` (float array): walking distance of each pair, metres (finite, >= 0).  A pair listed
  twice keeps its shortest distance;
- ``demand`` (int array, ``n_units``): residents of each unit to place, persons, >= 0;
- ``capacity`` (int array, ``n_shelters``): persons each shelter holds, >= 0.

Three solvers:

- :func:`assign_exact` -- the lexicographic optimum: first the largest number of persons placed (no
  assignment places more), then, among those, the least total walking (person-metres).  Exact and
  integral.  The pair graph is split into connected components.  Components where nobody has to move (no
  shelter over capacity when every unit takes its nearest shelter) and components with a single shelter or
  a single unit (filled nearest first, which is optimal there) are solved directly.  The rest:

  1. OR-tools' min-cost flow (``SimpleMinCostFlow.solve_max_flow_with_min_cost``, C++: a maximum flow,
     then the cheapest of the maximum flows by cost scaling) on source -> unit (demand) -> shelter (pair)
     -> sink (capacity), walks as whole micrometres (integer costs; whole millimetres if micrometres would
     overflow).  Exact for the rounded walks, so the total walking is within placed persons x 1 micrometre
     of the optimum for the walks as given;
  2. the number placed is checked against an independent integer maximum flow
     (:func:`scipy.sparse.csgraph.maximum_flow`), P*, and the result against demand and capacity.

  About 0.2 s for the 55,000 pairs of the sample city at scale 4, where one LP per congested group
  (HiGHS dual simplex, the method before) took 3.2 s.  If the solver ever failed (status, overflow, P*), the
  components are solved whole by the LP ``min sum w x`` s.t. unit rows <= demand, shelter rows <= capacity,
  sum x = P* (HiGHS dual simplex, :func:`scipy.optimize.linprog`; the constraint matrix is totally
  unimodular, so the simplex vertex is integral; it is rounded and re-checked).
- :func:`assign_nearest_first` -- the capacity-aware greedy planners use by hand: pairs in increasing
  walking distance (ties by unit, then shelter position), each getting min(remaining demand, remaining
  capacity).  It strands residents whom the exact assignment places.  The sequential greedy is computed in
  vectorised rounds: a pair whose unit and shelter have no earlier live pair is processed in the same round
  as every other such pair (their outcomes cannot depend on each other), exactly as the sequential loop
  would; the few pairs left after the rounds stop paying off are finished by the plain loop.
- :func:`nearest_loads` -- everyone walks to the nearest shelter within the limit, ignoring capacity: the
  load each shelter would see (to flag shelters over capacity).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse import csgraph

from geo_service.core._errors import InputError

METHOD_EXACT = "exact_min_cost_flow"
METHOD_NEAREST_FIRST = "nearest_first"
# A simplex vertex of a totally unimodular system is integral up to floating-point noise.
INTEGRALITY_TOL = 1e-6
_INT32_MAX = np.iinfo(np.int32).max
# nearest-first: rounds continue while they process at least this share of the live pairs (and more
# than _LOOP_BELOW pairs are live); the rest goes through the sequential loop.
_ROUND_MIN_SHARE = 1e-3
_LOOP_BELOW = 2_000
# exact: walks go to the min-cost-flow solver as whole numbers of these units, metres (the first that fits)
_COST_UNITS_M = (1e-6, 1e-3)
# exact: the solver's costs are 64-bit integers; stay well below their range
_COST_LIMIT = 2.0**60
# exact, fallback LP: pairs per LP (whole components are batched up to about this size)
_LP_BATCH = 2_000


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class ShelterAssignment:
    """Residents sent from population units to shelters.

    Attributes
    ----------
    unit, shelter : int64 arrays
        One row per (unit position, shelter position) pair carrying persons, sorted by unit then shelter.
    persons : int64 array
        Persons sent along the pair (> 0).
    walk_m : float64 array
        Walking distance of the pair, metres.
    placed : int64 array (n_units,)
        Persons of each unit placed in some shelter.
    unplaced : int64 array (n_units,)
        ``demand - placed``: persons of each unit without a shelter place.
    load : int64 array (n_shelters,)
        Persons assigned to each shelter (<= its capacity).
    method : str
        ``"exact_min_cost_flow"`` or ``"nearest_first"``.
    """

    unit: np.ndarray
    shelter: np.ndarray
    persons: np.ndarray
    walk_m: np.ndarray
    placed: np.ndarray
    unplaced: np.ndarray
    load: np.ndarray
    method: str

    @property
    def total_placed(self) -> int:
        """Persons placed, all units."""
        return int(self.placed.sum())

    @property
    def total_unplaced(self) -> int:
        """Persons without a shelter place, all units."""
        return int(self.unplaced.sum())

    @property
    def person_walk_m(self) -> float:
        """Total walking of the placed persons, person-metres (sum of persons x walk_m)."""
        return float(np.dot(self.persons.astype(np.float64), self.walk_m))

    @property
    def mean_walk_m(self) -> float:
        """Mean walking distance of a placed person, metres (NaN when nobody is placed)."""
        total = self.total_placed
        return self.person_walk_m / total if total else float("nan")


# ----------------------------------------------------------------------------- input checks
@dataclass(frozen=True)
class _Pairs:
    n_units: int
    n_shelters: int
    unit: np.ndarray  # int64, unique (unit, shelter) pairs, sorted by unit, then shelter
    shelter: np.ndarray
    walk: np.ndarray  # float64, metres
    demand: np.ndarray | None  # int64 (n_units,)
    capacity: np.ndarray | None  # int64 (n_shelters,)


def _count(value, name: str, name_zh: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(
            f"{name} must be a non-negative integer, got {value!r}",
            f"{name_zh}必须为非负整数（收到 {value!r}）",
            field=name,
        )
    return int(value)


def _int_array(values, name: str, name_zh: str, length: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (length is not None and arr.shape[0] != length):
        want = "a 1-D array" if length is None else f"a 1-D array of length {length}"
        want_zh = "一维数组" if length is None else f"长度为 {length} 的一维数组"
        raise InputError(
            f"{name} must be {want}, got shape {arr.shape}",
            f"{name_zh}必须为{want_zh}（实际形状 {arr.shape}）",
            field=name,
        )
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(f"{name} must hold whole numbers", f"{name_zh}必须为整数", field=name)
        if np.abs(arr).max() > 2.0**62:
            raise InputError(f"{name} holds values too large", f"{name_zh}的数值过大", field=name)
        return arr.astype(np.int64)
    raise InputError(
        f"{name} must hold integers, got dtype {arr.dtype}", f"{name_zh}必须为整数（实际类型 {arr.dtype}）", field=name
    )


def _non_negative(arr: np.ndarray, name: str, name_zh: str) -> None:
    if arr.size and arr.min() < 0:
        bad = np.flatnonzero(arr < 0)
        raise InputError(
            f"{name} must be >= 0 ({bad.size} negative values, first at position {int(bad[0])})",
            f"{name_zh}不能为负数（共 {bad.size} 个负值，第一个位于序号 {int(bad[0])}）",
            field=name,
            positions=bad[:20].tolist(),
        )


def _prepare(
    n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity, *, need_capacity: bool = True
) -> _Pairs:
    """Validate the input and merge duplicate pairs (shortest walk kept)."""
    nu = _count(n_units, "n_units", "人口单元数")
    ns = _count(n_shelters, "n_shelters", "避难场所数")
    pu = _int_array(pair_unit, "pair_unit", "配对的人口单元序号")
    ps = _int_array(pair_shelter, "pair_shelter", "配对的避难场所序号")
    pw = np.asarray(pair_walk_m)
    if pw.ndim != 1 or pw.shape[0] != pu.shape[0] or ps.shape[0] != pu.shape[0]:
        raise InputError(
            f"pair_unit, pair_shelter and pair_walk_m must be 1-D arrays of the same length "
            f"(got {pu.shape[0]}, {ps.shape[0]}, shape {pw.shape})",
            "配对的人口单元序号、避难场所序号和步行距离必须为等长的一维数组"
            f"（实际为 {pu.shape[0]}、{ps.shape[0]}、形状 {pw.shape}）",
        )
    if pw.size and pw.dtype.kind not in "iuf":
        raise InputError(
            f"pair_walk_m must be numbers, got dtype {pw.dtype}",
            f"步行距离必须为数值（实际类型 {pw.dtype}）",
            field="pair_walk_m",
        )
    pw = pw.astype(np.float64, copy=False)
    if pw.size:
        if not np.all(np.isfinite(pw)):
            bad = np.flatnonzero(~np.isfinite(pw))
            raise InputError(
                f"pair_walk_m must be finite ({bad.size} NaN/inf values, first at pair {int(bad[0])})",
                f"步行距离不能为空值或无穷大（共 {bad.size} 个，第一个位于第 {int(bad[0])} 个配对）",
                field="pair_walk_m",
                positions=bad[:20].tolist(),
            )
        _non_negative(pw, "pair_walk_m", "步行距离")
        for arr, n, name, name_zh in (
            (pu, nu, "pair_unit", "配对的人口单元序号"),
            (ps, ns, "pair_shelter", "配对的避难场所序号"),
        ):
            out = (arr < 0) | (arr >= n)
            if out.any():
                bad = np.flatnonzero(out)
                raise InputError(
                    f"{name} must lie in 0..{n - 1} ({bad.size} out of range, first at pair {int(bad[0])})",
                    f"{name_zh}必须在 0..{n - 1} 范围内（共 {bad.size} 个越界，第一个位于第 {int(bad[0])} 个配对）",
                    field=name,
                    positions=bad[:20].tolist(),
                )
    d = _int_array(demand, "demand", "各人口单元需安置人数", nu)
    _non_negative(d, "demand", "各人口单元需安置人数")
    c = None
    if need_capacity:
        c = _int_array(capacity, "capacity", "各避难场所容量（人）", ns)
        _non_negative(c, "capacity", "各避难场所容量（人）")
    # sorted by unit, then shelter; of a pair listed twice the shortest is kept
    if pu.size > 1:
        key = pu * max(ns, 1) + ps
        order = np.argsort(key, kind="stable")
        key = key[order]
        dup = key[1:] == key[:-1]
        if dup.any():
            order = order[np.lexsort((pw[order], key))]
            first = np.ones(order.size, dtype=bool)
            first[1:] = ~dup
            order = order[first]
        pu, ps, pw = pu[order], ps[order], pw[order]
    return _Pairs(nu, ns, pu, ps, pw, d, c)


# ----------------------------------------------------------------------------- helpers
def _nearest_pair(unit: np.ndarray, walk: np.ndarray, n_units: int) -> np.ndarray:
    """Per unit the index of its nearest pair, -1 without pairs.

    The pairs must be sorted by unit, then shelter (as :func:`_prepare` leaves them), so that ties go to
    the lowest shelter position.
    """
    best = np.full(n_units, -1, dtype=np.int64)
    if unit.size:
        start = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
        low = np.minimum.reduceat(walk, start)
        count = np.diff(np.append(start, unit.size))
        at_min = np.flatnonzero(walk == np.repeat(low, count))
        first = np.r_[True, unit[at_min[1:]] != unit[at_min[:-1]]]
        best[unit[at_min[first]]] = at_min[first]
    return best


def _result(p: _Pairs, pair: np.ndarray, persons: np.ndarray, method: str) -> ShelterAssignment:
    """The assignment from persons per pair (``pair``: increasing indices into ``p``'s pairs)."""
    keep = persons > 0
    pair, persons = pair[keep], persons[keep].astype(np.int64)
    unit, shelter = p.unit[pair], p.shelter[pair]  # sorted by unit, then shelter, like the pairs
    placed = np.bincount(unit, weights=persons, minlength=p.n_units).astype(np.int64)
    load = np.bincount(shelter, weights=persons, minlength=p.n_shelters).astype(np.int64)
    unplaced = p.demand - placed
    # the solvers' invariants, checked on every result (sums of persons stay exact in float64 below 2**53)
    if (unplaced < 0).any() or (load > p.capacity).any():
        raise AssertionError("shelter assignment violates demand or capacity")
    return ShelterAssignment(unit, shelter, persons, p.walk[pair], placed, unplaced, load, method)


def _fill_stars(order: np.ndarray, comp: np.ndarray, budget_of_comp: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Fill each component's budget from its pairs in ``order`` (nearest first).

    ``order`` lists pair indices sorted by component, then walk; ``amount`` is the most each pair can take
    (the leaf's demand or capacity), ``budget_of_comp`` the centre's capacity or demand.  Returns the
    persons per pair, in ``order``.
    """
    a = amount[order]
    c = comp[order]
    csum = np.cumsum(a)
    start = np.ones(c.size, dtype=bool)
    start[1:] = c[1:] != c[:-1]
    before_comp = np.repeat((csum - a)[start], np.diff(np.append(np.flatnonzero(start), c.size)))
    before = csum - a - before_comp
    return np.clip(budget_of_comp[c] - before, 0, a)


# ----------------------------------------------------------------------------- exact
def assign_exact(n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity) -> ShelterAssignment:
    """Place the most residents possible, then walk the least: the exact (lexicographic) optimum.

    Parameters
    ----------
    n_units, n_shelters : int
        Number of population units and of shelters.
    pair_unit, pair_shelter : int arrays
        Candidate pairs, positions (0-based); only pairs within the walking limit.
    pair_walk_m : float array
        Walking distance of each pair, metres; a pair listed twice keeps the shortest.
    demand : int array (n_units,)
        Residents of each unit to place, persons (>= 0).
    capacity : int array (n_shelters,)
        Persons each shelter holds (>= 0).

    Returns
    -------
    ShelterAssignment
        ``method == "exact_min_cost_flow"``.  No other assignment places more persons (checked against an
        integer maximum flow); among those placing as many, none walks fewer person-metres (up to the
        rounding of walks to whole micrometres: at most a micrometre per placed person).

    Raises
    ------
    InputError
        Bad shapes, negative or non-integer demand/capacity, NaN/negative walks, positions out of range.
    """
    p = _prepare(n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity)
    d, c = p.demand, p.capacity
    live = np.flatnonzero((d[p.unit] > 0) & (c[p.shelter] > 0))
    u, s, w = p.unit[live], p.shelter[live], p.walk[live]
    m = u.size
    persons = np.zeros(m, dtype=np.int64)
    if m == 0:
        return _result(p, live, persons, METHOD_EXACT)

    # components of the bipartite pair graph (units 0..nu-1, shelters nu..nu+ns-1)
    nu = p.n_units
    g = sparse.csr_matrix((np.ones(m, dtype=np.int8), (u, nu + s)), shape=(nu + p.n_shelters,) * 2)
    n_comp, label = csgraph.connected_components(g, directed=False)
    comp = label[u]
    comp_units = np.bincount(label[np.unique(u)], minlength=n_comp)
    comp_shelters = np.bincount(label[nu + np.unique(s)], minlength=n_comp)

    # (a) no shelter over capacity when every unit takes its nearest shelter
    near = _nearest_pair(u, w, nu)
    near = near[near >= 0]
    near_load = np.bincount(s[near], weights=d[u[near]], minlength=p.n_shelters)
    over = near_load > c
    comp_over = np.zeros(n_comp, dtype=bool)
    comp_over[label[nu + np.flatnonzero(over)]] = True
    easy = ~comp_over[comp[near]]
    persons[near[easy]] = d[u[near[easy]]]
    solved = ~comp_over[comp]

    # (b) one shelter (or one unit) in the component: fill nearest first
    star_s = ~solved & (comp_shelters[comp] == 1)
    star_u = ~solved & ~star_s & (comp_units[comp] == 1)
    # the centre's capacity (or demand) is filled from its leaves' demands (or capacities), nearest first
    for star, budget_of_pair, leaf, leaf_amount in ((star_s, c[s], u, d[u]), (star_u, d[u], s, c[s])):
        idx = np.flatnonzero(star)
        if idx.size:
            order = idx[np.lexsort((leaf[idx], w[idx], comp[idx]))]
            budget = np.zeros(n_comp, dtype=np.int64)
            budget[comp[idx]] = budget_of_pair[idx]
            persons[order] = _fill_stars(order, comp, budget, leaf_amount)
    solved |= star_s | star_u

    # (c) the rest: max flow, then the min-cost LP
    rest = np.flatnonzero(~solved)
    if rest.size:
        persons[rest] = _min_cost_max_flow(u[rest], s[rest], w[rest], comp[rest], d, c)
    return _result(p, live, persons, METHOD_EXACT)


def _min_cost_max_flow(
    u: np.ndarray, s: np.ndarray, w: np.ndarray, comp: np.ndarray, demand: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Integral flow per pair (``u``, ``s`` global positions, ``comp`` component labels): the most persons,
    then the least sum of ``w * x``.

    The network source -> unit (its demand) -> shelter (the pair, at most min(demand, capacity)) -> shelter
    -> sink (its capacity) is solved by OR-tools' min-cost flow (``solve_max_flow_with_min_cost``: a maximum
    flow, then the cheapest among the maximum flows by cost scaling), walks as whole micrometres (whole
    millimetres if micrometres would overflow its 64-bit costs).  The number placed is checked against an
    independent integer maximum flow (:func:`scipy.sparse.csgraph.maximum_flow`), P*.  If the solver failed
    or that check did not hold (never seen), every component is solved whole by the LP with the row sum
    x = P* (HiGHS dual simplex).
    """
    units, ui = np.unique(u, return_inverse=True)
    shelters, si = np.unique(s, return_inverse=True)
    d = demand[units]
    total = int(d.sum())
    if total > _INT32_MAX:
        raise InputError(
            f"more than {_INT32_MAX} persons in one connected group of units and shelters",
            f"同一组相互可达的人口单元和避难场所中需安置人数超过 {_INT32_MAX}，无法计算",
        )
    cap = np.minimum(capacity[shelters], total)
    unit_flow = _max_flow_per_unit(ui, si, d, cap)
    for cost_unit_m in _COST_UNITS_M:
        x = _network_flow(ui, si, w, d, cap, cost_unit_m)
        if x is not None and int(x.sum()) == int(unit_flow.sum()):
            return x
    # fallback: whole components, sum row = P*
    comps, ci = np.unique(comp, return_inverse=True)
    unit_comp = np.zeros(units.size, dtype=np.int64)
    unit_comp[ui] = ci
    p_star = np.bincount(unit_comp, weights=unit_flow, minlength=comps.size).astype(np.int64)
    x = np.zeros(u.size, dtype=np.int64)
    order = np.argsort(ci, kind="stable")
    for lo, hi in _batches(ci[order], _LP_BATCH):
        idx = order[lo:hi]
        target = int(p_star[np.unique(ci[idx])].sum())
        x[idx] = _solve_sum_row(ui[idx], si[idx], w[idx], d, cap, target)
    return x


def _max_flow_per_unit(ui: np.ndarray, si: np.ndarray, d: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Persons of each unit (local positions ``ui``) in one integer maximum flow (scipy, exact)."""
    a, b = d.size, cap.size
    snk = a + b + 1  # source 0 -> unit 1..a (demand) -> shelter a+1..a+b (min(demand, capacity)) -> sink
    rows = np.concatenate([np.zeros(a, dtype=np.int64), 1 + ui, 1 + a + np.arange(b)])
    cols = np.concatenate([1 + np.arange(a), 1 + a + si, np.full(b, snk)])
    vals = np.concatenate([d, np.minimum(d[ui], cap[si]), cap]).astype(np.int32)
    graph = sparse.csr_matrix((vals, (rows, cols)), shape=(a + b + 2,) * 2)
    flow = csgraph.maximum_flow(graph, 0, snk).flow
    return np.asarray(flow[[0], :].toarray()).ravel()[1 : a + 1].astype(np.int64)


def _network_flow(ui, si, w, d, cap, cost_unit_m: float) -> np.ndarray | None:
    """Persons per pair of OR-tools' maximum flow of least cost, walks in whole ``cost_unit_m``; None when
    the costs would overflow or the solver does not report an optimum."""
    a, b, m = d.size, cap.size, ui.size
    cost = np.rint(w / cost_unit_m)
    biggest = float(cost.max(initial=0.0))
    total = int(d.sum())
    # the solver scales costs by the number of nodes and sums cost x flow in 64-bit integers
    if biggest * (a + b + 3) >= _COST_LIMIT or biggest * total >= _COST_LIMIT:
        return None
    src, snk = a + b, a + b + 1
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(a, src), ui, a + np.arange(b)]),
        np.concatenate([np.arange(a), a + si, np.full(b, snk)]),
        np.concatenate([d, np.minimum(d[ui], cap[si]), cap]).astype(np.int64),
        np.concatenate([np.zeros(a), cost, np.zeros(b)]).astype(np.int64),
    )
    solver.set_node_supply(src, total)
    solver.set_node_supply(snk, -total)
    if solver.solve_max_flow_with_min_cost() != solver.OPTIMAL:
        return None
    x = np.asarray(solver.flows(arcs[a : a + m]), dtype=np.int64)
    placed = np.bincount(ui, weights=x, minlength=a)
    load = np.bincount(si, weights=x, minlength=b)
    if (x < 0).any() or (placed > d).any() or (load > cap).any():
        return None
    return x


def _batches(sorted_labels: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Slices of ``sorted_labels`` made of whole runs of equal labels, about ``size`` long each."""
    n = sorted_labels.size
    if n == 0:
        return []
    ends = np.append(np.flatnonzero(sorted_labels[1:] != sorted_labels[:-1]) + 1, n)
    cuts = [0]
    while cuts[-1] < n:  # about n / size iterations, one LP each
        j = int(np.searchsorted(ends, cuts[-1] + size, side="left"))
        cuts.append(int(ends[j]) if j < ends.size else n)
    return list(itertools.pairwise(cuts))


def _lp_rows(ui, si, d, cap) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Unit rows then shelter rows over the given pairs; returns (A_ub, b_ub, local shelter positions)."""
    lu, li = np.unique(ui, return_inverse=True)
    ls, lj = np.unique(si, return_inverse=True)
    m = ui.size
    col = np.arange(m)
    a_ub = sparse.csr_matrix(
        (np.ones(2 * m), (np.concatenate([li, lu.size + lj]), np.concatenate([col, col]))), shape=(lu.size + ls.size, m)
    )
    return a_ub, np.concatenate([d[lu], cap[ls]]).astype(np.float64), ls


def _solve_sum_row(ui, si, w, d, cap, target: int) -> np.ndarray:
    """min sum w x  s.t.  unit rows <= demand, shelter rows <= capacity, sum x = target (the fallback)."""
    a_ub, b_ub, _ = _lp_rows(ui, si, d, cap)
    res = linprog(
        w,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=sparse.csr_matrix(np.ones((1, ui.size))),
        b_eq=[float(target)],
        bounds=(0, None),
        method="highs-ds",
    )
    x = _integral(res, a_ub, b_ub)
    if x is None or int(x.sum()) != target:
        raise RuntimeError(f"shelter assignment LP failed: {res.message}")
    return x


def _integral(res, a_ub, b_ub) -> np.ndarray | None:
    """The LP's x rounded to integers if it solved, is integral and is feasible after rounding, else None."""
    if res.status != 0 or res.x is None:
        return None
    x = np.round(res.x)
    if np.max(np.abs(res.x - x), initial=0.0) >= INTEGRALITY_TOL:
        return None
    if (x < 0).any() or (a_ub @ x > b_ub).any():
        return None
    return x.astype(np.int64)


# ----------------------------------------------------------------------------- nearest first
def assign_nearest_first(
    n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity
) -> ShelterAssignment:
    """The capacity-aware greedy done by hand: shortest pairs first, each filled as far as it goes.

    Pairs are taken in increasing walking distance (ties: unit position, then shelter position); each gets
    min(remaining demand of its unit, remaining capacity of its shelter).

    Parameters
    ----------
    n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity
        As for :func:`assign_exact` (walks in metres, demand and capacity in persons).

    Returns
    -------
    ShelterAssignment
        ``method == "nearest_first"``; may place fewer persons, and walk more, than :func:`assign_exact`.

    Notes
    -----
    The same result as the pair-by-pair loop, computed in vectorised rounds: in a round every live pair whose
    unit and shelter have no earlier live pair is settled at once (such pairs share no unit and no shelter,
    and nothing later can change them); pairs whose unit or shelter is exhausted drop out.  The rounds end
    when fewer than ``_LOOP_BELOW`` pairs are live or a round settles too few; the loop finishes those.
    About 0.7 s for 870,000 pairs.
    """
    p = _prepare(n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, capacity)
    rem_d, rem_c = p.demand.copy(), p.capacity.copy()
    live = np.flatnonzero((rem_d[p.unit] > 0) & (rem_c[p.shelter] > 0))
    rank = live[np.argsort(p.walk[live], kind="stable")]  # pairs come sorted by unit, then shelter
    U, S = p.unit[rank], p.shelter[rank]  # in greedy order: position k is the k-th pair processed
    m = U.size
    persons = np.zeros(m, dtype=np.int64)
    act = np.arange(m)  # live positions, increasing
    by_u = np.argsort(U, kind="stable")  # live positions grouped by unit, increasing within a unit
    by_s = np.argsort(S, kind="stable")
    alive = np.ones(m, dtype=bool)
    while act.size > _LOOP_BELOW:
        by_u = by_u[alive[by_u]]
        by_s = by_s[alive[by_s]]
        first = np.zeros(m, dtype=np.int8)
        gu = U[by_u]
        head = np.ones(gu.size, dtype=bool)
        head[1:] = gu[1:] != gu[:-1]
        first[by_u[head]] += 1
        gs = S[by_s]
        head = np.ones(gs.size, dtype=bool)
        head[1:] = gs[1:] != gs[:-1]
        first[by_s[head]] += 1
        # ready: no earlier live pair shares its unit or its shelter (distinct units and shelters)
        ready = act[first[act] == 2]
        uu, ss = U[ready], S[ready]
        x = np.minimum(rem_d[uu], rem_c[ss])
        persons[ready] = x
        rem_d[uu] -= x
        rem_c[ss] -= x
        alive[ready] = False
        alive[act] &= (rem_d[U[act]] > 0) & (rem_c[S[act]] > 0)
        act = act[alive[act]]
        if ready.size < _ROUND_MIN_SHARE * act.size:
            break
    if act.size:  # the rest in order, sequentially (earlier live pairs of a unit or shelter come first)
        rd, rc = rem_d.tolist(), rem_c.tolist()
        out = []
        for k, uk, sk in zip(act.tolist(), U[act].tolist(), S[act].tolist()):
            dk = rd[uk]
            if dk:
                ck = rc[sk]
                if ck:
                    x = min(dk, ck)
                    rd[uk] = dk - x
                    rc[sk] = ck - x
                    out.append((k, x))
        if out:
            k, x = np.array(out, dtype=np.int64).T
            persons[k] = x
    by_pair = np.zeros(p.unit.size, dtype=np.int64)
    by_pair[rank] = persons
    return _result(p, np.arange(p.unit.size), by_pair, METHOD_NEAREST_FIRST)


# ----------------------------------------------------------------------------- nearest, ignoring capacity
def nearest_loads(n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand) -> tuple[np.ndarray, np.ndarray]:
    """Everyone walks to the nearest shelter within the limit, whatever its capacity.

    Parameters
    ----------
    n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand
        As for :func:`assign_exact` (walks in metres, demand in persons).

    Returns
    -------
    nearest : int64 array (n_units,)
        Position of each unit's nearest shelter (ties: the lowest position), -1 without any pair.
    load : int64 array (n_shelters,)
        Persons arriving at each shelter, capacity ignored (compare with the capacities to flag shelters
        over capacity).
    """
    p = _prepare(n_units, n_shelters, pair_unit, pair_shelter, pair_walk_m, demand, None, need_capacity=False)
    best = _nearest_pair(p.unit, p.walk, p.n_units)
    has = best >= 0
    nearest = np.full(p.n_units, -1, dtype=np.int64)
    nearest[has] = p.shelter[best[has]]
    load = np.bincount(nearest[has], weights=p.demand[has], minlength=p.n_shelters).astype(np.int64)
    return nearest, load
