"""``/plans`` over the real app on SpatiaLite and PostGIS: delineate, evaluate, edit (If-Match / 409), diff, \
adopt, export."""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from _unit_grid import unit_grid
from conftest import snapshot


def _load_grid(store, **kw):
    grid = unit_grid(8, 5, np.arange(40).reshape(5, 8) % 7 * 30 + 80, workers=60, **kw)
    with store.transaction() as conn:
        for layer in ("population_units", "admin_areas", "barriers", "roads"):
            frame = grid[layer].drop(columns=["id"], errors="ignore")
            if len(frame):
                store.upsert_layer(layer, frame, conn=conn)
        st = gpd.GeoDataFrame(
            {
                "source_id": ["grid:station:1"],
                "name": ["综合服务站"],
                "category": ["community_service_station"],
                "status": ["existing"],
            },
            geometry=[shapely.centroid(grid["population_units"].geometry.iloc[0])],
            crs=4326,
        )
        store.upsert_layer("facilities", st, conn=conn)
    return grid


@pytest.fixture
def grid_client(client):
    store = client.app.state.store
    _load_grid(store, river_col=5, bridge_rows=(2,))
    return client


def _delineate(client, **body):
    r = client.post("/plans/delineate", json={"households_min": 600, "households_max": 1500, "name": "草案一", **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_delineate_evaluate_and_get(grid_client):
    c = grid_client
    out = _delineate(c)
    assert out["plan_id"] and out["version"] == 1 and out["mode"] == "fresh"
    assert all(x["contiguous"] and x["nested"] for x in out["communities"])
    assert out["totals"]["station_distance_method"] == "straight_line"
    plans = c.get("/plans").json()
    assert [p["name"] for p in plans] == ["草案一"] and plans[0]["etag"] == '"v1"'
    r = c.get(f"/plans/{out['plan_id']}")
    assert r.status_code == 200 and r.headers["etag"] == '"v1"'
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == out["totals"]["communities"]
    assert {"households", "polsby_popper", "flags"} <= set(fc["features"][0]["properties"])
    ev = c.get(f"/plans/{out['plan_id']}/evaluation", params={"households_min": 100, "households_max": 100_000}).json()
    assert ev["totals"]["in_band"] == ev["totals"]["communities"]
    # the communities layer holds the plan's polygons
    lay = c.get("/layers/communities", params={"plan": out["plan_id"]}).json()
    assert len(lay["features"]) == out["totals"]["communities"]
    # a name used twice is a conflict
    r = c.post("/plans/delineate", json={"name": "草案一"})
    assert r.status_code == 409 and r.json()["message_zh"]


def test_bad_delineate_input(grid_client):
    c = grid_client
    r = c.post("/plans/delineate", json={"households_min": 3000, "households_max": 1000})
    assert r.status_code == 422 and "下限" in r.json()["message_zh"]
    r = c.post("/plans/delineate", json={"streets": ["999"]})
    assert r.status_code == 422
    r = c.post("/plans/delineate", json={"mode": "minimal_change"})
    assert r.status_code == 422
    r = c.post("/plans/delineate", json={"k": 3})
    assert r.status_code == 201  # one street in the data: k applies to it
    assert c.get("/plans/12345/evaluation").status_code == 404


def _movable(c, plan_id):
    """A unit on the border of two communities whose move keeps both contiguous (found by trying)."""
    from boundaries.service import PlanService

    svc = PlanService(c.app.state.store)
    _, state, _, _ = svc.state(plan_id)
    us = svc.unit_set()
    from boundaries.edit import apply_edit
    from geo_service.core._errors import InputError

    g = us.graph
    for a, b in zip(g.i, g.j):
        la, lb = state.labels[a], state.labels[b]
        if la == lb:
            continue
        edit = {"action": "move", "units": [int(us.units["id"].iloc[a])], "to": str(state.communities["code"].iloc[lb])}
        try:
            apply_edit(us, state, edit)
            return edit
        except InputError:
            continue
    raise AssertionError("no movable unit")


def test_edit_versions_conflict_and_diff(grid_client):
    c = grid_client
    pid = _delineate(c)["plan_id"]
    edit = _movable(c, pid)
    assert c.post(f"/plans/{pid}/edits", json=edit).status_code == 428  # If-Match required
    r = c.post(f"/plans/{pid}/edits", json=edit, headers={"If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and r.headers["etag"] == '"v2"' and len(body["communities"]) == 2
    assert all(x["contiguous"] for x in body["communities"]) and body["compute_ms"] >= 0
    # a second planner still on v1: 409, nothing written
    before = snapshot(c.app.state.store)
    r = c.post(f"/plans/{pid}/edits", json=edit, headers={"If-Match": '"v1"'})
    assert r.status_code == 409 and "版本" in r.json()["message_zh"]
    assert snapshot(c.app.state.store) == before
    # an edit breaking contiguity: 422, nothing written
    from boundaries.service import PlanService

    svc = PlanService(c.app.state.store)
    _, state, _, _ = svc.state(pid)
    us = svc.unit_set()
    d = shapely.distance(us.geom_m, us.geom_m[np.flatnonzero(state.labels == 0)[0]])
    far = int(np.argmax(np.where(state.labels != 0, d, -1)))
    r = c.post(
        f"/plans/{pid}/edits",
        json={"action": "move", "units": [int(us.units["id"].iloc[far])], "to": state.communities["code"].iloc[0]},
        headers={"If-Match": "2"},
    )
    assert r.status_code == 422 and r.json()["message_zh"]
    assert snapshot(c.app.state.store) == before
    # diff between the versions: the moved unit
    dd = c.get(f"/plans/{pid}/diff", params={"version": 2, "other_version": 1}).json()
    assert dd["units_moved"] == 1 and dd["moves"][0]["to_code"] == edit["to"] and dd["residents_moved"] > 0
    vers = c.get(f"/plans/{pid}/versions").json()
    assert [v["version"] for v in vers] == [1, 2] and vers[1]["action"] == "edit:move"
    # the layer row of the touched community follows the edit
    lay = c.get("/layers/communities", params={"plan": pid}).json()["features"]
    hh = {f["properties"]["code"]: f["properties"]["households"] for f in lay}
    for x in body["communities"]:
        assert hh[x["code"]] == x["households"]


def test_merge_split_and_adopt(grid_client):
    c = grid_client
    out = _delineate(c)
    pid = out["plan_id"]
    codes = [x["code"] for x in out["communities"]]
    from boundaries.service import PlanService

    svc = PlanService(c.app.state.store)
    _, state, _, _ = svc.state(pid)
    us = svc.unit_set()
    g = us.graph
    a, b = next((state.labels[i], state.labels[j]) for i, j in zip(g.i, g.j) if state.labels[i] != state.labels[j])
    r = c.post(
        f"/plans/{pid}/edits",
        json={"action": "merge", "into": codes[a], "from": codes[b]},
        headers={"If-Match": '"v1"'},
    )
    assert r.status_code == 200 and r.json()["removed"] == [codes[b]]
    lay = c.get("/layers/communities", params={"plan": pid}).json()["features"]
    assert codes[b] not in {f["properties"]["code"] for f in lay}
    r = c.post(f"/plans/{pid}/adopt", json={"adopted_by": "区民政局 张三"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 409
    r = c.post(f"/plans/{pid}/adopt", json={"adopted_by": "区民政局 张三"})
    assert r.status_code == 200 and r.json()["version"] == 2
    p = next(p for p in c.get("/plans").json() if p["id"] == pid)
    assert p["status"] == "adopted" and p["adopted_by"] == "区民政局 张三" and p["adopted_at"]
    vers = c.get(f"/plans/{pid}/versions").json()
    assert vers[-1]["adopted_by"] == "区民政局 张三"
    # adopted plans are not edited in place: copy to a draft
    r = c.post(
        f"/plans/{pid}/edits",
        json={"action": "rename", "code": codes[a], "name": "和平社区"},
        headers={"If-Match": '"v2"'},
    )
    assert r.status_code == 409
    r = c.post(f"/plans/{pid}/copy", json={"name": "草案二"})
    assert r.status_code == 201
    new = r.json()["plan_id"]
    r = c.post(
        f"/plans/{new}/edits",
        json={"action": "rename", "code": codes[a], "name": "和平社区"},
        headers={"If-Match": '"v1"'},
    )
    assert r.status_code == 200 and r.json()["communities"][0]["name"] == "和平社区"
    # adopting the copy supersedes the first plan (same street)
    c.post(f"/plans/{new}/adopt", json={"adopted_by": "李四"})
    st = {p["id"]: p["status"] for p in c.get("/plans").json()}
    assert st[pid] == "superseded" and st[new] == "adopted"


def test_minimal_change_from_an_imported_plan(grid_client):
    c = grid_client
    store = c.app.state.store
    base = _delineate(c, name="基础")
    # a plan imported as polygons (no stored versions): the communities of the draft under another name
    comm = store.read_layer("communities", plan_id=base["plan_id"]).drop(
        columns=["id", "plan_id", "created_at", "updated_at"]
    )
    with store.transaction() as conn:
        pid = store.get_or_create_plan(conn, "现状", status="adopted")
        store.upsert_layer("communities", comm, plan_id=pid, conn=conn)
    r = c.post(
        "/plans/delineate",
        json={"households_min": 600, "households_max": 1500, "from_plan": "现状", "name": "最小调整"},
    )
    assert r.status_code == 201
    out = r.json()
    assert out["mode"] == "minimal_change" and out["totals"].get("residents_moved") == 0
    d = c.get(f"/plans/{out['plan_id']}/diff", params={"other": pid}).json()
    assert d["units_moved"] == 0


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson"])
def test_export(grid_client, fmt, tmp_path):
    c = grid_client
    pid = _delineate(c)["plan_id"]
    r = c.get(f"/plans/{pid}/export", params={"format": fmt, "crs": "EPSG:4490"})
    assert r.status_code == 200
    path = tmp_path / f"out.{'zip' if fmt == 'shp' else fmt}"
    path.write_bytes(r.content)
    if fmt == "shp":
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            assert any(n.endswith(".prj") for n in zf.namelist())
        gdf = gpd.read_file(f"zip://{path}")
    else:
        gdf = gpd.read_file(path)
    assert gdf.crs.to_epsg() == 4490 and len(gdf) >= 2
    assert {"code", "households", "pp"} <= set(gdf.columns)
    if fmt == "geojson":
        json.loads(path.read_text(encoding="utf-8"))
    r = c.get(f"/plans/{pid}/export", params={"format": "csv"})
    assert r.status_code == 422


def test_adopting_a_draft_of_one_street_keeps_the_other_streets(spatialite_template, tmp_path):
    """A draft of one street replaces that street's communities in the adopted plan; the city keeps the others."""
    from conftest import sample_city_store

    from boundaries.params import DelineationParams
    from boundaries.service import PlanService
    from facilities.service import resolve_plan

    store = sample_city_store(spatialite_template, tmp_path)
    try:
        svc = PlanService(store)
        before = resolve_plan(store, None)
        n_before = store.count("communities", plan_id=before["id"])
        street = "510699001"
        old = store.read_layer("communities", plan_id=before["id"])
        n_street = int((old["street_code"].astype(str) == street).sum())
        draft = svc.delineate(DelineationParams.from_input(svc.norms, streets=[street]), name="一个街道的草案")
        n_draft = len(draft["state"].communities)
        res = svc.adopt(draft["plan_id"], adopted_by="区民政局")
        assert res["merged_from"]["id"] == before["id"]
        assert res["merged_from"]["communities_kept"] == n_before - n_street
        assert res["version"] == 2
        adopted = resolve_plan(store, None)
        assert adopted["id"] == draft["plan_id"] and adopted["status"] == "adopted"
        assert store.count("communities", plan_id=adopted["id"]) == n_before - n_street + n_draft
        _, ev, ver = svc.evaluate(adopted["id"])
        assert ver == 2 and ev.totals["unassigned_units"] == 0
        assert store.get_plan(before["id"])["status"] == "superseded"
    finally:
        store.dispose()
