"""Engine creation for SpatiaLite (embedded default) and PostGIS.

SpatiaLite needs an ``sqlite3`` module that can load extensions.  Many Pythons
(pyenv builds without ``--enable-loadable-sqlite-extensions``, some macOS
builds) lack ``enable_load_extension``; there we fall back to
``pysqlite3`` (PyPI ``pysqlite3-binary``), and otherwise say exactly what to
install.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ._errors import GeoServiceError, SpatialiteUnavailable

_INSTALL_HINT = (
    "Install the SpatiaLite extension (Debian/Ubuntu: apt-get install libsqlite3-mod-spatialite) and use a Python "
    "whose sqlite3 can load extensions (Debian's /usr/bin/python3 can), or pip install pysqlite3-binary."
)
_INSTALL_HINT_ZH = (
    "请安装 SpatiaLite 扩展（Debian/Ubuntu：apt-get install libsqlite3-mod-spatialite），"
    "并使用能加载 SQLite 扩展的 Python（如系统自带的 /usr/bin/python3），或执行 pip install pysqlite3-binary。"
)


def sqlite_module() -> ModuleType:
    """Return a DB-API sqlite module that can load extensions.

    Returns
    -------
    module
        The standard library's ``sqlite3`` where it supports
        ``enable_load_extension``, else ``pysqlite3.dbapi2``.

    Raises
    ------
    SpatialiteUnavailable
        When neither can load extensions, with the packages to install.
    """
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        raise SpatialiteUnavailable(
            "this Python's sqlite3 cannot load extensions and pysqlite3 is not installed. " + _INSTALL_HINT,
            "当前 Python 的 sqlite3 不能加载扩展，且未安装 pysqlite3。" + _INSTALL_HINT_ZH,
        ) from None


def normalize_url(url: str | URL) -> URL:
    """Use psycopg 3 for ``postgresql://`` URLs (the driver this package ships)."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def is_sqlite(url: str | URL) -> bool:
    return normalize_url(url).get_backend_name() == "sqlite"


def _attach_spatialite(engine: sa.Engine, library: str) -> None:
    @sa.event.listens_for(engine, "connect")
    def _load(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
        try:
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension(library)
            dbapi_conn.enable_load_extension(False)
        except Exception as exc:
            raise SpatialiteUnavailable(
                f"cannot load the SpatiaLite extension {library!r}: {exc}. " + _INSTALL_HINT,
                f"无法加载 SpatiaLite 扩展 {library!r}：{exc}。" + _INSTALL_HINT_ZH,
            ) from exc
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
            cur.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
        cur.close()

    # pysqlite's own transaction handling defers BEGIN; make SQLAlchemy emit it
    # so every write is one real transaction (imports are all-or-nothing).
    @sa.event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_conn, _record):  # pragma: no cover
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # pragma: no cover
        conn.exec_driver_sql("BEGIN")


def create_engine(url: str | URL, *, spatialite_library: str | None = None, **kwargs) -> sa.Engine:
    """Create an engine for a SpatiaLite file or a PostGIS database.

    Parameters
    ----------
    url : str or sqlalchemy.URL
        ``sqlite:///path/to/file.sqlite`` or ``postgresql://user@host/db``.
    spatialite_library : str, optional
        Name or path of the SpatiaLite module; default ``mod_spatialite``
        (found on the system library path).
    """
    u = normalize_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        module = sqlite_module()
        # Load GDAL (pyogrio's bundled build) before SpatiaLite: if the system
        # PROJ/SQLite that mod_spatialite pulls in are bound first, GDAL's own
        # copies get mixed with them and writing a GeoPackage later crashes.
        import pyogrio  # noqa: F401

        library = spatialite_library or os.environ.get("SPATIALITE_LIBRARY_PATH") or "mod_spatialite"
        engine = sa.create_engine(u, module=module, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _attach_spatialite(engine, library)
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
        return sa.create_engine(u, **kwargs)
    raise GeoServiceError(
        f"unsupported database {backend!r}: use a sqlite:/// (SpatiaLite) or postgresql:// (PostGIS) URL",
        f"不支持的数据库 {backend!r}：请使用 sqlite:///（SpatiaLite）或 postgresql://（PostGIS）地址",
    )
