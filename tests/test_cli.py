"""The geo-service command line: help everywhere, clear errors, non-zero exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app

COMMANDS = [
    [],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["import"],
    ["export"],
    ["import-osm"],
    ["sample-city"],
    ["serve"],
    ["layers"],
    ["info"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(cmd):
    res = CliRunner().invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def test_console_script_installed():
    exe = Path(sys.executable).with_name("geo-service")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "import-osm" in out.stdout


def _url(store):
    return store.url.render_as_string(hide_password=False)


def test_import_export_cycle(store, tmp_path):
    g = gpd.GeoDataFrame(
        {"source_id": ["a", "b"], "category": ["supermarket", "market"], "name": ["超市", "菜场"]},
        geometry=shapely.points([104.4, 104.41], [31.13, 31.14]),
        crs=4326,
    )
    g.to_file(tmp_path / "f.geojson")
    r = CliRunner().invoke(app, ["import", "facilities", str(tmp_path / "f.geojson"), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "新增 2" in r.output
    out = tmp_path / "out.gpkg"
    r = CliRunner().invoke(
        app,
        [
            "export",
            "facilities",
            "--format",
            "gpkg",
            "--crs",
            "EPSG:4490",
            "--out",
            str(out),
            "--database-url",
            _url(store),
        ],
    )
    assert r.exit_code == 0, r.output
    back = gpd.read_file(out)
    assert back.crs.to_epsg() == 4490 and sorted(back.source_id) == ["a", "b"]


@pytest.mark.parametrize(
    "args, text",
    [
        (["import", "nope", "x.geojson"], "未知图层"),
        (["import", "facilities", "missing.geojson"], "找不到文件"),
        (["import", "facilities", "x.txt", "--crs", "EPSG:0"], "找不到文件"),
        (["export", "facilities", "--format", "dwg"], "未知格式"),
        (["export", "facilities", "--crs", "EPSG:999999"], "坐标系"),
        (["import", "facilities", "f.geojson", "--map", "nofield"], "字段=列名"),
    ],
)
def test_errors_exit_non_zero_with_chinese_message(store, tmp_path, monkeypatch, args, text):
    monkeypatch.chdir(tmp_path)
    gpd.GeoDataFrame(
        {"source_id": ["a"], "category": ["market"]}, geometry=[shapely.Point(104.4, 31.1)], crs=4326
    ).to_file("f.geojson")
    r = CliRunner().invoke(app, [*args, "--database-url", _url(store)])
    assert r.exit_code == 1, r.output
    assert text in r.output, r.output
