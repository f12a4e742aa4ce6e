"""Tests of the synthetic sample city (geo_service.core.sample_city)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from geo_service.core import vocab
from geo_service.core.layers import LAYERS
from geo_service.core.sample_city import LAYER_NAMES, SampleCity, generate_sample_city

METRIC = 4544


@pytest.fixture(scope="module")
def city() -> SampleCity:
    return generate_sample_city(scale=1.0, seed=0)


@pytest.fixture(scope="module")
def small() -> SampleCity:
    return generate_sample_city(scale=0.2, seed=7)


@pytest.fixture(scope="module")
def metric(city):
    return {name: df.to_crs(METRIC) for name, df in city.layer_frames().items()}


# ---------------------------------------------------------------------------
# determinism, metadata, progress
# ---------------------------------------------------------------------------
def _assert_same(a: SampleCity, b: SampleCity) -> None:
    for name, fa in a.frames().items():
        fb = b.frames()[name]
        assert list(fa.columns) == list(fb.columns), name
        pd.testing.assert_frame_equal(
            fa.drop(columns="geometry").reset_index(drop=True), fb.drop(columns="geometry").reset_index(drop=True)
        )
        assert (shapely.to_wkb(fa.geometry.values) == shapely.to_wkb(fb.geometry.values)).all(), name
    assert a.metadata == b.metadata
    assert a.plan_name == b.plan_name


def test_deterministic():
    a = generate_sample_city(scale=0.1, seed=3)
    b = generate_sample_city(scale=0.1, seed=3)
    _assert_same(a, b)
    c = generate_sample_city(scale=0.1, seed=4)
    assert not c.population_units["residents"].equals(a.population_units["residents"])


def test_metadata(city):
    md = city.metadata
    assert md["synthetic"] is True
    assert "合成" in md["name_zh"] and "示例" in md["name_zh"]
    assert "synthetic" in md["name"]
    assert md["seed"] == 0 and md["scale"] == 1.0
    assert tuple(md["center_lonlat"]) == (104.40, 31.13)
    assert md["metric_crs"] in ("EPSG:4544", 4544)
    assert md["counts"]["population_units"] == len(city.population_units)
    assert md["counts"]["network_nodes"] == len(city.network_nodes)
    assert city.plan_name and "示例" in city.plan_name
    json.dumps(md)  # stored as dataset metadata


def test_progress_reports_stages():
    calls = []
    generate_sample_city(scale=0.05, seed=1, progress=lambda name, frac: calls.append((name, frac)))
    assert len(calls) >= 10
    fracs = [f for _, f in calls]
    assert fracs == sorted(fracs) and 0.0 <= fracs[0] and fracs[-1] == 1.0
    assert len({n for n, _ in calls}) == len(calls)


# ---------------------------------------------------------------------------
# schema: columns, vocabularies, geometry types
# ---------------------------------------------------------------------------
def _check_layer(name, df):
    spec = LAYERS[name]
    assert df.crs.to_epsg() == 4326, name
    assert df.geometry.name == "geometry"
    assert "source_id" in df.columns
    sid = df["source_id"]
    assert sid.notna().all() and sid.is_unique and all(isinstance(s, str) and s.startswith("sample:") for s in sid)
    extra = set(df.columns) - {"geometry", "source_id"} - set(spec.field_names)
    assert not extra, (name, extra)
    assert set(df.geom_type.unique()) <= set(spec.geometry_types), name
    for f in spec.fields:
        if f.required:
            assert f.name in df.columns, (name, f.name)
            assert df[f.name].notna().all(), (name, f.name)
        if f.name not in df.columns:
            continue
        col = df[f.name]
        vals = col.dropna()
        if f.kind == "int":
            assert pd.api.types.is_integer_dtype(col.dtype), (name, f.name, col.dtype)
        elif f.kind == "float":
            assert pd.api.types.is_float_dtype(col.dtype), (name, f.name, col.dtype)
        elif f.kind == "bool":
            assert pd.api.types.is_bool_dtype(col.dtype), (name, f.name, col.dtype)
        elif f.kind == "str":
            assert all(isinstance(v, str) and v for v in vals), (name, f.name)
        if f.min_value is not None and len(vals):
            assert vals.min() > f.min_value if f.min_exclusive else vals.min() >= f.min_value, (name, f.name)
        if f.max_value is not None and len(vals):
            assert vals.max() <= f.max_value, (name, f.name)
        if f.vocab is not None:
            assert set(vals) <= set(f.vocab), (name, f.name, set(vals) - set(f.vocab))
        if f.pattern is not None:
            assert all(re.match(f.pattern, v) for v in vals), (name, f.name)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_columns_match_layer_specs(city, name):
    _check_layer(name, getattr(city, name))


def test_columns_small_scale(small):
    for name, df in small.layer_frames().items():
        _check_layer(name, df)


def test_network_columns(city):
    nodes, edges = city.network_nodes, city.network_edges
    assert list(nodes.columns) == ["node_idx", "osm_id", "geometry"]
    edge_columns = ["u", "v", "length_m", "road_class", "osm_way_id", "name", "steps", "kerb", "geometry"]
    assert list(edges.columns) == edge_columns
    assert (nodes["node_idx"].to_numpy() == np.arange(len(nodes))).all()
    assert nodes["osm_id"].isna().all() and edges["osm_way_id"].isna().all()
    assert set(nodes.geom_type) == {"Point"} and set(edges.geom_type) == {"LineString"}
    n = len(nodes)
    assert edges["u"].between(0, n - 1).all() and edges["v"].between(0, n - 1).all()
    assert set(edges["road_class"]) == {"arterial", "local", "path", "crossing"}
    # length_m is the metric length, endpoints are the nodes
    metric_len = edges.to_crs(METRIC).length.to_numpy()
    assert np.allclose(edges["length_m"].to_numpy(), metric_len, atol=0.05)
    assert (edges["length_m"] > 0).all()
    start = shapely.get_point(edges.geometry.values, 0)
    assert shapely.equals_exact(start, nodes.geometry.values[edges["u"].to_numpy()], tolerance=1e-12).all()


@pytest.mark.parametrize("which", ["city", "small"])
def test_geometries_valid(request, which):
    c = request.getfixturevalue(which)
    for name, df in c.frames().items():
        g = df.geometry.values
        assert not shapely.is_missing(g).any(), name
        assert shapely.is_valid(g).all(), name
        assert not shapely.is_empty(g).any(), name


def test_within_a_few_km_of_deyang(city):
    for name, df in city.frames().items():
        x0, y0, x1, y1 = df.total_bounds
        assert 104.40 - 0.08 < x0 and x1 < 104.40 + 0.08, name  # about 7.6 km
        assert 31.13 - 0.07 < y0 and y1 < 31.13 + 0.07, name


# ---------------------------------------------------------------------------
# counts and totals at scale 1
# ---------------------------------------------------------------------------
def test_counts_scale_1(city):
    pu = city.population_units
    assert 1800 <= len(pu) <= 2400
    assert 570_000 <= pu["residents"].sum() <= 630_000
    hh_size = pu["residents"].sum() / pu["households"].sum()
    assert 2.45 <= hh_size <= 2.75
    assert 0.18 <= pu["residents_60plus"].sum() / pu["residents"].sum() <= 0.25
    assert 0.04 <= pu["residents_0_6"].sum() / pu["residents"].sum() <= 0.06
    assert (pu["residents_60plus"] + pu["residents_0_6"] <= pu["residents"]).all()
    assert (pu["unit_type"] == "compound").all()
    # realistic spread of household size
    per_unit = pu["residents"] / pu["households"]
    assert per_unit.std() > 0.15 and per_unit.min() >= 1.4 and per_unit.max() <= 4.0

    admin = city.admin_areas
    county = admin[admin["level"] == "county"]
    streets = admin[admin["level"] == "street"]
    assert len(county) == 1 and "示例" in county["name"].iloc[0] and len(county["code"].iloc[0]) == 6
    assert 9 <= len(streets) <= 13  # about 50,000 residents each
    assert streets["code"].str.fullmatch(r"\d{9}").all()
    assert (streets["parent_code"] == county["code"].iloc[0]).all()
    assert streets["name"].str.endswith("街道").all()
    assert (streets["community_workers_available"] > 0).all()

    co = city.communities
    assert 100 <= len(co) <= 145
    assert (co["households"] > 3000).sum() >= 3
    assert (co["households"] < 1000).sum() >= 3
    assert co["households"].between(1000, 3000).mean() > 0.5
    assert co["households"].sum() == pu["households"].sum()
    assert co["residents"].sum() == pu["residents"].sum()
    assert co["code"].is_unique
    assert all(c.startswith(s) and len(c) == len(s) + 3 for c, s in zip(co["code"], co["street_code"]))
    assert co["name"].str.endswith("社区").all()
    assert 0.8 <= co["has_fixed_office"].mean() <= 0.97
    ratio = co["community_workers"] / co["residents"] * 10_000
    assert 14 <= ratio.median() <= 22
    assert (ratio < 12).any()  # some understaffed

    assert 15 <= len(city.developments) <= 25
    assert 1 <= (city.shelters["shelter_class"] == "central").sum() <= 2


def test_scale_grows_the_city():
    a = generate_sample_city(scale=0.05, seed=0)
    b = generate_sample_city(scale=0.2, seed=0)
    ratio = len(b.population_units) / len(a.population_units)
    assert 3.0 <= ratio <= 5.5
    assert b.population_units["residents"].sum() == pytest.approx(4 * a.population_units["residents"].sum(), rel=0.01)
    assert len(b.network_nodes) > 3 * len(a.network_nodes)


# ---------------------------------------------------------------------------
# tiling and nesting
# ---------------------------------------------------------------------------
def test_streets_tile_county(metric):
    admin = metric["admin_areas"]
    county = admin[admin["level"] == "county"].geometry.union_all()
    streets = admin[admin["level"] == "street"]
    assert streets.area.sum() == pytest.approx(county.area, rel=1e-9)
    assert streets.geometry.union_all().symmetric_difference(county).area < 1.0
    assert (streets.geom_type == "Polygon").all()  # each street contiguous


def _pairwise_overlap(gdf) -> float:
    i, j = gdf.sindex.query(gdf.geometry, predicate="intersects")
    k = i < j
    return float(shapely.area(shapely.intersection(gdf.geometry.values[i[k]], gdf.geometry.values[j[k]])).sum())


def test_units_tile_their_street(metric):
    units = metric["population_units"]
    admin = metric["admin_areas"]
    streets = admin[admin["level"] == "street"].set_index("code")
    assert _pairwise_overlap(units) < 1.0
    # every unit lies in the street named by its street_code
    rp = units.geometry.representative_point()
    st_geom = streets.geometry.loc[units["street_code"]].values
    assert shapely.contains(st_geom, rp.values).all()
    assert shapely.covers(shapely.buffer(st_geom, 0.01), units.geometry.values).all()
    # units + non-residential parcels fill each street exactly
    parcels = metric["plan_parcels"]
    prp = parcels.geometry.representative_point()
    pi, _ = units.sindex.query(prp, predicate="within")
    nonres = np.ones(len(parcels), bool)
    nonres[pi] = False
    p_street_i, p_street_j = streets.sindex.query(prp, predicate="within")
    p_street = np.empty(len(parcels), dtype=object)
    p_street[p_street_i] = streets.index.to_numpy()[p_street_j]
    assert len(set(p_street_i)) == len(parcels)
    unit_area = units.area.groupby(units["street_code"]).sum()
    nonres_area = pd.Series(parcels.area.to_numpy()[nonres]).groupby(p_street[nonres]).sum()
    total = unit_area.add(nonres_area, fill_value=0.0)
    assert np.allclose(total.loc[streets.index].to_numpy(), streets.area.to_numpy(), rtol=1e-9)
    # non-residential cells exist (parks, schools, river, rail corridor)
    assert nonres_area.sum() > 0.05 * streets.area.sum()


def test_units_share_edges(metric):
    units = metric["population_units"]
    i, j = units.sindex.query(units.geometry, predicate="touches")
    k = i < j
    shared = shapely.length(shapely.intersection(units.geometry.values[i[k]], units.geometry.values[j[k]]))
    # most touching neighbours share a whole edge, not just a corner
    assert (shared > 50).sum() > 1.5 * len(units)


def test_communities_nested_and_contiguous(metric):
    co = metric["communities"]
    units = metric["population_units"]
    admin = metric["admin_areas"]
    streets = admin[admin["level"] == "street"].set_index("code")
    assert (co.geom_type == "Polygon").all()  # contiguous
    assert _pairwise_overlap(co) < 1.0
    st = streets.geometry.loc[co["street_code"]].values
    assert shapely.covers(shapely.buffer(st, 0.01), co.geometry.values).all()
    # each community is a union of whole units: unit representative points fall in exactly one
    rp = units.geometry.representative_point()
    ui, ci = co.sindex.query(rp, predicate="within")
    assert len(ui) == len(units) and len(set(ui)) == len(units)
    assert (units["street_code"].to_numpy()[ui] == co["street_code"].to_numpy()[ci]).all()
    hh = np.bincount(ci, weights=units["households"].to_numpy()[ui], minlength=len(co))
    res = np.bincount(ci, weights=units["residents"].to_numpy()[ui], minlength=len(co))
    assert (hh == co["households"].to_numpy()).all()
    assert (res == co["residents"].to_numpy()).all()
    unit_area = np.bincount(ci, weights=units.area.to_numpy()[ui], minlength=len(co))
    assert np.allclose(unit_area, co.area.to_numpy(), rtol=1e-9)


# ---------------------------------------------------------------------------
# network and barriers
# ---------------------------------------------------------------------------
def _components(edges, n, mask=None):
    e = edges if mask is None else edges[mask]
    g = sparse.coo_matrix((np.ones(len(e)), (e["u"].to_numpy(), e["v"].to_numpy())), shape=(n, n))
    return csgraph.connected_components(g, directed=False)


@pytest.mark.parametrize("which", ["city", "small"])
def test_network_connected(request, which):
    c = request.getfixturevalue(which)
    n_comp, _ = _components(c.network_edges, len(c.network_nodes))
    assert n_comp == 1


@pytest.mark.parametrize("which", ["city", "small"])
def test_barriers_crossed_only_at_crossings(request, which):
    c = request.getfixturevalue(which)
    edges, n = c.network_edges, len(c.network_nodes)
    bar = c.barriers
    assert set(bar["barrier_type"]) == {"river", "railway"}
    assert set(bar.loc[bar["barrier_type"] == "river"].geom_type) <= {"Polygon", "MultiPolygon"}
    assert set(bar.loc[bar["barrier_type"] == "railway"].geom_type) <= {"LineString", "MultiLineString"}
    for g in bar.geometry:
        hit = edges.geometry.intersects(g)
        assert hit.any()
        assert (edges.loc[hit, "road_class"] == "crossing").all()
    # without the crossing edges the city falls apart into the banks
    crossing = (edges["road_class"] == "crossing").to_numpy()
    _, lab = _components(edges, n, ~crossing)
    sizes = np.sort(np.bincount(lab))[::-1]
    assert (sizes[:3] > 0.15 * n).all()  # west of the railway, between, east of the river
    assert sizes[3] < 0.01 * n
    # every bridge / underpass joins two parts that are otherwise disconnected
    ce = edges[crossing]
    cu, cv = ce["u"].to_numpy(), ce["v"].to_numpy()
    deg_cross = np.bincount(np.concatenate([cu, cv]), minlength=n)
    deg_all = np.bincount(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]), minlength=n)
    mids = np.flatnonzero((deg_cross == 2) & (deg_all == 2))
    assert mids.size >= 4
    ends = np.where(np.isin(cu, mids), cv, cu)
    mid_of = np.where(np.isin(cu, mids), cu, cv)
    order = np.argsort(mid_of, kind="stable")
    pairs = ends[order].reshape(-1, 2)
    assert (lab[pairs[:, 0]] != lab[pairs[:, 1]]).all()


def test_roads(city):
    roads = city.roads
    assert set(roads["road_class"]) >= {"arterial", "local", "crossing"}
    art = roads[roads["road_class"] == "arterial"]
    assert art["name"].notna().all() and art["name"].str.endswith("路").all()
    # every network edge on a street lies on a road centre line
    streets = city.network_edges[city.network_edges["road_class"] != "path"]
    assert len(streets) == 2 * len(roads)


def test_barrier_names(city):
    assert city.barriers["name"].str.contains("河").any()
    assert city.barriers["name"].str.contains("铁路").any()


# ---------------------------------------------------------------------------
# facilities, shelters, parcels, developments
# ---------------------------------------------------------------------------
def test_facilities(city):
    fa = city.facilities
    co = city.communities
    # every category but after-school care (added for embedded hubs' functions, issue 17; no sample facility has it)
    assert set(fa["category"]) == set(vocab.FACILITY_CATEGORIES) - {"after_school_care"}
    assert (fa["category"] == "community_office").sum() == co["has_fixed_office"].sum()
    assert (fa["status"] == "existing").mean() > 0.85
    assert {"under_construction", "planned"} <= set(fa["status"])
    polys = fa.geom_type.isin(["Polygon", "MultiPolygon"])
    assert 0.02 < polys.mean() < 0.3  # mostly points, a few polygons
    assert fa["name"].notna().all() and fa["address"].str.startswith("四川省德阳市").all()
    # sizes around the norms, with some below the minimum
    for cat, minimum in [
        ("kindergarten", 2200),
        ("nursery", 200),
        ("elderly_day_care", 350),
        ("health_station", 120),
        ("supermarket", 300),
        ("embedded_service", 600),
        ("community_service_station", 800),
    ]:
        fl = fa.loc[fa["category"] == cat, "floor_area_m2"]
        assert fl.notna().all(), cat
        assert (fl < minimum).any() and (fl >= minimum).mean() > 0.4, cat
    kg = fa[fa["category"] == "kindergarten"]
    assert (kg["land_area_m2"] < 3500).any() and (kg["land_area_m2"] >= 3500).any()
    for cat in ("kindergarten", "nursery", "primary_school", "middle_school", "elderly_day_care", "elderly_home"):
        assert fa.loc[fa["category"] == cat, "capacity"].notna().all(), cat
    # office of each community lies in the community
    off = fa[fa["category"] == "community_office"].to_crs(METRIC)
    co_m = co.to_crs(METRIC)
    oi, ci = co_m.sindex.query(off.geometry, predicate="within")
    assert len(set(oi)) == len(off)
    assert (off["name"].to_numpy()[oi] == (co_m["name"].to_numpy()[ci] + "居民委员会")).all()


def test_deliberate_gaps(city):
    fa = city.facilities.to_crs(METRIC)
    gaps = city.metadata["deliberate_gaps"]
    import geopandas as gpd

    kinds = {g["category"] for g in gaps}
    assert {"kindergarten", "elderly_day_care"} <= kinds
    for g in gaps:
        c = gpd.GeoSeries.from_xy([g["center_lonlat"][0]], [g["center_lonlat"][1]], crs=4326).to_crs(METRIC).iloc[0]
        # a gap is about service in operation: a planned facility may stand in it (the plan to close it)
        sel = fa[(fa["category"] == g["category"]) & (fa["status"] == "existing")]
        d = sel.geometry.distance(c)
        limit = g["radius_m"] + (300 if g["category"] == "kindergarten" else 0)
        assert (d > limit).all(), g
    # the kindergarten gap is inhabited
    units = city.population_units.to_crs(METRIC)
    g = next(g for g in gaps if g["category"] == "kindergarten")
    c = gpd.GeoSeries.from_xy([g["center_lonlat"][0]], [g["center_lonlat"][1]], crs=4326).to_crs(METRIC).iloc[0]
    assert units.loc[units.geometry.distance(c) < g["radius_m"], "residents"].sum() > 1000


def test_at_risk_facilities(city):
    ids = city.metadata["at_risk_facilities"]
    assert len(ids) >= 3
    fa = city.facilities.set_index("source_id").loc[ids].to_crs(METRIC)
    parcels = city.plan_parcels.to_crs(METRIC)
    fi, pi = parcels.sindex.query(fa.geometry, predicate="within")
    assert len(set(fi)) == len(fa)
    hosted = parcels.iloc[pi]
    assert (hosted["status"] == "planned").all()
    assert not hosted["land_use_code"].isin(["0701", "0702", "08", "0801", "080403", "080404"]).any()
    assert (fa["status"] == "existing").all()


def test_shelters(city):
    sh = city.shelters
    assert (sh["shelter_class"] == "emergency").sum() > (sh["shelter_class"] == "fixed").sum() > 0
    per = np.where(sh["shelter_class"] == "emergency", 1.5, 2.0)
    assert (np.abs(sh["capacity_persons"] - sh["effective_area_m2"] / per) < 1.0).all()
    assert (sh["effective_area_m2"] > 0).all()
    assert set(sh.geom_type) == {"Point", "Polygon"}


def test_plan_parcels(city, metric):
    pp = city.plan_parcels
    codes = set(pp["land_use_code"])
    assert {"0701", "0702", "1401", "1403", "080403", "080404"} <= codes
    reserved = pp[pp["land_use_code"] == "0702"]
    assert {"reserved", "planned"} <= set(reserved["status"])
    assert (reserved["area_m2"] < 5000).all()
    # parcels tile the county
    pm = metric["plan_parcels"]
    county = metric["admin_areas"]
    county = county[county["level"] == "county"]
    assert pm.area.sum() == pytest.approx(county.area.sum(), rel=1e-6)
    assert np.allclose(pm.area.to_numpy(), pp["area_m2"].to_numpy(), rtol=1e-3, atol=1.0)
    assert _pairwise_overlap(pm) < 1.0


def test_developments(city):
    dv = city.developments
    assert np.allclose(dv["required_facility_area_m2"], dv["planned_households"] * 0.30, atol=0.06)
    assert (dv["built_facility_area_m2"] == 0).any()
    assert (dv["built_facility_area_m2"] < dv["required_facility_area_m2"]).mean() > 0.4
    assert {"planned", "under_construction", "completed"} <= set(dv["status"])
    assert (dv.loc[dv["status"] == "planned", "built_facility_area_m2"] == 0).all()


def test_buildings_follow_the_units_residents(city, metric):
    from geo_service.core.norms import load_norms
    from geo_service.core.sample_city import buildings as stage

    pop = load_norms().population
    assert (stage.STOREY_HEIGHT_M, stage.MIXED_RESIDENTIAL_SHARE) == (
        pop.storey_height_m,
        pop.mixed_use_residential_share,
    )
    b, units = city.buildings, city.population_units
    assert len(b) == city.metadata["counts"]["buildings"] == 6265
    assert b["use"].value_counts().to_dict() == {"residential": 5544, "other": 496, "mixed": 225}
    floors, height = b["floors"], b["height_m"]
    assert (floors.notna() & height.notna()).sum() == 0
    assert (floors.notna().sum(), (floors.isna() & height.notna()).sum(), (floors.isna() & height.isna()).sum()) == (
        4975,
        1237,
        53,
    )
    storeys = height.dropna() / stage.STOREY_HEIGHT_M
    assert (np.abs(storeys - np.round(storeys)) < 0.4 / stage.STOREY_HEIGHT_M + 1e-9).all()
    # residential buildings lie inside their unit, buildings do not overlap
    res = b["use"] != "other"
    assert b.loc[res, "compound_id"].notna().all() and b.loc[~res, "compound_id"].isna().all()
    unit_geom = units.set_index("source_id").geometry
    assert all(unit_geom[c].contains(g) for c, g in zip(b.loc[res, "compound_id"], b.loc[res, "geometry"]))
    assert set(b.loc[res, "compound_id"]) == set(units["source_id"])
    m = metric["buildings"]
    i, j = shapely.STRtree(m.geometry.values).query(m.geometry.values, predicate="overlaps")
    assert not (i != j).any()
    # residential floor area from the recorded floors (else height / storey height, else the default floors)
    # is proportional to the residents, with noise: close, not exact
    est_floors = floors.astype(float).fillna(np.round(height / pop.storey_height_m))
    est_floors = est_floors.fillna(b["use"].map(pop.default_floors).astype(float))
    share = b["use"].map({"residential": 1.0, "mixed": pop.mixed_use_residential_share, "other": 0.0})
    floor_area = (m.area * est_floors * share).groupby(b["compound_id"]).sum()
    residents = units.set_index("source_id")["residents"].loc[floor_area.index]
    assert np.corrcoef(floor_area, residents)[0, 1] > 0.9
    assert 34 <= np.median(floor_area / residents) <= 38
    estimate = floor_area / floor_area.sum() * residents.sum()
    rel = np.abs(estimate - residents) / residents
    assert 0.05 < np.median(rel) < 0.15 and np.quantile(rel, 0.9) < 0.3


# ---------------------------------------------------------------------------
# life-circle coverage reads like a real central district (issue 14, item 7)
# ---------------------------------------------------------------------------
def _coverage(c: SampleCity):
    from facilities.coverage import compute_coverage
    from geo_service.core.network import WalkNetwork
    from geo_service.core.norms import load_norms

    units = c.population_units.assign(id=np.arange(1, len(c.population_units) + 1))
    net = WalkNetwork.from_frames(c.network_nodes, c.network_edges, metric_crs=METRIC)
    return compute_coverage(net, units, c.facilities, load_norms(), communities=c.communities)


@pytest.fixture(scope="module")
def coverage(city):
    return _coverage(city)


def _check_plausible(result) -> None:
    summary = result.summary()
    complete = {lv["level"]: lv["complete_rate"] for lv in summary["levels"]}
    # a clear majority has the whole 5-minute circle; the 10- and 15-minute circles are high, never complete
    assert 0.55 <= complete["5min"] <= 0.95, complete
    assert 0.65 <= complete["10min"] < 0.98, complete
    assert 0.65 <= complete["15min"] < 0.98, complete
    # every required category reaches most residents and none reaches all (there are gaps everywhere)
    for cat in summary["categories"]:
        assert 0.6 <= cat["walk_rate"] < 1.0, cat
        # barriers and detours cost something: the crow-fly figure is never below the walking one
        assert cat["straight_rate"] >= cat["walk_rate"], cat
    # the complete circle is never more than its least covered category
    for lv in summary["levels"]:
        least = min(c["walk_rate"] for c in summary["categories"] if c["category"] in lv["required"])
        assert lv["complete_rate"] <= least + 1e-9


def test_life_circles_plausible(coverage):
    _check_plausible(coverage)
    # some communities have the whole 5-minute circle for every resident, some for hardly anyone
    per_comm = coverage.rates("community_code")["complete_5min_rate"]
    assert (per_comm > 0.95).sum() >= 10 and (per_comm < 0.3).sum() >= 3


@pytest.mark.parametrize("scale,seed", [(1.0, 1), (1.0, 2), (1.0, 3), (1.0, 4), (5.0, 0)])
def test_life_circles_plausible_other_seeds_and_scales(scale, seed):
    _check_plausible(_coverage(generate_sample_city(scale=scale, seed=seed)))


def _gap_centre(g) -> shapely.Point:
    import geopandas as gpd

    return gpd.GeoSeries.from_xy([g["center_lonlat"][0]], [g["center_lonlat"][1]], crs=4326).to_crs(METRIC).iloc[0]


def test_deliberate_gaps_show_in_coverage(city, coverage):
    units = coverage.units.to_crs(METRIC)
    rp = units.geometry.representative_point()
    res = units["residents"].to_numpy(dtype=float)
    gaps = city.metadata["deliberate_gaps"]
    assert {g["category"] for g in gaps} == {"kindergarten", "elderly_day_care", "sports_center"}
    for g in gaps:
        cat = g["category"]
        assert g["place_zh"] and g["note_zh"], g
        covered = units[f"{cat}_covered"].to_numpy()
        city_rate = (res * covered).sum() / res.sum()
        inside = (rp.distance(_gap_centre(g)) < g["radius_m"]).to_numpy()
        assert res[inside].sum() > 1000, g  # the gaps are where people live
        inside_rate = (res * covered)[inside].sum() / res[inside].sum()
        if cat == "kindergarten":
            assert inside_rate == 0.0, g  # no kindergarten within 300 m of any point of the disc
            assert all(cat in m for m in units.loc[inside, "missing"]), g
        else:
            assert inside_rate < 0.75 * city_rate, (g, inside_rate, city_rate)
    # the street without a sports centre is the least covered street for it
    g = next(g for g in gaps if g["category"] == "sports_center")
    fa = city.facilities
    admin = city.admin_areas.set_index("code")
    street_geom = admin.geometry.loc[g["street_code"]]
    assert not fa.loc[fa["category"] == "sports_center"].within(street_geom).any()
    rates = coverage.rates("street_code")["sports_center_rate"]
    assert rates.idxmin() == g["street_code"] and rates.min() < 0.7
    assert g["place_zh"] == admin.loc[g["street_code"], "name"]


def test_communities_without_office_lack_the_complete_circle_at_home(city, coverage):
    """A community without a fixed office (社区无固定办公用房) is covered only near a neighbour's office."""
    co = city.communities.set_index("code")
    without = co.index[~co["has_fixed_office"].astype(bool)]
    assert len(without) >= 3
    rates = coverage.rates("community_code")
    assert rates.loc[without, "community_office_rate"].mean() < 0.5 * rates["community_office_rate"].mean()
