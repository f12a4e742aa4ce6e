"""Stage 12b: building footprints consistent with the population units (layer ``buildings``).

Every residential unit (compound) gets 2-6 rectangular footprints inside its cell, laid out in a 3 x 2 grid of
slots.  Their residential floor area (footprint area x floors, and :data:`MIXED_RESIDENTIAL_SHARE` of it for a
mixed-use building) is proportional to the unit's residents — :data:`RES_FLOOR_M2_PER_PERSON` per resident — times
a log-normal factor per unit (vacancy, larger or smaller flats), so an estimate from the footprints is close to the
truth but not equal to it.  About one unit in ten has one mixed-use (商住) building.  Most buildings carry
``floors``; some only ``height_m`` (``floors`` x :data:`STOREY_HEIGHT_M` plus less than half a metre); a few
buildings of 5-7 floors carry neither.  School, commercial, government and hospital cells get 1-3 buildings of
use ``other``.

The stage draws from its own generator (``numpy.random.default_rng([seed, 14])``), so the other stages and their
outputs do not change.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ._constants import COMMERCIAL, GOV, HOSPITAL, MIDDLE, PRIMARY
from ._util import bilinear, ids, sadd
from .lattice import Lattice, Projection
from .population import Units

#: Residential floor area per resident (m²) behind the footprints (synthetic; before the per-unit noise).
RES_FLOOR_M2_PER_PERSON = 36.0
#: Storey height (m) relating ``height_m`` and ``floors``; the packaged norm ``population.storey_height_m``.
STOREY_HEIGHT_M = 3.0
#: Residential share of a mixed-use building's floor area; the packaged norm ``population.mixed_use_residential_share``.
MIXED_RESIDENTIAL_SHARE = 0.5
#: Cell types that get non-residential buildings.
OTHER_BUILDING_CELLS = (PRIMARY, MIDDLE, COMMERCIAL, GOV, HOSPITAL)

_SLOT_COLS, _SLOT_ROWS, _MARGIN = 3, 2, 0.1
_SLOT_DU = (1 - 2 * _MARGIN) / _SLOT_COLS  # slot size in the cell's (u, v) parameters
_SLOT_DV = (1 - 2 * _MARGIN) / _SLOT_ROWS
_FILL = 0.85  # largest share of a slot's side a footprint takes


def _footprints(
    lattice: Lattice, cell: np.ndarray, slot: np.ndarray, scale_uv: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Corner arrays (n, 4) in m (EPSG:4544) of footprints: slot ``slot`` of cell ``cell``, sides ``scale_uv`` (0..1]
    of the slot's usable size, placed at random within the slot."""
    du = _SLOT_DU * _FILL * scale_uv
    dv = _SLOT_DV * _FILL * scale_uv
    u0 = _MARGIN + (slot % _SLOT_COLS) * _SLOT_DU + rng.uniform(0, 1, cell.size) * (_SLOT_DU - du)
    v0 = _MARGIN + (slot // _SLOT_COLS) * _SLOT_DV + rng.uniform(0, 1, cell.size) * (_SLOT_DV - dv)
    cx, cy = lattice.cx[cell], lattice.cy[cell]
    us = np.stack([u0, u0 + du, u0 + du, u0], axis=1)
    vs = np.stack([v0, v0, v0 + dv, v0 + dv], axis=1)
    qx, qy = bilinear(cx[:, None, :], cy[:, None, :], us, vs)
    return qx, qy


def _residential(lattice: Lattice, units: Units, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Columns of the residential buildings (one row per building, units in order), corners in m."""
    n_units = units.n_units
    k = np.clip(np.round(units.residents / 110.0 + rng.uniform(-0.5, 0.5, n_units)), 2, 6).astype(np.int64)
    unit = np.repeat(np.arange(n_units), k)
    slot = np.arange(unit.size) - np.repeat(np.cumsum(k) - k, k)
    cell = units.unit_cell[unit]
    target = units.residents * RES_FLOOR_M2_PER_PERSON * rng.lognormal(0.0, 0.15, n_units)  # residential m² per unit
    weight = rng.uniform(0.6, 1.4, unit.size)
    share = weight / np.bincount(unit, weights=weight, minlength=n_units)[unit]
    mixed_unit = rng.random(n_units) < 0.1
    mixed = mixed_unit[unit] & (slot == 0)
    floor_area = target[unit] * share / np.where(mixed, MIXED_RESIDENTIAL_SHARE, 1.0)
    max_fp = lattice.cell_area[units.unit_cell] * (_SLOT_DU * _FILL) * (_SLOT_DV * _FILL)  # largest footprint, m²
    typical = np.clip(np.round(target / (k * 0.45 * max_fp)), 2, 30)
    floors = np.clip(np.round(typical[unit] * rng.lognormal(0.0, 0.2, unit.size)), 1, 33)
    floors = np.maximum(floors, np.ceil(floor_area / max_fp[unit])).astype(np.int64)
    scale_uv = np.sqrt(floor_area / floors / max_fp[unit])
    qx, qy = _footprints(lattice, cell, slot, scale_uv, rng)
    return {"unit": unit, "slot": slot, "mixed": mixed, "floors": floors, "qx": qx, "qy": qy}


def _other(lattice: Lattice, cell_type: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Columns of the non-residential buildings on school, commercial, government and hospital cells."""
    cells = np.flatnonzero(np.isin(cell_type, OTHER_BUILDING_CELLS))
    k = rng.integers(1, 4, cells.size)
    cell = np.repeat(cells, k)
    slot = np.arange(cell.size) - np.repeat(np.cumsum(k) - k, k)
    floors = rng.integers(2, 9, cell.size)
    qx, qy = _footprints(lattice, cell, slot, rng.uniform(0.5, 1.0, cell.size), rng)
    return {"cell": cell, "slot": slot, "floors": floors, "qx": qx, "qy": qy}


def _floors_and_heights(floors: np.ndarray, rng: np.random.Generator) -> tuple[pd.arrays.IntegerArray, np.ndarray]:
    """Recorded ``floors`` (Int64, missing where only the height or nothing is known) and ``height_m`` (NaN where
    missing): about 80 % floors, 15 % only a height, and neither for 5 % of the buildings of 4-8 floors."""
    draw = rng.random(floors.size)
    neither = (draw >= 0.95) & (floors >= 4) & (floors <= 8)
    height_only = (draw >= 0.8) & ~neither
    height = floors * STOREY_HEIGHT_M + rng.uniform(-0.4, 0.4, floors.size)
    recorded = pd.array(np.where(height_only | neither, np.nan, floors), dtype="Int64")
    return recorded, np.where(height_only, np.round(height, 1), np.nan)


def build_buildings(
    lattice: Lattice, proj: Projection, cell_type: np.ndarray, units: Units, unit_ids: np.ndarray, seed: int
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The ``buildings`` layer of the sample city.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        Cell corners (m, EPSG:4544) and the conversion to lon/lat.
    cell_type : numpy.ndarray
        Flat cell types after stage 4.
    units : Units
        Residents and cells of the population units.
    unit_ids : numpy.ndarray
        ``source_id`` of each unit in the ``population_units`` layer (the buildings' ``compound_id``).
    seed : int
        The city's seed; the stage draws from ``numpy.random.default_rng([seed, 14])``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``floors``, ``height_m`` (m), ``use``, ``compound_id`` (units' buildings only); residential
        buildings first, in unit order.
    """
    rng = np.random.default_rng([int(seed), 14])
    res = _residential(lattice, units, rng)
    oth = _other(lattice, cell_type, rng)
    n_res, n_oth = res["unit"].size, oth["cell"].size
    true_floors = np.concatenate([res["floors"], oth["floors"]])
    floors, height = _floors_and_heights(true_floors, rng)
    qx, qy = np.concatenate([res["qx"], oth["qx"]]), np.concatenate([res["qy"], oth["qy"]])
    names = np.concatenate(
        [sadd(units.unit_names[res["unit"]], res["slot"] + 1, "栋"), sadd("公建", oth["slot"] + 1, "号楼")]
    )
    use = np.concatenate([np.where(res["mixed"], "mixed", "residential"), np.full(n_oth, "other")])
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:building:", n_res + n_oth),
            "name": names.astype(object),
            "floors": floors,
            "height_m": height,
            "use": use.astype(object),
            "dwellings": pd.array([None] * (n_res + n_oth), dtype="Int64"),
            "households": pd.array([None] * (n_res + n_oth), dtype="Int64"),
            "compound_id": np.concatenate([unit_ids[res["unit"]], np.full(n_oth, None)]).astype(object),
        },
        geometry=proj.quads_lonlat(qx, qy),
        crs=4326,
    )
