"""Life-circle coverage on hand-computed cases (see tests/_tiny_world.py for the drawing)."""

from __future__ import annotations

import numpy as np
import pytest
from _tiny_world import frames

from facilities.coverage import (
    CoverageParams,
    community_rates,
    compute_coverage,
    service_area,
    walk_to_nearest,
)
from geo_service.core._errors import InputError
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import load_norms

NORMS = load_norms({"required_facilities": {"5min": {"value": ["kindergarten"]}}})
PARAMS = CoverageParams(levels=("5min",))


@pytest.fixture(scope="module")
def world():
    f = frames()
    f["units"]["id"] = [1, 2, 3]
    f["facilities"]["id"] = [10]
    net = WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=4544)
    return f, net


def test_unit_at_threshold_river_and_unreachable(world):
    f, net = world
    r = compute_coverage(net, f["units"], f["facilities"], NORMS, params=PARAMS, communities=f["communities"])
    u = r.units.set_index("source_id")
    # A: 280 m along the street + 20 m off it = 300 m, exactly the 5-minute kindergarten radius
    assert u.loc["A", "kindergarten_walk_m"] == pytest.approx(300.0, abs=0.01)
    assert u.loc["A", "kindergarten_walk_min"] == pytest.approx(5.0, abs=0.01)
    assert bool(u.loc["A", "kindergarten_covered"]) and bool(u.loc["A", "complete_5min"])
    assert u.loc["A", "kindergarten_facility_id"] == 10
    # B: 120 m as the crow flies (covered), 2,120 m on foot: beyond the largest threshold in use -> no walk figure
    assert u.loc["B", "kindergarten_straight_m"] == pytest.approx(120.0, abs=0.01)
    assert bool(u.loc["B", "kindergarten_straight_covered"])
    assert np.isnan(u.loc["B", "kindergarten_walk_m"]) and not bool(u.loc["B", "kindergarten_covered"])
    assert u.loc["B", "missing"] == ["kindergarten"]
    # C: 1 km from any street
    assert not bool(u.loc["C", "reachable"]) and not bool(u.loc["C", "kindergarten_covered"])
    assert bool(u.loc["A", "reachable"]) and u.loc["A", "snap_offset_m"] == pytest.approx(20.0, abs=0.01)

    s = r.summary()
    k = s["categories"][0]
    assert k["category"] == "kindergarten" and k["threshold_m"] == 300.0 and k["facilities"] == 1
    assert k["walk_rate"] == pytest.approx(100 / 350)
    assert k["straight_rate"] == pytest.approx(300 / 350)
    assert k["barrier_cost"] == pytest.approx(200 / 350)
    assert s["levels"][0]["complete_rate"] == pytest.approx(100 / 350)
    assert s["unreachable_residents"] == 50 and s["unreachable_units"] == 1
    assert "GB 50180-93" in k["norm_source"]

    streets = r.rates("street_code")
    assert streets.loc["510603001", "kindergarten_rate"] == pytest.approx(100 / 150)
    assert streets.loc["510603002", "kindergarten_rate"] == 0.0
    cm = community_rates(r, f["communities"]).set_index("community_code")
    assert cm.loc["c1", "residents"] == 150 and cm.loc["c1", "kindergarten_rate"] == pytest.approx(100 / 150)
    assert cm.loc["c2", "complete_5min_straight_rate"] == 1.0 and cm.loc["c2", "complete_5min_rate"] == 0.0

    gaps = r.gaps()
    assert list(gaps["source_id"]) == ["B", "C"]  # most residents first
    assert list(gaps["rank"]) == [1, 2] and gaps["missing_zh"].iloc[0] == "幼儿园"


def test_river_crossing_distance_with_a_longer_limit(world):
    f, net = world
    fac = net.snap(f["facilities"].geometry)
    units = net.snap(f["units"].geometry)
    walk, src = walk_to_nearest(net, fac, units, limit_m=5000.0)
    assert walk[1] == pytest.approx(20 + 1000 + 100 + 1000, abs=0.01)
    assert np.isinf(walk[2]) and src[2] == -1


def test_entrances_shorten_the_walk(world):
    import geopandas as gpd
    import shapely

    f, net = world
    b = f["units"].to_crs(4544).geometry.iloc[1]
    # an entrance of B on the south bank, 20 m above the street (a footbridge the network lacks)
    ent = gpd.GeoDataFrame(
        {"unit_id": [2, 2]}, geometry=[b.centroid, shapely.Point(450_000, 3_445_020)], crs=4544
    ).to_crs(4326)
    r = compute_coverage(net, f["units"], f["facilities"], NORMS, params=PARAMS, entrances=ent)
    u = r.units.set_index("source_id")
    assert u.loc["B", "kindergarten_walk_m"] == pytest.approx(20.0, abs=0.01)
    assert bool(u.loc["B", "kindergarten_covered"])
    # units without entrances keep their representative point
    assert u.loc["A", "kindergarten_walk_m"] == pytest.approx(300.0, abs=0.01) and not bool(u.loc["C", "reachable"])
    with pytest.raises(InputError):
        compute_coverage(net, f["units"], f["facilities"], NORMS, params=PARAMS, entrances=ent.assign(unit_id=[99, 2]))


def test_walking_speed_changes_minutes_not_distance(world):
    f, net = world
    r = compute_coverage(
        net, f["units"], f["facilities"], NORMS, params=CoverageParams(levels=("5min",), walking_speed_mps=1.25)
    )
    a = r.units.set_index("source_id").loc["A"]
    assert a["kindergarten_walk_m"] == pytest.approx(300.0, abs=0.01)
    assert a["kindergarten_walk_min"] == pytest.approx(4.0, abs=0.01)


def test_service_area_reaches_along_the_street(world):
    f, net = world
    area = service_area(net, f["facilities"], 300.0, buffer_m=5.0)
    import geopandas as gpd
    import shapely

    poly = gpd.GeoSeries([area], crs=4326).to_crs(4544).iloc[0]
    assert poly.contains(shapely.Point(450_290, 3_445_000))  # 290 m along the street
    assert not poly.contains(shapely.Point(450_320, 3_445_000))  # beyond 300 m
    assert not poly.contains(shapely.Point(450_000, 3_445_100))  # across the river
    # the polygon is the reachable 300 m buffered by 5 m
    assert poly.area == pytest.approx(300 * 10 + np.pi * 25 / 2 + 50, rel=0.05)


def test_bad_input(world):
    f, net = world
    with pytest.raises(InputError) as e:
        compute_coverage(net, f["units"], f["facilities"], NORMS, params=CoverageParams(categories=("swimming_pool",)))
    assert "swimming_pool" in e.value.message_zh
    with pytest.raises(InputError):
        compute_coverage(net, f["units"], f["facilities"].iloc[:0], NORMS, params=PARAMS)
    with pytest.raises(InputError):
        compute_coverage(net, f["units"].drop(columns=["residents"]), f["facilities"], NORMS, params=PARAMS)
    with pytest.raises(InputError):
        compute_coverage(
            net, f["units"], f["facilities"], NORMS, params=CoverageParams(levels=("5min",), walking_speed_mps=-1)
        )
    with pytest.raises(InputError):
        service_area(net, f["facilities"].iloc[:0], 300.0)
    # a category without facilities is a gap, not an error, when others have some
    r = compute_coverage(
        net, f["units"], f["facilities"], NORMS, params=CoverageParams(categories=("kindergarten", "nursery"))
    )
    assert r.summary()["categories"][1]["walk_rate"] == 0.0 and r.warnings


def test_in_service_counts_a_missing_status_as_existing():
    import pandas as pd

    from geo_service.core.vocab import in_service

    f = pd.DataFrame({"name": ["a", "b", "c"], "status": ["existing", None, "planned"]})
    assert list(in_service(f)["name"]) == ["a", "b"]
    assert list(in_service(f, ("planned",))["name"]) == ["c"]
    assert list(in_service(f.drop(columns="status"))["name"]) == ["a", "b", "c"]
    assert len(in_service(f.drop(columns="status"), ("planned",))) == 0


def test_rates_over_the_group_each_category_serves(world):
    """Kindergartens serve children of 3-6: A gives its 3-6 count, B and C are derived from the census shares."""
    from facilities.groups import unit_groups

    f, net = world
    units = f["units"].assign(residents_3_6=[12, None, None])
    r = compute_coverage(net, units, f["facilities"], NORMS, params=PARAMS, communities=f["communities"])
    share = NORMS.entry("age_groups.census_shares").value["3_6"]
    b, c = 200 * share, 50 * share  # derived 3-6 of B and C; only A is covered
    kg = r.summary()["categories"][0]
    assert kg["group"] == "3_6" and kg["group_zh"] == "3–6岁幼儿" and kg["tier"] == "basic"
    assert kg["group_rate"] == pytest.approx(12 / (12 + b + c), abs=1e-3)
    assert kg["group_uncovered_residents"] == pytest.approx(b + c, abs=0.1)
    assert kg["group_residents"] == pytest.approx(12 + b + c, abs=0.1)
    assert kg["group_derived_share"] == pytest.approx((b + c) / (12 + b + c), abs=1e-3)
    assert kg["walk_rate"] == pytest.approx(100 / 350) and kg["group_note_zh"] is None
    streets = r.rates("street_code")
    assert streets.loc["510603001", "kindergarten_group_rate"] == pytest.approx(12 / (12 + c), abs=1e-3)
    assert streets.loc["510603002", "kindergarten_group_rate"] == 0.0
    cm = community_rates(r, f["communities"]).set_index("community_code")
    assert cm.loc["c2", "kindergarten_group_uncovered"] == pytest.approx(b, abs=0.1)
    assert r.units.set_index("source_id").loc["A", "residents_3_6"] == 12

    # without census shares C and B have no 3-6 figure: the rates that hold them are null, with the reason
    bare = compute_coverage(
        net,
        units,
        f["facilities"],
        NORMS,
        params=PARAMS,
        groups=unit_groups(units.reset_index(drop=True), NORMS, derive=False),
    )
    kg = bare.summary()["categories"][0]
    assert (
        kg["group_rate"] is None
        and kg["group_residents"] is None
        and "2 个单元缺少3–6岁幼儿人数" in kg["group_note_zh"]
    )
    assert kg["walk_rate"] == pytest.approx(100 / 350)  # the all-residents rate stays
    assert any("缺少年龄分组人数" in w for w in bare.warnings)
