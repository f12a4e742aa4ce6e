"""A comparison as files: XLSX with Chinese headers (one sheet per topic) and GeoJSON of a difference layer."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo_service.core.geojson import feature_collection_json

from ..report import write_xlsx

HEADERS = {
    "item": "项目",
    "a": "方案甲",
    "b": "方案乙",
    "change": "变化",
    "category": "设施类别代码",
    "category_zh": "设施类别",
    "residents_covered_a": "方案甲覆盖人口（人）",
    "residents_covered_b": "方案乙覆盖人口（人）",
    "newly_covered": "新增覆盖人口（人）",
    "newly_uncovered": "失去覆盖人口（人）",
    "rate_a": "方案甲覆盖率",
    "rate_b": "方案乙覆盖率",
    "unit_id": "单元编号",
    "name": "名称",
    "residents": "常住人口（人）",
    "in_a": "在方案甲中",
    "in_b": "在方案乙中",
    "gained": "新增覆盖的设施",
    "lost": "失去覆盖的设施",
    "gained_categories": "新增覆盖类别代码",
    "lost_categories": "失去覆盖类别代码",
    "n_gained": "新增覆盖类别数",
    "n_lost": "失去覆盖类别数",
    "change_zh": "变化情况",
    "community_code": "社区代码",
    "gap_m2_a": "方案甲综合服务设施面积缺口（m²）",
    "gap_m2_b": "方案乙综合服务设施面积缺口（m²）",
    "gap_change_m2": "缺口变化（m²，负数为缩小）",
    "shelter_id": "避难场所编号",
    "capacity_persons": "容纳人数（人）",
    "load_a": "方案甲分配人数（人）",
    "load_b": "方案乙分配人数（人）",
    "load_change": "分配人数变化（人）",
    "scenario": "方案",
    "yuan": "金额（元）",
    "note": "说明",
}
LAYERS = ("units", "communities", "shelters")


def _header(col: str) -> str:
    return HEADERS.get(col, col)


def summary_rows(summary: dict) -> pd.DataFrame:
    """The headline figures of a comparison as rows ``item``, ``a``, ``b``, ``change`` (Chinese item names)."""

    def row(item, a, b, change=None):
        if change is None and isinstance(a, (int, float)) and isinstance(b, (int, float)):
            change = round(b - a, 1)
        return {"item": item, "a": a, "b": b, "change": change}

    rows = [
        row("方案", summary["a"], summary["b"], ""),
        row("常住人口（人）", summary["residents_a"], summary["residents_b"]),
        row("新增覆盖人口合计（人次，按类别累计）", None, summary["newly_covered"], summary["newly_covered"]),
        row("失去覆盖人口合计（人次，按类别累计）", None, summary["newly_uncovered"], -summary["newly_uncovered"]),
        row("社区综合服务设施面积缺口（m²）", summary["service_gap_m2_a"], summary["service_gap_m2_b"]),
        row("缺口缩小（m²）", None, None, summary["service_gap_closed_m2"]),
        row("未安置避难人数（人）", summary["unplaced_a"], summary["unplaced_b"]),
        row("费用合计（元）", summary["cost_total_yuan_a"], summary["cost_total_yuan_b"]),
    ]
    rows += [row("注", None, note, "") for note in summary.get("notes", [])]
    return pd.DataFrame(rows)


def cost_rows(summary: dict) -> pd.DataFrame:
    rows = [{"scenario": summary["a"], **c} for c in summary["cost_inputs_a"]]
    rows += [{"scenario": summary["b"], **c} for c in summary["cost_inputs_b"]]
    return pd.DataFrame(rows, columns=["scenario", "item", "yuan", "note"])


def write_comparison_xlsx(path: Path, summary: dict, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """The comparison as a workbook: 汇总, 覆盖变化, 人口单元, 社区, 避难场所, 费用 (Chinese headers)."""
    sheets = {
        "汇总": summary_rows(summary),
        "覆盖变化（按类别）": pd.DataFrame(summary["categories"]),
        "人口单元": layers["units"],
        "社区": layers["communities"],
        "避难场所": layers["shelters"],
        "费用": cost_rows(summary),
    }
    return write_xlsx(path, sheets, header=_header)


def layer_geojson(frame: gpd.GeoDataFrame, summary: dict, layer: str) -> bytes:
    """One difference layer as a GeoJSON FeatureCollection (EPSG:4326) with the compared states named."""
    frame = frame[frame.geometry.notna()] if len(frame) else frame
    ids = {"units": "unit_id", "communities": "community_code", "shelters": "shelter_id"}
    return feature_collection_json(
        frame.reset_index(drop=True),
        extra={"a": summary["a"], "b": summary["b"], "layer": layer},
        id_column=ids.get(layer, "id"),
    )
