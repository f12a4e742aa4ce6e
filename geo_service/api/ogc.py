"""OGC API - Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by reference), under ``/ogc``.

Collections are every stored layer and every stored analysis output:

- ``{layer}``: a layer of :data:`geo_service.core.layers.LAYERS` (``communities`` of every plan; ``plan=`` filters);
- ``{kind}_{output}``: the output of the newest run of an analysis kind, e.g. ``coverage_units``;
- ``analysis_{run_id}_{output}``: the output of one run, e.g. ``analysis_12_gaps``.

Coordinates are stored in CRS84 (lon, lat).  ``crs`` / ``bbox-crs`` accept the CRS URIs listed by each
collection; the EPSG geographic CRSs (4326, 4490) have **latitude first**, as their definition says, and are
produced by pyproj in the authority's axis order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated

import geopandas as gpd
import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..core._errors import GeoServiceError, NotFoundError
from ..core.geojson import GEOJSON_MEDIA_TYPE, features_json
from ..core.layers import LAYERS
from ..core.settings import get_settings
from ..core.storage import Store
from .deps import get_store
from .schemas import MAX_ID, MAX_OFFSET
from .schemas.ogc import (
    CRS84,
    OGC_ERRORS,
    CollectionInfo,
    Collections,
    Conformance,
    LandingPage,
    OGCFeature,
    OGCFeatureCollection,
)

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])

JSON = "application/json"
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
ITEM_PARAMS = {"bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "f", "plan", "network"}
DEFAULT_LIMIT = 100
RECENT_RUNS = 50  # runs listed in /collections as analysis_{id}_{output}; older runs stay reachable by id
_RUN_ID = re.compile(r"^analysis_(\d+)_(.+)$")


class OGCParameterError(GeoServiceError):
    """A query parameter OGC API - Features answers with 400."""

    http_status = 400


# ---------------------------------------------------------------------------- CRS
def supported_crs(store: Store | None = None) -> list[str]:
    """CRS URIs every collection offers: CRS84, EPSG:4326, EPSG:4490, EPSG:3857 and the dataset's metric CRS."""
    out = [CRS84, EPSG_URI.format(4326), EPSG_URI.format(4490), EPSG_URI.format(3857)]
    if store is not None:
        metric = (store.get_metadata().get("dataset") or {}).get("metric_crs")
        code = str(metric).upper().removeprefix("EPSG:") if metric else ""
        if code.isdigit() and EPSG_URI.format(code) not in out:
            out.append(EPSG_URI.format(code))
    return out


def parse_crs_uri(value: str, allowed: list[str], name: str = "crs") -> str:
    """Accept a CRS URI (also ``[EPSG:xxxx]`` safe CURIEs and ``EPSG:xxxx``) listed in ``allowed``; return the URI."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    m = re.fullmatch(r"(?:EPSG|epsg):(\d+)", v)
    if m:
        v = EPSG_URI.format(m.group(1))
    elif v.upper() in ("CRS84", "OGC:CRS84"):
        v = CRS84
    v = v.replace("https://", "http://")
    if v not in allowed:
        raise OGCParameterError(
            f"{name} {value!r} is not supported; use one of {', '.join(allowed)}",
            f"不支持的坐标系 {value!r}（参数 {name}）；可用：{', '.join(allowed)}",
            parameter=name,
            supported=allowed,
        )
    return v


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str):
    from pyproj import CRS, Transformer

    def crs(uri):
        return CRS.from_user_input("OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1])

    # always_xy=False: coordinates in and out follow each CRS's own axis order (EPSG:4326 is lat, lon).
    return Transformer.from_crs(crs(src), crs(dst))


def transform_geoms(geoms: np.ndarray, target: str) -> np.ndarray:
    """CRS84 geometries to ``target`` (a CRS URI), in the target's axis order."""
    if target == CRS84:
        return geoms
    tr = _transformer(CRS84, target)

    def fn(coords):
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def bbox_to_crs84(
    bbox: str | None, bbox_crs: str | None, allowed: list[str]
) -> tuple[float, float, float, float] | None:
    """``bbox`` (4 or 6 numbers, in the axis order of ``bbox-crs``, default CRS84) to lon/lat bounds."""
    if bbox is None:
        if bbox_crs is not None:
            parse_crs_uri(bbox_crs, allowed, "bbox-crs")
        return None
    try:
        vals = [float(v) for v in bbox.split(",")]
    except ValueError:
        vals = []
    if len(vals) == 6:  # minx, miny, minz, maxx, maxy, maxz
        vals = [vals[0], vals[1], vals[3], vals[4]]
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise OGCParameterError(
            f"bbox must be 4 (or 6) comma-separated numbers, got {bbox!r}",
            f"bbox 应为逗号分隔的 4 个（或 6 个）数字，收到 {bbox!r}",
            parameter="bbox",
        )
    src = parse_crs_uri(bbox_crs, allowed, "bbox-crs") if bbox_crs else CRS84
    if src == CRS84:
        x0, y0, x1, y1 = vals
        if y0 > y1 or not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
            raise OGCParameterError(
                f"bbox {bbox!r} is not a valid CRS84 box (lon, lat)",
                f"bbox {bbox!r} 不是有效的经纬度范围（经度在前）",
                parameter="bbox",
            )
        if x0 > x1:
            raise OGCParameterError(
                f"bbox {bbox!r} crosses the antimeridian, which is not supported",
                f"bbox {bbox!r} 跨越 180° 经线，暂不支持",
                parameter="bbox",
            )
        return x0, y0, x1, y1
    if vals[0] > vals[2] or vals[1] > vals[3]:
        raise OGCParameterError(
            f"bbox {bbox!r}: lower corner must come first", f"bbox {bbox!r}：应先写左下角再写右上角", parameter="bbox"
        )
    # transform_bounds follows the axis order of bbox-crs (EPSG:4326: lat, lon) and returns lon, lat bounds.
    return tuple(float(v) for v in _transformer(src, CRS84).transform_bounds(*vals, densify_pts=21))


# ---------------------------------------------------------------------- collections
@dataclass
class CollectionRef:
    """One collection: a layer, or one output of one analysis run."""

    id: str
    title: str
    description: str
    layer: str | None = None
    run_id: int | None = None
    output: str | None = None
    kind: str | None = None

    def revision(self, store: Store) -> str:
        if self.layer:
            return f"{self.layer}:{store.layer_revisions().get(self.layer, 0)}"
        return f"run:{self.run_id}:{self.output}"

    def count(self, store: Store, bbox=None, filters: dict | None = None) -> int:
        if self.layer:
            return store.count(self.layer, bbox=bbox, **(filters or {}))
        return store.count_analysis_output(self.run_id, self.output, bbox=bbox)

    def read(
        self, store: Store, bbox=None, limit=None, offset=0, filters: dict | None = None, ids=None
    ) -> gpd.GeoDataFrame:
        if self.layer:
            return store.read_layer(self.layer, bbox=bbox, limit=limit, offset=offset, ids=ids, **(filters or {}))
        return store.read_analysis_output(self.run_id, self.output, bbox=bbox, limit=limit, offset=offset, ids=ids)


def _layer_ref(name: str) -> CollectionRef:
    spec = LAYERS[name]
    desc = f"图层「{spec.label_zh}」（{name}）"
    if spec.per_plan:
        desc += "；包含所有社区划分方案，可用 plan=方案编号或名称 筛选"
    if name.startswith("network_"):
        desc += "；包含所有步行网络，可用 network=网络编号 筛选"
    return CollectionRef(id=name, title=spec.label_zh, description=desc, layer=name)


def _run_ref(run: dict, output: str, alias: bool) -> CollectionRef:
    cid = f"{run['kind']}_{output}" if alias else f"analysis_{run['id']}_{output}"
    when = run["created_at"].isoformat() if hasattr(run["created_at"], "isoformat") else str(run["created_at"])
    title = f"分析结果 {run['kind']} / {output}（运行 {run['id']}）"
    desc = f"{'最新一次' if alias else ''}分析（{run['kind']}，运行编号 {run['id']}，{when}）的输出「{output}」"
    return CollectionRef(id=cid, title=title, description=desc, run_id=int(run["id"]), output=output, kind=run["kind"])


_EXTENTS: dict[tuple, list[float] | None] = {}


def collection_extent(store: Store, ref: CollectionRef) -> list[float] | None:
    """Bounding box (CRS84) of a collection, cached per layer revision / run (None when empty)."""
    key = (str(store.url), ref.revision(store))
    if key in _EXTENTS:
        return _EXTENTS[key]
    box = store.extent(ref.layer) if ref.layer else store.extent(run_id=ref.run_id, output=ref.output)
    if len(_EXTENTS) > 1000:
        _EXTENTS.clear()
    _EXTENTS[key] = box
    return box


def list_collections(store: Store) -> list[CollectionRef]:
    refs = [_layer_ref(name) for name in LAYERS]
    runs = store.list_analyses(limit=RECENT_RUNS)
    outputs = {run["id"]: store.get_analysis(run["id"])["outputs"] for run in runs}
    latest: dict[str, dict] = {}
    for run in runs:  # newest first
        if run.get("status", "done") == "done":
            latest.setdefault(run["kind"], run)
    for run in latest.values():
        refs += [_run_ref(run, out, alias=True) for out in sorted(outputs[run["id"]])]
    for run in runs:
        refs += [_run_ref(run, out, alias=False) for out in sorted(outputs[run["id"]])]
    return refs


def resolve_collection(store: Store, collection_id: str) -> CollectionRef:
    """The collection named ``collection_id``; :class:`NotFoundError` (404) when there is none."""
    if collection_id in LAYERS:
        return _layer_ref(collection_id)
    m = _RUN_ID.match(collection_id)
    if m:
        try:
            run = store.get_analysis(int(m.group(1)))
        except NotFoundError:
            run = None
        if run is not None and m.group(2) in run["outputs"]:
            return _run_ref(run, m.group(2), alias=False)
    else:
        kinds = {r["kind"] for r in store.list_analyses(limit=1000)}
        for kind in sorted(kinds, key=len, reverse=True):
            if collection_id.startswith(kind + "_"):
                run = store.latest_analysis(kind)
                output = collection_id[len(kind) + 1 :]
                if run is not None and output in store.get_analysis(run["id"])["outputs"]:
                    return _run_ref(run, output, alias=True)
    raise NotFoundError(
        f"no collection {collection_id!r}; see /ogc/collections",
        f"没有名为 {collection_id!r} 的数据集合，可用集合见 /ogc/collections",
        collection=collection_id,
    )


def _json(body: dict, media_type: str = JSON, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), media_type=media_type, headers=headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _collection_doc(ref: CollectionRef, base: str, crs: list[str], store: Store) -> dict:
    href = f"{base}/collections/{ref.id}"
    box = collection_extent(store, ref)
    extent = {"extent": {"spatial": {"bbox": [box], "crs": CRS84}}} if box else {}
    return {
        "id": ref.id,
        "title": ref.title,
        "description": ref.description + f"；矢量瓦片：/tiles/{ref.id}/{{z}}/{{x}}/{{y}}.mvt",
        "links": [
            {"href": href, "rel": "self", "type": JSON, "title": ref.title},
            {
                "href": f"{href}/items",
                "rel": "items",
                "type": GEOJSON_MEDIA_TYPE,
                "title": f"{ref.title}（GeoJSON 要素）",
            },
        ],
        **extent,
        "itemType": "feature",
        "crs": crs,
        "storageCrs": CRS84,
    }


# ------------------------------------------------------------------------ routes
@router.get("", response_model=LandingPage, summary="OGC API - Features landing page (数据服务首页)")
def landing(request: Request):
    base = _base(request)
    root = base.removesuffix("/ogc")
    return _json(
        {
            "title": "社区治理空间数据服务（OGC API - Features）",
            "description": "图层与分析结果要素；坐标默认 CRS84（经度在前），"
            "支持 crs 参数（EPSG:4326、EPSG:4490 为纬度在前）。",
            "links": [
                {"href": base, "rel": "self", "type": JSON, "title": "本页"},
                {"href": f"{base}/api", "rel": "service-desc", "type": OAS30, "title": "OpenAPI 3.0 接口定义"},
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "接口文档"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON, "title": "符合的标准类"},
                {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "数据集合"},
            ],
        }
    )


@router.get("/conformance", response_model=Conformance, summary="Conformance classes (符合的标准类)")
def conformance():
    return _json({"conformsTo": CONFORMANCE})


@router.get(
    "/api", summary="OpenAPI 3.0 definition of the OGC API (接口定义)", responses={200: {"content": {OAS30: {}}}}
)
def api_definition(request: Request):
    doc = openapi30(request.app.openapi(), prefix="/ogc")
    return Response(orjson.dumps(doc), media_type=OAS30)


@router.get(
    "/collections",
    response_model=Collections,
    responses=OGC_ERRORS,
    summary="Collections: layers and analysis results (数据集合)",
)
def collections(request: Request, store: Annotated[Store, Depends(get_store)]):
    base = _base(request)
    crs = supported_crs(store)
    return _json(
        {
            "links": [{"href": f"{base}/collections", "rel": "self", "type": JSON}],
            "collections": [_collection_doc(ref, base, crs, store) for ref in list_collections(store)],
            "crs": crs,
        }
    )


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionInfo,
    responses=OGC_ERRORS,
    summary="One collection (数据集合说明)",
)
def collection(collection_id: str, request: Request, store: Annotated[Store, Depends(get_store)]):
    ref = resolve_collection(store, collection_id)
    return _json(_collection_doc(ref, _base(request), supported_crs(store), store))


def _filters(store: Store, ref: CollectionRef, params) -> dict:
    out = {}
    if ref.layer and params.get("plan") is not None and LAYERS[ref.layer].per_plan:
        out["plan_id"] = store.get_plan(params["plan"])["id"]
    if ref.layer and params.get("network") is not None and ref.layer.startswith("network_"):
        out["network_id"] = _int_param(params, "network", 0, 1, MAX_ID)
    return out


def _int_param(params, name: str, default: int, minimum: int, maximum: int = MAX_OFFSET) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if raw.strip().isascii() else minimum - 1
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise OGCParameterError(
            f"{name} must be an integer from {minimum} to {maximum}",
            f"{name} 应为 {minimum} 到 {maximum} 之间的整数",
            parameter=name,
        )
    return value


def _check_params(params, allowed=ITEM_PARAMS) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise OGCParameterError(
            f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            f"不支持的查询参数：{', '.join(unknown)}",
            parameter=unknown[0],
        )
    if params.get("f", "json") not in ("json", "geojson"):
        raise OGCParameterError("f: only json (GeoJSON) is offered", "f 参数只支持 json（GeoJSON）", parameter="f")


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# The query parameters items() and item() read themselves (OGC names such as bbox-crs), documented for clients.
_CRS_Q = _query("crs", {"type": "string"}, "Output CRS URI (see the collection's crs list); default CRS84")
_F_Q = _query("f", {"type": "string", "enum": ["json", "geojson"]}, "Output format: GeoJSON")
ITEMS_QUERY = [
    _query("bbox", {"type": "string"}, "minx,miny,maxx,maxy (or 6 numbers with z) in the axis order of bbox-crs"),
    _query("bbox-crs", {"type": "string"}, "CRS URI of bbox; default CRS84 (lon, lat)"),
    _CRS_Q,
    _query(
        "limit", {"type": "integer", "minimum": 1}, f"Page size (default {DEFAULT_LIMIT}; capped at GEO_PAGE_LIMIT_MAX)"
    ),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, "Features skipped"),
    _query("datetime", {"type": "string"}, "Accepted; the features carry no temporal extent"),
    _F_Q,
    _query("plan", {"type": "string"}, "Plan id or name (communities)"),
    _query("network", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Network id (network layers)"),
]


def _feature_bytes(gdf: gpd.GeoDataFrame, target: str) -> list[bytes]:
    geoms = transform_geoms(np.asarray(gdf.geometry.values, dtype=object), target)
    frame = gpd.GeoDataFrame(
        gdf.drop(columns=[gdf.geometry.name]), geometry=gpd.GeoSeries(geoms, index=gdf.index), crs=None
    )
    return features_json(frame, precision=7 if target in (CRS84, EPSG_URI.format(4326), EPSG_URI.format(4490)) else 3)


@router.get(
    "/collections/{collection_id}/items",
    response_model=OGCFeatureCollection,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **OGC_ERRORS},
    summary="Features of a collection, paged (要素)",
    description="Query parameters: `bbox` (minx,miny,maxx,maxy in the axis order of `bbox-crs`, "
    "default CRS84 lon/lat), "
    "`bbox-crs`, `crs` (output CRS URI; EPSG:4326 and EPSG:4490 are latitude first), `limit` (default 100, larger "
    "values are capped at GEO_PAGE_LIMIT_MAX), `offset`, `datetime` (accepted; the features carry no temporal extent), "
    "`plan` (communities), `network` (network layers).",
    openapi_extra={"parameters": ITEMS_QUERY},
)
def items(collection_id: str, request: Request, store: Annotated[Store, Depends(get_store)]):
    params = request.query_params
    _check_params(params)
    ref = resolve_collection(store, collection_id)
    allowed = supported_crs(store)
    target = parse_crs_uri(params["crs"], allowed) if params.get("crs") else CRS84
    box = bbox_to_crs84(params.get("bbox"), params.get("bbox-crs"), allowed)
    limit = min(_int_param(params, "limit", DEFAULT_LIMIT, 1, 2**62), get_settings().page_limit_max)
    offset = _int_param(params, "offset", 0, 0)
    filters = _filters(store, ref, params)
    matched = ref.count(store, box, filters)
    gdf = ref.read(store, box, limit, offset, filters)
    url = request.url
    links = [
        {"href": str(url), "rel": "self", "type": GEOJSON_MEDIA_TYPE, "title": "本页"},
        {"href": f"{_base(request)}/collections/{ref.id}", "rel": "collection", "type": JSON, "title": ref.title},
    ]
    if offset + len(gdf) < matched:
        links.append(
            {
                "href": str(url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON_MEDIA_TYPE,
                "title": "下一页",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(url.include_query_params(offset=max(0, offset - limit), limit=limit)),
                "rel": "prev",
                "type": GEOJSON_MEDIA_TYPE,
                "title": "上一页",
            }
        )
    head = orjson.dumps(
        {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(gdf),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": links,
        }
    )
    body = head[:-1] + b',"features":[' + b",".join(_feature_bytes(gdf, target)) + b"]}"
    return Response(body, media_type=GEOJSON_MEDIA_TYPE, headers={"Content-Crs": f"<{target}>"})


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_model=OGCFeature,
    responses={200: {"content": {GEOJSON_MEDIA_TYPE: {}}}, **OGC_ERRORS},
    summary="One feature (单个要素)",
    openapi_extra={"parameters": [_CRS_Q, _F_Q]},
)
def item(collection_id: str, feature_id: str, request: Request, store: Annotated[Store, Depends(get_store)]):
    params = request.query_params
    _check_params(params, {"crs", "f"})
    ref = resolve_collection(store, collection_id)
    target = parse_crs_uri(params["crs"], supported_crs(store)) if params.get("crs") else CRS84
    gdf = (
        ref.read(store, ids=[int(feature_id)])
        if feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 10 and int(feature_id) <= MAX_ID
        else None
    )
    if gdf is None or gdf.empty:
        raise NotFoundError(
            f"collection {collection_id} has no feature {feature_id!r}",
            f"数据集合 {collection_id} 中没有编号为 {feature_id!r} 的要素",
            collection=collection_id,
            id=feature_id,
        )
    base = _base(request)
    links = orjson.dumps(
        [
            {"href": str(request.url), "rel": "self", "type": GEOJSON_MEDIA_TYPE},
            {"href": f"{base}/collections/{ref.id}", "rel": "collection", "type": JSON, "title": ref.title},
        ]
    )
    feat = _feature_bytes(gdf, target)[0]
    return Response(
        feat[:-1] + b',"links":' + links + b"}", media_type=GEOJSON_MEDIA_TYPE, headers={"Content-Crs": f"<{target}>"}
    )


# --------------------------------------------------------------- OpenAPI 3.0 view
def openapi30(doc: dict, prefix: str = "/ogc") -> dict:
    """The app's OpenAPI (3.1, FastAPI) restricted to ``prefix`` paths and written as OpenAPI 3.0.3.

    3.1-only constructs are rewritten: ``anyOf: [X, {type: null}]`` -> X with ``nullable``, ``const`` -> ``enum``,
    ``examples`` -> ``example``; the numeric ``exclusiveMinimum``/``exclusiveMaximum`` -> boolean form.
    """

    def conv(node):
        if isinstance(node, list):
            return [conv(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: conv(v) for k, v in node.items()}
        for key in ("anyOf", "oneOf"):
            opts = node.get(key)
            if isinstance(opts, list) and any(o == {"type": "null"} for o in opts):
                rest = [o for o in opts if o != {"type": "null"}]
                node.pop(key)
                if len(rest) == 1:
                    inner = rest[0]
                    if "$ref" in inner:
                        node["allOf"] = [inner]
                    else:
                        node.update(inner)
                else:
                    node[key] = rest
                node["nullable"] = True
        if "const" in node:
            node["enum"] = [node.pop("const")]
        if "examples" in node and isinstance(node["examples"], list):
            ex = node.pop("examples")
            if ex:
                node["example"] = ex[0]
        for key, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(node.get(key), (int, float)) and not isinstance(node.get(key), bool):
                node[flag] = node.pop(key)
                node[key] = True
        if node.get("type") == "null":
            node.pop("type")
            node["nullable"] = True
        return node

    paths = {p: v for p, v in doc.get("paths", {}).items() if p == prefix or p.startswith(prefix + "/")}
    out = {
        "openapi": "3.0.3",
        "info": {**doc.get("info", {}), "title": "社区治理空间数据服务 OGC API - Features"},
        "servers": [{"url": "/"}],
        "paths": conv(paths),
        "components": conv(doc.get("components", {})),
    }
    return out
