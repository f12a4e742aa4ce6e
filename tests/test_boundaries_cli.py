"""``geo-service delineate`` and ``geo-service plan ...`` on a SpatiaLite file."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from _unit_grid import unit_grid
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.settings import Settings
from geo_service.core.storage import Store


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    store = Store(url, settings=Settings(GEO_DATA_DIR=tmp_path))
    store.upgrade()
    grid = unit_grid(6, 5, np.full((5, 6), 150), river_col=2, bridge_rows=(1,))
    with store.transaction() as conn:
        for layer in ("population_units", "admin_areas", "barriers", "roads"):
            store.upsert_layer(layer, grid[layer].drop(columns=["id"], errors="ignore"), conn=conn)
    store.dispose()
    return url


def test_delineate_evaluate_adopt_export(db, tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "delineate",
            "--street",
            "510699001",
            "--households",
            "300-900",
            "--name",
            "草案",
            "--out",
            str(tmp_path / "d.gpkg"),
            "--database-url",
            db,
        ],
    )
    assert r.exit_code == 0, r.output
    assert "划分完成" in r.output and "已保存为草案" in r.output
    assert len(gpd.read_file(tmp_path / "d.gpkg")) >= 2
    r = CliRunner().invoke(app, ["plan", "evaluate", "草案", "--households", "300-900", "--database-url", db])
    assert r.exit_code == 0 and "户数达标" in r.output, r.output
    r = CliRunner().invoke(app, ["plan", "adopt", "草案", "--by", "张三", "--yes", "--database-url", db])
    assert r.exit_code == 0 and "张三" in r.output
    r = CliRunner().invoke(app, ["plan", "export", "草案", "--out", str(tmp_path / "p.zip"), "--database-url", db])
    assert r.exit_code == 0 and (tmp_path / "p.zip").exists()
    r = CliRunner().invoke(
        app,
        [
            "delineate",
            "--street",
            "510699001",
            "--from-plan",
            "草案",
            "--households",
            "300-900",
            "--no-save",
            "--database-url",
            db,
        ],
    )
    assert r.exit_code == 0 and "相对现状调整居民 0 人" in r.output, r.output


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--street", "510699001", "--households", "900-300"], "下限"),
        (["--street", "510699001", "--households", "abc"], "下限-上限"),
        (["--street", "999"], "没有人口单元"),
        (["--street", "510699001", "--out", "x.txt"], "扩展名"),
        (["--street", "510699001", "--mode", "closest"], "现状方案"),
    ],
)
def test_bad_input_exits_non_zero(db, args, needle):
    r = CliRunner().invoke(app, ["delineate", *args, "--no-save", "--database-url", db])
    assert r.exit_code == 1
    assert needle in r.output


def test_the_citys_norms_file_sets_the_default_band(db, tmp_path, monkeypatch):
    """A GEO_NORMS_FILE that changes the household band changes the default band of delineate and plan evaluate."""
    import json

    from geo_service.core.settings import get_settings

    override = tmp_path / "city_norms.json"
    override.write_text(json.dumps({"community": {"household_band": {"value": [300, 900]}}}), encoding="utf-8")
    monkeypatch.setenv("GEO_NORMS_FILE", str(override))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(
            app, ["delineate", "--street", "510699001", "--name", "按城市规范", "--database-url", db]
        )
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["plan", "evaluate", "按城市规范", "--json", "--database-url", db])
        assert r.exit_code == 0, r.output
        rows = json.loads(r.stdout)["communities"]
        assert rows and {(c["band_min"], c["band_max"]) for c in rows} == {(300, 900)}
        store = Store(db, settings=get_settings())
        plan = store.get_plan("按城市规范")
        assert store.get_plan_version(plan["id"], 1)["params"]["band"] == [300, 900]
        store.dispose()
    finally:
        get_settings.cache_clear()

    # without the file, the packaged band (1000-3000) is the default again
    monkeypatch.delenv("GEO_NORMS_FILE")
    r = CliRunner().invoke(app, ["plan", "evaluate", "按城市规范", "--json", "--database-url", db])
    rows = json.loads(r.stdout)["communities"]
    assert {(c["band_min"], c["band_max"]) for c in rows} == {(1000, 3000)}
