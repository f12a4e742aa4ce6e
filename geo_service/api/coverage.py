"""``/coverage``: life-circle coverage (Art. 12): summary, per-unit results, gaps, service areas, siting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from facilities.coverage import CoverageParams

from ..core.auth import Principal
from ..core.geojson import GEOJSON_MEDIA_TYPE, feature_collection_json
from ..core.storage import Store
from ._runs import check_page, output_page, run_info
from .deps import Who, get_store, require
from .layers import parse_bbox
from .schemas import ERROR_RESPONSES, MAX_ID, MAX_OFFSET, FeatureCollection
from .schemas.coverage import CoverageSummary, LevelsQ, PlanQ, ProfileQ, SitingRequest, SitingResponse, SpeedQ
from .schemas.runs import RunInfo

router = APIRouter(prefix="/coverage", tags=["coverage 生活圈覆盖"])
OUTPUTS = ("units", "communities", "streets", "gaps")


def _run(
    store: Store,
    plan,
    levels,
    speed,
    recompute: bool = False,
    created_by: str | None = None,
    who: Principal | None | bool = True,
    profile: str | None = None,
) -> dict:
    """The current coverage run; without a user (``who`` None) only the default parameters may start a computation."""
    from facilities.service import current_coverage

    params = CoverageParams.from_input(levels, walking_speed_mps=speed, profile=profile)
    defaults = plan is None and levels is None and speed is None and params.profile == "standard"
    return current_coverage(
        store,
        params=params,
        plan=plan,
        recompute=recompute,
        created_by=created_by,
        allow_compute=who is not None or defaults,
    )


@router.get(
    "/summary",
    response_model=CoverageSummary,
    responses=ERROR_RESPONSES,
    summary="City-wide coverage and complete life-circle rates (覆盖率汇总)",
)
async def summary(
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    levels: LevelsQ = None,
    walking_speed_mps: SpeedQ = None,
    profile: ProfileQ = None,
):
    run = await run_in_threadpool(_run, store, plan, levels, walking_speed_mps, who=who, profile=profile)
    return CoverageSummary(run=run_info(run), summary=run["summary"])


@router.post("/runs", response_model=CoverageSummary, responses=ERROR_RESPONSES, summary="Recompute now (重新计算)")
async def recompute(
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(require("recompute", "重新计算"))],
    plan: PlanQ = None,
    levels: LevelsQ = None,
    walking_speed_mps: SpeedQ = None,
    profile: ProfileQ = None,
):
    run = await run_in_threadpool(_run, store, plan, levels, walking_speed_mps, True, user.label, profile=profile)
    return CoverageSummary(run=run_info(run), summary=run["summary"])


@router.get("/runs", response_model=list[RunInfo], summary="Stored coverage runs, newest first (历次计算)")
def runs(store: Annotated[Store, Depends(get_store)]):
    return [run_info(r) for r in store.list_analyses("coverage")]


@router.get(
    "/service-areas",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Area reachable within the threshold, per category or for chosen facilities (服务范围)",
)
async def service_areas(
    store: Annotated[Store, Depends(get_store)],
    _user: Annotated[Principal, Depends(require("recompute", "计算服务范围"))],
    category: Annotated[
        list[str] | None, Query(description="Facility categories (repeat); default all analysed")
    ] = None,
    facility_id: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
        Query(description="Facility ids (repeat) instead of categories"),
    ] = None,
    walk_m: Annotated[float | None, Query(gt=0, le=5000, description="Threshold, metres (default: the norm)")] = None,
):
    from facilities.service import service_areas_from_store

    gdf = await run_in_threadpool(
        service_areas_from_store, store, categories=category, walk_m=walk_m, facility_ids=facility_id
    )
    gdf = gdf.reset_index(drop=True)
    gdf["id"] = range(1, len(gdf) + 1)
    return Response(
        feature_collection_json(gdf, extra={"layer": "service_areas", "crs": "EPSG:4326"}),
        media_type=GEOJSON_MEDIA_TYPE,
    )


@router.post(
    "/siting",
    response_model=SitingResponse,
    responses=ERROR_RESPONSES,
    summary="Choose k new sites adding the most covered residents (新增设施选址)",
)
async def siting(
    body: SitingRequest,
    store: Annotated[Store, Depends(get_store)],
    _user: Annotated[Principal, Depends(require("recompute", "运行选址分析"))],
):
    from facilities.service import SitingParams, siting_from_store

    params = SitingParams.from_input(
        body.category, body.k, walk_m=body.walk_m, candidates=body.candidates, exact_check=body.exact_check
    )
    return await run_in_threadpool(siting_from_store, store, params)


@router.get(
    "/{output}",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Per-unit results, community rates, street rates or gaps as GeoJSON (分单元结果、社区、街道、缺口)",
)
async def output_features(
    request: Request,
    output: str,
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    levels: LevelsQ = None,
    walking_speed_mps: SpeedQ = None,
    profile: ProfileQ = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy, EPSG:4326")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
):
    if output not in OUTPUTS:
        from ..core._errors import NotFoundError

        raise NotFoundError(
            f"unknown coverage output {output!r}; use one of {', '.join(OUTPUTS)}",
            f"未知的覆盖分析结果「{output}」，可用：{'、'.join(OUTPUTS)}",
            allowed=list(OUTPUTS),
        )
    limit = check_page(limit)
    box = parse_bbox(bbox)
    run = await run_in_threadpool(_run, store, plan, levels, walking_speed_mps, who=who, profile=profile)
    return output_page(request, store, run, output, f"coverage_{output}", box, limit, offset)
