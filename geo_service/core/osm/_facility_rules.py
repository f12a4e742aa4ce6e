"""The rules of :func:`geo_service.core.osm.tags.facility_category`.

:data:`_FACILITY_RULES` is an ordered table of small named rules.  Each rule
has a *condition* (does the rule apply to this feature?) and a *decision*
(the facility category, or None when the feature is deliberately dropped,
e.g. a general hospital).  The first rule whose condition holds decides;
when none applies the feature is not a facility.  Names are matched on all
name variants joined (:func:`~geo_service.core.osm._tagvalues._names`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._tagvalues import _names, _values

_RE_KINDERGARTEN = re.compile(r"幼儿园|幼稚园|kindergarten", re.I)
_RE_NURSERY = re.compile(r"托儿所|托育|早教|nursery|daycare|day care", re.I)
_RE_PRIMARY = re.compile(r"小学|附小|primary|elementary", re.I)
_RE_MIDDLE = re.compile(
    r"中学|初中|附中|[一二三四五六七八九十零〇\d]+中(?:$|[\s（(分校])|middle|junior high|secondary", re.I
)
_RE_NOT_K12 = re.compile(
    r"培训|驾校|驾驶|职业|技校|技工|中专|大学|学院|艺术学校|舞蹈|美术|琴行|university|college", re.I
)
_RE_HEALTH_CENTER = re.compile(r"社区卫生服务中心|卫生服务中心|卫生院")
_RE_HEALTH_STATION = re.compile(r"社区卫生服务站|卫生服务站|卫生室|卫生站")
_RE_ELDERLY_HOME = re.compile(r"养老院|敬老院|老年公寓|养老中心|养老公寓|护理院|福利院|颐养|nursing home", re.I)
_RE_ELDERLY_DAY = re.compile(r"日间照料|托老|养老驿站|老年驿站|养老服务站|老年活动", re.I)
_RE_CANTEEN = re.compile(r"助餐|老年食堂|社区食堂|长者食堂|幸福食堂")
_RE_COMMUNITY_OFFICE = re.compile(r"居委会|居民委员会|村委会|村民委员会|社区")
_RE_RESIDENTS_COMMITTEE = re.compile(r"居委会|居民委员会")
_RE_STREET_OFFICE = re.compile(r"街道办事处|街道办|街道|乡人民政府|镇人民政府|乡政府|镇政府|subdistrict", re.I)
_RE_HIGHER_GOV = re.compile(r"[省市区县]人民政府|[省市区县]政府|人民代表大会|政协")
_RE_SERVICE_CENTER = re.compile(r"社区服务中心|党群服务中心|便民服务中心")
_RE_SERVICE_STATION = re.compile(r"服务站")
_RE_CULTURE_CENTER = re.compile(r"文化活动中心|文化中心|文化馆|文化艺术中心")
_RE_CULTURE_STATION = re.compile(r"文化站|文化活动站|文化活动室|图书室|书屋")
_RE_EXPRESS = re.compile(r"快递|菜鸟驿站|丰巢|近邻宝|妈妈驿站|兔喜|邮政")
_RE_MARKET = re.compile(r"菜市场|农贸市场|菜场")

_HIGHER_TOWNHALL = {"city", "county", "district", "municipality", "province", "regional", "state", "national"}
_SENIOR = {"senior", "elderly"}
_CHILD = {"child", "children", "juvenile", "infant"}
_SECONDARY_LEVELS = {"2", "3", "secondary", "middle", "junior_high", "high"}


class _Feature:
    """The tags of one feature with their values split once (``values(key)``) and its names joined."""

    def __init__(self, tags: Mapping[str, Any]) -> None:
        self.tags = tags
        self.names = _names(tags)
        self._cache: dict[str, set[str]] = {}

    def values(self, key: str) -> set[str]:
        """The ``;``-separated values of ``key`` (empty set when missing)."""
        if key not in self._cache:
            self._cache[key] = _values(self.tags, key)
        return self._cache[key]

    def named(self, pattern: re.Pattern[str]) -> bool:
        """True when one of the feature's names matches ``pattern``."""
        return pattern.search(self.names) is not None


Condition = Callable[[_Feature], bool]
Decision = Callable[[_Feature], str | None]


@dataclass(frozen=True)
class _Rule:
    """One rule: when ``applies`` holds, ``decide`` gives the category (None: not a facility)."""

    name: str
    applies: Condition
    decide: Decision


def _tagged(key: str, *values: str) -> Condition:
    """Condition: ``key`` has one of ``values`` (any value when none are given)."""
    wanted = frozenset(values)
    if not wanted:
        return lambda f: bool(f.values(key))
    return lambda f: bool(f.values(key) & wanted)


def _either(*conditions: Condition) -> Condition:
    """Condition: one of ``conditions`` holds."""
    return lambda f: any(c(f) for c in conditions)


def _always(category: str) -> Decision:
    """Decision: always ``category``."""
    return lambda f: category


# --------------------------------------------------------------------------
# Decisions of the rules that look further than the matched tag
# --------------------------------------------------------------------------


def _kindergarten(f: _Feature) -> str | None:
    if f.named(_RE_NURSERY) and not f.named(_RE_KINDERGARTEN):
        return "nursery"
    return "kindergarten"


def _childcare(f: _Feature) -> str | None:
    return "kindergarten" if f.named(_RE_KINDERGARTEN) else "nursery"


def _school(f: _Feature) -> str | None:
    """By name, then by ``isced:level``/``school``; training/vocational/art schools and universities dropped."""
    for pattern, category in (
        (_RE_KINDERGARTEN, "kindergarten"),
        (_RE_PRIMARY, "primary_school"),
        (_RE_MIDDLE, "middle_school"),
    ):
        if f.named(pattern):
            return category
    if f.named(_RE_NOT_K12):
        return None
    isced = f.values("isced:level") | f.values("school")
    if isced & {"0", "kindergarten"}:
        return "kindergarten"
    if isced & _SECONDARY_LEVELS and not isced & {"1", "primary"}:
        return "middle_school"
    return "primary_school"


def _clinic(f: _Feature) -> str | None:
    if "centre" in f.values("healthcare") or f.named(_RE_HEALTH_CENTER):
        return "health_center"
    return "health_station"


def _hospital(f: _Feature) -> str | None:
    """Only a community health centre/station by name; general hospitals are dropped."""
    if f.named(_RE_HEALTH_CENTER):
        return "health_center"
    if f.named(_RE_HEALTH_STATION):
        return "health_station"
    return None


def _social_facility(f: _Feature) -> str | None:
    """Elderly homes, day care (elderly or child), meal services for seniors; anything else dropped."""
    amenity, sf, sf_for = f.values("amenity"), f.values("social_facility"), f.values("social_facility:for")
    if "nursing_home" in amenity or sf & {"nursing_home", "assisted_living"} or f.named(_RE_ELDERLY_HOME):
        return "elderly_home"
    if sf & {"soup_kitchen", "food_bank"} or f.named(_RE_CANTEEN):
        return "canteen" if (sf_for & _SENIOR or f.named(_RE_CANTEEN)) else None
    if "day_care" in sf:
        return "nursery" if sf_for & _CHILD else "elderly_day_care"
    if sf_for & _SENIOR:
        return "elderly_home" if "group_home" in sf else "elderly_day_care"
    if f.named(_RE_ELDERLY_DAY):
        return "elderly_day_care"
    return None


def _canteen_by_name(f: _Feature) -> bool:
    return f.named(_RE_CANTEEN) and bool(
        f.values("amenity") & {"restaurant", "canteen", "food_court", "fast_food", "community_centre"}
    )


def _community_centre(f: _Feature) -> str | None:
    for pattern, category in (
        (_RE_CULTURE_CENTER, "culture_center"),
        (_RE_CULTURE_STATION, "culture_station"),
        (_RE_ELDERLY_DAY, "elderly_day_care"),
    ):
        if f.named(pattern):
            return category
    if f.named(_RE_SERVICE_CENTER) and not f.named(_RE_SERVICE_STATION):
        return "community_service_center"
    if f.named(_RE_RESIDENTS_COMMITTEE):
        return "community_office"
    return "community_service_station"


def _government(f: _Feature) -> str | None:
    """Community and street offices; higher governments dropped; ``office=government`` only by name/type."""
    th_type = f.values("townhall:type")
    if th_type & {"community", "village"} or f.named(_RE_COMMUNITY_OFFICE):
        return "community_office"
    if f.named(_RE_STREET_OFFICE) or th_type & {"subdistrict", "town", "township"}:
        return "street_office"
    if th_type & _HIGHER_TOWNHALL or f.named(_RE_HIGHER_GOV):
        return None
    return "street_office" if "townhall" in f.values("amenity") else None


def _market(f: _Feature) -> bool:
    return "marketplace" in f.values("amenity") or (
        f.named(_RE_MARKET) and bool(f.values("shop") or f.values("amenity"))
    )


def _toilets(f: _Feature) -> str | None:
    return None if f.values("access") & {"private", "no", "customers"} else "public_toilet"


def _express_by_name(f: _Feature) -> bool:
    return bool(f.values("amenity") & {"post_box", "vending_machine"}) and f.named(_RE_EXPRESS)


def _culture(f: _Feature) -> str | None:
    return "culture_center" if f.named(_RE_CULTURE_CENTER) else "culture_station"


#: The rules in order; the first that applies decides.
_FACILITY_RULES: tuple[_Rule, ...] = (
    # education and child care
    _Rule("kindergarten", _tagged("amenity", "kindergarten"), _kindergarten),
    _Rule("childcare", _tagged("amenity", "childcare"), _childcare),
    _Rule("school", _tagged("amenity", "school"), _school),
    # health
    _Rule(
        "clinic",
        _either(_tagged("amenity", "clinic", "doctors"), _tagged("healthcare", "clinic", "doctor", "centre")),
        _clinic,
    ),
    _Rule("hospital", _either(_tagged("amenity", "hospital"), _tagged("healthcare", "hospital")), _hospital),
    # elderly care and social facilities
    _Rule(
        "social_facility",
        _either(_tagged("amenity", "social_facility", "nursing_home"), _tagged("social_facility")),
        _social_facility,
    ),
    _Rule("canteen_by_name", _canteen_by_name, _always("canteen")),
    # community services and government
    _Rule("community_centre", _tagged("amenity", "community_centre"), _community_centre),
    _Rule("government", _either(_tagged("amenity", "townhall"), _tagged("office", "government")), _government),
    # daily shopping and services
    _Rule("market", _market, _always("market")),
    _Rule("supermarket", _tagged("shop", "supermarket"), _always("supermarket")),
    _Rule("convenience", _tagged("shop", "convenience"), _always("convenience_store")),
    _Rule("pharmacy", _either(_tagged("amenity", "pharmacy"), _tagged("healthcare", "pharmacy")), _always("pharmacy")),
    _Rule("toilets", _tagged("amenity", "toilets"), _toilets),
    _Rule(
        "express",
        _either(_tagged("amenity", "post_office", "parcel_locker"), _tagged("vending", "parcel_pickup")),
        _always("express_station"),
    ),
    _Rule("express_by_name", _express_by_name, _always("express_station")),
    _Rule("culture", _tagged("amenity", "library", "arts_centre"), _culture),
    # open space and sports
    _Rule("park", _tagged("leisure", "park"), _always("residential_park")),
    _Rule("sports_ground", _tagged("leisure", "pitch", "fitness_station", "track"), _always("sports_ground")),
    _Rule("sports_center", _tagged("leisure", "sports_centre", "stadium"), _always("sports_center")),
)


def _first_rule(tags: Mapping[str, Any]) -> tuple[_Rule | None, str | None]:
    """The rule that decides for ``tags`` (None when no rule applies) and its category."""
    feature = _Feature(tags)
    for rule in _FACILITY_RULES:
        if rule.applies(feature):
            return rule, rule.decide(feature)
    return None, None
