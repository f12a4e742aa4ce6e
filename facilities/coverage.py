"""Life-circle coverage (Art. 12): walking distance from every population unit to every category.

Pure functions over GeoDataFrames and a :class:`~geo_service.core.network.WalkNetwork`;
no database or web code.  Thresholds come from the norms (GB 50180-2018 life
circles and the per-category service radii, see ``geo_service/norms.toml``).

Definitions
-----------
* A unit is represented by its representative point (or by several entrance
  points, the nearest counting) snapped to the nearest street edge; farther than
  ``max_snap_m`` from every street it is *unreachable* and covered by nothing.
* ``walk_m``: network distance in metres including both off-network legs;
  ``walk_min`` = ``walk_m`` / walking speed.
* A unit is covered for a category when the nearest existing facility of the
  category is within the category's threshold: its service radius from the
  norms, else the walking distance of the smallest life circle providing it.
* A unit has the *complete life circle* of a level when it is covered for every
  required category of that level, each within the level's walking distance.
* Coverage rates are shares of residents (population-weighted); units without
  residents do not change them.
* The straight-line figure uses the same thresholds on crow-fly distance, so
  ``straight_rate - walk_rate`` is what barriers and detours cost.
* Every rate also exists over the group of residents the category serves (nursery: 0–3, kindergarten: 3–6,
  elderly day care: 60+…, norm ``age_groups.served_by``; :mod:`facilities.groups`): ``<c>_group_rate``, with
  the group's residents and those not covered; null with a reason where units lack the group's figure.
* Supply: existing facilities of the category, and hubs whose ``functions`` list it (:mod:`facilities.hubs`):
  a hub serves each listed category from its location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.network import DEFAULT_MAX_SNAP_M, PROFILES, Snap, WalkNetwork, WalkProfile, profile_code
from geo_service.core.norms import Norms

from .groups import UnitGroups, category_group_figures, category_profile, group_rates, unit_groups
from .hubs import with_hub_functions

LEVELS = ("5min", "10min", "15min")
MIN_SPEED_MPS, MAX_SPEED_MPS = 0.1, 5.0  # walking speeds accepted from users, m/s
ACTIVE_STATUS = ("existing",)
# A unit exactly at the threshold is covered; 1 mm absorbs the floating-point noise of
# projecting and snapping (distances are metres).
TOLERANCE_M = 0.001


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class CategoryRule:
    """The threshold a category is checked against and where it comes from."""

    category: str
    level: str | None
    threshold_m: float
    source: str

    @property
    def label_zh(self) -> str:
        return vocab.FACILITY_CATEGORIES.get(self.category, self.category)


@dataclass(frozen=True)
class CoverageParams:
    """What a coverage run computes.

    Attributes
    ----------
    levels : life-circle levels whose required categories are analysed and whose complete rate is reported
    categories : extra or explicit categories (default: the required ones of ``levels``)
    walking_speed_mps : metres per second for minutes (default: the norms, 1.0)
    profile : walking profile, ``standard``, ``elderly`` or ``wheelchair``: the distances of a profile are
        standard-equivalent metres (walking time times the standard speed), so a unit is covered when the
        profile's walkers reach the facility in the time a standard walker needs for the threshold
    max_snap_m : farther from every street than this, a unit is unreachable
    statuses : facility statuses counted as supply (default: existing only)
    """

    levels: tuple[str, ...] = LEVELS
    categories: tuple[str, ...] | None = None
    walking_speed_mps: float | None = None
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    profile: str = "standard"
    statuses: tuple[str, ...] = ACTIVE_STATUS

    @classmethod
    def from_input(
        cls,
        levels: str | Sequence[str] | None = None,
        categories: str | Sequence[str] | None = None,
        walking_speed_mps: float | str | None = None,
        profile: str | None = None,
    ) -> CoverageParams:
        """The one constructor from CLI options, HTTP query parameters or a job's stored parameters.

        ``levels`` and ``categories`` are sequences or comma-separated text (None or empty: the defaults);
        ``walking_speed_mps`` is metres per second, 0.1 to 5 (None: the norms' speed); ``profile`` is
        ``standard`` (default), ``elderly`` or ``wheelchair`` (their speeds come from the norms, so a speed
        may not be given with another profile).
        """
        code = profile_code(profile)
        speed = None if walking_speed_mps is None else float(walking_speed_mps)
        if speed is not None and not (MIN_SPEED_MPS <= speed <= MAX_SPEED_MPS):
            raise InputError(
                f"walking speed must be {MIN_SPEED_MPS}-{MAX_SPEED_MPS} m/s, got {speed}",
                f"步行速度应在 {MIN_SPEED_MPS}–{MAX_SPEED_MPS} 米/秒之间，收到 {speed}",
            )
        if speed is not None and code != "standard":
            raise InputError(
                "a walking speed cannot be given with a walking profile other than standard",
                f"出行方式「{PROFILES[code]}」的步行速度取自规范，不能同时指定步行速度",
                profile=code,
            )
        cats = _names(categories)
        return cls(levels=_names(levels) or LEVELS, categories=cats or None, walking_speed_mps=speed, profile=code)

    def as_dict(self) -> dict:
        out = {
            "levels": list(self.levels),
            "categories": None if self.categories is None else list(self.categories),
            "walking_speed_mps": self.walking_speed_mps,
            "max_snap_m": self.max_snap_m,
            "statuses": list(self.statuses),
        }
        if self.profile != "standard":  # runs of the standard profile keep their stored parameters
            out["profile"] = self.profile
        return out


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Comma-separated text or a sequence of names as a tuple of stripped, non-empty names."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(x.strip() for x in items if x and x.strip())


def category_rules(norms: Norms, levels=LEVELS, categories=None) -> dict[str, CategoryRule]:
    """Threshold per analysed category (service radius, else the providing level's walk)."""
    levels = tuple(norms.level(lv) for lv in levels)
    cats: list[str] = []
    if categories is None:
        for lv in levels:
            cats.extend(c for c in norms.required_facilities(lv) if c not in cats)
    else:
        for c in categories:
            if c not in vocab.FACILITY_CATEGORIES:
                raise InputError(
                    f"unknown facility category {c!r}",
                    f"未知的设施类别「{c}」",
                    category=c,
                    allowed=sorted(vocab.FACILITY_CATEGORIES),
                )
            if c not in cats:
                cats.append(c)
    rules = {}
    for c in cats:
        radius = norms.service_radius_m(c)
        if radius is None:
            raise InputError(
                f"no walking threshold for category {c!r} in the norms",
                f"规范中没有「{vocab.FACILITY_CATEGORIES[c]}」的步行距离标准，"
                f"请在城市规范文件中设置 service_radius_m.{c}",
                category=c,
            )
        key = norms.service_radius_key(c)
        rules[c] = CategoryRule(c, norms.level_of(c), float(radius), "; ".join(norms.source_of(key)))
    return rules


# ----------------------------------------------------------------------------- result
@dataclass
class CoverageResult:
    """Per-unit results and the aggregates of one coverage computation.

    ``units``: one row per unit (EPSG:4326 polygons) with ``unit_id``, ``name``,
    ``residents``, ``households``, ``street_code``, ``community_code``, ``reachable``,
    ``snap_offset_m``, and per category ``<c>_walk_m``, ``<c>_walk_min``, ``<c>_covered``,
    ``<c>_straight_m``, ``<c>_straight_covered``, ``<c>_facility_id``; per level
    ``complete_<level>`` and ``complete_<level>_straight``; ``missing`` (list of categories).
    """

    units: gpd.GeoDataFrame
    rules: dict[str, CategoryRule]
    levels: tuple[str, ...]
    walking_speed_mps: float
    level_walk_m: dict[str, float]
    required: dict[str, tuple[str, ...]]
    facility_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    profile: dict = field(default_factory=lambda: {"profile": "standard", "profile_zh": "标准"})
    groups: UnitGroups | None = None  # residents per age group, row-aligned with ``units`` (None: no group rates)
    category_profiles: dict[str, dict] = field(default_factory=dict)  # served group and tier per category
    hub_counts: dict[str, int] = field(default_factory=dict)  # hubs counted as supply per category

    # -------------------------------------------------------------- aggregates
    def rates(self, by: str | None = None) -> pd.DataFrame:
        """Population-weighted rates per group (``by`` a column of ``units``) or city-wide.

        Columns: ``residents``, ``households``, ``units``, ``unreachable_residents``, per category
        ``<c>_rate`` and ``<c>_straight_rate``, per level ``complete_<level>_rate`` and
        ``complete_<level>_straight_rate``.  Rates are fractions (0..1), NaN for a group without residents.
        With :attr:`groups`, per category also the rate over the group it serves and its residents
        (:func:`facilities.groups.group_rates`: ``<c>_group_residents``, ``<c>_group_uncovered``,
        ``<c>_group_rate``, ``<c>_group_derived_share``, ``<c>_group_note``).
        """
        u = self.units
        res = u["residents"].to_numpy(dtype=float)
        flags = {f"{c}_rate": u[f"{c}_covered"] for c in self.rules}
        flags.update({f"{c}_straight_rate": u[f"{c}_straight_covered"] for c in self.rules})
        for lv in self.levels:
            flags[f"complete_{lv}_rate"] = u[f"complete_{lv}"]
            flags[f"complete_{lv}_straight_rate"] = u[f"complete_{lv}_straight"]
        weighted = pd.DataFrame({k: v.to_numpy(dtype=float) * res for k, v in flags.items()}, index=u.index)
        weighted["residents"] = res
        weighted["households"] = u["households"].to_numpy(dtype=float)
        weighted["units"] = 1
        weighted["unreachable_residents"] = np.where(u["reachable"].to_numpy(dtype=bool), 0.0, res)
        if by is None:
            sums = weighted.sum().to_frame().T
        else:
            sums = weighted.groupby(u[by].fillna("").to_numpy()).sum()
            sums.index.name = by
        out = sums.copy()
        denom = sums["residents"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in flags:
                out[k] = np.where(denom > 0, sums[k].to_numpy() / denom, np.nan)
        out["residents"] = out["residents"].round().astype(np.int64)
        out["households"] = out["households"].round().astype(np.int64)
        out["units"] = out["units"].astype(np.int64)
        out["unreachable_residents"] = out["unreachable_residents"].round().astype(np.int64)
        if self.groups is not None and self.category_profiles:
            served = {c: p["group"] for c, p in self.category_profiles.items()}
            out = out.join(group_rates(u, self.groups, served, by))
        return out

    def summary(self) -> dict:
        """City-wide figures as plain JSON-able data (rates as fractions)."""
        city = self.rates().iloc[0]
        cats = []
        for c, rule in self.rules.items():
            walk_rate = _f(city[f"{c}_rate"])
            straight_rate = _f(city[f"{c}_straight_rate"])
            prof = self.category_profiles.get(c, {})
            cats.append(
                {
                    "category": c,
                    "category_zh": rule.label_zh,
                    "level": rule.level,
                    "threshold_m": rule.threshold_m,
                    "threshold_min": round(rule.threshold_m / self.walking_speed_mps / 60.0, 2),
                    "norm_source": rule.source,
                    "facilities": self.facility_counts.get(c, 0),
                    "hub_facilities": self.hub_counts.get(c, 0),
                    "walk_rate": walk_rate,
                    "straight_rate": straight_rate,
                    "barrier_cost": None if walk_rate is None or straight_rate is None else straight_rate - walk_rate,
                    **{k: v for k, v in prof.items() if k not in ("category", "category_zh")},
                    **(category_group_figures(city, c) if self.groups is not None else {}),
                }
            )
        levels = []
        for lv in self.levels:
            levels.append(
                {
                    "level": lv,
                    "walk_m": self.level_walk_m[lv],
                    "required": list(self.required[lv]),
                    "complete_rate": _f(city[f"complete_{lv}_rate"]),
                    "complete_straight_rate": _f(city[f"complete_{lv}_straight_rate"]),
                }
            )
        return {
            "residents": int(city["residents"]),
            "households": int(city["households"]),
            "units": int(city["units"]),
            "unreachable_residents": int(city["unreachable_residents"]),
            "unreachable_units": int((~self.units["reachable"]).sum()),
            "walking_speed_mps": self.walking_speed_mps,
            **{k: v for k, v in self.profile.items() if k != "walking_speed_mps"},
            "profile_walking_speed_mps": self.profile.get("walking_speed_mps", self.walking_speed_mps),
            "categories": cats,
            "levels": levels,
            "groups_note_zh": None if self.groups is None else self.groups.reason_zh,
            "warnings": list(self.warnings),
        }

    def gaps(self) -> gpd.GeoDataFrame:
        """Units lacking at least one analysed category within its threshold, most residents first."""
        u = self.units
        lacking = u["missing"].map(len) > 0
        g = u.loc[
            lacking,
            [
                "unit_id",
                "source_id",
                "name",
                "residents",
                "households",
                "street_code",
                "community_code",
                "reachable",
                "missing",
                "geometry",
            ],
        ].copy()
        g["missing_count"] = g["missing"].map(len)
        g["missing_zh"] = g["missing"].map(lambda cs: "、".join(vocab.FACILITY_CATEGORIES.get(c, c) for c in cs))
        g = g.sort_values(["residents", "missing_count"], ascending=[False, False], kind="stable")
        g.insert(0, "rank", np.arange(1, len(g) + 1))
        return gpd.GeoDataFrame(g.reset_index(drop=True), geometry="geometry", crs=u.crs)


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


# ----------------------------------------------------------------------------- computation
def unit_points(units: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Representative point of each unit (inside its polygon)."""
    return units.geometry.representative_point()


def snap_units(
    net: WalkNetwork,
    units: gpd.GeoDataFrame,
    *,
    entrances: gpd.GeoDataFrame | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> tuple[Snap, np.ndarray | None]:
    """Snap units (representative points) and, if given, their entrances.

    Returns the unit snap and, with entrances, the owning unit position of each entrance
    (``entrances.unit_id`` must match ``units.unit_id``).
    """
    snap = net.snap(unit_points(units), max_snap_m=max_snap_m)
    if entrances is None or len(entrances) == 0:
        return snap, None
    if "unit_id" not in entrances.columns:
        raise InputError("entrances need a unit_id column", "出入口数据缺少 unit_id 字段")
    pos = pd.Index(units["unit_id"]).get_indexer(entrances["unit_id"])
    if (pos < 0).any():
        raise InputError(
            "entrances refer to unknown units",
            "出入口引用了不存在的人口单元",
            unit_ids=[str(x) for x in entrances["unit_id"][pos < 0][:20]],
        )
    # units without an entrance are reached from their representative point
    without = np.setdiff1d(np.arange(len(units)), pos)
    pts = gpd.GeoSeries(
        np.concatenate(
            [
                np.asarray(entrances.to_crs(units.crs).geometry.values, dtype=object),
                np.asarray(unit_points(units.iloc[without]).values, dtype=object),
            ]
        ),
        crs=units.crs,
    )
    return net.snap(pts, max_snap_m=max_snap_m), np.concatenate([pos, without])


def _min_by_owner(values: np.ndarray, other: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per owner the minimum of ``values`` and the ``other`` value of that minimum."""
    best = np.full(n, np.inf)
    arg = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((values, owner))
    o, v, x = owner[order], values[order], other[order]
    first = np.ones(len(o), dtype=bool)
    first[1:] = o[1:] != o[:-1]
    best[o[first]] = v[first]
    arg[o[first]] = x[first]
    return best, arg


def walk_to_nearest(
    net: WalkNetwork,
    fac_snap: Snap,
    unit_snap: Snap,
    limit_m: float,
    entrance_owner: np.ndarray | None = None,
    n_units: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Walking distance (m, inf beyond ``limit_m``) and nearest facility position per unit."""
    res = net.nearest(fac_snap, limit_m=limit_m)
    walk, src, _ = res.at(unit_snap)
    walk = np.where(walk <= limit_m + TOLERANCE_M, walk, np.inf)
    src = np.where(np.isfinite(walk), src, -1)
    if entrance_owner is not None:
        walk, src = _min_by_owner(walk, src, entrance_owner, int(n_units))
    return walk, src


def compute_coverage(
    net: WalkNetwork,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    norms: Norms,
    *,
    params: CoverageParams = CoverageParams(),
    communities: gpd.GeoDataFrame | None = None,
    entrances: gpd.GeoDataFrame | None = None,
    groups: UnitGroups | None = None,
) -> CoverageResult:
    """Walking and straight-line coverage of every unit for every analysed category.

    Parameters
    ----------
    net : WalkNetwork
    units : GeoDataFrame, EPSG:4326
        Population units: ``residents``, ``households``, optional ``id``/``source_id``,
        ``name``, ``street_code``.
    facilities : GeoDataFrame, EPSG:4326
        ``id``, ``category``, optional ``status`` (default existing), ``name``.
    norms : Norms
    params : CoverageParams
    communities : GeoDataFrame, optional
        Community polygons (``code``, ``name``) of a plan; each unit gets the
        ``community_code`` of the community holding its representative point.
    entrances : GeoDataFrame, optional
        Entrance points (gates) with ``unit_id``; a unit with entrances is reached from its
        nearest entrance only, a unit without from its representative point.
    groups : UnitGroups, optional
        Residents per age group of each unit (row-aligned with ``units``); default
        :func:`facilities.groups.unit_groups` of ``units`` (given, else derived from the census shares).

    Returns
    -------
    CoverageResult
        ``units`` also carries ``residents_<group>`` (persons) of every group an analysed category serves.
    """
    _check_input_columns(units, facilities)
    profile = WalkProfile.from_input(params.profile, norms)
    net = net.for_profile(profile)
    rules = category_rules(norms, params.levels, params.categories)
    levels = tuple(norms.level(lv) for lv in params.levels)
    speed = _walking_speed(params, norms)
    level_walk = {lv: float(norms.life_circle(lv).walk_m) for lv in levels}
    required = {lv: tuple(c for c in norms.required_facilities(lv)) for lv in levels}
    supply = _analysed_supply(with_hub_functions(facilities), params.statuses, rules)

    u = units.reset_index(drop=True)
    ug = unit_groups(u, norms) if groups is None else UnitGroups(groups.frame.reset_index(drop=True), groups.reason_zh)
    profiles = {c: category_profile(c, norms) for c in rules}
    out = _unit_attributes(u)
    access = _snap_unit_access(net, u, out["unit_id"], entrances, params.max_snap_m)
    out["snap_offset_m"] = access.snap_offset_m / net.offset_scale  # metres, also in a profile's view
    out["reachable"] = access.reachable

    limit = max(max(r.threshold_m for r in rules.values()), max(level_walk.values()))
    dist = _category_distances(net, supply, rules, access, limit, params.max_snap_m)
    for c, rule in rules.items():
        out.update(_category_columns(c, rule, dist, speed))
    out.update(_life_circle_flags(levels, required, level_walk, rules, dist))
    out["missing"] = _missing_categories(out, rules)
    out["community_code"], out["community_name"] = _unit_communities(u, communities)
    for g in dict.fromkeys(p["group"] for p in profiles.values() if p["group"] != "all"):
        out[f"residents_{g}"] = np.round(ug.frame[f"residents_{g}"].to_numpy(dtype=float), 2)
    units_out = gpd.GeoDataFrame(pd.DataFrame(out), geometry=u.geometry.values, crs=u.crs)
    result = CoverageResult(units_out, rules, levels, speed, level_walk, required, dist.counts, dist.warnings)
    result.profile = profile.as_dict()
    result.groups, result.category_profiles, result.hub_counts = ug, profiles, dist.hub_counts
    if ug.reason_zh:
        result.warnings.append(f"部分单元缺少年龄分组人数：{ug.reason_zh}；相关服务对象覆盖率记为空")
    return result


def _check_input_columns(units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> None:
    """Raise :class:`InputError` unless the units have residents and households and the facilities a category.

    Parameters
    ----------
    units : GeoDataFrame, EPSG:4326
        Population units; ``residents`` and ``households`` (counts of people and households) are required.
    facilities : GeoDataFrame, EPSG:4326
        Facility points; ``category`` is required.
    """
    for col in ("residents", "households"):
        if col not in units.columns:
            raise InputError(f"population units lack column {col!r}", f"人口单元缺少字段「{col}」")
    if "category" not in facilities.columns:
        raise InputError("facilities lack column 'category'", "设施数据缺少「category」字段")
    if len(units) == 0:
        raise InputError("there are no population units", "没有人口单元数据")


def _walking_speed(params: CoverageParams, norms: Norms) -> float:
    """The walking speed of the run.

    Returns
    -------
    float
        Metres per second: ``params.walking_speed_mps``, else the norms' speed; must be finite and positive.
    """
    speed = float(params.walking_speed_mps or norms.walking_speed_mps)
    if not np.isfinite(speed) or speed <= 0:
        raise InputError("walking speed must be positive", "步行速度必须大于 0", walking_speed_mps=speed)
    return speed


def _analysed_supply(
    facilities: gpd.GeoDataFrame, statuses: tuple[str, ...], rules: dict[str, CategoryRule]
) -> gpd.GeoDataFrame:
    """The facilities counted as supply: in one of ``statuses`` and of an analysed category.

    Parameters
    ----------
    facilities : GeoDataFrame, EPSG:4326
        Facility points with ``category`` and optional ``status``.
    statuses : tuple of str
        Facility statuses counted as supply.
    rules : dict
        The analysed categories.

    Returns
    -------
    GeoDataFrame, EPSG:4326
        The rows of ``facilities`` kept (raises :class:`InputError` when there is none).
    """
    supply = vocab.in_service(facilities, statuses)
    supply = supply[supply["category"].isin(list(rules)).to_numpy()]
    if len(supply) == 0:
        raise InputError(
            "no existing facility of the analysed categories",
            "没有可用于分析的现状设施（所选类别均无设施）",
            categories=list(rules),
        )
    return supply


def _unit_attributes(u: gpd.GeoDataFrame) -> dict[str, Any]:
    """The identifying and population columns of the result, one array per column.

    Parameters
    ----------
    u : GeoDataFrame, EPSG:4326
        Population units with a default (0..n-1) index.

    Returns
    -------
    dict of str to ndarray
        ``unit_id`` (``id``, else ``source_id``, else the position), ``source_id``, ``name``,
        ``residents`` (residents, int64, missing as 0), ``households`` (int64, missing as 0),
        ``street_code``; an optional column absent from ``u`` is all None.
    """
    n = len(u)
    out: dict[str, object] = {
        "unit_id": u["id"]
        if "id" in u.columns
        else (u["source_id"] if "source_id" in u.columns else pd.Series(np.arange(n))),
        "source_id": u["source_id"] if "source_id" in u.columns else None,
        "name": u["name"] if "name" in u.columns else None,
        "residents": u["residents"].fillna(0).astype(np.int64),
        "households": u["households"].fillna(0).astype(np.int64),
        "street_code": u["street_code"] if "street_code" in u.columns else None,
    }
    return {
        k: (v.to_numpy() if isinstance(v, pd.Series) else (np.full(n, v, dtype=object) if v is None else v))
        for k, v in out.items()
    }


@dataclass(frozen=True)
class _UnitAccess:
    """Where the units join the network.

    Attributes
    ----------
    snap : Snap
        The points the walks start from (entrances and representative points), network metric CRS (m).
    owner : ndarray of int64 or None
        With entrances, the unit position of each point of ``snap``; None when ``snap`` is one point per unit.
    base : Snap
        The representative point of each unit (straight-line distances start there), network metric CRS (m).
    reachable : ndarray of bool
        Per unit: at least one of its points is within the snapping distance of a street.
    snap_offset_m : ndarray of float64
        Per unit, the shortest off-network leg of its reachable points, m (NaN where unreachable).
    """

    snap: Snap
    owner: np.ndarray | None
    base: Snap
    reachable: np.ndarray
    snap_offset_m: np.ndarray


def _snap_unit_access(
    net: WalkNetwork,
    u: gpd.GeoDataFrame,
    unit_ids: np.ndarray,
    entrances: gpd.GeoDataFrame | None,
    max_snap_m: float,
) -> _UnitAccess:
    """Snap the units (and their entrances) to the network.

    Parameters
    ----------
    net : WalkNetwork
    u : GeoDataFrame, EPSG:4326
        Population units with a default index.
    unit_ids : ndarray
        The ``unit_id`` of each unit, matched by ``entrances.unit_id``.
    entrances : GeoDataFrame, optional
        Entrance points with ``unit_id`` (any CRS; transformed to the units' CRS).
    max_snap_m : float
        Metres; a point farther than this from every street is unreachable.

    Returns
    -------
    _UnitAccess
    """
    n = len(u)
    ent = entrances.copy() if entrances is not None and len(entrances) else None
    snap, owner = snap_units(net, u.assign(unit_id=unit_ids), entrances=ent, max_snap_m=max_snap_m)
    if owner is None:
        return _UnitAccess(snap, None, snap, snap.reachable, snap.offset_m)
    base = net.snap(unit_points(u), max_snap_m=max_snap_m)
    reach = np.zeros(n, dtype=bool)
    reach[owner[snap.reachable]] = True
    off, _ = _min_by_owner(
        np.where(snap.reachable, snap.offset_m, np.inf), np.zeros(len(owner), dtype=np.int64), owner, n
    )
    return _UnitAccess(snap, owner, base, reach, np.where(np.isfinite(off), off, np.nan))


@dataclass
class _Distances:
    """Per analysed category, the distance from every unit to its nearest facility.

    Attributes
    ----------
    walk : dict of str to ndarray of float64
        Walking distance, m, off-network legs included (inf beyond the analysis limit or unreachable).
    straight : dict of str to ndarray of float64
        Crow-fly distance from the representative point, m, in the network's metric CRS (inf: no facility).
    facility_id : dict of str to ndarray of object
        ``id`` (else index) of the nearest facility on foot, None where none within the limit.
    counts : dict of str to int
        Facilities of the category counted as supply.
    warnings : list of str
        Chinese notes on categories without facilities or with facilities far from every street.
    """

    walk: dict[str, np.ndarray] = field(default_factory=dict)
    straight: dict[str, np.ndarray] = field(default_factory=dict)
    facility_id: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    hub_counts: dict[str, int] = field(default_factory=dict)


def _category_distances(
    net: WalkNetwork,
    supply: gpd.GeoDataFrame,
    rules: dict[str, CategoryRule],
    access: _UnitAccess,
    limit_m: float,
    max_snap_m: float,
) -> _Distances:
    """Walking and straight-line distances from every unit to the nearest facility of each category.

    Parameters
    ----------
    net : WalkNetwork
    supply : GeoDataFrame, EPSG:4326
        The facilities counted as supply (``category``, optional ``id``).
    rules : dict
        The analysed categories, in result order.
    access : _UnitAccess
        The units' snaps.
    limit_m : float
        Metres; walks stop here (the largest threshold in use).
    max_snap_m : float
        Metres; a facility farther than this from every street is left out (with a warning).

    Returns
    -------
    _Distances
    """
    n = len(access.reachable)
    dist = _Distances()
    for c, rule in rules.items():
        fac = supply[supply["category"].to_numpy() == c]
        dist.counts[c] = len(fac)
        dist.hub_counts[c] = (
            int(fac["supplied_by_hub"].fillna(False).astype(bool).sum()) if "supplied_by_hub" in fac else 0
        )
        if len(fac) == 0:
            dist.warnings.append(f"没有现状「{rule.label_zh}」设施：该类覆盖率为 0")
            walk, src_ids, straight = np.full(n, np.inf), np.full(n, None, dtype=object), np.full(n, np.inf)
        else:
            fac_snap = net.snap(fac.geometry, max_snap_m=max_snap_m)
            if not fac_snap.reachable.all():
                dist.warnings.append(
                    f"{int((~fac_snap.reachable).sum())} 处「{rule.label_zh}」距道路超过 {max_snap_m:.0f} 米，未计入"
                )
            walk, src_ids = _walk_to_category(net, fac, fac_snap, access, limit_m)
            straight = _straight_to_category(fac_snap, access.base, n)
        dist.walk[c], dist.facility_id[c], dist.straight[c] = walk, src_ids, straight
    return dist


def _walk_to_category(
    net: WalkNetwork, fac: gpd.GeoDataFrame, fac_snap: Snap, access: _UnitAccess, limit_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Walking distance to the nearest of ``fac`` and its id, per unit.

    Parameters
    ----------
    net : WalkNetwork
    fac : GeoDataFrame, EPSG:4326
        The facilities of one category (optional ``id``, else the index identifies them).
    fac_snap : Snap
        ``fac`` snapped to ``net`` (network metric CRS, m).
    access : _UnitAccess
        The units' snaps; with entrances a unit takes its nearest entrance.
    limit_m : float
        Metres; farther is inf.

    Returns
    -------
    walk : ndarray of float64
        Metres, off-network legs included; inf beyond ``limit_m`` or unreachable.
    facility_id : ndarray of object
        The nearest facility's id, None where ``walk`` is inf.
    """
    n = len(access.reachable)
    walk, src = walk_to_nearest(net, fac_snap, access.snap, limit_m, access.owner, n)
    fac_ids = fac["id"].to_numpy() if "id" in fac.columns else fac.index.to_numpy()
    return walk, np.where(src >= 0, fac_ids[np.clip(src, 0, len(fac) - 1)], None)


def _straight_to_category(fac_snap: Snap, unit_snap: Snap, n: int) -> np.ndarray:
    """Crow-fly distance from each unit's representative point to the nearest facility point.

    Parameters
    ----------
    fac_snap : Snap
        The facilities of one category; their input points (``xy``, network metric CRS, m) are used.
    unit_snap : Snap
        The units' representative points (``xy``, network metric CRS, m).
    n : int
        Number of units.

    Returns
    -------
    ndarray of float64
        Metres (inf when no facility point is found).
    """
    tree = shapely.STRtree(shapely.points(fac_snap.xy))
    (qi, _fi), d = tree.query_nearest(shapely.points(unit_snap.xy), return_distance=True, all_matches=False)
    straight = np.full(n, np.inf)
    straight[qi] = d
    return straight


def _category_columns(c: str, rule: CategoryRule, dist: _Distances, speed: float) -> dict[str, np.ndarray]:
    """The result columns of one category.

    Parameters
    ----------
    c : str
        The category.
    rule : CategoryRule
        Its threshold (m).
    dist : _Distances
        The distances (m) of every category.
    speed : float
        Walking speed, m/s.

    Returns
    -------
    dict of str to ndarray
        ``<c>_walk_m`` (m, 2 decimals, NaN: none within the limit), ``<c>_walk_min`` (minutes at ``speed``),
        ``<c>_covered`` (walk within the threshold), ``<c>_straight_m`` (m), ``<c>_straight_covered``,
        ``<c>_facility_id``.
    """
    walk, straight = dist.walk[c], dist.straight[c]
    return {
        f"{c}_walk_m": np.where(np.isfinite(walk), np.round(walk, 2), np.nan),
        f"{c}_walk_min": np.where(np.isfinite(walk), np.round(walk / speed / 60.0, 2), np.nan),
        f"{c}_covered": walk <= rule.threshold_m + TOLERANCE_M,
        f"{c}_straight_m": np.where(np.isfinite(straight), np.round(straight, 2), np.nan),
        f"{c}_straight_covered": straight <= rule.threshold_m + TOLERANCE_M,
        f"{c}_facility_id": dist.facility_id[c],
    }


def _life_circle_flags(
    levels: tuple[str, ...],
    required: dict[str, tuple[str, ...]],
    level_walk: dict[str, float],
    rules: dict[str, CategoryRule],
    dist: _Distances,
) -> dict[str, object]:
    """Per level, whether each unit has the complete life circle, on foot and in a straight line.

    Parameters
    ----------
    levels : tuple of str
        The analysed life-circle levels.
    required : dict
        Required categories per level (only the analysed ones count).
    level_walk : dict of str to float
        Walking distance of each level, m.
    rules : dict
        The analysed categories and their thresholds (m).
    dist : _Distances
        Walking and straight-line distances per category, m.

    Returns
    -------
    dict
        ``complete_<level>`` and ``complete_<level>_straight``: bool per unit, every required category within
        the smaller of its threshold and the level's walk; False for a level without analysed categories.
    """
    out: dict[str, object] = {}
    for lv in levels:
        req = [c for c in required[lv] if c in rules]
        thr = level_walk[lv]
        if req:
            out[f"complete_{lv}"] = np.logical_and.reduce(
                [dist.walk[c] <= min(thr, rules[c].threshold_m) + TOLERANCE_M for c in req]
            )
            out[f"complete_{lv}_straight"] = np.logical_and.reduce(
                [dist.straight[c] <= min(thr, rules[c].threshold_m) + TOLERANCE_M for c in req]
            )
        else:
            out[f"complete_{lv}"] = False
            out[f"complete_{lv}_straight"] = False
    return out


def _missing_categories(out: dict, rules: dict[str, CategoryRule]) -> list[list[str]]:
    """Per unit, the analysed categories not covered on foot (from the ``<c>_covered`` columns of ``out``)."""
    covered = np.stack([out[f"{c}_covered"] for c in rules], axis=1)
    names = np.array(list(rules), dtype=object)
    return [list(names[~row]) for row in covered]


def _unit_communities(u: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Code and name of the community holding each unit's representative point.

    Parameters
    ----------
    u : GeoDataFrame, EPSG:4326
        Population units with a default index.
    communities : GeoDataFrame, optional
        Community polygons with ``code`` and ``name`` (any CRS; transformed to the units' CRS).

    Returns
    -------
    code, name : ndarray of object
        None for a unit outside every community, or for all units without ``communities``.
    """
    n = len(u)
    if communities is None or not len(communities):
        return np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    pts = gpd.GeoDataFrame({"_i": np.arange(n)}, geometry=unit_points(u).values, crs=u.crs)
    cm = (
        communities[["code", "name", "geometry"]].to_crs(u.crs)
        if communities.crs != u.crs
        else communities[["code", "name", "geometry"]]
    )
    joined = gpd.sjoin(pts, cm, how="left", predicate="within").drop_duplicates("_i").sort_values("_i")
    return joined["code"].to_numpy(), joined["name"].to_numpy()


# ----------------------------------------------------------------------------- aggregates with geometry
def community_rates(result: CoverageResult, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Per-community rates joined to the community polygons (communities without units keep NaN)."""
    rates = result.rates("community_code")
    cm = (
        communities[["code", "name", "street_code", "geometry"]].copy()
        if "street_code" in communities.columns
        else communities[["code", "name", "geometry"]].copy()
    )
    cm = cm.merge(rates, left_on="code", right_index=True, how="left")
    return gpd.GeoDataFrame(cm.rename(columns={"code": "community_code"}), geometry="geometry", crs=communities.crs)


def street_rates(result: CoverageResult) -> pd.DataFrame:
    return result.rates("street_code").reset_index()


# ----------------------------------------------------------------------------- service areas
def service_area(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    threshold_m: float,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    buffer_m: float = 30.0,
):
    """Polygon (EPSG:4326) reachable within ``threshold_m`` of any of ``facilities``.

    Built from the reachable street pieces (partial edges included) buffered by ``buffer_m``.
    """
    if len(facilities) == 0:
        raise InputError("no facility to compute a service area for", "没有可计算服务范围的设施")
    if not np.isfinite(threshold_m) or threshold_m <= 0:
        raise InputError("threshold must be positive", "步行距离阈值必须大于 0", threshold_m=threshold_m)
    snap = net.snap(facilities.geometry, max_snap_m=max_snap_m)
    if not snap.reachable.any():
        raise InputError(
            "the facilities are all far from the street network", f"所选设施距离步行网络均超过 {max_snap_m:.0f} 米"
        )
    res = net.nearest(snap, limit_m=threshold_m)
    poly = net.service_area(res, threshold_m, buffer_m=buffer_m)
    return net.to_wgs84([poly])[0]


def service_areas(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    rules: dict[str, CategoryRule],
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """One service-area polygon per analysed category that has facilities (EPSG:4326).

    Categories run in parallel threads (the buffering and union happen in GEOS, outside the GIL).
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(item):
        c, rule = item
        fac = facilities[facilities["category"].to_numpy() == c]
        if len(fac) == 0:
            return None
        try:
            geom = service_area(net, fac, rule.threshold_m, max_snap_m=max_snap_m)
        except InputError:
            return None
        return {
            "feature_key": c,
            "category": c,
            "category_zh": rule.label_zh,
            "walk_m": rule.threshold_m,
            "facilities": len(fac),
            "geometry": geom,
        }

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        rows = [r for r in pool.map(one, rules.items()) if r is not None]
    if not rows:
        return gpd.GeoDataFrame({"category": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
