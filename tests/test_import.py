"""Import validation through the CLI and the HTTP endpoint, on SpatiaLite and PostGIS.

Each bad file has exactly one broken row among good ones: the import must
name that row and leave the database exactly as it was.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app as cli_app
from geo_service.core import crs as crs_mod
from tests.conftest import snapshot

LON, LAT = 104.40, 31.13


def _units(n=4, **overrides):
    """n square units around central Deyang, as a GeoJSON-able dict of columns."""
    polys = [shapely.box(LON + i * 0.002, LAT, LON + i * 0.002 + 0.0015, LAT + 0.0015) for i in range(n)]
    data = {
        "source_id": [f"u{i}" for i in range(n)],
        "name": [f"小区{i}" for i in range(n)],
        "residents": [300 + i for i in range(n)],
        "households": [120 + i for i in range(n)],
    }
    data.update(overrides)
    if "residents_60plus" not in data:  # a fifth of the residents at most: age groups never exceed residents
        data["residents_60plus"] = [max(0, min(60, int(r) // 5)) for r in data["residents"]]
    return gpd.GeoDataFrame(data, geometry=polys, crs=4326)


def _facilities(n=4):
    pts = [shapely.Point(LON + i * 0.001, LAT + 0.001) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "source_id": [f"f{i}" for i in range(n)],
            "name": [f"设施{i}" for i in range(n)],
            "category": ["kindergarten"] * n,
            "floor_area_m2": [2500.0] * n,
        },
        geometry=pts,
        crs=4326,
    )


def _geojson(gdf, path: Path) -> Path:
    gdf.to_file(path, driver="GeoJSON")
    return path


def _raw_geojson(features, path: Path) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _feature(sid, geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": {"source_id": sid, **props}}


def _square(x, y, d=0.0015):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


GOOD_UNIT = dict(name="好", residents=100, households=40)


def bad_files(tmp: Path) -> dict[str, tuple[Path, str, int, str]]:
    """name -> (file, layer, bad row number, expected text in the problem)."""
    out = {}
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[LON, LAT], [LON + 0.001, LAT + 0.001], [LON + 0.001, LAT], [LON, LAT + 0.001], [LON, LAT]]],
    }
    feats = [
        _feature("a", _square(LON, LAT), **GOOD_UNIT),
        _feature("b", bowtie, **GOOD_UNIT),
        _feature("c", _square(LON + 0.01, LAT), **GOOD_UNIT),
    ]
    out["invalid_geometry"] = (_raw_geojson(feats, tmp / "bowtie.geojson"), "population_units", 2, "Self-intersection")
    feats = [
        _feature("a", _square(LON, LAT), **GOOD_UNIT),
        _feature("b", _square(LON + 0.01, LAT), **GOOD_UNIT),
        _feature("c", {"type": "Point", "coordinates": [LON, LAT]}, **GOOD_UNIT),
    ]
    out["wrong_geometry_type"] = (_raw_geojson(feats, tmp / "point_unit.geojson"), "population_units", 3, "Point")
    g = _units(3).drop(columns=["households"])
    out["missing_column"] = (_geojson(g, tmp / "nohh.geojson"), "population_units", 0, "households")
    out["negative_count"] = (
        _geojson(_units(3, residents=[10, -5, 20]), tmp / "neg.geojson"),
        "population_units",
        2,
        ">= 0",
    )
    out["non_numeric_count"] = (
        _geojson(_units(3, households=["12", "多", "30"]), tmp / "nan.geojson"),
        "population_units",
        2,
        "not a number",
    )
    f = _facilities(3)
    f.loc[1, "category"] = "casino"
    out["unknown_category"] = (_geojson(f, tmp / "cat.geojson"), "facilities", 2, "kindergarten")
    feats = [
        _feature("a", {"type": "Point", "coordinates": [LON, LAT]}, category="nursery"),
        _feature("b", {"type": "Point", "coordinates": [LON, 291.13]}, category="nursery"),
    ]
    out["out_of_range"] = (_raw_geojson(feats, tmp / "range.geojson"), "facilities", 2, "outside")
    feats = [
        _feature("a", {"type": "Point", "coordinates": [LON, LAT]}, category="nursery"),
        _feature("b", {"type": "Point", "coordinates": [LAT, LON]}, category="nursery"),
    ]
    out["swapped_lonlat"] = (_raw_geojson(feats, tmp / "swap.geojson"), "facilities", 2, "swapped")
    out["duplicate_source_id"] = (
        _geojson(_units(3, source_id=["a", "b", "a"]), tmp / "dup.geojson"),
        "population_units",
        3,
        "duplicate",
    )
    return out


CASES = [
    "invalid_geometry",
    "wrong_geometry_type",
    "missing_column",
    "negative_count",
    "non_numeric_count",
    "unknown_category",
    "out_of_range",
    "swapped_lonlat",
    "duplicate_source_id",
]


def _seed(store, tmp_path):
    """Some data already present, so 'unchanged' means more than 'empty'."""
    from geo_service.core.importer import run_import

    run_import(store, "population_units", _geojson(_units(2, source_id=["a", "b"]), tmp_path / "seed_u.geojson"))
    run_import(store, "facilities", _geojson(_facilities(2), tmp_path / "seed_f.geojson"))


@pytest.mark.parametrize("case", CASES)
def test_cli_rejects_bad_row_and_writes_nothing(store, tmp_path, case):
    _seed(store, tmp_path)
    before = snapshot(store)
    path, layer, row, text = bad_files(tmp_path)[case]
    res = CliRunner().invoke(
        cli_app, ["import", layer, str(path), "--database-url", store.url.render_as_string(hide_password=False)]
    )
    assert res.exit_code == 1, res.output
    assert "未写入任何数据" in res.output
    if row:  # GeoJSON: rows are features, numbered from 1 and named as such (issue 14)
        assert f"第 {row} 个要素" in res.output
    assert snapshot(store) == before


@pytest.mark.parametrize("case", CASES)
def test_http_rejects_bad_row_with_report(client, store, tmp_path, case):
    _seed(store, tmp_path)
    before = snapshot(store)
    path, layer, row, text = bad_files(tmp_path)[case]
    with path.open("rb") as fh:
        r = client.post(f"/layers/{layer}/import", files={"file": (path.name, fh, "application/geo+json")})
    assert r.status_code == 422, r.text
    body = r.json()
    problems = body["report"]["problems"]
    assert [p["row"] for p in problems if p["row"] == row], problems
    assert any(text.lower() in (p["problem"] + p.get("value", "")).lower() for p in problems), problems
    assert all(p["problem_zh"] for p in problems)
    assert snapshot(store) == before


def test_skip_invalid_imports_the_rest(store, tmp_path):
    path, layer, row, _ = bad_files(tmp_path)["negative_count"]
    from geo_service.core.importer import ImportOptions, run_import

    res = run_import(store, layer, path, ImportOptions(skip_invalid=True))
    assert (res.inserted, res.skipped) == (2, 1)
    assert res.report.bad_rows == [2]
    assert sorted(store.read_layer(layer)["source_id"]) == ["u0", "u2"]


def test_repair_fixes_bowtie_when_asked(store, tmp_path):
    from geo_service.core.importer import ImportOptions, run_import

    path, layer, row, _ = bad_files(tmp_path)["invalid_geometry"]
    res = run_import(store, layer, path, ImportOptions(repair=True))
    assert res.inserted == 3
    g = store.read_layer(layer)
    assert g.geometry.is_valid.all()
    assert g.loc[g.source_id == "b"].geometry.iloc[0].geom_type == "MultiPolygon"


def test_reimport_updates_never_duplicates(store, tmp_path):
    from geo_service.core.importer import run_import

    first = run_import(store, "population_units", _geojson(_units(3), tmp_path / "a.geojson"))
    assert (first.inserted, first.updated) == (3, 0)
    changed = _units(4, residents=[1, 2, 3, 4])
    second = run_import(store, "population_units", _geojson(changed, tmp_path / "b.geojson"))
    assert (second.inserted, second.updated) == (1, 3)
    g = store.read_layer("population_units").sort_values("source_id")
    assert list(g.residents) == [1, 2, 3, 4]
    assert len(g) == 4
    assert store.layer_revisions()["population_units"] == 2


def test_csv_xlsx_with_chinese_headers_and_gcj02(store, tmp_path):
    """A facility list geocoded on Amap (GCJ-02) with Chinese column names."""
    from geo_service.core.importer import ImportOptions, run_import

    wgs = np.array([[104.3981, 31.1302], [104.4105, 31.1240]])
    glon, glat = crs_mod.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    df = pd.DataFrame(
        {
            "编号": ["k1", "k2"],
            "名称": ["旌阳幼儿园", "城南幼儿园"],
            "设施类别": ["幼儿园", "kindergarten"],
            "经度": glon,
            "纬度": glat,
            "建筑面积": [2400, 2600],
        }
    )
    df.to_csv(tmp_path / "k.csv", index=False, encoding="gb18030")
    res = run_import(store, "facilities", tmp_path / "k.csv", ImportOptions(source_crs="gcj02"))
    assert res.inserted == 2
    g = store.read_layer("facilities").sort_values("source_id")
    assert list(g.category) == ["kindergarten", "kindergarten"]
    err = shapely.distance(shapely.points(wgs), np.asarray(g.geometry.values)) * 111_000
    assert err.max() < 0.5
    df.to_excel(tmp_path / "k.xlsx", index=False)
    res = run_import(store, "facilities", tmp_path / "k.xlsx", ImportOptions(source_crs="GCJ-02"))
    assert (res.inserted, res.updated) == (0, 2)


def test_gauss_kruger_shapefile_zip_and_gpkg(store, tmp_path):
    """CGCS2000 3-degree GK zone 35 (EPSG:4523, with zone prefix) Shapefile in a zip, and a GeoPackage in EPSG:4490."""
    from geo_service.core.importer import run_import

    units = _units(3)
    gk = units.to_crs(4523)
    gk.to_file(tmp_path / "units.shp", encoding="UTF-8")
    with zipfile.ZipFile(tmp_path / "units.zip", "w") as zf:
        for p in tmp_path.glob("units.*"):
            if p.suffix != ".zip":
                zf.write(p, p.name)
    res = run_import(store, "population_units", tmp_path / "units.zip")
    assert res.inserted == 3 and "4523" in res.source_crs
    g = store.read_layer("population_units").sort_values("source_id")
    assert np.allclose(g.geometry.centroid.x, units.geometry.centroid.x, atol=1e-7)
    units.set_crs(4490, allow_override=True).to_file(tmp_path / "u.gpkg", layer="units", driver="GPKG")
    res = run_import(store, "population_units", tmp_path / "u.gpkg")
    assert res.updated == 3


def test_declared_crs_overrides_and_unknown_crs_rejected(store, tmp_path):
    from geo_service.core._errors import CRSError
    from geo_service.core.importer import ImportOptions, run_import

    path = _geojson(_units(2), tmp_path / "u.geojson")
    before = snapshot(store)
    with pytest.raises(CRSError):
        run_import(store, "population_units", path, ImportOptions(source_crs="EPSG:999999"))
    assert snapshot(store) == before


def test_zip_slip_rejected(client, store, tmp_path):
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../etc/evil.shp", b"x")
    before = snapshot(store)
    with bad.open("rb") as fh:
        r = client.post("/layers/facilities/import", files={"file": ("evil.zip", fh, "application/zip")})
    assert r.status_code == 422 and "上传目录之外" in r.json()["message_zh"]
    assert snapshot(store) == before


def test_unknown_layer_and_plan_required(client, tmp_path):
    path = _geojson(_units(1), tmp_path / "u.geojson")
    with path.open("rb") as fh:
        r = client.post("/layers/nope/import", files={"file": ("u.geojson", fh)})
    assert r.status_code == 404 and "population_units" in r.json()["message"]
    with path.open("rb") as fh:
        r = client.post("/layers/communities/import", files={"file": ("u.geojson", fh)})
    assert r.status_code == 422 and "--plan" in r.json()["message"]


def test_communities_import_into_named_plan(client, store, tmp_path):
    g = _units(2).rename(columns={"residents": "residents"})
    g["code"] = ["510603001001", "510603001002"]
    g["name"] = ["旌东社区", "旌西社区"]
    g["has_fixed_office"] = ["是", "否"]
    path = _geojson(g, tmp_path / "c.geojson")
    with path.open("rb") as fh:
        r = client.post("/layers/communities/import", files={"file": ("c.geojson", fh)}, data={"plan": "2025现状"})
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2
    plan = store.get_plan("2025现状")
    got = store.read_layer("communities", plan_id=plan["id"]).sort_values("code")
    assert list(got.has_fixed_office.astype(bool)) == [True, False]


BROKEN_FILES = {
    "nan.geojson": '{"type":"FeatureCollection","features":'
    '[{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,31]},'
    '"properties":{"source_id":"a","category":"market"}}]}',
    "empty.geojson": "",
    "notjson.geojson": "hello",
    "nofeatures.geojson": '{"type":"FeatureCollection","features":[]}',
    "nullgeom.geojson": '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,'
    '"properties":{"source_id":"a","category":"market"}}]}',
    "textlon.csv": "source_id,category,lon,lat\na,market,abc,31\n",
    "infinite.csv": "source_id,category,lon,lat\na,market,inf,31\n",
    "unknown.dwg": "AC1032",
}


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_files_are_422_with_a_message_and_write_nothing(client, store, tmp_path, name):
    _seed(store, tmp_path)
    before = snapshot(store)
    path = tmp_path / name
    path.write_text(BROKEN_FILES[name], encoding="utf-8")
    with path.open("rb") as fh:
        r = client.post("/layers/facilities/import", files={"file": (name, fh)})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["message_zh"] and str(tmp_path) not in r.text
    assert snapshot(store) == before


def test_http_column_map_crs_and_report_cap(client, store, tmp_path):
    """Column mapping and a declared Gauss-Kruger CRS through the endpoint; a file with thousands of bad rows
    answers with a capped list and the true total."""
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 4544, always_xy=True).transform([LON, LON + 0.01], [LAT, LAT])
    csv = tmp_path / "gk.csv"
    csv.write_text(
        f"编号,类型,X,Y\nk1,kindergarten,{x[0]:f},{y[0]:f}\nk2,nursery,{x[1]:f},{y[1]:f}\n", encoding="utf-8"
    )
    with csv.open("rb") as fh:
        r = client.post(
            "/layers/facilities/import",
            files={"file": ("gk.csv", fh)},
            data={"crs": "EPSG:4544", "column_map": ["category=类型"], "lon": "X", "lat": "Y"},
        )
    assert r.status_code == 200, r.text
    g = store.read_layer("facilities").sort_values("source_id")
    assert np.allclose(g.geometry.x, [LON, LON + 0.01], atol=1e-7) and np.allclose(g.geometry.y, LAT, atol=1e-7)

    n = 3000
    bad = pd.DataFrame({"source_id": [f"b{i}" for i in range(n)], "category": ["casino"] * n, "lon": LON, "lat": LAT})
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with (tmp_path / "bad.csv").open("rb") as fh:
        r = client.post("/layers/facilities/import", files={"file": ("bad.csv", fh)})
    rep = r.json()["report"]
    assert r.status_code == 422 and rep["bad_rows"] == n and rep["problems_total"] == n and len(rep["problems"]) == 1000


def test_code_patterns_and_blank_values():
    from geo_service.core.importer import ImportOptions, validate
    from geo_service.core.layers import LAYERS

    sq = [shapely.box(LON, LAT, LON + 0.001, LAT + 0.001)] * 4
    parcels = gpd.GeoDataFrame(
        {"source_id": ["p1", "p2", "p3", "p4"], "land_use_code": ["0702", "07021", "  ", 80403.0]},
        geometry=sq,
        crs=4326,
    )
    frame, report = validate(parcels, LAYERS["plan_parcels"], ImportOptions())
    by_row = {p.row: p.problem for p in report.problems}
    assert set(by_row) == {2, 3}
    assert "format" in by_row[2] and "empty" in by_row[3]
    assert frame.loc[3, "land_use_code"] == "080403"  # 080403 read from a spreadsheet as the number 80403
