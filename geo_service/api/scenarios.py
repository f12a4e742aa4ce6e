"""``/scenarios``: named what-if change sets over the current layers, their runs and comparisons (issue 17).

Anyone may read stored scenarios, their stored analyses and stored comparisons; an analysis or a comparison not yet
stored for today's data is computed and stored for a signed-in caller (401 for others, as for other analyses:
:mod:`facilities.whatif.runs`);
planners and facilities staff create, change and delete scenarios and start batches (permission ``recompute``).
``a``/``b`` of a comparison are scenario ids or names, or ``baseline`` for the current layers.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..core.auth import Principal
from ..core.geojson import GEOJSON_MEDIA_TYPE
from ..core.storage import Store
from .deps import Who, get_store, require
from .schemas import ERROR_RESPONSES
from .schemas.jobs import Job
from .schemas.scenarios import (
    AnalysisAnswer,
    BatchRequest,
    Comparison,
    LayerQ,
    Scenario,
    ScenarioIn,
    ScenarioPatch,
    ScenarioRefQ,
)

router = APIRouter(prefix="/scenarios", tags=["scenarios 情景分析"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Writer = Annotated[Principal, Depends(require("recompute", "编辑情景方案"))]
RefP = Annotated[str, PathParam(min_length=1, max_length=200, description="Scenario id or name")]


def _scenario(row: dict) -> Scenario:
    return Scenario(**{k: row.get(k) for k in Scenario.model_fields})


@router.get("", response_model=list[Scenario], summary="Stored scenarios (情景方案列表)")
def list_scenarios(store: Annotated[Store, Depends(get_store)]):
    return [_scenario(r) for r in store.list_scenarios()]


@router.post(
    "", response_model=Scenario, status_code=201, responses=ERROR_RESPONSES, summary="Create a scenario (新建情景方案)"
)
def create(store: Annotated[Store, Depends(get_store)], body: Annotated[ScenarioIn, Body()], user: Writer):
    from facilities.whatif.service import create_scenario

    row = create_scenario(store, body.name, body.changes, description=body.description, created_by=user.label)
    return JSONResponse(_scenario(row).model_dump(mode="json"), status_code=201)


def _comparison(store: Store, a: str, b: str, who: Principal | None):
    """The stored comparison for today's data; computed and stored for a signed-in caller (401 for others)."""
    from facilities.whatif.service import current_comparison

    return current_comparison(store, a, b, allow_compute=who is not None)[1]


@router.get(
    "/compare", response_model=Comparison, responses=ERROR_RESPONSES, summary="Compare two states (情景方案比较)"
)
def compare_summary(store: Annotated[Store, Depends(get_store)], a: ScenarioRefQ, b: ScenarioRefQ, who: Who):
    from geo_service.core.jsonvalues import plain

    return Comparison(**plain(_comparison(store, a, b, who).summary))


@router.get(
    "/compare.geojson",
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="A difference layer as GeoJSON: units (coverage gained/lost), communities (gap m²), shelters (load)",
)
def compare_geojson(
    store: Annotated[Store, Depends(get_store)], a: ScenarioRefQ, b: ScenarioRefQ, who: Who, layer: LayerQ = "units"
):
    from facilities.whatif.report import layer_geojson

    cmp_ = _comparison(store, a, b, who)
    return Response(layer_geojson(cmp_.layers()[layer], cmp_.summary, layer), media_type=GEOJSON_MEDIA_TYPE)


@router.get(
    "/compare.xlsx",
    responses={200: {"content": {XLSX: {}}}, **ERROR_RESPONSES},
    summary="The comparison as a workbook with Chinese headers (情景比较表)",
)
def compare_xlsx(store: Annotated[Store, Depends(get_store)], a: ScenarioRefQ, b: ScenarioRefQ, who: Who):
    import tempfile
    from pathlib import Path

    from facilities.whatif.report import write_comparison_xlsx

    cmp_ = _comparison(store, a, b, who)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_comparison_xlsx(Path(tmp) / "compare.xlsx", cmp_.summary, cmp_.layers())
        data = path.read_bytes()
    name = f"情景比较_{cmp_.summary['a']}_{cmp_.summary['b']}.xlsx"
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )


@router.get(
    "/compare.html",
    response_class=HTMLResponse,
    responses={  # errors come as JSON although the page is HTML
        code: {
            "description": v["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code, v in ERROR_RESPONSES.items()
    },
    summary="The comparison map page (情景比较地图)",
)
def compare_html(store: Annotated[Store, Depends(get_store)], a: ScenarioRefQ, b: ScenarioRefQ, who: Who):
    from maps.scenarios import comparison_page

    cmp_ = _comparison(store, a, b, who)
    return HTMLResponse(comparison_page(store, cmp_.summary, cmp_.layers()))


@router.post(
    "/batch",
    response_model=Job,
    status_code=202,
    responses=ERROR_RESPONSES,
    summary="Run several scenarios against the baseline in a background job (批量计算情景方案)",
)
def batch(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    body: Annotated[BatchRequest, Body()],
    user: Writer,
):
    from facilities.whatif.service import view_of

    from .jobs import _job

    for ref in body.scenarios:  # unknown or stale scenarios are refused before a job starts
        view_of(store, ref)
    params = {"scenarios": [str(s) for s in body.scenarios]}
    if body.analyses:
        params["analyses"] = list(body.analyses)
    row = request.app.state.jobs.submit("scenario_batch", params, user.label)
    job = _job(request, row)
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": job.status_url})


@router.get("/{scenario}", response_model=Scenario, responses=ERROR_RESPONSES, summary="One scenario (情景方案)")
def get(store: Annotated[Store, Depends(get_store)], scenario: RefP):
    return _scenario(store.get_scenario(scenario))


@router.patch(
    "/{scenario}", response_model=Scenario, responses=ERROR_RESPONSES, summary="Change a scenario (修改情景方案)"
)
def patch(
    store: Annotated[Store, Depends(get_store)], scenario: RefP, body: Annotated[ScenarioPatch, Body()], user: Writer
):
    from facilities.whatif.service import update_scenario

    row = update_scenario(
        store, scenario, name=body.name, description=body.description, data=body.changes, actor=user.label
    )
    return _scenario(row)


@router.delete("/{scenario}", status_code=204, responses=ERROR_RESPONSES, summary="Delete a scenario (删除情景方案)")
def delete(store: Annotated[Store, Depends(get_store)], scenario: RefP, user: Writer):
    store.delete_scenario(scenario, actor=user.label)
    return Response(status_code=204)


@router.get(
    "/{scenario}/siting",
    responses=ERROR_RESPONSES,
    summary="Siting of new facilities on a scenario (情景方案下的设施选址)",
)
def siting(
    store: Annotated[Store, Depends(get_store)],
    scenario: RefP,
    category: Annotated[str, Query(min_length=1, max_length=60)],
    k: Annotated[int, Query(ge=1, le=50)] = 3,
):
    from facilities.service import SitingParams
    from facilities.whatif.service import siting as run_siting

    return run_siting(store, scenario, SitingParams.from_input(category, k))


@router.get(
    "/{scenario}/{analysis}",
    response_model=AnalysisAnswer,
    responses=ERROR_RESPONSES,
    summary="Coverage (with E2SFCA), the audit or shelter assignment on a scenario (情景方案分析)",
)
def analysis(
    store: Annotated[Store, Depends(get_store)],
    scenario: RefP,
    analysis: Literal["coverage", "audit", "shelters"],
    who: Who,
):
    from facilities.whatif.service import current_analysis

    label = who.label if who is not None else None
    answer = current_analysis(store, scenario, analysis, allow_compute=who is not None, created_by=label)
    return AnalysisAnswer(**answer)
