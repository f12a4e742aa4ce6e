"""E2SFCA accessibility (facilities/accessibility.py) on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facilities.accessibility import (
    DEFAULT_ZONE_BREAKS_M,
    DEFAULT_ZONE_WEIGHTS,
    decay_weights,
    e2sfca,
)
from geo_service.core._errors import InputError


def test_defaults_are_the_documented_ones():
    assert DEFAULT_ZONE_BREAKS_M == (300.0, 500.0, 1000.0)
    assert DEFAULT_ZONE_WEIGHTS == (1.0, 0.68, 0.22)


def test_hand_computed_two_facilities():
    residents = np.array([1000.0, 2000.0, 500.0])
    capacity = np.array([30.0, 10.0])  # e.g. places
    #        unit fac  walk_m
    pairs = [
        (0, 0, 0.0),  # zone 1, w 1.00 -- a zero distance must count
        (1, 0, 400.0),  # zone 2, w 0.68
        (1, 1, 300.0),  # exactly at the first break: zone 1, w 1.00
        (2, 1, 800.0),  # zone 3, w 0.22
        (2, 0, 1000.5),  # beyond the catchment: w 0
    ]
    u, f, d = (np.array(c) for c in zip(*pairs))
    r = e2sfca(u, f, d, residents, capacity)
    # step 1: D_0 = 1000*1.00 + 2000*0.68 = 2360      R_0 = 30 / 2360 = 0.0127118644
    #         D_1 = 2000*1.00 +  500*0.22 = 2110      R_1 = 10 / 2110 = 0.0047393365
    assert r.weighted_demand_residents.tolist() == pytest.approx([2360.0, 2110.0])
    r0, r1 = 30 / 2360, 10 / 2110
    assert r.ratio_per_1000 == pytest.approx([1000 * r0, 1000 * r1])  # 12.71, 4.74 per 1,000
    # step 2: A_0 = 1.00*R_0                 = 0.0127118644 -> 12.712 per 1,000
    #         A_1 = 0.68*R_0 + 1.00*R_1      = 20.4/2360 + 10/2110 = 0.0086441 + 0.0047393
    #                                        = 0.0133834 -> 13.383 per 1,000
    #         A_2 = 0.22*R_1 (f0 out of reach) = 0.0010427 -> 1.043 per 1,000
    expected = [1000 * r0, 1000 * (0.68 * r0 + r1), 1000 * 0.22 * r1]
    assert r.e2sfca_per_1000 == pytest.approx(expected)
    assert r.e2sfca_per_1000 == pytest.approx([12.7118644, 13.3834043, 1.0426540], rel=1e-7)
    # capacity is redistributed, not created: sum_i P_i A_i = 30 + 10
    assert float(residents @ r.e2sfca_per_1000) / 1000 == pytest.approx(40.0)
    assert r.reached.tolist() == [True, True, True]
    assert r.n_pairs_used == 4
    assert r.excluded_facilities.size == 0 and r.facilities_without_demand.size == 0


def test_zone_boundaries_inclusive_upper_bounds():
    d = np.array([0.0, 299.999, 300.0, 300.001, 500.0, 500.001, 999.9, 1000.0, 1000.001, 5000.0])
    w = decay_weights(d)
    assert w.tolist() == [1.0, 1.0, 1.0, 0.68, 0.68, 0.22, 0.22, 0.22, 0.0, 0.0]
    # the same through e2sfca: one unit per distance, each with its own facility of capacity 1 and 1 resident
    n = d.size
    r = e2sfca(np.arange(n), np.arange(n), d, np.ones(n), np.ones(n))
    # R_j = 1 / (1 * w), A_i = w * R_j = 1 where w > 0, else 0 (and the facility has no demand)
    assert (r.e2sfca_per_1000 / 1000).tolist() == pytest.approx([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    assert r.facilities_without_demand.tolist() == [8, 9]
    assert r.reached.tolist() == [True] * 8 + [False, False]


def test_custom_zones_override():
    w = decay_weights([50, 100, 150, 200, 250], zone_breaks_m=[100, 200], zone_weights=[1.0, 0.5])
    assert w.tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]
    r = e2sfca(
        [0, 1], [0, 0], [100.0, 150.0], [100.0, 100.0], [15.0], zone_breaks_m=[100, 200], zone_weights=[1.0, 0.5]
    )
    # D = 100*1 + 100*0.5 = 150, R = 15/150 = 0.1; A = [0.1, 0.05] -> [100, 50] per 1,000
    assert r.e2sfca_per_1000.tolist() == pytest.approx([100.0, 50.0])


def test_gaussian_decay():
    e = math.exp(-0.5)
    # W(d) = (exp(-d^2/(2 d0^2)) - e^-1/2) / (1 - e^-1/2); d0 = 1000
    # W(500) = (exp(-0.125) - 0.6065307) / 0.3934693 = (0.8824969 - 0.6065307) / 0.3934693 = 0.7013666
    w = decay_weights([0.0, 500.0, 1000.0, 1000.1], decay="gaussian")
    assert w == pytest.approx([1.0, 0.7013666, 0.0, 0.0], abs=1e-7)
    assert w[1] == pytest.approx((math.exp(-0.125) - e) / (1 - e))
    w2 = decay_weights([250.0], decay="gaussian", gaussian_catchment_m=500.0)
    assert w2[0] == pytest.approx(w[1])  # depends on d / d0 only
    r = e2sfca([0, 1], [0, 0], [0.0, 500.0], [100.0, 100.0], [10.0], decay="gaussian")
    # D = 100*1 + 100*0.7013666 = 170.13666; R = 10 / 170.13666
    big_r = 10 / (100 + 100 * w[1])
    assert r.e2sfca_per_1000 == pytest.approx([1000 * big_r, 1000 * w[1] * big_r])


def test_unknown_capacity_excluded_and_listed():
    # unit 0 reaches f0 (capacity unknown) and f1 (20 places) -- f0 takes no demand away from f1
    r = e2sfca([0, 0, 1], [0, 1, 1], [100.0, 100.0, 450.0], [1000.0, 500.0], [np.nan, 20.0])
    assert r.excluded_facilities.tolist() == [0]
    assert math.isnan(r.ratio_per_1000[0])
    # D_1 = 1000*1 + 500*0.68 = 1340, R_1 = 20/1340; A = [R_1, 0.68 R_1]
    r1 = 20 / 1340
    assert r.e2sfca_per_1000 == pytest.approx([1000 * r1, 1000 * 0.68 * r1])
    assert r.weighted_demand_residents.tolist() == pytest.approx([0.0, 1340.0])


def test_facility_without_demand_and_unit_without_facility():
    # f0 only reached by an empty unit (0 residents), f1 reached by nobody; unit 2 reaches nothing
    r = e2sfca([0, 1], [0, 2], [10.0, 10.0], [0.0, 100.0, 300.0], [50.0, 40.0, 5.0])
    assert r.facilities_without_demand.tolist() == [0, 1]
    assert np.isnan(r.ratio_per_1000[:2]).all()
    assert r.ratio_per_1000[2] == pytest.approx(1000 * 5 / 100)
    assert r.e2sfca_per_1000.tolist() == pytest.approx([0.0, 50.0, 0.0])  # empty unit gets nothing from f0
    assert r.reached.tolist() == [True, True, False]
    assert np.isfinite(r.e2sfca_per_1000).all()


def test_duplicate_pairs_count_once_at_shortest_distance():
    # unit 0 listed twice for f0 (two entrances: 600 m and 200 m) -> one pair at 200 m, w 1.0
    r = e2sfca([0, 0, 1], [0, 0, 0], [600.0, 200.0, 400.0], [100.0, 100.0], [17.0])
    # D = 100*1 + 100*0.68 = 168, R = 17/168
    assert r.weighted_demand_residents[0] == pytest.approx(168.0)
    assert r.e2sfca_per_1000 == pytest.approx([1000 * 17 / 168, 1000 * 0.68 * 17 / 168])
    assert r.n_pairs_used == 2


def test_no_pairs_at_all():
    r = e2sfca([], [], [], [10.0, 20.0], [3.0])
    assert r.e2sfca_per_1000.tolist() == [0.0, 0.0]
    assert r.facilities_without_demand.tolist() == [0]
    assert not r.reached.any()


def test_vectorised_matches_a_loop_reference():
    rng = np.random.default_rng(7)
    n_u, n_f, n_p = 300, 40, 3000
    u = rng.integers(0, n_u, n_p)
    f = rng.integers(0, n_f, n_p)
    d = rng.uniform(0, 1200, n_p)
    d[:20] = 0.0
    p = rng.integers(0, 800, n_u).astype(float)
    s = rng.uniform(0, 100, n_f)
    s[3] = np.nan
    r = e2sfca(u, f, d, p, s)
    # reference with Python loops over a dense min-distance matrix
    dist = np.full((n_u, n_f), np.inf)
    for a, b, c in zip(u, f, d):
        dist[a, b] = min(dist[a, b], c)

    def wt(x):
        return 1.0 if x <= 300 else 0.68 if x <= 500 else 0.22 if x <= 1000 else 0.0

    wmat = np.vectorize(wt)(dist)
    ratio = np.zeros(n_f)
    for j in range(n_f):
        dem = sum(p[i] * wmat[i, j] for i in range(n_u))
        ratio[j] = s[j] / dem if dem > 0 and not np.isnan(s[j]) else 0.0
    ref = np.array([sum(wmat[i, j] * ratio[j] for j in range(n_f)) for i in range(n_u)])
    assert r.e2sfca_per_1000 == pytest.approx(1000 * ref)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"walk_m": [-1.0, 10.0]},
        {"walk_m": [np.nan, 10.0]},
        {"walk_m": [np.inf, 10.0]},
        {"residents": [-5.0, 10.0]},
        {"residents": [np.nan, 10.0]},
        {"capacity": [-1.0]},
        {"capacity": [np.inf]},
        {"unit_idx": [0, 2]},
        {"facility_idx": [0, 1]},
        {"unit_idx": [0, -1]},
        {"unit_idx": [0.0, 1.0]},
        {"unit_idx": [0]},
        {"residents": [[1.0, 2.0]]},
        {"capacity": ["a"]},
        {"zone_breaks_m": [500, 300, 1000]},
        {"zone_breaks_m": [300, 500]},
        {"zone_weights": [1.0, -0.5, 0.2]},
        {"zone_weights": [0.0, 0.0, 0.0]},
        {"decay": "linear"},
        {"decay": "gaussian", "gaussian_catchment_m": 0.0},
    ],
)
def test_invalid_input(kwargs):
    args = {
        "unit_idx": [0, 1],
        "facility_idx": [0, 0],
        "walk_m": [10.0, 20.0],
        "residents": [5.0, 10.0],
        "capacity": [3.0],
    }
    args.update(kwargs)
    with pytest.raises(InputError) as exc:
        e2sfca(**args)
    err = exc.value
    assert err.message and err.message_zh and err.message != err.message_zh
    assert err.http_status == 422
