"""``/jobs``: a job request and a job's status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import UTCDateTime


class JobRequest(BaseModel):
    kind: Literal["coverage", "audit", "full", "units"] = Field(
        "full", description="coverage | audit | full (both) | units (population units from totals)"
    )
    plan: str | None = Field(None, max_length=200, description="Plan id or name (default: the adopted plan)")
    walking_speed_mps: float | None = Field(None, ge=0.1, le=5, description="Walking speed, m/s")
    walk_limit_m: float | None = Field(None, gt=0, le=5000, description="Emergency-shelter walking limit (audit)")
    day_night_factor: float | None = Field(None, gt=0, le=10)
    totals: list[dict[str, str | int | None]] | None = Field(
        None,
        max_length=100_000,
        description="units: official totals as rows (code and/or name, residents, households, level; "
        "Chinese keys such as 代码, 名称, 常住人口, 户数, 层级 are recognised). A CSV/XLSX file: POST /units/build",
    )
    levels: list[Literal["district", "street", "community", "grid"]] | None = Field(
        None, max_length=1, description="units: the level of rows without a level key"
    )


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
        None, description="Run ids of the stored results (coverage_run_id, audit_run_id, units_run_id)"
    )
    error: str | None = None
    status_url: str
