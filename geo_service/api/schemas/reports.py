"""``/reports``: query parameters of the annual report (社区设施体检报告)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

YearQ = Annotated[int | None, Query(ge=2000, le=2100, description="The report's year (体检年度; default: this year)")]
FormatQ = Annotated[
    Literal["docx", "pdf"], Query(description="docx (Word) or pdf (converted by LibreOffice on the server)")
]
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_MEDIA_TYPE = "application/pdf"
