"""``/search``: find a compound, road, facility, shelter, street or address in the project's own layers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from facilities.search import DEFAULT_LIMIT, SearchService

from .schemas import ERROR_RESPONSES
from .schemas.search import SearchResponse

router = APIRouter(tags=["search 搜索"])


def _service(request: Request) -> SearchService:
    return request.app.state.search  # one per app (process), made in create_app; its index is built on first use


@router.get(
    "/search",
    response_model=SearchResponse,
    response_model_exclude_none=False,
    responses=ERROR_RESPONSES,
    summary="Search compounds, roads, facilities and addresses by name (按名称或地址搜索小区、道路、设施)",
)
def search(
    request: Request,
    q: Annotated[str, Query(description="Chinese name or address, or pinyin initials (1-100 characters)")] = "",
    limit: Annotated[int, Query(description="How many hits, 1-50")] = DEFAULT_LIMIT,
    kinds: Annotated[
        str | None,
        Query(
            description="Comma-separated: facility, shelter, compound, road, street, district, residential_area, "
            "building"
        ),
    ] = None,
    near: Annotated[str | None, Query(description="'lon,lat' (EPSG:4326): equal matches nearest first")] = None,
):
    # q, limit, kinds and near are checked by SearchQuery.from_input (422 with a Chinese message)
    return _service(request).search(q, limit, kinds, near)
