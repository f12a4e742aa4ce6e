"""Groups of residents (issue 17, item 2): age groups given or derived, their checks, group-weighted coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facilities.groups import group_coverage, served_group, tier_of
from geo_service.core.norms import load_norms
from population.ages import AgeGroupError, check_age_groups, group_residents

NORMS = load_norms()
SHARES = NORMS.entry("age_groups.census_shares").value


def _units(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"source_id": [f"u{i}" for i in range(n)], "residents": [1000] * n}
    return pd.DataFrame({**base, **cols})


def test_given_groups_are_kept_and_missing_ones_derived():
    u = _units(
        residents_0_3=[30, None, None, None],
        residents_3_6=[40, None, 25, None],
        residents_0_6=[70, 90, None, None],
        residents_60plus=[300, None, None, 200],
        residents_80plus=[None, None, None, None],
    )
    g = group_residents(u, NORMS)
    # unit 0: everything given except 80+, which follows its given 60+
    assert g.loc[0, ["residents_0_3", "residents_3_6", "residents_0_6"]].tolist() == [30, 40, 70]
    assert g.loc[0, "source_0_3"] == "given" and g.loc[0, "source_80plus"] == "derived"
    assert g.loc[0, "residents_80plus"] == pytest.approx(300 * SHARES["80plus"] / SHARES["60plus"])
    # unit 1: 0-6 given, split by the census shares of its two bands
    split = SHARES["0_3"] / (SHARES["0_3"] + SHARES["3_6"])
    assert g.loc[1, "residents_0_3"] == pytest.approx(90 * split)
    assert g.loc[1, "residents_0_3"] + g.loc[1, "residents_3_6"] == pytest.approx(90)
    assert g.loc[1, "source_0_6"] == "given" and g.loc[1, "source_0_3"] == "derived"
    # unit 2: only 3-6 given: 0-6 is that plus the census share of 0-3, and the parts add up
    assert g.loc[2, "residents_0_6"] == pytest.approx(25 + 1000 * SHARES["0_3"])
    assert g.loc[2, "residents_0_3"] == pytest.approx(1000 * SHARES["0_3"])
    # unit 3: nothing about children: census shares of the residents
    assert g.loc[3, "residents_6_12"] == pytest.approx(1000 * SHARES["6_12"])
    assert g.loc[3, "residents_60plus"] == 200 and g.loc[3, "source_6_12"] == "derived"
    assert (g["residents_all"] == 1000).all()


def test_inconsistent_groups_are_reported_per_row_in_chinese():
    u = _units(
        residents_0_3=[30, 10, None, None, None],
        residents_3_6=[40, 10, None, None, None],
        residents_0_6=[80, 20, None, None, 5],
        residents_60plus=[None, 100, 50, 990, None],
        residents_80plus=[None, 20, 60, None, None],
        residents_6_12=[None, None, None, 20, 1200],
    )
    problems = check_age_groups(u)
    by_row = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    assert sorted(by_row) == [1, 3, 4, 5]  # row 2 is consistent
    assert "与0–6岁人数（80）不符" in by_row[1][0].problem_zh and by_row[1][0].column == "residents_0_6"
    assert "80岁及以上人数（60）超过60岁及以上人数（50）" in by_row[3][0].problem_zh
    assert "合计 1010" in by_row[4][0].problem_zh  # 0-6 derived as 0, 6-12 20, 60+ 990 > 1000
    assert "6–12岁儿童人数（1200）超过常住人口（1000）" in by_row[5][0].problem_zh
    assert by_row[5][0].source_id == "u4"
    with pytest.raises(AgeGroupError) as e:
        group_residents(u, NORMS)
    assert e.value.http_status == 422 and "年龄分组数据有误" in e.value.message_zh and "u0" in e.value.message_zh


def test_served_groups_and_tiers_come_from_the_norms():
    assert served_group("nursery", NORMS) == "0_3"
    assert served_group("kindergarten", NORMS) == "3_6"
    assert served_group("elderly_day_care", NORMS) == "60plus"
    assert served_group("supermarket", NORMS) == "all"
    assert tier_of("kindergarten", NORMS) == "basic" and tier_of("supermarket", NORMS) == "quality"
    assert tier_of("community_office", NORMS) is None


def test_group_coverage_weighs_each_category_by_its_group():
    units = pd.DataFrame(
        {
            "unit_id": [1, 2, 3],
            "residents": [1000, 1000, 2000],
            "street_code": ["s1", "s1", "s2"],
            "nursery_covered": [True, False, False],
            "elderly_day_care_covered": [False, True, True],
            "health_station_covered": [True, True, False],
        }
    )
    groups = pd.DataFrame(
        {
            "residents_0_3": [90.0, 10.0, 0.0],
            "source_0_3": ["given", "derived", "derived"],
            "residents_60plus": [100.0, 300.0, 400.0],
        }
    )
    res = group_coverage(units, groups, NORMS)
    t = res.table.set_index(["category", "street_code"])
    nursery = t.loc[("nursery", "全市")]
    assert nursery["group_rate"] == pytest.approx(0.9) and nursery["all_rate"] == pytest.approx(0.25)
    assert nursery["derived_share"] == pytest.approx(0.1) and nursery["tier"] == "basic"
    assert t.loc[("elderly_day_care", "全市")]["group_rate"] == pytest.approx(700 / 800)
    assert t.loc[("elderly_day_care", "s1")]["group_rate"] == pytest.approx(300 / 400)
    assert t.loc[("health_station", "全市")]["group_rate"] == pytest.approx(0.5)  # serves everyone
    assert np.isnan(t.loc[("nursery", "s2")]["group_rate"])  # no children of 0-3 in s2
    assert any("社区食堂" in n for n in res.notes)  # a served category the coverage did not analyse
    assert {c["category"] for c in res.categories} == {"nursery", "elderly_day_care", "health_station"}


def test_import_refuses_age_groups_larger_than_the_residents(store):
    """The import validation runs the same check: one bad row, nothing written, the row named in Chinese."""
    import geopandas as gpd
    import shapely

    from geo_service.core._errors import ImportValidationError
    from geo_service.core.importer import ImportOptions, import_frame
    from geo_service.core.layers import get_layer

    units = gpd.GeoDataFrame(
        {
            "source_id": ["u1", "u2"],
            "residents": [100, 100],
            "households": [40, 40],
            "residents_60plus": [30, 30],
            "residents_80plus": [10, 40],  # row 2: more over-80s than over-60s
        },
        geometry=[shapely.box(104.40, 31.10, 104.401, 31.101), shapely.box(104.41, 31.10, 104.411, 31.101)],
        crs=4326,
    )
    with pytest.raises(ImportValidationError) as err:
        import_frame(store, get_layer("population_units"), units, ImportOptions())
    text = err.value.report.format_zh()
    assert "第 2 个要素" in text and "80岁及以上人数（40）超过60岁及以上人数（30）" in text
    assert store.count("population_units") == 0


def test_group_rates_are_null_with_the_reason_when_a_unit_lacks_the_group():
    """Without census shares (derive=False) a unit giving no 0-3 figure makes its scope's nursery rate unknown."""
    from facilities.groups import group_rates, unit_groups

    units = pd.DataFrame(
        {
            "residents": [1000, 500, 0],
            "street_code": ["s1", "s2", "s2"],
            "residents_0_3": [40, None, None],
            "nursery_covered": [True, False, False],
            "health_station_covered": [True, False, True],
        }
    )
    ug = unit_groups(units, NORMS, derive=False)
    assert ug.reason_zh and "未按普查结构推算" in ug.reason_zh
    assert ug.frame.loc[2, "residents_0_3"] == 0  # no residents, none of any group
    served = {"nursery": "0_3", "health_station": "all"}
    city = group_rates(units, ug, served).iloc[0]
    assert np.isnan(city["nursery_group_rate"]) and np.isnan(city["nursery_group_uncovered"])
    assert "1 个单元缺少0–3岁婴幼儿人数" in city["nursery_group_note"]
    assert city["health_station_group_rate"] == pytest.approx(1000 / 1500)  # serves everyone: always known
    streets = group_rates(units, ug, served, "street_code")
    assert streets.loc["s1", "nursery_group_rate"] == 1.0 and streets.loc["s1", "nursery_group_note"] is None
    assert streets.loc["s1", "nursery_group_uncovered"] == 0 and np.isnan(streets.loc["s2", "nursery_group_rate"])
    # with the census shares the missing unit is derived and the rate is known
    derived = group_rates(units, unit_groups(units, NORMS), served).iloc[0]
    expected_0_3 = 500 * SHARES["0_3"]
    assert derived["nursery_group_rate"] == pytest.approx(40 / (40 + expected_0_3))
    assert derived["nursery_group_uncovered"] == pytest.approx(round(expected_0_3, 1), abs=0.05)
    assert derived["nursery_group_derived_share"] == pytest.approx(expected_0_3 / (40 + expected_0_3))


def test_contradictory_age_data_give_unknown_groups_not_an_error():
    from facilities.groups import unit_groups

    units = _units(residents_60plus=[100, 50], residents_80plus=[20, 60])  # row 2: more 80+ than 60+
    ug = unit_groups(units, NORMS)
    assert ug.frame["residents_60plus"].isna().all() and "80岁及以上人数（60）超过60岁及以上人数（50）" in ug.reason_zh
