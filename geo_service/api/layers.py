"""``/layers``: every stored layer as GeoJSON, single features, file import and export."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as FastPath
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ..core._errors import ImportValidationError, InputError
from ..core.auth import Principal
from ..core.exporter import export_layer, output_crs, reproject
from ..core.geojson import GEOJSON_MEDIA_TYPE, feature_collection_json, feature_json
from ..core.importer import ImportOptions, parse_column_map, run_import
from ..core.layers import LAYERS, get_layer
from ..core.settings import get_settings
from ..core.storage import Store
from ..core.templates import XLSX_MEDIA_TYPE
from .deps import get_store, layer_writer
from .schemas import (
    ERROR_RESPONSES,
    EXPORT_MEDIA_TYPES,
    MAX_ID,
    MAX_OFFSET,
    Feature,
    FeatureCollection,
    LayerInfo,
)
from .schemas.layers import FeatureEdit, FeatureIn, FeaturePatch, ImportOutcome

router = APIRouter(prefix="/layers", tags=["layers 图层"])


def parse_bbox(bbox: str | None, bbox_crs: str | None = None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` to a tuple in EPSG:4326 (transformed from ``bbox_crs`` when given)."""
    if bbox is None:
        return None
    try:
        vals = [float(v) for v in bbox.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals) or vals[0] > vals[2] or vals[1] > vals[3]:
        raise InputError(
            f"bbox must be four numbers minx,miny,maxx,maxy with min <= max, got {bbox!r}",
            f"bbox 应为 最小经度,最小纬度,最大经度,最大纬度 四个数，且最小值不大于最大值；收到 {bbox!r}",
        )
    if bbox_crs:
        target = output_crs(bbox_crs)
        if target.to_epsg() not in (4326, 4490):
            from pyproj import Transformer

            tr = Transformer.from_crs(target, 4326, always_xy=True)
            vals = list(tr.transform_bounds(*vals))
    return tuple(vals)


def _layer_info(store: Store, name: str) -> LayerInfo:
    spec = LAYERS[name]
    return LayerInfo(
        name=name,
        label_zh=spec.label_zh,
        geometry_types=list(spec.geometry_types),
        importable=spec.importable,
        feature_count=store.count(name),
        fields=[
            {
                "name": f.name,
                "type": f.kind,
                "label_zh": f.label_zh,
                "required": f.required,
                "unit": f.unit,
                "allowed": list(f.vocab) if f.vocab else None,
            }
            for f in spec.fields
        ],
    )


@router.get("", response_model=list[LayerInfo], summary="List layers (图层列表)")
def list_layers(store: Annotated[Store, Depends(get_store)]):
    return [_layer_info(store, name) for name in LAYERS]


@router.get(
    "/{layer}",
    response_model=FeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="Features of a layer as GeoJSON (图层要素)",
)
def get_layer_features(
    request: Request,
    layer: str,
    store: Annotated[Store, Depends(get_store)],
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (EPSG:4326 lon/lat unless bbox_crs)")] = None,
    bbox_crs: Annotated[str | None, Query(description="CRS of bbox, e.g. EPSG:4490")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    crs: Annotated[
        str, Query(description="Output CRS: EPSG:4326 (default), EPSG:4490, or any EPSG code")
    ] = "EPSG:4326",
    plan: Annotated[str | None, Query(description="Plan id or name (communities)")] = None,
    network: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Network id (network_nodes, network_edges)")
    ] = None,
):
    spec = get_layer(layer)
    settings = get_settings()
    limit = limit or settings.page_limit_default
    if limit > settings.page_limit_max:
        raise InputError(
            f"limit may be at most {settings.page_limit_max}", f"每页最多 {settings.page_limit_max} 个要素", limit=limit
        )
    target = output_crs(crs)
    box = parse_bbox(bbox, bbox_crs)
    plan_id = store.get_plan(plan)["id"] if plan is not None and spec.per_plan else None
    matched = store.count(layer, bbox=box, plan_id=plan_id, network_id=network)
    gdf = store.read_layer(layer, bbox=box, limit=limit, offset=offset, plan_id=plan_id, network_id=network)
    gdf = reproject(gdf, target.to_string())
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON_MEDIA_TYPE}]
    if offset + len(gdf) < matched:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON_MEDIA_TYPE,
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit)),
                "rel": "prev",
                "type": GEOJSON_MEDIA_TYPE,
            }
        )
    crs_label = f"EPSG:{target.to_epsg()}" if target.to_epsg() else target.to_string()
    body = feature_collection_json(
        gdf,
        extra={"layer": layer, "crs": crs_label, "numberMatched": matched, "numberReturned": len(gdf), "links": links},
    )
    return Response(body, media_type=GEOJSON_MEDIA_TYPE, headers={"Content-Crs": f"<{crs_label}>"})


@router.get(
    "/{layer}/export",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in EXPORT_MEDIA_TYPES.values()}}, **ERROR_RESPONSES},
    summary="Download a whole layer as a file (导出图层文件)",
)
def export(
    layer: str,
    store: Annotated[Store, Depends(get_store)],
    format: Annotated[str, Query(pattern="^(geojson|gpkg|shp|csv|xlsx)$")] = "geojson",
    crs: str = "EPSG:4326",
    plan: str | None = None,
):
    get_layer(layer)
    tmp = Path(tempfile.mkdtemp(prefix="geo-export-"))
    path, _n = export_layer(
        store, layer, format, tmp / f"{layer}.{'zip' if format == 'shp' else format}", crs=crs, plan=plan
    )
    return FileResponse(
        path,
        filename=path.name,
        media_type=EXPORT_MEDIA_TYPES[format],
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


@router.get(
    "/{layer}/{fid}",
    response_model=Feature,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **ERROR_RESPONSES},
    summary="One feature by id (单个要素)",
)
def get_feature(
    layer: str,
    fid: Annotated[int, FastPath(ge=1, le=MAX_ID)],
    store: Annotated[Store, Depends(get_store)],
    crs: Annotated[str, Query(description="Output CRS")] = "EPSG:4326",
):
    gdf = reproject(store.get_feature(layer, fid), output_crs(crs).to_string())
    return Response(feature_json(gdf), media_type=GEOJSON_MEDIA_TYPE)


IMPORT_FORM_FIELDS = (
    "file",
    "crs",
    "map",
    "column_map",
    "id_column",
    "lon",
    "lat",
    "file_layer",
    "encoding",
    "skip_invalid",
    "repair",
    "plan",
    "level",
    "check",
    "report",
)


def _refuse_unknown_fields(names) -> None:
    unknown = sorted({str(n) for n in names} - set(IMPORT_FORM_FIELDS))
    if unknown:
        shown = ", ".join(repr(n[:60]) for n in unknown[:10])
        raise InputError(
            f"unknown form field(s) {shown}; the import takes {', '.join(IMPORT_FORM_FIELDS)}",
            f"未知的表单字段 {shown}；导入接口可用字段：{'、'.join(IMPORT_FORM_FIELDS)}",
            fields=unknown[:10],
        )


async def _save_upload(file: UploadFile, dest: Path) -> None:
    limit = get_settings().max_upload_mb * 1024 * 1024
    size = 0
    with dest.open("wb") as fh:
        while chunk := await file.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                err = InputError(
                    f"upload larger than {limit // 1024 // 1024} MB",
                    f"上传文件超过 {limit // 1024 // 1024} MB 上限",
                )
                err.http_status = 413
                raise err
            fh.write(chunk)


def _report_response(report, status: int, name: str) -> Response:
    from ..core.templates import XLSX_MEDIA_TYPE, report_xlsx

    return Response(
        report_xlsx(report, title=f"{name} 导入检查报告"),
        status_code=status,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="import-report-{report.layer}.xlsx"'},
    )


@router.post(
    "/{layer}/import",
    response_model=ImportOutcome,
    responses={**ERROR_RESPONSES, 200: {"content": {"application/json": {}, XLSX_MEDIA_TYPE: {}}}},
    summary="Import a file into a layer, all or nothing; or only check it (导入文件 / 检查文件)",
)
async def import_file(
    request: Request,
    layer: str,
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(layer_writer)],
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile, CSV or XLSX")],
    crs: Annotated[str | None, Form(description="Declared source CRS: EPSG code, CGCS2000, gcj02, bd09")] = None,
    map_: Annotated[
        list[str] | None,
        Form(alias="map", description="FIELD=COLUMN pairs, as the CLI's --map (common Chinese headers need none)"),
    ] = None,
    column_map: Annotated[list[str] | None, Form(description="Deprecated name of map", deprecated=True)] = None,
    id_column: Annotated[
        str | None, Form(description="Stable id column; without one ids come from the content")
    ] = None,
    lon: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form()] = None,
    file_layer: Annotated[str | None, Form()] = None,
    encoding: Annotated[str | None, Form()] = None,
    skip_invalid: Annotated[bool, Form()] = False,
    repair: Annotated[bool, Form()] = False,
    plan: Annotated[str | None, Form()] = None,
    level: Annotated[
        str | None, Form(description="admin_areas: county/区县 or street/街道; default: from the code")
    ] = None,
    check: Annotated[bool, Form(description="Only check: nothing is written")] = False,
    report: Annotated[
        str, Form(pattern="^(json|xlsx)$", description="xlsx: answer with the report as a workbook")
    ] = "json",
):
    get_layer(layer)
    _refuse_unknown_fields((await request.form()).keys())
    # Only short ASCII suffixes (.geojson, .shp.zip, ...) reach the disk: a hostile name cannot make
    # the temporary file name too long, climb out of the folder or carry control characters.
    parts = Path((file.filename or "upload").replace("\\", "/")).suffixes[-2:]
    suffix = "".join(s for s in parts if len(s) <= 9 and s[1:].isascii() and s[1:].isalnum()) or ".bin"
    with tempfile.TemporaryDirectory(prefix="geo-upload-") as tmp:
        dest = Path(tmp) / f"upload{suffix}"
        await _save_upload(file, dest)
        opts = ImportOptions(
            source_crs=crs,
            column_map=parse_column_map([*(map_ or []), *(column_map or [])]),
            id_column=id_column,
            lon_column=lon,
            lat_column=lat,
            file_layer=file_layer,
            encoding=encoding,
            skip_invalid=skip_invalid,
            repair=repair,
            plan=plan,
            level=level,
            check=check,
        )
        try:
            result = await run_in_threadpool(
                run_import, store, layer, dest, opts, actor=user.label, source_name=file.filename
            )
        except ImportValidationError as exc:
            if report == "xlsx":
                return _report_response(exc.report, exc.http_status, file.filename or layer)
            raise
    if report == "xlsx":
        return _report_response(result.report, 200, file.filename or layer)
    return result.to_dict()


# ----------------------------------------------------------------------------- single-feature edits
@router.post(
    "/{layer}/features",
    response_model=FeatureEdit,
    status_code=201,
    responses=ERROR_RESPONSES,
    summary="Add one feature, e.g. a new shelter (新增要素)",
)
def create_feature(
    layer: str,
    feature: Annotated[FeatureIn, Body()],
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(layer_writer)],
):
    from ..core.edits import create_feature as create

    return JSONResponse(
        FeatureEdit(**create(store, layer, feature.model_dump(), actor=user.label)).model_dump(), status_code=201
    )


@router.patch(
    "/{layer}/{fid}",
    response_model=FeatureEdit,
    responses=ERROR_RESPONSES,
    summary="Change one feature's properties or geometry (修改要素)",
)
def update_feature(
    layer: str,
    fid: Annotated[int, FastPath(ge=1, le=MAX_ID)],
    patch: Annotated[FeaturePatch, Body()],
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(layer_writer)],
):
    from ..core.edits import update_feature as update

    return FeatureEdit(**update(store, layer, fid, patch.model_dump(), actor=user.label))


@router.delete(
    "/{layer}/{fid}", response_model=FeatureEdit, responses=ERROR_RESPONSES, summary="Delete one feature (删除要素)"
)
def delete_feature(
    layer: str,
    fid: Annotated[int, FastPath(ge=1, le=MAX_ID)],
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(layer_writer)],
):
    from ..core.edits import delete_feature as delete

    return FeatureEdit(**delete(store, layer, fid, actor=user.label))
