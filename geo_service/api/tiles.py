"""``/tiles/{collection}/{z}/{x}/{y}.mvt``: Mapbox vector tiles (Web Mercator) of every OGC collection."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from maps import tiles as mvt

from ..core.layers import LAYERS
from ..core.storage import Store
from .deps import get_store
from .ogc import OGC_ERRORS, CollectionRef, OGCParameterError, resolve_collection
from .schemas import MAX_ID

router = APIRouter(prefix="/tiles", tags=["vector tiles 矢量瓦片"])
MVT = "application/vnd.mapbox-vector-tile"


class TileCache:
    """Rendered tiles by ETag (which names the data revision, the collection, the tile and the back end), least
    recently used out first, up to ``max_bytes``: many residents viewing the same area (after an earthquake)
    are served from memory; a re-import changes the ETag, so nothing stale is served."""

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes -= len(old) if old is not None else 0
            self._items[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)


TILE_CACHE = TileCache()


def _store_token(store: Store) -> str:
    """A token of the store object (two stores of one process never share cached tiles)."""
    token = getattr(store, "_tile_cache_token", None)
    if token is None:
        token = uuid.uuid4().hex
        store._tile_cache_token = token  # type: ignore[attr-defined]
    return token


def layer_attributes(layer: str) -> list[str]:
    """Attributes written into tiles of a layer: ``source_id``, the declared fields, ``plan_id`` (no timestamps)."""
    spec = LAYERS[layer]
    names = [] if layer.startswith("network_") else ["source_id"]
    names += [f.name for f in spec.fields]
    if spec.per_plan:
        names.append("plan_id")
    return names


def render_tile(store: Store, ref: CollectionRef, z: int, x: int, y: int, filters: dict) -> bytes:
    """The tile's bytes (``b""`` when empty): ``ST_AsMVT`` on PostGIS, :func:`maps.tiles.encode_tile` on SpatiaLite."""
    if store.dialect == "postgresql":
        if ref.layer:
            return store.mvt_tile(
                ref.layer,
                ref.id,
                z,
                x,
                y,
                columns=layer_attributes(ref.layer),
                filters=filters,
                extent=mvt.EXTENT,
                buffer=mvt.BUFFER,
            )
        return store.mvt_tile(
            None, ref.id, z, x, y, run_id=ref.run_id, output=ref.output, extent=mvt.EXTENT, buffer=mvt.BUFFER
        )
    bbox = mvt.tile_bounds_lonlat(z, x, y, margin=mvt.BUFFER / mvt.EXTENT)
    gdf = ref.read(store, bbox=bbox, filters=filters)
    attrs = layer_attributes(ref.layer) if ref.layer else None
    return mvt.encode_tile(gdf, ref.id, z, x, y, attributes=attrs)


@router.get(
    "/{collection_id}/{z}/{x}/{y}.mvt",
    responses={
        200: {"content": {MVT: {}}, "description": "Mapbox vector tile, one layer named after the collection"},
        204: {"description": "Empty tile"},
        304: {"description": "Not modified (ETag)"},
        **OGC_ERRORS,
    },
    response_class=Response,
    summary="Vector tile of a layer or analysis result (矢量瓦片)",
    description="XYZ tile scheme in Web Mercator (EPSG:3857), extent 4096, buffer 64. PostGIS encodes with ST_AsMVT; "
    "SpatiaLite with mapbox-vector-tile. Feature id = the collection's id; attributes = the layer's fields. "
    "ETag follows the layer revision (or the analysis run), so a re-import invalidates cached tiles.",
)
async def tile(
    collection_id: str,
    z: int,
    x: int,
    y: int,
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    plan: Annotated[str | None, Query(description="Plan id or name (communities)")] = None,
    network: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Network id (network layers)")] = None,
):
    if not mvt.valid_tile(z, x, y):
        raise OGCParameterError(
            f"no tile {z}/{x}/{y} (zoom 0-{mvt.MAX_ZOOM}, x and y below 2^zoom)",
            f"瓦片编号 {z}/{x}/{y} 无效（缩放级别 0-{mvt.MAX_ZOOM}，行列号小于 2 的 zoom 次方）",
        )
    ref = await run_in_threadpool(resolve_collection, store, collection_id)
    filters = {}
    if plan is not None and ref.layer and LAYERS[ref.layer].per_plan:
        filters["plan_id"] = (await run_in_threadpool(store.get_plan, plan))["id"]
    if network is not None and ref.layer and ref.layer.startswith("network_"):
        filters["network_id"] = network
    revision = await run_in_threadpool(ref.revision, store)
    tag = (
        '"'
        + hashlib.sha1(
            f"{revision}|{ref.id}|{z}/{x}/{y}|{sorted(filters.items())}|{store.dialect}".encode()
        ).hexdigest()[:20]
        + '"'
    )
    immutable = ref.id.startswith("analysis_")
    headers = {
        "ETag": tag,
        "Cache-Control": "public, max-age=86400, immutable" if immutable else "public, max-age=60, must-revalidate",
        "Access-Control-Allow-Origin": "*",
    }
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    key = f"{_store_token(store)}|{tag}"
    body = TILE_CACHE.get(key)
    if body is None:
        body = await run_in_threadpool(render_tile, store, ref, z, x, y, filters)
        TILE_CACHE.put(key, body)
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT, headers=headers)
