"""Facilities and shelters audit against the spatial plan (Deyang regulation Art. 18).

Pure functions over GeoDataFrames (EPSG:4326 in and out; areas and straight-line
distances computed in a metric CRS, walking distances on the :class:`WalkNetwork`).
Four topics, each a table per feature plus totals:

* **office and service space** per community: fixed office, comprehensive service floor
  area against ``community.service_floor_m2_per_100_households`` (30 m2 per 100
  households), per-facility minimums (``facility_minimums``), facilities present per
  required category of the community level (``required_facilities.5min``);
* **shelters**: residents of each population unit assigned to shelters within the class's
  walking limit, respecting capacities, exactly (min-cost flow, :mod:`facilities.shelters`),
  with the nearest-first result beside it; fixed shelters against the share of residents
  they must hold, central shelters against their area and population limits;
* **spatial plan**: reserved community-service parcels that could close each floor-area gap,
  existing facilities on land planned for another use, planned facilities not yet built,
  new residential developments short of the facility area they owe;
* **summary** per street and county, the worst communities first.

Features that lack the figure a check needs (a community without households, a facility
without floor area, a shelter without area or capacity, a development without its built
area) are reported as *cannot be assessed* with the reason, never counted as zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core._errors import InputError
from geo_service.core.norms import Norms
from geo_service.core.vocab import FACILITY_CATEGORIES, SHELTER_CLASSES

from .coverage import json_records

__all__ = ["CANNOT", "GAP", "OK", "AuditParams", "AuditResult", "compute_audit"]

OK, GAP, CANNOT = "ok", "gap", "cannot_assess"
STATUS_ZH = {OK: "达标", GAP: "不足", CANNOT: "无法评估"}
CLOSE_ZH = {"yes": "可补足", "partly": "部分补足", "no": "无可用地块", "planned": "已有规划设施补足"}


@dataclass(frozen=True)
class AuditParams:
    """Parameters of one audit.

    Parameters
    ----------
    walk_limits_m : dict, optional
        Walking limit (m) per shelter class that gets an assignment; default
        ``{"emergency": shelter.emergency_walk_limit_m}`` (500 m).
    serving_classes : dict, optional
        Shelter classes whose sites take residents in each assignment; default: the class
        itself (``{"emergency": ["emergency"]}``).
    day_night_factor : float
        Demand = residents x factor (e.g. 1.2 for a daytime population); default 1.
    parcel_search_m : float
        Reserved parcels within this straight-line distance (m) of a community count as
        near it; parcels inside come first.
    required_level : str
        Life-circle level whose required facilities every community must have (``5min``).
    fixed_share_classes : tuple
        Shelter classes counted towards the fixed-shelter share (``fixed`` and ``central``).
    """

    walk_limits_m: dict[str, float] | None = None
    serving_classes: dict[str, tuple[str, ...]] | None = None
    day_night_factor: float = 1.0
    parcel_search_m: float = 500.0
    required_level: str = "5min"
    fixed_share_classes: tuple[str, ...] = ("fixed", "central")

    def limits(self, norms: Norms) -> dict[str, float]:
        lim = (
            dict(self.walk_limits_m)
            if self.walk_limits_m
            else {"emergency": float(norms.shelter.emergency_walk_limit_m)}
        )
        for cls, m in lim.items():
            if cls not in SHELTER_CLASSES:
                raise InputError(
                    f"unknown shelter class {cls!r}", f"未知的避难场所类别「{cls}」", known=list(SHELTER_CLASSES)
                )
            if not np.isfinite(m) or m <= 0:
                raise InputError("walking limits must be positive", "步行距离上限必须大于 0", shelter_class=cls)
        return lim

    def serving(self, cls: str) -> tuple[str, ...]:
        if self.serving_classes and cls in self.serving_classes:
            bad = [c for c in self.serving_classes[cls] if c not in SHELTER_CLASSES]
            if bad:
                raise InputError(f"unknown shelter classes {bad}", f"未知的避难场所类别：{bad}")
            return tuple(self.serving_classes[cls])
        return (cls,)

    def validate(self) -> None:
        if not np.isfinite(self.day_night_factor) or self.day_night_factor <= 0:
            raise InputError("day_night_factor must be positive", "昼夜人口系数必须大于 0")
        if not np.isfinite(self.parcel_search_m) or self.parcel_search_m < 0:
            raise InputError("parcel_search_m must be >= 0", "地块搜索距离不能为负")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["fixed_share_classes"] = list(self.fixed_share_classes)
        if d["serving_classes"]:
            d["serving_classes"] = {k: list(v) for k, v in d["serving_classes"].items()}
        return d


@dataclass
class AuditResult:
    """All audit tables (GeoDataFrames in EPSG:4326 where they have geometry)."""

    communities: gpd.GeoDataFrame
    category_counts: pd.DataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    assignment: gpd.GeoDataFrame
    shelter_share: pd.DataFrame
    central: pd.DataFrame
    shelter_sites: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    developments: gpd.GeoDataFrame
    streets: pd.DataFrame
    cannot_assess: pd.DataFrame
    norms_used: list[dict]
    totals: dict
    warnings: list[str] = field(default_factory=list)

    def summary(self, worst: int = 10) -> dict:
        cm = self.communities
        worst_rows = cm.drop(columns="geometry").head(worst)
        return {
            **self.totals,
            "streets": json_records(self.streets),
            "worst_communities": json_records(
                worst_rows[
                    [
                        "rank",
                        "community_code",
                        "name",
                        "street_code",
                        "issues",
                        "issues_zh",
                        "service_floor_gap_m2",
                        "emergency_unplaced",
                    ]
                    if "emergency_unplaced" in worst_rows
                    else [
                        "rank",
                        "community_code",
                        "name",
                        "street_code",
                        "issues",
                        "issues_zh",
                        "service_floor_gap_m2",
                    ]
                ]
            ),
            "shelter_share": json_records(self.shelter_share),
            "central_shelter_checks": json_records(self.central),
            "norms": self.norms_used,
            "warnings": list(self.warnings),
        }


# ----------------------------------------------------------------------------- helpers
def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Float column (NaN where missing or absent)."""
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _col(frame: pd.DataFrame, col: str, default=None) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), default, dtype=object)
    return frame[col].to_numpy(dtype=object)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    if "id" in frame.columns:
        return frame["id"].to_numpy()
    return np.arange(1, len(frame) + 1)


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A point per feature: the point itself, else a point inside the polygon."""
    g = np.asarray(frame.geometry.values, dtype=object)
    if len(g) == 0:
        return g
    is_point = shapely.get_type_id(g) == 0
    out = g.copy()
    if (~is_point).any():
        out[~is_point] = shapely.point_on_surface(g[~is_point])
    return out


def _containing(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (-1 if none; on a shared boundary, the lowest index)."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    pi, gi = tree.query(points, predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    out[pi[first]] = gi[first]
    return out


def _labels(cats) -> str:
    return "、".join(FACILITY_CATEGORIES.get(c, c) for c in cats)


class _Metric:
    """EPSG:4326 geometries to one metric CRS (the network's if given)."""

    def __init__(self, net, frames):
        if net is not None:
            self.crs = net.crs
        else:
            from geo_service.core.crs import metric_crs_for

            ref = next((f for f in frames if f is not None and len(f)), None)
            if ref is None:
                raise InputError("nothing to audit: no communities, units or facilities", "没有可审计的数据")
            self.crs = metric_crs_for(ref)

    def __call__(self, geoms) -> np.ndarray:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) == 0:
            return geoms
        return np.asarray(gpd.GeoSeries(geoms, crs=4326).to_crs(self.crs).values, dtype=object)


# ----------------------------------------------------------------------------- main
def compute_audit(
    communities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    shelters: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame,
    developments: gpd.GeoDataFrame,
    norms: Norms,
    *,
    net=None,
    params: AuditParams = AuditParams(),
    entrances: gpd.GeoDataFrame | None = None,
) -> AuditResult:
    """Audit every community, shelter, reserved parcel and development.

    Parameters
    ----------
    communities : GeoDataFrame, EPSG:4326
        Community polygons of one plan: ``code``, ``name``, optional ``street_code``,
        ``households``, ``residents``, ``has_fixed_office``.
    units : GeoDataFrame, EPSG:4326
        Population units: ``id``, ``residents``, optional ``name``, ``street_code``.
    facilities, shelters, parcels, developments : GeoDataFrame, EPSG:4326
        The layers of the same names (see :mod:`geo_service.core.layers`); any may be empty.
    norms : Norms
    net : WalkNetwork, optional
        Needed for the shelter assignment (walking distances); without it the shelter
        topic reports capacities and shares only.
    params : AuditParams
    entrances : GeoDataFrame, optional
        Unit entrances (``unit_id`` matching ``units.id``); a unit is reached from its
        nearest entrance.
    """
    params.validate()
    if communities is None or len(communities) == 0:
        raise InputError(
            "there are no communities in this plan; import or delineate them first",
            "该方案没有社区边界，请先导入或划分社区",
        )
    for col in ("code", "name"):
        if col not in communities.columns:
            raise InputError(f"communities lack column {col!r}", f"社区数据缺少字段「{col}」")
    if len(units) and "residents" not in units.columns:
        raise InputError("population units lack column 'residents'", "人口单元缺少字段「residents」")
    metric = _Metric(net, [communities, units])
    notes: list[str] = []
    used: list[dict] = []

    def norm(path: str, check_zh: str, value, unit: str):
        src, status = norms.source_of(path)
        used.append(
            {"check": path, "check_zh": check_zh, "value": value, "unit": unit, "source": src, "status": status}
        )

    cm_geom = np.asarray(communities.geometry.values, dtype=object)
    cm_code = communities["code"].astype(str).to_numpy()
    n_cm = len(communities)

    fac = facilities if facilities is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    fac_pts = _points(fac)
    fac_comm = _containing(fac_pts, cm_geom)
    fac_status = (
        fac["status"].fillna("existing").to_numpy(dtype=object)
        if "status" in fac.columns
        else np.full(len(fac), "existing", object)
    )
    fac_cat = _col(fac, "category")
    fac_floor = _num(fac, "floor_area_m2")
    existing = fac_status == "existing"

    # ---------------------------------------------------------------- office and service space
    per100 = float(norms.service_floor_m2_per_100_households)
    norm("community.service_floor_m2_per_100_households", "社区综合服务设施建筑面积（每百户）", per100, "m²/百户")
    space_cats = tuple(norms.service_space_categories)
    norm("community.service_space_categories", "计入综合服务设施面积的设施类别", _labels(space_cats), "")
    households = _num(communities, "households")
    required_m2 = households * per100 / 100.0
    is_space = existing & np.isin(fac_cat.astype(str), space_cats) & (fac_comm >= 0)
    known = is_space & np.isfinite(fac_floor)
    floor_known = np.bincount(fac_comm[known], weights=fac_floor[known], minlength=n_cm) if n_cm else np.zeros(0)
    unknown_n = np.bincount(fac_comm[is_space & ~np.isfinite(fac_floor)], minlength=n_cm)
    space_n = np.bincount(fac_comm[is_space], minlength=n_cm)
    gap = np.maximum(required_m2 - floor_known, 0.0)
    space_status = np.where(
        ~np.isfinite(households), CANNOT, np.where(gap <= 1e-9, OK, np.where(unknown_n > 0, CANNOT, GAP))
    ).astype(object)
    space_reason = np.full(n_cm, None, dtype=object)
    space_reason[~np.isfinite(households)] = "缺少户数，无法计算应配面积"
    lacks_area = np.isfinite(households) & (gap > 1e-9) & (unknown_n > 0)
    space_reason[lacks_area] = [f"{k} 处综合服务设施缺少建筑面积" for k in unknown_n[lacks_area]]
    gap_out = np.where(space_status == CANNOT, np.nan, gap)

    # fixed office: the community's own record, or an existing office facility inside it
    office_attr = (
        communities["has_fixed_office"].to_numpy(dtype=object)
        if "has_fixed_office" in communities.columns
        else np.full(n_cm, None, object)
    )
    office_fac = np.bincount(fac_comm[existing & (fac_cat == "community_office") & (fac_comm >= 0)], minlength=n_cm) > 0
    attr_known = pd.notna(pd.Series(office_attr, dtype=object)).to_numpy()
    attr_true = np.array([bool(v) if k else False for v, k in zip(office_attr, attr_known)], dtype=bool)
    has_office = attr_true | office_fac
    office_source = np.where(
        attr_true,
        "社区登记",
        np.where(
            office_fac, "设施图层（社区办公用房）", np.where(attr_known, "社区登记", "社区未登记，设施图层无办公用房")
        ),
    ).astype(object)

    # per-facility minimums (完整居住社区建设标准)
    mins = {c: norms.facility_min_floor_m2(c) for c in FACILITY_CATEGORIES}
    mins = {c: v for c, v in mins.items() if v}
    for c, v in mins.items():
        norm(f"facility_minimums.{c}", f"{FACILITY_CATEGORIES[c]}最小建筑面积", v, "m²")
    fac_min = np.array([mins.get(c, np.nan) for c in fac_cat], dtype=float) if len(fac) else np.zeros(0)
    has_min = existing & np.isfinite(fac_min)
    below = has_min & np.isfinite(fac_floor) & (fac_floor < fac_min)
    min_unknown = has_min & ~np.isfinite(fac_floor)
    below_n = np.bincount(fac_comm[below & (fac_comm >= 0)], minlength=n_cm)

    # required categories of the community level
    level = norms.level(params.required_level)
    req_cats = tuple(norms.required_facilities(level))
    norm(f"required_facilities.{level}", f"{norms.life_circle(level).label_zh}应配设施", _labels(req_cats), "")
    counts = {}
    for c in req_cats:
        sel = existing & (fac_cat == c) & (fac_comm >= 0)
        counts[c] = np.bincount(fac_comm[sel], minlength=n_cm)
    count_frame = pd.DataFrame(
        {"community_code": cm_code, "name": communities["name"].to_numpy(), **{c: counts[c] for c in req_cats}}
    )
    missing = [[c for c in req_cats if counts[c][i] == 0] for i in range(n_cm)]
    missing_n = np.array([len(m) for m in missing], dtype=np.int64)

    # ---------------------------------------------------------------- plan: planned facilities, reserved parcels
    planned = np.isin(fac_status, ["planned", "under_construction"])
    planned_space = planned & np.isin(fac_cat.astype(str), space_cats) & (fac_comm >= 0) & np.isfinite(fac_floor)
    planned_floor = np.bincount(fac_comm[planned_space], weights=fac_floor[planned_space], minlength=n_cm)
    planned_n = np.bincount(fac_comm[planned & (fac_comm >= 0)], minlength=n_cm)
    after_planned = np.where(space_status == GAP, np.maximum(gap - planned_floor, 0.0), np.nan)

    lu = norms.land_use
    far = float(lu.service_floor_area_ratio)
    norm(
        "land_use.reserved_community_service", "预留社区服务设施用地代码", "、".join(lu.reserved_community_service), ""
    )
    norm(
        "land_use.public_service_prefixes", "公共管理与公共服务用地代码前缀", "、".join(lu.public_service_prefixes), ""
    )
    norm("land_use.service_floor_area_ratio", "预留地块可建建筑面积系数（容积率）", far, "")
    pc = parcels if parcels is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    pc_code = (
        pc["land_use_code"].astype(str).str.strip().to_numpy()
        if "land_use_code" in pc.columns
        else np.full(len(pc), "", object)
    )
    pc_status = (
        pc["status"].fillna("planned").to_numpy(dtype=object)
        if "status" in pc.columns
        else np.full(len(pc), "planned", object)
    )
    pc_geom = np.asarray(pc.geometry.values, dtype=object)
    pc_m = metric(pc_geom)
    pc_area = _num(pc, "area_m2")
    if len(pc):
        pc_area = np.where(np.isfinite(pc_area), pc_area, shapely.area(pc_m))
    reserved = (
        np.array([lu.is_community_service_land(c) for c in pc_code], dtype=bool) if len(pc) else np.zeros(0, bool)
    )
    # which parcel each facility stands on (any status)
    fac_parcel = _containing(fac_pts, pc_geom)
    occupied = np.zeros(len(pc), dtype=bool)
    occupied[fac_parcel[fac_parcel >= 0]] = True
    free = reserved & np.isin(pc_status, ["planned", "reserved"]) & ~occupied
    pc_comm = _containing(_points(pc), cm_geom) if len(pc) else np.zeros(0, np.int64)
    pc_assigned = np.full(len(pc), None, dtype=object)
    pc_taken = np.zeros(len(pc), dtype=bool)  # each parcel closes one community's gap
    pc_used = np.zeros(len(pc))
    close = np.full(n_cm, None, dtype=object)
    close_ids = np.full(n_cm, None, dtype=object)
    close_area = np.full(n_cm, np.nan)
    cm_m = metric(cm_geom)
    free_idx = np.flatnonzero(free)
    if len(free_idx):
        tree = shapely.STRtree(pc_m[free_idx])
    pc_ids = _ids(pc)
    order = np.argsort(-np.nan_to_num(after_planned, nan=-1.0), kind="stable")
    for i in order:  # communities with a gap, largest first (a few hundred at most)
        if space_status[i] != GAP:
            continue
        need = after_planned[i]
        if need <= 1e-9:
            close[i] = "planned"
            continue
        if not len(free_idx):
            close[i] = "no"
            continue
        cand = free_idx[tree.query(cm_m[i], predicate="dwithin", distance=params.parcel_search_m)]
        cand = cand[~pc_taken[cand]]
        if not len(cand):
            close[i] = "no"
            continue
        dist = shapely.distance(cm_m[i], pc_m[cand])
        inside = pc_comm[cand] == i
        # the first ranked parcel that suffices alone; else the ranked ones until closed
        # community-service land (0702, 0704) before other public-service land (08...), inside before near
        own_code = np.isin(pc_code[cand], list(lu.reserved_community_service))
        ranked = cand[np.lexsort((dist, ~inside, ~own_code))]
        ok_ranked = ranked[(pc_area[ranked] * far) >= need - 1e-9]
        picks = [ok_ranked[0]] if len(ok_ranked) else []
        if not picks:
            got = 0.0
            for j in ranked:
                picks.append(j)
                got += pc_area[j] * far
                if got >= need - 1e-9:
                    break
        got = float(sum(pc_area[j] * far for j in picks))
        close[i] = "yes" if got >= need - 1e-9 else "partly"
        close_ids[i] = ",".join(str(pc_ids[j]) for j in picks)
        close_area[i] = float(sum(pc_area[j] for j in picks))
        rest = need
        for j in picks:
            pc_assigned[j] = cm_code[i]
            pc_taken[j] = True
            pc_used[j] = min(rest, pc_area[j] * far)
            rest -= pc_used[j]
    # ---- at-risk facilities: existing, on a parcel planned for a use they may not stand on
    at_risk = np.zeros(len(fac), dtype=bool)
    risk_code = np.full(len(fac), None, dtype=object)
    on = existing & (fac_parcel >= 0)
    if on.any():
        codes = pc_code[fac_parcel[on]]
        compat = np.array([lu.is_compatible(c, code) for c, code in zip(fac_cat[on], codes)], dtype=bool)
        at_risk[np.flatnonzero(on)[~compat]] = True
        risk_code[on] = codes
    norm(
        "land_use.compatible_prefixes",
        "设施可占用的用地代码前缀",
        "、".join(lu.compatible_default) + "（另按类别增加）",
        "",
    )
    risk_n = np.bincount(fac_comm[at_risk & (fac_comm >= 0)], minlength=n_cm)

    # ---------------------------------------------------------------- shelters
    sh_out, unit_out, lines, share, central, sites, sh_totals = _shelters(
        shelters, units, communities, cm_geom, norms, params, net, metric, entrances, norm, notes, parcels=pc
    )

    # ---------------------------------------------------------------- developments
    dev_out, dev_totals = _developments(developments, cm_geom, cm_code, norms, norm)

    # ---------------------------------------------------------------- community table and ranking
    out = pd.DataFrame(
        {
            "community_code": cm_code,
            "name": communities["name"].to_numpy(dtype=object),
            "street_code": _col(communities, "street_code"),
            "households": households,
            "residents": _num(communities, "residents"),
            "has_fixed_office": has_office,
            "office_source": office_source,
            "service_floor_m2": np.round(floor_known, 1),
            "service_facilities": space_n,
            "service_floor_required_m2": np.round(required_m2, 1),
            "service_floor_gap_m2": np.round(gap_out, 1),
            "service_floor_status": space_status,
            "service_floor_status_zh": [STATUS_ZH[s] for s in space_status],
            "cannot_assess_reason": space_reason,
            "facilities_below_minimum": below_n,
            "missing_categories": [",".join(m) for m in missing],
            "missing_categories_zh": [_labels(m) for m in missing],
            "missing_category_count": missing_n,
            "planned_facilities": planned_n,
            "planned_service_floor_m2": np.round(planned_floor, 1),
            "gap_after_planned_m2": np.round(after_planned, 1),
            "plan_can_close": close,
            "plan_can_close_zh": [CLOSE_ZH.get(c) if c else None for c in close],
            "closing_parcel_ids": close_ids,
            "closing_parcel_area_m2": np.round(close_area, 1),
            "facilities_at_risk": risk_n,
        }
    )
    for c in unit_out.attrs.get("classes", []):
        kinds = ("demand", "placed", "unplaced", "unplaced_with_plan")
        agg = unit_out.groupby("community_code")[[f"{c}_{k}" for k in kinds]].sum()
        for k in kinds:
            out[f"{c}_{k}"] = out["community_code"].map(agg[f"{c}_{k}"]).fillna(0).astype(np.int64).to_numpy()
        out[f"{c}_placed_share"] = np.where(
            out[f"{c}_demand"] > 0, out[f"{c}_placed"] / out[f"{c}_demand"].clip(lower=1), np.nan
        ).round(4)
    issue_flags = {
        "无固定办公场所": ~has_office,
        "综合服务面积不足": space_status == GAP,
        "设施低于最小面积": below_n > 0,
        "缺少应配设施": missing_n > 0,
        "存在无法安置的居民": out["emergency_unplaced"].to_numpy() > 0
        if "emergency_unplaced" in out
        else np.zeros(n_cm, bool),
        "设施用地规划为他用": risk_n > 0,
    }
    flags = np.column_stack(list(issue_flags.values()))
    out["issues"] = flags.sum(axis=1)
    names = np.array(list(issue_flags), dtype=object)
    out["issues_zh"] = ["；".join(names[row]) for row in flags]
    unplaced_sort = out["emergency_unplaced"].to_numpy() if "emergency_unplaced" in out else np.zeros(n_cm)
    order = np.lexsort((cm_code, -unplaced_sort, -np.nan_to_num(gap_out), -out["issues"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, n_cm + 1))
    geoms = cm_geom[order]
    comm_out = gpd.GeoDataFrame(out, geometry=geoms, crs=4326)

    # ---------------------------------------------------------------- facilities table (flagged ones)
    cm_of = np.where(fac_comm >= 0, cm_code[np.maximum(fac_comm, 0)], None) if len(fac) else np.zeros(0, object)
    flag_cols = {
        "below_minimum": below,
        "area_unknown": min_unknown | (is_space & ~np.isfinite(fac_floor)),
        "at_risk": at_risk,
        "planned_not_built": planned,
    }
    keep = np.zeros(len(fac), bool)
    for v in flag_cols.values():
        keep |= v
    fac_out = gpd.GeoDataFrame(
        {
            "facility_id": _ids(fac)[keep],
            "name": _col(fac, "name")[keep],
            "category": fac_cat[keep],
            "category_zh": [FACILITY_CATEGORIES.get(c, c) for c in fac_cat[keep]],
            "status": fac_status[keep],
            "community_code": cm_of[keep],
            "floor_area_m2": fac_floor[keep],
            "min_floor_m2": fac_min[keep] if len(fac) else fac_floor[keep],
            **{k: v[keep] for k, v in flag_cols.items()},
            "parcel_land_use_code": risk_code[keep],
            "finding_zh": [
                _fac_finding(b, u, r, p, code)
                for b, u, r, p, code in zip(
                    below[keep], flag_cols["area_unknown"][keep], at_risk[keep], planned[keep], risk_code[keep]
                )
            ],
        },
        geometry=fac_pts[keep] if len(fac) else [],
        crs=4326,
    )

    # ---------------------------------------------------------------- parcels table
    show = reserved & np.isin(pc_status, ["planned", "reserved"])
    parcels_out = gpd.GeoDataFrame(
        {
            "parcel_id": pc_ids[show],
            "land_use_code": pc_code[show],
            "status": pc_status[show],
            "planned_use": _col(pc, "planned_use")[show],
            "area_m2": np.round(pc_area[show], 1),
            "floor_capacity_m2": np.round(pc_area[show] * far, 1),
            "occupied": occupied[show],
            "community_code": np.where(pc_comm[show] >= 0, cm_code[np.maximum(pc_comm[show], 0)], None)
            if show.any()
            else [],
            "assigned_to_community": pc_assigned[show],
            "gap_closed_m2": np.round(pc_used[show], 1),
        },
        geometry=pc_geom[show],
        crs=4326,
    )

    # ---------------------------------------------------------------- cannot assess
    rows = []
    for i in np.flatnonzero(space_status == CANNOT):
        rows.append(("communities", cm_code[i], communities["name"].iloc[i], "综合服务设施面积", space_reason[i]))
    fids, fnames = _ids(fac), _col(fac, "name")
    for i in np.flatnonzero(flag_cols["area_unknown"]):
        rows.append(
            (
                "facilities",
                fids[i],
                fnames[i],
                "设施建筑面积",
                f"{FACILITY_CATEGORIES.get(fac_cat[i], fac_cat[i])}缺少建筑面积",
            )
        )
    for r in sh_out.loc[sh_out["assessable"] == False].itertuples():
        rows.append(("shelters", r.shelter_id, r.name, "避难容量", r.cannot_assess_reason))
    for r in dev_out.loc[dev_out["status_check"] == CANNOT].itertuples():
        rows.append(("developments", r.development_id, r.name, "配建设施面积", r.cannot_assess_reason))
    cannot = pd.DataFrame(rows, columns=["layer", "feature_id", "name", "check_zh", "reason_zh"])
    cannot["feature_id"] = cannot["feature_id"].astype(str)

    # ---------------------------------------------------------------- streets and county
    streets = _street_summary(comm_out, sh_out, dev_out)
    totals = {
        "communities": int(n_cm),
        "communities_without_office": int((~has_office).sum()),
        "communities_with_space_gap": int((space_status == GAP).sum()),
        "service_floor_gap_m2": round(float(np.nansum(gap_out)), 1),
        "communities_gap_closable_by_plan": int(np.isin(close, ["yes", "planned"]).sum()),
        "communities_gap_partly_closable": int((close == "partly").sum()),
        "communities_gap_not_closable": int((close == "no").sum()),
        "communities_missing_categories": int((missing_n > 0).sum()),
        "facilities_below_minimum": int(below.sum()),
        "facilities_at_risk": int(at_risk.sum()),
        "facilities_planned_not_built": int(planned.sum()),
        "cannot_assess": {k: int(v) for k, v in cannot["layer"].value_counts().items()},
        **sh_totals,
        **dev_totals,
    }
    return AuditResult(
        comm_out,
        count_frame,
        fac_out,
        sh_out,
        unit_out,
        lines,
        share,
        central,
        sites,
        parcels_out,
        dev_out,
        streets,
        cannot,
        used,
        totals,
        notes,
    )


def _fac_finding(below, unknown, risk, planned, code) -> str:
    parts = []
    if below:
        parts.append("低于最小建筑面积")
    if unknown:
        parts.append("缺少建筑面积，无法评估")
    if risk:
        parts.append(f"所在地块规划为他用（{code}）")
    if planned:
        parts.append("规划或在建，尚未建成")
    return "；".join(parts)


# ----------------------------------------------------------------------------- shelters
def _unit_pairs(net, src_snap, src_index, u_snap, owner, limit):
    """(unit, source, walk) pairs within ``limit``: one per unit and source, the shortest (entrances may give
    several); ``src_index`` maps the rows of ``src_snap`` to source positions."""
    if len(src_index) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    si, pi, d = net.distances_within(src_snap, u_snap, limit_m=float(limit))
    ui, ss = owner[pi], src_index[si]
    o = np.lexsort((d, ss, ui))
    ui, ss, d = ui[o], ss[o], d[o]
    first = np.r_[True, (ui[1:] != ui[:-1]) | (ss[1:] != ss[:-1])] if len(ui) else np.zeros(0, bool)
    return ui[first], ss[first], d[first]


def _shelter_sites(parcels, shelter_pts, norms, metric) -> gpd.GeoDataFrame:
    """Parks and squares of the plan (``land_use.shelter_sites``) that hold no shelter yet, with the persons
    they could take: floor(area x ``shelter.site_effective_share`` / per-capita emergency norm)."""
    pc = parcels if parcels is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    if len(pc) == 0 or "land_use_code" not in pc.columns:
        return gpd.GeoDataFrame({"parcel_id": [], "area_m2": [], "capacity_persons": []}, geometry=[], crs=4326)
    code = pc["land_use_code"].astype(str).str.strip().to_numpy()
    is_site = np.isin(code, list(norms.land_use.shelter_sites))
    geom = np.asarray(pc.geometry.values, dtype=object)
    has_shelter = np.zeros(len(pc), dtype=bool)
    if len(shelter_pts):
        hit = _containing(shelter_pts, geom)
        has_shelter[hit[hit >= 0]] = True
    keep = is_site & ~has_shelter
    area = _num(pc, "area_m2")[keep]
    area = np.where(np.isfinite(area), area, shapely.area(metric(geom[keep])))
    s = norms.shelter
    status = (
        pc["status"].fillna("planned").to_numpy(dtype=object)[keep]
        if "status" in pc.columns
        else np.full(int(keep.sum()), "planned", object)
    )
    return gpd.GeoDataFrame(
        {
            "parcel_id": _ids(pc)[keep],
            "land_use_code": code[keep],
            "status": status,
            "planned_use": _col(pc, "planned_use")[keep],
            "area_m2": np.round(area, 1),
            "capacity_persons": np.floor(area * s.site_effective_share / s.per_capita_emergency_m2 + 1e-9),
        },
        geometry=geom[keep],
        crs=4326,
    )


def _shelters(shelters, units, communities, cm_geom, norms, params, net, metric, entrances, norm, notes, parcels=None):
    from .shelters import assign_exact, assign_nearest_first, nearest_loads

    s = norms.shelter
    sh = shelters if shelters is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    n_sh = len(sh)
    cls = _col(sh, "shelter_class").astype(object)
    status = (
        sh["status"].fillna("existing").to_numpy(dtype=object)
        if "status" in sh.columns
        else np.full(n_sh, "existing", object)
    )
    per_capita = {
        "emergency": s.per_capita_emergency_m2,
        "fixed": s.per_capita_fixed_m2,
        "central": s.per_capita_fixed_m2,
    }
    norm("shelter.per_capita_emergency_m2", "紧急避难场所人均有效避难面积", s.per_capita_emergency_m2, "m²/人")
    norm("shelter.per_capita_fixed_m2", "固定、中心避难场所人均有效避难面积", s.per_capita_fixed_m2, "m²/人")
    area = _num(sh, "effective_area_m2")
    declared = _num(sh, "capacity_persons")
    pcap = np.array([per_capita.get(c, np.nan) for c in cls], dtype=float) if n_sh else np.zeros(0)
    from_area = np.floor(area / pcap + 1e-9)
    capacity = np.where(np.isfinite(declared), declared, from_area)
    cap_source = np.where(np.isfinite(declared), "declared", np.where(np.isfinite(from_area), "area", None)).astype(
        object
    )
    assessable = np.isfinite(capacity)
    reason = np.where(assessable, None, "缺少有效避难面积和容纳人数").astype(object)
    in_use = status == "existing"
    small_site = np.isfinite(area) & (area < s.min_site_area_m2)
    norm("shelter.min_site_area_m2", "避难场所最小场地面积（地震）", s.min_site_area_m2, "m²")

    u = units
    n_u = len(u)
    factor = float(params.day_night_factor)
    residents = np.nan_to_num(_num(u, "residents"), nan=0.0)
    demand = np.round(residents * factor).astype(np.int64)
    unit_ids = _ids(u)
    unit_pts = _points(u) if n_u else np.zeros(0, object)
    unit_comm = _containing(unit_pts, cm_geom)
    cm_code = communities["code"].astype(str).to_numpy()
    unit_cm = np.where(unit_comm >= 0, cm_code[np.maximum(unit_comm, 0)], None) if n_u else np.zeros(0, object)
    unit_out = gpd.GeoDataFrame(
        {
            "unit_id": unit_ids,
            "name": _col(u, "name"),
            "community_code": unit_cm,
            "street_code": _col(u, "street_code"),
            "residents": residents.astype(np.int64),
        },
        geometry=np.asarray(u.geometry.values, dtype=object) if n_u else [],
        crs=4326,
    )
    sh_pts = _points(sh) if n_sh else np.zeros(0, object)
    sh_out = gpd.GeoDataFrame(
        {
            "shelter_id": _ids(sh),
            "name": _col(sh, "name"),
            "shelter_class": cls,
            "shelter_class_zh": [SHELTER_CLASSES.get(c, c) for c in cls],
            "status": status,
            "effective_area_m2": area,
            "capacity_persons": capacity,
            "capacity_source": cap_source,
            "per_capita_m2": pcap,
            "assessable": assessable,
            "cannot_assess_reason": reason,
            "below_min_site_area": small_site,
        },
        geometry=sh_pts,
        crs=4326,
    )
    sh_out["community_code"] = (
        np.where((c := _containing(sh_pts, cm_geom)) >= 0, cm_code[np.maximum(c, 0)], None) if n_sh else []
    )
    totals: dict = {
        "day_night_factor": factor,
        "shelters": int(n_sh),
        "shelters_cannot_assess": int((~assessable).sum()),
        "residents": int(residents.sum()),
        "demand_persons": int(demand.sum()),
    }
    lines_all = []
    classes = []
    sites = _shelter_sites(parcels, sh_pts, norms, metric)
    if len(sites):
        sc = _containing(_points(sites), cm_geom)
        sites["community_code"] = np.where(sc >= 0, cm_code[np.maximum(sc, 0)], None)
    limits = params.limits(norms)
    if "emergency" in limits:
        norm("shelter.emergency_walk_limit_m", "紧急避难场所步行距离上限", limits["emergency"], "m")
    if net is None:
        notes.append("未提供步行网络，未计算避难安置")
        limits = {}
    if n_u and limits:
        from .coverage import snap_units

        uu = u.assign(unit_id=unit_ids)
        u_snap, owner = snap_units(net, uu, entrances=entrances)
        owner = np.arange(n_u) if owner is None else owner
        reach_u = np.zeros(n_u, dtype=bool)
        reach_u[owner[u_snap.reachable]] = True
        sh_snap = net.snap(sh.geometry) if n_sh else None
        sh_reach = sh_snap.reachable if n_sh else np.zeros(0, bool)
        sh_out["reachable"] = sh_reach
        site_snap = net.snap(sites.geometry) if len(sites) else None
        if len(sites):
            norm(
                "shelter.site_effective_share",
                "公园、广场用作避难场所的有效面积比例",
                norms.shelter.site_effective_share,
                "",
            )
            norm("land_use.shelter_sites", "可作避难场所的用地代码", "、".join(norms.land_use.shelter_sites), "")
        unreach = assessable & ~sh_reach
        if unreach.any():
            notes.append(f"{int(unreach.sum())} 处避难场所距步行网络过远，未参与安置")
        for c, limit in limits.items():
            of_class = np.isin(cls, list(params.serving(c))) & assessable & sh_reach
            serving = of_class & in_use
            idx = np.flatnonzero(serving)
            ui, ss, d = _unit_pairs(net, sh_snap.take(idx) if len(idx) else None, idx, u_snap, owner, limit)
            cap_int = np.where(np.isfinite(capacity), capacity, 0).astype(np.int64)
            exact = assign_exact(n_u, n_sh, ui, ss, d, demand, cap_int)
            greedy = assign_nearest_first(n_u, n_sh, ui, ss, d, demand, cap_int)
            _nearest, nload = nearest_loads(n_u, n_sh, ui, ss, d, demand)
            classes.append(c)
            has_pair = np.bincount(ui, minlength=n_u) > 0
            nearest_walk = np.full(n_u, np.nan)
            if len(ui):
                mw = pd.Series(d).groupby(ui).min()
                nearest_walk[mw.index.to_numpy()] = mw.to_numpy()
            unit_out[f"{c}_demand"] = demand
            unit_out[f"{c}_placed"] = exact.placed
            unit_out[f"{c}_unplaced"] = exact.unplaced
            unit_out[f"{c}_unplaced_nearest_first"] = greedy.unplaced
            unit_out[f"{c}_nearest_walk_m"] = np.round(nearest_walk, 1)
            why = np.full(n_u, None, dtype=object)
            why[(exact.unplaced > 0) & has_pair] = "步行范围内避难场所容量已满"
            why[(exact.unplaced > 0) & ~has_pair] = f"{limit:.0f} 米步行范围内没有避难场所"
            why[(exact.unplaced > 0) & ~reach_u] = "距步行网络过远"
            unit_out[f"{c}_unplaced_reason"] = why
            sel = serving
            sh_out[f"{c}_assigned"] = np.where(sel, exact.load, 0)
            sh_out[f"{c}_nearest_first_load"] = np.where(sel, nload, 0)
            over = sel & (nload > np.where(np.isfinite(capacity), capacity, np.inf))
            sh_out[f"{c}_over_capacity_nearest_first"] = over
            sh_out[f"{c}_utilisation"] = np.where(
                sel & (capacity > 0), exact.load / np.where(capacity > 0, capacity, 1), np.nan
            ).round(4)
            if len(exact.unit):
                a = unit_pts[exact.unit]
                b = sh_pts[exact.shelter]
                geom = shapely.linestrings(
                    np.stack(
                        [
                            np.column_stack([shapely.get_x(a), shapely.get_y(a)]),
                            np.column_stack([shapely.get_x(b), shapely.get_y(b)]),
                        ],
                        axis=1,
                    )
                )
            else:
                geom = np.zeros(0, object)
            lines_all.append(
                gpd.GeoDataFrame(
                    {
                        "shelter_class": c,
                        "unit_id": unit_ids[exact.unit],
                        "shelter_id": _ids(sh)[exact.shelter],
                        "persons": exact.persons,
                        "walk_m": np.round(exact.walk_m, 1),
                    },
                    geometry=geom,
                    crs=4326,
                )
            )
            totals[c] = {
                "walk_limit_m": float(limit),
                "serving_classes": list(params.serving(c)),
                "shelters_used": len(idx),
                "capacity_persons": int(cap_int[idx].sum()),
                "demand_persons": int(demand.sum()),
                "placed": int(exact.placed.sum()),
                "unplaced": int(exact.unplaced.sum()),
                "unplaced_nearest_first": int(greedy.unplaced.sum()),
                "placed_nearest_first": int(greedy.placed.sum()),
                "units_without_shelter_in_reach": int((~has_pair & (demand > 0)).sum()),
                "mean_walk_m": round(float(exact.person_walk_m / max(exact.placed.sum(), 1)), 1),
                "shelters_over_capacity_nearest_first": int(over.sum()),
                "method": exact.method,
            }
            # with the plan: planned and building shelters, then parks and squares of the plan that are no
            # shelter yet. Same max-placed flow, but the cost of a pair is its tier, not its walk: 0 to an
            # existing shelter, 1 to a planned one, 2 to a new site. Moving one person off a new site changes
            # the planned load by at most one (only the two ends of an augmenting cycle change load), so the
            # optimum uses the fewest new-site places, then the fewest planned places: what the plan must add.
            pidx = np.flatnonzero(of_class & np.isin(status, ["planned", "under_construction"]))
            pu, ps, _ = _unit_pairs(net, sh_snap.take(pidx) if len(pidx) else None, pidx, u_snap, owner, limit)
            n_site = len(sites)
            site_reach = site_snap.reachable if n_site else np.zeros(0, bool)
            sidx = np.flatnonzero(site_reach)
            tu, ts, _ = _unit_pairs(net, site_snap.take(sidx) if len(sidx) else None, n_sh + sidx, u_snap, owner, limit)
            cap_plan = np.concatenate(
                [
                    cap_int,
                    sites["capacity_persons"].fillna(0).to_numpy(dtype=np.int64) if n_site else np.zeros(0, np.int64),
                ]
            )
            tier = np.concatenate([np.zeros(len(ui)), np.ones(len(pu)), np.full(len(tu), 2.0)])
            plan = assign_exact(
                n_u, n_sh + n_site, np.concatenate([ui, pu, tu]), np.concatenate([ss, ps, ts]), tier, demand, cap_plan
            )
            unit_out[f"{c}_unplaced_with_plan"] = plan.unplaced
            sh_out[f"{c}_assigned_with_plan"] = np.where(of_class, plan.load[:n_sh], 0)
            if n_site:
                sites[f"{c}_assigned_with_plan"] = plan.load[n_sh:]
                sites["reachable"] = site_reach
            totals[c]["with_plan"] = {
                "planned_shelters": len(pidx),
                "planned_capacity_persons": int(cap_int[pidx].sum()),
                "placed_by_planned_shelters": int(plan.load[pidx].sum()),
                "candidate_sites": int(n_site),
                "candidate_capacity_persons": int(cap_plan[n_sh:].sum()),
                "sites_used": int((plan.load[n_sh:] > 0).sum()),
                "placed_by_sites": int(plan.load[n_sh:].sum()),
                "placed": int(plan.placed.sum()),
                "unplaced": int(plan.unplaced.sum()),
            }
    unit_out.attrs["classes"] = classes
    lines = (
        pd.concat(lines_all, ignore_index=True)
        if lines_all
        else gpd.GeoDataFrame(
            {"shelter_class": [], "unit_id": [], "shelter_id": [], "persons": [], "walk_m": []}, geometry=[], crs=4326
        )
    )
    lines = gpd.GeoDataFrame(lines, geometry="geometry", crs=4326)

    # fixed shelters hold >= 15 % of the residents of their street (and of the county)
    share_min = float(s.fixed_min_share)
    norm("shelter.fixed_min_share", "固定避难场所容纳人口比例下限", share_min, "")
    fixed = in_use & np.isin(cls, list(params.fixed_share_classes)) & assessable
    up_m, sh_m = metric(unit_pts), metric(sh_pts)  # once, for the street of each shelter and the central check
    street_of_sh = _nearest_unit_street(sh_m, up_m, unit_out["street_code"].to_numpy(dtype=object))
    sh_out["street_code"] = street_of_sh
    rows = []
    ustreet = unit_out["street_code"].to_numpy(dtype=object)
    for code in sorted({x for x in ustreet if x is not None and not (isinstance(x, float) and np.isnan(x))}):
        res = float(residents[ustreet == code].sum())
        cap = float(np.nansum(capacity[fixed & (street_of_sh == code)]))
        rows.append((code, res, cap))
    rows.append(("全域", float(residents.sum()), float(np.nansum(capacity[fixed]))))
    share = pd.DataFrame(rows, columns=["area_code", "residents", "fixed_capacity_persons"])
    share["required_persons"] = np.ceil(share["residents"] * share_min)
    share["share"] = np.where(
        share["residents"] > 0, share["fixed_capacity_persons"] / share["residents"].clip(lower=1), np.nan
    ).round(4)
    share["meets_norm"] = share["fixed_capacity_persons"] >= share["required_persons"]
    share["shortfall_persons"] = np.maximum(share["required_persons"] - share["fixed_capacity_persons"], 0)
    totals["fixed_share"] = float(share["share"].iloc[-1]) if len(share) else None
    totals["streets_below_fixed_share"] = int((~share["meets_norm"].iloc[:-1]).sum())

    # central shelters: each unit to its nearest central shelter (straight line)
    norm("shelter.central_max_residents", "中心避难场所服务人口上限", s.central_max_residents, "人")
    norm("shelter.central_max_area_km2", "中心避难场所服务建成区面积上限", s.central_max_area_km2, "km²")
    central_idx = np.flatnonzero(in_use & (cls == "central"))
    unit_area_km2 = shapely.area(metric(np.asarray(u.geometry.values, dtype=object))) / 1e6 if n_u else np.zeros(0)
    built_km2 = float(unit_area_km2.sum())
    need = int(
        max(
            np.ceil(residents.sum() / s.central_max_residents),
            np.ceil(built_km2 / s.central_max_area_km2),
            1 if n_u else 0,
        )
    )
    if len(central_idx) and n_u:
        near = shapely.STRtree(sh_m[central_idx]).nearest(up_m)
        served = np.bincount(near, weights=residents, minlength=len(central_idx))
        served_km2 = np.bincount(near, weights=unit_area_km2, minlength=len(central_idx))
    else:
        served = served_km2 = np.zeros(len(central_idx))
    central = pd.DataFrame(
        {
            "shelter_id": _ids(sh)[central_idx],
            "name": _col(sh, "name")[central_idx],
            "served_residents": served.round().astype(np.int64),
            "served_built_up_km2": np.round(served_km2, 3),
            "within_population_limit": served <= s.central_max_residents,
            "within_area_limit": served_km2 <= s.central_max_area_km2,
        }
    )
    totals["central_shelters"] = len(central_idx)
    totals["central_shelters_needed"] = need
    totals["built_up_km2"] = round(built_km2, 3)
    if n_u:
        notes.append("建成区面积按人口单元面积合计估算；中心避难场所服务范围按直线最近划分")
    return sh_out, unit_out, lines, share, central, sites, totals


def _nearest_unit_street(points_m, unit_pts_m, unit_street) -> np.ndarray:
    """Street code of the nearest unit of each point (metric geometries)."""
    out = np.full(len(points_m), None, dtype=object)
    if len(points_m) == 0 or len(unit_pts_m) == 0:
        return out
    out[:] = unit_street[shapely.STRtree(unit_pts_m).nearest(points_m)]
    return out


# ----------------------------------------------------------------------------- developments
def _developments(dev, cm_geom, cm_code, norms, norm):
    dev = dev if dev is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    per100 = float(norms.service_floor_m2_per_100_households)
    hh = _num(dev, "planned_households")
    declared = _num(dev, "required_facility_area_m2")
    required = np.where(np.isfinite(declared), declared, hh * per100 / 100.0)
    req_source = np.where(
        np.isfinite(declared), "项目批复", np.where(np.isfinite(hh), "按每百户 30 m² 计算", None)
    ).astype(object)
    built = _num(dev, "built_facility_area_m2")
    owed = np.maximum(required - built, 0.0)
    ok = np.isfinite(required) & np.isfinite(built)
    status = np.where(~ok, CANNOT, np.where(owed > 1e-9, GAP, OK)).astype(object)
    reason = np.full(len(dev), None, dtype=object)
    reason[~np.isfinite(required)] = "缺少规划户数和应配建面积"
    reason[np.isfinite(required) & ~np.isfinite(built)] = "缺少已配建设施面积"
    comm = _containing(_points(dev), cm_geom) if len(dev) else np.zeros(0, np.int64)
    out = gpd.GeoDataFrame(
        {
            "development_id": _ids(dev),
            "name": _col(dev, "name"),
            "status": _col(dev, "status"),
            "community_code": np.where(comm >= 0, cm_code[np.maximum(comm, 0)], None) if len(dev) else [],
            "planned_households": hh,
            "required_facility_area_m2": np.round(required, 1),
            "required_source": req_source,
            "built_facility_area_m2": built,
            "owed_m2": np.where(ok, np.round(owed, 1), np.nan),
            "status_check": status,
            "status_check_zh": [STATUS_ZH[x] for x in status],
            "cannot_assess_reason": reason,
        },
        geometry=np.asarray(dev.geometry.values, dtype=object) if len(dev) else [],
        crs=4326,
    )
    out = out.sort_values("owed_m2", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    totals = {
        "developments": len(dev),
        "developments_owing": int((status == GAP).sum()),
        "developments_owed_m2": round(float(np.nansum(np.where(ok, owed, np.nan))), 1) if len(dev) else 0.0,
    }
    return out, totals


def _street_summary(comm: gpd.GeoDataFrame, sh: gpd.GeoDataFrame, dev: gpd.GeoDataFrame) -> pd.DataFrame:
    c = comm.drop(columns="geometry").copy()
    c["street_code"] = c["street_code"].fillna("（未知街道）")
    agg = {
        "communities": ("community_code", "size"),
        "households": ("households", "sum"),
        "without_office": ("has_fixed_office", lambda s: int((~s.astype(bool)).sum())),
        "with_space_gap": ("service_floor_status", lambda s: int((s == GAP).sum())),
        "cannot_assess": ("service_floor_status", lambda s: int((s == CANNOT).sum())),
        "service_floor_gap_m2": ("service_floor_gap_m2", "sum"),
        "missing_categories": ("missing_category_count", lambda s: int((s > 0).sum())),
        "facilities_at_risk": ("facilities_at_risk", "sum"),
    }
    if "emergency_unplaced" in c:
        agg["emergency_demand"] = ("emergency_demand", "sum")
        agg["emergency_unplaced"] = ("emergency_unplaced", "sum")
    st = c.groupby("street_code").agg(**agg).reset_index()
    st["service_floor_gap_m2"] = st["service_floor_gap_m2"].round(1)
    if len(dev):
        d = dev.copy()
        d["street_code"] = d["community_code"].map(dict(zip(comm["community_code"], comm["street_code"])))
        owed = d[d["status_check"] == GAP].groupby("street_code")["owed_m2"].agg(["size", "sum"])
        st["developments_owing"] = st["street_code"].map(owed["size"]).fillna(0).astype(np.int64)
        st["developments_owed_m2"] = st["street_code"].map(owed["sum"]).fillna(0.0).round(1)
    sort_cols = ["with_space_gap", "service_floor_gap_m2"]
    return st.sort_values(sort_cols, ascending=False, kind="stable").reset_index(drop=True)
