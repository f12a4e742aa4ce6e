"""``/reports``: the annual report (社区设施体检报告) as a Word document or PDF, from the packaged template.

The report is built from the current analyses with their default parameters (as anyone may read them) and kept
per process while no input layer, plan or norm changed (:func:`maps.annual_report.cached_report`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..core.storage import Store
from .deps import get_store
from .schemas import ERROR_RESPONSES, Error
from .schemas.reports import DOCX_MEDIA_TYPE, PDF_MEDIA_TYPE, FormatQ, YearQ

router = APIRouter(prefix="/reports", tags=["reports 年度体检报告"])


@router.get(
    "/annual",
    responses={
        200: {"content": {DOCX_MEDIA_TYPE: {}, PDF_MEDIA_TYPE: {}}},
        **ERROR_RESPONSES,
        503: {"model": Error, "description": "Database unavailable, or LibreOffice not installed (format=pdf)"},
    },
    response_class=Response,
    summary="The annual community facilities report, Word or PDF (社区设施体检报告)",
)
async def annual(store: Annotated[Store, Depends(get_store)], year: YearQ = None, format: FormatQ = "docx"):
    from maps.annual_report import ReportParams, cached_report

    params = ReportParams.from_input(year, format)
    body = await run_in_threadpool(cached_report, store, params)
    media = PDF_MEDIA_TYPE if params.fmt == "pdf" else DOCX_MEDIA_TYPE
    name = quote(f"社区设施体检报告_{params.year}.{params.fmt}")
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename=annual_report_{params.year}.{params.fmt}; "
            f"filename*=UTF-8''{name}"
        },
    )
