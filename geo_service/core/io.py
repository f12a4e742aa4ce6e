"""Reading and writing files: GeoJSON, GeoPackage, zipped Shapefile, CSV and XLSX.

Reading returns a GeoDataFrame with the file's own CRS (or none for tables
with lon/lat columns); CRS declaration and conversion happen in
:mod:`geo_service.core.importer`.  Archives are checked before they are opened:
no member may climb out of the extraction folder, and the uncompressed size
is bounded (zip bombs).
"""

from __future__ import annotations

import codecs
import io
import json
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError
from .settings import get_settings

LON_NAMES = ("lon", "lng", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")
WKT_NAMES = ("wkt", "geometry", "geom", "几何")
# Defaults of the limits; the values in force are the settings GEO_ZIP_MAX_UNCOMPRESSED_MB,
# GEO_ZIP_MAX_RATIO, GEO_ZIP_MAX_MEMBERS and GEO_MAX_FEATURES (see geo_service.core.settings).
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200
MAX_ZIP_MEMBERS = 1000
RATIO_CHECK_MIN_BYTES = 10 * 1024**2  # members smaller than this may compress as well as they like
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".kmz")
# GeoJSON up to this size is also read strictly in Python, so that no broken feature is skipped
# or goes unnamed (see _read_geojson); above it GDAL alone reads the file (Python's JSON objects
# take about seven times the file size in memory).
GEOJSON_PYTHON_MAX_BYTES = 64 * 1024**2
MAX_COLUMNS = 1000
MAX_COLUMN_NAME_CHARS = 255

FORMATS = ("geojson", "gpkg", "shp", "csv", "xlsx")


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".geojson", ".json")):
        return "geojson"
    if name.endswith(".gpkg"):
        return "gpkg"
    if name.endswith((".zip", ".shp.zip")):
        return "shp"
    if name.endswith(".shp"):
        return "shp"
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    raise InputError(
        f"unknown file type {path.name!r}: use .geojson, .gpkg, .zip (Shapefile), .csv or .xlsx",
        f"无法识别的文件类型 {path.name!r}：支持 .geojson、.gpkg、.zip（Shapefile）、.csv、.xlsx",
    )


def check_zip(path: Path, *, nested_ok: bool = False) -> list[str]:
    """Reject unsafe archives before anything in them is read.

    Refused: member names that climb out of the extraction folder (``..``,
    absolute paths, drive letters), symbolic links, encrypted or duplicate
    members, archives inside the archive (unless ``nested_ok``, as for the
    parts of an XLSX workbook), more members than ``GEO_ZIP_MAX_MEMBERS``, a
    member over 10 MB expanding more than ``GEO_ZIP_MAX_RATIO``-fold and a
    total uncompressed size over ``GEO_ZIP_MAX_UNCOMPRESSED_MB`` (zip bombs).
    Only the central directory is read; the declared sizes are what GDAL and
    openpyxl read at most.

    Returns the member names.
    """
    settings = get_settings()
    max_total = settings.zip_max_uncompressed_mb * 1024**2
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(
            f"{path.name} is not a valid zip archive: {exc}", f"{path.name} 不是有效的 zip 压缩包：{exc}"
        ) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.zip_max_members:
            raise InputError(
                f"archive {path.name} holds {len(infos)} files, more than the {settings.zip_max_members} allowed "
                "(GEO_ZIP_MAX_MEMBERS)",
                f"压缩包 {path.name} 含有 {len(infos)} 个文件，超过上限 {settings.zip_max_members} 个，已拒绝",
            )
        total = 0
        names: list[str] = []
        seen: set[str] = set()
        for info in infos:
            name = info.filename
            shown = name[:200]
            p = PurePosixPath(name.replace("\\", "/"))
            if "\x00" in name or p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise InputError(
                    f"archive member {shown!r} points outside the upload folder",
                    f"压缩包中的文件路径 {shown!r} 指向上传目录之外，已拒绝",
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(
                    f"archive member {shown!r} is a symbolic link: links are refused",
                    f"压缩包中的 {shown!r} 是符号链接，已拒绝",
                )
            if info.flag_bits & 0x1:
                raise InputError(
                    f"archive member {shown!r} is encrypted: upload an archive without a password",
                    f"压缩包中的 {shown!r} 有密码保护，请上传未加密的压缩包",
                )
            key = str(p).lower()
            if key in seen:
                raise InputError(f"archive holds {shown!r} twice", f"压缩包中有重名文件 {shown!r}，已拒绝")
            seen.add(key)
            if not nested_ok and not info.is_dir() and key.endswith(ARCHIVE_SUFFIXES):
                raise InputError(
                    f"archive member {shown!r} is itself an archive: nested archives are not read; "
                    "upload the inner archive",
                    f"压缩包中的 {shown!r} 本身是压缩包：不读取嵌套压缩包，请直接上传里面的文件",
                )
            if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > settings.zip_max_ratio * max(
                info.compress_size, 1
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise InputError(
                    f"archive member {shown!r} expands {ratio:.0f}-fold: refused as a zip bomb "
                    f"(GEO_ZIP_MAX_RATIO = {settings.zip_max_ratio})",
                    f"压缩包中的 {shown!r} 解压后膨胀 {ratio:.0f} 倍，疑似压缩炸弹，已拒绝",
                )
            total += info.file_size
            names.append(name)
        if total > max_total:
            raise InputError(
                f"archive expands to {_size(total)}, more than the {_size(max_total)} allowed "
                "(GEO_ZIP_MAX_UNCOMPRESSED_MB)",
                f"压缩包解压后 {_size(total)}，超过允许的 {_size(max_total)}，已拒绝",
            )
    return names


def _size(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.1f} MB"


def _pick(columns, candidates) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    return None


def table_to_frame(df: pd.DataFrame, lon_column: str | None = None, lat_column: str | None = None) -> gpd.GeoDataFrame:
    """Build point (or WKT) geometries from a plain table.

    Uses ``lon_column``/``lat_column`` when given, else the first columns
    named like lon/lng/longitude/经度 and lat/latitude/纬度, else a WKT
    column (``wkt``/``geometry``).  Rows whose coordinates are not numbers
    get an empty geometry (reported by validation, not dropped here).
    """
    lon = lon_column or _pick(df.columns, LON_NAMES)
    lat = lat_column or _pick(df.columns, LAT_NAMES)
    if lon_column and lon_column not in df.columns or lat_column and lat_column not in df.columns:
        missing = [c for c in (lon_column, lat_column) if c and c not in df.columns]
        raise InputError(
            f"column(s) {missing} not found", f"找不到坐标列 {missing}", columns=[str(c) for c in df.columns]
        )
    if lon is not None and lat is not None:
        x = pd.to_numeric(df[lon], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(df[lat], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        geoms = np.full(len(df), None, dtype=object)
        geoms[ok] = shapely.points(x[ok], y[ok])
        out = gpd.GeoDataFrame(df.drop(columns=[lon, lat]), geometry=geoms)
        out.attrs["raw_lonlat"] = (x, y)
        out.attrs["lonlat_columns"] = (str(lon), str(lat))
        return out
    wkt = _pick(df.columns, WKT_NAMES)
    if wkt is not None:
        geoms = shapely.from_wkt(df[wkt].astype(str).where(df[wkt].notna(), None).to_numpy(), on_invalid="ignore")
        out = gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms)
        out.attrs["lonlat_columns"] = (str(wkt),)
        return out
    raise InputError(
        "no coordinate columns: name them lon/lat (or 经度/纬度), pass --lon/--lat, or give a WKT column",
        "找不到坐标列：请提供 lon/lat（或 经度/纬度）列、用 --lon/--lat 指定，或提供 WKT 几何列",
        columns=[str(c) for c in df.columns],
    )


def read_file(
    path: str | Path,
    *,
    layer: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a GeoJSON, GeoPackage, zipped Shapefile, CSV or XLSX file.

    Parameters
    ----------
    path : path
    layer : str, optional
        Layer inside a GeoPackage (default: the first).
    lon_column, lat_column : str, optional
        Coordinate columns of CSV/XLSX (auto-detected otherwise).
    encoding : str, optional
        Text encoding of CSV or Shapefile attributes (e.g. ``gbk``); CSV
        tries UTF-8 then GB18030 when not given.

    Returns
    -------
    GeoDataFrame
        In the file's CRS (``crs`` is None for CSV/XLSX).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}", f"找不到文件：{path}")
    fmt = detect_format(path)
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)", f"文件 {path.name} 为空（0 字节），未写入数据")
    max_features = get_settings().max_features
    try:
        if fmt in ("csv", "xlsx"):
            if fmt == "xlsx":
                check_zip(path, nested_ok=True)  # a workbook is a zip archive: no bombs
            df = _read_table(path, fmt, encoding, nrows=max_features + 1)
            _check_count(len(df), max_features, path)
            df.columns = [str(c).strip() for c in df.columns]
            _check_columns(df.columns, path)
            table = table_to_frame(df, lon_column, lat_column)
            table.attrs["row_kind"] = "row"  # spreadsheet rows: the header is row 1
            return table
        kwargs: dict[str, Any] = {"max_features": max_features + 1}
        if encoding:
            kwargs["encoding"] = encoding
        if fmt == "shp" and path.suffix.lower() == ".zip":
            names = check_zip(path)
            # (macOS archives carry '__MACOSX/._name.shp' resource forks beside the real files)
            shp = [
                n
                for n in names
                if n.lower().endswith(".shp")
                and not n.startswith("__MACOSX/")
                and not PurePosixPath(n).name.startswith("._")
            ]
            if not shp:
                raise InputError(f"{path.name} holds no .shp file", f"压缩包 {path.name} 中没有 .shp 文件")
            if len(shp) > 1 and layer is None:
                raise InputError(
                    f"{path.name} holds several shapefiles {shp}: choose one with --layer",
                    f"压缩包中有多个 Shapefile {shp}，请用 --layer 指定",
                )
            if layer and layer.lower().endswith(".shp"):
                if layer not in shp:
                    raise InputError(
                        f"{path.name} holds no shapefile {layer!r}; it holds {shp}",
                        f"压缩包中没有 Shapefile {layer!r}；现有 {shp}",
                    )
                member = layer
            else:
                member = next((s for s in shp if layer and Path(s).stem == layer), shp[0])
            frame = _read_shapefile(f"/vsizip/{path.resolve()}/{member}", kwargs)
            prj = str(PurePosixPath(member).with_suffix("")).lower() + ".prj"
            if frame.crs is None and prj not in {n.lower() for n in names}:
                frame.attrs["missing_prj"] = PurePosixPath(member).name
        elif fmt == "geojson":
            frame = _read_geojson(path, size, kwargs, encoding, max_features)
        else:
            if layer is not None:
                kwargs["layer"] = layer
            if fmt == "shp":
                frame = _read_shapefile(str(path), kwargs)
                if frame.crs is None and not path.with_suffix(".prj").exists():
                    frame.attrs["missing_prj"] = path.name
            else:
                frame = gpd.read_file(path, engine="pyogrio", **kwargs)
        _check_count(len(frame), max_features, path)
        _check_columns(frame.columns, path)
        return frame
    except InputError:
        raise
    except Exception as exc:  # pyogrio/pandas/openpyxl errors: the file cannot be read at all
        raise _unreadable(path, exc) from exc


def _redecode(text, errors: str):
    """A string GDAL decoded as Latin-1 back to its bytes, decoded as UTF-8 (a character cut at the end
    dropped), else GB18030."""
    if not isinstance(text, str):
        return text
    raw = text.encode("latin-1", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return raw[: exc.start].decode("utf-8", errors=errors)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors=errors)


def _read_shapefile(source: str, kwargs: dict) -> gpd.GeoDataFrame:
    """A Shapefile; when a UTF-8 field name was cut inside a character by the 10-byte DBF limit (GDAL cannot
    decode it), read as Latin-1 and decode names and texts again, the cut character dropped."""
    try:
        return gpd.read_file(source, engine="pyogrio", **kwargs)
    except UnicodeDecodeError:
        if "encoding" in kwargs:
            raise
    frame = gpd.read_file(source, engine="pyogrio", **{**kwargs, "encoding": "ISO-8859-1"})
    names = {c: _redecode(c, "ignore").rstrip("\ufffd") for c in frame.columns if c != frame.geometry.name}
    for c in names:
        if frame[c].dtype == object:
            frame[c] = frame[c].map(lambda v: _redecode(v, "replace"))
    return frame.rename(columns=names)


def _unreadable(path: Path, exc: BaseException) -> InputError:
    msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    msg = msg.replace(str(path.resolve()), path.name).replace(str(path), path.name)  # no server paths in messages
    return InputError(f"cannot read {path.name}: {msg}", f"无法读取文件 {path.name}：{msg}")


def _check_count(n: int, max_features: int, path: Path) -> None:
    if n > max_features:
        raise InputError(
            f"{path.name} holds more than {max_features:,} features, the most one import may hold "
            "(GEO_MAX_FEATURES): split the file",
            f"文件 {path.name} 的要素数超过单次导入上限 {max_features:,} 个，请拆分后分批导入",
        )


def _check_columns(columns, path: Path) -> None:
    if len(columns) > MAX_COLUMNS:
        raise InputError(
            f"{path.name} has {len(columns)} columns, more than the {MAX_COLUMNS} allowed",
            f"文件 {path.name} 有 {len(columns)} 列，超过上限 {MAX_COLUMNS} 列",
        )
    for c in columns:
        if len(str(c)) > MAX_COLUMN_NAME_CHARS:
            raise InputError(
                f"{path.name} has a column name of {len(str(c)):,} characters "
                f"(at most {MAX_COLUMN_NAME_CHARS}): {str(c)[:40]!r}…",
                f"文件 {path.name} 中有长 {len(str(c)):,} 个字符的列名"
                f"（上限 {MAX_COLUMN_NAME_CHARS}）：{str(c)[:40]!r}…",
            )


# -------------------------------------------------------------------- GeoJSON
def _read_geojson(path: Path, size: int, kwargs: dict, encoding: str | None, max_features: int) -> gpd.GeoDataFrame:
    """GDAL reads the file; files up to :data:`GEOJSON_PYTHON_MAX_BYTES` are also parsed in Python.

    GDAL silently skips entries of ``features`` that are no Feature object,
    turns geometries with the wrong nesting into missing ones and fails on a
    whole file for one number beyond a double or one string over 10 MB.  The
    Python parse checks GDAL's reading entry by entry; when GDAL failed or the
    two differ, the frame is built from the Python parse (:func:`geojson_frame`):
    every entry is a row, and what is broken in it is reported in its place.
    """
    _sniff_json(path)
    try:
        frame, error = gpd.read_file(path, engine="pyogrio", **kwargs), None
    except Exception as exc:  # noqa: BLE001 - explained by the Python parse or re-raised as an InputError
        frame, error = None, exc
    if size > GEOJSON_PYTHON_MAX_BYTES:
        if error is not None:
            raise _unreadable(path, error) from error
        return frame
    data = load_geojson(path, encoding=encoding)
    if frame is not None and _gdal_agrees(data, frame):
        return frame
    return geojson_frame(data, path, max_features=max_features)


def _gdal_agrees(data, frame: gpd.GeoDataFrame) -> bool:
    """Whether GDAL read one row per entry of ``features`` and lost no geometry (no feature is broken)."""
    if not isinstance(data, dict):
        return False
    kind = data.get("type")
    features = (
        data.get("features") if kind == "FeatureCollection" else [data if kind == "Feature" else {"geometry": data}]
    )
    if not isinstance(features, list) or len(features) != len(frame):
        return False
    lost = frame.geometry.isna().to_numpy()
    for i, feat in enumerate(features):
        if not isinstance(feat, dict) or feat.get("type", "Feature") != "Feature":
            return False
        if not isinstance(feat.get("properties", {}), (dict, type(None))):
            return False
        if lost[i] and feat.get("geometry") is not None:
            return False
    return True


def _sniff_json(path: Path) -> None:
    """Cheap look at the start of the file: empty, binary, a JSON array or no JSON at all."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if b"\x00" in head:
        raise InputError(
            f"{path.name} is binary data, not GeoJSON text (GeoJSON is UTF-8 text)",
            f"文件 {path.name} 是二进制数据，不是 GeoJSON 文本（GeoJSON 应为 UTF-8 编码的文本）",
        )
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise InputError(f"{path.name} is empty (only white space)", f"文件 {path.name} 为空（只有空白字符）")
    if text[:1] == b"[":
        raise InputError(
            f"{path.name} is a JSON array; a GeoJSON file is one object: a FeatureCollection, a Feature or a geometry",
            f"文件 {path.name} 是 JSON 数组；GeoJSON 文件应为一个对象：FeatureCollection、Feature 或几何对象",
        )
    if text[:1] != b"{":
        start = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(text[:40])
        start = "".join(ch if ch.isprintable() else "?" for ch in start)
        raise InputError(
            f"{path.name} is not JSON: it starts with {start!r}",
            f"文件 {path.name} 不是 JSON 格式：开头为 {start!r}",
        )


_COORD_DEPTH = {"Point": 1, "MultiPoint": 2, "LineString": 2, "MultiLineString": 3, "Polygon": 3, "MultiPolygon": 4}
_COORD_SHAPE = {
    "Point": ("one position [x, y]", "一个坐标 [x, y]"),
    "MultiPoint": ("a list of positions", "坐标列表"),
    "LineString": ("a list of positions", "坐标列表"),
    "MultiLineString": ("a list of lines (lists of positions)", "线的列表（每条线为坐标列表）"),
    "Polygon": ("a list of rings (lists of positions)", "环的列表（每个环为坐标列表）"),
    "MultiPolygon": ("a list of polygons (lists of rings)", "面的列表（每个面为环的列表）"),
}
_JSON_TYPE = {
    dict: ("an object", "对象"),
    list: ("an array", "数组"),
    str: ("a string", "字符串"),
    bool: ("a boolean", "布尔值"),
    int: ("a number", "数值"),
    float: ("a number", "数值"),
    type(None): ("null", "空值"),
}


class _BadGeometry(Exception):
    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


def _json_type(v) -> tuple[str, str]:
    return _JSON_TYPE.get(type(v), (type(v).__name__, type(v).__name__))


def _depth(v) -> int:
    """How deep lists are nested, along the first elements."""
    d = 0
    while isinstance(v, list):
        d += 1
        if not v:
            break
        v = v[0]
    return d


def _position(p, gtype: str) -> tuple[float, float]:
    if not isinstance(p, list) or len(p) < 2 or any(isinstance(c, (list, dict)) for c in p):
        raise _nesting_error(gtype)
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in p):
        raise _BadGeometry(f"{gtype} coordinates must be numbers, found {p[:3]!r}"[:200], f"{gtype} 的坐标必须是数值")
    try:
        return float(p[0]), float(p[1])
    except OverflowError:  # an integer of hundreds of digits
        return float("inf"), float("inf")


def _positions(seq, gtype: str, least: int = 1) -> np.ndarray:
    if not isinstance(seq, list):
        raise _nesting_error(gtype)
    try:
        arr = np.asarray(seq)  # fast for well-formed positions; anything else is looked at one by one
    except (ValueError, OverflowError):
        arr = None
    if arr is not None and arr.ndim == 2 and arr.shape[1] >= 2 and arr.dtype.kind in "fi":
        arr = arr[:, :2].astype(float)
    else:
        arr = np.array([_position(p, gtype) for p in seq], dtype=float).reshape(-1, 2)
    if len(arr) < least:
        raise _BadGeometry(
            f"{gtype} has a part of {len(arr)} position(s); at least {least} are needed",
            f"{gtype} 有一部分只有 {len(arr)} 个坐标，至少需要 {least} 个",
        )
    return arr


def _nesting_error(gtype: str, found: int | None = None) -> _BadGeometry:
    en, zh = _COORD_SHAPE[gtype]
    depth = _COORD_DEPTH[gtype]
    how = f" (arrays nested {found} deep, {depth} expected)" if found is not None else ""
    how_zh = f"（数组嵌套 {found} 层，应为 {depth} 层）" if found is not None else ""
    return _BadGeometry(
        f"wrong nesting of {gtype} coordinates{how}: they must be {en}",
        f"{gtype} 坐标的嵌套层次不正确{how_zh}：应为{zh}",
    )


def _geometry(obj, level: int = 0):
    """A shapely geometry from a GeoJSON geometry object, or :class:`_BadGeometry` saying what is wrong."""
    if not isinstance(obj, dict):
        en, zh = _json_type(obj)
        raise _BadGeometry(
            f"geometry must be a JSON object with type and coordinates, found {en}",
            f"几何应为含 type 和 coordinates 的 JSON 对象，实为{zh}",
        )
    gtype = obj.get("type")
    if gtype == "GeometryCollection":
        parts = obj.get("geometries")
        if not isinstance(parts, list):
            raise _BadGeometry(
                "GeometryCollection without a list of geometries", "GeometryCollection 缺少 geometries 列表"
            )
        if level >= 8:
            raise _BadGeometry("GeometryCollections nested too deeply", "GeometryCollection 嵌套层次过深")
        return shapely.GeometryCollection([_geometry(g, level + 1) for g in parts])
    if not isinstance(gtype, str) or gtype not in _COORD_DEPTH:
        raise _BadGeometry(
            f"unknown geometry type {str(gtype)[:40]!r}; GeoJSON knows {', '.join(_COORD_DEPTH)}, GeometryCollection",
            f"未知的几何类型 {str(gtype)[:40]!r}",
        )
    coords = obj.get("coordinates")
    if coords is None:
        raise _BadGeometry(f"{gtype} without coordinates", f"{gtype} 缺少坐标 coordinates")
    if not isinstance(coords, list):
        raise _nesting_error(gtype, 0)
    if not coords:
        return shapely.from_wkt(f"{gtype.upper()} EMPTY")
    found = _depth(coords)
    if found != _COORD_DEPTH[gtype]:
        raise _nesting_error(gtype, found)
    try:
        if gtype == "Point":
            return shapely.Point(_position(coords, gtype))
        if gtype == "MultiPoint":
            return shapely.MultiPoint(_positions(coords, gtype))
        if gtype == "LineString":
            return shapely.LineString(_positions(coords, gtype, 2))
        if gtype == "MultiLineString":
            return shapely.MultiLineString([_positions(line, gtype, 2) for line in coords])
        if gtype == "Polygon":
            rings = [_positions(r, gtype, 4) for r in coords]
            return shapely.Polygon(rings[0], rings[1:])
        polys = []
        for poly in coords:
            if not isinstance(poly, list) or not poly:
                raise _nesting_error(gtype)
            rings = [_positions(r, gtype, 4) for r in poly]
            polys.append(shapely.Polygon(rings[0], rings[1:]))
        return shapely.MultiPolygon(polys)
    except _BadGeometry:
        raise
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise _BadGeometry(f"malformed {gtype}: {exc}"[:200], f"{gtype} 几何格式错误：{exc}"[:200]) from exc


_JSON_ERRORS_ZH = (
    ("Unterminated string", "字符串没有结束"),
    ("Expecting value", "此处应有一个值"),
    ("Expecting ',' delimiter", "缺少逗号"),
    ("Expecting ':' delimiter", "缺少冒号"),
    ("Expecting property name", "属性名应写在双引号中"),
    ("Extra data", "JSON 之后还有多余的内容"),
    ("Invalid control character", "含有不允许的控制字符"),
    ("Invalid \\escape", "含有无效的转义字符"),
)


def _json_int(text: str):
    """Integers of more than 18 digits as floats (inf beyond a double), never a 5000-digit int."""
    return int(text) if len(text) <= 18 else float(text)


def read_geojson_strict(
    path: str | Path, *, encoding: str | None = None, max_features: int | None = None
) -> gpd.GeoDataFrame:
    """Read a GeoJSON file in Python, reporting every broken feature instead of failing or dropping it
    (see :func:`geojson_frame`)."""
    path = Path(path)
    return geojson_frame(load_geojson(path, encoding=encoding), path, max_features=max_features)


def load_geojson(path: Path, *, encoding: str | None = None):
    """Parse a JSON file; NaN, Infinity and numbers beyond a double (``1e400``) become non-finite floats."""
    raw = path.read_bytes()
    text = None
    for enc in [encoding] if encoding else ["utf-8-sig", "gb18030"]:
        try:
            text = raw.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None:
        raise InputError(
            f"cannot decode {path.name}; GeoJSON must be UTF-8 text",
            f"无法识别 {path.name} 的文字编码；GeoJSON 应为 UTF-8 文本",
        )
    del raw
    try:
        # Python reads NaN, Infinity and -Infinity, and a float beyond a double ('1e400') as inf: reported per
        # feature as non-finite coordinates or values that are not numbers.
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        why_zh = next((zh for en, zh in _JSON_ERRORS_ZH if exc.msg.startswith(en)), exc.msg)
        raise InputError(
            f"{path.name} is not valid JSON (broken or cut off): {exc.msg} (line {exc.lineno}, column {exc.colno})",
            f"文件 {path.name} 不是有效的 JSON（格式错误或文件不完整）：第 {exc.lineno} 行第 {exc.colno} 列，{why_zh}",
        ) from exc
    except RecursionError as exc:
        raise InputError(
            f"{path.name}: JSON arrays or objects nested too deeply", f"文件 {path.name} 的 JSON 嵌套层次过深"
        ) from exc


def geojson_frame(data, path: Path, *, max_features: int | None = None) -> gpd.GeoDataFrame:
    """A frame with one row per feature of parsed GeoJSON ``data``, whatever is broken in it.

    A feature that is not an object, properties that are not an object and
    geometries with the wrong nesting, type or coordinates get no geometry
    (or no properties), and the problem is listed in
    ``frame.attrs["read_problems"]`` as ``(row, column, message, message_zh)``
    with ``row`` counted from 1.  The file as a whole must be one GeoJSON
    object (:class:`InputError` otherwise).
    """
    max_features = max_features or get_settings().max_features
    if not isinstance(data, dict):
        en, zh = _json_type(data)
        raise InputError(
            f"{path.name} holds {en}; a GeoJSON file is one object: a FeatureCollection, a Feature or a geometry",
            f"文件 {path.name} 的内容是 JSON {zh}；GeoJSON 文件应为一个对象：FeatureCollection、Feature 或几何对象",
        )
    gtype = data.get("type")
    if gtype == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            en, zh = _json_type(features)
            raise InputError(
                f"{path.name}: 'features' of the FeatureCollection must be a list of features, found {en}",
                f"文件 {path.name}：FeatureCollection 的 features 应为要素列表，实为{zh}",
            )
    elif gtype == "Feature":
        features = [data]
    elif gtype in _COORD_DEPTH or gtype == "GeometryCollection":
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise InputError(
            f"{path.name} is not GeoJSON: the object has type {str(gtype)[:40]!r}, "
            "not FeatureCollection, Feature or a geometry",
            f"文件 {path.name} 不是 GeoJSON：对象的 type 为 {str(gtype)[:40]!r}，"
            "应为 FeatureCollection、Feature 或几何类型",
        )
    _check_count(len(features), max_features, path)
    crs = _geojson_crs(data.get("crs"), path)
    props: list[dict] = []
    geoms: list = []
    problems: list[tuple[int, str | None, str, str]] = []
    for i, feat in enumerate(features, start=1):
        if not isinstance(feat, dict):
            en, zh = _json_type(feat)
            problems.append((i, None, f"feature is {en}, not a JSON object", f"要素是 JSON {zh}，不是对象"))
            props.append({})
            geoms.append(None)
            continue
        ftype = feat.get("type", "Feature")
        if ftype != "Feature":
            problems.append(
                (
                    i,
                    None,
                    f"entry of 'features' has type {str(ftype)[:40]!r}, not 'Feature'",
                    f"features 中的条目类型为 {str(ftype)[:40]!r}，不是 Feature",
                )
            )
            props.append({})
            geoms.append(None)
            continue
        p = feat.get("properties")
        if p is None:
            p = {}
        elif not isinstance(p, dict):
            en, zh = _json_type(p)
            problems.append(
                (
                    i,
                    "properties",
                    f"properties must be a JSON object, found {en}",
                    f"properties 应为 JSON 对象，实为{zh}",
                )
            )
            p = {}
        if "id" not in p and isinstance(feat.get("id"), str):  # as GDAL: a string feature id becomes the column 'id'
            p = {**p, "id": feat["id"]}
        props.append(p)
        g = feat.get("geometry")
        if g is None:
            geoms.append(None)
            continue
        try:
            geoms.append(_geometry(g))
        except _BadGeometry as exc:
            problems.append((i, "geometry", exc.message, exc.message_zh))
            geoms.append(None)
    df = pd.DataFrame(props, index=range(len(props)))
    df.columns = [str(c) for c in df.columns]
    frame = gpd.GeoDataFrame(df, geometry=np.array(geoms, dtype=object) if geoms else [], crs=crs)
    frame.attrs["read_problems"] = problems
    return frame


def _geojson_crs(member, path: Path):
    """The (pre-RFC 7946) ``crs`` member, else EPSG:4326 as GDAL reports it."""
    if member is None:
        return "EPSG:4326"
    name = (
        member.get("properties", {}).get("name")
        if isinstance(member, dict) and isinstance(member.get("properties"), dict)
        else None
    )
    if not isinstance(name, str):
        raise InputError(f"{path.name}: unreadable 'crs' member", f"文件 {path.name} 的 crs 成员无法识别")
    if "CRS84" in name.upper():
        return "EPSG:4326"
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        return CRS.from_user_input(name)
    except ProjCRSError as exc:
        raise InputError(
            f"{path.name}: unknown coordinate system {name[:80]!r} in its 'crs' member",
            f"文件 {path.name} 的 crs 成员中的坐标系 {name[:80]!r} 无法识别",
        ) from exc


def _read_table(path: Path, fmt: str, encoding: str | None, nrows: int | None = None) -> pd.DataFrame:
    if fmt == "xlsx":
        return pd.read_excel(path, engine="openpyxl", dtype=object, nrows=nrows)
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    last = None
    for enc in encodings:
        try:
            return pd.read_csv(path, encoding=enc, dtype=object, keep_default_na=True, nrows=nrows)
        except UnicodeDecodeError as exc:
            last = exc
    raise InputError(
        f"cannot decode {path.name}; pass --encoding", f"无法识别 {path.name} 的文字编码，请用 --encoding 指定"
    ) from last


# --------------------------------------------------------------------- export
def write_file(
    gdf: gpd.GeoDataFrame, path: str | Path, fmt: str, *, layer_name: str, headers_zh: dict[str, str] | None = None
) -> Path:
    """Write a frame in one of :data:`FORMATS`.

    ``shp`` writes a zip holding the Shapefile parts; ``csv`` and ``xlsx``
    carry the geometry as WKT plus ``lon``/``lat`` of a point on the feature;
    ``xlsx`` uses the Chinese headers when given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of {FORMATS}", f"未知格式 {fmt!r}：可用 {FORMATS}")
    if fmt == "geojson":
        gdf.to_file(path, driver="GeoJSON", engine="pyogrio", WRITE_BBOX="YES")
    elif fmt == "gpkg":
        gdf.to_file(path, driver="GPKG", layer=layer_name, engine="pyogrio")
    elif fmt == "shp":
        path = _write_shapefile_zip(gdf, path, layer_name)
    else:
        df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        pts = gdf.geometry.representative_point() if len(gdf) else gdf.geometry
        df["lon"] = pts.x.round(7) if len(gdf) else []
        df["lat"] = pts.y.round(7) if len(gdf) else []
        df["wkt"] = shapely.to_wkt(np.asarray(gdf.geometry.values, dtype=object), rounding_precision=7)
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].astype(str)
        if fmt == "csv":
            df.to_csv(path, index=False, encoding="utf-8-sig")
        else:
            if headers_zh:
                df = df.rename(columns={k: v for k, v in headers_zh.items() if k in df.columns})
            df.to_excel(path, index=False, sheet_name=layer_name[:31], engine="openpyxl")
    return path


def _write_shapefile_zip(gdf: gpd.GeoDataFrame, path: Path, layer_name: str) -> Path:
    import tempfile

    kinds = set(gdf.geom_type.str.replace("Multi", "", regex=False).unique()) if len(gdf) else set()
    if len(kinds) > 1:
        raise InputError(
            f"a Shapefile holds one geometry type, this layer has {sorted(kinds)}: export as gpkg or geojson",
            f"Shapefile 只能保存一种几何类型，该图层含有 {sorted(kinds)}：请导出为 gpkg 或 geojson",
        )
    if path.suffix.lower() != ".zip":
        path = path.with_suffix(".zip")
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{layer_name}.shp"
        gdf.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
        path.write_bytes(buf.getvalue())
    return path
