"""Norms from practice (issue 17, item 4): embedded service hubs and the 30/80 m² service-space tiers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from facilities.hubs import check_hubs, parse_functions, service_floor_tiers
from geo_service.core.norms import load_norms

NORMS = load_norms()


def _facilities(rows) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["id", "category", "floor_area_m2", "functions", "x", "y"])
    return gpd.GeoDataFrame(
        df.drop(columns=["x", "y"]), geometry=shapely.points(104.4 + df["x"] * 1e-3, 31.1 + df["y"] * 1e-3), crs=4326
    )


def test_parse_functions_accepts_codes_and_chinese_labels():
    assert parse_functions("nursery，托儿所、canteen; 老年人日间照料中心 foo") == (
        ["nursery", "canteen", "elderly_day_care"],
        ["foo"],
    )
    assert parse_functions(None) == ([], [])


def test_hubs_are_checked_against_the_norm():
    f = _facilities(
        [
            (1, "embedded_service", 700, "nursery,canteen,health_station", 0, 0),  # meets
            (2, "embedded_service", 550, "nursery,canteen,health_station", 1, 0),  # too small
            (3, "embedded_service", 900, "nursery,health_station,express_station", 2, 0),  # one core function
            (4, "embedded_service", None, "nursery,canteen,elderly_day_care", 3, 0),  # no floor area
            (5, "embedded_service", 800, None, 4, 0),  # no functions
            (6, "community_service_station", 650, "托儿所,社区食堂（助餐点）,after_school_care", 5, 0),  # a hub inside
            (7, "nursery", 650, None, 6, 0),  # not a hub
            (8, "embedded_service", 700, "nursery,canteen,玩具", 7, 0),  # an unknown name: no conclusion
        ]
    )
    h = check_hubs(f, NORMS).set_index("facility_id")
    assert list(h.index) == [1, 2, 3, 4, 5, 6, 8]
    assert h.loc[1, "hub_status"] == "meets" and h.loc[1, "core_count"] == 2 and not h.loc[1, "floor_preferred"]
    assert h.loc[2, "hub_status"] == "fails" and "低于 600 m²" in h.loc[2, "reasons_zh"]
    assert h.loc[3, "hub_status"] == "fails" and "核心功能" in h.loc[3, "reasons_zh"]
    assert h.loc[4, "hub_status"] == "cannot_assess" and "建筑面积" in h.loc[4, "reasons_zh"]
    assert h.loc[5, "hub_status"] == "cannot_assess" and "functions" in h.loc[5, "reasons_zh"]
    assert h.loc[6, "hub_status"] == "meets" and h.loc[6, "function_count"] == 3
    assert h.loc[8, "hub_status"] == "cannot_assess" and "玩具" in h.loc[8, "unknown_functions"]
    src, status = NORMS.source_of("community.embedded_hub")
    assert (h["norm_source"] == src).all() and (h["norm_status"] == status).all()


def test_service_floor_tiers_minimum_and_target():
    box = shapely.box
    communities = gpd.GeoDataFrame(
        {
            "code": ["a", "b", "c", "d", "e"],
            "name": ["甲", "乙", "丙", "丁", "戊"],
            "households": [1000, 1000, 1000, 1000, None],
        },
        geometry=[box(104.4 + i * 0.01, 31.1, 104.405 + i * 0.01, 31.105) for i in range(5)],
        crs=4326,
    )

    def at(i, dx=0.002):
        return 104.4 + i * 0.01 + dx

    fac = gpd.GeoDataFrame(
        {
            "category": ["community_service_station", "community_office", "community_service_station", "nursery"]
            + ["community_service_station", "community_service_station", "community_service_station"],
            "floor_area_m2": [500, 300, 400, 5000, 100, None, 900],
            "status": ["existing"] * 6 + ["planned"],
        },
        geometry=shapely.points([at(0), at(0), at(1), at(2), at(2), at(3), at(3)], [31.102] * 7),
        crs=4326,
    )
    t = service_floor_tiers(communities, fac, NORMS).set_index("community_code")
    # 1000 households: minimum 300 m², target 800 m²
    assert t.loc["a", "floor_tier"] == "meets_target" and t.loc["a", "service_floor_m2"] == 800
    assert t.loc["b", "floor_tier"] == "meets_minimum" and t.loc["b", "gap_to_target_m2"] == 400
    assert t.loc["c", "floor_tier"] == "below_minimum" and t.loc["c", "gap_to_minimum_m2"] == 200  # nursery not counted
    assert t.loc["d", "floor_tier"] == "cannot_assess" and "未填建筑面积" in t.loc["d", "reason_zh"]  # planned ignored
    assert t.loc["e", "floor_tier"] == "cannot_assess" and "户数" in t.loc["e", "reason_zh"]
    assert (
        t.loc["a", "target_norm_source"] == NORMS.source_of("community.service_floor_m2_per_100_households_target")[0]
    )
    assert t.loc["a", "minimum_m2"] == pytest.approx(300.0) and t.loc["a", "target_m2"] == pytest.approx(800.0)


def test_a_hub_serves_each_category_it_lists_in_coverage():
    """Tiny world: a community service station on the north bank embedding a kindergarten covers unit B."""
    from _tiny_world import frames, point_lonlat

    from facilities.coverage import CoverageParams, compute_coverage
    from facilities.hubs import with_hub_functions
    from geo_service.core.network import WalkNetwork

    f = frames()
    units = f["units"].assign(id=[1, 2, 3])
    hub = gpd.GeoDataFrame(
        {"id": [11], "category": ["community_service_station"], "functions": ["幼儿园、社区食堂（助餐点）"]},
        geometry=[shapely.Point(*point_lonlat(0, 100))],
        crs=4326,
    )
    fac = pd.concat([f["facilities"].assign(id=[10]), hub], ignore_index=True)
    expanded = with_hub_functions(fac)
    assert list(expanded["category"]) == ["kindergarten", "community_service_station", "kindergarten", "canteen"]
    assert list(expanded["supplied_by_hub"]) == [False, False, True, True]
    assert expanded["id"].tolist()[2:] == [11, 11]
    net = WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=4544)
    params = CoverageParams(categories=("kindergarten",))
    r = compute_coverage(net, units, fac, NORMS, params=params)
    b = r.units.set_index("source_id").loc["B"]
    assert b["kindergarten_walk_m"] == pytest.approx(20.0, abs=0.01) and b["kindergarten_facility_id"] == 11
    kg = r.summary()["categories"][0]
    assert kg["facilities"] == 2 and kg["hub_facilities"] == 1
    assert kg["walk_rate"] == pytest.approx(300 / 350)
    # without the functions the station serves no kindergarten
    plain = compute_coverage(net, units, fac.assign(functions=None), NORMS, params=params)
    assert plain.summary()["categories"][0]["walk_rate"] == pytest.approx(100 / 350)


def _audit_world():
    """Two communities of 1000 households on a street; c1 holds hub h1 (lists a service station), c2 hub h2."""
    box = shapely.box
    communities = gpd.GeoDataFrame(
        {"code": ["c1", "c2"], "name": ["甲", "乙"], "street_code": ["s1", "s1"], "households": [1000, 1000]},
        geometry=[box(104.40, 31.10, 104.405, 31.105), box(104.41, 31.10, 104.415, 31.105)],
        crs=4326,
    )
    units = gpd.GeoDataFrame(
        {"id": [1, 2], "residents": [2500, 2500], "households": [1000, 1000], "residents_0_3": [80, 60]},
        geometry=[box(104.401, 31.101, 104.402, 31.102), box(104.411, 31.101, 104.412, 31.102)],
        crs=4326,
    )
    fac = _facilities(
        [
            (1, "embedded_service", 700, "community_service_station,nursery,elderly_day_care", 2, 2),
            (2, "embedded_service", 650, "nursery,canteen,after_school_care", 12, 2),
        ]
    )
    return communities, units, fac


def test_in_the_audit_a_hub_is_present_for_each_function_and_its_floor_counts_once():
    from facilities.audit import compute_audit

    communities, units, fac = _audit_world()
    empty = gpd.GeoDataFrame(geometry=[], crs=4326)
    a = compute_audit(communities, units, fac, empty, empty, empty, NORMS)
    cm = a.communities.set_index("community_code")
    # h1 lists a service-space category: its 700 m² count once (not once per function); h2 lists none
    assert cm.loc["c1", "service_floor_m2"] == 700 and cm.loc["c1", "service_facilities"] == 1
    assert cm.loc["c2", "service_floor_m2"] == 0 and cm.loc["c2", "service_floor_gap_m2"] == 300
    tiers = service_floor_tiers(communities, fac, NORMS).set_index("community_code")
    assert tiers.loc["c1", "service_floor_m2"] == 700 and tiers.loc["c2", "service_floor_m2"] == 0
    # presence: the listed categories count, the others are missing
    missing_c1 = set(cm.loc["c1", "missing_categories"].split(","))
    missing_c2 = set(cm.loc["c2", "missing_categories"].split(","))
    assert not {"nursery", "elderly_day_care", "community_service_station"} & missing_c1
    assert "nursery" not in missing_c2 and {"community_service_station", "elderly_day_care"} <= missing_c2
    assert a.category_counts.set_index("community_code").loc["c1", "nursery"] == 1
    # the hubs' minimum is that of their own category (600 m²), not a nursery's per function: none is below it
    assert a.totals["facilities_below_minimum"] == 0
    # the group checks: 0-3 children are served in both; the 60+ of c2 lack an elderly day-care centre
    g = {c["category"]: c for c in a.totals["group_checks"]}
    assert g["nursery"]["shortfall_residents"] == 0 and g["nursery"]["group_residents"] == 140
    old = units["residents"].to_numpy() * NORMS.entry("age_groups.census_shares").value["60plus"]
    assert g["elderly_day_care"]["shortfall_residents"] == pytest.approx(round(old[1], 1))
    assert cm.loc["c2", "elderly_day_care_group_shortfall"] == pytest.approx(round(old[1], 1))
    assert cm.loc["c1", "elderly_day_care_group_shortfall"] == 0
    assert "老年人日间照料中心（60岁及以上老年人" in cm.loc["c2", "group_shortfall_zh"]
