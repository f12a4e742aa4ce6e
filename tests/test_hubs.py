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
