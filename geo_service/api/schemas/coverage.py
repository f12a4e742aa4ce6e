"""``/coverage``: the coverage summary, the siting request and answer, the query parameters of the reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from .runs import RunInfo

LevelsQ = Annotated[str | None, Query(description="Life-circle levels, comma separated (5min,10min,15min)")]
SpeedQ = Annotated[float | None, Query(ge=0.1, le=5, description="Walking speed, m/s, 0.1-5 (default from the norms)")]
ProfileQ = Annotated[
    str | None,
    Query(max_length=40, description="Walking profile: standard (default), elderly (老年人) or wheelchair (轮椅)"),
]
PlanQ = Annotated[str | None, Query(description="Plan id or name (default: the adopted plan)")]


class CoverageSummary(BaseModel):
    run: RunInfo
    summary: dict[str, Any] = Field(
        description="City-wide rates per category and level (fractions 0..1), streets, warnings"
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
