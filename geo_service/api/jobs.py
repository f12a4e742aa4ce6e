"""``/jobs``: long analyses (a full recomputation) as background jobs with a status endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..core.auth import Principal, allowed_roles, authorize
from ..core.storage import Store
from ..jobs import KINDS
from .deps import get_store, require
from .schemas import ERROR_RESPONSES, MAX_ID
from .schemas.jobs import Job, JobRequest

router = APIRouter(prefix="/jobs", tags=["jobs 后台任务"])

SHOWN_TOTALS = 5  # a units job's totals rows shown in its status (all of them stay in the stored parameters)


def _shown_params(params: dict | None) -> dict:
    """A job's parameters as shown: a units job's totals rows cut to the first few, with their count."""
    params = dict(params or {})
    rows = params.get("totals")
    if isinstance(rows, list) and len(rows) > SHOWN_TOTALS:
        params["totals"] = rows[:SHOWN_TOTALS]
        params["totals_rows"] = len(rows)
    return params


def _job(request: Request, row: dict) -> Job:
    return Job(
        **{
            k: row.get(k)
            for k in (
                "id",
                "kind",
                "status",
                "created_by",
                "created_at",
                "started_at",
                "finished_at",
                "result",
                "error",
            )
        },
        params=_shown_params(row.get("params")),
        kind_zh=KINDS.get(row["kind"], row["kind"]),
        status_url=str(request.url_for("job_status", job_id=row["id"])),
    )


@router.post(
    "",
    response_model=Job,
    status_code=202,
    responses=ERROR_RESPONSES,
    summary="Start a recomputation in the background (提交后台计算任务)",
)
def submit(
    request: Request,
    req: Annotated[JobRequest, Body()],
    user: Annotated[Principal, Depends(require("recompute", "提交重新计算任务"))],
):
    if req.kind == "units":  # writes the population_units layer: its writers only (planner, admin)
        authorize(user, allowed_roles(layer="population_units"), "生成人口单元")
    params = req.model_dump(exclude={"kind"}, exclude_none=True)
    row = request.app.state.jobs.submit(req.kind, params, user.label)
    job = _job(request, row)
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": job.status_url})


@router.get("", response_model=list[Job], summary="Recent jobs, newest first (任务列表)")
def list_jobs(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    status: Annotated[Literal["queued", "running", "done", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
):
    return [_job(request, r) for r in store.list_jobs(limit=limit, status=status)]


@router.get(
    "/{job_id}", response_model=Job, responses=ERROR_RESPONSES, summary="Status of a job (任务状态)", name="job_status"
)
def job_status(request: Request, job_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    return _job(request, request.app.state.jobs.status(job_id))
