"""/fairness, /groups/coverage, /hubs over the real app and the CLI commands, on SpatiaLite and PostGIS.

The tiny world (tests/_tiny_world.py): kindergarten F; unit A walks 300 m, B 2120 m (across the bridge), C is
1000 m from any street.  Residents 100 / 200 / 50, no age columns: children of 3-6 are derived (census share).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely
from _tiny_world import point_lonlat, store_world
from inequality.gini import Gini
from typer.testing import CliRunner

from geo_service.cli import app as cli
from geo_service.core.norms import load_norms

SHARE_3_6 = load_norms().entry("age_groups.census_shares").value["3_6"]


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store):
    return store_world(store)


def _city(body, category="kindergarten"):
    return next(r for r in body["rows"] if r["category"] == category and r["scope"] == "city")


def test_fairness_endpoint(client, anon_client, store, world):
    r = anon_client.get("/fairness", params={"category": "kindergarten"})
    assert r.status_code == 200, r.text
    body = r.json()
    row = _city(body)
    assert row["group"] == "3_6" and row["weight"] == pytest.approx(350 * SHARE_3_6)
    # B (2120 m) and C (off the network) are beyond the 2000 m search limit: counted at 2000 m, a lower bound
    assert row["lower_bound"] and row["unreached_weight"] == pytest.approx(250 * SHARE_3_6)
    expected = Gini(np.repeat([300.0, 2000.0, 2000.0], [2, 4, 1])).g  # residents 100:200:50
    assert row["gini"] == pytest.approx(expected, abs=1e-5)
    assert row["beyond_5min_share"] == pytest.approx(250 / 350)  # A at exactly 300 m is within
    assert row["beyond_threshold_share"] == pytest.approx(250 / 350) and row["threshold_m"] == 300
    # the worst-served 10 %: B first (not reached, more children than C), which alone passes 10 %
    assert [(w["unit_id"], w["reached"], w["walk_m"]) for w in body["worst"]] == [(world_id(store, "B"), False, None)]
    assert {r["category"] for r in body["rows"]} == {"kindergarten"}
    assert any("2000" in n for n in body["notes"])
    run_id = body["run"]["id"]
    every = anon_client.get("/fairness").json()
    assert every["run"]["id"] == run_id  # category only filters: same run
    assert len({r["category"] for r in every["rows"]}) > 10
    assert every["worst"] == [] and any("category" in n for n in every["notes"])

    # other parameters: a signed-in user only
    assert anon_client.get("/fairness", params={"limit_m": 2500}).status_code == 401
    r = client.get("/fairness", params={"category": "kindergarten", "limit_m": 2500, "street": "510603002"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {(x["scope"], x["street_code"]) for x in body["rows"]} == {("city", "全市"), ("street", "510603002")}
    b = next(x for x in body["rows"] if x["scope"] == "street")
    assert b["mean_walk_m"] == pytest.approx(2120.0, abs=0.5) and not b["lower_bound"]
    assert [w["walk_m"] for w in body["worst"]] == [pytest.approx(2120.0, abs=0.5)]
    ex = client.get("/fairness", params={"category": "kindergarten", "unreached": "exclude"}).json()
    assert _city(ex)["gini"] == pytest.approx(0.0) and _city(ex)["mean_walk_m"] == pytest.approx(300.0, abs=0.5)


def world_id(store, source_id: str) -> int:
    units = store.read_layer("population_units")
    return int(units.loc[units["source_id"] == source_id, "id"].iloc[0])


def test_bad_requests_get_chinese_messages_and_nothing_is_stored(client, store, world):
    for params, needle in (
        ({"category": "spaceport"}, "未知的设施类别"),
        ({"unreached": "drop"}, "不可达单元"),
    ):
        r = client.get("/fairness", params=params)
        assert r.status_code == 422 and needle in r.json()["message_zh"], r.text
    assert client.get("/fairness", params={"limit_m": 10}).status_code == 422
    # age groups that cannot be true: refused with the rows named, no run stored
    before = len(store.list_analyses("fairness"))
    bad = store.read_layer("population_units").iloc[[0]].copy()
    bad["residents_60plus"], bad["residents_80plus"] = 10, 30
    store.upsert_layer(
        "population_units",
        bad[
            [
                "source_id",
                "name",
                "residents",
                "households",
                "residents_60plus",
                "residents_80plus",
                "street_code",
                "geometry",
            ]
        ],
    )
    for path in ("/fairness", "/groups/coverage"):
        r = client.get(path)
        assert r.status_code == 422, r.text
        assert "年龄分组数据有误" in r.json()["message_zh"] and "80岁及以上人数（30）" in r.json()["message_zh"]
    assert len(store.list_analyses("fairness")) == before and not store.list_analyses("group_coverage")


def test_groups_coverage_endpoint(anon_client, world):
    r = anon_client.get("/groups/coverage")
    assert r.status_code == 200, r.text
    body = r.json()
    kg = next(x for x in body["rows"] if x["category"] == "kindergarten" and x["scope"] == "city")
    assert kg["group"] == "3_6" and kg["tier"] == "basic" and kg["tier_zh"] == "基础保障型"
    assert kg["group_rate"] == pytest.approx(100 / 350) and kg["derived_share"] == pytest.approx(1.0)
    assert kg["group_residents"] == pytest.approx(350 * SHARE_3_6, abs=0.1)
    prof = next(c for c in body["categories"] if c["category"] == "kindergarten")
    assert prof["tier_norm_source"].startswith("TD/T 1062-2021")
    again = anon_client.get("/groups/coverage", params={"street": "510603002"}).json()
    assert again["run"]["id"] == body["run"]["id"]
    assert {x["street_code"] for x in again["rows"]} == {"全市", "510603002"}


def test_hubs_endpoint(client, store, world):
    hub = gpd.GeoDataFrame(
        {
            "source_id": ["H1", "H2"],
            "name": ["南岸嵌入式服务中心", "北岸综合体"],
            "category": ["embedded_service", "embedded_service"],
            "floor_area_m2": [820.0, 400.0],
            "functions": ["nursery,canteen,health_station", "托儿所"],
        },
        geometry=[shapely.Point(*point_lonlat(100, -5)), shapely.Point(*point_lonlat(100, 150))],
        crs=4326,
    )
    store.upsert_layer("facilities", hub)
    r = client.get("/hubs")
    assert r.status_code == 200, r.text
    body = r.json()
    hubs = {h["name"]: h for h in body["hubs"]}
    assert hubs["南岸嵌入式服务中心"]["hub_status"] == "meets" and hubs["南岸嵌入式服务中心"]["floor_preferred"]
    assert hubs["北岸综合体"]["hub_status"] == "fails" and "低于 600 m²" in hubs["北岸综合体"]["reasons_zh"]
    assert body["summary"]["norms"]["hub_floor_m2"] == 600 and body["summary"]["plan"]["name"] == "现状"
    # the tiny plan's communities carry no households: the tiers cannot be assessed, and say why
    assert {s["floor_tier"] for s in body["service_space"]} == {"cannot_assess"}
    assert all("户数" in s["reason_zh"] for s in body["service_space"])
    assert client.get("/hubs").json()["run"]["id"] == body["run"]["id"]
    assert client.get("/hubs", params={"plan": "no-such-plan"}).status_code == 404


def test_cli_commands(store, world, tmp_path):
    runner = CliRunner()
    out = tmp_path / "公平性.xlsx"
    res = runner.invoke(
        cli, ["fairness", "--category", "kindergarten", "--out", str(out), "--database-url", _url(store)]
    )
    assert res.exit_code == 0, res.output
    assert "幼儿园（按3–6岁）" in res.output and "已写出" in res.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["全市", "各街道", "最差10%居民", "规范依据"]
    headers = [c.value for c in wb["全市"][1]]
    assert "步行距离基尼系数" in headers and "帕尔马比值（最远10%÷最近40%）" in headers
    assert wb["最差10%居民"].max_row >= 2 and wb["规范依据"]["C2"].value.startswith("GB 50180-2018")

    res = runner.invoke(cli, ["fairness", "--category", "spaceport", "--database-url", _url(store)])
    assert res.exit_code == 1 and "未知的设施类别" in res.output
    res = runner.invoke(cli, ["groups", "--out", str(tmp_path / "g.xlsx"), "--database-url", _url(store)])
    assert res.exit_code == 0 and "幼儿园（基础保障型）：3–6岁幼儿" in res.output, res.output
    res = runner.invoke(cli, ["hubs", "--out", str(tmp_path / "h.xlsx"), "--database-url", _url(store)])
    assert res.exit_code == 0 and "嵌入式服务综合体 0 处" in res.output, res.output
    assert openpyxl.load_workbook(tmp_path / "h.xlsx").sheetnames == [
        "嵌入式服务综合体",
        "社区服务用房分级",
        "规范依据",
    ]
    res = runner.invoke(cli, ["hubs", "--out", str(tmp_path / "h.csv"), "--database-url", _url(store)])
    assert res.exit_code == 1 and ".xlsx" in res.output
