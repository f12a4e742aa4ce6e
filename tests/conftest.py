"""Shared fixtures: a fresh store on SpatiaLite and on PostGIS for every storage test.

PostGIS: a test database is created on ``GEO_TEST_PG_ADMIN_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``) with the postgis
extension, migrated once per session and emptied before each test.  When
PostgreSQL is not reachable the PostGIS cases are skipped locally and fail
in CI (``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from geo_service.core import models
from geo_service.core.settings import Settings
from geo_service.core.storage import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = Path(os.environ.get("GEO_SHARED_DATA", SHARED / "data"))
# The request-rate limit is tested on its own (tests/test_limits.py); everywhere else a
# test client makes requests much faster than any person.
os.environ.setdefault("GEO_RATE_LIMIT_RPS", "0")
CHROMIUM = os.environ.get("GEO_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
PG_ADMIN = os.environ.get("GEO_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["spatialite", "postgis"]


GRID_LON, GRID_LAT = 104.40, 31.13


@pytest.fixture
def grid(store):
    """30 facilities on a 6 x 5 grid, 0.01 degree apart (lon = 104.40 + 0.01 i, lat = 31.13 + 0.01 j)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    xs, ys = np.meshgrid(np.arange(6) * 0.01 + GRID_LON, np.arange(5) * 0.01 + GRID_LAT)
    g = gpd.GeoDataFrame(
        {
            "source_id": [f"f{i:02d}" for i in range(30)],
            "name": [f"设施{i}" for i in range(30)],
            "category": ["health_station"] * 30,
            "floor_area_m2": np.arange(30) * 10.0,
        },
        geometry=shapely.points(xs.ravel(), ys.ravel()),
        crs=4326,
    )
    store.upsert_layer("facilities", g)
    return g


def head_revision() -> str:
    """The newest Alembic revision of the package's migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(Store("sqlite://").alembic_config()).get_current_head()


def _settings(tmp: Path) -> Settings:
    return Settings(GEO_DATA_DIR=tmp)


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spatialite") / "template.sqlite"
    store = Store(f"sqlite:///{path}", settings=_settings(path.parent))
    store.upgrade()
    store.dispose()
    return path


@contextmanager
def migrated_pg_database(prefix: str, *, driver: bool = True):
    """A migrated database of its own on the shared server (``PG_ADMIN``), dropped afterwards; yields its URL.

    Skips when PostgreSQL is not reachable, except in CI (``CI=true``), where that fails.
    ``driver=False`` gives a plain ``postgresql://`` URL (for a subprocess's ``DATABASE_URL``).
    """
    from geo_service.core._db import normalize_url

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    url = normalize_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    if not driver:
        url = url.replace("+psycopg", "")
    try:
        store = Store(url, settings=Settings())
        store.upgrade()
        store.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgis_url():
    with migrated_pg_database("geo_service_test") as url:
        yield url


def sample_city_store(spatialite_template: Path, tmp: Path) -> Store:
    """The sample city in a fresh SpatiaLite file under ``tmp`` (from the migrated template); the caller disposes it."""
    from geo_service.core.datasets import load_sample_city

    shutil.copy(spatialite_template, tmp / "city.sqlite")
    store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
    load_sample_city(store)
    return store


def _empty_postgis(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in models.metadata.sorted_tables)
    with store.transaction() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A migrated, empty store on each backend."""
    if request.param == "spatialite":
        template = request.getfixturevalue("spatialite_template")
        path = tmp_path / "geo.sqlite"
        shutil.copy(template, path)
        s = Store(f"sqlite:///{path}", settings=_settings(tmp_path))
    else:
        url = request.getfixturevalue("postgis_url")
        s = Store(url, settings=Settings(GEO_DATA_DIR=tmp_path))
        _empty_postgis(s)
    s.backend_name = request.param
    yield s
    s.dispose()


@pytest.fixture
def client(store):
    """The app over HTTP, signed in as an admin (writes need a token; tests/test_auth.py checks who may do what)."""
    from fastapi.testclient import TestClient

    from geo_service.app import create_app
    from tests._auth import token_headers

    with TestClient(create_app(store), headers=token_headers(store, "admin", "test-admin")) as c:
        yield c


@pytest.fixture
def anon_client(store):
    """The app over HTTP without credentials, as a resident's browser."""
    from fastapi.testclient import TestClient

    from geo_service.app import create_app

    with TestClient(create_app(store)) as c:
        yield c


def snapshot(store: Store) -> dict:
    """Every row of every table (geometry as WKB): for 'nothing was written' checks.

    A token's ``last_used_at`` (bookkeeping of the request's own credentials) is left out.
    """
    out = {}
    with store.read() as conn:
        for t in models.metadata.sorted_tables:
            cols = [c for c in t.c if c.name != "geom" and not (t.name == "api_tokens" and c.name == "last_used_at")]
            extra = [sa.func.ST_AsBinary(t.c.geom)] if "geom" in t.c else []
            rows = conn.execute(sa.select(*cols, *extra).order_by(*t.primary_key.columns)).all()
            out[t.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    return out


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, one per test module (the page tests: tests/test_*browser.py)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield b
        b.close()


@pytest.fixture
def tiny_world_dir(tmp_path):
    """A SpatiaLite store under ``tmp_path/data`` holding the hand-built tiny world, for server processes.

    Yields ``(store, data_dir)``: start ``geo-service serve`` with ``GEO_DATA_DIR=data_dir`` (see
    ``_pg_cluster.service_env``) and it finds this store.
    """
    from tests._tiny_world import store_world

    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'geo_service.sqlite'}", settings=Settings(GEO_DATA_DIR=data))
    store.upgrade()
    store_world(store)
    yield store, data
    store.dispose()


def wait_for_job(c, url: str, timeout_s: float = 120.0) -> dict:
    """Poll a job's status URL until it is done or failed (AssertionError after ``timeout_s`` seconds)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        job = c.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job not finished after {timeout_s} s: {job}")
