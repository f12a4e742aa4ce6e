"""The OpenAPI documentation pages, with their assets served by the service itself: they work offline.

``/docs`` is Swagger UI, ``/redoc`` ReDoc (its standalone bundle vendored like Leaflet's files by
``scripts/vendor_assets.py``); neither loads anything from a CDN or Google Fonts.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from maps.assets import STATIC_DIR, SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, SWAGGER_UI_JS

from ..core._errors import NotFoundError

router = APIRouter(include_in_schema=False)
REDOC_JS = "vendor/redoc-2.5.2/redoc.standalone.js"  # the /redoc page
# The bundle's one external URL (the "API docs by Redocly" logo) replaced by a local empty image: nothing leaves.
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    """The vendored ReDoc bundle (checked by SHA256SUMS) with its CDN logo URL replaced; NotFoundError if absent."""
    path = STATIC_DIR / REDOC_JS
    if not path.is_file():
        raise NotFoundError(
            f"ReDoc is not vendored ({REDOC_JS}); run scripts/vendor_assets.py",
            "ReDoc 接口文档页面的脚本未随服务安装，请使用 /docs 查看接口文档",
        )
    return path.read_bytes().replace(_REDOC_LOGO.encode(), _EMPTY_SVG.encode())


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — 接口文档",
        swagger_js_url=f"/static/{SWAGGER_UI_JS}",
        swagger_css_url=f"/static/{SWAGGER_UI_CSS}",
        swagger_favicon_url=f"/static/{SWAGGER_UI_FAVICON}",
    )


@router.get("/redoc/redoc.standalone.js")
def redoc_bundle() -> Response:
    return Response(_redoc_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    _redoc_bundle()  # 404 in Chinese when not vendored
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — 接口文档（ReDoc）",
        redoc_js_url="/redoc/redoc.standalone.js",
        redoc_favicon_url=f"/static/{SWAGGER_UI_FAVICON}",
        with_google_fonts=False,
    )
