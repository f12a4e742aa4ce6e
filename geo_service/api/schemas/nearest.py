"""``/nearest``: the nearest shelters or service points, and the categories with data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Maneuver = Literal[
    "depart", "straight", "slight_left", "left", "sharp_left", "slight_right", "right", "sharp_right", "uturn", "arrive"
]


class NearestQuery(BaseModel):
    lon: float
    lat: float
    category: str
    category_zh: str
    k: int
    profile: str = Field("standard", description="Walking profile: standard, elderly or wheelchair")
    profile_zh: str = Field("标准", description="The profile in Chinese (标准、老年人、轮椅)")


class RouteStep(BaseModel):
    maneuver: Maneuver
    instruction_zh: str = Field(description="The step in Chinese, e.g. 沿长江路向东步行 320 米, 右转进入黄河路")
    road_name: str | None = Field(None, description="The road walked on this step, where the data names it")
    distance_m: float = Field(description="Metres walked on this step (0 for arrive)")
    lon: float = Field(description="Where the step begins, EPSG:4326")
    lat: float = Field(description="Where the step begins, EPSG:4326")


class Route(BaseModel):
    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]] = Field(description="lon, lat pairs, EPSG:4326")
    steps: list[RouteStep] = Field(description="Turn-by-turn steps from the point to the feature")


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
    walk_min: float = Field(description="Walking time, minutes, of the walking profile (slopes included)")
    route: Route | None = Field(
        None, description="GeoJSON LineString, EPSG:4326, from the point to the feature, with its steps"
    )


class NearestResponse(BaseModel):
    query: NearestQuery
    snap: SnapInfo
    walking_speed_mps: float = Field(description="The profile's walking speed on flat ground, m/s")
    results: list[NearestItem]
    message_zh: str | None = None
    labels_from: Literal["built", "shared_file"] | None = Field(
        None,
        description="Where this process got the category's labels: built here (and shared), or loaded from the "
        "file another process wrote for the same data revision",
    )


class CategoryCount(BaseModel):
    category: str
    category_zh: str
    count: int
