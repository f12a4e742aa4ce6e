"""Pydantic models of the API's requests and responses (English snake_case fields)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int | str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    layer: str
    crs: str = Field(description="CRS of the coordinates, e.g. EPSG:4326 (x = longitude, y = latitude)")
    number_matched: int = Field(alias="numberMatched")
    number_returned: int = Field(alias="numberReturned")
    links: list[Link]
    features: list[Feature]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    backend: str | None = None
    spatial_version: str | None = None
    schema_revision: str | None = None
    synthetic_data: bool = False
    message: str | None = None


class LayerInfo(BaseModel):
    name: str
    label_zh: str
    geometry_types: list[str]
    importable: bool
    feature_count: int
    fields: list[dict[str, Any]]


class RowProblem(BaseModel):
    row: int = Field(description="Row number in the file, from 1; 0 for problems of the whole file")
    column: str | None = None
    problem: str
    problem_zh: str
    source_id: str | None = None
    value: str | None = None


class ValidationReport(BaseModel):
    layer: str
    rows: int
    bad_rows: int
    problems_total: int = Field(description="All problems found; at most 1,000 are listed")
    problems: list[RowProblem]


class ImportResult(BaseModel):
    layer: str
    rows_read: int
    inserted: int
    updated: int
    skipped: int
    source_crs: str
    report: ValidationReport


class Error(BaseModel):
    error: str
    message: str
    message_zh: str
    report: ValidationReport | None = None


ERROR_RESPONSES = {
    404: {"model": Error, "description": "Unknown layer or feature"},
    422: {"model": Error, "description": "Invalid input; for imports the per-row report, nothing written"},
    503: {"model": Error, "description": "Database unavailable"},
}
