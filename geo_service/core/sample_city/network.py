"""Stage 11: the lattice edges (streets, bridges, underpasses) and the walking network."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from ._constants import MIDDLE, PARK, PRIMARY, RAIL, RIVER, SQUARE, VOID
from ._names import LineNames
from ._util import is_land
from .lattice import Lattice, Projection

KERB_EVERY = 40
"""Every this-many-th path (from a cell centre to its street) meets the street over a raised kerb; the others
over a lowered one."""


@dataclass(frozen=True)
class LatticeEdges:
    """The kept lattice edges: horizontal ones (row-major) then vertical ones.

    ``e_a``/``e_b`` are flat vertex indices into the ``(ny + 1, nx + 1)`` vertex grid;
    ``e_barrier`` is the barrier type crossed (``RIVER``/``RAIL``, else 0); ``h_eid``/``v_eid``
    map horizontal ``(ny + 1, nx)`` and vertical ``(ny, nx + 1)`` edges to edge ids (``-1``: dropped).
    """

    e_a: np.ndarray
    e_b: np.ndarray
    e_bridge: np.ndarray
    e_barrier: np.ndarray
    e_art: np.ndarray
    e_names: np.ndarray
    e_base: np.ndarray
    e_class: np.ndarray  # "crossing", "arterial" or "local"
    h_eid: np.ndarray
    v_eid: np.ndarray


@dataclass(frozen=True)
class Network:
    """The walking network (EPSG:4326; edge lengths in m)."""

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    n_nodes: int
    n_crossing: int  # edges of class "crossing" (bridges / underpasses)


def _bridges(lattice: Lattice, tp: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept horizontal edges, those of them that are bridges / underpasses, and the kept vertical edges.

    Every arterial line, about 6 % of the local lines, at least 2 per barrier; a bridge must
    land on vertices that have ordinary edges on both ends.  ``tp`` is the padded cell-type grid.
    """
    nx, ny, is_art_y = lattice.nx, lattice.ny, lattice.is_art_y
    walk = is_land(tp)
    # horizontal edges (ny+1, nx): V[j,i] -> V[j,i+1]; cells below (j-1,i) and above (j,i)
    h_below, h_above = tp[0 : ny + 1, 1 : nx + 1], tp[1 : ny + 2, 1 : nx + 1]
    h_normal = walk[0 : ny + 1, 1 : nx + 1] | walk[1 : ny + 2, 1 : nx + 1]
    h_cand = (h_below == h_above) & ((h_below == RIVER) | (h_below == RAIL))
    # vertical edges (ny, nx+1): V[j,i] -> V[j+1,i]; cells left (j,i-1) and right (j,i)
    v_normal = walk[1 : ny + 1, 0 : nx + 1] | walk[1 : ny + 1, 1 : nx + 2]
    jl = np.broadcast_to(np.arange(ny + 1)[:, None], h_cand.shape)
    h_bridge = h_cand & (is_art_y[jl] | (rng.random(h_cand.shape) < 0.06))
    for kind in (RIVER, RAIL):
        kc = h_cand & (h_below == kind)
        if (h_bridge & kc).sum() < 2:
            rows = np.flatnonzero(kc.any(1))
            for r_ in rows[[len(rows) // 3, (2 * len(rows)) // 3]] if rows.size >= 2 else rows:
                h_bridge[r_] |= kc[r_]
    # defensive: a bridge must land on vertices that have ordinary edges on both ends
    normal_deg = np.zeros((ny + 1, nx + 1), dtype=np.int64)
    np.add.at(normal_deg, np.nonzero(h_normal), 1)
    hn_j, hn_i = np.nonzero(h_normal)
    np.add.at(normal_deg, (hn_j, hn_i + 1), 1)
    vn_j, vn_i = np.nonzero(v_normal)
    np.add.at(normal_deg, (vn_j, vn_i), 1)
    np.add.at(normal_deg, (vn_j + 1, vn_i), 1)
    h_bridge &= (normal_deg[:, :-1] > 0) & (normal_deg[:, 1:] > 0)
    return h_normal | h_bridge, h_bridge, v_normal


def lattice_edges(lattice: Lattice, cell_type: np.ndarray, names: LineNames, rng: np.random.Generator) -> LatticeEdges:
    """Select the lattice edges that are streets, bridges or underpasses.

    Parameters
    ----------
    lattice : Lattice
        The lattice.
    cell_type : numpy.ndarray
        Cell types ``(ny, nx)`` after stage 4; an edge is kept if it borders a land cell.
    names : LineNames
        Road names of the lattice edges.
    rng : numpy.random.Generator
        The generator of the ``network`` stage (drawn first in that stage).

    Returns
    -------
    LatticeEdges
    """
    nx, ny = lattice.nx, lattice.ny
    tp = np.full((ny + 2, nx + 2), VOID, dtype=np.int16)
    tp[1:-1, 1:-1] = cell_type
    h_keep, h_bridge, v_keep = _bridges(lattice, tp, rng)
    h_below = tp[0 : ny + 1, 1 : nx + 1]
    nvx = nx + 1
    h_j, h_i = np.nonzero(h_keep)
    v_j, v_i = np.nonzero(v_keep)
    e_bridge = np.concatenate([h_bridge[h_j, h_i], np.zeros(v_j.size, bool)])
    e_art = np.concatenate([lattice.is_art_y[h_j], lattice.is_art_x[v_i]])
    h_eid = np.full(h_keep.shape, -1, dtype=np.int64)
    h_eid[h_j, h_i] = np.arange(h_j.size)
    v_eid = np.full(v_keep.shape, -1, dtype=np.int64)
    v_eid[v_j, v_i] = h_j.size + np.arange(v_j.size)
    return LatticeEdges(
        e_a=np.concatenate([h_j * nvx + h_i, v_j * nvx + v_i]),
        e_b=np.concatenate([h_j * nvx + h_i + 1, (v_j + 1) * nvx + v_i]),
        e_bridge=e_bridge,
        e_barrier=np.concatenate([h_below[h_j, h_i], np.zeros(v_j.size, np.int16)]),
        e_art=e_art,
        e_names=np.concatenate([names.h_names[h_j, h_i], names.v_names[v_j, v_i]]),
        e_base=np.concatenate([names.yline_base[h_j], names.xline_base[v_i]]),
        e_class=np.where(e_bridge, "crossing", np.where(e_art, "arterial", "local")).astype(object),
        h_eid=h_eid,
        v_eid=v_eid,
    )


def road_names(edges: LatticeEdges) -> np.ndarray:
    """The road name of each kept lattice edge: its line's name; bridges 大桥 (arterial) or 人行桥 over the river,
    铁路下穿通道 under the railway."""
    bridge_suffix = np.where(edges.e_barrier == RIVER, np.where(edges.e_art, "大桥", "人行桥"), "铁路下穿通道")
    return np.where(edges.e_bridge, np.strings.add(edges.e_base, bridge_suffix), edges.e_names)


def footbridge_steps(edges: LatticeEdges) -> np.ndarray:
    """Which kept lattice edges are flights of steps: the crossings of local lines, footbridges over the river
    (人行桥) and pedestrian underpasses of the railway; the arterials' bridges and underpasses have ramps."""
    return edges.e_bridge & ~edges.e_art


def _cell_paths(
    lattice: Lattice, tf: np.ndarray, edges: LatticeEdges, wcells: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Paths from the centre of each walkable cell to side midpoints: (cell rank, edge id) pairs.

    Parks, squares and schools get all 4 sides; other cells N-S or E-W at random.
    """
    n_w = wcells.size
    wj, wi = lattice.cj[wcells], lattice.ci[wcells]
    side_s, side_n = edges.h_eid[wj, wi], edges.h_eid[wj + 1, wi]
    side_w, side_e = edges.v_eid[wj, wi], edges.v_eid[wj, wi + 1]
    four = np.isin(tf[wcells], [PARK, SQUARE, PRIMARY, MIDDLE])
    ns = rng.random(n_w) < 0.5
    use_s = four | ns
    use_w = four | ~ns
    rank = np.arange(n_w)
    p_from = np.concatenate([rank[use_s], rank[use_s], rank[use_w], rank[use_w]])
    p_side = np.concatenate([side_s[use_s], side_n[use_s], side_w[use_w], side_e[use_w]])
    assert (p_side >= 0).all()
    return p_from, p_side


def walking_network(
    lattice: Lattice, proj: Projection, tf: np.ndarray, edges: LatticeEdges, rng: np.random.Generator
) -> Network:
    """Build the walking network: lattice vertices, edge midpoints and centres of walkable cells.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice (EPSG:4544, m) and the CRS conversion.
    tf : numpy.ndarray
        Cell types (flat) after stage 4.
    edges : LatticeEdges
        The kept lattice edges; each is split at its midpoint.
    rng : numpy.random.Generator
        The generator of the ``network`` stage (after :func:`lattice_edges`).

    Returns
    -------
    Network
        Nodes (``node_idx``) and edges (``u``, ``v``, ``length_m`` in m, ``road_class``, ``name``; ``steps``: the
        crossings of local lines; ``kerb``: where a path meets its street, raised on every :data:`KERB_EVERY`-th),
        EPSG:4326.
    """
    e_a, e_b = edges.e_a, edges.e_b
    n_e = e_a.size
    used = np.zeros(lattice.vx.size, bool)
    used[e_a] = True
    used[e_b] = True
    vmap = np.cumsum(used) - 1
    n_v = int(used.sum())
    vx, vy = lattice.vx.ravel(), lattice.vy.ravel()
    # midpoints (metric), centres of walkable cells
    mx, my = 0.5 * (vx[e_a] + vx[e_b]), 0.5 * (vy[e_a] + vy[e_b])
    wcells = np.flatnonzero(is_land(tf))
    px_, py_ = lattice.cell_x[wcells], lattice.cell_y[wcells]
    nx_ = np.concatenate([vx[used], mx, px_])
    ny_ = np.concatenate([vy[used], my, py_])
    mlon, mlat = proj.lonlat(np.concatenate([mx, px_]), np.concatenate([my, py_]))
    nlon = np.concatenate([lattice.vlon.ravel()[used], mlon])
    nlat = np.concatenate([lattice.vlat.ravel()[used], mlat])
    n_nodes = nx_.size
    mid_node = n_v + np.arange(n_e)
    cen_node = n_v + n_e + np.arange(wcells.size)
    p_from, p_side = _cell_paths(lattice, tf, edges, wcells, rng)
    eu = np.concatenate([vmap[e_a], mid_node, cen_node[p_from]])
    ev = np.concatenate([mid_node, vmap[e_b], mid_node[p_side]])
    eclass = np.concatenate([edges.e_class, edges.e_class, np.full(p_from.size, "path", dtype=object)])
    names = road_names(edges).astype(object)
    ename = np.concatenate([names, names, np.full(p_from.size, None, dtype=object)])
    on_steps = footbridge_steps(edges)
    esteps = np.concatenate([on_steps, on_steps, np.zeros(p_from.size, dtype=bool)])
    path_kerb = np.where(np.arange(p_from.size) % KERB_EVERY == KERB_EVERY // 2, "raised", "lowered").astype(object)
    ekerb = np.concatenate([np.full(2 * n_e, None, dtype=object), path_kerb])
    elen = np.hypot(nx_[eu] - nx_[ev], ny_[eu] - ny_[ev])
    coords = np.stack([np.stack([nlon[eu], nlat[eu]], -1), np.stack([nlon[ev], nlat[ev]], -1)], 1)
    network_edges = gpd.GeoDataFrame(
        {
            "u": eu.astype(np.int64),
            "v": ev.astype(np.int64),
            "length_m": elen,
            "road_class": eclass,
            "osm_way_id": np.full(eu.size, None, dtype=object),
            "name": ename,
            "steps": esteps,
            "kerb": ekerb,
        },
        geometry=shapely.linestrings(coords),
        crs=4326,
    )
    del coords
    network_nodes = gpd.GeoDataFrame(
        {"node_idx": np.arange(n_nodes, dtype=np.int64), "osm_id": np.full(n_nodes, None, dtype=object)},
        geometry=shapely.points(nlon, nlat),
        crs=4326,
    )
    return Network(network_nodes, network_edges, n_nodes, int((eclass == "crossing").sum()))
