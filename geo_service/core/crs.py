"""Coordinate reference systems met in Chinese data.

* **WGS84** (EPSG:4326) is the storage CRS of the service: longitude, latitude
  in degrees, x = longitude.  **CGCS2000** (EPSG:4490) equals WGS84 within about
  a metre and is relabelled, not shifted.
* **GCJ-02** ("Mars coordinates": Amap/高德, Tencent/腾讯) is WGS84 plus a
  deliberate offset of up to several hundred metres inside China.  The forward
  formula is published (Krasovsky ellipsoid constants); the inverse has no
  closed form and is solved by a vectorized fixed-point iteration.
* **BD-09** (Baidu/百度) is GCJ-02 plus a further published offset.
* **CGCS2000 3-degree Gauss-Kruger** zones are the usual metric CRSs of Chinese
  survey data: "zone N" (EPSG:4513-4533, zones 25-45, false easting
  N*1,000,000 + 500,000) and "CM xE" (EPSG:4534-4554, central meridians
  75E-135E, false easting 500,000).  Their axis order is northing, easting;
  pyproj is always used with ``always_xy=True`` so x stays the easting.

All coordinate functions take and return longitude/latitude in **degrees**,
as numpy arrays (any shape, broadcast together) or scalars, and never loop in
Python over points.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike

from ._errors import CRSError

__all__ = [
    "SourceCRS",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "transform_geometries",
    "parse_source_crs",
    "to_wgs84",
    "choose_metric_crs",
    "metric_crs_for",
    "plausible_lonlat",
    "looks_swapped",
    "in_china_box",
    "CHINA_BOX",
    "ACCEPTED_FORMS",
]

# --- GCJ-02 / BD-09 -------------------------------------------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m), as in the published GCJ-02 formula
_EE = 0.00669342162296594323  # Krasovsky first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # BD-09 constant

# The rough "inside China" box used by the published GCJ-02 implementations.
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)  # lon_min, lat_min, lon_max, lat_max (degrees)

_INVERSE_TOL_DEG = 1e-9
_INVERSE_MAX_ITER = 30


def _as_float(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray, bool]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    scalar = lon.ndim == 0 and lat.ndim == 0
    lon, lat = np.broadcast_arrays(lon, lat)
    return lon.copy(), lat.copy(), scalar


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return lon[()], lat[()]
    return lon, lat


def in_china_box(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Boolean mask of points inside the rough China box of the GCJ-02 formula.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude in degrees (any CRS close to WGS84).

    Returns
    -------
    numpy.ndarray of bool
        True where ``72.004 <= lon <= 137.8347`` and ``0.8293 <= lat <= 55.8271``
        (NaN gives False).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x0, y0, x1, y1 = CHINA_BOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (degrees) of WGS84 points, without the China-box test."""
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike):
    """WGS84 to GCJ-02 (the published forward formula).

    Parameters
    ----------
    lon, lat : array_like or float
        WGS84 (EPSG:4326) longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        GCJ-02 longitude and latitude in degrees, same shape as the
        (broadcast) input.  Points outside the rough China box
        (:data:`CHINA_BOX`) are returned unchanged; NaN stays NaN.
    """
    lon, lat, scalar = _as_float(lon, lat)
    inside = in_china_box(lon, lat)
    if inside.any():
        dlon, dlat = _gcj_delta(lon[inside], lat[inside])
        lon[inside] += dlon
        lat[inside] += dlat
    return _out(lon, lat, scalar)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike):
    """GCJ-02 to WGS84 by fixed-point iteration of the forward formula.

    Solves ``wgs84_to_gcj02(w) = g`` with ``w <- w - (f(w) - g)``, starting at
    ``w = g``, vectorized over all points, until the largest change is below
    1e-9 degrees (at most 30 iterations; 3-4 are typical).  The round trip
    ``gcj02_to_wgs84(wgs84_to_gcj02(p))`` is below 1e-6 m inside China.

    Parameters
    ----------
    lon, lat : array_like or float
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        WGS84 (EPSG:4326) longitude and latitude in degrees.  Where the
        solution falls outside the China box (the forward formula is the
        identity there) the input is returned unchanged.  Within ~700 m
        outside the box edge a point may have two preimages; the one inside
        the box is returned.
    """
    lon, lat, scalar = _as_float(lon, lat)
    x0, y0, x1, y1 = CHINA_BOX
    margin = 0.1  # degrees; the offset is < 0.01 degrees
    near = (lon >= x0 - margin) & (lon <= x1 + margin) & (lat >= y0 - margin) & (lat <= y1 + margin)
    if near.any():
        g_lon, g_lat = lon[near], lat[near]
        w_lon, w_lat = g_lon.copy(), g_lat.copy()
        with np.errstate(invalid="ignore"):
            for _ in range(_INVERSE_MAX_ITER):
                dlon, dlat = _gcj_delta(w_lon, w_lat)
                step_lon = w_lon + dlon - g_lon
                step_lat = w_lat + dlat - g_lat
                w_lon = w_lon - step_lon
                w_lat = w_lat - step_lat
                change = np.fmax(np.abs(step_lon), np.abs(step_lat))
                if not (np.nanmax(change, initial=0.0) >= _INVERSE_TOL_DEG):
                    break
        # ~1 m: points on the box edge must not fall out by rounding or by the
        # error of an upstream approximate inverse (BD-09, < 0.25 m)
        eps = 1e-5
        keep = (w_lon >= x0 - eps) & (w_lon <= x1 + eps) & (w_lat >= y0 - eps) & (w_lat <= y1 + eps)
        lon[near] = np.where(keep, w_lon, g_lon)
        lat[near] = np.where(keep, w_lat, g_lat)
    return _out(lon, lat, scalar)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike):
    """GCJ-02 to BD-09 (Baidu), the published closed form.

    Parameters
    ----------
    lon, lat : array_like or float
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        BD-09 longitude and latitude in degrees.  Like the published
        implementations, the BD-09 offset is applied everywhere (no China box).
    """
    x, y, scalar = _as_float(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike):
    """BD-09 (Baidu) to GCJ-02, the published closed-form (approximate) inverse.

    Parameters
    ----------
    lon, lat : array_like or float
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        GCJ-02 longitude and latitude in degrees.  The closed form is not an
        exact inverse of :func:`gcj02_to_bd09`; the round-trip error is about
        5 cm typically and below 0.25 m everywhere in the China box.
    """
    lon, lat, scalar = _as_float(lon, lat)
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta), z * np.sin(theta), scalar)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike):
    """BD-09 to WGS84: :func:`bd09_to_gcj02` then :func:`gcj02_to_wgs84`.

    Parameters
    ----------
    lon, lat : array_like or float
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        WGS84 (EPSG:4326) longitude and latitude in degrees.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike):
    """WGS84 to BD-09: :func:`wgs84_to_gcj02` then :func:`gcj02_to_bd09`.

    Parameters
    ----------
    lon, lat : array_like or float
        WGS84 (EPSG:4326) longitude and latitude in degrees.

    Returns
    -------
    lon, lat : numpy.ndarray or float
        BD-09 longitude and latitude in degrees.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def transform_geometries(geoms, func: Callable):
    """Apply a lon/lat transform to every coordinate of shapely geometries.

    Parameters
    ----------
    geoms : array_like of shapely.Geometry or geopandas.GeoSeries
        Geometries with lon/lat coordinates in degrees; None and empty
        geometries pass through.
    func : callable
        ``func(lon, lat) -> (lon, lat)`` on numpy arrays, e.g.
        :func:`gcj02_to_wgs84`.  It is called once with all coordinates.

    Returns
    -------
    numpy.ndarray of shapely.Geometry, or geopandas.GeoSeries
        New geometries (a GeoSeries with the same index and CRS if a GeoSeries
        was given).  Z values are kept where the installed shapely supports it.
    """

    def _xy(x, y, z=None):
        nx, ny = func(x, y)
        nx = np.asarray(nx, dtype=float)
        ny = np.asarray(ny, dtype=float)
        return (nx, ny) if z is None else (nx, ny, z)

    series = None
    if hasattr(geoms, "geom_type") and hasattr(geoms, "index"):  # GeoSeries
        series = geoms
        arr = np.asarray(geoms.values, dtype=object)
    else:
        arr = np.asarray(geoms, dtype=object)
    try:
        out = shapely.transform(arr, _xy, include_z=None, interleaved=False)
    except (TypeError, ValueError):  # shapely < 2.1: no include_z=None
        out = shapely.transform(arr, _xy, include_z=False, interleaved=False)
    if series is not None:
        return type(series)(out, index=series.index, crs=series.crs, name=series.name)
    return out


# --- parsing source CRS names ---------------------------------------------


@dataclass(frozen=True)
class SourceCRS:
    """The coordinate system input data is declared in.

    Attributes
    ----------
    kind : {"epsg", "gcj02", "bd09"}
        ``"epsg"`` for anything pyproj knows (EPSG code, WKT, PROJ string);
        ``"gcj02"`` and ``"bd09"`` for the Chinese offset systems, whose
        coordinates are lon/lat degrees.
    crs : pyproj.CRS or None
        The pyproj CRS for ``kind == "epsg"``, else None.
    label : str
        Short human-readable name, e.g. ``"EPSG:4523 (CGCS2000 / 3-degree
        Gauss-Kruger zone 35)"`` or ``"GCJ-02"``.
    """

    kind: str
    crs: pyproj.CRS | None
    label: str

    @property
    def epsg(self) -> int | None:
        """EPSG code of :attr:`crs` when it has one."""
        return self.crs.to_epsg() if self.crs is not None else None


ACCEPTED_FORMS = (
    "EPSG:<code> or <code> (e.g. EPSG:4326, 4490, 4544)",
    "WGS84",
    "CGCS2000",
    "GCJ-02 / gcj02 / amap / gaode / tencent / 高德 / 腾讯 / 火星坐标",
    "BD-09 / bd09 / baidu / 百度",
    "CGCS2000 3-degree Gauss-Kruger zone 25-45 (e.g. cgcs2000-gk3-35, 'CGCS2000 3-degree GK zone 35')",
    "CGCS2000 3-degree Gauss-Kruger central meridian 75E-135E "
    "(e.g. cgcs2000-gk3-cm105, 'CGCS2000 3-degree GK CM 105E')",
    "CGCS2000 6-degree Gauss-Kruger zone 13-23 or CM 75E-135E (e.g. cgcs2000-gk6-18)",
    "any WKT, PROJ string or CRS name pyproj accepts",
)
_ACCEPTED_ZH = (
    "EPSG:<代码> 或 <代码>（如 EPSG:4326、4490、4544）；WGS84；CGCS2000；"
    "GCJ-02（高德、腾讯、火星坐标）；BD-09（百度）；"
    "CGCS2000 3度带高斯-克吕格 25-45 带（如 cgcs2000-gk3-35）或中央经线 75E-135E（如 cgcs2000-gk3-cm105）；"
    "CGCS2000 6度带 13-23 带或中央经线；pyproj 可识别的 WKT、PROJ 字符串或坐标系名称"
)

_ALIASES = {
    "wgs84": "epsg:4326",
    "wgs1984": "epsg:4326",
    "gps": "epsg:4326",
    "cgcs2000": "epsg:4490",
    "cgcs2000geographic": "epsg:4490",
    "2000国家大地坐标系": "epsg:4490",
    "国家2000": "epsg:4490",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "autonavi": "gcj02",
    "tencent": "gcj02",
    "qq": "gcj02",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "火星坐标": "gcj02",
    "火星坐标系": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
    "百度坐标": "bd09",
}
_OFFSET_LABELS = {"gcj02": "GCJ-02", "bd09": "BD-09"}

_GK_WORDS = re.compile(r"gauss\W*kr(?:u|ü|ue)ger|高斯\W*克吕格|\btm\b|transverse\s*mercator")
_CGCS = re.compile(r"cgcs\s*2000|国家\s*2000|2000\s*国家大地坐标系?")
_WIDTH = re.compile(r"gk\s*(3|6)(?!\d)|(?<!\d)(3|6)\s*(?:-|\s)?\s*(?:degrees?|deg|°|度(?:分)?带?)")


def _crs_error(text, reason: str = "", reason_zh: str = "") -> CRSError:
    forms = "; ".join(ACCEPTED_FORMS)
    return CRSError(
        f"unknown coordinate system {text!r}{': ' + reason if reason else ''}. Accepted: {forms}",
        f"无法识别的坐标系 {text!r}{'：' + reason_zh if reason_zh else ''}。可用写法：{_ACCEPTED_ZH}",
        crs=str(text),
        accepted=list(ACCEPTED_FORMS),
    )


def _epsg_source(code: int, text) -> SourceCRS:
    try:
        crs = pyproj.CRS.from_epsg(code)
    except pyproj.exceptions.CRSError:
        raise _crs_error(text, f"EPSG:{code} is not a known EPSG code", f"EPSG:{code} 不是已知的 EPSG 代码") from None
    return _pyproj_source(crs, text)


def _pyproj_source(crs: pyproj.CRS, text) -> SourceCRS:
    if not (crs.is_geographic or crs.is_projected):
        raise _crs_error(
            text, f"{crs.name} is neither geographic nor projected", f"{crs.name} 既不是地理坐标系也不是投影坐标系"
        )
    code = crs.to_epsg()
    name = crs.name if crs.name and crs.name != "unknown" else ""
    if code:
        label = f"EPSG:{code} ({name})" if name else f"EPSG:{code}"
    else:
        label = name or "custom CRS"
    return SourceCRS("epsg", crs, label)


def _parse_gk(text: str) -> int | None:
    """EPSG code of a CGCS2000 Gauss-Kruger name, None if ``text`` is not one."""
    t = _GK_WORDS.sub(" gk ", text.lower())
    if not _CGCS.search(t) or not ("gk" in t or "度带" in t or "度分带" in t):
        return None
    t = _CGCS.sub(" ", t)
    m = _WIDTH.search(t)
    if not m:
        raise _crs_error(
            text,
            "say 3-degree or 6-degree Gauss-Kruger (e.g. cgcs2000-gk3-35)",
            "请注明 3 度带或 6 度带（如 cgcs2000-gk3-35）",
        )
    width = int(m.group(1) or m.group(2))
    rest = t[: m.start()] + " " + t[m.end() :]
    nums = re.findall(r"\d+", rest)
    if len(nums) != 1:
        raise _crs_error(text, "give one zone number or central meridian", "请给出一个带号或中央经线")
    n = int(nums[0])
    says_cm = bool(re.search(r"\bcm|central\s*meridian|中央经线|\d\s*°?\s*e\b", rest))
    says_zone = bool(re.search(r"zone|带", rest))
    if width == 3:
        zones, cms, zone_base, cm_base = range(25, 46), range(75, 136, 3), 4513, 4534
    else:
        zones, cms, zone_base, cm_base = range(13, 24), range(75, 136, 6), 4491, 4502
    if not says_cm and n in zones:
        return zone_base + (n - zones.start)
    if not says_zone and n in cms:
        return cm_base + (n - 75) // width
    raise _crs_error(
        text,
        f"CGCS2000 {width}-degree Gauss-Kruger zones are {zones.start}-{zones.stop - 1}, "
        f"central meridians {cms.start}E-{cms.stop - 1}E in steps of {width}",
        f"CGCS2000 {width} 度带带号为 {zones.start}-{zones.stop - 1}，"
        f"中央经线为 {cms.start}E-{cms.stop - 1}E（间隔 {width}）",
    )


def parse_source_crs(text) -> SourceCRS:
    """Parse the coordinate system a user or a file declares.

    Parameters
    ----------
    text : str, int, pyproj.CRS or SourceCRS
        One of the accepted forms (see :data:`ACCEPTED_FORMS`): an EPSG code
        (``"EPSG:4326"``, ``"4326"``, ``4490``), ``"WGS84"``, ``"CGCS2000"``
        (EPSG:4490), GCJ-02 names (``"gcj02"``, ``"GCJ-02"``, ``"amap"``,
        ``"tencent"``, ``"高德"``), BD-09 names (``"bd09"``, ``"baidu"``,
        ``"百度"``), CGCS2000 Gauss-Kruger names (``"cgcs2000-gk3-35"`` gives
        EPSG:4523, ``"CGCS2000 3-degree GK CM 105E"`` gives EPSG:4544), or any
        WKT / PROJ string / CRS name pyproj accepts.

    Returns
    -------
    SourceCRS

    Raises
    ------
    geo_service.core._errors.CRSError
        For anything else, or for a CRS that is neither geographic nor
        projected; the message lists the accepted forms (English and Chinese).
    """
    if isinstance(text, SourceCRS):
        return text
    if isinstance(text, pyproj.CRS):
        crs = text
    elif isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return _epsg_source(int(text), text)
    elif isinstance(text, str) and text.strip():
        s = text.strip()
        key = re.sub(r"[\s_\-/.:]+", "", s.lower())
        alias = _ALIASES.get(key)
        if alias in _OFFSET_LABELS:
            return SourceCRS(alias, None, _OFFSET_LABELS[alias])
        if alias:
            return _epsg_source(int(alias.split(":")[1]), text)
        m = re.fullmatch(r"(?:epsg\s*[:：]?\s*)?(\d{4,6})", s, flags=re.IGNORECASE)
        if m:
            return _epsg_source(int(m.group(1)), text)
        gk = _parse_gk(s) if len(s) <= 100 and not re.search(r"[\[\]{}+=]", s) else None
        if gk is not None:
            return _epsg_source(gk, text)
        try:
            crs = pyproj.CRS.from_user_input(s)
        except pyproj.exceptions.CRSError:
            raise _crs_error(text) from None
    else:
        raise _crs_error(text, "empty or not a string", "为空或不是字符串")
    return _pyproj_source(crs, text)


# --- GeoDataFrames ----------------------------------------------------------

_WGS84 = pyproj.CRS.from_epsg(4326)


def to_wgs84(gdf, source: SourceCRS | str | None = None):
    """Return a copy of ``gdf`` in WGS84 (EPSG:4326, lon/lat degrees).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Input data.  Only the active geometry column is transformed.
    source : SourceCRS, str, int, pyproj.CRS or None
        The CRS the coordinates are really in (anything
        :func:`parse_source_crs` accepts); it overrides ``gdf.crs``.  When
        None, ``gdf.crs`` is used.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with CRS EPSG:4326.  EPSG:4326 and EPSG:4490 (CGCS2000) are
        relabelled without a shift; other pyproj CRSs are reprojected with
        ``always_xy`` (so northing-first Gauss-Kruger CRSs are handled);
        GCJ-02 and BD-09 coordinates are inverted with
        :func:`gcj02_to_wgs84` / :func:`bd09_to_wgs84`.

    Raises
    ------
    geo_service.core._errors.CRSError
        If ``source`` is None and ``gdf.crs`` is not set, or ``source`` is not
        understood.

    Notes
    -----
    The coordinates are not checked for plausibility here; use
    :func:`plausible_lonlat` and :func:`looks_swapped` on the input to catch
    projected coordinates declared as lon/lat or swapped axes.
    """
    if source is None:
        if gdf.crs is None:
            raise CRSError(
                "the data has no coordinate system; declare one. Accepted: " + "; ".join(ACCEPTED_FORMS),
                "数据未声明坐标系，请指定。可用写法：" + _ACCEPTED_ZH,
                accepted=list(ACCEPTED_FORMS),
            )
        source = gdf.crs
    src = parse_source_crs(source)
    if src.kind == "gcj02" or src.kind == "bd09":
        func = gcj02_to_wgs84 if src.kind == "gcj02" else bd09_to_wgs84
        out = gdf.copy()
        out[out.geometry.name] = transform_geometries(out.geometry.values, func)
        return out.set_crs(_WGS84, allow_override=True)
    if src.epsg in (4326, 4490):
        return gdf.set_crs(_WGS84, allow_override=True)  # returns a copy
    return gdf.set_crs(src.crs, allow_override=True).to_crs(_WGS84)


# --- metric CRS ---------------------------------------------------------------

_CHINA_METRIC_BOX = (73.0, 18.0, 135.0, 54.0)


_GEOD = pyproj.Geod(ellps="WGS84")


def geodesic_lengths_m(geoms) -> np.ndarray:
    """Length of each line on the WGS84 ellipsoid, metres: the one length model of every network path.

    Parameters
    ----------
    geoms : array-like of LineString / MultiLineString
        In EPSG:4326 (or CGCS2000 EPSG:4490: its ellipsoid differs from WGS84's by 0.1 mm in the semi-minor axis).

    Returns
    -------
    ndarray of float64
        The sum of the geodesic lengths (:meth:`pyproj.Geod.inv`) of each line's segments, as
        :meth:`pyproj.Geod.geometry_length` gives them, computed for all lines at once; 0 for empty or missing lines.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms))
    # one row per part (a multi-line's lines), coordinates of a part contiguous: a segment joins two consecutive
    # coordinates of the same part
    parts = shapely.get_parts(geoms)
    xy, part = shapely.get_coordinates(parts, return_index=True)
    if len(xy) < 2:
        return out
    same = part[1:] == part[:-1]
    _, _, dist = _GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    line_of_part = np.repeat(np.arange(len(geoms)), shapely.get_num_geometries(geoms))
    np.add.at(out, line_of_part[part[:-1][same]], np.asarray(dist)[same])
    return out


def choose_metric_crs(lon: ArrayLike, lat: ArrayLike) -> pyproj.CRS:
    """A metric (projected, metres) CRS suited to data at ``lon``/``lat``.

    The centre of the bounds of the finite input points decides: inside China
    (lon 73-135, lat 18-54) the CGCS2000 3-degree Gauss-Kruger zone without
    zone prefix, EPSG:4534 + (cm - 75) / 3 with cm = 3 * round(lon / 3) (e.g.
    EPSG:4544, CM 105E, for lon 104.4); elsewhere the WGS84 UTM zone
    (EPSG:326xx north, 327xx south; the Norway/Svalbard exceptions are
    ignored).

    Parameters
    ----------
    lon, lat : array_like or float
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    geo_service.core._errors.CRSError
        If there is no finite point.
    """
    lon = np.asarray(lon, dtype=float).ravel()
    lat = np.asarray(lat, dtype=float).ravel()
    lon, lat = np.broadcast_arrays(lon, lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise CRSError("no finite coordinates to choose a metric CRS from", "没有有效坐标，无法选择投影坐标系")
    clon = (lon[ok].min() + lon[ok].max()) / 2.0
    clat = (lat[ok].min() + lat[ok].max()) / 2.0
    x0, y0, x1, y1 = _CHINA_METRIC_BOX
    if x0 <= clon <= x1 and y0 <= clat <= y1:
        cm = int(min(135, max(75, 3 * np.floor(clon / 3.0 + 0.5))))
        return pyproj.CRS.from_epsg(4534 + (cm - 75) // 3)
    zone = int(min(60, max(1, np.floor((clon + 180.0) / 6.0) + 1)))
    return pyproj.CRS.from_epsg((32600 if clat >= 0 else 32700) + zone)


def metric_crs_for(gdf) -> pyproj.CRS:
    """:func:`choose_metric_crs` for the total bounds of a GeoDataFrame.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or GeoSeries
        Data with a CRS set (any CRS; bounds are transformed to EPSG:4326).

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    geo_service.core._errors.CRSError
        If the data has no CRS or no non-empty geometry.
    """
    if gdf.crs is None:
        raise CRSError("the data has no coordinate system", "数据未声明坐标系")
    bounds = np.asarray(gdf.total_bounds, dtype=float)
    if not np.isfinite(bounds).all():
        raise CRSError("no geometry to choose a metric CRS from", "没有几何图形，无法选择投影坐标系")
    crs = pyproj.CRS.from_user_input(gdf.crs)
    if crs.to_epsg() not in (4326, 4490):
        tr = pyproj.Transformer.from_crs(crs, _WGS84, always_xy=True)
        bounds = np.asarray(tr.transform_bounds(*bounds), dtype=float)
    return choose_metric_crs(bounds[[0, 2]], bounds[[1, 3]])


# --- plausibility ---------------------------------------------------------------


def plausible_lonlat(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Boolean mask of values that can be longitude/latitude in degrees.

    Parameters
    ----------
    lon, lat : array_like
        Candidate longitude and latitude.

    Returns
    -------
    numpy.ndarray of bool
        True where ``-180 <= lon <= 180`` and ``-90 <= lat <= 90`` (NaN gives
        False).  Projected coordinates (metres) are almost always False.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)


def looks_swapped(lon: ArrayLike, lat: ArrayLike, china: bool = True) -> np.ndarray:
    """Heuristic mask of points whose longitude and latitude look swapped.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude as given, in degrees.
    china : bool, default True
        The data is meant to be in China; adds the second rule below.

    Returns
    -------
    numpy.ndarray of bool
        True where either

        * ``lon`` is a valid latitude (within [-90, 90]) while ``lat`` is not
          but is a valid longitude (90 < \\|lat\\| <= 180), or
        * (``china`` only) ``lat`` is within 73..135 and ``lon`` within
          18..54, i.e. (lat, lon) would be a point in China.

        It is a hint for a warning, not proof.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    swapped = (np.abs(lon) <= 90.0) & (np.abs(lat) > 90.0) & (np.abs(lat) <= 180.0)
    if china:
        swapped |= (lat >= 73.0) & (lat <= 135.0) & (lon >= 18.0) & (lon <= 54.0)
    return swapped


# --- which coordinate system fits ---------------------------------------------------------------------------


def share_in_china(lon: ArrayLike, lat: ArrayLike) -> float:
    """Share (0..1) of the points that are finite and inside :data:`CHINA_BOX`; 0 for no points."""
    lo = np.asarray(lon, dtype=float)
    la = np.asarray(lat, dtype=float)
    if lo.size == 0:
        return 0.0
    ok = np.isfinite(lo) & np.isfinite(la)
    return float((ok & in_china_box(np.where(ok, lo, 0.0), np.where(ok, la, 0.0))).mean())


def _lands_in_china(code: int, x: np.ndarray, y: np.ndarray, share: float = 0.95) -> bool:
    tr = pyproj.Transformer.from_crs(code, 4326, always_xy=True)
    with np.errstate(all="ignore"):
        lon, lat = tr.transform(x, y, errcheck=False)
    return share_in_china(lon, lat) >= share


def fitting_crs(x: ArrayLike, y: ArrayLike, *, near_lon: float | None = None) -> list[tuple[str, str]]:
    """Coordinate systems under which raw coordinates ``x``, ``y`` land in China, most likely first.

    Tried: longitude/latitude (EPSG:4326, same as CGCS2000 EPSG:4490 at metre level; GCJ-02 and BD-09 cannot be
    told apart from it by the numbers alone), CGCS2000 3-degree and 6-degree Gauss-Kruger zones with the zone
    number in front of the easting (zone read from the easting), 3-degree zones without it (central meridian
    from ``near_lon``, e.g. the data already stored, else every zone is possible) and Web Mercator (EPSG:3857).

    Returns
    -------
    list of (crs, label_zh)
        ``crs`` as ``--crs`` takes it (``EPSG:4523``); empty when nothing fits 95 % of the points.
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    ok = np.isfinite(xs) & np.isfinite(ys)
    return _fitting(xs[ok], ys[ok], near_lon)


def _fitting(x: np.ndarray, y: np.ndarray, near_lon: float | None) -> list[tuple[str, str]]:
    if x.size == 0:
        return []
    out: list[tuple[str, str]] = []
    if share_in_china(x, y) >= 0.95:
        out.append(
            (
                "EPSG:4326",
                "经纬度 EPSG:4326（WGS84；CGCS2000 经纬度 EPSG:4490 与之相同；"
                "若坐标取自高德或腾讯地图则为 gcj02，取自百度地图则为 bd09——仅凭数值无法区分）",
            )
        )
        return out
    if not (np.all((y > 1.5e6) & (y < 6.5e6))):
        if np.all((x > 7.5e6) & (x < 1.55e7) & (y > 1.0e5) & (y < 7.5e6)) and _lands_in_china(3857, x, y):
            out.append(("EPSG:3857", "Web 墨卡托 EPSG:3857（网络地图投影）"))
        return out
    zone = np.floor(x / 1e6)
    if np.all(zone == zone[0]):
        z = int(zone[0])
        for zones, base, width in ((range(25, 46), 4513, 3), (range(13, 24), 4491, 6)):
            if z in zones and _lands_in_china(base + z - zones.start, x, y):
                code = base + z - zones.start
                out.append((f"EPSG:{code}", f"CGCS2000 {width} 度带高斯-克吕格投影第 {z} 带（带号在 X 坐标前）"))
    if np.all((x > 1e5) & (x < 9e5)):
        if near_lon is not None and 73 <= near_lon <= 136:
            cm = int(min(135, max(75, 3 * np.floor(near_lon / 3.0 + 0.5))))
            code = 4534 + (cm - 75) // 3
            if _lands_in_china(code, x, y):
                out.append(
                    (
                        f"EPSG:{code}",
                        f"CGCS2000 3 度带高斯-克吕格投影，中央经线 {cm}°E，X 坐标不带带号"
                        "（中央经线按已有图层的位置推定，请核对）",
                    )
                )
        else:
            out.append(
                (
                    "EPSG:4534…4554",
                    "CGCS2000 3 度带高斯-克吕格投影，X 坐标不带带号（中央经线无法从坐标确定：如德阳为 "
                    "EPSG:4544，中央经线 105°E）",
                )
            )
    return out
