"""Audit runs in the store, /audit over the real app and `geo-service audit`, on both backends.

The world is the hand-built one of test_audit.py (answers computed on paper there).
"""

from __future__ import annotations

import io

import geopandas as gpd
import openpyxl
import pytest
from _tiny_world import write_frames
from test_audit import audit_frames
from typer.testing import CliRunner

from facilities.audit import AuditParams
from facilities.audit_service import current_audit
from geo_service.cli import app as cli


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store):
    return write_frames(store, audit_frames(), network_name="street")


def test_audit_runs_are_stored_with_their_inputs_and_reused(store, world):
    a = current_audit(store)
    assert a["kind"] == "audit" and a["plan_id"] is not None and a["network_version"]
    assert a["data_revisions"]["shelters"] >= 1 and a["data_revisions"]["plan_parcels"] >= 1
    assert a["params"]["day_night_factor"] == 1.0 and a["params"]["plan_id"] == a["plan_id"]
    assert a["outputs"]["communities"] == 4 and a["outputs"]["assignment"] == 2 and a["outputs"]["cannot_assess"] == 5
    s = a["summary"]
    assert s["emergency"]["placed"] == 200 and s["emergency"]["unplaced_nearest_first"] == 100
    assert s["plan"]["name"] == "现状"
    assert current_audit(store)["id"] == a["id"]  # inputs unchanged: the stored run is read
    # another parameter is another run
    b = current_audit(store, params=AuditParams(day_night_factor=1.5))
    assert b["id"] != a["id"] and b["summary"]["emergency"]["demand_persons"] == 300
    # an edit to the shelters makes the next read recompute: S2 now declares room for 50 only
    sh = world["shelters"].copy()
    sh.loc[sh["source_id"] == "S2", "capacity_persons"] = 50
    store.upsert_layer("shelters", sh)
    c = current_audit(store)
    assert c["id"] not in (a["id"], b["id"])
    assert c["summary"]["emergency"]["placed"] == 150 and c["summary"]["emergency"]["unplaced"] == 50
    cm = store.read_analysis_output(c["id"], "communities").set_index("community_code")
    assert cm.loc["c1", "emergency_unplaced"] == 50


def test_audit_without_a_plan_is_a_clear_error(store):
    from geo_service.core._errors import InputError

    with pytest.raises(InputError) as e:
        current_audit(store)
    assert "方案" in e.value.message_zh


def test_audit_endpoints(client, world):
    r = client.get("/audit/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    s = body["summary"]
    assert s["communities_with_space_gap"] == 1 and s["service_floor_gap_m2"] == pytest.approx(400.0)
    assert s["worst_communities"][0]["rank"] == 1
    assert any(n["check"] == "shelter.fixed_min_share" for n in s["norms"])
    run_id = body["run"]["id"]
    assert client.get("/audit/summary").json()["run"]["id"] == run_id
    assert client.get("/audit/runs").json()[0]["id"] == run_id

    cm = client.get("/audit/communities")
    assert cm.status_code == 200 and cm.headers["content-type"].startswith("application/geo+json")
    feats = {f["properties"]["community_code"]: f for f in cm.json()["features"]}
    assert feats["c2"]["properties"]["plan_can_close"] == "yes" and feats["c2"]["geometry"]["type"] == "MultiPolygon"
    assert feats["c3"]["properties"]["service_floor_status"] == "cannot_assess"
    assert feats["c3"]["properties"]["service_floor_gap_m2"] is None  # never zero

    lines = client.get("/audit/shelter-assignment").json()
    assert lines["numberMatched"] == 2
    assert {f["geometry"]["type"] for f in lines["features"]} == {"LineString"}
    assert sum(f["properties"]["persons"] for f in lines["features"]) == 200

    for out in ("streets", "shelters", "units", "facilities", "parcels", "developments", "cannot_assess"):
        r = client.get(f"/audit/{out}")
        assert r.status_code == 200, (out, r.text)
        assert r.json()["numberMatched"] >= 1, out
    paged = client.get("/audit/units?limit=1")
    assert paged.json()["numberReturned"] == 1 and any(lk["rel"] == "next" for lk in paged.json()["links"])

    x = client.get("/audit/report.xlsx")
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    assert "社区办公与服务用房" in wb.sheetnames
    assert client.get("/audit/report.xlsx?street_code=510603001").status_code == 200
    bad = client.get("/audit/report.xlsx?street_code=999")
    assert bad.status_code == 422 and "999" in bad.json()["message_zh"]

    # the same outputs as OGC API - Features collections (newest run)
    ogc = client.get("/ogc/collections/audit_communities/items")
    assert ogc.status_code == 200 and ogc.json()["numberMatched"] == 4
    assert client.get("/ogc/collections/audit_assignment/items").json()["numberMatched"] == 2

    # a stored run by id; a new run on request
    assert client.get(f"/audit/summary?run_id={run_id}").json()["run"]["id"] == run_id
    assert client.post("/audit/runs").json()["run"]["id"] != run_id


def test_audit_endpoint_errors(client, world, store):
    r = client.get("/audit/zoo")
    assert r.status_code == 404 and "communities" in r.json()["allowed"]
    assert client.get("/audit/summary?run_id=999999").status_code == 404
    assert client.get("/audit/summary?plan=没有这个方案").status_code == 404
    assert client.get("/audit/summary?day_night_factor=0").status_code == 422
    assert client.get("/audit/summary?walk_limit_m=-5").status_code == 422
    assert client.get("/audit/communities?bbox=1,2,3").status_code == 422
    assert client.get("/audit/communities?limit=100000000").status_code == 422
    # a coverage run id is not an audit
    cov = client.get("/coverage/summary")
    if cov.status_code == 200:
        assert client.get(f"/audit/summary?run_id={cov.json()['run']['id']}").status_code == 404


def test_cli_audit(store, world, tmp_path):
    out = tmp_path / "audit.xlsx"
    r = CliRunner().invoke(cli, ["audit", "--out", str(out), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "设施与避难场所审计" in r.output and "最优分配无法安置 0 人" in r.output and "就近分配 100 人" in r.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "汇总"
    gj = tmp_path / "communities.geojson"
    r = CliRunner().invoke(cli, ["audit", "--format", "geojson", "--out", str(gj), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    g = gpd.read_file(gj)
    assert len(g) == 4 and set(g["community_code"]) == {"c1", "c2", "c3", "c4"}
    csv = tmp_path / "lines.csv"
    r = CliRunner().invoke(
        cli, ["audit", "--format", "csv", "--output", "assignment", "--out", str(csv), "--database-url", _url(store)]
    )
    assert r.exit_code == 0, r.output
    assert csv.read_text(encoding="utf-8-sig").count("\n") >= 3
    r = CliRunner().invoke(cli, ["audit", "--format", "pdf", "--database-url", _url(store)])
    assert r.exit_code == 1 and "格式" in r.output
    r = CliRunner().invoke(
        cli, ["audit", "--format", "csv", "--output", "zoo", "--out", str(csv), "--database-url", _url(store)]
    )
    assert r.exit_code == 1 and "输出内容" in r.output
    r = CliRunner().invoke(cli, ["audit", "--plan", "nope", "--database-url", _url(store)])
    assert r.exit_code == 1 and "方案" in r.output
    street = tmp_path / "street.xlsx"
    r = CliRunner().invoke(cli, ["audit", "--street", "510603001", "--out", str(street), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    rows = [r for r in openpyxl.load_workbook(street)["汇总"].iter_rows(min_row=2, values_only=True)]
    assert rows[0][0] == "范围" and "510603001" in rows[0][1] and ("本街道：社区数", 4) in rows
    r = CliRunner().invoke(
        cli, ["audit", "--street", "999", "--out", str(tmp_path / "x.xlsx"), "--database-url", _url(store)]
    )
    assert r.exit_code == 1 and "999" in r.output and not (tmp_path / "x.xlsx").exists()
    r = CliRunner().invoke(cli, ["audit", "--walk-limit", "350", "--database-url", _url(store)])
    assert r.exit_code == 0 and "最优分配无法安置 100 人" in r.output


def test_hub_and_group_checks_over_http(client, store, world):
    """A hub in c1 listing a nursery: c1 has no 0-3 shortfall any more, the 3-6 one stays; stored hubs count once."""
    import shapely
    from _tiny_world import point_lonlat

    r = client.get("/audit/summary")
    assert r.status_code == 200, r.text
    before = {c["category"]: c for c in r.json()["summary"]["group_checks"]}
    assert before["nursery"]["shortfall_residents"] == pytest.approx(before["nursery"]["group_residents"])
    assert before["nursery"]["communities_missing"] == 4
    hub = gpd.GeoDataFrame(
        {
            "source_id": ["H1"],
            "name": ["一社区嵌入式服务中心"],
            "category": ["embedded_service"],
            "floor_area_m2": [700.0],
            "functions": ["托儿所、社区食堂（助餐点）、老年人日间照料中心"],
        },
        geometry=[shapely.Point(*point_lonlat(700, 100))],
        crs=4326,
    )
    store.upsert_layer("facilities", hub)
    body = client.get("/audit/summary").json()
    after = {c["category"]: c for c in body["summary"]["group_checks"]}
    assert body["run"]["id"] != r.json()["run"]["id"]  # the facilities changed: a new run
    assert after["nursery"]["shortfall_residents"] == 0 and after["nursery"]["communities_missing"] == 3
    assert after["kindergarten"]["shortfall_residents"] == pytest.approx(before["kindergarten"]["shortfall_residents"])
    feats = {
        f["properties"]["community_code"]: f["properties"] for f in client.get("/audit/communities").json()["features"]
    }
    c1 = feats["c1"]
    assert c1["nursery_group_shortfall"] == 0 and c1["kindergarten_group_shortfall"] == pytest.approx(
        c1["kindergarten_group_residents"]
    )
    assert c1["service_floor_m2"] == pytest.approx(300.0)  # the hub lists no service-space category: not counted
    assert "托儿所" not in (c1["missing_categories_zh"] or "")
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/audit/report.xlsx").content))
    assert "社区服务对象" in wb.sheetnames
