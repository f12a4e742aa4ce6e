"""Tests of geo_service.core.crs (no network)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo_service.core._errors import CRSError
from geo_service.core.crs import (
    CHINA_BOX,
    SourceCRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    choose_metric_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    looks_swapped,
    metric_crs_for,
    parse_source_crs,
    plausible_lonlat,
    to_wgs84,
    transform_geometries,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = pyproj.Geod(ellps="WGS84")


def dist_m(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# --- published reference vectors -------------------------------------------

# googollee/eviltransform, transform_test.go: (wgs lat, wgs lng, gcj lat, gcj lng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# wandergis/coordtransform README, input (116.404, 39.915) near Tiananmen
CT_IN = (116.404, 39.915)
CT_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
CT_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
CT_BD_TO_GCJ = (116.39762729119315, 39.90865673957631)
CT_GCJ_TO_WGS_APPROX = (116.39775550083061, 39.91359571849836)  # one-step approximation


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_wgs_to_gcj_eviltransform_vectors(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-10)
    assert lat == pytest.approx(glat, abs=1e-10)


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_gcj_to_wgs_inverts_eviltransform_vectors(wlat, wlon, glat, glon):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert lon == pytest.approx(wlon, abs=1e-9)
    assert lat == pytest.approx(wlat, abs=1e-9)


def test_coordtransform_vectors():
    assert np.allclose(wgs84_to_gcj02(*CT_IN), CT_WGS_TO_GCJ, rtol=0, atol=1e-10)
    assert np.allclose(gcj02_to_bd09(*CT_IN), CT_GCJ_TO_BD, rtol=0, atol=1e-10)
    assert np.allclose(bd09_to_gcj02(*CT_IN), CT_BD_TO_GCJ, rtol=0, atol=1e-10)
    # coordtransform's gcj02towgs84 is a single step; the iterated inverse is within a metre of it
    lon, lat = gcj02_to_wgs84(*CT_IN)
    assert dist_m(lon, lat, *CT_GCJ_TO_WGS_APPROX) < 1.0
    # and, unlike the single step, it is exact
    assert np.allclose(wgs84_to_gcj02(lon, lat), CT_IN, rtol=0, atol=1e-11)


# --- round trips -----------------------------------------------------------------


def _china_grid(n_lon=661, n_lat=551):
    x0, y0, x1, y1 = CHINA_BOX
    lon, lat = np.meshgrid(np.linspace(x0, x1, n_lon), np.linspace(y0, y1, n_lat))
    return lon, lat


def test_gcj_round_trip_grid_over_china():
    lon, lat = _china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon.shape == lon.shape
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    err = dist_m(lon.ravel(), lat.ravel(), wlon.ravel(), wlat.ravel())
    print(f"GCJ-02 round trip, {err.size} points: max error {err.max():.3e} m")
    assert err.max() < 0.5
    assert err.max() < 1e-3  # in practice ~1e-8 m


def test_bd_round_trip_grid_over_china():
    lon, lat = _china_grid(331, 276)
    wlon, wlat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    err = dist_m(lon.ravel(), lat.ravel(), wlon.ravel(), wlat.ravel())
    print(f"BD-09 round trip (closed-form BD inverse): max error {err.max():.3f} m")
    assert err.max() < 0.5


def test_deyang_offsets():
    lon, lat = 104.40, 31.13
    glon, glat = wgs84_to_gcj02(lon, lat)
    gcj_off = dist_m(lon, lat, glon, glat)
    assert 100 < gcj_off < 700
    blon, blat = wgs84_to_bd09(lon, lat)
    assert dist_m(glon, glat, blon, blat) > 100  # BD-09 adds a further offset
    assert dist_m(lon, lat, blon, blat) > gcj_off


def test_outside_china_unchanged_and_nan():
    lon = np.array([-0.1276, 151.2093, 72.0, 138.0, np.nan])
    lat = np.array([51.5072, -33.8688, 30.0, 40.0, 30.0])
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        olon, olat = f(lon, lat)
        np.testing.assert_array_equal(olon, lon)
        np.testing.assert_array_equal(olat, lat)
    # the input arrays are not modified in place
    glon, _ = wgs84_to_gcj02(np.array([104.4]), np.array([31.13]))
    assert glon[0] != 104.4


def test_scalars_and_broadcasting():
    lon, lat = wgs84_to_gcj02(104.4, 31.13)
    assert np.ndim(lon) == 0 and isinstance(float(lon), float)
    lon2, lat2 = gcj02_to_wgs84(np.array([[104.4, 104.5]]), 31.13)
    assert lon2.shape == lat2.shape == (1, 2)


# --- geometries ---------------------------------------------------------------------


def test_transform_geometries():
    geoms = np.array(
        [
            Point(104.4, 31.13),
            LineString([(104.4, 31.13), (104.41, 31.14)]),
            Polygon([(104.4, 31.1), (104.5, 31.1), (104.5, 31.2), (104.4, 31.1)]),
            None,
            Point(),
        ],
        dtype=object,
    )
    out = transform_geometries(geoms, wgs84_to_gcj02)
    assert out[3] is None and out[4].is_empty
    x, y = wgs84_to_gcj02(104.4, 31.13)
    assert out[0].x == pytest.approx(x) and out[0].y == pytest.approx(y)
    back = transform_geometries(out, gcj02_to_wgs84)
    np.testing.assert_allclose(shapely.get_coordinates(back), shapely.get_coordinates(geoms), atol=1e-10)


def test_transform_geometries_geoseries_keeps_index_and_z():
    s = gpd.GeoSeries([Point(104.4, 31.13, 500.0), Point(104.5, 31.2)], index=["a", "b"], crs=4326)
    out = transform_geometries(s, wgs84_to_bd09)
    assert isinstance(out, gpd.GeoSeries) and list(out.index) == ["a", "b"] and out.crs == s.crs
    if shapely.__version__ >= "2.1":
        assert out["a"].has_z and out["a"].z == 500.0


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,kind,epsg",
    [
        ("EPSG:4326", "epsg", 4326),
        ("4326", "epsg", 4326),
        (4326, "epsg", 4326),
        ("epsg:4490", "epsg", 4490),
        ("CGCS2000", "epsg", 4490),
        ("WGS84", "epsg", 4326),
        ("wgs 84", "epsg", 4326),
        ("gcj02", "gcj02", None),
        ("GCJ-02", "gcj02", None),
        ("amap", "gcj02", None),
        ("tencent", "gcj02", None),
        ("高德", "gcj02", None),
        ("bd09", "bd09", None),
        ("BD-09", "bd09", None),
        ("baidu", "bd09", None),
        ("百度", "bd09", None),
        ("cgcs2000-gk3-35", "epsg", 4523),
        ("CGCS2000 3-degree GK zone 35", "epsg", 4523),
        ("CGCS2000 / 3-degree Gauss-Kruger zone 35", "epsg", 4523),
        ("CGCS2000 3-degree GK CM 105E", "epsg", 4544),
        ("cgcs2000-gk3-cm105", "epsg", 4544),
        ("CGCS2000 3度带 35带", "epsg", 4523),
        ("cgcs2000-gk6-18", "epsg", 4496),
        ("+proj=utm +zone=48 +datum=WGS84 +units=m", "epsg", 32648),
        ("WGS 84 / UTM zone 48N", "epsg", 32648),
    ],
)
def test_parse_source_crs(text, kind, epsg):
    src = parse_source_crs(text)
    assert isinstance(src, SourceCRS)
    assert src.kind == kind
    assert src.epsg == epsg
    assert src.label
    if kind == "epsg":
        assert isinstance(src.crs, pyproj.CRS)
    else:
        assert src.crs is None


def test_parse_wkt_and_passthrough():
    wkt = pyproj.CRS.from_epsg(4544).to_wkt()
    assert parse_source_crs(wkt).epsg == 4544
    src = parse_source_crs("gcj02")
    assert parse_source_crs(src) is src
    assert parse_source_crs(pyproj.CRS.from_epsg(4523)).epsg == 4523


def test_gk_epsg_ranges_match_pyproj_names():
    for zone in range(25, 46):
        name = parse_source_crs(f"cgcs2000-gk3-{zone}").crs.name
        assert name == f"CGCS2000 / 3-degree Gauss-Kruger zone {zone}"
    for cm in range(75, 136, 3):
        name = parse_source_crs(f"CGCS2000 3-degree GK CM {cm}E").crs.name
        assert name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


@pytest.mark.parametrize("text", ["foo", "", "EPSG:99999", "cgcs2000-gk3-50", "EPSG:5773", "mars", None])
def test_parse_unknown_raises(text):
    with pytest.raises(CRSError) as exc:
        parse_source_crs(text)
    err = exc.value
    assert "EPSG:<code>" in err.message and "GCJ-02" in err.message and "BD-09" in err.message
    assert "高德" in err.message_zh and "百度" in err.message_zh
    assert err.http_status == 422


# --- GeoDataFrames ---------------------------------------------------------------------


def _gdf(xs, ys, crs=None):
    return gpd.GeoDataFrame({"name": [f"p{i}" for i in range(len(xs))]}, geometry=gpd.points_from_xy(xs, ys), crs=crs)


def test_to_wgs84_from_gauss_kruger_handles_axis_order():
    lon, lat = np.array([104.40, 104.45]), np.array([31.13, 31.20])
    for epsg in (4544, 4523):
        e, n = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        assert e.max() < 36_000_000 and n.min() > 3_000_000  # x is the easting
        out = to_wgs84(_gdf(e, n), f"EPSG:{epsg}")
        assert out.crs.to_epsg() == 4326
        np.testing.assert_allclose(out.geometry.x, lon, atol=1e-8)
        np.testing.assert_allclose(out.geometry.y, lat, atol=1e-8)


def test_to_wgs84_cgcs2000_geographic_is_relabelled():
    g = _gdf([104.4], [31.13], crs=4490)
    out = to_wgs84(g)
    assert out.crs.to_epsg() == 4326
    assert out.geometry.x[0] == 104.4 and out.geometry.y[0] == 31.13
    assert g.crs.to_epsg() == 4490  # input untouched


def test_to_wgs84_from_gcj02_and_bd09():
    lon, lat = np.array([104.40, 116.3912]), np.array([31.13, 39.9067])
    g = _gdf(*wgs84_to_gcj02(lon, lat), crs=4326)  # wrongly labelled, as often
    out = to_wgs84(g, "高德")
    assert out.crs.to_epsg() == 4326 and list(out["name"]) == ["p0", "p1"]
    assert dist_m(out.geometry.x.values, out.geometry.y.values, lon, lat).max() < 0.01
    assert g.geometry.x[0] != out.geometry.x[0]  # a copy
    b = _gdf(*wgs84_to_bd09(lon, lat))
    out = to_wgs84(b, parse_source_crs("baidu"))
    assert dist_m(out.geometry.x.values, out.geometry.y.values, lon, lat).max() < 0.5


def test_to_wgs84_without_crs_raises():
    with pytest.raises(CRSError) as exc:
        to_wgs84(_gdf([104.4], [31.13]))
    assert "EPSG" in exc.value.message and exc.value.message_zh


# --- metric CRS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lon,lat,epsg,cm",
    [
        (104.40, 31.13, 4544, 105),  # Deyang
        (116.40, 39.90, 4548, 117),  # Beijing
        (87.60, 43.80, 4538, 87),  # Urumqi
        (126.60, 45.80, 4551, 126),  # Harbin
        (73.50, 39.00, 4534, 75),  # western edge: clamped to CM 75E
    ],
)
def test_choose_metric_crs_china(lon, lat, epsg, cm):
    crs = choose_metric_crs(lon, lat)
    assert crs.to_epsg() == epsg
    assert crs.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_choose_metric_crs_elsewhere_and_arrays():
    assert choose_metric_crs(13.40, 52.52).to_epsg() == 32633  # Berlin
    assert choose_metric_crs(151.21, -33.87).to_epsg() == 32756  # Sydney
    assert choose_metric_crs(-74.0, 40.7).to_epsg() == 32618  # New York
    # centre of the bounds decides; NaN ignored
    assert choose_metric_crs([104.0, 104.8, np.nan], [31.0, 31.3, 31.1]).to_epsg() == 4544
    with pytest.raises(CRSError):
        choose_metric_crs([np.nan], [np.nan])


def test_metric_crs_for():
    g = _gdf([104.30, 104.50], [31.05, 31.20], crs=4326)
    assert metric_crs_for(g).to_epsg() == 4544
    assert metric_crs_for(g.to_crs(4523)).to_epsg() == 4544
    assert metric_crs_for(_gdf([116.3, 116.5], [39.8, 40.0], crs=4490)).to_epsg() == 4548
    with pytest.raises(CRSError):
        metric_crs_for(_gdf([104.3], [31.1]))


# --- plausibility ------------------------------------------------------------------------


def test_plausible_and_swapped():
    lon = np.array([104.4, 31.13, 500000.0, -200.0, np.nan, 45.0])
    lat = np.array([31.13, 104.4, 3445000.0, 10.0, 10.0, 170.0])
    np.testing.assert_array_equal(plausible_lonlat(lon, lat), [True, False, False, False, False, False])
    np.testing.assert_array_equal(looks_swapped(lon, lat), [False, True, False, False, False, True])
    # (lat 80, lon 30) is a plausible Arctic point but, for China data, looks swapped
    assert looks_swapped(30.0, 80.0) and not looks_swapped(30.0, 80.0, china=False)
