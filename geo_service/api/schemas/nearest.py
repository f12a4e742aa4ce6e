"""``/nearest``: the nearest shelters or service points, and the categories with data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class NearestQuery(BaseModel):
    lon: float
    lat: float
    category: str
    category_zh: str
    k: int


class SnapInfo(BaseModel):
    lon: float
    lat: float
    offset_m: float = Field(description="Straight walk from the point to the street, metres")


class NearestItem(BaseModel):
    rank: int
    layer: str = Field(description="shelters or facilities")
    id: int
    source_id: str | None = None
    name: str | None = None
    address: str | None = None
    category: str
    category_zh: str
    shelter_class: str | None = None
    capacity: int | None = Field(None, description="Persons (shelters) or service capacity (facilities)")
    effective_area_m2: float | None = None
    status: str | None = None
    opening_hours: str | None = None
    walk_m: float = Field(description="Walking distance, metres, both off-street legs included")
    walk_min: float = Field(description="Walking time, minutes, at the configured walking speed")
    route: dict[str, Any] | None = Field(
        None, description="GeoJSON LineString, EPSG:4326, from the point to the feature"
    )


class NearestResponse(BaseModel):
    query: NearestQuery
    snap: SnapInfo
    walking_speed_mps: float
    results: list[NearestItem]
    message_zh: str | None = None


class CategoryCount(BaseModel):
    category: str
    category_zh: str
    count: int
