"""Plan editing without curl (issue 15): ``GET /plans/{plan}/units``, ``GET /plans/{plan}/communities/{code}``,
``geo-service plan units`` and ``geo-service plan edit``, on SpatiaLite and PostGIS.

The world: a 6 x 4 grid of units of 100 households in one street, and a plan "网格方案" whose community 西
(``W``) holds columns 0-2 and 东 (``E``) columns 3-5 (1,200 households each, inside the norms' band 1000-3000).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _unit_grid import GRID_EPSG, unit_grid
from conftest import snapshot
from typer.testing import CliRunner

from geo_service.cli import app as cli

STREET = "510699001"
W, E = f"{STREET}001", f"{STREET}002"
PLAN = "网格方案"


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


@pytest.fixture
def world(store, tmp_path, monkeypatch):
    """(store, plan id, {(row, col): unit id}) with the plan W | E stored as version 1."""
    from boundaries.service import clear_cache

    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    clear_cache()  # PostGIS restarts ids and revisions per test: no prepared units of another test's grid
    grid = unit_grid(6, 4, 100)
    with store.transaction() as conn:
        for layer in ("population_units", "admin_areas"):
            store.upsert_layer(layer, grid[layer].drop(columns=["id"], errors="ignore"), conn=conn)
    units = store.read_layer("population_units")
    rc = units["source_id"].str.split(":", expand=True)[[1, 2]].astype(int)
    ids = {(int(r), int(c)): int(i) for r, c, i in zip(rc[1], rc[2], units["id"])}
    code = np.where(rc[2].to_numpy() < 3, W, E)
    comm = [
        {"code": W, "name": "西社区", "street_code": STREET, "community_workers": None, "has_fixed_office": None},
        {"code": E, "name": "东社区", "street_code": STREET, "community_workers": None, "has_fixed_office": None},
    ]
    polys = gpd.GeoDataFrame(
        pd.DataFrame(comm)[["code", "name", "street_code"]],
        geometry=[shapely.union_all(units.geometry.values[code == c]) for c in (W, E)],
        crs=4326,
    )
    pid = store.create_plan(
        PLAN,
        assignment={"communities": comm, "units": dict(zip(units["source_id"].astype(str), code.tolist()))},
        communities=polys,
        action="import",
        params={},
        summary={},
    )
    yield store, pid, ids
    clear_cache()


def _cli(store, *args):
    return CliRunner().invoke(cli, [*args, "--database-url", _url(store)])


def _table(text: str) -> list[list[str]]:
    """The rows of ``plan units``' table, split into cells."""
    return [ln.split() for ln in text.splitlines() if ln.strip()[:1].isdigit()]


def test_units_and_one_community(world, client, anon_client):
    store, pid, ids = world
    r = anon_client.get(f"/plans/{pid}/units")  # a read: no token needed
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"v1"'
    body = r.json()
    assert (body["plan_id"], body["version"], body["current_version"], body["etag"]) == (pid, 1, 1, '"v1"')
    rows = {u["unit_id"]: u for u in body["units"]}
    assert set(rows) == set(ids.values()) and [u["unit_id"] for u in body["units"]] == sorted(rows)
    one = rows[ids[(2, 4)]]
    assert one == {
        "unit_id": ids[(2, 4)],
        "source_id": "grid:2:4",
        "name": "单元2-4",
        "street_code": STREET,
        "households": 100,
        "residents": 250,
        "community_code": E,
        "community_name": "东社区",
    }
    r = client.get(f"/plans/{PLAN}/units", params={"community": W})
    assert r.status_code == 200 and r.json()["community"] == W
    assert sorted(u["unit_id"] for u in r.json()["units"]) == sorted(i for (_, c), i in ids.items() if c < 3)
    r = client.get(f"/plans/{pid}/units", params={"community": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["message_zh"]
    # the units' polygons as GeoJSON
    r = client.get(f"/plans/{pid}/units", params={"format": "geojson", "community": E})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert r.headers["etag"] == '"v1"'
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["plan"]["current_version"] == 1 and len(fc["features"]) == 12
    f = fc["features"][0]
    assert f["id"] == f["properties"]["unit_id"] and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert {f["properties"]["community_code"] for f in fc["features"]} == {E}
    assert client.get(f"/plans/{pid}/units", params={"format": "kml"}).status_code == 422
    # one community: the evaluation's figures and its unit ids
    r = anon_client.get(f"/plans/{pid}/communities/{W}")
    assert r.status_code == 200 and r.headers["etag"] == '"v1"'
    detail = r.json()
    assert detail["unit_ids"] == sorted(i for (_, c), i in ids.items() if c < 3)
    ev = client.get(f"/plans/{pid}/evaluation").json()
    assert detail["community"] == next(x for x in ev["communities"] if x["code"] == W)
    fig = detail["community"]
    assert (fig["units"], fig["households"], fig["residents"], fig["in_band"], fig["contiguous"]) == (
        12,
        1200,
        3000,
        True,
        True,
    )
    r = client.get(f"/plans/{pid}/communities/nope")
    assert r.status_code == 404 and r.json()["message_zh"]
    assert client.get("/plans/999/units").status_code == 404


def test_cli_units_and_a_move_that_changes_the_listing(world, client):
    store, pid, ids = world
    r = _cli(store, "plan", "units", PLAN, "--community", W)
    assert r.exit_code == 0, r.output
    assert "社区 510699001001 的12 个人口单元，户数合计 1200" in r.stdout and "单元编号" in r.stdout
    rows = _table(r.stdout)
    assert len(rows) == 12 and all(row[2:] == ["100", W, "西社区"] for row in rows)
    assert [str(ids[(0, 0)]), "单元0-0", "100", W, "西社区"] in rows
    # move the corner unit (0, 3) from 东 to 西; no --version: the current one, printed
    moved = ids[(0, 3)]
    r = _cli(store, "plan", "edit", PLAN, "--move", str(moved), "--to", W)
    assert r.exit_code == 0, r.output
    assert "按方案当前版本 1 编辑" in r.stdout and "已保存为版本 2（移动人口单元，基于版本 1" in r.stdout
    assert f"社区 {W} 西社区：户数 1300（范围 1000-3000，达标），常住人口 3250，连续" in r.stdout
    assert f"社区 {E} 东社区：户数 1100（范围 1000-3000，达标），常住人口 2750，连续" in r.stdout
    r = client.get(f"/plans/{pid}/units", params={"community": W})
    assert r.headers["etag"] == '"v2"' and r.json()["version"] == 2
    assert moved in {u["unit_id"] for u in r.json()["units"]} and len(r.json()["units"]) == 13
    old = client.get(f"/plans/{pid}/units", params={"community": W, "version": 1}).json()
    assert (old["version"], old["current_version"], len(old["units"])) == (1, 2, 12)
    assert client.get(f"/plans/{pid}/communities/{W}").json()["community"]["households"] == 1300
    vers = client.get(f"/plans/{pid}/versions").json()
    assert vers[-1]["action"] == "edit:move" and vers[-1]["created_by"].startswith("cli:")
    r = _cli(store, "plan", "units", str(pid), "--community", W)
    assert [str(moved), "单元0-3", "100", W, "西社区"] in _table(r.stdout)
    r = _cli(store, "plan", "units", str(pid))
    assert r.exit_code == 0 and len(_table(r.stdout)) == 24
    # rename and merge with the version seen
    r = _cli(store, "plan", "edit", PLAN, "--version", "2", "--rename", E, "--name", "和平社区")
    assert r.exit_code == 0 and "已保存为版本 3" in r.stdout and f"社区 {E} 和平社区" in r.stdout, r.output
    r = _cli(store, "plan", "edit", PLAN, "--version", "3", "--merge", E, "--into", W)
    assert r.exit_code == 0 and "户数 2400" in r.stdout and f"社区 {E} 已并入其他社区并删除" in r.stdout, r.output
    assert {u["community_code"] for u in client.get(f"/plans/{pid}/units").json()["units"]} == {W}


def test_split_along_a_line(world, client):
    store, pid, ids = world
    # a west-east line 10 m north of the border between rows 1 and 2, from outside the grid into 东
    cells = store.read_layer("population_units").to_crs(GRID_EPSG)
    x0, y0, _, _ = cells.total_bounds
    y = y0 + 2 * 120 + 10
    line = gpd.GeoSeries(shapely.points([x0 - 50, x0 + 3.5 * 120], [y, y]), crs=GRID_EPSG).to_crs(4326)
    text = ", ".join(f"{p.x:.8f} {p.y:.8f}" for p in line)
    r = _cli(store, "plan", "edit", PLAN, "--split", W, "--line", text, "--new-code", "X1", "--new-name", "新社区")
    assert r.exit_code == 0, r.output
    assert "已保存为版本 2" in r.stdout and "社区 X1 新社区：户数 600（范围 1000-3000，偏离 -400 户）" in r.stdout
    units = client.get(f"/plans/{pid}/units").json()["units"]
    by_code = {}
    for u in units:
        by_code.setdefault(u["community_code"], set()).add(u["unit_id"])
    halves = [{i for (rr, c), i in ids.items() if c < 3 and (rr < 2) == low} for low in (True, False)]
    assert sorted(map(len, by_code.values())) == [6, 6, 12] and by_code[W] in halves and by_code["X1"] in halves
    # a line that does not cross the community: refused in Chinese, nothing written
    before = snapshot(store)
    far = ", ".join(f"{p.x:.8f} {p.y:.8f}" for p in line.translate(0, 1.0))
    r = _cli(store, "plan", "edit", PLAN, "--split", "X1", "--line", far)
    assert r.exit_code == 1 and "分割线须从社区 X1 的一侧边界穿到另一侧" in r.output
    r = _cli(store, "plan", "edit", PLAN, "--split", "X1", "--line", "104.1 31.1")
    assert r.exit_code == 1 and "分割线格式应为" in r.output
    assert snapshot(store) == before


def test_stale_version_is_refused_and_nothing_written(world, client):
    store, pid, ids = world
    r = _cli(store, "plan", "edit", PLAN, "--version", "1", "--move", str(ids[(3, 3)]), "--to", W)
    assert r.exit_code == 0, r.output
    before = snapshot(store)
    r = _cli(store, "plan", "edit", PLAN, "--version", "1", "--rename", W, "--name", "新名")
    assert r.exit_code == 1
    assert "方案已被他人修改（当前版本 2，您的修改基于版本 1）" in r.output and "本次修改未保存" in r.output
    assert snapshot(store) == before
    assert client.get(f"/plans/{pid}/units").headers["etag"] == '"v2"'


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--move", "{far}", "--to", W], "调整后不连续"),  # 东's far corner cannot join 西
        (["--move", "{far},{near}", "--to", W], "调整后不连续"),
        (["--move", "999999", "--to", W], "人口单元编号不存在"),
        (["--move", "a,b", "--to", W], "以逗号分隔的人口单元编号"),
        (["--move", "{near}"], "--move 须同时给出 --to"),
        (["--merge", E, "--into", E], "不能将社区与自身合并"),
        (["--rename", "nope", "--name", "x"], "方案中没有代码为"),
        (["--rename", W, "--name", "x", "--merge", E, "--into", W], "只给出一种操作"),
        ([], "只给出一种操作"),
    ],
)
def test_refused_edits_say_why_in_chinese(world, args, needle):
    store, _pid, ids = world
    args = [a.format(far=ids[(3, 5)], near=ids[(0, 3)]) for a in args]
    before = snapshot(store)
    r = _cli(store, "plan", "edit", PLAN, *args)
    assert r.exit_code == 1 and needle in r.output, r.output
    assert snapshot(store) == before
