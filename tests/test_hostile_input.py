"""Hostile and broken input (issue 7): refused with a 4xx error in English and Chinese, nothing written.

Every case goes through :func:`geo_service.core.importer.run_import` on SpatiaLite and PostGIS and must leave
every table (features, ``layer_revisions``, the import log) exactly as it was; a selection goes through
``geo-service import`` and over HTTP.  The limits (``GEO_MAX_FEATURES``, ``GEO_MAX_VERTICES``,
``GEO_MAX_STRING_CHARS``, ``GEO_ZIP_*``, ``GEO_MAX_UPLOAD_MB``, ``GEO_PAGE_LIMIT_MAX``) are set low
through the environment where a test needs them.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from typer.testing import CliRunner

from geo_service.cli import app as cli_app
from geo_service.core import models
from geo_service.core._errors import GeoServiceError, ImportValidationError, InputError
from geo_service.core.importer import ImportOptions, import_frame, run_import
from geo_service.core.layers import LAYERS
from geo_service.core.settings import get_settings
from tests.conftest import snapshot

LON, LAT = 104.40, 31.13
TEN_MB = 10 * 1024 * 1024


# --------------------------------------------------------------------------- files
def _pt(x=LON, y=LAT):
    return {"type": "Point", "coordinates": [x, y]}


def _square(x=LON, y=LAT, d=0.0015):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


def _fac(sid, geometry=None, **props):
    return {
        "type": "Feature",
        "geometry": _pt() if geometry is None else geometry,
        "properties": {"source_id": sid, "category": "market", **props},
    }


def _unit(sid, geometry=None, **props):
    return {
        "type": "Feature",
        "geometry": _square() if geometry is None else geometry,
        "properties": {"source_id": sid, "name": "小区", "residents": 100, "households": 40, **props},
    }


def _fc(features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _with_bad_second(make, bad) -> str:
    """Three features, the second one broken: the report must name row 2."""
    return _fc([make("a"), bad, make("c", _square(LON + 0.01) if make is _unit else _pt(LON + 0.001))])


def _bad_point(token: str) -> str:
    """Three facilities, the second with ``token`` (written verbatim into the JSON) as its longitude."""
    return _with_bad_second(_fac, _fac("b", {"type": "Point", "coordinates": ["__X__", LAT]})).replace('"__X__"', token)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _shapefile_parts(tmp: Path) -> dict[str, bytes]:
    g = gpd.GeoDataFrame({"source_id": ["s1"], "category": ["market"]}, geometry=[shapely.Point(LON, LAT)], crs=4326)
    d = tmp / "shp_parts"
    d.mkdir(exist_ok=True)
    g.to_file(d / "f.shp", encoding="UTF-8")
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _bomb(path: Path, name="bomb.shp", mb=11) -> Path:
    """A small archive whose one member expands to ``mb`` MB of zeros (about 1000-fold)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open(name, "w") as fh:
        block = bytes(1024 * 1024)
        for _ in range(mb):
            fh.write(block)
    return path


def _symlink_zip(path: Path) -> Path:
    info = zipfile.ZipInfo("f.shp")
    info.create_system = 3  # Unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    return path


def _deep_json(depth=100_000) -> str:
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"source_id":"a","category":"market"},'
        '"geometry":{"type":"Point","coordinates":' + "[" * depth + "]" * depth + "}}]}"
    )


def _write(tmp: Path, name: str, content) -> Path:
    p = tmp / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


# name -> (layer, make(tmp) -> path, expected error type, text in the message or in a problem, bad row or None)
CASES = {
    # non-finite coordinates: literal tokens (GDAL and Python read them) and numbers beyond a double
    "nan_token": (
        "facilities",
        lambda t: _write(t, "nan.geojson", _bad_point("NaN")),
        ImportValidationError,
        "NaN or infinite",
        2,
    ),
    "infinity_token": (
        "facilities",
        lambda t: _write(t, "inf.geojson", _bad_point("Infinity")),
        ImportValidationError,
        "NaN or infinite",
        2,
    ),
    "minus_infinity_token": (
        "facilities",
        lambda t: _write(t, "minf.geojson", _bad_point("-Infinity")),
        ImportValidationError,
        "NaN or infinite",
        2,
    ),
    "number_1e400": (
        "facilities",
        lambda t: _write(t, "big.geojson", _bad_point("1e400")),
        ImportValidationError,
        "NaN or infinite",
        2,
    ),
    "integer_of_400_digits": (
        "facilities",
        lambda t: _write(t, "bigint.geojson", _bad_point("9" * 400)),
        ImportValidationError,
        "NaN or infinite",
        2,
    ),
    # geometry
    "self_intersecting_polygon": (
        "population_units",
        lambda t: _write(
            t,
            "bowtie.geojson",
            _with_bad_second(
                _unit,
                _unit(
                    "b",
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[LON, LAT], [LON + 0.001, LAT + 0.001], [LON + 0.001, LAT], [LON, LAT + 0.001], [LON, LAT]]
                        ],
                    },
                ),
            ),
        ),
        ImportValidationError,
        "Self-intersection",
        2,
    ),
    "polygon_one_level_too_shallow": (
        "population_units",
        lambda t: _write(
            t,
            "shallow.geojson",
            _with_bad_second(_unit, _unit("b", {"type": "Polygon", "coordinates": _square()["coordinates"][0]})),
        ),
        ImportValidationError,
        "nesting of Polygon",
        2,
    ),
    "polygon_one_level_too_deep": (
        "population_units",
        lambda t: _write(
            t,
            "deep.geojson",
            _with_bad_second(_unit, _unit("b", {"type": "Polygon", "coordinates": [_square()["coordinates"]]})),
        ),
        ImportValidationError,
        "nesting of Polygon",
        2,
    ),
    "point_with_nested_arrays": (
        "facilities",
        lambda t: _write(
            t, "nested_pt.geojson", _with_bad_second(_fac, _fac("b", {"type": "Point", "coordinates": [[LON, LAT]]}))
        ),
        ImportValidationError,
        "nesting of Point",
        2,
    ),
    "point_with_one_number": (
        "facilities",
        lambda t: _write(
            t, "short_pt.geojson", _with_bad_second(_fac, _fac("b", {"type": "Point", "coordinates": [LON]}))
        ),
        ImportValidationError,
        "nesting of Point",
        2,
    ),
    "coordinates_are_strings": (
        "facilities",
        lambda t: _write(
            t, "str_pt.geojson", _with_bad_second(_fac, _fac("b", {"type": "Point", "coordinates": ["104.4", "31.13"]}))
        ),
        ImportValidationError,
        "must be numbers",
        2,
    ),
    "ring_of_two_positions": (
        "population_units",
        lambda t: _write(
            t,
            "ring2.geojson",
            _with_bad_second(_unit, _unit("b", {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.001, LAT]]]})),
        ),
        ImportValidationError,
        "at least 4",
        2,
    ),
    "geometry_is_a_string": (
        "facilities",
        lambda t: _write(t, "wkt.geojson", _with_bad_second(_fac, _fac("b", "POINT (104.4 31.13)"))),
        ImportValidationError,
        "must be a JSON object",
        2,
    ),
    "unknown_geometry_type": (
        "facilities",
        lambda t: _write(
            t, "blob.geojson", _with_bad_second(_fac, _fac("b", {"type": "Circle", "coordinates": [LON, LAT]}))
        ),
        ImportValidationError,
        "unknown geometry type",
        2,
    ),
    "wrong_geometry_type_for_layer": (
        "facilities",
        lambda t: _write(
            t,
            "line.geojson",
            _with_bad_second(_fac, _fac("b", {"type": "LineString", "coordinates": [[LON, LAT], [LON + 0.001, LAT]]})),
        ),
        ImportValidationError,
        "not allowed",
        2,
    ),
    # properties
    "text_where_a_number_is_required": (
        "population_units",
        lambda t: _write(t, "text_num.geojson", _with_bad_second(_unit, _unit("b", residents="很多"))),
        ImportValidationError,
        "not a number",
        2,
    ),
    "object_as_property_value": (
        "facilities",
        lambda t: _write(t, "obj.geojson", _with_bad_second(_fac, _fac("b", name={"zh": "菜场"}))),
        ImportValidationError,
        "JSON object",
        2,
    ),
    "array_as_number_value": (
        "facilities",
        lambda t: _write(t, "arr.geojson", _with_bad_second(_fac, _fac("b", floor_area_m2=[100, 200]))),
        ImportValidationError,
        "JSON array",
        2,
    ),
    "array_as_text_value": (
        "facilities",
        lambda t: _write(t, "arr_text.geojson", _with_bad_second(_fac, _fac("b", name=["a", "b"]))),
        ImportValidationError,
        "JSON array",
        2,
    ),
    "properties_not_an_object": (
        "facilities",
        lambda t: _write(
            t, "props.geojson", _with_bad_second(_fac, {"type": "Feature", "geometry": _pt(), "properties": [1, 2]})
        ),
        ImportValidationError,
        "properties must be a JSON object",
        2,
    ),
    "feature_not_an_object": (
        "facilities",
        lambda t: _write(t, "feat.geojson", _with_bad_second(_fac, 42)),
        ImportValidationError,
        "not a JSON object",
        2,
    ),
    "ten_mb_string": (
        "facilities",
        lambda t: _write(t, "long.geojson", _with_bad_second(_fac, _fac("b", name="x" * TEN_MB))),
        ImportValidationError,
        "characters long",
        2,
    ),
    "ten_mb_string_gdal_reads": (
        "facilities",
        lambda t: _write(t, "long2.geojson", _with_bad_second(_fac, _fac("b", name="x" * 5_000_000))),
        ImportValidationError,
        "characters long",
        2,
    ),
    # files that are not GeoJSON at all
    "not_json": ("facilities", lambda t: _write(t, "hello.geojson", "hello, world"), InputError, "not JSON", None),
    "truncated_json": (
        "facilities",
        lambda t: _write(t, "cut.geojson", _fc([_fac("a"), _fac("b")])[:70]),
        InputError,
        "not valid JSON",
        None,
    ),
    "json_array_instead_of_object": (
        "facilities",
        lambda t: _write(t, "array.geojson", json.dumps([_fac("a")])),
        InputError,
        "JSON array",
        None,
    ),
    "features_not_a_list": (
        "facilities",
        lambda t: _write(t, "feats.geojson", json.dumps({"type": "FeatureCollection", "features": {"a": _fac("a")}})),
        InputError,
        "must be a list",
        None,
    ),
    "json_of_another_kind": (
        "facilities",
        lambda t: _write(t, "other.geojson", json.dumps({"type": "Topology", "objects": {}})),
        InputError,
        "not GeoJSON",
        None,
    ),
    "deeply_nested_arrays": ("facilities", lambda t: _write(t, "deep_arr.geojson", _deep_json()), InputError, "", None),
    "empty_file": ("facilities", lambda t: _write(t, "empty.geojson", b""), InputError, "empty", None),
    "only_white_space": ("facilities", lambda t: _write(t, "blank.geojson", "  \n\t\n"), InputError, "empty", None),
    "binary_garbage_as_geojson": (
        "facilities",
        lambda t: _write(t, "garbage.geojson", np.random.default_rng(7).bytes(4096)),
        InputError,
        "binary",
        None,
    ),
    "binary_garbage_as_gpkg": (
        "facilities",
        lambda t: _write(t, "garbage.gpkg", np.random.default_rng(8).bytes(4096)),
        InputError,
        "cannot read",
        None,
    ),
    "binary_garbage_as_csv": (
        "facilities",
        lambda t: _write(t, "garbage.csv", np.random.default_rng(9).bytes(4096)),
        InputError,
        "",
        None,
    ),
    "csv_with_10_mb_cell": (
        "facilities",
        lambda t: _write(
            t,
            "long.csv",
            f"source_id,category,name,lon,lat\na,market,ok,{LON},{LAT}\nb,market,{'x' * TEN_MB},{LON},{LAT}\n",
        ),
        ImportValidationError,
        "characters long",
        3,  # the spreadsheet row: the header is row 1 (issue 14)
    ),
    # archives
    "zip_bomb": ("facilities", lambda t: _bomb(t / "bomb.zip"), InputError, "zip bomb", None),
    "xlsx_bomb": (
        "facilities",
        lambda t: _bomb(t / "bomb.xlsx", "xl/worksheets/sheet1.xml"),
        InputError,
        "zip bomb",
        None,
    ),
    "zip_member_climbing_out": (
        "facilities",
        lambda t: _zip(t / "slip.zip", {"../../evil.shp": b"x"}),
        InputError,
        "outside the upload folder",
        None,
    ),
    "zip_member_backslashes": (
        "facilities",
        lambda t: _zip(t / "slip2.zip", {"..\\..\\evil.shp": b"x"}),
        InputError,
        "outside the upload folder",
        None,
    ),
    "zip_member_absolute_path": (
        "facilities",
        lambda t: _zip(t / "abs.zip", {"/tmp/x.shp": b"x"}),
        InputError,
        "outside the upload folder",
        None,
    ),
    "zip_member_drive_letter": (
        "facilities",
        lambda t: _zip(t / "drive.zip", {"C:/x.shp": b"x"}),
        InputError,
        "outside the upload folder",
        None,
    ),
    "zip_symlink_member": ("facilities", lambda t: _symlink_zip(t / "link.zip"), InputError, "symbolic link", None),
    "nested_zip": (
        "facilities",
        lambda t: _zip(t / "outer.zip", {"inner.zip": _zip(t / "inner.zip", _shapefile_parts(t)).read_bytes()}),
        InputError,
        "nested archives",
        None,
    ),
    "zip_that_is_not_a_zip": (
        "facilities",
        lambda t: _write(t, "fake.zip", "PK but not really"),
        InputError,
        "not a valid zip",
        None,
    ),
    "zip_without_shapefile": (
        "facilities",
        lambda t: _zip(t / "readme.zip", {"readme.txt": b"hi"}),
        InputError,
        "no .shp",
        None,
    ),
}


# ------------------------------------------------------------------------- helpers
@pytest.fixture
def limits(monkeypatch):
    """Set limits through the environment, as an administrator would (GEO_MAX_FEATURES=..., ...)."""

    def set_limits(**env):
        for k, v in env.items():
            monkeypatch.setenv(k, str(v))
        get_settings.cache_clear()

    yield set_limits
    get_settings.cache_clear()


def _seed(store):
    """Some features already present, so that 'unchanged' means more than 'empty'."""
    units = gpd.GeoDataFrame(
        {"source_id": ["a", "b"], "name": ["甲", "乙"], "residents": [10, 20], "households": [4, 8]},
        geometry=[
            shapely.box(LON, LAT, LON + 0.001, LAT + 0.001),
            shapely.box(LON + 0.01, LAT, LON + 0.011, LAT + 0.001),
        ],
        crs=4326,
    )
    facs = gpd.GeoDataFrame(
        {"source_id": ["a", "b"], "category": ["market", "nursery"]},
        geometry=[shapely.Point(LON, LAT), shapely.Point(LON + 0.001, LAT)],
        crs=4326,
    )
    import_frame(store, LAYERS["population_units"], units, ImportOptions(), source_name="seed")
    import_frame(store, LAYERS["facilities"], facs, ImportOptions(), source_name="seed")


def _state(store, full: bool = True):
    """Row counts of the layers and of the import log, the layer revisions, and (``full``) every row of every table."""
    with store.read() as conn:
        logged = conn.execute(sa.select(sa.func.count()).select_from(models.imports)).scalar_one()
    light = {name: store.count(name) for name in ("facilities", "population_units")}, logged, store.layer_revisions()
    return (*light, snapshot(store)) if full else light


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _refused(store, call, error=GeoServiceError, text="", row=None, full=True) -> GeoServiceError:
    """``call()`` raises a 4xx ``error`` with an English and a Chinese message; nothing is written
    (``full=False``: layer counts, import log and revisions compared, not every table)."""
    before = _state(store, full)
    with pytest.raises(GeoServiceError) as info:
        call()
    exc = info.value
    assert isinstance(exc, error), (type(exc), exc.message)
    assert 400 <= exc.http_status < 500
    assert exc.message and exc.message_zh and _has_chinese(exc.message_zh), exc.to_dict()
    assert len(exc.message) < 2000 and len(exc.message_zh) < 2000  # never the hostile payload itself
    found = [exc.message]
    if isinstance(exc, ImportValidationError):
        problems = exc.report.problems
        assert all(p.problem_zh and _has_chinese(p.problem_zh) for p in problems)
        assert all(len(p.problem) < 500 and len(p.value or "") <= 200 for p in problems)
        if row is not None:
            problems = [p for p in problems if p.row == row]
            assert problems, exc.report.to_dict()
        found = [p.problem for p in problems]
        json.dumps(exc.to_dict(), ensure_ascii=False)  # the API answer can be made of it
    assert any(text.lower() in f.lower() for f in found), (text, found)
    assert _state(store, full) == before
    return exc


# ---------------------------------------------------------------------------- tests
def _each(cases, check) -> None:
    """Run ``check(case)`` for every case; fail once at the end, naming every case that failed."""
    failed = []
    for case in cases:
        try:
            check(case)
        except AssertionError as exc:
            failed.append(f"{case}: {str(exc)[:600]}")
    assert not failed, "\n".join(failed)


def _case_file(tmp_path, case):
    """The file of ``case`` in a folder of its own; returns (layer, path, error, text, row)."""
    layer, make, error, text, row = CASES[case]
    d = tmp_path / case
    d.mkdir()
    return layer, make(d), error, text, row


def test_run_import_refuses_every_case_and_writes_nothing(store, tmp_path):
    """All cases on one store (per backend): each refused with a 4xx and both messages, nothing written
    (layer counts, revisions and import log after each case, every row of every table at the end)."""
    _seed(store)
    before = snapshot(store)

    def check(case):
        layer, path, error, text, row = _case_file(tmp_path, case)
        _refused(store, lambda: run_import(store, layer, path), error, text, row, full=False)

    _each(sorted(CASES), check)
    assert snapshot(store) == before


CLI_CASES = [
    "number_1e400",
    "polygon_one_level_too_shallow",
    "ten_mb_string",
    "truncated_json",
    "zip_bomb",
    "zip_member_climbing_out",
]


def test_cli_import_refuses_with_chinese_message(store, tmp_path):
    _seed(store)
    url = store.url.render_as_string(hide_password=False)

    def check(case):
        layer, path, error, _text, row = _case_file(tmp_path, case)
        before = _state(store, full=False)
        res = CliRunner().invoke(cli_app, ["import", layer, str(path), "--database-url", url])
        assert res.exit_code == 1, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert ("错误：" if error is InputError else "未写入任何数据") in res.output, res.output
        if row:  # the CLI cases are GeoJSON: rows are features, named as such (issue 14)
            assert f"第 {row} 个要素" in res.output, res.output
        assert len(res.output) < 20_000
        assert _state(store, full=False) == before

    before_all = snapshot(store)
    _each(CLI_CASES, check)
    assert snapshot(store) == before_all


def test_bowtie_is_imported_when_repair_is_asked(store, tmp_path):
    _, make, *_ = CASES["self_intersecting_polygon"]
    res = run_import(store, "population_units", make(tmp_path), ImportOptions(repair=True))
    assert res.inserted == 3
    assert store.read_layer("population_units").geometry.is_valid.all()


def test_three_dimensional_coordinates_are_stored_flat(store, tmp_path):
    """Heights are dropped instead of failing in the database (a 500 on PostGIS before)."""
    path = _write(tmp_path, "z.geojson", _fc([_fac("z", {"type": "Point", "coordinates": [LON, LAT, 500.0]})]))
    assert run_import(store, "facilities", path).inserted == 1
    g = store.read_layer("facilities").geometry.iloc[0]
    assert not g.has_z and (g.x, g.y) == (LON, LAT)


def test_file_name_with_control_characters_is_logged_safely(store, tmp_path):
    """The name of an upload is the client's: a NUL in it made PostgreSQL refuse the import log (a 500)."""
    path = _write(tmp_path, "good.geojson", _fc([_fac("n1")]))
    assert run_import(store, "facilities", path, source_name="a\x00b\n" + "长" * 400 + ".geojson").inserted == 1
    with store.read() as conn:
        logged = conn.execute(sa.select(models.imports.c.source_name)).scalar_one()
    assert logged.startswith("a?b?长") and len(logged) == 255


def test_limits_are_settings(store, tmp_path, limits, monkeypatch):
    """GEO_MAX_FEATURES, GEO_MAX_VERTICES, GEO_MAX_STRING_CHARS, GEO_ZIP_MAX_UNCOMPRESSED_MB and GEO_ZIP_MAX_MEMBERS:
    refused above the limit, imported once it is raised."""
    _seed(store)
    fac = LAYERS["facilities"]

    # features per import: GeoJSON, CSV, GeoPackage and a frame handed to import_frame
    limits(GEO_MAX_FEATURES=3)
    geojson = _write(tmp_path, "many.geojson", _fc([_fac(f"f{i}", _pt(LON + i * 0.001)) for i in range(5)]))
    _refused(store, lambda: run_import(store, "facilities", geojson), InputError, "GEO_MAX_FEATURES")
    csv = _write(
        tmp_path, "many.csv", "source_id,category,lon,lat\n" + "".join(f"f{i},market,{LON},{LAT}\n" for i in range(5))
    )
    _refused(store, lambda: run_import(store, "facilities", csv), InputError, "GEO_MAX_FEATURES")
    frame = gpd.read_file(geojson)
    frame.to_file(tmp_path / "many.gpkg")
    _refused(store, lambda: run_import(store, "facilities", tmp_path / "many.gpkg"), InputError, "GEO_MAX_FEATURES")
    _refused(store, lambda: import_frame(store, fac, frame, ImportOptions()), InputError, "GEO_MAX_FEATURES")
    limits(GEO_MAX_FEATURES=5)
    assert run_import(store, "facilities", geojson).inserted == 5

    # vertices per geometry: the row is named; --skip-invalid imports the others
    limits(GEO_MAX_VERTICES=100)
    ring = shapely.Point(LON, LAT).buffer(0.001, quad_segs=125).exterior.coords  # 501 vertices
    detailed = _write(
        tmp_path,
        "detailed.geojson",
        _with_bad_second(_unit, _unit("b", {"type": "Polygon", "coordinates": [[list(c) for c in ring]]})),
    )
    _refused(
        store, lambda: run_import(store, "population_units", detailed), ImportValidationError, "GEO_MAX_VERTICES", 2
    )
    res = run_import(store, "population_units", detailed, ImportOptions(skip_invalid=True))
    assert (res.inserted, res.updated, res.skipped) == (1, 1, 1)  # 'a' and 'b' were there before
    limits(GEO_MAX_VERTICES=1000)
    assert run_import(store, "population_units", detailed).updated == 3

    # text per value
    names = _write(tmp_path, "names.geojson", _with_bad_second(_fac, _fac("b", name="名" * 200)))
    limits(GEO_MAX_STRING_CHARS=100)
    exc = _refused(
        store, lambda: run_import(store, "facilities", names), ImportValidationError, "GEO_MAX_STRING_CHARS", 2
    )
    assert [p.column for p in exc.report.problems] == ["name"]  # one problem, not also 'empty'
    limits(GEO_MAX_STRING_CHARS=200)
    assert run_import(store, "facilities", names).report.ok

    # archives: total uncompressed size and number of members
    parts = _shapefile_parts(tmp_path)
    parts["notes.txt"] = os.urandom(1536 * 1024)  # 1.5 MB that does not compress
    archive = _zip(tmp_path / "f.zip", parts)
    for name, low in (("GEO_ZIP_MAX_UNCOMPRESSED_MB", 1), ("GEO_ZIP_MAX_MEMBERS", 3)):
        limits(**{name: low})
        _refused(store, lambda: run_import(store, "facilities", archive), InputError, name)
        monkeypatch.delenv(name)
        get_settings.cache_clear()
    assert run_import(store, "facilities", archive).inserted == 1


def test_import_frame_refuses_objects_and_long_text(store):
    """Frames that never were a file (e.g. built by other code) get the same checks."""
    _seed(store)
    frame = gpd.GeoDataFrame(
        {
            "source_id": ["x1", "x2", "x3", "x4", "x5"],
            "category": ["market", "market", {"a": 1}, "market", "market"],
            "name": ["ok", "x" * 20_000, "ok", "ok", "a\x00b"],
            "capacity": [1, 2, 3, np.array([4, 5]), 5],
        },
        geometry=shapely.points(np.full(5, LON), np.full(5, LAT)),
        crs=4326,
    )
    exc = _refused(
        store, lambda: import_frame(store, LAYERS["facilities"], frame, ImportOptions()), ImportValidationError
    )
    assert sorted((p.row, p.column) for p in exc.report.problems) == [
        (2, "name"),
        (3, "category"),
        (4, "capacity"),
        (5, "name"),
    ]
    assert "NUL" in next(p.problem for p in exc.report.problems if p.row == 5)  # PostgreSQL cannot store it


def test_shapefile_layer_option_cannot_point_outside(store, tmp_path):
    _seed(store)
    path = _zip(tmp_path / "f.zip", _shapefile_parts(tmp_path))
    opts = ImportOptions(file_layer="../../../etc/passwd.shp")
    _refused(store, lambda: run_import(store, "facilities", path, opts), InputError, "holds no shapefile")


def test_zip_bomb_ratio_is_a_setting(tmp_path, limits):
    from geo_service.core.io import check_zip

    path = _bomb(tmp_path / "b.zip")
    with pytest.raises(InputError, match="zip bomb"):
        check_zip(path)
    limits(GEO_ZIP_MAX_RATIO=5000)
    assert check_zip(path) == ["bomb.shp"]


def test_macos_resource_forks_in_a_zip_are_not_shapefiles(tmp_path):
    from geo_service.core.io import read_file

    parts = _shapefile_parts(tmp_path)
    members = {f"f/{k}": v for k, v in parts.items()} | {f"__MACOSX/f/._{k}": b"\x00\x05\x16\x07" for k in parts}
    assert list(read_file(_zip(tmp_path / "mac.zip", members))["source_id"]) == ["s1"]


def test_strict_reader_keeps_good_features_and_crs(tmp_path):
    """The Python reading used for broken GeoJSON reads the good features like GDAL, with the declared CRS."""
    from geo_service.core.io import read_file

    x, y = 500_000.0, 3_445_000.0
    data = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4544"}},
        "features": [
            {
                "type": "Feature",
                "id": "k1",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {"category": "market", "n": 3},
            },
            {
                "type": "Feature",
                "id": "k2",
                "geometry": {"type": "Point", "coordinates": [[x, y]]},
                "properties": {"category": "market", "n": 4},
            },
        ],
    }
    path = _write(tmp_path, "gk.geojson", json.dumps(data))
    frame = read_file(path)
    assert frame.crs.to_epsg() == 4544
    assert list(frame["id"]) == ["k1", "k2"] and list(frame["n"]) == [3, 4]
    assert frame.geometry.iloc[0].equals(shapely.Point(x, y)) and frame.geometry.iloc[1] is None
    assert [(r, c) for r, c, *_ in frame.attrs["read_problems"]] == [(2, "geometry")]


def test_gdal_skipping_entries_is_caught(store, tmp_path):
    """GDAL drops entries of 'features' that are no Feature object without a word; the strict reading keeps
    every entry as a row, so no feature is lost and row numbers stay those of the file."""
    from geo_service.core.io import read_file

    untyped = {k: v for k, v in _fac("e").items() if k != "type"}  # no "type": "Feature", still a feature
    path = _write(
        tmp_path, "skip.geojson", _fc([_fac("a"), None, {"type": "Topology"}, _fac("d", _pt(LON + 0.001)), untyped])
    )
    assert len(gpd.read_file(path)) == 2
    frame = read_file(path)
    assert list(frame["source_id"].iloc[[0, 3, 4]]) == ["a", "d", "e"]
    assert [r for r, *_ in frame.attrs["read_problems"]] == [2, 3]
    exc = _refused(store, lambda: run_import(store, "facilities", path), ImportValidationError)
    assert [(p.row, p.column) for p in exc.report.problems] == [(2, None), (3, None)]  # not also 'empty source id'
    res = run_import(store, "facilities", path, ImportOptions(skip_invalid=True))
    assert (res.inserted, res.skipped) == (3, 2)


# ----------------------------------------------------------------------------- HTTP
def _http(store):
    from fastapi.testclient import TestClient

    from geo_service.app import create_app
    from tests._auth import token_headers

    return TestClient(create_app(store), headers=token_headers(store, "admin"))


def _post(client, layer, path: Path):
    with path.open("rb") as fh:
        return client.post(f"/layers/{layer}/import", files={"file": (path.name, fh, "application/octet-stream")})


HTTP_CASES = {
    "zip_member_climbing_out": "上传目录之外",
    "zip_bomb": "压缩炸弹",
    "zip_symlink_member": "符号链接",
    "nan_token": "未写入任何数据",
    "number_1e400": "未写入任何数据",
    "polygon_one_level_too_deep": "未写入任何数据",
    "binary_garbage_as_geojson": "二进制",
    "truncated_json": "不是有效的 JSON",
}


def test_http_refuses_with_422_and_both_messages(store, tmp_path, limits):
    _seed(store)
    with _http(store) as client:

        def check(case):
            layer, path, _error, _text, row = _case_file(tmp_path, case)
            before = _state(store, full=False)
            r = _post(client, layer, path)
            assert r.status_code == 422, r.text
            body = r.json()
            assert body["message"] and HTTP_CASES[case] in body["message_zh"], body
            if row:
                assert [p for p in body["report"]["problems"] if p["row"] == row and p["problem_zh"]], body
            assert str(tmp_path) not in r.text
            assert _state(store, full=False) == before

        before_all = snapshot(store)
        _each(HTTP_CASES, check)
        assert snapshot(store) == before_all

        # a good file under a hostile name: imported, the name logged printable and short
        path = _write(tmp_path, "good.geojson", _fc([_fac("n1")]))
        with path.open("rb") as fh:
            r = client.post(
                "/layers/facilities/import",
                files={"file": ("a\x00b" + "é" * 300 + ".geojson", fh, "application/geo+json")},
            )
        assert r.status_code == 200, r.text
        with store.read() as conn:
            logged = conn.execute(sa.select(models.imports.c.source_name).order_by(models.imports.c.id.desc())).first()[
                0
            ]
        assert logged.startswith("a") and len(logged) == 255

        # page size
        limits(GEO_PAGE_LIMIT_MAX=50)
        r = client.get("/layers/facilities", params={"limit": 51})
        assert r.status_code == 422 and "50" in r.json()["message_zh"]
        assert client.get("/layers/facilities", params={"limit": 50}).status_code == 200


def test_http_upload_over_the_size_limit_is_413(store, tmp_path, limits):
    limits(GEO_MAX_UPLOAD_MB=1)
    store.settings = store.settings.model_copy(update={"max_upload_mb": 1})
    _seed(store)
    path = _write(tmp_path, "big.geojson", _fc([_fac("a", name="x" * (1536 * 1024))]))
    with _http(store) as client:
        before = _state(store)
        r = _post(client, "facilities", path)
        assert r.status_code == 413, r.text
        assert r.json()["message_zh"] and "MB" in r.json()["message"]
        assert _state(store) == before
