"""Buildings and residential areas: read from the OSM extracts, stored by import-osm, and served like any layer.

The layers ``buildings`` and ``residential_areas`` (issue 14) on both backends: created by the migrations, written
by ``store_osm``, imported from a file with Chinese labels, read through ``/layers``, OGC API - Features, vector
tiles and the export.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely

from geo_service.core.auth import LAYER_WRITERS
from geo_service.core.datasets import store_osm
from geo_service.core.layers import LAYERS, importable_layers
from geo_service.core.osm import BUILDING_COLUMNS, RESIDENTIAL_AREA_COLUMNS, building_use, read_osm, residential_kind
from geo_service.core.osm._buildings import _floors, _height_m
from tests.conftest import SHARED_DATA

EXTRACTS = {
    "wudaokou": "osm_beijing_wudaokou_2017.osm",
    "cau": "osm_beijing_cau_2026.osm",
    "guixi": "osm_jiangxi_guixi_2024.osm",
}

# building ways as the data README counts them (every one lies in the extract's bounds), building relations,
# building nodes skipped, residential areas by kind, buildings by use, buildings in a compound
PINNED = {
    "wudaokou": {
        "ways": 520,
        "relations": 1,
        "points_skipped": 8,
        "areas": {"compound": 3, "residential_land": 3},
        "uses": {"other": 374, "residential": 147},
        "in_compound": 45,
        "with_floors": 11,
    },
    "cau": {
        "ways": 255,
        "relations": 2,
        "points_skipped": 1,
        "areas": {"compound": 3, "residential_land": 7},
        "uses": {"other": 199, "residential": 58},
        "in_compound": 22,
        "with_floors": 6,
    },
    "guixi": {
        "ways": 165,
        "relations": 0,
        "points_skipped": 0,
        "areas": {},
        "uses": {"other": 129, "residential": 36},
        "in_compound": 0,
        "with_floors": 0,
    },
}


@pytest.fixture(scope="module")
def extracts() -> dict:
    return {name: read_osm(SHARED_DATA / file) for name, file in EXTRACTS.items()}


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_pinned_building_counts(extracts, name):
    data, pin = extracts[name], PINNED[name]
    b, a = data.buildings, data.residential_areas
    assert list(b.columns) == BUILDING_COLUMNS and list(a.columns) == RESIDENTIAL_AREA_COLUMNS
    assert b.crs.to_epsg() == 4326 and a.crs.to_epsg() == 4326
    kinds = b["source_id"].str.extract(r"^osm:(\w+)/")[0].value_counts().to_dict()
    assert kinds.get("way", 0) == pin["ways"] and kinds.get("relation", 0) == pin["relations"]
    assert set(kinds) <= {"way", "relation"}
    assert data.stats["buildings"] == len(b) == pin["ways"] + pin["relations"]
    assert data.stats["building_points_skipped"] == pin["points_skipped"]
    assert data.stats["buildings_by_use"] == pin["uses"]
    assert data.stats["residential_areas_by_kind"] == pin["areas"] and data.stats["residential_areas"] == len(a)
    assert int(b["compound_id"].notna().sum()) == pin["in_compound"]
    assert int(b["floors"].notna().sum()) == pin["with_floors"]
    assert set(b.geom_type) <= {"Polygon", "MultiPolygon"} and set(a.geom_type) <= {"Polygon", "MultiPolygon"}
    assert b["source_id"].is_unique and shapely.is_valid(b.geometry.values).all()
    # a building in a compound has its representative point inside that compound
    compounds = a.set_index("source_id").geometry
    inside = b[b["compound_id"].notna()]
    assert all(compounds[c].contains(g.representative_point()) for c, g in zip(inside.compound_id, inside.geometry))


def test_residential_areas_of_cau(extracts):
    a = extracts["cau"].residential_areas.set_index("name", drop=False)
    assert a.loc["农大小区-北区", "kind"] == "compound"  # a part of a 小区
    assert a.loc["静淑苑", "kind"] == "compound" and a.loc["双泉嘉苑", "kind"] == "compound"
    assert a.loc["富润家园", "kind"] == "residential_land" and a.loc["大华花园别墅", "kind"] == "residential_land"
    assert a["households"].isna().all() and a["residents"].isna().all()


@pytest.mark.parametrize(
    "tags,use",
    [
        ({"building": "apartments"}, "residential"),
        ({"building": "dormitory"}, "residential"),
        ({"building": "house"}, "residential"),
        ({"building": "commercial;residential"}, "mixed"),
        ({"building": "residential", "building:use": "retail"}, "mixed"),
        ({"building": "yes", "building:use": "mixed"}, "mixed"),
        ({"building": "yes", "building:use": "residential"}, "residential"),
        ({"building": "yes"}, "other"),
        ({"building": "school"}, "other"),
        ({"building": "commercial"}, "other"),
    ],
)
def test_building_use(tags, use):
    assert building_use(tags) == use


@pytest.mark.parametrize(
    "value,height",
    [("12", 12.0), ("12.5", 12.5), ("12 m", 12.0), ("12m", 12.0), ("30米", 30.0), ("40'", None), ("0", None)],
)
def test_height_in_metres(value, height):
    assert _height_m({"height": value}) == height


@pytest.mark.parametrize("value,floors", [("6", 6), ("6.0", 6), ("3;5", 3), ("0", None), ("250", None), ("x", None)])
def test_floors_from_levels(value, floors):
    assert _floors({"building:levels": value}) == floors


@pytest.mark.parametrize(
    "name,kind",
    [
        ("西王庄小区", "compound"),
        ("锦绣花园", "compound"),
        ("静淑苑", "compound"),
        ("农大小区-北区", "compound"),
        ("阳光花园（二期）", "compound"),
        ("富润家园", "residential_land"),
        ("清华东路27号院", "residential_land"),
        (None, "residential_land"),
    ],
)
def test_residential_kind(name, kind):
    assert residential_kind(name) == kind


def test_new_layers_are_declared_for_writers_and_import():
    for name in ("buildings", "residential_areas"):
        assert name in importable_layers()
        assert set(LAYER_WRITERS[name]) == {"planner", "facilities"}
        assert LAYERS[name].storage_geometry == "MULTIPOLYGON"
    assert set(LAYER_WRITERS) >= set(importable_layers())


# --------------------------------------------------------------------------
# in the store, on both backends
# --------------------------------------------------------------------------


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_import_osm_stores_buildings_served_everywhere(store, client, extracts, tmp_path):
    data = extracts["cau"]
    summary = store_osm(store, data, name="cau")
    assert summary.counts["buildings"] == store.count("buildings") == 257
    assert summary.counts["residential_areas"] == store.count("residential_areas") == 10
    assert "建筑物 257" in summary.line_zh("导入") and "住宅小区与居住用地 10" in summary.line_zh("导入")
    stored = store.read_layer("buildings").set_index("source_id")
    assert set(stored.geom_type) == {"MultiPolygon"}
    assert int(stored["compound_id"].notna().sum()) == PINNED["cau"]["in_compound"]
    store_osm(store, data, name="cau")  # again: upserted, not duplicated
    assert store.count("buildings") == 257

    fc = client.get("/layers/buildings", params={"limit": 3}).json()
    assert fc["numberMatched"] == 257 and {"floors", "height_m", "use", "compound_id"} <= set(
        fc["features"][0]["properties"]
    )
    ogc = client.get("/ogc/collections/residential_areas/items").json()
    assert ogc["numberMatched"] == 10
    assert {f["properties"]["kind"] for f in ogc["features"]} == {"compound", "residential_land"}

    one = stored.loc["osm:way/594891968"] if "osm:way/594891968" in stored.index else stored.iloc[0]
    lon, lat = one.geometry.representative_point().coords[0]
    x, y = _tile_of(lon, lat, 16)
    r = client.get(f"/tiles/buildings/16/{x}/{y}.mvt")
    assert r.status_code == 200
    assert len(mapbox_vector_tile.decode(r.content)["buildings"]["features"]) >= 1

    r = client.get("/layers/buildings/export", params={"format": "geojson"})
    assert r.status_code == 200
    path = tmp_path / "b.geojson"
    path.write_bytes(r.content)
    assert len(gpd.read_file(path)) == 257


def test_import_buildings_with_chinese_labels_and_bounds(store, client, tmp_path):
    poly = shapely.box(104.40, 31.13, 104.4003, 31.1303)
    rows = [
        {"名称": "1栋", "层数": 6, "高度（米）": None, "用途": "住宅", "套数": 24, "户数": 22, "所属小区编号": "u1"},
        {
            "名称": "2栋",
            "层数": None,
            "高度（米）": 18.5,
            "用途": "商住",
            "套数": None,
            "户数": None,
            "所属小区编号": None,
        },
        {
            "名称": "3栋",
            "层数": None,
            "高度（米）": None,
            "用途": "其他",
            "套数": None,
            "户数": None,
            "所属小区编号": None,
        },
    ]
    frame = gpd.GeoDataFrame(rows, geometry=[poly] * 3, crs=4326)
    path = tmp_path / "buildings.geojson"
    path.write_text(frame.to_json(ensure_ascii=False), encoding="utf-8")
    with path.open("rb") as fh:
        r = client.post("/layers/buildings/import", files={"file": (path.name, fh, "application/geo+json")})
    assert r.status_code == 200, r.text
    got = store.read_layer("buildings").sort_values("name")
    assert got["use"].tolist() == ["residential", "mixed", "other"]
    assert got["floors"].iloc[0] == 6 and got["height_m"].iloc[1] == pytest.approx(18.5)
    assert got["households"].iloc[0] == 22 and got["compound_id"].iloc[0] == "u1"

    areas = gpd.GeoDataFrame(
        [{"名称": "和平苑", "类型": "住宅小区", "户数": 800}, {"名称": None, "类型": "居住用地", "户数": None}],
        geometry=[poly, poly],
        crs=4326,
    )
    path = tmp_path / "areas.geojson"
    path.write_text(areas.to_json(ensure_ascii=False), encoding="utf-8")
    with path.open("rb") as fh:
        r = client.post("/layers/residential_areas/import", files={"file": (path.name, fh, "application/geo+json")})
    assert r.status_code == 200, r.text
    assert sorted(store.read_layer("residential_areas")["kind"]) == ["compound", "residential_land"]

    bad = frame.iloc[:1].assign(用途="仓库")
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(json.loads(bad.to_json(ensure_ascii=False)), ensure_ascii=False), encoding="utf-8")
    with path.open("rb") as fh:
        r = client.post("/layers/buildings/import", files={"file": (path.name, fh, "application/geo+json")})
    assert r.status_code == 422 and "用途" in r.text
