"""Coverage runs, /coverage and /nearest over the real app, and the CLI, on both backends."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely
from _tiny_world import point_lonlat, store_world
from typer.testing import CliRunner

from facilities.service import current_coverage
from geo_service.cli import app as cli


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store):
    return store_world(store)


def test_runs_are_stored_and_reused_until_inputs_change(store, world):
    a = current_coverage(store)
    assert a["outputs"]["units"] == 3 and a["outputs"]["communities"] == 2 and a["outputs"]["gaps"] >= 2
    assert a["network_version"] and a["plan_id"] is not None
    assert a["data_revisions"]["facilities"] >= 1
    assert current_coverage(store)["id"] == a["id"]  # nothing changed: the stored run is read
    units = store.read_analysis_output(a["id"], "units").set_index("source_id")
    assert units.loc["A", "kindergarten_walk_m"] == pytest.approx(300.0, abs=0.01)
    # a new facility on the north bank: the next request recomputes and B is covered
    f = gpd.GeoDataFrame(
        {"source_id": ["F2"], "name": ["北岸幼儿园"], "category": ["kindergarten"]},
        geometry=[shapely.Point(*point_lonlat(0, 100))],
        crs=4326,
    )
    store.upsert_layer("facilities", f)
    b = current_coverage(store)
    assert b["id"] != a["id"]
    units = store.read_analysis_output(b["id"], "units").set_index("source_id")
    assert bool(units.loc["B", "kindergarten_covered"]) and units.loc["B", "kindergarten_walk_m"] == pytest.approx(
        20.0, abs=0.01
    )


def test_coverage_endpoints(client, world):
    r = client.get("/coverage/summary")
    assert r.status_code == 200, r.text
    body = r.json()
    kg = next(c for c in body["summary"]["categories"] if c["category"] == "kindergarten")
    assert kg["walk_rate"] == pytest.approx(100 / 350) and kg["straight_rate"] == pytest.approx(300 / 350)
    run_id = body["run"]["id"]
    assert client.get("/coverage/summary").json()["run"]["id"] == run_id
    assert client.post("/coverage/runs").json()["run"]["id"] != run_id

    g = client.get("/coverage/gaps")
    assert g.status_code == 200 and g.headers["content-type"].startswith("application/geo+json")
    feats = g.json()["features"]
    # every unit lacks some 5-minute category in this tiny world: ranked by residents
    assert [f["properties"]["source_id"] for f in feats] == ["B", "A", "C"]
    u = client.get("/coverage/units", params={"limit": 2})
    assert u.json()["numberMatched"] == 3 and u.json()["numberReturned"] == 2
    assert any(link["rel"] == "next" for link in u.json()["links"])
    cm = client.get("/coverage/communities").json()
    assert {f["properties"]["community_code"] for f in cm["features"]} == {"c1", "c2"}
    assert client.get("/coverage/nothing").status_code == 404
    assert client.get("/coverage/summary", params={"levels": "7min"}).status_code == 422
    assert client.get("/coverage/summary", params={"plan": "no-such-plan"}).status_code == 404

    sa = client.get("/coverage/service-areas", params={"category": "kindergarten"})
    assert sa.status_code == 200, sa.text
    assert sa.json()["features"][0]["properties"]["walk_m"] == 300.0
    assert client.get("/coverage/service-areas", params={"category": "nursery"}).status_code == 422
    assert client.get("/coverage/service-areas", params={"facility_id": 99999}).status_code == 404
    assert client.get("/coverage/runs").status_code == 200


def test_nearest_endpoint(client, world):
    lon, lat = point_lonlat(280, -20)  # unit A's centre
    r = client.get("/nearest", params={"lon": lon, "lat": lat, "category": "kindergarten", "k": 1})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 1 and res[0]["name"] == "河畔幼儿园" and res[0]["walk_m"] == pytest.approx(300.0, abs=0.1)
    assert (
        res[0]["walk_min"] == pytest.approx(5.0, abs=0.05)
        and res[0]["capacity"] == 120
        and res[0]["address"] == "河畔路1号"
    )
    coords = np.array(res[0]["route"]["coordinates"])
    assert np.allclose(coords[0], [lon, lat], atol=1e-7)
    line = gpd.GeoSeries([shapely.LineString(coords)], crs=4326).to_crs(4544).iloc[0]
    assert line.length == pytest.approx(300.0, abs=0.1)

    # shelters: from the north bank the walk goes over the bridge
    lon, lat = point_lonlat(0, 120)
    sh = client.get("/nearest", params={"lon": lon, "lat": lat, "category": "shelter"}).json()
    assert sh["results"][0]["walk_m"] == pytest.approx(20 + 1000 + 100 + 10, abs=0.1)
    assert sh["results"][0]["capacity"] == 800 and sh["results"][0]["category_zh"] == "紧急避难场所"
    assert "message_zh" in sh  # fewer than k=3 in reach

    far = point_lonlat(500, -1000)
    r = client.get("/nearest", params={"lon": far[0], "lat": far[1], "category": "shelter"})
    assert r.status_code == 422 and "300" in r.json()["message_zh"]
    r = client.get("/nearest", params={"lon": 100.0, "lat": 20.0, "category": "shelter"})
    assert r.status_code == 422 and "研究区域" in r.json()["message_zh"]
    assert client.get("/nearest", params={"lon": lon, "lat": lat, "category": "zoo"}).status_code == 422
    assert client.get("/nearest", params={"lon": lon, "lat": lat, "category": "nursery"}).status_code == 404
    assert client.get("/nearest", params={"lon": lon, "lat": lat, "k": 9}).status_code == 422
    assert client.get("/nearest", params={"lon": "abc", "lat": lat}).status_code == 422
    cats = client.get("/nearest/categories").json()
    assert {c["category"] for c in cats} == {"shelter", "kindergarten"}


def test_nearest_sees_new_shelters(client, store, world, monkeypatch):
    import facilities.nearest as nearest_mod

    monkeypatch.setattr(nearest_mod, "REVISION_TTL_S", 0.0)
    lon, lat = point_lonlat(0, 120)
    assert client.get("/nearest", params={"lon": lon, "lat": lat}).json()["results"][0]["walk_m"] > 1000
    sh = gpd.GeoDataFrame(
        {"source_id": ["H2"], "name": ["北岸公园"], "shelter_class": ["emergency"], "capacity_persons": [300]},
        geometry=[shapely.Point(*point_lonlat(0, 140))],
        crs=4326,
    )
    store.upsert_layer("shelters", sh)
    first = client.get("/nearest", params={"lon": lon, "lat": lat}).json()["results"][0]
    assert first["name"] == "北岸公园" and first["walk_m"] == pytest.approx(20 + 40, abs=0.1)


def test_cli_coverage_and_nearest(store, world, tmp_path):
    out = tmp_path / "coverage.xlsx"
    r = CliRunner().invoke(cli, ["coverage", "--format", "xlsx", "--out", str(out), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "完整生活圈覆盖率" in r.output
    wb = openpyxl.load_workbook(out)
    assert {"汇总-设施类别", "社区", "街道", "缺口单元", "人口单元"} <= set(wb.sheetnames)
    ws = wb["人口单元"]
    headers = [c.value for c in ws[1]]
    assert "幼儿园步行距离（米）" in headers and ws.freeze_panes == "A2"
    gj = tmp_path / "gaps.geojson"
    r = CliRunner().invoke(
        cli, ["coverage", "--format", "geojson", "--output", "gaps", "--out", str(gj), "--database-url", _url(store)]
    )
    assert r.exit_code == 0, r.output
    assert len(gpd.read_file(gj)) >= 2
    r = CliRunner().invoke(cli, ["coverage", "--format", "pdf", "--database-url", _url(store)])
    assert r.exit_code == 1 and "格式" in r.output

    lon, lat = point_lonlat(280, -20)
    r = CliRunner().invoke(
        cli, ["nearest", str(lon), str(lat), "--category", "kindergarten", "--database-url", _url(store)]
    )
    assert r.exit_code == 0 and "河畔幼儿园" in r.output and "300 米" in r.output
    r = CliRunner().invoke(cli, ["nearest", "100", "20", "--database-url", _url(store)])
    assert r.exit_code == 1 and "研究区域" in r.output


def test_siting(client, world):
    north = point_lonlat(0, 110)  # next to B, across the river
    south = point_lonlat(290, -5)  # next to A, already covered
    far = point_lonlat(500, -1500)  # off the network
    body = {"category": "kindergarten", "k": 2, "candidates": [south, north, far], "exact_check": True}
    r = client.post("/coverage/siting", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["baseline_covered_residents"] == 100 and out["total_residents"] == 350
    assert [p["candidate_id"] for p in out["picks"]] == ["p2"]  # the south site adds nobody: not proposed
    assert out["picks"][0]["gain_residents"] == 200 and out["picks"][0]["covered_residents"] == 300
    assert out["stop_reason"] == "no_gain" and out["unreachable_candidates"] == 1
    assert out["exact_check"]["gap_pct"] == 0.0 and out["exact_check"]["exact_added_residents"] == 200
    # default candidates are the reserved community-service parcels: none here
    r = client.post("/coverage/siting", json={"category": "kindergarten", "k": 1})
    assert r.status_code == 422 and "0702" in r.json()["message_zh"]
    assert client.post("/coverage/siting", json={"category": "zoo", "k": 1, "candidates": [north]}).status_code == 422
    assert (
        client.post("/coverage/siting", json={"category": "kindergarten", "k": 0, "candidates": [north]}).status_code
        == 422
    )
    assert (
        client.post(
            "/coverage/siting", json={"category": "kindergarten", "k": 1, "candidates": [[1, 2, 3]]}
        ).status_code
        == 422
    )


def test_accessibility_in_the_run(store, world):
    run = current_coverage(store)
    units = store.read_analysis_output(run["id"], "units").set_index("source_id")
    # one kindergarten of 120 places; A alone within 300 m (weight 1), B and C out of reach:
    # R = 120 / (100 * 1.0) = 1.2 places per resident -> A scores 1,200 per 1,000 residents
    assert units.loc["A", "kindergarten_e2sfca_per_1000"] == pytest.approx(1200.0)
    assert units.loc["B", "kindergarten_e2sfca_per_1000"] == 0.0
    assert run["summary"]["accessibility"]["categories"]["kindergarten"]["facilities_with_capacity"] == 1


def test_cli_siting(store, world, tmp_path):
    csv = tmp_path / "c.csv"
    lon, lat = point_lonlat(0, 110)
    csv.write_text(f"lon,lat\n{lon},{lat}\n")
    r = CliRunner().invoke(
        cli,
        [
            "siting",
            "--category",
            "kindergarten",
            "--k",
            "1",
            "--candidates",
            str(csv),
            "--exact",
            "--database-url",
            _url(store),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "新增覆盖 200 人" in r.output and "差距 0.00%" in r.output
    r = CliRunner().invoke(cli, ["siting", "--category", "kindergarten", "--database-url", _url(store)])
    assert r.exit_code == 1 and "候选" in r.output


def test_network_is_built_once_and_reloaded_from_its_file(store, world, monkeypatch):
    from geo_service.core import network as netmod

    netmod.clear_cache()
    first = netmod.load_network(store)
    path = netmod.network_cache_path(store, store.list_networks()[-1])
    assert path.exists()
    netmod.clear_cache()

    def no_tables(*a, **k):
        raise AssertionError("the network tables were read again")

    monkeypatch.setattr(store, "read_layer", no_tables)
    again = netmod.load_network(store)
    assert again.version == first.version and again is not first
    assert netmod.load_network(store) is again  # then the process cache
    netmod.clear_cache()


def test_cli_build_network_from_road_centrelines(store, world):
    e = world["edges"]
    roads = gpd.GeoDataFrame(
        {
            "source_id": [f"r{i}" for i in range(len(e))],
            "name": [f"路{i}" for i in range(len(e))],
            "road_class": e["road_class"],
        },
        geometry=e.geometry.values,
        crs=4326,
    )
    store.upsert_layer("roads", roads)
    r = CliRunner().invoke(cli, ["build-network", "--name", "roads", "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "5 个节点" in r.output and "4 条路段" in r.output
    assert store.list_networks()[-1]["name"] == "roads"
    r = CliRunner().invoke(cli, ["coverage", "--database-url", _url(store)])
    assert r.exit_code == 0 and "幼儿园：步行 28.6%" in r.output  # the same answer on the rebuilt network


def test_stored_unit_entrances_replace_the_representative_point(store, world):
    gate = gpd.GeoDataFrame(
        {"source_id": ["B-east", "X-1"], "unit_source_id": ["B", "no-such-unit"], "name": ["东门", "?"]},
        geometry=[shapely.Point(*point_lonlat(990, 110)), shapely.Point(*point_lonlat(10, 10))],
        crs=4326,
    )
    before = current_coverage(store)
    store.upsert_layer("unit_entrances", gate)
    run = current_coverage(store)  # a new entrance is a new input: recomputed
    assert run["id"] != before["id"]
    units = store.read_analysis_output(run["id"], "units").set_index("source_id")
    assert units.loc["B", "snap_offset_m"] == pytest.approx(10.0, abs=0.01)  # the gate, not the centre (20 m)
    assert units.loc["A", "snap_offset_m"] == pytest.approx(20.0, abs=0.01)
    assert any("出入口" in w for w in run["summary"]["warnings"])


def test_coverage_map_of_a_stored_run(store, world):
    from maps.registry import render_map

    run = current_coverage(store)
    assert "service_areas" not in run["outputs"]
    page = render_map("coverage", store, inline=True)
    after = store.get_analysis(run["id"])
    assert after["outputs"]["service_areas"] == 1  # stored with the run when the map first asked: kindergartens only
    areas = store.read_analysis_output(run["id"], "service_areas")
    assert areas["category"].tolist() == ["kindergarten"] and areas["walk_m"].tolist() == [300.0]

    def shown(text):  # labels go into the page as they are or JSON-escaped
        return text in page or json.dumps(text)[1:-1] in page

    assert shown("距道路超过 300 米") and shown("1000 米内没有") and "missing_zh" in page
    render_map("coverage", store, inline=True)  # the second time reads them
    assert store.get_analysis(run["id"])["outputs"]["service_areas"] == 1


def test_group_figures_in_the_coverage_outputs(client, store, tmp_path):
    """Unit A gives its children of 3-6, B and C are derived: the summary, the streets, the XLSX, the CLI and
    /groups/coverage (read from the coverage run, not recomputed) carry the kindergarten's rate over them."""
    from _tiny_world import frames, write_frames

    from geo_service.core.norms import load_norms

    f = frames()
    f["units"]["residents_3_6"] = [12, None, None]
    write_frames(store, f)
    share = load_norms().entry("age_groups.census_shares").value["3_6"]
    b, c = 200 * share, 50 * share
    body = client.get("/coverage/summary").json()
    kg = next(x for x in body["summary"]["categories"] if x["category"] == "kindergarten")
    assert kg["group_zh"] == "3–6岁幼儿" and kg["tier_zh"] == "基础保障型" and kg["hub_facilities"] == 0
    assert kg["group_rate"] == pytest.approx(12 / (12 + b + c), abs=1e-3)
    assert kg["group_uncovered_residents"] == pytest.approx(b + c, abs=0.1)
    assert kg["walk_rate"] == pytest.approx(100 / 350) and body["summary"]["streets"]  # other keys pass through
    streets = {
        x["properties"]["street_code"]: x["properties"] for x in client.get("/coverage/streets").json()["features"]
    }
    assert streets["510603001"]["kindergarten_group_rate"] == pytest.approx(12 / (12 + c), abs=1e-3)
    assert streets["510603002"]["kindergarten_group_uncovered"] == pytest.approx(b, abs=0.1)
    units = client.get("/coverage/units").json()["features"]
    assert sorted(u["properties"]["residents_3_6"] for u in units) == pytest.approx(sorted([12, b, c]), abs=0.01)

    groups = client.get("/groups/coverage").json()
    assert groups["coverage_run_id"] == body["run"]["id"]
    city = next(x for x in groups["rows"] if x["category"] == "kindergarten" and x["scope"] == "city")
    assert city["group_rate"] == pytest.approx(kg["group_rate"]) and city["uncovered_group_residents"] == pytest.approx(
        kg["group_uncovered_residents"]
    )
    assert city["all_rate"] == pytest.approx(100 / 350) and city["derived_share"] == pytest.approx(
        kg["group_derived_share"]
    )

    out = tmp_path / "coverage.xlsx"
    r = CliRunner().invoke(cli, ["coverage", "--out", str(out), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "服务对象 3–6岁幼儿" in r.output and "基础保障型" in r.output
    wb = openpyxl.load_workbook(out)
    head = [x.value for x in wb["汇总-设施类别"][1]]
    assert {
        "服务对象",
        "服务对象人口（人）",
        "服务对象覆盖率",
        "服务对象未覆盖人口（人）",
        "TD/T 1062-2021 分级",
    } <= set(head)
    assert "幼儿园服务对象覆盖率" in [x.value for x in wb["街道"][1]]
    assert "3–6岁幼儿（人）" in [x.value for x in wb["人口单元"][1]]
    from maps.registry import render_map

    page = render_map("coverage", store, inline=True)
    for text in (
        "服务对象覆盖率（全市，TD/T 1062-2021 分级）",
        "幼儿园（服务3–6岁幼儿·基础保障型）",
        "服务对象覆盖率·幼儿园",
    ):
        assert text in page or json.dumps(text)[1:-1] in page, text
