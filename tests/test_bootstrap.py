"""``geo-service bootstrap``: from raw files (real OSM extracts, a totals table) to units, plan, coverage, audit."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app
from tests.conftest import SHARED_DATA, snapshot

EXTRACTS = ["osm_beijing_wudaokou_2017.osm", "osm_beijing_cau_2026.osm", "osm_jiangxi_guixi_2024.osm"]
SMALLEST = "osm_jiangxi_guixi_2024.osm"


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


def _run(store, *args):
    r = CliRunner().invoke(app, ["bootstrap", *map(str, args), "--database-url", _url(store)])
    assert "Traceback" not in r.output, r.output
    return r


def _totals(tmp_path, text: str, name: str = "totals.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _assert_results(store, residents: int) -> None:
    units = store.read_layer("population_units")
    assert len(units) > 0 and int(units["residents"].sum()) == residents
    assert [p for p in store.list_plans() if p["status"] == "adopted"]
    assert store.list_analyses("units") and store.list_analyses("coverage") and store.list_analyses("audit")


@pytest.mark.parametrize("extract", EXTRACTS)
def test_bootstrap_on_real_extracts(store, tmp_path, extract):
    if store.backend_name == "postgis" and extract != SMALLEST:
        pytest.skip("PostGIS: the smallest extract is enough (the steps are the same)")
    totals = _totals(tmp_path, "名称,常住人口\n示例片区,30000\n")
    r = _run(store, "--osm", SHARED_DATA / extract, "--totals", totals)
    assert r.exit_code == 0, r.output
    _assert_results(store, 30000)
    (area,) = store.read_layer("admin_areas").itertuples()
    assert area.name == "示例片区" and area.level == "street"
    for text in ("[1] 读取并导入 OSM 提取", "生成人口单元", "自动划分社区", "生活圈覆盖分析", "设施与避难场所审计"):
        assert text in r.output, r.output
    assumed = r.output.split("假设（非给定数据，请核实）：")[1]
    for text in ("以数据范围", "使用 OSM 中的设施", "自动划分", "按 6 层计"):
        assert text in assumed, r.output
    # the roads taken from OSM keep their names (the maps label streets from this layer)
    roads, edges = store.read_layer("roads"), store.read_layer("network_edges")
    named = set(edges.loc[edges["road_class"].isin(["arterial", "local"]), "name"].dropna())
    assert set(roads["name"].dropna()) <= named and bool(named) == roads["name"].notna().any()
    r = _run(store, "--osm", SHARED_DATA / extract, "--totals", totals)  # again: a new plan replaces the first
    assert r.exit_code == 0, r.output
    _assert_results(store, 30000)
    assert [p["status"] for p in store.list_plans()] == ["superseded", "adopted"]


def _files(tmp_path) -> dict:
    """Roads, buildings, two streets, their totals, a kindergarten list and a two-community plan from the extract."""
    from geo_service.core.osm import read_osm

    data = read_osm(SHARED_DATA / SMALLEST)
    edges = data.edges[data.edges["road_class"].isin(["arterial", "local"])]
    roads = gpd.GeoDataFrame(
        {"source_id": [f"r{i}" for i in range(len(edges))], "road_class": edges["road_class"].to_numpy()},
        geometry=edges.geometry.values,
        crs=4326,
    )
    w, s, e, n = data.bounds
    mid = (w + e) / 2
    halves = [shapely.box(w, s, mid, n), shapely.box(mid, s, e, n)]
    areas = gpd.GeoDataFrame(
        {"行政区划代码": ["360681001", "360681002"], "名称": ["西街道", "东街道"]}, geometry=halves, crs=4326
    )
    plan = gpd.GeoDataFrame(
        {
            "code": ["360681001001", "360681002001"],
            "name": ["西社区", "东社区"],
            "street_code": ["360681001", "360681002"],
        },
        geometry=halves,
        crs=4326,
    )
    kg = gpd.GeoDataFrame(
        {"source_id": ["kg1"], "category": ["kindergarten"], "name": ["县幼儿园"]},
        geometry=[shapely.Point(mid, (s + n) / 2)],
        crs=4326,
    )
    paths = {}
    for name, frame in (
        ("roads", roads),
        ("buildings", data.buildings),
        ("areas", areas),
        ("plan", plan),
        ("facilities", kg),
    ):
        paths[name] = tmp_path / f"{name}.geojson"
        frame.to_file(paths[name])
    paths["totals"] = _totals(
        tmp_path, "代码,名称,常住人口,户数\n360681001,西街道,20000,8000\n360681002,东街道,10000,4000\n"
    )
    return paths


def test_bootstrap_from_office_files(store, tmp_path):
    f = _files(tmp_path)
    args = ["--roads", f["roads"], "--buildings", f["buildings"], "--areas", f["areas"], "--totals", f["totals"]]
    r = _run(store, *args, "--facilities", f["facilities"], "--plan", f["plan"])
    assert r.exit_code == 0, r.output
    _assert_results(store, 30000)
    units = store.read_layer("population_units")
    assert units.groupby("street_code")["residents"].sum().to_dict() == {"360681001": 20000, "360681002": 10000}
    assert int(units["households"].sum()) == 12000
    (adopted,) = [p for p in store.list_plans() if p["status"] == "adopted"]
    assert adopted["name"] == "plan（bootstrap 导入）"
    assert store.count("facilities") == 1 and store.count("network_edges") > 0
    for text in (
        "统计数（街道（乡镇） 2 条）全部对应到行政区划",
        "生成步行网络",
        "导入本地设施名单",
        "导入社区划分方案",
    ):
        assert text in r.output, r.output
    assert "自动划分" not in r.output and "以数据范围" not in r.output


def test_without_any_facilities_coverage_is_skipped_and_said(store, tmp_path):
    if store.backend_name == "postgis":
        pytest.skip("the same step on SpatiaLite is enough")
    f = _files(tmp_path)
    r = _run(
        store, "--roads", f["roads"], "--buildings", f["buildings"], "--areas", f["areas"], "--totals", f["totals"]
    )
    assert r.exit_code == 0, r.output
    assert "未运行生活圈覆盖分析：没有设施数据" in r.output and "未提供设施名单，也没有 OSM 数据" in r.output
    assert not store.list_analyses("coverage") and store.list_analyses("audit")


def test_local_lists_replace_the_osm_ones(store, tmp_path):
    if store.backend_name == "postgis":
        pytest.skip("the same step on SpatiaLite is enough")
    f = _files(tmp_path)
    totals = _totals(tmp_path, "名称,常住人口\n贵溪城区,30000\n", "one.csv")
    r = _run(store, "--osm", SHARED_DATA / SMALLEST, "--totals", totals, "--facilities", f["facilities"])
    assert r.exit_code == 0, r.output
    assert list(store.read_layer("facilities")["source_id"]) == ["kg1"]
    assert "未导入 OSM 设施" in r.output and "使用 OSM 中的设施" not in r.output


@pytest.mark.parametrize(
    "case, text",
    [
        ("missing_osm", "找不到文件"),
        ("missing_totals", "找不到文件"),
        ("both_inputs", "二选一"),
        ("roads_without_buildings", "同时给出"),
        ("rows_without_areas", "未给出行政区划"),
        ("bad_count", "非负整数"),
    ],
)
def test_bad_input_writes_nothing(store, tmp_path, case, text):
    osm = SHARED_DATA / SMALLEST
    one = _totals(tmp_path, "名称,常住人口\n片区,30000\n")
    args = {
        "missing_osm": ["--osm", tmp_path / "nope.osm", "--totals", one],
        "missing_totals": ["--osm", osm, "--totals", tmp_path / "nope.csv"],
        "both_inputs": ["--osm", osm, "--roads", one, "--buildings", one, "--totals", one],
        "roads_without_buildings": ["--roads", one, "--totals", one],
        "rows_without_areas": ["--osm", osm, "--totals", _totals(tmp_path, "名称,常住人口\n甲,1\n乙,2\n", "two.csv")],
        "bad_count": ["--osm", osm, "--totals", _totals(tmp_path, "名称,常住人口\n片区,很多\n", "bad.csv")],
    }[case]
    before = snapshot(store)
    r = _run(store, *args)
    assert r.exit_code == 1, r.output
    assert text in r.output, r.output
    assert snapshot(store) == before


def test_totals_matching_nothing_stop_before_the_data(store, tmp_path):
    f = _files(tmp_path)
    totals = _totals(tmp_path, "名称,常住人口\n不存在的街道,30000\n", "none.csv")
    r = _run(store, "--osm", SHARED_DATA / SMALLEST, "--areas", f["areas"], "--totals", totals)
    assert r.exit_code == 1, r.output
    assert "找不到对应的行政区划" in r.output and "不存在的街道" in r.output
    assert "第 2 步「核对统计数」失败" in r.output and "1. 导入行政区划" in r.output
    assert store.count("admin_areas") == 2  # the completed step stays
    assert store.count("buildings") == 0 and store.count("population_units") == 0 and not store.list_analyses()


def test_a_failing_step_keeps_the_completed_ones(store, tmp_path):
    if store.backend_name == "postgis":
        pytest.skip("the same transactions on SpatiaLite are enough")
    bad = tmp_path / "bad.geojson"
    gpd.GeoDataFrame(
        {"source_id": ["x"], "category": ["no_such_category"]}, geometry=[shapely.Point(117.2, 28.3)], crs=4326
    ).to_file(bad)
    totals = _totals(tmp_path, "名称,常住人口\n片区,30000\n")
    r = _run(store, "--osm", SHARED_DATA / SMALLEST, "--totals", totals, "--facilities", bad)
    assert r.exit_code == 1, r.output
    assert "第 3 步「导入本地设施名单」失败" in r.output and "导入失败，未写入任何数据" in r.output
    assert store.count("buildings") > 0 and store.count("roads") > 0  # steps 1 and 2 stay
    assert store.count("facilities") == 0 and store.count("population_units") == 0
