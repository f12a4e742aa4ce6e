"""The engine and transaction core that every repository of :class:`~geo_service.core.storage.Store` shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from .._db import create_engine, normalize_url
from .._errors import ConflictError, DatabaseUnavailable, GeoServiceError
from ..norms import Norms, load_norms
from ..settings import Settings, get_settings
from ._values import SRID

_MIGRATIONS = Path(__file__).parent.parent / "migrations"
_UNAVAILABLE_WORDS = (
    "connection",
    "could not connect",
    "server",
    "database is locked",
    "busy",
    "timeout",
    "too many clients",
)


class StoreBase:
    """Owns the engine and settings; opens read connections and transactions.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default from :class:`~geo_service.core.settings.Settings`
        (``DATABASE_URL`` or the SpatiaLite file under the data directory).
    settings : Settings, optional
        Default :func:`~geo_service.core.settings.get_settings`.
    **engine_kwargs
        Passed to :func:`~geo_service.core._db.create_engine`.
    """

    def __init__(self, url: str | None = None, settings: Settings | None = None, **engine_kwargs):
        self.settings = settings or get_settings()
        self.url = normalize_url(url or self.settings.resolved_database_url)
        self.engine = create_engine(self.url, spatialite_library=self.settings.spatialite_library, **engine_kwargs)
        self.dialect = self.engine.dialect.name

    @property
    def norms(self) -> Norms:
        """The planning norms of this store's city: the packaged defaults with the override file of the settings
        (``GEO_NORMS_FILE``) on top, read again on each access so that an edited file takes effect at once.
        Every analysis takes its norms from here."""
        return load_norms(self.settings.norms_file)

    # ------------------------------------------------------------------ admin
    def dispose(self) -> None:
        """Close the engine's pooled connections."""
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
        """A connection for reading; database errors become :class:`GeoServiceError`."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def alembic_config(self):
        """The Alembic configuration of this database (migrations of :mod:`geo_service.core.migrations`)."""
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
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
        """The Alembic revision the database is at (None before the first migration)."""
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

    # ---------------------------------------------------------- spatial index
    def _bbox_clause(self, table: sa.Table, bbox):
        """Features of ``table`` intersecting ``bbox`` (EPSG:4326 degrees), through the spatial index."""
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


def _unavailable(exc: Exception) -> GeoServiceError:
    """The service error for a database error: :class:`DatabaseUnavailable` when it looks transient."""
    msg = str(exc).splitlines()[0][:300]
    low = msg.lower()
    if any(w in low for w in _UNAVAILABLE_WORDS):
        return DatabaseUnavailable(f"database unavailable: {msg}", f"数据库暂不可用：{msg}")
    return GeoServiceError(f"database error: {msg}", f"数据库错误：{msg}")
