"""Who may do what: bearer tokens, roles, revocation, the change log (issue 7).

Every route of the app that is not a read (POST, PUT, PATCH, DELETE) is checked
here: 401 without a token or with a bad or revoked one, 403 for a role that may
not, and past the gate for a role that may.  A new write route that is not in
WRITE_ROUTES fails ``test_every_write_route_is_listed``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geo_service.app import create_app
from geo_service.cli import app as cli_app
from geo_service.core import models
from geo_service.core.auth import add_user
from tests._tiny_world import point_lonlat, store_world
from tests.conftest import snapshot

ROLES = ("planner", "facilities", "admin")
SHELTER = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [104.3, 31.1]},
    "properties": {"source_id": "S-new", "name": "新避难点", "shelter_class": "emergency", "capacity_persons": 300},
}

# (method, path template, concrete path, json body or None, roles allowed past the gate)
WRITE_ROUTES = [
    ("POST", "/layers/{layer}/import", "/layers/shelters/import", None, {"facilities", "admin"}),
    ("POST", "/layers/{layer}/import", "/layers/population_units/import", None, {"planner", "admin"}),
    ("POST", "/layers/{layer}/features", "/layers/shelters/features", SHELTER, {"facilities", "admin"}),
    ("POST", "/layers/{layer}/features", "/layers/facilities/features", SHELTER, {"facilities", "admin"}),
    ("POST", "/layers/{layer}/features", "/layers/plan_parcels/features", SHELTER, {"planner", "admin"}),
    (
        "PATCH",
        "/layers/{layer}/{fid}",
        "/layers/shelters/1",
        {"properties": {"capacity_persons": 900}},
        {"facilities", "admin"},
    ),
    (
        "PATCH",
        "/layers/{layer}/{fid}",
        "/layers/population_units/1",
        {"properties": {"residents": 101}},
        {"planner", "admin"},
    ),
    ("DELETE", "/layers/{layer}/{fid}", "/layers/shelters/1", None, {"facilities", "admin"}),
    ("DELETE", "/layers/{layer}/{fid}", "/layers/developments/999", None, {"facilities", "planner", "admin"}),
    ("POST", "/plans/delineate", "/plans/delineate", {"save": False}, {"planner", "admin"}),
    (
        "POST",
        "/plans/{plan}/edits",
        "/plans/1/edits",
        {"action": "rename", "code": "c1", "name": "新名"},
        {"planner", "admin"},
    ),
    ("POST", "/plans/{plan}/adopt", "/plans/1/adopt", {"adopted_by": "区民政局"}, {"planner", "admin"}),
    ("POST", "/plans/{plan}/copy", "/plans/1/copy", {"name": "副本"}, {"planner", "admin"}),
    ("POST", "/coverage/runs", "/coverage/runs", None, {"planner", "facilities", "admin"}),
    (
        "POST",
        "/coverage/siting",
        "/coverage/siting",
        {"category": "kindergarten", "k": 1},
        {"planner", "facilities", "admin"},
    ),
    ("POST", "/audit/runs", "/audit/runs", None, {"planner", "facilities", "admin"}),
    ("POST", "/jobs", "/jobs", {"kind": "coverage"}, {"planner", "facilities", "admin"}),
    ("POST", "/scenarios", "/scenarios", {"name": "t", "changes": {}}, {"planner", "facilities", "admin"}),
    ("POST", "/scenarios/batch", "/scenarios/batch", {"scenarios": ["1"]}, {"planner", "facilities", "admin"}),
    ("PATCH", "/scenarios/{scenario}", "/scenarios/1", {"description": "x"}, {"planner", "facilities", "admin"}),
    ("DELETE", "/scenarios/{scenario}", "/scenarios/1", None, {"planner", "facilities", "admin"}),
    ("POST", "/units/build", "/units/build", None, {"planner", "admin"}),
]
ADMIN_READS = ["/admin/changes", "/admin/users"]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(store):
    store_world(store)
    tokens = {role: add_user(store, f"u-{role}", role) for role in ROLES}
    app = create_app(store)
    with TestClient(app) as c:
        c.fastapi_app = app
        yield store, c, tokens


def _send(c, method, path, body, headers):
    if path.endswith("/import"):
        files = {
            "file": (
                "x.geojson",
                json.dumps({"type": "FeatureCollection", "features": []}).encode(),
                "application/geo+json",
            )
        }
        return c.request(method, path, files=files, headers=headers)
    return c.request(method, path, json=body, headers=headers)


def test_every_write_route_is_listed(world):
    _store, c, _tokens = world
    paths = c.fastapi_app.openapi()["paths"]
    written = {
        (m.upper(), p) for p, ops in paths.items() for m in ops if m.upper() in ("POST", "PUT", "PATCH", "DELETE")
    }
    assert written == {(m, t) for m, t, *_ in WRITE_ROUTES}


@pytest.mark.parametrize(
    "method,template,path,body,allowed", WRITE_ROUTES, ids=[f"{m} {p}" for m, _t, p, *_ in WRITE_ROUTES]
)
def test_write_routes_need_a_token_and_a_role(world, method, template, path, body, allowed):
    store, c, tokens = world
    before = snapshot(store)
    for headers in (
        {},
        {"Authorization": "Bearer gs_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer"},
        {"Authorization": "gs_token-without-scheme"},
    ):
        r = _send(c, method, path, body, headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["message_zh"]
    assert snapshot(store) == before, "a refused request wrote something"
    for role in ROLES:
        r = _send(c, method, path, body, _bearer(tokens[role]))
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.text)
            assert r.status_code < 500, (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
            err = r.json()
            assert err["error"] == "ForbiddenError" and role not in err["allowed_roles"]
            assert "无权" in err["message_zh"]


def test_reads_are_open_and_admin_reads_are_not(world):
    store, c, tokens = world
    lon, lat = point_lonlat(280, -20)
    for path in [
        "/layers/shelters",
        f"/nearest?lon={lon:f}&lat={lat:f}",
        "/resident",
        "/maps",
        "/ogc/collections",
        "/health",
        "/coverage/summary",
        "/audit/summary",
        "/jobs",
    ]:
        assert c.get(path).status_code == 200, path
    for path in ADMIN_READS:
        assert c.get(path).status_code == 401
        for role in ("planner", "facilities"):
            assert c.get(path, headers=_bearer(tokens[role])).status_code == 403
        assert c.get(path, headers=_bearer(tokens["admin"])).status_code == 200


def test_tokens_are_stored_hashed_and_can_be_revoked(world):
    store, c, tokens = world
    token = tokens["facilities"]
    with store.read() as conn:
        rows = conn.execute(sa.select(models.api_tokens.c.token_hash, models.api_tokens.c.prefix)).all()
        dump = json.dumps(
            [
                list(map(str, r))
                for t in models.metadata.sorted_tables
                if t.name in ("users", "api_tokens", "change_log")
                for r in conn.execute(sa.select(t)).all()
            ]
        )
    assert token not in dump, "a token is stored in clear"
    assert hashlib.sha256(token.encode()).hexdigest() in {r.token_hash for r in rows}
    assert token[:10] in {r.prefix for r in rows}
    assert c.post("/layers/shelters/features", json=SHELTER, headers=_bearer(token)).status_code == 201
    # a second token, then revoke the first only: the second still works
    second = CliRunner().invoke(
        cli_app, ["user", "token", "u-facilities", "--database-url", store.url.render_as_string(False)]
    )
    assert second.exit_code == 0, second.output
    token2 = second.stdout.strip().splitlines()[-1]
    r = CliRunner().invoke(
        cli_app,
        ["user", "revoke", "u-facilities", "--token", token[:10], "--database-url", store.url.render_as_string(False)],
    )
    assert r.exit_code == 0, r.output
    assert c.patch("/layers/shelters/1", json={"properties": {"name": "x"}}, headers=_bearer(token)).status_code == 401
    assert (
        c.patch("/layers/shelters/1", json={"properties": {"name": "改名"}}, headers=_bearer(token2)).status_code == 200
    )
    # revoking the user ends every token
    r = CliRunner().invoke(
        cli_app, ["user", "revoke", "u-facilities", "--database-url", store.url.render_as_string(False)]
    )
    assert r.exit_code == 0 and "停用" in r.output
    assert c.patch("/layers/shelters/1", json={"properties": {"name": "y"}}, headers=_bearer(token2)).status_code == 401


def test_cli_user_commands(store):
    url = ["--database-url", store.url.render_as_string(False)]
    runner = CliRunner()
    r = runner.invoke(cli_app, ["user", "add", "王规划", "--role", "planner", *url])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("gs_") and len(token) > 40
    assert runner.invoke(cli_app, ["user", "add", "王规划", "--role", "planner", *url]).exit_code == 1  # name taken
    bad = runner.invoke(cli_app, ["user", "add", "李四", "--role", "mayor", *url])
    assert bad.exit_code == 1 and "未知角色" in bad.output
    assert runner.invoke(cli_app, ["user", "role", "王规划", "admin", *url]).exit_code == 0
    listing = runner.invoke(cli_app, ["user", "list", *url])
    assert listing.exit_code == 0 and "王规划" in listing.stdout and "admin" in listing.stdout
    assert runner.invoke(cli_app, ["user", "revoke", "nobody", *url]).exit_code == 1
    with TestClient(create_app(store)) as c:
        assert c.get("/admin/users", headers=_bearer(token)).status_code == 200  # the role change took effect
        changes = c.get("/admin/changes", params={"target_type": "user"}, headers=_bearer(token)).json()["changes"]
    assert [ch["action"] for ch in changes][:2] == ["user_role", "user_add"]
    assert all(ch["actor"].startswith("cli:") and ch["role"] == "admin" for ch in changes)


def test_change_log_records_who_when_what(world):
    store, c, tokens = world
    fac, plan, admin = (_bearer(tokens[r]) for r in ("facilities", "planner", "admin"))
    created = c.post("/layers/shelters/features", json=SHELTER, headers=fac)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    assert (
        c.patch(f"/layers/shelters/{fid}", json={"properties": {"capacity_persons": 450}}, headers=fac).status_code
        == 200
    )
    copy = c.post("/plans/1/copy", json={"name": "调整草案"}, headers=plan)
    assert copy.status_code == 201, copy.text
    pid = copy.json()["plan_id"]
    assert (
        c.post(
            f"/plans/{pid}/edits",
            json={"action": "rename", "code": "c1", "name": "南岸新社区"},
            headers={**plan, "If-Match": copy.headers["etag"]},
        ).status_code
        == 200
    )
    assert c.post(f"/plans/{pid}/adopt", json={"adopted_by": "区民政局"}, headers=plan).status_code == 200
    assert c.delete(f"/layers/shelters/{fid}", headers=fac).status_code == 200
    page = c.get("/admin/changes", headers=admin).json()
    mine = [ch for ch in page["changes"] if ch["action"] != "user_add"]
    assert [(ch["actor"], ch["role"], ch["action"], ch["target_type"]) for ch in mine] == [
        ("u-facilities", "facilities", "feature_delete", "shelters"),
        ("u-planner", "planner", "plan_adopt", "plan"),
        ("u-planner", "planner", "plan_edit", "plan"),
        ("u-planner", "planner", "plan_copy", "plan"),
        ("u-facilities", "facilities", "feature_update", "shelters"),
        ("u-facilities", "facilities", "feature_create", "shelters"),
    ]
    update = mine[4]
    assert update["detail"]["changed"]["capacity_persons"] == {"from": 300, "to": 450}
    assert mine[2]["detail"]["version"] == 2 and mine[1]["detail"]["adopted_by"] == "区民政局"
    assert all(ch["at"] for ch in mine)
    only = c.get("/admin/changes", params={"actor": "u-planner"}, headers=admin).json()
    assert only["total"] == 3 and {ch["actor"] for ch in only["changes"]} == {"u-planner"}
    # a refused edit is not logged
    n = page["total"]
    assert (
        c.patch(f"/layers/shelters/{fid}", json={"properties": {"capacity_persons": 1}}, headers=fac).status_code == 404
    )
    assert c.get("/admin/changes", headers=admin).json()["total"] == n


def test_import_is_logged_with_its_user(world, tmp_path):
    store, c, tokens = world
    fc = {
        "type": "FeatureCollection",
        "features": [{**SHELTER, "properties": {**SHELTER["properties"], "source_id": f"S{i}"}} for i in range(3)],
    }
    r = c.post(
        "/layers/shelters/import",
        files={"file": ("s.geojson", json.dumps(fc).encode(), "application/geo+json")},
        headers=_bearer(tokens["facilities"]),
    )
    assert r.status_code == 200, r.text
    ch = c.get("/admin/changes", params={"target_type": "layer"}, headers=_bearer(tokens["admin"])).json()["changes"][0]
    assert (ch["actor"], ch["role"], ch["action"], ch["target_id"]) == (
        "u-facilities",
        "facilities",
        "import",
        "shelters",
    )
    assert ch["detail"]["inserted"] == 3 and ch["detail"]["source_name"] == "s.geojson"


@pytest.mark.parametrize(
    "body,status,word",
    [
        ({"geometry": {"type": "Point", "coordinates": [104.3]}, "properties": {"name": "a"}}, 422, None),
        ({"geometry": {"type": "Point", "coordinates": [[104.3, 31.1]]}, "properties": {"name": "a"}}, 422, None),
        ({"geometry": {"type": "Polygon", "coordinates": [104.3, 31.1]}, "properties": {"name": "a"}}, 422, None),
        ({"geometry": {"type": "Hexagon", "coordinates": [104.3, 31.1]}, "properties": {"name": "a"}}, 422, None),
        ({"geometry": {"type": "Point", "coordinates": [104.3, 31.1]}, "properties": {"capacity": 5}}, 422, "capacity"),
        (
            {"geometry": {"type": "Point", "coordinates": [104.3, 31.1]}, "properties": {"capacity_persons": "many"}},
            422,
            None,
        ),
        ({"geometry": {"type": "Point", "coordinates": [104.3, 31.1]}, "properties": {"name": {"a": 1}}}, 422, None),
        (
            {
                "geometry": {"type": "Point", "coordinates": [104.3, 31.1]},
                "properties": {"source_id": "H", "shelter_class": "emergency"},
            },
            409,
            None,
        ),
        (
            {"geometry": {"type": "LineString", "coordinates": [[104.3, 31.1], [104.4, 31.1]]}, "properties": {}},
            422,
            None,
        ),
    ],
)
def test_feature_edits_reject_bad_input_and_write_nothing(world, body, status, word):
    store, c, tokens = world
    before = snapshot(store)
    r = c.post("/layers/shelters/features", json={"type": "Feature", **body}, headers=_bearer(tokens["facilities"]))
    assert r.status_code == status, r.text
    assert r.json().get("message_zh") or r.json().get("detail")
    if word:
        assert word in r.text
    assert snapshot(store) == before


def test_non_finite_coordinates_are_refused(world):
    store, c, tokens = world
    before = snapshot(store)
    for raw in (
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,31.1]},"properties":{}}',
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[104.3,Infinity]},"properties":{}}',
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[104.3,1e400]},"properties":{}}',
    ):
        r = c.post(
            "/layers/shelters/features",
            content=raw,
            headers={**_bearer(tokens["facilities"]), "Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (raw, r.text)
    assert snapshot(store) == before


def test_communities_are_edited_through_plans(world):
    store, c, tokens = world
    r = c.post("/layers/communities/features", json=SHELTER, headers=_bearer(tokens["admin"]))
    assert r.status_code == 422 and "方案" in r.json()["message_zh"]


def test_residents_read_published_results_but_do_not_start_computations(world):
    """Anonymous reads of analyses: the default parameters are computed (once per data change); other
    parameters only if a signed-in user computed them before; on-demand service areas need a user."""
    store, c, tokens = world
    assert c.get("/coverage/summary").status_code == 200
    assert c.get("/audit/summary").status_code == 200
    for path, params in [
        ("/coverage/summary", {"walking_speed_mps": 0.8}),
        ("/coverage/units", {"levels": "5min"}),
        ("/audit/summary", {"walk_limit_m": 300}),
        ("/audit/communities", {"day_night_factor": 1.2}),
        ("/audit/report.xlsx", {"walk_limit_m": 250}),
        ("/audit/shelter-assignment", {"walk_limit_m": 200}),
    ]:
        n_runs = len(store.list_analyses())
        r = c.get(path, params=params)
        assert r.status_code == 401, (path, r.text)
        assert "登录" in r.json()["message_zh"]
        assert len(store.list_analyses()) == n_runs
        assert c.get(path, params=params, headers=_bearer(tokens["planner"])).status_code == 200
        assert c.get(path, params=params).status_code == 200, "a stored result is public"
    assert c.get("/coverage/service-areas", params={"category": "kindergarten"}).status_code == 401
    assert (
        c.get(
            "/coverage/service-areas", params={"category": "kindergarten"}, headers=_bearer(tokens["facilities"])
        ).status_code
        == 200
    )
    assert c.get("/coverage/summary", headers={"Authorization": "Bearer gs_bad"}).status_code == 401
