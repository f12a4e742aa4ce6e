"""``/admin``: the change log and the users."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .common import UTCDateTime


class Change(BaseModel):
    id: int
    at: UTCDateTime
    actor: str = Field(description="User name (cli:<os user> for the command line)")
    role: str | None = None
    action: str = Field(
        description="import, feature_create/update/delete, plan_delineate/edit/copy/adopt, recompute, "
        "job_submit, user_*"
    )
    target_type: str = Field(description="Layer name, plan, analysis_run, job or user")
    target_id: str | None = None
    detail: dict[str, Any]


class ChangePage(BaseModel):
    total: int
    limit: int
    offset: int
    changes: list[Change]


class UserInfo(BaseModel):
    id: int
    name: str
    role: str
    created_at: UTCDateTime | None = None
    revoked_at: UTCDateTime | None = None
    active_tokens: int
    last_used_at: UTCDateTime | None = None
