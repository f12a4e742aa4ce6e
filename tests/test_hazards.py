"""Hazard zones, shelters inside them, the masked walking network and shelter scenarios (facilities/hazards.py,
facilities/scenario.py) on the hand-built grid of tests/_hazard_world.py, where every walk is known."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from facilities.hazards import blocked_edges, default_radius_m, hazard_zones, masked_network, shelters_in_hazards
from facilities.scenario import ScenarioParams, assignment_routes, compute_scenario
from geo_service.core._errors import InputError
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import load_norms
from tests import _hazard_world as W

NORMS = load_norms()


@pytest.fixture(scope="module")
def world():
    f = W.frames(cap_b=150)
    net = WalkNetwork.from_frames(f["nodes"], f["edges"])
    f["units"] = f["units"].assign(id=[1, 2, 3])
    f["shelters"] = f["shelters"].assign(id=[10, 11])
    f["hazards"] = W.hazards().assign(id=[5, 6, 7])
    return f, net


def scenario(world, hazard=(), close=()):
    f, net = world
    params = ScenarioParams.from_input(list(hazard), list(close))
    r = compute_scenario(f["units"], f["shelters"], f["hazards"], net, NORMS, params, communities=f["communities"])
    assignment_routes(r)
    return r


# ----------------------------------------------------------------------------- zones
def test_zones_use_the_default_radius_of_their_kind_or_their_own():
    z = hazard_zones(W.hazards().assign(id=[5, 6, 7]), NORMS)
    assert z.crs.to_epsg() == 4326
    assert z["hazard_id"].tolist() == [5, 6, 7]
    area = W.metric(z.geometry).area.to_numpy()
    r_geo = NORMS.entry("hazards.geohazard_default_radius_m").value
    assert default_radius_m("geohazard", NORMS) == r_geo
    assert default_radius_m("fault_zone", NORMS) == NORMS.entry("hazards.fault_zone_default_radius_m").value
    assert z["radius_m"].tolist() == [0.0, r_geo, 50.0]
    assert area[0] == pytest.approx(20 * 100, rel=1e-3)  # the flood polygon as drawn
    assert area[1] == pytest.approx(np.pi * r_geo**2, rel=5e-3)  # point buffered by the norm's radius
    assert area[2] == pytest.approx(800 * 100 + np.pi * 50**2, rel=5e-3)  # 800 m line, 50 m each side
    assert z["kind_zh"].tolist()[2] == "活动断裂带" and z["level_zh"].tolist() == ["中", "高", "低"]


def test_a_fault_line_without_radius_gets_the_fault_norm():
    h = W.hazards().iloc[[2]].assign(radius_m=[None])
    z = hazard_zones(h, NORMS)
    r = NORMS.entry("hazards.fault_zone_default_radius_m").value
    assert z["radius_m"].iloc[0] == r
    assert W.metric(z.geometry).area.iloc[0] == pytest.approx(800 * 2 * r + np.pi * r**2, rel=5e-3)


def test_empty_hazards_give_no_zones():
    assert len(hazard_zones(None, NORMS)) == 0
    assert len(hazard_zones(gpd.GeoDataFrame(geometry=[], crs=4326), NORMS)) == 0


def test_shelters_in_hazards_name_the_worst_level_first(world):
    f, _net = world
    z = hazard_zones(f["hazards"], NORMS)
    # a second, lower hazard over shelter A: the high one still comes first
    extra = f["hazards"].iloc[[1]].assign(id=[8], name=["西山低洼"], kind=["flood"], level=["low"], radius_m=[30.0])
    z2 = hazard_zones(gpd.GeoDataFrame(pd.concat([f["hazards"], extra]), crs=4326), NORMS)
    out = shelters_in_hazards(f["shelters"], z)
    assert out["in_hazard"].tolist() == [True, False]
    assert out.loc[0, "hazard_ids"] == "6" and out.loc[0, "hazard_level"] == "high"
    assert out.loc[0, "hazard_names"] == "西山滑坡点"
    assert "地质灾害隐患点" in out.loc[0, "hazard_zh"] and "高风险" in out.loc[0, "hazard_zh"]
    assert out.loc[1, "hazard_zh"] is None
    both = shelters_in_hazards(f["shelters"], z2)
    assert both.loc[0, "hazard_ids"] == "6,8" and both.loc[0, "hazard_kinds"] == "geohazard,flood"
    assert both.loc[0, "hazard_names"] == "西山滑坡点、西山低洼"


def test_masked_network_drops_exactly_the_edges_through_the_zone(world):
    f, net = world
    z = hazard_zones(f["hazards"].iloc[[0]], NORMS)  # flood box over the street y = 0 between x 40 and 60
    blocked = blocked_edges(net, z)
    assert blocked.sum() == 1
    e = int(np.flatnonzero(blocked)[0])
    mid = W.metric(net.to_wgs84(net.geometries_of([e]))).iloc[0].centroid
    assert (round(mid.x), round(mid.y)) == (50, 0)
    masked, removed = masked_network(net, z)
    assert np.array_equal(removed, blocked)
    assert masked.n_edges == net.n_edges - 1 and masked.n_nodes == net.n_nodes
    assert masked.version != net.version
    assert net.n_edges == 84  # the original is untouched
    # every kept edge keeps its geometry and length
    keep = np.flatnonzero(~blocked)
    assert np.allclose(masked.edge_length_m, net.edge_length_m[keep])
    for k in (0, 17, len(keep) - 1):
        assert np.allclose(masked.edge_coords_of(k), net.edge_coords_of(int(keep[k])))
    attrs = getattr(masked, "edge_attrs", None)  # steps, kerbs, names: one per kept edge
    if attrs is not None:
        assert len(attrs.steps) == len(attrs.name_idx) == masked.n_edges
    same, none = masked_network(net, hazard_zones(None, NORMS))
    assert same is net and not none.any()


# ----------------------------------------------------------------------------- scenarios
def test_no_scenario_is_the_plain_assignment(world):
    r = scenario(world)
    t = r.totals
    assert (t["placed_before"], t["unplaced_before"]) == (550, 50)  # B holds 150 of U2's 200
    assert t["placed_after"] == t["placed_before"] and t["edges_removed"] == 0
    assert r.units["unplaced_reason"].tolist() == [None, "步行范围内避难场所容量已满", None]
    assert r.shelters["load_before"].tolist() == [400, 150]
    assert W.metric(r.assignment.geometry).length.round(1).tolist() == [110.0, 110.0, 210.0]


def test_active_flood_makes_routes_detour_around_it(world):
    r = scenario(world, hazard=["F"])
    assert r.totals["edges_removed"] == 1 and r.totals["shelters_closed"] == 0
    assert r.totals["unplaced_after"] == 50
    assert r.assignment["walk_m"].tolist() == pytest.approx([310.0, 110.0, 410.0], abs=0.5)
    assert r.totals["mean_walk_after_m"] == pytest.approx((200 * 310 + 150 * 110 + 200 * 410) / 550, abs=0.5)
    zone = W.metric(r.zones.geometry).iloc[0]
    routes = W.metric(r.assignment.geometry)
    assert routes.length.round(1).tolist() == [310.0, 110.0, 410.0]
    assert not routes.intersects(zone).any()


def test_hazard_over_a_shelter_closes_it(world):
    r = scenario(world, hazard=["6"])  # by id: the landslide point on shelter A
    s = r.shelters.set_index("shelter_id")
    assert s.loc[10, "closed"] and not s.loc[11, "closed"]
    assert s.loc[10, "load_after"] == 0 and s.loc[10, "load_before"] == 400
    assert "西山滑坡点" in s.loc[10, "closed_reason"]
    assert r.totals["unplaced_after"] == 450 and r.totals["units_newly_unplaced"] == 2
    assert r.units["unplaced_reason"].tolist()[0] == "500 米步行范围内没有可用的避难场所"
    cm = r.communities.set_index("community_code")
    assert cm.loc["510603001001", "unplaced_after"] == 400 and cm.loc["510603001001", "change"] == 400
    assert cm.loc["510603001002", "change"] == 0
    assert r.communities["community_code"].iloc[0] == "510603001001"  # the worst change first


def test_closing_a_shelter_by_source_id_and_a_far_hazard(world):
    r = scenario(world, hazard=["L"], close=["A"])
    assert r.totals["shelters_named_closed"] == 1 and r.totals["shelters_in_active_zones"] == 0
    assert r.shelters["closed_reason"].tolist() == ["按情景关闭", None]
    assert r.totals["capacity_after"] == 150 and r.totals["unplaced_after"] == 450


def test_params_and_unknown_ids():
    p = ScenarioParams.from_input("F, 6，F", ["A", "B"])
    assert p.hazards == ("F", "6") and p.closed == ("A", "B")
    assert ScenarioParams.from_input(["6", "F"]).as_dict() == p.as_dict() | {"closed": []}
    for bad in ({"walk_limit_m": 0}, {"walk_limit_m": "x"}, {"day_night_factor": -1}):
        with pytest.raises(InputError) as e:
            ScenarioParams.from_input(**bad)
        assert any("\u4e00" <= c <= "\u9fff" for c in e.value.message_zh)


@pytest.mark.parametrize(("hazard", "close", "word"), [(["nope"], [], "灾害风险区"), ([], ["99"], "避难场所")])
def test_unknown_ids_are_named(world, hazard, close, word):
    with pytest.raises(InputError) as e:
        scenario(world, hazard=hazard, close=close)
    assert word in e.value.message_zh and (hazard or close)[0] in e.value.message_zh


def test_zone_geometry_is_valid_for_a_self_crossing_flood_polygon():
    bow = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # a bow tie
    h = gpd.GeoDataFrame(
        {"id": [1], "kind": ["flood"], "level": ["high"]},
        geometry=[shapely.affinity.translate(bow, W.X0, W.Y0)],
        crs=W.METRIC,
    ).to_crs(4326)
    z = hazard_zones(h, NORMS)
    assert z.geometry.is_valid.all() and W.metric(z.geometry).area.iloc[0] == pytest.approx(5000, rel=1e-2)
