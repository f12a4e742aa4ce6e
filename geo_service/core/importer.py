"""Import of layer files: column mapping, CRS conversion, validation, one transaction.

Everything is checked before anything is written.  A file with invalid rows
is rejected whole with a per-row report (:class:`ImportValidationError`),
or, with ``skip_invalid``, imported minus the reported rows.  Re-importing
the same ``source_id`` updates the feature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import crs as crs_mod
from ._errors import ImportValidationError, InputError, ValidationReport
from .io import read_file
from .layers import LayerSpec, get_layer
from .settings import get_settings
from .storage import Store, WriteResult

SOURCE_ID_NAMES = ("source_id", "id", "fid", "code", "编号", "标识", "代码")
_TRUE = {"true", "1", "yes", "y", "t", "是", "有", "√"}
_FALSE = {"false", "0", "no", "n", "f", "否", "无", "×"}
# Defaults of the settings GEO_MAX_FEATURES, GEO_MAX_VERTICES and GEO_MAX_STRING_CHARS (the values in force).
MAX_FEATURES = 2_000_000
MAX_VERTICES = 1_000_000
MAX_STRING_CHARS = 10_000


def parse_column_map(items: list[str] | str | None) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs (CLI ``--map``, repeatable; HTTP ``column_map``, also comma-separated) as a dict.

    Raises :class:`InputError` for a pair without ``=``.
    """
    mapping: dict[str, str] = {}
    for item in [items] if isinstance(items, str) else items or []:
        for pair in item.split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise InputError(
                    f"a column map wants FIELD=COLUMN, got {pair!r}",
                    f"列映射（--map / column_map）的格式应为 字段=列名，收到 {pair!r}",
                )
            k, v = pair.split("=", 1)
            mapping[k.strip()] = v.strip()
    return mapping


@dataclass
class ImportOptions:
    """How to read a file into a layer.

    Parameters
    ----------
    source_crs : str, optional
        Declared coordinate system of the file (``EPSG:4523``, ``CGCS2000``,
        ``gcj02``, ``bd09``...).  Default: the file's own CRS, else EPSG:4326.
    column_map : dict
        ``{layer_field: file_column}``.
    id_column : str, optional
        Column holding the stable source id (default: ``source_id``/``id``/``编号``...).
    skip_invalid : bool
        Import the valid rows and report the others, instead of rejecting the file.
    repair : bool
        Repair invalid geometries with ``make_valid`` instead of reporting them.
    plan : str, optional
        Boundary plan name (communities layer only); created as a draft if new.
    """

    source_crs: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    id_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    file_layer: str | None = None
    encoding: str | None = None
    skip_invalid: bool = False
    repair: bool = False
    plan: str | None = None


@dataclass
class ImportResult:
    layer: str
    rows_read: int
    inserted: int
    updated: int
    skipped: int
    report: ValidationReport
    source_crs: str

    def summary_zh(self) -> str:
        s = f"图层 {self.layer}：读取 {self.rows_read} 行，新增 {self.inserted}，更新 {self.updated}"
        if self.skipped:
            s += f"，跳过无效行 {self.skipped}"
        return s + f"（源坐标系 {self.source_crs}）"

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "skipped": self.skipped,
            "source_crs": self.source_crs,
            "report": self.report.to_dict(),
        }


# ------------------------------------------------------------------ validation
def _rows(mask: np.ndarray) -> np.ndarray:
    """Spreadsheet-style row numbers (1-based) where ``mask`` is true."""
    return np.flatnonzero(mask) + 1


def map_columns(
    frame: gpd.GeoDataFrame, spec: LayerSpec, options: ImportOptions, report: ValidationReport
) -> gpd.GeoDataFrame:
    """Rename file columns to layer fields: explicit map, then exact names, then Chinese labels."""
    rename: dict[str, str] = {}
    for target, source in options.column_map.items():
        if target != "source_id" and target not in spec.field_names:
            raise InputError(
                f"--map {target}=...: {target!r} is not a field of layer {spec.name}; "
                f"fields: {', '.join(spec.field_names)}",
                f"--map {target}=…：{target!r} 不是图层「{spec.label_zh}」的字段；"
                f"可用字段：{', '.join(spec.field_names)}",
            )
        if source not in frame.columns:
            raise InputError(
                f"--map {target}={source}: the file has no column {source!r}; "
                f"columns: {', '.join(map(str, frame.columns))}",
                f"--map {target}={source}：文件中没有列 {source!r}；现有列：{', '.join(map(str, frame.columns))}",
            )
        rename[source] = target
    present = set(frame.columns)
    for f in spec.fields:
        if f.name in rename.values() or f.name in present:
            continue
        # Chinese label (as exported to XLSX, with or without unit), or the name cut to
        # 10 characters by the Shapefile format.
        for label in (f.label_zh, f"{f.label_zh}（{f.unit}）" if f.unit else None, f.name[:10]):
            if label is not None and label in present and label not in rename:
                rename[label] = f.name
                break
    id_col = options.id_column or options.column_map.get("source_id")
    if id_col is None:
        lower = {str(c).lower(): c for c in frame.columns if c not in rename}
        id_col = next((lower[n] for n in SOURCE_ID_NAMES if n in lower and n not in spec.field_names), None)
    elif id_col not in frame.columns:
        raise InputError(
            f"id column {id_col!r} not found", f"找不到编号列 {id_col!r}", columns=[str(c) for c in frame.columns]
        )
    out = frame.rename(columns=rename)
    if id_col is not None:
        out["source_id"] = frame[id_col].to_numpy()
    else:
        report.add(
            0,
            "source_id",
            "no source id column (name it source_id, or pass --id-column)",
            "缺少编号列（请命名为 source_id，或用 --id-column 指定）",
        )
    return out


def _check_ids(frame, report, reported: dict[str, np.ndarray] | None = None):
    if "source_id" not in frame.columns:
        return
    sid = frame["source_id"]
    empty = sid.isna().to_numpy() | (sid.astype(str).str.strip() == "").to_numpy()
    already = (reported or {}).get("source_id")
    for r in _rows(empty & ~already if already is not None else empty):
        report.add(r, "source_id", "empty source id", "编号为空")
    norm = sid.astype(str).str.strip()
    norm = norm.str.replace(r"\.0$", "", regex=True)  # ids read as floats from spreadsheets
    frame["source_id"] = norm.where(~empty, None)
    dup = norm.duplicated(keep=False).to_numpy() & ~empty
    for r in _rows(dup):
        report.add(r, "source_id", "duplicate source id in the file", "文件中编号重复", value=norm.iloc[r - 1])


def _check_values(frame, spec: LayerSpec, report: ValidationReport, max_chars: int) -> dict[str, np.ndarray]:
    """Values no field can hold, in the columns that are stored: JSON objects or arrays, and text longer
    than ``max_chars``.  Each is reported with its row and blanked; returns the blanked rows per column."""
    labels = {f.name: f.label_zh for f in spec.fields} | {"source_id": "编号"}
    out: dict[str, np.ndarray] = {}
    for name in ("source_id", *spec.field_names):
        if name not in frame.columns or frame[name].dtype != object:
            continue  # numbers, booleans and dates hold neither
        col = frame[name]
        kind = col.map(type)
        container = kind.isin([dict, list, tuple, np.ndarray]).to_numpy()
        for r in _rows(container):
            what, what_zh = ("object", "对象") if isinstance(col.iloc[r - 1], dict) else ("array", "数组")
            report.add(
                r,
                name,
                f"{name} is a JSON {what}; a single text or number is expected",
                f"「{labels[name]}」是 JSON {what_zh}，应为单个文字或数值",
                value=col.iloc[r - 1],
            )
        text = col.where(kind.eq(str))
        nul = text.str.contains("\x00", regex=False, na=False).to_numpy(dtype=bool)
        for r in _rows(nul):
            report.add(
                r,
                name,
                f"{name} contains the character NUL (\\x00), which cannot be stored",
                f"「{labels[name]}」含有无法保存的空字符（\\x00）",
                value=col.iloc[r - 1].replace("\x00", "\\x00"),
            )
        lengths = text.str.len().to_numpy(dtype=float, na_value=np.nan)
        long = lengths > max_chars
        for r in _rows(long):
            n = int(lengths[r - 1])
            report.add(
                r,
                name,
                f"{name} is {n:,} characters long, more than the {max_chars:,} allowed (GEO_MAX_STRING_CHARS)",
                f"「{labels[name]}」长 {n:,} 个字符，超过上限 {max_chars:,} 个字符",
                value=col.iloc[r - 1][:60] + "…",
            )
        bad = container | long | nul
        if bad.any():
            frame[name] = col.where(~bad, None)
            out[name] = bad
    return out


def _check_fields(
    frame, spec: LayerSpec, report: ValidationReport, reported: dict[str, np.ndarray] | None = None
) -> None:
    reported = reported or {}
    for f in spec.fields:
        if f.name not in frame.columns:
            if f.required:
                report.add(
                    0,
                    f.name,
                    f"missing required column {f.name!r} ({f.label_zh})",
                    f"缺少必填列「{f.label_zh}」（{f.name}）",
                )
            else:
                frame[f.name] = f.default
            continue
        col = frame[f.name]
        raw = col.to_numpy(dtype=object)
        blank = (pd.isna(col) | col.map(type).eq(str) & col.astype(str).str.strip().eq("")).to_numpy()
        if f.required:
            already = reported.get(f.name)
            for r in _rows(blank & ~already if already is not None else blank):
                report.add(r, f.name, f"{f.name} is empty", f"「{f.label_zh}」为空")
        if f.kind in ("int", "float"):
            num = pd.to_numeric(col.where(~blank), errors="coerce").to_numpy(dtype=float)
            bad = ~blank & ~np.isfinite(num)
            for r in _rows(bad):
                report.add(r, f.name, f"{f.name} is not a number", f"「{f.label_zh}」不是数值", value=raw[r - 1])
            ok = ~blank & ~bad
            if f.kind == "int":
                frac = ok & (np.abs(num - np.round(num)) > 1e-9)
                for r in _rows(frac):
                    report.add(
                        r, f.name, f"{f.name} must be a whole number", f"「{f.label_zh}」必须为整数", value=raw[r - 1]
                    )
            if f.min_value is not None:
                neg = ok & (num < f.min_value)
                for r in _rows(neg):
                    report.add(
                        r,
                        f.name,
                        f"{f.name} must be >= {f.min_value:g}",
                        f"「{f.label_zh}」不能小于 {f.min_value:g}",
                        value=raw[r - 1],
                    )
            values = np.where(ok, num, np.nan)
            if f.kind == "int":
                frame[f.name] = pd.array(np.where(np.isfinite(values), np.round(values), np.nan), dtype="Int64")
            else:
                frame[f.name] = values
            if not f.required and f.default is not None:
                frame.loc[blank, f.name] = f.default
        elif f.kind == "bool":
            text = col.astype(str).str.strip().str.lower().to_numpy()
            is_true = np.isin(text, list(_TRUE))
            is_false = np.isin(text, list(_FALSE))
            bad = ~blank & ~is_true & ~is_false
            for r in _rows(bad):
                report.add(r, f.name, f"{f.name} must be true/false", f"「{f.label_zh}」应为 是/否", value=raw[r - 1])
            frame[f.name] = pd.Series(np.where(blank, np.array(None), is_true), index=frame.index, dtype=object)
        else:
            text = col.astype(str).str.strip().where(~blank, None)
            text = text.str.replace(r"\.0$", "", regex=True) if f.pattern else text
            if f.restore_leading_zero:
                odd = text.str.fullmatch(r"[1-9]\d*", na=False).astype(bool) & (text.str.len() % 2 == 1)
                text = text.where(~odd, "0" + text)
            if f.vocab:
                by_label = {label: code for code, label in f.vocab.items()}
                text = text.map(lambda v, by_label=by_label: by_label.get(v, v) if v is not None else None)
                unknown = ~blank & ~text.isin(list(f.vocab)).to_numpy()
                allowed = ", ".join(f"{c}（{lab}）" for c, lab in f.vocab.items())
                for r in _rows(unknown):
                    report.add(
                        r,
                        f.name,
                        f"unknown {f.name} {raw[r - 1]!r}; allowed: {', '.join(f.vocab)}",
                        f"未知的「{f.label_zh}」；可用值：{allowed}",
                        value=raw[r - 1],
                    )
            if f.pattern:
                bad = ~blank & ~text.str.fullmatch(f.pattern, na=True).astype(bool).to_numpy()
                for r in _rows(bad):
                    report.add(
                        r,
                        f.name,
                        f"{f.name} does not match the expected code format",
                        f"「{f.label_zh}」格式不正确",
                        value=raw[r - 1],
                    )
            frame[f.name] = text.where(~blank, f.default if not f.required else None)


def _check_geometry(
    frame: gpd.GeoDataFrame,
    spec: LayerSpec,
    report: ValidationReport,
    repair: bool,
    max_vertices: int = MAX_VERTICES,
    reported: np.ndarray | None = None,
) -> None:
    """``reported``: rows whose geometry the reader already found broken (and reported)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for r in _rows(missing & ~reported if reported is not None else missing):
        report.add(
            r, "geometry", "missing or empty geometry (or coordinates that are not numbers)", "几何为空，或坐标不是数值"
        )
    present = ~missing
    types = np.array(shapely.get_type_id(geoms))
    names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ],
        dtype=object,
    )
    type_names = np.where(types >= 0, names[np.clip(types, 0, 7)], None)
    wrong = present & ~np.isin(type_names, list(spec.geometry_types))
    for r in _rows(wrong):
        report.add(
            r,
            "geometry",
            f"geometry type {type_names[r - 1]} not allowed for {spec.name} "
            f"(allowed: {', '.join(spec.geometry_types)})",
            f"几何类型 {type_names[r - 1]} 不适用于图层「{spec.label_zh}」（允许：{', '.join(spec.geometry_types)}）",
        )
    vertices = shapely.get_num_coordinates(geoms)
    huge = present & ~wrong & (vertices > max_vertices)
    for r in _rows(huge):
        report.add(
            r,
            "geometry",
            f"geometry has {vertices[r - 1]:,} vertices, more than the {max_vertices:,} allowed "
            "(GEO_MAX_VERTICES): simplify it",
            f"几何有 {vertices[r - 1]:,} 个顶点，超过上限 {max_vertices:,} 个，请先简化",
        )
    check = present & ~wrong & ~huge
    coords_ok = np.ones(len(geoms), dtype=bool)
    if check.any():
        idx = np.flatnonzero(check)
        coords, owner = shapely.get_coordinates(geoms[idx], return_index=True)
        finite = np.isfinite(coords).all(axis=1)
        bad_owner = np.unique(owner[~finite])
        coords_ok[idx[bad_owner]] = False
        for r in idx[bad_owner] + 1:
            report.add(r, "geometry", "coordinates are NaN or infinite", "坐标含有非数值（NaN 或无穷大）")
        x, y = coords[:, 0], coords[:, 1]
        out_range = finite & ((np.abs(x) > 180) | (np.abs(y) > 90))
        swapped = out_range & (np.abs(y) <= 180) & (np.abs(x) <= 90)
        for owners, en, zh in (
            (np.unique(owner[swapped]), "longitude and latitude look swapped", "经纬度疑似颠倒（纬度写在了经度位置）"),
            (
                np.unique(owner[out_range & ~swapped]),
                "coordinates outside -180..180 / -90..90 after conversion to EPSG:4326 (wrong CRS declared?)",
                "转换为 EPSG:4326 后坐标超出经纬度范围（坐标系是否声明正确？）",
            ),
        ):
            coords_ok[idx[owners]] = False
            for r in idx[owners] + 1:
                report.add(r, "geometry", en, zh)
        # China-specific swap: lat in 73..135 and lon in 18..54 is a swapped Chinese point.
        cn_swap = finite & ~out_range & (y >= 73) & (y <= 135) & (x >= 3) & (x <= 54)
        for r in idx[np.unique(owner[cn_swap])] + 1:
            report.add(
                r, "geometry", "longitude and latitude look swapped (latitude > 73)", "经纬度疑似颠倒（纬度大于 73°）"
            )
            coords_ok[r - 1] = False
    valid_check = check & coords_ok
    if valid_check.any():
        idx = np.flatnonzero(valid_check)
        valid = shapely.is_valid(geoms[idx])
        if repair and (~valid).any():
            fixed = shapely.make_valid(geoms[idx[~valid]])
            if set(spec.geometry_types) <= {"Polygon", "MultiPolygon"}:
                fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
            geoms[idx[~valid]] = fixed
            frame.geometry.values[idx[~valid]] = fixed
            still = ~shapely.is_valid(fixed) | shapely.is_empty(fixed)
            for r in idx[~valid][still] + 1:
                report.add(r, "geometry", "geometry could not be repaired", "几何无法修复")
        else:
            reasons = shapely.is_valid_reason(geoms[idx[~valid]])
            for r, why in zip(idx[~valid] + 1, reasons):
                report.add(
                    r,
                    "geometry",
                    f"invalid geometry: {why} (use --repair to fix)",
                    f"几何无效：{why}（可用 --repair 自动修复）",
                )


def _drop_z(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Layers are two-dimensional: heights (Z) and measures (M) of the input are dropped."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if not (shapely.has_z(geoms).any() or (hasattr(shapely, "has_m") and shapely.has_m(geoms).any())):
        return frame
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(shapely.force_2d(geoms), index=frame.index, crs=frame.crs)
    return out


def _polygonal_part(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    u = shapely.union_all(parts)
    return u


def validate(
    frame: gpd.GeoDataFrame, spec: LayerSpec, options: ImportOptions
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Map columns, convert coordinates to EPSG:4326 and check every row.

    Returns
    -------
    (GeoDataFrame, ValidationReport)
        The frame in EPSG:4326 with the layer's fields and ``source_id``
        (all rows, bad ones included), and the report of problems.
    """
    settings = get_settings()
    report = ValidationReport(spec.name, len(frame))
    if len(frame) > settings.max_features:
        raise InputError(
            f"{len(frame):,} features exceed the limit of {settings.max_features:,} for one import "
            "(GEO_MAX_FEATURES): split the file",
            f"要素数 {len(frame):,} 超过单次导入上限 {settings.max_features:,}，请拆分后分批导入",
        )
    # Problems the reader found (a broken feature of a GeoJSON file): reported in the row's place.  A row
    # that is no feature, or has no readable properties, gets that one problem, not also 'empty ...'.
    read = ValidationReport(spec.name, len(frame))
    broken_geometry = np.zeros(len(frame), dtype=bool)
    for row, column, en, zh in frame.attrs.get("read_problems", ()):
        read.add(row, column, en, zh)
        broken_geometry[row - 1] |= column in ("geometry", None)
    unreadable = {p.row for p in read.problems if p.column in (None, "properties")}
    frame = frame.reset_index(drop=True)
    frame.attrs.pop("read_problems", None)
    frame = map_columns(frame, spec, options, report)
    reported = _check_values(frame, spec, report, settings.max_string_chars)
    _check_ids(frame, report, reported)
    _check_fields(frame, spec, report, reported)
    frame = to_wgs84(frame, options.source_crs)
    frame = _drop_z(frame)
    _check_geometry(frame, spec, report, options.repair, settings.max_vertices, broken_geometry)
    if read.problems:
        report.problems = read.problems + [p for p in report.problems if p.row not in unreadable]
    keep = ["source_id", *spec.field_names]
    frame = frame[[c for c in keep if c in frame.columns] + [frame.geometry.name]]
    frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
    return frame, report


def to_wgs84(frame: gpd.GeoDataFrame, source_crs: str | None) -> gpd.GeoDataFrame:
    """Convert to EPSG:4326 from the declared source, else the file's CRS, else assume 4326."""
    if source_crs is None and frame.crs is None:
        return frame.set_crs(4326)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    finite = np.ones(len(geoms), dtype=bool)
    if ok.any():
        coords, owner = shapely.get_coordinates(geoms[ok], return_index=True)
        bad = np.unique(owner[~np.isfinite(coords).all(axis=1)])
        finite[np.flatnonzero(ok)[bad]] = False
    movable = ok & finite
    source = crs_mod.parse_source_crs(source_crs) if source_crs is not None else None
    sub = frame.iloc[np.flatnonzero(movable)]
    with np.errstate(all="ignore"):
        converted = crs_mod.to_wgs84(sub, source)
    out = frame.copy()
    new = np.asarray(out.geometry.values, dtype=object).copy()
    new[movable] = np.asarray(converted.geometry.values, dtype=object)
    return gpd.GeoDataFrame(out.drop(columns=out.geometry.name), geometry=new, crs=4326)


# ---------------------------------------------------------------------- import
def run_import(
    store: Store,
    layer: str,
    path: str | Path,
    options: ImportOptions | None = None,
    *,
    actor: str | None = None,
    source_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Read, validate and write a file into a layer, all or nothing.

    ``progress(rows_written, rows_total)`` is called as batches are written.

    Raises
    ------
    ImportValidationError
        When rows are invalid and ``skip_invalid`` is not set (nothing written).
    InputError
        When the file cannot be read at all.
    """
    options = options or ImportOptions()
    spec = get_layer(layer)
    if not spec.importable:
        raise InputError(
            f"layer {layer} is built by the service, not imported", f"图层「{spec.label_zh}」由系统生成，不能导入"
        )
    if spec.per_plan and not options.plan:
        raise InputError(f"layer {layer} needs --plan NAME", f"导入「{spec.label_zh}」需要用 --plan 指定社区划分方案")
    raw = read_file(
        path,
        layer=options.file_layer,
        lon_column=options.lon_column,
        lat_column=options.lat_column,
        encoding=options.encoding,
    )
    return import_frame(
        store, spec, raw, options, actor=actor, source_name=source_name or Path(path).name, progress=progress
    )


def import_frame(store, spec, raw, options, *, actor=None, source_name=None, progress=None) -> ImportResult:
    if source_name is not None:  # an uploaded file's name, as the client sent it: printable and short
        source_name = "".join(ch if ch.isprintable() else "?" for ch in str(source_name))[:255]
    if len(raw) == 0:
        raise InputError(
            f"{source_name or 'the file'} holds no features", f"{source_name or '文件'} 中没有任何要素，未写入数据"
        )
    frame, report = validate(raw, spec, options)
    file_level = [p for p in report.problems if p.row == 0]
    if file_level or (report.problems and not options.skip_invalid):
        raise ImportValidationError(report)
    bad = np.zeros(len(frame), dtype=bool)
    if report.bad_rows:
        bad[np.array(report.bad_rows) - 1] = True
    good = frame.loc[~bad]
    declared = options.source_crs or (raw.crs.to_string() if raw.crs is not None else "EPSG:4326")
    with store.transaction() as conn:
        plan_id = store.get_or_create_plan(conn, options.plan) if spec.per_plan else None
        report_rows = (lambda done: progress(done, len(good))) if progress else None
        res: WriteResult = store.upsert_layer(spec.name, good, plan_id=plan_id, conn=conn, progress=report_rows)
        store.log_import(
            conn,
            layer=spec.name,
            source_name=source_name,
            source_crs=declared,
            rows_read=len(frame),
            inserted=res.inserted,
            updated=res.updated,
            skipped=int(bad.sum()),
            actor=actor,
        )
    return ImportResult(spec.name, len(frame), res.inserted, res.updated, int(bad.sum()), report, declared)
