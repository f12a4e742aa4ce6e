"""``/nearest``: the nearest shelters or service points by walking, with routes (for residents)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from .schemas import ERROR_RESPONSES
from .schemas.nearest import CategoryCount, NearestResponse

router = APIRouter(tags=["nearest 最近设施"])


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
    route: Annotated[bool, Query(description="Include the walking routes and their turn-by-turn steps")] = True,
    profile: Annotated[
        str, Query(max_length=40, description="Walking profile: standard, elderly (老年人) or wheelchair (轮椅)")
    ] = "standard",
):
    # A warm query is a lookup of about a millisecond: answered here, on the event loop, it saves the two
    # thread hand-offs a sync route costs (the call and the response validation), which under load cost
    # more than the query.  The first query of a category (labels to build) or one that must re-read the
    # layer revisions goes to a worker thread, as before.
    service = _service(request)
    if service.ready(category, profile):
        return service.query(lon, lat, category, k, with_route=route, profile=profile)
    return await run_in_threadpool(service.query, lon, lat, category, k, with_route=route, profile=profile)


@router.get("/nearest/categories", response_model=list[CategoryCount], summary="Categories with data (可查询的类别)")
def categories(request: Request):
    return _service(request).categories()
