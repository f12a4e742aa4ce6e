"""Coverage results as files: Chinese headers with units, one sheet per topic in XLSX."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo_service.core import vocab
from geo_service.core.ages import GROUP_ZH
from geo_service.core.io import write_file

_FIXED = {
    "rank": "排名",
    "unit_id": "单元编号",
    "source_id": "来源编号",
    "name": "名称",
    "residents": "常住人口（人）",
    "households": "户数（户）",
    "units": "单元数",
    "street_code": "街道代码",
    "community_code": "社区代码",
    "community_name": "社区名称",
    "reachable": "可步行到达",
    "snap_offset_m": "至道路距离（米）",
    "unreachable_residents": "无法到达道路的人口（人）",
    "missing": "缺少的设施类别",
    "missing_zh": "缺少的设施",
    "missing_count": "缺少类别数",
    "category": "设施类别",
    "category_zh": "设施类别名称",
    "level": "生活圈层级",
    "threshold_m": "步行距离标准（米）",
    "threshold_min": "步行时间标准（分钟）",
    "norm_source": "标准依据",
    "facilities": "现状设施数",
    "walk_rate": "步行覆盖率",
    "straight_rate": "直线覆盖率",
    "barrier_cost": "障碍损失（直线-步行）",
    "walk_m": "步行距离（米）",
    "complete_rate": "完整生活圈覆盖率",
    "complete_straight_rate": "完整生活圈覆盖率（直线）",
    "required": "必配设施",
    "hub_facilities": "其中嵌入式综合体提供（处）",
    "group": "服务对象代码",
    "group_zh": "服务对象",
    "tier": "分级代码",
    "tier_zh": "TD/T 1062-2021 分级",
    "group_norm_source": "服务对象依据",
    "group_norm_status": "服务对象依据状态",
    "tier_norm_source": "分级依据",
    "tier_norm_status": "分级依据状态",
    "group_residents": "服务对象人口（人）",
    "group_covered_residents": "服务对象覆盖人口（人）",
    "group_uncovered_residents": "服务对象未覆盖人口（人）",
    "group_rate": "服务对象覆盖率",
    "group_derived_share": "服务对象人口按普查结构推算比例",
    "group_note_zh": "服务对象说明",
}
_SUFFIX = {
    "_walk_m": "步行距离（米）",
    "_walk_min": "步行时间（分钟）",
    "_covered": "是否覆盖",
    "_straight_m": "直线距离（米）",
    "_straight_covered": "直线是否覆盖",
    "_facility_id": "最近设施编号",
    "_straight_rate": "直线覆盖率",
    "_rate": "步行覆盖率",
    "_group_residents": "服务对象人口（人）",
    "_group_uncovered": "服务对象未覆盖人口（人）",
    "_group_rate": "服务对象覆盖率",
    "_group_derived_share": "服务对象人口按普查结构推算比例",
    "_group_note": "服务对象说明",
}
_LEVEL_ZH = {"5min": "5分钟", "10min": "10分钟", "15min": "15分钟"}


def header_zh(col: str) -> str:
    """Chinese header (with unit) of a coverage column name."""
    if col in _FIXED:
        return _FIXED[col]
    if col.startswith("residents_") and col[len("residents_") :] in GROUP_ZH:
        return f"{GROUP_ZH[col[len('residents_') :]]}（人）"
    if col.startswith("complete_"):
        rest = col[len("complete_") :]
        for lv, lz in _LEVEL_ZH.items():
            if rest.startswith(lv):
                tail = rest[len(lv) :]
                return {
                    "": f"{lz}完整生活圈",
                    "_straight": f"{lz}完整生活圈（直线）",
                    "_rate": f"{lz}完整生活圈覆盖率",
                    "_straight_rate": f"{lz}完整生活圈覆盖率（直线）",
                }.get(tail, col)
    return prefixed_header(col, vocab.FACILITY_CATEGORIES, _SUFFIX) or col


def prefixed_header(col: str, prefixes: dict[str, str], suffixes: dict[str, str]) -> str | None:
    """``<prefix><suffix>`` column names (``kindergarten_walk_m``) as ``<prefix label><suffix label>``, else None."""
    for suffix in sorted(suffixes, key=len, reverse=True):
        if col.endswith(suffix) and col[: -len(suffix)] in prefixes:
            return f"{prefixes[col[: -len(suffix)]]}{suffixes[suffix]}"
    return None


def _plain_lists(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda v: isinstance(v, list)).any():
            df[c] = df[c].map(lambda v: "、".join(map(str, v)) if isinstance(v, list) else v)
    return df


def write_xlsx(path: Path, sheets: dict[str, pd.DataFrame], header=None) -> Path:
    """One sheet per topic, Chinese headers, frozen header row, fitted column widths.

    ``header`` maps a column name to its Chinese header (default: the coverage headers).
    """
    header = header or header_zh
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df = _plain_lists(
                pd.DataFrame(df.drop(columns=[c for c in ("geometry", "feature_key") if c in df.columns]))
            )
            df = df.rename(columns={c: header(c) for c in df.columns})
            df.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            ws.freeze_panes = "A2"
            for i, col in enumerate(df.columns, start=1):
                values = [str(col)] + [str(v) for v in df[col].head(500).tolist()]
                width = max(_display_width(v) for v in values)
                ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width + 2))
    return path


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_coverage(
    path: Path,
    fmt: str,
    *,
    summary: dict,
    units: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame | None,
    streets: pd.DataFrame,
    gaps: gpd.GeoDataFrame,
    output: str = "units",
) -> Path:
    """Write a coverage run: XLSX gets every topic; GeoJSON/CSV/GPKG/SHP the chosen ``output``."""
    if fmt == "xlsx":
        cats = pd.DataFrame(summary["categories"])
        levels = pd.DataFrame(summary["levels"])
        sheets = {"汇总-设施类别": cats, "汇总-生活圈": levels}
        if communities is not None and len(communities):
            sheets["社区"] = communities
        sheets["街道"] = streets
        sheets["缺口单元"] = gaps
        sheets["人口单元"] = units
        return write_xlsx(path, sheets)
    frame = {"units": units, "communities": communities, "gaps": gaps, "streets": streets}[output]
    if frame is None:
        from geo_service.core._errors import InputError

        raise InputError("this run has no community output (no plan)", "本次计算没有社区结果（未指定社区划分方案）")
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), crs=4326), crs=4326)
    frame = _plain_lists(frame.drop(columns=[c for c in ("feature_key",) if c in frame.columns]))
    return write_file(
        gpd.GeoDataFrame(frame, geometry="geometry", crs=4326),
        path,
        fmt,
        layer_name=f"coverage_{output}",
        headers_zh={c: header_zh(c) for c in frame.columns},
    )
