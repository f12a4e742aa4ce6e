"""What-if scenarios (issue 17): storage on both back ends, checks of the changes, the read-only view, reuse equal
to a full recompute, comparisons, CLI and API over HTTP."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facilities.whatif import service as svc
from facilities.whatif.analyses import baseline, full_result, scenario_result
from facilities.whatif.changes import ScenarioChanges
from facilities.whatif.view import ScenarioReadOnly, ScenarioView
from geo_service.cli import app as cli_app
from geo_service.core._errors import ConflictError, InputError, NotComputedError, NotFoundError
from tests._tiny_world import point_lonlat, store_world
from tests.conftest import snapshot


def _kg_changes() -> dict:
    """A kindergarten added next to unit B (north of the river): B becomes covered."""
    lon, lat = point_lonlat(0, 110)
    return {
        "facilities": {"add": [{"category": "kindergarten", "name": "北岸幼儿园", "lon": lon, "lat": lat}]},
        "cost_inputs": {"北岸幼儿园": {"yuan": 3_000_000, "note": "租用"}},
    }


# ----------------------------------------------------------------------------- storage, both back ends
def test_scenarios_are_stored_changed_and_deleted_with_their_log(store):
    store_world(store)
    row = svc.create_scenario(store, "北岸新园", _kg_changes(), description="试点", created_by="u (planner)")
    assert store.get_scenario(row["id"])["name"] == "北岸新园"
    assert store.get_scenario("北岸新园")["changes"]["facilities"]["add"][0]["category"] == "kindergarten"
    with pytest.raises(ConflictError):
        svc.create_scenario(store, "北岸新园", {}, created_by="u")
    changed = svc.update_scenario(store, row["id"], name="北岸新园2", description="改", actor="u")
    assert changed["name"] == "北岸新园2" and changed["updated_at"] >= row["updated_at"]
    assert [s["name"] for s in store.list_scenarios()] == ["北岸新园2"]
    store.delete_scenario("北岸新园2", actor="u")
    assert store.list_scenarios() == []
    with pytest.raises(NotFoundError):
        store.get_scenario(row["id"])
    actions = [c["action"] for c in store.list_changes(target_type="scenario")[0]]
    assert actions == ["scenario_delete", "scenario_update", "scenario_create"]


def test_bad_changes_are_refused_naming_the_ids_and_nothing_is_written(store):
    store_world(store)
    before = snapshot(store)
    bad = {
        "facilities": {"close": [999, "nope"], "add": [{"category": "spaceport", "lon": 104.4, "lat": 31.1}]},
        "shelters": {"move": [{"id": "H", "lon": 200, "lat": 31.1}]},
        "plan": "没有的方案",
        "norms": {"service_radius_m.kindergarten": 500, "no_such.norm": 1},
    }
    with pytest.raises(InputError) as exc:
        svc.create_scenario(store, "坏方案", bad)
    msg = exc.value.message_zh
    assert "spaceport" in msg and "超出范围" in msg  # checked on its own first
    bad2 = {"facilities": {"close": [999, "nope"]}, "plan": "没有的方案", "norms": {"no_such.norm": 1}}
    with pytest.raises(InputError) as exc:
        svc.create_scenario(store, "坏方案", bad2)
    msg = exc.value.message_zh
    assert "999" in msg and "nope" in msg and "没有的方案" in msg and "no_such.norm" in msg
    with pytest.raises(InputError, match="households"):
        ScenarioChanges.from_input({"developments": [{"name": "x", "lon": 104.4, "lat": 31.1, "radius_m": 100}]})
    far = {"facilities": {"add": [{"category": "kindergarten", "lon": 120.0, "lat": 40.0}]}}
    with pytest.raises(InputError, match="far|公里"):
        svc.create_scenario(store, "远方", far)
    assert snapshot(store) == before


# ----------------------------------------------------------------------------- the view
def test_view_applies_changes_refuses_writes_and_fingerprints_only_touched_layers(store):
    f = store_world(store)
    lon, lat = point_lonlat(500, 50)
    data = {
        **_kg_changes(),
        "shelters": {"close": ["H"]},
        "developments": [{"name": "新城", "households": 100, "lon": lon, "lat": lat, "radius_m": 30}],
        "norms": {"service_radius_m.kindergarten": 400},
    }
    view = ScenarioView(store, svc.check_changes(store, data), name="s")
    units = view.read_layer("population_units")
    assert len(units) == len(f["units"]) + 1
    new = units[units["name"] == "新城"].iloc[0]
    pph = store.norms.population.persons_per_household
    assert new["households"] == 100 and new["residents"] == round(100 * pph) and new["id"] < 0
    assert len(view.read_layer("shelters")) == 0
    assert len(view.read_layer("facilities", where={"category": "kindergarten"})) == 2
    assert view.norms.service_radius_m("kindergarten") == 400 and store.norms.service_radius_m("kindergarten") != 400
    revs, base = view.layer_revisions(), store.layer_revisions()
    touched = {k for k in revs if revs[k] != base.get(k, 0)}
    assert touched == {"facilities", "shelters", "population_units", "developments"}
    assert all(revs[k] < 0 for k in touched)
    assert view.list_analyses() == []
    for write in ("upsert_layer", "save_analysis", "transaction", "create_scenario"):
        with pytest.raises(ScenarioReadOnly):
            getattr(view, write)
    assert len(store.read_layer("population_units")) == len(f["units"])  # the layers stay untouched


def test_reuse_equals_a_full_recompute_and_is_partial(store):
    store_world(store)
    view = ScenarioView(store, svc.check_changes(store, _kg_changes()), name="s")
    reused = scenario_result(view)
    full = full_result(view)
    assert reused.how["coverage"] == "partial: kindergarten" and reused.how["shelters"] == "baseline"
    _same_coverage(reused, full)
    assert reused.shelters.totals == full.shelters.totals
    # unit B (north of the river) gains the kindergarten; nobody loses it
    cmp_ = svc.compare_results(baseline(store), reused)
    kg = next(c for c in cmp_.summary["categories"] if c["category"] == "kindergarten")
    units = store.read_layer("population_units").set_index("source_id")
    assert kg["newly_covered"] == units.loc["B", "residents"] and kg["newly_uncovered"] == 0
    assert cmp_.summary["cost_total_yuan_b"] == 3_000_000
    b_id = int(units.loc["B", "id"])
    row = cmp_.units.set_index("unit_id").loc[b_id]
    assert row["change"] == "gained" and "幼儿园" in row["gained"]


def test_a_comparison_is_stored_once_and_read_back_as_computed(store):
    from facilities.whatif.runs import KIND
    from facilities.whatif.service import current_comparison

    store_world(store)
    svc.create_scenario(store, "北岸", _kg_changes())
    computed = svc.compare(store, "baseline", "北岸")
    run, stored = current_comparison(store, "baseline", "北岸")
    assert stored.summary == json.loads(json.dumps(computed.summary, default=float))
    for name, frame in computed.layers().items():
        got = stored.layers()[name]
        assert list(got.columns) == list(frame.columns), name
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")),
            pd.DataFrame(frame.drop(columns="geometry")).reset_index(drop=True),
            check_index_type=False,
        )
        assert got.geometry.geom_equals_exact(frame.geometry.reset_index(drop=True), 1e-9).all(), name
    # read, not computed again, until the scenario or the data change
    again, _ = current_comparison(store, "baseline", "北岸", allow_compute=False)
    assert again["id"] == run["id"] and len(store.list_analyses(KIND)) == 1
    svc.update_scenario(store, "北岸", description="只改说明")  # the description is not part of the comparison
    assert current_comparison(store, "baseline", "北岸", allow_compute=False)[0]["id"] == run["id"]
    svc.update_scenario(store, "北岸", name="北岸二")
    with pytest.raises(NotComputedError):
        current_comparison(store, "baseline", "北岸二", allow_compute=False)
    units = store.read_layer("population_units")
    store.upsert_layer("population_units", units.iloc[:1].assign(residents=units["residents"].iloc[0] + 1))
    renamed, _ = current_comparison(store, "baseline", "北岸二")
    assert renamed["id"] != run["id"] and len(store.list_analyses(KIND)) == 2
    # a batch stores its comparisons: then read without computing
    svc.run_batch(store, ["北岸二"])
    assert current_comparison(store, "baseline", "北岸二", allow_compute=False)[0]["id"] > renamed["id"]


def _same_coverage(a, b):
    ua, ub = a.coverage.units, b.coverage.units
    assert sorted(ua.columns) == sorted(ub.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(ua.drop(columns="geometry"))[sorted(ua.columns.drop("geometry"))].astype(str),
        pd.DataFrame(ub.drop(columns="geometry"))[sorted(ub.columns.drop("geometry"))].astype(str),
    )
    assert set(a.access) == set(b.access)
    for k in a.access:
        np.testing.assert_array_equal(a.access[k], b.access[k])
    sa, sb = a.coverage.summary(), b.coverage.summary()
    sa["warnings"], sb["warnings"] = sorted(sa["warnings"]), sorted(sb["warnings"])
    assert sa == sb


def test_moving_and_closing_the_shelter_changes_who_is_placed(store):
    store_world(store)
    units = store.read_layer("population_units").set_index("source_id")
    lon, lat = point_lonlat(280, -10)  # next to unit A (H is beyond the walking limit of every unit)
    moved = ScenarioView(store, svc.check_changes(store, {"shelters": {"move": [{"id": "H", "lon": lon, "lat": lat}]}}))
    res = scenario_result(moved)
    assert res.how["coverage"] == "baseline" and res.how["shelters"] == "full" and res.how["audit"] == "full"
    base = baseline(store)
    assert (
        base.shelters.totals["unplaced_before"] - res.shelters.totals["unplaced_before"] == units.loc["A", "residents"]
    )
    cmp_ = svc.compare_results(base, res)
    assert cmp_.summary["unplaced_change"] == -units.loc["A", "residents"]
    assert cmp_.shelters["load_change"].tolist() == [units.loc["A", "residents"]]
    closed = scenario_result(ScenarioView(store, svc.check_changes(store, {"shelters": {"close": ["H"]}})))
    assert closed.shelters.totals["unplaced_before"] == closed.shelters.totals["demand"]
    assert svc.compare_results(res, closed).shelters["in_b"].tolist() == [False]


def test_a_new_shelter_out_of_reach_is_named_in_the_notes_of_every_view(store):
    from facilities.whatif.report import summary_rows
    from maps.scenarios import _changed_shelters, _summary_html, comparison_page

    store_world(store)
    lon, lat = point_lonlat(3000, 2500)  # far from every unit and off the network
    add = {"shelters": {"add": [{"name": "远处广场", "capacity_persons": 800, "lon": lon, "lat": lat}]}}
    res = scenario_result(ScenarioView(store, svc.check_changes(store, add), name="远处"))
    cmp_ = svc.compare_results(baseline(store), res)
    note = (
        "避难场所「远处广场」在「远处」中未安置任何人（「现状」中没有它）：其步行范围内没有人口单元，或离步行网络过远。"
    )
    assert note in cmp_.summary["notes"] and cmp_.summary["unplaced_change"] == 0
    rows = summary_rows(cmp_.summary)
    assert rows[rows["item"] == "注"]["b"].tolist()[-1] == note
    assert "远处广场" in _summary_html(cmp_.summary)
    # and it is on the map, grey, marked as new in this scenario
    shown = _changed_shelters(cmp_.shelters, cmp_.summary)
    assert shown.loc[shown["name"] == "远处广场", "state_zh"].tolist() == ["仅「远处」有（新增）"]
    assert "远处广场" in comparison_page(store, cmp_.summary, cmp_.layers(), inline=False)
    # a shelter that places someone in neither state is not a change: no note
    assert not any("桥头广场" in n for n in cmp_.summary["notes"])
    # the moved shelter: placing nobody before, the baseline's side is named
    lon, lat = point_lonlat(280, -10)
    moved = scenario_result(
        ScenarioView(
            store, svc.check_changes(store, {"shelters": {"move": [{"id": "H", "lon": lon, "lat": lat}]}}), name="移"
        )
    )
    notes = svc.compare_results(baseline(store), moved).summary["notes"]
    assert any(n.startswith("避难场所「桥头广场」在「现状」中未安置任何人（「移」中安置 ") for n in notes)


# ----------------------------------------------------------------------------- the sample city
@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    from tests.conftest import sample_city_store

    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("whatif_city"))
    yield store
    store.dispose()


def _city_changes(store, *, development: bool) -> dict:
    fac = store.read_layer("facilities")
    units = store.read_layer("population_units")
    kg = fac[fac["category"] == "kindergarten"]
    # put the new kindergarten at the unit with the most residents that lacks one (from the data, not pinned)
    cov = baseline(store).coverage.units
    lacking = cov[~cov["kindergarten_covered"].astype(bool)].sort_values("residents", ascending=False)
    target = units.set_index("id").loc[int(lacking["unit_id"].iloc[0])].geometry.representative_point()
    out = {
        "facilities": {
            "add": [{"category": "kindergarten", "name": "新幼儿园", "lon": target.x, "lat": target.y}],
            "close": [int(kg["id"].iloc[0])],
        },
        "norms": {"service_radius_m.nursery": 350},
    }
    if development:
        c = units.geometry.union_all().centroid
        out["developments"] = [{"name": "新城", "households": 3000, "lon": c.x, "lat": c.y, "radius_m": 150}]
    return out


def test_city_partial_reuse_equals_full_recompute(city):
    view = ScenarioView(city, svc.check_changes(city, _city_changes(city, development=False)), name="s")
    reused, full = scenario_result(view), full_result(view)
    assert reused.how["coverage"].startswith("partial:")
    assert set(reused.how["coverage"].removeprefix("partial: ").split(",")) == {"kindergarten", "nursery"}
    _same_coverage(reused, full)
    # both audits are full runs on the same view (the gap plan's solver times differ between runs)
    assert reused.audit.totals["service_floor_gap_m2"] == full.audit.totals["service_floor_gap_m2"]
    pd.testing.assert_frame_equal(reused.audit.communities, full.audit.communities)
    summary = svc.compare_results(baseline(city), reused).summary
    kg = next(c for c in summary["categories"] if c["category"] == "kindergarten")
    assert kg["newly_covered"] > 0


def test_city_batch_cli_and_files(city, tmp_path):
    url = city.url.render_as_string(hide_password=False)
    (tmp_path / "a.json").write_text(json.dumps(_city_changes(city, development=True)), encoding="utf-8")
    r = CliRunner().invoke(
        cli_app, ["scenario", "create", "--name", "新城", "--changes", str(tmp_path / "a.json"), "--database-url", url]
    )
    assert r.exit_code == 0, r.output
    (tmp_path / "b.json").write_text(json.dumps({"facilities": {"close": ["nope"]}}), encoding="utf-8")
    r = CliRunner().invoke(
        cli_app, ["scenario", "create", "--name", "坏", "--changes", str(tmp_path / "b.json"), "--database-url", url]
    )
    assert r.exit_code != 0 and "nope" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli_app, ["scenario", "list", "--database-url", url])
    assert "新城" in r.output and "坏" not in r.output
    res = svc.run_batch(city, ["新城"], out_dir=tmp_path / "out")
    item = res["scenarios"][0]
    assert item["residents_b"] - item["residents_a"] == round(3000 * city.norms.population.persons_per_household)
    assert (tmp_path / "out" / "新城.xlsx").exists()
    for suffix in ("xlsx", "geojson", "html"):
        out = tmp_path / f"cmp.{suffix}"
        r = CliRunner().invoke(
            cli_app, ["scenario", "compare", "baseline", "新城", "--out", str(out), "--database-url", url]
        )
        assert r.exit_code == 0, r.output
        assert out.stat().st_size > 1000
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "cmp.xlsx")
    assert {"汇总", "覆盖变化（按类别）", "人口单元", "社区", "避难场所", "费用"} <= set(wb.sheetnames)
    assert wb["覆盖变化（按类别）"]["E1"].value == "新增覆盖人口（人）"
    gj = json.loads((tmp_path / "cmp.geojson").read_text(encoding="utf-8"))
    assert gj["b"] == "新城" and any(f["properties"]["change"] == "gained" for f in gj["features"])
    html = (tmp_path / "cmp.html").read_text(encoding="utf-8")
    from maps import assets

    assert "情景方案比较" in html and "whatif_units" in html and not assets.external_references(html)


# ----------------------------------------------------------------------------- API over HTTP
def test_api_crud_compare_and_roles(store, client, anon_client):
    from tests._auth import token_headers

    store_world(store)
    r = anon_client.post("/scenarios", json={"name": "x", "changes": {}})
    assert r.status_code == 401
    viewer = token_headers(store, "planner", "p1")
    r = client.post("/scenarios", json={"name": "北岸", "changes": _kg_changes()}, headers=viewer)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.post("/scenarios", json={"name": "坏", "changes": {"facilities": {"close": [4242]}}})
    assert r.status_code == 422 and "4242" in r.json()["message_zh"]
    assert [s["name"] for s in anon_client.get("/scenarios").json()] == ["北岸"]
    assert anon_client.get(f"/scenarios/{sid}").json()["changes"]["cost_inputs"]["北岸幼儿园"]["yuan"] == 3_000_000
    # an analysis not yet stored: 401 without a token; a signed-in caller computes and stores it for everyone
    r = anon_client.get("/scenarios/北岸/coverage")
    assert r.status_code == 401 and "尚未计算" in r.json()["message_zh"]
    cov = client.get("/scenarios/北岸/coverage", headers=viewer).json()
    assert cov["how"] == "partial: kindergarten" and cov["coverage"]["categories"]
    assert anon_client.get("/scenarios/北岸/coverage").json() == cov
    assert client.get(f"/scenarios/{sid}/shelters").json()["shelters"]["demand"] > 0
    assert anon_client.get(f"/scenarios/{sid}/shelters").json()["shelters"]["demand"] > 0
    assert anon_client.get("/scenarios/nope/audit").status_code == 404
    # not yet compared: a resident's browser starts no computation; a signed-in caller does, and it is stored
    r = anon_client.get("/scenarios/compare", params={"a": "baseline", "b": sid})
    assert r.status_code == 401 and "尚未计算" in r.json()["message_zh"]
    assert client.get("/scenarios/compare", params={"a": "baseline", "b": sid}).status_code == 200
    s = anon_client.get("/scenarios/compare", params={"a": "baseline", "b": sid}).json()
    kg = next(c for c in s["categories"] if c["category"] == "kindergarten")
    assert kg["newly_covered"] == 200 and s["cost_total_yuan_b"] == 3_000_000
    gj = anon_client.get("/scenarios/compare.geojson", params={"a": "baseline", "b": sid, "layer": "units"}).json()
    assert {f["properties"]["change"] for f in gj["features"]} == {"gained", "same"}
    x = anon_client.get("/scenarios/compare.xlsx", params={"a": "baseline", "b": "北岸"})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert anon_client.get("/scenarios/compare", params={"a": "baseline", "b": "nope"}).status_code == 404
    r = client.patch(f"/scenarios/{sid}", json={"description": "改"})
    assert r.status_code == 200 and r.json()["description"] == "改"
    # other changes: the stored analysis is stale, a resident sees 401 again until a planner reruns it
    r = client.patch(f"/scenarios/{sid}", json={"changes": {**_kg_changes(), "cost_inputs": {}}})
    assert r.status_code == 200, r.text
    assert anon_client.get(f"/scenarios/{sid}/coverage").status_code == 401
    r = client.post("/scenarios/batch", json={"scenarios": [sid]})
    assert r.status_code == 202
    job = _wait_job(client, r.json()["id"])
    assert job["status"] == "done", job
    assert job["result"]["scenarios"][0]["scenario"] == "北岸"
    assert anon_client.delete(f"/scenarios/{sid}").status_code == 401
    assert client.delete(f"/scenarios/{sid}").status_code == 204
    assert client.get(f"/scenarios/{sid}").status_code == 404


def _wait_job(client, jid: int, timeout: float = 60.0) -> dict:
    import time

    t0 = time.time()
    while time.time() - t0 < timeout:
        job = client.get(f"/jobs/{jid}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("job did not finish")
