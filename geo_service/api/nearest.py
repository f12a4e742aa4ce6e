"""``/nearest``: the nearest shelters or service points by walking, with routes (for residents)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .schemas import ERROR_RESPONSES

router = APIRouter(tags=["nearest 最近设施"])


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


def _service(request: Request):
    return request.app.state.nearest


@router.get(
    "/nearest",
    response_model=NearestResponse,
    responses=ERROR_RESPONSES,
    summary="Nearest shelters or service points by walking (最近的避难场所或服务设施)",
)
async def nearest(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, EPSG:4326")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, EPSG:4326")],
    category: Annotated[str, Query(description="'shelter' or a facility category code")] = "shelter",
    k: Annotated[int, Query(ge=1, le=5, description="How many")] = 3,
    route: Annotated[bool, Query(description="Include the walking routes")] = True,
):
    # A warm query is a lookup of about a millisecond: answered here, on the event loop, it saves the two
    # thread hand-offs a sync route costs (the call and the response validation), which under load cost
    # more than the query.  The first query of a category (labels to build) or one that must re-read the
    # layer revisions goes to a worker thread, as before.
    service = _service(request)
    if service.ready(category):
        return service.query(lon, lat, category, k, with_route=route)
    return await run_in_threadpool(service.query, lon, lat, category, k, with_route=route)


@router.get("/nearest/categories", response_model=list[CategoryCount], summary="Categories with data (可查询的类别)")
def categories(request: Request):
    return _service(request).categories()
