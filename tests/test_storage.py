"""Storage on both backends: schema, spatial indexes, transactions, round trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo_service.core import models
from geo_service.core._errors import ConflictError
from geo_service.core.layers import LAYERS
from tests.conftest import head_revision, snapshot


def test_schema_is_at_head_with_a_spatial_index_on_every_geometry(store):
    assert store.current_revision() == head_revision()
    with store.read() as conn:
        if store.dialect == "sqlite":
            rows = conn.exec_driver_sql("SELECT f_table_name, spatial_index_enabled FROM geometry_columns").all()
            indexed = {t for t, flag in rows if flag == 1}
        else:
            rows = conn.exec_driver_sql(
                "SELECT c.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = ic.relam JOIN pg_class c ON c.oid = i.indrelid WHERE am.amname = 'gist'"
            ).all()
            indexed = {r[0] for r in rows}
    geometry_tables = {t.name for t in models.metadata.tables.values() if "geom" in t.c}
    assert geometry_tables >= set(LAYERS) | {"analysis_features"}
    assert indexed == geometry_tables


def test_roundtrip_keeps_geometry_and_attributes(store):
    poly = shapely.Polygon([(104.4, 31.1), (104.41, 31.1), (104.41, 31.11), (104.4, 31.11)])
    g = gpd.GeoDataFrame(
        {
            "source_id": ["s1", "s2"],
            "name": ["甲", "乙"],
            "shelter_class": ["emergency", "fixed"],
            "effective_area_m2": [2500.5, None],
            "capacity_persons": [1667, 5000],
        },
        geometry=[poly, shapely.Point(104.405, 31.105)],
        crs=4326,
    )
    res = store.upsert_layer("shelters", g)
    assert (res.inserted, res.updated) == (2, 0)
    got = store.read_layer("shelters").sort_values("source_id").reset_index(drop=True)
    assert list(got["name"]) == ["甲", "乙"]
    assert got.loc[0, "effective_area_m2"] == pytest.approx(2500.5)
    assert got.loc[1, "effective_area_m2"] is None or np.isnan(got.loc[1, "effective_area_m2"])
    assert shapely.equals(got.geometry[0], poly) and got.geometry[1].equals(shapely.Point(104.405, 31.105))
    assert got.crs.to_epsg() == 4326
    assert got["created_at"].notna().all() and got["updated_at"].notna().all()


def test_polygons_promoted_to_multipolygon(store):
    g = gpd.GeoDataFrame(
        {"source_id": ["a"], "residents": [1], "households": [1]},
        geometry=[shapely.box(104.4, 31.1, 104.401, 31.101)],
        crs=4326,
    )
    store.upsert_layer("population_units", g)
    assert store.read_layer("population_units").geometry.iloc[0].geom_type == "MultiPolygon"


def test_failed_write_rolls_back_everything(store):
    """A write that fails half way (a NOT NULL violation in the second batch) leaves the database as it was."""
    from geo_service.core import storage

    store.upsert_layer(
        "facilities",
        gpd.GeoDataFrame(
            {"source_id": ["keep"], "category": ["nursery"]}, geometry=[shapely.Point(104.4, 31.1)], crs=4326
        ),
    )
    before = snapshot(store)
    n = storage.BATCH_ROWS + 10
    cats = np.array(["nursery"] * n, dtype=object)
    cats[-1] = None  # the database refuses this row, after a full batch was already sent
    g = gpd.GeoDataFrame(
        {"source_id": [f"x{i}" for i in range(n)], "category": cats},
        geometry=shapely.points(np.full(n, 104.4), np.linspace(31.1, 31.2, n)),
        crs=4326,
    )
    with pytest.raises(ConflictError):
        store.upsert_layer("facilities", g)
    assert snapshot(store) == before


def test_bbox_uses_exact_intersection(store):
    # an L-shaped polygon whose envelope covers the query box but whose area does not
    ell = shapely.Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 10), (0, 10)])
    ell = shapely.affinity.translate(shapely.affinity.scale(ell, 0.001, 0.001, origin=(0, 0)), 104.4, 31.1)
    g = gpd.GeoDataFrame(
        {"source_id": ["L"], "level": ["county"], "code": ["510699"], "name": ["L"]}, geometry=[ell], crs=4326
    )
    store.upsert_layer("admin_areas", g)
    assert store.count("admin_areas", bbox=(104.405, 31.105, 104.406, 31.106)) == 0
    assert store.count("admin_areas", bbox=(104.4005, 31.105, 104.4006, 31.106)) == 1


def test_network_write_replaces_by_name(store):
    nodes = gpd.GeoDataFrame(
        {"node_idx": [0, 1, 2], "osm_id": [None, None, None]},
        geometry=shapely.points([104.4, 104.401, 104.402], [31.1] * 3),
        crs=4326,
    )
    edges = gpd.GeoDataFrame(
        {
            "u": [0, 1],
            "v": [1, 2],
            "length_m": [95.3, 95.3],
            "road_class": ["local", "path"],
            "osm_way_id": [None, None],
        },
        geometry=[
            shapely.LineString([(104.4, 31.1), (104.401, 31.1)]),
            shapely.LineString([(104.401, 31.1), (104.402, 31.1)]),
        ],
        crs=4326,
    )
    first = store.write_network("n", "test", nodes, edges, metric_epsg=4544)
    second = store.write_network("n", "test", nodes.iloc[:2], edges.iloc[:1], metric_epsg=4544)
    assert first != second
    assert store.count("network_nodes") == 2 and store.count("network_edges") == 1
    assert [n["node_count"] for n in store.list_networks()] == [2]


def test_metadata_roundtrip(store):
    store.set_metadata({"synthetic": True, "dataset": {"name_zh": "示例"}})
    store.set_metadata({"synthetic": True})
    assert store.get_metadata() == {"synthetic": True, "dataset": {"name_zh": "示例"}}


def test_unknown_layer_and_missing_feature(store):
    from geo_service.core._errors import NotFoundError, UnknownLayerError

    with pytest.raises(UnknownLayerError):
        store.read_layer("nope")
    with pytest.raises(NotFoundError):
        store.get_feature("facilities", 12345)


def test_migration_downgrade_and_upgrade(store):
    from alembic import command

    cfg = store.alembic_config()
    with store.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    insp = sa.inspect(store.engine)
    assert "facilities" not in insp.get_table_names()
    store.upgrade()
    assert "facilities" in sa.inspect(store.engine).get_table_names()
    assert {t.name for t in models.metadata.sorted_tables} <= set(sa.inspect(store.engine).get_table_names())


def test_large_network_keeps_a_working_spatial_index(store, monkeypatch):
    """Above the bulk threshold SpatiaLite builds the R*Tree after the insert: it must still answer bbox queries."""
    from geo_service.core.storage import networks

    monkeypatch.setattr(networks, "SPATIALITE_BULK_ROWS", 10)
    n = 50
    xs = 104.4 + np.arange(n) * 0.001
    nodes = gpd.GeoDataFrame(
        {"node_idx": np.arange(n), "osm_id": [None] * n}, geometry=shapely.points(xs, np.full(n, 31.1)), crs=4326
    )
    edges = gpd.GeoDataFrame(
        {
            "u": np.arange(n - 1),
            "v": np.arange(1, n),
            "length_m": [95.3] * (n - 1),
            "road_class": ["local"] * (n - 1),
            "osm_way_id": [None] * (n - 1),
        },
        geometry=[shapely.LineString([(xs[i], 31.1), (xs[i + 1], 31.1)]) for i in range(n - 1)],
        crs=4326,
    )
    store.write_network("big", "test", nodes, edges)
    assert store.count("network_nodes", bbox=(104.4095, 31.09, 104.4195, 31.11)) == 10
    assert store.count("network_edges", bbox=(104.4095, 31.09, 104.4195, 31.11)) == 11
    if store.dialect == "sqlite":
        with store.read() as conn:
            flags = dict(conn.exec_driver_sql("SELECT f_table_name, spatial_index_enabled FROM geometry_columns").all())
        assert flags["network_nodes"] == 1 and flags["network_edges"] == 1
