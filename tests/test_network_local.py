"""Labels and bounded searches on local subgraphs equal the whole-network search (issue 18, item 3).

The local methods (:mod:`geo_service.core.network.local`) search, per chunk of sources, only the induced
subgraph of the nodes a walk within the bound can reach (straight-line bound with the factor taken from the
edges); the k-nearest labels grow their window until every label is proven.  Checked against the
whole-network search (``method="whole"``, ``tile_m=None``) on the sample city's generator frames, on the
OSM extracts, and on random graphs (hypothesis), including lengths shorter than the straight line (the
projection's scale factor) and zero-length edges.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

from geo_service.core.network import KNearestLabels, WalkNetwork, local

METRIC = 4544
X0, Y0 = 450_000.0, 3_445_000.0


def _random_net(seed: int, n: int, extent_m: float, length_factor=(1.0, 1.4), zero_edges: int = 0) -> WalkNetwork:
    """A random planar network (Delaunay edges of random points, metric CRS), lengths = straight x a factor."""
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * extent_m + [X0, Y0]
    tri = Delaunay(xy)
    e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[rng.random(len(e)) < 0.7]  # thinner than a triangulation: detours and dead ends
    u, v = e[:, 0], e[:, 1]
    straight = np.hypot(*(xy[u] - xy[v]).T)
    length = straight * rng.uniform(*length_factor, len(e))
    if zero_edges:
        length[rng.choice(len(e), zero_edges, replace=False)] = 0.0
    geoms = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    return WalkNetwork._from_arrays(xy, u, v, length, np.full(len(e), 1, dtype=np.int8), geoms, METRIC)


def _random_snap(net: WalkNetwork, seed: int, count: int):
    rng = np.random.default_rng(seed)
    e = rng.integers(0, net.n_edges, count)
    xy = net.node_xy[net.edge_u[e]] + rng.random((count, 1)) * (net.node_xy[net.edge_v[e]] - net.node_xy[net.edge_u[e]])
    return net.snap_xy(xy + rng.normal(0, 20, (count, 2)), max_snap_m=200)


def _assert_labels_equal(net, sources, k, radius_m, *, exact_pred=True):
    whole = KNearestLabels.build(net, sources, k_max=k, radius_m=radius_m, method="whole")
    loc = KNearestLabels.build(net, sources, k_max=k, radius_m=radius_m, chunk_bytes=4e5)  # several chunks
    np.testing.assert_array_equal(loc.dist_m, whole.dist_m)
    np.testing.assert_array_equal(loc.source, whole.source)
    if exact_pred:
        np.testing.assert_array_equal(loc.pred, whole.pred)
    return whole, loc


def _assert_pairs_equal(net, sources, targets, limit_m, tile_m):
    whole = net._distances_direct(sources, targets, limit_m=limit_m)
    loc = local.pairs_local(net, sources, targets, limit_m, tile_m)
    m = len(targets)
    kw, kl = whole[0] * m + whole[1], loc[0] * m + loc[1]
    assert len(np.unique(kl)) == len(kl)  # each pair once
    ow, ol = np.argsort(kw), np.argsort(kl)
    np.testing.assert_array_equal(kw[ow], kl[ol])
    np.testing.assert_array_equal(whole[2][ow], loc[2][ol])
    return len(kw)


# ----------------------------------------------------------------------------- the sample city's frames
@functools.cache
def _city():
    from geo_service.core.sample_city import generate_sample_city

    city = generate_sample_city(scale=0.5, seed=3)
    return city, WalkNetwork.from_frames(city.network_nodes, city.network_edges)


@pytest.mark.parametrize("layer", ["shelters", "facilities"])
def test_labels_on_the_sample_city_equal_the_whole_network_search(layer):
    city, net = _city()
    frame = getattr(city, layer)
    if layer == "facilities":  # the most frequent category, whatever the generator places
        frame = frame[frame["category"] == frame["category"].value_counts().index[0]]
    sources = net.snap(frame.geometry, max_snap_m=300)
    whole, loc = _assert_labels_equal(net, sources, 5, 5000.0)
    assert np.isfinite(whole.dist_m[:, 4]).mean() > 0.5  # most nodes have 5 labels: the comparison bites
    # the window grew: some nodes were proven before the radius (else this is the whole search again)
    first = local.first_window_m(net, int(sources.reachable.sum()), 5, 5000.0)
    assert first < 5000.0 and (whole.dist_m[:, 4] <= first).any()


def test_pairs_on_the_sample_city_equal_the_whole_network_search():
    city, net = _city()
    sources = net.snap(city.facilities.geometry, max_snap_m=300)
    targets = net.snap(city.population_units.geometry, max_snap_m=300)
    assert local.can_prune(net, 500.0, 300.0)
    assert _assert_pairs_equal(net, sources, targets, 500.0, 300.0) > 1000
    # distances_within takes the local path on this network and gives the same pairs
    a = net.distances_within(sources, targets, limit_m=500.0)
    b = net.distances_within(sources, targets, limit_m=500.0, tile_m=None)
    assert sorted(zip(a[0].tolist(), a[1].tolist(), a[2].tolist())) == sorted(
        zip(b[0].tolist(), b[1].tolist(), b[2].tolist())
    )


# ----------------------------------------------------------------------------- OSM extracts
@pytest.mark.parametrize("extract", ["osm_beijing_wudaokou_2017.osm", "osm_jiangxi_guixi_2024.osm"])
def test_labels_and_pairs_on_osm_extracts(extract):
    from conftest import SHARED_DATA

    from geo_service.core.osm import read_osm

    path = SHARED_DATA / extract
    if not path.exists():
        pytest.skip(f"{path} missing")
    data = read_osm(path)
    net = WalkNetwork.from_frames(data.nodes, data.edges)
    # geodesic lengths on projected coordinates: the factor is the projection's, a hair above 1
    assert 1.0 < local.straight_factor(net) < 1.01
    sources = _random_snap(net, 1, 40)
    _assert_labels_equal(net, sources, 4, 600.0)
    _assert_labels_equal(net, sources, 3, 5000.0)
    assert _assert_pairs_equal(net, sources, _random_snap(net, 2, 400), 250.0, 150.0) > 50


# ----------------------------------------------------------------------------- random graphs
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(20, 400),
    n_sources=st.integers(1, 60),
    k=st.integers(1, 5),
    radius_m=st.sampled_from([150.0, 600.0, 2500.0, 1e6]),
    short=st.booleans(),
)
def test_random_graphs_labels_and_pairs(seed, n, n_sources, k, radius_m, short):
    # ``short``: lengths below the straight distance (as a projection's scale factor can make them)
    factor = (0.97, 1.0) if short else (1.0, 1.5)
    net = _random_net(seed, n, 3000.0, factor)
    sources = _random_snap(net, seed + 1, n_sources)
    _assert_labels_equal(net, sources, k, radius_m)
    targets = _random_snap(net, seed + 2, 200)
    _assert_pairs_equal(net, sources, targets, min(radius_m, 800.0), 200.0)


def test_the_bound_follows_the_edges_not_the_straight_line():
    """Lengths 10 % under the straight distance: a box of +- limit would lose pairs; the data's factor keeps them."""
    net = _random_net(5, 1500, 6000.0, (0.9, 0.9))
    assert local.straight_factor(net) == pytest.approx(1 / 0.9, rel=1e-6)
    sources, targets = _random_snap(net, 6, 80), _random_snap(net, 7, 600)
    assert _assert_pairs_equal(net, sources, targets, 700.0, 300.0) > 100
    _assert_labels_equal(net, sources, 3, 1500.0)
    # and the pairs the naive box would have missed exist: some walk is longer than its straight distance allows
    i, j, d = net._distances_direct(sources, targets, limit_m=700.0)
    straight = np.hypot(*(sources.snapped_xy[i] - targets.snapped_xy[j]).T)
    assert (straight > d).any()


def test_zero_length_edges_between_distinct_points_fall_back_to_the_whole_network():
    net = _random_net(9, 300, 3000.0, (1.0, 1.2), zero_edges=3)
    assert local.straight_factor(net) == np.inf
    assert not local.can_prune(net, 500.0, 200.0)
    sources = _random_snap(net, 10, 30)
    _assert_labels_equal(net, sources, 3, 800.0)


def test_equal_lengths_give_equal_distances_and_valid_predecessors():
    """A regular grid (many equal-length paths): distances and sources equal; every predecessor is on a
    shortest path and keeps the source in its labels (what routes need)."""
    side = 40
    g = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2) * 100.0
    idx = np.arange(side * side).reshape(side, side)
    e = np.concatenate(
        [np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1), np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1)]
    )
    xy = g + [X0, Y0]
    geoms = shapely.linestrings(np.stack([xy[e[:, 0]], xy[e[:, 1]]], axis=1))
    net = WalkNetwork._from_arrays(
        xy, e[:, 0], e[:, 1], np.full(len(e), 100.0), np.ones(len(e), dtype=np.int8), geoms, METRIC
    )
    sources = _random_snap(net, 3, 25)
    _, loc = _assert_labels_equal(net, sources, 3, 1200.0, exact_pred=False)
    csr = net.csr
    rows, slots = np.nonzero((loc.pred >= 0) & np.isfinite(loc.dist_m))
    assert len(rows) > 1000
    for x, j in zip(rows[:3000].tolist(), slots[:3000].tolist()):
        s, p = int(loc.source[x, j]), int(loc.pred[x, j])
        jp = loc.source[p].tolist().index(s)  # the source is in the predecessor's labels
        assert loc.dist_m[p, jp] + csr[p, x] == loc.dist_m[x, j]
