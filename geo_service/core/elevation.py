"""Node elevations of the walking network from an elevation raster (GeoTIFF in any CRS).

:func:`sample_raster` reads the raster in a spawned worker process (rasterio's GDAL clashes with
pyogrio's in one process, see ``population/weights.py``; the service and test processes never load
rasterio) and returns the bilinear-interpolated value at each point; :func:`import_elevation` samples
every node of a stored network and stores ``network_nodes.elevation_m``, after which walking times on
slopes follow Tobler's function (:mod:`geo_service.core.network.profiles`).

Units: metres (the raster's values are taken as metres above a datum).  CRS: points in EPSG:4326,
transformed to the raster's CRS in the worker.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import GeoServiceError, InputError

MIN_ELEVATION_M, MAX_ELEVATION_M = -500.0, 9000.0
"""Values outside this range are read as no data (m)."""


@dataclass(frozen=True)
class ElevationImport:
    """What :func:`import_elevation` did.

    Attributes
    ----------
    network_id : int
    nodes : int
        Nodes of the network.
    sampled : int
        Nodes that got an elevation (the others lie outside the raster or on no data).
    min_m, max_m : float
        Lowest and highest node elevation, metres.
    """

    network_id: int
    nodes: int
    sampled: int
    min_m: float
    max_m: float

    def message_zh(self) -> str:
        outside = self.nodes - self.sampled
        tail = f"，{outside:,} 个节点在栅格范围外或无数据，按平地计算" if outside else ""
        return (
            f"已为步行网络（编号 {self.network_id}）的 {self.sampled:,} / {self.nodes:,} 个节点写入高程"
            f"（{self.min_m:.1f}–{self.max_m:.1f} 米）{tail}；坡道步行时间按 Tobler 函数计算，"
            "轮椅出行方式不经过超过规范坡度的路段"
        )


def sample_raster(raster_path: str | Path, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Raster values (band 1, bilinear) at points given in EPSG:4326; NaN outside the raster or on no data.

    Raises
    ------
    InputError
        The file is not a readable raster, has no CRS or is rotated (Chinese message).
    GeoServiceError
        The worker process died.
    """
    path = Path(raster_path)
    if not path.is_file():
        raise InputError(f"no such file: {path}", f"找不到高程栅格文件：{path}")
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            values, problem = pool.submit(
                _sample_worker, str(path), np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
            ).result()
    except BrokenProcessPool as exc:
        raise GeoServiceError(
            "the elevation raster could not be read", "读取高程栅格失败（读取进程异常退出），请检查栅格文件"
        ) from exc
    if problem == "no_crs":
        raise InputError(
            "the elevation raster has no CRS",
            "高程栅格没有坐标系（CRS），无法与步行网络叠加；请先为栅格指定坐标系（如 gdal_edit.py -a_srs EPSG:4490）",
        )
    if problem == "rotated":
        raise InputError("rotated rasters are not supported", "不支持旋转的高程栅格，请先重采样为正北方向的栅格")
    if problem:
        raise InputError(f"cannot read the elevation raster: {problem}", f"无法读取高程栅格文件：{problem[:200]}")
    return values


def _sample_worker(path: str, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, str | None]:
    """In the worker process: ``(values, problem)``; problem ``no_crs``, ``rotated`` or a read error."""
    import rasterio
    from pyproj import Transformer

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                return np.empty(0), "no_crs"
            if not src.transform.is_rectilinear:
                return np.empty(0), "rotated"
            band = src.read(1, masked=True).astype("float64").filled(np.nan)
            inv = ~src.transform
            crs_wkt = src.crs.to_wkt()
    except Exception as exc:  # rasterio: not a raster, or a broken one
        return np.empty(0), str(exc) or type(exc).__name__
    x, y = Transformer.from_crs("EPSG:4326", crs_wkt, always_xy=True).transform(lon, lat)
    col, row = inv * (np.asarray(x), np.asarray(y))
    return bilinear(band, np.asarray(row) - 0.5, np.asarray(col) - 0.5), None


def bilinear(band: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a grid at fractional cell-centre positions (row, col); NaN outside or on NaN.

    At the outer half cell the nearest cells are used (no extrapolation beyond the raster's edge).
    """
    h, w = band.shape
    inside = (row >= -0.5) & (row <= h - 0.5) & (col >= -0.5) & (col <= w - 0.5) & np.isfinite(row) & np.isfinite(col)
    r = np.clip(np.where(inside, row, 0.0), 0.0, h - 1.0)
    c = np.clip(np.where(inside, col, 0.0), 0.0, w - 1.0)
    r0 = np.minimum(np.floor(r).astype(np.int64), max(h - 2, 0))
    c0 = np.minimum(np.floor(c).astype(np.int64), max(w - 2, 0))
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = r - r0, c - c0
    v = (
        band[r0, c0] * (1 - fr) * (1 - fc)
        + band[r0, c1] * (1 - fr) * fc
        + band[r1, c0] * fr * (1 - fc)
        + band[r1, c1] * fr * fc
    )
    v = np.where(inside, v, np.nan)
    return np.where((v >= MIN_ELEVATION_M) & (v <= MAX_ELEVATION_M), v, np.nan)


def import_elevation(
    store: Any, raster_path: str | Path, network: int | str | None = None, *, actor: str | None = None
) -> ElevationImport:
    """Sample the elevation raster at every node of a stored network and store the node elevations.

    Parameters
    ----------
    store : Store
        With ``list_networks``, ``read_layer`` and ``set_node_elevations``.
    raster_path : path
        A one-band GeoTIFF (or any raster GDAL reads) of elevations in metres, any CRS.
    network : int or str, optional
        The network's id or name (default the newest).
    actor : str, optional
        Who imports, for the change log.

    Raises
    ------
    InputError
        No CRS, a rotated or unreadable raster, or a raster that covers none of the network's nodes.
    NotFoundError
        No network is stored.
    """
    from .network.cache import pick_network

    row = pick_network(store, network)
    nodes = store.read_layer("network_nodes", network_id=row["id"])
    lon = nodes.geometry.x.to_numpy()
    lat = nodes.geometry.y.to_numpy()
    z = sample_raster(raster_path, lon, lat)
    ok = np.isfinite(z)
    if not ok.any():
        raise InputError(
            "the elevation raster does not cover the walking network",
            f"高程栅格与步行网络不重叠：网络范围为经度 {lon.min():.4f}–{lon.max():.4f}、纬度 {lat.min():.4f}–"
            f"{lat.max():.4f}，栅格在此范围内没有有效高程；请检查栅格的范围和坐标系",
        )
    store.set_node_elevations(row["id"], nodes["node_idx"].to_numpy(), z, actor=actor, source=Path(raster_path).name)
    return ElevationImport(int(row["id"]), len(z), int(ok.sum()), float(np.nanmin(z)), float(np.nanmax(z)))
