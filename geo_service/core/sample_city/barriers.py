"""Stage 2: the county mask, the meandering river and the railway corridor on the lattice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._constants import RAIL, RES, RIVER, VOID
from .lattice import Lattice


@dataclass(frozen=True)
class Barriers:
    """Cell types after stage 2 and the railway column.

    ``cell_type`` has shape ``(ny, nx)``: ``RES`` inside the county, ``VOID`` outside, ``RIVER``
    and ``RAIL`` on two 4-connected chains of cells running south to north.
    """

    cell_type: np.ndarray
    rail_col: int


def _river_columns(nx: int, ny: int, rail_col: int, rng: np.random.Generator) -> np.ndarray:
    """Column of the river in each lattice row: a meander without immediate reversals."""
    jj = np.arange(ny)
    amp1 = max(1.0, 0.05 * nx)
    amp2 = 0.015 * nx
    per1 = rng.uniform(0.6, 0.9) * ny
    per2 = rng.uniform(0.18, 0.25) * ny
    river_target = 0.65 * nx + amp1 * np.sin(2 * np.pi * jj / per1 + rng.uniform(0, 2 * np.pi))
    river_target += amp2 * np.sin(2 * np.pi * jj / per2 + rng.uniform(0, 2 * np.pi))
    river_col = np.round(river_target).astype(int)
    step = np.clip(np.diff(river_col), -1, 1)  # 4-connected chain, one column per row
    # no immediate reversal (c, c+1, c): it would make a 2 x 2 block of river cells with a
    # lattice vertex in mid-river.  One pass over the rows (about 1,200 at scale 500).
    prev = 0
    for k in range(step.size):
        if step[k] != 0 and step[k] == -prev:
            step[k] = 0
        prev = step[k]
    river_col = np.concatenate([[river_col[0]], river_col[0] + np.cumsum(step)])
    return np.clip(river_col, rail_col + 3, nx - 3)


def _county_cuts(
    nx: int, ny: int, rail_col: int, river_col: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Number of cells cut off the west and the east end of each row (outside the county)."""
    t = np.arange(ny) / max(ny - 1, 1)
    edge_w = np.clip(1 - np.minimum(t, 1 - t) / 0.25, 0, 1) ** 1.5
    cut_l = 0.13 * nx * edge_w * rng.uniform(0.6, 1.0) + 0.03 * nx * (
        1 + np.sin(2 * np.pi * t * 1.3 + rng.uniform(0, 6.3))
    )
    cut_r = 0.13 * nx * edge_w[::-1] * rng.uniform(0.6, 1.0) + 0.03 * nx * (
        1 + np.sin(2 * np.pi * t * 1.7 + rng.uniform(0, 6.3))
    )
    cut_l = np.minimum(np.round(cut_l).astype(int), rail_col - 2)
    cut_r = np.minimum(np.round(cut_r).astype(int), nx - river_col.max() - 3)
    return np.maximum(cut_l, 0), np.maximum(cut_r, 0)


def carve_barriers(lattice: Lattice, rng: np.random.Generator) -> Barriers:
    """Mark the county, the river and the railway on the lattice cells.

    Parameters
    ----------
    lattice : Lattice
        The lattice (cells of about 130-185 m, EPSG:4544).
    rng : numpy.random.Generator
        The generator of the ``barriers`` stage.

    Returns
    -------
    Barriers
        Cell types ``(ny, nx)``; the railway runs along column ``0.28 * nx``, the river meanders
        around column ``0.65 * nx``; each is one cell (about 90 m) wide.
    """
    nx, ny = lattice.nx, lattice.ny
    jj = np.arange(ny)
    rail_col = int(round(0.28 * nx))
    river_col = _river_columns(nx, ny, rail_col, rng)
    cut_l, cut_r = _county_cuts(nx, ny, rail_col, river_col, rng)

    cell_type = np.full((ny, nx), RES, dtype=np.int16)
    col = np.arange(nx)[None, :]
    cell_type[(col < cut_l[:, None]) | (col >= nx - cut_r[:, None])] = VOID
    cell_type[jj, rail_col] = RAIL
    cell_type[jj, river_col] = RIVER
    turn = np.flatnonzero(river_col[1:] != river_col[:-1])
    cell_type[turn, river_col[turn + 1]] = RIVER  # connector cell: keeps the chain 4-connected
    return Barriers(cell_type=cell_type, rail_col=rail_col)
