"""The annual report (社区设施体检报告, issue 17 item 5): a Word document (and PDF) in Chinese built from a docxtpl
template, with one chapter per article of the Deyang regulation (Art. 3, 12, 15, 18), tables per street, maps drawn
offline, and the norms used with their sources.

Modules by task: :mod:`.params` (what to build), :mod:`.data` (the analyses' runs), :mod:`.tables`,
:mod:`.norms_list` and :mod:`.context` (the template's fields), :mod:`.figures` (maps), :mod:`.render` (template
checks, filling, PDF, writing), :mod:`.build_template` (the packaged template).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .params import DEFAULT_TEMPLATE, ReportParams
from .render import ReportToolError

__all__ = ["DEFAULT_TEMPLATE", "Report", "ReportParams", "ReportToolError", "build_report", "write_report"]


@dataclass
class Report:
    """A built report: the Word document, the PDF when asked for, the template's fields, time per step (s)."""

    year: int
    docx: bytes
    pdf: bytes | None = None
    context: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def build_report(store, params: ReportParams, *, created_by: str | None = None, allow_compute: bool = True) -> Report:
    """Build the report of ``store`` for ``params.year`` from its current analyses (computed when stale).

    The template is checked first (unknown or missing fields: :class:`InputError` before any computation), LibreOffice
    too when a PDF is asked for. Nothing is written: see :func:`write_report`.
    """
    from .context import build_context
    from .data import gather
    from .figures import render_maps
    from .render import check_fields, open_template, render_docx, require_soffice, to_pdf

    t0 = time.perf_counter()
    tpl, tree = open_template(params.template)
    if params.fmt == "pdf":
        require_soffice()  # before the work: a Chinese error when LibreOffice is absent
    inputs = gather(store, created_by=created_by, allow_compute=allow_compute)
    seconds = dict(inputs.seconds)
    t = time.perf_counter()
    context = build_context(inputs, params.year)
    check_fields(params.template, tree, context)
    seconds["tables"] = time.perf_counter() - t
    maps = render_maps(inputs, seconds)
    t = time.perf_counter()
    docx = render_docx(tpl, params.template, context, maps)
    seconds["docx"] = time.perf_counter() - t
    pdf = None
    if params.fmt == "pdf":
        t = time.perf_counter()
        pdf = to_pdf(docx)
        seconds["pdf"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return Report(year=params.year, docx=docx, pdf=pdf, context=context, seconds=seconds)


def write_report(report: Report, out: Path) -> list[Path]:
    """Write the Word document to ``out`` (and the PDF beside it, same name, ``.pdf``): all or nothing."""
    from .render import write_atomic

    out = Path(out)
    files = {out: report.docx}
    if report.pdf is not None:
        files[out.with_suffix(".pdf")] = report.pdf
    return write_atomic(files)


REPORT_LAYERS = (
    "admin_areas",
    "population_units",
    "communities",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "roads",
    "barriers",
    "unit_entrances",
    "network_nodes",
    "network_edges",
)
_CACHE = None


def cached_report(store, params: ReportParams) -> bytes:
    """The report's bytes (``params.fmt``) built at most once per process while the store's input layers, plans,
    norms and the day are unchanged (a web request; the CLI always builds)."""
    import datetime as _dt

    from geo_service.core.runs import MemoCache, input_revisions

    global _CACHE
    if _CACHE is None:
        _CACHE = MemoCache(size=4)
    plans = tuple((p["id"], p["version"], p["status"]) for p in store.list_plans())
    norms = store.norms
    key = (
        str(store.url),
        params.year,
        params.fmt,
        str(params.template),
        _dt.date.today().isoformat(),
        tuple(input_revisions(store, REPORT_LAYERS).items()),
        plans,
        norms.override_label,
        norms.overridden,
    )

    def build() -> bytes:
        report = build_report(store, params)
        return report.pdf if params.fmt == "pdf" and report.pdf is not None else report.docx

    return _CACHE.get(key, build)
