"""The hazards layer through the generic import/export/OGC/tiles paths, and ``GET /shelters/scenario`` over HTTP on
SpatiaLite and PostGIS (the grid of tests/_hazard_world.py, where every walk is known)."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import openpyxl
import pytest

from maps.assets import external_references
from tests import _hazard_world as W
from tests.test_tiles import decode_lonlat, tile_of


def _han(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _upload(client, fc: dict):
    body = json.dumps(fc, ensure_ascii=False).encode()
    return client.post("/layers/hazards/import", files={"file": ("hazards.geojson", body, "application/geo+json")})


def _fc(frame: gpd.GeoDataFrame) -> dict:
    return json.loads(frame.to_json(na="drop"))


# ----------------------------------------------------------------------------- the layer
def test_hazards_import_export_ogc_and_tiles(client, store):
    r = _upload(client, _fc(W.hazards()))
    assert r.status_code == 200, r.text
    got = client.get("/layers/hazards").json()
    assert sorted(f["properties"]["source_id"] for f in got["features"]) == ["F", "G", "L"]
    kinds = {f["properties"]["source_id"]: f["properties"]["kind"] for f in got["features"]}
    assert kinds == {"F": "flood", "G": "geohazard", "L": "fault_zone"}
    assert {f["geometry"]["type"] for f in got["features"]} == {"Polygon", "Point", "LineString"} or {
        f["geometry"]["type"] for f in got["features"]
    } == {"MultiPolygon", "Point", "MultiLineString"}
    ogc = client.get("/ogc/collections/hazards/items").json()
    assert ogc["numberMatched"] == 3
    exported = client.get("/layers/hazards/export?format=geojson")
    assert exported.status_code == 200
    back = gpd.read_file(io.BytesIO(exported.content))
    assert sorted(back["source_id"]) == ["F", "G", "L"]
    p = W.hazards().geometry.iloc[1]
    x, y = tile_of(p.x, p.y, 15)
    t = client.get(f"/tiles/hazards/15/{x}/{y}.mvt")
    assert t.status_code == 200
    assert "G" in set(decode_lonlat(t.content, "hazards", 15, x, y).get("source_id", []))


def test_invalid_hazard_geometry_and_kind_are_refused_in_chinese(client, store):
    bow = W.hazards().iloc[[0]].copy()
    bow["geometry"] = [
        gpd.GeoSeries.from_wkt(["POLYGON((104.40 31.13, 104.41 31.14, 104.41 31.13, 104.40 31.14, 104.40 31.13))"])[0]
    ]
    r = _upload(client, _fc(bow.set_crs(4326, allow_override=True)))
    assert r.status_code == 422
    assert _han(r.text) and "Self-intersection" in r.text or "自相交" in r.text
    bad_kind = W.hazards().iloc[[1]].assign(kind=["meteor"])
    r = _upload(client, _fc(bad_kind))
    assert r.status_code == 422 and _han(r.text)
    assert client.get("/layers/hazards").json()["features"] == []  # nothing written


# ----------------------------------------------------------------------------- scenarios
def test_scenario_over_http_before_and_after(client, store):
    W.store_world(store, cap_b=150)
    r = client.get("/shelters/scenario", params={"hazard": "G"})
    assert r.status_code == 200, r.text
    body = r.json()
    s = body["summary"]
    assert (s["unplaced_before"], s["unplaced_after"]) == (50, 450)
    assert s["shelters_closed"] == 1 and s["hazards_active"] == [str(_id(store, "hazards", "G"))]
    sh = {x["name"]: x for x in body["shelters"]}
    assert sh["西广场"]["closed"] and sh["西广场"]["load_before"] == 400 and sh["西广场"]["load_after"] == 0
    assert "西山滑坡点" in sh["西广场"]["closed_reason"]
    assert sh["东公园"]["load_after"] == 150 and sh["东公园"]["capacity_persons"] == 150
    units = {u["name"]: u for u in body["units"]}
    assert units["一号院"]["unplaced_after"] == 200 and units["一号院"]["unplaced_before"] == 0
    assert units["二号院"]["unplaced_reason"] == "步行范围内避难场所容量已满"
    cm = body["communities"]
    assert cm[0]["name"] == "西区社区" and cm[0]["change"] == 400
    # the same scenario again is the stored run
    again = client.get("/shelters/scenario", params=[("hazard", str(_id(store, "hazards", "G")))]).json()
    assert again["run"]["id"] == body["run"]["id"]


def test_flood_routes_avoid_the_zone_in_geojson(client, store):
    W.store_world(store)
    r = client.get("/shelters/scenario", params={"hazard": "F", "format": "geojson"})
    assert r.status_code == 200
    g = gpd.read_file(io.BytesIO(r.content))
    routes = g[g["layer"] == "routes"]
    zone = W.metric(g[g["layer"] == "zones"].geometry).iloc[0]
    lengths = sorted(W.metric(routes.geometry).length.round(0).tolist())
    assert lengths == [110.0, 310.0, 410.0]
    assert not W.metric(routes.geometry).intersects(zone).any()


def test_scenario_map_and_workbook(client, store):
    W.store_world(store)
    page = client.get("/shelters/scenario", params={"close": "A", "format": "html"})
    assert page.status_code == 200 and "避难场所情景分析" in page.text
    for text in ("关闭的避难场所", "情景后的步行避难路线"):  # the legend and layer names (JSON-escaped in scripts)
        assert text in page.text or json.dumps(text)[1:-1] in page.text
    assert external_references(page.text) == []
    x = client.get("/shelters/scenario", params={"close": "A", "format": "xlsx"})
    assert x.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames[:4] == ["汇总", "避难场所", "社区", "人口单元"]
    rows = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert rows["情景后无法安置"] == 400 and rows["关闭的避难场所"] == 1


@pytest.mark.parametrize(
    ("params", "word"),
    [({"hazard": "nope"}, "灾害风险区"), ({"close": "Z9"}, "避难场所"), ({"walk_limit_m": "-3"}, None)],
)
def test_bad_scenario_input_is_a_chinese_4xx(client, store, params, word):
    W.store_world(store)
    r = client.get("/shelters/scenario", params=params)
    assert 400 <= r.status_code < 500
    assert "Traceback" not in r.text
    if word:
        assert r.status_code == 422 and word in r.json()["message_zh"]


def test_anonymous_readers_compute_only_the_plain_assignment(anon_client, client, store):
    W.store_world(store)
    assert anon_client.get("/shelters/scenario").status_code == 200
    r = anon_client.get("/shelters/scenario", params={"hazard": "F"})
    assert r.status_code == 401 and _han(r.json()["message_zh"])
    assert client.get("/shelters/scenario", params={"hazard": "F"}).status_code == 200
    assert anon_client.get("/shelters/scenario", params={"hazard": "F"}).status_code == 200  # the stored run


def _id(store, layer: str, source_id: str) -> int:
    f = store.read_layer(layer)
    return int(f.loc[f["source_id"] == source_id, "id"].iloc[0])
