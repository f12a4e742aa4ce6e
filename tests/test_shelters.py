"""Assignment of residents to emergency shelters (facilities/shelters.py): hand-computed cases, networkx
min-cost flow as the reference on random instances, a property test, and input checks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facilities import shelters
from facilities.shelters import assign_exact, assign_nearest_first, nearest_loads
from geo_service.core._errors import InputError


# ----------------------------------------------------------------------------- references
def networkx_reference(nu, ns, pu, ps, pw, demand, capacity, scale=1):
    """(persons placed, person-metres) of networkx ``max_flow_min_cost`` on the equivalent graph.

    Walks are multiplied by ``scale`` and must then be whole numbers (networkx wants integer weights)."""
    g = nx.DiGraph()
    g.add_nodes_from(["S", "T"])
    for i in range(nu):
        if demand[i] > 0:
            g.add_edge("S", ("u", i), capacity=int(demand[i]), weight=0)
    for j in range(ns):
        if capacity[j] > 0:
            g.add_edge(("s", j), "T", capacity=int(capacity[j]), weight=0)
    for a, b, w in zip(np.asarray(pu).tolist(), np.asarray(ps).tolist(), np.asarray(pw, dtype=float).tolist()):
        if demand[a] > 0 and capacity[b] > 0:
            weight = round(w * scale)
            assert weight == w * scale
            old = g.get_edge_data(("u", a), ("s", b))
            if old is None or old["weight"] > weight:  # a pair listed twice keeps its shortest walk
                g.add_edge(("u", a), ("s", b), capacity=int(demand[a]), weight=weight)
    flow = nx.max_flow_min_cost(g, "S", "T")
    return sum(flow["S"].values()), nx.cost_of_flow(g, flow) / scale


def sequential_nearest_first(nu, ns, pu, ps, pw, demand, capacity):
    """The greedy as planners do it, one pair at a time: (placed per unit, person-metres)."""
    order = sorted(range(len(pu)), key=lambda k: (pw[k], pu[k], ps[k]))
    rd, rc = [int(x) for x in demand], [int(x) for x in capacity]
    placed, cost, seen = [0] * nu, 0.0, set()
    for k in order:
        if (pu[k], ps[k]) in seen:  # duplicates: the shortest came first
            continue
        seen.add((pu[k], ps[k]))
        x = min(rd[pu[k]], rc[ps[k]])
        rd[pu[k]] -= x
        rc[ps[k]] -= x
        placed[pu[k]] += x
        cost += x * pw[k]
    return np.array(placed, dtype=np.int64), cost


def check_feasible(r, nu, ns, pu, ps, pw, demand, capacity):
    demand, capacity = np.asarray(demand), np.asarray(capacity)
    assert r.unit.dtype == r.shelter.dtype == r.persons.dtype == np.int64
    assert (r.persons > 0).all()
    assert np.array_equal(r.placed, np.bincount(r.unit, weights=r.persons, minlength=nu).astype(np.int64))
    assert np.array_equal(r.load, np.bincount(r.shelter, weights=r.persons, minlength=ns).astype(np.int64))
    assert (r.placed <= demand).all() and (r.load <= capacity).all()
    assert np.array_equal(r.unplaced, demand - r.placed)
    shortest = {}
    for a, b, w in zip(np.asarray(pu).tolist(), np.asarray(ps).tolist(), np.asarray(pw, dtype=float).tolist()):
        shortest[(a, b)] = min(w, shortest.get((a, b), np.inf))
    rows = list(zip(r.unit.tolist(), r.shelter.tolist()))
    assert len(set(rows)) == len(rows) and rows == sorted(rows)
    assert [shortest[k] for k in rows] == r.walk_m.tolist()
    assert r.person_walk_m == pytest.approx(float(np.sum(r.persons * r.walk_m)))


def spatial_instance(seed, nu=300, ns=60, side_m=3000.0, limit_m=500.0, crowded=False):
    """Units and shelters in a square; 'walk' = straight line rounded to whole metres (exact for networkx)."""
    rng = np.random.default_rng(seed)
    units = rng.uniform(0, side_m, (nu, 2))
    if crowded:  # half the residents in a dense quarter: congestion that spills over several shelters
        units[: nu // 2] = rng.uniform(0, side_m / 3, (nu // 2, 2))
    sites = rng.uniform(0, side_m, (ns, 2))
    dist = np.linalg.norm(units[:, None, :] - sites[None, :, :], axis=2)
    pu, ps = np.nonzero(dist <= limit_m)
    pw = np.round(dist[pu, ps])
    demand = rng.integers(0, 300, nu)
    capacity = rng.integers(0, 1500, ns)
    perm = rng.permutation(pu.size)  # unsorted input
    return nu, ns, pu[perm], ps[perm], pw[perm], demand, capacity


# ----------------------------------------------------------------------------- hand-computed cases
def test_nearest_first_strands_residents_the_exact_assignment_places():
    # unit A (100 people): shelter 1 at 100 m, shelter 2 at 400 m; unit B (100 people): only shelter 1, 300 m;
    # 100 places each.  Nearest first: A takes shelter 1, B is stranded (100 unplaced).  Exact: A -> 2, B -> 1.
    args = (2, 2, [0, 0, 1], [0, 1, 0], [100.0, 400.0, 300.0], [100, 100], [100, 100])
    greedy = assign_nearest_first(*args)
    assert greedy.method == "nearest_first"
    assert greedy.total_placed == 100 and greedy.total_unplaced == 100
    assert greedy.placed.tolist() == [100, 0] and greedy.unplaced.tolist() == [0, 100]
    assert greedy.load.tolist() == [100, 0]
    assert greedy.person_walk_m == 10_000.0 and greedy.mean_walk_m == 100.0

    exact = assign_exact(*args)
    assert exact.method == "exact_min_cost_flow"
    assert exact.total_placed == 200 and exact.total_unplaced == 0
    assert list(zip(exact.unit.tolist(), exact.shelter.tolist(), exact.persons.tolist())) == [(0, 1, 100), (1, 0, 100)]
    assert exact.walk_m.tolist() == [400.0, 300.0]
    assert exact.load.tolist() == [100, 100]
    assert exact.person_walk_m == 70_000.0 and exact.mean_walk_m == 350.0

    nearest, load = nearest_loads(*args[:6])
    assert nearest.tolist() == [0, 0] and load.tolist() == [200, 0]  # shelter 1 would get twice its places


def test_exact_walks_least_among_assignments_placing_everyone():
    # units A, B (50 each); shelters 1, 2 (50 places each); A: 100 m / 200 m, B: 150 m / 400 m.
    # Both ways place all 100: A->1, B->2 walks 25,000 person-metres (what nearest first does),
    # A->2, B->1 walks 17,500 (the exact choice).
    args = (2, 2, [0, 0, 1, 1], [0, 1, 0, 1], [100.0, 200.0, 150.0, 400.0], [50, 50], [50, 50])
    greedy = assign_nearest_first(*args)
    exact = assign_exact(*args)
    assert greedy.total_placed == exact.total_placed == 100
    assert greedy.person_walk_m == 25_000.0
    assert exact.person_walk_m == 17_500.0
    assert list(zip(exact.unit.tolist(), exact.shelter.tolist(), exact.persons.tolist())) == [(0, 1, 50), (1, 0, 50)]


def test_exact_splits_a_unit_and_keeps_the_nearest_for_the_rest():
    # shelter 0 (60 places) is nearest for A (80) and B (40); shelter 1 (100 places) also reaches both, farther.
    # A: 100 m / 300 m, B: 150 m / 200 m.  Everyone fits (160 places for 120 people); who walks to shelter 1?
    # Moving a person of A costs 200 m extra, of B 50 m: B goes to shelter 1 entirely, then 20 of A.
    args = (2, 2, [0, 0, 1, 1], [0, 1, 0, 1], [100.0, 300.0, 150.0, 200.0], [80, 40], [60, 100])
    exact = assign_exact(*args)
    assert exact.total_placed == 120
    assert list(zip(exact.unit.tolist(), exact.shelter.tolist(), exact.persons.tolist())) == [
        (0, 0, 60),
        (0, 1, 20),
        (1, 1, 40),
    ]
    assert exact.person_walk_m == 60 * 100 + 20 * 300 + 40 * 200
    assert exact.load.tolist() == [60, 60]


def test_single_shelter_and_single_unit_groups_fill_nearest_first():
    # shelter 0 alone with units 0..2 (50 each, at 300, 100, 200 m) and 120 places: units 1 and 2 fully, unit 0 gets 20.
    # unit 3 (90) alone with shelters 1..3 (40 places each, at 250, 50, 400 m): 40 + 40 + 10.
    args = (
        4,
        4,
        [0, 1, 2, 3, 3, 3],
        [0, 0, 0, 1, 2, 3],
        [300.0, 100.0, 200.0, 250.0, 50.0, 400.0],
        [50, 50, 50, 90],
        [120, 40, 40, 40],
    )
    exact = assign_exact(*args)
    assert exact.placed.tolist() == [20, 50, 50, 90]
    assert exact.load.tolist() == [120, 40, 40, 10]
    assert exact.person_walk_m == 20 * 300 + 50 * 100 + 50 * 200 + 40 * 50 + 40 * 250 + 10 * 400
    assert exact.person_walk_m == networkx_reference(*args)[1]


def test_duplicate_pairs_keep_the_shortest_walk():
    args = (1, 1, [0, 0, 0], [0, 0, 0], [300.0, 120.0, 200.0], [10], [10])
    for r in (assign_exact(*args), assign_nearest_first(*args)):
        assert r.walk_m.tolist() == [120.0] and r.persons.tolist() == [10]
    assert nearest_loads(*args[:6])[1].tolist() == [10]


def test_empty_and_zero_inputs():
    for fn in (assign_exact, assign_nearest_first):
        r = fn(0, 0, [], [], [], [], [])
        assert r.total_placed == 0 and r.unit.size == 0 and np.isnan(r.mean_walk_m)
        r = fn(3, 2, [], [], [], [5, 0, 7], [10, 10])  # nobody within reach
        assert r.placed.tolist() == [0, 0, 0] and r.unplaced.tolist() == [5, 0, 7] and r.load.tolist() == [0, 0]
        r = fn(2, 2, [0, 1], [0, 1], [10.0, 20.0], [0, 0], [5, 5])  # no demand
        assert r.total_placed == 0 and r.person_walk_m == 0.0
        r = fn(2, 2, [0, 1], [0, 1], [10.0, 20.0], [5, 5], [0, 0])  # no capacity
        assert r.total_placed == 0 and r.total_unplaced == 10
        r = fn(1, 1, [0], [0], [0.0], [3], [5])  # a zero walk is a pair
        assert r.total_placed == 3 and r.person_walk_m == 0.0
    nearest, load = nearest_loads(3, 2, [], [], [], [5, 0, 7])
    assert nearest.tolist() == [-1, -1, -1] and load.tolist() == [0, 0]


def test_nearest_loads_ignore_capacity_and_break_ties_by_position():
    nearest, load = nearest_loads(3, 3, [0, 0, 1, 2, 2], [2, 1, 2, 0, 1], [50.0, 50.0, 10.0, 80.0, 90.0], [10, 20, 30])
    assert nearest.tolist() == [1, 2, 0]
    assert load.tolist() == [30, 10, 20]
    assert nearest.dtype == load.dtype == np.int64


# ----------------------------------------------------------------------------- against networkx
@pytest.mark.parametrize("seed,crowded", [(0, False), (1, False), (2, True), (3, True)])
def test_random_instances_match_networkx_min_cost_max_flow(seed, crowded):
    args = spatial_instance(seed, crowded=crowded)
    exact = assign_exact(*args)
    placed, cost = networkx_reference(*args)
    assert exact.total_placed == placed
    assert exact.person_walk_m == pytest.approx(cost, rel=1e-12, abs=1e-6)
    check_feasible(exact, *args)
    greedy = assign_nearest_first(*args)
    check_feasible(greedy, *args)
    ref_placed, ref_cost = sequential_nearest_first(*args)
    assert np.array_equal(greedy.placed, ref_placed)
    assert greedy.person_walk_m == pytest.approx(ref_cost, rel=1e-12)
    assert greedy.total_placed <= exact.total_placed


def test_exact_paths_agree_solver_units_and_fallback(monkeypatch):
    # congested instance: one large group of units competing for shelters
    args = spatial_instance(5, nu=400, ns=50, crowded=True)
    placed, cost = networkx_reference(*args)
    calls = {"n": 0}
    original = shelters._network_flow

    def counting(*a, **k):
        calls["n"] += 1
        return original(*a, **k)

    monkeypatch.setattr(shelters, "_network_flow", counting)
    r = assign_exact(*args)
    assert calls["n"] == 1 and r.total_placed == placed and r.person_walk_m == pytest.approx(cost, rel=1e-12)
    # walks in whole millimetres (as when micrometres would overflow): the same optimum for whole-metre walks
    monkeypatch.setattr(shelters, "_COST_UNITS_M", (1e-3,))
    r = assign_exact(*args)
    assert r.total_placed == placed and r.person_walk_m == pytest.approx(cost, rel=1e-12)
    # costs too large for the solver at every unit: the LP fallback with the sum row
    monkeypatch.setattr(shelters, "_COST_LIMIT", 1.0)
    calls["n"] = 0
    r = assign_exact(*args)
    assert calls["n"] == 1 and r.total_placed == placed and r.person_walk_m == pytest.approx(cost, rel=1e-12)
    check_feasible(r, *args)
    # the solver's answer failing the check against the independent maximum flow: the fallback as well
    monkeypatch.setattr(shelters, "_COST_LIMIT", 2.0**60)
    monkeypatch.setattr(shelters, "_network_flow", lambda *a, **k: np.zeros(a[0].size, dtype=np.int64))
    r = assign_exact(*args)
    assert r.total_placed == placed and r.person_walk_m == pytest.approx(cost, rel=1e-12)
    check_feasible(r, *args)


def test_exact_on_fractional_walks_is_within_a_micrometre_per_person():
    args = list(spatial_instance(7, nu=300, ns=40, crowded=True))
    rng = np.random.default_rng(7)
    args[4] = np.asarray(args[4], dtype=float) + rng.integers(0, 1024, len(args[4])) / 1024  # binary fractions
    placed, cost = networkx_reference(*args, scale=1024)
    r = assign_exact(*args)
    assert r.total_placed == placed
    assert abs(r.person_walk_m - cost) <= placed * 1e-6 + 1e-6
    check_feasible(r, *args)


def test_vectorised_nearest_first_equals_the_sequential_greedy(monkeypatch):
    args = spatial_instance(7, nu=3000, ns=300, side_m=8000.0)
    ref_placed, ref_cost = sequential_nearest_first(*args)
    for loop_below in (0, 2_000):  # all in rounds; rounds then the loop
        monkeypatch.setattr(shelters, "_LOOP_BELOW", loop_below)
        r = assign_nearest_first(*args)
        assert np.array_equal(r.placed, ref_placed)
        assert r.person_walk_m == pytest.approx(ref_cost, rel=1e-12)
        check_feasible(r, *args)


# ----------------------------------------------------------------------------- property
@st.composite
def tiny_instances(draw):
    nu = draw(st.integers(1, 6))
    ns = draw(st.integers(1, 4))
    n_pairs = draw(st.integers(0, nu * ns + 2))
    pu = draw(st.lists(st.integers(0, nu - 1), min_size=n_pairs, max_size=n_pairs))
    ps = draw(st.lists(st.integers(0, ns - 1), min_size=n_pairs, max_size=n_pairs))
    pw = draw(st.lists(st.integers(0, 500), min_size=n_pairs, max_size=n_pairs))
    demand = draw(st.lists(st.integers(0, 40), min_size=nu, max_size=nu))
    capacity = draw(st.lists(st.integers(0, 60), min_size=ns, max_size=ns))
    return nu, ns, pu, ps, [float(w) for w in pw], demand, capacity


@settings(max_examples=80, deadline=None)
@given(tiny_instances())
def test_property_exact_places_at_least_as_many_as_nearest_first(args):
    exact = assign_exact(*args)
    greedy = assign_nearest_first(*args)
    check_feasible(exact, *args)
    check_feasible(greedy, *args)
    assert exact.total_placed >= greedy.total_placed
    if exact.total_placed == greedy.total_placed:
        assert exact.person_walk_m <= greedy.person_walk_m + 1e-9
    placed, cost = networkx_reference(*args)
    assert exact.total_placed == placed and exact.person_walk_m == pytest.approx(cost, abs=1e-6)
    nearest, load = nearest_loads(*args[:6])
    if (load <= np.asarray(args[6])).all():  # nobody has to move: exact = everyone at the nearest shelter
        assert exact.total_placed == sum(d for d, n in zip(args[5], nearest) if n >= 0)


# ----------------------------------------------------------------------------- input checks
GOOD = {
    "n_units": 2,
    "n_shelters": 2,
    "pair_unit": [0, 1],
    "pair_shelter": [0, 1],
    "pair_walk_m": [10.0, 20.0],
    "demand": [5, 5],
    "capacity": [5, 5],
}


@pytest.mark.parametrize(
    "change",
    [
        {"n_units": -1},
        {"n_units": 2.5},
        {"demand": [5, -1]},
        {"demand": [5.5, 1]},
        {"demand": [5]},
        {"capacity": [5, 5, 5]},
        {"capacity": [[5, 5]]},
        {"pair_walk_m": [10.0, float("nan")]},
        {"pair_walk_m": [10.0, float("inf")]},
        {"pair_walk_m": [10.0, -1.0]},
        {"pair_walk_m": [10.0]},
        {"pair_unit": [0, 2]},
        {"pair_shelter": [-1, 1]},
        {"pair_unit": [0.5, 1]},
        {"pair_walk_m": ["a", "b"]},
    ],
)
def test_bad_input_raises_input_error_with_chinese_message(change):
    kwargs = {**GOOD, **change}
    for fn in (assign_exact, assign_nearest_first):
        with pytest.raises(InputError) as err:
            fn(**kwargs)
        assert err.value.http_status == 422
        assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message_zh)
    if "capacity" not in change:
        with pytest.raises(InputError):
            nearest_loads(**{k: v for k, v in kwargs.items() if k != "capacity"})
