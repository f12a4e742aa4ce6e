"""``/fairness``, ``/groups/coverage``, ``/hubs``: fairness of access, group-weighted coverage, norms from practice."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from .runs import RunInfo

CategoryQ = Annotated[
    str | None, Query(max_length=64, description="Facility category (default: every analysed category)")
]
StreetQ = Annotated[
    str | None, Query(max_length=64, description="Street code: its rows besides the city-wide ones (default: all)")
]
UnreachedQ = Annotated[
    str | None,
    Query(max_length=16, description="Units without a walk within the limit: cap (count at the limit) or exclude"),
]
LimitQ = Annotated[float | None, Query(ge=500, le=5000, description="Search limit of the walks, metres (default 2000)")]
PlanQ = Annotated[str | None, Query(max_length=200, description="Plan id or name (default: the adopted plan)")]


class NormRef(BaseModel):
    source: str
    status: str


class FairnessRow(BaseModel):
    category: str
    category_zh: str
    group: str = Field(description="Age group weighing this category (all, 0_3, 3_6, 6_12, 60plus, 80plus)")
    scope: str = Field(description="city or street")
    street_code: str = Field(description="Street code, 全市 for the city row")
    threshold_m: float | None = Field(None, description="The category's own walking threshold, m")
    weight: float = Field(description="Residents of the group, persons")
    reached_weight: float
    unreached_weight: float = Field(description="Residents without a walk within the search limit")
    unreached_share: float | None = None
    gini: float | None = Field(None, description="Gini of walking distance, weighted by the group's residents")
    palma: float | None = Field(None, description="Share of distance of the farthest 10 % over the nearest 40 %")
    mean_walk_m: float | None = None
    median_walk_m: float | None = None
    p90_walk_m: float | None = None
    lower_bound: bool = Field(
        description="Unreached units counted at the search limit: Gini and Palma are lower bounds"
    )
    beyond_5min_share: float | None = Field(None, description="Share farther than the 5-minute walk (300 m)")
    beyond_10min_share: float | None = Field(None, description="Share farther than the 10-minute walk (500 m)")
    beyond_15min_share: float | None = Field(None, description="Share farther than the 15-minute walk (1000 m)")
    beyond_threshold_share: float | None = Field(None, description="Share farther than the category's threshold")


class WorstUnit(BaseModel):
    category: str
    scope: str
    street_code: str
    rank: int
    unit_id: int | str
    name: str | None = None
    unit_street_code: str | None = None
    walk_m: float | None = Field(None, description="Walking distance, m; null when not reached within the limit")
    reached: bool
    weight: float = Field(description="Residents of the group in the unit")
    cum_share: float = Field(description="Share of the scope's residents (of the group) up to this unit")


class FairnessResponse(BaseModel):
    run: RunInfo
    limit_m: float
    unreached: str
    thresholds_m: dict[str, float]
    threshold_norms: dict[str, NormRef]
    notes: list[str]
    rows: list[FairnessRow]
    worst: list[WorstUnit] = Field(
        description="With category: its worst-served 10 % of residents, city-wide or of the street asked for"
    )


class GroupRow(BaseModel):
    scope: str
    street_code: str
    category: str
    category_zh: str
    group: str
    group_zh: str
    tier: str | None = Field(None, description="basic (基础保障型) or quality (品质提升型), TD/T 1062-2021")
    tier_zh: str
    group_residents: float | None = Field(None, description="Residents of the group served (null: some unit lacks it)")
    covered_group_residents: float | None = None
    uncovered_group_residents: float | None = Field(None, description="Residents of the group not covered")
    group_rate: float | None = None
    all_rate: float | None = None
    derived_share: float | None = Field(None, description="Share of the group's residents derived from the census")
    note_zh: str | None = Field(None, description="Why the group rate is null (Chinese)")


class CategoryProfile(BaseModel):
    category: str
    category_zh: str
    group: str
    group_zh: str
    tier: str | None = None
    tier_zh: str
    group_norm_source: str
    group_norm_status: str
    tier_norm_source: str
    tier_norm_status: str


class GroupCoverageResponse(BaseModel):
    run: RunInfo
    coverage_run_id: int
    categories: list[CategoryProfile]
    notes: list[str]
    rows: list[GroupRow]


class HubRow(BaseModel):
    facility_id: int | str
    name: str | None = None
    category: str
    status: str
    floor_area_m2: float | None = None
    functions: str
    functions_zh: str
    function_count: int
    core_functions: str
    core_count: int
    unknown_functions: str
    floor_ok: bool
    floor_preferred: bool
    hub_status: str = Field(description="meets, fails or cannot_assess")
    hub_status_zh: str
    reasons_zh: str
    norm_source: str
    norm_status: str
    lon: float | None = None
    lat: float | None = None


class ServiceSpaceRow(BaseModel):
    community_code: str
    name: str | None = None
    street_code: str | None = None
    households: float | None = None
    service_floor_m2: float
    facilities_without_area: int
    minimum_m2: float | None = None
    target_m2: float | None = None
    gap_to_minimum_m2: float | None = None
    gap_to_target_m2: float | None = None
    floor_tier: str = Field(description="meets_target, meets_minimum, below_minimum or cannot_assess")
    floor_tier_zh: str
    reason_zh: str
    minimum_norm_source: str
    minimum_norm_status: str
    target_norm_source: str
    target_norm_status: str


class HubsResponse(BaseModel):
    run: RunInfo
    summary: dict
    hubs: list[HubRow]
    service_space: list[ServiceSpaceRow]
