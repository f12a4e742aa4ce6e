"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from maps.assets import STATIC_DIR

from . import __version__
from .api._limits import LimitsMiddleware
from .core._errors import DatabaseUnavailable, GeoServiceError
from .core.layers import LAYERS
from .core.shared_state import shared_state_from
from .core.storage import Store
from .jobs import JobRunner


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, let running jobs finish and stop the queue's threads (no job writes after the app is gone); on
    start-up, start them again if an earlier shutdown stopped them."""
    app.state.jobs.start()
    yield
    app.state.jobs.shutdown(wait=True)


def create_app(store: Store | None = None) -> FastAPI:
    """Build the app around a :class:`Store` (default: from settings; schema upgraded)."""
    from facilities.nearest import NearestService
    from facilities.search import SearchService

    from .api import coverage, docs, health, layers, maps, nearest, ogc, tiles

    if store is None:
        store = Store()
        store.upgrade()
    app = FastAPI(
        title="社区治理空间规划与设施服务 Geo Service",
        version=__version__,
        description="Map APIs for community delineation (Art. 3), life circles (Art. 12) and facilities (Art. 18) "
        "of the 德阳市社区治理条例. Coordinates in EPSG:4326 unless a crs parameter says otherwise.",
        docs_url=None,  # /docs is api/docs.py: Swagger UI from the service's own static files, no CDN
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.store = store
    app.state.nearest = NearestService(store)
    app.state.search = SearchService(store)
    app.state.shared = shared_state_from(store.settings)  # Redis (GEO_REDIS_URL) or None
    app.state.jobs = JobRunner(store, workers=store.settings.job_workers, shared=app.state.shared)
    app.add_middleware(LimitsMiddleware, settings=store.settings, shared=app.state.shared)

    @app.exception_handler(GeoServiceError)
    async def _service_error(_request: Request, exc: GeoServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        # FastAPI's own 422 (``detail``: one entry per bad parameter) plus the service's bilingual message.
        detail = jsonable_encoder(exc.errors())
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in detail[:5])
        return JSONResponse(
            {
                "error": "RequestValidationError",
                "message": f"invalid request: {where}",
                "message_zh": f"请求参数无效：{where}",
                "detail": detail,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        # Starlette's and FastAPI's own answers (unknown path, wrong method, a body that is not JSON) in the same form.
        zh = {400: "请求内容无法解析（例如不是有效的 JSON）", 404: "没有这个地址", 405: "此地址不支持该请求方法"}
        body = {
            "error": "HTTPError",
            "message": str(exc.detail),
            "message_zh": zh.get(exc.status_code, f"请求出错（HTTP {exc.status_code}）"),
        }
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    async def _db_error(_request: Request, exc: OperationalError):
        err = DatabaseUnavailable(
            f"database unavailable: {str(exc).splitlines()[0][:200]}", "数据库暂不可用，请稍后重试"
        )
        return JSONResponse(err.to_dict(), status_code=503)

    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(layers.router)
    app.include_router(nearest.router)
    app.include_router(coverage.router)
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(maps.router)
    from .api import plans as plans_api  # Art. 3: community boundary plans

    app.include_router(plans_api.router)
    from .api import audit as audit_api  # Art. 18: facilities and shelters audit

    app.include_router(audit_api.router)
    from .api import admin, jobs  # issue 7: background jobs, change log

    app.include_router(jobs.router)
    app.include_router(admin.router)
    from .api import templates  # issue 14: XLSX import templates

    app.include_router(templates.router)
    from .api import search  # issue 16: search on the project's own data

    app.include_router(search.router)
    from .api import fairness, shelters  # issue 16: hazards and shelter scenarios; issue 17: fairness

    app.include_router(shelters.router)
    app.include_router(fairness.router)
    from .api import reports  # issue 17: the annual report

    app.include_router(reports.router)
    from .api import workbench  # issue 15: the planners' workbench

    app.include_router(workbench.router)
    from .api import scenarios  # issue 17: what-if scenarios

    app.include_router(scenarios.router)
    from .api import units as units_api  # issue 14: totals upload

    app.include_router(units_api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from .api.schemas import document_common_errors

    route_openapi = app.openapi

    def openapi() -> dict:  # the routes' own entries plus the answers of the middleware and error handlers
        if app.openapi_schema is None:
            app.openapi_schema = document_common_errors(route_openapi())
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        meta = store.get_metadata()
        banner = ""
        if meta.get("synthetic"):
            name = meta.get("dataset", {}).get("name_zh", "示例城市")
            banner = f'<p class="synthetic">⚠ 当前数据为合成示例数据（{name}），并非真实城市数据。</p>'
        rows = "".join(
            f'<tr><td><a href="/layers/{n}?limit=100">{s.label_zh}</a></td><td>{n}</td><td>{store.count(n)}</td></tr>'
            for n, s in LAYERS.items()
        )
        return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>社区治理空间规划与设施服务</title>
<style>body{{font-family:sans-serif;max-width:860px;margin:1em auto;padding:0 1em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}\
.synthetic{{background:#fff3cd;border:1px solid #e0b000;padding:8px}}</style></head>
<body><h1>社区治理空间规划与设施服务</h1>{banner}
<p><a href="/resident"><b>居民查询：就近避难场所与服务网点</b></a> · <a href="/maps">交互地图</a> · \
<a href="/ogc">OGC API - Features</a></p>
<p><a href="/audit/summary">设施与避难场所审计汇总（JSON）</a> · <a href="/audit/report.xlsx">审计报表（XLSX）</a> · \
<a href="/coverage/summary">生活圈覆盖汇总（JSON）</a></p>
<p><a href="/workbench"><b>规划工作台</b></a>（社区划分、情景方案，需令牌） · \
<a href="/shelters/scenario?format=html">避难场所分配图</a> · <a href="/fairness">步行可达公平性（JSON）</a> · \
<a href="/reports/annual">年度社区设施体检报告（Word）</a></p>
<p><a href="/docs">接口文档（OpenAPI）</a> · <a href="/health">健康检查</a> · <a href="/metadata">数据集说明</a></p>
<table><tr><th>图层</th><th>接口名</th><th>要素数</th></tr>{rows}</table></body></html>"""

    return app
