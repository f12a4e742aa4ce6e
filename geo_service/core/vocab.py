"""Controlled vocabularies of the service.

Every coded value stored in the database comes from one of these mappings,
``code -> Chinese label``.  API fields carry the English code; maps, reports
and error messages for staff show the Chinese label.

Facility categories cover the community facilities of GB 50180-2018
(城市居住区规划设计标准, appendix B and C) and of 完整居住社区建设标准（试行）.
"""

from __future__ import annotations

FACILITY_CATEGORIES: dict[str, str] = {
    "community_office": "社区办公用房（居委会）",
    "community_service_station": "社区综合服务站",
    "community_service_center": "社区服务中心",
    "street_office": "街道办事处",
    "health_station": "社区卫生服务站",
    "health_center": "社区卫生服务中心",
    "kindergarten": "幼儿园",
    "nursery": "托儿所",
    "primary_school": "小学",
    "middle_school": "初中",
    "elderly_day_care": "老年人日间照料中心",
    "elderly_home": "养老院",
    "culture_station": "文化活动站",
    "culture_center": "文化活动中心",
    "sports_ground": "室外综合健身场地",
    "sports_center": "体育活动中心",
    "residential_park": "居住区公园",
    "market": "菜市场",
    "supermarket": "综合超市",
    "convenience_store": "便利店",
    "pharmacy": "药店",
    "canteen": "社区食堂（助餐点）",
    "express_station": "邮政快递末端综合服务站",
    "public_toilet": "公共厕所",
    "embedded_service": "嵌入式服务设施",
    "after_school_care": "儿童托管（课后服务）",
}

FACILITY_STATUS: dict[str, str] = {
    "existing": "现状",
    "under_construction": "在建",
    "planned": "规划",
}


def in_service(frame, statuses=("existing",)):
    """Rows of a facilities or shelters frame whose ``status`` is one of ``statuses``.

    A missing status (or no ``status`` column) counts as ``existing``, the layers' default.
    """
    if "status" not in frame.columns:
        return frame if "existing" in statuses else frame.iloc[:0]
    return frame[frame["status"].fillna("existing").isin(list(statuses)).to_numpy()]


SHELTER_CLASSES: dict[str, str] = {
    "emergency": "紧急避难场所",
    "fixed": "固定避难场所",
    "central": "中心避难场所",
}

ROAD_CLASSES: dict[str, str] = {
    "arterial": "主干路",
    "local": "支路",
    "path": "步行道",
    "crossing": "过街设施（桥梁、地道、人行横道）",
}

BARRIER_TYPES: dict[str, str] = {
    "river": "河流",
    "railway": "铁路",
    "expressway": "快速路",
    "other": "其他障碍",
}

# Levels of the ``admin_areas`` layer, top to bottom: a county (区县, also a county-level statistical area such as
# a development zone), a street or township (街道（乡镇）), a community or village (社区（村）), a grid cell (网格).
ADMIN_LEVELS: dict[str, str] = {
    "county": "区县",
    "street": "街道（乡镇）",
    "community": "社区（村）",
    "grid": "网格",
}

UNIT_TYPES: dict[str, str] = {
    "compound": "居住小区",
    "block": "居住街坊",
    "grid": "网格",
}

# Use of a building (layer ``buildings``): 商住 is housing over shops, part of its floor area residential.
BUILDING_USES: dict[str, str] = {
    "residential": "住宅",
    "mixed": "商住",
    "other": "其他",
}

# Kind of a residential area (layer ``residential_areas``): a named compound (小区) or residential land use.
RESIDENTIAL_AREA_KINDS: dict[str, str] = {
    "compound": "住宅小区",
    "residential_land": "居住用地",
}

PARCEL_STATUS: dict[str, str] = {
    "existing": "现状",
    "planned": "规划",
    "reserved": "预留",
}

DEVELOPMENT_STATUS: dict[str, str] = {
    "planned": "规划",
    "under_construction": "在建",
    "completed": "已建成",
    "handed_over": "已移交社区",
}

# Idle assets (闲置资产, Art. 18 ¶3): how an agency or state enterprise offers the space.
ASSET_TERMS: dict[str, str] = {
    "free_transfer": "无偿移交（划拨使用）",
    "lease": "租赁",
    "sale": "出售",
}

ASSET_CONDITIONS: dict[str, str] = {
    "ready": "可直接使用",
    "minor_repair": "需简单修缮",
    "renovation": "需改造",
}

# Space a county could gain on the market or by planning (Art. 18 ¶2-3).
SPACE_CANDIDATE_KINDS: dict[str, str] = {
    "purchase": "购置",
    "lease": "租赁",
    "swap": "调剂置换",
    "extension": "改建扩建",
}

# Hazards (Art. 15): zones where a shelter must not stand and through which evacuation routes must not lead.
HAZARD_KINDS: dict[str, str] = {
    "flood": "洪涝淹没区",
    "geohazard": "地质灾害隐患点（滑坡、崩塌、泥石流）",
    "fault_zone": "活动断裂带",
    "other": "其他灾害风险区",
}

HAZARD_LEVELS: dict[str, str] = {
    "high": "高",
    "medium": "中",
    "low": "低",
}

PLAN_STATUS: dict[str, str] = {
    "draft": "草案",
    "adopted": "已批准",
}

# 国土空间调查、规划、用途管制用地用海分类指南: codes the service knows by name.
# Any code of 2, 4 or 6 digits is accepted on import; these carry labels.
LAND_USE_CODES: dict[str, str] = {
    "07": "居住用地",
    "0701": "城镇住宅用地",
    "0702": "城镇社区服务设施用地",
    "0703": "农村宅基地",
    "0704": "农村社区服务设施用地",
    "08": "公共管理与公共服务用地",
    "0801": "机关团体用地",
    "0803": "文化用地",
    "0804": "教育用地",
    "080403": "中小学用地",
    "080404": "幼儿园用地",
    "0805": "体育用地",
    "0806": "医疗卫生用地",
    "080602": "基层医疗卫生设施用地",
    "0807": "社会福利用地",
    "080701": "老年人社会福利用地",
    "09": "商业服务业用地",
    "0901": "商业用地",
    "12": "交通运输用地",
    "1207": "城镇道路用地",
    "14": "绿地与开敞空间用地",
    "1401": "公园绿地",
    "1402": "防护绿地",
    "1403": "广场用地",
    "17": "陆地水域",
}
