"""What the analysis routers (``/coverage``, ``/audit``) share: the run description and a page of one output."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from ..core._errors import InputError
from ..core.geojson import GEOJSON_MEDIA_TYPE, feature_collection_json
from ..core.settings import get_settings
from ..core.storage import Store
from .layers import parse_bbox
from .schemas.runs import RunInfo


def run_info(run: dict) -> RunInfo:
    return RunInfo(**{k: run.get(k) for k in RunInfo.model_fields if k in run})


def check_page(limit: int | None) -> int:
    """The page size asked for (default from the settings), refused above the maximum."""
    settings = get_settings()
    limit = limit or settings.page_limit_default
    if limit > settings.page_limit_max:
        raise InputError(
            f"limit may be at most {settings.page_limit_max}", f"每页最多 {settings.page_limit_max} 个要素"
        )
    return limit


def output_page(
    request: Request, store: Store, run: dict, output: str, layer: str, box, limit: int, offset: int
) -> Response:
    """One page of a run's output as a GeoJSON FeatureCollection with ``numberMatched`` and a ``next`` link."""
    matched = store.count_analysis_output(run["id"], output, bbox=box)
    gdf = store.read_analysis_output(run["id"], output, bbox=box, limit=limit, offset=offset)
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON_MEDIA_TYPE}]
    if offset + len(gdf) < matched:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON_MEDIA_TYPE,
            }
        )
    body = feature_collection_json(
        gdf,
        extra={
            "layer": layer,
            "crs": "EPSG:4326",
            "run_id": run["id"],
            "numberMatched": matched,
            "numberReturned": len(gdf),
            "links": links,
        },
    )
    return Response(body, media_type=GEOJSON_MEDIA_TYPE)


__all__ = ["check_page", "output_page", "parse_bbox", "run_info"]
