"""Walking networks: nodes and edges of a named network, written in one transaction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa

from .. import models
from ..jsonvalues import plain
from ._values import BATCH_ROWS, SRID, _inserted_id, _plain_records, utcnow
from .changes import record_change
from .layers import LayersRepository, Progress

SPATIALITE_BULK_ROWS = 50_000


class NetworksRepository(LayersRepository):
    """Walking networks (their nodes and edges are the ``network_nodes`` / ``network_edges`` layers)."""

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

        ``nodes``: ``node_idx``, optional ``osm_id`` and ``elevation_m`` (m), Point geometry.
        ``edges``: ``u``, ``v``, ``length_m`` (metres), ``road_class``,
        optional ``osm_way_id``, ``name`` (road name), ``steps`` (bool), ``kerb`` (OSM value),
        LineString geometry.  EPSG:4326.
        Passing ``conn`` joins the caller's transaction.
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
        nid = _inserted_id(
            conn.execute(
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
            )
        )
        geom_expr = sa.func.ST_GeomFromWKB(sa.bindparam("wkb", type_=sa.LargeBinary), SRID)
        done = 0
        for tbl, frame, cols in (
            ("network_nodes", nodes, ["node_idx", "osm_id", "elevation_m"]),
            ("network_edges", edges, ["u", "v", "length_m", "road_class", "osm_way_id", "name", "steps", "kerb"]),
        ):
            cols = [c for c in cols if c in frame.columns or c in ("node_idx", "u", "v", "length_m", "road_class")]
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
        return nid

    def set_node_elevations(
        self,
        network_id: int,
        node_idx: np.ndarray,
        elevation_m: np.ndarray,
        *,
        actor: str | None = None,
        source: str | None = None,
    ) -> int:
        """Set the elevation (m) of the given nodes of one network (NaN: unknown) in one transaction.

        Touches the network's update time and bumps the revisions of its nodes and edges, so networks
        loaded from the old file are rebuilt; the change log gets one row (``actor``, the raster ``source``)
        in the same transaction.  Returns the number of nodes given.
        """
        lt = models.LAYER_TABLES["network_nodes"]
        z = np.asarray(elevation_m, dtype=np.float64)
        rows = [
            {"nid": int(network_id), "ni": int(i), "z": float(v) if np.isfinite(v) else None}
            for i, v in zip(np.asarray(node_idx).tolist(), z.tolist())
        ]
        stmt = (
            lt.update()
            .where(lt.c.network_id == sa.bindparam("nid"), lt.c.node_idx == sa.bindparam("ni"))
            .values(elevation_m=sa.bindparam("z"))
        )
        t = models.networks
        with self.transaction() as conn:
            for start in range(0, len(rows), BATCH_ROWS * 4):
                conn.execute(stmt, rows[start : start + BATCH_ROWS * 4])
            conn.execute(t.update().where(t.c.id == int(network_id)).values(updated_at=utcnow()))
            self.bump_revision(conn, "network_nodes")
            self.bump_revision(conn, "network_edges")
            sampled = int(np.isfinite(z).sum())
            record_change(conn, actor, "import_elevation", "network", network_id, {"source": source, "nodes": sampled})
        return len(rows)

    def list_networks(self) -> list[dict]:
        """All network rows, by id."""
        t = models.networks
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def _copy_rows(conn: sa.Connection, table: str, network_id: int, frame: gpd.GeoDataFrame, cols: list[str]) -> None:
    """PostgreSQL ``COPY`` of network rows inside the caller's transaction (geometry as hex EWKB, SRID 4326)."""
    geoms = shapely.set_srid(np.asarray(frame.geometry.values, dtype=object), SRID)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    data = [
        frame[c].to_numpy(dtype=object) if c in frame.columns else np.full(len(frame), None, dtype=object) for c in cols
    ]
    driver = conn.connection.driver_connection
    assert driver is not None  # an open connection always has its DB-API connection
    cursor = driver.cursor()
    with cursor.copy(f'COPY "{table}" (network_id, {", ".join(cols)}, geom) FROM STDIN') as copy:
        for i in range(len(frame)):
            copy.write_row((network_id, *(plain(col[i]) for col in data), ewkb[i]))
    cursor.close()
