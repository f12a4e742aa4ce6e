"""Schemathesis against the service's own OpenAPI schema (issue 7): every operation, generated requests.

Every path and method of ``/openapi.json`` is called in-process (ASGI, no network) on the hand-made world of
``tests/_tiny_world.py`` (network, units, facilities, shelters, an adopted plan), so reads return real data and the
analyses really run.  Checks on every response: no 5xx; the status code is documented; the content type is the
documented one; the body validates against the documented schema.

- With an admin token (every write endpoint exercised beyond 401): positive (schema-valid) and negative
  (schema-breaking) requests, and requests aimed at the world's real ids (layers, features, plans, collections,
  tiles over the world) so more than the 404 path runs.
- Without a token, or with a wrong one, every write endpoint and the admin reads: 401 and nothing else.

Examples per operation: ``GEO_FUZZ_EXAMPLES`` (default 200) on SpatiaLite, 15 % of it on PostGIS; operations that
run a whole analysis or render a page per call get fewer (``SLOW`` below).  A longer run by hand::

    GEO_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_openapi_fuzz.py

Writes change the world: the world is rebuilt (fresh copy of the SpatiaLite file, or PostGIS tables emptied and
written again) before any test that follows a write operation, so reads always see the whole world.
"""

from __future__ import annotations

import math
import os
import shutil

import pytest

schemathesis = pytest.importorskip("schemathesis")
import hypothesis  # noqa: E402 -- deliberately after the importorskip: skip the module without schemathesis
from hypothesis import HealthCheck, Phase  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from geo_service.core.settings import Settings  # noqa: E402
from geo_service.core.storage import Store  # noqa: E402

EXAMPLES = int(os.environ.get("GEO_FUZZ_EXAMPLES", "200"))
PG_SHARE = 0.15  # PostGIS: 15 % of the examples (the queries differ, the Python around them does not)
ANON_EXAMPLES = 25  # unauthenticated writes: 401 before anything is read, nothing else to explore (PostGIS: 10)

# Operations whose calls are expensive get a fraction of EXAMPLES (measured on the tiny world, SpatiaLite, one core):
# a whole analysis, delineation or job per call (0.1-1 s: generated parameters defeat the run cache), file exports
# (GeoPackage, Shapefile, XLSX written per call), pages, and reads that reproject or evaluate per call (10-50 ms).
SLOW = {
    "POST /plans/delineate": 0.05,
    "POST /coverage/runs": 0.1,
    "POST /audit/runs": 0.1,
    "POST /jobs": 0.05,  # each accepted job runs a full recomputation in the background
    "POST /coverage/siting": 0.25,
    "GET /coverage/summary": 0.25,
    "GET /audit/summary": 0.25,
    "GET /audit/report.xlsx": 0.1,
    "GET /layers/{layer}/export": 0.15,
    "GET /plans/{plan}/export": 0.25,
    "GET /maps/{name}": 0.1,
    "GET /maps": 0.25,
    "GET /resident": 0.1,
    "GET /ogc/api": 0.1,
    "GET /layers/{layer}": 0.5,
    "GET /layers/{layer}/{fid}": 0.5,
    "GET /plans/{plan}": 0.4,
    "GET /plans/{plan}/evaluation": 0.4,
    "GET /coverage/service-areas": 0.4,
    "GET /coverage/{output}": 0.4,
    "GET /audit/{output}": 0.4,
    "GET /audit/shelter-assignment": 0.4,
    "GET /audit/gap-plan": 0.1,
    "GET /plans/{plan}/adoption-preview": 0.4,  # each budget is a new exact gap plan
    "GET /fairness": 0.25,  # generated limit_m values defeat the run cache
    "GET /groups/coverage": 0.25,
    "GET /hubs": 0.25,
    "GET /shelters/scenario": 0.1,  # each scenario a new assignment
    "GET /communities/{code}/poster.pdf": 0.05,  # renders an A3 PDF
    "GET /reports/annual": 0.02,  # a whole report, PDF through LibreOffice
    "PATCH /layers/{layer}/{fid}": 0.5,
    "POST /layers/{layer}/import": 0.5,
    "GET /admin/changes": 0.5,
    # parameterless reads: every example is the same request
    "GET /health": 0.05,
    "GET /metadata": 0.05,
    "GET /layers": 0.05,
    "GET /nearest/categories": 0.05,
    "GET /coverage/runs": 0.05,
    "GET /audit/runs": 0.05,
    "GET /ogc": 0.05,
    "GET /ogc/conformance": 0.05,
    "GET /ogc/collections": 0.05,
    "GET /plans": 0.05,
    "GET /admin/users": 0.05,
}
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _schema_doc() -> dict:
    """The app's OpenAPI document (it does not depend on the data: an unconnected store will do)."""
    from geo_service.app import create_app

    store = Store("sqlite://", settings=Settings())
    app = create_app(store)
    try:
        return app.openapi()
    finally:
        app.state.jobs.shutdown()
        store.dispose()


DOC = _schema_doc()  # only to name the tests; each test loads the schema its app serves
LABELS = [
    f"{method.upper()} {path}"
    for path, item in DOC["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
]
AUTHED = [label for label in LABELS if label.split()[0] in WRITE_METHODS or label.startswith("GET /admin/")]


def examples(label: str, backend: str) -> int:
    n = EXAMPLES * SLOW.get(label, 1.0) * (PG_SHARE if backend == "postgis" else 1.0)
    return max(3, math.ceil(n))


# ------------------------------------------------------------------------------------------- the world
class World:
    """The tiny world in a store, the app over it, the schema and an admin token; rebuilt after writes."""

    def __init__(self, backend: str, make_store):
        self.backend = backend
        self.make_store = make_store
        self.store = self.app = self.schema = None
        self.headers: dict[str, str] = {}
        self.dirty = True

    def ready(self, *, writes: bool) -> World:
        if self.dirty:
            self.close()
            self.build()
        self.dirty = writes
        return self

    def build(self) -> None:
        from geo_service.app import create_app
        from tests._auth import token_headers

        self.store = self.make_store()
        self.headers = token_headers(self.store, "admin", "fuzz-admin")
        self.app = create_app(self.store)
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", self.app)  # as served, in-process
        self.ids = _real_ids(self.store)

    def close(self) -> None:
        if self.app is not None:
            self.app.state.jobs.shutdown(wait=True)
        if self.store is not None:
            self.store.dispose()
        self.store = self.app = self.schema = None


def _real_ids(store) -> dict:
    with store.read() as conn:
        fids = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT id FROM facilities UNION SELECT id FROM population_units UNION SELECT id FROM shelters"
            )
        ]
    plans = store.list_plans()
    return {"fids": sorted(set(fids)) or [1], "plans": [str(p["id"]) for p in plans] + [p["name"] for p in plans]}


@pytest.fixture(scope="module", params=["spatialite", "postgis"])
def world(request, tmp_path_factory):
    from tests._tiny_world import store_world

    if request.param == "spatialite":
        template = request.getfixturevalue("spatialite_template")
        base = tmp_path_factory.mktemp("fuzz-template")
        shutil.copy(template, base / "geo.sqlite")
        s = Store(f"sqlite:///{base / 'geo.sqlite'}", settings=Settings(GEO_DATA_DIR=base))
        store_world(s)
        s.dispose()
        counter = iter(range(10**6))

        def make_store():
            d = tmp_path_factory.getbasetemp() / f"fuzz-world-{next(counter)}"
            shutil.copytree(base, d)
            return Store(f"sqlite:///{d / 'geo.sqlite'}", settings=Settings(GEO_DATA_DIR=d))
    else:
        from tests.conftest import _empty_postgis

        url = request.getfixturevalue("postgis_url")
        data = tmp_path_factory.mktemp("fuzz-pg")

        def make_store():
            s = Store(url, settings=Settings(GEO_DATA_DIR=data))
            _empty_postgis(s)
            store_world(s)
            return s

    w = World(request.param, make_store)
    yield w
    w.close()


# ------------------------------------------------------------------------------------------- generation
def _tiles() -> list[dict]:
    from tests._tiny_world import point_lonlat

    lon, lat = point_lonlat(500, 0)
    out = []
    for z in (0, 8, 12, 14, 16):
        n = 1 << z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        out.append({"z": z, "x": x, "y": y})
    return out


def _path_examples(world: World, path: str) -> list[dict]:
    """Path parameters naming things that exist in the world (plus a few that do not)."""
    from geo_service.api import audit, coverage
    from geo_service.core.layers import LAYERS
    from maps.registry import MAPS

    fids = world.ids["fids"][:6] + [10**9]
    plans = world.ids["plans"] + ["1", "不存在"]
    collections = [*LAYERS, "coverage_units", "coverage_gaps", "audit_communities", "analysis_1_units"]
    if path.startswith("/layers/{layer}/{fid}"):
        return [
            {"layer": lay, "fid": f}
            for lay in ("facilities", "population_units", "shelters", "communities")
            for f in fids
        ]
    if path.startswith("/layers/{layer}"):
        return [{"layer": lay} for lay in LAYERS]
    if path.startswith("/plans/{plan}"):
        return [{"plan": p} for p in plans]
    if path == "/coverage/{output}":
        return [{"output": o} for o in coverage.OUTPUTS]
    if path == "/audit/{output}":
        return [{"output": o} for o in audit.OUTPUTS]
    if path == "/maps/{name}":
        return [{"name": n} for n in MAPS]
    if path.startswith("/tiles/"):
        return [{"collection_id": c, **t} for c in collections[:12] for t in _tiles()]
    if path == "/ogc/collections/{collection_id}/items/{feature_id}":
        return [{"collection_id": c, "feature_id": str(f)} for c in collections for f in fids[:3]]
    if path.startswith("/ogc/collections/{collection_id}"):
        return [{"collection_id": c} for c in collections]
    if path == "/jobs/{job_id}":
        return [{"job_id": i} for i in (1, 2, 3)]
    return []


def _strategy(world: World, label: str, *, headers: dict | None = None, negative: bool = True):
    """Schema-valid requests, schema-valid requests on the world's real ids, and (``negative``) schema-breaking ones.

    ``headers`` are fixed (the token), so a negative case never drops or mangles them.
    """
    method, path = label.split(" ", 1)
    op = world.schema[path][method]
    parts = [op.as_strategy(GenerationMode.POSITIVE, headers=headers)]
    known = _path_examples(world, path)
    if known:
        parts.append(
            st.sampled_from(known).flatmap(
                lambda pp: op.as_strategy(GenerationMode.POSITIVE, headers=headers, path_parameters=pp)
            )
        )
    if negative:
        parts.append(op.as_strategy(GenerationMode.NEGATIVE, headers=headers))
    return st.one_of(*parts)


def _checks():
    from schemathesis import checks

    return [getattr(checks, name) for name in CHECK_NAMES]


def _settings(n: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


# ------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("label", LABELS)
def test_operation(world, label):
    """Authenticated as admin: no 5xx, every answer as documented."""
    w = world.ready(writes=label.split()[0] in WRITE_METHODS)
    strategy = _strategy(w, label, headers=w.headers)
    checks = _checks()

    @_settings(examples(label, w.backend))
    @hypothesis.given(case=strategy)
    def run(case):
        case.call_and_validate(checks=checks)

    run()


@pytest.mark.parametrize("label", AUTHED)
def test_needs_token(world, label):
    """Without a token, or with one that is not a token: 401, nothing else."""
    w = world.ready(writes=False)
    strategy = _strategy(w, label, negative=False)
    checks = _checks()
    bad = st.sampled_from([None, "Bearer gs_not-a-token", "Bearer ", "Basic dXNlcjpwdw==", "gs_raw"])

    @_settings(ANON_EXAMPLES if w.backend == "spatialite" else 10)
    @hypothesis.given(case=strategy, authorization=bad)
    def run(case, authorization):
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if authorization is not None:
            headers["Authorization"] = authorization
        case.headers = headers
        response = case.call()
        case.validate_response(response, checks=checks)
        assert response.status_code == 401, (
            f"{label} without a valid token answered {response.status_code}: {response.text[:300]}"
        )

    run()
