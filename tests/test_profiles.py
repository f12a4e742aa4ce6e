"""Walking profiles (standard, elderly, wheelchair): closures, speeds, Tobler slopes, elevation import."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from _profile_world import METRIC, NODES, SHELTER, START, X0, Y0, frames, lonlat, store_world
from typer.testing import CliRunner

from facilities.coverage import CoverageParams
from facilities.nearest import NearestService
from geo_service.cli import app as cli
from geo_service.core._errors import InputError
from geo_service.core.network import KNearestLabels, WalkNetwork, WalkProfile, load_network
from geo_service.core.network.profiles import SlopeModel, edge_costs
from geo_service.core.norms import load_norms

NORMS = load_norms()


def _net(**kw) -> WalkNetwork:
    f = frames(**kw)
    return WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=METRIC)


def _nearest(net: WalkNetwork, profile: str) -> tuple[float, WalkNetwork]:
    """Cost (m at the standard speed) from START to the shelter for a profile, and the view walked."""
    view = net.for_profile(WalkProfile.from_input(profile, NORMS))
    src = view.snap_xy(np.array([[X0 + SHELTER[0], Y0 + SHELTER[1]]]))
    pt = view.snap_xy(np.array([[X0 + START[0], Y0 + START[1]]]))
    if not pt.reachable[0]:
        return math.inf, view
    labels = KNearestLabels.build(view, src, k_max=1, radius_m=5000)
    s, d, _via = labels.query(pt, 1)
    return (float(d[0]) if len(s) else math.inf), view


def test_profiles_from_the_norms_and_unknown_profile():
    std = WalkProfile.from_input(None, NORMS)
    assert std.name == "standard" and std.speed_mps == NORMS.entry("mobility.walking_speed_mps").value
    eld = WalkProfile.from_input("老年人", NORMS)
    assert eld.name == "elderly" and eld.speed_mps == NORMS.entry("mobility.elderly_walking_speed_mps").value
    wc = WalkProfile.from_input("wheelchair", NORMS)
    assert wc.closes_steps and "raised" in wc.blocking_kerbs
    assert wc.max_slope == NORMS.entry("mobility.wheelchair_max_slope").value
    with pytest.raises(InputError) as e:
        WalkProfile.from_input("bicycle", NORMS)
    assert "未知的出行方式" in e.value.message_zh and "wheelchair" in e.value.message_zh


def test_standard_is_the_network_itself_and_wheelchair_avoids_steps_and_kerbs():
    net = _net()
    assert net.for_profile(WalkProfile.from_input("standard", NORMS)) is net
    d_std, _ = _nearest(net, "standard")
    assert d_std == pytest.approx(3 + 50 + 500 + 10, abs=1e-6)  # over the steps
    d_wc, view = _nearest(net, "wheelchair")
    scale = NORMS.entry("mobility.walking_speed_mps").value / NORMS.entry("mobility.wheelchair_speed_mps").value
    assert d_wc == pytest.approx((3 + 150 + 200 + 290) * scale, abs=1e-6)  # neither steps nor the raised kerb
    names = set(view.edge_names(range(view.n_edges)))
    assert "台阶步道" not in names and None not in names and view.n_edges == net.n_edges - 2
    assert view.for_profile is not None and net.for_profile(WalkProfile.from_input("wheelchair", NORMS)) is view


def test_elderly_times_are_exactly_speed_scaled():
    net = _net()
    d_std, _ = _nearest(net, "standard")
    d_eld, view = _nearest(net, "elderly")
    ratio = NORMS.entry("mobility.walking_speed_mps").value / NORMS.entry("mobility.elderly_walking_speed_mps").value
    assert d_eld == pytest.approx(d_std * ratio, rel=1e-12)
    assert view.n_edges == net.n_edges and view.tree is net.tree  # same edges (and snapping index), slower
    np.testing.assert_allclose(view.edge_length_m, view.real_length_m * ratio, rtol=1e-12)


def test_tobler_on_a_known_slope():
    f = frames()
    f["nodes"]["elevation_m"] = [0.0, 0.0, 0.0, 0.0, 0.0]
    # P1 raised 20 m: 长江路 P0-P1 and P1-P2 (200 m each) climb and fall at 10 %
    f["nodes"].loc[1, "elevation_m"] = 20.0
    net = WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=METRIC)
    sm = NORMS.entry("mobility.slope_speed")
    a, o = sm.exponent, sm.offset

    def tobler_kmh(s):  # Tobler's hiking function as published, km/h
        return sm.flat_speed_kmh * math.exp(-a * abs(s + o))

    flat = tobler_kmh(0.0)
    expected = 0.5 * (flat / tobler_kmh(0.1) + flat / tobler_kmh(-0.1))  # mean of uphill and downhill time factors
    assert SlopeModel(a, o).time_factor(np.array([0.1]))[0] == pytest.approx(expected, rel=1e-12)
    std = WalkProfile.from_input("standard", NORMS)
    open_, cost = edge_costs(net, std)
    e01 = next(i for i in range(net.n_edges) if {net.node_ids[net.edge_u[i]], net.node_ids[net.edge_v[i]]} == {0, 1})
    assert open_.all() and cost[e01] == pytest.approx(200.0 * expected, rel=1e-9)
    flat_edges = [i for i in range(net.n_edges) if 1 not in {net.node_ids[net.edge_u[i]], net.node_ids[net.edge_v[i]]}]
    np.testing.assert_allclose(cost[flat_edges], net.edge_length_m[flat_edges], rtol=1e-12)
    # 10 % is steeper than the wheelchair's 1:12: 长江路 closes, and with the steps and kerb closed nothing is left
    wc_open, _ = edge_costs(net, WalkProfile.from_input("wheelchair", NORMS))
    assert not wc_open[e01]
    d_wc, _ = _nearest(net, "wheelchair")
    assert d_wc == math.inf


# ----------------------------------------------------------------------------- store, service, API, CLI


@pytest.fixture
def world(store):
    return store_world(store)


def test_nearest_service_profiles(store, world):
    svc = NearestService(store)
    lon, lat = lonlat(*START)
    std = svc.query(lon, lat, "shelter", 1)
    eld = svc.query(lon, lat, "shelter", 1, profile="elderly")
    wc = svc.query(lon, lat, "shelter", 1, profile="wheelchair")
    assert std["query"]["profile"] == "standard" and wc["query"]["profile_zh"] == "轮椅"
    assert std["results"][0]["walk_m"] == pytest.approx(563.0, abs=0.1)
    assert eld["results"][0]["walk_m"] == pytest.approx(563.0, abs=0.1)
    assert eld["results"][0]["walk_min"] == pytest.approx(563.0 / eld["walking_speed_mps"] / 60, abs=0.06)
    assert wc["results"][0]["walk_m"] == pytest.approx(643.0, abs=0.1)
    assert wc["results"][0]["walk_min"] == pytest.approx(643.0 / wc["walking_speed_mps"] / 60, abs=0.06)
    # answered from memory from now on (the HTTP route then stays on the event loop)
    assert svc.ready("shelter", "wheelchair") and svc.ready("shelter", "轮椅") and svc.ready("shelter", None)
    assert not svc.ready("shelter", "bicycle") and not svc.ready("kindergarten", "elderly")
    names = [s["road_name"] for s in wc["results"][0]["route"]["steps"]]
    assert "台阶步道" not in names and "台阶步道" in [s["road_name"] for s in std["results"][0]["route"]["steps"]]


def test_nearest_api_profile_and_bad_input(client, world):
    lon, lat = lonlat(*START)
    r = client.get("/nearest", params={"lon": lon, "lat": lat, "profile": "wheelchair", "k": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["profile"] == "wheelchair" and body["results"][0]["walk_m"] == pytest.approx(643.0, abs=0.1)
    assert body["results"][0]["route"]["steps"][-1]["maneuver"] == "arrive"
    r = client.get("/nearest", params={"lon": lon, "lat": lat, "profile": "bicycle"})
    assert r.status_code in (400, 422) and "未知的出行方式" in r.json()["message_zh"]
    # the standard answer is the one without a profile
    plain = client.get("/nearest", params={"lon": lon, "lat": lat}).json()
    std = client.get("/nearest", params={"lon": lon, "lat": lat, "profile": "standard"}).json()
    assert plain["results"] == std["results"] and plain["results"][0]["walk_m"] == pytest.approx(563.0, abs=0.1)


def test_coverage_profile_params():
    assert CoverageParams.from_input(profile="轮椅").profile == "wheelchair"
    assert "profile" not in CoverageParams.from_input().as_dict()  # stored standard runs stay valid
    assert CoverageParams.from_input(profile="elderly").as_dict()["profile"] == "elderly"
    with pytest.raises(InputError, match="profile"):
        CoverageParams.from_input(profile="car")
    with pytest.raises(InputError) as e:
        CoverageParams.from_input(walking_speed_mps=1.2, profile="elderly")
    assert "不能同时指定" in e.value.message_zh


def test_coverage_api_rejects_unknown_profile(client, world):
    r = client.get("/coverage/summary", params={"profile": "car"})
    assert r.status_code in (400, 422) and "未知的出行方式" in r.json()["message_zh"]


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


def test_cli_nearest_profile(store, world):
    lon, lat = lonlat(*START)
    r = CliRunner().invoke(
        cli, ["nearest", str(lon), str(lat), "--profile", "wheelchair", "--k", "1", "--database-url", _url(store)]
    )
    assert r.exit_code == 0, r.output
    assert "轮椅" in r.output and "643 米" in r.output and "右转进入黄河路" in r.output
    r = CliRunner().invoke(cli, ["nearest", str(lon), str(lat), "--profile", "bike", "--database-url", _url(store)])
    assert r.exit_code != 0 and "未知的出行方式" in r.output


# ----------------------------------------------------------------------------- elevation raster

_GEOTIFF = """
import sys, numpy as np, rasterio
from rasterio.transform import from_origin
path, x0, y0, size, n, crs, slope = sys.argv[1:]
n, size, x0, y0, slope = int(n), float(size), float(x0), float(y0), float(slope)
xc = x0 + (np.arange(n) + 0.5) * size
arr = np.broadcast_to(100.0 + slope * (xc - x0), (n, n)).astype("float32")
profile = dict(driver="GTiff", width=n, height=n, count=1, dtype="float32", transform=from_origin(x0, y0, size, size))
if crs != "none":
    profile["crs"] = crs
with rasterio.open(path, "w", **profile) as dst:
    dst.write(arr, 1)
"""


def _dem(path, *, x0=X0 - 200, y0=Y0 + 200, size=10.0, n=100, crs="EPSG:4544", slope=0.1) -> str:
    """A plane rising ``slope`` per metre eastward from 100 m at ``x0``, written by rasterio in its own process."""
    args = [str(a) for a in (path, x0, y0, size, n, crs, slope)]
    subprocess.run([sys.executable, "-c", _GEOTIFF, *args], check=True)
    return str(path)


def test_import_elevation_and_slopes(store, world, tmp_path):
    from geo_service.core.elevation import import_elevation

    dem = _dem(tmp_path / "dem.tif")
    res = import_elevation(store, dem)
    assert res.sampled == res.nodes == len(NODES) and "高程" in res.message_zh()
    nodes = store.read_layer("network_nodes").sort_values("node_idx")
    expected = [100.0 + 0.1 * (x + 200) for x, _ in NODES.values()]
    np.testing.assert_allclose(nodes["elevation_m"].to_numpy(dtype=float), expected, atol=1e-3)
    net = load_network(store)
    assert net.edge_attrs is not None and net.edge_attrs.has_elevation()
    svc = NearestService(store)
    lon, lat = lonlat(*START)
    with pytest.raises(InputError) as e:  # 长江路 and 淮河路 climb 10 %: only 黄河路 (350 m away) is left
        svc.query(lon, lat, "shelter", 1, profile="wheelchair")
    assert "轮椅可通行的道路" in e.value.message_zh
    wc = svc.query(*lonlat(400, -100), "shelter", 1, profile="wheelchair")  # on 黄河路: flat, open
    assert wc["results"][0]["walk_m"] == pytest.approx(190.0, abs=0.1)
    std = svc.query(lon, lat, "shelter", 1)
    assert std["results"][0]["walk_m"] == pytest.approx(563.0, abs=0.1)
    assert std["results"][0]["walk_min"] > 563.0 / 60 + 0.1  # slopes slow the walk


def test_import_elevation_bad_rasters(store, world, tmp_path):
    from geo_service.core.elevation import import_elevation

    before = store.read_layer("network_nodes")["elevation_m"].isna().all()
    with pytest.raises(InputError) as e:
        import_elevation(store, _dem(tmp_path / "nocrs.tif", crs="none"))
    assert "坐标系" in e.value.message_zh
    with pytest.raises(InputError) as e:
        import_elevation(store, _dem(tmp_path / "far.tif", x0=X0 + 50_000))
    assert "不重叠" in e.value.message_zh
    with pytest.raises(InputError) as e:
        import_elevation(store, tmp_path / "missing.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(InputError) as e:
        import_elevation(store, bad)
    assert "无法读取" in e.value.message_zh
    assert before and store.read_layer("network_nodes")["elevation_m"].isna().all()  # nothing written
    r = CliRunner().invoke(
        cli, ["import-elevation", _dem(tmp_path / "nocrs2.tif", crs="none"), "--database-url", _url(store)]
    )
    assert r.exit_code != 0 and "坐标系" in r.output
    assert not [c for c in store.list_changes()[0] if c["action"] == "import_elevation"]
    r = CliRunner().invoke(cli, ["import-elevation", _dem(tmp_path / "ok.tif"), "--database-url", _url(store)])
    assert r.exit_code == 0 and "已为步行网络" in r.output
    logged = [c for c in store.list_changes()[0] if c["action"] == "import_elevation"]
    assert len(logged) == 1 and logged[0]["actor"].startswith("cli:")


def test_sample_city_has_steps_and_kerbs_that_stop_wheelchairs():
    from geo_service.core.sample_city import generate_sample_city

    city = generate_sample_city(scale=0.2, seed=0)
    e = city.network_edges
    assert e["steps"].any() and (e["kerb"] == "raised").any() and e["name"].notna().mean() > 0.5
    assert set(e.loc[e["steps"], "name"]) and all(
        n.endswith(("人行桥", "铁路下穿通道")) for n in e.loc[e["steps"], "name"]
    )
    net = WalkNetwork.from_frames(city.network_nodes, e)
    wc = net.for_profile(WalkProfile.from_input("wheelchair", NORMS))
    assert wc.n_edges == net.n_edges - int(e["steps"].sum()) - int((e["kerb"] == "raised").sum())
    # from each end of a footbridge the other end is farther for a wheelchair (a detour to a road bridge)
    steps_edge = int(np.flatnonzero(net.edge_attrs.steps)[0])
    a, b = int(net.edge_u[steps_edge]), int(net.edge_v[steps_edge])
    other = net.edge_v[net.edge_u == b].tolist() + net.edge_u[net.edge_v == b].tolist()
    far_end = next(x for x in other if x != a)  # across the bridge: the bridge's other half ends at b
    pts = net.node_xy[[a, far_end]]
    d_std = net.distances_within(net.snap_xy(pts[:1]), net.snap_xy(pts[1:]), limit_m=1e5)[2]
    d_wc = wc.distances_within(wc.snap_xy(pts[:1]), wc.snap_xy(pts[1:]), limit_m=1e6)[2]
    assert len(d_std) == 1 and (len(d_wc) == 0 or d_wc[0] > 1.25 * d_std[0] + 100)


def test_coverage_of_elderly_residents(client, store):
    from _tiny_world import store_world as tiny_world

    tiny_world(store)
    std = client.get("/coverage/summary").json()["summary"]
    r = client.get("/coverage/summary", params={"profile": "elderly"})
    assert r.status_code == 200, r.text
    eld = r.json()["summary"]
    assert std["profile"] == "standard" and eld["profile"] == "elderly" and eld["profile_zh"] == "老年人"
    kg_std = next(c for c in std["categories"] if c["category"] == "kindergarten")
    kg_eld = next(c for c in eld["categories"] if c["category"] == "kindergarten")
    # unit A walks exactly the 300 m threshold: in the same time an elderly resident walks 300 * 0.8 = 240 m
    assert kg_std["walk_rate"] == pytest.approx(100 / 350) and kg_eld["walk_rate"] == 0.0
    assert kg_eld["straight_rate"] == kg_std["straight_rate"]
    units = client.get("/coverage/units", params={"profile": "elderly"}).json()["features"]
    a = next(f["properties"] for f in units if f["properties"]["source_id"] == "A")
    assert a["kindergarten_walk_min"] == pytest.approx(300 / 0.8 / 60, abs=0.01)
    assert a["snap_offset_m"] == pytest.approx(20.0, abs=1e-3)  # metres, not the profile's cost
    r = CliRunner().invoke(cli, ["coverage", "--profile", "wheelchair", "--database-url", _url(store)])
    assert r.exit_code == 0 and "轮椅" in r.output and "同等步行时间" in r.output, r.output
