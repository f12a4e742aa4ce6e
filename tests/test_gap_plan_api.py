"""The gap plan over the real app and the CLI, on SpatiaLite and PostGIS (issue 19).

The world is test_audit.py's with the spaces of test_gap_plan.py (answers worked out there): c1's day care closes with
the free 旧粮站, its nursery with the leased 供销社门市 (50,000 yuan over five years); with a budget of 0 the nursery
stays open for want of money. Also: the two new layers through the generic import (validation), layer reads, export,
OGC API - Features and vector tiles; the XLSX sheet "缺口补足方案"; the audit map's lines.
"""

from __future__ import annotations

import io
import json
import math

import geopandas as gpd
import mapbox_vector_tile
import openpyxl
import pytest
from _tiny_world import write_frames
from conftest import snapshot
from test_audit import audit_frames
from test_gap_plan import _spaces
from typer.testing import CliRunner

from geo_service.cli import app as cli


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store):
    f = write_frames(store, audit_frames(), network_name="street")
    assets, cands = _spaces()
    store.upsert_layer("idle_assets", assets.assign(source_id=[f"a{i}" for i in assets["id"]]).drop(columns="id"))
    store.upsert_layer("space_candidates", cands.assign(source_id=["s1"]).drop(columns="id"))
    return f


def _by(features, need, code="c1"):
    return [f for f in features if f["properties"]["community_code"] == code and f["properties"]["need"] == need]


def test_gap_plan_geojson(client, anon_client, world):
    r = anon_client.get("/audit/gap-plan")  # the default plan: readable without signing in
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    (day,) = _by(feats, "elderly_day_care")
    assert day["geometry"]["type"] == "LineString"
    p = day["properties"]
    assert p["candidate_name"] == "旧粮站" and p["owner"] == "区粮食局" and p["kind"] == "asset_free_transfer"
    assert "无偿移交" in p["how_zh"] and p["cost_yuan"] == 0
    (nursery,) = _by(feats, "nursery")
    assert nursery["properties"]["cost_yuan"] == pytest.approx(50_000) and nursery["properties"]["inside"] is False
    (open_day,) = _by(feats, "elderly_day_care", "c2")
    assert open_day["geometry"]["type"] == "Point" and open_day["properties"]["open_reason_zh"]

    r = client.get("/audit/gap-plan", params={"budget_yuan": 0})
    assert r.status_code == 200, r.text
    (nursery,) = _by(r.json()["features"], "nursery")
    assert nursery["properties"]["kind"] == "open" and "预算不足" in nursery["properties"]["open_reason_zh"]
    s = client.get("/audit/summary").json()["summary"]
    assert s["gap_plan"]["closed_m2"] == pytest.approx(750) and s["gap_plan"]["budget_yuan"] is None


def test_bad_budget_is_a_chinese_422_and_writes_nothing(client, anon_client, store, world):
    client.get("/audit/gap-plan")
    before = snapshot(store)
    r = client.get("/audit/gap-plan", params={"budget_yuan": -1})
    assert r.status_code == 422 and "预算不能小于 0" in r.json()["message_zh"]
    r = client.get("/audit/gap-plan", params={"budget_yuan": "很多"})
    assert r.status_code == 422 and r.json()["message_zh"].startswith("请求参数无效")
    r = anon_client.get("/audit/gap-plan", params={"budget_yuan": 1000})  # a new computation needs a user
    assert r.status_code == 401 and "登录" in r.json()["message_zh"]
    assert snapshot(store) == before


def test_report_xlsx_has_the_gap_plan_sheet(client, world):
    r = client.get("/audit/report.xlsx")
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert "缺口补足方案" in wb.sheetnames
    rows = list(wb["缺口补足方案"].iter_rows(values_only=True))
    header = rows[0]
    for h in ("社区代码", "需求", "补足说明", "产权单位", "费用（元，含租金年限）", "仍有缺口的原因"):
        assert any(h == c or (c and h in c) for c in header), (h, header)
    assert all(c is None or not str(c).isascii() or str(c).replace(" ", "").isdigit() for c in header)
    names = [r[header.index("空间名称")] for r in rows[1:]]
    assert "旧粮站" in names and "供销社门市" in names
    layers = {r[header.index("空间来源图层")] for r in rows[1:]} - {None}
    assert layers == {"闲置资产"}
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}
    assert summary["缺口补足：可补足面积（m²）"] == pytest.approx(750)
    comm = list(wb["社区办公与服务用房"].iter_rows(values_only=True))
    assert "缺口补足方式" in comm[0]


def test_audit_map_draws_the_lines(client, world):
    r = client.get("/maps/audit")
    assert r.status_code == 200, r.text
    html = r.text

    def has(text):  # map scripts carry Chinese as JSON escapes, the data as UTF-8
        return text in html or json.dumps(text)[1:-1] in html

    assert has("缺口补足方案（社区→闲置、购租、置换、扩建空间，3 条）")
    assert has("区供销社") and has("产权单位") and has("#1b9e77")  # owner in the data, its label in the popup
    assert has("缺口补足：闲置资产租赁")  # legend row of a kind on the map


def _post(client, layer, frame, tmp_path):
    path = tmp_path / f"{layer}.geojson"
    path.write_text(frame.to_json(), encoding="utf-8")
    with path.open("rb") as fh:
        return client.post(f"/layers/{layer}/import", files={"file": (path.name, fh, "application/geo+json")})


@pytest.mark.parametrize(
    ("layer", "change", "text"),
    [
        ("idle_assets", {"available_from": "2026-06-01", "available_to": "2025-12-31"}, "早于「可用起始日期」"),
        ("idle_assets", {"available_from": "下个月"}, "不是日期"),
        ("idle_assets", {"floor_area_m2": 0}, "必须大于 0"),
        ("idle_assets", {"rent_yuan_per_m2_year": -3}, "不能小于 0"),
        ("space_candidates", {"floor_area_m2": None}, "为空"),
        ("space_candidates", {"cost_yuan": -100}, "不能小于 0"),
    ],
)
def test_import_refuses_bad_rows_and_writes_nothing(client, store, world, tmp_path, layer, change, text):
    assets, cands = _spaces()
    frame = (assets if layer == "idle_assets" else cands).drop(columns=["id", "available_to"], errors="ignore")
    frame = frame.assign(source_id=[f"n{i}" for i in range(len(frame))])
    frame = frame.astype({c: object for c in frame.columns if c != "geometry"})
    for col, v in change.items():
        if col not in frame.columns:
            frame[col] = [None] * len(frame)
        frame.loc[frame.index[1 % len(frame)], col] = v
    before = snapshot(store)
    r = _post(client, layer, frame, tmp_path)
    assert r.status_code == 422, r.text
    problems = r.json()["report"]["problems"]
    assert [p["row"] for p in problems] == [1 % len(frame) + 1]
    assert text in problems[0]["problem_zh"], problems
    assert snapshot(store) == before


def test_new_layers_import_read_export_ogc_and_tiles(client, store, world, tmp_path):
    assets, _ = _spaces()
    frame = assets.drop(columns=["id", "available_to"]).assign(
        source_id=[f"n{i}" for i in range(len(assets))],
        available_from="2025年6月1日",
        available_to="2030-05-31",
    )
    r = _post(client, "idle_assets", frame, tmp_path)
    assert r.status_code == 200, r.text
    feats = client.get("/layers/idle_assets").json()["features"]
    new = [f for f in feats if f["properties"]["source_id"] == "n0"][0]["properties"]
    assert new["available_from"].startswith("2025-06-01") and new["available_to"].startswith("2030-05-31")
    r = client.get("/layers/idle_assets/export", params={"format": "geojson"})
    assert r.status_code == 200 and len(json.loads(r.content)["features"]) == len(feats)
    items = client.get("/ogc/collections/idle_assets/items", params={"limit": 100})
    assert items.status_code == 200 and items.json()["numberMatched"] == len(feats)
    sc = client.get("/ogc/collections/space_candidates/items").json()
    assert sc["features"][0]["properties"]["kind"] == "lease"
    lon, lat = frame.geometry.iloc[0].x, frame.geometry.iloc[0].y
    z = 15
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    t = client.get(f"/tiles/idle_assets/{z}/{x}/{y}.mvt")
    assert t.status_code == 200
    decoded = mapbox_vector_tile.decode(t.content)
    assert decoded["idle_assets"]["features"]


def test_cli_gap_plan(store, world, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["gap-plan", "--budget", "-5", "--database-url", _url(store)])
    assert res.exit_code == 1 and "预算不能小于 0" in res.output
    res = runner.invoke(cli, ["gap-plan", "--out", str(tmp_path / "plan.txt"), "--database-url", _url(store)])
    assert res.exit_code == 1 and "扩展名" in res.output
    out = tmp_path / "plan.xlsx"
    res = runner.invoke(cli, ["gap-plan", "--budget", "0", "--out", str(out), "--database-url", _url(store)])
    assert res.exit_code == 0, res.output
    assert "缺口补足方案" in res.output and "预算 0 元" in res.output
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["汇总", "缺口补足方案", "采用标准"]
    rows = list(wb["缺口补足方案"].iter_rows(values_only=True))
    assert any("预算不足" in str(v) for r in rows[1:] for v in r if v)
    gj = tmp_path / "plan.geojson"
    res = runner.invoke(cli, ["gap-plan", "--out", str(gj), "--database-url", _url(store)])
    assert res.exit_code == 0, res.output
    g = gpd.read_file(gj)
    assert set(g.geometry.geom_type) == {"LineString", "Point"} and "旧粮站" in set(g["candidate_name"].dropna())
    full = tmp_path / "audit.xlsx"
    res = runner.invoke(cli, ["audit", "--out", str(full), "--database-url", _url(store)])
    assert res.exit_code == 0, res.output
    assert "缺口补足方案" in openpyxl.load_workbook(full, read_only=True).sheetnames
