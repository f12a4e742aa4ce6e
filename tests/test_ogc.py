"""OGC API - Features (Part 1 Core + Part 2 CRS) over the real app, on SpatiaLite and PostGIS."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo_service.api.ogc import CONFORMANCE, CRS84, EPSG_URI

LON, LAT = 104.40, 31.13
E4326, E4490 = EPSG_URI.format(4326), EPSG_URI.format(4490)


@pytest.fixture
def coverage_run(store, grid):
    units = gpd.GeoDataFrame(
        {
            "feature_key": ["u1", "u2", "u3"],
            "residents": [100, 200, 300],
            "kindergarten_walk_m": [120.0, None, 800.0],
            "kindergarten_covered": [True, False, False],
            "complete_15min": [True, False, False],
        },
        geometry=[
            shapely.box(LON, LAT, LON + 0.005, LAT + 0.005),
            shapely.box(LON + 0.02, LAT, LON + 0.025, LAT + 0.005),
            shapely.box(LON + 0.04, LAT, LON + 0.045, LAT + 0.005),
        ],
        crs=4326,
    )
    gaps = units.iloc[1:].copy()
    gaps["missing_categories"] = [["kindergarten"], ["kindergarten"]]
    first = store.save_analysis(
        "coverage", params={"v": 1}, summary={}, outputs={"units": units.iloc[:1], "gaps": gaps}
    )
    second = store.save_analysis("coverage", params={"v": 2}, summary={}, outputs={"units": units, "gaps": gaps})
    return first, second


def test_landing_conformance_and_openapi30(client):
    body = client.get("/ogc").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    conf = client.get(rels["conformance"]).json()
    assert conf["conformsTo"] == CONFORMANCE
    api = client.get(rels["service-desc"])
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = api.json()
    assert doc["openapi"].startswith("3.0")
    assert "/ogc/collections/{collection_id}/items" in doc["paths"]
    assert '"type": "null"' not in api.text.replace('"type":"null"', '"type": "null"')


def test_collections_list_layers_and_analysis_runs(client, coverage_run):
    first, second = coverage_run
    cols = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    assert {"population_units", "facilities", "shelters", "communities", "network_edges"} <= set(cols)
    assert {"coverage_units", "coverage_gaps", f"analysis_{first}_units", f"analysis_{second}_gaps"} <= set(cols)
    fac = cols["facilities"]
    assert fac["title"] == "社区服务设施"
    assert fac["crs"][:3] == [CRS84, E4326, E4490] and fac["storageCrs"] == CRS84
    assert any(link["rel"] == "items" for link in fac["links"])
    # the alias follows the newest run
    assert client.get("/ogc/collections/coverage_units/items").json()["numberMatched"] == 3
    assert client.get(f"/ogc/collections/analysis_{first}_units/items").json()["numberMatched"] == 1
    assert client.get("/ogc/collections/coverage_nothing").status_code == 404
    assert client.get("/ogc/collections/analysis_999_units").status_code == 404


def test_items_paging_counts_and_links(client, grid):
    r = client.get("/ogc/collections/facilities/items", params={"limit": 12})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["content-crs"] == f"<{CRS84}>"
    fc = r.json()
    assert (fc["numberMatched"], fc["numberReturned"]) == (30, 12)
    seen = [f["properties"]["source_id"] for f in fc["features"]]
    pages = 1
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    while nxt:
        page = client.get(nxt).json()
        pages += 1
        seen += [f["properties"]["source_id"] for f in page["features"]]
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert pages == 3 and seen == sorted(grid.source_id)
    # limit above the maximum is capped, not an error
    assert client.get("/ogc/collections/facilities/items", params={"limit": 10**9}).json()["numberReturned"] == 30


def test_single_item_and_404(client, grid):
    fc = client.get("/ogc/collections/facilities/items", params={"limit": 1}).json()
    fid = fc["features"][0]["id"]
    feat = client.get(f"/ogc/collections/facilities/items/{fid}").json()
    assert feat["type"] == "Feature" and feat["id"] == fid
    assert feat["geometry"]["coordinates"] == pytest.approx([LON, LAT])
    assert {link["rel"] for link in feat["links"]} == {"self", "collection"}
    r = client.get("/ogc/collections/facilities/items/99999")
    assert r.status_code == 404 and r.json()["message_zh"]
    assert client.get("/ogc/collections/facilities/items/abc").status_code == 404


def test_output_crs_axis_order(client, grid):
    """CRS84 is lon, lat; the EPSG:4326 and EPSG:4490 URIs are lat, lon (their definition's axis order)."""
    params = {"limit": 1}
    crs84 = client.get("/ogc/collections/facilities/items", params=params).json()
    assert crs84["features"][0]["geometry"]["coordinates"] == pytest.approx([LON, LAT])
    for uri in (E4326, E4490, "EPSG:4490", "[EPSG:4326]"):
        r = client.get("/ogc/collections/facilities/items", params={**params, "crs": uri})
        assert r.status_code == 200, r.text
        assert r.headers["content-crs"] in (f"<{E4326}>", f"<{E4490}>")
        assert r.json()["features"][0]["geometry"]["coordinates"] == pytest.approx([LAT, LON])
    # Web Mercator: x east, y north
    x, y = client.get("/ogc/collections/facilities/items", params={**params, "crs": EPSG_URI.format(3857)}).json()[
        "features"
    ][0]["geometry"]["coordinates"]
    assert x == pytest.approx(11_621_754.8, abs=1) and y == pytest.approx(3_649_643.7, abs=1)
    one = client.get(
        "/ogc/collections/facilities/items/" + str(crs84["features"][0]["id"]), params={"crs": E4326}
    ).json()
    assert one["geometry"]["coordinates"] == pytest.approx([LAT, LON])


def test_bbox_and_bbox_crs_axis_order(client, grid):
    # the 2 x 2 lower-left points, as lon/lat (CRS84, the default) ...
    box84 = f"{LON - 0.001},{LAT - 0.001},{LON + 0.0105},{LAT + 0.0105}"
    want = ["f00", "f01", "f06", "f07"]
    fc = client.get("/ogc/collections/facilities/items", params={"bbox": box84}).json()
    assert fc["numberMatched"] == 4 and sorted(f["properties"]["source_id"] for f in fc["features"]) == want
    # ... and as lat/lon in EPSG:4326 and EPSG:4490
    box_latlon = f"{LAT - 0.001},{LON - 0.001},{LAT + 0.0105},{LON + 0.0105}"
    for uri in (E4326, E4490):
        fc = client.get("/ogc/collections/facilities/items", params={"bbox": box_latlon, "bbox-crs": uri}).json()
        assert sorted(f["properties"]["source_id"] for f in fc["features"]) == want, uri
    # the lon/lat box read as lat/lon selects nothing here
    assert (
        client.get("/ogc/collections/facilities/items", params={"bbox": box84, "bbox-crs": E4326}).json()[
            "numberMatched"
        ]
        == 0
    )
    # 6-number (3D) bbox
    box3d = f"{LON - 0.001},{LAT - 0.001},0,{LON + 0.0105},{LAT + 0.0105},100"
    assert client.get("/ogc/collections/facilities/items", params={"bbox": box3d}).json()["numberMatched"] == 4


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "104,32,105,31"},
        {"crs": "EPSG:9999999"},
        {"bbox-crs": "EPSG:2000", "bbox": "1,2,3,4"},
        {"limit": "0"},
        {"limit": "x"},
        {"offset": "-1"},
        {"foo": "bar"},
        {"f": "html"},
    ],
)
def test_invalid_parameters_are_400(client, grid, params):
    r = client.get("/ogc/collections/facilities/items", params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["message"] and body["message_zh"]


def test_analysis_items_properties_and_plan_filter(client, coverage_run, store):
    fc = client.get("/ogc/collections/coverage_gaps/items").json()
    assert fc["numberMatched"] == 2
    props = fc["features"][0]["properties"]
    assert props["missing_categories"] == ["kindergarten"] and props["residents"] == 200
    fc = client.get(
        "/ogc/collections/coverage_units/items", params={"bbox": f"{LON + 0.019},{LAT},{LON + 0.03},{LAT + 0.01}"}
    ).json()
    assert [f["properties"]["feature_key"] for f in fc["features"]] == ["u2"]
    assert fc["features"][0]["properties"]["kindergarten_walk_m"] is None
    fid = fc["features"][0]["id"]
    assert client.get(f"/ogc/collections/coverage_units/items/{fid}").json()["properties"]["feature_key"] == "u2"
    # a feature of another output is not in this collection
    gap_id = client.get("/ogc/collections/coverage_gaps/items").json()["features"][0]["id"]
    assert client.get(f"/ogc/collections/coverage_units/items/{gap_id}").status_code == 404
    assert client.get("/ogc/collections/communities/items", params={"plan": "no such plan"}).status_code == 404
