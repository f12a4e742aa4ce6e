"""The resident page in headless Chromium (Debian's chromium, Playwright) on the sample city (issue 16):
streets and places from the service's own tiles, two legible routes with a legend and the steps panel, search,
the service worker answering a tap offline, and the exported static site giving /nearest's answers.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import numpy as np
import pytest

from geo_service.app import create_app
from maps.server import free_port, serve_in_background
from tests.conftest import sample_city_store
from tests.test_browser import ARTIFACTS, CHROMIUM, Watched

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
CENTRE = (104.398, 31.127)  # the sample city's centre


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("resident"))
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def base_url(city):
    with serve_in_background(create_app(city)) as url:
        yield url


@pytest.fixture
def watched(browser):
    pages = []

    def make(**context):
        w = Watched(browser, **context)
        pages.append(w)
        return w

    yield make
    for w in pages:
        w.close()


def _open(w, url: str) -> None:
    w.page.goto(url, wait_until="load")
    assert w.page.evaluate("window.residentReady") == "cached"
    w.page.evaluate(f"geoMap.jumpTo({{center: [{CENTRE[0]}, {CENTRE[1]}], zoom: 15.5}})")
    w.page.wait_for_function("geoMap.loaded() && geoMap.areTilesLoaded()", timeout=60_000)


def _tap_centre(w) -> None:
    box = w.page.locator("#map").bounding_box()
    w.page.locator("#map").tap(position={"x": box["width"] / 2, "y": box["height"] / 2})


def _drawn(page, layer: str) -> int:
    return page.evaluate(f"geoMap.queryRenderedFeatures({{layers: ['{layer}']}}).length")


def _wait_drawn(page, layer: str, timeout_ms: int = 15_000) -> None:
    """Wait until `layer` has drawn features. MapLibre places labels in slices of a few milliseconds per frame,
    after the tiles have loaded, so one look right after `areTilesLoaded()` can see none on a busy machine (seen
    once in CI: 'shelter-names' drawn 0)."""
    try:
        page.wait_for_function(
            f"geoMap.queryRenderedFeatures({{layers: ['{layer}']}}).length > 0", timeout=timeout_ms, polling=100
        )
    except Exception as error:
        raise AssertionError(f"{layer}: nothing drawn after {timeout_ms} ms") from error


def test_streets_places_routes_steps_and_search(base_url, city, watched):
    w = watched(**PHONE)
    asked = []
    w.page.on("request", lambda r: asked.append(r.url) if "/nearest?" in r.url else None)
    _open(w, f"{base_url}/resident")
    assert w.page.evaluate("document.documentElement.scrollWidth") <= 360  # no horizontal scrolling on a phone
    for layer in ("net", "shelters", "population_units-fill", "road-names", "shelter-names"):
        _wait_drawn(w.page, layer)  # streets, compounds and names from the service's own tiles
    _tap_centre(w)
    w.page.wait_for_function("document.querySelectorAll('#results .card').length == 2", timeout=30_000)
    _wait_drawn(w.page, "route-shelter")
    _wait_drawn(w.page, "route-service")
    order = w.page.evaluate("geoMap.getStyle().layers.map(l => l.id)")
    assert order.index("route-service") < order.index("route-shelter-casing") < order.index("route-shelter")
    shelter = w.page.evaluate("geoMap.getStyle().layers.find(l => l.id == 'route-shelter').paint")
    service = w.page.evaluate("geoMap.getStyle().layers.find(l => l.id == 'route-service').paint")
    assert shelter["line-color"] != service["line-color"] and "line-dasharray" in service
    assert shelter["line-width"] > service["line-width"]
    assert w.page.locator("#results h2").all_inner_texts()[0] == "最近的应急避难场所"
    assert "到避难场所的路线" in w.page.locator("#legend").inner_text()
    cards = w.page.locator("#results .card").all_inner_texts()
    assert all("米" in t and "分钟" in t for t in cards)
    w.page.wait_for_function("!geoMap.isMoving() && geoMap.areTilesLoaded()", timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    w.page.screenshot(path=str(ARTIFACTS / "resident_routes.png"), full_page=True)
    steps = w.page.locator("#results .card.shelter .steps li")
    if steps.count():  # /nearest gives turn-by-turn steps: tap one, the map flies there
        assert "到达" in steps.last.inner_text()
        target = w.page.evaluate(
            "[+document.querySelector('.card.shelter .steps li:last-child').dataset.lon,"
            " +document.querySelector('.card.shelter .steps li:last-child').dataset.lat]"
        )
        steps.last.click()
        w.page.wait_for_function("!geoMap.isMoving()", timeout=10_000)
        w.page.wait_for_timeout(300)
        centre = w.page.evaluate("geoMap.getCenter().toArray()")
        assert np.allclose(centre, target, atol=1e-5)
    else:
        assert w.page.locator("#results .card.shelter .nosteps").count() == 1
    assert w.page.locator("#error").is_hidden()
    w.check("resident")
    # profile: the elderly profile is sent to /nearest
    w.page.locator("input[value=elderly]").check()
    w.page.wait_for_function("document.querySelectorAll('#results .card').length == 2", timeout=30_000)
    assert any("profile=elderly" in u for u in asked)
    # search the project's own data: a shelter by its name, then its nearest shelter is itself
    name = city.read_layer("shelters")["name"].iloc[0]
    w.page.fill("#search", name)
    w.page.locator("#search-form button").click()
    w.page.wait_for_selector("#search-results button", timeout=10_000)
    assert name in w.page.locator("#search-results").inner_text()
    w.page.locator("#search-results button").first.click()
    w.page.wait_for_function(
        f"document.querySelector('#results .card.shelter .name')?.textContent == {name!r}", timeout=30_000
    )
    w.page.wait_for_function("!geoMap.isMoving() && geoMap.loaded() && geoMap.areTilesLoaded()", timeout=60_000)
    w.check("resident_search")


def test_a_link_to_a_place_opens_its_nearest_shelter(base_url, watched):
    """The poster's QR code links to /resident?lat=..&lon=..&category=shelter: the page asks for that place at once."""
    w = watched(**PHONE)
    asked = []
    w.page.on("request", lambda r: asked.append(r.url) if "/nearest?" in r.url else None)
    lon, lat = CENTRE
    w.page.goto(f"{base_url}/resident?lat={lat}&lon={lon}&category=shelter&profile=elderly", wait_until="load")
    w.page.wait_for_function("document.querySelectorAll('#results .card.shelter').length == 1", timeout=30_000)
    assert any(f"lon={lon:.6f}" in u and f"lat={lat:.6f}" in u and "profile=elderly" in u for u in asked), asked
    assert np.allclose(w.page.evaluate("geoMap.getCenter().toArray()"), [lon, lat], atol=1e-6)
    w.page.goto(f"{base_url}/resident?lat=abc&lon=999", wait_until="load")  # nonsense: the page opens as usual
    assert w.page.locator("#error").is_hidden()
    w.check("resident_link")


def test_tap_offline_after_the_first_visit(base_url, watched):
    w = watched(**PHONE)
    _open(w, f"{base_url}/resident")
    w.page.evaluate("window.residentCacheView()")
    assert w.errors == [] and w.outside == []
    w.context.set_offline(True)
    _tap_centre(w)
    w.page.wait_for_selector("#results .card.shelter", timeout=30_000)
    _wait_drawn(w.page, "route-shelter")
    assert "步行" in w.page.locator("#results .card.shelter").inner_text()
    assert "本机已保存的数据" in w.page.locator("#offline").inner_text()
    assert w.page.locator("#error").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    w.page.screenshot(path=str(ARTIFACTS / "resident_offline.png"))
    # the page itself comes back from the worker's cache
    w.page.reload(wait_until="load")
    w.page.wait_for_function("window.geoMap && geoMap.loaded()", timeout=30_000)
    w.page.evaluate(f"geoMap.jumpTo({{center: [{CENTRE[0]}, {CENTRE[1]}], zoom: 15.5}})")
    w.page.wait_for_function("geoMap.loaded()", timeout=30_000)
    assert _drawn(w.page, "net") > 0  # the tiles of the viewed area, from the cache
    _tap_centre(w)
    w.page.wait_for_selector("#results .card.shelter", timeout=30_000)
    w.page.screenshot(path=str(ARTIFACTS / "resident_offline_reload.png"))


@contextlib.contextmanager
def _static_server(directory: Path):
    """Serve ``directory`` as a static host would (``python -m http.server``); yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def exported_dir(city, tmp_path_factory):
    from maps.resident_export import export_resident

    out = tmp_path_factory.mktemp("export") / "site"
    export_resident(city, out)
    return out


@pytest.fixture(scope="module")
def exported(exported_dir):
    with _static_server(exported_dir) as url:
        yield url


def test_exported_site_answers_as_nearest(exported, base_url, city, watched):
    w = watched(**PHONE)
    _open(w, exported)
    net = city.read_layer("network_edges")
    x0, y0, x1, y1 = net.total_bounds
    rng = np.random.default_rng(16)
    points = np.column_stack([rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)])
    compared = 0
    with httpx.Client(base_url=base_url) as http:
        for lon, lat in points:
            for category in ("shelter", "kindergarten"):
                want = http.get("/nearest", params={"lon": lon, "lat": lat, "category": category, "k": 1})
                got = w.page.evaluate(
                    "([lon, lat, c]) => residentLocal(lon, lat, c).then("
                    "o => o.results.length ? [o.results[0].id, o.results[0].walk_m] : null, e => 'error:' + e.message)",
                    [float(lon), float(lat), category],
                )
                if want.status_code != 200:
                    assert isinstance(got, str) and got.startswith("error:"), (lon, lat, got)
                    continue
                res = want.json()["results"]
                if not res:
                    assert got is None
                    continue
                assert got[0] == res[0]["id"], (lon, lat, category, got, res[0])
                assert abs(got[1] - res[0]["walk_m"]) <= 0.5, (lon, lat, category, got, res[0]["walk_m"])
                compared += 1
    assert compared >= 40
    # no search service on a static host: the page searches the exported shelters and places by name
    name = city.read_layer("shelters")["name"].iloc[3]
    w.page.fill("#search", name)
    w.page.locator("#search-form button").click()
    w.page.wait_for_selector("#search-results button", timeout=10_000)
    assert name in w.page.locator("#search-results").inner_text()
    _tap_centre(w)
    w.page.wait_for_function("document.querySelectorAll('#results .card').length == 2", timeout=30_000)
    assert _drawn(w.page, "route-shelter") > 0 and _drawn(w.page, "net") > 0
    w.page.wait_for_function("!geoMap.isMoving() && geoMap.loaded() && geoMap.areTilesLoaded()", timeout=60_000)
    w.check("resident_export")


def test_exported_site_of_a_county_without_shelters_says_so(exported_dir, watched, tmp_path):
    """The configuration an export writes when no shelter is stored (``has_shelters`` false, as test_maps checks
    for the service page): a tap says there are no shelters, as /nearest does, and still finds the service."""
    import shutil

    site = tmp_path / "site"
    shutil.copytree(exported_dir, site)
    page = (site / "index.html").read_text(encoding="utf-8")
    assert '"has_shelters": true' in page
    (site / "index.html").write_text(page.replace('"has_shelters": true', '"has_shelters": false'), encoding="utf-8")
    with _static_server(site) as url:
        w = watched(**PHONE)
        _open(w, url)
        _tap_centre(w)
        w.page.wait_for_selector("#results .card", timeout=30_000)
        assert w.page.locator("#error").inner_text() == "当前没有「应急避难场所」的现状数据"
        assert w.page.locator("#results .card.shelter").count() == 0
        assert w.page.locator("#results .card").count() == 1 and _drawn(w.page, "route-shelter") == 0
