"""``/shelters/scenario`` and ``/communities/{code}/poster.pdf``: query parameters and the scenario answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from .runs import RunInfo

HazardQ = Annotated[
    list[str] | None,
    Query(
        max_length=200,
        description="Active hazards: ids or source ids of the hazards layer (repeat, or separate with commas)",
    ),
]
CloseQ = Annotated[
    list[str] | None,
    Query(max_length=200, description="Closed shelters: ids or source ids of the shelters layer (repeat, or commas)"),
]
PlanQ = Annotated[str | None, Query(max_length=200, description="Plan id or name (default: the adopted plan)")]
WalkQ = Annotated[
    float | None, Query(gt=0, le=10000, description="Emergency-shelter walking limit, metres (default: the norm, 500)")
]
FactorQ = Annotated[float, Query(gt=0, le=10, description="Persons to place = residents x this day/night factor")]
FormatQ = Annotated[
    Literal["json", "geojson", "html", "xlsx"],
    Query(description="json (this answer), geojson (zones, shelters, routes, units), html (map), xlsx (workbook)"),
]


class ScenarioShelter(BaseModel):
    shelter_id: int
    name: str | None = None
    shelter_class: str | None = None
    capacity_persons: float | None = Field(None, description="persons")
    load_before: int = Field(description="persons assigned before the scenario")
    load_after: int = Field(description="persons assigned after the scenario")
    closed: bool
    closed_reason: str | None = Field(None, description="Chinese: named closed and/or the active zones it lies in")


class ScenarioUnit(BaseModel):
    unit_id: int
    name: str | None = None
    community_code: str | None = None
    demand: int = Field(description="persons to place")
    unplaced_before: int = Field(description="persons without a shelter place before")
    unplaced_after: int = Field(description="persons without a shelter place after")
    unplaced_reason: str | None = Field(None, description="Chinese reason after the scenario")


class ScenarioCommunity(BaseModel):
    community_code: str
    name: str | None = None
    demand: int
    unplaced_before: int
    unplaced_after: int
    change: int = Field(description="unplaced_after - unplaced_before, persons")


class ScenarioAnswer(BaseModel):
    run: RunInfo
    summary: dict[str, Any] = Field(description="Totals before and after, the active hazards, edges removed")
    shelters: list[ScenarioShelter] = Field(description="Shelters that take part or are closed")
    units: list[ScenarioUnit] = Field(description="Units with residents left without a place, before or after")
    communities: list[ScenarioCommunity] = Field(description="Per community, the largest increase first")
