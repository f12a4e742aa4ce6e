"""A stored analysis run, as the analysis routers (``/coverage``, ``/audit``) describe it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RunInfo(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    network_id: int | None = None
    network_version: str | None = None
    plan_id: int | None = None
    data_revisions: dict[str, Any]
    created_at: Any
    outputs: dict[str, int] = Field(default_factory=dict)
