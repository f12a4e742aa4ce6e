"""Stage 1: the jittered, gently warped lattice of streets and blocks, and the CRS conversion."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph

from ._constants import ARTERIAL_EVERY, BASE_N, CELL_WIDTH_M, CENTER_LONLAT, METRIC_EPSG, MIN_N
from ._util import bilinear, shoelace


@dataclass(frozen=True)
class Projection:
    """Conversion from the metric CRS (EPSG:4544) to lon/lat (EPSG:4326) around the city centre.

    ``x0``, ``y0`` are the metric coordinates (m, EPSG:4544) of :data:`CENTER_LONLAT`.
    """

    to_lonlat: Transformer
    x0: float
    y0: float

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat arrays (EPSG:4326) of metric coordinates (m, EPSG:4544)."""
        lon, lat = self.to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def quads_lonlat(self, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        """Polygons from metric corner arrays (n, 4) (converted to lon/lat)."""
        lon, lat = self.lonlat(qx.ravel(), qy.ravel())
        lon = lon.reshape(qx.shape)
        lat = lat.reshape(qy.shape)
        ring = np.stack([np.concatenate([lon, lon[:, :1]], 1), np.concatenate([lat, lat[:, :1]], 1)], -1)
        return shapely.polygons(ring)

    def metric_to_lonlat_geoms(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries in the metric CRS converted to lon/lat."""

        def fn(coords: np.ndarray) -> np.ndarray:
            lon, lat = self.to_lonlat.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, fn)


def make_projection() -> Projection:
    """The projection of the city: EPSG:4544 (m) to EPSG:4326, centred on :data:`CENTER_LONLAT`."""
    to_metric = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
    to_lonlat = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)
    x0, y0 = to_metric.transform(*CENTER_LONLAT)
    return Projection(to_lonlat=to_lonlat, x0=x0, y0=y0)


@dataclass(frozen=True)
class Lattice:
    """The lattice of ``ny`` x ``nx`` cells (blocks) bounded by ``ny + 1`` x ``nx + 1`` vertices.

    Vertex arrays have shape ``(ny + 1, nx + 1)``; cell arrays have ``n_cells = nx * ny`` entries
    in row-major order (cell ``k`` is row ``cj[k]``, column ``ci[k]``).  Metric arrays are in m,
    EPSG:4544; ``vlon``/``vlat``/``cell_poly`` are EPSG:4326.
    """

    nx: int
    ny: int
    n_cells: int
    xs: np.ndarray  # lattice line offsets from the centre before warping (m), nx + 1
    ys: np.ndarray  # ny + 1
    vx: np.ndarray  # vertex coordinates (m)
    vy: np.ndarray
    vlon: np.ndarray  # vertex coordinates (degrees)
    vlat: np.ndarray
    cj: np.ndarray  # row of each cell
    ci: np.ndarray  # column of each cell
    cx: np.ndarray  # cell corners (m), (n_cells, 4) ordered p00, p10, p11, p01
    cy: np.ndarray
    cell_area: np.ndarray  # m²
    cell_x: np.ndarray  # cell centre (m)
    cell_y: np.ndarray
    cell_poly: np.ndarray  # lon/lat polygons sharing vertices with their neighbours
    r_city: float  # radius of the disc of the lattice's area (m)
    r_rel: np.ndarray  # distance of the cell centre from the city centre / r_city
    old: np.ndarray  # 1 in the old centre, falling to 0 outwards
    art_x_lines: np.ndarray  # indices of the N-S arterial lattice lines
    art_y_lines: np.ndarray  # indices of the E-W arterial lattice lines
    is_art_x: np.ndarray  # nx + 1 flags
    is_art_y: np.ndarray  # ny + 1 flags
    pair_a: np.ndarray  # 4-neighbour cell pairs (a, b)
    pair_b: np.ndarray

    def components(self, mask_cells: np.ndarray, pair_ok: np.ndarray) -> np.ndarray:
        """Connected-component labels of the cells over the 4-neighbour pairs where both are masked."""
        pair_a, pair_b, n_cells = self.pair_a, self.pair_b, self.n_cells
        m = pair_ok & mask_cells[pair_a] & mask_cells[pair_b]
        g = sparse.coo_matrix((np.ones(m.sum()), (pair_a[m], pair_b[m])), shape=(n_cells, n_cells))
        _, lab = csgraph.connected_components(g, directed=False)
        return lab


def _spacing(m: int, rng: np.random.Generator) -> np.ndarray:
    """Widths (m) of ``m`` lattice cells along one axis (75-105 m, a compound), narrower in the old centre.

    Compact blocks as in a central district: the 300 m walk of a 5-minute life circle reaches two blocks
    around a street corner, the 1,000 m of a 15-minute circle most of a street.
    """
    idx = np.arange(m)
    old = np.exp(-(((idx - (m - 1) / 2) / (0.3 * m / 2 + 1e-9)) ** 2))
    return rng.uniform(CELL_WIDTH_M[0], CELL_WIDTH_M[1], m) * (1.0 - 0.15 * old)


def _warped_vertices(
    nx: int, ny: int, proj: Projection, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lattice line offsets and the warped, jittered vertex coordinates (m, EPSG:4544)."""
    xs = np.concatenate([[0.0], np.cumsum(_spacing(nx, rng))])
    ys = np.concatenate([[0.0], np.cumsum(_spacing(ny, rng))])
    xs -= xs[-1] / 2
    ys -= ys[-1] / 2
    vx, vy = np.meshgrid(xs, ys)  # (ny+1, nx+1)
    wl = rng.uniform(2500.0, 4000.0, 2)
    ph = rng.uniform(0, 2 * np.pi, 2)
    vx, vy = (
        vx + 45.0 * np.sin(2 * np.pi * vy / wl[0] + ph[0]),
        vy + 45.0 * np.sin(2 * np.pi * vx / wl[1] + ph[1]),
    )
    vx = vx + np.clip(rng.normal(0, 6.0, vx.shape), -14, 14) + proj.x0
    vy = vy + np.clip(rng.normal(0, 6.0, vy.shape), -14, 14) + proj.y0
    return xs, ys, vx, vy


def _corners(a: np.ndarray) -> np.ndarray:
    """Corner values (n_cells, 4) of each cell from a vertex array, ordered p00, p10, p11, p01."""
    return np.stack([a[:-1, :-1].ravel(), a[:-1, 1:].ravel(), a[1:, 1:].ravel(), a[1:, :-1].ravel()], -1)


def _cell_pairs(nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """The 4-neighbour cell pairs: all E-W pairs, then all N-S pairs."""
    cid = np.arange(nx * ny).reshape(ny, nx)
    pair_a = np.concatenate([cid[:, :-1].ravel(), cid[:-1, :].ravel()])
    pair_b = np.concatenate([cid[:, 1:].ravel(), cid[1:, :].ravel()])
    return pair_a, pair_b


def build_lattice(scale: float, proj: Projection, rng: np.random.Generator) -> Lattice:
    """Build the lattice of streets (lattice lines) and blocks (cells).

    Parameters
    ----------
    scale : float
        Multiplies the area: about ``54 * sqrt(scale)`` cells of 75-105 m per side.
    proj : Projection
        Metric CRS (EPSG:4544, m) and the city centre.
    rng : numpy.random.Generator
        The generator of the ``lattice`` stage.

    Returns
    -------
    Lattice
        Vertices and cells in EPSG:4544 (m, m²) and EPSG:4326, and the arterial lines
        (every fifth lattice line, about 450 m apart).
    """
    n = max(MIN_N, int(round(BASE_N * math.sqrt(scale))))
    nx = ny = n
    xs, ys, vx, vy = _warped_vertices(nx, ny, proj, rng)
    vlon, vlat = proj.lonlat(vx.ravel(), vy.ravel())
    vlon = vlon.reshape(vx.shape)
    vlat = vlat.reshape(vy.shape)

    n_cells = nx * ny
    cj, ci = np.divmod(np.arange(n_cells), nx)
    cx, cy = _corners(vx), _corners(vy)  # (n_cells, 4)
    clon, clat = _corners(vlon), _corners(vlat)
    cell_x = cx.mean(1)
    cell_y = cy.mean(1)
    ring = np.stack([np.concatenate([clon, clon[:, :1]], 1), np.concatenate([clat, clat[:, :1]], 1)], -1)
    cell_poly = shapely.polygons(ring)  # lon/lat, shared vertices between neighbours

    r_city = math.sqrt((xs[-1] - xs[0]) * (ys[-1] - ys[0]) / math.pi)
    r_rel = np.hypot(cell_x - proj.x0, cell_y - proj.y0) / r_city

    art_off = (int(rng.integers(0, ARTERIAL_EVERY)), int(rng.integers(0, ARTERIAL_EVERY)))
    art_x_lines = np.arange(art_off[0], nx + 1, ARTERIAL_EVERY)
    art_y_lines = np.arange(art_off[1], ny + 1, ARTERIAL_EVERY)
    is_art_x = np.zeros(nx + 1, bool)
    is_art_x[art_x_lines] = True
    is_art_y = np.zeros(ny + 1, bool)
    is_art_y[art_y_lines] = True
    pair_a, pair_b = _cell_pairs(nx, ny)
    return Lattice(
        nx=nx,
        ny=ny,
        n_cells=n_cells,
        xs=xs,
        ys=ys,
        vx=vx,
        vy=vy,
        vlon=vlon,
        vlat=vlat,
        cj=cj,
        ci=ci,
        cx=cx,
        cy=cy,
        cell_area=shoelace(cx, cy),
        cell_x=cell_x,
        cell_y=cell_y,
        cell_poly=cell_poly,
        r_city=r_city,
        r_rel=r_rel,
        old=np.exp(-((r_rel / 0.3) ** 2)),
        art_x_lines=art_x_lines,
        art_y_lines=art_y_lines,
        is_art_x=is_art_x,
        is_art_y=is_art_y,
        pair_a=pair_a,
        pair_b=pair_b,
    )


def sites_lonlat(
    lattice: Lattice, proj: Projection, cell: np.ndarray, u: np.ndarray, v: np.ndarray, poly: np.ndarray
) -> np.ndarray:
    """Geometries of sites: their polygon where given, else the point at (u, v) in their cell (EPSG:4326)."""
    lon, lat = proj.lonlat(*bilinear(lattice.cx[cell], lattice.cy[cell], u, v))
    geom = poly.copy()
    point = shapely.is_missing(geom)
    geom[point] = shapely.points(lon[point], lat[point])
    return geom
