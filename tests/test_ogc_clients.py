"""Real OGC clients against the running service (uvicorn on loopback) with the sample city, on both backends:
GDAL's OAPIF driver (Debian ``gdal-bin``: ogrinfo/ogr2ogr) and OWSLib's ``Features``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from geo_service.app import create_app
from geo_service.core import models
from geo_service.core.datasets import load_sample_city
from geo_service.core.settings import Settings
from geo_service.core.storage import Store
from maps.coverage import example_outputs
from maps.server import serve_in_background

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin (ogrinfo) not installed")


def _empty(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in models.metadata.sorted_tables)
    with store.transaction() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="module", params=["spatialite", "postgis"])
def city_server(request, tmp_path_factory):
    """The sample city and one coverage run, served on a free loopback port; \
yields (base_url, store, expected counts)."""
    tmp = tmp_path_factory.mktemp("ogc_clients")
    if request.param == "spatialite":
        store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
        store.upgrade()
    else:
        url = request.getfixturevalue("postgis_url")
        store = Store(url, settings=Settings(GEO_DATA_DIR=tmp))
        _empty(store)
    load_sample_city(store)
    outputs = example_outputs(
        store.read_layer("population_units"), store.read_layer("facilities"), store.read_layer("communities")
    )
    run_id = store.save_analysis("coverage", params={"example": True}, summary={}, outputs=outputs)
    expected = {name: store.count(name) for name in models.LAYER_TABLES}
    for name, frame in outputs.items():
        expected[f"coverage_{name}"] = expected[f"analysis_{run_id}_{name}"] = len(frame)
    with serve_in_background(create_app(store)) as base:
        yield base, store, expected
    if request.param == "postgis":
        _empty(store)
    store.dispose()


def _gdal(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF"}
    return subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=300)


def test_gdal_ogrinfo_reads_every_collection_with_right_counts(city_server):
    base, _store, expected = city_server
    r = _gdal("ogrinfo", "-ro", "-so", "-al", f"OAPIF:{base}/ogc")
    assert r.returncode == 0, r.stderr
    counts, layer = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("Layer name: "):
            layer = line.split(": ", 1)[1].strip()
        elif line.startswith("Feature Count: "):
            counts[layer] = int(line.split(": ", 1)[1])
    assert counts == expected
    assert counts["population_units"] == 2043


def test_gdal_ogr2ogr_pages_through_features(city_server, tmp_path):
    base, store, expected = city_server
    for name in ("population_units", "coverage_gaps", "shelters"):
        out = tmp_path / f"{name}.geojson"
        r = _gdal("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", name, "-oo", "PAGE_SIZE=500")
        assert r.returncode == 0, r.stderr
        fc = json.loads(out.read_text(encoding="utf-8"))
        assert len(fc["features"]) == expected[name], name
    # attribute values and coordinates survive the round trip
    units = json.loads((tmp_path / "population_units.geojson").read_text(encoding="utf-8"))["features"]
    src = store.read_layer("population_units", limit=1).iloc[0]
    first = next(f for f in units if f["properties"]["source_id"] == src["source_id"])
    assert first["properties"]["residents"] == src["residents"] and first["properties"]["name"] == src["name"]
    x0, y0 = first["geometry"]["coordinates"][0][0][0]
    assert (x0, y0) == pytest.approx(src.geometry.geoms[0].exterior.coords[0], abs=1e-6)


def test_gdal_bbox_filter(city_server):
    base, store, _expected = city_server
    box = (104.39, 31.12, 104.41, 31.14)
    r = _gdal("ogrinfo", "-ro", "-so", "-spat", *map(str, box), f"OAPIF:{base}/ogc", "facilities")
    assert r.returncode == 0, r.stderr
    count = int(next(line for line in r.stdout.splitlines() if line.startswith("Feature Count")).split(": ")[1])
    assert count == store.count("facilities", bbox=box)


def test_owslib_features_pages_through_a_large_collection(city_server):
    from owslib.ogcapi.features import Features

    base, store, expected = city_server
    api = Features(f"{base}/ogc")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert set(expected) <= ids
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    seen, offset, pages = [], 0, 0
    while True:
        page = api.collection_items("population_units", limit=500, offset=offset)
        assert page["numberMatched"] == 2043
        seen += [f["id"] for f in page["features"]]
        pages += 1
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 500
    assert pages == 5 and len(seen) == len(set(seen)) == 2043
    # Part 2: the same feature in EPSG:4490 comes latitude first
    one = api.collection_items("facilities", limit=1, crs="http://www.opengis.net/def/crs/EPSG/0/4490")["features"][0]
    src = store.get_feature("facilities", one["id"]).geometry.iloc[0]
    src_xy = src.coords[0] if src.geom_type == "Point" else src.exterior.coords[0]
    got = one["geometry"]["coordinates"]
    got_xy = got if one["geometry"]["type"] == "Point" else got[0][0]
    assert got_xy == pytest.approx([src_xy[1], src_xy[0]], abs=1e-6)


def test_collection_extents_are_in_crs84(city_server):
    import httpx

    base, store, _expected = city_server
    doc = httpx.get(f"{base}/ogc/collections/population_units").json()
    minx, miny, maxx, maxy = doc["extent"]["spatial"]["bbox"][0]
    b = store.read_layer("population_units").total_bounds
    assert minx <= b[0] + 1e-4 and miny <= b[1] + 1e-4 and maxx >= b[2] - 1e-4 and maxy >= b[3] - 1e-4
    assert maxx - minx < 0.2 and 100 < minx < 110 and 30 < miny < 32
