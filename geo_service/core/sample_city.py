"""A deterministic synthetic sample city (德阳示例城区，合成数据，非真实).

:func:`generate_sample_city` builds every data layer of the service for a
made-up city centred on central Deyang (about 104.40 E, 31.13 N): a county
split into streets (街道), about 2,000 residential compounds with about
600,000 residents, an existing (deliberately uneven) community plan,
facilities, emergency shelters, plan parcels, new developments, road centre
lines, a river and a railway, and a walking network.  All figures are
synthetic; nothing describes a real place.

Construction
------------
Everything is built on a jittered, gently warped lattice in the metric CRS
CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544).  Lattice lines are the
streets (every fifth line an arterial), lattice cells are the blocks.  A
meandering river and a railway each occupy a 4-connected chain of cells, so
they separate the land cells; the walking network crosses them only on the
lattice edges kept as bridges / underpasses (``road_class == "crossing"``).
Streets are unions of arterial-bounded super-blocks grown from k-means seeds
(multi-source Dijkstra, hence contiguous); population units are the
residential cells, so units tile their street together with the
non-residential cells (parks, squares, schools, river, rail corridor, ...).
Communities are contiguous groups of whole units of one street (Dijkstra
regions on the unit adjacency graph).

Coordinates are converted to EPSG:4326 once, as coordinate arrays, and the
output geometries are built from them: neighbouring cells share identical
vertices, so the tiling is exact in both CRSs.  All per-feature work is
vectorised with numpy / shapely / scipy; Python loops only run over stages,
the river/railway bank zones, the lattice rows of the river meander, size
classes of grouped unions and counties.  ``scale`` multiplies the area and
every count (scale 500: about 1.1 million units and 5.2 million network nodes).

Run ``python -m geo_service.core.sample_city --scale S`` to print counts, time and
peak memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

__all__ = [
    "SampleCity",
    "generate_sample_city",
    "CENTER_LONLAT",
    "METRIC_EPSG",
    "PLAN_NAME",
    "LAYER_NAMES",
]

CENTER_LONLAT: tuple[float, float] = (104.40, 31.13)
METRIC_EPSG = 4544  # CGCS2000 / 3-degree Gauss-Kruger CM 105E
PLAN_NAME = "现状社区划分（示例）"
CITY_NAME = "Deyang sample city (synthetic)"
CITY_NAME_ZH = "德阳示例城区（合成数据，非真实）"
CITY_CODE = "510600"  # parent of the synthetic county (Deyang city)
COUNTY_CODE_BASE = 510699  # synthetic county codes count down from here
RIVER_NAME = "绵远河（示例）"
RAILWAY_NAME = "宝成铁路（示例）"

LAYER_NAMES: tuple[str, ...] = (
    "admin_areas",
    "population_units",
    "communities",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "roads",
    "barriers",
)

# --------------------------------------------------------------------------
# Tunables (scale 1)
# --------------------------------------------------------------------------
BASE_N = 54  # lattice cells per side at scale 1 (about 8.3 km)
MIN_N = 10
ARTERIAL_EVERY = 5  # every 5th lattice line is an arterial (~800 m)
RESIDENTS_PER_SCALE = 600_000
MEAN_HOUSEHOLD_SIZE = 2.6
CELLS_PER_STREET = 385  # -> 7 streets at scale 1
COMMUNITY_TARGET_HH = 1_800  # -> about 120 communities at scale 1
WORKERS_PER_10K = 18.0

# cell types
VOID, RES, PARK, SQUARE, PRIMARY, MIDDLE, COMMERCIAL, GOV, HOSPITAL, SITE = range(10)
RIVER, RAIL = 20, 21

_CELL_LAND_USE = {
    RES: ("0701", "城镇住宅用地", "existing"),
    PARK: ("1401", "公园绿地", "existing"),
    SQUARE: ("1403", "广场用地", "existing"),
    PRIMARY: ("080403", "中小学用地（小学）", "existing"),
    MIDDLE: ("080403", "中小学用地（初中）", "existing"),
    COMMERCIAL: ("0901", "商业用地", "existing"),
    GOV: ("0801", "机关团体用地", "existing"),
    HOSPITAL: ("0806", "医疗卫生用地", "existing"),
    SITE: ("0701", "城镇住宅用地（新建住宅项目）", "planned"),
    RIVER: ("17", "陆地水域（河流）", "existing"),
    RAIL: ("1201", "铁路用地", "existing"),
}

# name pools (synthetic place names)
_CH_A = list(
    "和平安康宁兴华新民乐福泰祥瑞春文明德阳东西南北花桂兰竹松柳梅清泉湖山江龙凤金玉锦光荣建友长庆胜"
    "利红星旌天紫云青碧石高永富丰翠怡嘉惠君雅秀蓝白丽顺吉昌盛鸿运达"
)
_CH_B = list(
    "苑园林湾庭府城坊里村桥塘岭坝台亭阁井门堰岗溪田坪滩庄营院楼关铺场堂寺河洲堤坡峰湖山泉口渡"
    "港滨邻居苑和安源沟垭荫景境苏都汇"
)
_CH_A = list(dict.fromkeys(_CH_A))
_CH_B = list(dict.fromkeys(_CH_B))
_STREET_NAMES = ["旌湖", "文庙", "玉泉", "锦城", "凤鸣", "天池", "石亭", "和新", "泰安", "金山", "长乐", "望江"]
_MOUNTAINS = [
    "泰山",
    "华山",
    "庐山",
    "衡山",
    "嵩山",
    "黄山",
    "峨眉",
    "青城",
    "天山",
    "昆仑",
    "祁连",
    "太行",
    "秦岭",
    "武当",
    "龙门",
    "九华",
]
_RIVERS = [
    "长江",
    "黄河",
    "岷江",
    "珠江",
    "嘉陵",
    "沱江",
    "涪江",
    "金沙",
    "雅砻",
    "渠江",
    "汉江",
    "淮河",
    "闽江",
    "湘江",
    "赣江",
    "松花",
]
_UNIT_SUFFIX = ["小区", "花园", "苑", "家园", "公寓", "新村", "宿舍", "名城", "嘉园", "雅居"]
_DEV_SUFFIX = ["新城", "公馆", "华府", "雅苑", "御景", "壹号", "滨江府", "悦府"]
_CN_DIGITS = "零一二三四五六七八九"


def _cn_number(k: int) -> str:
    """Chinese numeral for 1..9999 (used for ordinal road names)."""
    if k < 10:
        return _CN_DIGITS[k]
    if k < 20:
        return "十" + (_CN_DIGITS[k % 10] if k % 10 else "")
    if k < 100:
        return _CN_DIGITS[k // 10] + "十" + (_CN_DIGITS[k % 10] if k % 10 else "")
    return str(k)


# --------------------------------------------------------------------------
# Result container
# --------------------------------------------------------------------------
@dataclass
class SampleCity:
    """The generated layers (EPSG:4326 GeoDataFrames) and metadata."""

    admin_areas: gpd.GeoDataFrame
    population_units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    plan_parcels: gpd.GeoDataFrame
    developments: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    network_nodes: gpd.GeoDataFrame
    network_edges: gpd.GeoDataFrame
    metadata: dict = field(default_factory=dict)
    plan_name: str = PLAN_NAME

    def layer_frames(self) -> dict[str, gpd.GeoDataFrame]:
        """The importable layers by layer name (without the network)."""
        return {name: getattr(self, name) for name in LAYER_NAMES}

    def frames(self) -> dict[str, gpd.GeoDataFrame]:
        """All frames, including ``network_nodes`` and ``network_edges``."""
        out = self.layer_frames()
        out["network_nodes"] = self.network_nodes
        out["network_edges"] = self.network_edges
        return out


# --------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------
def _gumbel_topk(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement, probability ∝ weights."""
    weights = np.asarray(weights, dtype=float)
    eligible = np.flatnonzero(weights > 0)
    k = int(min(k, eligible.size))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(weights[eligible]) - np.log(-np.log(rng.random(eligible.size)))
    top = np.argpartition(-keys, k - 1)[:k]
    top = top[np.argsort(-keys[top], kind="stable")]
    return eligible[top]


def _ids(prefix: str, n: int, start: int = 1) -> np.ndarray:
    width = max(6, len(str(n + start)))
    nums = np.strings.zfill(np.arange(start, start + n).astype(str), width)
    return np.strings.add(prefix, nums).astype(object)


def _sadd(*parts) -> np.ndarray:
    """Element-wise string concatenation (numpy unicode arrays / scalars)."""
    out = np.asarray(parts[0]).astype(str)
    for p in parts[1:]:
        out = np.strings.add(out, np.asarray(p).astype(str))
    return out


def _combo_names(rng: np.random.Generator, n: int, suffix: str = "", distinct: bool = False) -> np.ndarray:
    """``n`` two-character synthetic place names (+ suffix)."""
    a = np.array(_CH_A)
    b = np.array(_CH_B)
    total = a.size * b.size
    if distinct:
        perm = rng.permutation(total)
        idx = perm[np.arange(n) % total]
    else:
        idx = rng.integers(0, total, n)
    names = np.strings.add(a[idx // b.size], b[idx % b.size])
    if suffix:
        names = np.strings.add(names, suffix)
    return names


def _group_starts(groups: np.ndarray, n_groups: int):
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, counts, starts


def _group_union(geoms: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Coverage union of ``geoms`` per group (vectorised via a padded matrix)."""
    out = np.empty(n_groups, dtype=object)
    if n_groups == 0:
        return out
    order, counts, starts = _group_starts(groups, n_groups)
    g = groups[order]
    pos = np.arange(g.size) - starts[g]
    # bucket groups by size so the padded matrices stay small
    width_class = np.ceil(np.log2(np.maximum(counts, 1))).astype(int)
    for wc in np.unique(width_class):
        sel_groups = np.flatnonzero(width_class == wc)
        width = int(max(1, counts[sel_groups].max()))
        row_of = np.full(n_groups, -1, dtype=np.int64)
        row_of[sel_groups] = np.arange(sel_groups.size)
        m = row_of[g] >= 0
        mat = np.full((sel_groups.size, width), None, dtype=object)
        mat[row_of[g[m]], pos[m]] = geoms[order[m]]
        out[sel_groups] = shapely.coverage_union_all(mat, axis=1)
    bad = ~shapely.is_valid(out)
    if bad.any():  # pragma: no cover - defensive
        out[bad] = shapely.make_valid(out[bad])
    return out


def _bilinear(cx: np.ndarray, cy: np.ndarray, u, v):
    """Bilinear point in quads given corner arrays (n, 4) ordered p00, p10, p11, p01."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    w00 = (1 - u) * (1 - v)
    w10 = u * (1 - v)
    w11 = u * v
    w01 = (1 - u) * v
    x = w00 * cx[..., 0] + w10 * cx[..., 1] + w11 * cx[..., 2] + w01 * cx[..., 3]
    y = w00 * cy[..., 0] + w10 * cy[..., 1] + w11 * cy[..., 2] + w01 * cy[..., 3]
    return x, y


def _shoelace(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Area of polygons given vertex arrays (n, k) in ring order (not closed)."""
    return 0.5 * np.abs(np.sum(px * np.roll(py, -1, axis=-1) - np.roll(px, -1, axis=-1) * py, axis=-1))


def _point_outside_ne(rng: np.random.Generator, n: int):
    """Random (u, v) in a cell, never in the NE quadrant (kept for small parcels)."""
    u = rng.uniform(0.1, 0.9, n)
    v = rng.uniform(0.1, 0.9, n)
    both = (u > 0.5) & (v > 0.5)
    u[both] = 1.0 - u[both]
    return u, v


class _Stages:
    def __init__(self, progress, names):
        self.progress = progress
        self.names = list(names)
        self.i = 0

    def __call__(self, name: str):
        if self.progress is not None:
            self.progress(name, self.i / len(self.names))
        self.i += 1

    def done(self):
        if self.progress is not None:
            self.progress("done", 1.0)


_STAGES = (
    "lattice",
    "barriers",
    "streets",
    "land_use",
    "population_units",
    "communities",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "network",
    "roads",
    "assemble",
)


# --------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------
def generate_sample_city(
    scale: float = 1.0,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> SampleCity:
    """Generate the synthetic Deyang sample city.

    Parameters
    ----------
    scale : float
        Multiplies the area and every count (scale 1: about 2,000 units,
        600,000 residents, 120 communities, 7 streets).
    seed : int
        Random seed; the output is a pure function of ``(scale, seed)``.
    progress : callable, optional
        ``progress(stage_name, fraction)`` called at the start of each stage
        and with ``("done", 1.0)`` at the end.

    Returns
    -------
    SampleCity
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    stage = _Stages(progress, _STAGES)
    children = np.random.SeedSequence([int(seed), 20240531]).spawn(len(_STAGES))
    rngs = {name: np.random.default_rng(s) for name, s in zip(_STAGES, children)}

    to_metric = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
    to_lonlat = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)
    x0, y0 = to_metric.transform(*CENTER_LONLAT)

    def lonlat(x, y):
        lon, lat = to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def sites_lonlat(sites: dict) -> np.ndarray:
        """Geometries of facility/shelter sites: their polygon where given, else the point at (u, v) in their cell."""
        lon, lat = lonlat(*_bilinear(CX[sites["cell"]], CY[sites["cell"]], sites["u"], sites["v"]))
        geom = sites["poly"].copy()
        point = shapely.is_missing(geom)
        geom[point] = shapely.points(lon[point], lat[point])
        return geom

    def quads_lonlat(qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
        """Polygons from metric corner arrays (n, 4) (converted to lon/lat)."""
        lon, lat = lonlat(qx.ravel(), qy.ravel())
        lon = lon.reshape(qx.shape)
        lat = lat.reshape(qy.shape)
        ring = np.stack([np.concatenate([lon, lon[:, :1]], 1), np.concatenate([lat, lat[:, :1]], 1)], -1)
        return shapely.polygons(ring)

    def metric_to_lonlat_geoms(geoms: np.ndarray) -> np.ndarray:
        def fn(coords):
            lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return shapely.transform(geoms, fn)

    # ------------------------------------------------------------------
    # 1. lattice
    # ------------------------------------------------------------------
    stage("lattice")
    rng = rngs["lattice"]
    n = max(MIN_N, int(round(BASE_N * math.sqrt(scale))))
    nx = ny = n

    def spacing(m):
        idx = np.arange(m)
        old = np.exp(-(((idx - (m - 1) / 2) / (0.3 * m / 2 + 1e-9)) ** 2))
        return rng.uniform(130.0, 185.0, m) * (1.0 - 0.15 * old)

    xs = np.concatenate([[0.0], np.cumsum(spacing(nx))])
    ys = np.concatenate([[0.0], np.cumsum(spacing(ny))])
    xs -= xs[-1] / 2
    ys -= ys[-1] / 2
    VX, VY = np.meshgrid(xs, ys)  # (ny+1, nx+1)
    wl = rng.uniform(2500.0, 4000.0, 2)
    ph = rng.uniform(0, 2 * np.pi, 2)
    VX, VY = (
        VX + 45.0 * np.sin(2 * np.pi * VY / wl[0] + ph[0]),
        VY + 45.0 * np.sin(2 * np.pi * VX / wl[1] + ph[1]),
    )
    VX = VX + np.clip(rng.normal(0, 6.0, VX.shape), -14, 14) + x0
    VY = VY + np.clip(rng.normal(0, 6.0, VY.shape), -14, 14) + y0
    VLON, VLAT = lonlat(VX.ravel(), VY.ravel())
    VLON = VLON.reshape(VX.shape)
    VLAT = VLAT.reshape(VY.shape)

    n_cells = nx * ny
    cj, ci = np.divmod(np.arange(n_cells), nx)

    def corners(A):
        return np.stack([A[:-1, :-1].ravel(), A[:-1, 1:].ravel(), A[1:, 1:].ravel(), A[1:, :-1].ravel()], -1)

    CX, CY = corners(VX), corners(VY)  # (n_cells, 4)
    CLON, CLAT = corners(VLON), corners(VLAT)
    cell_area = _shoelace(CX, CY)
    cell_x = CX.mean(1)
    cell_y = CY.mean(1)
    ring = np.stack([np.concatenate([CLON, CLON[:, :1]], 1), np.concatenate([CLAT, CLAT[:, :1]], 1)], -1)
    cell_poly = shapely.polygons(ring)  # lon/lat, shared vertices between neighbours
    del ring

    r_city = math.sqrt((xs[-1] - xs[0]) * (ys[-1] - ys[0]) / math.pi)
    dist_c = np.hypot(cell_x - x0, cell_y - y0)
    r_rel = dist_c / r_city

    art_off = (int(rng.integers(0, ARTERIAL_EVERY)), int(rng.integers(0, ARTERIAL_EVERY)))
    art_x_lines = np.arange(art_off[0], nx + 1, ARTERIAL_EVERY)
    art_y_lines = np.arange(art_off[1], ny + 1, ARTERIAL_EVERY)
    is_art_x = np.zeros(nx + 1, bool)
    is_art_x[art_x_lines] = True
    is_art_y = np.zeros(ny + 1, bool)
    is_art_y[art_y_lines] = True

    # ------------------------------------------------------------------
    # 2. county mask, river and railway
    # ------------------------------------------------------------------
    stage("barriers")
    rng = rngs["barriers"]
    jj = np.arange(ny)
    t = jj / max(ny - 1, 1)
    rail_col = int(round(0.28 * nx))
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
    river_col = np.clip(river_col, rail_col + 3, nx - 3)

    edge_w = np.clip(1 - np.minimum(t, 1 - t) / 0.25, 0, 1) ** 1.5
    cut_l = 0.13 * nx * edge_w * rng.uniform(0.6, 1.0) + 0.03 * nx * (
        1 + np.sin(2 * np.pi * t * 1.3 + rng.uniform(0, 6.3))
    )
    cut_r = 0.13 * nx * edge_w[::-1] * rng.uniform(0.6, 1.0) + 0.03 * nx * (
        1 + np.sin(2 * np.pi * t * 1.7 + rng.uniform(0, 6.3))
    )
    cut_l = np.minimum(np.round(cut_l).astype(int), rail_col - 2)
    cut_r = np.minimum(np.round(cut_r).astype(int), nx - river_col.max() - 3)
    cut_l = np.maximum(cut_l, 0)
    cut_r = np.maximum(cut_r, 0)

    T = np.full((ny, nx), RES, dtype=np.int16)
    col = np.arange(nx)[None, :]
    T[(col < cut_l[:, None]) | (col >= nx - cut_r[:, None])] = VOID
    T[jj, rail_col] = RAIL
    T[jj, river_col] = RIVER
    turn = np.flatnonzero(river_col[1:] != river_col[:-1])
    T[turn, river_col[turn + 1]] = RIVER  # connector cell: keeps the chain 4-connected
    Tf = T.ravel()  # view
    is_land = lambda a: (a >= RES) & (a < RIVER)  # noqa: E731

    # 4-neighbour cell pairs
    cid = np.arange(n_cells).reshape(ny, nx)
    pair_a = np.concatenate([cid[:, :-1].ravel(), cid[:-1, :].ravel()])
    pair_b = np.concatenate([cid[:, 1:].ravel(), cid[1:, :].ravel()])

    def components(mask_cells: np.ndarray, pair_ok: np.ndarray):
        m = pair_ok & mask_cells[pair_a] & mask_cells[pair_b]
        g = sparse.coo_matrix((np.ones(m.sum()), (pair_a[m], pair_b[m])), shape=(n_cells, n_cells))
        _, lab = csgraph.connected_components(g, directed=False)
        return lab

    # ------------------------------------------------------------------
    # 3. streets: arterial super-block pieces grown from k-means seeds
    # ------------------------------------------------------------------
    stage("streets")
    rng = rngs["streets"]
    land = is_land(Tf)
    zone_raw = components(land, np.ones(pair_a.size, bool))
    zone_ids, zone_of_land = np.unique(zone_raw[land], return_inverse=True)
    n_zones = zone_ids.size
    zone = np.full(n_cells, -1, dtype=np.int64)
    zone[land] = zone_of_land

    bi = np.searchsorted(art_x_lines, ci, side="right")
    bj = np.searchsorted(art_y_lines, cj, side="right")
    block = bj * (art_x_lines.size + 1) + bi
    piece_raw = components(land, block[pair_a] == block[pair_b])
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
    piece_graph = sparse.csr_matrix((pw, (pa, pb)), shape=(n_pieces, n_pieces))

    zone_cells = np.bincount(zone[land_idx], minlength=n_zones)
    k_zone = np.maximum(1, np.round(zone_cells / CELLS_PER_STREET)).astype(int)
    seeds = []
    for z in range(n_zones):  # a handful of zones (river / railway banks)
        pz = np.flatnonzero(p_zone == z)
        pts = np.column_stack([p_x[pz], p_y[pz]])
        k = int(min(k_zone[z], pz.size))
        cen = pts[_gumbel_topk(p_w[pz], k, rng)]
        for _ in range(10):  # Lloyd iterations (weighted k-means)
            _, lab = cKDTree(cen).query(pts)
            w = np.bincount(lab, weights=p_w[pz], minlength=k)
            ok = w > 0
            cen[ok, 0] = np.bincount(lab, weights=p_w[pz] * pts[:, 0], minlength=k)[ok] / w[ok]
            cen[ok, 1] = np.bincount(lab, weights=p_w[pz] * pts[:, 1], minlength=k)[ok] / w[ok]
        _, near = cKDTree(pts).query(cen)
        seeds.append(pz[np.unique(near)])
    seed_pieces = np.concatenate(seeds)
    _, _, src = csgraph.dijkstra(
        piece_graph, directed=False, indices=seed_pieces, min_only=True, return_predecessors=True
    )
    seed_rank = np.full(n_pieces, -1, dtype=np.int64)
    seed_rank[seed_pieces] = np.arange(seed_pieces.size)
    piece_street = seed_rank[src]
    assert (piece_street >= 0).all()
    street = np.full(n_cells, -1, dtype=np.int64)
    street[land_idx] = piece_street[piece[land_idx]]
    # barrier cells join the street of a west (else east) neighbour
    barrier_idx = np.flatnonzero((Tf == RIVER) | (Tf == RAIL))
    for _ in range(6):
        todo = barrier_idx[street[barrier_idx] < 0]
        if todo.size == 0:
            break
        w_nb = np.where(ci[todo] > 0, todo - 1, todo)
        e_nb = np.where(ci[todo] < nx - 1, todo + 1, todo)
        street[todo] = np.where(street[w_nb] >= 0, street[w_nb], street[e_nb])
    in_county = Tf != VOID
    county_idx = np.flatnonzero(in_county)
    assert (street[county_idx] >= 0).all()

    n_streets = seed_pieces.size
    s_area = np.bincount(street[county_idx], weights=cell_area[county_idx], minlength=n_streets)
    s_x = (
        np.bincount(street[county_idx], weights=cell_x[county_idx] * cell_area[county_idx], minlength=n_streets)
        / s_area
    )
    s_y = (
        np.bincount(street[county_idx], weights=cell_y[county_idx] * cell_area[county_idx], minlength=n_streets)
        / s_area
    )
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
    s_area, s_x, s_y, s_county = s_area[order], s_x[order], s_y[order], s_county[order]
    county_codes = np.array([str(COUNTY_CODE_BASE - k) for k in range(n_counties)])
    county_names = np.array(["德阳示例区"] + [f"德阳示例{_cn_number(k + 1)}区" for k in range(1, n_counties)])
    s_seq = np.zeros(n_streets, dtype=np.int64)
    for k in range(n_counties):
        sel = np.flatnonzero(s_county == k)
        s_seq[sel] = np.arange(1, sel.size + 1)
    street_codes = _sadd(county_codes[s_county], np.strings.zfill(s_seq.astype(str), 3))
    pool = _combo_names(rng, n_streets, distinct=True)
    first = np.array(_STREET_NAMES[: min(n_streets, len(_STREET_NAMES))], dtype=pool.dtype if pool.size else "U4")
    base_names = np.concatenate([first, pool[first.size :]]) if n_streets else pool
    street_names = np.strings.add(base_names.astype(str), "街道")

    # ------------------------------------------------------------------
    # 4. land use of the land cells
    # ------------------------------------------------------------------
    stage("land_use")
    rng = rngs["land_use"]
    target_res = RESIDENTS_PER_SCALE * scale
    old = np.exp(-((r_rel / 0.3) ** 2))  # 1 in the old centre
    # big parks on a coarse anchor grid (never overlapping)
    stride = 6
    ay, ax = np.meshgrid(np.arange(0, ny, stride), np.arange(0, nx, stride), indexing="ij")
    ay = (ay + rng.integers(0, 3, ay.shape)).ravel()
    ax = (ax + rng.integers(0, 3, ax.shape)).ravel()
    size = np.where(rng.random(ax.size) < 0.35, 3, 2)
    ok3 = (ax + size <= nx) & (ay + size <= ny)  # the park fits on residential cells
    fits3 = (ax + 3 <= nx) & (ay + 3 <= ny)  # a 3 x 3 park would fit
    for dj in range(3):
        for di in range(3):
            cell_res = T[np.minimum(ay + dj, ny - 1), np.minimum(ax + di, nx - 1)] == RES
            fits3 &= cell_res
            ok3 &= ~((di < size) & (dj < size)) | cell_res
    anchor_x = np.interp(ax + size / 2, np.arange(nx + 1), xs) + x0
    anchor_y = np.interp(ay + size / 2, np.arange(ny + 1), ys) + y0
    n_central = max(1, int(round(target_res / 500_000)))
    n_big = n_central + max(1, int(round(target_res / 150_000)))
    cand = np.flatnonzero(ok3)
    # the anchor nearest to the centre becomes the central park (3 x 3)
    big = []
    if cand.size:
        near = cand[np.argmin(np.hypot(anchor_x[cand] - x0, anchor_y[cand] - y0))]
        if fits3[near]:
            size[near] = 3
        big = [near]
        rest = cand[cand != near]
        big += list(rest[_gumbel_topk(np.ones(rest.size), n_big - 1, rng)])
    big = np.asarray(big, dtype=np.int64)
    for dj in range(3):
        for di in range(3):
            m = (di < size[big]) & (dj < size[big])
            T[ay[big][m] + dj, ax[big][m] + di] = PARK

    res_now = Tf == RES
    # riverside green belt
    bank = np.zeros(n_cells, bool)
    riv = Tf == RIVER
    bank[pair_a[riv[pair_b]]] = True
    bank[pair_b[riv[pair_a]]] = True
    Tf[bank & res_now & (rng.random(n_cells) < 0.3)] = PARK

    def pick(kind, k, weight):
        w = np.where(Tf == RES, weight, 0.0)
        idx = _gumbel_topk(w, k, rng)
        Tf[idx] = kind
        return idx

    n_land = int(land.sum())
    ones = np.ones(n_cells)
    pick(PARK, int(round(0.02 * n_land)), ones)
    pick(SQUARE, int(round(0.012 * n_land)), 1 + old)
    pick(PRIMARY, int(round(target_res / 11_000)), ones)
    pick(MIDDLE, int(round(target_res / 24_000)), ones)
    pick(COMMERCIAL, int(round(0.035 * n_land)), 1 + 3 * old)
    pick(GOV, int(round(0.01 * n_land)), 1 + old)
    pick(HOSPITAL, int(round(0.006 * n_land)), ones)
    pick(SITE, max(1, int(round(12 * scale))), (r_rel > 0.5) * (r_rel < 0.95) + 1e-9)

    # isolated residential cells (fewer than 3 in a same-street component) -> commercial
    res_m = Tf == RES
    comp = components(res_m, street[pair_a] == street[pair_b])
    comp_size = np.bincount(comp, minlength=n_cells)
    Tf[res_m & (comp_size[comp] < 3)] = COMMERCIAL

    # ------------------------------------------------------------------
    # 5. population units
    # ------------------------------------------------------------------
    stage("population_units")
    rng = rngs["population_units"]
    unit_cell = np.flatnonzero(Tf == RES)
    n_units = unit_cell.size
    ux, uy = cell_x[unit_cell], cell_y[unit_cell]
    u_old = old[unit_cell]
    u_r = r_rel[unit_cell]
    field_ = np.zeros(n_units)
    for _ in range(6):  # smooth random density field (newer high-rise districts)
        ang = rng.uniform(0, 2 * np.pi)
        wlen = rng.uniform(1500.0, 4000.0)
        field_ += np.sin(2 * np.pi * ((ux - x0) * np.cos(ang) + (uy - y0) * np.sin(ang)) / wlen + rng.uniform(0, 6.3))
    field_ /= 6**0.5
    density = 130.0 * (1 + 0.5 * u_old) * np.exp(0.35 * field_) * rng.lognormal(0.0, 0.45, n_units)
    density *= np.where(u_r > 1.0, 0.6, 1.0)  # lower at the fringe
    residents_f = density * cell_area[unit_cell] / 10_000.0
    residents_f *= target_res / residents_f.sum()
    residents = np.maximum(20, np.round(residents_f)).astype(np.int64)
    hh_size = MEAN_HOUSEHOLD_SIZE - 0.3 * u_old + 0.15 * np.clip(u_r - 0.5, 0, None) + rng.normal(0, 0.28, n_units)
    hh_size = np.clip(hh_size, 1.6, 3.8)
    households = np.maximum(1, np.round(residents / hh_size)).astype(np.int64)
    share60 = np.clip(0.205 + 0.09 * u_old - 0.04 * (u_r > 0.7) + rng.normal(0, 0.025, n_units), 0.08, 0.42)
    share06 = np.clip(0.05 - 0.012 * u_old + 0.01 * (u_r > 0.7) + rng.normal(0, 0.008, n_units), 0.015, 0.09)
    r60 = np.round(residents * share60).astype(np.int64)
    r06 = np.round(residents * share06).astype(np.int64)
    unit_street = street[unit_cell]
    unit_names = np.strings.add(
        _combo_names(rng, n_units), np.array(_UNIT_SUFFIX)[rng.integers(0, len(_UNIT_SUFFIX), n_units)]
    )
    unit_of_cell = np.full(n_cells, -1, dtype=np.int64)
    unit_of_cell[unit_cell] = np.arange(n_units)

    # ------------------------------------------------------------------
    # 6. existing communities (uneven on purpose)
    # ------------------------------------------------------------------
    stage("communities")
    rng = rngs["communities"]
    ua = unit_of_cell[pair_a]
    ub = unit_of_cell[pair_b]
    m = (ua >= 0) & (ub >= 0)
    ua, ub = ua[m], ub[m]
    m = unit_street[ua] == unit_street[ub]
    ua, ub = ua[m], ub[m]
    uw = np.hypot(ux[ua] - ux[ub], uy[ua] - uy[ub]) * rng.lognormal(0, 0.35, ua.size)
    ugraph = sparse.csr_matrix((uw, (ua, ub)), shape=(n_units, n_units))
    n_ucomp, ucomp = csgraph.connected_components(ugraph, directed=False)
    comp_hh = np.bincount(ucomp, weights=households, minlength=n_ucomp)
    comp_street = np.zeros(n_ucomp, dtype=np.int64)
    comp_street[ucomp] = unit_street
    street_target = COMMUNITY_TARGET_HH * np.clip(rng.lognormal(0, 0.15, n_streets), 0.7, 1.4)
    street_target *= 1 + 0.3 * np.exp(
        -((np.hypot(s_x - x0, s_y - y0) / (0.35 * r_city)) ** 2)
    )  # larger in the old centre
    k_comp = np.maximum(1, np.round(comp_hh / street_target[comp_street])).astype(np.int64)
    keys = rng.random(n_units)
    order_u = np.lexsort((keys, ucomp))
    _, ccount, cstart = _group_starts(ucomp, n_ucomp)
    rank = np.empty(n_units, dtype=np.int64)
    rank[order_u] = np.arange(n_units) - cstart[ucomp[order_u]]
    seed_units = np.flatnonzero(rank < k_comp[ucomp])
    # graph Lloyd: grow regions, move each seed to the unit nearest the region's centroid
    for _ in range(4):
        _, _, usrc = csgraph.dijkstra(
            ugraph, directed=False, indices=seed_units, min_only=True, return_predecessors=True
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
    # Household-balanced regions with deliberately uneven targets: additively weighted
    # graph Voronoi (a virtual source linked to each seed with an offset); the offsets
    # are tuned so each region approaches its target.  Every region is a Dijkstra tree
    # rooted at its seed, hence contiguous.
    n_s = seed_units.size
    kind = rng.random(n_s)
    factor = np.where(
        kind < 0.1,
        rng.uniform(1.9, 2.8, n_s),
        np.where(kind < 0.2, rng.uniform(0.25, 0.45, n_s), rng.lognormal(0, 0.15, n_s)),
    )
    s_comp = ucomp[seed_units]
    target = factor * (comp_hh / np.bincount(s_comp, weights=factor, minlength=n_ucomp))[s_comp]
    vnode = n_units
    offset = np.zeros(n_s)

    def weighted_regions(offset):
        g_ext = sparse.csr_matrix(
            (
                np.concatenate([uw, offset - offset.min() + 1e-3]),
                (np.concatenate([ua, np.full(n_s, vnode)]), np.concatenate([ub, seed_units])),
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

    srank = np.full(n_units, -1, dtype=np.int64)
    srank[seed_units] = np.arange(n_s)
    for it in range(14):
        anc = weighted_regions(offset)
        hh_s = np.bincount(srank[anc], weights=households, minlength=n_s)
        offset += (120.0 * 0.88**it) * np.clip(np.log(np.maximum(hh_s, 1.0) / target), -1.0, 1.0)
    anc = weighted_regions(offset)
    seed_units = np.unique(anc)
    # order communities: street, then north to south, west to east of the seed
    sorder = np.lexsort((ux[seed_units], -np.floor(uy[seed_units] / 500.0), unit_street[seed_units]))
    seed_units = seed_units[sorder]
    srank = np.full(n_units, -1, dtype=np.int64)
    srank[seed_units] = np.arange(seed_units.size)
    unit_comm = srank[anc]
    assert (unit_comm >= 0).all()
    n_comm = seed_units.size
    comm_street = unit_street[seed_units]
    comm_hh = np.bincount(unit_comm, weights=households, minlength=n_comm).astype(np.int64)
    comm_res = np.bincount(unit_comm, weights=residents, minlength=n_comm).astype(np.int64)
    comm_seq = np.arange(n_comm) - np.searchsorted(comm_street, comm_street)  # comm_street is sorted
    comm_codes = _sadd(street_codes[comm_street], np.strings.zfill((comm_seq + 1).astype(str), 3))
    name_pool = _combo_names(rng, max(n_comm, 1), distinct=True)
    comm_names = np.strings.add(name_pool[:n_comm], "社区")
    has_office = rng.random(n_comm) >= 0.1
    staff_factor = rng.lognormal(0, 0.2, n_comm) * np.where(rng.random(n_comm) < 0.12, 0.55, 1.0)
    comm_workers = np.maximum(3, np.round(comm_res * WORKERS_PER_10K / 10_000 * staff_factor)).astype(np.int64)
    comm_units_order, comm_units_count, comm_units_start = _group_starts(unit_comm, n_comm)

    def random_unit_of(comms: np.ndarray) -> np.ndarray:
        off = np.floor(rng.random(comms.size) * comm_units_count[comms]).astype(np.int64)
        return comm_units_order[comm_units_start[comms] + off]

    # ------------------------------------------------------------------
    # 7. facilities
    # ------------------------------------------------------------------
    stage("facilities")
    rng = rngs["facilities"]
    county_name_of_street = county_names[s_county]
    # lattice line names
    n_xl, n_yl = nx + 1, ny + 1
    xline_base = _combo_names(rng, n_xl).astype("U4")
    yline_base = _combo_names(rng, n_yl).astype("U4")
    # arterials: mountain names (N-S) and river names (E-W) first, synthetic names beyond
    xl_base = np.concatenate([np.array(_MOUNTAINS, dtype="U4"), xline_base[art_x_lines]])[: art_x_lines.size]
    yl_base = np.concatenate([np.array(_RIVERS, dtype="U4"), yline_base[art_y_lines]])[: art_y_lines.size]
    xline_base[art_x_lines] = xl_base[: art_x_lines.size]
    yline_base[art_y_lines] = yl_base[: art_y_lines.size]

    # names of horizontal edges (E-W roads): arterial -> 长江东路 / 长江西路, local -> XX巷
    h_mid_x = 0.5 * (VX[:, :-1] + VX[:, 1:])  # (ny+1, nx)
    h_dir = np.where(h_mid_x >= x0, "东路", "西路")
    h_art = np.broadcast_to(is_art_y[:, None], h_mid_x.shape)
    h_names = np.where(
        h_art,
        np.strings.add(np.broadcast_to(yline_base[:, None], h_mid_x.shape), h_dir),
        np.strings.add(np.broadcast_to(yline_base[:, None], h_mid_x.shape), "巷"),
    )
    v_mid_y = 0.5 * (VY[:-1, :] + VY[1:, :])  # (ny, nx+1)
    v_dir = np.where(v_mid_y >= y0, "北路", "南路")
    v_art = np.broadcast_to(is_art_x[None, :], v_mid_y.shape)
    v_names = np.where(
        v_art,
        np.strings.add(np.broadcast_to(xline_base[None, :], v_mid_y.shape), v_dir),
        np.strings.add(np.broadcast_to(xline_base[None, :], v_mid_y.shape), "街"),
    )

    def address_of(cells: np.ndarray) -> np.ndarray:
        s = street[cells]
        num = rng.integers(1, 300, cells.size)
        return _sadd(
            "四川省德阳市",
            county_name_of_street[s],
            street_names[s],
            h_names[cj[cells], ci[cells]],
            num.astype(str),
            "号",
        ).astype(object)

    fac_blocks: list[dict] = []

    def add_block(
        cat, cells, names, floor=None, land=None, cap=None, status=None, hours=None, u=None, v=None, poly=None
    ):
        k = cells.size
        if k == 0:
            return
        if u is None:
            u, v = _point_outside_ne(rng, k)
        if status is None:
            rr = rng.random(k)
            status = np.where(rr < 0.93, "existing", np.where(rr < 0.97, "under_construction", "planned"))
        fac_blocks.append(
            dict(
                category=np.full(k, cat, dtype=object),
                cell=cells.astype(np.int64),
                name=np.asarray(names).astype(object),
                floor=np.full(k, np.nan) if floor is None else np.asarray(floor, float),
                land=np.full(k, np.nan) if land is None else np.asarray(land, float),
                cap=np.full(k, -1, np.int64) if cap is None else np.asarray(cap, np.int64),
                status=np.asarray(status).astype(object),
                hours=np.full(k, hours, dtype=object),
                u=np.asarray(u, float),
                v=np.asarray(v, float),
                poly=np.full(k, None, dtype=object) if poly is None else np.asarray(poly, dtype=object),
            )
        )

    def lognorm(median, sigma, k):
        return np.round(median * rng.lognormal(0, sigma, k), 0)

    # deliberate gaps: kindergartens (outer new districts) and elderly day care (old centre)
    n_kg_gaps = max(1, int(round(scale)))
    outer_units = np.flatnonzero((u_r > 0.45) & (u_r < 0.8))
    gap_units = (
        outer_units[_gumbel_topk(np.ones(outer_units.size), n_kg_gaps, rng)] if outer_units.size else np.zeros(0, int)
    )
    kg_gap_xy = np.column_stack([ux[gap_units], uy[gap_units]])
    KG_GAP_R = 350.0  # no kindergarten within 300 m of any point of this disc
    EDC_GAP_R = float(min(1000.0, 0.25 * r_city))
    CELL_MARGIN = 160.0  # a point of a cell lies within this distance of the cell centre

    def outside_gaps(cells, centres, radius):
        if centres.size == 0 or cells.size == 0:
            return np.ones(cells.size, bool)
        d, _ = cKDTree(centres).query(np.column_stack([cell_x[cells], cell_y[cells]]))
        return d > radius

    comm_ids = np.arange(n_comm)
    comm_name_of_unit = comm_names[unit_comm]

    # community level
    sel = comm_ids[has_office]
    uu = random_unit_of(sel)
    add_block(
        "community_office",
        unit_cell[uu],
        np.strings.add(comm_names[sel], "居民委员会"),
        floor=lognorm(380, 0.35, sel.size),
        status=np.full(sel.size, "existing"),
        hours="09:00-17:30",
    )
    comm_level = [
        # category, rate, name suffix, floor median, sigma, hours
        ("community_service_station", 0.85, "综合服务站", 850, 0.35, "09:00-17:30"),
        ("health_station", 0.75, "卫生服务站", 160, 0.35, "08:00-18:00"),
        ("culture_station", 0.6, "文化活动站", 300, 0.4, "09:00-21:00"),
        ("canteen", 0.45, "长者食堂", 200, 0.35, "11:00-13:00,17:00-19:00"),
        ("express_station", 0.9, "快递驿站", 60, 0.4, "09:00-20:00"),
        ("elderly_day_care", 0.55, "日间照料中心", 420, 0.35, "08:00-18:00"),
        ("nursery", 0.5, "托育园", 260, 0.35, "07:30-18:00"),
        ("embedded_service", 0.3, "嵌入式服务中心", 750, 0.3, "08:00-20:00"),
    ]
    for cat, rate, suffix, med, sig, hours in comm_level:
        sel = comm_ids[rng.random(n_comm) < rate]
        uu = random_unit_of(sel)
        cells = unit_cell[uu]
        cap = None
        if cat == "elderly_day_care":
            keep = outside_gaps(cells, np.array([[x0, y0]]), EDC_GAP_R + CELL_MARGIN)
            sel, uu, cells = sel[keep], uu[keep], cells[keep]
            cap = rng.integers(15, 61, sel.size)
        elif cat == "nursery":
            cap = rng.integers(20, 121, sel.size)
        add_block(
            cat, cells, np.strings.add(comm_names[sel], suffix), floor=lognorm(med, sig, sel.size), cap=cap, hours=hours
        )
    # sports grounds: land area, about a third drawn as polygons (SW quadrant)
    sel = comm_ids[rng.random(n_comm) < 0.7]
    cells = unit_cell[random_unit_of(sel)]
    k = cells.size
    half = np.sqrt(lognorm(1500, 0.4, k) / cell_area[cells]) / 2
    half = np.clip(half, 0.05, 0.2)
    cu, cv = rng.uniform(0.22, 0.28, k), rng.uniform(0.22, 0.28, k)
    qx, qy = _bilinear(
        CX[cells][:, None, :],
        CY[cells][:, None, :],
        np.stack([cu - half, cu + half, cu + half, cu - half], 1),
        np.stack([cv - half, cv - half, cv + half, cv + half], 1),
    )
    sg_area = _shoelace(qx, qy)
    as_poly = rng.random(k) < 0.35
    polys = np.full(k, None, dtype=object)
    if as_poly.any():
        polys[as_poly] = quads_lonlat(qx[as_poly], qy[as_poly])
    add_block(
        "sports_ground",
        cells,
        np.strings.add(comm_names[sel], "健身广场"),
        land=np.round(sg_area),
        hours="06:00-22:00",
        u=cu,
        v=cv,
        poly=polys,
    )

    # kindergartens: per residents, not in the gap zones
    n_kg = int(round(target_res / 5_500))
    uu = rng.choice(n_units, size=n_kg, p=residents / residents.sum()) if n_units else np.zeros(0, int)
    cells = unit_cell[uu]
    keep = outside_gaps(cells, kg_gap_xy, KG_GAP_R + 300.0 + CELL_MARGIN)
    cells = cells[keep]
    k = cells.size
    classes = rng.integers(4, 13, k)
    kg_names = _combo_names(rng, k, "幼儿园")
    kg_floor = lognorm(2600, 0.3, k)
    rr = rng.random(k)
    kg_status = np.where(rr < 0.92, "existing", np.where(rr < 0.96, "under_construction", "planned"))
    # the small-parcel slot (NE quadrant of the cell) is used at most once per cell
    slot_used = np.zeros(n_cells, bool)
    _, first_idx = np.unique(cells, return_index=True)
    has_parcel = np.zeros(k, bool)
    has_parcel[first_idx] = True
    has_parcel &= rng.random(k) < 0.7
    slot_used[cells[has_parcel]] = True
    small_parcels: list[dict] = []

    def slot_quads(cells_, target_area):
        w = np.clip(np.sqrt(target_area / cell_area[cells_]), 0.12, 0.4)
        u0 = 0.55 + rng.uniform(0, 1, cells_.size) * (0.4 - w)
        v0 = 0.55 + rng.uniform(0, 1, cells_.size) * (0.4 - w)
        qx_, qy_ = _bilinear(
            CX[cells_][:, None, :],
            CY[cells_][:, None, :],
            np.stack([u0, u0 + w, u0 + w, u0], 1),
            np.stack([v0, v0, v0 + w, v0 + w], 1),
        )
        return qx_, qy_, u0 + w / 2, v0 + w / 2

    pc = cells[has_parcel]
    qx, qy, cu, cv = slot_quads(pc, lognorm(3900, 0.2, pc.size))
    kg_land = np.full(k, np.nan)
    kg_land[has_parcel] = np.round(_shoelace(qx, qy))
    kg_land[~has_parcel] = lognorm(3200, 0.3, int((~has_parcel).sum()))  # private kindergartens inside compounds
    kg_poly_all = quads_lonlat(qx, qy) if pc.size else np.zeros(0, dtype=object)
    ku, kv = _point_outside_ne(rng, k)
    ku[has_parcel], kv[has_parcel] = cu, cv
    kpoly = np.full(k, None, dtype=object)
    draw_poly = rng.random(int(has_parcel.sum())) < 0.5
    tmp = np.full(int(has_parcel.sum()), None, dtype=object)
    tmp[draw_poly] = kg_poly_all[draw_poly]
    kpoly[has_parcel] = tmp
    small_parcels.append(
        dict(
            cell=pc,
            poly=kg_poly_all,
            area=_shoelace(qx, qy),
            code=np.full(pc.size, "080404"),
            use=np.full(pc.size, "幼儿园用地"),
            status=np.where(kg_status[has_parcel] == "existing", "existing", "planned"),
        )
    )
    add_block(
        "kindergarten",
        cells,
        kg_names,
        floor=kg_floor,
        land=kg_land,
        cap=classes * 30,
        status=kg_status,
        u=ku,
        v=kv,
        poly=kpoly,
    )

    # residents-weighted point facilities
    per_res = [
        ("convenience_store", 1_500, "便利店", 80, 0.4, "00:00-24:00"),
        ("pharmacy", 3_000, "大药房", 90, 0.35, "08:00-22:00"),
        ("supermarket", 8_000, "综合超市", 380, 0.4, "07:30-22:00"),
        ("market", 15_000, "农贸市场", 1_500, 0.4, "06:00-19:00"),
        ("elderly_home", 40_000, "养老院", 3_500, 0.5, None),
    ]
    for cat, per, suffix, med, sig, hours in per_res:
        k = int(round(target_res / per))
        if k == 0 or n_units == 0:
            continue
        uu = rng.choice(n_units, size=k, p=residents / residents.sum())
        cap = rng.integers(50, 401, k) if cat == "elderly_home" else None
        land = lognorm(4500, 0.4, k) if cat == "elderly_home" else None
        add_block(
            cat,
            unit_cell[uu],
            _combo_names(rng, k, suffix),
            floor=lognorm(med, sig, k),
            land=land,
            cap=cap,
            hours=hours,
        )
    # public toilets: any land cell, uniform by area
    k = int(round(target_res / 5_000))
    land_cells_now = np.flatnonzero(is_land(Tf))
    cells = land_cells_now[
        rng.choice(land_cells_now.size, size=k, p=cell_area[land_cells_now] / cell_area[land_cells_now].sum())
    ]
    add_block("public_toilet", cells, _combo_names(rng, k, "公厕"), floor=lognorm(50, 0.3, k), hours="00:00-24:00")

    # street level (15-minute circle) facilities: prefer the street's government cells
    gov_cells = np.flatnonzero(Tf == GOV)
    street_ids = np.arange(n_streets)
    su_order, su_count, su_start = _group_starts(unit_street, n_streets)

    def street_host(sts):
        off = np.floor(rng.random(sts.size) * np.maximum(su_count[sts], 1)).astype(np.int64)
        host = unit_cell[su_order[np.minimum(su_start[sts] + off, n_units - 1)]]
        g_street = street[gov_cells]
        gorder = np.argsort(g_street, kind="stable")
        gs = g_street[gorder]
        lo = np.searchsorted(gs, sts, side="left")
        hi = np.searchsorted(gs, sts, side="right")
        has = hi > lo
        pick_g = lo + np.floor(rng.random(sts.size) * np.maximum(hi - lo, 1)).astype(np.int64)
        host[has] = gov_cells[gorder[np.minimum(pick_g[has], gs.size - 1)]]
        return host

    st_level = [
        ("street_office", 1.0, "办事处", 3_000, "09:00-17:30"),
        ("community_service_center", 1.0, "社区服务中心", 2_500, "09:00-17:30"),
        ("culture_center", 1.0, "文化活动中心", 3_000, "09:00-21:00"),
        ("health_center", 1.0, "社区卫生服务中心", 2_500, "08:00-18:00"),
        ("sports_center", 0.6, "体育活动中心", 4_000, "08:00-21:00"),
    ]
    for cat, rate, suffix, med, hours in st_level:
        sts = street_ids[rng.random(n_streets) < rate] if rate < 1 else street_ids
        if sts.size == 0:
            sts = street_ids[:1]
        add_block(
            cat,
            street_host(sts),
            np.strings.add(street_names[sts], suffix),
            floor=lognorm(med, 0.3, sts.size),
            status=np.full(sts.size, "existing"),
            hours=hours,
        )

    # schools: the school cells, drawn as polygons
    school_name = np.full(n_cells, "", dtype=object)
    for cat, kind, suffix, per_class, cls_lo, cls_hi in (
        ("primary_school", PRIMARY, "小学", 45, 12, 55),
        ("middle_school", MIDDLE, "中学", 50, 12, 49),
    ):
        cells = np.flatnonzero(Tf == kind)
        k = cells.size
        qx, qy = _bilinear(
            CX[cells][:, None, :],
            CY[cells][:, None, :],
            np.array([0.06, 0.94, 0.94, 0.06]),
            np.array([0.06, 0.06, 0.94, 0.94]),
        )
        snames = _combo_names(rng, k, suffix)
        school_name[cells] = snames
        add_block(
            cat,
            cells,
            snames,
            floor=lognorm(14_000 if kind == MIDDLE else 11_000, 0.3, k),
            land=np.round(_shoelace(qx, qy)),
            cap=rng.integers(cls_lo, cls_hi, k) * per_class,
            status=np.full(k, "existing"),
            u=np.full(k, 0.5),
            v=np.full(k, 0.5),
            poly=quads_lonlat(qx, qy) if k else None,
        )

    # parks: groups of 4-connected park cells
    park_m = Tf == PARK
    plab = components(park_m, np.ones(pair_a.size, bool))
    park_cells = np.flatnonzero(park_m)
    _, park_group = np.unique(plab[park_cells], return_inverse=True)
    n_parks = int(park_group.max()) + 1 if park_cells.size else 0
    park_poly = _group_union(cell_poly[park_cells], park_group, n_parks)
    park_area = np.bincount(park_group, weights=cell_area[park_cells], minlength=n_parks)
    park_first = np.full(n_parks, -1, dtype=np.int64)
    park_first[park_group[::-1]] = park_cells[::-1]
    park_names = _combo_names(rng, n_parks, "公园")
    park_x = np.bincount(
        park_group, weights=cell_x[park_cells] * cell_area[park_cells], minlength=n_parks
    ) / np.maximum(park_area, 1)
    park_y = np.bincount(
        park_group, weights=cell_y[park_cells] * cell_area[park_cells], minlength=n_parks
    ) / np.maximum(park_area, 1)
    if n_parks:
        central_park = int(np.argmin(np.hypot(park_x - x0, park_y - y0) - 1e-3 * park_area))
        park_names[central_park] = "示例中央公园"
    add_block(
        "residential_park",
        park_first,
        park_names,
        land=np.round(park_area),
        status=np.full(n_parks, "existing"),
        hours="06:00-22:00",
        u=np.full(n_parks, 0.5),
        v=np.full(n_parks, 0.5),
        poly=park_poly,
    )

    fac = {key: np.concatenate([b[key] for b in fac_blocks]) for key in fac_blocks[0]}
    n_fac = fac["cell"].size

    # facilities "at risk": standing on a small parcel planned for another use
    risk_cats = np.isin(
        fac["category"],
        [
            "community_office",
            "community_service_station",
            "elderly_day_care",
            "health_station",
            "culture_station",
            "canteen",
        ],
    )
    cand = np.flatnonzero(risk_cats & (fac["status"] == "existing") & ~slot_used[fac["cell"]])
    cand = cand[np.unique(fac["cell"][cand], return_index=True)[1]]
    n_risk = min(cand.size, max(3, int(round(0.006 * n_fac))))
    risk = cand[_gumbel_topk(np.ones(cand.size), n_risk, rng)]
    rc = fac["cell"][risk]
    slot_used[rc] = True
    qx, qy, cu, cv = slot_quads(rc, lognorm(1200, 0.3, rc.size))
    fac["u"][risk], fac["v"][risk] = cu, cv
    risk_kind = rng.integers(0, 3, rc.size)
    small_parcels.append(
        dict(
            cell=rc,
            poly=quads_lonlat(qx, qy) if rc.size else np.zeros(0, dtype=object),
            area=_shoelace(qx, qy),
            code=np.array(["1207", "0901", "1402"])[risk_kind],
            use=np.array(["城镇道路用地（道路拓宽）", "商业用地（旧城更新）", "防护绿地"])[risk_kind],
            status=np.full(rc.size, "planned"),
        )
    )

    # reserved community-service land (0702), some with planned facilities on it
    free_units = np.flatnonzero(~slot_used[unit_cell])
    n_res = int(round(0.35 * n_comm))
    rc = unit_cell[free_units[_gumbel_topk(np.ones(free_units.size), n_res, rng)]]
    slot_used[rc] = True
    qx, qy, cu, cv = slot_quads(rc, lognorm(1800, 0.35, rc.size))
    res_status = np.where(rng.random(rc.size) < 0.55, "reserved", "planned")
    small_parcels.append(
        dict(
            cell=rc,
            poly=quads_lonlat(qx, qy) if rc.size else np.zeros(0, dtype=object),
            area=_shoelace(qx, qy),
            code=np.full(rc.size, "0702"),
            use=np.full(rc.size, "城镇社区服务设施用地（预留）"),
            status=res_status,
        )
    )
    planned_here = np.flatnonzero(res_status == "planned")
    if planned_here.size:
        pcat = np.array(["community_service_station", "elderly_day_care", "embedded_service"])[
            rng.integers(0, 3, planned_here.size)
        ]
        pcells = rc[planned_here]
        pnames = np.strings.add(
            comm_name_of_unit[unit_of_cell[pcells]],
            np.where(
                pcat == "elderly_day_care",
                "日间照料中心（规划）",
                np.where(pcat == "embedded_service", "嵌入式服务中心（规划）", "综合服务站（规划）"),
            ),
        )
        pfloor = np.where(pcat == "elderly_day_care", 400.0, np.where(pcat == "embedded_service", 800.0, 800.0))
        extra = dict(
            category=pcat.astype(object),
            cell=pcells,
            name=pnames.astype(object),
            floor=pfloor,
            land=np.round(_shoelace(qx, qy))[planned_here],
            cap=np.where(pcat == "elderly_day_care", rng.integers(20, 61, planned_here.size), -1).astype(np.int64),
            status=np.full(planned_here.size, "planned", dtype=object),
            hours=np.full(planned_here.size, None, dtype=object),
            u=cu[planned_here],
            v=cv[planned_here],
            poly=np.full(planned_here.size, None, dtype=object),
        )
        fac = {key: np.concatenate([fac[key], extra[key]]) for key in fac}
        n_fac = fac["cell"].size

    # facility geometries and addresses
    fgeom = sites_lonlat(fac)
    fac_ids = _ids("sample:facility:", n_fac)
    fac_address = address_of(fac["cell"])
    cap = pd.array(np.where(fac["cap"] >= 0, fac["cap"], 0), dtype="Int64")
    cap[fac["cap"] < 0] = pd.NA
    facilities = gpd.GeoDataFrame(
        {
            "source_id": fac_ids,
            "name": fac["name"],
            "category": fac["category"],
            "floor_area_m2": fac["floor"],
            "land_area_m2": fac["land"],
            "capacity": cap,
            "status": fac["status"],
            "address": fac_address,
            "opening_hours": fac["hours"],
        },
        geometry=fgeom,
        crs=4326,
    )
    at_risk_ids = list(fac_ids[risk])

    # ------------------------------------------------------------------
    # 8. shelters
    # ------------------------------------------------------------------
    stage("shelters")
    rng = rngs["shelters"]
    sh_blocks: list[dict] = []

    def add_sh(cells, names, cls, eff, u, v, poly, status=None):
        k = cells.size
        if k == 0:
            return
        if status is None:
            rr = rng.random(k)
            status = np.where(rr < 0.92, "existing", np.where(rr < 0.95, "under_construction", "planned"))
        sh_blocks.append(
            dict(
                cell=cells,
                name=np.asarray(names).astype(object),
                cls=np.asarray(cls).astype(object),
                eff=np.round(np.asarray(eff, float)),
                u=np.asarray(u, float),
                v=np.asarray(v, float),
                poly=np.asarray(poly, dtype=object),
                status=np.asarray(status).astype(object),
            )
        )

    if n_parks:
        eff = park_area * rng.uniform(0.45, 0.65, n_parks)
        cls = np.where(park_area >= 40_000, "fixed", "emergency")
        cls[np.argsort(-park_area, kind="stable")[:n_central]] = "central"
        cls[central_park] = "central"
        poly = np.where((cls != "emergency") | (rng.random(n_parks) < 0.5), park_poly, None)
        pt_u = np.full(n_parks, 0.5)
        # points: representative point of the park polygon, expressed via the first cell centre
        add_sh(
            park_first,
            np.strings.add(
                park_names,
                np.where(cls == "central", "中心避难场所", np.where(cls == "fixed", "固定避难场所", "应急避难场所")),
            ),
            cls,
            eff,
            pt_u,
            pt_u,
            poly,
            status=np.full(n_parks, "existing"),
        )
    sq = np.flatnonzero(Tf == SQUARE)
    add_sh(
        sq,
        _combo_names(rng, sq.size, "广场紧急避难场所"),
        np.full(sq.size, "emergency"),
        cell_area[sq] * rng.uniform(0.5, 0.7, sq.size),
        np.full(sq.size, 0.5),
        np.full(sq.size, 0.5),
        np.full(sq.size, None),
    )
    ms = np.flatnonzero(Tf == MIDDLE)
    add_sh(
        ms,
        np.strings.add(school_name[ms].astype(str), "固定避难场所"),
        np.full(ms.size, "fixed"),
        cell_area[ms] * rng.uniform(0.25, 0.35, ms.size),
        np.full(ms.size, 0.3),
        np.full(ms.size, 0.3),
        np.full(ms.size, None),
    )
    ps = np.flatnonzero(Tf == PRIMARY)
    ps = ps[rng.random(ps.size) < 0.5]
    add_sh(
        ps,
        np.strings.add(school_name[ps].astype(str), "紧急避难场所"),
        np.full(ps.size, "emergency"),
        cell_area[ps] * rng.uniform(0.2, 0.3, ps.size),
        np.full(ps.size, 0.3),
        np.full(ps.size, 0.3),
        np.full(ps.size, None),
    )
    oc = unit_cell[rng.random(n_units) < 0.06]
    ou, ov = _point_outside_ne(rng, oc.size)
    add_sh(
        oc,
        np.strings.add(unit_names[unit_of_cell[oc]], "紧急避难场所"),
        np.full(oc.size, "emergency"),
        lognorm(1800, 0.45, oc.size),
        ou,
        ov,
        np.full(oc.size, None),
    )
    sh = {key: np.concatenate([b[key] for b in sh_blocks]) for key in sh_blocks[0]}
    n_sh = sh["cell"].size
    sgeom = sites_lonlat(sh)
    per_person = np.where(sh["cls"] == "emergency", 1.5, 2.0)
    shelters = gpd.GeoDataFrame(
        {
            "source_id": _ids("sample:shelter:", n_sh),
            "name": sh["name"],
            "shelter_class": sh["cls"],
            "effective_area_m2": sh["eff"],
            "capacity_persons": np.floor(sh["eff"] / per_person).astype(np.int64),
            "status": sh["status"],
            "address": address_of(sh["cell"]),
        },
        geometry=sgeom,
        crs=4326,
    )

    # ------------------------------------------------------------------
    # 9. plan parcels: one per county cell, minus the small parcels
    # ------------------------------------------------------------------
    stage("plan_parcels")
    rng = rngs["plan_parcels"]
    sp = {key: np.concatenate([d[key] for d in small_parcels]) for key in small_parcels[0]}
    sp_of_cell = np.full(n_cells, -1, dtype=np.int64)
    sp_of_cell[sp["cell"]] = np.arange(sp["cell"].size)
    pcells = county_idx
    types = Tf[pcells]
    lut_code = np.full(32, "", dtype="U6")
    lut_use = np.full(32, "", dtype="U24")
    lut_status = np.full(32, "", dtype="U10")
    for tcode, (code, use, st) in _CELL_LAND_USE.items():
        lut_code[tcode], lut_use[tcode], lut_status[tcode] = code, use, st
    p_geom = cell_poly[pcells].copy()
    p_area = cell_area[pcells].copy()
    has_sp = sp_of_cell[pcells] >= 0
    if has_sp.any():
        spi = sp_of_cell[pcells[has_sp]]
        p_geom[has_sp] = shapely.difference(p_geom[has_sp], sp["poly"][spi])
        p_area[has_sp] -= sp["area"][spi]
    par_code = np.concatenate([lut_code[types], sp["code"]]).astype(object)
    par_use = np.concatenate([lut_use[types], sp["use"]]).astype(object)
    par_status = np.concatenate([lut_status[types], sp["status"]]).astype(object)
    plan_parcels = gpd.GeoDataFrame(
        {
            "source_id": _ids("sample:parcel:", pcells.size + sp["cell"].size),
            "land_use_code": par_code,
            "planned_use": par_use,
            "status": par_status,
            "area_m2": np.round(np.concatenate([p_area, sp["area"]]), 1),
        },
        geometry=np.concatenate([p_geom, sp["poly"]]),
        crs=4326,
    )

    # ------------------------------------------------------------------
    # 10. developments
    # ------------------------------------------------------------------
    stage("developments")
    rng = rngs["developments"]
    site_cells = np.flatnonzero(Tf == SITE)
    n_site = site_cells.size
    done_units = np.flatnonzero(u_r > 0.55)
    done_units = done_units[_gumbel_topk(households[done_units].astype(float) ** 2, max(1, int(round(8 * scale))), rng)]
    dev_cells = np.concatenate([site_cells, unit_cell[done_units]])
    n_dev = dev_cells.size
    planned_hh = np.concatenate(
        [np.round(cell_area[site_cells] / 10_000 * rng.uniform(180, 300, n_site)), households[done_units]]
    ).astype(np.int64)
    dev_status = np.concatenate(
        [np.where(rng.random(n_site) < 0.5, "planned", "under_construction"), np.full(done_units.size, "completed")]
    )
    required = np.round(planned_hh * 0.30, 1)
    rr = rng.random(n_dev)
    built = np.where(
        rr < 0.4,
        0.0,
        np.where(rr < 0.7, required * rng.uniform(0.3, 0.9, n_dev), required * rng.uniform(1.0, 1.5, n_dev)),
    )
    built = np.where(dev_status == "planned", 0.0, built)
    built = np.where((dev_status == "under_construction") & (built > required), required * 0.5, built)
    dev_names = _sadd(
        _combo_names(rng, n_dev),
        np.array(_DEV_SUFFIX)[rng.integers(0, len(_DEV_SUFFIX), n_dev)],
        np.array(["", "（一期）", "（二期）"])[rng.integers(0, 3, n_dev)],
    )
    developments = gpd.GeoDataFrame(
        {
            "source_id": _ids("sample:development:", n_dev),
            "name": dev_names.astype(object),
            "planned_households": planned_hh,
            "required_facility_area_m2": required,
            "built_facility_area_m2": np.round(built, 1),
            "status": dev_status.astype(object),
        },
        geometry=cell_poly[dev_cells],
        crs=4326,
    )

    # ------------------------------------------------------------------
    # 11. walking network
    # ------------------------------------------------------------------
    stage("network")
    rng = rngs["network"]
    Tp = np.full((ny + 2, nx + 2), VOID, dtype=np.int16)
    Tp[1:-1, 1:-1] = T
    walk = is_land(Tp)
    # horizontal edges (ny+1, nx): V[j,i] -> V[j,i+1]; cells below (j-1,i) and above (j,i)
    h_below, h_above = Tp[0 : ny + 1, 1 : nx + 1], Tp[1 : ny + 2, 1 : nx + 1]
    h_normal = walk[0 : ny + 1, 1 : nx + 1] | walk[1 : ny + 2, 1 : nx + 1]
    h_cand = (h_below == h_above) & ((h_below == RIVER) | (h_below == RAIL))
    # vertical edges (ny, nx+1): V[j,i] -> V[j+1,i]; cells left (j,i-1) and right (j,i)
    v_normal = walk[1 : ny + 1, 0 : nx + 1] | walk[1 : ny + 1, 1 : nx + 2]
    # bridges / underpasses: every arterial line, ~6 % of the local lines, at least 2 per barrier
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
    h_keep = h_normal | h_bridge
    v_keep = v_normal

    nvx = nx + 1
    h_j, h_i = np.nonzero(h_keep)
    v_j, v_i = np.nonzero(v_keep)
    e_a = np.concatenate([h_j * nvx + h_i, v_j * nvx + v_i])
    e_b = np.concatenate([h_j * nvx + h_i + 1, (v_j + 1) * nvx + v_i])
    e_bridge = np.concatenate([h_bridge[h_j, h_i], np.zeros(v_j.size, bool)])
    e_barrier = np.concatenate([h_below[h_j, h_i], np.zeros(v_j.size, np.int16)])
    e_art = np.concatenate([is_art_y[h_j], is_art_x[v_i]])
    e_names = np.concatenate([h_names[h_j, h_i], v_names[v_j, v_i]])
    e_base = np.concatenate([yline_base[h_j], xline_base[v_i]])
    n_e = e_a.size
    e_class = np.where(e_bridge, "crossing", np.where(e_art, "arterial", "local")).astype(object)
    # edge id lookup for the path network
    h_eid = np.full(h_keep.shape, -1, dtype=np.int64)
    h_eid[h_j, h_i] = np.arange(h_j.size)
    v_eid = np.full(v_keep.shape, -1, dtype=np.int64)
    v_eid[v_j, v_i] = h_j.size + np.arange(v_j.size)

    used = np.zeros(VX.size, bool)
    used[e_a] = True
    used[e_b] = True
    vmap = np.cumsum(used) - 1
    n_v = int(used.sum())
    vX, vY = VX.ravel(), VY.ravel()
    vLon, vLat = VLON.ravel(), VLAT.ravel()
    # midpoints (metric), centres of walkable cells
    mx, my = 0.5 * (vX[e_a] + vX[e_b]), 0.5 * (vY[e_a] + vY[e_b])
    wcells = np.flatnonzero(is_land(Tf))
    n_w = wcells.size
    px_, py_ = cell_x[wcells], cell_y[wcells]
    nX = np.concatenate([vX[used], mx, px_])
    nY = np.concatenate([vY[used], my, py_])
    mlon, mlat = lonlat(np.concatenate([mx, px_]), np.concatenate([my, py_]))
    nLon = np.concatenate([vLon[used], mlon])
    nLat = np.concatenate([vLat[used], mlat])
    n_nodes = nX.size
    mid_node = n_v + np.arange(n_e)
    cen_node = n_v + n_e + np.arange(n_w)
    # paths: centre -> side midpoints (parks, squares, schools: all 4 sides; else N-S or E-W)
    wj, wi = cj[wcells], ci[wcells]
    side_s, side_n = h_eid[wj, wi], h_eid[wj + 1, wi]
    side_w, side_e = v_eid[wj, wi], v_eid[wj, wi + 1]
    four = np.isin(Tf[wcells], [PARK, SQUARE, PRIMARY, MIDDLE])
    ns = rng.random(n_w) < 0.5
    use_s = four | ns
    use_w = four | ~ns
    p_from = np.concatenate([cen_node[use_s], cen_node[use_s], cen_node[use_w], cen_node[use_w]])
    p_side = np.concatenate([side_s[use_s], side_n[use_s], side_w[use_w], side_e[use_w]])
    assert (p_side >= 0).all()
    p_to = mid_node[p_side]
    ea, eb = vmap[e_a], vmap[e_b]
    eu = np.concatenate([ea, mid_node, p_from])
    ev = np.concatenate([mid_node, eb, p_to])
    eclass = np.concatenate([e_class, e_class, np.full(p_from.size, "path", dtype=object)])
    elen = np.hypot(nX[eu] - nX[ev], nY[eu] - nY[ev])
    coords = np.stack([np.stack([nLon[eu], nLat[eu]], -1), np.stack([nLon[ev], nLat[ev]], -1)], 1)
    network_edges = gpd.GeoDataFrame(
        {
            "u": eu.astype(np.int64),
            "v": ev.astype(np.int64),
            "length_m": elen,
            "road_class": eclass,
            "osm_way_id": np.full(eu.size, None, dtype=object),
        },
        geometry=shapely.linestrings(coords),
        crs=4326,
    )
    del coords
    network_nodes = gpd.GeoDataFrame(
        {"node_idx": np.arange(n_nodes, dtype=np.int64), "osm_id": np.full(n_nodes, None, dtype=object)},
        geometry=shapely.points(nLon, nLat),
        crs=4326,
    )

    # ------------------------------------------------------------------
    # 12. roads (lattice edges) and barriers
    # ------------------------------------------------------------------
    stage("roads")
    rng = rngs["roads"]
    road_names = np.where(
        e_bridge,
        np.strings.add(e_base, np.where(e_barrier == RIVER, np.where(e_art, "大桥", "人行桥"), "铁路下穿通道")),
        e_names,
    )
    rcoords = np.stack([np.stack([vLon[e_a], vLat[e_a]], -1), np.stack([vLon[e_b], vLat[e_b]], -1)], 1)
    roads = gpd.GeoDataFrame(
        {"source_id": _ids("sample:road:", n_e), "name": road_names.astype(object), "road_class": e_class},
        geometry=shapely.linestrings(rcoords),
        crs=4326,
    )
    del rcoords
    river_cells = np.flatnonzero(Tf == RIVER)
    river_metric = shapely.polygons(
        np.stack(
            [
                np.concatenate([CX[river_cells], CX[river_cells][:, :1]], 1),
                np.concatenate([CY[river_cells], CY[river_cells][:, :1]], 1),
            ],
            -1,
        )
    )
    river_poly = shapely.buffer(shapely.coverage_union_all(river_metric), -16.0, quad_segs=4)
    # railway centre line through the midpoints of the corridor's horizontal edges
    rj = np.arange(ny + 1)
    rail_in = np.zeros(ny + 1, bool)
    rail_in[:-1] |= T[:, rail_col] == RAIL
    rail_in[1:] |= T[:, rail_col] == RAIL
    rj = rj[rail_in]
    rail_x = 0.5 * (VX[rj, rail_col] + VX[rj, rail_col + 1])
    rail_y = 0.5 * (VY[rj, rail_col] + VY[rj, rail_col + 1])
    rail_line = shapely.linestrings(np.column_stack([rail_x, rail_y]))
    barrier_geoms = metric_to_lonlat_geoms(np.array([river_poly, rail_line], dtype=object))
    barriers = gpd.GeoDataFrame(
        {
            "source_id": ["sample:barrier:river", "sample:barrier:railway"],
            "name": [RIVER_NAME, RAILWAY_NAME],
            "barrier_type": ["river", "railway"],
        },
        geometry=barrier_geoms,
        crs=4326,
    )

    # ------------------------------------------------------------------
    # 13. polygons of units, communities, streets and county
    # ------------------------------------------------------------------
    stage("assemble")
    population_units = gpd.GeoDataFrame(
        {
            "source_id": _ids("sample:unit:", n_units),
            "name": unit_names.astype(object),
            "unit_type": np.full(n_units, "compound", dtype=object),
            "residents": residents,
            "households": households,
            "residents_60plus": r60,
            "residents_0_6": r06,
            "street_code": street_codes[unit_street].astype(object),
        },
        geometry=cell_poly[unit_cell],
        crs=4326,
    )
    comm_geom = _group_union(cell_poly[unit_cell], unit_comm, n_comm)
    communities = gpd.GeoDataFrame(
        {
            "source_id": np.strings.add("sample:community:", comm_codes).astype(object),
            "code": comm_codes.astype(object),
            "name": comm_names.astype(object),
            "street_code": street_codes[comm_street].astype(object),
            "has_fixed_office": has_office,
            "community_workers": comm_workers,
            "households": comm_hh,
            "residents": comm_res,
        },
        geometry=comm_geom,
        crs=4326,
    )
    street_geom = _group_union(cell_poly[county_idx], street[county_idx], n_streets)
    county_geom = _group_union(street_geom, s_county, n_counties)
    s_res = np.bincount(unit_street, weights=residents, minlength=n_streets)
    s_workers = np.round(s_res * WORKERS_PER_10K / 10_000 * rng.uniform(0.85, 1.1, n_streets)).astype(np.int64)
    c_workers = np.bincount(s_county, weights=s_workers, minlength=n_counties).astype(np.int64)
    admin_areas = gpd.GeoDataFrame(
        {
            "source_id": np.strings.add("sample:admin:", np.concatenate([county_codes, street_codes])).astype(object),
            "level": np.array(["county"] * n_counties + ["street"] * n_streets, dtype=object),
            "code": np.concatenate([county_codes, street_codes]).astype(object),
            "name": np.concatenate([county_names, street_names]).astype(object),
            "parent_code": np.concatenate([np.full(n_counties, CITY_CODE), county_codes[s_county]]).astype(object),
            "community_workers_available": np.concatenate([c_workers, s_workers]),
        },
        geometry=np.concatenate([county_geom, street_geom]),
        crs=4326,
    )

    counts = {
        "admin_areas": len(admin_areas),
        "counties": n_counties,
        "streets": n_streets,
        "population_units": n_units,
        "residents": int(residents.sum()),
        "households": int(households.sum()),
        "communities": n_comm,
        "facilities": len(facilities),
        "shelters": len(shelters),
        "plan_parcels": len(plan_parcels),
        "developments": len(developments),
        "roads": len(roads),
        "barriers": len(barriers),
        "network_nodes": n_nodes,
        "network_edges": len(network_edges),
        "crossing_edges": int((eclass == "crossing").sum()),
        "lattice_cells": int(in_county.sum()),
    }
    gap_lon, gap_lat = lonlat(kg_gap_xy[:, 0], kg_gap_xy[:, 1]) if kg_gap_xy.size else (np.zeros(0), np.zeros(0))
    metadata = {
        "synthetic": True,
        "name": CITY_NAME,
        "name_zh": CITY_NAME_ZH,
        "description_zh": "按固定随机种子生成的合成示例数据，仅用于演示与测试，不代表任何真实地点、人口或设施。",
        "seed": int(seed),
        "scale": float(scale),
        "center_lonlat": CENTER_LONLAT,
        "metric_crs": f"EPSG:{METRIC_EPSG}",
        "crs": "EPSG:4326",
        "plan_name": PLAN_NAME,
        "county_codes": [str(c) for c in county_codes],
        "counts": counts,
        "lattice_shape": (ny, nx),
        "river_name": RIVER_NAME,
        "railway_name": RAILWAY_NAME,
        "deliberate_gaps": [
            {
                "category": "kindergarten",
                "center_lonlat": (float(a), float(b)),
                "radius_m": KG_GAP_R,
                "note_zh": "该范围内任一点300米内无幼儿园",
            }
            for a, b in zip(gap_lon, gap_lat)
        ]
        + [
            {
                "category": "elderly_day_care",
                "center_lonlat": CENTER_LONLAT,
                "radius_m": EDC_GAP_R,
                "note_zh": "老城区缺少老年人日间照料中心",
            }
        ],
        "at_risk_facilities": at_risk_ids,
    }
    stage.done()
    return SampleCity(
        admin_areas=admin_areas,
        population_units=population_units,
        communities=communities,
        facilities=facilities,
        shelters=shelters,
        plan_parcels=plan_parcels,
        developments=developments,
        roads=roads,
        barriers=barriers,
        network_nodes=network_nodes,
        network_edges=network_edges,
        metadata=metadata,
        plan_name=PLAN_NAME,
    )


def _main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual benchmark
    import argparse
    import resource
    import time

    ap = argparse.ArgumentParser(description="Generate the synthetic Deyang sample city and print its counts.")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    def prog(name, frac):
        if not args.quiet:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"[{time.perf_counter() - t0:8.2f}s {rss:8.0f} MB] {frac:5.0%} {name}", flush=True)

    city = generate_sample_city(args.scale, args.seed, prog)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for k, v in city.metadata["counts"].items():
        print(f"{k:>20}: {v:,}")
    print(f"time {dt:.2f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":  # pragma: no cover
    _main()
