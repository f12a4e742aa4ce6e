"""Benchmark: writing and reading layers, this project's Store against geopandas on the same frames.

Run by hand (PostgreSQL on 127.0.0.1:5432 with trust auth for ``postgres``):

    .venv/bin/python benchmarks/storage_io.py --scale 10

Prints a Markdown table for docs/benchmarks.md:
- sample city generation time (scale given),
- write of population_units and the walking network edges: Store.upsert_layer / write_network (validated
  upsert by source_id, one transaction) vs GeoDataFrame.to_postgis (PostGIS) and GeoDataFrame.to_file GPKG
  (SQLite with an R*Tree, the nearest peer of SpatiaLite),
- read of the whole layer back into a GeoDataFrame: Store.read_layer vs geopandas.read_postgis / read_file.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import sqlalchemy as sa

from geo_service.core._db import normalize_url
from geo_service.core.sample_city import generate_sample_city
from geo_service.core.storage import Store

PG_ADMIN = os.environ.get("GEO_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def timed(fn, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate-only", action="store_true", help="only time the generation (for the largest scales)")
    args = ap.parse_args()

    gen_s, city = timed(lambda: generate_sample_city(scale=args.scale, seed=args.seed))
    gen_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    units = city.population_units
    edges = city.network_edges
    rows = []
    rows.append(
        (
            "generate sample city",
            f"scale {args.scale:g}: {len(units):,} units, {len(city.network_nodes):,} nodes",
            f"{gen_s:.2f} s (peak RSS {gen_peak:,.0f} MB)",
            "–",
            "–",
        )
    )
    print(f"generated scale {args.scale:g} in {gen_s:.1f} s, peak RSS {gen_peak:,.0f} MB", flush=True)
    if args.generate_only:
        return

    tmp = Path(tempfile.mkdtemp())
    name = f"geo_bench_{os.getpid()}"
    admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    pg_url = normalize_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        for backend, url in (("SpatiaLite", f"sqlite:///{tmp / 'bench.sqlite'}"), ("PostGIS", pg_url)):
            store = Store(url)
            store.upgrade()
            from geo_service.core.importer import ImportOptions, validate
            from geo_service.core.layers import LAYERS

            checked, _ = validate(units, LAYERS["population_units"], ImportOptions(id_column="source_id"))
            ours_w, _ = timed(lambda store=store, checked=checked: store.upsert_layer("population_units", checked))
            ours_net, _ = timed(lambda store=store: store.write_network("bench", "bench", city.network_nodes, edges))
            ours_r, got = timed(lambda store=store: store.read_layer("population_units"), repeat=3)
            assert len(got) == len(units)
            if backend == "PostGIS":
                eng = store.engine
                peer_w, _ = timed(lambda eng=eng: units.to_postgis("peer_units", eng, if_exists="replace", index=False))
                peer_net, _ = timed(
                    lambda eng=eng: edges.to_postgis("peer_edges", eng, if_exists="replace", index=False)
                )
                peer_r, back = timed(
                    lambda eng=eng: gpd.read_postgis("SELECT * FROM peer_units", eng, geom_col="geometry"), repeat=3
                )
                peer = "geopandas to_postgis / read_postgis"
            else:
                gpkg = tmp / "peer.gpkg"
                peer_w, _ = timed(lambda gpkg=gpkg: units.to_file(gpkg, layer="units", driver="GPKG", engine="pyogrio"))
                peer_net, _ = timed(
                    lambda gpkg=gpkg: edges.to_file(gpkg, layer="edges", driver="GPKG", engine="pyogrio")
                )
                peer_r, back = timed(lambda gpkg=gpkg: gpd.read_file(gpkg, layer="units", engine="pyogrio"), repeat=3)
                peer = "geopandas to_file / read_file (GeoPackage)"
            assert len(back) == len(units)
            rows.append(
                (
                    f"write population_units ({backend})",
                    f"{len(units):,} polygons",
                    f"{ours_w:.2f} s",
                    f"{peer_w:.2f} s ({peer})",
                    f"{ours_w / peer_w:.2f}",
                )
            )
            rows.append(
                (
                    f"write network ({backend})",
                    f"{len(city.network_nodes):,} nodes + {len(edges):,} edges",
                    f"{ours_net:.2f} s",
                    f"{peer_net:.2f} s (edges only)",
                    f"{ours_net / peer_net:.2f}",
                )
            )
            rows.append(
                (
                    f"read population_units ({backend})",
                    f"{len(units):,} polygons",
                    f"{ours_r:.3f} s",
                    f"{peer_r:.3f} s",
                    f"{ours_r / peer_r:.2f}",
                )
            )
            store.dispose()
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print()
    print("| operation | input | this project | peer | ratio (ours / peer) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
