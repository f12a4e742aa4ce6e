"""Fairness, group coverage, hubs and service-space tiers as an XLSX workbook with Chinese headers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo_service.core.vocab import FACILITY_STATUS

from .report import write_xlsx

HEADERS = {
    "scope": "范围",
    "street_code": "街道代码",
    "category": "设施类别",
    "category_zh": "设施类别名称",
    "group": "服务人群代码",
    "group_zh": "服务人群",
    "tier": "要素分级代码",
    "tier_zh": "要素分级（TD/T 1062-2021）",
    "threshold_m": "本类步行距离标准（米）",
    "weight": "人数（服务人群，人）",
    "reached_weight": "搜索上限内可达人数（人）",
    "unreached_weight": "不可达人数（人）",
    "unreached_share": "不可达比例",
    "gini": "步行距离基尼系数",
    "palma": "帕尔马比值（最远10%÷最近40%）",
    "mean_walk_m": "平均步行距离（米）",
    "median_walk_m": "步行距离中位数（米）",
    "p90_walk_m": "步行距离90%分位（米）",
    "lower_bound": "含按上限计的不可达单元（下限值）",
    "beyond_5min_share": "超过300米（5分钟生活圈）比例",
    "beyond_10min_share": "超过500米（10分钟生活圈）比例",
    "beyond_15min_share": "超过1000米（15分钟生活圈）比例",
    "beyond_threshold_share": "超过本类标准比例",
    "rank": "排名",
    "unit_id": "单元编号",
    "name": "名称",
    "unit_street_code": "单元所属街道",
    "walk_m": "步行距离（米，空为不可达）",
    "reached": "搜索上限内可达",
    "cum_share": "累计人数占比",
    "group_residents": "服务人群人数（人）",
    "covered_group_residents": "覆盖的服务人群（人）",
    "uncovered_group_residents": "未覆盖的服务人群（人）",
    "note_zh": "说明",
    "group_rate": "服务人群覆盖率",
    "all_rate": "全体居民覆盖率",
    "derived_share": "按普查结构推算的人数占比",
    "facility_id": "设施编号",
    "status": "状态",
    "floor_area_m2": "建筑面积（m²）",
    "functions": "服务功能代码",
    "functions_zh": "服务功能",
    "function_count": "功能数",
    "core_functions": "核心功能代码",
    "core_count": "核心功能数",
    "unknown_functions": "无法识别的功能",
    "floor_ok": "面积≥600 m²",
    "floor_preferred": "面积≥800 m²（宜）",
    "hub_status": "结论代码",
    "hub_status_zh": "结论",
    "reasons_zh": "原因",
    "norm_source": "标准依据",
    "norm_status": "依据状态",
    "lon": "经度",
    "lat": "纬度",
    "community_code": "社区代码",
    "households": "户数（户）",
    "service_floor_m2": "综合服务设施面积（m²）",
    "facilities_without_area": "未填面积的设施数",
    "minimum_m2": "底线应配面积（每百户30 m²）",
    "target_m2": "目标应配面积（每百户80 m²）",
    "gap_to_minimum_m2": "距底线缺口（m²）",
    "gap_to_target_m2": "距目标缺口（m²）",
    "reason_zh": "说明",
    "floor_tier": "分级代码",
    "floor_tier_zh": "面积分级",
    "minimum_norm_source": "底线依据",
    "minimum_norm_status": "底线依据状态",
    "target_norm_source": "目标依据",
    "target_norm_status": "目标依据状态",
    "path": "规范项",
    "source": "依据",
    "value": "取值",
}
SCOPE_ZH = {"city": "全市", "street": "街道"}
STATUS_ZH = {"verified": "已核实", "secondary": "二手来源", "unverified": "未核实（可覆盖的默认值）"}


def header(col: str) -> str:
    return HEADERS.get(col, col)


def _zh(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.copy()
    if "scope" in f.columns:
        f["scope"] = f["scope"].map(lambda s: SCOPE_ZH.get(s, s))
    for col in ("norm_status", "minimum_norm_status", "target_norm_status"):
        if col in f.columns:
            f[col] = f[col].map(lambda s: STATUS_ZH.get(s, s))
    if "status" in f.columns:
        f["status"] = f["status"].map(lambda s: FACILITY_STATUS.get(s, s))
    return f


def write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """Write ``sheets`` (sheet name -> frame with the columns of this module's outputs) with Chinese headers."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        from geo_service.core._errors import InputError

        raise InputError("the output file must end in .xlsx", f"输出文件须为 .xlsx：{path.name}")
    return write_xlsx(path, {k: _zh(v) for k, v in sheets.items() if v is not None}, header=header)
