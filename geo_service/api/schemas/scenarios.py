"""``/scenarios``: what-if scenarios, their analyses and comparisons (issue 17)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from .common import UTCDateTime

ScenarioRefQ = Annotated[
    str, Query(min_length=1, max_length=200, description="Scenario id or name, or `baseline` (现状) for the layers")
]
LayerQ = Annotated[Literal["units", "communities", "shelters"], Query(description="Difference layer")]


class ScenarioIn(BaseModel):
    """A new scenario: its name, a description and its changes (JSON format: docs/scenarios.md)."""

    name: str = Field(..., min_length=1, max_length=100, description="Unique name (情景方案名称)")
    description: str | None = Field(None, max_length=2000)
    changes: dict[str, Any] = Field(
        default_factory=dict,
        description="facilities/shelters {add, move, close}, developments, plan, norms (dotted keys), cost_inputs",
    )


class ScenarioPatch(BaseModel):
    """Fields of a scenario to change (those given)."""

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    changes: dict[str, Any] | None = None


class Scenario(BaseModel):
    id: int
    name: str
    description: str | None = None
    changes: dict[str, Any]
    created_by: str | None = None
    created_at: UTCDateTime | None = None
    updated_at: UTCDateTime | None = None


class AnalysisAnswer(BaseModel):
    """One analysis on a scenario: how it was obtained (baseline reused, partial, full) and its figures."""

    scenario: str
    how: str | None = None
    notes: list[str] = []
    coverage: dict[str, Any] | None = None
    e2sfca_categories: list[str] | None = None
    audit: dict[str, Any] | None = None
    shelters: dict[str, Any] | None = None


class CategoryChange(BaseModel):
    category: str
    category_zh: str
    residents_covered_a: int
    residents_covered_b: int
    newly_covered: int
    newly_uncovered: int
    rate_a: float | None = None
    rate_b: float | None = None


class CostItem(BaseModel):
    item: str
    yuan: float | None = None
    note: str | None = None


class Comparison(BaseModel):
    """Two states compared (``a`` then ``b``): residents newly covered/uncovered per category (persons), the
    service-space gap (m², audit), persons without a shelter place, and the cost inputs (yuan)."""

    a: str
    b: str
    residents_a: int | None = None
    residents_b: int | None = None
    categories: list[CategoryChange]
    newly_covered: int
    newly_uncovered: int
    service_gap_m2_a: float | None = None
    service_gap_m2_b: float | None = None
    service_gap_closed_m2: float | None = None
    unplaced_a: int | None = None
    unplaced_b: int | None = None
    unplaced_change: int | None = None
    cost_inputs_a: list[CostItem] = []
    cost_inputs_b: list[CostItem] = []
    cost_total_yuan_a: float | None = None
    cost_total_yuan_b: float | None = None
    how_a: dict[str, str] = {}
    how_b: dict[str, str] = {}
    notes: list[str] = []


class BatchRequest(BaseModel):
    """Scenarios (ids or names) to run against the baseline in one background job."""

    scenarios: list[str | int] = Field(..., min_length=1, max_length=20)
    analyses: list[Literal["coverage", "e2sfca", "audit", "shelters"]] | None = Field(None, max_length=4)
