"""``/coverage``: the coverage summary, the siting request and answer, the query parameters of the reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from .runs import RunInfo

LevelsQ = Annotated[str | None, Query(description="Life-circle levels, comma separated (5min,10min,15min)")]
SpeedQ = Annotated[float | None, Query(ge=0.1, le=5, description="Walking speed, m/s, 0.1-5 (default from the norms)")]
ProfileQ = Annotated[
    str | None,
    Query(max_length=40, description="Walking profile: standard (default), elderly (老年人) or wheelchair (轮椅)"),
]
PlanQ = Annotated[str | None, Query(description="Plan id or name (default: the adopted plan)")]


class CoverageCategory(BaseModel):
    """One analysed category city-wide: over all residents and over the group of residents it serves."""

    model_config = ConfigDict(extra="allow")

    category: str
    category_zh: str
    level: str | None = None
    threshold_m: float
    threshold_min: float | None = None
    norm_source: str | None = None
    facilities: int = Field(description="Facilities counted as supply, hubs listing the category included")
    hub_facilities: int = Field(0, description="Of which hubs whose functions list the category (嵌入式综合体)")
    walk_rate: float | None = Field(None, description="Share of all residents covered on foot")
    straight_rate: float | None = None
    barrier_cost: float | None = None
    group: str | None = Field(None, description="Group served: 0_3, 3_6, 6_12, 60plus, 80plus or all (服务对象)")
    group_zh: str | None = None
    tier: str | None = Field(None, description="TD/T 1062-2021 tier: basic (基础保障型) or quality (品质提升型)")
    tier_zh: str | None = None
    group_norm_source: str | None = None
    group_norm_status: str | None = None
    tier_norm_source: str | None = None
    tier_norm_status: str | None = None
    group_residents: float | None = Field(None, description="Residents of the group served, persons")
    group_covered_residents: float | None = None
    group_uncovered_residents: float | None = Field(None, description="Residents of the group not covered, persons")
    group_rate: float | None = Field(
        None, description="Share of the group covered on foot; null with group_note_zh when it cannot be computed"
    )
    group_derived_share: float | None = Field(
        None, description="Share of the group's residents derived from the census shares rather than given"
    )
    group_note_zh: str | None = Field(None, description="Why group_rate is null (Chinese)")


class CoverageSummaryBody(BaseModel):
    """The stored summary of a coverage run (further keys are passed through)."""

    model_config = ConfigDict(extra="allow")

    residents: int
    units: int
    categories: list[CoverageCategory]
    levels: list[dict[str, Any]]
    groups_note_zh: str | None = Field(None, description="Why some units lack residents per age group")
    warnings: list[str] = []


class CoverageSummary(BaseModel):
    run: RunInfo
    summary: CoverageSummaryBody = Field(
        description="City-wide rates per category (all residents and the group served) and level "
        "(fractions 0..1), streets, warnings"
    )


class SitingRequest(BaseModel):
    category: str = Field(description="Facility category to site")
    k: int = Field(ge=1, le=200, description="Number of new sites")
    walk_m: float | None = Field(None, gt=0, le=5000, description="Coverage threshold, metres (default: the norm)")
    candidates: list[tuple[float, float]] | None = Field(
        None,
        max_length=5000,
        description="[lon, lat] candidate points; default: plan parcels reserved for community services",
    )
    exact_check: bool = Field(False, description="Also solve exactly (<= 300 candidates) and report the greedy gap")


class SitingPick(BaseModel):
    rank: int
    candidate_id: str
    name: str | None = None
    land_use_code: str | None = None
    lon: float
    lat: float
    gain_residents: int
    covered_residents: int
    covered_share: float


class SitingResponse(BaseModel):
    category: str
    category_zh: str
    walk_m: float
    k: int
    candidates: int
    unreachable_candidates: int
    baseline_covered_residents: int
    total_residents: int
    picks: list[SitingPick]
    stop_reason: str
    method: str
    exact_check: dict[str, Any] | None = None
