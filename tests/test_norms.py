"""Tests of geo_service.core.norms and the packaged norms.toml."""

from __future__ import annotations

import json
import tomllib
from importlib import resources

import pytest
from pydantic import ValidationError

from geo_service.core.norms import LEVELS, STATUSES, Norms, NormsError, load_norms
from geo_service.core.vocab import FACILITY_CATEGORIES, LAND_USE_CODES


@pytest.fixture(scope="module")
def norms() -> Norms:
    return load_norms()


# --- packaged defaults --------------------------------------------------------------


def test_life_circles_match_norms_md(norms):
    c15 = norms.life_circle("15min")
    assert c15.walk_m == 1000 and c15.walk_range_m == (800, 1000)
    assert c15.residents == (50_000, 100_000) and c15.dwellings == (17_000, 32_000)
    assert c15.status == "verified"
    c10 = norms.life_circle(10)
    assert (c10.walk_m, c10.residents, c10.dwellings, c10.status) == (500, (15_000, 25_000), (5_000, 8_000), "verified")
    c5 = norms.life_circle("5-minute")
    assert (c5.walk_m, c5.residents, c5.dwellings, c5.status) == (300, (5_000, 12_000), (1_500, 4_000), "unverified")
    block = norms.life_circle("block")
    assert (block.walk_m, block.residents, block.dwellings, block.status) == (
        None,
        (1_000, 3_000),
        (300, 1_000),
        "secondary",
    )
    park = norms.park_minimum("10min")
    assert park.min_area_m2 == 10_000 and park.min_width_m == 50


def test_walking_and_radii(norms):
    assert norms.walking_speed_mps == 1.0
    assert norms.source_of("mobility.walking_speed_mps")[1] == "unverified"
    assert norms.walk_m_for_minutes(15) == 900.0
    assert norms.service_radius_m("kindergarten") == 300
    assert norms.service_radius_m("nursery") == 300
    assert norms.service_radius_m("primary_school") == 500
    assert norms.service_radius_m("middle_school") == 1000
    assert norms.source_of("service_radius_m.primary_school") == (
        "GB 50180-93 (older service-radius tables, cited in NORMS.md)",
        "secondary",
    )
    # no explicit radius: the walking distance of the smallest circle providing it
    assert norms.service_radius_key("health_station") == "life_circles.5min"
    assert norms.service_radius_m("health_station") == 300
    assert norms.service_radius_m("health_center") == 1000
    assert norms.service_radius_m("health_station", fallback=False) is None
    assert norms.service_radius_m("pharmacy") is None
    with pytest.raises(NormsError, match="unknown facility category 'hospital'"):
        norms.service_radius_m("hospital")


def test_required_facilities(norms):
    r15 = norms.required_facilities("15min")
    assert {"culture_center", "community_service_center", "street_office", "middle_school"} <= set(r15)
    assert "primary_school" in norms.required_facilities("10min")
    assert "residential_park" in norms.required_facilities("10min")
    assert {"kindergarten", "community_service_station", "elderly_day_care"} <= set(norms.required_facilities(5))
    assert norms.level_of("middle_school") == "15min"
    assert norms.level_of("pharmacy") is None
    for level in LEVELS:
        for cat in norms.required_facilities(level):
            assert cat in FACILITY_CATEGORIES


def test_facility_minimums_and_community(norms):
    assert norms.facility_min_floor_m2("community_service_station") == 800
    assert norms.facility_min_floor_m2("nursery") == 200
    assert norms.facility_min_floor_m2("elderly_day_care") == 350
    assert norms.facility_min_floor_m2("health_station") == 120
    assert norms.facility_min_floor_m2("supermarket") == 300
    assert norms.facility_min_floor_m2("market") is None
    kg = norms.facility_minimum("kindergarten")
    assert (kg.classes, kg.floor_m2, kg.land_m2, kg.status) == (6, 2200, 3500, "verified")
    emb = norms.facility_minimum("embedded_service")
    assert (emb.floor_m2, emb.preferred_floor_m2) == (600, 800)
    assert norms.service_floor_m2_per_100_households == 30
    assert norms.community_workers_per_10000 == 18
    assert norms.household_band == (1000, 3000)
    assert norms.source_of("community.household_band")[1] == "unverified"
    assert norms.coverage_target_15min == 0.85


def test_shelter_and_land_use(norms):
    s = norms.shelter
    assert s.emergency_walk_limit_m == 500 and s.emergency_walk_minutes == 10
    assert (s.per_capita_emergency_m2, s.per_capita_fixed_m2, s.min_site_area_m2) == (1.5, 2.0, 2000)
    assert s.fixed_min_share == 0.15
    assert (s.central_max_area_km2, s.central_max_residents) == (50, 500_000)
    assert s.management_point_m2_per_10000 == 50
    assert s.classes == ("emergency", "fixed", "central")
    assert norms.source_of("shelter.per_capita_fixed_m2")[1] == "unverified"
    lu = norms.land_use
    assert lu.reserved_community_service == ("0702", "0704")
    assert lu.public_service_prefixes == ("08",)
    assert lu.shelter_sites == ("1401", "1403")
    assert lu.facility_codes["kindergarten"] == "080404"
    assert lu.is_community_service_land("0702") and lu.is_community_service_land("080403")
    assert not lu.is_community_service_land("0701")
    for code in (*lu.reserved_community_service, *lu.shelter_sites, *lu.housing, *lu.facility_codes.values()):
        assert code in LAND_USE_CODES


def test_every_entry_has_source_and_status(norms):
    entries = list(norms.entries())
    assert len(entries) > 30
    for path, entry in entries:
        assert entry.source.strip(), path
        assert entry.status in STATUSES, path
        assert norms.source_of(path) == (entry.source, entry.status)
    # and in the shipped file itself, not only after validation
    raw = tomllib.loads(resources.files("geo_service.core").joinpath("norms.toml").read_text(encoding="utf-8"))
    for section, items in raw.items():
        for key, entry in items.items():
            assert entry.get("source") and entry.get("status") in STATUSES, f"{section}.{key}"


def test_source_of_paths(norms):
    assert norms.source_of("life_circles.15min.walk_m") == norms.source_of("life_circles.15min")
    for bad in ("shelter", "shelter.nope", "life_circles.20min", "life_circles.15min.nope", "nope.x"):
        with pytest.raises(NormsError, match="no norm"):
            norms.source_of(bad)
    with pytest.raises(NormsError, match="unknown life-circle level"):
        norms.life_circle("20min")


def test_immutable_and_as_dict(norms):
    with pytest.raises(AttributeError):
        norms.walking_speed_mps = 2.0
    with pytest.raises(ValidationError, match="frozen"):
        norms.life_circle("10min").walk_m = 1  # frozen model
    with pytest.raises(TypeError):
        norms.land_use.facility_codes["nursery"] = "080404"
    d = norms.as_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["shelter"]["min_site_area_m2"]["value"] == 2000
    d["shelter"]["min_site_area_m2"]["value"] = 1
    assert norms.shelter.min_site_area_m2 == 2000
    assert load_norms() is load_norms()  # packaged defaults are cached


# --- overrides ---------------------------------------------------------------------------


def test_override_file_changes_one_value_keeps_others(tmp_path, norms):
    f = tmp_path / "deyang.toml"
    f.write_text(
        '[meta]\nname = "德阳市"\n\n[life_circles.15min]\nwalk_m = 900\n\n[mobility.walking_speed_mps]\nvalue = 0.9\n'
        'source = "德阳市规划导则 第 3 条"\nstatus = "verified"\n',
        encoding="utf-8",
    )
    local = load_norms(f)
    c15 = local.life_circle("15min")
    assert c15.walk_m == 900
    assert c15.walk_range_m == (800, 1000) and c15.residents == (50_000, 100_000)  # rest of the entry kept
    assert local.life_circle("10min").walk_m == 500
    assert local.shelter == norms.shelter
    assert local.service_radius_m("middle_school") == 1000
    # provenance: a changed value no longer claims the national source
    src, status = local.source_of("life_circles.15min.walk_m")
    assert "德阳市" in src and "GB 50180-2018" in src and status == "unverified"
    assert local.source_of("mobility.walking_speed_mps") == ("德阳市规划导则 第 3 条", "verified")
    assert local.walking_speed_mps == 0.9
    assert set(local.overridden) == {"life_circles.15min", "mobility.walking_speed_mps"}
    assert local.override_label == "德阳市"
    # the packaged defaults are untouched
    assert load_norms().life_circle("15min").walk_m == 1000


def test_override_json_and_dict(tmp_path):
    f = tmp_path / "county.json"
    f.write_text(json.dumps({"community": {"household_band": {"value": [800, 2500]}}}), encoding="utf-8")
    assert load_norms(f).household_band == (800, 2500)
    assert load_norms(str(f)).household_band == (800, 2500)
    local = load_norms({"service_radius_m": {"health_station": {"value": 250}}})
    assert local.service_radius_m("health_station") == 250
    assert local.service_radius_key("health_station") == "service_radius_m.health_station"
    assert local.source_of("service_radius_m.health_station")[1] == "unverified"
    local = load_norms({"land_use": {"facility_codes": {"codes": {"nursery": "080404"}}}})
    assert local.land_use.facility_codes["nursery"] == "080404"
    assert local.land_use.facility_codes["primary_school"] == "080403"  # merged, not replaced


@pytest.mark.parametrize(
    "override,needle",
    [
        ({"shelter": {"emergency_walk_limit_m": {"valu": 400}}}, "unknown key 'shelter.emergency_walk_limit_m.valu'"),
        ({"shelter": {"walk_limit": {"value": 400}}}, "unknown key 'shelter.walk_limit'"),
        ({"shelters": {"x": {"value": 1}}}, "unknown key 'shelters'"),
        (
            {"life_circles": {"15min": {"walk_m": 1000, "walk_metres": 1}}},
            "unknown key 'life_circles.15min.walk_metres'",
        ),
    ],
)
def test_unknown_key_rejected(override, needle):
    with pytest.raises(NormsError) as exc:
        load_norms(override)
    assert needle in exc.value.message
    assert "known there:" in exc.value.message
    assert exc.value.message_zh


@pytest.mark.parametrize(
    "override,needle",
    [
        (
            {"service_radius_m": {"kindergarten": {"value": -300}}},
            "service_radius_m.kindergarten.value: Input should be greater than 0",
        ),
        (
            {"shelter": {"min_site_area_m2": {"value": 0}}},
            "shelter.min_site_area_m2.value: Input should be greater than 0",
        ),
        ({"life_circles": {"10min": {"residents": [-1, 25000]}}}, "life_circles.10min.residents.0"),
        ({"shelter": {"fixed_min_share": {"value": 15}}}, "shelter.fixed_min_share.value"),
        ({"community": {"household_band": {"value": [3000, 1000]}}}, "first number must not exceed"),
        ({"service_radius_m": {"hospital": {"value": 500}}}, "unknown facility category 'hospital'"),
        ({"required_facilities": {"5min": {"value": ["kindergarten", "gym"]}}}, "unknown facility category 'gym'"),
        ({"mobility": {"walking_speed_mps": {"status": "official"}}}, "mobility.walking_speed_mps.status"),
        ({"land_use": {"shelter_sites": {"value": ["14-01"]}}}, "land_use.shelter_sites.value.0"),
    ],
)
def test_bad_values_rejected(override, needle):
    with pytest.raises(NormsError) as exc:
        load_norms(override)
    assert needle in exc.value.message


def test_bad_files(tmp_path):
    with pytest.raises(NormsError, match="not found"):
        load_norms(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[life_circles.15min\nwalk_m = 1", encoding="utf-8")
    with pytest.raises(NormsError, match="cannot read"):
        load_norms(bad)
    neg = tmp_path / "neg.toml"
    neg.write_text("[service_radius_m.primary_school]\nvalue = -1\n", encoding="utf-8")
    with pytest.raises(NormsError, match=r"neg\.toml.*service_radius_m\.primary_school\.value"):
        load_norms(neg)


def test_audit_norms_and_their_overrides(norms):
    assert norms.service_space_categories == (
        "community_office",
        "community_service_station",
        "community_service_center",
    )
    lu = norms.land_use
    assert lu.is_compatible("community_office", "0702") and lu.is_compatible("kindergarten", "080404")
    assert not lu.is_compatible("community_office", "0901")  # commercial land: an office there is at risk
    assert lu.is_compatible("supermarket", "0901") and lu.is_compatible("residential_park", "1401")
    assert lu.service_floor_area_ratio == 1.0
    assert norms.source_of("land_use.service_floor_area_ratio")[1] == "unverified"
    local = load_norms(
        {
            "land_use": {"compatible_prefixes": {"default": ["07"]}, "service_floor_area_ratio": {"value": 2.0}},
            "community": {"service_space_categories": {"value": ["community_service_center"]}},
        }
    )
    assert not local.land_use.is_compatible("health_station", "0806")
    assert local.land_use.service_floor_area_ratio == 2.0
    assert local.service_space_categories == ("community_service_center",)
    with pytest.raises(NormsError):
        load_norms({"community": {"service_space_categories": {"value": ["zoo"]}}})


def test_population_norms_and_their_overrides(norms):
    p = norms.population
    assert (p.storey_height_m, p.persons_per_household, p.mixed_use_residential_share) == (3.0, 2.39, 0.5)
    assert dict(p.default_floors) == {"residential": 6, "mixed": 6, "other": 2}
    assert norms.source_of("population.persons_per_household")[1] == "secondary"
    assert "德阳市第七次全国人口普查公报" in norms.source_of("population.persons_per_household")[0]
    for key in ("storey_height_m", "mixed_use_residential_share", "default_floors"):
        assert norms.source_of(f"population.{key}")[1] == "unverified"
    assert "GB 50096-2011" in norms.source_of("population.storey_height_m")[0]
    with pytest.raises(TypeError):
        p.default_floors["other"] = 3
    local = load_norms(
        {
            "population": {
                "storey_height_m": {"value": 2.8},
                "persons_per_household": {"value": 2.6, "source": "旌阳区统计公报", "status": "verified"},
                "mixed_use_residential_share": {"value": 0.7},
                "default_floors": {"value": {"residential": 9}},
            }
        }
    )
    q = local.population
    assert (q.storey_height_m, q.persons_per_household, q.mixed_use_residential_share) == (2.8, 2.6, 0.7)
    assert dict(q.default_floors) == {"residential": 9, "mixed": 6, "other": 2}  # merged, not replaced
    assert local.source_of("population.persons_per_household") == ("旌阳区统计公报", "verified")
    assert local.source_of("population.storey_height_m")[1] == "unverified"
    for bad, needle in [
        ({"default_floors": {"value": {"shop": 3}}}, "unknown building use 'shop'"),
        ({"default_floors": {"value": {"other": 0}}}, "population.default_floors.value.other"),
        ({"mixed_use_residential_share": {"value": 1.5}}, "population.mixed_use_residential_share.value"),
        ({"storey_height_m": {"value": 0}}, "population.storey_height_m.value"),
        ({"persons": {"value": 2}}, "unknown key 'population.persons'"),
    ]:
        with pytest.raises(NormsError) as exc:
            load_norms({"population": bad})
        assert needle in exc.value.message
