"""A shelter scenario as files: an XLSX (summary, shelters, communities, units; Chinese headers with units) or
one GeoJSON FeatureCollection (zones, shelters, routes, units left without a place; ``layer`` names each)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo_service.core.geojson import feature_collection_json

from .report import write_xlsx

HEADERS = {
    "shelter_id": "避难场所编号",
    "unit_id": "人口单元编号",
    "hazard_id": "灾害风险区编号",
    "name": "名称",
    "shelter_class": "类别代码",
    "shelter_class_zh": "类别",
    "serving": "参与紧急避难安置",
    "capacity_persons": "容纳人数（人）",
    "load_before": "情景前安置人数（人）",
    "load_after": "情景后安置人数（人）",
    "closed": "关闭",
    "closed_reason": "关闭原因",
    "hazard_zh": "所在启用灾害区",
    "community_code": "社区代码",
    "in_active_zone": "位于启用灾害区内",
    "demand": "需安置人数（人）",
    "placed_before": "情景前已安置（人）",
    "unplaced_before": "情景前无法安置（人）",
    "placed_after": "情景后已安置（人）",
    "unplaced_after": "情景后无法安置（人）",
    "unplaced_reason": "无法安置原因",
    "change": "无法安置人数变化（人）",
    "persons": "人数（人）",
    "walk_m": "步行距离（m）",
    "kind": "灾害类型代码",
    "kind_zh": "灾害类型",
    "level": "风险等级代码",
    "level_zh": "风险等级",
    "radius_m": "影响半径（m）",
    "source_id": "原始编号",
}

SUMMARY_ROWS = [
    ("hazards_active_zh", "启用的灾害风险区", ""),
    ("shelters_closed", "关闭的避难场所", "处"),
    ("shelters_named_closed", "其中点名关闭", "处"),
    ("shelters_in_active_zones", "其中位于启用灾害区内", "处"),
    ("shelters_serving_before", "情景前参与安置的避难场所", "处"),
    ("shelters_serving_after", "情景后参与安置的避难场所", "处"),
    ("capacity_before", "情景前可用容量", "人"),
    ("capacity_after", "情景后可用容量", "人"),
    ("edges_removed", "因灾害封闭的路段", "段"),
    ("demand", "需安置人数", "人"),
    ("placed_before", "情景前已安置", "人"),
    ("placed_after", "情景后已安置", "人"),
    ("unplaced_before", "情景前无法安置", "人"),
    ("unplaced_after", "情景后无法安置", "人"),
    ("units_newly_unplaced", "情景后新增无法安置的人口单元", "个"),
    ("mean_walk_before_m", "情景前平均步行距离", "m"),
    ("mean_walk_after_m", "情景后平均步行距离", "m"),
    ("walk_limit_m", "步行距离上限", "m"),
    ("day_night_factor", "昼夜人口系数", ""),
]


def summary_frame(summary: dict) -> pd.DataFrame:
    """The totals as rows (项目, 数值, 单位)."""
    rows = []
    for key, label, unit in SUMMARY_ROWS:
        v = summary.get(key)
        if key == "hazards_active_zh" and v is None:  # runs stored before the names were kept
            v = summary.get("hazards_active")
        if isinstance(v, list):
            v = "、".join(map(str, v)) or "无"
        rows.append((label, "—" if v is None else v, unit))
    return pd.DataFrame(rows, columns=["项目", "数值", "单位"])


def write_scenario(path: Path, summary: dict, tables: dict[str, gpd.GeoDataFrame]) -> Path:
    """Write the scenario to ``path``: ``.xlsx`` (four sheets) or ``.geojson``/``.json`` (one collection)."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        sheets = {"汇总": summary_frame(summary)}
        for name, title in (
            ("shelters", "避难场所"),
            ("communities", "社区"),
            ("units", "人口单元"),
            ("zones", "灾害区"),
        ):
            frame = tables.get(name)
            if frame is not None and len(frame):
                sheets[title] = frame.drop(columns=[c for c in ("id",) if c in frame.columns])
        return write_xlsx(path, sheets, header=lambda c: HEADERS.get(c, c))
    parts = []
    for name in ("zones", "shelters", "routes", "units"):
        frame = tables.get(name)
        if frame is None or len(frame) == 0:
            continue
        if name == "units":
            frame = frame[frame["unplaced_after"] > 0]
        frame = frame[frame.geometry.notna()]
        parts.append(frame.drop(columns=[c for c in ("id", "feature_key") if c in frame.columns]).assign(layer=name))
    gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True) if parts else gpd.GeoDataFrame(geometry=[]), crs=4326)
    gdf["id"] = range(1, len(gdf) + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(feature_collection_json(gdf, extra={"crs_name": "EPSG:4326", "summary": summary}))
    return path
