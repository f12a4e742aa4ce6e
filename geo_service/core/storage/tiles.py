"""Map helpers: the extent of a layer or an analysis output, and PostGIS vector tiles (``ST_AsMVT``)."""

from __future__ import annotations

import sqlalchemy as sa

from .. import models
from ..layers import get_layer
from ._base import StoreBase

_RUN_EXTENT_SQLITE = (
    "SELECT min(MbrMinX(geom)), min(MbrMinY(geom)), max(MbrMaxX(geom)), max(MbrMaxY(geom)) "
    "FROM analysis_features {where}"
)
_RUN_EXTENT_PG = (
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
    "FROM (SELECT ST_Extent(geom) AS e FROM analysis_features {where}) s"
)
_LAYER_EXTENT_PG = (
    'SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM "{table}") s'
)


class TilesRepository(StoreBase):
    """Extents and vector tiles for the maps."""

    def extent(
        self, layer: str | None = None, *, run_id: int | None = None, output: str | None = None
    ) -> list[float] | None:
        """``[minx, miny, maxx, maxy]`` (EPSG:4326) of a layer, or of one output of an analysis run; None when empty.

        SpatiaLite reads the layer's R*Tree; PostGIS aggregates ``ST_Extent``.
        """
        params: dict = {}
        if layer is not None:
            table = models.LAYER_TABLES[get_layer(layer).name].name
            if self.dialect == "sqlite":
                sql = f'SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM "idx_{table}_geom"'
            else:
                sql = _LAYER_EXTENT_PG.format(table=table)
        else:
            where = "WHERE run_id = :r AND output = :o AND geom IS NOT NULL"
            params = {"r": _int(run_id), "o": str(output)}
            sql = (_RUN_EXTENT_SQLITE if self.dialect == "sqlite" else _RUN_EXTENT_PG).format(where=where)
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
            params.update(run_id=_int(run_id), output=str(output))
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


def _int(run_id: int | None) -> int:
    """``int(run_id)``; a run's extent or tile needs the run (TypeError without one, as ``int(None)``)."""
    if run_id is None:
        raise TypeError("an analysis output needs run_id")
    return int(run_id)
