"""The gap plan (Art. 18 ¶2-3, issue 19): the solver on hand-made arrays whose optimum is worked out below, its
constraints on random instances, bad input; then the audit's wiring on the hand-built world of test_audit.py.

Solver, case "stranded office" (the greedy hand method loses one):
  c0 needs 300 m² of service floor (divisible) and a 200 m² nursery (ground floor or lift); c1 lacks an office.
  s0 250 m² free, 2nd floor, no lift; s1 300 m² for 50,000 yuan, ground floor; s2 100 m² free, ground floor.
  Pairs (walk m): c0-s0 100, c0-s1 200, c0-s2 50, c1-s2 30.
  The nursery fits only s1 (s2 is too small, s0 too high): 200 of s1's 300 m². The service floor takes s0's 250 and
  s1's last 50: all 500 m² closed without s2, which then hosts c1's office. Residents (per need closed): 1000 +
  1000 + 500 = 2,500; cost 50,000 (s1 cannot be avoided); walks 100 + 200 + 30 = 330 m.
  Greedy (largest need first, cheapest then nearest): service 300 takes s2 (free, nearest) and 200 of s0; nursery
  takes s1; the office finds s2 already used by c0 -> 2,000 residents served.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_audit import METRIC, _pt, _with_ids, audit_frames

from facilities.audit import GapPlanParams, compute_audit
from facilities.audit.gap_plan import GapProblem, solve_exact, solve_greedy
from geo_service.core._errors import InputError
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import load_norms


def _stranded_office() -> GapProblem:
    return GapProblem.build(
        2,
        needs={
            "community": [0, 0, 1],
            "m2": [300, 200, 0],
            "divisible": [True, False, False],
            "ground": [False, True, False],
            "residents": [1000, 1000, 500],
        },
        candidates={"m2": [250, 300, 100], "cost_yuan": [0, 50_000, 0], "ground_ok": [False, True, True]},
        pairs={"community": [0, 0, 0, 1], "candidate": [0, 1, 2, 2], "walk_m": [100, 200, 50, 30]},
    )


def _allocs(sol) -> set[tuple[int, int, float]]:
    return {(int(k), int(j), round(float(m), 1)) for k, j, m in zip(sol.alloc_need, sol.alloc_candidate, sol.alloc_m2)}


def test_exact_keeps_the_office_the_greedy_strands():
    pb = _stranded_office()
    ex, gr = solve_exact(pb), solve_greedy(pb)
    assert ex.optimal and ex.method == "milp"
    assert ex.closed_m2 == pytest.approx(500, abs=0.01) and ex.residents_served == pytest.approx(2500, abs=0.01)
    assert ex.cost_yuan == 50_000 and ex.walk_m == pytest.approx(330)
    assert (1, 1, 200.0) in _allocs(ex) and (2, 2, 0.0) in _allocs(ex)  # nursery on s1, office on s2
    assert ex.need_closed_share.tolist() == pytest.approx([1, 1, 1], abs=1e-6)
    assert gr.closed_m2 == pytest.approx(500) and gr.residents_served == pytest.approx(2000)
    assert gr.need_closed_share[2] == 0  # the office is left without a space
    assert gr.method == "greedy" and not gr.optimal


def _one_community(areas, costs, need=400.0, walks=None):
    n = len(areas)
    return GapProblem.build(
        1,
        needs={"community": [0], "m2": [need], "divisible": [True]},
        candidates={"m2": areas, "cost_yuan": costs},
        pairs={"community": [0] * n, "candidate": list(range(n)), "walk_m": walks or [100.0] * n},
    )


@pytest.mark.parametrize(
    ("budget", "closed", "cost", "used"),
    [
        (None, 400, 250, {0, 2}),  # s0 + s2 (100 + 150) beat s1 alone (1,000)
        (120, 200, 100, {0}),  # only s0 fits the budget
        (260, 400, 250, {0, 2}),
        (0, 0, 0, set()),
    ],
)
def test_budget_limits_what_is_bought(budget, closed, cost, used):
    pb = _one_community([200, 400, 200], [100, 1000, 150])
    sol = solve_exact(pb, budget)
    assert sol.closed_m2 == pytest.approx(closed, abs=0.01)
    assert sol.cost_yuan == pytest.approx(cost)
    assert set(np.flatnonzero(sol.cand_used).tolist()) == used


def test_cheaper_then_nearer():
    # two free spaces of the same size: the nearer one; a free one beats a paid nearer one
    sol = solve_exact(_one_community([400, 400], [0, 0], walks=[300, 100]))
    assert np.flatnonzero(sol.cand_used).tolist() == [1] and sol.walk_m == 100
    sol = solve_exact(_one_community([400, 400], [0, 10], walks=[300, 100]))
    assert np.flatnonzero(sol.cand_used).tolist() == [0]


@pytest.mark.parametrize(("parts", "closed_communities"), [(1, [1]), (2, [0, 1])])
def test_a_space_serves_one_community_unless_split(parts, closed_communities):
    pb = GapProblem.build(
        2,
        needs={"community": [0, 1], "m2": [300, 300], "residents": [1000, 3000]},
        candidates={"m2": [700], "parts": [parts]},
        pairs={"community": [0, 1], "candidate": [0, 0], "walk_m": [50, 80]},
    )
    sol = solve_exact(pb)
    closed = sorted(int(pb.need_community[k]) for k in np.flatnonzero(sol.need_closed_share > 0.5))
    assert closed == closed_communities  # with one part, the community with more residents


def test_ground_floor_rule():
    pb = GapProblem.build(
        1,
        needs={"community": [0], "m2": [350], "ground": [True]},
        candidates={"m2": [500, 400], "ground_ok": [False, True], "cost_yuan": [0, 9000]},
        pairs={"community": [0, 0], "candidate": [0, 1]},
    )
    sol = solve_exact(pb)
    assert np.flatnonzero(sol.cand_used).tolist() == [1]  # the free one is upstairs without a lift


def _random_problem(rng) -> GapProblem:
    n_c, n_j = int(rng.integers(2, 7)), int(rng.integers(2, 9))
    k = int(rng.integers(1, 10))
    comm = rng.integers(0, n_c, k)
    div = rng.random(k) < 0.3
    m2 = np.where(div, rng.uniform(50, 600, k), rng.choice([0.0, 200.0, 350.0, 800.0], k))
    pairs = {(int(c), int(j)) for c, j in zip(rng.integers(0, n_c, 3 * n_j), rng.integers(0, n_j, 3 * n_j))}
    pc, pj = (np.array(x) for x in zip(*sorted(pairs)))
    return GapProblem.build(
        n_c,
        needs={"community": comm, "m2": m2, "divisible": div, "ground": rng.random(k) < 0.4,
               "residents": rng.integers(0, 5000, k)},
        candidates={"m2": rng.uniform(80, 1200, n_j), "cost_yuan": rng.choice([0.0, 1e5, 5e5], n_j),
                    "ground_ok": rng.random(n_j) < 0.6, "parts": rng.integers(1, 3, n_j)},
        pairs={"community": pc, "candidate": pj, "walk_m": rng.uniform(0, 600, len(pc))},
    )  # fmt: skip


def _check_constraints(pb: GapProblem, sol, budget):
    # every allocation on a pair of the need's community, ground rule kept
    assert (pb.pair_community[sol.alloc_pair] == pb.need_community[sol.alloc_need]).all()
    assert (pb.pair_candidate[sol.alloc_pair] == sol.alloc_candidate).all()
    assert (~pb.need_ground[sol.alloc_need] | pb.cand_ground_ok[sol.alloc_candidate]).all()
    # area of each space, communities per space, needs not over-closed, budget
    used_m2 = np.bincount(sol.alloc_candidate, weights=sol.alloc_m2, minlength=pb.n_candidates)
    assert (used_m2 <= pb.cand_m2 + 1e-3).all()
    comms = {(int(pb.need_community[k]), int(j)) for k, j in zip(sol.alloc_need, sol.alloc_candidate)}
    per_cand = np.bincount([j for _, j in comms], minlength=pb.n_candidates)
    assert (per_cand <= pb.cand_parts).all()
    assert (sol.need_closed_m2 <= pb.need_m2 + 1e-3).all() and (sol.need_closed_share <= 1 + 1e-9).all()
    discrete = ~pb.need_divisible[sol.alloc_need]
    assert np.allclose(sol.alloc_m2[discrete], pb.need_m2[sol.alloc_need[discrete]])
    assert len(set(sol.alloc_need[discrete].tolist())) == int(discrete.sum())  # one space per single need
    if budget is not None:
        assert sol.cost_yuan <= budget + 1e-6


@pytest.mark.parametrize("seed", range(12))
def test_random_instances_keep_every_constraint_and_exact_is_never_worse(seed):
    rng = np.random.default_rng(seed)
    pb = _random_problem(rng)
    budget = None if seed % 3 == 0 else float(rng.choice([0.0, 1e5, 6e5]))
    ex, gr = solve_exact(pb, budget), solve_greedy(pb, budget)
    for sol in (ex, gr):
        _check_constraints(pb, sol, budget)
    assert ex.optimal
    tol = 0.01 * len(ex.alloc_m2) + 1e-6  # exact m² are reported to 0.01
    assert ex.closed_m2 >= gr.closed_m2 - tol
    if abs(ex.closed_m2 - gr.closed_m2) < tol:
        assert ex.residents_served >= gr.residents_served - 1.0


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"candidates": {"m2": [0.0]}}, "建筑面积必须大于 0"),
        ({"candidates": {"m2": [100.0], "cost_yuan": [-1.0]}}, "费用不能为负"),
        ({"pairs": {"community": [0, 0], "candidate": [0, 0]}}, "配对有重复"),
        ({"pairs": {"community": [0], "candidate": [3]}}, "编号超出范围"),
        ({"needs": {"community": [0], "m2": [-5.0]}}, "需求面积不能为负"),
    ],
)
def test_bad_arrays_are_refused_in_chinese(change, text):
    args = {
        "needs": {"community": [0], "m2": [100.0]},
        "candidates": {"m2": [100.0]},
        "pairs": {"community": [0], "candidate": [0]},
    }
    args.update(change)
    with pytest.raises(InputError) as e:
        GapProblem.build(1, **args)
    assert text in e.value.message_zh


@pytest.mark.parametrize(("value", "text"), [(-1, "预算不能小于 0"), ("abc", "不是数值"), ("inf", "预算不能小于 0")])
def test_bad_budget(value, text):
    with pytest.raises(InputError) as e:
        GapPlanParams.from_input(value)
    assert text in e.value.message_zh
    with pytest.raises(InputError):
        solve_exact(_stranded_office(), -0.01)
    assert GapPlanParams.from_input(None).is_default and GapPlanParams.from_input("0").budget_yuan == 0.0


# ----------------------------------------------------------------------------------------- the audit's wiring
# The world of test_audit.py: c1 (y -200..200) holds units A (x=200) and B (x=0), 100 residents each, on the street
# y=0; it has its office and a 300 m2 station (its norm), and lacks elderly day care (350 m2) and a nursery (200 m2),
# both needing a ground floor or a lift. c2 (y 200..600, no residents) lacks the same two; c3, c4 more.
#   a1 inside c1 (300, 50): 400 m2, floor 1, free                 -> c1's day care (350; the nursery no longer fits)
#   a2 in c2 at (200, 205): 250 m2, floor 1, lease 40 yuan/m2/year -> 250 x 40 x 5 years = 50,000 yuan;
#      205 m from A (snap 205 m), 405 m from B: half of c1's residents within 300 m -> it may serve c1
#      (share 0.5 >= 0.5): the nursery
#   a3 in c2 at (600, 205): 300 m2, floor 1, free; 605 m from A -> not c1's; inside c2 -> c2's nursery (its day care,
#      350 m2, fits nowhere)
#   a4 inside c1 (400, 50): 600 m2 on floor 3 without a lift -> neither day care nor nursery
#   a5 expired (available until 2020) and s1 a lease without rent: left out, with the reason.


def _spaces():
    assets = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "name": ["旧粮站", "供销社门市", "旧邮政所", "办公楼三层", "过期仓库"],
            "owner": ["区粮食局", "区供销社", "邮政公司", "区机关事务局", "某国企"],
            "floor_area_m2": [400.0, 250.0, 300.0, 600.0, 900.0],
            "floor_level": [1, 1, 1, 3, 1],
            "has_lift": [False, False, None, False, True],
            "terms": ["free_transfer", "lease", "free_transfer", "free_transfer", "free_transfer"],
            "rent_yuan_per_m2_year": [None, 40.0, None, None, None],
            "available_to": [None, None, None, None, pd.Timestamp("2020-01-01", tz="UTC")],
        },
        geometry=[_pt(300, 50), _pt(200, 205), _pt(600, 205), _pt(400, 50), _pt(250, 60)],
        crs=METRIC,
    ).to_crs(4326)
    cands = gpd.GeoDataFrame(
        {"id": [1], "name": ["沿街商铺"], "kind": ["lease"], "floor_area_m2": [300.0], "floor_level": [1]},
        geometry=[_pt(100, 60)],
        crs=METRIC,
    ).to_crs(4326)
    return assets, cands


@pytest.fixture(scope="module")
def world():
    f = audit_frames()
    net = WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=METRIC)
    return f, net


def _audit(world, *, net=True, budget=None, developments=None, assets=None):
    f, network = world
    a, c = _spaces()
    return compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(developments if developments is not None else f["developments"]),
        load_norms(),
        net=network if net else None,
        idle_assets=a if assets is None else assets,
        space_candidates=c,
        gap_params=GapPlanParams.from_input(budget),
    )


def _rows(res, code, need):
    gp = res.gap_plan
    return gp[(gp["community_code"] == code) & (gp["need"] == need)]


def test_audit_gap_plan_on_the_hand_built_world(world):
    res = _audit(world)
    day, nursery = _rows(res, "c1", "elderly_day_care"), _rows(res, "c1", "nursery")
    assert day["candidate_name"].tolist() == ["旧粮站"] and day["kind"].tolist() == ["asset_free_transfer"]
    assert nursery["candidate_name"].tolist() == ["供销社门市"] and nursery["inside"].tolist() == [False]
    assert nursery["cost_yuan"].tolist() == [pytest.approx(50_000)]  # 250 m2 x 40 yuan x 5 years (the norm)
    assert nursery["rent_yuan_per_year"].tolist() == [pytest.approx(10_000)]
    assert "区供销社" in nursery["how_zh"].iloc[0] and "元/m²·年" in nursery["how_zh"].iloc[0]
    assert day.geometry.iloc[0].geom_type == "LineString"
    c2_nursery, c2_day = _rows(res, "c2", "nursery"), _rows(res, "c2", "elderly_day_care")
    assert c2_nursery["candidate_name"].tolist() == ["旧邮政所"]
    assert c2_day["kind"].tolist() == ["open"] and c2_day.geometry.iloc[0].geom_type == "Point"
    assert "面积不足或已用于其他社区" in c2_day["open_reason_zh"].iloc[0]
    assert "办公楼三层" not in set(res.gap_plan["candidate_name"].dropna())  # floor 3 without a lift
    assert "没有可用" in _rows(res, "c3", "community_service_station")["open_reason_zh"].iloc[0]
    g = res.totals["gap_plan"]
    assert g["closed_m2"] == pytest.approx(750) and g["cost_yuan"] == pytest.approx(50_000)
    assert g["candidates"] == 4 and g["candidates_excluded"] == 2 and g["optimal"]
    assert g["greedy"]["closed_m2"] <= g["closed_m2"] + 1e-6
    cm = res.communities.set_index("community_code")
    assert cm.loc["c1", "gap_plan_status"] == "closed" and "旧粮站" in cm.loc["c1", "gap_plan_zh"]
    assert cm.loc["c2", "gap_plan_status"] == "partly" and cm.loc["c4", "gap_plan_status"] == "open"
    out = res.cannot_assess[res.cannot_assess["layer"].isin(["idle_assets", "space_candidates"])]
    assert dict(zip(out["name"], out["reason_zh"])) == {
        "过期仓库": "可用期已结束",
        "沿街商铺": "租赁方式缺少租金，无法比较",
    }
    assert any(n["check"] == "gap_plan.outside_walk_limit_m" for n in res.norms_used)


def test_budget_zero_leaves_the_lease_out_and_says_why(world):
    res = _audit(world, budget=0)
    nursery = _rows(res, "c1", "nursery")
    assert nursery["kind"].tolist() == ["open"] and "预算不足" in nursery["open_reason_zh"].iloc[0]
    assert res.totals["gap_plan"]["cost_yuan"] == 0 and res.totals["gap_plan"]["budget_yuan"] == 0


@pytest.mark.filterwarnings("ignore:The behavior of DataFrame concatenation:FutureWarning")
def test_purchase_beats_a_lease_dearer_over_the_rent_horizon(world):
    a, _ = _spaces()
    # a2 for sale at 40,000 yuan beside the lease: 40,000 < 50,000 over five years
    sale = a[a["id"] == 2].assign(id=6, name="供销社门市（出售）", terms="sale", price_yuan=40_000.0,
                                  rent_yuan_per_m2_year=None)  # fmt: skip
    res = _audit(world, assets=pd.concat([a, sale], ignore_index=True))
    assert _rows(res, "c1", "nursery")["candidate_name"].tolist() == ["供销社门市（出售）"]


def test_without_a_network_only_spaces_inside_count(world):
    res = _audit(world, net=False)
    assert _rows(res, "c1", "nursery")["kind"].tolist() == ["open"]
    assert any("未提供步行网络" in w for w in res.warnings)


def test_developments_tracked_until_handover(world):
    f, _ = world
    dev = f["developments"].iloc[[0, 0, 0, 0]].copy()
    dev["source_id"] = ["h1", "h2", "h3", "h4"]
    dev["name"] = ["移交不足", "足额移交", "未填移交面积", "建成未移交"]
    dev["required_facility_area_m2"] = 100.0
    dev["built_facility_area_m2"] = 100.0
    dev["status"] = ["handed_over", "handed_over", "handed_over", "completed"]
    dev["handed_over_area_m2"] = [60.0, 100.0, None, None]
    dev["handover_date"] = [pd.Timestamp("2025-03-01", tz="UTC"), None, None, None]
    res = _audit(world, developments=dev)
    d = res.developments.set_index("name")
    assert d.loc["移交不足", "handover_short"] is True and d.loc["移交不足", "handover_short_m2"] == 40
    assert "少移交 40.0 m²" in d.loc["移交不足", "handover_finding_zh"]
    assert d.loc["移交不足", "handover_date"] == "2025-03-01"
    assert d.loc["足额移交", "handover_short"] is False
    assert (
        d.loc["未填移交面积", "handover_short"] is None and "无法核对" in d.loc["未填移交面积", "handover_finding_zh"]
    )
    assert d.loc["建成未移交", "handover_stage_zh"] == "已建成，尚未移交社区"
    t = res.totals
    assert (t["developments_handed_over"], t["developments_handed_over_short"]) == (3, 1)
    assert t["developments_handover_short_m2"] == 40 and t["developments_built_not_handed_over"] == 1


def test_pairs_follow_the_walking_rule(world):
    from facilities.audit import AuditParams
    from facilities.audit._common import AuditContext
    from facilities.audit.gap_spaces import GapInputs, gap_setup
    from facilities.audit.parcels import parcel_layer, plan_for_gaps
    from facilities.audit.space import FacilityLayer, community_space

    f, net = world
    a, c = _spaces()
    units = _with_ids(f["units"])
    ctx = AuditContext.build(f["communities"], units, load_norms(), AuditParams(), net)
    fl = FacilityLayer.build(_with_ids(f["facilities"]), ctx)
    space = community_space(ctx, fl)
    plan = plan_for_gaps(ctx, fl, space, parcel_layer(_with_ids(f["parcels"]), ctx, fl))
    su = gap_setup(ctx, space, plan, GapInputs(a, c, units, None, net))
    names = su.cands.frame["candidate_name"].tolist()
    pairs = {(ctx.cm_code[i], names[j]): inside for (i, j), inside in su.pair_inside.items()}
    assert pairs[("c1", "供销社门市")] is False  # outside, half the residents within 300 m
    assert ("c1", "旧邮政所") not in pairs  # outside, nobody within 300 m
    assert pairs[("c1", "旧粮站")] is True and pairs[("c2", "旧邮政所")] is True
    walk = dict(zip(zip(su.problem.pair_community.tolist(), su.problem.pair_candidate.tolist()),
                    su.problem.pair_walk_m.tolist()))  # fmt: skip
    c1, j2 = int(np.flatnonzero(ctx.cm_code == "c1")[0]), names.index("供销社门市")
    assert walk[(c1, j2)] == pytest.approx((205 + 405) / 2, abs=2)  # residents' mean walk, m
    assert shapely.Point  # noqa: B018 (imported for the fixtures' geometry)


@pytest.mark.parametrize("seed", range(4))
def test_solving_component_by_component_gives_the_same_optimum(seed, monkeypatch):
    import facilities.audit.gap_plan as gp

    rng = np.random.default_rng(100 + seed)
    pb = _random_problem(rng)
    monkeypatch.setattr(gp, "BATCH_ENTRIES", 10**9)
    whole = solve_exact(pb)
    monkeypatch.setattr(gp, "BATCH_ENTRIES", 1)
    parts = solve_exact(pb)
    assert len(gp._batches(pb, gp._entries(pb), None)) >= 1
    for a in ("closed_m2", "residents_served", "cost_yuan", "walk_m"):
        assert getattr(parts, a) == pytest.approx(getattr(whole, a), abs=0.05), a
    _check_constraints(pb, parts, None)
