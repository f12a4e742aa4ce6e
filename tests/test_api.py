"""The HTTP API over the real app: layers as GeoJSON, paging, bbox, crs, errors, health."""

from __future__ import annotations

import geopandas as gpd
import pytest
from conftest import head_revision

LON, LAT = 104.40, 31.13


def test_health_reports_backend(client, store):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["backend"] == store.backend_name
    assert body["schema_revision"] == head_revision()


def test_layer_paging_links_and_counts(client, grid):
    r = client.get("/layers/facilities", params={"limit": 12})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert (fc["numberMatched"], fc["numberReturned"]) == (30, 12)
    seen = [f["properties"]["source_id"] for f in fc["features"]]
    nxt = next(link for link in fc["links"] if link["rel"] == "next")["href"]
    while nxt:
        page = client.get(nxt).json()
        seen += [f["properties"]["source_id"] for f in page["features"]]
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == sorted(grid.source_id)


def test_bbox_filters_by_intersection(client, grid):
    # a box around the 2 x 2 lower-left points
    r = client.get("/layers/facilities", params={"bbox": f"{LON - 0.001},{LAT - 0.001},{LON + 0.0105},{LAT + 0.0105}"})
    fc = r.json()
    assert fc["numberMatched"] == 4
    assert sorted(f["properties"]["source_id"] for f in fc["features"]) == ["f00", "f01", "f06", "f07"]


def test_bbox_in_projected_crs(client, grid):
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, 4544, always_xy=True)
    x0, y0 = tr.transform(LON - 0.001, LAT - 0.001)
    x1, y1 = tr.transform(LON + 0.0105, LAT + 0.0105)
    r = client.get("/layers/facilities", params={"bbox": f"{x0},{y0},{x1},{y1}", "bbox_crs": "EPSG:4544"})
    assert r.json()["numberMatched"] == 4


def test_output_crs_4490_and_projected(client, grid):
    fc = client.get("/layers/facilities", params={"crs": "EPSG:4490", "limit": 1}).json()
    assert fc["crs"] == "EPSG:4490"
    assert fc["features"][0]["geometry"]["coordinates"] == pytest.approx([LON, LAT])
    fc = client.get("/layers/facilities", params={"crs": "EPSG:4544", "limit": 1}).json()
    x, y = fc["features"][0]["geometry"]["coordinates"]
    # CM 105E without zone prefix: easting near 500 km (west of the meridian), northing about 3,445 km
    assert 400_000 < x < 500_000 and 3_400_000 < y < 3_500_000


def test_single_feature_and_404s(client, grid):
    first = client.get("/layers/facilities", params={"limit": 1}).json()["features"][0]
    r = client.get(f"/layers/facilities/{first['id']}")
    assert r.status_code == 200 and r.json()["properties"]["name"] == first["properties"]["name"]
    r = client.get("/layers/facilities/999999")
    assert r.status_code == 404 and "999999" in r.json()["message_zh"]
    r = client.get("/layers/nope")
    assert r.status_code == 404 and "facilities" in r.json()["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "5,5,1,1"},
        {"bbox": "nan,0,1,1"},
        {"crs": "EPSG:999999"},
        {"limit": 0},
        {"limit": 10**7},
        {"offset": -1},
    ],
)
def test_bad_query_parameters_are_4xx(client, grid, params):
    r = client.get("/layers/facilities", params=params)
    assert 400 <= r.status_code < 500, r.text


def test_layer_list_and_openapi(client, grid):
    layers = {item["name"]: item for item in client.get("/layers").json()}
    assert layers["facilities"]["feature_count"] == 30
    assert "population_units" in layers and layers["network_nodes"]["importable"] is False
    spec = client.get("/openapi.json").json()
    assert "/layers/{layer}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_export_endpoint_roundtrip(client, grid, tmp_path):
    for fmt in ("geojson", "gpkg", "shp", "csv", "xlsx"):
        r = client.get("/layers/facilities/export", params={"format": fmt, "crs": "EPSG:4490"})
        assert r.status_code == 200, (fmt, r.text)
        path = tmp_path / f"out.{'zip' if fmt == 'shp' else fmt}"
        path.write_bytes(r.content)
        if fmt in ("geojson", "gpkg", "shp"):
            g = gpd.read_file(path)
            assert len(g) == 30
            if fmt != "geojson":  # GeoJSON (RFC 7946) carries no CRS member
                assert g.crs.to_epsg() == 4490
        else:
            import pandas as pd

            df = pd.read_csv(path) if fmt == "csv" else pd.read_excel(path)
            assert len(df) == 30
            if fmt == "xlsx":
                assert "设施类别" in df.columns and "建筑面积（m²）" in df.columns
