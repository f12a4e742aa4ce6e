"""Analysis runs: their parameters, summary, input revisions and feature outputs."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from .. import models
from .._errors import NotFoundError
from ..jsonvalues import dumps
from ._values import BATCH_ROWS, SRID, _inserted_id, _json_rows, _paged, utcnow
from .changes import record_change
from .layers import LayersRepository


class RunsRepository(LayersRepository):
    """Stored analysis runs and their outputs (a run records the layer revisions it read)."""

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
        Passing ``conn`` joins the caller's transaction.
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
        rid = _inserted_id(
            conn.execute(
                models.analysis_runs.insert().values(
                    kind=kind,
                    status="done",
                    params=dumps(params),
                    network_id=network_id,
                    network_version=network_version,
                    plan_id=plan_id,
                    data_revisions=dumps(
                        data_revisions if data_revisions is not None else self.layer_revisions_in(conn)
                    ),
                    summary=dumps(summary),
                    created_by=created_by,
                    created_at=now,
                    finished_at=now,
                )
            )
        )
        self._insert_outputs(conn, rid, outputs or {})
        if created_by:  # an explicit recomputation by a user; runs stored on a read are a cache and not logged
            record_change(conn, created_by, "recompute", "analysis_run", rid, {"kind": kind, "params": params})
        return rid

    def _insert_outputs(self, conn: sa.Connection, run_id: int, outputs: dict) -> None:
        """Insert the features of named outputs of a run, in batches, in the caller's transaction."""
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
                sa.select(f.c.output, sa.func.count().label("n")).where(f.c.run_id == int(run_id)).group_by(f.c.output)
            ).all()
        out = _run_row(row)
        out["outputs"] = {r.output: int(r.n) for r in counts}
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
        """Number of features of one output of a run (intersecting ``bbox`` when given)."""
        t = models.analysis_features
        stmt = sa.select(sa.func.count()).select_from(t).where(t.c.run_id == int(run_id), t.c.output == output)
        if bbox is not None:
            stmt = stmt.where(self._bbox_clause(t, bbox))
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def read_analysis_output(
        self, run_id: int, output: str, *, bbox=None, limit: int | None = None, offset: int = 0, ids=None
    ) -> gpd.GeoDataFrame:
        """Features of one output of a run.

        Returns
        -------
        geopandas.GeoDataFrame
            ``id``, ``feature_key``, the stored properties as columns, geometry (EPSG:4326).
        """
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
        """Delete a run and its features, in one transaction."""
        with self.transaction() as conn:
            conn.execute(models.analysis_features.delete().where(models.analysis_features.c.run_id == int(run_id)))
            conn.execute(models.analysis_runs.delete().where(models.analysis_runs.c.id == int(run_id)))


def _run_row(row) -> dict:
    """An ``analysis_runs`` row as a dict with its JSON columns parsed."""
    out = dict(row._mapping)
    for key in ("params", "summary", "data_revisions"):
        out[key] = json.loads(out[key]) if out.get(key) else {}
    return out
