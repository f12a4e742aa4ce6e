"""Reading and writing files: GeoJSON, GeoPackage, zipped Shapefile, CSV and XLSX.

Reading returns a GeoDataFrame with the file's own CRS (or none for tables
with lon/lat columns); CRS declaration and conversion happen in
:mod:`geo_service.importer`.  Archives are checked before they are opened:
no member may climb out of the extraction folder, and the uncompressed size
is bounded (zip bombs).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError

LON_NAMES = ("lon", "lng", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")
WKT_NAMES = ("wkt", "geometry", "geom", "几何")
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200

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


def check_zip(path: Path) -> list[str]:
    """Reject archives with unsafe member names or an implausible uncompressed size.

    Returns the member names.
    """
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path.name} is not a valid zip archive: {exc}", f"{path.name} 不是有效的 zip 压缩包：{exc}") from exc
    with zf:
        total = 0
        names = []
        for info in zf.infolist():
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise InputError(
                    f"archive member {info.filename!r} points outside the upload folder",
                    f"压缩包中的文件路径 {info.filename!r} 指向上传目录之外，已拒绝",
                )
            total += info.file_size
            if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_COMPRESSION_RATIO and info.file_size > 10 * 1024**2:
                raise InputError(
                    f"archive member {info.filename!r} expands {info.file_size / info.compress_size:.0f}-fold: refused as a zip bomb",
                    f"压缩包中的 {info.filename!r} 解压后膨胀 {info.file_size / info.compress_size:.0f} 倍，疑似压缩炸弹，已拒绝",
                )
            names.append(info.filename)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise InputError(
                f"archive expands to {total / 1024**3:.1f} GB, more than the {MAX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB allowed",
                f"压缩包解压后 {total / 1024**3:.1f} GB，超过允许的 {MAX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB",
            )
    return names


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
        raise InputError(f"column(s) {missing} not found", f"找不到坐标列 {missing}", columns=[str(c) for c in df.columns])
    if lon is not None and lat is not None:
        x = pd.to_numeric(df[lon], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(df[lat], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        geoms = np.full(len(df), None, dtype=object)
        geoms[ok] = shapely.points(x[ok], y[ok])
        out = gpd.GeoDataFrame(df.drop(columns=[lon, lat]), geometry=geoms)
        out.attrs["raw_lonlat"] = (x, y)
        return out
    wkt = _pick(df.columns, WKT_NAMES)
    if wkt is not None:
        geoms = shapely.from_wkt(df[wkt].astype(str).where(df[wkt].notna(), None).to_numpy(), on_invalid="ignore")
        return gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms)
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
    try:
        if fmt in ("csv", "xlsx"):
            df = _read_table(path, fmt, encoding)
            df.columns = [str(c).strip() for c in df.columns]
            return table_to_frame(df, lon_column, lat_column)
        kwargs = {}
        if encoding:
            kwargs["encoding"] = encoding
        if fmt == "shp" and path.suffix.lower() == ".zip":
            names = check_zip(path)
            shp = [n for n in names if n.lower().endswith(".shp")]
            if not shp:
                raise InputError(f"{path.name} holds no .shp file", f"压缩包 {path.name} 中没有 .shp 文件")
            if len(shp) > 1 and layer is None:
                raise InputError(
                    f"{path.name} holds several shapefiles {shp}: choose one with --layer",
                    f"压缩包中有多个 Shapefile {shp}，请用 --layer 指定",
                )
            member = layer if layer and layer.lower().endswith(".shp") else (next((s for s in shp if layer and Path(s).stem == layer), shp[0]))
            return gpd.read_file(f"/vsizip/{path.resolve()}/{member}", engine="pyogrio", **kwargs)
        if layer is not None:
            kwargs["layer"] = layer
        return gpd.read_file(path, engine="pyogrio", **kwargs)
    except InputError:
        raise
    except Exception as exc:  # pyogrio/pandas/openpyxl errors: the file cannot be read at all
        msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        msg = msg.replace(str(path.resolve()), path.name).replace(str(path), path.name)  # no server paths in messages
        raise InputError(f"cannot read {path.name}: {msg}", f"无法读取文件 {path.name}：{msg}") from exc


def _read_table(path: Path, fmt: str, encoding: str | None) -> pd.DataFrame:
    if fmt == "xlsx":
        return pd.read_excel(path, engine="openpyxl", dtype=object)
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    last = None
    for enc in encodings:
        try:
            return pd.read_csv(path, encoding=enc, dtype=object, keep_default_na=True)
        except UnicodeDecodeError as exc:
            last = exc
    raise InputError(f"cannot decode {path.name}; pass --encoding", f"无法识别 {path.name} 的文字编码，请用 --encoding 指定") from last


# --------------------------------------------------------------------- export
def write_file(gdf: gpd.GeoDataFrame, path: str | Path, fmt: str, *, layer_name: str, headers_zh: dict[str, str] | None = None) -> Path:
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
