"""The planners' workbench (``/workbench``, issue 15) in headless Chromium (Debian's /usr/bin/chromium, Playwright)
against the real app with the sample city, on SpatiaLite and PostGIS: painting units with the three tools, the
figures, undo, a conflict between two browsers, a one-street draft proposed and adopted through the preview, and a
facilities user's upload with a bad row. No request leaves loopback; screenshots go to tests/artifacts/."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo_service.app import create_app
from maps.server import serve_in_background
from tests._auth import token_headers
from tests.conftest import _empty_postgis, sample_city_store, snapshot
from tests.test_browser import CHROMIUM, Watched

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]
VIEW = {"width": 1400, "height": 900}


@pytest.fixture(scope="module", params=["spatialite", "postgis"])
def city(request, spatialite_template, tmp_path_factory):
    """The sample city on each back end, served over HTTP: (store, base url)."""
    from boundaries.service import clear_cache

    tmp = tmp_path_factory.mktemp(f"workbench-{request.param}")
    if request.param == "spatialite":
        store = sample_city_store(spatialite_template, tmp)
    else:
        from geo_service.core.datasets import load_sample_city
        from geo_service.core.settings import Settings
        from geo_service.core.storage import Store

        store = Store(request.getfixturevalue("postgis_url"), settings=Settings(GEO_DATA_DIR=tmp))
        _empty_postgis(store)
        load_sample_city(store)
    clear_cache()
    with serve_in_background(create_app(store)) as url:
        yield store, url
    clear_cache()
    store.dispose()


@pytest.fixture
def watched(browser):
    pages = []

    def make(**context):
        w = Watched(browser, **{"viewport": VIEW, **context})
        pages.append(w)
        return w

    yield make
    for w in pages:
        w.close()


def _token(store, role: str) -> str:
    return token_headers(store, role)["Authorization"].split()[1]


def _open(w: Watched, url: str, token: str | None, plan: int | None = None):
    page = w.page
    page.goto(f"{url}/workbench" + (f"?plan={plan}" if plan else ""), wait_until="load")
    page.wait_for_function("window.workbench && window.workbench.ready", timeout=60_000)
    if token:
        page.fill("#token", token)
        page.click("#signin button[type=submit]")
        page.wait_for_function("window.workbench.user !== null", timeout=10_000)
    return page


def _draft(store, name: str) -> int:
    from boundaries.service import PlanService

    adopted = next(p for p in store.list_plans() if p["status"] == "adopted")
    return PlanService(store).copy(adopted["id"], name=name)["plan_id"]


def _paintable(store, plan: int, n: int = 3):
    """(community A, [n unit ids of a neighbouring community B of the same street]) such that moving them one after
    another into A keeps both contiguous (B keeps at least one unit)."""
    from boundaries.edit import is_connected
    from boundaries.service import PlanService

    svc = PlanService(store)
    _, state, _, _ = svc.state(plan)
    us = svc.unit_set()
    csr = us.graph.csr()
    ids = us.units["id"].to_numpy()
    lab = state.labels
    for a in range(len(state.communities)):
        members_a = set(np.flatnonzero(lab == a).tolist())
        for b in range(len(state.communities)):
            if a == b or state.communities["street_code"].iloc[a] != state.communities["street_code"].iloc[b]:
                continue
            members_b = set(np.flatnonzero(lab == b).tolist())
            if len(members_b) <= n + 1:
                continue
            chosen: list[int] = []
            for _ in range(n):
                frontier = sorted(
                    u
                    for u in members_b - set(chosen)
                    if set(csr.indices[csr.indptr[u] : csr.indptr[u + 1]].tolist()) & (members_a | set(chosen))
                )
                ok = [u for u in frontier if is_connected(us, np.array(sorted(members_b - set(chosen) - {u})))]
                if not ok:
                    break
                chosen.append(ok[0])
            if len(chosen) == n:
                bounds = us.units.geometry.iloc[chosen].total_bounds
                return (
                    str(state.communities["code"].iloc[a]),
                    str(state.communities["code"].iloc[b]),
                    [int(ids[u]) for u in chosen],
                    bounds,
                )
    raise AssertionError("no two neighbouring communities to paint between")


def _show(page, bounds):
    x0, y0, x1, y1 = (float(v) for v in bounds)
    page.evaluate(f"workbench.map.fitBounds([[{x0}, {y0}], [{x1}, {y1}]], {{padding: 220, duration: 0, maxZoom: 17}})")
    page.wait_for_function("workbench.map.loaded() && workbench.map.areTilesLoaded()", timeout=30_000)
    page.wait_for_timeout(300)


def _point(page, unit: int) -> dict:
    p = page.evaluate(f"workbench.panes.edit.screenPointOf({unit})")
    assert p is not None, f"unit {unit} is not drawn"
    box = page.locator("#map").bounding_box()
    return {"x": box["x"] + p["x"], "y": box["y"] + p["y"]}


def _wait_version(page, version: int):
    page.wait_for_function(
        f"workbench.panes.edit.plan.version === {version} && !workbench.panes.edit.busy", timeout=30_000
    )


def _select(page, code: str):
    page.evaluate(f"workbench.panes.edit.select({code!r})")


def _units_of(store, plan: int) -> dict[int, str | None]:
    from boundaries.service import PlanService

    _, _, _, _, frame = PlanService(store).units_table(plan)
    return dict(zip(frame["unit_id"].astype(int), frame["community_code"]))


def test_planner_paints_three_units_sees_figures_undoes_one(city, watched):
    store, url = city
    plan = _draft(store, "工作台绘制测试")
    a, b, units, bounds = _paintable(store, plan)
    w = watched()
    page = _open(w, url, _token(store, "planner"), plan)
    assert "规划人员" in page.inner_text("#role")
    assert page.locator("[data-tool=click]").is_enabled()
    assert page.evaluate("sessionStorage.getItem('geoWorkbenchToken')").startswith("gs_")
    assert page.evaluate("localStorage.length") == 0  # the token is kept in the session only
    _show(page, bounds)
    _select(page, a)
    before = page.evaluate(f"workbench.panes.edit.comms.get({a!r}).fig.households")
    # 1: click
    page.click("[data-tool=click]")
    p = _point(page, units[0])
    page.mouse.click(p["x"], p["y"])
    _wait_version(page, 2)
    assert page.locator("#figures table.fig tr[data-code]").count() == 2  # A and B
    assert a in page.inner_text("#figures") and b in page.inner_text("#figures")
    after = page.evaluate(f"workbench.panes.edit.comms.get({a!r}).fig.households")
    assert after > before
    # 2: brush (drag)
    page.click("[data-tool=brush]")
    p = _point(page, units[1])
    page.mouse.move(p["x"] - 2, p["y"])
    page.mouse.down()
    page.mouse.move(p["x"] + 2, p["y"], steps=3)
    page.mouse.up()
    _wait_version(page, 3)
    # 3: lasso around the third unit
    page.click("[data-tool=lasso]")
    p = _point(page, units[2])
    page.mouse.move(p["x"] - 5, p["y"] - 5)
    page.mouse.down()
    for dx, dy in ((5, -5), (5, 5), (-5, 5), (-5, -5)):
        page.mouse.move(p["x"] + dx, p["y"] + dy, steps=2)
    page.mouse.up()
    _wait_version(page, 4)
    got = _units_of(store, plan)
    assert [got[u] for u in units] == [a, a, a]
    timing = page.inner_text("#timing")
    assert "毫秒" in timing
    # undo the last one: a new server-side version with the lasso's unit back in B
    page.click("#undo")
    _wait_version(page, 5)
    got = _units_of(store, plan)
    assert [got[u] for u in units] == [a, a, b]
    assert page.locator("#redo").is_enabled()
    assert page.evaluate(f"workbench.panes.edit.assignment.get({units[2]})") == b
    versions = store.list_plan_versions(plan)
    assert [v["action"] for v in versions][-4:] == ["edit:move", "edit:move", "edit:move", "edit:restore"]
    w.check("workbench_paint")


def test_refused_edit_and_lock_say_why(city, watched):
    store, url = city
    plan = _draft(store, "工作台拒绝测试")
    a, b, units, bounds = _paintable(store, plan)
    w = watched()
    page = _open(w, url, _token(store, "planner"), plan)
    _show(page, bounds)
    _select(page, a)
    page.click("#selected #lock-btn")
    assert "已锁定" in page.inner_text("#selected")
    page.click("[data-tool=click]")
    p = _point(page, units[0])
    page.mouse.click(p["x"], p["y"])
    page.wait_for_function("document.querySelector('#msg').className.includes('error')", timeout=15_000)
    assert "已锁定" in page.inner_text("#msg")
    assert _units_of(store, plan)[units[0]] == b  # nothing written
    w.errors = [e for e in w.errors if "422" not in e]  # the refused request is logged by the browser
    w.check("workbench_locked")


def test_second_browser_edits_first_sees_the_conflict(city, watched):
    store, url = city
    plan = _draft(store, "工作台冲突测试")
    a, b, units, bounds = _paintable(store, plan)
    token = _token(store, "planner")
    w1, w2 = watched(), watched()
    p1 = _open(w1, url, token, plan)
    p2 = _open(w2, url, token, plan)
    for page in (p1, p2):
        _show(page, bounds)
        _select(page, a)
        page.click("[data-tool=click]")
    q = _point(p2, units[0])
    p2.mouse.click(q["x"], q["y"])  # the other user moves the first unit
    _wait_version(p2, 2)
    q = _point(p1, units[1])
    p1.mouse.click(q["x"], q["y"])  # made on version 1: 409, reload, re-applied on version 2
    _wait_version(p1, 3)
    msg = p1.inner_text("#msg")
    assert "其他用户修改" in msg and "1 个人口单元改变了社区" in msg and "重新应用" in msg, msg
    got = _units_of(store, plan)
    assert got[units[0]] == a and got[units[1]] == a
    assert p1.evaluate(f"workbench.panes.edit.assignment.get({units[0]})") == a  # the other user's change is shown
    w1.errors = [e for e in w1.errors if "409" not in e]
    w1.check("workbench_conflict")
    w2.check("workbench_conflict_other")


def test_one_street_draft_proposed_and_adopted_through_the_preview(city, watched):
    store, url = city
    from facilities.audit_service import current_audit

    street = sorted(store.read_layer("admin_areas", where={"level": "street"})["code"])[0]
    adopted = next(p for p in store.list_plans() if p["status"] == "adopted")
    n_city = store.count("communities", plan_id=adopted["id"])
    comm = store.read_layer("communities", plan_id=adopted["id"])
    n_street = int((comm["street_code"] == street).sum())
    w = watched()
    page = _open(w, url, _token(store, "planner"))
    page.click("#tab-propose")
    page.check(f"input[name=street][value='{street}']")
    page.fill("#p-name", "一街道草案")
    page.click("#p-run")
    page.wait_for_function("document.querySelector('#p-result').innerText.includes('已生成草案')", timeout=120_000)
    assert page.inner_text("#p-progress .stage").startswith("100%")
    draft = store.get_plan("一街道草案")
    page.wait_for_function(f"workbench.panes.edit.plan && workbench.panes.edit.plan.id === {draft['id']}")
    n_draft = store.count("communities", plan_id=draft["id"])
    page.click("#tab-adopt")
    page.click("#a-preview")
    page.wait_for_selector("#a-confirm")
    expected = n_city - n_street + n_draft
    assert page.inner_text("#a-after") == str(expected)
    text = page.inner_text("#a-out")
    assert "新增社区" in text and "撤销社区" in text and "调整人口单元" in text
    w.check("workbench_adopt_preview")
    page.fill("#a-by", "区民政局")
    page.click("#a-confirm")
    page.wait_for_selector("#a-done", timeout=60_000)
    now = next(p for p in store.list_plans() if p["status"] == "adopted")
    assert now["id"] == draft["id"]
    assert store.count("communities", plan_id=now["id"]) == expected
    run = current_audit(store)
    assert run["outputs"]["communities"] == expected  # the audit still counts every community of the city
    # the history is refreshed after the adoption: wait for the new state (the old table also has a 现行 row)
    page.wait_for_function("document.querySelector('#a-history').innerText.includes('已被替代')", timeout=30_000)
    page.wait_for_selector("#a-history td:has-text('现行')")
    history = page.inner_text("#a-history")
    assert "已被替代" in history and adopted["name"] in history  # the sample plan stays in the history
    w.check("workbench_adopted")


def test_facilities_user_uploads_a_file_with_a_bad_row(city, watched, tmp_path):
    store, url = city
    csv = tmp_path / "避难场所.csv"
    csv.write_text(
        "编号,名称,避难场所类别,容纳人数,经度,纬度\n"
        "W1,工作台测试广场,emergency,800,104.398,31.127\n"
        "W2,工作台测试公园,emergency,-5,104.399,31.128\n"
        "W3,工作台测试学校,emergency,600,104.400,31.129\n",
        encoding="utf-8",
    )
    token = _token(store, "facilities")
    before = snapshot(store)
    w = watched()
    page = _open(w, url, token)
    assert "设施管理人员" in page.inner_text("#role")
    assert not page.locator("[data-tool=click]").is_enabled()  # facilities staff do not edit plans
    page.click("#tab-upload")
    page.select_option("#u-layer", "shelters")
    page.set_input_files("#u-file", str(csv))
    page.wait_for_selector("#u-map select[data-field]")
    page.select_option("#u-crs", "EPSG:4326")
    page.click("#u-go")
    page.wait_for_selector("#u-table table", timeout=30_000)
    rows = page.locator("#u-table tbody tr").all_inner_texts()
    assert len(rows) >= 1 and all(r.split()[0] == "3" for r in rows), rows  # spreadsheet row 3: the bad one
    assert "未写入任何数据" in page.inner_text("#u-out")
    page.click("#u-xlsx")
    page.wait_for_selector("#u-download:not([hidden])")
    assert snapshot(store) == before  # nothing written
    w.errors = [e for e in w.errors if "422" not in e]
    w.check("workbench_upload_report")


def test_audit_table_filters_and_zooms(city, watched):
    store, url = city
    w = watched()
    page = _open(w, url, None)
    assert "只读" in page.inner_text("#role")
    page.click("#tab-results")
    page.select_option("#r-filter", "audit_units:unplaced")
    page.wait_for_function(
        "document.querySelector('#r-count').innerText.includes('有无法安置居民的单元')", timeout=60_000
    )
    n = page.locator("#r-table tbody tr").count()
    expected = page.evaluate(
        "fetch('/audit/units?limit=10000').then((r) => r.json())"
        ".then((j) => j.features.filter((f) => f.properties.emergency_unplaced > 0).length)"
    )
    assert n == expected > 0
    page.click("#r-table th[data-key=emergency_unplaced]")
    page.click("#r-table th[data-key=emergency_unplaced]")  # descending
    first = page.locator("#r-table tbody tr").first
    values = [int(v) for v in page.locator("#r-table tbody tr td:nth-child(4)").all_inner_texts()]
    assert values == sorted(values, reverse=True) and values[0] > 0
    first.click()
    assert page.evaluate("workbench.lastZoom.emergency_unplaced") == values[0]
    assert page.evaluate("workbench.map.getZoom()") > 13
    w.check("workbench_audit_table")


def test_redoc_renders_offline(city, watched):
    """/redoc: ReDoc from the service's own files (no CDN, no Google Fonts), every operation listed."""
    from geo_service.api.docs import REDOC_JS
    from maps.assets import STATIC_DIR

    if not (STATIC_DIR / REDOC_JS).is_file():
        pytest.skip(f"ReDoc not vendored yet ({REDOC_JS}): scripts/vendor_assets.py")
    _store, url = city
    w = watched()
    w.page.goto(f"{url}/redoc", wait_until="load")
    w.page.wait_for_selector("[data-section-id^='tag/'], [data-section-id^='operation/']", timeout=60_000)
    assert w.page.locator("[data-section-id^='operation/']").count() >= 30
    assert "社区治理空间规划与设施服务" in w.page.inner_text("h1")
    w.check("api_redoc")


def test_scenarios_panel_compares_with_the_baseline(city, watched):
    """情景: a stored scenario compared with 现状: the summary table and the units that gain coverage on the map."""
    from facilities.whatif.service import create_scenario

    store, url = city
    fac = store.read_layer("facilities")
    kg = fac[fac["category"] == "kindergarten"]
    units = store.read_layer("population_units")
    far = units.geometry.representative_point().iloc[int(units["residents"].to_numpy().argmax())]
    east = float(units.total_bounds[2])  # about 3 km east of the city's last unit
    changes = {
        "facilities": {
            "add": [{"category": "kindergarten", "name": "新园", "lon": far.x, "lat": far.y}],
            "close": [int(kg["id"].iloc[0])],
        },
        # out of reach of every unit: the comparison's notes say why it places nobody
        "shelters": {"add": [{"name": "远郊避难点", "capacity_persons": 500, "lon": east + 0.03, "lat": far.y}]},
        "cost_inputs": {"新园": 1_000_000},
    }
    name = f"浏览器情景{len(store.list_scenarios())}"
    create_scenario(store, name, changes, created_by="test")
    expected = store.get_scenario(name)["id"]
    w = watched()
    page = _open(w, url, None)
    page.click("#tab-scenarios")
    page.wait_for_function(f"document.querySelector('#whatif-b').value === '{expected}'", timeout=30_000)
    page.click("#whatif-run")  # not signed in, not yet compared: said so, nothing computed
    page.wait_for_selector("#msg.error", timeout=30_000)
    assert "比较失败" in page.inner_text("#msg") and "登录" in page.inner_text("#msg")
    assert w.errors and all("401" in e for e in w.errors), w.errors  # the browser logs the two refused requests
    w.errors.clear()
    page.fill("#token", _token(store, "planner"))
    page.click("#signin button[type=submit]")
    page.wait_for_function("window.workbench.user !== null", timeout=10_000)
    page.click("#whatif-run")
    page.wait_for_selector("#whatif-table", timeout=120_000)
    table = page.inner_text("#whatif-table")
    assert name in table and "1,000,000" in table
    answer = page.evaluate(f"fetch('/scenarios/compare?a=baseline&b={expected}').then((r) => r.json())")
    changed = page.evaluate("workbench.panes.scenarios.features")
    assert changed > 0 and f"{answer['newly_covered']:,}" in table
    assert "远郊避难点" in page.inner_text(".whatif-note") and "未安置任何人" in page.inner_text(".whatif-note")
    assert page.evaluate("workbench.map.getLayer('whatif-fill') !== undefined")
    w.check("workbench_scenarios")


def test_scenarios_panel_creates_a_scenario_from_a_changes_file(city, watched, tmp_path):
    """情景: a planner uploads a changes file; a wrong id is refused with the service's message and nothing is
    stored; a good file creates the scenario and selects it. Comparing a state with itself is refused."""
    store, url = city
    w = watched()
    page = _open(w, url, None)
    page.click("#tab-scenarios")
    page.wait_for_function("document.querySelectorAll('#whatif-a option').length > 0")
    assert page.locator("#whatif-new").is_hidden()  # readers cannot create
    page.fill("#token", _token(store, "planner"))
    page.click("#signin button[type=submit]")
    page.wait_for_function("window.workbench.user !== null", timeout=10_000)
    assert page.locator("#whatif-new").is_visible()
    n_before = len(store.list_scenarios())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"facilities": {"close": [987654321]}}), encoding="utf-8")
    page.fill("#whatif-name", "上传的情景")
    page.set_input_files("#whatif-file", str(bad))
    page.click("#whatif-new button[type=submit]")
    page.wait_for_function("document.querySelector('#whatif-new-out').innerText.includes('未能新建')")
    assert "987654321" in page.inner_text("#whatif-new-out") and len(store.list_scenarios()) == n_before
    assert w.errors and all("422" in e for e in w.errors), w.errors  # the browser logs the refused request
    w.errors.clear()
    good = tmp_path / "good.json"
    units = store.read_layer("population_units")
    c = units.geometry.union_all().centroid
    dev = {"developments": [{"name": "上传小区", "households": 500, "lon": c.x, "lat": c.y, "radius_m": 100}]}
    good.write_text(json.dumps(dev, ensure_ascii=False), encoding="utf-8")
    page.set_input_files("#whatif-file", str(good))
    page.click("#whatif-new button[type=submit]")
    page.wait_for_function("document.querySelector('#whatif-new-out').innerText.includes('已新建')")
    made = store.get_scenario("上传的情景")
    assert made["changes"]["developments"][0]["households"] == 500
    page.wait_for_function(f"document.querySelector('#whatif-b').value === '{made['id']}'")
    page.select_option("#whatif-a", str(made["id"]))
    page.click("#whatif-run")
    page.wait_for_selector("#msg.error")
    assert "两个不同的方案" in page.inner_text("#msg")
    w.check("workbench_scenario_upload")
