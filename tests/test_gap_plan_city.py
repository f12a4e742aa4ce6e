"""The sample city's idle assets and space candidates (stage 14, issue 19): valid as imports, deterministic, drawn
apart from every other layer, and the default city's gap plan is a real one (spaces used of every kind, gaps closed
and left open with reasons)."""

from __future__ import annotations

import numpy as np
import pytest

from facilities.audit import AuditParams
from facilities.audit._common import AuditContext
from facilities.audit.gap_spaces import GapInputs, audit_gap_plan
from facilities.audit.parcels import parcel_layer, plan_for_gaps
from facilities.audit.space import FacilityLayer, community_space
from geo_service.core.importer import ImportOptions, validate
from geo_service.core.layers import get_layer
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import load_norms
from geo_service.core.sample_city import METRIC_EPSG, generate_sample_city
from geo_service.core.sample_city.assemble import build_gap_layers


@pytest.fixture(scope="module")
def city():
    c = generate_sample_city()
    units = c.population_units.assign(id=np.arange(1, len(c.population_units) + 1))
    fac = c.facilities.assign(id=np.arange(1, len(c.facilities) + 1))
    return c, units, fac


def test_layers_are_valid_imports_and_deterministic(city):
    c, units, fac = city
    assets, spaces = build_gap_layers(units, fac, 0)
    assert (len(assets), len(spaces)) == (50, 100)
    for layer, frame in (("idle_assets", assets), ("space_candidates", spaces)):
        _, report = validate(frame, get_layer(layer), ImportOptions())
        assert not report.problems, report.problems[:3]
    again, _ = build_gap_layers(units, fac, 0)
    assert again.drop(columns="geometry").equals(assets.drop(columns="geometry"))
    assert assets.geom_equals(again).all()
    other, _ = build_gap_layers(units, fac, 1)
    assert not other["floor_area_m2"].equals(assets["floor_area_m2"])
    ext = spaces[spaces["kind"] == "extension"]
    assert len(ext) and ext["facility_source_id"].isin(fac["source_id"]).all()
    assert len(build_gap_layers(units, fac, 0, n_total=500)[1]) == 334


def test_the_default_city_shows_a_real_gap_plan(city):
    c, units, fac = city
    assets, spaces = build_gap_layers(units, fac, 0)
    assets = assets.assign(id=np.arange(1, len(assets) + 1))
    spaces = spaces.assign(id=np.arange(1, len(spaces) + 1))
    net = WalkNetwork.from_frames(c.network_nodes, c.network_edges, metric_crs=METRIC_EPSG)
    ctx = AuditContext.build(c.communities, units, load_norms(), AuditParams(), net)
    fl = FacilityLayer.build(fac, ctx)
    space = community_space(ctx, fl)
    plan = plan_for_gaps(ctx, fl, space, parcel_layer(c.plan_parcels, ctx, fl))
    res = audit_gap_plan(ctx, space, plan, GapInputs(assets, spaces, units, None, net))
    t = res.totals
    assert t["optimal"] and t["communities_closed"] > 10 and t["communities_open"] > 0
    assert 0 < t["closed_m2"] < t["need_m2"] and t["closed_m2"] >= t["greedy"]["closed_m2"] - 1
    kinds = set(res.table["kind"])
    assert {"asset_free_transfer", "asset_lease", "lease", "purchase", "extension", "open"} <= kinds
    used = res.table[res.table["kind"] != "open"]
    assert (used["walk_m"].astype(float) >= 0).all() and used["how_zh"].notna().all()
    assert res.table.loc[res.table["kind"] == "open", "open_reason_zh"].notna().all()
