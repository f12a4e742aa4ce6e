"""Map pages: ``/maps`` (folium maps for staff), ``/maps/{name}`` and ``/resident`` (resident page)."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from maps.assets import STATIC_DIR
from maps.registry import MAPS, render_map
from maps.resident import SW_JS, categories_with_data, resident_page
from maps.resident_answers import AREA_Z, ResidentAnswers

from ..core._errors import InputError
from ..core.jsonvalues import dumps
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
    counted = await run_in_threadpool(request.app.state.nearest.categories)
    page = await run_in_threadpool(
        resident_page,
        store,
        categories_url="/nearest/categories",
        categories=categories_with_data(counted),
    )
    return HTMLResponse(page)


@router.get(
    "/resident/sw.js",
    response_class=FileResponse,
    responses={200: {"content": {"text/javascript": {}}, "description": "The service worker (scope /resident)"}},
    summary="Service worker of the resident page (居民查询页离线缓存)",
)
def resident_service_worker():
    # served under /resident/ but controlling the page /resident itself: the header widens the allowed scope
    return FileResponse(
        STATIC_DIR / SW_JS,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


def _answers(request: Request, store: Store) -> ResidentAnswers:
    answers = getattr(request.app.state, "resident_answers", None)
    if answers is None or answers.store is not store:
        answers = ResidentAnswers(store)
        request.app.state.resident_answers = answers
    return answers


def _area(x: int, y: int) -> None:
    n = 1 << AREA_Z
    if not (0 <= x < n and 0 <= y < n):
        raise InputError(
            f"no area {x}/{y} at zoom {AREA_Z}", f"区域编号 {x}/{y} 无效（第 {AREA_Z} 级瓦片，行列号 0-{n - 1}）"
        )


def _json(body: dict) -> Response:
    return Response(dumps(body), media_type="application/json", headers={"Cache-Control": "public, max-age=60"})


AREA_RESPONSES = {
    code: {"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for code, desc in ((404, "Unknown category or no data"), (422, "Invalid area or category"))
}


@router.get(
    "/resident/areas/net/{x}/{y}.json",
    responses=AREA_RESPONSES,
    summary="Walking-network edges of one area, for answers on the phone (居民页离线数据：步行网络)",
    description=f"Area = Web Mercator tile of zoom {AREA_Z}. Edges within the snap distance, their end nodes and "
    "lengths (m), vertices in the network's metric CRS relative to the area origin, and the lon/lat fits.",
)
async def resident_area_net(x: int, y: int, request: Request, store: Annotated[Store, Depends(get_store)]):
    _area(x, y)
    return _json(await run_in_threadpool(_answers(request, store).net_area, x, y))


@router.get(
    "/resident/areas/{category}/sources.json",
    responses=AREA_RESPONSES,
    summary="Shelters or service points of a category with their snap on the network (居民页离线数据：设施)",
)
async def resident_area_sources(category: str, request: Request, store: Annotated[Store, Depends(get_store)]):
    return _json(await run_in_threadpool(_answers(request, store).sources, category))


@router.get(
    "/resident/areas/{category}/{x}/{y}.json",
    responses=AREA_RESPONSES,
    summary="Nearest source of every node of one area (居民页离线数据：各节点最近设施)",
    description="Per node: walking distance (m), source index, predecessor node and edge toward the source.",
)
async def resident_area_labels(
    category: str, x: int, y: int, request: Request, store: Annotated[Store, Depends(get_store)]
):
    _area(x, y)
    return _json(await run_in_threadpool(_answers(request, store).labels_area, category, x, y))
