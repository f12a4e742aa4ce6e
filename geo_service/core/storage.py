"""Storage: the one module that talks to the database.

A :class:`Store` wraps an engine on SpatiaLite (embedded default) or PostGIS
and offers a small interface over GeoDataFrames: read a layer (with bbox and
paging), count, get one feature, upsert a frame by ``source_id`` in one
transaction, keep plans, networks and dataset metadata.  Geometries travel as
WKB; both backends use the same SQL (``ST_GeomFromWKB`` / ``ST_AsBinary``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from . import models
from ._db import create_engine, normalize_url
from ._errors import ConflictError, DatabaseUnavailable, GeoServiceError, NotFoundError
from .layers import LayerSpec, get_layer
from .settings import Settings, get_settings

SRID = models.SRID
_MULTI = {
    "MULTIPOLYGON": (shapely.GeometryType.POLYGON, shapely.multipolygons),
    "MULTILINESTRING": (shapely.GeometryType.LINESTRING, shapely.multilinestrings),
}
BATCH_ROWS = 5000
SPATIALITE_BULK_ROWS = 50_000

Progress = Callable[[int], None]


@dataclass
class WriteResult:
    """What one write did: rows inserted and rows updated (matched by ``source_id``)."""

    inserted: int = 0
    updated: int = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


def promote_to_storage(geoms: np.ndarray, storage_geometry: str) -> np.ndarray:
    """Promote single-part geometries to the multi-part type a column stores.

    Parameters
    ----------
    geoms : array of shapely geometries
    storage_geometry : str
        GeoAlchemy2 geometry type of the column (``MULTIPOLYGON``, ...).
    """
    geoms = np.asarray(geoms, dtype=object)
    if storage_geometry not in _MULTI:
        return geoms
    single_type, make_multi = _MULTI[storage_geometry]
    single = shapely.get_type_id(geoms) == single_type
    out = geoms.copy()
    if single.any():
        out[single] = make_multi(geoms[single].reshape(-1, 1))
    return out


class Store:
    """Storage on SpatiaLite or PostGIS.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default from :class:`~geo_service.core.settings.Settings`
        (``DATABASE_URL`` or the SpatiaLite file under the data directory).
    """

    def __init__(self, url: str | None = None, settings: Settings | None = None, **engine_kwargs):
        self.settings = settings or get_settings()
        self.url = normalize_url(url or self.settings.resolved_database_url)
        self.engine = create_engine(self.url, spatialite_library=self.settings.spatialite_library, **engine_kwargs)
        self.dialect = self.engine.dialect.name

    # ------------------------------------------------------------------ admin
    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One database transaction: committed on success, rolled back on any error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc
        except IntegrityError as exc:
            msg = str(exc.orig).splitlines()[0][:300]
            raise ConflictError(
                f"the database refused the write, nothing was kept: {msg}", f"数据库拒绝写入，本次写入全部撤销：{msg}"
            ) from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def alembic_config(self):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        return cfg

    def upgrade(self, revision: str = "head") -> str | None:
        """Apply the Alembic migrations up to ``revision``; return the new revision."""
        from alembic import command

        cfg = self.alembic_config()
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return self.current_revision()

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def health(self) -> dict:
        """Check the database answers and the schema is current."""
        with self.read() as conn:
            if self.dialect == "sqlite":
                version = conn.exec_driver_sql("SELECT spatialite_version()").scalar()
            else:
                version = conn.exec_driver_sql("SELECT postgis_lib_version()").scalar()
        return {
            "backend": "spatialite" if self.dialect == "sqlite" else "postgis",
            "spatial_version": version,
            "schema_revision": self.current_revision(),
        }

    # ------------------------------------------------------------------ reads
    def _table(self, layer: str | LayerSpec) -> tuple[LayerSpec, sa.Table]:
        spec = layer if isinstance(layer, LayerSpec) else get_layer(layer)
        return spec, models.LAYER_TABLES[spec.name]

    def _bbox_clause(self, table: sa.Table, bbox):
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        env = (
            sa.func.BuildMbr(minx, miny, maxx, maxy, SRID)
            if self.dialect == "sqlite"
            else sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID)
        )
        exact = (
            sa.func.ST_Intersects(table.c.geom, env) == 1
            if self.dialect == "sqlite"
            else sa.func.ST_Intersects(table.c.geom, env)
        )
        if self.dialect == "sqlite":
            # Use the R*Tree: SpatiaLite does not pick the spatial index by itself.
            idx = sa.text(
                "SELECT rowid FROM SpatialIndex WHERE f_table_name = :_t AND f_geometry_column = 'geom' "
                "AND search_frame = BuildMbr(:_x0, :_y0, :_x1, :_y1, 4326)"
            ).bindparams(_t=table.name, _x0=minx, _y0=miny, _x1=maxx, _y1=maxy)
            return sa.and_(table.c.id.in_(idx), exact)
        return exact

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
        spec, table = self._table(layer)
        stmt = table.delete()
        if spec.per_plan and plan_id is not None:
            stmt = stmt.where(table.c.plan_id == plan_id)
        n = conn.execute(stmt).rowcount
        self.bump_revision(conn, layer)
        return n

    def delete_feature(self, layer: str, fid: int, *, conn: sa.Connection) -> dict:
        """Delete one feature by ``id`` in the caller's transaction; return its ``source_id`` (NotFoundError if absent)."""
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

    def bump_revision(self, conn, layer: str) -> None:
        t = models.layer_revisions
        n = conn.execute(
            t.update().where(t.c.layer == layer).values(revision=t.c.revision + 1, updated_at=utcnow())
        ).rowcount
        if not n:
            conn.execute(t.insert().values(layer=layer, revision=1, updated_at=utcnow()))

    def layer_revisions(self) -> dict[str, int]:
        t = models.layer_revisions
        with self.read() as conn:
            return {layer: rev for layer, rev in conn.execute(sa.select(t.c.layer, t.c.revision))}

    def log_import(self, conn, **row) -> None:
        conn.execute(models.imports.insert().values(created_at=utcnow(), **row))
        record_change(
            conn,
            row.get("actor"),
            "import",
            "layer",
            row.get("layer"),
            {k: row.get(k) for k in ("source_name", "source_crs", "rows_read", "inserted", "updated", "skipped")},
        )

    # ------------------------------------------------------------------ plans
    def get_or_create_plan(self, conn, name: str, *, status: str = "draft", description: str | None = None) -> int:
        t = models.plans
        pid = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
        if pid is not None:
            return int(pid)
        now = utcnow()
        res = conn.execute(
            t.insert().values(
                name=name, status=status, description=description, version=1, created_at=now, updated_at=now
            )
        )
        return int(res.inserted_primary_key[0])

    def list_plans(self) -> list[dict]:
        t = models.plans
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]

    def get_plan(self, plan: int | str) -> dict:
        t = models.plans
        key = str(plan)
        # An id is ASCII digits within the INTEGER column ('²' is a digit to isdigit(), not to int()); else a name.
        is_id = key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < 2**31
        cond = t.c.id == int(key) if is_id else t.c.name == key
        with self.read() as conn:
            row = conn.execute(sa.select(t).where(cond)).first()
        if row is None:
            raise NotFoundError(f"no plan {plan!r}", f"没有名为或编号为 {plan!r} 的社区划分方案", plan=str(plan))
        return dict(row._mapping)

    # --------------------------------------------------------------- networks
    def write_network(
        self,
        name: str,
        source: str,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        *,
        metric_epsg: int | None = None,
        conn: sa.Connection | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Store a walking network (replacing one of the same name); return its id.

        ``nodes``: ``node_idx``, optional ``osm_id``, Point geometry.
        ``edges``: ``u``, ``v``, ``length_m`` (metres), ``road_class``,
        optional ``osm_way_id``, LineString geometry.  EPSG:4326.
        """
        if conn is None:
            with self.transaction() as c:
                return self.write_network(
                    name, source, nodes, edges, metric_epsg=metric_epsg, conn=c, progress=progress
                )
        t = models.networks
        conn.execute(t.delete().where(t.c.name == name))  # cascades to nodes and edges
        for tbl in ("network_nodes", "network_edges"):
            # SQLite enforces ON DELETE CASCADE only with foreign_keys=ON; be explicit for both.
            lt = models.LAYER_TABLES[tbl]
            conn.execute(lt.delete().where(~lt.c.network_id.in_(sa.select(t.c.id))))
        minx, miny, maxx, maxy = (float(v) for v in nodes.total_bounds) if len(nodes) else (None,) * 4
        now = utcnow()
        nid = conn.execute(
            t.insert().values(
                name=name,
                source=source,
                metric_epsg=metric_epsg,
                node_count=len(nodes),
                edge_count=len(edges),
                min_lon=minx,
                min_lat=miny,
                max_lon=maxx,
                max_lat=maxy,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        geom_expr = sa.func.ST_GeomFromWKB(sa.bindparam("wkb", type_=sa.LargeBinary), SRID)
        done = 0
        for tbl, frame, cols in (
            ("network_nodes", nodes, ["node_idx", "osm_id"]),
            ("network_edges", edges, ["u", "v", "length_m", "road_class", "osm_way_id"]),
        ):
            lt = models.LAYER_TABLES[tbl]
            rebuild = self.dialect == "sqlite" and len(frame) > SPATIALITE_BULK_ROWS
            if rebuild:
                # Filling the R*Tree row by row costs about twice the insert itself;
                # build it once at the end (DDL is transactional in SQLite).
                conn.exec_driver_sql(f"SELECT DisableSpatialIndex('{tbl}', 'geom')")
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS idx_{tbl}_geom")
            stmt = lt.insert().values({**{c: sa.bindparam(c) for c in ["network_id", *cols]}, "geom": geom_expr})
            for start in range(0, len(frame), BATCH_ROWS * 4):
                part = frame.iloc[start : start + BATCH_ROWS * 4]
                if self.dialect == "postgresql":
                    _copy_rows(conn, tbl, nid, part, cols)
                else:
                    recs = _plain_records(part, cols)
                    for r in recs:
                        r["network_id"] = nid
                    conn.execute(stmt, recs)
                done += len(part)
                if progress:
                    progress(done)
            if rebuild:
                conn.exec_driver_sql(f"SELECT CreateSpatialIndex('{tbl}', 'geom')")
            self.bump_revision(conn, tbl)
        return int(nid)

    def list_networks(self) -> list[dict]:
        t = models.networks
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]

    # ---------------------------------------------------------- analysis runs
    def save_analysis(
        self,
        kind: str,
        *,
        params: dict,
        summary: dict,
        outputs: dict[str, gpd.GeoDataFrame] | None = None,
        network_id: int | None = None,
        network_version: str | None = None,
        plan_id: int | None = None,
        data_revisions: dict | None = None,
        created_by: str | None = None,
        conn: sa.Connection | None = None,
    ) -> int:
        """Store one analysis run and its feature outputs in one transaction; return the run id.

        ``outputs`` maps an output name (``"units"``, ``"gaps"``...) to a frame in
        EPSG:4326 (geometry may be missing); every non-geometry column becomes a
        JSON property, ``feature_key`` (if present) is kept as a column.
        """
        if conn is None:
            with self.transaction() as c:
                return self.save_analysis(
                    kind,
                    params=params,
                    summary=summary,
                    outputs=outputs,
                    network_id=network_id,
                    network_version=network_version,
                    plan_id=plan_id,
                    data_revisions=data_revisions,
                    created_by=created_by,
                    conn=c,
                )
        now = utcnow()
        rid = conn.execute(
            models.analysis_runs.insert().values(
                kind=kind,
                status="done",
                params=_json(params),
                network_id=network_id,
                network_version=network_version,
                plan_id=plan_id,
                data_revisions=_json(data_revisions if data_revisions is not None else self.layer_revisions_in(conn)),
                summary=_json(summary),
                created_by=created_by,
                created_at=now,
                finished_at=now,
            )
        ).inserted_primary_key[0]
        self._insert_outputs(conn, int(rid), outputs or {})
        if created_by:  # an explicit recomputation by a user; runs stored on a read are a cache and not logged
            record_change(conn, created_by, "recompute", "analysis_run", int(rid), {"kind": kind, "params": params})
        return int(rid)

    def _insert_outputs(self, conn: sa.Connection, run_id: int, outputs: dict) -> None:
        t = models.analysis_features
        geom_expr = sa.func.ST_GeomFromWKB(sa.bindparam("wkb", type_=sa.LargeBinary), SRID)
        stmt = t.insert().values(
            run_id=sa.bindparam("run_id"),
            output=sa.bindparam("output"),
            feature_key=sa.bindparam("feature_key"),
            properties=sa.bindparam("properties"),
            geom=geom_expr,
        )
        for name, frame in outputs.items():
            if frame is None or len(frame) == 0:
                continue
            if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
                if frame.crs is not None and not frame.crs.equals(SRID) and frame.crs.to_epsg() not in (4326, 4490):
                    frame = frame.to_crs(SRID)
                geoms = np.asarray(frame.geometry.values, dtype=object)
                props = frame.drop(columns=[frame.geometry.name])
            else:
                geoms = np.full(len(frame), None, dtype=object)
                props = pd.DataFrame(frame)
            wkb = shapely.to_wkb(geoms)
            keys = (
                props.pop("feature_key").astype(str).to_numpy()
                if "feature_key" in props.columns
                else np.full(len(props), None, dtype=object)
            )
            prop_json = _json_rows(props)
            for start in range(0, len(frame), BATCH_ROWS):
                end = min(start + BATCH_ROWS, len(frame))
                conn.execute(
                    stmt,
                    [
                        {
                            "run_id": run_id,
                            "output": name,
                            "feature_key": keys[i],
                            "properties": prop_json[i],
                            "wkb": wkb[i],
                        }
                        for i in range(start, end)
                    ],
                )

    def add_analysis_output(self, run_id: int, name: str, frame: gpd.GeoDataFrame) -> None:
        """Add (or replace) one named output of an existing run, in one transaction."""
        self.get_analysis(run_id)
        t = models.analysis_features
        with self.transaction() as conn:
            conn.execute(t.delete().where(t.c.run_id == int(run_id), t.c.output == name))
            self._insert_outputs(conn, int(run_id), {name: frame})

    def layer_revisions_in(self, conn: sa.Connection) -> dict[str, int]:
        t = models.layer_revisions
        return {r.layer: int(r.revision) for r in conn.execute(sa.select(t.c.layer, t.c.revision))}

    def list_analyses(self, kind: str | None = None, limit: int = 100) -> list[dict]:
        """Runs, newest first, with parsed params/summary/data_revisions."""
        t = models.analysis_runs
        stmt = sa.select(t).order_by(t.c.id.desc()).limit(int(limit))
        if kind is not None:
            stmt = stmt.where(t.c.kind == kind)
        with self.read() as conn:
            return [_run_row(r) for r in conn.execute(stmt)]

    def get_analysis(self, run_id: int) -> dict:
        """One run (with ``outputs``: output name -> feature count); :class:`NotFoundError` when absent."""
        t = models.analysis_runs
        f = models.analysis_features
        with self.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == int(run_id))).first()
            if row is None:
                raise NotFoundError(f"no analysis run {run_id}", f"没有编号为 {run_id} 的分析结果", run_id=run_id)
            counts = conn.execute(
                sa.select(f.c.output, sa.func.count()).where(f.c.run_id == int(run_id)).group_by(f.c.output)
            ).all()
        out = _run_row(row)
        out["outputs"] = {name: int(n) for name, n in counts}
        return out

    def latest_analysis(self, kind: str, *, plan_id: int | None = None, params: dict | None = None) -> dict | None:
        """The newest run of ``kind`` (optionally for a plan and with these params), or None."""
        t = models.analysis_runs
        stmt = sa.select(t).where(t.c.kind == kind, t.c.status == "done").order_by(t.c.id.desc())
        if plan_id is not None:
            stmt = stmt.where(t.c.plan_id == int(plan_id))
        with self.read() as conn:
            for row in conn.execute(stmt.limit(200)):
                run = _run_row(row)
                if params is None or all(run["params"].get(k) == v for k, v in params.items()):
                    return run
        return None

    def count_analysis_output(self, run_id: int, output: str, *, bbox=None) -> int:
        t = models.analysis_features
        stmt = sa.select(sa.func.count()).select_from(t).where(t.c.run_id == int(run_id), t.c.output == output)
        if bbox is not None:
            stmt = stmt.where(self._bbox_clause(t, bbox))
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def read_analysis_output(
        self, run_id: int, output: str, *, bbox=None, limit: int | None = None, offset: int = 0, ids=None
    ) -> gpd.GeoDataFrame:
        """Features of one output of a run: ``id``, ``feature_key``, the stored properties as columns, geometry (EPSG:4326)."""
        t = models.analysis_features
        stmt = sa.select(t.c.id, t.c.feature_key, t.c.properties, sa.func.ST_AsBinary(t.c.geom)).where(
            t.c.run_id == int(run_id), t.c.output == output
        )
        if bbox is not None:
            stmt = stmt.where(self._bbox_clause(t, bbox))
        with self.read() as conn:
            rows = conn.execute(_paged(stmt, t, ids, limit, offset)).all()
        props = pd.DataFrame([json.loads(r[2]) for r in rows])
        frame = pd.concat(
            [pd.DataFrame({"id": [r[0] for r in rows], "feature_key": [r[1] for r in rows]}), props], axis=1
        )
        geoms = shapely.from_wkb([bytes(r[3]) if r[3] is not None else None for r in rows])
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=SRID), crs=SRID)

    def delete_analysis(self, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(models.analysis_features.delete().where(models.analysis_features.c.run_id == int(run_id)))
            conn.execute(models.analysis_runs.delete().where(models.analysis_runs.c.id == int(run_id)))

    # ---------------------------------------------------------- map helpers
    def extent(
        self, layer: str | None = None, *, run_id: int | None = None, output: str | None = None
    ) -> list[float] | None:
        """``[minx, miny, maxx, maxy]`` (EPSG:4326) of a layer, or of one output of an analysis run; None when empty.

        SpatiaLite reads the layer's R*Tree; PostGIS aggregates ``ST_Extent``.
        """
        if layer is not None:
            table = models.LAYER_TABLES[get_layer(layer).name].name
            if self.dialect == "sqlite":
                sql, params = f'SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM "idx_{table}_geom"', {}
            else:
                sql, params = (
                    f'SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM "{table}") s',
                    {},
                )
        else:
            where = "WHERE run_id = :r AND output = :o AND geom IS NOT NULL"
            params = {"r": int(run_id), "o": str(output)}
            if self.dialect == "sqlite":
                sql = f"SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)), max(MbrMaxY(geom)) FROM analysis_features {where}"
            else:
                sql = f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM analysis_features {where}) s"
        with self.read() as conn:
            row = conn.execute(sa.text(sql), params).first()
        return [float(v) for v in row] if row is not None and None not in row else None

    def mvt_tile(
        self,
        layer: str | None,
        name: str,
        z: int,
        x: int,
        y: int,
        *,
        columns: list[str] | None = None,
        filters: dict | None = None,
        run_id: int | None = None,
        output: str | None = None,
        extent: int = 4096,
        buffer: int = 64,
    ) -> bytes:
        """``ST_AsMVT`` of a layer (or of an analysis output, its JSON properties as attributes) in tile z/x/y.

        PostGIS only (SpatiaLite has no MVT encoder; ``maps.tiles.encode_tile`` does it from
        :meth:`read_layer`).  ``filters``: column = value.  Returns ``b""`` for an empty tile.
        """
        if self.dialect != "postgresql":
            raise NotImplementedError("ST_AsMVT needs PostGIS")
        params: dict = {"z": int(z), "x": int(x), "y": int(y), "name": name}
        where = ""
        if layer is not None:
            table = models.LAYER_TABLES[get_layer(layer).name]
            for i, (col, val) in enumerate((filters or {}).items()):
                _ = table.c[col]  # unknown columns raise here, never reach the SQL
                where += f' AND t."{col}" = :f{i}'
                params[f"f{i}"] = val
            cols = ", ".join(f't."{table.c[c].name}"' for c in (columns or []))
            tname = table.name
        else:
            tname = "analysis_features"
            where = " AND t.run_id = :run_id AND t.output = :output"
            params.update(run_id=int(run_id), output=str(output))
            # ST_AsMVT keeps scalar jsonb values only: lists and objects go in as JSON text, as on SpatiaLite.
            cols = (
                "t.feature_key, (SELECT jsonb_object_agg(key, CASE WHEN jsonb_typeof(value) IN ('array', 'object') "
                "THEN to_jsonb(value::text) ELSE value END) FROM jsonb_each(t.properties::jsonb)) AS props"
            )
        sql = f"""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                              ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {buffer / extent}), 4326) AS env4326),
            mvt AS (
                SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), b.env, {int(extent)}, {int(buffer)}, true) AS geom,
                       t.id{", " + cols if cols else ""}
                FROM "{tname}" t, b
                WHERE t.geom && b.env4326 AND ST_Intersects(t.geom, b.env4326) {where}
            )
            SELECT ST_AsMVT(mvt.*, :name, {int(extent)}, 'geom', 'id') FROM mvt WHERE geom IS NOT NULL
        """
        with self.read() as conn:
            value = conn.execute(sa.text(sql), params).scalar()
        return bytes(value) if value else b""

    # --------------------------------------------------------------- metadata
    def set_metadata(self, values: dict, conn: sa.Connection | None = None) -> None:
        if conn is None:
            with self.transaction() as c:
                return self.set_metadata(values, c)
        t = models.dataset_metadata
        for key, value in values.items():
            conn.execute(t.delete().where(t.c.key == key))
            conn.execute(t.insert().values(key=key, value=json.dumps(value, ensure_ascii=False), updated_at=utcnow()))

    def get_metadata(self) -> dict:
        t = models.dataset_metadata
        with self.read() as conn:
            return {k: json.loads(v) for k, v in conn.execute(sa.select(t.c.key, t.c.value))}

    # ------------------------------------------------------------------ users
    def add_user(self, name: str, role: str, token_hash: str, prefix: str, *, actor: str = "cli") -> dict:
        """Create a user with its first token (hash only); ConflictError if the name is taken."""
        now = utcnow()
        with self.transaction() as conn:
            if conn.execute(sa.select(models.users.c.id).where(models.users.c.name == name)).first() is not None:
                raise ConflictError(f"user {name!r} exists", f"用户 {name!r} 已存在", user=name)
            uid = conn.execute(models.users.insert().values(name=name, role=role, created_at=now)).inserted_primary_key[
                0
            ]
            conn.execute(
                models.api_tokens.insert().values(user_id=uid, token_hash=token_hash, prefix=prefix, created_at=now)
            )
            self.record_change(conn, actor, "user_add", "user", name, {"role": role})
        return {"id": int(uid), "name": name, "role": role}

    def add_token(self, name: str, token_hash: str, prefix: str, *, actor: str = "cli") -> None:
        """A further token for an active user (the old ones stay valid until revoked)."""
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            conn.execute(
                models.api_tokens.insert().values(
                    user_id=user["id"], token_hash=token_hash, prefix=prefix, created_at=utcnow()
                )
            )
            self.record_change(conn, actor, "token_add", "user", name, {"prefix": prefix})

    def set_user_role(self, name: str, role: str, *, actor: str = "cli") -> None:
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            conn.execute(models.users.update().where(models.users.c.id == user["id"]).values(role=role))
            self.record_change(conn, actor, "user_role", "user", name, {"from": user["role"], "to": role})

    def revoke_user(self, name: str, *, token_prefix: str | None = None, actor: str = "cli") -> int:
        """Revoke a user (all tokens) or only its token starting with ``token_prefix``; return tokens revoked."""
        now = utcnow()
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            tt = models.api_tokens
            stmt = tt.update().where(tt.c.user_id == user["id"], tt.c.revoked_at.is_(None))
            if token_prefix:
                stmt = stmt.where(tt.c.prefix == token_prefix)
            n = conn.execute(stmt.values(revoked_at=now)).rowcount
            if token_prefix and not n:
                raise NotFoundError(
                    f"user {name!r} has no active token {token_prefix!r}",
                    f"用户 {name!r} 没有有效令牌 {token_prefix!r}",
                )
            if not token_prefix:
                conn.execute(models.users.update().where(models.users.c.id == user["id"]).values(revoked_at=now))
            self.record_change(
                conn,
                actor,
                "token_revoke" if token_prefix else "user_revoke",
                "user",
                name,
                {"tokens": int(n), **({"prefix": token_prefix} if token_prefix else {})},
            )
        return int(n)

    def _active_user(self, conn, name: str) -> dict:
        u = models.users
        row = conn.execute(sa.select(u).where(u.c.name == name)).first()
        if row is None or row.revoked_at is not None:
            raise NotFoundError(f"no active user {name!r}", f"没有有效用户 {name!r}", user=name)
        return dict(row._mapping)

    def list_users(self) -> list[dict]:
        u, tt = models.users, models.api_tokens
        active = sa.func.sum(sa.case((tt.c.revoked_at.is_(None), 1), else_=0))
        stmt = (
            sa.select(
                u.c.id,
                u.c.name,
                u.c.role,
                u.c.created_at,
                u.c.revoked_at,
                active.label("active_tokens"),
                sa.func.max(tt.c.last_used_at).label("last_used_at"),
            )
            .select_from(u.outerjoin(tt, tt.c.user_id == u.c.id))
            .group_by(u.c.id)
            .order_by(u.c.id)
        )
        with self.read() as conn:
            return [{**dict(r._mapping), "active_tokens": int(r.active_tokens or 0)} for r in conn.execute(stmt)]

    def user_by_token_hash(self, token_hash: str) -> dict | None:
        """The active user holding this (active) token, or None; marks the token used (at most once a minute)."""
        u, tt = models.users, models.api_tokens
        stmt = (
            sa.select(u.c.id, u.c.name, u.c.role, tt.c.id.label("token_id"), tt.c.last_used_at)
            .select_from(tt.join(u, u.c.id == tt.c.user_id))
            .where(tt.c.token_hash == token_hash, tt.c.revoked_at.is_(None), u.c.revoked_at.is_(None))
        )
        with self.read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is None or (now - last).total_seconds() > 60:
            try:
                with self.transaction() as conn:
                    conn.execute(tt.update().where(tt.c.id == row.token_id).values(last_used_at=now))
            except GeoServiceError:
                pass  # a busy database must not refuse an authenticated request over bookkeeping
        return {"id": int(row.id), "name": row.name, "role": row.role}

    # ------------------------------------------------------------ change log
    def record_change(
        self,
        conn,
        actor: str | None,
        action: str,
        target_type: str,
        target_id=None,
        detail: dict | None = None,
        role: str | None = None,
    ) -> None:
        """One change-log row, in the caller's transaction (so it exists exactly when the change does)."""
        record_change(conn, actor, action, target_type, target_id, detail, role=role)

    def list_changes(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        actor: str | None = None,
        target_type: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[dict], int]:
        t = models.change_log
        conds = []
        if actor:
            conds.append(t.c.actor == actor)
        if target_type:
            conds.append(t.c.target_type == target_type)
        if since is not None:
            conds.append(t.c.at >= since)
        with self.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*conds)).scalar()
            rows = conn.execute(
                sa.select(t).where(*conds).order_by(t.c.id.desc()).limit(int(limit)).offset(int(offset))
            ).all()
        return [{**dict(r._mapping), "detail": json.loads(r.detail or "{}")} for r in rows], int(total)

    # ------------------------------------------------------------------ jobs
    def create_job(self, kind: str, params: dict, created_by: str | None) -> int:
        with self.transaction() as conn:
            jid = conn.execute(
                models.jobs.insert().values(
                    kind=kind, status="queued", params=_json(params), created_by=created_by, created_at=utcnow()
                )
            ).inserted_primary_key[0]
            self.record_change(conn, created_by, "job_submit", "job", jid, {"kind": kind, "params": params})
        return int(jid)

    def update_job(self, job_id: int, **values) -> None:
        if "result" in values and not isinstance(values["result"], (str, type(None))):
            values["result"] = _json(values["result"])
        with self.transaction() as conn:
            conn.execute(models.jobs.update().where(models.jobs.c.id == int(job_id)).values(**values))

    def get_job(self, job_id: int) -> dict:
        with self.read() as conn:
            row = conn.execute(sa.select(models.jobs).where(models.jobs.c.id == int(job_id))).first()
        if row is None:
            raise NotFoundError(f"no job {job_id}", f"没有编号为 {job_id} 的后台任务", job=job_id)
        return _job_row(row)

    def list_jobs(self, *, limit: int = 50, status: str | None = None) -> list[dict]:
        t = models.jobs
        stmt = sa.select(t).order_by(t.c.id.desc()).limit(int(limit))
        if status:
            stmt = stmt.where(t.c.status == status)
        with self.read() as conn:
            return [_job_row(r) for r in conn.execute(stmt)]

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Jobs left queued or running by a service that stopped: marked failed (they run in-process)."""
        t = models.jobs
        with self.transaction() as conn:
            return conn.execute(
                t.update()
                .where(t.c.status.in_(["queued", "running"]))
                .values(status="failed", error=reason, finished_at=utcnow())
            ).rowcount


# ---------------------------------------------------------------------- helpers
def record_change(
    conn,
    actor: str | None,
    action: str,
    target_type: str,
    target_id=None,
    detail: dict | None = None,
    role: str | None = None,
) -> None:
    """Write one change-log row with ``conn`` (inside the transaction of the change itself).

    ``actor`` is ``"name"`` or ``"name (role)"`` as :func:`geo_service.core.auth.actor_label` makes it.
    """
    if actor and role is None and actor.endswith(")") and " (" in actor:
        actor, role = actor[:-1].rsplit(" (", 1)
    conn.execute(
        models.change_log.insert().values(
            at=utcnow(),
            actor=actor or "unknown",
            role=role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=_json(detail or {}),
        )
    )


def _unavailable(exc: Exception) -> GeoServiceError:
    msg = str(exc).splitlines()[0][:300]
    low = msg.lower()
    if any(
        w in low
        for w in (
            "connection",
            "could not connect",
            "server",
            "database is locked",
            "busy",
            "timeout",
            "too many clients",
        )
    ):
        return DatabaseUnavailable(f"database unavailable: {msg}", f"数据库暂不可用：{msg}")
    return GeoServiceError(f"database error: {msg}", f"数据库错误：{msg}")


def _py(value):
    """numpy/pandas scalars to plain Python, NaN/NaT/None to None."""
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        v = value.item()
        return None if isinstance(v, float) and np.isnan(v) else v
    return value


def _paged(stmt, table: sa.Table, ids, limit: int | None, offset: int):
    """``stmt`` restricted to ``ids`` (if given), ordered by ``id``, one page of ``limit`` from ``offset``."""
    if ids is not None:
        stmt = stmt.where(table.c.id.in_([int(i) for i in ids]))
    stmt = stmt.order_by(table.c.id)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    if offset:
        stmt = stmt.offset(int(offset))
    return stmt


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=_py_default)


def _py_default(value):
    v = _py(value)
    if v is value:
        if isinstance(value, (datetime, pd.Timestamp)):
            return value.isoformat()
        if isinstance(value, np.ndarray):
            return [_py(x) for x in value.tolist()]
        return str(value)
    return v


def _json_rows(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row; NaN/NaT become null, numpy scalars plain numbers."""
    cols = list(frame.columns)
    data = [frame[c].to_numpy(dtype=object) for c in cols]
    return [_json({c: _py(d[i]) for c, d in zip(cols, data)}) for i in range(len(frame))]


def _job_row(row) -> dict:
    out = dict(row._mapping)
    out["params"] = json.loads(out.get("params") or "{}")
    out["result"] = json.loads(out["result"]) if out.get("result") else None
    return out


def _run_row(row) -> dict:
    out = dict(row._mapping)
    for key in ("params", "summary", "data_revisions"):
        out[key] = json.loads(out[key]) if out.get(key) else {}
    return out


def _plain_records(frame: gpd.GeoDataFrame, cols: list[str]) -> list[dict]:
    wkb = shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object))
    data = {
        c: frame[c].to_numpy(dtype=object) if c in frame.columns else np.full(len(frame), None, dtype=object)
        for c in cols
    }
    return [{**{c: _py(data[c][i]) for c in cols}, "wkb": wkb[i]} for i in range(len(frame))]


def _copy_rows(conn: sa.Connection, table: str, network_id: int, frame: gpd.GeoDataFrame, cols: list[str]) -> None:
    """PostgreSQL ``COPY`` of network rows inside the caller's transaction (geometry as hex EWKB, SRID 4326)."""
    geoms = shapely.set_srid(np.asarray(frame.geometry.values, dtype=object), SRID)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    data = [
        frame[c].to_numpy(dtype=object) if c in frame.columns else np.full(len(frame), None, dtype=object) for c in cols
    ]
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table}" (network_id, {", ".join(cols)}, geom) FROM STDIN') as copy:
        for i in range(len(frame)):
            copy.write_row((network_id, *(_py(col[i]) for col in data), ewkb[i]))
    cursor.close()


def _records(spec: LayerSpec, gdf: gpd.GeoDataFrame) -> list[dict]:
    geoms = promote_to_storage(np.asarray(gdf.geometry.values, dtype=object), spec.storage_geometry)
    frame = gdf.copy()
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    for f in spec.fields:
        if f.kind == "bool" and f.name in frame.columns:
            frame[f.name] = frame[f.name].map(lambda v: None if _py(v) is None else bool(v)).astype(object)
    recs = _plain_records(frame, ["source_id", *[f.name for f in spec.fields]])
    for r in recs:
        r["source_id"] = str(r["source_id"])
    return recs


def _rows_to_frame(rows, names: list[str]) -> gpd.GeoDataFrame:
    if not rows:
        return gpd.GeoDataFrame({n: [] for n in names}, geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    data = list(zip(*rows))
    wkb = [bytes(b) if b is not None else None for b in data[-1]]
    frame = pd.DataFrame({n: list(col) for n, col in zip(names, data[:-1])})
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=SRID)
