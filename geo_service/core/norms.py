"""Planning norms: the standards behind the defaults, in one configuration place.

The defaults live in ``geo_service/norms.toml`` (shipped with the package).
Every entry carries its value(s), the ``source`` document and clause, and a
``status`` (``verified`` | ``secondary`` | ``unverified``, see
``/work/shared/NORMS.md``).  A city or county overrides any entry with a TOML
or JSON file (or a dict) of the same layout::

    [meta]
    name = "德阳市"                     # optional, shown as the source of overridden values

    [life_circles.15min]
    walk_m = 900

    [service_radius_m.health_station]  # a new entry for a known category
    value = 300
    source = "德阳市社区生活圈规划导则 第 4.2 条"
    status = "verified"

An overridden entry without its own ``source`` gets the override's name as
source and status ``unverified``, so reports never show a national source next
to a local figure.

Usage::

    norms = load_norms()                    # packaged defaults (cached)
    norms.life_circle("10min").walk_m       # 500.0
    norms.service_radius_m("kindergarten")  # 300.0
    norms.source_of("service_radius_m.kindergarten")  # (source, status)
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ._errors import GeoServiceError
from .vocab import BUILDING_USES, FACILITY_CATEGORIES, SHELTER_CLASSES

__all__ = [
    "load_norms",
    "Norms",
    "NormsError",
    "ShelterNorms",
    "LandUseNorms",
    "PopulationNorms",
    "LEVELS",
    "STATUSES",
]

LEVELS = ("5min", "10min", "15min", "block")  # life-circle levels, smallest first: block is listed last
STATUSES = ("verified", "secondary", "unverified")


class NormsError(GeoServiceError, ValueError):
    """The norms file or an override is invalid, or a norm was asked for that does not exist."""

    http_status = 422


# --- value types ---------------------------------------------------------------


def _ordered(v):
    if v[0] > v[1]:
        raise ValueError(f"range [{v[0]}, {v[1]}]: the first number must not exceed the second")
    return v


def _category(v: str) -> str:
    if v not in FACILITY_CATEGORIES:
        raise ValueError(f"unknown facility category {v!r}; known: {', '.join(FACILITY_CATEGORIES)}")
    return v


def _shelter_class(v: str) -> str:
    if v not in SHELTER_CLASSES:
        raise ValueError(f"unknown shelter class {v!r}; known: {', '.join(SHELTER_CLASSES)}")
    return v


def _every_use(v: dict[str, int]) -> dict[str, int]:
    missing = [u for u in BUILDING_USES if u not in v]
    if missing:
        raise ValueError(f"a value is needed for every building use; missing: {', '.join(missing)}")
    return v


def _building_use(v: str) -> str:
    if v not in BUILDING_USES:
        raise ValueError(f"unknown building use {v!r}; known: {', '.join(BUILDING_USES)}")
    return v


Pos = Annotated[float, Field(gt=0)]
PosInt = Annotated[int, Field(gt=0)]
Share = Annotated[float, Field(gt=0, le=1)]
Range = Annotated[tuple[Pos, Pos], AfterValidator(_ordered)]
IntRange = Annotated[tuple[PosInt, PosInt], AfterValidator(_ordered)]
ShareRange = Annotated[tuple[Share, Share], AfterValidator(_ordered)]
Category = Annotated[str, AfterValidator(_category)]
ShelterClass = Annotated[str, AfterValidator(_shelter_class)]
LandCode = Annotated[str, Field(pattern=r"^\d{2}(\d{2}){0,2}$")]
BuildingUse = Annotated[str, AfterValidator(_building_use)]
Level = Literal["5min", "10min", "15min", "block"]
# Age groups of residents (population_units columns residents_<group>); "all" weighs every resident.
AgeGroup = Literal["all", "0_3", "3_6", "0_6", "6_12", "60plus", "80plus"]
Status = Literal["verified", "secondary", "unverified"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Model):
    """One norm: its value fields plus where it comes from."""

    source: str = Field(min_length=1)
    status: Status
    note: str | None = None


class Quantity(Entry):
    value: Pos
    alternatives: tuple[Pos, ...] = ()


class Count(Entry):
    value: PosInt


class ShareEntry(Entry):
    value: Share


class IntRangeEntry(Entry):
    value: IntRange


class ShareRangeEntry(Entry):
    value: ShareRange


class WalkLimit(Quantity):
    walk_minutes: Pos | None = None


class LifeCircle(Entry):
    label_zh: str
    walk_m: Pos | None = None
    walk_range_m: Range | None = None
    residents: IntRange
    dwellings: IntRange


class FacilityList(Entry):
    value: tuple[Category, ...]
    verified_items: tuple[Category, ...] = ()


class ParkMinimum(Entry):
    min_area_m2: Pos
    min_width_m: Pos


class FacilityMinimum(Entry):
    floor_m2: Pos | None = None
    preferred_floor_m2: Pos | None = None
    land_m2: Pos | None = None
    classes: PosInt | None = None


class ShelterClasses(Entry):
    value: tuple[ShelterClass, ...]
    fixed_terms: tuple[Literal["short", "medium", "long"], ...] = ()


class Codes(Entry):
    value: tuple[LandCode, ...]


class FacilityCodes(Entry):
    codes: dict[Category, LandCode]


class CompatibleCodes(Entry):
    default: tuple[LandCode, ...]
    by_category: dict[Category, tuple[LandCode, ...]] = {}


class FloorsByUse(Entry):
    value: Annotated[dict[BuildingUse, Annotated[int, Field(ge=1, le=200)]], AfterValidator(_every_use)]


class Names(Entry):
    value: tuple[str, ...]


class SlopeModel(Entry):
    value: Literal["tobler"]
    flat_speed_kmh: Pos
    exponent: Pos
    offset: float


class GroupShares(Entry):
    value: dict[AgeGroup, Share]


class GroupsServed(Entry):
    value: dict[Category, AgeGroup]


class CategoryTiers(Entry):
    basic: tuple[Category, ...]
    quality: tuple[Category, ...]


class EmbeddedHub(Entry):
    floor_m2: Pos
    preferred_floor_m2: Pos
    min_functions: PosInt
    min_core_functions: PosInt
    core_functions: tuple[Category, ...]


class _Mobility(_Model):
    walking_speed_mps: Quantity
    elderly_walking_speed_mps: Quantity
    wheelchair_speed_mps: Quantity
    wheelchair_max_slope: ShareEntry
    wheelchair_blocking_kerbs: Names
    slope_speed: SlopeModel


class _GapPlan(_Model):
    hostable_categories: FacilityList
    ground_or_lift_categories: FacilityList
    max_floor_without_lift: Count
    outside_walk_limit_m: WalkLimit
    outside_residents_share: ShareEntry
    rent_horizon_years: Quantity


class _AgeGroups(_Model):
    census_shares: GroupShares
    served_by: GroupsServed
    service_tiers: CategoryTiers


class _Hazards(_Model):
    geohazard_default_radius_m: Quantity
    fault_zone_default_radius_m: Quantity


class _Community(_Model):
    service_floor_m2_per_100_households: Quantity
    service_space_categories: FacilityList
    workers_per_10000_residents: Quantity
    household_band: IntRangeEntry
    household_band_hebei: IntRangeEntry
    service_floor_m2_per_100_households_target: Quantity
    embedded_hub: EmbeddedHub


class _Coverage(_Model):
    walk_15min_national_2025: ShareEntry
    walk_15min_shanghai_2035: ShareEntry


class _Shelter(_Model):
    classes: ShelterClasses
    emergency_walk_limit_m: WalkLimit
    per_capita_emergency_m2: Quantity
    per_capita_fixed_m2: Quantity
    min_site_area_m2: Quantity
    site_effective_share: ShareEntry
    fixed_min_share: ShareEntry
    fixed_share_guangdong: ShareRangeEntry
    central_max_area_km2: Quantity
    central_max_residents: Count
    management_point_m2_per_10000: Quantity


class _LandUse(_Model):
    housing: Codes
    reserved_community_service: Codes
    public_service_prefixes: Codes
    facility_codes: FacilityCodes
    compatible_prefixes: CompatibleCodes
    service_floor_area_ratio: Quantity
    shelter_sites: Codes


class _Population(_Model):
    storey_height_m: Quantity
    persons_per_household: Quantity
    mixed_use_residential_share: ShareEntry
    default_floors: FloorsByUse


class _NormsModel(_Model):
    life_circles: dict[Level, LifeCircle]
    required_facilities: dict[Level, FacilityList]
    mobility: _Mobility
    service_radius_m: dict[Category, Quantity]
    parks: dict[Level, ParkMinimum]
    facility_minimums: dict[Category, FacilityMinimum]
    community: _Community
    coverage: _Coverage
    shelter: _Shelter
    land_use: _LandUse
    population: _Population
    gap_plan: _GapPlan
    age_groups: _AgeGroups
    hazards: _Hazards


# --- views -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShelterNorms:
    """Emergency-shelter norms (values only; sources via ``Norms.source_of("shelter.<field>")``)."""

    classes: tuple[str, ...]
    emergency_walk_limit_m: float
    emergency_walk_minutes: float | None
    per_capita_emergency_m2: float
    per_capita_fixed_m2: float
    min_site_area_m2: float
    site_effective_share: float
    fixed_min_share: float
    central_max_area_km2: float
    central_max_residents: int
    management_point_m2_per_10000: float


@dataclass(frozen=True)
class LandUseNorms:
    """Land-use codes (国土空间调查、规划、用途管制用地用海分类指南) the checks use."""

    housing: tuple[str, ...]
    reserved_community_service: tuple[str, ...]
    public_service_prefixes: tuple[str, ...]
    shelter_sites: tuple[str, ...]
    facility_codes: Mapping[str, str]
    compatible_default: tuple[str, ...] = ("07", "08")
    compatible_by_category: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    service_floor_area_ratio: float = 1.0

    def compatible_prefixes(self, category: str) -> tuple[str, ...]:
        """Land-use code prefixes a facility of ``category`` may stand on (default plus the category's own)."""
        return tuple(self.compatible_default) + tuple(self.compatible_by_category.get(category, ()))

    def is_compatible(self, category: str, code) -> bool:
        """Whether land planned for ``code`` may carry a facility of ``category``."""
        return str(code).strip().startswith(self.compatible_prefixes(category))

    def is_community_service_land(self, code: str) -> bool:
        """True for reserved community-service land (0702, 0704) or public-service land (08...)."""
        code = str(code).strip()
        return code in self.reserved_community_service or code.startswith(self.public_service_prefixes)


@dataclass(frozen=True)
class PopulationNorms:
    """Norms for estimating residents from buildings (sources via ``Norms.source_of("population.<field>")``).

    Attributes
    ----------
    storey_height_m : float
        Storey height (m) that turns a building height into floors: ``floors = round(height_m / storey_height_m)``.
    persons_per_household : float
        Residents per household.
    mixed_use_residential_share : float
        Share (0..1] of a mixed-use (商住) building's floor area that is housing.
    default_floors : Mapping[str, int]
        Floors by building use (:data:`~geo_service.core.vocab.BUILDING_USES`) where neither floors nor height
        are known.
    """

    storey_height_m: float
    persons_per_household: float
    mixed_use_residential_share: float
    default_floors: Mapping[str, int]


class Norms:
    """Validated, immutable planning norms with typed accessors."""

    __slots__ = ("_model", "overridden", "override_label")
    _model: _NormsModel
    overridden: tuple[str, ...]
    override_label: str | None

    def __init__(self, model: _NormsModel, overridden: tuple[str, ...] = (), override_label: str | None = None):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "overridden", tuple(overridden))  # "section.entry" paths changed by the override
        object.__setattr__(self, "override_label", override_label)

    def __setattr__(self, name, value):
        raise AttributeError("Norms is immutable; use load_norms(override=...) for other values")

    def __repr__(self) -> str:
        extra = f", override={self.override_label!r} ({len(self.overridden)} entries)" if self.override_label else ""
        return f"<Norms{extra}>"

    # life circles
    @staticmethod
    def level(level: str | int) -> Level:
        """Normalise a life-circle level: ``10``, ``"10"``, ``"10-minute"``, ``"10分钟"`` give ``"10min"``."""
        s = str(level).strip().lower()
        if s in ("block", "街坊", "居住街坊"):
            return "block"
        m = re.fullmatch(r"(5|10|15)\s*(?:min|mins|minutes?|-minute|分钟)?(?:\s*(?:life\s*)?circle|生活圈)?", s)
        if not m:
            raise NormsError(
                f"unknown life-circle level {level!r}; known: {', '.join(LEVELS)}",
                f"未知的生活圈层级 {level!r}；可用：{', '.join(LEVELS)}",
            )
        return cast(Level, f"{m.group(1)}min")  # the pattern admits only 5, 10 and 15

    def life_circle(self, level: str | int) -> LifeCircle:
        """The :class:`LifeCircle` entry (``walk_m``, ``walk_range_m``, ``residents``, ``dwellings``)."""
        return self._model.life_circles[self.level(level)]

    def required_facilities(self, level: str | int) -> tuple[str, ...]:
        """Facility categories provided at this level (not cumulative)."""
        return self._model.required_facilities[self.level(level)].value

    def level_of(self, category: str) -> Level | None:
        """Smallest life-circle level that provides ``category`` (block first), or None."""
        category = self._category(category)
        smallest_first: tuple[Level, ...] = ("block", "5min", "10min", "15min")
        for lv in smallest_first:
            fl = self._model.required_facilities.get(lv)
            if fl is not None and category in fl.value:
                return lv
        return None

    def park_minimum(self, level: str | int) -> ParkMinimum | None:
        return self._model.parks.get(self.level(level))

    # walking
    @property
    def walking_speed_mps(self) -> float:
        return self._model.mobility.walking_speed_mps.value

    def walk_m_for_minutes(self, minutes: float) -> float:
        """Walking distance in metres covered in ``minutes`` at :attr:`walking_speed_mps`."""
        return float(minutes) * 60.0 * self.walking_speed_mps

    # facilities
    @staticmethod
    def _category(category: str) -> str:
        try:
            return _category(category)
        except ValueError as e:
            raise NormsError(str(e), f"未知的设施类别 {category!r}") from None

    def service_radius_key(self, category: str, fallback: bool = True) -> str | None:
        """Norms path the service radius of ``category`` comes from (for :meth:`source_of`), or None.

        An explicit ``service_radius_m.<category>`` wins; with ``fallback`` the
        walking distance of the smallest life circle providing the category is used.
        """
        category = self._category(category)
        if category in self._model.service_radius_m:
            return f"service_radius_m.{category}"
        if fallback:
            lv = self.level_of(category)
            if lv is not None and self._model.life_circles[lv].walk_m is not None:
                return f"life_circles.{lv}"
        return None

    def service_radius_m(self, category: str, fallback: bool = True) -> float | None:
        """Service radius (walking metres) of a facility category, or None if no norm gives one."""
        key = self.service_radius_key(category, fallback)
        if key is None:
            return None
        section, name = key.split(".")
        if section == "service_radius_m":
            return self._model.service_radius_m[name].value
        return self._model.life_circles[cast(Level, name)].walk_m  # key is "life_circles.<level>"

    def facility_minimum(self, category: str) -> FacilityMinimum | None:
        return self._model.facility_minimums.get(self._category(category))

    def facility_min_floor_m2(self, category: str) -> float | None:
        """Minimum floor area (m2) per community of a facility category, or None."""
        fm = self.facility_minimum(category)
        return fm.floor_m2 if fm is not None else None

    # community
    @property
    def service_floor_m2_per_100_households(self) -> float:
        return self._model.community.service_floor_m2_per_100_households.value

    @property
    def service_space_categories(self) -> tuple[str, ...]:
        """Facility categories whose floor area counts as comprehensive service space."""
        return self._model.community.service_space_categories.value

    @property
    def community_workers_per_10000(self) -> float:
        return self._model.community.workers_per_10000_residents.value

    @property
    def household_band(self) -> tuple[int, int]:
        """(min, max) households per urban community."""
        return self._model.community.household_band.value

    @property
    def coverage_target_15min(self) -> float:
        """Target share of residents within a 15-minute walk (national, by 2025)."""
        return self._model.coverage.walk_15min_national_2025.value

    # shelters, land use
    @property
    def shelter(self) -> ShelterNorms:
        s = self._model.shelter
        return ShelterNorms(
            classes=s.classes.value,
            emergency_walk_limit_m=s.emergency_walk_limit_m.value,
            emergency_walk_minutes=s.emergency_walk_limit_m.walk_minutes,
            per_capita_emergency_m2=s.per_capita_emergency_m2.value,
            per_capita_fixed_m2=s.per_capita_fixed_m2.value,
            min_site_area_m2=s.min_site_area_m2.value,
            site_effective_share=s.site_effective_share.value,
            fixed_min_share=s.fixed_min_share.value,
            central_max_area_km2=s.central_max_area_km2.value,
            central_max_residents=s.central_max_residents.value,
            management_point_m2_per_10000=s.management_point_m2_per_10000.value,
        )

    @property
    def land_use(self) -> LandUseNorms:
        lu = self._model.land_use
        return LandUseNorms(
            housing=lu.housing.value,
            reserved_community_service=lu.reserved_community_service.value,
            public_service_prefixes=lu.public_service_prefixes.value,
            shelter_sites=lu.shelter_sites.value,
            facility_codes=types.MappingProxyType(dict(lu.facility_codes.codes)),
            compatible_default=lu.compatible_prefixes.default,
            compatible_by_category=types.MappingProxyType(dict(lu.compatible_prefixes.by_category)),
            service_floor_area_ratio=lu.service_floor_area_ratio.value,
        )

    @property
    def population(self) -> PopulationNorms:
        p = self._model.population
        return PopulationNorms(
            storey_height_m=p.storey_height_m.value,
            persons_per_household=p.persons_per_household.value,
            mixed_use_residential_share=p.mixed_use_residential_share.value,
            default_floors=types.MappingProxyType(dict(p.default_floors.value)),
        )

    # provenance
    def entries(self) -> Iterator[tuple[str, Entry]]:
        """All entries as ``("section.entry", Entry)`` pairs."""
        for section in _NormsModel.model_fields:
            sec = getattr(self._model, section)
            items = sec.items() if isinstance(sec, dict) else ((k, getattr(sec, k)) for k in type(sec).model_fields)
            for key, entry in items:
                yield f"{section}.{key}", entry

    def entry(self, path: str) -> Entry:
        """The entry at ``"section.entry"`` (further parts must name one of its fields)."""
        parts = str(path).split(".")
        entry = None
        if len(parts) >= 2:
            sec = getattr(self._model, parts[0], None) if parts[0] in _NormsModel.model_fields else None
            if isinstance(sec, dict):
                entry = sec.get(parts[1])
            elif sec is not None and parts[1] in type(sec).model_fields:
                entry = getattr(sec, parts[1])
        if entry is None or (len(parts) > 2 and parts[2] not in type(entry).model_fields):
            raise NormsError(
                f"no norm {path!r}; paths look like 'shelter.emergency_walk_limit_m' or 'life_circles.15min.walk_m'; "
                f"sections: {', '.join(_NormsModel.model_fields)}",
                f"没有规范项 {path!r}",
            )
        return entry

    def source_of(self, path: str) -> tuple[str, str]:
        """``(source, status)`` of the norm at ``path``, e.g. ``"service_radius_m.kindergarten"``."""
        e = self.entry(path)
        return e.source, e.status

    def as_dict(self) -> dict[str, Any]:
        """All norms as plain JSON-compatible data (a fresh copy)."""
        return self._model.model_dump(mode="json", exclude_none=True)


# --- loading -----------------------------------------------------------------------


def _read_override(override) -> tuple[dict, str]:
    if isinstance(override, Mapping):
        return copy.deepcopy(dict(override)), "override dict"
    path = Path(override)
    if not path.is_file():
        raise NormsError(f"norms override file not found: {path}", f"找不到规范覆盖文件：{path}")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise NormsError(f"cannot read norms override {path}: {e}", f"无法读取规范覆盖文件 {path}：{e}") from None
    if not isinstance(data, dict):
        raise NormsError(f"norms override {path} must be a table/object", f"规范覆盖文件 {path} 必须是表/对象")
    return data, path.name


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _apply_override(defaults: dict, override: dict, label: str) -> tuple[dict, list[str]]:
    merged = copy.deepcopy(defaults)
    changed = []
    for section, entries in override.items():
        if not isinstance(entries, dict) or not isinstance(merged.get(section, {}), dict):
            merged[section] = entries  # let validation report it
            continue
        sec = merged.setdefault(section, {})
        for key, new in entries.items():
            old = sec.get(key)
            if not isinstance(new, dict):
                sec[key] = new
                continue
            entry = _deep_merge(old if isinstance(old, dict) else {}, new)
            if set(new) - {"note", "source", "status"}:
                if "source" not in new:
                    old_src = old.get("source") if isinstance(old, dict) else None
                    entry["source"] = f"local override: {label}" + (f" (default source: {old_src})" if old_src else "")
                if "status" not in new:
                    entry["status"] = "unverified"
            sec[key] = entry
            changed.append(f"{section}.{key}")
    return merged, changed


def _unwrap(tp):
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _known_keys(loc: tuple) -> list[str]:
    tp: Any = _NormsModel
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _validate(data: dict, origin: str) -> _NormsModel:
    try:
        return _NormsModel.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if p != "[key]")
            path = ".".join(str(p) for p in loc)
            if err["type"] == "extra_forbidden":
                known = _known_keys(loc)
                problems.append(f"unknown key {path!r}" + (f" (known there: {', '.join(known)})" if known else ""))
            else:
                msg = err["msg"].removeprefix("Value error, ")
                got = f" (got {err['input']!r})" if err["type"] != "missing" else ""
                problems.append(f"{path}: {msg}{got}")
        text = "; ".join(problems)
        raise NormsError(
            f"invalid norms ({origin}): {text}", f"规范配置无效（{origin}）：{text}", problems=problems
        ) from None


@functools.lru_cache(maxsize=1)
def _packaged_defaults() -> tuple[dict, Norms]:
    text = resources.files(__package__).joinpath("norms.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return data, Norms(_validate(data, "packaged norms.toml"))


def load_norms(override: str | Path | Mapping | None = None) -> Norms:
    """Load the packaged norms, optionally with a city/county override on top.

    Parameters
    ----------
    override : str, Path, dict or None
        A TOML or JSON file (by suffix: ``.json`` is JSON, anything else TOML)
        or a dict with the layout of ``norms.toml``; it is deep-merged over the
        defaults (lists are replaced).  An optional ``meta.name`` names the
        override in the sources of the entries it changes.

    Returns
    -------
    Norms

    Raises
    ------
    NormsError
        For a missing/unreadable file, an unknown key (named in the message),
        a non-positive number, an unknown facility category, a reversed range
        or a bad status.
    """
    defaults, packaged = _packaged_defaults()
    if override is None:
        return packaged
    data, label = _read_override(override)
    meta = data.pop("meta", None)
    if isinstance(meta, dict) and meta.get("name"):
        label = str(meta["name"])
    merged, changed = _apply_override(defaults, data, label)
    return Norms(_validate(merged, label), tuple(changed), label)
