"""Stage 4: land use of the land cells (parks, squares, schools, commerce, government, hospitals, sites)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._constants import (
    COMMERCIAL,
    GOV,
    HOSPITAL,
    MIDDLE,
    PARK,
    PRIMARY,
    RES,
    RESIDENTS_PER_SCALE,
    RIVER,
    SITE,
    SQUARE,
)
from ._hubs import block_centres
from ._util import gumbel_topk, is_land
from .lattice import Lattice, Projection

#: Residents per primary school: one near the centre of most super-blocks (about 5,000 residents each).
PRIMARY_PER_RESIDENTS = 7_500


@dataclass(frozen=True)
class LandUse:
    """Cell types ``(ny, nx)`` after stage 4 and the number of central parks (central shelters)."""

    cell_type: np.ndarray
    n_central: int


def target_residents(scale: float) -> float:
    """Residents of the city at ``scale`` (600,000 at scale 1)."""
    return RESIDENTS_PER_SCALE * scale


def _park_anchors(
    lattice: Lattice, cell_type: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate big parks on a coarse anchor grid: SW cell row/column, size (2 or 3 cells), fit flags."""
    nx, ny = lattice.nx, lattice.ny
    stride = 6
    gy, gx = np.meshgrid(np.arange(0, ny, stride), np.arange(0, nx, stride), indexing="ij")
    ay = (gy + rng.integers(0, 3, gy.shape)).ravel()
    ax = (gx + rng.integers(0, 3, gx.shape)).ravel()
    size = np.where(rng.random(ax.size) < 0.35, 3, 2)
    ok3 = (ax + size <= nx) & (ay + size <= ny)  # the park fits on residential cells
    fits3 = (ax + 3 <= nx) & (ay + 3 <= ny)  # a 3 x 3 park would fit
    for dj in range(3):
        for di in range(3):
            cell_res = cell_type[np.minimum(ay + dj, ny - 1), np.minimum(ax + di, nx - 1)] == RES
            fits3 &= cell_res
            ok3 &= ~((di < size) & (dj < size)) | cell_res
    return ay, ax, size, ok3, fits3


def _big_parks(
    lattice: Lattice, proj: Projection, cell_type: np.ndarray, target_res: float, rng: np.random.Generator
) -> int:
    """Paint the big parks (2 x 2 or 3 x 3 cells, never overlapping); returns the number of central parks."""
    nx, ny, x0, y0 = lattice.nx, lattice.ny, proj.x0, proj.y0
    ay, ax, size, ok3, fits3 = _park_anchors(lattice, cell_type, rng)
    anchor_x = np.interp(ax + size / 2, np.arange(nx + 1), lattice.xs) + x0
    anchor_y = np.interp(ay + size / 2, np.arange(ny + 1), lattice.ys) + y0
    n_central = max(1, int(round(target_res / 500_000)))
    n_big = n_central + max(1, int(round(target_res / 150_000)))
    cand = np.flatnonzero(ok3)
    # the anchor nearest to the centre becomes the central park (3 x 3)
    chosen = []
    if cand.size:
        near = cand[np.argmin(np.hypot(anchor_x[cand] - x0, anchor_y[cand] - y0))]
        if fits3[near]:
            size[near] = 3
        chosen = [near]
        rest = cand[cand != near]
        chosen += list(rest[gumbel_topk(np.ones(rest.size), n_big - 1, rng)])
    big = np.asarray(chosen, dtype=np.int64)
    for dj in range(3):
        for di in range(3):
            m = (di < size[big]) & (dj < size[big])
            cell_type[ay[big][m] + dj, ax[big][m] + di] = PARK
    return n_central


def _riverside_green(lattice: Lattice, tf: np.ndarray, rng: np.random.Generator) -> None:
    """Turn about 30 % of the residential cells on the river banks into parks."""
    pair_a, pair_b = lattice.pair_a, lattice.pair_b
    res_now = tf == RES
    bank = np.zeros(lattice.n_cells, bool)
    riv = tf == RIVER
    bank[pair_a[riv[pair_b]]] = True
    bank[pair_b[riv[pair_a]]] = True
    tf[bank & res_now & (rng.random(lattice.n_cells) < 0.3)] = PARK


def _scatter_uses(lattice: Lattice, tf: np.ndarray, scale: float, target_res: float, rng: np.random.Generator) -> None:
    """Draw the small land uses on residential cells (schools per residents, others per land area)."""
    old, r_rel = lattice.old, lattice.r_rel

    def pick(kind: int, k: int, weight: np.ndarray) -> None:
        tf[gumbel_topk(np.where(tf == RES, weight, 0.0), k, rng)] = kind

    def near_block_centres(kind: int, k: int) -> None:
        tf[block_centres(lattice, tf, rng)[:k]] = kind

    n_land = int(is_land(tf).sum())
    ones = np.ones(lattice.n_cells)
    # a primary school and a pocket park near the centre of most super-blocks (the 10-minute circle)
    near_block_centres(PRIMARY, int(round(target_res / PRIMARY_PER_RESIDENTS)))
    near_block_centres(PARK, int(round(0.03 * n_land)))
    near_block_centres(MIDDLE, int(round(target_res / 20_000)))
    pick(SQUARE, int(round(0.012 * n_land)), 1 + old)
    pick(COMMERCIAL, int(round(0.035 * n_land)), 1 + 3 * old)
    pick(GOV, int(round(0.01 * n_land)), 1 + old)
    pick(HOSPITAL, int(round(0.006 * n_land)), ones)
    pick(SITE, max(1, int(round(12 * scale))), (r_rel > 0.5) * (r_rel < 0.95) + 1e-9)


def assign_land_use(
    lattice: Lattice,
    proj: Projection,
    cell_type: np.ndarray,
    street: np.ndarray,
    scale: float,
    rng: np.random.Generator,
) -> LandUse:
    """Assign the land use of the land cells.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice and the city centre (EPSG:4544, m).
    cell_type : numpy.ndarray
        Cell types ``(ny, nx)`` after stage 2 (not modified; a copy is returned).
    street : numpy.ndarray
        Street of each cell (stage 3).
    scale : float
        City scale; 600,000 residents at scale 1 set the number of schools and parks.
    rng : numpy.random.Generator
        The generator of the ``land_use`` stage.

    Returns
    -------
    LandUse
        Big parks (about one per 150,000 residents), a riverside green belt, pocket parks and primary
        schools (one per 7,500 residents) near the centres of the super-blocks, squares, middle schools
        (one per 20,000, near the centre of a super-block), commerce, government, hospitals and
        construction sites; isolated residential cells become commercial.
    """
    target_res = target_residents(scale)
    cell_type = cell_type.copy()
    tf = cell_type.ravel()  # view
    n_central = _big_parks(lattice, proj, cell_type, target_res, rng)
    _riverside_green(lattice, tf, rng)
    _scatter_uses(lattice, tf, scale, target_res, rng)
    # isolated residential cells (fewer than 3 in a same-street component) -> commercial
    res_m = tf == RES
    comp = lattice.components(res_m, street[lattice.pair_a] == street[lattice.pair_b])
    comp_size = np.bincount(comp, minlength=lattice.n_cells)
    tf[res_m & (comp_size[comp] < 3)] = COMMERCIAL
    return LandUse(cell_type=cell_type, n_central=n_central)
