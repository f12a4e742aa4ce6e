"""Fairness of access (issue 17, item 3): weighted Gini, Palma, thresholds, worst-served, on hand-made data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from inequality.gini import Gini
from inequality.wolfson import lorenz_curve

from facilities.fairness import (
    FairnessParams,
    compute_fairness,
    distance_stats,
    lorenz_at,
    palma_ratio,
    weighted_gini,
    weighted_lorenz,
    weighted_quantile,
    worst_served,
)
from geo_service.core._errors import InputError
from geo_service.core.norms import load_norms

NORMS = load_norms()


def test_equal_distances_give_gini_zero_and_palma_a_quarter():
    x = np.full(7, 420.0)
    w = np.array([1, 5, 2, 8, 3, 1, 10.5])
    assert weighted_gini(x, w) == pytest.approx(0.0, abs=1e-12)
    assert palma_ratio(x, w) == pytest.approx(0.25)


def test_one_unit_walking_all_the_distance():
    # everyone else is at the facility: G = 1 - w_last / W (the within-unit spread of the far unit's residents)
    x = np.array([0.0, 0.0, 0.0, 900.0])
    w = np.array([10.0, 20.0, 30.0, 40.0])
    assert weighted_gini(x, w) == pytest.approx(1 - 40 / 100)
    assert weighted_gini(x) == pytest.approx(3 / 4)  # equal weights: (n - 1) / n
    assert np.isnan(palma_ratio(x, w))  # the nearest 40 % walk nothing: the ratio is undefined, not inf


def test_palma_by_hand():
    x = np.array([1.0] * 9 + [11.0])  # total 20: the farthest 10 % walk 11, the nearest 40 % walk 4
    assert palma_ratio(x) == pytest.approx(11 / 4)
    assert lorenz_at(x, None, 0.4) == pytest.approx(4 / 20)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weighted_gini_equals_inequality_on_repeated_values(seed):
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 300.0, size=40)
    w = rng.integers(0, 30, size=40)
    expanded = np.repeat(x, w)
    assert weighted_gini(x, w) == pytest.approx(Gini(expanded).g, rel=1e-9)
    # with equal weights it is inequality's Gini of the plain values
    assert weighted_gini(x) == pytest.approx(Gini(x).g, rel=1e-9)
    # and the Lorenz curve is inequality's, point for point
    p, lor = weighted_lorenz(x)
    p2, l2 = lorenz_curve(x)
    np.testing.assert_allclose(p, p2)
    np.testing.assert_allclose(lor, l2)
    # scaling the weights (residents of a derived group) changes nothing
    assert weighted_gini(x, w * 0.032) == pytest.approx(weighted_gini(x, w), rel=1e-9)


def test_palma_on_repeated_values_matches_the_sorted_shares():
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 300.0, size=25)
    w = rng.integers(1, 5, size=25) * 10  # every unit a multiple of 10 residents: the 10 % cut falls on a resident
    e = np.sort(np.repeat(x, w))
    n = len(e)
    expected = e[int(round(0.9 * n)) :].sum() / e[: int(round(0.4 * n))].sum()
    assert palma_ratio(x, w) == pytest.approx(expected, rel=1e-9)


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        weighted_gini([1.0, np.inf], [1, 1])
    with pytest.raises(ValueError):
        weighted_gini([1.0, 2.0], [1, -1])
    assert np.isnan(weighted_gini([1.0, 2.0], [0, 0]))


def test_unreached_units_are_capped_or_excluded_never_inf():
    walk = np.array([100.0, 200.0, np.inf, np.nan])
    w = np.array([10.0, 10.0, 5.0, 5.0])
    thr = {"a": 150.0, "b": None}
    cap = distance_stats(walk, w, thr, 2000.0, "cap")
    assert cap["gini"] == pytest.approx(weighted_gini([100, 200, 2000, 2000], w), abs=1e-6)
    assert cap["lower_bound"] and cap["unreached_weight"] == 10 and cap["unreached_share"] == pytest.approx(1 / 3)
    exc = distance_stats(walk, w, thr, 2000.0, "exclude")
    assert exc["gini"] == pytest.approx(weighted_gini([100, 200], [10, 10]), abs=1e-6)
    assert exc["mean_walk_m"] == pytest.approx(150.0) and not exc["lower_bound"]
    for s in (cap, exc):  # unreached residents are beyond every threshold either way
        assert s["beyond_a_share"] == pytest.approx(20 / 30)
        assert np.isnan(s["beyond_b_share"])


def test_worst_served_holds_at_least_a_tenth_farthest_first():
    walk = np.array([50.0, 900.0, np.inf, 300.0, 900.0])
    w = np.array([100.0, 3.0, 2.0, 50.0, 6.0])  # total 161: 10 % is 16.1
    pos = worst_served(walk, w)
    assert list(pos) == [2, 4, 1, 3]  # unreached first, then 900 m (larger unit first), then 300 m to pass 10 %
    assert w[pos[:-1]].sum() < 0.1 * w.sum() <= w[pos].sum()
    assert len(worst_served(walk, np.zeros(5))) == 0


def _frames():
    units = pd.DataFrame(
        {
            "unit_id": [1, 2, 3, 4],
            "name": ["甲", "乙", "丙", "丁"],
            "residents": [1000, 1000, 2000, 0],
            "street_code": ["s1", "s1", "s2", "s2"],
        }
    )
    groups = pd.DataFrame({"residents_0_3": [10.0, 30.0, 20.0, 0.0], "residents_all": units["residents"]})
    walks = {"nursery": np.array([100.0, 700.0, np.inf, 50.0]), "health_station": np.array([100.0] * 4)}
    return units, groups, walks


def test_compute_fairness_weighs_by_the_served_group_per_street():
    units, groups, walks = _frames()
    res = compute_fairness(units, walks, groups, NORMS, category_thresholds={"nursery": 300.0})
    t = res.table.set_index(["category", "street_code"])
    city = t.loc[("nursery", "全市")]
    assert city["group"] == "0_3" and city["weight"] == pytest.approx(60.0)
    assert city["gini"] == pytest.approx(weighted_gini([100, 700, 2000], [10, 30, 20]), abs=1e-6)
    assert city["beyond_threshold_share"] == pytest.approx(50 / 60)
    assert city["beyond_15min_share"] == pytest.approx(20 / 60)  # only the unreached unit is beyond 1000 m
    s1 = t.loc[("nursery", "s1")]
    assert s1["weight"] == pytest.approx(40.0) and s1["unreached_weight"] == 0
    assert t.loc[("health_station", "全市")]["gini"] == pytest.approx(0.0)
    assert t.loc[("health_station", "全市")]["group"] == "all"
    worst = res.worst["nursery"]
    city_worst = worst[worst["scope"] == "city"]
    assert list(city_worst["unit_id"]) == [3] and not city_worst["reached"].iloc[0]
    assert list(worst[worst["street_code"] == "s1"]["unit_id"]) == [2]
    assert any("2000" in n for n in res.notes)


def test_params_from_input():
    assert FairnessParams.from_input().resolved_limit_m(NORMS) == 2 * NORMS.life_circle("15min").walk_m
    assert FairnessParams.from_input("exclude", "1500").limit_m == 1500.0
    with pytest.raises(InputError, match="cap") as e:
        FairnessParams.from_input("drop")
    assert "不可达" in e.value.message_zh
    with pytest.raises(InputError) as e:
        FairnessParams.from_input(None, "abc")
    assert "搜索上限" in e.value.message_zh
    with pytest.raises(InputError):
        FairnessParams.from_input(None, 99999)


def test_one_sort_statistics_equal_the_public_functions():
    rng = np.random.default_rng(11)
    x = rng.gamma(2.0, 300.0, size=60)
    w = rng.random(60) * 50
    s = distance_stats(x, w, {}, 5000.0, "cap")
    assert s["gini"] == pytest.approx(weighted_gini(x, w), abs=1e-6)
    assert s["palma"] == pytest.approx(palma_ratio(x, w), abs=1e-6)
    assert s["median_walk_m"] == pytest.approx(weighted_quantile(x, w, 0.5), abs=0.05)
    assert s["p90_walk_m"] == pytest.approx(weighted_quantile(x, w, 0.9), abs=0.05)
    assert s["mean_walk_m"] == pytest.approx(np.average(x, weights=w), abs=0.05)
