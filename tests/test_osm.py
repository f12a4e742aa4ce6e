"""Tests of geo_service.core.osm on the real OSM extracts of shared/data and on
small synthetic files.

The network counts are checked three ways: against an independent osmnx
computation done here (same walking filter, written again from the
specification), against pinned numbers (so that a silent change is caught),
and across formats (.osm, .osm.bz2, .osm.pbf made at test time).
"""

from __future__ import annotations

import bz2
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import osmium
import pytest
from pyproj import Geod
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import Point, box

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.layers import FACILITIES, SHELTERS
from geo_service.core.osm import (
    OSMData,
    copy_osm_file,
    facility_category,
    read_bounds,
    read_osm,
    road_class,
    shelter_class,
    walk_exclusion,
)
from tests.conftest import SHARED_DATA as DATA  # noqa: E402  (shared/ beside the clone, or GEO_SHARED_DATA)

EXTRACTS = {
    "wudaokou": "osm_beijing_wudaokou_2017.osm",
    "cau": "osm_beijing_cau_2026.osm",
    "guixi": "osm_jiangxi_guixi_2024.osm",
}

# Observed with osmnx 2.1.1 (simplified per OSM way, clipped, largest component).
PINNED = {
    "wudaokou": {"nodes": 893, "edges": 1300, "ways_read": 684, "loops_split": 2},
    "cau": {"nodes": 416, "edges": 587, "ways_read": 302, "loops_split": 0},
    "guixi": {"nodes": 315, "edges": 449, "ways_read": 176, "loops_split": 1},
}
BOUNDS = {
    "wudaokou": (116.3084, 39.9905, 116.3320, 40.0123),
    "cau": (116.34403, 39.99767, 116.35974, 40.00888),
    "guixi": (117.19116, 28.28171, 117.25519, 28.32252),
}

GEOD = Geod(ellps="WGS84")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def _path(name: str) -> Path:
    p = DATA / EXTRACTS[name]
    if not p.is_file():
        pytest.skip(f"{p} not available")
    return p


@pytest.fixture(scope="module")
def xml_results() -> dict[str, OSMData]:
    return {name: read_osm(_path(name)) for name in EXTRACTS}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, dict[str, Path]]:
    out: dict[str, dict[str, Path]] = {}
    tmp = tmp_path_factory.mktemp("osm_formats")
    for name in EXTRACTS:
        src = _path(name)
        pbf = tmp / f"{name}.osm.pbf"
        copy_osm_file(src, pbf)
        bz = tmp / f"{name}.osm.bz2"
        with src.open("rb") as fin, bz2.open(bz, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        out[name] = {"pbf": pbf, "bz2": bz}
    return out


# --------------------------------------------------------------------------
# independent osmnx computation
# --------------------------------------------------------------------------


def _ref_walkable(d: dict) -> bool:
    """The walking filter of the specification, written independently."""
    hw = d.get("highway")
    if not isinstance(hw, str):
        return False
    foot = d.get("foot")
    if (hw.startswith("motorway") or hw.startswith("trunk")) and foot != "yes":
        return False
    if hw in {"construction", "proposed", "abandoned", "platform", "raceway", "bus_guideway", "escape"}:
        return False
    if d.get("access") in {"private", "no"} and foot not in {"yes", "designated", "permissive"}:
        return False
    return foot != "no" and d.get("service") != "private"


def _reference(path: Path, bounds) -> dict[str, int]:
    import osmnx as ox

    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = [*old, "foot", "footway"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    G.remove_edges_from([(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not _ref_walkable(d)])
    G.remove_nodes_from([n for n in list(G) if G.degree(n) == 0])
    S = ox.simplify_graph(G, edge_attrs_differ=["osmid"])
    T = ox.truncate.truncate_graph_bbox(S, bounds)
    T = ox.truncate.largest_component(T, strongly=False)
    U = ox.convert.to_undirected(T)
    loops = sum(1 for u, v in U.edges() if u == v)
    # distinct OSM ways with the very same geometry (overlapping ways)
    seen, same_geometry = set(), 0
    for _u, _v, d in U.edges(data=True):
        c = tuple(d["geometry"].coords)
        key = min(c, c[::-1])
        same_geometry += key in seen
        seen.add(key)
    return {"nodes": len(U), "edges": U.number_of_edges(), "loops": loops, "same_geometry": same_geometry}


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_counts_match_independent_osmnx(name, xml_results):
    data = xml_results[name]
    ref = _reference(_path(name), BOUNDS[name])
    # each loop is split at its middle node: one node and one edge more
    assert len(data.nodes) == ref["nodes"] + ref["loops"]
    assert len(data.edges) == ref["edges"] + ref["loops"] - ref["same_geometry"]
    assert data.stats["split_nodes"] == ref["loops"]


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_pinned_counts(name, xml_results):
    data = xml_results[name]
    pinned = PINNED[name]
    assert data.stats["nodes"] == len(data.nodes) == pinned["nodes"]
    assert data.stats["edges"] == len(data.edges) == pinned["edges"]
    assert data.stats["ways_read"] == pinned["ways_read"]
    assert data.stats["loops_split"] == pinned["loops_split"]


# --------------------------------------------------------------------------
# network properties
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_bounds_from_header(name, xml_results):
    assert xml_results[name].bounds == pytest.approx(BOUNDS[name], abs=1e-9)
    assert read_bounds(_path(name)) == pytest.approx(BOUNDS[name], abs=1e-9)


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_network_connected_and_inside_bounds(name, xml_results):
    data = xml_results[name]
    nodes, edges = data.nodes, data.edges
    n = len(nodes)
    assert list(nodes.columns) == ["node_idx", "osm_id", "geometry"]
    assert list(edges.columns) == [
        "u",
        "v",
        "length_m",
        "road_class",
        "osm_way_id",
        "name",
        "steps",
        "kerb",
        "geometry",
    ]
    assert nodes.crs.to_epsg() == edges.crs.to_epsg() == 4326
    assert nodes["node_idx"].tolist() == list(range(n))
    assert nodes["osm_id"].is_unique and str(nodes["osm_id"].dtype) == "int64"
    assert str(edges["osm_way_id"].dtype) == "int64"
    assert edges["u"].between(0, n - 1).all() and edges["v"].between(0, n - 1).all()

    adj = coo_matrix((np.ones(len(edges)), (edges["u"], edges["v"])), shape=(n, n))
    n_comp, _ = connected_components(adj, directed=False)
    assert n_comp == 1
    # every node carries an edge
    assert set(edges["u"]) | set(edges["v"]) == set(range(n))

    minx, miny, maxx, maxy = data.bounds
    assert nodes.geometry.x.between(minx, maxx).all()
    assert nodes.geometry.y.between(miny, maxy).all()


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_edges_segments_once_and_lengths(name, xml_results):
    data = xml_results[name]
    nodes, edges = data.nodes, data.edges
    assert (edges["u"] != edges["v"]).all()  # loops were split, none remain
    # a two-way street appears once; parallel edges only with different geometry
    keys = set()
    for geom in edges.geometry:
        c = tuple(geom.coords)
        key = min(c, c[::-1])
        assert key not in keys
        keys.add(key)

    assert (edges["length_m"] > 0).all()
    geodesic = np.array([GEOD.geometry_length(g) for g in edges.geometry])
    assert np.allclose(edges["length_m"].to_numpy(), geodesic, rtol=0.01)
    assert edges.geometry.geom_type.eq("LineString").all()

    # geometry runs from u to v
    pts = nodes.geometry
    for u, v, geom in zip(edges["u"], edges["v"], edges.geometry, strict=True):
        assert Point(geom.coords[0]).distance(pts.iloc[u]) < 1e-9
        assert Point(geom.coords[-1]).distance(pts.iloc[v]) < 1e-9


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_road_classes(name, xml_results):
    edges = xml_results[name].edges
    assert set(edges["road_class"]) <= set(vocab.ROAD_CLASSES)
    assert {"arterial", "local", "crossing"} <= set(edges["road_class"])
    # the walking filter removed what it must
    stats = xml_results[name].stats
    assert stats["ways_kept"] <= stats["ways_read"] - stats["dropped_by_filter"]


def test_filtered_ways_absent(xml_results):
    """Motorways, platforms and construction ways are not in the network."""
    dropped = {}
    for obj in osmium.FileProcessor(str(_path("wudaokou"))).with_filter(osmium.filter.KeyFilter("highway")):
        if obj.is_way():
            tags = dict(obj.tags)
            if walk_exclusion(tags) is not None:
                dropped[obj.id] = tags["highway"]
    assert "platform" in dropped.values() and "motorway" in dropped.values()
    assert not set(dropped) & set(xml_results["wudaokou"].edges["osm_way_id"])
    assert xml_results["wudaokou"].stats["dropped_by_reason"]["excluded_highway"] == 44  # 44 platforms


# --------------------------------------------------------------------------
# facilities
# --------------------------------------------------------------------------


def _check_layer_frame(gdf, spec):
    assert list(gdf.columns) == ["source_id", *spec.field_names, "geometry"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf["source_id"].map(lambda s: bool(re.fullmatch(r"osm:(node|way|relation)/\d+", s))).all()
    assert gdf["source_id"].is_unique
    assert set(gdf.geometry.geom_type) <= set(spec.geometry_types)
    assert set(gdf["status"]) <= set(vocab.FACILITY_STATUS)
    for f in spec.fields:
        if f.min_value is not None:
            assert (gdf[f.name].dropna() >= f.min_value).all()


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_facility_frames(name, xml_results):
    data = xml_results[name]
    _check_layer_frame(data.facilities, FACILITIES)
    _check_layer_frame(data.shelters, SHELTERS)
    assert set(data.facilities["category"]) <= set(vocab.FACILITY_CATEGORIES)
    assert (data.facilities["status"] == "existing").all()
    # nodes stay points, ways/relations stay polygons
    is_node = data.facilities["source_id"].str.startswith("osm:node/")
    assert data.facilities.geometry[is_node].geom_type.eq("Point").all()
    poly = data.facilities.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    assert (data.facilities["land_area_m2"].notna() <= poly).all()
    # facilities intersect the extract
    assert data.facilities.intersects(box(*data.bounds)).all()
    # no shelter is tagged in these extracts (README: no emergency=assembly_point)
    assert len(data.shelters) == 0
    assert data.stats["facilities"] == len(data.facilities)
    assert data.stats["unmapped_features"] > 0


def _by_cat(data: OSMData) -> dict[str, int]:
    return data.facilities["category"].value_counts().to_dict()


def test_wudaokou_facilities(xml_results):
    data = xml_results["wudaokou"]
    cats = _by_cat(data)
    # README: amenity school 8, kindergarten 1, pharmacy 2, toilets 6, library 3, leisure=park 12
    assert cats["kindergarten"] >= 1
    assert cats.get("primary_school", 0) + cats.get("middle_school", 0) >= 3
    assert cats["middle_school"] >= 2
    assert cats["pharmacy"] == 2
    assert cats["public_toilet"] == 6
    assert cats["residential_park"] == 12
    assert cats["culture_station"] >= 2
    names = dict(zip(data.facilities["name"], data.facilities["category"], strict=True))
    assert names["清华附小"] == "primary_school"
    assert names["清华大学附属中学"] == "middle_school"
    assert "诗雅艺术学校" not in names  # art school: not a primary school
    # hospitals are not community facilities
    assert "清华大学医院" not in names
    # the kindergarten node inside the kindergarten polygon is the same place
    assert data.stats["facility_duplicates_dropped"] >= 1


def test_cau_facilities(xml_results):
    data = xml_results["cau"]
    cats = _by_cat(data)
    # README: kindergarten 2, school 3, pharmacy 2, marketplace 2, convenience 17
    assert cats["kindergarten"] == 2
    assert cats["primary_school"] == 2 and cats["middle_school"] == 1
    assert cats["pharmacy"] == 2
    assert cats["market"] == 2
    assert cats["convenience_store"] >= 17
    names = dict(zip(data.facilities["name"], data.facilities["category"], strict=True))
    # amenity=hospital named 社区卫生服务中心; name:zh holds English, so the
    # Chinese name is taken
    assert names["中国农业大学东区社区卫生服务中心"] == "health_center"
    assert "北京京城皮肤病医院" not in names


def test_guixi_facilities(xml_results):
    data = xml_results["guixi"]
    cats = _by_cat(data)
    assert cats["middle_school"] == 4  # 贵溪五中, 实验中学, 第四中学, 第九中学
    names = dict(zip(data.facilities["name"], data.facilities["category"], strict=True))
    assert names["东门街道办事处"] == "street_office"
    assert "贵溪市人民政府" not in names  # city government, not a community facility
    assert names["早闲公园"] == "residential_park"


# --------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------


def _assert_same(a: OSMData, b: OSMData):
    assert a.bounds == pytest.approx(b.bounds, abs=1e-9)
    assert len(a.nodes) == len(b.nodes) and len(a.edges) == len(b.edges)
    assert a.nodes.equals(b.nodes)
    assert a.edges.drop(columns="length_m").equals(b.edges.drop(columns="length_m"))
    assert np.allclose(a.edges["length_m"], b.edges["length_m"])
    assert a.facilities["source_id"].tolist() == b.facilities["source_id"].tolist()
    assert a.facilities["category"].tolist() == b.facilities["category"].tolist()
    assert len(a.shelters) == len(b.shelters)


@pytest.mark.parametrize("fmt", ["pbf", "bz2"])
@pytest.mark.parametrize("name", list(EXTRACTS))
def test_formats_give_same_result(name, fmt, xml_results, converted):
    data = read_osm(converted[name][fmt])
    assert data.stats["format"] == ("pbf" if fmt == "pbf" else "xml")
    assert data.stats["nodes"] == PINNED[name]["nodes"]
    assert data.stats["edges"] == PINNED[name]["edges"]
    _assert_same(xml_results[name], data)


def test_pbf_without_header_box_uses_node_extent(tmp_path):
    src = _path("guixi")
    dst = tmp_path / "nobox.osm.pbf"
    writer = osmium.SimpleWriter(str(dst))
    for obj in osmium.FileProcessor(str(src)):
        writer.add(obj)
    writer.close()
    minx, miny, maxx, maxy = read_bounds(dst)
    b = BOUNDS["guixi"]
    # API exports hold whole ways, so the node extent contains the request box
    assert minx <= b[0] and miny <= b[1] and maxx >= b[2] and maxy >= b[3]


# --------------------------------------------------------------------------
# options and errors
# --------------------------------------------------------------------------


def test_options_and_progress(xml_results):
    seen = []
    data = read_osm(_path("guixi"), clip_to_bounds=False, largest_component=False, progress=lambda s, f: seen.append(f))
    fractions = [f for f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    clipped = xml_results["guixi"]
    assert len(data.nodes) > len(clipped.nodes)
    minx, miny, maxx, maxy = data.bounds
    outside = ~(data.nodes.geometry.x.between(minx, maxx) & data.nodes.geometry.y.between(miny, maxy))
    assert outside.any()


def test_osmnx_settings_restored():
    import osmnx as ox

    before = list(ox.settings.useful_tags_way)
    read_osm(_path("guixi"))
    assert ox.settings.useful_tags_way == before


def test_errors(tmp_path):
    with pytest.raises(InputError):
        read_osm(tmp_path / "missing.osm")
    bad = tmp_path / "x.geojson"
    bad.write_text("{}")
    with pytest.raises(InputError):
        read_osm(bad)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1'")
    with pytest.raises(InputError):
        read_osm(broken)


# --------------------------------------------------------------------------
# synthetic extract: filter, loops, rings, clipping, shelters
# --------------------------------------------------------------------------

# a 0.01 degree box; node coordinates as (lon, lat)
_NODES = {
    1: (116.001, 39.005),
    2: (116.003, 39.005),
    3: (116.005, 39.005),
    4: (116.003, 39.007),
    5: (116.007, 39.005),
    6: (116.003, 39.009),
    7: (116.002, 39.008),
    8: (116.003, 39.0088),
    9: (116.004, 39.008),
    10: (116.001, 39.003),
    11: (116.002, 39.002),
    12: (116.002, 38.990),  # outside the box
    13: (116.0025, 39.0015),
    20: (116.008, 39.001),  # free-standing ring
    21: (116.009, 39.001),
    22: (116.0085, 39.002),
    30: (116.0060, 39.0060),  # park / assembly point polygon
    31: (116.0075, 39.0060),
    32: (116.0075, 39.0075),
    33: (116.0060, 39.0075),
    40: (116.0061, 39.0061),
    41: (116.0062, 39.0062),
    42: (116.0063, 39.0063),
    43: (116.0064, 39.0064),
    44: (116.0065, 39.0065),
    45: (116.0066, 39.0066),
    46: (116.0067, 39.0067),
}
_WAYS = [
    (101, [1, 2, 3], {"highway": "residential", "name": "甲路"}),
    (102, [2, 4], {"highway": "footway"}),
    (103, [3, 5], {"highway": "motorway"}),
    (104, [4, 6], {"highway": "service", "access": "private"}),
    (105, [4, 7, 8, 9, 4], {"highway": "footway"}),  # loop attached at 4
    (106, [1, 10], {"highway": "primary", "bridge": "yes"}),
    (107, [10, 11], {"highway": "footway", "footway": "crossing"}),
    (108, [11, 13, 12], {"highway": "path"}),  # runs out of the box
    (109, [20, 21, 22, 20], {"highway": "footway"}),  # isolated ring
    (110, [3, 5], {"highway": "trunk", "foot": "yes"}),
    (
        111,
        [30, 31, 32, 33, 30],
        {"leisure": "park", "emergency": "assembly_point", "name": "某公园紧急避难场所", "capacity": "500"},
    ),  # fmt: skip
]
_POIS = {
    40: {"amenity": "shelter", "shelter_type": "public_transport"},
    41: {
        "amenity": "townhall",
        "name": "某某社区居委会",
        "addr:city": "德阳市",
        "addr:street": "长江路",
        "addr:housenumber": "8号",
    },  # fmt: skip
    42: {"amenity": "townhall", "name": "某市人民政府"},
    43: {"amenity": "social_facility", "social_facility": "nursing_home", "name": "幸福养老院", "capacity": "120"},
    44: {"amenity": "restaurant", "name": "饭店"},
    45: {"amenity": "hospital", "name": "某某医院"},
    46: {"leisure": "park", "name": "公园入口"},  # point inside the park polygon: duplicate
}


def _write_synthetic(path: Path) -> None:
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6' generator='test'>",
             "<bounds minlat='39.0' minlon='116.0' maxlat='39.01' maxlon='116.01'/>"]  # fmt: skip
    for nid, (lon, lat) in _NODES.items():
        tags = _POIS.get(nid, {})
        inner = "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
        lines.append(f"<node id='{nid}' version='1' lat='{lat}' lon='{lon}'>{inner}</node>")
    for wid, refs, tags in _WAYS:
        inner = "".join(f"<nd ref='{r}'/>" for r in refs) + "".join(f"<tag k='{k}' v='{v}'/>" for k, v in tags.items())
        lines.append(f"<way id='{wid}' version='1'>{inner}</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture()
def synthetic(tmp_path) -> Path:
    p = tmp_path / "synthetic.osm"
    _write_synthetic(p)
    return p


def test_synthetic_network(synthetic):
    data = read_osm(synthetic)
    nodes, edges = data.nodes, data.edges
    osm_of = dict(zip(nodes["node_idx"], nodes["osm_id"], strict=True))
    pairs = sorted(
        (tuple(sorted((osm_of[u], osm_of[v]))), w, c)
        for u, v, w, c in zip(edges["u"], edges["v"], edges["osm_way_id"], edges["road_class"], strict=True)
    )
    assert pairs == [
        ((1, 2), 101, "local"),
        ((1, 10), 106, "crossing"),
        ((2, 3), 101, "local"),
        ((2, 4), 102, "path"),
        ((3, 5), 110, "arterial"),  # trunk with foot=yes; the motorway is dropped
        ((4, 8), 105, "path"),  # the loop 4-7-8-9-4, split at 8
        ((4, 8), 105, "path"),
        ((10, 11), 107, "crossing"),
        # way 108 (11-13-12) leaves the box: simplified to one edge 11-12
        # whose end is outside, so clipping drops it whole
    ]
    assert (edges["u"] != edges["v"]).all()
    assert data.stats["loops_split"] == 2  # loop 105 and ring 109
    assert data.stats["split_nodes"] == 1  # node 8 (the ring is not in the largest component)
    assert data.stats["dropped_by_reason"] == {"access": 1, "motorway_trunk": 1}
    assert data.stats["components_removed"] == 1  # the free-standing ring
    assert 6 not in set(nodes["osm_id"]) and 12 not in set(nodes["osm_id"])


def test_synthetic_ring_kept_without_largest_component(synthetic):
    data = read_osm(synthetic, largest_component=False)
    ring = data.edges[data.edges["osm_way_id"] == 109]
    assert len(ring) == 2  # cut at two nodes, two different halves
    assert (ring["u"] != ring["v"]).all()
    assert ring.geometry.iloc[0].coords[:] != ring.geometry.iloc[1].coords[::-1]


def test_synthetic_facilities_and_shelters(synthetic):
    data = read_osm(synthetic)
    fac = data.facilities.set_index("source_id")
    assert fac.loc["osm:node/41", "category"] == "community_office"
    assert fac.loc["osm:node/41", "address"] == "德阳市 长江路 8号"
    assert fac.loc["osm:node/43", "category"] == "elderly_home"
    assert fac.loc["osm:node/43", "capacity"] == 120
    assert fac.loc["osm:way/111", "category"] == "residential_park"
    assert fac.loc["osm:way/111", "land_area_m2"] > 10000
    for sid in ("osm:node/40", "osm:node/42", "osm:node/44", "osm:node/45", "osm:node/46"):
        assert sid not in fac.index
    assert data.stats["facility_duplicates_dropped"] == 1  # the park entrance point
    assert data.stats["unmapped_features"] == 4  # shelter, city government, restaurant, hospital

    assert data.shelters["source_id"].tolist() == ["osm:way/111"]
    shelter = data.shelters.iloc[0]
    assert shelter["shelter_class"] == "emergency"
    assert shelter["capacity_persons"] == 500
    expected = abs(GEOD.geometry_area_perimeter(shelter.geometry)[0])
    assert shelter["effective_area_m2"] == pytest.approx(expected, rel=1e-3)
    assert 15000 < expected < 25000  # 0.0015 deg x 0.0015 deg at 39 N


def test_synthetic_pbf(synthetic, tmp_path):
    pbf = tmp_path / "synthetic.osm.pbf"
    copy_osm_file(synthetic, pbf)
    _assert_same(read_osm(synthetic), read_osm(pbf))


# --------------------------------------------------------------------------
# tag rules
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "footway"}, None),
        ({"highway": "motorway_link"}, "motorway_trunk"),
        ({"highway": "trunk", "foot": "yes"}, None),
        ({"highway": "platform"}, "excluded_highway"),
        ({"highway": "construction"}, "excluded_highway"),
        ({"highway": "service", "access": "private"}, "access"),
        ({"highway": "service", "access": "no", "foot": "designated"}, None),
        ({"highway": "path", "foot": "no"}, "foot_no"),
        ({"highway": "service", "service": "private"}, "service_private"),
        ({"highway": "bus_stop"}, "unknown_highway"),
        ({"building": "yes"}, "not_highway"),
    ],
)
def test_walk_exclusion(tags, expected):
    assert walk_exclusion(tags) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "primary"}, "arterial"),
        ({"highway": "tertiary_link"}, "arterial"),
        ({"highway": "living_street"}, "local"),
        ({"highway": "steps"}, "path"),
        ({"highway": "corridor"}, "path"),
        ({"highway": "residential", "bridge": "yes"}, "crossing"),
        ({"highway": "footway", "tunnel": "yes"}, "crossing"),
        ({"highway": "footway", "footway": "crossing"}, "crossing"),
        ({"highway": "footway", "tunnel": "building_passage"}, "path"),
        ({"highway": "footway", "bridge": "no"}, "path"),
    ],
)
def test_road_class(tags, expected):
    assert road_class(tags) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"amenity": "kindergarten"}, "kindergarten"),
        ({"amenity": "childcare"}, "nursery"),
        ({"amenity": "school", "name": "某某小学"}, "primary_school"),
        ({"amenity": "school", "name": "某某实验中学"}, "middle_school"),
        ({"amenity": "school", "name": "贵溪五中"}, "middle_school"),
        ({"amenity": "school", "name:en": "No. 3 Middle School"}, "middle_school"),
        ({"amenity": "school", "name": "某某幼儿园"}, "kindergarten"),
        ({"amenity": "school", "name": "某某驾校"}, None),
        ({"amenity": "school"}, "primary_school"),
        ({"amenity": "school", "isced:level": "2"}, "middle_school"),
        ({"amenity": "clinic"}, "health_station"),
        ({"amenity": "doctors"}, "health_station"),
        ({"healthcare": "centre"}, "health_center"),
        ({"amenity": "hospital", "name": "某医院"}, None),
        ({"amenity": "hospital", "name": "某街道社区卫生服务中心"}, "health_center"),
        ({"amenity": "social_facility", "social_facility": "nursing_home"}, "elderly_home"),
        (
            {"amenity": "social_facility", "social_facility": "day_care", "social_facility:for": "senior"},
            "elderly_day_care",
        ),  # fmt: skip
        ({"amenity": "social_facility", "social_facility:for": "senior"}, "elderly_day_care"),
        ({"amenity": "social_facility", "social_facility": "shelter", "social_facility:for": "homeless"}, None),
        ({"amenity": "community_centre"}, "community_service_station"),
        ({"amenity": "community_centre", "name": "某街道社区服务中心"}, "community_service_center"),
        ({"amenity": "townhall"}, "street_office"),
        ({"amenity": "townhall", "name": "东门街道办事处"}, "street_office"),
        ({"amenity": "townhall", "townhall:type": "community"}, "community_office"),
        ({"amenity": "townhall", "name": "某某社区居委会"}, "community_office"),
        ({"amenity": "townhall", "name": "贵溪市人民政府"}, None),
        ({"amenity": "townhall", "townhall:type": "city"}, None),
        ({"amenity": "marketplace"}, "market"),
        ({"shop": "supermarket"}, "supermarket"),
        ({"shop": "convenience;hairdresser"}, "convenience_store"),
        ({"amenity": "pharmacy"}, "pharmacy"),
        ({"amenity": "toilets"}, "public_toilet"),
        ({"amenity": "toilets", "access": "customers"}, None),
        ({"amenity": "post_office"}, "express_station"),
        ({"amenity": "parcel_locker"}, "express_station"),
        ({"leisure": "park"}, "residential_park"),
        ({"leisure": "pitch"}, "sports_ground"),
        ({"leisure": "fitness_station"}, "sports_ground"),
        ({"leisure": "sports_centre"}, "sports_center"),
        ({"amenity": "library"}, "culture_station"),
        ({"amenity": "arts_centre"}, "culture_station"),
        ({"amenity": "restaurant"}, None),
        ({"amenity": "restaurant", "name": "某社区老年助餐点"}, "canteen"),
        ({"amenity": "shelter"}, None),
    ],
)
def test_facility_category(tags, expected):
    assert facility_category(tags) == expected
    if expected is not None:
        assert expected in vocab.FACILITY_CATEGORIES


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"emergency": "assembly_point"}, "emergency"),
        ({"emergency": "assembly_point", "name": "某公园中心避难场所"}, "central"),
        ({"amenity": "school", "emergency:social_facility": "shelter"}, "fixed"),
        ({"amenity": "shelter", "shelter_type": "weather_shelter"}, None),
        ({"amenity": "hospital", "emergency": "yes"}, None),
        ({"emergency": "shelter"}, None),
        ({"leisure": "park"}, None),
    ],
)
def test_shelter_class(tags, expected):
    assert shelter_class(tags) == expected
    if expected is not None:
        assert expected in vocab.SHELTER_CLASSES
