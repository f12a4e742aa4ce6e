"""Shelter scenarios and the printable community shelter map (issue 16, items 7 and 8).

- ``GET /shelters/scenario?hazard=..&close=..``: the capacity-respecting assignment before and after the
  scenario (hazards active, shelters closed), per shelter, per unit and per community; ``format=geojson|html|xlsx``
  for the features, the map or the workbook. Anonymous readers may compute only the plain assignment (no hazard,
  no closure); other scenarios need a signed-in user once, then are read from the stored run.
- ``GET /communities/{code}/poster.pdf``: the A3 poster of one community (社区应急避难场所分布图).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..core.geojson import GEOJSON_MEDIA_TYPE
from ..core.storage import Store
from ._runs import run_info
from .deps import Who, get_store
from .schemas import ERROR_RESPONSES
from .schemas.shelters import (
    CloseQ,
    FactorQ,
    FormatQ,
    HazardQ,
    PlanQ,
    ScenarioAnswer,
    ScenarioCommunity,
    ScenarioShelter,
    ScenarioUnit,
    WalkQ,
)

router = APIRouter(tags=["避难 shelters"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def _records(frame, model) -> list:
    if frame is None or len(frame) == 0:
        return []
    cols = [c for c in model.model_fields if c in frame.columns]
    rows = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
    return [model(**r) for r in rows]


def _scenario(store: Store, who, hazard, close, plan, walk_limit_m, day_night_factor):
    from facilities.scenario import ScenarioParams
    from facilities.scenario_service import current_scenario, run_tables

    params = ScenarioParams.from_input(hazard, close, walk_limit_m, day_night_factor)
    plain = params == ScenarioParams() and plan is None
    run = current_scenario(
        store,
        params,
        plan=plan,
        created_by=None if who is None else who.label,
        allow_compute=who is not None or plain,
    )
    return run, run_tables(store, run["id"])


@router.get(
    "/shelters/scenario",
    response_model=ScenarioAnswer,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}, "text/html": {}, XLSX: {}}}, **ERROR_RESPONSES},
    summary="Shelter scenario: hazards active, shelters closed; assignment before and after (避难场所情景分析)",
)
async def scenario(
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    hazard: HazardQ = None,
    close: CloseQ = None,
    plan: PlanQ = None,
    walk_limit_m: WalkQ = None,
    day_night_factor: FactorQ = 1.0,
    format: FormatQ = "json",
):
    run, tables = await run_in_threadpool(_scenario, store, who, hazard, close, plan, walk_limit_m, day_night_factor)
    if format == "html":
        from maps.hazards import scenario_page

        return HTMLResponse(await run_in_threadpool(scenario_page, store, run, tables))
    if format in ("geojson", "xlsx"):
        from facilities.scenario_report import write_scenario

        suffix = ".geojson" if format == "geojson" else ".xlsx"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"scenario{suffix}"
            await run_in_threadpool(write_scenario, path, run["summary"], tables)
            body = path.read_bytes()
        name = f"避难场所情景_{run['id']}{suffix}"
        return Response(
            body,
            media_type=GEOJSON_MEDIA_TYPE if format == "geojson" else XLSX,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )
    units = tables.get("units")
    if units is not None and len(units):
        units = units[(units["unplaced_before"] > 0) | (units["unplaced_after"] > 0)]
    shelters = tables.get("shelters")
    if shelters is not None and len(shelters):
        shelters = shelters[shelters["serving"].astype(bool) | shelters["closed"].astype(bool)]
    return ScenarioAnswer(
        run=run_info(run),
        summary=run["summary"],
        shelters=_records(shelters, ScenarioShelter),
        units=_records(units, ScenarioUnit),
        communities=_records(tables.get("communities"), ScenarioCommunity),
    )


@router.get(
    "/communities/{code}/poster.pdf",
    responses={200: {"content": {PDF: {}}}, **ERROR_RESPONSES},
    summary="Printable A3 community shelter map (社区应急避难场所分布图)",
)
async def poster(
    store: Annotated[Store, Depends(get_store)],
    code: Annotated[str, PathParam(max_length=100, description="Community code or name")],
    plan: PlanQ = None,
):
    from maps.poster import render_poster

    pdf, info = await run_in_threadpool(render_poster, store, code, plan=plan)
    name = f"{info['community_name']}应急避难场所分布图.pdf"
    return Response(pdf, media_type=PDF, headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"})
