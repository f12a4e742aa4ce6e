"""Office workbooks of the import: a template per layer and the import report.

A template has one sheet to fill in: the Chinese headers (with units) the importer recognises
(:mod:`geo_service.core.headers`), an example row, drop-down lists of the vocabularies (categories, status...)
and of 是/否, and a sheet explaining every column.  The report lists every problem of an import or a check with
its row number as the spreadsheet shows it.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ._errors import ValidationReport
from .headers import header_of
from .layers import FieldSpec, LayerSpec, get_layer

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_ROWS = 1000  # rows the drop-down lists cover
_EXAMPLES = {
    "name": "示例名称（请替换）",
    "code": "510603",
    "parent_code": "510600",
    "street_code": "510603001",
    "land_use_code": "0702",
    "address": "旌阳区示例路 1 号",
    "opening_hours": "08:30-17:30",
    "unit_source_id": "U001",
}
_EXAMPLE_NUMBERS = {"int": 100, "float": 1200.0}
_POINT_LON, _POINT_LAT = 104.398, 31.127  # central Deyang (example only)
_BOOL_LABELS = ("是", "否")


def _example(f: FieldSpec):
    if f.vocab:
        return next(iter(f.vocab.values()))
    if f.kind == "bool":
        return "是"
    if f.kind in _EXAMPLE_NUMBERS:
        return _EXAMPLE_NUMBERS[f.kind]
    return _EXAMPLES.get(f.name, "")


def _geometry_columns(spec: LayerSpec) -> list[tuple[str, object, str]]:
    """(header, example, note) of the geometry columns: 经度/纬度 for layers with points, else a WKT column."""
    if "Point" in spec.geometry_types:
        return [
            (
                "经度",
                _POINT_LON,
                "经度（度）。坐标系不是 WGS84/CGCS2000 经纬度时导入请加 --crs（如 gcj02、bd09、EPSG:4544）",
            ),
            ("纬度", _POINT_LAT, "纬度（度）"),
        ]
    d = 0.001
    x, y = _POINT_LON, _POINT_LAT
    if set(spec.geometry_types) & {"Polygon", "MultiPolygon"}:
        wkt = f"POLYGON(({x} {y},{x + d} {y},{x + d} {y + d},{x} {y + d},{x} {y}))"
    else:
        wkt = f"LINESTRING({x} {y},{x + d} {y + d})"
    return [("几何", wkt, "几何图形，WKT 格式（面、线）；通常用 GIS 软件导出 GeoPackage/Shapefile 更方便")]


def template_xlsx(layer: str) -> bytes:
    """The XLSX template of an importable layer (raises UnknownLayerError / InputError)."""
    from ._errors import InputError

    spec = get_layer(layer)
    if not spec.importable:
        raise InputError(
            f"layer {layer} is built by the service, not imported", f"图层「{spec.label_zh}」由系统生成，不能导入"
        )
    wb = Workbook()
    ws = wb.active
    ws.title = spec.label_zh[:31]
    lists = wb.create_sheet("可选值")
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "字段", "必填", "类型", "单位", "可选值", "说明"])
    columns: list[tuple[str, object, str, FieldSpec | None]] = [
        ("编号", "F001", "稳定编号（可选）：有编号时再次导入按编号更新；没有时按内容生成编号", None)
    ]
    columns += [(header_of(f), _example(f), "", f) for f in spec.fields]
    columns += [(h, ex, note, None) for h, ex, note in _geometry_columns(spec)]
    red = Font(bold=True, color="C00000")
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    list_col = 0
    for i, (header, example, note, f) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i, value=header)
        cell.font = red if f is not None and f.required else bold
        cell.fill = fill
        ws.cell(row=2, column=i, value=example)
        ws.column_dimensions[get_column_letter(i)].width = max(12, 2 * len(header) + 4)
        allowed = list(f.vocab.values()) if f is not None and f.vocab else None
        if f is not None and f.kind == "bool":
            allowed = list(_BOOL_LABELS)
        if f is not None:
            note = "必填" if f.required else "选填"
            if f.unit:
                note += f"；单位：{f.unit}"
            if f.min_value is not None:
                note += f"；不小于 {f.min_value:g}"
            if allowed:
                note += "；从下拉列表选择"
        cell.comment = Comment(note or header, "geo-service")
        if allowed:
            list_col += 1
            letter = get_column_letter(list_col)
            lists.cell(row=1, column=list_col, value=header)
            for j, v in enumerate(allowed, start=2):
                lists.cell(row=j, column=list_col, value=v)
            dv = DataValidation(
                type="list",
                formula1=f"'可选值'!${letter}$2:${letter}${len(allowed) + 1}",
                allow_blank=not (f is not None and f.required),
                showErrorMessage=True,
                errorTitle="不在可选值中",
                error=f"「{f.label_zh if f else header}」请从下拉列表中选择",
            )
            col = get_column_letter(i)
            dv.add(f"{col}2:{col}{TEMPLATE_ROWS + 1}")
            ws.add_data_validation(dv)
        notes.append(
            [
                header,
                f.name if f else ("source_id" if header == "编号" else "geometry"),
                ("是" if f.required else "否") if f else "否" if header == "编号" else "是",
                {"str": "文字", "int": "整数", "float": "数值", "bool": "是/否"}.get(f.kind, f.kind) if f else "",
                (f.unit or "") if f else "",
                "、".join(allowed) if allowed else "",
                note,
            ]
        )
    ws.freeze_panes = "A2"
    notes.append([])
    notes.append([f"图层「{spec.label_zh}」（{spec.name}）导入模板。第 2 行为示例，请替换或删除后再导入。"])
    notes.append([f"导入：geo-service import {spec.name} 文件.xlsx；先检查不写入：加 --check。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def report_xlsx(report: ValidationReport, *, title: str = "") -> bytes:
    """The problems of an import (or a check) as an XLSX: one row per problem, rows as the file numbers them."""
    wb = Workbook()
    ws = wb.active
    ws.title = "问题清单"
    where_zh = getattr(report, "where_zh", lambda r: f"第 {r} 行" if r > 0 else "文件")
    column_zh = getattr(report, "column_zh", lambda c: c or "")
    kind = getattr(report, "row_kind", "feature")
    ws.append(["行号" if kind == "row" else "要素序号", "位置", "列", "字段", "问题", "值", "Problem"])
    for c in ws[1]:
        c.font = Font(bold=True)
    for p in report.problems:
        ws.append([p.row or None, where_zh(p.row), column_zh(p.column), p.column, p.problem_zh, p.value, p.problem])
    for letter, width in zip("ABCDEFG", (10, 14, 16, 16, 60, 24, 60)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    info = wb.create_sheet("说明")
    info.append([title or f"图层 {report.layer} 导入检查报告"])
    info.append(
        [
            f"共 {report.rows} {'行' if kind == 'row' else '个要素'}，{len(report.bad_rows)} 个有问题，"
            f"问题 {len(report.problems)} 个"
        ]
    )
    if kind == "row":
        info.append(["行号即表格中的行号（第 1 行为表头，第一行数据为第 2 行）"])
    else:
        info.append(["要素序号从 1 起，按文件中的顺序"])
    for _en, zh in getattr(report, "notes", []):
        info.append([f"提示：{zh}"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
