"""A hand-built grid (EPSG:4544 metres near Deyang) for hazards, scenarios and the poster.

Streets: a 7 x 7 grid of nodes 100 m apart, x and y from 0 to 600.  Shelters (emergency, existing):
A at (0, 0) holding 500 persons, B at (600, 600) holding ``cap_b`` persons.  Units (10 m squares, 200
residents each, 10 m off the street):

  U1 (100, -10): 110 m to A (10 m off + 100 m along y = 0);
  U2 (500, 610): 110 m to B;
  U3 (200, -10): 210 m to A.

Nothing else is within 500 m on foot.  Communities: 西区 (x < 300) and 东区 (x >= 300).
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from tests._tiny_world import METRIC, X0, Y0, write_frames


def _p(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def _sq(x, y, half=5.0):
    return shapely.box(X0 + x - half, Y0 + y - half, X0 + x + half, Y0 + y + half)


def _rect(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def frames(cap_b: int = 500) -> dict[str, gpd.GeoDataFrame]:
    n = 7
    node = {(i, j): i * n + j for i in range(n) for j in range(n)}
    nodes = gpd.GeoDataFrame(
        {"node_idx": list(node.values())}, geometry=[_p(i * 100, j * 100) for i, j in node], crs=METRIC
    )
    pairs = [((i, j), (i + 1, j)) for i in range(n - 1) for j in range(n)]
    pairs += [((i, j), (i, j + 1)) for i in range(n) for j in range(n - 1)]
    lines = [shapely.LineString([_p(a[0] * 100, a[1] * 100), _p(b[0] * 100, b[1] * 100)]) for a, b in pairs]
    edges = gpd.GeoDataFrame(
        {
            "u": [node[a] for a, _ in pairs],
            "v": [node[b] for _, b in pairs],
            "length_m": [ln.length for ln in lines],
            "road_class": ["local"] * len(pairs),
        },
        geometry=lines,
        crs=METRIC,
    )
    units = gpd.GeoDataFrame(
        {
            "source_id": ["U1", "U2", "U3"],
            "name": ["一号院", "二号院", "三号院"],
            "residents": [200, 200, 200],
            "households": [80, 80, 80],
        },
        geometry=[_sq(100, -10), _sq(500, 610), _sq(200, -10)],
        crs=METRIC,
    )
    shelters = gpd.GeoDataFrame(
        {
            "source_id": ["A", "B"],
            "name": ["西广场", "东公园"],
            "shelter_class": ["emergency", "emergency"],
            "capacity_persons": [500, cap_b],
            "effective_area_m2": [1000.0, 1000.0],
            "status": ["existing", "existing"],
        },
        geometry=[_p(0, 0), _p(600, 600)],
        crs=METRIC,
    )
    communities = gpd.GeoDataFrame(
        {"source_id": ["w", "e"], "code": ["510603001001", "510603001002"], "name": ["西区社区", "东区社区"]},
        geometry=[
            shapely.MultiPolygon([_rect(-50, -50, 300, 650)]),
            shapely.MultiPolygon([_rect(300, -50, 650, 650)]),
        ],
        crs=METRIC,
    )
    return {
        k: v.to_crs(4326)
        for k, v in {
            "nodes": nodes,
            "edges": edges,
            "units": units,
            "shelters": shelters,
            "communities": communities,
        }.items()
    }


def hazards() -> gpd.GeoDataFrame:
    """F: flood box across the street y = 0 between x = 40 and 60; G: a geohazard point on shelter A (default
    radius); L: a fault line far east (x = 900) given with a 50 m radius."""
    g = gpd.GeoDataFrame(
        {
            "source_id": ["F", "G", "L"],
            "name": ["西河洪水淹没区", "西山滑坡点", "东断裂带"],
            "kind": ["flood", "geohazard", "fault_zone"],
            "level": ["medium", "high", "low"],
            "radius_m": [None, None, 50.0],
        },
        geometry=[_rect(40, -50, 60, 50), _p(0, 0), shapely.LineString([_p(900, -100), _p(900, 700)])],
        crs=METRIC,
    )
    return g.to_crs(4326)


def store_world(store, cap_b: int = 500, with_hazards: bool = True) -> dict:
    """Write the grid into a store (layers, network, an adopted plan) and the hazards."""
    f = write_frames(store, frames(cap_b), network_name="grid")
    if with_hazards:
        store.upsert_layer("hazards", hazards())
    return f


def metric(g):
    """EPSG:4326 geometries to the grid's local metres (x, y from the grid's origin)."""
    s = gpd.GeoSeries(g, crs=4326).to_crs(METRIC)
    return s.translate(-X0, -Y0)


__all__ = ["METRIC", "X0", "Y0", "frames", "hazards", "metric", "store_world"]
