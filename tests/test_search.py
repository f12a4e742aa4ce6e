"""Search on the project's own layers (facilities/search.py, GET /search, geo-service search): ranking on hand-built
frames, then the sample city through the function, over HTTP (the real app) and from the CLI."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from facilities.search import (
    MAX_QUERY_CHARS,
    SearchQuery,
    SearchService,
    build_index,
    normalize,
    pinyin_initials,
    search,
)
from geo_service.app import create_app
from geo_service.core._errors import InputError
from tests._auth import token_headers
from tests.conftest import sample_city_store


# ----------------------------------------------------------------------------- hand-built frames
def _frame(rows, geoms, **extra):
    return gpd.GeoDataFrame(
        {"id": list(range(1, len(rows) + 1)), **{k: [r.get(k) for r in rows] for k in rows[0]}, **extra},
        geometry=geoms,
        crs=4326,
    )


@pytest.fixture(scope="module")
def tiny():
    """A few named features around (104.40, 31.13)."""
    facilities = _frame(
        [
            {"name": "新华社区卫生服务站", "category": "health_station", "address": "德阳市旌湖街道长江东路12号"},
            {"name": "新华幼儿园", "category": "kindergarten", "address": "德阳市旌湖街道岷江西路3号"},
            {"name": "东山幼儿园", "category": "kindergarten", "address": "德阳市旌湖街道岷江西路9号"},
            {"name": "新华小区", "category": "community_office", "address": None},
        ],
        shapely.points([[104.40, 31.13], [104.41, 31.13], [104.45, 31.13], [104.42, 31.14]]),
    )
    units = _frame(
        [{"name": "新华小区", "unit_type": "compound"}, {"name": "新华花园", "unit_type": "compound"}],
        [shapely.box(104.42, 31.14, 104.43, 31.15), shapely.box(104.43, 31.14, 104.44, 31.15)],
    )
    roads = _frame(
        [{"name": "长江东路", "road_class": "arterial"}, {"name": "长江东路", "road_class": "arterial"}],
        [
            shapely.LineString([(104.40, 31.12), (104.41, 31.12)]),
            shapely.LineString([(104.41, 31.12), (104.42, 31.12)]),
        ],
    )
    admin = _frame(
        [{"name": "旌湖街道", "level": "street"}, {"name": "德阳示例区", "level": "county"}],
        [shapely.box(104.3, 31.0, 104.5, 31.2), shapely.box(104.2, 30.9, 104.6, 31.3)],
    )
    unnamed = _frame([{"name": None, "floors": 3, "use": "residential"}], [shapely.box(104.4, 31.1, 104.41, 31.11)])
    return build_index(
        {
            "facilities": facilities,
            "population_units": units,
            "roads": roads,
            "admin_areas": admin,
            "buildings": unnamed,
        }
    )


def _names(hits):
    return [h["name"] for h in hits]


def test_ranking_tiers_and_kind_priority(tiny):
    hits = search(tiny, SearchQuery.from_input("新华小区"))
    # exact first; the facility and the compound share the exact name: the facility (kind priority) leads
    assert [(h["name"], h["kind"], h["match"]) for h in hits[:2]] == [
        ("新华小区", "facility", "exact"),
        ("新华小区", "compound", "exact"),
    ]
    hits = search(tiny, SearchQuery.from_input("新华"))
    assert [h["match"] for h in hits] == ["prefix"] * 5
    # prefix ties: facility before compound, then the shorter name
    assert _names(hits) == ["新华小区", "新华幼儿园", "新华社区卫生服务站", "新华小区", "新华花园"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    sub = search(tiny, SearchQuery.from_input("卫生服务"))
    assert [(h["name"], h["match"]) for h in sub] == [("新华社区卫生服务站", "substring")]
    seq = search(tiny, SearchQuery.from_input("新卫站"))
    assert [(h["name"], h["match"]) for h in seq] == [("新华社区卫生服务站", "subsequence")]


def test_address_category_road_and_street(tiny):
    hits = search(tiny, SearchQuery.from_input("长江东路"))
    assert hits[0]["kind"] == "road" and hits[0]["match"] == "exact" and hits[0]["feature_count"] == 2
    assert (hits[1]["name"], hits[1]["matched_field"]) == ("新华社区卫生服务站", "address")
    # the road's point lies on one of its segments
    assert hits[0]["lat"] == pytest.approx(31.12) and 104.40 <= hits[0]["lon"] <= 104.42
    hits = search(tiny, SearchQuery.from_input("岷江西路9号"))
    assert _names(hits) == ["东山幼儿园"]
    kg = search(tiny, SearchQuery.from_input("幼儿园"))
    assert {h["name"] for h in kg} == {"新华幼儿园", "东山幼儿园"}
    assert search(tiny, SearchQuery.from_input("旌湖街道", kinds="street"))[0]["kind"] == "street"
    assert all(h["kind"] == "compound" for h in search(tiny, SearchQuery.from_input("新华", kinds=["compound"])))


def test_pinyin_initials_and_normalisation(tiny):
    assert pinyin_initials("新华小区") == "xhxq"
    hits = search(tiny, SearchQuery.from_input("xhxq"))
    assert [(h["name"], h["match"]) for h in hits] == [("新华小区", "pinyin_exact"), ("新华小区", "pinyin_exact")]
    assert {h["name"] for h in search(tiny, SearchQuery.from_input("XH"))} >= {"新华幼儿园", "新华花园"}
    assert normalize(" 新华　小区 ") == "新华小区" and normalize("ＸＨＸＱ") == "xhxq" and normalize("１２号") == "12号"
    assert search(tiny, SearchQuery.from_input("新华　小区"))[0]["match"] == "exact"
    assert search(tiny, SearchQuery.from_input("ＸＨＸＱ"))[0]["name"] == "新华小区"
    assert search(tiny, SearchQuery.from_input("岷江西路９号"))[0]["name"] == "东山幼儿园"


def test_near_breaks_ties_by_distance(tiny):
    east = search(tiny, SearchQuery.from_input("幼儿园", near="104.46,31.13"))
    west = search(tiny, SearchQuery.from_input("幼儿园", near=(104.39, 31.13)))
    assert _names(east) == ["东山幼儿园", "新华幼儿园"] and _names(west) == ["新华幼儿园", "东山幼儿园"]
    assert east[0]["distance_m"] < east[1]["distance_m"]
    assert east[0]["distance_m"] == pytest.approx(952, abs=5)  # 0.01 degree of longitude at 31.13° N
    # near does not override the match tier: the exact name stays first however far it is
    assert search(tiny, SearchQuery.from_input("新华小区", near="104.0,31.0"))[0]["match"] == "exact"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"q": ""},
        {"q": "   　"},
        {"q": None},
        {"q": "新" * (MAX_QUERY_CHARS + 1)},
        {"q": "新华", "limit": 0},
        {"q": "新华", "limit": 51},
        {"q": "新华", "kinds": "facility,park"},
        {"q": "新华", "near": "104.4"},
        {"q": "新华", "near": "abc,31"},
        {"q": "新华", "near": "200,31"},
    ],
)
def test_bad_input_is_a_chinese_input_error(kwargs):
    with pytest.raises(InputError) as err:
        SearchQuery.from_input(**kwargs)
    assert err.value.http_status == 422 and any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message_zh)


def test_adversarial_subsequence_is_fast(tiny):
    import time

    index = build_index({"population_units": _frame([{"name": "新" * 60}], [shapely.box(104, 31, 104.01, 31.01)])})
    t = time.perf_counter()
    assert search(index, SearchQuery.from_input("新" * 99 + "华")) == []
    assert time.perf_counter() - t < 0.5


# ----------------------------------------------------------------------------- the sample city
@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("search_city"))
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def http(city):
    """The real app over the sample city, without credentials (search is open to readers)."""
    with TestClient(create_app(city)) as c:
        yield c


@pytest.fixture(scope="module")
def picks(city):
    """Names from the sample city: a facility with an address, a road, a compound."""
    fac = city.read_layer("facilities")
    fac = fac[fac["address"].notna() & fac["name"].notna()]
    fac = fac[~fac["name"].duplicated(keep=False)].iloc[0]
    roads = city.read_layer("roads")
    units = city.read_layer("population_units")
    units = units[~units["name"].duplicated(keep=False)]
    return {"facility": fac, "road": roads["name"].iloc[0], "compound": units["name"].iloc[0]}


def _get(http, **params):
    r = http.get("/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_sample_city_facility_by_name_substring_and_address(http, picks):
    fac = picks["facility"]
    body = _get(http, q=fac["name"])
    first = body["results"][0]
    assert (first["name"], first["kind"], first["match"], first["layer"], first["id"]) == (
        fac["name"],
        "facility",
        "exact",
        "facilities",
        int(fac["id"]),
    )
    assert body["query"]["normalized"] == normalize(fac["name"]) and body["count"] == len(body["results"])
    assert fac.geometry.distance(shapely.Point(first["lon"], first["lat"])) < 1e-6
    middle = fac["name"][1:-1]
    assert int(fac["id"]) in [h["id"] for h in _get(http, q=middle, limit=50, kinds="facility")["results"]]
    by_addr = _get(http, q=fac["address"])["results"]
    assert by_addr[0]["id"] == int(fac["id"]) and by_addr[0]["matched_field"] == "address"


def test_sample_city_road_and_compound(http, picks):
    road = _get(http, q=picks["road"])["results"][0]
    assert (road["name"], road["kind"], road["match"]) == (picks["road"], "road", "exact")
    assert road["feature_count"] >= 1
    compound = _get(http, q=picks["compound"])["results"][0]
    assert (compound["name"], compound["kind"], compound["layer"]) == (
        picks["compound"],
        "compound",
        "population_units",
    )


def test_sample_city_pinyin_initials(http, picks):
    initials = pinyin_initials(picks["compound"])
    hits = _get(http, q=initials.upper(), limit=50, kinds="compound")["results"]
    assert picks["compound"] in [h["name"] for h in hits]
    assert {h["match"] for h in hits} <= {"pinyin_exact", "pinyin_prefix", "pinyin_substring", "exact", "prefix"}


def test_sample_city_near_orders_equal_matches(http, city):
    kg = city.read_layer("facilities", where={"category": "kindergarten"})
    target = kg.iloc[len(kg) // 2]
    pt = target.geometry.representative_point()
    hits = _get(http, q="幼儿园", limit=50, kinds="facility", near=f"{pt.x},{pt.y}")["results"]
    # among hits of the same tier, field and name length the nearer comes first
    for a, b in zip(hits, hits[1:]):
        if (a["match"], a["matched_field"], len(a["name"])) == (b["match"], b["matched_field"], len(b["name"])):
            assert a["distance_m"] <= b["distance_m"]
    same_len = [h for h in hits if len(h["name"]) == len(target["name"])]
    assert same_len[0]["id"] == int(target["id"]) and same_len[0]["distance_m"] < 1.0


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "  "},
        {},
        {"q": "路" * (MAX_QUERY_CHARS + 1)},
        {"q": "路", "limit": 60},
        {"q": "路", "kinds": "x"},
    ],
)
def test_http_bad_queries_are_422_in_chinese(http, params):
    r = http.get("/search", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "InputError" and any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])


def test_http_index_follows_a_facility_rename(http, city, picks):
    fac = picks["facility"]
    new_name = "测试更名便民服务中心"
    assert _get(http, q=new_name)["count"] == 0
    before = city.layer_revisions()["facilities"]
    r = http.patch(
        f"/layers/facilities/{int(fac['id'])}",
        json={"properties": {"name": new_name}},
        headers=token_headers(city, "admin", "search-admin"),
    )
    assert r.status_code == 200, r.text
    assert city.layer_revisions()["facilities"] > before
    hit = _get(http, q=new_name)["results"][0]
    assert (hit["id"], hit["match"]) == (int(fac["id"]), "exact")
    assert int(fac["id"]) not in [h["id"] for h in _get(http, q=fac["name"], limit=50)["results"]]
    assert _get(http, q="csgmbmfwzx")["results"][0]["id"] == int(fac["id"])  # pinyin of the new name


def test_openapi_documents_search(http):
    spec = http.get("/openapi.json").json()
    params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params == {"q", "limit", "kinds", "near"}


def test_service_reuses_its_index_until_a_revision_changes(city):
    service = SearchService(city)
    first = service.index()
    assert service.index() is first and len(first) > 5000
    assert {"facility", "shelter", "compound", "road", "street", "building"} <= set(first.kinds)


def test_cli_search(city, picks):
    from geo_service.cli import app

    runner = CliRunner()
    url = city.url.render_as_string(hide_password=False)
    res = runner.invoke(app, ["search", picks["road"], "--limit", "3", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert picks["road"] in res.output and "道路" in res.output
    res = runner.invoke(app, ["search", picks["compound"], "--json", "--kind", "compound", "--database-url", url])
    assert res.exit_code == 0 and '"kind": "compound"' in res.output
    res = runner.invoke(app, ["search", "", "--database-url", url])
    assert res.exit_code != 0 and "请输入" in res.output


def test_both_backends_over_http(client, grid):
    """The conftest ``client`` (SpatiaLite and PostGIS) over the 30-facility grid."""
    hits = client.get("/search", params={"q": "设施12"}).json()["results"]
    assert [(h["name"], h["match"]) for h in hits] == [("设施12", "exact")]
    near = client.get("/search", params={"q": "设施2", "kinds": "facility", "near": "104.45,31.17", "limit": 50}).json()
    assert near["results"][0]["name"] == "设施2"  # exact beats nearer
    assert [h["name"] for h in near["results"][1:3]] == ["设施29", "设施28"]  # same length: nearer first
