"""The list of norms the report's figures were checked against, with source and status (规范依据).

Read from the store's norms (``Store.norms``: the packaged ``norms.toml`` with the city's override file applied);
an overridden entry says so.
"""

from __future__ import annotations

from geo_service.core import vocab

from .tables import LEVEL_ZH, STATUS_ZH, num, pct

SECTIONS = ("life_circles", "required_facilities", "service_radius_m", "parks", "facility_minimums")
SECTIONS += ("community", "coverage", "shelter")
EXTRA = ("mobility.walking_speed_mps",)

LABELS = {
    "mobility.walking_speed_mps": "步行速度（米/秒）",
    "parks.10min": "十分钟生活圈居住区公园",
    "community.service_floor_m2_per_100_households": "社区综合服务设施建筑面积（m²/百户）",
    "community.service_floor_m2_per_100_households_target": "社区综合服务设施建筑面积目标（m²/百户）",
    "community.service_space_categories": "计入综合服务设施面积的设施类别",
    "community.workers_per_10000_residents": "社区工作者配备（人/万人）",
    "community.household_band": "社区户数范围（户）",
    "community.household_band_hebei": "新建社区户数范围（河北，户）",
    "community.embedded_hub": "嵌入式服务综合体",
    "coverage.walk_15min_national_2025": "15分钟步行可达覆盖率目标（全国，2025年）",
    "coverage.walk_15min_shanghai_2035": "15分钟步行可达覆盖率目标（上海，2035年）",
    "shelter.classes": "避难场所类别",
    "shelter.emergency_walk_limit_m": "紧急避难场所步行距离上限（米）",
    "shelter.per_capita_emergency_m2": "紧急避难人均有效面积（m²/人）",
    "shelter.per_capita_fixed_m2": "固定避难人均有效面积（m²/人）",
    "shelter.min_site_area_m2": "避难场所最小面积（m²）",
    "shelter.site_effective_share": "公园广场可用作避难的面积比例",
    "shelter.fixed_min_share": "固定避难场所容纳人口比例下限",
    "shelter.fixed_share_guangdong": "固定避难场所容纳人口比例（广东）",
    "shelter.central_max_area_km2": "中心避难场所服务建成区面积上限（km²）",
    "shelter.central_max_residents": "中心避难场所服务人口上限（人）",
    "shelter.management_point_m2_per_10000": "避难场所管理点面积（m²/万人）",
}


def _cats(values) -> str:
    return "、".join(vocab.FACILITY_CATEGORIES.get(v, vocab.SHELTER_CLASSES.get(v, str(v))) for v in values)


def label_of(path: str, entry) -> str:
    """Chinese name of the norm at ``path``."""
    section, _, key = path.partition(".")
    if path in LABELS:
        return LABELS[path]
    if section == "life_circles":
        return f"{entry.label_zh}"
    if section == "required_facilities":
        return "居住街坊应配设施" if key == "block" else f"{LEVEL_ZH.get(key, key)}生活圈应配设施"
    if section == "service_radius_m":
        return f"{vocab.FACILITY_CATEGORIES.get(key, key)}服务半径（米）"
    if section == "facility_minimums":
        return f"{vocab.FACILITY_CATEGORIES.get(key, key)}最小规模"
    return path


def value_of(entry) -> str:
    """The entry's value as short Chinese text."""
    name = type(entry).__name__
    if name == "LifeCircle":
        walk = f"步行 {num(entry.walk_m)} 米；" if entry.walk_m else ""
        return f"{walk}{num(entry.residents[0])}–{num(entry.residents[1])} 人"
    if name == "FacilityMinimum":
        parts = [f"建筑面积 ≥ {num(entry.floor_m2)} m²"] if entry.floor_m2 else []
        parts += [f"宜 {num(entry.preferred_floor_m2)} m²"] if entry.preferred_floor_m2 else []
        parts += [f"用地 ≥ {num(entry.land_m2)} m²"] if entry.land_m2 else []
        parts += [f"≥ {entry.classes} 班"] if entry.classes else []
        return "，".join(parts) or "—"
    if name == "ParkMinimum":
        return f"面积 ≥ {num(entry.min_area_m2)} m²，宽度 ≥ {num(entry.min_width_m)} 米"
    if name == "EmbeddedHub":
        return (
            f"建筑面积 ≥ {num(entry.floor_m2)} m²（宜 {num(entry.preferred_floor_m2)} m²），"
            f"≥ {entry.min_functions} 项功能，"
            f"其中 ≥ {entry.min_core_functions} 项为{_cats(entry.core_functions)}"
        )
    value = getattr(entry, "value", None)
    if name == "ShareEntry":
        return pct(value, 0)
    if name == "ShareRangeEntry":
        return f"{pct(value[0], 0)}–{pct(value[1], 0)}"
    if isinstance(value, tuple):
        if len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            return f"{num(value[0])}–{num(value[1])}"
        return _cats(value)
    if isinstance(value, (int, float)):
        return num(value, 0 if float(value).is_integer() else 2)
    return "—" if value is None else str(value)


def norm_rows(norms) -> list[dict]:
    """One row per norm used by the report: name, value, source, status (Chinese), overridden or not."""
    rows = []
    overridden = set(norms.overridden)
    for path, entry in norms.entries():
        if path.split(".")[0] not in SECTIONS and path not in EXTRA:
            continue
        status = STATUS_ZH.get(entry.status, entry.status)
        if path in overridden:
            status += f"；本地覆盖（{norms.override_label or '本地规范文件'}）"
        rows.append(
            {
                "path": path,
                "name": label_of(path, entry),
                "value": value_of(entry),
                "source": entry.source,
                "status": status,
            }
        )
    return rows
