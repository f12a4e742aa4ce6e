"""Vector tiles ``/tiles/{collection}/{z}/{x}/{y}.mvt`` decoded with mapbox-vector-tile and compared with the source."""

from __future__ import annotations

import math

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from maps.tiles import EXTENT, tile_bounds_3857, tile_bounds_lonlat, to_3857

LON, LAT = 104.40, 31.13
Z = 15


def tile_of(lon, lat, z):
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture
def units(store):
    """A 10 x 10 grid of 100 m square units around (LON, LAT) crossing tile borders at zoom 15."""
    d = 0.001
    xs, ys = np.meshgrid(np.arange(10) * d + LON - 0.005, np.arange(10) * d + LAT - 0.005)
    g = gpd.GeoDataFrame(
        {
            "source_id": [f"u{i:03d}" for i in range(100)],
            "name": [f"单元{i}" for i in range(100)],
            "residents": np.arange(100) * 10,
            "households": np.arange(100) * 4,
        },
        geometry=shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + d * 0.9, ys.ravel() + d * 0.9),
        crs=4326,
    )
    store.upsert_layer("population_units", g)
    return store.read_layer("population_units")


def decode_lonlat(body: bytes, layer: str, z: int, x: int, y: int) -> gpd.GeoDataFrame:
    """Decode a tile back to lon/lat geometries (tile grid -> Web Mercator -> lon/lat)."""
    from pyproj import Transformer

    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": False})
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    tr = Transformer.from_crs(3857, 4326, always_xy=True)
    rows = []
    for f in tile[layer]["features"]:
        g = shapely.geometry.shape(f["geometry"])
        g = shapely.transform(
            g,
            lambda c: np.column_stack(
                tr.transform(minx + c[:, 0] / EXTENT * (maxx - minx), miny + c[:, 1] / EXTENT * (maxy - miny))
            ),
        )
        rows.append({"id": f["id"], **f["properties"], "geometry": g})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def test_tile_matches_source_features(client, units, store):
    x, y = tile_of(LON, LAT, Z)
    r = client.get(f"/tiles/population_units/{Z}/{x}/{y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    got = decode_lonlat(r.content, "population_units", Z, x, y)
    # every source feature intersecting the tile (plus its 64-pixel buffer) is there, no other one
    box = shapely.box(*tile_bounds_lonlat(Z, x, y, margin=64 / EXTENT))
    want = units[units.intersects(box)]
    assert 0 < len(want) < len(units)
    assert sorted(got["id"]) == sorted(want["id"])
    # attributes are the layer's fields
    row = got.set_index("id").loc[int(want["id"].iloc[0])]
    src = want.iloc[0]
    assert row["source_id"] == src["source_id"] and row["name"] == src["name"] and row["residents"] == src["residents"]
    # geometry: the clipped source, to within a tile pixel (about 4.8 m / 4096 * 4096 / 2^15 ... ~0.3 m at z15)
    pixel_deg = 360 / (1 << Z) / EXTENT
    src_geoms = want.set_index("id").geometry
    for fid, g in zip(got["id"], got.geometry):
        clipped = src_geoms[fid].intersection(box)
        assert g.symmetric_difference(clipped).area <= clipped.length * pixel_deg * 2, fid
        assert shapely.hausdorff_distance(g, clipped) < 2 * pixel_deg


def test_point_tile_and_analysis_tile(client, store, units):
    pts = gpd.GeoDataFrame(
        {"source_id": ["a", "b"], "name": ["甲", "乙"], "category": ["kindergarten", "market"]},
        geometry=shapely.points([LON, LON + 0.5], [LAT, LAT]),
        crs=4326,
    )
    store.upsert_layer("facilities", pts)
    x, y = tile_of(LON, LAT, Z)
    got = decode_lonlat(client.get(f"/tiles/facilities/{Z}/{x}/{y}.mvt").content, "facilities", Z, x, y)
    assert list(got["name"]) == ["甲"]
    assert got.geometry.iloc[0].distance(shapely.Point(LON, LAT)) < 360 / (1 << Z) / EXTENT * 2
    out = units[["source_id", "residents", "geometry"]].rename(columns={"source_id": "feature_key"})
    out["kindergarten_walk_m"] = np.linspace(0, 2000, len(out))
    out["missing_categories"] = [["kindergarten"]] * len(out)
    rid = store.save_analysis("coverage", params={}, summary={}, outputs={"units": out})
    for cid in (f"analysis_{rid}_units", "coverage_units"):
        r = client.get(f"/tiles/{cid}/{Z}/{x}/{y}.mvt")
        assert r.status_code == 200, cid
        got = decode_lonlat(r.content, cid, Z, x, y)
        box = shapely.box(*tile_bounds_lonlat(Z, x, y, margin=64 / EXTENT))
        assert len(got) == int(units.intersects(box).sum())
        assert {"feature_key", "residents", "kindergarten_walk_m"} <= set(got.columns)
        assert json_list(got["missing_categories"].iloc[0]) == ["kindergarten"]


def json_list(value):
    import json

    return json.loads(value) if isinstance(value, str) else list(value)


def test_empty_tile_is_204_and_bad_tiles_400(client, units):
    x, y = tile_of(LON + 10, LAT + 10, Z)
    r = client.get(f"/tiles/population_units/{Z}/{x}/{y}.mvt")
    assert r.status_code == 204 and r.content == b""
    assert "etag" in r.headers
    assert client.get("/tiles/population_units/3/8/0.mvt").status_code == 400
    assert client.get("/tiles/population_units/23/0/0.mvt").status_code == 400
    assert client.get("/tiles/no_such_layer/3/0/0.mvt").status_code == 404


def test_etag_304_and_revision_invalidates(client, units, store):
    x, y = tile_of(LON, LAT, Z)
    url = f"/tiles/population_units/{Z}/{x}/{y}.mvt"
    r = client.get(url)
    tag = r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    # a re-import bumps the layer revision: new ETag, new content
    g = units.iloc[:1][["source_id", "name", "residents", "households", "geometry"]].copy()
    g["residents"] = 99999
    store.upsert_layer("population_units", g)
    r2 = client.get(url, headers={"If-None-Match": tag})
    assert r2.status_code == 200 and r2.headers["etag"] != tag
    got = decode_lonlat(r2.content, "population_units", Z, x, y)
    if int(units["id"].iloc[0]) in set(got["id"]):
        assert got.set_index("id").loc[int(units["id"].iloc[0]), "residents"] == 99999


def test_low_zoom_tile_holds_every_feature(client, units):
    """At zoom 10 the whole grid is in one tile; small polygons survive quantization."""
    x, y = tile_of(LON, LAT, 10)
    tile = mapbox_vector_tile.decode(client.get(f"/tiles/population_units/10/{x}/{y}.mvt").content)
    assert len(tile["population_units"]["features"]) == 100


def test_web_mercator_helpers():
    assert tile_bounds_3857(0, 0, 0) == pytest.approx((-20037508.34, -20037508.34, 20037508.34, 20037508.34))
    x, y = to_3857(np.array([shapely.Point(LON, LAT)]))[0].coords[0]
    from pyproj import Transformer

    assert (x, y) == pytest.approx(Transformer.from_crs(4326, 3857, always_xy=True).transform(LON, LAT), abs=1e-6)
