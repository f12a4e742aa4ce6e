"""``/audit``: the audit summary and the query parameters of the audit reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from .common import MAX_ID, MAX_OFFSET
from .runs import RunInfo

PlanQ = Annotated[str | None, Query(description="Plan id or name (default: the adopted plan)")]
WalkQ = Annotated[
    float | None, Query(gt=0, le=5000, description="Emergency-shelter walking limit, metres (default: the norm, 500)")
]
FactorQ = Annotated[float, Query(gt=0, le=10, description="Demand = residents x this day/night factor")]
RunQ = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="A stored audit run (default: the current one for these inputs)")
]
BudgetQ = Annotated[
    float | None,
    Query(description="Gap plan: largest total cost over the rent horizon, yuan (default: no budget; >= 0)"),
]
BboxQ = Annotated[str | None, Query(description="minx,miny,maxx,maxy, EPSG:4326")]
LimitQ = Annotated[int | None, Query(ge=1)]
OffsetQ = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class GroupCheck(BaseModel):
    """A presence check weighed by the group the required category serves (nursery: 0–3, kindergarten: 3–6…)."""

    category: str
    category_zh: str
    group: str = Field(description="0_3, 3_6, 6_12, 60plus or 80plus")
    group_zh: str
    group_residents: float | None = Field(None, description="Residents of the group, persons (null: unknown)")
    shortfall_residents: float | None = Field(
        None, description="Residents of the group in communities lacking the category, persons (null: unknown)"
    )
    communities_missing: int = Field(description="Communities lacking the category")


class AuditSummaryBody(BaseModel):
    """The stored summary of an audit run (further keys are passed through)."""

    model_config = ConfigDict(extra="allow")

    communities: int
    group_checks: list[GroupCheck] = Field(
        [], description="Presence checks per served group; no norm gives places per group, so none is checked"
    )
    warnings: list[str] = []


class AuditSummary(BaseModel):
    run: RunInfo
    summary: AuditSummaryBody = Field(
        description="County totals, streets, worst communities, shelter checks, group checks, norms used, warnings"
    )
