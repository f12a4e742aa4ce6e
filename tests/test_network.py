"""The walking-network engine against a networkx reference on the real OSM extracts.

The reference graph is the same street network with every snapped point inserted
into its edge (the edge split at the point) and joined by its off-network leg;
networkx's Dijkstra on it is the ground truth for every node and every target
(tolerance 0.01 m).
"""

from __future__ import annotations

import functools
import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import SHARED_DATA

from geo_service.core._errors import InputError
from geo_service.core.network import WalkNetwork, edges_from_lines
from geo_service.core.osm import read_osm

EXTRACTS = ["osm_beijing_wudaokou_2017.osm", "osm_beijing_cau_2026.osm", "osm_jiangxi_guixi_2024.osm"]


@functools.cache
def _osm(name: str):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    return read_osm(path)


@functools.cache
def _net(name: str) -> WalkNetwork:
    data = _osm(name)
    return WalkNetwork.from_frames(data.nodes, data.edges)


def _random_points(net: WalkNetwork, n: int, seed: int, spread_m: float = 120.0) -> np.ndarray:
    """Points near random edges (metric CRS): some on the street, some off it."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, net.n_edges, n)
    geoms = net.edge_geometries()[e]
    on = shapely.get_coordinates(shapely.line_interpolate_point(geoms, rng.random(n), normalized=True))
    return on + rng.normal(0, spread_m / 3, (n, 2)) * (rng.random((n, 1)) < 0.7)


def _reference(net: WalkNetwork, snaps: dict[str, object]) -> nx.MultiGraph:
    """Street graph with every snapped point inserted into its edge."""
    G = nx.MultiGraph()
    G.add_nodes_from(range(net.n_nodes))
    by_edge: dict[int, list[tuple[float, tuple]]] = {}
    for kind, snap in snaps.items():
        for i in np.nonzero(snap.reachable)[0]:
            by_edge.setdefault(int(snap.edge[i]), []).append((float(snap.frac[i]), (kind, int(i))))
            G.add_edge((kind, int(i)), ("on", kind, int(i)), weight=float(snap.offset_m[i]))
    for e in range(net.n_edges):
        u, v, L = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length_m[e])
        if u == v:
            continue
        pts = sorted(by_edge.get(e, []))
        chain = [(0.0, u)] + [(f, ("on", *key)) for f, key in pts] + [(1.0, v)]
        for (f0, a), (f1, b) in itertools.pairwise(chain):
            G.add_edge(a, b, weight=(f1 - f0) * L)
    return G


@pytest.mark.parametrize("extract", EXTRACTS)
def test_multi_source_equals_networkx_on_every_node(extract):
    net = _net(extract)
    data = _osm(extract)
    # sources: the OSM facilities of the extract plus random points
    fac_xy = (
        shapely.get_coordinates(net.to_metric(data.facilities.geometry.representative_point().values))
        if len(data.facilities)
        else np.empty((0, 2))
    )
    src_xy = np.vstack([fac_xy[:15], _random_points(net, 25, seed=1)])
    sources = net.snap_xy(src_xy)
    targets = net.snap_xy(_random_points(net, 300, seed=2))
    assert sources.reachable.sum() >= 20 and targets.reachable.sum() >= 200

    res = net.nearest(sources)
    G = _reference(net, {"s": sources, "t": targets})
    src_nodes = [("s", int(i)) for i in np.nonzero(sources.reachable)[0]]
    ref = nx.multi_source_dijkstra_path_length(G, src_nodes, weight="weight")

    ref_nodes = np.array([ref.get(i, np.inf) for i in range(net.n_nodes)])
    np.testing.assert_allclose(res.dist_m, ref_nodes, atol=0.01, rtol=0)
    assert np.isfinite(res.dist_m).all()  # one connected component

    walk, src, _via = res.at(targets)
    ref_t = np.array([ref.get(("t", int(i)), np.inf) for i in range(len(targets))])
    ok = targets.reachable
    np.testing.assert_allclose(walk[ok], ref_t[ok], atol=0.01, rtol=0)
    assert np.isinf(walk[~ok]).all() and (src[~ok] == -1).all()

    # the reported nearest source really is at that distance (ties allowed)
    per_source = {s: nx.single_source_dijkstra_path_length(G, s, weight="weight") for s in src_nodes}
    for j in np.nonzero(ok)[0][:100]:
        d = per_source[("s", int(src[j]))][("t", int(j))]
        assert d == pytest.approx(walk[j], abs=0.01)
    for node in range(0, net.n_nodes, 7):
        assert per_source[("s", int(res.source[node]))][node] == pytest.approx(res.dist_m[node], abs=0.01)


@pytest.mark.parametrize("extract", EXTRACTS[:1])
def test_limit_and_routes(extract):
    net = _net(extract)
    sources = net.snap_xy(_random_points(net, 10, seed=3))
    targets = net.snap_xy(_random_points(net, 80, seed=4))
    full = net.nearest(sources)
    lim = net.nearest(sources, limit_m=250.0)
    inside = full.dist_m <= 250.0
    np.testing.assert_allclose(lim.dist_m[inside], full.dist_m[inside], atol=1e-9)
    assert np.isinf(lim.dist_m[~inside]).all() and (lim.source[~inside] == -1).all()

    walk, src, _via = full.at(targets)
    for i in np.nonzero(targets.reachable)[0][:40]:
        line = full.route(targets, int(i))
        assert line is not None
        start, end = shapely.get_coordinates(line)[[0, -1]]
        np.testing.assert_allclose(start, targets.xy[i], atol=1e-6)
        np.testing.assert_allclose(end, sources.xy[src[i]], atol=1e-6)
        # route length: off-network legs plus street length; street lengths are geodesic (ellipsoid), the route
        # line is in the metric (Gauss-Kruger) CRS, whose scale differs from 1 by less than 1e-3 in a 3-degree zone
        assert line.length == pytest.approx(walk[i], rel=1e-3, abs=0.05)


def test_unreachable_points_and_max_snap():
    net = _net(EXTRACTS[0])
    _x0, _y0, x1, y1 = net.bounds_m
    far = np.array([[x1 + 1000.0, y1 + 1000.0], [np.nan, np.nan]])
    s = net.snap_xy(far)
    assert (s.edge == -1).all() and np.isnan(s.offset_m).all()
    s2 = net.snap_xy(far[:1], max_snap_m=5000.0)
    assert s2.edge[0] >= 0 and 1000.0 < s2.offset_m[0] < 5000.0
    empty = net.nearest(s)
    assert np.isinf(empty.dist_m).all()


def test_save_and_reload(tmp_path):
    net = _net(EXTRACTS[2])
    path = net.save(tmp_path / "net.npz")
    back = WalkNetwork.load(path)
    assert back.version == net.version and back.crs == net.crs
    np.testing.assert_array_equal(back.node_ids, net.node_ids)
    # nodes are kept in Morton order; node_position maps the stored node_idx back
    nodes = _osm(EXTRACTS[2]).nodes
    xy = shapely.get_coordinates(net.to_metric(nodes.geometry.values))
    np.testing.assert_allclose(net.node_xy[net.node_position(nodes["node_idx"].to_numpy())], xy, atol=1e-6)
    sources = back.snap_xy(_random_points(back, 5, seed=5))
    a = net.nearest(net.snap_xy(sources.xy)).dist_m
    b = back.nearest(sources).dist_m
    np.testing.assert_array_equal(a, b)


def test_parallel_edges_and_zero_length():
    """Two parallel edges between the same nodes: the shorter one counts; zero-length edges are edges."""
    pts = gpd.GeoDataFrame(
        {"node_idx": [0, 1, 2]}, geometry=shapely.points([[104.0, 31.0], [104.001, 31.0], [104.001, 31.0]]), crs=4326
    )
    edges = gpd.GeoDataFrame(
        {"u": [0, 0, 1], "v": [1, 1, 2], "length_m": [200.0, 95.0, 0.0]},
        geometry=[None, None, None],
        crs=4326,
    )
    net = WalkNetwork.from_frames(pts, edges)
    n0, n1, n2 = net.node_position([0, 1, 2])
    src = net.snap_xy(net.node_xy[[n0]])
    res = net.nearest(src)
    assert res.dist_m[n1] == pytest.approx(95.0)
    assert res.dist_m[n2] == pytest.approx(95.0)


def test_bad_frames():
    pts = gpd.GeoDataFrame({"node_idx": [0, 1]}, geometry=shapely.points([[104.0, 31.0], [104.001, 31.0]]), crs=4326)
    with pytest.raises(InputError):
        WalkNetwork.from_frames(
            pts, gpd.GeoDataFrame({"u": [0], "v": [5], "length_m": [1.0]}, geometry=[None], crs=4326)
        )
    with pytest.raises(InputError):
        WalkNetwork.from_frames(
            pts, gpd.GeoDataFrame({"u": [0], "v": [1], "length_m": [-1.0]}, geometry=[None], crs=4326)
        )
    with pytest.raises(InputError):
        WalkNetwork.from_frames(pts, gpd.GeoDataFrame({"u": [0], "v": [1]}, geometry=[None], crs=4326))


def test_road_centrelines_are_noded_where_they_cross_or_touch():
    # a cross (+) and a T: the horizontal line is split at x=0 (crossing) and at x=100 (touching)
    x0, y0 = 500_000.0, 3_445_000.0  # UTM 48N near Deyang, on the central meridian (scale ~0.9996)
    lines = gpd.GeoDataFrame(
        {"road_class": ["arterial", "local", "path"], "name": ["长江路", "黄河路", None]},
        geometry=[
            shapely.LineString([(x0 - 100, y0), (x0 + 200, y0)]),
            shapely.LineString([(x0, y0 - 100), (x0, y0 + 100)]),
            shapely.LineString([(x0 + 100, y0), (x0 + 100, y0 + 80)]),
        ],
        crs=32648,
    ).to_crs(4326)
    nodes, edges = edges_from_lines(lines)
    assert len(nodes) == 7 and len(edges) == 6
    net = WalkNetwork.from_frames(nodes, edges)
    assert sorted(edges["road_class"]) == ["arterial"] * 3 + ["local"] * 2 + ["path"]
    # each piece keeps its line's name (turn-by-turn directions name the roads of a built network)
    assert edges.groupby("road_class")["name"].agg(lambda s: set(s.dropna())).to_dict() == {
        "arterial": {"长江路"},
        "local": {"黄河路"},
        "path": set(),
    }
    src = net.snap(gpd.GeoSeries([shapely.Point(x0, y0 - 100)], crs=32648))
    tgt = net.snap(gpd.GeoSeries([shapely.Point(x0 + 100, y0 + 80)], crs=32648))
    walk, _, _ = net.nearest(src).at(tgt)
    assert walk[0] == pytest.approx(100 + 100 + 80, abs=0.5)
    with pytest.raises(InputError):
        edges_from_lines(lines.iloc[:0])


def test_distances_within_matches_nearest():
    net = _net(EXTRACTS[1])
    sources = net.snap_xy(_random_points(net, 12, seed=6))
    targets = net.snap_xy(_random_points(net, 150, seed=7))
    _si, ti, d = net.distances_within(sources, targets, limit_m=600.0, chunk=5)
    walk, _src, _ = net.nearest(sources, limit_m=600.0).at(targets)
    # the minimum over pairs per target equals the multi-source result
    best = np.full(len(targets), np.inf)
    np.minimum.at(best, ti, d)
    reach = np.isfinite(walk) & (walk <= 600.0)
    np.testing.assert_allclose(best[reach], walk[reach], atol=0.01)
    assert np.isinf(best[~reach]).all()
    assert (d <= 600.0).all()


@pytest.mark.parametrize("extract", EXTRACTS)
def test_tiled_distances_equal_whole_network_search(extract):
    """Tiles of sources searching only their neighbourhood give exactly the pairs of the whole-network search."""
    net = _net(extract)
    sources = net.snap_xy(_random_points(net, 300, seed=11))
    targets = net.snap_xy(_random_points(net, 900, seed=12))
    for limit in (150.0, 500.0):
        whole = net._distances_direct(sources, targets, limit_m=limit)
        tiled = net._distances_tiled(sources, targets, limit, tile_m=400.0)
        key_w = whole[0] * len(targets) + whole[1]
        key_t = tiled[0] * len(targets) + tiled[1]
        assert len(np.unique(key_t)) == len(key_t)  # a pair once, from its source's tile only
        ow, ot = np.argsort(key_w), np.argsort(key_t)
        np.testing.assert_array_equal(key_w[ow], key_t[ot])
        np.testing.assert_allclose(whole[2][ow], tiled[2][ot], atol=1e-6)
        assert len(key_w) > 100


@pytest.mark.parametrize("extract", EXTRACTS[1:])
def test_k_nearest_labels_equal_brute_force(extract):
    from geo_service.core.network import KNearestLabels

    net = _net(extract)
    sources = net.snap_xy(_random_points(net, 30, seed=8))
    queries = net.snap_xy(_random_points(net, 60, seed=9, spread_m=60))
    labels = KNearestLabels.build(net, sources, k_max=4, radius_m=800.0, chunk_bytes=2e5)  # several chunks
    G = _reference(net, {"s": sources, "q": queries})
    per_source = {
        int(i): nx.single_source_dijkstra_path_length(G, ("s", int(i)), weight="weight")
        for i in np.nonzero(sources.reachable)[0]
    }
    for j in np.nonzero(queries.reachable)[0]:
        src, walk, via = labels.query(queries.take([j]), 3)
        ref = sorted((d[("q", int(j))], s) for s, d in per_source.items() if ("q", int(j)) in d)
        # exactly the sources within the label radius of the snap location are found
        reachable_ref = [(d, s) for d, s in ref if d - queries.offset_m[j] <= 800.0][:3]
        np.testing.assert_allclose(walk, [d for d, _ in reachable_ref], atol=0.01)
        for i, s in enumerate(src):
            line = labels.route(queries.take([j]), int(s), int(via[i]))
            assert line.length == pytest.approx(walk[i], rel=1e-3, abs=0.05)  # geodesic lengths, see above
            np.testing.assert_allclose(shapely.get_coordinates(line)[-1], sources.xy[s], atol=1e-6)
    with pytest.raises(InputError):
        labels.query(queries.take([0]), 5)


@pytest.mark.parametrize("extract", EXTRACTS)
def test_segment_index_equals_shapely_nearest(extract):
    """Snapping is exact: the same distance as shapely's STRtree nearest and line_locate_point."""
    net = _net(extract)
    rng = np.random.default_rng(11)
    x0, y0, x1, y1 = net.bounds_m
    xy = np.column_stack([rng.uniform(x0 - 200, x1 + 200, 3000), rng.uniform(y0 - 200, y1 + 200, 3000)])
    snap = net.snap_xy(xy, max_snap_m=250.0)
    geoms = net.edge_geometries()
    tree = shapely.STRtree(geoms)
    pts = shapely.points(xy)
    (qi, ei), d = tree.query_nearest(pts, max_distance=250.0, return_distance=True, all_matches=False)
    ref = np.full(len(xy), np.nan)
    ref[qi] = d
    np.testing.assert_array_equal(np.isnan(ref), ~snap.reachable)
    np.testing.assert_allclose(snap.offset_m[snap.reachable], ref[snap.reachable], atol=1e-6)
    # the fraction locates the snapped point on its edge
    ok = np.nonzero(snap.reachable)[0]
    on_edge = shapely.line_interpolate_point(geoms[snap.edge[ok]], snap.frac[ok], normalized=True)
    np.testing.assert_allclose(shapely.get_coordinates(on_edge), snap.snapped_xy[ok], atol=1e-6)


def _edge_key(geom) -> tuple:
    """An edge's two ends (rounded to 1e-6 degrees, in a fixed order) and its number of vertices."""
    ends = sorted(
        tuple(np.round(shapely.get_coordinates(p)[0], 6))
        for p in (shapely.get_point(geom, 0), shapely.get_point(geom, -1))
    )
    return (*ends, int(shapely.get_num_coordinates(geom)))


def test_one_length_model_for_osm_and_centreline_networks():
    """OSM edges and the same lines through build-network (edges_from_lines) have the same geodesic lengths.

    build-network snaps vertices to a grid of a tenth of its tolerance (5 cm by default) for robust noding; at a
    1 cm tolerance (1 mm grid) what is left between the two paths is the length model, which must agree.
    """
    data = _osm("osm_beijing_wudaokou_2017.osm")
    _, built = edges_from_lines(data.edges[["road_class", "geometry"]].copy(), snap_tolerance_m=0.01)
    osm = {_edge_key(g): (g, x) for g, x in zip(data.edges.geometry, data.edges["length_m"])}
    other = {_edge_key(g): (g, x) for g, x in zip(built.geometry, built["length_m"])}
    # the same line on both paths: same ends and vertices to 3 mm (others were split where lines cross without a
    # shared node, or cut a few cm short by a crossing next to their end)
    same = [k for k in osm.keys() & other.keys() if shapely.hausdorff_distance(osm[k][0], other[k][0]) < 3e-8]
    assert len(same) >= 0.5 * len(osm)
    assert max(abs(osm[k][1] - other[k][1]) for k in same) < 0.01
    assert built["length_m"].sum() == pytest.approx(data.edges["length_m"].sum(), abs=0.05)


def test_a_point_inside_an_edge_is_placed_on_the_same_length_model():
    """A point at geodesic distance d from an edge's end (along a straight edge) is d away on the network."""
    import pyproj

    data = _osm("osm_beijing_wudaokou_2017.osm")
    net = WalkNetwork.from_frames(data.nodes, data.edges)
    straight = data.edges[shapely.get_num_coordinates(data.edges.geometry.values) == 2]
    e = straight.loc[straight["length_m"].idxmax()]
    (x0, y0), (x1, y1) = shapely.get_coordinates(e.geometry)
    geod = pyproj.Geod(ellps="WGS84")
    azimuth, _, length = geod.inv(x0, y0, x1, y1)
    assert length == pytest.approx(e["length_m"], abs=1e-6)
    d = 0.37 * length
    lon, lat, _ = geod.fwd(x0, y0, azimuth, d)
    start = net.snap(gpd.GeoSeries([shapely.Point(x0, y0)], crs=4326))
    point = net.snap(gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326))
    walk, _, _ = net.nearest(start).at(point)
    assert float(walk[0]) == pytest.approx(d, abs=0.01)
