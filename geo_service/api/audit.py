"""``/audit``: facilities and shelters audit against the spatial plan (Art. 18).

Summary as JSON, per-community audit and the other tables as GeoJSON, the shelter
assignment lines (unit to shelter) for maps, the whole audit as XLSX.  Every read uses
the newest stored run for the inputs (recomputed when a layer or the plan changed), or
the run named by ``run_id``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from facilities.audit import AuditParams, GapPlanParams

from ..core._errors import NotFoundError
from ..core.auth import Principal
from ..core.geojson import GEOJSON_MEDIA_TYPE
from ..core.storage import Store
from ._runs import check_page, output_page, run_info
from .deps import Who, get_store, require
from .layers import parse_bbox
from .schemas import ERROR_RESPONSES, FeatureCollection
from .schemas.audit import AuditSummary, BboxQ, BudgetQ, FactorQ, LimitQ, OffsetQ, PlanQ, RunQ, WalkQ
from .schemas.coverage import ProfileQ
from .schemas.runs import RunInfo

router = APIRouter(prefix="/audit", tags=["audit 设施与避难场所审计"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OUTPUTS = (
    "communities",
    "streets",
    "facilities",
    "shelters",
    "units",
    "assignment",
    "parcels",
    "developments",
    "cannot_assess",
    "shelter_share",
    "central",
    "shelter_sites",
    "category_counts",
    "gap_plan",
)


def _run(
    store: Store,
    plan,
    walk_limit_m,
    day_night_factor,
    run_id=None,
    recompute: bool = False,
    created_by: str | None = None,
    who: Principal | None | bool = True,
    budget_yuan=None,
    profile=None,
) -> dict:
    """The stored or current audit; without a user (``who`` None) only the default parameters may start a
    computation (``budget_yuan``: the gap plan's budget, yuan)."""
    from facilities.audit_service import KIND, current_audit

    if run_id is not None:
        run = store.get_analysis(int(run_id))
        if run.get("kind") != KIND:
            raise NotFoundError(f"run {run_id} is not an audit", f"运行 {run_id} 不是审计结果", run_id=run_id)
        return run
    params = AuditParams.from_input(walk_limit_m, day_night_factor, profile)
    gap_params = GapPlanParams.from_input(budget_yuan)
    defaults = plan is None and params.is_default and gap_params.is_default
    return current_audit(
        store,
        params=params,
        gap_params=gap_params,
        plan=plan,
        recompute=recompute,
        created_by=created_by,
        allow_compute=who is not None or defaults,
    )


@router.get(
    "/summary",
    response_model=AuditSummary,
    responses=ERROR_RESPONSES,
    summary="County and street totals, worst communities first (审计汇总)",
)
async def summary(
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    run_id: RunQ = None,
    profile: ProfileQ = None,
):
    run = await run_in_threadpool(_run, store, plan, walk_limit_m, day_night_factor, run_id, who=who, profile=profile)
    return AuditSummary(run=run_info(run), summary=run["summary"])


@router.post(
    "/runs", response_model=AuditSummary, responses=ERROR_RESPONSES, summary="Audit now and store the run (重新审计)"
)
async def recompute(
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(require("recompute", "重新审计"))],
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    profile: ProfileQ = None,
):
    run = await run_in_threadpool(
        _run, store, plan, walk_limit_m, day_night_factor, None, True, user.label, profile=profile
    )
    return AuditSummary(run=run_info(run), summary=run["summary"])


@router.get("/runs", response_model=list[RunInfo], summary="Stored audit runs, newest first (历次审计)")
def runs(store: Annotated[Store, Depends(get_store)]):
    return [run_info(r) for r in store.list_analyses("audit")]


@router.get(
    "/report.xlsx",
    responses={200: {"content": {XLSX: {}}}, **ERROR_RESPONSES},
    summary="The whole audit as an XLSX workbook, one sheet per topic (审计报表)",
)
async def report(
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    run_id: RunQ = None,
    street_code: Annotated[
        str | None, Query(max_length=32, description="Only this street's part (for its street office)")
    ] = None,
):
    from facilities.audit_report import write_audit
    from facilities.audit_service import run_tables

    def build() -> tuple[bytes, int]:
        run = _run(store, plan, walk_limit_m, day_night_factor, run_id, who=who)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_audit(
                Path(tmp) / "audit.xlsx",
                "xlsx",
                summary=run["summary"],
                tables=run_tables(store, run["id"]),
                street_code=street_code,
            )
            return path.read_bytes(), run["id"]

    body, rid = await run_in_threadpool(build)
    name = quote(f"设施与避难场所审计_{rid}.xlsx")
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=audit_{rid}.xlsx; filename*=UTF-8''{name}"},
    )


async def _features(
    request: Request,
    store: Store,
    output: str,
    plan,
    walk_limit_m,
    day_night_factor,
    run_id,
    bbox,
    limit,
    offset,
    who: Principal | None,
    budget_yuan=None,
):
    limit = check_page(limit)
    box = parse_bbox(bbox)
    run = await run_in_threadpool(
        _run, store, plan, walk_limit_m, day_night_factor, run_id, who=who, budget_yuan=budget_yuan
    )
    return output_page(request, store, run, output, f"audit_{output}", box, limit, offset)


@router.get(
    "/shelter-assignment",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Shelter assignment lines, unit to shelter, with persons and walk (避难安置分配线)",
)
async def shelter_assignment(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    run_id: RunQ = None,
    bbox: BboxQ = None,
    limit: LimitQ = None,
    offset: OffsetQ = 0,
):
    return await _features(
        request, store, "assignment", plan, walk_limit_m, day_night_factor, run_id, bbox, limit, offset, who
    )


@router.get(
    "/gap-plan",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary=(
        "How each community's space gap closes with idle assets, purchases, leases, swaps and extensions: lines "
        "community to space, points for needs left open, with the reason (缺口补足方案)"
    ),
)
async def gap_plan(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    budget_yuan: BudgetQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    run_id: RunQ = None,
    bbox: BboxQ = None,
    limit: LimitQ = None,
    offset: OffsetQ = 0,
):
    return await _features(
        request, store, "gap_plan", plan, walk_limit_m, day_night_factor, run_id, bbox, limit, offset, who, budget_yuan
    )


@router.get(
    "/{output}",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary=(
        "Audit per community, street, shelter, unit, parcel, development or flagged facility as GeoJSON "
        "(分专题审计结果)"
    ),
)
async def output_features(
    request: Request,
    output: str,
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    run_id: RunQ = None,
    bbox: BboxQ = None,
    limit: LimitQ = None,
    offset: OffsetQ = 0,
):
    if output not in OUTPUTS:
        raise NotFoundError(
            f"unknown audit output {output!r}; use one of {', '.join(OUTPUTS)}",
            f"未知的审计结果「{output}」，可用：{'、'.join(OUTPUTS)}",
            allowed=list(OUTPUTS),
        )
    return await _features(
        request, store, output, plan, walk_limit_m, day_night_factor, run_id, bbox, limit, offset, who
    )
