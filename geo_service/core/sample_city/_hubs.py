"""Where a planner puts the service centres: a corner per community, a central cell per street and per super-block.

The walking network of the sample city is the street lattice plus one path through each block, so the walk from a
street corner to the centre of a block ``a`` blocks east and ``b`` blocks north is about ``|a| + |b|`` block widths
(Manhattan).  A community service centre (社区综合服务站 with the community office and the 5-minute facilities) sits
at the street corner reaching most of its community's residents within two block widths (blocks of 75-105 m: the
300 m walk of the 5-minute circle reaches two block widths from a corner everywhere, three in the old centre).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._constants import GOV, RES
from ._util import is_land
from .communities import Communities
from .lattice import Lattice
from .population import Units
from .streets import Streets

# (dj, di) offsets from a block (cell) to the street corners (vertices) within two block widths of its centre,
# with the Manhattan distance in block widths: 4 corners of the block (1), 8 corners one block further (2).
_OFFSETS = [(dj, di) for dj in (-1, 0, 1, 2) for di in (-1, 0, 1, 2)]
_REACH = [(0.5 if dj in (0, 1) else 1.5) + (0.5 if di in (0, 1) else 1.5) for dj, di in _OFFSETS]


@dataclass(frozen=True)
class CornerSites:
    """One street corner per community: the host cell (a unit of the community) and the corner's (u, v) in it.

    ``cu``/``cv`` are 0 or 1 (never both 1: the north-east quadrant of a cell is kept for small plan parcels).
    """

    cell: np.ndarray
    cu: np.ndarray
    cv: np.ndarray

    def positions(self, rng: np.random.Generator, near: float = 0.02, far: float = 0.09) -> tuple[np.ndarray, ...]:
        """(u, v) of a site a few metres from the corner, inside the host cell (one draw per community)."""
        k = self.cell.size
        du, dv = rng.uniform(near, far, k), rng.uniform(near, far, k)
        return np.where(self.cu == 1, 1.0 - du, du), np.where(self.cv == 1, 1.0 - dv, dv)

    def across_street(self, lattice: Lattice, tf: np.ndarray) -> CornerSites:
        """The same corners seen from the block across a street through them (itself where that is no land).

        A corner on the west or east side of the host block is taken from the block to the west or east (its
        south corner), a north corner from the block to the north (its south corner): never a north-east corner.
        """
        cj, ci = lattice.cj[self.cell], lattice.ci[self.cell]
        north = self.cv == 1
        nj = np.where(north, cj + 1, cj)
        ni = np.where(north, ci, np.where(self.cu == 1, ci + 1, ci - 1))
        ok = (nj >= 0) & (nj < lattice.ny) & (ni >= 0) & (ni < lattice.nx)
        other = np.where(ok, nj * lattice.nx + ni, self.cell)
        ok &= is_land(tf[other])
        cu = np.where(north, self.cu, 1 - self.cu)
        return CornerSites(
            np.where(ok, other, self.cell), np.where(ok, cu, self.cu), np.where(ok, 0, self.cv).astype(self.cv.dtype)
        )


def community_corners(lattice: Lattice, units: Units, comms: Communities, rng: np.random.Generator) -> CornerSites:
    """The street corner of each community reaching most of its residents within two block widths.

    Candidates are the corners of the community's own blocks (not their north-east corner); a corner's score is
    the community's residents whose block centre lies one block width (weight 1) or two (weight 0.85) from it.
    Ties are broken at random (``rng``).
    """
    nxv = lattice.nx + 1
    uj, ui = lattice.cj[units.unit_cell], lattice.ci[units.unit_cell]
    comm = comms.unit_comm
    w = units.residents.astype(float)
    keys, weights = [], []
    for (dj, di), reach in zip(_OFFSETS, _REACH):
        if reach > 2:
            continue
        keys.append(((uj + dj) * nxv + (ui + di)) * comms.n_comm + comm)
        weights.append(w * (1.0 if reach == 1 else 0.85))
    all_keys = np.concatenate(keys)
    uniq, inv = np.unique(all_keys, return_inverse=True)
    score = np.bincount(inv, weights=np.concatenate(weights))
    # candidates: the SW, SE and NW corners of every unit's block
    cand_unit = np.tile(np.arange(units.n_units), 3)
    cand_dj = np.repeat([0, 0, 1], units.n_units)
    cand_di = np.repeat([0, 1, 0], units.n_units)
    cand_key = ((uj[cand_unit] + cand_dj) * nxv + (ui[cand_unit] + cand_di)) * comms.n_comm + comm[cand_unit]
    cand_score = score[np.searchsorted(uniq, cand_key)] + rng.uniform(0, 1e-6, cand_key.size)
    order = np.lexsort((-cand_score, comm[cand_unit]))
    first = np.ones(order.size, bool)
    first[1:] = comm[cand_unit][order][1:] != comm[cand_unit][order][:-1]
    best = order[first]  # one per community, in community order
    return CornerSites(units.unit_cell[cand_unit[best]], cand_di[best], cand_dj[best])


def _central(group: np.ndarray, cells: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """Per group, the cell of ``cells`` nearest the group's ``w``-weighted centre (-1 for an empty group)."""
    sw = np.bincount(group, weights=w, minlength=n)
    gx = np.bincount(group, weights=w * x, minlength=n) / np.maximum(sw, 1e-9)
    gy = np.bincount(group, weights=w * y, minlength=n) / np.maximum(sw, 1e-9)
    d = np.hypot(x - gx[group], y - gy[group])
    order = np.lexsort((d, group))
    first = np.ones(order.size, bool)
    first[1:] = group[order][1:] != group[order][:-1]
    out = np.full(n, -1, dtype=np.int64)
    out[group[order[first]]] = cells[order[first]]
    return out


def street_centres(lattice: Lattice, tf: np.ndarray, streets: Streets, units: Units) -> np.ndarray:
    """Host cell of each street's centre (街道办事处 and the 15-minute facilities).

    The government cell (机关团体用地) of the street nearest its residents' centre when it lies within 250 m of
    it, else the unit nearest that centre.
    """
    n = streets.n_streets
    res = units.residents.astype(float)
    sw = np.bincount(units.unit_street, weights=res, minlength=n)
    gx = np.bincount(units.unit_street, weights=res * units.ux, minlength=n) / np.maximum(sw, 1e-9)
    gy = np.bincount(units.unit_street, weights=res * units.uy, minlength=n) / np.maximum(sw, 1e-9)
    host = _central(units.unit_street, units.unit_cell, units.ux, units.uy, res, n)
    gov = np.flatnonzero(tf == GOV)
    gs = streets.street[gov]
    gov_host = _central(gs, gov, lattice.cell_x[gov], lattice.cell_y[gov], np.ones(gov.size), n)
    ok = gov_host >= 0
    dist = np.full(n, np.inf)
    dist[ok] = np.hypot(lattice.cell_x[gov_host[ok]] - gx[ok], lattice.cell_y[gov_host[ok]] - gy[ok])
    return np.where(dist < 250.0, gov_host, host)


def super_blocks(lattice: Lattice) -> tuple[np.ndarray, int]:
    """The super-block (cells between two arterials each way) of every cell and their number."""
    bj = np.searchsorted(lattice.art_y_lines, lattice.cj, side="right")
    bi = np.searchsorted(lattice.art_x_lines, lattice.ci, side="right")
    n_bi = lattice.art_x_lines.size + 1
    return bj * n_bi + bi, (lattice.art_y_lines.size + 1) * n_bi


def block_centres(lattice: Lattice, tf: np.ndarray, rng: np.random.Generator, min_res: int = 6) -> np.ndarray:
    """The residential cell nearest the centre of each super-block with at least ``min_res`` residential cells.

    Returned in random order (``rng``), so that taking the first ``k`` spreads ``k`` sites over the city.
    """
    block, n_blocks = super_blocks(lattice)
    res = np.flatnonzero(tf == RES)
    count = np.bincount(block[res], minlength=n_blocks)
    cx, cy = lattice.cell_x, lattice.cell_y
    all_cells = np.arange(lattice.n_cells)
    ones = np.ones(lattice.n_cells)
    # centre of the whole super-block (all its cells), then its nearest residential cell
    centre_cell = _central(block, all_cells, cx, cy, ones, n_blocks)
    bx = np.where(centre_cell >= 0, cx[np.maximum(centre_cell, 0)], 0.0)
    by = np.where(centre_cell >= 0, cy[np.maximum(centre_cell, 0)], 0.0)
    d = np.hypot(cx[res] - bx[block[res]], cy[res] - by[block[res]])
    order = np.lexsort((d, block[res]))
    first = np.ones(order.size, bool)
    first[1:] = block[res][order][1:] != block[res][order][:-1]
    picked = res[order[first]]
    picked = picked[count[block[picked]] >= min_res]
    return picked[rng.permutation(picked.size)]
