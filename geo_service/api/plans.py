"""``/plans``: community boundary plans (Art. 3) — evaluate, propose, edit, diff, adopt, export.

Edits need ``If-Match`` with the plan's current ETag (``"v<version>"``, also
accepted as a bare version number); a stale edit gets 409 and writes nothing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from boundaries.params import DelineationParams, EvaluationParams

from ..core._errors import GeoServiceError, InputError
from ..core.auth import Principal
from ..core.geojson import GEOJSON_MEDIA_TYPE, feature_collection_json
from ..core.jsonvalues import plain
from ..core.storage import Store
from .deps import get_store, require
from .schemas import ERROR_RESPONSES, EXPORT_MEDIA_TYPES, MAX_ID
from .schemas.jobs import Job
from .schemas.plans import (
    MAX_HOUSEHOLDS,
    Adoption,
    AdoptionPreview,
    AdoptRequest,
    AdoptResult,
    CommunityDetail,
    CopyRequest,
    CopyResult,
    DelineateRequest,
    DelineateResult,
    DiffResult,
    EditRequest,
    EditResult,
    Evaluation,
    PlanInfo,
    PlanUnits,
    PlanVersionInfo,
)

router = APIRouter(prefix="/plans", tags=["plans 社区划分方案"])
_DELINEATIONS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo-delineate")  # background delineations


# ----------------------------------------------------------------------------- helpers
def _service(store: Store):
    from boundaries.service import PlanService

    return PlanService(store)


def etag_of(version: int) -> str:
    return f'"v{int(version)}"'


def parse_if_match(value: str | None) -> int:
    if value is None or not value.strip():
        err = GeoServiceError(
            'edits need an If-Match header with the plan\'s ETag (e.g. "v3")',
            '修改方案须在 If-Match 请求头中给出方案当前版本（如 "v3"），以免覆盖他人的修改',
        )
        err.http_status = 428
        raise err
    m = re.fullmatch(r'\s*(?:W/)?"?v?(\d+)"?\s*', value)
    if not m:
        raise InputError(
            f'If-Match must be the plan\'s ETag like "v3", got {value!r}',
            f'If-Match 应为方案版本标记，如 "v3"；收到 {value!r}',
        )
    return int(m.group(1))


def _iso(v):
    return v.isoformat() if hasattr(v, "isoformat") else v


def _plan_info(p: dict) -> PlanInfo:
    return PlanInfo(
        **{
            k: _iso(p.get(k))
            for k in (
                "id",
                "name",
                "version",
                "status",
                "description",
                "adopted_at",
                "adopted_by",
                "created_at",
                "updated_at",
            )
        },
        communities=int(p.get("communities", 0)),
        etag=etag_of(p["version"]),
    )


def _figures(rows) -> list[dict]:
    from boundaries.service import rows_records

    return rows_records(rows)


UNIT_COLUMNS = [
    "unit_id",
    "source_id",
    "name",
    "street_code",
    "households",
    "residents",
    "community_code",
    "community_name",
]


def _job_params(params) -> dict:
    """The delineation parameters as the job's JSON ``params``."""
    return plain(
        {
            "streets": None if params.streets is None else list(params.streets),
            "band": [params.band.min_households, params.band.max_households],
            "k": params.k,
            "mode": params.mode,
            "from_plan": params.from_plan,
            "seed": params.seed,
        }
    )


def _submit_delineation(request: Request, store: Store, params, name, created_by) -> JSONResponse:
    """A ``delineate`` job in the ``jobs`` table run by this process's delineation thread; 202 with the job."""
    from boundaries.service import run_delineation_job

    from .jobs import _job

    job_id = store.create_job("delineate", _job_params(params), created_by)
    store.update_job(job_id, runner=request.app.state.jobs.label)
    _DELINEATIONS.submit(run_delineation_job, store, job_id, params, name=name, created_by=created_by)
    job = _job(request, store.get_job(job_id))
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": job.status_url})


def _features(rows) -> dict:
    """Touched communities' polygons (EPSG:4326) as a GeoJSON FeatureCollection, id = code."""
    import json

    import shapely

    feats = []
    for code, name, geom in zip(rows["code"], rows["name"], rows["geometry_wgs84"]):
        if geom is None or shapely.is_empty(geom):
            continue
        feats.append(
            {
                "type": "Feature",
                "id": str(code),
                "properties": {"code": str(code), "name": str(name)},
                "geometry": json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-7))),
            }
        )
    return {"type": "FeatureCollection", "features": feats}


# ----------------------------------------------------------------------------- routes
@router.get("", response_model=list[PlanInfo], summary="List plans (社区划分方案列表)")
def list_plans(store: Annotated[Store, Depends(get_store)]):
    return [_plan_info(p) for p in _service(store).list_plans()]


@router.get(
    "/adoptions",
    response_model=list[Adoption],
    summary="Every adopted state of every plan, newest first: the history of adoption (采纳历史)",
    description="Earlier adopted states stay readable: GET /plans/{plan_id}?version={version}. "
    "(A plan named 'adoptions' is reached by its id.)",
)
def adoptions(store: Annotated[Store, Depends(get_store)]):
    return [Adoption(**{**a, "adopted_at": _iso(a["adopted_at"])}) for a in _service(store).adoptions()]


@router.post(
    "/delineate",
    response_model=DelineateResult,
    responses={
        202: {"model": Job, "description": "background=true: the job, to poll at its Location"},
        **ERROR_RESPONSES,
    },
    status_code=201,
    summary="Propose a plan (自动划分社区，生成草案)",
)
async def delineate(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    req: Annotated[DelineateRequest, Body()],
    user: Annotated[Principal, Depends(require("plan_edit", "生成划分方案"))],
):
    svc = _service(store)
    params = DelineationParams.from_input(
        svc.norms,
        streets=req.streets,
        households_min=req.households_min,
        households_max=req.households_max,
        k=req.k,
        from_plan=req.from_plan,
        mode=req.mode,
    )
    if req.background:
        return await run_in_threadpool(_submit_delineation, request, store, params, req.name, user.label)
    out = await run_in_threadpool(svc.delineate, params, name=req.name, created_by=user.label, save=req.save)
    ev = out["evaluation"]
    body = {
        "plan_id": out["plan_id"],
        "name": out.get("name"),
        "version": out["version"],
        "mode": out["mode"],
        "seconds": out["seconds"],
        "problems": plain(out["problems"]),
        "totals": plain(ev.totals),
        "communities": _figures(ev.communities),
        "stats": plain(out["stats"]),
    }
    headers = {"ETag": etag_of(out["version"])} if out["version"] else {}
    return JSONResponse(DelineateResult(**body).model_dump(mode="json"), status_code=201, headers=headers)


@router.get(
    "/{plan}",
    response_model=None,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Communities of a plan as GeoJSON with their figures (方案社区范围及指标)",
)
def get_plan(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    version: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Version (default: current)")] = None,
    crs: Annotated[str, Query(description="Output CRS, e.g. EPSG:4490")] = "EPSG:4326",
):
    import geopandas as gpd
    import pandas as pd

    from ..core.exporter import output_crs, reproject

    svc = _service(store)
    row, ev, ver = svc.evaluate(plan, EvaluationParams.from_input(svc.norms, version=version))
    props = pd.DataFrame(_figures(ev.communities))
    geoms = ev.communities["geometry_wgs84"].to_numpy(dtype=object)
    gdf = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    gdf["id"] = gdf["code"] if len(gdf) else []
    target = output_crs(crs)
    gdf = reproject(gdf, target.to_string())
    label = f"EPSG:{target.to_epsg()}" if target.to_epsg() else target.to_string()
    body = feature_collection_json(
        gdf,
        extra={
            "plan": {"id": row["id"], "name": row["name"], "version": ver, "status": row["status"]},
            "crs": label,
            "totals": plain(ev.totals),
        },
    )
    return Response(
        body, media_type=GEOJSON_MEDIA_TYPE, headers={"ETag": etag_of(row["version"]), "Content-Crs": f"<{label}>"}
    )


@router.get(
    "/{plan}/versions",
    response_model=list[PlanVersionInfo],
    responses=ERROR_RESPONSES,
    summary="Versions of a plan (方案版本)",
)
def versions(plan: str, store: Annotated[Store, Depends(get_store)]):
    row = store.get_plan(plan)
    out = [
        PlanVersionInfo(**{**v, **{k: _iso(v.get(k)) for k in ("created_at", "adopted_at")}})
        for v in store.list_plan_versions(row["id"])
    ]
    if not any(v.version == row["version"] for v in out):
        out.append(
            PlanVersionInfo(
                version=row["version"],
                action="import",
                created_at=_iso(row.get("created_at")),
                adopted_at=_iso(row.get("adopted_at")),
                adopted_by=row.get("adopted_by"),
            )
        )
    return out


@router.get(
    "/{plan}/evaluation", response_model=Evaluation, responses=ERROR_RESPONSES, summary="Evaluate a plan (方案评估)"
)
def evaluation(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    households_min: Annotated[
        int | None, Query(gt=0, le=MAX_HOUSEHOLDS, description="Band minimum (default: the norms' band)")
    ] = None,
    households_max: Annotated[int | None, Query(gt=0, le=MAX_HOUSEHOLDS)] = None,
    other: Annotated[str | None, Query(description="Another plan (id or name): residents moved relative to it")] = None,
):
    svc = _service(store)
    params = EvaluationParams.from_input(
        svc.norms, households_min=households_min, households_max=households_max, version=version, other=other
    )
    row, ev, ver = svc.evaluate(plan, params)
    body = Evaluation(plan_id=row["id"], version=ver, totals=plain(ev.totals), communities=_figures(ev.communities))
    return JSONResponse(body.model_dump(mode="json"), headers={"ETag": etag_of(row["version"])})


@router.get(
    "/{plan}/units",
    response_model=PlanUnits,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Population units of a plan with their community: the unit ids edits take (方案人口单元及所属社区)",
)
def plan_units(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    community: Annotated[str | None, Query(max_length=64, description="Only this community's units")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Version (default: current)")] = None,
    format: Annotated[
        str, Query(pattern="^(json|geojson)$", description="json, or geojson: the units' polygons (EPSG:4326)")
    ] = "json",
):
    import geopandas as gpd

    row, ver, _state, us, frame = _service(store).units_table(plan, version, community)
    head = {
        "plan_id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "version": ver,
        "current_version": int(row["version"]),
        "etag": etag_of(row["version"]),
        "community": community,
    }
    headers = {"ETag": etag_of(row["version"])}
    if format == "geojson":
        geoms = us.units.geometry.to_numpy()[frame.index.to_numpy()]
        gdf = gpd.GeoDataFrame(frame[UNIT_COLUMNS], geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
        body = feature_collection_json(gdf, extra={"plan": head}, id_column="unit_id")
        return Response(body, media_type=GEOJSON_MEDIA_TYPE, headers=headers)
    body = PlanUnits(**head, units=frame[UNIT_COLUMNS].to_dict(orient="records"))
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get(
    "/{plan}/communities/{code}",
    response_model=CommunityDetail,
    responses=ERROR_RESPONSES,
    summary="One community of a plan: its figures (as in the evaluation) and its unit ids (方案中的一个社区)",
)
def plan_community(
    plan: str,
    code: str,
    store: Annotated[Store, Depends(get_store)],
    version: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Version (default: current)")] = None,
):
    from boundaries.evaluate import community_figures

    svc = _service(store)
    row, ver, state, us, frame = svc.units_table(plan, version, code)
    rows = community_figures(us, state.labels, state.communities, [state.index_of(code)], svc.context(us))
    body = CommunityDetail(
        plan_id=row["id"],
        version=ver,
        current_version=int(row["version"]),
        etag=etag_of(row["version"]),
        community=_figures(rows)[0],
        unit_ids=frame["unit_id"].astype(int).tolist(),
    )
    return JSONResponse(body.model_dump(mode="json"), headers={"ETag": etag_of(row["version"])})


@router.post(
    "/{plan}/edits",
    response_model=EditResult,
    responses={
        409: {"description": "Stale edit (If-Match is not the current version)"},
        428: {"description": "If-Match missing"},
        **ERROR_RESPONSES,
    },
    summary="Edit a plan: move, merge, split, rename (编辑方案)",
)
def edit(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    req: Annotated[EditRequest, Body()],
    user: Annotated[Principal, Depends(require("plan_edit", "编辑划分方案"))],
    if_match: Annotated[str | None, Header(description='The plan\'s ETag, e.g. "v3"')] = None,
):
    expected = parse_if_match(if_match)
    payload = req.model_dump(by_alias=True, exclude_none=True)
    payload.pop("created_by", None)
    out = _service(store).edit(plan, expected, payload, created_by=user.label)
    body = EditResult(
        plan_id=out["plan_id"],
        version=out["version"],
        etag=etag_of(out["version"]),
        compute_ms=out["compute_ms"],
        removed=out["removed"],
        communities=_figures(out["rows"]),
        units=out["units"],
        features=_features(out["rows"]),
    )
    return JSONResponse(body.model_dump(mode="json"), headers={"ETag": etag_of(out["version"])})


@router.get(
    "/{plan}/diff",
    response_model=DiffResult,
    responses=ERROR_RESPONSES,
    summary="Units and residents moved between two plans or versions (方案差异)",
)
def diff(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    other: Annotated[
        str | None, Query(description="The plan compared against (id or name; default: the same plan)")
    ] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    other_version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=0, le=100_000, description="At most this many unit moves listed")] = 10_000,
):

    d = _service(store).diff(plan, other if other is not None else plan, version=version, other_version=other_version)
    moves = d["moves"].head(limit)
    body = {
        "from": d["from"],
        "to": d["to"],
        "units_moved": d["units_moved"],
        "residents_moved": d["residents_moved"],
        "households_moved": d["households_moved"],
        "streets": plain(d["streets"].to_dict(orient="records")),
        "flows": plain(d["flows"].to_dict(orient="records")),
        "moves": plain(moves.astype(object).where(moves.notna(), None).to_dict(orient="records")),
    }
    return DiffResult(**body)


@router.get(
    "/{plan}/adoption-preview",
    response_model=AdoptionPreview,
    responses=ERROR_RESPONSES,
    summary="What adopting the plan would change city-wide; nothing is written (采纳预览)",
)
def adoption_preview(plan: str, store: Annotated[Store, Depends(get_store)]):
    return AdoptionPreview(**_service(store).adoption_preview(plan))


@router.post("/{plan}/adopt", response_model=AdoptResult, responses=ERROR_RESPONSES, summary="Adopt a plan (采纳方案)")
def adopt(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    req: Annotated[AdoptRequest, Body()],
    user: Annotated[Principal, Depends(require("plan_adopt", "采纳划分方案"))],
    if_match: Annotated[
        str | None, Header(description="Optional: adopt only if the plan is still at this ETag")
    ] = None,
):
    expected = parse_if_match(if_match) if if_match else None
    return AdoptResult(**_service(store).adopt(plan, adopted_by=req.adopted_by, if_match=expected, actor=user.label))


@router.post(
    "/{plan}/copy",
    response_model=CopyResult,
    status_code=201,
    responses=ERROR_RESPONSES,
    summary="Copy a plan to a new draft (复制为草案)",
)
def copy(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    req: Annotated[CopyRequest, Body()],
    user: Annotated[Principal, Depends(require("plan_edit", "复制划分方案"))],
):
    out = _service(store).copy(plan, name=req.name, created_by=user.label)
    return JSONResponse(
        CopyResult(**out, etag=etag_of(out["version"])).model_dump(),
        status_code=201,
        headers={"ETag": etag_of(out["version"])},
    )


@router.get(
    "/{plan}/export",
    response_class=FileResponse,
    responses={200: {"content": {EXPORT_MEDIA_TYPES[f]: {} for f in ("gpkg", "shp", "geojson")}}, **ERROR_RESPONSES},
    summary="Export the communities with their figures (导出方案：GeoPackage、Shapefile、GeoJSON)",
)
def export(
    plan: str,
    store: Annotated[Store, Depends(get_store)],
    format: Annotated[str, Query(pattern="^(gpkg|shp|geojson)$")] = "gpkg",
    crs: Annotated[str, Query(description="Output CRS (default EPSG:4490, CGCS2000)")] = "EPSG:4490",
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
):
    tmp = Path(tempfile.mkdtemp(prefix="geo-plan-export-"))
    try:
        row = store.get_plan(plan)
        path, _n = _service(store).export(
            plan, format, tmp / f"plan_{row['id']}.{'zip' if format == 'shp' else format}", crs=crs, version=version
        )
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        path,
        filename=path.name,
        media_type=EXPORT_MEDIA_TYPES[format],
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )
