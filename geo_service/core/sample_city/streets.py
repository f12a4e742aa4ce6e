"""Stage 3: streets (街道) grown from k-means seeds over arterial super-block pieces, and counties."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from ._constants import CELLS_PER_STREET, COUNTY_CODE_BASE, RAIL, RIVER, STREET_NAMES, VOID
from ._util import cn_number, combo_names, gumbel_topk, is_land, sadd
from .lattice import Lattice


@dataclass(frozen=True)
class Streets:
    """Streets and counties.

    ``street`` gives the street of every cell (``-1`` outside the county).  Street arrays
    (``s_*``, ``street_codes``, ``street_names``) are in street order: county, then north to
    south in 2 km bands, then west to east.  ``s_x``, ``s_y`` are area-weighted centroids
    (m, EPSG:4544).
    """

    street: np.ndarray
    in_county: np.ndarray
    county_idx: np.ndarray
    n_streets: int
    s_x: np.ndarray
    s_y: np.ndarray
    s_county: np.ndarray
    n_counties: int
    county_codes: np.ndarray
    county_names: np.ndarray
    street_codes: np.ndarray
    street_names: np.ndarray


@dataclass(frozen=True)
class _Pieces:
    """Land cells grouped into arterial-bounded pieces, within zones separated by the barriers."""

    land: np.ndarray  # land mask of the cells
    zone: np.ndarray  # zone of each cell (-1 off land)
    n_zones: int
    piece: np.ndarray  # piece of each cell (-1 off land)
    n_pieces: int
    p_w: np.ndarray  # piece area (m²)
    p_x: np.ndarray  # piece centroid (m)
    p_y: np.ndarray
    p_zone: np.ndarray
    graph: sparse.csr_matrix  # piece adjacency weighted by centroid distance (m)


def _pieces(lattice: Lattice, cell_type: np.ndarray) -> _Pieces:
    """Zones (4-connected land) and their pieces (land within one arterial super-block)."""
    pair_a, pair_b, n_cells = lattice.pair_a, lattice.pair_b, lattice.n_cells
    cell_area, cell_x, cell_y = lattice.cell_area, lattice.cell_x, lattice.cell_y
    land = is_land(cell_type.ravel())
    zone_raw = lattice.components(land, np.ones(pair_a.size, bool))
    zone_ids, zone_of_land = np.unique(zone_raw[land], return_inverse=True)
    zone = np.full(n_cells, -1, dtype=np.int64)
    zone[land] = zone_of_land

    bi = np.searchsorted(lattice.art_x_lines, lattice.ci, side="right")
    bj = np.searchsorted(lattice.art_y_lines, lattice.cj, side="right")
    block = bj * (lattice.art_x_lines.size + 1) + bi
    piece_raw = lattice.components(land, block[pair_a] == block[pair_b])
    _, piece_of_land = np.unique(piece_raw[land], return_inverse=True)
    piece = np.full(n_cells, -1, dtype=np.int64)
    piece[land] = piece_of_land
    n_pieces = int(piece_of_land.max()) + 1
    land_idx = np.flatnonzero(land)
    p_w = np.bincount(piece[land_idx], weights=cell_area[land_idx], minlength=n_pieces)
    p_x = np.bincount(piece[land_idx], weights=cell_x[land_idx] * cell_area[land_idx], minlength=n_pieces) / p_w
    p_y = np.bincount(piece[land_idx], weights=cell_y[land_idx] * cell_area[land_idx], minlength=n_pieces) / p_w
    p_zone = np.zeros(n_pieces, dtype=np.int64)
    p_zone[piece[land_idx]] = zone[land_idx]

    m = land[pair_a] & land[pair_b] & (piece[pair_a] != piece[pair_b])
    pa, pb = piece[pair_a[m]], piece[pair_b[m]]
    key = np.unique(np.minimum(pa, pb) * n_pieces + np.maximum(pa, pb))
    pa, pb = key // n_pieces, key % n_pieces
    pw = np.hypot(p_x[pa] - p_x[pb], p_y[pa] - p_y[pb]) + 1.0
    graph = sparse.csr_matrix((pw, (pa, pb)), shape=(n_pieces, n_pieces))
    return _Pieces(land, zone, zone_ids.size, piece, n_pieces, p_w, p_x, p_y, p_zone, graph)


def _seed_pieces(pc: _Pieces, rng: np.random.Generator) -> np.ndarray:
    """Seed piece of each street: weighted k-means per zone (about 240 cells per street)."""
    land_idx = np.flatnonzero(pc.land)
    zone_cells = np.bincount(pc.zone[land_idx], minlength=pc.n_zones)
    k_zone = np.maximum(1, np.round(zone_cells / CELLS_PER_STREET)).astype(int)
    seeds = []
    for z in range(pc.n_zones):  # a handful of zones (river / railway banks)
        pz = np.flatnonzero(pc.p_zone == z)
        pts = np.column_stack([pc.p_x[pz], pc.p_y[pz]])
        k = int(min(k_zone[z], pz.size))
        cen = pts[gumbel_topk(pc.p_w[pz], k, rng)]
        for _ in range(10):  # Lloyd iterations (weighted k-means)
            _, lab = cKDTree(cen).query(pts)
            w = np.bincount(lab, weights=pc.p_w[pz], minlength=k)
            ok = w > 0
            cen[ok, 0] = np.bincount(lab, weights=pc.p_w[pz] * pts[:, 0], minlength=k)[ok] / w[ok]
            cen[ok, 1] = np.bincount(lab, weights=pc.p_w[pz] * pts[:, 1], minlength=k)[ok] / w[ok]
        _, near = cKDTree(pts).query(cen)
        seeds.append(pz[np.unique(near)])
    return np.concatenate(seeds)


def _grow_streets(lattice: Lattice, cell_type: np.ndarray, pc: _Pieces, seed_pieces: np.ndarray) -> np.ndarray:
    """Street of each cell: multi-source Dijkstra over the pieces; barrier cells join a neighbour."""
    _, _, src = csgraph.dijkstra(pc.graph, directed=False, indices=seed_pieces, min_only=True, return_predecessors=True)
    seed_rank = np.full(pc.n_pieces, -1, dtype=np.int64)
    seed_rank[seed_pieces] = np.arange(seed_pieces.size)
    piece_street = seed_rank[src]
    assert (piece_street >= 0).all()
    land_idx = np.flatnonzero(pc.land)
    street = np.full(lattice.n_cells, -1, dtype=np.int64)
    street[land_idx] = piece_street[pc.piece[land_idx]]
    # barrier cells join the street of a west (else east) neighbour
    tf = cell_type.ravel()
    ci = lattice.ci
    barrier_idx = np.flatnonzero((tf == RIVER) | (tf == RAIL))
    for _ in range(6):
        todo = barrier_idx[street[barrier_idx] < 0]
        if todo.size == 0:
            break
        w_nb = np.where(ci[todo] > 0, todo - 1, todo)
        e_nb = np.where(ci[todo] < lattice.nx - 1, todo + 1, todo)
        street[todo] = np.where(street[w_nb] >= 0, street[w_nb], street[e_nb])
    return street


def _street_names(n_streets: int, rng: np.random.Generator) -> np.ndarray:
    """Street names: the fixed list first, synthetic two-character names beyond, + 街道."""
    pool = combo_names(rng, n_streets, distinct=True)
    first = np.array(STREET_NAMES[: min(n_streets, len(STREET_NAMES))], dtype=pool.dtype if pool.size else "U4")
    base_names = np.concatenate([first, pool[first.size :]]) if n_streets else pool
    return np.strings.add(base_names.astype(str), "街道")


def _number_streets(
    lattice: Lattice, street: np.ndarray, in_county: np.ndarray, n_streets: int, rng: np.random.Generator
) -> Streets:
    """Group streets into counties (at most 999 each, west to east), renumber them and name them."""
    cell_area, cell_x, cell_y = lattice.cell_area, lattice.cell_x, lattice.cell_y
    county_idx = np.flatnonzero(in_county)
    sc = street[county_idx]
    s_area = np.bincount(sc, weights=cell_area[county_idx], minlength=n_streets)
    s_x = np.bincount(sc, weights=cell_x[county_idx] * cell_area[county_idx], minlength=n_streets) / s_area
    s_y = np.bincount(sc, weights=cell_y[county_idx] * cell_area[county_idx], minlength=n_streets) / s_area
    # counties of at most 999 streets (only at very large scales), west to east
    n_counties = max(1, math.ceil(n_streets / 999))
    s_county = np.minimum(
        (np.argsort(np.argsort(s_x, kind="stable"), kind="stable") * n_counties) // n_streets, n_counties - 1
    )
    # renumber streets: county, then north to south in 2 km bands, west to east
    order = np.lexsort((s_x, -np.floor(s_y / 2000.0), s_county))
    renum = np.empty(n_streets, dtype=np.int64)
    renum[order] = np.arange(n_streets)
    street[county_idx] = renum[street[county_idx]]
    s_x, s_y, s_county = s_x[order], s_y[order], s_county[order]
    county_codes = np.array([str(COUNTY_CODE_BASE - k) for k in range(n_counties)])
    county_names = np.array(["德阳示例区"] + [f"德阳示例{cn_number(k + 1)}区" for k in range(1, n_counties)])
    s_seq = np.zeros(n_streets, dtype=np.int64)
    for k in range(n_counties):
        sel = np.flatnonzero(s_county == k)
        s_seq[sel] = np.arange(1, sel.size + 1)
    street_codes = sadd(county_codes[s_county], np.strings.zfill(s_seq.astype(str), 3))
    return Streets(
        street=street,
        in_county=in_county,
        county_idx=county_idx,
        n_streets=n_streets,
        s_x=s_x,
        s_y=s_y,
        s_county=s_county,
        n_counties=n_counties,
        county_codes=county_codes,
        county_names=county_names,
        street_codes=street_codes,
        street_names=_street_names(n_streets, rng),
    )


def build_streets(lattice: Lattice, cell_type: np.ndarray, rng: np.random.Generator) -> Streets:
    """Partition the county into contiguous streets (街道) and the streets into counties.

    Parameters
    ----------
    lattice : Lattice
        The lattice (EPSG:4544, m).
    cell_type : numpy.ndarray
        Cell types ``(ny, nx)`` after stage 2 (county, river, railway).
    rng : numpy.random.Generator
        The generator of the ``streets`` stage.

    Returns
    -------
    Streets
        About one street per 240 cells (about 11 streets, 1.8 km² each, at scale 1); streets never
        cross the river or the railway except for the barrier cells themselves.
    """
    pc = _pieces(lattice, cell_type)
    seed_pieces = _seed_pieces(pc, rng)
    street = _grow_streets(lattice, cell_type, pc, seed_pieces)
    in_county = cell_type.ravel() != VOID
    county_idx = np.flatnonzero(in_county)
    assert (street[county_idx] >= 0).all()
    return _number_streets(lattice, street, in_county, seed_pieces.size, rng)
