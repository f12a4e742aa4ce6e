"""Turn-by-turn steps in Chinese on every /nearest route: a small named graph, both back ends, and OSM names."""

from __future__ import annotations

import numpy as np
import pytest
from _profile_world import NODES, SHELTER, START, lonlat, store_world

from facilities.nearest import NearestService
from geo_service.core.network.directions import compass_zh, turn_maneuver

MANEUVERS = {
    "depart", "straight", "slight_left", "left", "sharp_left", "slight_right", "right", "sharp_right", "uturn",
    "arrive",
}  # fmt: skip


@pytest.fixture
def world(store):
    return store_world(store)


def test_turns_and_compass():
    assert [turn_maneuver(d) for d in (0, 10, -30, 30, 90, -90, 150, -150, 179, -175)] == [
        "straight", "straight", "slight_left", "slight_right", "right", "left", "sharp_right", "sharp_left",
        "uturn", "uturn",
    ]  # fmt: skip
    assert [compass_zh(b) for b in (0, 44, 90, 135, 180, 225, 270, 315, 359)] == [
        "北", "东北", "东", "东南", "南", "西南", "西", "西北", "北",
    ]  # fmt: skip


def _close(step, xy):
    lon, lat = lonlat(*xy)
    return step["lon"] == pytest.approx(lon, abs=2e-6) and step["lat"] == pytest.approx(lat, abs=2e-6)


def _check_contract(result):
    steps = result["route"]["steps"]
    assert steps[0]["maneuver"] == "depart" and steps[-1]["maneuver"] == "arrive"
    for s in steps:
        assert set(s) == {"maneuver", "instruction_zh", "road_name", "distance_m", "lon", "lat"}
        assert s["maneuver"] in MANEUVERS and isinstance(s["instruction_zh"], str) and s["distance_m"] >= 0
    # the steps add up to the walk
    assert sum(s["distance_m"] for s in steps) == pytest.approx(result["walk_m"], abs=0.05 * len(steps))
    return steps


def test_steps_over_the_steps_standard(store, world):
    res = NearestService(store).query(*lonlat(*START), "shelter", 1)["results"][0]
    steps = _check_contract(res)
    assert [s["instruction_zh"] for s in steps] == [
        "沿长江路向西步行 53 米",
        "向左急转进入台阶步道，步行 500 米",
        "左转进入黄河路，步行 10 米",
        "到达 测试避难场所",
    ]
    assert [s["maneuver"] for s in steps] == ["depart", "sharp_left", "left", "arrive"]
    assert [s["road_name"] for s in steps] == ["长江路", "台阶步道", "黄河路", None]
    assert _close(steps[0], START) and _close(steps[1], NODES[0]) and _close(steps[2], NODES[3])
    assert _close(steps[3], SHELTER) and steps[3]["distance_m"] == 0


def test_same_named_edges_merge_wheelchair(store, world):
    res = NearestService(store).query(*lonlat(*START), "shelter", 1, profile="wheelchair")["results"][0]
    steps = _check_contract(res)
    # 长江路 is two edges (P0-P1, P1-P2): one step
    assert [s["instruction_zh"] for s in steps] == [
        "沿长江路向东步行 353 米",
        "右转进入黄河路，步行 290 米",
        "到达 测试避难场所",
    ]
    assert _close(steps[1], NODES[2])


def test_steps_without_names(store):
    from _profile_world import frames

    f = frames(names=False)
    store.upsert_layer("shelters", f["shelters"])
    store.write_network("unnamed", "test", f["nodes"], f["edges"], metric_epsg=4544)
    res = NearestService(store).query(*lonlat(*START), "shelter", 1, profile="wheelchair")["results"][0]
    steps = _check_contract(res)
    assert [s["instruction_zh"] for s in steps] == ["向东步行 353 米", "右转，步行 290 米", "到达 测试避难场所"]
    assert all(s["road_name"] is None for s in steps)


def test_every_api_route_has_steps(client, world):
    lon, lat = lonlat(*START)
    body = client.get("/nearest", params={"lon": lon, "lat": lat, "k": 1}).json()
    for r in body["results"]:
        steps = _check_contract(r)
        assert steps[0]["lon"] == pytest.approx(lon, abs=1e-6)
        coords = np.array(r["route"]["coordinates"])
        assert np.allclose(coords[-1], [steps[-1]["lon"], steps[-1]["lat"]], atol=1e-6)
    assert client.get("/nearest", params={"lon": lon, "lat": lat, "route": False}).json()["results"][0]["route"] is None


_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <bounds minlat="31.1000" minlon="104.3900" maxlat="31.1100" maxlon="104.4100"/>
  <node id="1" lat="31.1050" lon="104.3950"/>
  <node id="2" lat="31.1050" lon="104.4000"/>
  <node id="3" lat="31.1050" lon="104.4050"/>
  <node id="4" lat="31.1020" lon="104.4000"/>
  <node id="5" lat="31.1035" lon="104.4000"><tag k="barrier" v="kerb"/><tag k="kerb" v="raised"/></node>
  <node id="6" lat="31.1020" lon="104.4050"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Changjiang Road"/><tag k="name:zh" v="长江路"/></way>
  <way id="11"><nd ref="2"/><nd ref="5"/><nd ref="4"/><tag k="highway" v="footway"/></way>
  <way id="12"><nd ref="4"/><nd ref="6"/><tag k="highway" v="steps"/></way>
  <way id="13"><nd ref="6"/><nd ref="3"/><tag k="highway" v="footway"/><tag k="kerb" v="lowered"/></way>
</osm>
"""


def test_osm_edges_carry_names_steps_and_kerbs(tmp_path):
    from geo_service.core.osm import read_osm

    path = tmp_path / "tiny.osm"
    path.write_text(_OSM, encoding="utf-8")
    e = read_osm(path).edges
    by_way = {int(w): g for w, g in e.groupby("osm_way_id")}
    assert set(by_way[10]["name"]) == {"长江路"} and len(by_way[10]) == 2  # name:zh first
    assert by_way[11]["kerb"].tolist() == ["raised"] and not by_way[11]["steps"].any()  # kerb node inside the way
    assert by_way[12]["steps"].all() and by_way[12]["kerb"].isna().all()
    assert by_way[13]["kerb"].tolist() == ["lowered"] and by_way[13]["name"].isna().all()
