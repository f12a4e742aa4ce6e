"""Map pages: ``/maps`` (folium maps for staff), ``/maps/{name}`` and ``/resident`` (resident page)."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from maps.registry import MAPS, render_map
from maps.resident import resident_page

from ..core.storage import Store
from .deps import get_store
from .schemas import MAX_ID

router = APIRouter(tags=["maps 地图"])


@router.get("/maps", response_class=HTMLResponse, summary="List of the maps (地图列表)")
def maps_index(store: Annotated[Store, Depends(get_store)]):
    rows = []
    for spec in MAPS.values():
        reason = spec.available(store)
        link = (
            f'<a href="/maps/{spec.name}">{html.escape(spec.title_zh)}</a>'
            if not reason
            else html.escape(spec.title_zh)
        )
        rows.append(
            f"<li>{link} — {html.escape(spec.description_zh)}{'（' + html.escape(reason) + '）' if reason else ''}</li>"
        )
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>地图</title></head>
<body style="font-family:sans-serif;max-width:860px;margin:1em auto;padding:0 1em"><h1>地图</h1><ul>{"".join(rows)}</ul>
<p><a href="/resident">居民查询页（就近避难场所与服务网点）</a> · <a href="/">首页</a></p></body></html>"""


@router.get(
    "/maps/{name}",
    response_class=HTMLResponse,
    responses={
        code: {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for code, desc in ((404, "Unknown map, run or plan"), (409, "The map's analysis has not been run yet"))
    },
    summary="One interactive map as an HTML page (交互地图)",
)
async def map_page(
    name: str,
    store: Annotated[Store, Depends(get_store)],
    run: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Analysis run id (default: the newest run)")] = None,
    plan: Annotated[
        str | None, Query(description="Plan id or name for the plan map (default: the adopted plan)")
    ] = None,
):
    options = {"run_id": run} if run is not None else {}
    if plan is not None:
        options["plan"] = int(plan) if plan.isascii() and plan.isdigit() else plan
    page = await run_in_threadpool(render_map, name, store, **options)
    return HTMLResponse(page)


@router.get(
    "/resident", response_class=HTMLResponse, summary="Resident page: nearest shelter and service points (居民查询页)"
)
async def resident(request: Request, store: Annotated[Store, Depends(get_store)]):
    has_categories = any(getattr(r, "path", None) == "/nearest/categories" for r in request.app.routes)
    page = await run_in_threadpool(
        resident_page, store, categories_url="/nearest/categories" if has_categories else None
    )
    return HTMLResponse(page)
