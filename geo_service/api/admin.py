"""``/admin``: the change log (who changed what, when) and the users, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ..core.auth import Principal
from ..core.storage import Store
from .deps import get_store, require
from .schemas.admin import ChangePage, UserInfo

router = APIRouter(prefix="/admin", tags=["admin 管理"])
AdminOnly = Annotated[Principal, Depends(require("read_changes", "查看修改记录"))]


@router.get("/changes", response_model=ChangePage, summary="Change log, newest first (修改记录)")
def changes(
    store: Annotated[Store, Depends(get_store)],
    _admin: AdminOnly,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    target_type: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="Only changes at or after this time (ISO 8601)")] = None,
):
    rows, total = store.list_changes(limit=limit, offset=offset, actor=actor, target_type=target_type, since=since)
    return ChangePage(total=total, limit=limit, offset=offset, changes=rows)


@router.get("/users", response_model=list[UserInfo], summary="Users and their roles (用户与角色)")
def users(store: Annotated[Store, Depends(get_store)], _admin: AdminOnly):
    return store.list_users()
