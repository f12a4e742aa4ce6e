"""``POST /units/build`` (issue 14): a county's totals file uploaded, checked while the caller waits, then the units
job; the bad inputs of the issue refused with Chinese messages naming row and column, nothing written, no job.
Real app over HTTP on SpatiaLite and PostGIS."""

from __future__ import annotations

import openpyxl
import pytest
from fastapi.testclient import TestClient

from tests._auth import token_headers
from tests.conftest import snapshot, wait_for_job
from tests.test_units_build import (
    COMMUNITIES,
    COMMUNITY_TOTALS,
    STREET_TOTALS,
    STREETS,
    _geotiff,
    _sums,
    county_world,
)


def _app(store):
    from geo_service.app import create_app

    return create_app(store)


@pytest.fixture
def county(store):
    """The county world of tests/test_units_build.py written to ``store``; the app signed in as a planner."""
    buildings, roads, areas = county_world()
    store.upsert_layer("admin_areas", areas)
    store.upsert_layer("buildings", buildings)
    store.upsert_layer("roads", roads.assign(source_id=[f"r{i}" for i in range(len(roads))], road_class="local"))
    with TestClient(_app(store), headers=token_headers(store, "planner")) as c:
        yield c, areas


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def _streets_csv() -> bytes:
    lines = ["代码,名称,常住人口,户数"] + [f"{c},{STREETS[c]},{r},{h}" for c, (r, h) in STREET_TOTALS.items()]
    return _csv("\n".join(lines) + "\n")


def _post(c, files, **data):
    return c.post("/units/build", files=files, data=data)


def test_upload_checks_then_builds_in_the_background(store, county, tmp_path):
    c, areas = county
    before = snapshot(store)
    r = _post(c, [("totals", ("街道人口.csv", _streets_csv(), "text/csv"))], level="街道", check="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 2 and body["matched"] == {"street": 2} and body["sources"] == ["街道人口.csv"]
    assert body["residents_by_level"] == {"street": sum(v[0] for v in STREET_TOTALS.values())}
    assert "全部对应" in body["message_zh"] and snapshot(store) == before and not store.list_jobs()
    # two files, levels one per file; the community file as XLSX with its own header, named by --map
    wb = openpyxl.Workbook()
    wb.active.append(["社区名称", "人口合计"])
    for code, residents in COMMUNITY_TOTALS.items():
        wb.active.append([COMMUNITIES[code], residents])
    wb.save(tmp_path / "社区.xlsx")
    files = [
        ("totals", ("街道人口.csv", _streets_csv(), "text/csv")),
        ("totals", ("社区.xlsx", (tmp_path / "社区.xlsx").read_bytes(), "application/octet-stream")),
    ]
    r = _post(c, files, level=["street", "community"], map=["name=社区名称", "residents=人口合计"])
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == job["status_url"] and job["kind"] == "units"
    assert job["totals"]["rows_by_level"] == {"street": 2, "community": 4}
    done = wait_for_job(c, job["status_url"])
    assert done["status"] == "done", done
    units = store.read_layer("population_units")
    assert _sums(units, areas, "street")["residents"].to_dict() == {k: v[0] for k, v in STREET_TOTALS.items()}
    assert _sums(units, areas, "community")["residents"].to_dict() == COMMUNITY_TOTALS
    (run,) = store.list_analyses("units")
    assert done["result"]["units_run_id"] == run["id"]
    assert run["params"]["totals_sources"] == ["街道人口.csv、社区.xlsx"]
    listed = c.get("/jobs").json()[0]
    assert listed["id"] == job["id"] and len(listed["params"]["totals"]) <= 6


def _problems(r) -> list[tuple[int, str | None]]:
    return [(p["row"], p.get("column")) for p in r.json()["report"]["problems"]]


def test_bad_uploads_are_refused_and_nothing_is_written(store, county):
    c, _ = county
    before = snapshot(store)

    def refused(files, status=422, **data):
        r = _post(c, files, **data)
        assert r.status_code == status, r.text
        assert "Traceback" not in r.text and r.json()["message_zh"]
        return r

    one = [("totals", ("t.csv", _streets_csv(), "text/csv"))]
    # totals that match no area: named
    r = refused([("totals", ("t.csv", _csv("名称,常住人口\n无此街道,100\n城北街道,5\n"), "text/csv"))], level="street")
    assert "无此街道" in r.json()["message_zh"] and "城北街道" not in r.json()["message_zh"]
    # negative and non-integer counts: row (as the spreadsheet shows it) and column
    bad = "代码,常住人口,户数\n510603001,100,40\n510603002,-5,3\n510603001,12.5,2.5\n"
    r = refused([("totals", ("t.csv", _csv(bad), "text/csv"))], level="street")
    assert _problems(r) == [(3, "常住人口"), (4, "常住人口"), (4, "户数")]
    assert "第 3 行「常住人口」列" in r.json()["message_zh"] and "非负整数" in r.json()["message_zh"]
    r = refused([("totals", ("t.csv", _csv("代码,常住人口,层级\n510603001,10,楼栋\n"), "text/csv"))])
    assert _problems(r) == [(2, "层级")] and "未知的统计层级" in r.json()["message_zh"]
    # wrong file type, a binary file called .csv, a broken workbook, an empty file, a header only
    r = refused([("totals", ("t.geojson", b'{"type": "FeatureCollection"}', "application/json"))], level="street")
    assert ".csv" in r.json()["message_zh"]
    refused([("totals", ("t.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "text/csv"))], level="street")
    r = refused([("totals", ("t.xlsx", b"not a workbook", "application/octet-stream"))], level="street")
    assert r.json()["message_zh"].startswith("t.xlsx")
    assert "空文件" in refused([("totals", ("t.csv", b"", "text/csv"))], level="street").json()["message_zh"]
    assert "没有数据行" in refused([("totals", ("t.csv", _csv("代码,常住人口\n"), "text/csv"))], level="street").text
    # no level, an unknown level, an unknown form field, a map to a column the file lacks
    assert "层级" in refused(one).json()["message_zh"]
    refused(one, level="楼栋")
    r = refused(one, level="street", walking_speed="1")
    assert "walking_speed" in r.json()["message_zh"]
    assert "人口合计" in refused(one, level="street", map="residents=人口合计").json()["message_zh"]
    # huge: more rows than any county has, and a file over the size limit (413)
    rows = "代码,常住人口\n" + "510603001,1\n" * 100_001
    assert "上限" in refused([("totals", ("big.csv", _csv(rows), "text/csv"))], level="street").json()["message_zh"]
    huge = b"\xef\xbb\xbf" + b"code,residents\n" + b"510603001,1" + b" " * (21 * 1024 * 1024) + b"\n"
    assert "MB" in refused([("totals", ("huge.csv", huge, "text/csv"))], 413, level="street").json()["message_zh"]
    # a raster that is no GeoTIFF
    r = refused([*one, ("raster", ("pop.tif", b"GIF89a", "image/tiff"))], level="street")
    assert "GeoTIFF" in r.json()["message_zh"]
    assert snapshot(store) == before and not store.list_jobs()


def test_who_may_upload(store, county):
    files = [("totals", ("t.csv", _streets_csv(), "text/csv"))]
    with TestClient(_app(store)) as anon:
        assert anon.post("/units/build", files=files, data={"level": "street"}).status_code == 401
    with TestClient(_app(store), headers=token_headers(store, "facilities")) as fac:
        r = fac.post("/units/build", files=files, data={"level": "street"})
        assert r.status_code == 403 and "生成人口单元" in r.json()["message_zh"]
        r = fac.post("/jobs", json={"kind": "units", "totals": [{"代码": "510603001", "常住人口": 5}]})
        assert r.status_code == 403
    assert not store.list_jobs()


def test_raster_upload(store, county, tmp_path):
    if store.backend_name == "postgis":
        pytest.skip("the raster is read by the job's worker process; storage is the same as without one")
    c, _ = county
    files = [("totals", ("t.csv", _streets_csv(), "text/csv"))]
    _geotiff(tmp_path / "nocrs.tif", 4, 4, 0, 4, 1, "none", 4)
    r = _post(c, [*files, ("raster", ("无坐标.tif", (tmp_path / "nocrs.tif").read_bytes(), "image/tiff"))],
              level="street")  # fmt: skip
    assert r.status_code == 422 and "坐标系" in r.json()["message_zh"] and not store.list_jobs()
    uploads = store.settings.data_dir / "uploads"
    assert not uploads.exists() or not list(uploads.glob("*"))  # the refused raster is not kept
    _geotiff(tmp_path / "pop.tif", 16, 8, 500_000, 3_440_400, 50, "EPSG:4544", 16)  # ones over the whole county
    r = _post(c, [*files, ("raster", ("人口.tif", (tmp_path / "pop.tif").read_bytes(), "image/tiff"))],
              level="street")  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.json()["totals"]["raster"] == "人口.tif"
    done = wait_for_job(c, r.json()["status_url"])
    assert done["status"] == "done", done
    (run,) = store.list_analyses("units")
    assert "raster" in run["summary"]["method"]["weights"]
    assert run["summary"]["units"]["residents"] == sum(v[0] for v in STREET_TOTALS.values())
    assert not list(uploads.glob("*")), "the uploaded raster is kept after its job"


def test_grid_totals_without_grid_outlines_are_checked_as_community_sums(store):
    buildings, roads, areas = county_world()
    store.upsert_layer("admin_areas", areas[areas["level"] != "grid"])
    store.upsert_layer("buildings", buildings)
    grid = "网格编码,常住人口\n510603001001-01,2500\n510603001001-02,3500\n"
    with TestClient(_app(store), headers=token_headers(store, "planner")) as c:
        r = _post(c, [("totals", ("网格.csv", _csv(grid), "text/csv"))], level="网格", check="true")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["matched"] == {"community": 1} and body["rows_by_level"] == {"grid": 2}
        assert "没有网格边界：2 条网格统计数按代码汇总到所属的 1 个社区" in body["message_zh"]
        assert body["notes_zh"] and "全部对应" not in body["message_zh"]
        r = _post(c, [("totals", ("网格.csv", _csv(grid + "510603009009-01,5\n"), "text/csv"))], level="网格")
        assert r.status_code == 422 and "510603009009-01" in r.json()["message_zh"]
        assert not store.list_jobs()
