"""Map pages and exports: local assets only, Chinese labels, basemap settings, coverage map from a stored run."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.core.settings import Settings
from maps import assets
from maps.base import basemap_layers
from maps.registry import render_map

LON, LAT = 104.40, 31.13


@pytest.fixture
def city(store):
    xs, ys = np.meshgrid(np.arange(4) * 0.004 + LON, np.arange(3) * 0.004 + LAT)
    fac = gpd.GeoDataFrame(
        {
            "source_id": [f"f{i}" for i in range(12)],
            "name": [f"设施{i}" for i in range(12)],
            "category": ["kindergarten", "health_station", "market"] * 4,
            "address": ["示例路1号"] * 12,
        },
        geometry=shapely.points(xs.ravel(), ys.ravel()),
        crs=4326,
    )
    store.upsert_layer("facilities", fac)
    shel = gpd.GeoDataFrame(
        {
            "source_id": ["s1", "s2"],
            "name": ["公园避难场所", "广场避难场所"],
            "shelter_class": ["emergency", "fixed"],
            "capacity_persons": [3000, 12000],
        },
        geometry=[shapely.Point(LON + 0.002, LAT + 0.002), shapely.box(LON + 0.006, LAT, LON + 0.008, LAT + 0.002)],
        crs=4326,
    )
    store.upsert_layer("shelters", shel)
    return store


def coverage_outputs():
    d = 0.003
    xs, ys = np.meshgrid(np.arange(5) * d + LON, np.arange(4) * d + LAT)
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + d * 0.9, ys.ravel() + d * 0.9)
    n = len(boxes)
    walk = np.linspace(100, 1800, n)
    units = gpd.GeoDataFrame(
        {
            "feature_key": [f"u{i}" for i in range(n)],
            "name": [f"小区{i}" for i in range(n)],
            "residents": np.arange(n) * 100 + 50,
            "kindergarten_walk_m": walk,
            "kindergarten_covered": walk <= 300,
            "health_station_walk_m": walk / 2,
            "health_station_covered": walk / 2 <= 1000,
            "complete_5min": walk <= 300,
            "complete_10min": walk <= 500,
            "complete_15min": walk <= 1000,
        },
        geometry=boxes,
        crs=4326,
    )
    units.loc[3, "kindergarten_walk_m"] = np.nan
    gaps = units[~units["kindergarten_covered"]].sort_values("residents", ascending=False).head(5).copy()
    gaps["missing_categories"] = [["kindergarten"]] * len(gaps)
    gaps["rank"] = np.arange(1, len(gaps) + 1)
    comm = gpd.GeoDataFrame(
        {"feature_key": ["c1"], "name": ["示例社区"], "kindergarten_rate": [0.25], "complete_15min_rate": [0.6]},
        geometry=[shapely.box(LON, LAT, LON + 0.015, LAT + 0.012)],
        crs=4326,
    )
    areas = gpd.GeoDataFrame(
        {"feature_key": ["kindergarten"], "category": ["kindergarten"], "walk_m": [300.0]},
        geometry=[shapely.Point(LON, LAT).buffer(0.003)],
        crs=4326,
    )
    return {"units": units, "gaps": gaps, "communities": comm, "service_areas": areas}


def has(page: str, text: str) -> bool:
    """``text`` in the page, literally or as folium writes it in JavaScript strings (\\uXXXX escapes)."""
    import json

    return text in page or json.dumps(text)[1:-1] in page


def scripts_and_links(page: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)


def test_facilities_map_page_is_local_and_chinese(client, city):
    r = client.get("/maps/facilities")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    refs = scripts_and_links(page)
    assert refs and all(u.startswith(("/static/", "data:")) for u in refs), refs
    assert assets.external_references(page) == []
    assert "cdn" not in page.lower() and "unpkg" not in page and "jquery" not in page.lower()
    for text in (
        "社区服务设施与应急避难场所",
        "幼儿园（4）",
        "社区卫生服务站（4）",
        "紧急避难场所（1）",
        "固定避难场所（1）",
        "容纳人数",
    ):
        assert has(page, text), text
    for u in refs:
        if u.startswith("/static/"):
            assert client.get(u).status_code == 200, u


def test_maps_index_and_coverage_unavailable_without_run(client, city):
    index = client.get("/maps").text
    assert "/maps/facilities" in index and "尚无生活圈覆盖分析结果" in index
    r = client.get("/maps/coverage")
    assert r.status_code == 409 and "覆盖分析" in r.json()["message_zh"]
    r = client.get("/maps/plan")
    assert r.status_code == 409 and "社区划分方案" in r.json()["message_zh"]
    assert client.get("/maps/nope").status_code == 404


def test_coverage_map_from_stored_run(client, city, store):
    old = store.save_analysis(
        "coverage", params={}, summary={}, outputs={"units": coverage_outputs()["units"].iloc[:2]}
    )
    rid = store.save_analysis("coverage", params={}, summary={}, outputs=coverage_outputs())
    page = client.get("/maps/coverage").text
    assert has(page, f"分析运行 {rid}")
    for text in (
        "居住单元步行距离",
        "服务范围",
        "短板单元",
        "社区完整生活圈达标率",
        "幼儿园",
        "社区卫生服务站",
        "≤300 米",
    ):
        assert has(page, text), text
    assert '"kindergarten_walk_m"' in page and "geo-coverage-category" in page
    assert assets.external_references(page) == []
    assert has(client.get("/maps/coverage", params={"run": old}).text, f"分析运行 {old}")


def test_large_layers_switch_to_vector_tiles(client, city, store, monkeypatch):
    import maps.base

    monkeypatch.setattr(maps.base, "INLINE_MAX_FEATURES", 5)
    store.save_analysis("coverage", params={}, summary={}, outputs=coverage_outputs())
    page = client.get("/maps/facilities").text
    assert "/tiles/facilities/{z}/{x}/{y}.mvt" in page
    assert "/static/vendor/leaflet.vectorgrid-1.3.0/" in page
    page = client.get("/maps/coverage").text
    assert re.search(r"/tiles/analysis_\d+_units/\{z\}/\{x\}/\{y\}\.mvt", page)


def test_export_cli_writes_one_self_contained_file(city, store, tmp_path, monkeypatch):
    from geo_service.cli import app

    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    out = tmp_path / "facilities.html"
    res = CliRunner().invoke(app, ["map", "facilities", "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert [u for u in scripts_and_links(page) if not u.startswith("data:")] == []  # everything inline
    assert "L.map(" in page and "geoMaps.dataLayer" in page and has(page, "设施0")
    assert "url(data:image/png;base64," in page  # leaflet.css images embedded
    res = CliRunner().invoke(app, ["map", "coverage", "--out", str(tmp_path / "c.html")])
    assert res.exit_code == 1 and "覆盖分析" in res.output


def test_resident_page(client, city):
    page = client.get("/resident").text
    assert 'name="viewport"' in page and "width=device-width" in page
    assert "就近避难场所与服务网点" in page and "应急避难场所" in page and "幼儿园" in page
    assert all(u.startswith(("/static/", "data:")) for u in scripts_and_links(page))
    assert client.get("/static/resident/resident.js").status_code == 200
    # the categories offered are those with data (shelter first), the default among them
    cfg = _resident_config(page)
    assert [c["code"] for c in cfg["categories"]] == ["shelter", "health_station", "kindergarten", "market"]
    assert cfg["default_category"] == "health_station" and cfg["categories_url"] == "/nearest/categories"
    from geo_service.core.edits import delete_feature

    for fid in city.read_layer("facilities").query("category == 'health_station'")["id"]:
        delete_feature(city, "facilities", int(fid), actor="test")
    for fid in city.read_layer("shelters")["id"]:
        delete_feature(city, "shelters", int(fid), actor="test")
    cfg = _resident_config(client.get("/resident").text)
    assert cfg["default_category"] == "kindergarten" and cfg["has_shelters"] is False


def _resident_config(page: str) -> dict:
    import json
    import re

    found = re.search(r'<script type="application/json" id="resident-config">(.*?)</script>', page, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


@pytest.mark.parametrize(
    "env, expect",
    [
        ({"GEO_BASEMAP": "none"}, []),
        ({"GEO_BASEMAP": "osm"}, ["tile.openstreetmap.org"]),
        ({"GEO_BASEMAP": "tianditu", "TIANDITU_KEY": "abc123"}, ["vec_w", "cva_w"]),
        ({"GEO_BASEMAP": "local", "GEO_BASEMAP_URL": "http://10.0.0.5/tiles/{z}/{x}/{y}.png"}, ["10.0.0.5"]),
    ],
)
def test_basemap_settings(env, expect):
    layers, note = basemap_layers(Settings(**env))
    assert len(layers) == len(expect) and note is None
    for layer, text in zip(layers, expect):
        assert text in layer["tiles"]
    if env["GEO_BASEMAP"] == "tianditu":
        assert all("tk=abc123" in layer["tiles"] for layer in layers)


def test_tianditu_without_key_says_so(city, store):
    page = render_map("facilities", store, settings=Settings(GEO_BASEMAP="tianditu"))
    assert has(page, "未配置天地图密钥") and "tianditu.gov.cn" not in page


def test_unvendored_asset_is_refused():
    import folium

    m = folium.Map(tiles=None)
    m.default_js = list(m.default_js) + [("x", "https://example.com/x.js")]
    with pytest.raises(assets.UnvendoredAsset):
        assets.localize(m)
