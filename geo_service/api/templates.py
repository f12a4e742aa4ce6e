"""``/templates/{layer}.xlsx``: the XLSX import template of a layer (a read: open to everyone)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ..core.templates import XLSX_MEDIA_TYPE, template_xlsx
from .schemas import ERROR_RESPONSES

router = APIRouter(prefix="/templates", tags=["layers 图层"])


@router.get(
    "/{layer}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Import template of a layer: Chinese headers, an example row, drop-down lists (导入模板)",
)
def template(layer: str):
    return Response(
        template_xlsx(layer),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{layer}-template.xlsx"'},
    )
