"""``/audit``: the audit summary and the query parameters of the audit reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

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


class AuditSummary(BaseModel):
    run: RunInfo
    summary: dict[str, Any] = Field(
        description="County totals, streets, worst communities, shelter checks, norms used, warnings"
    )
