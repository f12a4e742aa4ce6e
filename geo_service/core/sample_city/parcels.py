"""Stages 9 and 10: plan parcels (one per county cell, minus the small parcels) and new developments."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from ._constants import CELL_LAND_USE, DEV_SUFFIX, SITE
from ._sites import SmallParcels
from ._util import combo_names, gumbel_topk, ids, sadd
from .lattice import Lattice
from .population import Units


def _land_use_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Land-use code, planned use and status by cell type (lookup tables)."""
    lut_code = np.full(32, "", dtype="U6")
    lut_use = np.full(32, "", dtype="U24")
    lut_status = np.full(32, "", dtype="U10")
    for tcode, (code, use, st) in CELL_LAND_USE.items():
        lut_code[tcode], lut_use[tcode], lut_status[tcode] = code, use, st
    return lut_code, lut_use, lut_status


def build_plan_parcels(lattice: Lattice, tf: np.ndarray, county_idx: np.ndarray, sp: SmallParcels) -> gpd.GeoDataFrame:
    """Create the plan parcels layer.

    Parameters
    ----------
    lattice : Lattice
        Cell polygons (EPSG:4326) and areas (m²).
    tf : numpy.ndarray
        Cell types (flat) after stage 4.
    county_idx : numpy.ndarray
        The cells inside the county, in order.
    sp : SmallParcels
        Small parcels (kindergartens, facilities at risk, reserved land) cut out of their cells.

    Returns
    -------
    geopandas.GeoDataFrame
        One parcel per county cell (minus its small parcel), then the small parcels; land-use
        code, planned use, status and area (m², 0.1 m²).  EPSG:4326.
    """
    sp_of_cell = np.full(lattice.n_cells, -1, dtype=np.int64)
    sp_of_cell[sp.cell] = np.arange(sp.cell.size)
    pcells = county_idx
    types = tf[pcells]
    lut_code, lut_use, lut_status = _land_use_tables()
    p_geom = lattice.cell_poly[pcells].copy()
    p_area = lattice.cell_area[pcells].copy()
    has_sp = sp_of_cell[pcells] >= 0
    if has_sp.any():
        spi = sp_of_cell[pcells[has_sp]]
        p_geom[has_sp] = shapely.difference(p_geom[has_sp], sp.poly[spi])
        p_area[has_sp] -= sp.area[spi]
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:parcel:", pcells.size + sp.cell.size),
            "land_use_code": np.concatenate([lut_code[types], sp.code]).astype(object),
            "planned_use": np.concatenate([lut_use[types], sp.use]).astype(object),
            "status": np.concatenate([lut_status[types], sp.status]).astype(object),
            "area_m2": np.round(np.concatenate([p_area, sp.area]), 1),
        },
        geometry=np.concatenate([p_geom, sp.poly]),
        crs=4326,
    )


def build_developments(
    lattice: Lattice, tf: np.ndarray, units: Units, scale: float, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Create the developments layer: construction sites and recently completed compounds.

    Parameters
    ----------
    lattice : Lattice
        Cell polygons (EPSG:4326) and areas (m²).
    tf : numpy.ndarray
        Cell types (flat) after stage 4 (``SITE`` cells are planned or under construction).
    units : Units
        Compounds; about ``8 * scale`` large outer ones are recorded as completed developments.
    scale : float
        City scale.
    rng : numpy.random.Generator
        The generator of the ``developments`` stage.

    Returns
    -------
    geopandas.GeoDataFrame
        Planned households (180-300 per ha on sites), required facility area (0.30 m² per
        household) and built facility area (m²).  EPSG:4326.
    """
    cell_area, unit_cell, households = lattice.cell_area, units.unit_cell, units.households
    site_cells = np.flatnonzero(tf == SITE)
    n_site = site_cells.size
    done_units = np.flatnonzero(units.u_r > 0.55)
    done_units = done_units[gumbel_topk(households[done_units].astype(float) ** 2, max(1, int(round(8 * scale))), rng)]
    dev_cells = np.concatenate([site_cells, unit_cell[done_units]])
    n_dev = dev_cells.size
    planned_hh = np.concatenate(
        [np.round(cell_area[site_cells] / 10_000 * rng.uniform(180, 300, n_site)), households[done_units]]
    ).astype(np.int64)
    dev_status = np.concatenate(
        [np.where(rng.random(n_site) < 0.5, "planned", "under_construction"), np.full(done_units.size, "completed")]
    )
    required = np.round(planned_hh * 0.30, 1)
    rr = rng.random(n_dev)
    built = np.where(
        rr < 0.4,
        0.0,
        np.where(rr < 0.7, required * rng.uniform(0.3, 0.9, n_dev), required * rng.uniform(1.0, 1.5, n_dev)),
    )
    built = np.where(dev_status == "planned", 0.0, built)
    built = np.where((dev_status == "under_construction") & (built > required), required * 0.5, built)
    dev_names = sadd(
        combo_names(rng, n_dev),
        np.array(DEV_SUFFIX)[rng.integers(0, len(DEV_SUFFIX), n_dev)],
        np.array(["", "（一期）", "（二期）"])[rng.integers(0, 3, n_dev)],
    )
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:development:", n_dev),
            "name": dev_names.astype(object),
            "planned_households": planned_hh,
            "required_facility_area_m2": required,
            "built_facility_area_m2": np.round(built, 1),
            "status": dev_status.astype(object),
        },
        geometry=lattice.cell_poly[dev_cells],
        crs=4326,
    )
