"""Population units (issue 14): exact integer reconciliation, nesting on the real 2020 census, bad input, the CLI
on SpatiaLite and PostGIS, the job kind, and the truth test against areal weighting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core._errors import InputError
from population import UnitsParams, compute_units, largest_remainder
from tests.conftest import SHARED_DATA, snapshot

ROOT = Path(__file__).resolve().parents[1]
CENSUS = SHARED_DATA / "deyang_census_2020_districts.csv"
OUTLINES = SHARED_DATA / "deyang_districts_tianditu_wgs84.geojson"
METRIC = 4544


_GEOTIFF = """
import sys, numpy as np, rasterio
from rasterio.transform import from_origin
path, width, height, x0, y0, size, crs, west = sys.argv[1:]
arr = np.zeros((int(height), int(width)), dtype="float32")
arr[:, : int(west)] = 1.0
profile = dict(driver="GTiff", width=int(width), height=int(height), count=1, dtype="float32",
               transform=from_origin(float(x0), float(y0), float(size), float(size)))
if crs != "none":
    profile["crs"] = crs
with rasterio.open(path, "w", **profile) as dst:
    dst.write(arr, 1)
"""


def _geotiff(path, width, height, x0, y0, size, crs, west) -> None:
    """A one-band GeoTIFF of ones in its ``west`` first columns, written by rasterio in a process of its own.

    rasterio's wheel carries another GDAL than pyogrio's: the tests never load it into their own process (the
    service loads it only in worker processes, see population/weights.py).
    """
    args = [str(a) for a in (path, width, height, x0, y0, size, crs, west)]
    subprocess.run([sys.executable, "-c", _GEOTIFF, *args], check=True)


def _box(x0, y0, x1, y1):
    return shapely.box(500_000 + x0, 3_440_000 + y0, 500_000 + x1, 3_440_000 + y1)


def _world():
    """Two streets (S1 west, S2 east) of 400 x 400 m, each two communities; one residential building per 50 m."""
    areas = gpd.GeoDataFrame(
        {
            "level": ["street", "street", "community", "community", "community", "community"],
            "code": ["S1", "S2", "C11", "C12", "C21", "C22"],
            "name": ["一街", "二街", "一社", "二社", "三社", "四社"],
        },
        geometry=[
            _box(0, 0, 400, 400),
            _box(400, 0, 800, 400),
            _box(0, 0, 400, 200),
            _box(0, 200, 400, 400),
            _box(400, 0, 800, 200),
            _box(400, 200, 800, 400),
        ],
        crs=METRIC,
    ).to_crs(4326)
    xs, ys = np.meshgrid(np.arange(10, 800, 50.0), np.arange(10, 400, 50.0))
    n = xs.size
    rng = np.random.default_rng(1)
    buildings = gpd.GeoDataFrame(
        {
            "name": [f"楼{i}" for i in range(n)],
            "floors": rng.integers(1, 20, n).astype(float),
            "use": "residential",
        },
        geometry=[_box(x, y, x + 20, y + 20) for x, y in zip(xs.ravel(), ys.ravel())],
        crs=METRIC,
    ).to_crs(4326)
    roads = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(500_000 + 100 * i, 3_440_000), (500_000 + 100 * i, 3_440_400)]) for i in range(9)
        ]
        + [shapely.LineString([(500_000, 3_440_000 + 100 * j), (500_800, 3_440_000 + 100 * j)]) for j in range(5)],
        crs=METRIC,
    ).to_crs(4326)
    return buildings, roads, areas


COUNTY = "510603"
STREETS = {"510603001": "城北街道", "510603002": "城东街道"}
COMMUNITIES = {
    "510603001001": "北一社区",
    "510603001002": "北二社区",
    "510603002001": "东一社区",
    "510603002002": "东二村",
}
GRIDS = {"510603001001-01": "北一网格一", "510603001001-02": "北一网格二"}
# consistent totals: every level sums to the one above, so every level can be met exactly
COUNTY_TOTALS = {COUNTY: 20_000}
STREET_TOTALS = {"510603001": (11_000, 4_600), "510603002": (9_000, 3_700)}
COMMUNITY_TOTALS = {"510603001001": 6_000, "510603001002": 5_000, "510603002001": 4_000, "510603002002": 5_000}
GRID_TOTALS = {"510603001001-01": 2_500, "510603001001-02": 3_500}


def county_world(*, with_levels: bool = True):
    """A county (800 x 400 m) of two streets, four communities (12-digit codes) and two grid cells of one community
    (codes ``510603001001-01``/``-02``), one building per 50 m and a road every 100 m (as :func:`_world`).

    ``with_levels=False``: the admin areas without ``level`` and ``parent_code`` (an office file: both from the code).
    Returns (buildings, roads, areas), EPSG:4326.
    """
    buildings, roads, _ = _world()
    boxes = {COUNTY: _box(0, 0, 800, 400), "510603001": _box(0, 0, 400, 400), "510603002": _box(400, 0, 800, 400)}
    boxes |= {
        "510603001001": _box(0, 0, 400, 200),
        "510603001002": _box(0, 200, 400, 400),
        "510603002001": _box(400, 0, 800, 200),
        "510603002002": _box(400, 200, 800, 400),
        "510603001001-01": _box(0, 0, 200, 200),
        "510603001001-02": _box(200, 0, 400, 200),
    }
    names = {COUNTY: "旌阳区", **STREETS, **COMMUNITIES, **GRIDS}
    levels = ["county"] + ["street"] * 2 + ["community"] * 4 + ["grid"] * 2
    data = {"code": list(boxes), "name": [names[c] for c in boxes]}
    if with_levels:
        data |= {"level": levels, "source_id": [f"code:{c}" for c in boxes]}
    areas = gpd.GeoDataFrame(data, geometry=list(boxes.values()), crs=METRIC).to_crs(4326)
    return buildings.assign(source_id=[f"bld-{i}" for i in range(len(buildings))]), roads, areas


def _sums(units, areas, level):
    pts = units.geometry.representative_point()
    joined = gpd.sjoin(gpd.GeoDataFrame(units.drop(columns="geometry"), geometry=pts, crs=4326),
                       areas[areas["level"] == level], predicate="within")  # fmt: skip
    return joined.groupby("code")[["residents", "households"]].sum()


def test_largest_remainder_is_exact_and_integer():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = rng.random(rng.integers(1, 30)) * rng.choice([0, 1], p=[0.1, 0.9])
        total = int(rng.integers(0, 10_000))
        out = largest_remainder(total, w)
        assert out.dtype.kind == "i" and out.sum() == total and (out >= 0).all()
    assert largest_remainder(10, np.array([1, 1, 1])).tolist() == [4, 3, 3]


def test_nested_levels_sum_exactly():
    buildings, roads, areas = _world()
    rows = [
        {"level": "street", "code": "S1", "residents": 10_001, "households": 4_000},
        {"level": "street", "code": "S2", "residents": 7_777},
        {"level": "community", "name": "一社", "residents": 6_000},  # 二社 gets the rest of 一街: 4,001
        {"level": "community", "code": "C21", "residents": 3_000, "households": 1_300},
        {"level": "community", "code": "C22", "residents": 4_777},
    ]
    res = compute_units(buildings, None, roads, areas, UnitsParams.from_input(None, rows=rows))
    u = res.units
    assert u["residents"].dtype.kind == "i" and u["households"].dtype.kind == "i"
    assert u["residents"].sum() == 17_778
    st, co = _sums(u, areas, "street"), _sums(u, areas, "community")
    assert st.loc["S1", "residents"] == 10_001 and st.loc["S2", "residents"] == 7_777
    assert st.loc["S1", "households"] == 4_000
    assert co["residents"].to_dict() == {"C11": 6_000, "C12": 4_001, "C21": 3_000, "C22": 4_777}
    assert co.loc["C21", "households"] == 1_300
    assert co.loc["C22", "households"] == round(4_777 / 2.39)  # residents / persons per household, reconciled
    assert not res.summary["mismatches"]
    assert set(u["unit_basis"]) == {"block"} and u["street_code"].notna().all()
    assert all(c["exact"] == c["areas"] for c in res.summary["checks"])


def test_children_that_disagree_are_reported_and_the_upper_level_trusted():
    buildings, roads, areas = _world()
    rows = [
        {"level": "street", "code": "S1", "residents": 10_000},
        {"level": "community", "code": "C11", "residents": 7_000},
        {"level": "community", "code": "C12", "residents": 5_000},  # 12,000 > 10,000
    ]
    res = compute_units(buildings, None, roads, areas, UnitsParams.from_input(None, rows=rows))
    assert _sums(res.units, areas, "street").loc["S1", "residents"] == 10_000
    co = _sums(res.units, areas, "community")["residents"]
    assert co["C11"] + co["C12"] == 10_000 and abs(co["C11"] - 5_833) <= 1
    (m,) = res.summary["mismatches"]
    assert m["trusted"] == "upper" and m["parent_total"] == 10_000 and m["children_sum"] == 12_000
    assert "以上级数为准" in m["text_zh"]
    assert res.summary["areas_without_totals"] == [{"level": "street", "areas": ["二街"]},
                                                   {"level": "community", "areas": ["三社", "四社"]}]  # fmt: skip
    assert (res.units["residents"][~res.units["covered"]] == 0).all()


def test_real_census_development_zone_is_not_counted_twice():
    districts = gpd.read_file(OUTLINES)
    zone_centre = districts.loc[districts["district_adcode"] == 510603].to_crs(METRIC).representative_point().iloc[0]
    zone = gpd.GeoSeries([zone_centre.buffer(3_000)], crs=METRIC).to_crs(4326).iloc[0]
    areas = gpd.GeoDataFrame(
        {
            "level": ["county"] * 6 + ["county"],
            "code": [str(c) for c in districts["district_adcode"]] + ["510600-JK"],
            "name": list(districts["district_name"]) + ["经开区"],
        },
        geometry=list(districts.geometry.values) + [zone],
        crs=4326,
    )
    params = UnitsParams.from_input(None, totals=[CENSUS], levels=["district"])
    res = compute_units(None, None, None, areas, params)
    u = res.units
    assert u["residents"].sum() == 3_456_161  # the six districts; the zone is inside 旌阳区, not added
    pts = gpd.GeoDataFrame(u[["residents"]], geometry=u.geometry.representative_point(), crs=4326)
    in_zone = pts.within(zone)
    in_jy = pts.within(districts.loc[districts["district_adcode"] == 510603].geometry.iloc[0])
    assert pts.loc[in_zone, "residents"].sum() == 238_197
    assert pts.loc[in_jy, "residents"].sum() == 828_189
    (nest,) = res.summary["nesting"]
    assert nest["area"] == "经开区" and nest["inside"] == "旌阳区" and "不重复计数" in nest["text_zh"]
    assert res.summary["method"]["weights"].startswith("unit area")


def _run_bad(tmp_path, **kw):
    buildings, roads, areas = _world()
    rows = kw.pop("rows", [{"level": "street", "code": "S1", "residents": 100}])
    b = kw.pop("buildings", buildings)
    with pytest.raises(InputError) as err:
        compute_units(b, None, roads, areas, UnitsParams.from_input(None, rows=rows, **kw))
    return err.value.message_zh


def test_bad_input_is_refused_in_chinese(tmp_path):
    assert "找不到对应区域" in _run_bad(tmp_path, rows=[{"level": "street", "name": "无此街道", "residents": 5}])
    for value in (-3, 12.5, "很多"):
        with pytest.raises(InputError) as err:
            UnitsParams.from_input(None, rows=[{"level": "street", "code": "S1", "residents": value}])
        assert "非负整数" in err.value.message_zh
    buildings, _, _ = _world()
    for floors, text in ((0, "层数"), (300, "层数")):
        b = buildings.copy()
        b.loc[0, "floors"] = floors
        assert text in _run_bad(tmp_path, buildings=b)
    b = buildings.copy()
    b.loc[1, "geometry"] = shapely.Polygon()
    assert "没有面积" in _run_bad(tmp_path, buildings=b)
    (tmp_path / "t.csv").write_text("名称,常住人口\n一街,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="level"):
        UnitsParams.from_input(None, totals=[tmp_path / "t.csv"])
    assert "没有" in _run_bad(tmp_path, rows=[{"level": "grid", "code": "G1", "residents": 5}])


def test_raster_without_crs_is_refused(tmp_path):
    path = tmp_path / "pop.tif"
    _geotiff(path, 4, 4, 0, 4, 1, "none", 4)
    assert "坐标系" in _run_bad(tmp_path, raster=path)


def test_raster_weights_are_exact_cell_fraction_sums(tmp_path):
    buildings, roads, areas = _world()
    path = tmp_path / "pop.tif"
    _geotiff(path, 16, 8, 500_000, 3_440_400, 50, "EPSG:4544", 8)  # people only in the west half (street S1)
    rows = [{"level": "street", "code": "S1", "residents": 900}, {"level": "street", "code": "S2", "residents": 0}]
    res = compute_units(buildings, None, roads, areas, UnitsParams.from_input(None, rows=rows, raster=path))
    assert res.units["residents"].sum() == 900 and "raster" in res.summary["method"]["weights"]


def _url(store):
    return store.url.render_as_string(hide_password=False)


def test_cli_builds_units_on_both_backends(store, tmp_path):
    from geo_service.core.sample_city import generate_sample_city

    city = generate_sample_city(scale=0.2)
    for layer in ("admin_areas", "roads", "buildings"):
        store.upsert_layer(layer, getattr(city, layer))
    truth = city.population_units.groupby("street_code")["residents"].sum()
    pd.DataFrame({"行政区划代码": truth.index, "常住人口": truth.to_numpy()}).to_csv(
        tmp_path / "streets.csv", index=False
    )
    url = _url(store)
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,常住人口\n不存在的街道,100\n", encoding="utf-8")
    before = snapshot(store)
    r = CliRunner().invoke(app, ["units", "build", "--totals", str(bad), "--level", "street", "--database-url", url])
    assert r.exit_code == 1 and "找不到对应区域" in r.output and snapshot(store) == before
    args = ["units", "build", "--totals", str(tmp_path / "streets.csv"), "--level", "street", "--database-url", url]
    r = CliRunner().invoke(app, [*args, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "试运行" in r.output and snapshot(store) == before
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "已生成人口单元" in r.output and "核对 street 人口：3/3" in r.output
    units = store.read_layer("population_units")
    assert units["residents"].sum() == truth.sum()
    assert units.groupby("street_code")["residents"].sum().to_dict() == truth.to_dict()
    (run,) = store.list_analyses("units")
    assert run["summary"]["units"]["count"] == len(units) and run["summary"]["lines_zh"]
    r = CliRunner().invoke(app, args)  # inputs unchanged: the stored run is reused, nothing rewritten
    assert r.exit_code == 0 and len(store.list_analyses("units")) == 1


def test_job_kind_units(store):
    from geo_service.core.sample_city import generate_sample_city
    from geo_service.jobs import KINDS, run_job

    city = generate_sample_city(scale=0.2)
    for layer in ("admin_areas", "roads", "buildings"):
        store.upsert_layer(layer, getattr(city, layer))
    rows = [{"代码": "510699001", "常住人口": 1000, "户数": 400}]
    out = run_job(store, "units", {"totals": rows, "levels": ["street"]}, "tester")
    assert "units" in KINDS and out["units"]["residents"] == 1000 and out["units"]["households"] == 400
    assert out["units_run_id"] == store.list_analyses("units")[0]["id"]


def test_truth_error_far_below_areal_weighting():
    """The benchmark's truth test, in a process of its own (tobler loads rasterio, see _geotiff)."""
    script = ROOT / "benchmarks" / "units.py"
    out = subprocess.run([sys.executable, str(script), "--scale", "0.2", "--sizes", "--json"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    res = json.loads(out.stdout.strip().splitlines()[-1])["truth"]
    ours = res["this method (compounds given)"]
    areal = res["areal weighting (tobler)"]
    assert ours["mae"] < 0.5 * areal["mae"] and ours["misplaced"] < 0.5 * areal["misplaced"]
    assert res["this method (street blocks from roads)"]["mae"] < 0.5 * areal["mae"]


# ------------------------------------------------------------------ admin levels below street (community, grid)
def _store_county(store, tmp_path):
    """The county world in ``store``: admin areas imported from an office file without levels (CLI), buildings and
    roads written directly."""
    buildings, roads, areas = county_world(with_levels=False)
    path = tmp_path / "行政区划.geojson"
    areas.to_file(path, driver="GeoJSON")
    r = CliRunner().invoke(app, ["import", "admin_areas", str(path), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    store.upsert_layer("buildings", buildings)
    store.upsert_layer("roads", roads.assign(source_id=[f"r{i}" for i in range(len(roads))], road_class="local"))
    return buildings, roads


def _totals_files(tmp_path, grids: dict[str, int]) -> list[str]:
    """District, street, community and grid totals as a county keeps them: four files, four kinds of header."""
    pd.DataFrame({"行政区划代码": list(COUNTY_TOTALS), "常住人口": list(COUNTY_TOTALS.values())}).to_csv(
        tmp_path / "区县.csv", index=False, encoding="gb18030"
    )
    pd.DataFrame(
        {
            "代码": list(STREET_TOTALS),
            "名称": [STREETS[c] for c in STREET_TOTALS],
            "常住人口（人）": [v[0] for v in STREET_TOTALS.values()],
            "户数": [v[1] for v in STREET_TOTALS.values()],
        }
    ).to_excel(tmp_path / "街道.xlsx", index=False)
    pd.DataFrame(  # by name, with a level column of the words an office uses
        {
            "名称": [COMMUNITIES[c] for c in COMMUNITY_TOTALS],
            "层级": ["社区", "社区", "社区", "村"],
            "常住人口": list(COMMUNITY_TOTALS.values()),
        }
    ).to_csv(tmp_path / "社区.csv", index=False)
    pd.DataFrame({"网格编码": list(grids), "人口合计": list(grids.values())}).to_csv(tmp_path / "网格.csv", index=False)
    files = ["区县.csv", "街道.xlsx", "社区.csv", "网格.csv"]
    args = [a for f in files for a in ("--totals", str(tmp_path / f))]
    args += ["--level", "district", "--level", "street", "--level", "community", "--level", "grid"]
    return args + ["--map", "code=网格编码", "--map", "residents=人口合计"]


def test_four_levels_reconcile_exactly_on_both_backends(store, tmp_path):
    _store_county(store, tmp_path)
    stored = store.read_layer("admin_areas").set_index("code")
    assert stored["level"].value_counts().to_dict() == {"county": 1, "street": 2, "community": 4, "grid": 2}
    expected_parent = {c: c[:9] for c in COMMUNITIES} | {c: c[:12] for c in GRIDS} | {c: c[:6] for c in STREETS}
    assert stored.loc[list(expected_parent), "parent_code"].to_dict() == expected_parent
    assert stored.loc[COUNTY, "parent_code"] == "510600"
    url = ["--database-url", _url(store)]
    # a total that matches no area is named; nothing is written
    before = snapshot(store)
    bad = _totals_files(tmp_path, GRID_TOTALS | {"510603001002-09": 10})
    r = CliRunner().invoke(app, ["units", "build", *bad, *url])
    assert r.exit_code == 1 and "网格「510603001002-09」" in r.output and snapshot(store) == before
    r = CliRunner().invoke(app, ["units", "build", *_totals_files(tmp_path, GRID_TOTALS), *url])
    assert r.exit_code == 0, r.output
    units = store.read_layer("population_units")
    _, _, areas = county_world()
    want = {
        "county": COUNTY_TOTALS,
        "street": {c: v[0] for c, v in STREET_TOTALS.items()},
        "community": COMMUNITY_TOTALS,
        "grid": GRID_TOTALS,
    }
    for level, totals in want.items():
        assert _sums(units, areas, level)["residents"].to_dict() == totals, level
    assert _sums(units, areas, "street")["households"].to_dict() == {c: v[1] for c, v in STREET_TOTALS.items()}
    (run,) = store.list_analyses("units")
    checks = run["summary"]["checks"]
    assert {c["tier"] for c in checks} >= {"district", "street", "community", "grid"}
    assert all(c["exact"] == c["areas"] for c in checks) and not run["summary"]["mismatches"]
    # one grid cell without a total: named, and given the rest of its community
    r = CliRunner().invoke(app, ["units", "build", *_totals_files(tmp_path, {"510603001001-01": 2_500}), *url])
    assert r.exit_code == 0, r.output
    assert "无统计数的网格：北一网格二" in r.output
    units = store.read_layer("population_units")
    assert _sums(units, areas, "grid")["residents"].to_dict() == GRID_TOTALS


def test_grid_totals_without_grid_outlines_are_summed_into_their_communities():
    buildings, roads, areas = county_world()
    areas = areas[areas["level"] != "grid"].reset_index(drop=True)  # the grid cells kept as a table only
    streets = [{"level": "street", "code": c, "residents": v[0]} for c, v in STREET_TOTALS.items()]
    grid = [{"level": "grid", "code": c, "residents": v} for c, v in GRID_TOTALS.items()]
    params = UnitsParams.from_input(None, rows=streets + grid)
    res = compute_units(buildings, None, roads, areas, params)
    assert _sums(res.units, areas, "community").loc["510603001001", "residents"] == sum(GRID_TOTALS.values())
    assert _sums(res.units, areas, "street")["residents"].to_dict() == {c: v[0] for c, v in STREET_TOTALS.items()}
    (said,) = [a for a in res.summary["assumptions"] if a["what"] == "grid_totals_folded"]
    assert said["count"] == 2 and "汇总到所属的 1 个社区" in said["text_zh"]
    # the community's own total wins; the difference is named
    own = [{"level": "community", "name": "北一社区", "residents": 6_100}]
    res = compute_units(buildings, None, roads, areas, UnitsParams.from_input(None, rows=streets + own + grid))
    assert _sums(res.units, areas, "community").loc["510603001001", "residents"] == 6_100
    (said,) = [a for a in res.summary["assumptions"] if a["what"] == "grid_totals_folded"]
    assert "「北一社区」6,100 人（网格合计 6,000 人）" in said["text_zh"]
    # a cell whose code names no stored community: refused by name
    stray = grid + [{"level": "grid", "code": "510603009009-01", "name": "外区网格", "residents": 5}]
    with pytest.raises(InputError) as err:
        compute_units(buildings, None, roads, areas, UnitsParams.from_input(None, rows=streets + stray))
    assert "没有网格边界" in err.value.message_zh and "外区网格" in err.value.message_zh


# ------------------------------------------------------------------ stable unit ids
def test_unit_ids_say_what_a_unit_is():
    buildings, roads, areas = county_world()
    compounds = gpd.GeoDataFrame(
        {"source_id": ["xq-7"], "kind": ["compound"], "name": ["锦绣小区"]},
        geometry=[_box(10, 10, 120, 120)],
        crs=METRIC,
    ).to_crs(4326)
    lone = buildings.iloc[:1].assign(
        source_id="bld-lone", geometry=[_box(-300, -300, -280, -280)]
    )  # outside every block: a unit of its own
    lone = gpd.GeoDataFrame(lone, geometry="geometry", crs=METRIC).to_crs(4326)
    world = pd.concat([buildings, lone], ignore_index=True)
    rows = [{"level": "street", "code": c, "residents": v[0]} for c, v in STREET_TOTALS.items()]
    first = compute_units(world, compounds, roads, areas, UnitsParams.from_input(None, rows=rows)).units
    ids = set(first["source_id"])
    assert "c-xq-7" in ids and "s-bld-lone" in ids and len(ids) == len(first)
    blocks = first.loc[first["unit_basis"] == "block", "source_id"]
    assert blocks.str.fullmatch(r"b-[0-9a-f]{16}").all()
    # other totals, another persons-per-household, the buildings in another order: the same ids for the same units
    other = [{**r, "residents": r["residents"] * 3 + 7} for r in rows]
    shuffled = world.sample(frac=1.0, random_state=3)
    again = compute_units(
        shuffled, compounds, roads, areas, UnitsParams.from_input(None, rows=other, persons_per_household=3.1)
    ).units
    a = first.set_index("source_id").geometry
    b = again.set_index("source_id").geometry
    assert set(a.index) == set(b.index)
    assert all(a[k].equals_exact(b[k], 1e-9) for k in a.index)
    assert again["residents"].sum() == sum(r["residents"] for r in other)
    # a new compound elsewhere changes only the block it lies in: every other unit keeps its id
    new = gpd.GeoDataFrame({"source_id": ["xq-8"], "kind": ["compound"], "name": ["新小区"]},
                           geometry=[_box(610, 210, 690, 290)], crs=METRIC).to_crs(4326)  # fmt: skip
    more = pd.concat([new, compounds], ignore_index=True)
    third = compute_units(world, more, roads, areas, UnitsParams.from_input(None, rows=rows)).units
    touched = first.geometry.intersects(new.geometry.iloc[0])
    assert 0 < touched.sum() < len(first) and "c-xq-8" in set(third["source_id"])
    assert set(first.loc[~touched, "source_id"]) <= set(third["source_id"])
    # frames without ids (hand-built): keys of the geometry, the same in every run
    bare = compute_units(world.drop(columns="source_id"), compounds.drop(columns="source_id"), roads, areas,
                         UnitsParams.from_input(None, rows=rows)).units  # fmt: skip
    bare2 = compute_units(shuffled.drop(columns="source_id"), compounds.drop(columns="source_id"), roads, areas,
                          UnitsParams.from_input(None, rows=other)).units  # fmt: skip
    assert set(bare["source_id"]) == set(bare2["source_id"])
    assert bare["source_id"].str.match(r"[cs]-g[0-9a-f]{16}$|b-[0-9a-f]{16}$").all()


def test_rebuild_keeps_unit_ids_and_the_adopted_plan(store, tmp_path):
    """Build units and adopt a plan (bootstrap on a real extract), rebuild with other totals: every unit keeps its
    id and row, the plan's communities still hold them all, coverage and the audit run without a new delineation."""
    from boundaries.service import PlanService
    from facilities.audit import AuditParams
    from facilities.audit_service import current_audit
    from facilities.coverage import CoverageParams
    from facilities.service import current_coverage

    totals = tmp_path / "t.csv"
    totals.write_text("名称,常住人口\n示例片区,30000\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["bootstrap", "--osm", str(SHARED_DATA / "osm_jiangxi_guixi_2024.osm"), "--totals",
                                 str(totals), "--database-url", _url(store)])  # fmt: skip
    assert r.exit_code == 0, r.output
    before = store.read_layer("population_units").set_index("source_id")
    (adopted,) = [p for p in store.list_plans() if p["status"] == "adopted"]
    version = store.get_plan_version(adopted["id"])
    assigned = set(version["assignment"]["units"])
    assert assigned and assigned <= set(before.index)
    svc = PlanService(store)
    labels_before = svc.state(adopted["id"])[1].labels
    other = tmp_path / "other.csv"
    other.write_text("名称,常住人口,户数\n示例片区,41234,17000\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["units", "build", "--totals", str(other), "--level", "street",
                                 "--database-url", _url(store)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"沿用原编号 {len(before)} 个，新增 0 个，删除 0 个" in r.output
    after = store.read_layer("population_units").set_index("source_id")
    assert set(after.index) == set(before.index)
    assert (after.loc[before.index, "id"] == before["id"]).all()  # the same rows, updated in place
    assert int(after["residents"].sum()) == 41234 and int(after["households"].sum()) == 17000
    assert not after["residents"].equals(before["residents"].reindex(after.index))
    # the plan was not touched and still assigns every unit it assigned
    assert store.get_plan_version(adopted["id"])["version"] == version["version"]
    svc = PlanService(store)
    row, state, _, stored = svc.state(adopted["id"])
    assert stored and (state.labels >= 0).sum() == (labels_before >= 0).sum() == len(assigned)
    cov = current_coverage(store, params=CoverageParams.from_input(None), recompute=True)
    assert cov["summary"]["residents"] == 41234
    audit = current_audit(store, params=AuditParams.from_input(None, 1.0), recompute=True)
    assert audit["summary"]["communities"] == len(state.communities)
