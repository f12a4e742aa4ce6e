"""Imports of ordinary office files (issue 14, items 5 and 6), each case through the CLI and over HTTP.

Chinese headers without --map, no id column, admin levels from the code, Shapefile headers cut to 10 bytes,
spreadsheet row numbers, a wrong or missing coordinate system, the HTTP form fields, --check and the XLSX
report, templates, and layers far apart.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app as cli_app
from geo_service.core._errors import InputError
from tests.conftest import snapshot

LON, LAT = 104.40, 31.13
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cli(store, *args):
    return CliRunner().invoke(
        cli_app, [*map(str, args), "--database-url", store.url.render_as_string(hide_password=False)]
    )


def _post(client, layer, path: Path, **data):
    with path.open("rb") as fh:
        return client.post(f"/layers/{layer}/import", files={"file": (path.name, fh)}, data=data)


def _facility_list(path: Path, moved: float = 0.0) -> Path:
    """A facility list as an office keeps it: Chinese headers, Chinese categories, no id column."""
    df = pd.DataFrame(
        {
            "序号": [1, 2, 3],
            "名称": ["旌阳幼儿园", "城南卫生站", "北街菜市场"],
            "类型": ["幼儿园", "社区卫生服务站", "菜市场"],
            "地址": ["文庙街 1 号", "南街 8 号", "北街 3 号"],
            "建筑面积（m²）": [2400, 300, 1200],
            "占地面积": [3000, None, 1500],
            "层数": [3, 1, 1],
            "经度": [LON, LON + 0.002 + moved, LON + 0.004],
            "纬度": [LAT, LAT, LAT],
        }
    )
    if path.suffix == ".xlsx":
        df.to_excel(path, index=False)
    else:
        df.to_csv(path, index=False, encoding="gb18030")
    return path


def _units_csv(path: Path, rows: list[dict]) -> Path:
    d = 0.001
    wkt = [
        f"POLYGON(({LON + i * d} {LAT},{LON + i * d + 0.0008} {LAT},{LON + i * d + 0.0008} {LAT + 0.0008},"
        f"{LON + i * d} {LAT + 0.0008},{LON + i * d} {LAT}))"
        for i in range(len(rows))
    ]
    pd.DataFrame([{**r, "几何": w} for r, w in zip(rows, wkt)]).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------- items 1 and 2
def test_facility_list_with_chinese_headers_and_no_id(store, client, tmp_path):
    path = _facility_list(tmp_path / "设施清单.xlsx")
    res = _cli(store, "import", "facilities", path)
    assert res.exit_code == 0, res.output
    assert "新增 3" in res.output and "编号按内容生成" in res.output and "序号" in res.output
    g = store.read_layer("facilities").sort_values("name")
    assert sorted(g.category) == ["health_station", "kindergarten", "market"]
    assert set(g.floor_area_m2) == {2400, 300, 1200} and g.source_id.str.startswith("auto-").all()
    assert g.address.notna().all()
    # the same file over HTTP: same content, same ids -> updates
    r = _post(client, "facilities", path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["inserted"], body["updated"]) == (0, 3)
    assert any("层数" in w["message_zh"] for w in body["warnings"])
    # one facility moved by ~200 m: a new row (the old one stays), said so in the README
    moved = _facility_list(tmp_path / "moved.csv", moved=0.002)
    r = _post(client, "facilities", moved)
    assert (r.json()["inserted"], r.json()["updated"]) == (1, 2)
    assert store.count("facilities") == 4


def test_shelter_list_with_capacity_and_class_labels(store, client, tmp_path):
    df = pd.DataFrame(
        {"名称": ["中心广场", "体育场"], "类别": ["固定避难场所", "紧急避难场所"], "容纳人数": [5000, 800]}
        | {"经度": [LON, LON + 0.01], "纬度": [LAT, LAT]}
    )
    df.to_csv(tmp_path / "s.csv", index=False)
    assert _cli(store, "import", "shelters", tmp_path / "s.csv").exit_code == 0
    r = _post(client, "shelters", tmp_path / "s.csv")
    assert r.status_code == 200 and r.json()["updated"] == 2
    g = store.read_layer("shelters").sort_values("name")
    assert list(g.shelter_class) == ["fixed", "emergency"] and list(g.capacity_persons) == [5000, 800]


# ---------------------------------------------------------------------------------- item 3
def test_admin_level_from_flag_field_or_code(store, client, tmp_path):
    rows = [{"代码": "510603", "名称": "旌阳区"}, {"代码": "510603001", "名称": "城北街道"}]
    path = _units_csv(tmp_path / "a.csv", rows)
    res = _cli(store, "import", "admin_areas", path)
    assert res.exit_code == 0, res.output
    assert "层级按行政区划代码推定" in res.output
    g = store.read_layer("admin_areas").sort_values("code")
    assert list(g.level) == ["county", "street"] and list(g.source_id) == ["code:510603", "code:510603001"]
    one = _units_csv(tmp_path / "b.csv", [{"代码": "510603002", "名称": "旌东街道"}])
    assert _cli(store, "import", "admin_areas", one, "--level", "街道").exit_code == 0
    r = _post(client, "admin_areas", one, level="street")
    assert r.status_code == 200 and r.json()["updated"] == 1
    # a city code: the layer has no such level
    before = snapshot(store)
    city = _units_csv(tmp_path / "c.csv", [{"代码": "510600", "名称": "德阳市"}])
    res = _cli(store, "import", "admin_areas", city)
    assert res.exit_code == 1 and "地级（市）" in res.output and "第 2 行" in res.output
    r = _post(client, "admin_areas", city)
    assert r.status_code == 422 and any("地级" in p["problem_zh"] for p in r.json()["report"]["problems"])
    r = _post(client, "admin_areas", city, level="乡镇村")
    assert r.status_code == 422 and "未知的层级" in r.json()["message_zh"]
    assert snapshot(store) == before


def test_admin_levels_below_street_and_statistical_codes(store, client, tmp_path):
    """Communities (12 digits) and grid cells (a community code with a suffix, or 15 digits) take their level and
    parent from the code; statistical areas such as 510600-JK need a level; garbage codes are refused by row."""
    rows = [
        {"代码": "510603", "名称": "旌阳区"},
        {"代码": "510603001", "名称": "城北街道"},
        {"代码": "510603001001", "名称": "北一社区"},
        {"代码": "510603001001-01", "名称": "北一网格一"},
        {"代码": "510603001001002", "名称": "北一网格二"},
    ]
    path = _units_csv(tmp_path / "a.csv", rows)
    res = _cli(store, "import", "admin_areas", path)
    assert res.exit_code == 0, res.output
    assert "上级代码按行政区划代码推定" in res.output
    g = store.read_layer("admin_areas").set_index("code")
    assert g["level"].to_dict() == {
        "510603": "county",
        "510603001": "street",
        "510603001001": "community",
        "510603001001-01": "grid",
        "510603001001002": "grid",
    }
    assert g["parent_code"].to_dict() == {
        "510603": "510600",
        "510603001": "510603",
        "510603001001": "510603001",
        "510603001001-01": "510603001001",
        "510603001001002": "510603001001",
    }
    # a development zone counted inside its district: its level cannot be told from the code
    before = snapshot(store)
    zone = _units_csv(tmp_path / "z.csv", [{"代码": "510600-JK", "名称": "经开区"}])
    r = _post(client, "admin_areas", zone)
    assert r.status_code == 422
    (p,) = r.json()["report"]["problems"]
    assert (p["row"], p["column"]) == (2, "level") and "无法由代码 510600-JK 推定层级" in p["problem_zh"]
    assert snapshot(store) == before
    r = _post(client, "admin_areas", zone, level="区县")
    assert r.status_code == 200, r.text
    jk = store.read_layer("admin_areas", where={"code": "510600-JK"}).iloc[0]
    assert jk["level"] == "county" and jk["parent_code"] is None  # 510600 is a city: not held in the layer
    # a level column with the words an office uses
    grid = {"代码": "WG0103", "名称": "三号网格", "层级": "网格", "上级代码": "510603001001"}
    words = _units_csv(tmp_path / "w.csv", [grid, {"代码": "510603002003", "名称": "东三村", "层级": "村"}])
    assert _cli(store, "import", "admin_areas", words).exit_code == 0
    g = store.read_layer("admin_areas").set_index("code")
    assert (g.at["WG0103", "level"], g.at["WG0103", "parent_code"]) == ("grid", "510603001001")
    assert (g.at["510603002003", "level"], g.at["510603002003", "parent_code"]) == ("community", "510603002")
    # garbage codes: refused with their row, nothing written
    before = snapshot(store)
    junk = ["5106", "经开区", "5.10603E+11", "510603 001", "510603--1", "JK"]
    bad = _units_csv(tmp_path / "bad.csv", [{"代码": c, "名称": f"区{i}", "层级": "街道"} for i, c in enumerate(junk)])
    res = _cli(store, "import", "admin_areas", bad)
    assert res.exit_code == 1
    r = _post(client, "admin_areas", bad)
    assert r.status_code == 422
    code_rows = sorted(p["row"] for p in r.json()["report"]["problems"] if p["column"] == "code")
    assert code_rows == list(range(2, 2 + len(junk)))
    assert snapshot(store) == before


# ---------------------------------------------------------------------------------- item 4
@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
def test_shapefile_headers_cut_to_ten_bytes(store, client, tmp_path, encoding):
    g = gpd.GeoDataFrame(
        {"名称": ["广场", "公园"], "避难场所类别": ["固定避难场所", "紧急避难场所"], "有效避难面积": [5000.0, 900.0]},
        geometry=[shapely.Point(LON, LAT), shapely.Point(LON + 0.01, LAT)],
        crs=4326,
    )
    d = tmp_path / "shp"
    d.mkdir()
    with pytest.warns(RuntimeWarning):  # GDAL says it cut the names
        g.to_file(d / "s.shp", encoding=encoding)
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in d.iterdir():
            zf.write(p, p.name)
    res = _cli(store, "import", "shelters", path)
    assert res.exit_code == 0, res.output
    assert "截断" in res.output
    r = _post(client, "shelters", path)
    assert r.status_code == 200, r.text
    got = store.read_layer("shelters").sort_values("name")
    assert list(got.shelter_class) == ["emergency", "fixed"] and list(got.effective_area_m2) == [900, 5000]


# ---------------------------------------------------------------------------------- item 5
def test_missing_required_column_is_named(store, client, tmp_path):
    path = _units_csv(tmp_path / "u.csv", [{"名称": f"小区{i}", "户数": 100} for i in range(6)])
    before = snapshot(store)
    res = _cli(store, "import", "population_units", path)
    assert res.exit_code == 1
    assert "缺少必填列「常住人口」（residents）" in res.output and "0 行无效" not in res.output
    r = _post(client, "population_units", path)
    assert r.status_code == 422
    assert r.json()["message_zh"].startswith("缺少必填列「常住人口」（residents）") and "0 行" not in r.text
    assert snapshot(store) == before


def test_row_numbers_are_the_spreadsheet_rows_in_order(store, client, tmp_path):
    rows = [{"名称": "甲", "常住人口": 10, "户数": 4}] * 5
    rows = [dict(r) for r in rows]
    rows[3]["常住人口"] = "多"  # spreadsheet row 5
    rows[1]["户数"] = -1  # spreadsheet row 3
    for i, r in enumerate(rows):
        r["名称"] = f"小区{i}"
    csv = _units_csv(tmp_path / "u.csv", rows)
    xlsx = tmp_path / "u.xlsx"
    pd.read_csv(csv).to_excel(xlsx, index=False)
    for path in (csv, xlsx):
        res = _cli(store, "import", "population_units", path)
        assert res.exit_code == 1
        assert res.output.index("第 3 行［户数］") < res.output.index("第 5 行［常住人口］"), res.output
        body = _post(client, "population_units", path).json()
        rep = body["report"]
        assert rep["row_kind"] == "row" and rep["first_row"] == 2
        assert [(p["row"], p["file_column"]) for p in rep["problems"]] == [(3, "户数"), (5, "常住人口")]


# ---------------------------------------------------------------------------------- item 6
def _gk_points(path: Path, code: int) -> Path:
    """Three facilities in central Deyang as projected coordinates of EPSG ``code``, in a CSV."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, code, always_xy=True).transform([LON, LON + 0.01, LON + 0.02], [LAT] * 3)
    pd.DataFrame({"名称": ["a", "b", "c"], "类别": ["菜市场"] * 3, "X": x, "Y": y}).to_csv(path, index=False)
    return path


def test_wrong_crs_is_said_with_the_one_that_fits(store, client, tmp_path):
    before = snapshot(store)
    gk = _gk_points(tmp_path / "gk.csv", 4523)  # zone 35 with the zone number in front of the easting
    res = _cli(store, "import", "facilities", gk, "--lon", "X", "--lat", "Y")
    assert res.exit_code == 1 and "坐标系有误" in res.output and "--crs EPSG:4523" in res.output, res.output
    assert "NaN" not in res.output
    r = _post(client, "facilities", gk, lon="X", lat="Y", crs="EPSG:4544")
    assert r.status_code == 422 and "EPSG:4523" in r.json()["message_zh"], r.text
    lonlat = _facility_list(tmp_path / "f.csv")
    res = _cli(store, "import", "facilities", lonlat, "--crs", "EPSG:4544")
    assert res.exit_code == 1 and "声明的坐标系 EPSG:4544" in res.output and "EPSG:4326" in res.output
    assert "gcj02" in res.output  # the offset systems are named, not guessed
    assert snapshot(store) == before
    res = _cli(store, "import", "facilities", gk, "--lon", "X", "--lat", "Y", "--crs", "EPSG:4523")
    assert res.exit_code == 0, res.output


def test_shapefile_without_prj_is_named(store, client, tmp_path):
    g = gpd.GeoDataFrame({"名称": ["a"], "类别": ["菜市场"]}, geometry=[shapely.Point(LON, LAT)], crs=4326).to_crs(4523)
    g.to_file(tmp_path / "f.shp", encoding="UTF-8")
    path = tmp_path / "f.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in tmp_path.glob("f.*"):
            if p.suffix not in (".zip", ".prj"):
                zf.write(p, p.name)
    res = _cli(store, "import", "facilities", path)
    assert res.exit_code == 1 and "缺少 .prj 文件" in res.output and "EPSG:4523" in res.output, res.output
    r = _post(client, "facilities", path)
    assert r.status_code == 422 and "f.shp 缺少 .prj 文件" in r.json()["message_zh"]
    r = _post(client, "facilities", path, crs="EPSG:4523")
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------- item 7
def test_http_map_field_alias_and_unknown_fields(store, client, tmp_path):
    path = tmp_path / "f.csv"
    pd.DataFrame({"编号": ["k1"], "设施种类代码": ["market"], "lon": [LON], "lat": [LAT]}).to_csv(path, index=False)
    r = _post(client, "facilities", path, map="category=设施种类代码")
    assert r.status_code == 200, r.text
    r = _post(client, "facilities", path, column_map="category=设施种类代码")  # deprecated name, still taken
    assert r.status_code == 200 and r.json()["updated"] == 1
    before = snapshot(store)
    r = _post(client, "facilities", path, colum_map="category=设施种类代码")
    assert r.status_code == 422 and "colum_map" in r.json()["message_zh"] and "未知的表单字段" in r.json()["message_zh"]
    assert snapshot(store) == before
    res = _cli(store, "import", "facilities", path, "--map", "category=设施种类代码")
    assert res.exit_code == 0, res.output


# ---------------------------------------------------------------------------------- item 8
def test_check_writes_nothing_and_report_downloads(store, client, tmp_path):
    path = _facility_list(tmp_path / "f.xlsx")
    before = snapshot(store)
    res = _cli(store, "import", "facilities", path, "--check", "--report", tmp_path / "r.xlsx")
    assert res.exit_code == 0 and "检查通过" in res.output and "新增 3" in res.output, res.output
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["说明"]["A1"].value
    r = _post(client, "facilities", path, check="true")
    assert r.status_code == 200 and r.json()["checked"] is True and r.json()["inserted"] == 3
    assert snapshot(store) == before
    bad = _units_csv(tmp_path / "u.csv", [{"名称": "甲", "常住人口": -1, "户数": 1}])
    res = _cli(store, "import", "population_units", bad, "--check", "--report", tmp_path / "bad.xlsx")
    assert res.exit_code == 1
    ws = openpyxl.load_workbook(tmp_path / "bad.xlsx")["问题清单"]
    assert [c.value for c in ws[2]][:3] == [2, "第 2 行", "常住人口"]
    r = _post(client, "population_units", bad, check="true", report="xlsx")
    assert r.status_code == 422 and r.headers["content-type"] == XLSX
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["问题清单"]
    assert ws["A2"].value == 2 and "不能小于 0" in ws["E2"].value
    assert snapshot(store) == before


# ---------------------------------------------------------------------------------- item 9
def test_templates_have_headers_examples_and_lists(store, client, tmp_path):
    res = CliRunner().invoke(cli_app, ["template", "facilities", "-o", str(tmp_path / "t.xlsx")])
    assert res.exit_code == 0, res.output
    r = client.get("/templates/shelters.xlsx", headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    for wb in (openpyxl.load_workbook(tmp_path / "t.xlsx"), openpyxl.load_workbook(io.BytesIO(r.content))):
        ws = wb.worksheets[0]
        heads = [c.value for c in ws[1]]
        assert "经度" in heads and ws.data_validations.dataValidation
    heads = [c.value for c in openpyxl.load_workbook(tmp_path / "t.xlsx").worksheets[0][1]]
    assert "建筑面积（m²）" in heads and "设施类别" in heads
    assert client.get("/templates/network_edges.xlsx").status_code == 422
    assert client.get("/templates/nope.xlsx").status_code == 404
    # the template as it comes imports (its example row)
    res = _cli(store, "import", "facilities", tmp_path / "t.xlsx")
    assert res.exit_code == 0 and "新增 1" in res.output, res.output


# ---------------------------------------------------------------------------------- item 10
def test_layers_far_apart_warned_at_import_and_refused_by_analyses(store, client, tmp_path):
    units = _units_csv(tmp_path / "u.csv", [{"名称": "甲", "常住人口": 10, "户数": 4}])
    assert _cli(store, "import", "population_units", units).exit_code == 0
    far = tmp_path / "jx.csv"  # Guixi, Jiangxi: about 1,100 km east
    pd.DataFrame({"名称": ["x"], "类别": ["菜市场"], "经度": [117.2], "纬度": [28.3]}).to_csv(far, index=False)
    res = _cli(store, "import", "facilities", far)
    assert res.exit_code == 0 and "公里" in res.output and "人口单元" in res.output, res.output
    r = _post(client, "facilities", far)
    assert any("公里" in w["message_zh"] for w in r.json()["warnings"])

    from boundaries.service import PlanService
    from facilities.audit_service import audit_from_store
    from facilities.service import compute_from_store

    for call in (lambda: compute_from_store(store), lambda: audit_from_store(store)):
        with pytest.raises(InputError) as info:
            call()
        assert "社区服务设施" in info.value.message_zh and "人口单元" in info.value.message_zh
        assert info.value.detail["distance_km"] > 1000
    # delineation reads admin areas, not facilities: Guixi's boundary beside Deyang's units
    far_admin = tmp_path / "gx.csv"
    wkt = "POLYGON((117.1 28.2,117.3 28.2,117.3 28.4,117.1 28.4,117.1 28.2))"
    pd.DataFrame({"代码": ["360681"], "名称": ["贵溪市"], "几何": [wkt]}).to_csv(far_admin, index=False)
    assert _post(client, "admin_areas", far_admin).status_code == 200
    with pytest.raises(InputError) as info:
        PlanService(store).unit_set()
    assert (
        "行政区划" in info.value.message_zh and "人口单元" in info.value.message_zh and "公里" in info.value.message_zh
    )
