"""Stage 6: the existing (deliberately uneven) community plan: contiguous groups of units of one street."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ._constants import COMMUNITY_TARGET_HH, WORKERS_PER_10K
from ._util import combo_names, group_starts, sadd
from .lattice import Lattice, Projection
from .population import Units
from .streets import Streets


@dataclass(frozen=True)
class Communities:
    """Communities in order of street, then north to south (500 m bands), west to east of their seed.

    ``unit_comm`` is the community of each unit; ``comm_hh`` households, ``comm_res`` residents and
    ``comm_workers`` community workers per community; ``units_order``/``units_count``/``units_start``
    list the units of each community.
    """

    unit_comm: np.ndarray
    n_comm: int
    comm_street: np.ndarray
    comm_hh: np.ndarray
    comm_res: np.ndarray
    comm_codes: np.ndarray
    comm_names: np.ndarray
    has_office: np.ndarray
    comm_workers: np.ndarray
    units_order: np.ndarray
    units_count: np.ndarray
    units_start: np.ndarray

    def random_unit_of(self, comms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random unit of each community in ``comms``."""
        off = np.floor(rng.random(comms.size) * self.units_count[comms]).astype(np.int64)
        return self.units_order[self.units_start[comms] + off]


@dataclass(frozen=True)
class _UnitGraph:
    """Adjacency of units of the same street, weighted by jittered centre distance (m)."""

    ua: np.ndarray
    ub: np.ndarray
    uw: np.ndarray
    graph: sparse.csr_matrix
    n_ucomp: int
    ucomp: np.ndarray  # connected component of each unit
    comp_hh: np.ndarray  # households per component


def _unit_graph(lattice: Lattice, units: Units, rng: np.random.Generator) -> _UnitGraph:
    """The unit adjacency graph (4-neighbour cells of one street) and its components."""
    uoc, unit_street, ux, uy = units.unit_of_cell, units.unit_street, units.ux, units.uy
    ua = uoc[lattice.pair_a]
    ub = uoc[lattice.pair_b]
    m = (ua >= 0) & (ub >= 0)
    ua, ub = ua[m], ub[m]
    m = unit_street[ua] == unit_street[ub]
    ua, ub = ua[m], ub[m]
    uw = np.hypot(ux[ua] - ux[ub], uy[ua] - uy[ub]) * rng.lognormal(0, 0.35, ua.size)
    graph = sparse.csr_matrix((uw, (ua, ub)), shape=(units.n_units, units.n_units))
    n_ucomp, ucomp = csgraph.connected_components(graph, directed=False)
    comp_hh = np.bincount(ucomp, weights=units.households, minlength=n_ucomp)
    return _UnitGraph(ua, ub, uw, graph, n_ucomp, ucomp, comp_hh)


def _initial_seeds(
    lattice: Lattice, proj: Projection, streets: Streets, units: Units, ug: _UnitGraph, rng: np.random.Generator
) -> np.ndarray:
    """Random seed units: per component, households / target (about 1,800 households, more in the centre)."""
    n_units, n_ucomp, ucomp = units.n_units, ug.n_ucomp, ug.ucomp
    comp_street = np.zeros(n_ucomp, dtype=np.int64)
    comp_street[ucomp] = units.unit_street
    street_target = COMMUNITY_TARGET_HH * np.clip(rng.lognormal(0, 0.15, streets.n_streets), 0.7, 1.4)
    street_target *= 1 + 0.3 * np.exp(
        -((np.hypot(streets.s_x - proj.x0, streets.s_y - proj.y0) / (0.35 * lattice.r_city)) ** 2)
    )  # larger in the old centre
    k_comp = np.maximum(1, np.round(ug.comp_hh / street_target[comp_street])).astype(np.int64)
    keys = rng.random(n_units)
    order_u = np.lexsort((keys, ucomp))
    _, _, cstart = group_starts(ucomp, n_ucomp)
    rank = np.empty(n_units, dtype=np.int64)
    rank[order_u] = np.arange(n_units) - cstart[ucomp[order_u]]
    return np.flatnonzero(rank < k_comp[ucomp])


def _lloyd_seeds(units: Units, ug: _UnitGraph, seed_units: np.ndarray) -> np.ndarray:
    """Graph Lloyd: grow regions, move each seed to the unit nearest the region's centroid."""
    n_units, households, ux, uy = units.n_units, units.households, units.ux, units.uy
    for _ in range(4):
        _, _, usrc = csgraph.dijkstra(
            ug.graph, directed=False, indices=seed_units, min_only=True, return_predecessors=True
        )
        n_s = seed_units.size
        srank = np.full(n_units, -1, dtype=np.int64)
        srank[seed_units] = np.arange(n_s)
        reg = srank[usrc]
        w = np.bincount(reg, weights=households, minlength=n_s)
        gx = np.bincount(reg, weights=households * ux, minlength=n_s) / w
        gy = np.bincount(reg, weights=households * uy, minlength=n_s) / w
        d = np.hypot(ux - gx[reg], uy - gy[reg])
        best = np.lexsort((d, reg))
        first_of = np.concatenate([[True], reg[best][1:] != reg[best][:-1]])
        seed_units = np.sort(best[first_of])
    return seed_units


def _weighted_regions(n_units: int, ug: _UnitGraph, seed_units: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Root seed of each unit in the additively weighted graph Voronoi diagram with ``offset`` per seed."""
    vnode = n_units
    g_ext = sparse.csr_matrix(
        (
            np.concatenate([ug.uw, offset - offset.min() + 1e-3]),
            (np.concatenate([ug.ua, np.full(seed_units.size, vnode)]), np.concatenate([ug.ub, seed_units])),
        ),
        shape=(n_units + 1, n_units + 1),
    )
    _, upred = csgraph.dijkstra(g_ext, directed=False, indices=vnode, return_predecessors=True)
    anc = upred[:n_units].copy()
    root = (anc == vnode) | (anc < 0)
    anc[root] = np.flatnonzero(root)
    for _ in range(64):  # pointer jumping to the root seed of each Dijkstra tree
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    return anc


def _balanced_regions(units: Units, ug: _UnitGraph, seed_units: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Root seed of each unit in household-balanced regions with deliberately uneven targets.

    Additively weighted graph Voronoi (a virtual source linked to each seed with an offset); the
    offsets are tuned so each region approaches its target.  Every region is a Dijkstra tree
    rooted at its seed, hence contiguous.
    """
    n_units = units.n_units
    n_s = seed_units.size
    kind = rng.random(n_s)
    factor = np.where(
        kind < 0.1,
        rng.uniform(1.9, 2.8, n_s),
        np.where(kind < 0.2, rng.uniform(0.25, 0.45, n_s), rng.lognormal(0, 0.15, n_s)),
    )
    s_comp = ug.ucomp[seed_units]
    target = factor * (ug.comp_hh / np.bincount(s_comp, weights=factor, minlength=ug.n_ucomp))[s_comp]
    offset = np.zeros(n_s)
    srank = np.full(n_units, -1, dtype=np.int64)
    srank[seed_units] = np.arange(n_s)
    for it in range(14):
        anc = _weighted_regions(n_units, ug, seed_units, offset)
        hh_s = np.bincount(srank[anc], weights=units.households, minlength=n_s)
        offset += (120.0 * 0.88**it) * np.clip(np.log(np.maximum(hh_s, 1.0) / target), -1.0, 1.0)
    return _weighted_regions(n_units, ug, seed_units, offset)


def _describe(streets: Streets, units: Units, anc: np.ndarray, rng: np.random.Generator) -> Communities:
    """Order, number and name the communities; households, residents, offices and workers."""
    ux, uy, unit_street = units.ux, units.uy, units.unit_street
    seed_units = np.unique(anc)
    # order communities: street, then north to south, west to east of the seed
    sorder = np.lexsort((ux[seed_units], -np.floor(uy[seed_units] / 500.0), unit_street[seed_units]))
    seed_units = seed_units[sorder]
    srank = np.full(units.n_units, -1, dtype=np.int64)
    srank[seed_units] = np.arange(seed_units.size)
    unit_comm = srank[anc]
    assert (unit_comm >= 0).all()
    n_comm = seed_units.size
    comm_street = unit_street[seed_units]
    comm_hh = np.bincount(unit_comm, weights=units.households, minlength=n_comm).astype(np.int64)
    comm_res = np.bincount(unit_comm, weights=units.residents, minlength=n_comm).astype(np.int64)
    comm_seq = np.arange(n_comm) - np.searchsorted(comm_street, comm_street)  # comm_street is sorted
    comm_codes = sadd(streets.street_codes[comm_street], np.strings.zfill((comm_seq + 1).astype(str), 3))
    name_pool = combo_names(rng, max(n_comm, 1), distinct=True)
    has_office = rng.random(n_comm) >= 0.1
    staff_factor = rng.lognormal(0, 0.2, n_comm) * np.where(rng.random(n_comm) < 0.12, 0.55, 1.0)
    comm_workers = np.maximum(3, np.round(comm_res * WORKERS_PER_10K / 10_000 * staff_factor)).astype(np.int64)
    units_order, units_count, units_start = group_starts(unit_comm, n_comm)
    return Communities(
        unit_comm=unit_comm,
        n_comm=n_comm,
        comm_street=comm_street,
        comm_hh=comm_hh,
        comm_res=comm_res,
        comm_codes=comm_codes,
        comm_names=np.strings.add(name_pool[:n_comm], "社区"),
        has_office=has_office,
        comm_workers=comm_workers,
        units_order=units_order,
        units_count=units_count,
        units_start=units_start,
    )


def build_communities(
    lattice: Lattice, proj: Projection, streets: Streets, units: Units, rng: np.random.Generator
) -> Communities:
    """Group the units into the existing (uneven on purpose) communities.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice and the city centre (EPSG:4544, m).
    streets : Streets
        Streets (communities never cross a street boundary).
    units : Units
        Population units with households.
    rng : numpy.random.Generator
        The generator of the ``communities`` stage.

    Returns
    -------
    Communities
        Contiguous groups of whole units of one street, about 1,800 households each (about 120
        communities at scale 1); about 10 % are 2-3 times too large and 10 % far too small.
        Workers: about 18 per 10,000 residents.
    """
    ug = _unit_graph(lattice, units, rng)
    seed_units = _initial_seeds(lattice, proj, streets, units, ug, rng)
    seed_units = _lloyd_seeds(units, ug, seed_units)
    anc = _balanced_regions(units, ug, seed_units, rng)
    return _describe(streets, units, anc, rng)
