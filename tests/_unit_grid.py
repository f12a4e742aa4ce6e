"""Small synthetic unit grids for the tests (合成网格，非真实数据).

:func:`unit_grid` lays ``nx`` x ``ny`` square cells in CGCS2000 / 3-degree
Gauss-Kruger CM 105E (EPSG:4544) near Deyang and returns EPSG:4326 frames: the
units (one per cell, except the cells of an optional north-south river and
optional holes), one street covering the whole grid, the river as a barrier
polygon and, optionally, bridges across it as ``crossing`` roads.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["GRID_EPSG", "unit_grid"]

GRID_EPSG = 4544
_X0, _Y0 = 440_000.0, 3_444_000.0


def unit_grid(
    nx: int,
    ny: int,
    households,
    *,
    cell_m: float = 120.0,
    river_col: int | None = None,
    bridge_rows: tuple[int, ...] = (),
    holes: tuple[tuple[int, int], ...] = (),
    street_code: str = "510699001",
    workers: int | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """A grid of square units.

    Parameters
    ----------
    nx, ny : int
        Cells per row / column.
    households : int or array (ny, nx)
        Households of each cell (residents = 2.5 x households).
    river_col : int, optional
        Column of cells that is a river (no units there).
    bridge_rows : tuple of int
        Rows with a bridge across the river (a ``crossing`` road through the row's middle).
    holes : tuple of (row, col)
        Cells without a unit (parks): tiles cover them.

    Returns
    -------
    dict
        ``population_units``, ``admin_areas`` (one street), ``barriers``, ``roads`` (EPSG:4326).
    """
    hh = np.broadcast_to(np.asarray(households, dtype=np.int64), (ny, nx))
    j, i = np.divmod(np.arange(nx * ny), nx)
    x0 = _X0 + i * cell_m
    y0 = _Y0 + j * cell_m
    cells = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    is_unit = np.ones(nx * ny, bool)
    if river_col is not None:
        is_unit &= i != river_col
    for r, c in holes:
        is_unit[r * nx + c] = False
    k = np.flatnonzero(is_unit)
    units = gpd.GeoDataFrame(
        {
            "id": np.arange(1, k.size + 1),
            "source_id": [f"grid:{jj}:{ii}" for jj, ii in zip(j[k], i[k])],
            "name": [f"单元{jj}-{ii}" for jj, ii in zip(j[k], i[k])],
            "unit_type": "compound",
            "residents": (hh.ravel()[k] * 2.5).round().astype(np.int64),
            "households": hh.ravel()[k],
            "street_code": street_code,
        },
        geometry=cells[k],
        crs=GRID_EPSG,
    ).to_crs(4326)
    street_geom = shapely.box(_X0, _Y0, _X0 + nx * cell_m, _Y0 + ny * cell_m)
    streets = gpd.GeoDataFrame(
        {
            "source_id": [f"grid:street:{street_code}"],
            "level": ["street"],
            "code": [street_code],
            "name": ["网格街道"],
            "parent_code": [street_code[:6]],
            "community_workers_available": [workers],
        },
        geometry=[street_geom],
        crs=GRID_EPSG,
    ).to_crs(4326)
    barriers = gpd.GeoDataFrame({"source_id": [], "name": [], "barrier_type": []}, geometry=[], crs=4326)
    roads = gpd.GeoDataFrame({"source_id": [], "name": [], "road_class": []}, geometry=[], crs=4326)
    if river_col is not None:
        xr = _X0 + river_col * cell_m
        river = shapely.box(xr + 10, _Y0 - 1, xr + cell_m - 10, _Y0 + ny * cell_m + 1)
        barriers = gpd.GeoDataFrame(
            {"source_id": ["grid:river"], "name": ["示例河"], "barrier_type": ["river"]},
            geometry=[river],
            crs=GRID_EPSG,
        ).to_crs(4326)
        if bridge_rows:
            ym = _Y0 + (np.asarray(bridge_rows, dtype=float) + 0.5) * cell_m
            lines = shapely.linestrings(
                np.stack(
                    [
                        np.stack([np.full(ym.size, xr - cell_m / 2), ym], -1),
                        np.stack([np.full(ym.size, xr + 1.5 * cell_m), ym], -1),
                    ],
                    1,
                )
            )
            roads = gpd.GeoDataFrame(
                {"source_id": [f"grid:bridge:{r}" for r in bridge_rows], "name": "示例桥", "road_class": "crossing"},
                geometry=lines,
                crs=GRID_EPSG,
            ).to_crs(4326)
    return {"population_units": units, "admin_areas": streets, "barriers": barriers, "roads": roads}
