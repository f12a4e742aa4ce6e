"""What the workbench (issue 15) needs from the API and CLI, on SpatiaLite and PostGIS: undo/redo as versions
(``restore``), locks, split along a line over HTTP, the units and polygons an edit changed, the adoption preview and
the refusal of units left without a community, the adoption history, ``plan diff A B``, delineation as a background
job, ``/workbench`` and ``/workbench/me``.

The world: a 6 x 4 grid of units of 100 households in one street; plan "网格方案" (adopted) whose community 西 (``W``)
holds columns 0-2 and 东 (``E``) columns 3-5.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _unit_grid import unit_grid
from conftest import snapshot
from typer.testing import CliRunner

from geo_service.cli import app as cli
from tests._auth import token_headers

STREET = "510699001"
W, E = f"{STREET}001", f"{STREET}002"
PLAN = "网格方案"
COMM = [
    {"code": W, "name": "西社区", "street_code": STREET, "community_workers": None, "has_fixed_office": None},
    {"code": E, "name": "东社区", "street_code": STREET, "community_workers": None, "has_fixed_office": None},
]


def _plan(store, name, units, code_of, status="draft"):
    codes = np.array([code_of(r, c) for r, c in zip(units["row"], units["col"])], dtype=object)
    comm = [c for c in COMM if c["code"] in set(codes[codes != None].tolist())]  # noqa: E711
    polys = gpd.GeoDataFrame(
        pd.DataFrame(comm)[["code", "name", "street_code"]],
        geometry=[shapely.union_all(units.geometry.values[codes == c["code"]]) for c in comm],
        crs=4326,
    )
    assignment = {s: c for s, c in zip(units["source_id"].astype(str), codes.tolist()) if c is not None}
    return store.create_plan(
        name,
        assignment={"communities": comm, "units": assignment},
        communities=polys,
        action="import",
        params={},
        summary={},
        status=status,
    )


@pytest.fixture
def world(store, tmp_path, monkeypatch):
    """(store, id of the adopted plan W | E, {(row, col): unit id}, units frame with row and col)."""
    from boundaries.service import clear_cache

    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    clear_cache()
    grid = unit_grid(6, 4, 100)
    with store.transaction() as conn:
        for layer in ("population_units", "admin_areas"):
            store.upsert_layer(layer, grid[layer].drop(columns=["id"], errors="ignore"), conn=conn)
    units = store.read_layer("population_units")
    rc = units["source_id"].str.split(":", expand=True)[[1, 2]].astype(int)
    units["row"], units["col"] = rc[1].to_numpy(), rc[2].to_numpy()
    ids = {(int(r), int(c)): int(i) for r, c, i in zip(units["row"], units["col"], units["id"])}
    pid = _plan(store, PLAN, units, lambda r, c: W if c < 3 else E, status="adopted")
    yield store, pid, ids, units
    clear_cache()


def _edit(client, plan, version, body):
    return client.post(f"/plans/{plan}/edits", json=body, headers={"If-Match": f'"v{version}"'})


def _codes(client, plan) -> dict[int, str]:
    return {u["unit_id"]: u["community_code"] for u in client.get(f"/plans/{plan}/units").json()["units"]}


def test_undo_redo_are_versions_locks_refuse_and_the_answer_carries_units_and_polygons(world, client):
    store, pid, ids, _units = world
    draft = client.post(f"/plans/{pid}/copy", json={"name": "草案"}).json()["plan_id"]
    before = _codes(client, draft)
    moved = [ids[(0, 3)], ids[(1, 3)]]
    r = _edit(client, draft, 1, {"action": "move", "units": moved, "to": W})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(u["unit_id"] for u in body["units"]) == sorted(moved)
    assert {u["community_code"] for u in body["units"]} == {W}
    feats = {f["id"]: f for f in body["features"]["features"]}
    assert set(feats) == {W, E} and feats[W]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    w_area = shapely.from_geojson(__import__("json").dumps(feats[W]["geometry"])).area
    e_area = shapely.from_geojson(__import__("json").dumps(feats[E]["geometry"])).area
    assert w_area > e_area  # 14 units against 10
    # undo: version 3 holds version 1's assignment; redo: version 4 holds version 2's
    r = _edit(client, draft, 2, {"action": "restore", "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3 and sorted(u["unit_id"] for u in r.json()["units"]) == sorted(moved)
    assert _codes(client, draft) == before
    assert {c["code"]: c["households"] for c in r.json()["communities"]} == {W: 1200, E: 1200}
    r = _edit(client, draft, 3, {"action": "restore", "version": 2})
    assert r.status_code == 200 and r.json()["version"] == 4
    assert all(_codes(client, draft)[u] == W for u in moved)
    actions = [v["action"] for v in client.get(f"/plans/{draft}/versions").json()]
    assert actions == ["copy", "edit:move", "edit:restore", "edit:restore"]
    # a locked community is not changed: 422 in Chinese, nothing written
    snap = snapshot(store)
    r = _edit(client, draft, 4, {"action": "move", "units": [ids[(2, 3)]], "to": W, "locked": [E]})
    assert r.status_code == 422 and "已锁定" in r.json()["message_zh"] and E in r.json()["message_zh"]
    r = _edit(client, draft, 4, {"action": "restore", "version": 1, "locked": [W]})
    assert r.status_code == 422 and "已锁定" in r.json()["message_zh"]
    assert snapshot(store) == snap
    # a lock on a community the edit does not touch is no obstacle
    r = _edit(client, draft, 4, {"action": "rename", "code": E, "name": "新东社区", "locked": [W]})
    assert r.status_code == 200 and r.json()["units"] == []
    # restore of a version that does not exist: 404, nothing written
    r = _edit(client, draft, 5, {"action": "restore", "version": 99})
    assert r.status_code == 404 and r.json()["message_zh"]


def test_split_along_a_line_over_http(world, client):
    store, pid, ids, units = world
    draft = client.post(f"/plans/{pid}/copy", json={"name": "拆分草案"}).json()["plan_id"]
    # a west-east line between rows 1 and 2 across 西 (columns 0-2)
    y = float(units.geometry[units["row"] == 1].total_bounds[3])
    x0 = float(units.geometry[units["col"] == 0].total_bounds[0]) - 1e-4
    x1 = float(units.geometry[units["col"] == 2].total_bounds[2]) - 1e-5
    r = _edit(client, draft, 1, {"action": "split", "code": W, "line": [[x0, y], [x1, y]], "new_name": "北社区"})
    assert r.status_code == 200, r.text
    new = {c["code"] for c in r.json()["communities"]} - {W}
    assert len(new) == 1 and len(r.json()["units"]) == 6
    assert {c["name"] for c in r.json()["communities"]} == {"西社区", "北社区"}
    r = _edit(client, draft, 2, {"action": "split", "code": W, "line": [[x0, y], [x0 + 1e-6, y]]})
    assert r.status_code == 422 and "分割线" in r.json()["message_zh"]
    r = _edit(client, draft, 2, {"action": "split", "code": W, "line": [[500, y], [x1, y]]})
    assert r.status_code == 422  # longitude out of range


def test_adoption_preview_refusal_and_history(world, client):
    store, pid, ids, units = world
    # the draft: a third community 北 (rows 2-3 of columns 0-2) split off 西
    draft = client.post(f"/plans/{pid}/copy", json={"name": "三社区草案"}).json()["plan_id"]
    north = [ids[(r, c)] for r in (2, 3) for c in (0, 1, 2)]
    r = _edit(client, draft, 1, {"action": "split", "code": W, "units": north, "new_code": f"{STREET}003"})
    assert r.status_code == 200, r.text
    snap = snapshot(store)
    r = client.get(f"/plans/{draft}/adoption-preview")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["adopted"]["id"] == pid and p["streets"] == [STREET]
    assert (p["communities_before"], p["communities_after"]) == (2, 3)
    assert [c["code"] for c in p["added"]] == [f"{STREET}003"] and p["removed"] == []
    assert p["added"][0]["households"] == 600 and p["added"][0]["residents"] == 1500
    assert [c["code"] for c in p["changed"]] == [W]
    assert (p["units_moved"], p["residents_moved"], p["households_moved"]) == (6, 1500, 600)
    assert p["moved_by_street"] == [{"street_code": STREET, "units": 6, "residents": 1500, "households": 600}]
    assert p["units_unassigned"] == {} and p["refused_zh"] is None
    assert snapshot(store) == snap  # a preview writes nothing
    # a draft that leaves two units of the street without a community: previewed as refused, adoption refused
    holes = {(3, 5), (0, 5)}
    gap = _plan(store, "缺单元草案", units, lambda r, c: None if (r, c) in holes else (W if c < 3 else E))
    p = client.get(f"/plans/{gap}/adoption-preview").json()
    assert p["units_unassigned"] == {STREET: 2} and "2 个人口单元" in p["refused_zh"]
    snap = snapshot(store)
    r = client.post(f"/plans/{gap}/adopt", json={"adopted_by": "区民政局"})
    assert r.status_code == 422 and "2 个人口单元未划入任何社区" in r.json()["message_zh"]
    assert snapshot(store) == snap
    # adopt the draft; the history lists both adopted states, the earlier one still readable
    assert client.post(f"/plans/{draft}/adopt", json={"adopted_by": "区民政局"}).status_code == 200
    hist = client.get("/plans/adoptions").json()
    assert [(h["plan_id"], h["current"], h["status"]) for h in hist] == [
        (draft, True, "adopted"),
        (pid, False, "superseded"),
    ]
    assert client.get(f"/plans/{pid}").json()["plan"]["status"] == "superseded"
    old = client.get(f"/plans/{pid}", params={"version": 1}).json()
    assert sorted(f["properties"]["code"] for f in old["features"]) == [W, E]


def test_diff_per_street_and_cli_diff_history_adopt(world, client):
    store, pid, ids, _units = world
    draft = client.post(f"/plans/{pid}/copy", json={"name": "对比草案"}).json()["plan_id"]
    assert _edit(client, draft, 1, {"action": "move", "units": [ids[(0, 3)]], "to": W}).status_code == 200
    d = client.get(f"/plans/{draft}/diff", params={"other": pid}).json()
    assert d["streets"] == [{"street_code": STREET, "units": 1, "residents": 250, "households": 100}]
    url = store.url.render_as_string(hide_password=False)
    run = lambda *a, **kw: CliRunner().invoke(cli, [*a, "--database-url", url], **kw)  # noqa: E731
    r = run("plan", "diff", PLAN, "对比草案")
    assert r.exit_code == 0, r.output
    assert "调整人口单元 1 个，居民 250 人，100 户" in r.stdout
    assert f"街道 {STREET}：调整居民 250 人（1 个单元）" in r.stdout and f"{E} → {W}：1 个单元，250 人" in r.stdout
    assert "户数达标：A 2，B 2" in r.stdout
    r = run("plan", "diff", "对比草案@1", "对比草案@2")
    assert r.exit_code == 0 and "调整人口单元 1 个" in r.stdout
    r = run("plan", "diff", PLAN, "没有这个方案")
    assert r.exit_code != 0 and "没有这个方案" in r.output
    r = run("plan", "adopt", "对比草案", "--preview")
    assert r.exit_code == 0 and "采纳预览" in r.stdout and "全市社区 2 个 → 2 个" in r.stdout
    assert store.get_plan("对比草案")["status"] == "draft"
    r = run("plan", "adopt", "对比草案", "--by", "张三", input="n\n")
    assert r.exit_code == 1 and "未采纳" in r.stdout and store.get_plan("对比草案")["status"] == "draft"
    r = run("plan", "adopt", "对比草案", "--by", "张三", input="y\n")
    assert r.exit_code == 0 and "已由 张三" in r.stdout
    r = run("plan", "history")
    assert r.exit_code == 0 and "「对比草案」版本 2" in r.stdout and "现行" in r.stdout


def test_delineation_as_a_background_job(world, client):
    store, pid, ids, _units = world
    r = client.post(
        "/plans/delineate",
        json={
            "streets": [STREET],
            "households_min": 500,
            "households_max": 900,
            "name": "后台草案",
            "background": True,
        },
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "delineate" and r.headers["location"].endswith(f"/jobs/{job['id']}")
    for _ in range(300):
        job = client.get(f"/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        assert 0 <= (job["result"] or {}).get("progress", 0) <= 1
        time.sleep(0.1)
    assert job["status"] == "done", job
    res = job["result"]
    assert res["progress"] == 1.0 and res["stage_zh"] == "完成" and res["name"] == "后台草案"
    plan = store.get_plan("后台草案")
    assert plan["id"] == res["plan_id"] and plan["status"] == "draft"
    assert res["totals"]["communities"] == store.count("communities", plan_id=plan["id"]) >= 3
    # bad parameters are refused before any job is made; a street that is not there fails the job, in Chinese
    r = client.post("/plans/delineate", json={"households_min": 900, "households_max": 500, "background": True})
    assert r.status_code == 422 and r.json()["message_zh"]
    r = client.post("/plans/delineate", json={"streets": ["nope"], "background": True})
    assert r.status_code == 202
    for _ in range(300):
        job = client.get(r.headers["location"]).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "failed" and "nope" in job["error"], job


def test_workbench_page_and_who_am_i(store, anon_client):
    r = anon_client.get("/workbench")
    assert r.status_code == 200 and "社区划分与设施工作台" in r.text
    assert "/static/vendor/maplibre-gl-5.24.1/maplibre-gl.js" in r.text and "/static/workbench/app.js" in r.text
    assert "https://" not in r.text and "http://" not in r.text  # nothing from a CDN
    for path in ("app.js", "api.js", "editor.js", "plans.js", "staff.js", "dom.js", "workbench.css"):
        js = anon_client.get(f"/static/workbench/{path}")
        assert js.status_code == 200 and "https://" not in js.text and "http://" not in js.text, path
    r = anon_client.get("/workbench/me")
    assert r.status_code == 401 and r.json()["message_zh"]
    assert anon_client.get("/workbench/me", headers={"Authorization": "Bearer gs_nope"}).status_code == 401
    me = anon_client.get("/workbench/me", headers=token_headers(store, "facilities", "王工")).json()
    assert me["name"] == "王工" and me["role_zh"] == "设施管理人员"
    assert "shelters" in me["layers"] and "population_units" not in me["layers"] and "plan_edit" not in me["may"]
    me = anon_client.get("/workbench/me", headers=token_headers(store, "planner")).json()
    assert {"plan_edit", "plan_adopt"} <= set(me["may"]) and "population_units" in me["layers"]
