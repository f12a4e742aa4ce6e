"""``/health`` and ``/metadata``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..core._errors import GeoServiceError
from ..core.storage import Store
from .deps import get_store
from .schemas import Health

router = APIRouter(tags=["service 服务"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Service and database health (健康检查)",
)
def health(request: Request, store: Annotated[Store, Depends(get_store)]):
    try:
        info = store.health()
        synthetic = bool(store.get_metadata().get("synthetic", False))
    except GeoServiceError as exc:
        return JSONResponse(Health(status="unavailable", message=exc.message_zh).model_dump(), status_code=503)
    except Exception as exc:  # the database is down in a way the driver reports differently
        return JSONResponse(
            Health(status="unavailable", message=f"数据库不可用：{str(exc).splitlines()[0][:200]}").model_dump(),
            status_code=503,
        )
    shared = getattr(request.app.state, "shared", None)
    extra: dict = {}
    if shared is not None:  # Redis down is a warning: limits and jobs fall back to this process
        state = shared.health()
        extra = {"redis": state["redis"], "warnings_zh": [state["warning_zh"]] if "warning_zh" in state else []}
    return Health(status="ok", synthetic_data=synthetic, **info, **extra)


@router.get("/metadata", summary="Dataset metadata; says whether the data are synthetic (数据集说明)")
def metadata(store: Annotated[Store, Depends(get_store)]) -> dict:
    return store.get_metadata()
