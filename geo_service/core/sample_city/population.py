"""Stage 5: population units (residential compounds) with residents, households and age groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._constants import MEAN_HOUSEHOLD_SIZE, RES, UNIT_SUFFIX
from ._util import combo_names
from .lattice import Lattice, Projection


@dataclass(frozen=True)
class Units:
    """Population units, one per residential cell, in cell order.

    ``ux``, ``uy`` are cell centres (m, EPSG:4544); ``residents``, ``r60`` (60+), ``r06`` (0-6)
    are residents and ``households`` households per unit; ``unit_of_cell`` maps cells to units
    (``-1`` for non-residential cells).
    """

    unit_cell: np.ndarray
    n_units: int
    ux: np.ndarray
    uy: np.ndarray
    u_old: np.ndarray
    u_r: np.ndarray
    residents: np.ndarray
    households: np.ndarray
    r60: np.ndarray
    r06: np.ndarray
    unit_street: np.ndarray
    unit_names: np.ndarray
    unit_of_cell: np.ndarray


def _density_field(ux: np.ndarray, uy: np.ndarray, proj: Projection, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field (sum of 6 plane waves of 1.5-4 km, unit variance) at the unit centres."""
    field_ = np.zeros(ux.size)
    for _ in range(6):  # smooth random density field (newer high-rise districts)
        ang = rng.uniform(0, 2 * np.pi)
        wlen = rng.uniform(1500.0, 4000.0)
        field_ += np.sin(
            2 * np.pi * ((ux - proj.x0) * np.cos(ang) + (uy - proj.y0) * np.sin(ang)) / wlen + rng.uniform(0, 6.3)
        )
    field_ /= 6**0.5
    return field_


def _residents(
    cell_area: np.ndarray,
    field_: np.ndarray,
    u_old: np.ndarray,
    u_r: np.ndarray,
    target_res: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Residents per unit: density (residents/ha) higher in the old centre, summing to about ``target_res``."""
    n_units = u_old.size
    density = 130.0 * (1 + 0.5 * u_old) * np.exp(0.35 * field_) * rng.lognormal(0.0, 0.45, n_units)
    density *= np.where(u_r > 1.0, 0.6, 1.0)  # lower at the fringe
    residents_f = density * cell_area / 10_000.0
    residents_f *= target_res / residents_f.sum()
    return np.maximum(20, np.round(residents_f)).astype(np.int64)


def build_units(
    lattice: Lattice,
    proj: Projection,
    cell_type: np.ndarray,
    street: np.ndarray,
    target_res: float,
    rng: np.random.Generator,
) -> Units:
    """Create one population unit (compound) per residential cell.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice and the city centre (EPSG:4544, m).
    cell_type : numpy.ndarray
        Cell types ``(ny, nx)`` after stage 4.
    street : numpy.ndarray
        Street of each cell.
    target_res : float
        Total residents (600,000 at scale 1).
    rng : numpy.random.Generator
        The generator of the ``population_units`` stage.

    Returns
    -------
    Units
        Residents (at least 20 per unit), households (mean size about 2.6 residents), residents
        aged 60+ (about 20 %) and 0-6 (about 5 %), street and synthetic name of each unit.
    """
    unit_cell = np.flatnonzero(cell_type.ravel() == RES)
    n_units = unit_cell.size
    ux, uy = lattice.cell_x[unit_cell], lattice.cell_y[unit_cell]
    u_old = lattice.old[unit_cell]
    u_r = lattice.r_rel[unit_cell]
    field_ = _density_field(ux, uy, proj, rng)
    residents = _residents(lattice.cell_area[unit_cell], field_, u_old, u_r, target_res, rng)
    hh_size = MEAN_HOUSEHOLD_SIZE - 0.3 * u_old + 0.15 * np.clip(u_r - 0.5, 0, None) + rng.normal(0, 0.28, n_units)
    hh_size = np.clip(hh_size, 1.6, 3.8)
    households = np.maximum(1, np.round(residents / hh_size)).astype(np.int64)
    share60 = np.clip(0.205 + 0.09 * u_old - 0.04 * (u_r > 0.7) + rng.normal(0, 0.025, n_units), 0.08, 0.42)
    share06 = np.clip(0.05 - 0.012 * u_old + 0.01 * (u_r > 0.7) + rng.normal(0, 0.008, n_units), 0.015, 0.09)
    unit_names = np.strings.add(
        combo_names(rng, n_units), np.array(UNIT_SUFFIX)[rng.integers(0, len(UNIT_SUFFIX), n_units)]
    )
    unit_of_cell = np.full(lattice.n_cells, -1, dtype=np.int64)
    unit_of_cell[unit_cell] = np.arange(n_units)
    return Units(
        unit_cell=unit_cell,
        n_units=n_units,
        ux=ux,
        uy=uy,
        u_old=u_old,
        u_r=u_r,
        residents=residents,
        households=households,
        r60=np.round(residents * share60).astype(np.int64),
        r06=np.round(residents * share06).astype(np.int64),
        unit_street=street[unit_cell],
        unit_names=unit_names,
        unit_of_cell=unit_of_cell,
    )
