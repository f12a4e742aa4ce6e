"""The map pages and the resident page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against the running service with the sample city: no console error, no request leaving loopback, features
drawn (the resident page: tests/test_resident_browser.py).  Screenshots go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from geo_service.app import create_app
from maps.coverage import example_outputs
from maps.server import serve_in_background
from tests.conftest import CHROMIUM, sample_city_store

ARTIFACTS = Path(__file__).parent / "artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("browser"))
    outputs = example_outputs(
        store.read_layer("population_units"), store.read_layer("facilities"), store.read_layer("communities")
    )
    store.save_analysis("coverage", params={"example": True}, summary={}, outputs=outputs)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def base_url(city):
    with serve_in_background(create_app(city)) as url:
        yield url


class Watched:
    """A page whose console errors and non-loopback requests are recorded (the latter are aborted)."""

    def __init__(self, browser, **context):
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def check(self, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside

    def close(self):
        self.context.close()


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


def drawn(page) -> int:
    return page.evaluate("geoMaps.drawnFeatures(window.geoMap)")


def test_facilities_map(base_url, city, watched):
    w = watched(viewport={"width": 1280, "height": 860})
    w.page.goto(f"{base_url}/maps/facilities", wait_until="load")
    total = city.count("facilities") + city.count("shelters")
    w.page.wait_for_function(f"geoMaps.drawnFeatures(window.geoMap) >= {total}", timeout=30_000)
    assert drawn(w.page) == total
    assert w.page.locator(".leaflet-control-layers-overlays label").count() >= 20  # one per category and shelter class
    assert w.page.locator("canvas").count() >= 1
    w.page.locator(".leaflet-control-layers-overlays input").first.click()  # switch a category off
    assert drawn(w.page) < total
    w.check("map_facilities")


def test_coverage_map_and_category_switch(base_url, city, watched):
    w = watched(viewport={"width": 1280, "height": 860})
    w.page.goto(f"{base_url}/maps/coverage", wait_until="load")
    w.page.wait_for_function("geoMaps.drawnFeatures(window.geoMap) >= 2043", timeout=30_000)
    before = w.page.evaluate("geoCoverage.category")
    options = w.page.locator("#geo-coverage-category option").all_inner_texts()
    assert "幼儿园" in options
    w.page.select_option("#geo-coverage-category", index=1)
    assert w.page.evaluate("geoCoverage.category") != before
    w.check("map_coverage")


def test_plan_map(base_url, city, watched):
    w = watched(viewport={"width": 1280, "height": 860})
    w.page.goto(f"{base_url}/maps/plan", wait_until="load", timeout=120_000)
    n = city.count("communities")
    w.page.wait_for_function(f"geoMaps.drawnFeatures(window.geoMap) >= {n}", timeout=60_000)
    assert w.page.locator(".geo-label").count() == n  # a label per community
    assert "户数偏离区间" in w.page.locator(".geo-control.geo-legend").inner_text()
    w.check("map_plan")


def test_large_layer_uses_vector_tiles(base_url, city, watched, monkeypatch):
    import maps.base

    monkeypatch.setattr(maps.base, "INLINE_MAX_FEATURES", 100)
    w = watched(viewport={"width": 1280, "height": 860})
    tiles = []
    w.page.on("response", lambda r: tiles.append(r.status) if "/tiles/" in r.url else None)
    w.page.goto(f"{base_url}/maps/coverage", wait_until="load")
    w.page.wait_for_function("geoMaps.drawnFeatures(window.geoMap) >= 1500", timeout=60_000)
    assert tiles and set(tiles) <= {200, 204} and 200 in tiles
    w.check("map_coverage_vector_tiles")


def test_audit_map(base_url, city, watched):
    from facilities.audit_service import current_audit

    run = current_audit(city)
    outputs = run["outputs"]
    w = watched(viewport={"width": 1280, "height": 860})
    w.page.goto(f"{base_url}/maps/audit", wait_until="load", timeout=120_000)
    # every layer on by default is drawn: communities, units with unplaced residents, lines, shelters, rings,
    # facilities ...
    at_least = outputs["communities"] + outputs["shelters"] + outputs.get("assignment", 0)
    w.page.wait_for_function(f"geoMaps.drawnFeatures(window.geoMap) >= {at_least}", timeout=60_000)
    overlays = w.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for text in (
        "社区审计结果",
        "避难安置",
        "紧急避难场所",
        "超出容量",
        "无法安置居民的居住单元",
        "用地规划为他用的设施",
        "补足面积缺口的预留地块",
    ):
        assert any(text in o for o in overlays), (text, overlays)
    assert "综合服务面积无法评估" in w.page.locator(".geo-control.geo-legend").inner_text()
    assert "审计汇总" in w.page.locator(".geo-control.geo-audit-summary").inner_text()
    assert w.page.evaluate("geoAudit.hatch instanceof CanvasPattern")
    w.page.mouse.click(640, 430)  # the middle of the city: a popup of whatever is on top there
    w.page.wait_for_selector(".leaflet-popup .geo-popup", timeout=10_000)
    w.page.wait_for_timeout(400)  # popup fade-in
    w.check("map_audit")
    # polygons under point layers still take clicks (points and polygons share one canvas): hide the points, lines
    # and units, click the same spot, get the community's findings
    w.page.locator(".leaflet-popup-close-button").dispatch_event("click")  # the layers list may cover it
    for label in (
        "避难安置",
        "紧急避难场所",
        "固定避难场所",
        "中心避难场所",
        "超出容量",
        "无法安置居民的居住单元",
        "用地规划为他用",
        "低于最小建筑面积",
    ):
        w.page.locator(".leaflet-control-layers-overlays label", has_text=label).locator("input").uncheck()
    w.page.mouse.click(640, 430)
    w.page.wait_for_selector(".leaflet-popup .geo-popup", timeout=10_000)
    popup = w.page.locator(".leaflet-popup .geo-popup").inner_text()
    assert "发现的问题" in popup and "面积缺口" in popup and "无法安置的居民" in popup, popup
    assert w.errors == []


def test_api_docs_render_offline(base_url, watched):
    """/docs: Swagger UI from the service's own files (no CDN), every operation listed."""
    w = watched(viewport={"width": 1280, "height": 860})
    w.page.goto(f"{base_url}/docs", wait_until="load")
    w.page.wait_for_selector(".opblock", timeout=30_000)
    assert w.page.locator(".opblock").count() >= 30
    assert "社区治理空间规划与设施服务" in w.page.locator(".info .title").inner_text()
    w.check("api_docs")
