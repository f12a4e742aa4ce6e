"""Weights of population units: residential floor area of buildings, or a population raster's exact zonal sums."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core._errors import GeoServiceError, InputError

__all__ = ["BuildingWeights", "MAX_FLOORS", "building_weights", "check_raster", "raster_weights"]

MAX_FLOORS = 200  # the tallest buildings in China have about 130 storeys
MAX_HEIGHT_M = 700.0
USES = ("residential", "mixed", "other")


@dataclass
class BuildingWeights:
    """Per building: residential floor area (m²), floors used, footprint (m²); the assumptions made, with counts."""

    floor_area_m2: np.ndarray
    floors: np.ndarray
    footprint_m2: np.ndarray
    assumptions: list[dict] = field(default_factory=list)


def _ints(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _check_buildings(buildings: gpd.GeoDataFrame, area: np.ndarray, floors: np.ndarray, height: np.ndarray) -> None:
    """Refuse buildings without area, floors outside 1..MAX_FLOORS, heights outside (0, MAX_HEIGHT_M], negative or
    fractional counts (an :class:`InputError` naming them)."""
    names = buildings["name"] if "name" in buildings.columns else pd.Series([None] * len(buildings))
    label = [str(n) if isinstance(n, str) and n else f"第 {i + 1} 栋" for i, n in enumerate(names)]
    problems = []
    bad_floors = np.isfinite(floors) & ((floors < 1) | (floors > MAX_FLOORS) | (floors != np.round(floors)))
    bad_height = np.isfinite(height) & ((height <= 0) | (height > MAX_HEIGHT_M))
    for mask, what in (
        (~(area > 0), "没有面积（空几何或非面要素）"),
        (bad_floors, f"层数应为 1 到 {MAX_FLOORS} 的整数"),
        (bad_height, f"高度应在 0 到 {MAX_HEIGHT_M:g} 米之间"),
    ):
        idx = np.flatnonzero(mask)
        if len(idx):
            problems.append(f"{len(idx)} 栋建筑{what}：" + "、".join(label[i] for i in idx[:10]))
    for col, zh in (("dwellings", "套数"), ("households", "户数")):
        v = _ints(buildings, col)
        idx = np.flatnonzero(np.isfinite(v) & ((v < 0) | (v != np.round(v))))
        if len(idx):
            problems.append(f"{len(idx)} 栋建筑的{zh}不是非负整数：" + "、".join(label[i] for i in idx[:10]))
    if problems:
        raise InputError(
            f"bad buildings: {len(problems)} problem(s)", "建筑数据有误，未写入任何数据：" + "；".join(problems)
        )


def building_weights(
    buildings: gpd.GeoDataFrame,
    *,
    storey_height_m: float,
    mixed_use_residential_share: float,
    default_floors: dict[str, int],
) -> BuildingWeights:
    """Residential floor area of each building.

    Parameters
    ----------
    buildings : GeoDataFrame
        Footprint polygons in a metric CRS (metres), with ``floors`` (int), ``height_m`` (m) and ``use``
        (``residential`` | ``mixed`` | ``other`` | None) where known.
    storey_height_m : float
        Metres per storey: floors = round(height / storey height), at least 1, where only the height is known.
    mixed_use_residential_share : float
        Share (0..1) of a mixed-use building's floor area counted as residential.
    default_floors : dict
        Floors per use where neither floors nor height is known.

    Returns
    -------
    BuildingWeights
        ``floor_area_m2`` = footprint (m²) × floors × (1 residential, the share for mixed, 0 other); a missing use
        counts as residential. Each default used is an assumption with the number of buildings it applied to.

    Raises
    ------
    InputError
        Buildings without area, floors outside 1..200 or non-integer, heights outside (0, 700] m, negative or
        fractional dwellings/households.
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("buildings must be in a metric CRS")
    area = shapely.area(np.asarray(buildings.geometry.values, dtype=object))
    area = np.where(np.isfinite(area), area, 0.0)
    floors = _ints(buildings, "floors")
    height = _ints(buildings, "height_m")
    _check_buildings(buildings, area, floors, height)
    use = buildings["use"].to_numpy(dtype=object) if "use" in buildings.columns else np.full(len(buildings), None)
    use = np.array([u if u in USES else None for u in use], dtype=object)
    assumptions = []
    from_height = ~np.isfinite(floors) & np.isfinite(height)
    used = floors.copy()
    used[from_height] = np.maximum(1.0, np.round(height[from_height] / storey_height_m))
    if from_height.any():
        assumptions.append(
            {
                "what": "floors_from_height",
                "count": int(from_height.sum()),
                "text_zh": f"层数由高度 ÷ 层高 {storey_height_m:g} 米推算（四舍五入，至少 1 层）",
            }
        )
    no_use = np.array([u is None for u in use])
    if no_use.any():
        assumptions.append({"what": "use_missing", "count": int(no_use.sum()), "text_zh": "用途缺失的建筑按住宅计"})
    use = np.where(no_use, "residential", use)
    missing = ~np.isfinite(used)
    for u in USES:
        sel = missing & (use == u)
        if sel.any():
            n = int(default_floors.get(u, default_floors.get("residential", 6)))
            used[sel] = n
            text = f"层数与高度均缺失的{_USE_ZH[u]}建筑按 {n} 层计"
            assumptions.append({"what": f"default_floors_{u}", "count": int(sel.sum()), "text_zh": text})
    share = np.select([use == "residential", use == "mixed"], [1.0, float(mixed_use_residential_share)], 0.0)
    if (use == "mixed").any():
        assumptions.append(
            {
                "what": "mixed_use_share",
                "count": int((use == "mixed").sum()),
                "text_zh": f"商住混合建筑按建筑面积的 {mixed_use_residential_share:.0%} 计为住宅",
            }
        )
    return BuildingWeights(area * used * share, used.astype(int), area, assumptions)


_USE_ZH = {"residential": "住宅", "mixed": "商住混合", "other": "非住宅"}


def raster_weights(units: gpd.GeoDataFrame, raster_path: str) -> np.ndarray:
    """Sum of a population raster over each unit polygon, cells weighted by the exact fraction covered.

    Parameters
    ----------
    units : GeoDataFrame
        Unit polygons, any CRS (reprojected to the raster's).
    raster_path : str
        A single-band GeoTIFF in any CRS; nodata cells count 0.

    Returns
    -------
    ndarray of float
        Raster value × covered cell fraction, summed per unit (units of the raster, e.g. persons).

    Raises
    ------
    InputError
        The raster cannot be read or has no CRS.
    """
    # Everything that touches the raster runs in a process of its own: rasterio's wheel carries a GDAL (3.10) other
    # than pyogrio's (3.12), and with both loaded the full test run crashed in rasterio; exactextract's GEOS
    # likewise. The service process never loads rasterio, and a crash there becomes an error message.
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            crs_wkt, problem = pool.submit(_raster_crs, str(raster_path)).result()
            if problem:
                raise _raster_error(problem)
            zones = units.geometry.to_crs(pyproj_crs(crs_wkt)).values
            zones_wkb = list(shapely.to_wkb(np.asarray(zones, dtype=object)))
            sums = pool.submit(_exact_sums, str(raster_path), zones_wkb, crs_wkt).result()
    except BrokenProcessPool as exc:
        raise GeoServiceError(
            "the raster zonal sums failed", "人口栅格分区统计失败（计算进程异常退出），请检查栅格文件"
        ) from exc
    return np.maximum(np.nan_to_num(sums), 0.0)


def check_raster(raster_path) -> str:
    """Check that a file is a raster with a CRS (read in a process of its own, see :func:`raster_weights`); return
    the CRS as WKT.  :class:`InputError` in Chinese when it cannot be read, has no CRS or is rotated."""
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            crs_wkt, problem = pool.submit(_raster_crs, str(raster_path)).result()
    except BrokenProcessPool as exc:
        raise GeoServiceError("the raster check failed", "人口栅格检查失败（检查进程异常退出）") from exc
    if problem:
        raise _raster_error(problem)
    return crs_wkt


def _raster_error(problem: str) -> InputError:
    if problem == "no_crs":
        return InputError("the raster has no CRS", "人口栅格没有坐标系（CRS），无法与单元叠加；请为栅格指定坐标系")
    if problem == "rotated":
        return InputError("rotated rasters are not supported", "不支持旋转的栅格，请先重采样为正北方向的栅格")
    return InputError(f"cannot read raster: {problem}", f"无法读取人口栅格文件：{problem[:200]}")


def _raster_crs(raster_path: str) -> tuple[str, str | None]:
    """(CRS as WKT, problem) of a raster, in the worker process: problem ``no_crs``, ``rotated`` or a read error."""
    import rasterio

    try:
        with rasterio.open(raster_path) as src:
            crs, rotated = src.crs, not src.transform.is_rectilinear
    except Exception as exc:  # rasterio: not a raster
        return "", str(exc)
    if crs is None:
        return "", "no_crs"
    return crs.to_wkt(), "rotated" if rotated else None


def _exact_sums(raster_path: str, zones_wkb: list[bytes], crs_wkt: str) -> np.ndarray:
    """Per zone (WKB, in the raster's CRS) the sum of cell value × covered fraction (exactextract); nodata = 0."""
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    with rasterio.open(raster_path) as src:
        band = src.read(1, masked=True)
        xmin, ymin, xmax, ymax = src.bounds
    people = np.ma.filled(band.astype("float64"), 0.0)
    cells = NumPyRasterSource(people, xmin, ymin, xmax, ymax, srs_wkt=crs_wkt)
    zones = gpd.GeoDataFrame(
        {"uid": np.arange(len(zones_wkb))}, geometry=shapely.from_wkb(zones_wkb), crs=pyproj_crs(crs_wkt)
    )
    res = exact_extract(cells, zones, "sum", include_cols=["uid"], output="pandas")
    out = np.zeros(len(zones_wkb))
    out[res["uid"].to_numpy()] = res["sum"].to_numpy(dtype=float)
    return out


def pyproj_crs(wkt: str):
    """A pyproj CRS from WKT (the raster's CRS in the worker process)."""
    import pyproj

    return pyproj.CRS.from_wkt(wkt)
