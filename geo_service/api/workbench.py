"""``/workbench``: the planners' workbench page, and who the signed-in user is (``/workbench/me``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..core.auth import LAYER_WRITERS, PERMISSIONS, ROLE_ZH, authenticate
from ..core.storage import Store
from .deps import bearer, get_store
from .schemas import ERROR_RESPONSES

router = APIRouter(tags=["workbench 工作台"])


class Me(BaseModel):
    name: str
    role: str
    role_zh: str
    may: list[str] = Field(description="Named permissions of the role (plan_edit, plan_adopt, recompute, …)")
    layers: list[str] = Field(description="Layers the role may import and edit")


@router.get("/workbench", response_class=HTMLResponse, include_in_schema=False)
async def workbench(store: Annotated[Store, Depends(get_store)]) -> HTMLResponse:
    from maps.workbench import workbench_page

    return HTMLResponse(await run_in_threadpool(workbench_page, store))


@router.get(
    "/workbench/me",
    response_model=Me,
    responses={401: {"description": "No, bad or revoked token"}, **ERROR_RESPONSES},
    summary="The signed-in user and what the role may do (当前用户与权限)",
)
def me(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    _cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Me:
    p = authenticate(store, request.headers.get("authorization"))
    admin = p.role == "admin"
    return Me(
        name=p.name,
        role=p.role,
        role_zh=ROLE_ZH.get(p.role, p.role),
        may=[k for k, roles in PERMISSIONS.items() if admin or p.role in roles],
        layers=[k for k, roles in LAYER_WRITERS.items() if admin or p.role in roles],
    )
