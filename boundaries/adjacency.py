"""Unit tiles and the unit adjacency graph.

Population units rarely tile their street: parks, schools, squares, water and
rail corridors lie between them.  :func:`tessellate` gives every unit a *tile*
(the unit plus the part of the street's non-unit land nearest to it, by a
Voronoi diagram of the units' outer boundary points), so that the tiles of a
street tile it exactly.  Community polygons are dissolved from tiles, and two
units are adjacent when their tiles share a boundary longer than a small
tolerance on land.

Barriers (rivers, railways, expressways: the ``barriers`` layer) are hard: a
shared boundary that lies inside a barrier (a river polygon, a line barrier
buffered by ``line_half_width_m``) does not make two units adjacent, and tile
pieces are never carried across a barrier.  Units on the two banks are joined
only where a *crossing* exists: a road or walking-network edge of class
``crossing``, or any road or network edge that crosses a barrier (it can only
do so on a bridge or through an underpass).  Arterial roads are soft barriers:
an adjacency whose shared boundary runs along an arterial is kept but marked
(``KIND_ARTERIAL``), and the partitioner prefers to cut there (TD/T 1062-2021
asks community boundaries to follow roads, rivers and railways).

All geometry here is in a metric CRS (metres); see
:func:`geo_service.core.crs.metric_crs_for`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse

from geo_service.core.crs import metric_crs_for

__all__ = [
    "KIND_ARTERIAL",
    "KIND_CROSSING",
    "KIND_LAND",
    "UnitGraph",
    "UnitSet",
    "group_union",
    "prepare_units",
    "tessellate",
    "unit_graph",
]

KIND_LAND = 0  # tiles share a boundary on land
KIND_ARTERIAL = 1  # the shared boundary runs along an arterial road (soft barrier)
KIND_CROSSING = 2  # joined across a hard barrier by a bridge, underpass or crossing

SHARED_TOL_M = 1.0  # shared boundary shorter than this (m) is a corner touch, not adjacency
POINT_SPACING_M = 25.0  # spacing of the Voronoi seed points along unit boundaries (m)
LINE_HALF_WIDTH_M = 5.0  # half width given to line barriers (railway, expressway) (m)
CROSSING_REACH_M = 30.0  # how far from a barrier the ends of a crossing are looked for (m)
ARTERIAL_BUFFER_M = 6.0  # a shared boundary within this distance of an arterial runs along it (m)
PRECISION_M = 0.001  # coordinates of tiles are snapped to this grid (m)
MIN_TOUCH_M = 0.5  # pieces touching along less than this (m) are not joined


@dataclass
class UnitGraph:
    """Undirected adjacency of ``n`` units, each edge once with ``i < j``.

    Attributes
    ----------
    i, j : int arrays
        End units of each edge.
    length_m : float array
        Shared tile boundary on land, metres (0 for crossing edges).
    kind : int8 array
        ``KIND_LAND``, ``KIND_ARTERIAL`` or ``KIND_CROSSING``.
    severed_i, severed_j : int arrays
        Pairs whose tiles touch only inside a barrier (adjacent without it).
    """

    n: int
    i: np.ndarray
    j: np.ndarray
    length_m: np.ndarray
    kind: np.ndarray
    severed_i: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    severed_j: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self):
        self._csr = None

    @property
    def n_edges(self) -> int:
        return int(self.i.size)

    def csr(self) -> sparse.csr_matrix:
        """Symmetric CSR matrix whose data is the edge index + 1 (cached)."""
        if self._csr is None:
            e = np.arange(self.i.size) + 1
            m = sparse.coo_matrix(
                (np.concatenate([e, e]), (np.concatenate([self.i, self.j]), np.concatenate([self.j, self.i]))),
                shape=(self.n, self.n),
            ).tocsr()
            m.sort_indices()
            self._csr = m
        return self._csr

    def weighted(self, values: np.ndarray) -> sparse.csr_matrix:
        """Symmetric CSR matrix with ``values`` (one per edge) in both directions; parallel edges summed."""
        m = sparse.coo_matrix(
            (np.concatenate([values, values]), (np.concatenate([self.i, self.j]), np.concatenate([self.j, self.i]))),
            shape=(self.n, self.n),
        ).tocsr()
        m.sum_duplicates()
        return m

    def neighbors(self, u: int) -> np.ndarray:
        m = self.csr()
        return m.indices[m.indptr[u] : m.indptr[u + 1]]

    def edge_weights(self, arterial_factor: float = 0.25, crossing_m: float = 20.0) -> np.ndarray:
        """Cut cost of every edge: shared length (m), discounted along arterials; crossings cost ``crossing_m``."""
        w = np.where(self.kind == KIND_ARTERIAL, self.length_m * arterial_factor, self.length_m)
        return np.where(self.kind == KIND_CROSSING, crossing_m, w)

    def subgraph(self, idx: np.ndarray) -> tuple[UnitGraph, np.ndarray]:
        """The graph induced by the units ``idx`` (renumbered 0..len(idx)-1) and the kept edge indices."""
        idx = np.asarray(idx, dtype=np.int64)
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[idx] = np.arange(idx.size)
        keep = np.flatnonzero((pos[self.i] >= 0) & (pos[self.j] >= 0))
        g = UnitGraph(idx.size, pos[self.i[keep]], pos[self.j[keep]], self.length_m[keep], self.kind[keep])
        return g, keep

    def with_severed(self) -> UnitGraph:
        """The graph without barriers: severed pairs added back as land edges (for diagnostics)."""
        return UnitGraph(
            self.n,
            np.concatenate([self.i, self.severed_i]),
            np.concatenate([self.j, self.severed_j]),
            np.concatenate([self.length_m, np.zeros(self.severed_i.size)]),
            np.concatenate([self.kind, np.zeros(self.severed_i.size, np.int8)]),
        )


@dataclass
class UnitSet:
    """Population units prepared for evaluation and delineation.

    Attributes
    ----------
    units : GeoDataFrame
        The units as given (EPSG:4326), positional order = unit index.
    crs : pyproj.CRS
        The metric CRS of every ``*_m`` geometry.
    geom_m, tiles_m : arrays of polygons
        Unit polygons and their tiles (metric).
    street : int array
        Street index of every unit (row of ``streets``).
    streets : DataFrame
        ``code``, ``name``, ``workers_available`` (may be NaN), ``geom_m`` (street region, metric).
    graph : UnitGraph
    households, residents : int arrays
    """

    units: gpd.GeoDataFrame
    crs: pyproj.CRS
    geom_m: np.ndarray
    tiles_m: np.ndarray
    street: np.ndarray
    streets: pd.DataFrame
    graph: UnitGraph
    households: np.ndarray
    residents: np.ndarray
    barrier_zone_m: object = None
    tiles_wgs84: np.ndarray | None = None  # the tiles in EPSG:4326 (transformed once, for outputs)

    @property
    def n(self) -> int:
        return len(self.units)

    def street_units(self, code: str) -> np.ndarray:
        k = np.flatnonzero(self.streets["code"].to_numpy() == code)
        if k.size == 0:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.street == k[0])

    def to_wgs84(self, geoms) -> np.ndarray:
        """Metric geometries to EPSG:4326 (the transformer is built once: it costs ~0.1 s)."""
        tr = self.__dict__.get("_to_wgs84")
        if tr is None:
            tr = self.__dict__["_to_wgs84"] = pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)
        return shapely.transform(
            np.asarray(geoms, dtype=object), lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        )


# ---------------------------------------------------------------------------- helpers
def group_union(geoms: np.ndarray, groups: np.ndarray, n_groups: int, *, coverage: bool = True) -> np.ndarray:
    """Union of ``geoms`` per group (groups ``< 0`` skipped), vectorised over padded matrices.

    ``coverage=True`` uses GEOS coverage union (valid for tiles that share
    edges exactly, much faster); a group whose result is invalid is redone
    with a full overlay union.
    """
    geoms = np.asarray(geoms, dtype=object)
    groups = np.asarray(groups, dtype=np.int64)
    out = np.full(n_groups, None, dtype=object)
    ok = groups >= 0
    if n_groups == 0 or not ok.any():
        return out
    g_idx = np.flatnonzero(ok)
    g = groups[g_idx]
    order = np.argsort(g, kind="stable")
    g_idx, g = g_idx[order], g[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(g.size) - starts[g]
    width_class = np.ceil(np.log2(np.maximum(counts, 1))).astype(int)
    fn = shapely.coverage_union_all if coverage else shapely.union_all
    for wc in np.unique(width_class[counts > 0]):
        sel = np.flatnonzero((width_class == wc) & (counts > 0))
        width = int(max(1, counts[sel].max()))
        row_of = np.full(n_groups, -1, dtype=np.int64)
        row_of[sel] = np.arange(sel.size)
        m = row_of[g] >= 0
        mat = np.full((sel.size, width), None, dtype=object)
        mat[row_of[g[m]], pos[m]] = geoms[g_idx[m]]
        out[sel] = fn(mat, axis=1)
    if coverage:
        bad = np.flatnonzero((counts > 0) & ~shapely.is_valid(out))
        for k in bad:
            out[k] = shapely.union_all(geoms[g_idx[g == k]])
    return out


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts (collections from overlays), as Polygon/MultiPolygon."""
    geoms = np.asarray(geoms, dtype=object)
    tid = shapely.get_type_id(geoms)
    out = geoms.copy()
    coll = np.flatnonzero(tid == 7)
    for k in coll:  # rare: overlay output with stray lines or points
        parts = shapely.get_parts(geoms[k])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        out[k] = shapely.union_all(parts) if parts.size else shapely.Polygon()
    return out


def _explode(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parts, idx = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    keep = shapely.get_type_id(parts) == 3
    keep &= shapely.area(parts) > 1e-6
    return parts[keep], idx[keep]


def _linear(geoms: np.ndarray) -> np.ndarray:
    """The line parts of overlay results (points dropped) as (Multi)LineStrings."""
    geoms = np.asarray(geoms, dtype=object)
    tid = shapely.get_type_id(geoms)
    out = geoms.copy()
    for k in np.flatnonzero(tid == 7):
        parts = shapely.get_parts(geoms[k])
        out[k] = shapely.multilinestrings(parts[np.isin(shapely.get_type_id(parts), (1, 5))])
    return out


def _shared_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return shapely.length(shapely.intersection(shapely.boundary(a), shapely.boundary(b)))


def _reassign_orphans(
    parts: np.ndarray, owner: np.ndarray, anchors: np.ndarray, anchor_owner: np.ndarray
) -> np.ndarray:
    """Owners for tile pieces: a piece that does not touch a geometry of its owner goes to the
    touching neighbour (anchor or piece) with the longest shared boundary.

    Returns the new owner of every piece.
    """
    owner = owner.copy()
    if parts.size == 0:
        return owner
    geoms = np.concatenate([anchors, parts])
    gown = np.concatenate([anchor_owner, owner])
    tree = shapely.STRtree(geoms)
    a, b = tree.query(parts, predicate="dwithin", distance=0.01)
    b_is_self = b == anchors.size + a
    a, b = a[~b_is_self], b[~b_is_self]
    if a.size == 0:
        return owner
    ln = _shared_length(parts[a], geoms[b])
    same = (gown[b] == owner[a]) & (ln > MIN_TOUCH_M)
    own_touch = np.zeros(parts.size, bool)
    own_touch[a[same]] = True
    sel = ~own_touch[a] & (gown[b] != owner[a]) & (ln > MIN_TOUCH_M)
    a, b, ln = a[sel], b[sel], ln[sel]
    if a.size == 0:
        return owner
    order = np.lexsort((-ln, a))
    a, b = a[order], b[order]
    first = np.concatenate([[True], a[1:] != a[:-1]])
    owner[a[first]] = gown[b[first]]
    return owner


# ---------------------------------------------------------------------------- tiles
def tessellate(
    units_m: np.ndarray,
    group: np.ndarray,
    regions: np.ndarray,
    *,
    barrier_zone=None,
    spacing_m: float = POINT_SPACING_M,
) -> np.ndarray:
    """Tiles of the units: per group (street), a partition of the group's region.

    Parameters
    ----------
    units_m : array of Polygon/MultiPolygon
        Unit polygons, metric CRS (metres), not overlapping.
    group : int array
        Group (street) index of every unit.
    regions : array of polygons
        Region of every group (the street polygon), metric; ``None`` entries use
        the convex hull of the group's units.
    barrier_zone : Polygon/MultiPolygon, optional
        Hard barriers (metric): tile pieces are never carried across them.
    spacing_m : float
        Spacing of Voronoi seed points along the units' outer boundaries (m).

    Returns
    -------
    array of Polygon/MultiPolygon
        ``tile[i] ⊇ unit[i]``; the tiles of a group cover its region without overlap
        (up to :data:`PRECISION_M`).
    """
    units_m = np.asarray(units_m, dtype=object)
    group = np.asarray(group, dtype=np.int64)
    tiles = units_m.copy()
    groups = [np.flatnonzero(group == g) for g in np.unique(group)]

    def one(idx):
        g = int(group[idx[0]])
        region = regions[g] if g < len(regions) else None
        return idx, _tessellate_group(units_m[idx], region, barrier_zone, spacing_m)

    # streets are independent and GEOS releases the GIL: one thread per core
    workers = min(len(groups), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, groups))
    else:
        results = [one(idx) for idx in groups]
    for idx, t in results:
        tiles[idx] = t
    return tiles


def _tessellate_group(units: np.ndarray, region, zone, spacing_m: float) -> np.ndarray:
    n = units.size
    cover = shapely.coverage_union_all(units)
    if not shapely.is_valid(cover):
        cover = shapely.union_all(units)
    if region is None or shapely.is_empty(region):
        region = shapely.convex_hull(cover)
    region = shapely.make_valid(region)
    gap = shapely.difference(region, cover)
    if shapely.is_empty(gap) or shapely.area(gap) < 1e-3:
        return units.copy()
    # Voronoi seeds: points along the outer boundary of the union of units
    line = shapely.segmentize(shapely.boundary(cover), spacing_m)
    pts = np.unique(np.round(shapely.get_coordinates(line), 3), axis=0)
    if n == 1 or pts.shape[0] < 3:
        owner_cells = np.zeros(1, np.int64)
        cells = np.array([region], dtype=object)
    else:
        tree = shapely.STRtree(units)
        p_geoms = shapely.points(pts)
        qi, qu = tree.query_nearest(p_geoms, all_matches=False)
        label = np.empty(pts.shape[0], np.int64)
        label[qi] = qu
        vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=region, ordered=True)
        cells_raw = shapely.get_parts(vor)
        if cells_raw.size != pts.shape[0]:  # pragma: no cover - GEOS merged points
            _, near = shapely.STRtree(p_geoms).query_nearest(shapely.point_on_surface(cells_raw), all_matches=False)
            label = label[near]
        cells = group_union(cells_raw, label, n)
        owner_cells = np.flatnonzero(~shapely.is_missing(cells))
        cells = cells[owner_cells]
    land_gap = gap if zone is None else shapely.difference(gap, zone)
    pieces, owners = [], []
    for piece_region, is_land in ((land_gap, True), (None if zone is None else shapely.intersection(gap, zone), False)):
        if piece_region is None or shapely.is_empty(piece_region):
            continue
        gparts = shapely.get_parts(piece_region)
        gparts = gparts[shapely.area(gparts) > 1e-6]
        if gparts.size == 0:
            continue
        a, b = shapely.STRtree(gparts).query(cells, predicate="intersects")
        # clip the (possibly long) gap parts to each cell's box first: much cheaper overlays
        bx = shapely.bounds(cells[a])
        clipped = shapely.intersection(gparts[b], shapely.box(bx[:, 0] - 1, bx[:, 1] - 1, bx[:, 2] + 1, bx[:, 3] + 1))
        inter = _polygonal(shapely.intersection(cells[a], shapely.make_valid(clipped)))
        parts, pidx = _explode(inter)
        own = owner_cells[a[pidx]]
        if is_land:
            own = _reassign_orphans(parts, own, units, np.arange(n))
        pieces.append(parts)
        owners.append(own)
    if not pieces:
        return units.copy()
    parts = np.concatenate(pieces)
    own = np.concatenate(owners)
    if len(pieces) == 2:  # barrier pieces: attach to a tile they touch
        land_n = pieces[0].size
        anchors = np.concatenate([units, pieces[0]])
        anchor_owner = np.concatenate([np.arange(n), owners[0]])
        own[land_n:] = _reassign_orphans(pieces[1], owners[1], anchors, anchor_owner)
    all_geoms = np.concatenate([units, parts])
    all_owner = np.concatenate([np.arange(n), own])
    tiles = _union_by_owner(all_geoms, all_owner, n)
    missing = shapely.is_missing(tiles) | shapely.is_empty(tiles)
    tiles[missing] = units[missing]
    tiles = _merge_stray_parts(tiles, units)
    return clean_coverage(tiles)


def clean_coverage(tiles: np.ndarray) -> np.ndarray:
    """Make tiles an exact polygonal coverage (identical shared edges, no overlaps or slivers)
    with GEOS CoverageCleaner (shapely >= 2.2 / GEOS >= 3.14); unchanged where unavailable."""
    if not hasattr(shapely, "coverage_clean") or tiles.size < 2:
        return tiles
    try:
        cleaned = np.asarray(
            shapely.coverage_clean(tiles, gap_width=0.05, snapping_distance=PRECISION_M * 10), dtype=object
        )
    except (shapely.errors.GEOSException, ValueError):  # pragma: no cover - GEOS refused: keep the overlay result
        return tiles
    bad = shapely.is_missing(cleaned) | shapely.is_empty(cleaned) | ~shapely.is_valid(cleaned)
    cleaned[bad] = tiles[bad]
    return _polygonal(cleaned)


def _union_by_owner(geoms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    order = np.argsort(owner, kind="stable")
    owner_s = owner[order]
    bounds = np.searchsorted(owner_s, np.arange(n + 1))
    single = np.flatnonzero(np.diff(bounds) == 1)  # one geometry: snap only
    out[single] = shapely.set_precision(geoms[order[bounds[single]]], PRECISION_M)
    multi = np.flatnonzero(np.diff(bounds) > 1)
    if multi.size:
        width = int(np.diff(bounds)[multi].max())
        mat = np.full((multi.size, width), None, dtype=object)
        for r, k in enumerate(multi):  # one row per owner with pieces (vectorised union below)
            mat[r, : bounds[k + 1] - bounds[k]] = geoms[order[bounds[k] : bounds[k + 1]]]
        out[multi] = shapely.union_all(mat, axis=1, grid_size=PRECISION_M)
    return _polygonal(out)


def _merge_stray_parts(tiles: np.ndarray, units: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Give every part of a multipart tile that does not hold its unit to the neighbouring tile
    sharing the longest boundary with it (so tiles, and communities, are single polygons)."""
    for _ in range(rounds):
        parts, idx = shapely.get_parts(tiles, return_index=True)
        multi = np.bincount(idx, minlength=tiles.size)[idx] > 1
        if not multi.any():
            break
        ov = np.zeros(parts.size)
        ov[multi] = shapely.area(shapely.intersection(parts[multi], units[idx[multi]]))
        key = ov + 1e-9 * shapely.area(parts)
        best = np.zeros(tiles.size)
        np.maximum.at(best, idx, key)
        stray = multi & (key < best[idx])
        if not stray.any():
            break
        main = ~stray
        main_parts, main_idx = parts[main], idx[main]
        sp, sidx = parts[stray], idx[stray]
        a, b = shapely.STRtree(main_parts).query(sp, predicate="dwithin", distance=0.01)
        keep = main_idx[b] != sidx[a]
        a, b = a[keep], b[keep]
        new_owner = sidx.copy()
        if a.size:
            ln = _shared_length(sp[a], main_parts[b])
            order = np.lexsort((-ln, a))
            a, b, ln = a[order], b[order], ln[order]
            first = np.concatenate([[True], a[1:] != a[:-1]]) & (ln > MIN_TOUCH_M)
            new_owner[a[first]] = main_idx[b[first]]
        moved = new_owner != sidx
        if not moved.any():
            break
        touched = np.unique(np.concatenate([sidx[moved], new_owner[moved]]))
        geoms = np.concatenate([main_parts, sp])
        owner = np.concatenate([main_idx, new_owner])
        sel = np.isin(owner, touched)
        merged = _union_by_owner(geoms[sel], owner[sel], tiles.size)
        tiles = tiles.copy()
        tiles[touched] = merged[touched]
    return tiles


# ---------------------------------------------------------------------------- graph
def unit_graph(
    tiles_m: np.ndarray,
    group: np.ndarray,
    *,
    barrier_zone=None,
    crossings_m: np.ndarray | None = None,
    arterials_m: np.ndarray | None = None,
    tol_m: float = SHARED_TOL_M,
) -> UnitGraph:
    """Adjacency of tiles within each group (street).

    Parameters
    ----------
    tiles_m : array of polygons (metric)
    group : int array
        Units of different groups are never adjacent (communities nest in streets).
    barrier_zone : Polygon/MultiPolygon, optional
        Hard barriers (metric); a shared boundary inside it does not count.
    crossings_m : array of LineString, optional
        Lines that cross a hard barrier (bridges, underpasses, crossings), metric.
    arterials_m : array of LineString, optional
        Arterial road centre lines (soft barriers), metric.
    tol_m : float
        Minimum shared boundary on land for adjacency (m).
    """
    tiles_m = np.asarray(tiles_m, dtype=object)
    group = np.asarray(group, dtype=np.int64)
    n = tiles_m.size
    tree = shapely.STRtree(tiles_m)
    a, b = tree.query(tiles_m, predicate="intersects")
    m = (a < b) & (group[a] == group[b])
    a, b = a[m], b[m]
    shared = shapely.intersection(shapely.boundary(tiles_m[a]), shapely.boundary(tiles_m[b]))
    length = shapely.length(shared)
    land = length.copy()
    zone_buf = None
    if barrier_zone is not None and not shapely.is_empty(barrier_zone):
        zone_buf = shapely.buffer(barrier_zone, 1.0, quad_segs=2)
        shapely.prepare(zone_buf)
        hit = shapely.intersects(zone_buf, shared)
        if hit.any():
            land[hit] = shapely.length(shapely.difference(shared[hit], zone_buf))
    keep = land > tol_m
    severed = (length > tol_m) & ~keep
    kind = np.zeros(a.size, np.int8)
    if arterials_m is not None and len(arterials_m) and keep.any():
        # along an arterial: three points of the shared boundary (1/4, 1/2, 3/4) lie near one
        art_tree = shapely.STRtree(np.asarray(arterials_m, dtype=object))
        k_idx = np.flatnonzero(keep)
        merged = shapely.line_merge(_linear(shared[k_idx]))
        near = np.zeros(k_idx.size, np.int64)
        for frac in (0.25, 0.5, 0.75):
            pts = shapely.line_interpolate_point(merged, frac, normalized=True)
            qi, _ = art_tree.query(pts, predicate="dwithin", distance=ARTERIAL_BUFFER_M)
            hit = np.zeros(k_idx.size, bool)
            hit[qi] = True
            near += hit
        kind[k_idx[near >= 2]] = KIND_ARTERIAL
    ei, ej, el, ek = a[keep], b[keep], land[keep], kind[keep]
    si, sj = a[severed], b[severed]
    if crossings_m is not None and len(crossings_m) and zone_buf is not None:
        ci, cj = _crossing_pairs(tiles_m, group, np.asarray(crossings_m, dtype=object), barrier_zone)
        if ci.size:
            have = set(zip(ei.tolist(), ej.tolist()))
            new = np.array([(x, y) not in have for x, y in zip(ci.tolist(), cj.tolist())], dtype=bool)
            ei = np.concatenate([ei, ci[new]])
            ej = np.concatenate([ej, cj[new]])
            el = np.concatenate([el, np.zeros(int(new.sum()))])
            ek = np.concatenate([ek, np.full(int(new.sum()), KIND_CROSSING, np.int8)])
    return UnitGraph(n, ei.astype(np.int64), ej.astype(np.int64), el, ek, si.astype(np.int64), sj.astype(np.int64))


def _crossing_pairs(tiles_m, group, lines, zone) -> tuple[np.ndarray, np.ndarray]:
    """Tile pairs joined by a crossing line: tiles touching the line's stubs on either side of the barrier."""
    near = shapely.buffer(zone, CROSSING_REACH_M, quad_segs=2)
    stubs = shapely.difference(shapely.intersection(lines, near), zone)
    parts, line_idx = shapely.get_parts(stubs, return_index=True)
    parts_ok = shapely.length(parts) > 0.01
    parts, line_idx = parts[parts_ok], line_idx[parts_ok]
    if parts.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pi, ti = shapely.STRtree(tiles_m).query(parts, predicate="intersects")
    frame = pd.DataFrame({"line": line_idx[pi], "part": pi, "tile": ti})
    pairs = frame.merge(frame, on="line")
    pairs = pairs[(pairs.part_x != pairs.part_y) & (pairs.tile_x < pairs.tile_y)]
    pairs = pairs[group[pairs.tile_x.to_numpy()] == group[pairs.tile_y.to_numpy()]]
    pairs = pairs.drop_duplicates(["tile_x", "tile_y"])
    return pairs.tile_x.to_numpy(np.int64), pairs.tile_y.to_numpy(np.int64)


# ---------------------------------------------------------------------------- preparation
def _to_metric(gdf: gpd.GeoDataFrame | None, crs) -> np.ndarray:
    if gdf is None or len(gdf) == 0:
        return np.zeros(0, dtype=object)
    return np.asarray(gdf.to_crs(crs).geometry.values, dtype=object)


def barrier_zone_of(barriers_m: np.ndarray, line_half_width_m: float = LINE_HALF_WIDTH_M):
    """Hard-barrier zone (metric): polygons as they are, lines buffered by ``line_half_width_m``."""
    if barriers_m.size == 0:
        return None
    tid = shapely.get_type_id(barriers_m)
    lines = np.isin(tid, (1, 2, 5))
    geoms = barriers_m.copy()
    geoms[lines] = shapely.buffer(barriers_m[lines], line_half_width_m, quad_segs=2, cap_style="flat")
    zone = shapely.union_all(_polygonal(shapely.make_valid(geoms)))
    return None if shapely.is_empty(zone) else zone


def prepare_units(
    units: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    network_edges: gpd.GeoDataFrame | None = None,
    crs=None,
    line_half_width_m: float = LINE_HALF_WIDTH_M,
) -> UnitSet:
    """Tiles and adjacency of population units.

    Parameters
    ----------
    units : GeoDataFrame
        ``population_units`` (any CRS) with ``households``, ``residents``, ``street_code``.
    streets : GeoDataFrame, optional
        ``admin_areas`` rows of level ``street`` (``code``, ``name``,
        ``community_workers_available``); units nest in the street of their
        ``street_code``.  Without a polygon a street's region is the convex hull of its units.
    barriers : GeoDataFrame, optional
        Hard barriers (rivers, railways, expressways).
    roads, network_edges : GeoDataFrame, optional
        Road centre lines / walking-network edges with ``road_class``; arterials are soft
        barriers, crossings (and any line crossing a barrier) join the two sides.
    crs : optional
        Metric CRS; default :func:`geo_service.core.crs.metric_crs_for` of the units.
    """
    units = units.reset_index(drop=True)
    crs = pyproj.CRS.from_user_input(crs) if crs is not None else metric_crs_for(units)
    geom_m = np.asarray(units.to_crs(crs).geometry.values, dtype=object)
    geom_m = shapely.make_valid(geom_m)
    codes = (
        units["street_code"].astype(object).where(units["street_code"].notna(), "").astype(str).to_numpy()
        if "street_code" in units
        else np.full(len(units), "", dtype=object)
    )
    street_rows = []
    sgeo = {}
    if streets is not None and len(streets):
        st = streets
        if "level" in st.columns:
            st = st[st["level"] == "street"]
        st_m = _to_metric(st, crs)
        for k, (_, row) in enumerate(st.iterrows()):  # a handful of streets
            sgeo[str(row["code"])] = (row, st_m[k])
    for code in sorted(set(codes.tolist())):
        row, geom = sgeo.get(code, (None, None))
        street_rows.append(
            {
                "code": code,
                "name": (str(row["name"]) if row is not None and row.get("name") is not None else code or "未分街道"),
                "workers_available": (
                    float(row["community_workers_available"])
                    if row is not None
                    and "community_workers_available" in row
                    and pd.notna(row["community_workers_available"])
                    else np.nan
                ),
                "geom_m": geom,
            }
        )
    streets_df = pd.DataFrame(street_rows, columns=["code", "name", "workers_available", "geom_m"])
    street_idx = pd.Index(streets_df["code"]).get_indexer(codes).astype(np.int64)
    barriers_m = _to_metric(barriers, crs)
    zone = barrier_zone_of(barriers_m, line_half_width_m)
    regions = streets_df["geom_m"].to_numpy(dtype=object)
    tiles = tessellate(geom_m, street_idx, regions, barrier_zone=zone)
    # roads and network edges: arterials and crossings
    line_sets = []
    for frame in (roads, network_edges):
        if frame is not None and len(frame) and "road_class" in frame.columns:
            line_sets.append((frame["road_class"].astype(str).to_numpy(), _to_metric(frame, crs)))
    arterials = np.concatenate([g[c == "arterial"] for c, g in line_sets]) if line_sets else np.zeros(0, object)
    crossings = np.zeros(0, object)
    if zone is not None and line_sets:
        cls = np.concatenate([c for c, _ in line_sets])
        lines = np.concatenate([g for _, g in line_sets])
        core = shapely.union_all(barriers_m)
        shapely.prepare(core)
        crossing = (cls == "crossing") | shapely.intersects(core, lines)
        crossings = lines[crossing & shapely.intersects(shapely.buffer(zone, CROSSING_REACH_M, quad_segs=2), lines)]
        if crossings.size:  # network edges are split at nodes: merge each crossing into one chain
            crossings = shapely.get_parts(shapely.line_merge(shapely.union_all(crossings)))
    graph = unit_graph(tiles, street_idx, barrier_zone=zone, crossings_m=crossings, arterials_m=arterials)
    hh = pd.to_numeric(units["households"], errors="coerce").fillna(0).to_numpy(np.int64)
    res = pd.to_numeric(units["residents"], errors="coerce").fillna(0).to_numpy(np.int64)
    us = UnitSet(units, crs, geom_m, tiles, street_idx, streets_df, graph, hh, res, zone)
    us.tiles_wgs84 = us.to_wgs84(tiles)
    return us
