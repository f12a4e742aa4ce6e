"""Audit results as files: an XLSX with one sheet per topic (Chinese headers with units),
or one output as GeoJSON / CSV / GeoPackage / Shapefile."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.io import write_file

from .report import _plain_lists, prefixed_header, write_xlsx

HEADERS = {
    "rank": "排名",
    "community_code": "社区代码",
    "name": "名称",
    "street_code": "街道代码",
    "households": "户数（户）",
    "residents": "常住人口（人）",
    "has_fixed_office": "有固定办公场所",
    "office_source": "办公场所依据",
    "service_floor_m2": "综合服务设施现有面积（m²）",
    "service_facilities": "综合服务设施数（处）",
    "service_floor_required_m2": "综合服务设施应配面积（m²）",
    "service_floor_gap_m2": "综合服务设施面积缺口（m²）",
    "service_floor_status": "面积评估结果代码",
    "service_floor_status_zh": "面积评估结果",
    "cannot_assess_reason": "无法评估原因",
    "facilities_below_minimum": "低于最小面积的设施（处）",
    "missing_categories": "缺少的设施类别代码",
    "missing_categories_zh": "缺少的应配设施",
    "missing_category_count": "缺少类别数",
    "planned_facilities": "规划及在建设施（处）",
    "planned_service_floor_m2": "规划综合服务设施面积（m²）",
    "gap_after_planned_m2": "计入规划设施后缺口（m²）",
    "plan_can_close": "规划用地能否补足代码",
    "plan_can_close_zh": "规划用地能否补足",
    "closing_parcel_ids": "补足用地地块编号",
    "closing_parcel_area_m2": "补足用地面积（m²）",
    "facilities_at_risk": "用地规划为他用的设施（处）",
    "issues": "问题数",
    "issues_zh": "问题",
    "group_shortfall_zh": "缺少应配设施的服务对象（人）",
    "group_note_zh": "服务对象人数说明",
    # category counts
    # facilities
    "facility_id": "设施编号",
    "category": "设施类别代码",
    "category_zh": "设施类别",
    "status": "状态",
    "floor_area_m2": "建筑面积（m²）",
    "min_floor_m2": "最小建筑面积标准（m²）",
    "below_minimum": "低于最小面积",
    "area_unknown": "缺少建筑面积",
    "at_risk": "用地规划为他用",
    "planned_not_built": "规划或在建未建成",
    "parcel_land_use_code": "所在地块规划用地代码",
    "finding_zh": "审计发现",
    # shelters
    "shelter_id": "避难场所编号",
    "shelter_class": "类别代码",
    "shelter_class_zh": "避难场所类别",
    "effective_area_m2": "有效避难面积（m²）",
    "capacity_persons": "容纳人数（人）",
    "capacity_source": "容量依据",
    "per_capita_m2": "人均面积标准（m²/人）",
    "assessable": "可评估",
    "below_min_site_area": "场地面积低于 2000 m²",
    "reachable": "可步行到达",
    "in_hazard": "位于灾害风险区",
    "hazard_ids": "灾害风险区编号",
    "hazard_kinds": "灾害类型代码",
    "hazard_level": "风险等级代码",
    "hazard_level_zh": "灾害风险等级",
    "hazard_names": "所在灾害风险区",
    "hazard_zh": "灾害风险说明",
    "hazard_id": "灾害风险区编号",
    "hazard_kind_zh": "灾害类型",
    "level_zh": "风险等级",
    "radius_m": "影响半径（米）",
    # units
    "unit_id": "人口单元编号",
    # assignment
    "persons": "安置人数（人）",
    "walk_m": "步行距离（米）",
    # shelter share
    "area_code": "范围（街道代码或全域）",
    "fixed_capacity_persons": "固定避难场所容量（人）",
    "required_persons": "应容纳人数（人）",
    "share": "容纳比例",
    "meets_norm": "是否达标",
    "shortfall_persons": "容量缺口（人）",
    # central
    "served_residents": "服务人口（人）",
    "served_built_up_km2": "服务建成区面积（km²）",
    "within_population_limit": "人口未超上限",
    "within_area_limit": "面积未超上限",
    # parcels
    "parcel_id": "地块编号",
    "land_use_code": "用地用海分类代码",
    "planned_use": "规划用途",
    "area_m2": "用地面积（m²）",
    "floor_capacity_m2": "可建设施面积（m²）",
    "occupied": "已有设施",
    "assigned_to_community": "用于补足社区",
    "gap_closed_m2": "补足面积（m²）",
    # developments
    "development_id": "项目编号",
    "planned_households": "规划户数（户）",
    "required_facility_area_m2": "应配建设施面积（m²）",
    "required_source": "应配面积依据",
    "built_facility_area_m2": "已配建设施面积（m²）",
    "owed_m2": "欠配面积（m²）",
    "status_check": "评估结果代码",
    "status_check_zh": "评估结果",
    # streets
    "communities": "社区数",
    "without_office": "无固定办公场所社区数",
    "with_space_gap": "面积不足社区数",
    "cannot_assess": "无法评估社区数",
    "missing_categories_n": "缺少应配设施社区数",
    "developments_owing": "欠配项目数",
    "developments_owed_m2": "欠配面积（m²）",
    # cannot assess
    "layer": "图层",
    "feature_id": "要素编号",
    "check_zh": "评估项目",
    "reason_zh": "原因",
    # norms
    "check": "规范项",
    "value": "取值",
    "unit": "单位",
    "source": "来源",
    "norm_status": "核实状态",
    # summary
    "item": "项目",
    # gap plan (缺口补足方案)
    "gap_plan_status": "缺口补足结果代码",
    "gap_plan_status_zh": "缺口补足结果",
    "gap_plan_zh": "缺口补足方式",
    "gap_plan_need_m2": "待补足面积（m²）",
    "gap_plan_closed_m2": "可补足面积（m²）",
    "gap_plan_cost_yuan": "补足费用（元，含租金年限）",
    "gap_plan_open_zh": "仍有缺口及原因",
    "community_name": "社区名称",
    "need": "需求代码",
    "need_zh": "需求",
    "need_m2": "需求面积（m²）",
    "need_status": "需求补足结果代码",
    "need_status_zh": "需求补足结果",
    "needs_ground_or_lift": "须首层或有电梯",
    "closed_m2": "本空间补足面积（m²）",
    "open_m2": "仍缺面积（m²）",
    "kind": "补足方式代码",
    "kind_zh": "补足方式",
    "how_zh": "补足说明",
    "candidate_layer": "空间来源图层",
    "candidate_id": "空间编号",
    "candidate_name": "空间名称",
    "owner": "产权单位",
    "candidate_area_m2": "空间建筑面积（m²）",
    "floor_level": "所在楼层",
    "has_lift": "有电梯",
    "condition_zh": "房屋状况",
    "facility_source_id": "扩建的设施编号",
    "inside": "位于社区内",
    "cost_yuan": "费用（元，含租金年限）",
    "rent_yuan_per_year": "年租金（元/年）",
    "open_reason_zh": "仍有缺口的原因",
    # developments: handover (Art. 18 ¶2)
    "handover_stage_zh": "移交进度",
    "handed_over_area_m2": "已移交社区面积（m²）",
    "handover_date": "移交日期",
    "handover_short_m2": "移交面积不足（m²）",
    "handover_short": "已移交但面积不足",
    "handover_finding_zh": "移交核查",
}
_CLASS_SUFFIX = {
    "_demand": "需安置人数（人）",
    "_placed": "已安置人数（人）",
    "_unplaced": "无法安置人数（人）",
    "_unplaced_nearest_first": "就近分配时无法安置人数（人）",
    "_nearest_walk_m": "最近避难场所步行距离（米）",
    "_unplaced_reason": "无法安置原因",
    "_placed_share": "安置率",
    "_assigned": "分配人数（人）",
    "_nearest_first_load": "就近使用人数（人）",
    "_over_capacity_nearest_first": "就近使用时超容量",
    "_utilisation": "利用率",
    "_unplaced_with_plan": "按规划补充后仍无法安置（人）",
    "_assigned_with_plan": "按规划补充后分配人数（人）",
}
_STATUS_ZH = {**vocab.FACILITY_STATUS, **vocab.DEVELOPMENT_STATUS, **vocab.PARCEL_STATUS}
_LAYER_ZH = {
    "communities": "社区",
    "facilities": "社区服务设施",
    "shelters": "应急避难场所",
    "developments": "新建住宅项目",
    "idle_assets": "闲置资产",
    "space_candidates": "可购置租赁或置换扩建的空间",
}
_STREET_HEADERS = {
    "missing_categories": "缺少应配设施社区数",
    "facilities_at_risk": "用地规划为他用的设施（处）",
    "households": "户数（户）",
    "emergency_demand": "需安置人数（人）",
    "emergency_unplaced": "无法安置人数（人）",
}

OUTPUT_NAMES = {
    "communities": "社区",
    "streets": "街道汇总",
    "facilities": "设施问题",
    "shelters": "避难场所",
    "units": "人口单元安置",
    "assignment": "安置分配",
    "shelter_sites": "避难场所规划用地",
    "parcels": "预留用地",
    "developments": "新建住宅配建",
    "cannot_assess": "无法评估",
    "gap_plan": "缺口补足方案",
    "hazard_zones": "灾害风险区",
}


GAP_PLAN_COLUMNS = (
    "community_code",
    "community_name",
    "street_code",
    "need_zh",
    "need_m2",
    "need_status_zh",
    "how_zh",
    "closed_m2",
    "open_m2",
    "open_reason_zh",
    "kind_zh",
    "candidate_name",
    "owner",
    "candidate_area_m2",
    "floor_level",
    "has_lift",
    "needs_ground_or_lift",
    "condition_zh",
    "inside",
    "walk_m",
    "cost_yuan",
    "rent_yuan_per_year",
    "candidate_layer",
    "candidate_id",
)


_GROUP_SUFFIX = {
    "_group_residents": "服务对象人口（人）",
    "_group_shortfall": "服务对象缺口（缺少该设施的服务对象，人）",
}


def header_zh(col: str) -> str:
    """Chinese header (with unit) of an audit column."""
    if col in HEADERS:
        return HEADERS[col]
    if col in vocab.FACILITY_CATEGORIES:
        return f"{vocab.FACILITY_CATEGORIES[col]}（处）"
    return (
        prefixed_header(col, vocab.SHELTER_CLASSES, _CLASS_SUFFIX)
        or prefixed_header(col, vocab.FACILITY_CATEGORIES, _GROUP_SUFFIX)
        or col
    )


def _readable(df: pd.DataFrame) -> pd.DataFrame:
    """Booleans as 是/否, codes of status and layer as Chinese."""
    df = pd.DataFrame(df).copy()
    for c in df.columns:
        s = df[c]
        if s.dtype == bool or (
            s.dtype == object
            and len(s)
            and s.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all()
            and s.notna().any()
        ):
            df[c] = s.map(
                lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else ("是" if v else "否")
            )
    if "status" in df.columns:
        df["status"] = df["status"].map(lambda v: _STATUS_ZH.get(v, v))
    for c in ("layer", "candidate_layer"):
        if c in df.columns:
            df[c] = df[c].map(lambda v: _LAYER_ZH.get(v, v))
    return df


def summary_rows(summary: dict) -> pd.DataFrame:
    """County totals of an audit summary as (项目, 取值) rows."""
    e = summary.get("emergency") or {}
    rows = [
        ("社区数", summary.get("communities")),
        ("无固定办公场所的社区", summary.get("communities_without_office")),
        ("综合服务设施面积不足的社区", summary.get("communities_with_space_gap")),
        ("综合服务设施面积缺口合计（m²）", summary.get("service_floor_gap_m2")),
        ("规划用地（或规划设施）可补足的社区", summary.get("communities_gap_closable_by_plan")),
        ("规划用地只能部分补足的社区", summary.get("communities_gap_partly_closable")),
        ("附近没有可用规划用地的社区", summary.get("communities_gap_not_closable")),
        ("缺少应配设施的社区", summary.get("communities_missing_categories")),
        ("低于最小面积的设施（处）", summary.get("facilities_below_minimum")),
        ("用地规划为他用的现状设施（处）", summary.get("facilities_at_risk")),
        ("规划或在建、尚未建成的设施（处）", summary.get("facilities_planned_not_built")),
        ("常住人口（人）", summary.get("residents")),
        ("昼夜人口系数", summary.get("day_night_factor")),
    ]
    if e:
        rows += [
            ("紧急避难步行距离上限（米）", e.get("walk_limit_m")),
            ("紧急避难需安置人数（人）", e.get("demand_persons")),
            ("最优分配已安置（人）", e.get("placed")),
            ("最优分配无法安置（人）", e.get("unplaced")),
            ("就近分配无法安置（人）", e.get("unplaced_nearest_first")),
            ("步行范围内无避难场所的人口单元（个）", e.get("units_without_shelter_in_reach")),
            ("就近使用时超容量的避难场所（处）", e.get("shelters_over_capacity_nearest_first")),
            ("平均步行距离（米）", e.get("mean_walk_m")),
        ]
        wp = e.get("with_plan") or {}
        if wp:
            rows += [
                ("规划及在建避难场所（处）", wp.get("planned_shelters")),
                ("规划及在建避难场所可安置（人）", wp.get("placed_by_planned_shelters")),
                ("尚未设为避难场所的规划公园、广场（块）", wp.get("candidate_sites")),
                ("本方案用到的规划公园、广场（块）", wp.get("sites_used")),
                ("启用规划公园、广场可安置（人）", wp.get("placed_by_sites")),
                ("按规划补充后仍无法安置（人）", wp.get("unplaced")),
            ]
    rows += [
        ("固定避难场所容纳比例（全域）", summary.get("fixed_share")),
        ("固定避难场所容纳比例不达标的街道", summary.get("streets_below_fixed_share")),
        ("位于灾害风险区的避难场所（处）", summary.get("shelters_in_hazard_zones")),
        ("中心避难场所（处）", summary.get("central_shelters")),
        ("按人口和面积上限需要的中心避难场所（处）", summary.get("central_shelters_needed")),
        ("新建住宅项目（个）", summary.get("developments")),
        ("欠配设施面积的项目（个）", summary.get("developments_owing")),
        ("欠配面积合计（m²）", summary.get("developments_owed_m2")),
        ("已移交社区的项目（个）", summary.get("developments_handed_over")),
        ("已移交但面积不足的项目（个）", summary.get("developments_handed_over_short")),
        ("已建成尚未移交的项目（个）", summary.get("developments_built_not_handed_over")),
    ]
    rows += group_check_rows(summary.get("group_checks") or [])
    rows += gap_plan_rows(summary.get("gap_plan") or {})
    for layer, n in (summary.get("cannot_assess") or {}).items():
        rows.append((f"无法评估：{_LAYER_ZH.get(layer, layer)}", n))
    plan = summary.get("plan") or {}
    if plan:
        rows.insert(0, ("社区划分方案", f"{plan.get('name')}（编号 {plan.get('id')}）"))
    return pd.DataFrame(rows, columns=["item", "value"])


def group_check_rows(checks: list[dict]) -> list[tuple[str, object]]:
    """Summary rows of the per-group presence checks: the group's residents and those lacking the category."""
    rows: list[tuple[str, object]] = []
    for c in checks:
        head = f"{c['category_zh']}（服务对象：{c['group_zh']}）"
        unknown = "未知（部分单元缺少年龄数据）"
        rows += [
            (f"{head}：服务对象人口（人）", unknown if c.get("group_residents") is None else c["group_residents"]),
            (
                f"{head}：所在社区缺少该设施的服务对象（人）",
                unknown if c.get("shortfall_residents") is None else c["shortfall_residents"],
            ),
            (f"{head}：缺少该设施的社区", c.get("communities_missing")),
        ]
    return rows


def gap_plan_rows(g: dict) -> list[tuple[str, object]]:
    """Summary rows of the gap plan (缺口补足方案): needs, m² closed, cost, the greedy answer beside it."""
    if not g:
        return []
    gr = g.get("greedy") or {}
    budget = g.get("budget_yuan")
    return [
        ("缺口补足：预算（元）", "不限" if budget is None else budget),
        ("缺口补足：有待补足需求的社区", g.get("communities_with_needs")),
        ("缺口补足：可全部补足的社区", g.get("communities_closed")),
        ("缺口补足：部分补足的社区", g.get("communities_partly")),
        ("缺口补足：仍无法补足的社区", g.get("communities_open")),
        ("缺口补足：需求面积合计（m²）", g.get("need_m2")),
        ("缺口补足：可补足面积（m²）", g.get("closed_m2")),
        ("缺口补足：可用空间（处）", g.get("candidates")),
        ("缺口补足：方案使用的空间（处）", g.get("spaces_used")),
        ("缺口补足：费用合计（元，含租金年限）", g.get("cost_yuan")),
        ("缺口补足：年租金合计（元/年）", g.get("rent_yuan_per_year")),
        ("缺口补足：逐个就近分配可补足面积（m²）", gr.get("closed_m2")),
        ("缺口补足：逐个就近分配费用（元）", gr.get("cost_yuan")),
    ]


def norms_rows(summary: dict) -> pd.DataFrame:
    df = pd.DataFrame(summary.get("norms", []))
    if len(df):
        df = df.rename(columns={"status": "norm_status"})
        df["norm_status"] = df["norm_status"].map(
            {"verified": "已核实", "secondary": "二手来源", "unverified": "未核实（可按城市修改）"}
        )
        df = df[["check_zh", "check", "value", "unit", "source", "norm_status"]]
    return df


def for_street(tables: dict[str, pd.DataFrame], street_code: str) -> dict[str, pd.DataFrame]:
    """The audit tables cut to one street: its communities and what lies in them, its units and shelters,
    its row of the street and fixed-shelter tables.  County-wide tables (central shelters) are kept whole."""
    street_code = str(street_code)
    cm = tables.get("communities")
    if cm is None or len(cm) == 0 or street_code not in set(cm["street_code"].astype(str)):
        known = sorted(set(cm["street_code"].dropna().astype(str))) if cm is not None and len(cm) else []
        raise InputError(
            f"no community of street {street_code!r} in this audit",
            f"本次审计中没有街道「{street_code}」的社区",
            street_code=street_code,
            known=known,
        )
    codes = set(cm.loc[cm["street_code"].astype(str) == street_code, "community_code"].astype(str))
    out = {}
    for name, df in tables.items():
        if df is None or len(df) == 0:
            out[name] = df
        elif name == "streets":
            out[name] = df[df["street_code"].astype(str) == street_code]
        elif name == "shelter_share":
            out[name] = df[df["area_code"].astype(str).isin([street_code, "全域"])]
        elif name in ("units", "shelters") and "street_code" in df.columns:
            out[name] = df[df["street_code"].astype(str) == street_code]
        elif name == "assignment" and "units" in tables:
            ids = set(tables["units"].loc[tables["units"]["street_code"].astype(str) == street_code, "unit_id"])
            out[name] = df[df["unit_id"].isin(ids)]
        elif name == "cannot_assess":
            out[name] = df  # few rows; they name their layer and feature
        elif "community_code" in df.columns:
            out[name] = df[df["community_code"].astype(str).isin(codes)]
        else:
            out[name] = df
    return out


def audit_sheets(
    summary: dict, tables: dict[str, pd.DataFrame], street_code: str | None = None
) -> dict[str, pd.DataFrame]:
    """The XLSX sheets of an audit run, in reading order (``street_code``: only that street's part)."""
    if street_code is not None:
        tables = for_street(tables, street_code)

    def t(name):
        df = tables.get(name)
        if df is None or len(df) == 0:
            return None
        return df.drop(columns=[c for c in ("id", "feature_key", "geometry") if c in df.columns])

    rows = summary_rows(summary)
    if street_code is not None:
        st = t("streets")
        head = [("范围", f"街道 {street_code}（下列各页只含本街道；本页以下为全域合计）")]
        if st is not None and len(st):
            r = st.iloc[0]
            head += [
                (f"本街道：{label}", r.get(col))
                for col, label in (
                    ("communities", "社区数"),
                    ("without_office", "无固定办公场所的社区"),
                    ("with_space_gap", "综合服务设施面积不足的社区"),
                    ("service_floor_gap_m2", "综合服务设施面积缺口合计（m²）"),
                    ("emergency_unplaced", "紧急避难无法安置（人）"),
                    ("developments_owing", "欠配设施面积的项目（个）"),
                )
                if col in st.columns
            ]
        rows = pd.concat([pd.DataFrame(head, columns=["item", "value"]), rows], ignore_index=True)
    sheets: dict[str, pd.DataFrame] = {"汇总": rows}
    streets = t("streets")
    if streets is not None:
        sheets["街道汇总"] = streets.rename(columns=_STREET_HEADERS)
    cm = t("communities")
    if cm is not None:
        space_cols = [
            "rank",
            "community_code",
            "name",
            "street_code",
            "issues",
            "issues_zh",
            "households",
            "has_fixed_office",
            "office_source",
            "service_facilities",
            "service_floor_m2",
            "service_floor_required_m2",
            "service_floor_gap_m2",
            "service_floor_status_zh",
            "cannot_assess_reason",
            "facilities_below_minimum",
            "missing_categories_zh",
            "planned_service_floor_m2",
            "gap_after_planned_m2",
            "plan_can_close_zh",
            "closing_parcel_ids",
            "closing_parcel_area_m2",
            "facilities_at_risk",
            "gap_plan_status_zh",
            "gap_plan_zh",
            "gap_plan_open_zh",
        ]
        sheets["社区办公与服务用房"] = cm[[c for c in space_cols if c in cm.columns]]
        shelter_cols = ["rank", "community_code", "name", "street_code", "residents"] + [
            c for c in cm.columns if any(c.startswith(k + "_") for k in vocab.SHELTER_CLASSES)
        ]
        if len(shelter_cols) > 5:
            sheets["社区避难安置"] = cm[shelter_cols]
        group_cols = [c for c in cm.columns if c.endswith(("_group_residents", "_group_shortfall"))]
        if group_cols:  # the presence checks weighed by the group each required category serves
            head = ["rank", "community_code", "name", "street_code", "residents", "missing_categories_zh"]
            tail = ["group_shortfall_zh", "group_note_zh"]
            sheets["社区服务对象"] = cm[[c for c in head + group_cols + tail if c in cm.columns]]
    counts = t("category_counts")
    if counts is not None:
        sheets["社区应配设施"] = counts
    gp = t("gap_plan")
    if gp is not None:
        sheets["缺口补足方案"] = gp[[c for c in GAP_PLAN_COLUMNS if c in gp.columns]]
    for name, sheet in (
        ("shelters", "避难场所"),
        ("hazard_zones", "灾害风险区"),
        ("shelter_share", "固定避难场所比例"),
        ("central", "中心避难场所"),
        ("units", "人口单元安置"),
        ("shelter_sites", "避难场所规划用地"),
        ("parcels", "规划预留用地"),
        ("facilities", "设施问题"),
        ("developments", "新建住宅配建"),
        ("cannot_assess", "无法评估"),
    ):
        df = t(name)
        if df is not None:
            if name == "shelter_share":
                df = df.assign(area_code=df["area_code"].astype(str))
            if name == "hazard_zones":  # kind_zh names the gap plan's column elsewhere in the workbook
                df = df.rename(columns={"kind_zh": "hazard_kind_zh"})
            sheets[sheet] = df
    sheets["采用标准"] = norms_rows(summary)
    return {k: _readable(v) for k, v in sheets.items()}


def gap_plan_sheets(summary: dict, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The gap plan alone: its summary rows and the sheet "缺口补足方案" (one row per need and space)."""
    rows = pd.DataFrame(gap_plan_rows(summary.get("gap_plan") or {}), columns=["item", "value"])
    plan = summary.get("plan") or {}
    if plan:
        rows = pd.concat(
            [
                pd.DataFrame([("社区划分方案", f"{plan.get('name')}（编号 {plan.get('id')}）")], columns=rows.columns),
                rows,
            ],
            ignore_index=True,
        )
    gp = tables.get("gap_plan")
    cols = [c for c in GAP_PLAN_COLUMNS if gp is not None and c in gp.columns]
    sheet = gp[cols] if gp is not None and len(gp) else pd.DataFrame(columns=list(GAP_PLAN_COLUMNS))
    return {k: _readable(v) for k, v in {"汇总": rows, "缺口补足方案": sheet, "采用标准": norms_rows(summary)}.items()}


def write_audit(
    path: Path,
    fmt: str,
    *,
    summary: dict,
    tables: dict[str, pd.DataFrame],
    output: str = "communities",
    street_code: str | None = None,
) -> Path:
    """XLSX gets every topic (only the gap plan's sheets for ``output="gap_plan"``); GeoJSON/CSV/GPKG/SHP the chosen
    ``output`` of the run (``street_code``: one street's part)."""
    if fmt == "xlsx":
        if output == "gap_plan":
            tables = for_street(tables, street_code) if street_code is not None else tables
            return write_xlsx(path, gap_plan_sheets(summary, tables), header=header_zh)
        return write_xlsx(path, audit_sheets(summary, tables, street_code), header=header_zh)
    if street_code is not None:
        tables = for_street(tables, street_code)
    if output not in OUTPUT_NAMES:
        raise InputError(f"unknown output {output!r}", f"未知的输出内容「{output}」：可用 {'、'.join(OUTPUT_NAMES)}")
    frame = tables.get(output)
    if frame is None or len(frame) == 0:
        raise InputError(f"this audit run has no {output!r} output", f"本次审计没有「{OUTPUT_NAMES[output]}」结果")
    frame = frame.drop(columns=[c for c in ("id", "feature_key") if c in frame.columns])
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), crs=4326), crs=4326)
    frame = _plain_lists(frame)
    return write_file(
        gpd.GeoDataFrame(frame, geometry="geometry", crs=4326),
        path,
        fmt,
        layer_name=f"audit_{output}",
        headers_zh={c: header_zh(c) for c in frame.columns},
    )
