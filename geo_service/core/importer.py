"""Import of layer files: column mapping, CRS conversion, validation, one transaction.

Everything is checked before anything is written.  A file with invalid rows
is rejected whole with a per-row report (:class:`ImportValidationError`),
or, with ``skip_invalid``, imported minus the reported rows; with ``check``
nothing is written either way.  Re-importing the same ``source_id`` updates
the feature; a file without an id column gets ids derived from its content
(:func:`content_ids`).  Rows are numbered as the file shows them: the
spreadsheet row of CSV/XLSX (the header is row 1), the feature number of
GeoJSON, GeoPackage and Shapefile.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import crs as crs_mod
from . import headers as headers_mod
from ._errors import ImportValidationError, InputError, ValidationReport
from .ages import check_age_groups
from .io import read_file
from .layers import LayerSpec, get_layer
from .settings import get_settings
from .storage import Store, WriteResult

SOURCE_ID_NAMES = ("source_id", "id", "fid", "code", "编号", "标识", "代码")
# 1.0 / 0.0: a boolean column with empty values that the reader (GDAL) took for numbers, as in a GeoJSON export
_TRUE = {"true", "1", "1.0", "yes", "y", "t", "是", "有", "√"}
_FALSE = {"false", "0", "0.0", "no", "n", "f", "否", "无", "×"}
# Defaults of the settings GEO_MAX_FEATURES, GEO_MAX_VERTICES and GEO_MAX_STRING_CHARS (the values in force).
MAX_FEATURES = 2_000_000
MAX_VERTICES = 1_000_000
MAX_STRING_CHARS = 10_000


def parse_column_map(items: list[str] | str | None) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs (CLI ``--map``, repeatable; HTTP ``map``, also comma-separated) as a dict.

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
                    f"列映射（--map / map）的格式应为 字段=列名，收到 {pair!r}",
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
    level : str, optional
        Level of admin areas without a level column (``county``/``street``/``community``/``grid`` or
        区县/街道/社区/网格); else inferred from the code.
    check : bool
        Validate only: nothing is written, the report says what an import would do.
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
    level: str | None = None
    check: bool = False


@dataclass
class ImportReport(ValidationReport):
    """The report of one file: rows numbered as the file shows them, each problem with its file column.

    ``row_kind`` is ``"row"`` for CSV/XLSX (spreadsheet rows: the header is row 1, the first data row 2) and
    ``"feature"`` for GeoJSON, GeoPackage and Shapefile (feature 1 is the first).  While checking, problems are
    added with the 1-based position of the row; :meth:`finish` turns positions into those numbers and sorts.
    """

    row_kind: str = "feature"
    columns: dict[str, str] = field(default_factory=dict)  # field (or source_id, geometry) -> file column
    notes: list[tuple[str, str]] = field(default_factory=list)  # (English, Chinese) remarks that do not refuse
    label_zh: str = ""
    finished: bool = False

    @property
    def first_row(self) -> int:
        return 2 if self.row_kind == "row" else 1

    def finish(self) -> ImportReport:
        if not self.finished:
            shift = self.first_row - 1
            for p in self.problems:
                if p.row > 0:
                    p.row += shift
            self.problems.sort(key=lambda p: p.row)  # stable: per row in the order of the checks
            self.finished = True
        return self

    def positions(self, rows) -> np.ndarray:
        """0-based positions of reported row numbers."""
        return np.asarray(rows, dtype=int) - self.first_row

    def note(self, en: str, zh: str) -> None:
        self.notes.append((en, zh))

    def where_zh(self, row: int) -> str:
        if row <= 0:
            return "文件"
        return f"第 {row} 行" if self.row_kind == "row" else f"第 {row} 个要素"

    def column_zh(self, column: str | None) -> str:
        if column is None:
            return ""
        shown = self.columns.get(column)
        if shown is None:
            shown = {"source_id": "编号", "geometry": "几何", "properties": "properties"}.get(column, column)
        return shown

    def format_zh(self, limit: int = 50) -> str:
        unit = "行" if self.row_kind == "row" else "个要素"
        name = f"「{self.label_zh}」（{self.layer}）" if self.label_zh else self.layer
        lines = [f"图层{name}：共 {self.rows} {unit}，{len(self.bad_rows)} {unit}有问题"]
        whole = sum(1 for p in self.problems if p.row <= 0)
        if whole:
            lines[0] += f"，另有 {whole} 个整个文件的问题"
        if self.row_kind == "row":
            lines[0] += "（行号即表格中的行号，第 1 行为表头）"
        for p in self.problems[:limit]:
            col = f"［{self.column_zh(p.column)}］" if p.column else ""
            val = f"（值：{p.value}）" if p.value is not None else ""
            lines.append(f"  {self.where_zh(p.row)}{col}：{p.problem_zh}{val}")
        if len(self.problems) > limit:
            lines.append(f"  …… 另有 {len(self.problems) - limit} 个问题")
        return "\n".join(lines)

    def to_dict(self, limit: int = 1000) -> dict:
        out = super().to_dict(limit)
        out["row_kind"] = self.row_kind
        out["first_row"] = self.first_row
        for p in out["problems"]:
            if p.get("column") is not None:
                p["file_column"] = self.column_zh(p["column"])
        out["warnings"] = [{"message": en, "message_zh": zh} for en, zh in self.notes]
        return out

    def refusal(self) -> ImportValidationError:
        """The error refusing this file: what is wrong with the file as a whole first, else how many rows."""
        exc = ImportValidationError(self)
        whole = [p for p in self.problems if p.row <= 0]
        if whole:
            exc.message = "; ".join(p.problem for p in whole) + "; nothing was written"
            exc.message_zh = "；".join(p.problem_zh for p in whole) + "；未写入任何数据"
        else:
            unit, unit_en = ("行", "rows") if self.row_kind == "row" else ("个要素", "features")
            exc.message = (
                f"{len(self.bad_rows)} of {self.rows} {unit_en} of layer {self.layer} are invalid; nothing was written"
            )
            exc.message_zh = (
                f"图层「{self.label_zh or self.layer}」的 {self.rows} {unit}中有 {len(self.bad_rows)} {unit}无效，"
                "未写入任何数据"
            )
        return exc


@dataclass
class ImportResult:
    layer: str
    rows_read: int
    inserted: int
    updated: int
    skipped: int
    report: ValidationReport
    source_crs: str
    checked: bool = False

    @property
    def warnings(self) -> list[tuple[str, str]]:
        return list(getattr(self.report, "notes", []))

    def summary_zh(self) -> str:
        if self.checked:
            s = (
                f"检查通过（未写入数据）：图层 {self.layer} 读取 {self.rows_read} 行，"
                f"导入将新增 {self.inserted}，更新 {self.updated}"
            )
        else:
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
            "checked": self.checked,
            "warnings": [{"message": en, "message_zh": zh} for en, zh in self.warnings],
            "report": self.report.to_dict(),
        }


# ------------------------------------------------------------------ validation
def _rows(mask: np.ndarray) -> np.ndarray:
    """1-based positions where ``mask`` is true (turned into the file's row numbers by ImportReport.finish)."""
    return np.flatnonzero(mask) + 1


def _explicit_map(frame: gpd.GeoDataFrame, spec: LayerSpec, options: ImportOptions) -> dict[str, str]:
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
    return {k: v for k, v in options.column_map.items() if k != "source_id"}


def map_columns(
    frame: gpd.GeoDataFrame, spec: LayerSpec, options: ImportOptions, report: ValidationReport
) -> gpd.GeoDataFrame:
    """Rename file columns to layer fields (see :mod:`geo_service.core.headers`) and take the id column.

    Columns no field takes are dropped (and named in a note).  Without an id column the frame gets no
    ``source_id``: :func:`content_ids` makes them after the checks.
    """
    match = headers_mod.match_headers(frame.columns, spec, _explicit_map(frame, spec, options))
    geometry = frame.geometry.name
    id_col = options.id_column or options.column_map.get("source_id")
    if id_col is None:
        free = {headers_mod.normalize(c): c for c in reversed(match.unused) if c != geometry}
        id_col = next((free[n] for n in SOURCE_ID_NAMES if n in free and n not in spec.field_names), None)
    elif id_col not in frame.columns:
        raise InputError(
            f"id column {id_col!r} not found", f"找不到编号列 {id_col!r}", columns=[str(c) for c in frame.columns]
        )
    out = frame[[*match.rename, geometry]].rename(columns=match.rename)
    if id_col is not None:
        out["source_id"] = frame[id_col].to_numpy()
    if isinstance(report, ImportReport):
        report.columns.update({f: str(c) for c, f in match.rename.items()})
        if id_col is not None:
            report.columns["source_id"] = str(id_col)
        if frame.attrs.get("lonlat_columns"):
            report.columns["geometry"] = "／".join(frame.attrs["lonlat_columns"])
        for c, f in match.truncated.items():
            label = spec.field(f).label_zh
            report.note(
                f"column {c!r} read as {f} ({label}): its name was cut to 10 bytes by the Shapefile (DBF) format",
                f"列「{c}」按 Shapefile（DBF）截断的列名识别为「{label}」（{f}）",
            )
        unused = [str(c) for c in match.unused if c not in (id_col, geometry)]
        if unused:
            report.note(
                f"columns not imported (no field of layer {spec.name}): {', '.join(unused)}; "
                "map one with --map FIELD=COLUMN",
                f"未导入的列（不是图层「{spec.label_zh}」的字段）：{'、'.join(unused)}；如需导入请用 --map 字段=列名",
            )
    return out


def content_ids(frame: gpd.GeoDataFrame, spec: LayerSpec) -> pd.Series:
    """Stable ids for rows of a file without an id column, from their content (EPSG:4326 frame, checked values).

    A layer with a required ``code`` (admin areas, communities) uses the code: ``code:510603``.  Others use a
    hash of the layer, the name, the required coded fields (category, class, type...) and the location rounded
    to 5 decimals of a degree (about 1 m; the point itself, else the centroid): ``auto-3f2a…``.  Re-importing the
    same content gives the same ids (an update); a renamed, recategorised or moved feature gets a new id (a new
    row, the old one stays).
    """
    if "code" in spec.field_names and spec.field("code").required:
        codes = frame["code"].astype(object)
        return pd.Series([f"code:{c}" if c is not None else None for c in codes], index=frame.index, dtype=object)
    keys = [n for n in ("name",) if n in spec.field_names] + [f.name for f in spec.fields if f.vocab and f.required]
    geoms = np.asarray(frame.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.full((len(geoms), 2), np.nan)
    if ok.any():
        pts = np.asarray(geoms[ok], dtype=object)
        is_point = shapely.get_type_id(pts) == 0
        pts = np.where(is_point, pts, shapely.centroid(pts))
        xy[ok] = shapely.get_coordinates(pts)[:, :2]
    values = [frame[k].astype(object).where(frame[k].notna(), "").astype(str).to_numpy() for k in keys]
    out = []
    for i in range(len(frame)):
        where = "none" if not np.isfinite(xy[i]).all() else f"{xy[i, 0]:.5f},{xy[i, 1]:.5f}"
        text = "|".join([spec.name, *(v[i] for v in values), where])
        out.append("auto-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16])
    return pd.Series(out, index=frame.index, dtype=object)


def _check_auto_ids(frame, spec: LayerSpec, report: ValidationReport) -> None:
    frame["source_id"] = content_ids(frame, spec)
    sid = frame["source_id"]
    dup = (sid.duplicated(keep=False) & sid.notna()).to_numpy()
    what = "code" if sid.astype(str).str.startswith("code:").any() else "name, category and location"
    what_zh = "代码" if what == "code" else "名称、类别和位置"
    for r in _rows(dup):
        report.add(
            r,
            "source_id",
            f"same {what} as another row of the file (no id column: ids are made from the content)",
            f"与文件中另一行的{what_zh}完全相同（文件没有编号列，编号由内容生成）；请删除重复行或加上编号列",
            value=sid.iloc[r - 1],
        )


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
                    f"missing required column {f.name!r} ({f.label_zh}): add a column headed {f.label_zh!r} "
                    f"or {f.name!r}, or name yours with --map {f.name}=COLUMN",
                    f"缺少必填列「{f.label_zh}」（{f.name}）：请在文件中加上表头为「{f.label_zh}」的列，"
                    f"或用 --map {f.name}=列名 指定已有的列",
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
            max_value = getattr(f, "max_value", None)
            if max_value is not None:
                big = ok & (num > max_value)
                for r in _rows(big):
                    report.add(
                        r,
                        f.name,
                        f"{f.name} must be <= {max_value:g}",
                        f"「{f.label_zh}」不能大于 {max_value:g}",
                        value=raw[r - 1],
                    )
            if f.min_value is not None and getattr(f, "min_exclusive", False):
                low = ok & (num <= f.min_value)
                for r in _rows(low):
                    report.add(
                        r,
                        f.name,
                        f"{f.name} must be > {f.min_value:g}",
                        f"「{f.label_zh}」必须大于 {f.min_value:g}",
                        value=raw[r - 1],
                    )
            elif f.min_value is not None:
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
        elif f.kind == "datetime":
            frame[f.name] = _parse_dates(col, blank, f, report)
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
                # the label, or the label without its note in brackets (社区食堂 for 社区食堂（助餐点）)
                by_label = {headers_mod.normalize(label): code for code, label in f.vocab.items()}
                by_label |= {label: code for code, label in f.vocab.items()}
                text = text.map(
                    lambda v, by_label=by_label: (
                        by_label.get(v) or by_label.get(headers_mod.normalize(v), v) if v is not None else None
                    )
                )
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


_DATE_ZH = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?\s*$")
# (start, end) fields of a layer whose end may not come before the start
DATE_RANGES: dict[str, tuple[tuple[str, str], ...]] = {"idle_assets": (("available_from", "available_to"),)}


def _parse_dates(col: pd.Series, blank: np.ndarray, f, report: ValidationReport) -> pd.Series:
    """Dates and times of a ``datetime`` field as timezone-aware datetimes (UTC; a value without a zone is taken
    as UTC, so a date reads back as the same date): ``2025-06-01``, ``2025/6/1``, ``2025年6月1日``, ISO times and
    spreadsheet dates. Anything else (numbers included) is reported in Chinese with its row."""
    out = np.full(len(col), None, dtype=object)
    raw = col.to_numpy(dtype=object)
    for i, v in enumerate(raw):
        if blank[i]:
            continue
        ts = None
        if isinstance(v, (pd.Timestamp, datetime, date)):
            ts = pd.Timestamp(v)
        elif isinstance(v, str):
            text = v.strip()
            m = _DATE_ZH.match(text)
            if m:
                text = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
            try:
                ts = pd.Timestamp(text.replace("/", "-"))
            except (ValueError, OverflowError):
                ts = None
        if ts is None or pd.isna(ts):
            report.add(
                i + 1,
                f.name,
                f"{f.name} is not a date (e.g. 2025-06-01)",
                f"「{f.label_zh}」不是日期（应如 2025-06-01 或 2025年6月1日）",
                value=v,
            )
            continue
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        out[i] = ts.tz_convert("UTC").to_pydatetime()
    return pd.Series(out, index=col.index, dtype=object)


def _check_date_ranges(frame, spec: LayerSpec, report: ValidationReport) -> None:
    """A period that ends before it starts (:data:`DATE_RANGES`) is refused with its row."""
    labels = {f.name: f.label_zh for f in spec.fields}
    for start, end in DATE_RANGES.get(spec.name, ()):
        if start not in frame.columns or end not in frame.columns:
            continue
        a, b = frame[start].to_numpy(dtype=object), frame[end].to_numpy(dtype=object)
        for i, (x, y) in enumerate(zip(a, b)):
            if isinstance(x, datetime) and isinstance(y, datetime) and y < x:
                report.add(
                    i + 1,
                    end,
                    f"{end} ({y.date()}) is before {start} ({x.date()})",
                    f"「{labels[end]}」（{_local_date(y)}）早于「{labels[start]}」（{_local_date(x)}）：可用期不能在开始前结束",
                    value=str(_local_date(y)),
                )


def _local_date(d: datetime) -> date:
    return pd.Timestamp(d).tz_convert("UTC").date()


def _check_geometry(
    frame: gpd.GeoDataFrame,
    spec: LayerSpec,
    report: ValidationReport,
    repair: bool,
    max_vertices: int = MAX_VERTICES,
    reported: np.ndarray | None = None,
    check_coords: bool = True,
) -> None:
    """``reported``: rows whose geometry the reader already found broken (and reported); ``check_coords``
    False when the coordinate system as a whole was found wrong (reported once for the file)."""
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
    if check.any() and not check_coords:
        return
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


LEVEL_WORDS = {
    "区县": "county",
    "区": "county",
    "县": "county",
    "县级": "county",
    "市辖区": "county",
    "县级市": "county",
    "district": "county",
    "街道": "street",
    "乡镇": "street",
    "乡": "street",
    "镇": "street",
    "街道（乡镇）": "street",
    "township": "street",
    "社区": "community",
    "村": "community",
    "社区（村）": "community",
    "村（社区）": "community",
    "居委会": "community",
    "村委会": "community",
    "居民委员会": "community",
    "村民委员会": "community",
    "village": "community",
    "网格": "grid",
    "网格单元": "grid",
    "cell": "grid",
}
_CODE_LEVELS = {  # levels of the administrative division code that the layer has no level for
    "province": ("a province", "省级"),
    "city": ("a prefecture-level city", "地级（市）"),
}
_CODE_PARTS = re.compile(r"(\d{6,15})(?:[-_][0-9A-Za-z]+)+")


def parse_level(text: str | None) -> str | None:
    """``--level`` / HTTP ``level`` or a value of a level column: a code of ``vocab.ADMIN_LEVELS``, its Chinese
    label or a common word (区, 县, 乡镇, 村, 居委会, 网格...).  None when blank; :class:`InputError` when unknown."""
    if text is None or not str(text).strip():
        return None
    from . import headers as headers_mod
    from .vocab import ADMIN_LEVELS

    t = str(text).strip()
    by_label = {label: code for code, label in ADMIN_LEVELS.items()}
    by_label |= {headers_mod.normalize(label): code for code, label in ADMIN_LEVELS.items()}
    level = t if t in ADMIN_LEVELS else by_label.get(t) or LEVEL_WORDS.get(t) or LEVEL_WORDS.get(t.lower())
    if level is None:
        allowed = "、".join(f"{c}（{lab}）" for c, lab in ADMIN_LEVELS.items())
        raise InputError(
            f"unknown level {t!r}; allowed: {', '.join(ADMIN_LEVELS)}", f"未知的层级 {t!r}；可用值：{allowed}"
        )
    return level


def level_of_code(code: str) -> str | None:
    """Level of an admin area from its code.

    Plain digits (the national administrative division code): 6 digits ``..0000`` province, ``..00`` city, else
    county; 9 digits street (township); 12 digits community (village), or the level of its first 9 or 6 digits when
    the rest is zeros (a code padded to 12); 13 to 15 digits a grid cell numbered under its community.  A 12-digit
    community code with a suffix (``510603001001-01``) is a grid cell.  None for other forms (``510600-JK``, letter
    codes): their level must be given (a level column or ``--level``).
    """
    code = str(code).strip()
    parts = _CODE_PARTS.fullmatch(code)
    if parts is not None:
        return "grid" if level_of_code(parts.group(1)) == "community" else None
    if not code.isdigit():
        return None
    if 13 <= len(code) <= 15:
        return "grid"
    if len(code) == 12:
        if code.endswith("000000"):
            code = code[:6]
        elif code.endswith("000"):
            return "street"
        else:
            return "community"
    if len(code) == 9:
        return "street"
    if len(code) == 6:
        return "province" if code.endswith("0000") else "city" if code.endswith("00") else "county"
    return None


def parent_of_code(code: str, codes: set[str] | frozenset[str] = frozenset()) -> str | None:
    """The code of the area an admin area lies in, from the digits of its own code (None when they do not tell).

    A grid cell (13-15 digits) is in its community (the first 12 digits); a community (12 digits) in its street
    (the first 9, or the 12-digit padded form ``…000`` when ``codes``, the codes of the same file, hold that and not
    the 9-digit form); a street (9 digits, or 12 ending in ``000``) in its county (the first 6); a county in its
    city (``5106`` + ``00``).  A code with a suffix is in the area of its digits (``510603001001-01`` in community
    ``510603001001``; ``510603-JK`` in county ``510603``) unless those digits name a province or city (``510600-JK``:
    the layer holds no city).
    """
    code = str(code).strip()
    parts = _CODE_PARTS.fullmatch(code)
    if parts is not None:
        digits = parts.group(1)
        return digits if level_of_code(digits) in ("county", "street", "community", "grid") else None
    level = level_of_code(code)
    if level == "grid":
        return code[:12]
    if level == "community":
        street = code[:9]
        return street + "000" if street not in codes and street + "000" in codes else street
    if level == "street":
        return code[:6]
    if level == "county":
        return code[:4] + "00"
    return None


def _fill_admin_level(
    frame, spec: LayerSpec, options: ImportOptions, report: ValidationReport, reported: dict | None = None
) -> None:
    """Admin areas: level words of the file as codes (乡镇 → street, 村 → community); rows without a level take
    ``options.level``, else the level of their code (:func:`level_of_code`); rows without a parent code take the one
    their code's digits tell (:func:`parent_of_code`).  Rows whose level cannot be told are reported (and marked in
    ``reported`` so that the level is not also reported as empty)."""
    if "level" not in spec.field_names or "code" not in spec.field_names:
        return
    given = parse_level(options.level)
    level = frame["level"] if "level" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    level = level.astype(object).map(_level_word)
    blank = (level.isna() | level.astype(str).str.strip().eq("")).to_numpy()
    codes = pd.Series(None, index=frame.index, dtype=object)
    if "code" in frame.columns:
        codes = frame["code"].astype(object).where(frame["code"].notna(), None)
        codes = codes.map(lambda c: None if c is None else re.sub(r"\.0$", "", str(c).strip()) or None)
    if given is not None:
        level = level.where(~blank, given)
    elif blank.any():
        inferred = np.array([level_of_code(c) if b and c else None for c, b in zip(codes, blank)], dtype=object)
        refused = np.isin(inferred, list(_CODE_LEVELS))
        for r in _rows(refused):
            en, zh = _CODE_LEVELS[inferred[r - 1]]
            report.add(
                r,
                "level",
                f"code {codes.iloc[r - 1]} is {en}; the admin areas layer holds counties, streets, communities and "
                "grid cells (give the level with --level)",
                f"行政区划代码 {codes.iloc[r - 1]} 是{zh}代码；行政区划图层只保存区县、街道（乡镇）、社区（村）和网格"
                "（可用 --level 指定层级）",
                value=codes.iloc[r - 1],
            )
        untold = blank & ~refused & pd.isna(inferred) & codes.notna().to_numpy()
        for r in _rows(untold):
            report.add(
                r,
                "level",
                f"the level cannot be told from the code {codes.iloc[r - 1]}: give a level column or --level",
                f"无法由代码 {codes.iloc[r - 1]} 推定层级：请在文件中给出「层级」列（区县、街道、社区、网格），"
                "或用 --level 指定",
                value=codes.iloc[r - 1],
            )
        if reported is not None:
            old = reported.get("level")
            reported["level"] = (refused | untold) | (old if old is not None else False)
        inferred[refused] = None
        level = level.where(~blank, pd.Series(inferred, index=frame.index))
        counts = pd.Series(inferred[blank & ~refused]).dropna().value_counts()
        if len(counts) and isinstance(report, ImportReport):
            from .vocab import ADMIN_LEVELS

            said = "、".join(f"{ADMIN_LEVELS.get(k, k)} {n} 个" for k, n in counts.items())
            report.note(f"level inferred from the code: {dict(counts)}", f"层级按行政区划代码推定：{said}")
    frame["level"] = level
    _fill_parent_code(frame, codes, spec, report)


def _level_word(value):
    """A level word of a file (乡镇, 村, 网格, district...) as its code; other values as they are (checked later)."""
    if value is None or (isinstance(value, float) and value != value) or not str(value).strip():
        return None
    try:
        return parse_level(str(value))
    except InputError:
        return value


def _fill_parent_code(frame, codes: pd.Series, spec: LayerSpec, report: ValidationReport) -> None:
    """Rows without ``parent_code`` take the code their own code's digits tell (:func:`parent_of_code`)."""
    if "parent_code" not in spec.field_names:
        return
    parent = frame["parent_code"] if "parent_code" in frame.columns else pd.Series(None, index=frame.index)
    parent = parent.astype(object)
    blank = (parent.isna() | parent.astype(str).str.strip().eq("")).to_numpy()
    if not blank.any():
        return
    known = frozenset(c for c in codes if c)
    inferred = [parent_of_code(c, known) if b and c else None for c, b in zip(codes, blank)]
    frame["parent_code"] = parent.where(~blank, pd.Series(inferred, index=frame.index, dtype=object))
    n = sum(p is not None for p in inferred)
    if n and isinstance(report, ImportReport):
        report.note(
            f"parent code inferred from the code for {n} row(s)",
            f"上级代码按行政区划代码推定：{n} 行（如有误请给出「上级代码」列）",
        )


def _sample_xy(frame: gpd.GeoDataFrame, limit: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """The first vertex of up to ``limit`` geometries (evenly spread), finite ones only."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    idx = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if len(idx) > limit:
        idx = idx[np.linspace(0, len(idx) - 1, limit).astype(int)]
    if not len(idx):
        return np.empty(0), np.empty(0)
    coords, owner = shapely.get_coordinates(geoms[idx], return_index=True)
    _, first = np.unique(owner, return_index=True)
    xy = coords[first]
    ok = np.isfinite(xy).all(axis=1)
    return xy[ok, 0], xy[ok, 1]


def _check_crs(raw, converted, options: ImportOptions, report: ImportReport, near_lon) -> bool:
    """Whether the declared (or assumed) coordinate system fits the coordinates; a wrong one is reported once,
    with the systems that would fit.  A Shapefile without ``.prj`` is named.  Returns False when reported."""
    x, y = _sample_xy(raw)
    if not len(x):
        return True
    missing_prj = raw.attrs.get("missing_prj") if options.source_crs is None else None
    fits = crs_mod.fitting_crs(x, y, near_lon=near_lon)
    advice = "；".join(f"{label}：--crs {code}" for code, label in fits)
    advice_en = "; ".join(code for code, _label in fits)
    if missing_prj:
        if fits and fits[0][0] == "EPSG:4326":
            report.note(
                f"{missing_prj}: no .prj file; the coordinates are longitude/latitude, read as EPSG:4326",
                f"{missing_prj} 缺少 .prj 文件：坐标是经纬度，按 EPSG:4326 读取（如来自高德/百度地图请用 --crs 指定）",
            )
            return True
        report.add(
            0,
            "geometry",
            f"{missing_prj} has no .prj file, so its coordinate system is unknown; "
            + (f"the coordinates fit {advice_en}: pass it with --crs" if fits else "pass it with --crs"),
            f"{missing_prj} 缺少 .prj 文件，无法确定坐标系；"
            + (f"坐标与以下坐标系相符——{advice}" if fits else "请用 --crs 指定坐标系")
            + "（或把 .prj 文件一并打包上传）",
        )
        return False
    cx, cy = _sample_xy(converted)
    bad = len(x) - len(cx)  # became non-finite in the conversion
    share = crs_mod.share_in_china(cx, cy) * len(cx) / len(x)
    if share >= 0.5 or not fits:
        return True
    if options.source_crs is not None:
        declared, declared_en = f"声明的坐标系 {options.source_crs}", f"the declared CRS {options.source_crs}"
    elif raw.crs is not None:
        name = crs_mod.parse_source_crs(raw.crs).label
        declared, declared_en = f"文件自带的坐标系 {name}", f"the file's own CRS {name}"
    else:
        declared, declared_en = "经纬度（文件未声明坐标系，未用 --crs 指定）", "longitude/latitude (none declared)"
    if fits[0][0] == f"EPSG:{crs_mod.parse_source_crs(options.source_crs or raw.crs or 4326).epsg}":
        return True
    outside = len(cx) - round(crs_mod.share_in_china(cx, cy) * len(cx))
    what = f"{bad} 个没有有效坐标、" if bad else ""
    sampled = "抽查的 " if len(raw) > len(x) else ""
    report.add(
        0,
        "geometry",
        f"wrong coordinate system: with {declared_en}, of {len(x)} features {bad} have no valid coordinates and "
        f"{outside} land outside China; the coordinates fit {advice_en}",
        f"坐标系有误：按{declared} 转换后，{sampled}{len(x)} 个要素中有 {what}{outside} 个不在中国境内；"
        f"坐标与以下坐标系相符——{advice}",
    )
    return False


def validate(
    frame: gpd.GeoDataFrame, spec: LayerSpec, options: ImportOptions, *, near_lon: float | None = None
) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Map columns, convert coordinates to EPSG:4326 and check every row.

    ``near_lon``: longitude of the data already stored, to pick a Gauss-Kruger zone when suggesting a CRS.

    Returns
    -------
    (GeoDataFrame, ImportReport)
        The frame in EPSG:4326 with the layer's fields and ``source_id``
        (all rows, bad ones included), and the report of problems (rows numbered as the file shows them).
    """
    settings = get_settings()
    report = ImportReport(
        spec.name, len(frame), row_kind=frame.attrs.get("row_kind", "feature"), label_zh=spec.label_zh
    )
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
    raw = frame.reset_index(drop=True)
    raw.attrs = dict(frame.attrs)
    raw.attrs.pop("read_problems", None)
    frame = map_columns(raw, spec, options, report)
    auto_ids = "source_id" not in frame.columns
    reported = _check_values(frame, spec, report, settings.max_string_chars)
    if not auto_ids:
        _check_ids(frame, report, reported)
    _fill_admin_level(frame, spec, options, report, reported)
    _check_fields(frame, spec, report, reported)
    _check_date_ranges(frame, spec, report)
    if spec.name == "population_units":  # age groups larger than the residents, or nested groups that disagree
        report.problems.extend(check_age_groups(frame))
    frame = to_wgs84(frame, options.source_crs)
    frame = _drop_z(frame)
    crs_ok = _check_crs(raw, frame, options, report, near_lon)
    _check_geometry(frame, spec, report, options.repair, settings.max_vertices, broken_geometry, crs_ok)
    if auto_ids:
        _check_auto_ids(frame, spec, report)
        report.note(
            "no id column: ids made from the content (see the README, 'Imports')",
            "文件没有编号列：编号按内容生成（"
            + ("行政区划代码" if "code" in spec.field_names and spec.field("code").required else "名称、类别和位置")
            + "）；再次导入时内容相同的行会更新，改名或移动过的行会作为新行导入",
        )
    if read.problems:
        report.problems = read.problems + [p for p in report.problems if p.row not in unreadable]
    report.finish()
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
    """Read, validate and write a file into a layer, all or nothing (``options.check``: nothing at all).

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
    parse_level(options.level)
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


def _stored_lon(store: Store) -> float | None:
    """Centre longitude of the layers already stored (to suggest a Gauss-Kruger zone), None when empty."""
    from .coherence import layer_extents

    boxes = list(layer_extents(store).values())
    return float(np.mean([(b[0] + b[2]) / 2 for b in boxes])) if boxes else None


def import_frame(store, spec, raw, options, *, actor=None, source_name=None, progress=None) -> ImportResult:
    from .coherence import far_from_stored

    if source_name is not None:  # an uploaded file's name, as the client sent it: printable and short
        source_name = "".join(ch if ch.isprintable() else "?" for ch in str(source_name))[:255]
    if len(raw) == 0:
        raise InputError(
            f"{source_name or 'the file'} holds no features", f"{source_name or '文件'} 中没有任何要素，未写入数据"
        )
    frame, report = validate(raw, spec, options, near_lon=_stored_lon(store))
    file_level = [p for p in report.problems if p.row <= 0]
    if file_level or (report.problems and not options.skip_invalid):
        raise report.refusal()
    bad = np.zeros(len(frame), dtype=bool)
    if report.bad_rows:
        bad[report.positions(report.bad_rows)] = True
    good = frame.loc[~bad]
    for en, zh in far_from_stored(store, spec.name, good):
        report.note(en, zh)
    declared = options.source_crs or (raw.crs.to_string() if raw.crs is not None else "EPSG:4326")
    if options.check:
        plan_id = _plan_id(store, options.plan) if spec.per_plan else None
        with store.read() as conn:
            existing = store.existing_source_ids(conn, spec.name, plan_id)
        updated = int(good["source_id"].isin(list(existing)).sum()) if len(good) else 0
        return ImportResult(
            spec.name, len(frame), len(good) - updated, updated, int(bad.sum()), report, declared, checked=True
        )
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


def _plan_id(store: Store, plan: str | None) -> int | None:
    from ._errors import NotFoundError

    if plan is None:
        return None
    try:
        return int(store.get_plan(plan)["id"])
    except NotFoundError:
        return None
