"""Layers: read (bbox, paging), count, get one feature, upsert by ``source_id``, delete, revisions, import log."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import sqlalchemy as sa

from .. import models
from .._errors import GeoServiceError, NotFoundError
from ..jsonvalues import plain
from ..layers import LayerSpec, get_layer
from ._base import StoreBase
from ._values import (
    BATCH_ROWS,
    SRID,
    WriteResult,
    _paged,
    _plain_records,
    _rows_to_frame,
    promote_to_storage,
    utcnow,
)
from .changes import record_change

Progress = Callable[[int], None]


class LayersRepository(StoreBase):
    """Features of the declared layers (:mod:`geo_service.core.layers`) and their revisions."""

    # ------------------------------------------------------------------ reads
    def _table(self, layer: str | LayerSpec) -> tuple[LayerSpec, sa.Table]:
        spec = layer if isinstance(layer, LayerSpec) else get_layer(layer)
        return spec, models.LAYER_TABLES[spec.name]

    def _filters(self, table, bbox=None, plan_id=None, network_id=None, where: dict | None = None):
        clauses = []
        if bbox is not None:
            clauses.append(self._bbox_clause(table, bbox))
        if plan_id is not None and "plan_id" in table.c:
            clauses.append(table.c.plan_id == plan_id)
        if network_id is not None and "network_id" in table.c:
            clauses.append(table.c.network_id == network_id)
        for col, value in (where or {}).items():
            clauses.append(table.c[col] == value)
        return clauses

    def count(self, layer: str, *, bbox=None, plan_id=None, network_id=None, where: dict | None = None) -> int:
        """Number of features of a layer matching the filters (see :meth:`read_layer`)."""
        spec, table = self._table(layer)
        stmt = (
            sa.select(sa.func.count()).select_from(table).where(*self._filters(table, bbox, plan_id, network_id, where))
        )
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def read_layer(
        self,
        layer: str,
        *,
        bbox=None,
        limit: int | None = None,
        offset: int = 0,
        plan_id: int | None = None,
        network_id: int | None = None,
        where: dict | None = None,
        ids=None,
    ) -> gpd.GeoDataFrame:
        """Read features of a layer as a GeoDataFrame in EPSG:4326, ordered by ``id``.

        Parameters
        ----------
        bbox : (minx, miny, maxx, maxy), optional
            Degrees, EPSG:4326; keeps features intersecting it.
        limit, offset : int, optional
            Paging.
        plan_id, network_id : int, optional
            Rows of one plan / network (layers that have the column).
        where : dict, optional
            Column = value.
        ids : iterable of int, optional
            Only these ``id``.
        """
        spec, table = self._table(layer)
        cols = [c for c in table.c if c.name != "geom"]
        stmt = sa.select(*cols, sa.func.ST_AsBinary(table.c.geom).label("_wkb")).where(
            *self._filters(table, bbox, plan_id, network_id, where)
        )
        with self.read() as conn:
            rows = conn.execute(_paged(stmt, table, ids, limit, offset)).all()
        return _rows_to_frame(rows, [c.name for c in cols])

    def get_feature(self, layer: str, fid: int) -> gpd.GeoDataFrame:
        """One feature by ``id``; :class:`NotFoundError` when absent."""
        spec = get_layer(layer)
        gdf = self.read_layer(layer, ids=[fid])
        if gdf.empty:
            raise NotFoundError(
                f"layer {layer} has no feature with id {fid}",
                f"图层「{spec.label_zh}」中没有编号为 {fid} 的要素",
                layer=layer,
                id=fid,
            )
        return gdf

    def existing_source_ids(self, conn, layer: str, plan_id: int | None = None) -> dict[str, int]:
        """``source_id`` -> ``id`` of a layer's features (of one plan for per-plan layers)."""
        spec, table = self._table(layer)
        stmt = sa.select(table.c.source_id, table.c.id)
        if spec.per_plan:
            stmt = stmt.where(table.c.plan_id == plan_id)
        return {sid: fid for sid, fid in conn.execute(stmt)}

    def feature_id(self, conn, layer: str, source_id: str) -> int | None:
        """The ``id`` of the (non-plan) feature with ``source_id``, or None."""
        _spec, table = self._table(layer)
        fid = conn.execute(sa.select(table.c.id).where(table.c.source_id == str(source_id))).scalar()
        return None if fid is None else int(fid)

    # ----------------------------------------------------------------- writes
    def upsert_layer(
        self,
        layer: str,
        gdf: gpd.GeoDataFrame,
        *,
        plan_id: int | None = None,
        conn: sa.Connection | None = None,
        progress: Progress | None = None,
    ) -> WriteResult:
        """Insert or update features by ``source_id``, in one transaction.

        ``gdf`` must be in EPSG:4326 with a ``source_id`` column and the
        layer's fields (already validated: see :mod:`geo_service.core.importer`).
        Passing ``conn`` joins the caller's transaction.
        """
        if conn is None:
            with self.transaction() as c:
                return self.upsert_layer(layer, gdf, plan_id=plan_id, conn=c, progress=progress)
        spec, table = self._table(layer)
        if spec.per_plan and plan_id is None:
            raise GeoServiceError(
                f"layer {layer} needs a plan", f"图层「{spec.label_zh}」需要指定社区划分方案（--plan）"
            )
        existing = self.existing_source_ids(conn, layer, plan_id)
        now = utcnow()
        geom_expr = sa.func.ST_GeomFromWKB(sa.bindparam("wkb", type_=sa.LargeBinary), SRID)
        names = ["source_id", *[f.name for f in spec.fields], "updated_at"]
        ins_cols = names + ["created_at"] + (["plan_id"] if spec.per_plan else [])
        insert = table.insert().values({**{n: sa.bindparam(n) for n in ins_cols}, "geom": geom_expr})
        update = (
            table.update()
            .where(table.c.id == sa.bindparam("_id"))
            .values({**{n: sa.bindparam(n) for n in names if n != "source_id"}, "geom": geom_expr})
        )
        result = WriteResult()
        # Records are built batch by batch so memory stays bounded for millions of rows.
        for start in range(0, len(gdf), BATCH_ROWS):
            inserts, updates = [], []
            for rec in _records(spec, gdf.iloc[start : start + BATCH_ROWS]):
                rec["updated_at"] = now
                fid = existing.get(rec["source_id"])
                if fid is None:
                    rec["created_at"] = now
                    if spec.per_plan:
                        rec["plan_id"] = plan_id
                    inserts.append(rec)
                else:
                    rec["_id"] = fid
                    updates.append(rec)
            if inserts:
                conn.execute(insert, inserts)
            if updates:
                conn.execute(update, updates)
            result.inserted += len(inserts)
            result.updated += len(updates)
            if progress:
                progress(result.inserted + result.updated)
        self.bump_revision(conn, layer)
        return result

    def delete_layer(self, layer: str, *, conn: sa.Connection, plan_id: int | None = None) -> int:
        """Delete a layer's features (of one plan, for per-plan layers) in the caller's transaction; return how many."""
        spec, table = self._table(layer)
        stmt = table.delete()
        if spec.per_plan and plan_id is not None:
            stmt = stmt.where(table.c.plan_id == plan_id)
        n = conn.execute(stmt).rowcount
        self.bump_revision(conn, layer)
        return n

    def delete_feature(self, layer: str, fid: int, *, conn: sa.Connection) -> dict:
        """Delete one feature by ``id`` in the caller's transaction.

        Returns
        -------
        dict
            ``id`` and ``source_id`` of the deleted feature; :class:`NotFoundError` if absent.
        """
        spec, table = self._table(layer)
        sid = conn.execute(sa.select(table.c.source_id).where(table.c.id == int(fid))).scalar()
        if sid is None:
            raise NotFoundError(
                f"layer {layer} has no feature with id {fid}",
                f"图层「{spec.label_zh}」中没有编号为 {fid} 的要素",
                layer=layer,
                id=int(fid),
            )
        conn.execute(table.delete().where(table.c.id == int(fid)))
        self.bump_revision(conn, layer)
        return {"id": int(fid), "source_id": sid}

    # -------------------------------------------------------------- revisions
    def bump_revision(self, conn, layer: str) -> None:
        """Count one more change of ``layer`` in the caller's transaction."""
        t = models.layer_revisions
        n = conn.execute(
            t.update().where(t.c.layer == layer).values(revision=t.c.revision + 1, updated_at=utcnow())
        ).rowcount
        if not n:
            conn.execute(t.insert().values(layer=layer, revision=1, updated_at=utcnow()))

    def layer_revisions(self) -> dict[str, int]:
        """Layer name -> revision (how many writes it has seen)."""
        t = models.layer_revisions
        with self.read() as conn:
            return {r.layer: r.revision for r in conn.execute(sa.select(t.c.layer, t.c.revision))}

    def layer_revisions_in(self, conn: sa.Connection) -> dict[str, int]:
        """:meth:`layer_revisions` read with the caller's connection."""
        t = models.layer_revisions
        return {r.layer: int(r.revision) for r in conn.execute(sa.select(t.c.layer, t.c.revision))}

    def log_import(self, conn, **row) -> None:
        """One ``imports`` row and its change-log row, in the caller's transaction."""
        conn.execute(models.imports.insert().values(created_at=utcnow(), **row))
        record_change(
            conn,
            row.get("actor"),
            "import",
            "layer",
            row.get("layer"),
            {k: row.get(k) for k in ("source_name", "source_crs", "rows_read", "inserted", "updated", "skipped")},
        )


def _records(spec: LayerSpec, gdf: gpd.GeoDataFrame) -> list[dict]:
    """Plain records of a frame for a layer: geometries promoted to the stored type, bools as bool or None."""
    geoms = promote_to_storage(np.asarray(gdf.geometry.values, dtype=object), spec.storage_geometry)
    frame = gdf.copy()
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    for f in spec.fields:
        if f.kind == "bool" and f.name in frame.columns:
            frame[f.name] = frame[f.name].map(lambda v: None if plain(v) is None else bool(v)).astype(object)
    recs = _plain_records(frame, ["source_id", *[f.name for f in spec.fields]])
    for r in recs:
        r["source_id"] = str(r["source_id"])
    return recs
