"""SpatiaLite loading across Pythons: stdlib sqlite3, the pysqlite3 fallback, and a clear message otherwise."""

from __future__ import annotations

import sqlite3
import sys

import geopandas as gpd
import pytest
import shapely

from geo_service.core import _db
from geo_service.core._errors import SpatialiteUnavailable
from geo_service.core.settings import Settings
from geo_service.core.storage import Store


class _NoExtensions:
    """Stands in for a sqlite3.Connection class built without loadable extensions (pyenv's default)."""


def test_falls_back_to_pysqlite3_when_stdlib_cannot_load_extensions(monkeypatch):
    monkeypatch.setattr(sqlite3, "Connection", _NoExtensions)
    module = _db.sqlite_module()
    assert module.__name__ == "pysqlite3.dbapi2"


def test_says_what_to_install_when_nothing_can_load_extensions(monkeypatch):
    monkeypatch.setattr(sqlite3, "Connection", _NoExtensions)
    monkeypatch.setitem(sys.modules, "pysqlite3.dbapi2", None)  # import fails
    with pytest.raises(SpatialiteUnavailable) as err:
        _db.sqlite_module()
    assert "libsqlite3-mod-spatialite" in err.value.message and "pysqlite3-binary" in err.value.message
    assert "pysqlite3-binary" in err.value.message_zh


def test_store_works_through_pysqlite3(monkeypatch, tmp_path):
    import pysqlite3.dbapi2 as pysqlite3

    monkeypatch.setattr(_db, "sqlite_module", lambda: pysqlite3)
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp_path))
    assert store.engine.dialect.dbapi is pysqlite3
    store.upgrade()
    g = gpd.GeoDataFrame({"source_id": ["a"], "category": ["market"]}, geometry=[shapely.Point(104.4, 31.1)], crs=4326)
    store.upsert_layer("facilities", g)
    assert store.count("facilities", bbox=(104.3, 31.0, 104.5, 31.2)) == 1
    assert store.health()["backend"] == "spatialite"
    store.dispose()


def test_missing_spatialite_module_is_a_clear_error(tmp_path):
    store = Store(
        f"sqlite:///{tmp_path / 'x.sqlite'}",
        settings=Settings(GEO_DATA_DIR=tmp_path, SPATIALITE_LIBRARY_PATH="/nonexistent/mod_spatialite"),
    )
    with pytest.raises(SpatialiteUnavailable) as err:
        store.upgrade()
    assert "apt-get install libsqlite3-mod-spatialite" in err.value.message
