"""Map APIs over HTTP on loopback with the default sample city: vector-tile latency and GeoJSON throughput.

    .venv/bin/python benchmarks/tiles_http.py                 # SpatiaLite and PostGIS (if reachable)
    .venv/bin/python benchmarks/tiles_http.py --backend spatialite --browser

For each backend the sample city (scale 1) is loaded into a fresh database and served by uvicorn in a thread;
a plain ``httpx`` client requests, one at a time:

- every tile of zooms 12-15 covering the city for a few collections (cold: first request of each tile), and
  the same tiles again with ``If-None-Match`` (304 revalidation); median and p99 latency;
- whole collections as GeoJSON through OGC API - Features (``limit=10000`` pages): features/s and MB/s.

``--browser`` also times inline GeoJSON layers of 2k-50k polygons in headless Chromium (the measurement behind
``maps.base.INLINE_MAX_FEATURES``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _doc import tiles_covering  # benchmarks/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from geo_service.app import create_app
from geo_service.core.datasets import load_sample_city
from geo_service.core.settings import Settings
from geo_service.core.storage import Store
from maps.server import serve_in_background

PG_ADMIN = os.environ.get("GEO_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
COLLECTIONS = ["population_units", "facilities", "roads", "network_edges"]
ZOOMS = [12, 13, 14, 15]


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1)]


def make_store(backend: str, tmp: Path) -> Store:
    if backend == "spatialite":
        store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp, GEO_RATE_LIMIT_RPS=0))
    else:
        import sqlalchemy as sa

        from geo_service.core._db import normalize_url

        name = f"geo_bench_tiles_{os.getpid()}"
        admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        store = Store(
            normalize_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False),
            settings=Settings(GEO_DATA_DIR=tmp, GEO_RATE_LIMIT_RPS=0),
        )
        store._bench_db = name
    store.upgrade()
    return store


def drop_store(store: Store) -> None:
    store.dispose()
    name = getattr(store, "_bench_db", None)
    if name:
        import sqlalchemy as sa

        from geo_service.core._db import normalize_url

        admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def bench_backend(backend: str) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(backend, Path(tmp))
        try:
            t0 = time.perf_counter()
            load_sample_city(store)
            print(f"[{backend}] sample city loaded in {time.perf_counter() - t0:.1f} s", flush=True)
            bounds = tuple(store.read_layer("admin_areas").total_bounds)
            with serve_in_background(create_app(store)) as base, httpx.Client(base_url=base, timeout=120) as http:
                http.get("/ogc/collections")  # warm up
                for coll in COLLECTIONS:
                    cold, warm, sizes, empty = [], [], [], 0
                    tags = {}
                    for z in ZOOMS:
                        for z_, x, y in tiles_covering(bounds, z):
                            t = time.perf_counter()
                            r = http.get(f"/tiles/{coll}/{z_}/{x}/{y}.mvt")
                            cold.append(time.perf_counter() - t)
                            empty += r.status_code == 204
                            sizes.append(len(r.content))
                            tags[(z_, x, y)] = r.headers["etag"]
                    for (z_, x, y), tag in tags.items():
                        t = time.perf_counter()
                        r = http.get(f"/tiles/{coll}/{z_}/{x}/{y}.mvt", headers={"If-None-Match": tag})
                        warm.append(time.perf_counter() - t)
                        assert r.status_code == 304
                    rows.append(
                        (
                            backend,
                            f"tiles {coll} z{ZOOMS[0]}-{ZOOMS[-1]}",
                            len(cold),
                            f"{statistics.median(cold) * 1000:.0f} ms",
                            f"{pct(cold, 0.99) * 1000:.0f} ms",
                            f"{statistics.median(warm) * 1000:.1f} ms",
                            f"{empty} empty, max {max(sizes) / 1024:.0f} KB",
                        )
                    )
                    print(rows[-1], flush=True)
                for coll in ("population_units", "facilities", "network_edges"):
                    best = None
                    for _ in range(3):
                        n, nbytes, t = 0, 0, time.perf_counter()
                        url = f"/ogc/collections/{coll}/items?limit=10000"
                        while url:
                            r = http.get(url)
                            body = r.json()
                            n += body["numberReturned"]
                            nbytes += len(r.content)
                            url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
                        dt = time.perf_counter() - t
                        best = min(best or dt, dt)
                    rows.append(
                        (
                            backend,
                            f"GeoJSON {coll} (OGC items, limit 10000)",
                            n,
                            f"{best:.2f} s",
                            f"{n / best:,.0f} features/s",
                            f"{nbytes / best / 1e6:.1f} MB/s",
                            f"{nbytes / 1e6:.1f} MB",
                        )
                    )
                    print(rows[-1], flush=True)
        finally:
            drop_store(store)
    return rows


def bench_browser() -> list[tuple]:
    """Inline canvas GeoJSON layers of n polygons (about 20 vertices each): page load and one zoom redraw."""
    import functools
    import http.server
    import threading

    import geopandas as gpd
    import numpy as np
    import shapely
    from playwright.sync_api import sync_playwright

    from maps import assets
    from maps.base import DataLayer, new_map

    rows = []
    with tempfile.TemporaryDirectory() as out:
        sizes = {}
        for n in (2000, 8000, 20000, 50000):
            side, d = int(np.ceil(np.sqrt(n))), 0.0009
            xs, ys = np.meshgrid(np.arange(side), np.arange(side))
            xs, ys = xs.ravel()[:n] * d + 104.3, ys.ravel()[:n] * d + 31.05
            polys = shapely.segmentize(shapely.box(xs, ys, xs + d * 0.9, ys + d * 0.9), d * 0.9 / 5)
            g = gpd.GeoDataFrame({"id": np.arange(n), "residents": np.arange(n) % 900}, geometry=polys, crs=4326)
            m = new_map(tuple(g.total_bounds), settings=Settings(GEO_BASEMAP="none"), title_zh="测试")
            DataLayer(
                "units",
                "units",
                gdf=g,
                fields=[["residents", "人口", "人", None]],
                title_field=None,
                style_js="function(p){return {color:'#555',weight:0.4,"
                "fillColor:p.residents>400?'#f00':'#0f0',fillOpacity:0.7};}",
            ).add_to(m)
            assets.localize(m)
            page = assets.inline_assets(m.get_root().render())
            Path(out, f"p{n}.html").write_text(page, encoding="utf-8")
            sizes[n] = len(page.encode())

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=out)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for n, size in sizes.items():
                best = None
                for _ in range(2):
                    pg = b.new_page(viewport={"width": 1200, "height": 800})
                    t = time.perf_counter()
                    pg.goto(f"http://127.0.0.1:{srv.server_port}/p{n}.html", wait_until="load")
                    load = time.perf_counter() - t
                    t = time.perf_counter()
                    pg.evaluate(
                        "new Promise(r=>{geoMap.once('zoomend',()=>requestAnimationFrame(()=>r()));"
                        "geoMap.zoomIn(1,{animate:false});})"
                    )
                    zoom = time.perf_counter() - t
                    best = min(best or (load, zoom), (load, zoom))
                    pg.close()
                rows.append(
                    (
                        "chromium",
                        f"inline layer {n:,} polygons",
                        n,
                        f"{size / 1e6:.1f} MB page",
                        f"load {best[0]:.2f} s",
                        f"zoom redraw {best[1]:.2f} s",
                        "",
                    )
                )
                print(rows[-1], flush=True)
            b.close()
        srv.shutdown()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["spatialite", "postgis", "both"], default="both")
    ap.add_argument("--browser", action="store_true", help="also time inline layers in headless Chromium")
    args = ap.parse_args()
    rows = []
    for backend in ["spatialite", "postgis"] if args.backend == "both" else [args.backend]:
        rows += bench_backend(backend)
    if args.browser:
        rows += bench_browser()
    print(
        "\n| backend | what | n | median / time | p99 / rate | 304 median / MB/s | notes |\n"
        "|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in r) + " |")


if __name__ == "__main__":
    main()
