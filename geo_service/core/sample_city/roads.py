"""Stage 12: the roads layer (lattice edges) and the barriers layer (river and railway)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ._constants import RAIL, RAILWAY_NAME, RIVER, RIVER_NAME
from ._util import ids
from .lattice import Lattice, Projection
from .network import LatticeEdges, road_names


def build_roads(lattice: Lattice, edges: LatticeEdges) -> gpd.GeoDataFrame:
    """Create the roads layer: one straight segment per kept lattice edge.

    Parameters
    ----------
    lattice : Lattice
        Vertex coordinates (EPSG:4326).
    edges : LatticeEdges
        The kept lattice edges with names and classes.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` and ``road_class`` (arterial, local, crossing); bridges are named 大桥 (arterial)
        or 人行桥 over the river, 铁路下穿通道 under the railway.  EPSG:4326.
    """
    vlon, vlat = lattice.vlon.ravel(), lattice.vlat.ravel()
    e_a, e_b = edges.e_a, edges.e_b
    names = road_names(edges)
    rcoords = np.stack([np.stack([vlon[e_a], vlat[e_a]], -1), np.stack([vlon[e_b], vlat[e_b]], -1)], 1)
    return gpd.GeoDataFrame(
        {"source_id": ids("sample:road:", e_a.size), "name": names.astype(object), "road_class": edges.e_class},
        geometry=shapely.linestrings(rcoords),
        crs=4326,
    )


def _river_polygon(lattice: Lattice, tf: np.ndarray) -> shapely.Geometry:
    """The river: union of the river cells shrunk by 16 m (EPSG:4544, m)."""
    cx, cy = lattice.cx, lattice.cy
    river_cells = np.flatnonzero(tf == RIVER)
    river_metric = shapely.polygons(
        np.stack(
            [
                np.concatenate([cx[river_cells], cx[river_cells][:, :1]], 1),
                np.concatenate([cy[river_cells], cy[river_cells][:, :1]], 1),
            ],
            -1,
        )
    )
    return shapely.buffer(shapely.coverage_union_all(river_metric), -16.0, quad_segs=4)


def _rail_line(lattice: Lattice, cell_type: np.ndarray, rail_col: int) -> shapely.Geometry:
    """Railway centre line through the midpoints of the corridor's horizontal edges (EPSG:4544, m)."""
    vx, vy = lattice.vx, lattice.vy
    rj = np.arange(lattice.ny + 1)
    rail_in = np.zeros(lattice.ny + 1, bool)
    rail_in[:-1] |= cell_type[:, rail_col] == RAIL
    rail_in[1:] |= cell_type[:, rail_col] == RAIL
    rj = rj[rail_in]
    rail_x = 0.5 * (vx[rj, rail_col] + vx[rj, rail_col + 1])
    rail_y = 0.5 * (vy[rj, rail_col] + vy[rj, rail_col + 1])
    return shapely.linestrings(np.column_stack([rail_x, rail_y]))


def build_barriers(lattice: Lattice, proj: Projection, cell_type: np.ndarray, rail_col: int) -> gpd.GeoDataFrame:
    """Create the barriers layer: the river (polygon) and the railway (line).

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice (EPSG:4544, m) and the CRS conversion.
    cell_type : numpy.ndarray
        Cell types ``(ny, nx)``.
    rail_col : int
        Lattice column of the railway corridor.

    Returns
    -------
    geopandas.GeoDataFrame
        Two rows, ``river`` and ``railway``, in EPSG:4326.
    """
    river_poly = _river_polygon(lattice, cell_type.ravel())
    rail_line = _rail_line(lattice, cell_type, rail_col)
    barrier_geoms = proj.metric_to_lonlat_geoms(np.array([river_poly, rail_line], dtype=object))
    return gpd.GeoDataFrame(
        {
            "source_id": ["sample:barrier:river", "sample:barrier:railway"],
            "name": [RIVER_NAME, RAILWAY_NAME],
            "barrier_type": ["river", "railway"],
        },
        geometry=barrier_geoms,
        crs=4326,
    )
