"""Edits of single features (a facility, a shelter, ...): create, update, delete.

Each edit is validated exactly like an import row (:func:`geo_service.core.importer.validate`),
written in one transaction together with its change-log row, and bumps the
layer's revision so stored analyses are recomputed.  Community polygons are
edited through their plans (``/plans/{plan}/edits``), not here.
"""

from __future__ import annotations

import math
import uuid

import geopandas as gpd
import shapely.geometry

from ._errors import ImportValidationError, InputError
from .jsonvalues import plain
from .layers import get_layer

MAX_PROPERTIES = 200


def _spec(layer: str):
    spec = get_layer(layer)
    if not spec.importable:
        raise InputError(
            f"layer {layer} is built by the service and cannot be edited",
            f"图层「{spec.label_zh}」由系统生成，不能编辑",
        )
    if spec.per_plan:
        raise InputError(
            f"features of {layer} are edited through their plan (/plans/{{plan}}/edits)",
            f"「{spec.label_zh}」属于社区划分方案，请通过方案编辑接口修改",
        )
    return spec


def _geometry(geometry: dict | None):
    if geometry is None:
        raise InputError("the feature has no geometry", "要素缺少几何（geometry）")
    try:
        geom = shapely.geometry.shape(geometry)
    except Exception as exc:  # wrong nesting, wrong types, unknown geometry type
        raise InputError(
            f"geometry is not valid GeoJSON: {str(exc)[:200]}", f"几何不是有效的 GeoJSON：{str(exc)[:200]}"
        ) from exc
    return geom


def _frame(spec, properties: dict, geom, source_id: str) -> gpd.GeoDataFrame:
    if len(properties) > MAX_PROPERTIES:
        raise InputError(f"more than {MAX_PROPERTIES} properties", f"属性超过 {MAX_PROPERTIES} 个")
    props = {k: v for k, v in properties.items() if k not in ("id", "source_id")}
    unknown = sorted(set(props) - set(spec.field_names))
    if unknown:
        raise InputError(
            f"unknown properties for layer {spec.name}: {', '.join(map(str, unknown[:20]))}; "
            f"known: {', '.join(spec.field_names)}",
            f"图层「{spec.label_zh}」没有这些属性：{', '.join(map(str, unknown[:20]))}；"
            f"可用属性：{', '.join(spec.field_names)}",
            unknown=unknown[:20],
            known=list(spec.field_names),
        )
    for k, v in props.items():
        if isinstance(v, (dict, list)):
            raise InputError(
                f"property {k!r} must be a plain value, not {type(v).__name__}",
                f"属性 {k!r} 应为单个值，不能是对象或数组",
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"property {k!r} is not a finite number", f"属性 {k!r} 不是有限数值")
    return gpd.GeoDataFrame([{**props, "source_id": source_id}], geometry=[geom], crs=4326)


def _validated(spec, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    from .importer import ImportOptions, validate

    out, report = validate(frame, spec, ImportOptions())
    if report.problems:
        raise ImportValidationError(report)
    return out


def create_feature(store, layer: str, feature: dict, *, actor: str) -> dict:
    """Add one feature; ``properties.source_id`` is kept if given (409 if taken), else one is made."""
    spec = _spec(layer)
    props = dict(feature.get("properties") or {})
    sid = str(props.get("source_id") or f"api-{uuid.uuid4().hex[:12]}")
    frame = _validated(spec, _frame(spec, props, _geometry(feature.get("geometry")), sid))
    with store.transaction() as conn:
        if store.feature_id(conn, spec.name, sid) is not None:
            from ._errors import ConflictError

            raise ConflictError(
                f"layer {layer} already has source_id {sid!r}; edit it with PATCH",
                f"图层「{spec.label_zh}」中已有编号 {sid!r}，请改用修改接口",
                source_id=sid,
            )
        store.upsert_layer(spec.name, frame, conn=conn)
        fid = store.feature_id(conn, spec.name, sid)
        store.record_change(
            conn, actor, "feature_create", spec.name, fid, {"source_id": sid, "properties": _plain(frame)}
        )
    return {"id": int(fid), "source_id": sid}


def update_feature(store, layer: str, fid: int, patch: dict, *, actor: str) -> dict:
    """Change properties and/or the geometry of one feature (keys absent from ``patch`` keep their values)."""
    spec = _spec(layer)
    current = store.get_feature(spec.name, int(fid))
    row = current.iloc[0]
    old = {f: plain(row.get(f)) for f in spec.field_names if f in current.columns}
    props = {**old, **dict(patch.get("properties") or {})}
    geom = _geometry(patch["geometry"]) if patch.get("geometry") is not None else row.geometry
    sid = str(row["source_id"])
    frame = _validated(spec, _frame(spec, props, geom, sid))
    new = _plain(frame)
    changed = {k: {"from": old.get(k), "to": new.get(k)} for k in new if new.get(k) != old.get(k)}
    if patch.get("geometry") is not None:
        changed["geometry"] = {"from": row.geometry.wkt[:2000], "to": frame.geometry.iloc[0].wkt[:2000]}
    with store.transaction() as conn:
        if store.feature_id(conn, spec.name, sid) != int(fid):
            from ._errors import ConflictError

            raise ConflictError(
                f"feature {fid} changed or was deleted meanwhile", f"要素 {fid} 已被他人修改或删除，请刷新后重试"
            )
        store.upsert_layer(spec.name, frame, conn=conn)
        store.record_change(conn, actor, "feature_update", spec.name, int(fid), {"source_id": sid, "changed": changed})
    return {"id": int(fid), "source_id": sid, "changed": sorted(changed)}


def delete_feature(store, layer: str, fid: int, *, actor: str) -> dict:
    spec = _spec(layer)
    with store.transaction() as conn:
        out = store.delete_feature(spec.name, int(fid), conn=conn)
        store.record_change(conn, actor, "feature_delete", spec.name, int(fid), {"source_id": out["source_id"]})
    return out


def _plain(frame: gpd.GeoDataFrame) -> dict:
    row = frame.iloc[0]
    return {c: plain(row[c]) for c in frame.columns if c not in (frame.geometry.name, "source_id")}
