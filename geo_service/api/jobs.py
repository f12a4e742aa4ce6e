"""``/jobs``: long analyses (a full recomputation) as background jobs with a status endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..core.auth import Principal
from ..core.storage import Store
from ..jobs import KINDS
from .deps import get_store, require
from .schemas import ERROR_RESPONSES, MAX_ID, UTCDateTime

router = APIRouter(prefix="/jobs", tags=["jobs 后台任务"])


class JobRequest(BaseModel):
    kind: Literal["coverage", "audit", "full"] = Field("full", description="coverage | audit | full (both)")
    plan: str | None = Field(None, max_length=200, description="Plan id or name (default: the adopted plan)")
    walking_speed_mps: float | None = Field(None, ge=0.1, le=5, description="Walking speed, m/s")
    walk_limit_m: float | None = Field(None, gt=0, le=5000, description="Emergency-shelter walking limit (audit)")
    day_night_factor: float | None = Field(None, gt=0, le=10)


class Job(BaseModel):
    id: int
    kind: str
    kind_zh: str
    status: Literal["queued", "running", "done", "failed"]
    params: dict[str, Any]
    created_by: str | None = None
    created_at: UTCDateTime | None = None
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    result: dict[str, Any] | None = Field(
        None, description="Run ids of the stored results (coverage_run_id, audit_run_id)"
    )
    error: str | None = None
    status_url: str


def _job(request: Request, row: dict) -> Job:
    return Job(
        **{
            k: row.get(k)
            for k in (
                "id",
                "kind",
                "status",
                "params",
                "created_by",
                "created_at",
                "started_at",
                "finished_at",
                "result",
                "error",
            )
        },
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
