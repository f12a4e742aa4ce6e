"""The resident page's offline answers (issue 16): the per-area files served by the service and written by
``geo-service export-resident``, on both backends.  A Python reading of the files, the same steps as the page's
script (snap to the nearest edge of the area, the labels of the edge's two ends, sources on the same edge), must
give ``/nearest``'s answer; the page's own script is checked against ``/nearest`` in test_resident_browser.py."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from _tiny_world import point_lonlat, store_world
from typer.testing import CliRunner

from geo_service.cli import app as cli
from maps.resident_answers import AREA_Z, lonlat_to_tile


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store):
    return store_world(store)


def _quad(c, a, b):
    return c[0] + c[1] * a + c[2] * b + c[3] * a * a + c[4] * a * b + c[5] * b * b


def _coords(c: list[int]) -> list[float]:
    """Vertices of an area file (centimetres: the first vertex, then steps) in metres."""
    out, x, y = [], 0, 0
    for j in range(0, len(c), 2):
        x, y = x + c[j], y + c[j + 1]
        out += [x / 100, y / 100]
    return out


def _labels(doc: dict) -> dict:
    """``{node: (walk_m, source)}`` of a label file (node ids as steps, walks in centimetres)."""
    nodes = itertools.accumulate(doc["dn"])
    return {str(n): (d / 100, s) for n, d, s in zip(nodes, doc["d_cm"], doc["s"])}


def local_answer(get, lon: float, lat: float, category: str) -> dict | None:
    """The nearest source of ``category`` from the area files (``get(path) -> dict``), as the page computes it."""
    tx, ty = (int(v) for v in lonlat_to_tile(lon, lat, AREA_Z))
    area = get(f"net/{tx}/{ty}.json")
    area["coords"] = [_coords(c) for c in area["coords"]]
    sources = get(f"{category}/sources.json")
    px = _quad(area["fwd"][0], lon - area["lon0"], lat - area["lat0"])
    py = _quad(area["fwd"][1], lon - area["lon0"], lat - area["lat0"])
    best = (math.inf, -1, 0.0)
    for i, c in enumerate(area["coords"]):
        along, total, cand = 0.0, 0.0, None
        for j in range(0, len(c) - 2, 2):
            ax, ay, dx, dy = c[j], c[j + 1], c[j + 2] - c[j], c[j + 3] - c[j + 1]
            l2 = dx * dx + dy * dy
            t = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / l2)) if l2 > 0 else 0.0
            d = math.hypot(px - ax - dx * t, py - ay - dy * t)
            if cand is None or d < cand[0]:
                cand = (d, along + math.sqrt(l2) * t)
            along += math.sqrt(l2)
        total = along
        if cand and cand[0] < best[0]:
            best = (cand[0], i, cand[1] / total if total > 0 else 0.0)
    off, i, t = best
    if off > area["max_snap_m"]:
        return None
    e, length = area["edge"][i], area["length_m"][i]
    cands = []
    for node, frac in ((area["u"][i], t), (area["v"][i], 1 - t)):
        ax, ay = area["node_area"][str(node)]
        label = _labels(get(f"{category}/{ax}/{ay}.json")).get(str(node))
        if label:
            cands.append((label[0] + frac * length, label[1]))
    for k, item in enumerate(sources["items"]):
        if item["edge"] == e:
            cands.append((item["offset_m"] + abs(item["frac"] - t) * length, k))
    cands = sorted(c for c in cands if c[0] <= sources["radius_m"])
    if not cands:
        return None
    walk, k = cands[0]
    return {"id": sources["items"][k]["id"], "walk_m": walk + off}


def _http_get(client):
    def get(path):
        r = client.get("/resident/areas/" + path)
        assert r.status_code == 200, r.text
        return r.json()

    return get


POINTS = [(280, -20), (0, 120), (150, 5), (990, 60), (600, -40)]


def test_page_is_maplibre_over_own_tiles_with_a_service_worker(anon_client, world):
    page = anon_client.get("/resident").text
    assert "maplibre-gl.js" in page and "leaflet" not in page.lower()
    assert "搜索小区、道路、设施或地址" in page and "到避难场所的路线" in page and "到服务网点的路线" in page
    assert all(p in page for p in ("标准", "老年人", "轮椅"))
    cfg = json.loads(page.split('id="resident-config">')[1].split("</script>")[0])
    assert cfg["tile_url"] == "/tiles/{layer}/{z}/{x}/{y}.mvt" and "network_edges" in cfg["tile_layers"]
    assert cfg["basemap"] == [] and "glyphs" not in page  # no basemap by default; labels drawn on the phone
    assert cfg["sw_url"] == "/resident/sw.js" and cfg["sw_scope"] == "/resident"
    sw = anon_client.get("/resident/sw.js")
    assert sw.status_code == 200 and sw.headers["service-worker-allowed"] == "/"
    assert "javascript" in sw.headers["content-type"] and "caches.open" in sw.text
    for asset in cfg["precache"]:
        assert anon_client.get(asset).status_code == 200, asset


def test_area_files_give_the_answers_of_nearest(anon_client, world):
    get = _http_get(anon_client)
    for x, y in POINTS:
        lon, lat = point_lonlat(x, y)
        for category in ("shelter", "kindergarten"):
            want = anon_client.get("/nearest", params={"lon": lon, "lat": lat, "category": category, "k": 1}).json()
            got = local_answer(get, lon, lat, category)
            assert got is not None, (x, y, category)
            assert got["id"] == want["results"][0]["id"]
            assert got["walk_m"] == pytest.approx(want["results"][0]["walk_m"], abs=0.5), (x, y, category)
    # 1000 m from any street: unreachable in both
    lon, lat = point_lonlat(500, -1000)
    assert anon_client.get("/nearest", params={"lon": lon, "lat": lat}).status_code == 422
    assert local_answer(get, lon, lat, "shelter") is None


def test_area_files_refuse_bad_input_in_chinese(anon_client, world):
    r = anon_client.get("/resident/areas/net/99999/1.json")
    assert r.status_code == 422 and "区域编号" in r.json()["message_zh"]
    r = anon_client.get("/resident/areas/zoo/sources.json")
    assert r.status_code == 422 and "未知的类别" in r.json()["message_zh"]
    r = anon_client.get("/resident/areas/nursery/1/1.json")
    assert r.status_code == 404 and "现状数据" in r.json()["message_zh"]
    assert anon_client.get("/resident/areas/net/a/1.json").status_code == 422


def test_export_resident_writes_a_static_site_with_the_same_answers(anon_client, store, world, tmp_path):
    out = tmp_path / "site"
    res = CliRunner().invoke(cli, ["export-resident", "--out", str(out), "--database-url", _url(store)])
    assert res.exit_code == 0, res.output
    assert "居民查询页已导出到" in res.output
    manifest = json.loads((out / "resident-export.json").read_text())
    assert set(manifest["categories"]) == {"shelter", "kindergarten"}
    assert (out / "index.html").is_file() and (out / "sw.js").is_file()
    assert (out / "static/vendor/maplibre-gl-5.24.1/maplibre-gl.js").is_file()
    page = (out / "index.html").read_text()
    assert 'src="static/' in page and 'src="/' not in page and 'href="/' not in page  # every URL relative
    tiles = list((out / "tiles" / "network_edges").rglob("*.pbf"))
    assert tiles and any(t.stat().st_size for t in tiles)
    files = [f for f in out.rglob("*") if f.is_file() and f.name != "resident-export.json"]
    assert manifest["total_bytes"] == sum(f.stat().st_size for f in files) and manifest["files"] == len(files)

    def get(path):
        return json.loads((out / "areas" / path).read_text())

    for x, y in POINTS:
        lon, lat = point_lonlat(x, y)
        want = anon_client.get("/nearest", params={"lon": lon, "lat": lat, "category": "shelter", "k": 1}).json()
        got = local_answer(get, lon, lat, "shelter")
        assert got["id"] == want["results"][0]["id"]
        assert got["walk_m"] == pytest.approx(want["results"][0]["walk_m"], abs=0.5)

    # again into the same folder: replaced; into a folder with other files: refused, nothing written
    res = CliRunner().invoke(cli, ["export-resident", "--out", str(out), "--database-url", _url(store)])
    assert res.exit_code == 0, res.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    res = CliRunner().invoke(cli, ["export-resident", "--out", str(other), "--database-url", _url(store)])
    assert res.exit_code == 1 and "不是空的" in res.output
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_export_without_a_network_says_so(store, tmp_path):
    res = CliRunner().invoke(cli, ["export-resident", "--out", str(tmp_path / "x"), "--database-url", _url(store)])
    assert res.exit_code == 1 and "没有步行网络" in res.output
    assert not (tmp_path / "x").exists()


def test_tiles_are_rendered_once_per_data_revision(anon_client, store, world, monkeypatch):
    """Residents viewing the same area get the tile from memory; an import changes it at once."""
    import geopandas as gpd
    import mapbox_vector_tile
    import shapely

    import geo_service.api.tiles as tiles_api

    calls = []
    real = tiles_api.render_tile
    monkeypatch.setattr(tiles_api, "render_tile", lambda *a: calls.append(a[2:5]) or real(*a))
    lon, lat = point_lonlat(500, 0)
    tx, ty = (int(v) for v in lonlat_to_tile(lon, lat, 13))
    url = f"/tiles/shelters/13/{tx}/{ty}.mvt"
    first, again = anon_client.get(url), anon_client.get(url)
    assert first.status_code == 200 and again.content == first.content and len(calls) == 1
    sh = gpd.GeoDataFrame(
        {"source_id": ["H2"], "name": ["北岸公园"], "shelter_class": ["emergency"], "capacity_persons": [300]},
        geometry=[shapely.Point(*point_lonlat(0, 140))],
        crs=4326,
    )
    store.upsert_layer("shelters", sh)
    after = anon_client.get(url)
    assert len(calls) == 2 and after.headers["etag"] != first.headers["etag"]
    names = [f["properties"].get("name") for f in mapbox_vector_tile.decode(after.content)["shelters"]["features"]]
    assert "北岸公园" in names
