"""import-osm into the store (both backends): connected networks with pinned counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from typer.testing import CliRunner

from geo_service.cli import app
from tests.conftest import SHARED_DATA

# nodes, edges of the undirected walking network (see tests/test_osm.py for how they are derived)
EXTRACTS = {
    "osm_beijing_wudaokou_2017.osm": (893, 1300),
    "osm_beijing_cau_2026.osm": (416, 587),
    "osm_jiangxi_guixi_2024.osm": (315, 449),
}


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_import_osm_cli_stores_connected_network(store, name):
    path = SHARED_DATA / name
    r = CliRunner().invoke(
        app, ["import-osm", str(path), "--database-url", store.url.render_as_string(hide_password=False)]
    )
    assert r.exit_code == 0, r.output
    n_nodes, n_edges = EXTRACTS[name]
    [net] = store.list_networks()
    assert (net["node_count"], net["edge_count"]) == (n_nodes, n_edges)
    nodes = store.read_layer("network_nodes", network_id=net["id"])
    edges = store.read_layer("network_edges", network_id=net["id"])
    assert (len(nodes), len(edges)) == (n_nodes, n_edges)
    assert sorted(nodes.node_idx) == list(range(n_nodes))
    adj = sp.coo_matrix((np.ones(len(edges)), (edges.u.to_numpy(int), edges.v.to_numpy(int))), shape=(n_nodes, n_nodes))
    assert connected_components(adj, directed=False)[0] == 1
    assert (edges.length_m > 0).all()
    # the metric CRS was chosen from the data: Gauss-Kruger CM 117E for both Beijing and Guixi
    assert net["metric_epsg"] == 4548
    # re-import replaces, never duplicates
    r = CliRunner().invoke(
        app, ["import-osm", str(path), "--database-url", store.url.render_as_string(hide_password=False)]
    )
    assert r.exit_code == 0
    assert store.count("network_nodes") == n_nodes
    assert store.count("facilities") == len(store.read_layer("facilities").source_id.unique())


def test_import_osm_needs_file_or_place(store):
    r = CliRunner().invoke(app, ["import-osm", "--database-url", store.url.render_as_string(hide_password=False)])
    assert r.exit_code == 1 and "二选一" in r.output


def test_place_without_network_is_a_clear_error(monkeypatch):
    import osmnx as ox

    from geo_service.core._errors import InputError
    from geo_service.core.osm import read_osm_place

    def offline(*_a, **_k):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(ox, "geocode_to_gdf", offline)
    with pytest.raises(InputError) as err:
        read_osm_place("德阳市旌阳区")
    assert "需要联网" in err.value.message_zh


def test_broken_osm_file_writes_nothing(store, tmp_path):
    from tests.conftest import snapshot

    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1' lat='31' lon='104'></osm", encoding="utf-8")
    before = snapshot(store)
    r = CliRunner().invoke(
        app, ["import-osm", str(bad), "--database-url", store.url.render_as_string(hide_password=False)]
    )
    assert r.exit_code == 1
    assert snapshot(store) == before
