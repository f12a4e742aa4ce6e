"""Art. 15 in the audit: shelters lying in a hazard zone are flagged (summary, XLSX, map).

The sample city carries a fault line (200 m avoidance band from the norms), the river's flood extent and two
landslide points (100 m).  The count is checked against zones built here independently with geopandas buffers.
"""

from __future__ import annotations

import io
import json

import geopandas as gpd
import openpyxl
import pytest
from fastapi.testclient import TestClient

from facilities.audit_service import current_audit, run_tables
from geo_service.app import create_app
from tests.conftest import sample_city_store


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("audit_hazards"))
    run = current_audit(store)
    yield store, run
    store.dispose()


def _expected_in_zones(store, shel: gpd.GeoDataFrame | None = None) -> set[str]:
    norms = store.norms
    hz = store.read_layer("hazards").to_crs(4544)
    radius = {
        "fault_zone": norms.entry("hazards.fault_zone_default_radius_m").value,
        "geohazard": norms.entry("hazards.geohazard_default_radius_m").value,
    }
    zones = [
        g if (g.geom_type.endswith("Polygon") and r is None) else g.buffer(r if r is not None else radius.get(k, 100))
        for g, k, r in zip(hz.geometry, hz["kind"], hz["radius_m"].astype(object).where(hz["radius_m"].notna(), None))
    ]
    zone = gpd.GeoSeries(zones, crs=4544).union_all()
    shel = (store.read_layer("shelters") if shel is None else shel).to_crs(4544)
    return set(shel.loc[shel.intersects(zone), "source_id"].astype(str))


def test_shelters_in_hazard_zones_are_flagged(city):
    store, run = city
    shel = run_tables(store, run["id"])["shelters"]  # the sites as the audit placed them
    layer = store.read_layer("shelters").set_index("id")
    expected = _expected_in_zones(
        store, shel.assign(source_id=layer.loc[shel["shelter_id"].astype(int), "source_id"].values)
    )
    assert expected, "the sample city's fault band should cross some shelter"
    assert run["summary"]["shelters_in_hazard_zones"] == len(expected)
    flagged = shel[shel["in_hazard"].astype(bool)]
    ids = set(layer.loc[flagged["shelter_id"].astype(int), "source_id"])
    assert ids == expected
    assert flagged["hazard_zh"].str.contains("活动断裂带|洪涝|地质灾害").all()
    assert any("位于灾害风险区" in w for w in run["summary"]["warnings"])
    zones = run_tables(store, run["id"])["hazard_zones"]
    assert len(zones) == len(store.read_layer("hazards"))


def test_hazards_in_the_workbook_and_on_the_map(city):
    store, _run = city
    with TestClient(create_app(store)) as client:
        xlsx = client.get("/audit/report.xlsx")
        page = client.get("/maps/audit")
    assert xlsx.status_code == 200, xlsx.text[:300]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert "灾害风险区" in book.sheetnames
    headers = [c.value for c in next(book["避难场所"].iter_rows(max_row=1))]
    assert "所在灾害风险区" in headers and "位于灾害风险区" in headers
    zone_headers = [c.value for c in next(book["灾害风险区"].iter_rows(max_row=1))]
    assert "灾害类型" in zone_headers and "风险等级" in zone_headers
    assert page.status_code == 200
    escaped = json.dumps("位于灾害风险区的避难场所")[1:-1]  # the layer names go into the page's script as JSON
    assert "_hazard_zones" in page.text and escaped in page.text


def test_a_new_hazard_recomputes_the_audit(city):
    store, run = city
    before = run["summary"]["shelters_in_hazard_zones"]
    shel = store.read_layer("shelters")
    free = shel[~shel["source_id"].isin(_expected_in_zones(store))].iloc[:1]
    hazard = gpd.GeoDataFrame(
        {"source_id": ["test:flood"], "name": ["测试淹没区"], "kind": ["flood"], "level": ["high"], "radius_m": [50.0]},
        geometry=free.geometry.representative_point().values,
        crs=4326,
    )
    store.upsert_layer("hazards", hazard)  # the last test of the module: the store keeps it
    again = current_audit(store)
    assert again["id"] != run["id"]  # hazards are an input of the audit run
    assert again["summary"]["shelters_in_hazard_zones"] == before + 1


def test_audit_for_wheelchair_users(spatialite_template, tmp_path):
    """The audit with the wheelchair profile: step-free routes only, so no more residents are placed than on foot."""
    from facilities.audit import AuditParams

    store = sample_city_store(spatialite_template, tmp_path)
    try:
        standard = current_audit(store)["summary"]
        wheel = current_audit(store, params=AuditParams.from_input(None, 1.0, "wheelchair"))["summary"]
        assert standard["walking_profile"] == "standard" and wheel["walking_profile"] == "wheelchair"
        assert wheel["emergency"]["placed"] <= standard["emergency"]["placed"]
        assert wheel["emergency"]["placed"] != standard["emergency"]["placed"]  # the sample city has steps
        with TestClient(create_app(store)) as client:
            bad = client.get("/audit/summary", params={"profile": "skates"})
            ok = client.get("/audit/summary", params={"profile": "轮椅"})
        assert bad.status_code == 422 and "出行方式" in bad.json()["message_zh"]
        assert ok.status_code == 200, ok.text  # the stored wheelchair run, asked for by its Chinese name
        assert ok.json()["summary"]["walking_profile"] == "wheelchair"
    finally:
        store.dispose()


def test_facilities_staff_upload_hazards(store):
    """The new layers are written by facilities staff and planners; without a token nothing is written."""
    import geopandas as gpd
    import shapely
    from _auth import token_headers

    frame = gpd.GeoDataFrame(
        {"source_id": ["h1"], "name": ["滑坡点"], "kind": ["geohazard"], "level": ["high"], "radius_m": [80.0]},
        geometry=[shapely.Point(104.40, 31.12)],
        crs=4326,
    )
    body = frame.to_json().encode("utf-8")
    with TestClient(create_app(store)) as client:
        for role, expected in (("facilities", 200), ("planner", 200), (None, 401)):
            r = client.post(
                "/layers/hazards/import",
                files={"file": ("hazards.geojson", body, "application/geo+json")},
                headers=token_headers(store, role) if role else {},
            )
            assert r.status_code == expected, (role, r.text[:300])
    assert store.count("hazards") == 1
