"""A hand-built world for walking profiles and directions (EPSG:4544 metres near Deyang).

        start (50, 3)
    P0 (0,0) ===长江路=== P1 (200,0) ===长江路=== P2 (400,0)
     |  \\                                          ||
     |    \\ steps (台阶步道, 500 m)                  || 黄河路 (300 m)
     | kerb \\                                       ||
     | raised \\                                     ||   shelter 测试避难场所 at (400,-290), on 黄河路
    P6 (100,-300) ------淮河路 (300 m)------------ P3 (400,-300)

From the start: standard and elderly walk 3 + 50 + 500 + 10 = 563 m over the steps; the wheelchair can use
neither the steps nor the path over the raised kerb (P0-P6, 316.2 m) and walks 3 + 150 + 200 + 290 = 643 m along
长江路 and 黄河路.
"""

from __future__ import annotations

import geopandas as gpd
import shapely

METRIC = 4544
X0, Y0 = 450_000.0, 3_445_000.0
NODES = {0: (0, 0), 1: (200, 0), 2: (400, 0), 3: (400, -300), 6: (100, -300)}
#: (u, v, name, road class, steps, kerb)
EDGES = [
    (0, 1, "长江路", "local", False, None),
    (1, 2, "长江路", "local", False, None),
    (2, 3, "黄河路", "local", False, None),
    (0, 3, "台阶步道", "path", True, None),
    (0, 6, None, "path", False, "raised"),
    (6, 3, "淮河路", "local", False, None),
]
START = (50.0, 3.0)
SHELTER = (400.0, -290.0)


def m(x, y) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def frames(*, names: bool = True) -> dict[str, gpd.GeoDataFrame]:
    """Nodes, edges and the shelter, EPSG:4326 (node_idx 0..4 in the order of :data:`NODES`)."""
    ids = {k: i for i, k in enumerate(NODES)}
    nodes = gpd.GeoDataFrame({"node_idx": list(ids.values())}, geometry=[m(*NODES[k]) for k in ids], crs=METRIC)
    lines = [shapely.LineString([m(*NODES[u]), m(*NODES[v])]) for u, v, *_ in EDGES]
    edges = gpd.GeoDataFrame(
        {
            "u": [ids[u] for u, *_ in EDGES],
            "v": [ids[v] for _, v, *_ in EDGES],
            "length_m": [ln.length for ln in lines],
            "road_class": [e[3] for e in EDGES],
            "name": [e[2] if names else None for e in EDGES],
            "steps": [e[4] for e in EDGES],
            "kerb": [e[5] for e in EDGES],
        },
        geometry=lines,
        crs=METRIC,
    )
    shelters = gpd.GeoDataFrame(
        {
            "source_id": ["S1"],
            "name": ["测试避难场所"],
            "shelter_class": ["emergency"],
            "capacity_persons": [500],
        },
        geometry=[m(*SHELTER)],
        crs=METRIC,
    )
    return {"nodes": nodes.to_crs(4326), "edges": edges.to_crs(4326), "shelters": shelters.to_crs(4326)}


def lonlat(x, y) -> tuple[float, float]:
    p = gpd.GeoSeries([m(x, y)], crs=METRIC).to_crs(4326).iloc[0]
    return float(p.x), float(p.y)


def store_world(store) -> dict:
    f = frames()
    store.upsert_layer("shelters", f["shelters"])
    store.write_network("profiles", "test", f["nodes"], f["edges"], metric_epsg=METRIC)
    return f
