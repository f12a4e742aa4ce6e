"""Export of layers to files, in EPSG:4326, EPSG:4490 (official use) or any CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from ._errors import CRSError
from .io import write_file
from .layers import get_layer
from .storage import Store


def output_crs(crs: str | int | None):
    """Parse an output CRS (``EPSG:4490``, ``4326``, ``CGCS2000``...) into a pyproj CRS."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjError

    from .crs import parse_source_crs

    if crs is None:
        return CRS.from_epsg(4326)
    parsed = parse_source_crs(str(crs))
    if parsed.crs is None:
        raise CRSError(
            f"{crs!r} is a consumer-map offset system; exports are in EPSG codes (e.g. EPSG:4490)",
            f"{crs!r} 是互联网地图偏移坐标系，导出请使用 EPSG 坐标系（如 EPSG:4490）",
        )
    try:
        return CRS.from_user_input(parsed.crs)
    except ProjError as exc:  # pragma: no cover - parse_source_crs already checked
        raise CRSError(str(exc)) from exc


def reproject(gdf: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    """Reproject from EPSG:4326; EPSG:4490 is taken as equal to 4326 (metre level), so only relabelled."""
    target = output_crs(crs)
    if target.to_epsg() == 4490:
        return gdf.set_crs(target, allow_override=True)
    return gdf.to_crs(target)


def export_layer(
    store: Store, layer: str, fmt: str, out: str | Path, *, crs="EPSG:4326", plan=None
) -> tuple[Path, int]:
    """Write a whole layer to ``out``; return the path written and the feature count."""
    spec = get_layer(layer)
    plan_id = store.get_plan(plan)["id"] if plan is not None and spec.per_plan else None
    gdf = store.read_layer(layer, plan_id=plan_id)
    gdf = reproject(gdf, crs)
    for col in ("created_at", "updated_at"):
        if col in gdf.columns:
            gdf[col] = gdf[col].astype(str)
    headers = {"source_id": "编号", **{f.name: f.label_zh + (f"（{f.unit}）" if f.unit else "") for f in spec.fields}}
    path = write_file(gdf, out, fmt, layer_name=layer, headers_zh=headers)
    return path, len(gdf)
