"""The OpenAPI documentation page (``/docs``), with Swagger UI served by the service itself: it works offline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from maps.assets import SWAGGER_UI_CSS, SWAGGER_UI_FAVICON, SWAGGER_UI_JS

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — 接口文档",
        swagger_js_url=f"/static/{SWAGGER_UI_JS}",
        swagger_css_url=f"/static/{SWAGGER_UI_CSS}",
        swagger_favicon_url=f"/static/{SWAGGER_UI_FAVICON}",
    )
