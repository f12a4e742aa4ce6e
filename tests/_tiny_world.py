"""A hand-built world (EPSG:4544 metres near Deyang) with distances you can check on paper.

    N0 (0,100) ---------------- 1000 m ---------------- N2 (1000,100)
       river (no crossing) between y=0 and y=100            | bridge 100 m
    S0 (0,0) --300-- S1 (300,0) ------- 700 m ------- S2 (1000,0)

Kindergarten F at S0 (on the street).  Units (20 m squares, representative point at the centre):
  A (280,-20): 20 m off the street, 280 m along it -> walks exactly 300 m to F (the threshold).
  B (0,120): north of the river, 120 m from F as the crow flies, 20 + 1000 + 100 + 1000 = 2120 m on foot.
  C (500,-1000): 1000 m from any street -> unreachable.
Residents A 100, B 200, C 50.  Shelter H at (1000,-10) (10 m off S2).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

METRIC = 4544
X0, Y0 = 450_000.0, 3_445_000.0


def _m(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def _box(cx, cy, half=10.0):
    return shapely.box(X0 + cx - half, Y0 + cy - half, X0 + cx + half, Y0 + cy + half)


def frames() -> dict[str, gpd.GeoDataFrame]:
    node_xy = {0: (0, 0), 1: (300, 0), 2: (1000, 0), 3: (0, 100), 4: (1000, 100)}
    edges = [(0, 1), (1, 2), (3, 4), (2, 4)]
    nodes = gpd.GeoDataFrame({"node_idx": list(node_xy)}, geometry=[_m(*xy) for xy in node_xy.values()], crs=METRIC)
    lines = [
        shapely.LineString([(X0 + node_xy[u][0], Y0 + node_xy[u][1]), (X0 + node_xy[v][0], Y0 + node_xy[v][1])])
        for u, v in edges
    ]
    e = gpd.GeoDataFrame(
        {
            "u": [u for u, _ in edges],
            "v": [v for _, v in edges],
            "length_m": [ln.length for ln in lines],
            "road_class": ["local", "local", "local", "crossing"],
        },
        geometry=lines,
        crs=METRIC,
    )
    units = gpd.GeoDataFrame(
        {
            "source_id": ["A", "B", "C"],
            "name": ["甲小区", "乙小区", "丙小区"],
            "residents": [100, 200, 50],
            "households": [40, 80, 20],
            "street_code": ["510603001", "510603002", "510603001"],
        },
        geometry=[_box(280, -20), _box(0, 120), _box(500, -1000)],
        crs=METRIC,
    )
    facilities = gpd.GeoDataFrame(
        {
            "source_id": ["F"],
            "name": ["河畔幼儿园"],
            "category": ["kindergarten"],
            "capacity": [120],
            "address": ["河畔路1号"],
        },
        geometry=[_m(0, 0)],
        crs=METRIC,
    )
    shelters = gpd.GeoDataFrame(
        {
            "source_id": ["H"],
            "name": ["桥头广场"],
            "shelter_class": ["emergency"],
            "capacity_persons": [800],
            "effective_area_m2": [1200.0],
            "address": ["桥头1号"],
        },
        geometry=[_m(1000, -10)],
        crs=METRIC,
    )
    communities = gpd.GeoDataFrame(
        {
            "source_id": ["c1", "c2"],
            "code": ["c1", "c2"],
            "name": ["南岸社区", "北岸社区"],
            "street_code": ["510603001", "510603002"],
        },
        geometry=[
            shapely.MultiPolygon([shapely.box(X0 - 300, Y0 - 1100, X0 + 1100, Y0 + 50)]),
            shapely.MultiPolygon([shapely.box(X0 - 300, Y0 + 50, X0 + 1100, Y0 + 300)]),
        ],
        crs=METRIC,
    )
    return {
        k: v.to_crs(4326)
        for k, v in {
            "nodes": nodes,
            "edges": e,
            "units": units,
            "facilities": facilities,
            "shelters": shelters,
            "communities": communities,
        }.items()
    }


LAYER_OF = {
    "units": "population_units",
    "facilities": "facilities",
    "shelters": "shelters",
    "parcels": "plan_parcels",
    "developments": "developments",
}


def write_frames(store, f: dict, network_name: str = "tiny") -> dict:
    """Write hand-built frames into a store: the layers present, the communities of an adopted plan, the network."""
    for key, layer in LAYER_OF.items():
        if key in f:
            store.upsert_layer(layer, f[key])
    with store.transaction() as conn:
        pid = store.get_or_create_plan(conn, "现状", status="adopted")
    store.upsert_layer("communities", f["communities"], plan_id=pid)
    store.write_network(network_name, "test", f["nodes"], f["edges"], metric_epsg=METRIC)
    return f


def store_world(store) -> dict:
    """Write the world into a store: layers, the network, an adopted plan."""
    return write_frames(store, frames())


def point_lonlat(x, y) -> tuple[float, float]:
    p = gpd.GeoSeries([_m(x, y)], crs=METRIC).to_crs(4326).iloc[0]
    return float(p.x), float(p.y)


__all__ = ["frames", "np", "point_lonlat", "store_world", "write_frames"]
