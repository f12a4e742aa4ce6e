"""A province in one run (geo_service/batch.py, ``geo-service batch``): throughput with 1 and 2 Dask workers.

    .venv/bin/python benchmarks/batch.py --counties 24              # print Markdown
    .venv/bin/python benchmarks/batch.py --counties 183 --write     # and replace its section of docs/benchmarks.md

A synthetic province (sample cities of seeds 100.., generator scales spread over 0.5-3, edge to edge, streets joined
across county lines) is written into one SpatiaLite store, cached on disk (``--cache``, keyed by the size and the
generator's source, so a retuned generator builds anew).  Then, in the same run:

- peer (``--peer``, default up to 24 counties): coverage over the whole province in one process
  (``facilities.service.compute_from_store``), and whether the batch's per-unit walks equal it;
- the batch (``--analyses``, default ``coverage,audit``) with a LocalCluster of 1 and of 2 worker processes (one
  thread each), from scratch each time; the machine's load average (``os.getloadavg``) is recorded around each run.

Reported: counties per minute, the speed-up from 1 to 2 workers (goal: linear within 10 %) over the whole batch and
over its compute phase, the peak resident memory of each worker process (``ru_maxrss``, the kernel's high-water
mark, read in the workers), the serial parts in the client, and the per-county cost against county size (a least-
squares line over the done markers) on which the 2,850-county estimate of docs/scale-out.md rests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _doc import write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import pandas as pd

START, END = "<!-- batch:start -->", "<!-- batch:end -->"
ROOT = Path(__file__).resolve().parents[1]
SCALE_MIN, SCALE_MAX = 0.5, 3.0
GOLDEN = (math.sqrt(5) - 1) / 2


def county_scale(i: int) -> float:
    """Generator scale of county ``i``: spread evenly over 0.5-3 (a golden-ratio sequence, to 0.05), so that
    large and small counties are mixed over the grid and over any prefix of the counties."""
    return round((SCALE_MIN + (SCALE_MAX - SCALE_MIN) * ((i * GOLDEN) % 1.0)) * 20) / 20


def _cache_key(n: int) -> str:
    h = hashlib.sha1(f"{n}|{SCALE_MIN}|{SCALE_MAX}|seed0=100".encode())
    for p in sorted((ROOT / "geo_service" / "core" / "sample_city").glob("*.py")):  # a retuned generator: anew
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def build_province(cache: Path, n: int) -> tuple[str, dict]:
    """The province store of ``n`` counties (from the cache, else built and cached); its URL and facts."""
    from geo_service.core.sample_city.province import connect_neighbours, generate_province, write_province
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"province-{n}-{_cache_key(n)}.sqlite"
    facts_path = path.with_suffix(".json")
    if path.exists() and facts_path.exists():
        return f"sqlite:///{path}", {**json.loads(facts_path.read_text()), "cached": True}
    t0 = time.perf_counter()
    counties = list(generate_province(n, scale=county_scale))
    gen_s = time.perf_counter() - t0
    links = connect_neighbours(counties)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    store = Store(f"sqlite:///{tmp}", settings=Settings(GEO_DATA_DIR=cache))
    store.upgrade()
    t1 = time.perf_counter()
    write_province(store, counties)
    store.dispose()
    os.replace(tmp, path)
    facts = {
        "units": sum(len(c.layers["population_units"]) for c in counties),
        "residents": int(sum(c.layers["population_units"]["residents"].sum() for c in counties)),
        "nodes": sum(len(c.network_nodes) for c in counties),
        "links": links,
        "generate_s": round(gen_s, 1),
        "write_s": round(time.perf_counter() - t1, 1),
        "build_s": round(time.perf_counter() - t0, 1),
        "file_mb": round(path.stat().st_size / 2**20),
    }
    facts_path.write_text(json.dumps(facts))
    return f"sqlite:///{path}", {**facts, "cached": False}


def _built_apart(cache: Path, n: int) -> tuple[str, dict]:
    """:func:`build_province` in a child process: building takes GBs, and the workers started from this process
    would otherwise inherit its peak resident memory as theirs (``ru_maxrss`` survives fork and exec)."""
    cmd = [sys.executable, __file__, "--counties", str(n), "--cache", str(cache), "--build-only"]
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    url, _cached = build_province(cache, n)  # now read from the cache
    return url, facts


def run_peer(url: str, root: Path) -> tuple[float, gpd.GeoDataFrame, float]:
    from facilities.service import compute_from_store
    from geo_service.batch import peak_rss_mb
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    store = Store(url, settings=Settings(GEO_DATA_DIR=root))
    t0 = time.perf_counter()
    result, _net, _plan = compute_from_store(store)
    seconds = time.perf_counter() - t0
    store.dispose()
    return seconds, result.units, peak_rss_mb()


def run_batch_with(url: str, out: Path, workers: int, analyses: tuple[str, ...]) -> dict:
    """One batch from scratch on a fresh LocalCluster of ``workers`` single-threaded processes."""
    from distributed import Client, LocalCluster

    from geo_service.batch import peak_rss_mb, run_batch

    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        t0 = time.perf_counter()
        report = run_batch(url, out, analyses=analyses, scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - t0
        with Client(cluster) as client:
            peaks = sorted(client.run(peak_rss_mb).values())  # each worker's high-water mark
    finally:
        cluster.close()
    return {
        "workers": workers,
        "seconds": seconds,
        "compute_s": report.timings.get("compute_s", seconds),
        "timings": report.timings,
        "peaks_mb": peaks,
        "failed": len(report.failed),
        "load": (load0, os.getloadavg()),
        "stats": [{"code": d.code, "seconds": d.seconds, **d.stats} for d in report.done],
    }


def equal_to_peer(out: Path, peer_units: gpd.GeoDataFrame) -> bool:
    parts = sorted((out / "coverage").glob("county=*/part-0.parquet"))
    got = pd.concat([gpd.read_parquet(p) for p in parts], ignore_index=True).set_index("source_id").sort_index()
    want = peer_units.set_index("source_id").sort_index()
    if list(got.index) != list(want.index):
        return False
    walks = [c for c in want.columns if c.endswith("_walk_m")]
    return all(np.array_equal(got[c].to_numpy(float), want[c].to_numpy(float), equal_nan=True) for c in walks)


def cost_fit(stats: list[dict]) -> tuple[float, float, float]:
    """Least squares ``seconds = a + b * units_in_window / 1000`` over the counties of one run: (a, b, R²)."""
    x = np.array([s["units_in_window"] for s in stats], float) / 1000.0
    y = np.array([s["seconds"] for s in stats], float)
    b, a = np.polyfit(x, y, 1)
    r2 = 1.0 - float(((y - (a + b * x)) ** 2).sum()) / max(float(((y - y.mean()) ** 2).sum()), 1e-12)
    return float(a), float(b), r2


def _load(run: dict) -> str:
    (a, _, _), (b, _, _) = run["load"]
    return f"{a:.1f} → {b:.1f}"


def _markdown(args, facts: dict, runs: list[dict], peer) -> str:
    n = args.counties
    one, two = runs[0], runs[-1]
    speed = one["seconds"] / two["seconds"]
    speed_c = one["compute_s"] / two["compute_s"]
    a, b, r2 = cost_fit(one["stats"])
    keys = ("read_s", "network_s", "coverage_s", "audit_s")
    audit_part = ""
    steps = {k: np.mean([s.get(k, 0.0) for s in one["stats"]]) for k in keys}
    if "audit" in args.analyses:
        audit_part = f", audit {steps['audit_s']:.2f} s"
    rows = []
    if peer:
        rows.append(
            f"| peer: coverage over the whole province in one process | {peer[0]:.1f} s | — "
            f"| {peer[2]:,.0f} MB peak | — |"
        )
    for r in runs:
        rows.append(
            f"| batch, {r['workers']} Dask worker{'s' if r['workers'] > 1 else ''} | {r['seconds']:.1f} s "
            f"({r['compute_s']:.1f} s compute) | {n / r['seconds'] * 60:.1f} | "
            f"{max(r['peaks_mb']):,.0f} MB peak per worker (max of {len(r['peaks_mb'])}) | {_load(r)} |"
        )
    build = "read from the cache" if facts["cached"] else f"built in {facts['build_s']:.0f} s"
    same = "yes" if peer and peer[3] else "NO"
    peer_line = (
        f"- Per-unit walking results of the batch equal the single-process run exactly: **{same}**."
        if peer
        else "- No single-process peer at this size (exactness is checked by tests/test_batch.py on ten counties)."
    )
    t = one["timings"]
    failed = ", ".join(str(r["failed"]) for r in runs)
    task_s = [sum(x["seconds"] for x in r["stats"]) for r in runs]
    busy = ", ".join(f"{ts / (r['workers'] * r['seconds']):.1%}" for ts, r in zip(task_s, runs))
    per_task = ", ".join(f"{ts / max(len(r['stats']), 1):.2f} s ({r['workers']} w.)" for ts, r in zip(task_s, runs))
    return f"""{START}
## A province in one run: `geo-service batch` on Dask (issue 18)

{date.today().isoformat()}, 2 cores, 24 GB, shared with other work (load average before → after each run in the
table). `benchmarks/batch.py --counties {n} --analyses {",".join(args.analyses)}`: a synthetic province of {n}
counties (sample cities of scales {SCALE_MIN}–{SCALE_MAX}, {facts["units"]:,} population units,
{facts["residents"]:,} residents, {facts["nodes"]:,} network nodes, edge to edge with {facts["links"]:,} street links
across county lines), one SpatiaLite store of {facts["file_mb"]:,} MB; {build} (generation
{facts["generate_s"]:.0f} s, writing {facts["write_s"]:.0f} s; cached on disk for the next run).

| run | time | counties per minute | memory | load |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}

- Speed-up from 1 to 2 workers: **{speed:.2f}×** over the whole batch, **{speed_c:.2f}×** over its compute phase
  (linear would be 2.00×; goal within 10 %: ≥ 1.80×). Both workers share the machine's 2 cores with the
  scheduler, this client and the other work on the machine. Failed counties: {failed}.
- Busy share of the workers (sum of task seconds / (workers × wall time)): {busy}; mean seconds per county task:
  {per_task}. A speed-up far from 2.00× with the workers busy all the time comes from slower tasks (the cores
  shared with other work), not from the batch's dispatch; the load column says how loaded the machine was.
- Serial parts in the client (1 worker): listing the counties {t.get("list_s", 0):.1f} s, the provincial summary
  (XLSX and map) {t.get("summary_s", 0):.1f} s.
- Per county (1 worker, mean): reading the window {steps["read_s"]:.2f} s, building its network
  {steps["network_s"]:.2f} s, coverage {steps["coverage_s"]:.2f} s{audit_part}. Cost against
  size: seconds ≈ {a:.2f} + {b:.2f} × (thousand units in the window), R² = {r2:.2f}.
{peer_line}
{END}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=24)
    ap.add_argument("--analyses", default="coverage,audit")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument("--peer", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "geo-service" / "benchmarks")
    ap.add_argument("--store", type=Path, help="a cached province-N-KEY.sqlite to use as it is (no key check)")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--from-json", type=Path, help="no runs: the Markdown of figures saved by --json")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:  # the child of _built_apart
        print(json.dumps(build_province(args.cache, args.counties)[1]), flush=True)
        return
    args.analyses = tuple(a.strip() for a in args.analyses.split(",") if a.strip())
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        block = _markdown(args, saved["facts"], saved["runs"], None)
        print(block)
        if args.write:
            write_section(block, START, END)
        return
    peer_wanted = args.peer if args.peer is not None else args.counties <= 24
    if args.store:  # a province built before (its facts beside it), e.g. while the generator is being edited
        url = f"sqlite:///{args.store.resolve()}"
        facts = {**json.loads(args.store.with_suffix(".json").read_text()), "cached": True}
    else:
        url, facts = _built_apart(args.cache, args.counties)
    print(json.dumps(facts), flush=True)
    root = Path(tempfile.mkdtemp(prefix="geo_batch_bench_"))
    runs, peer = [], None
    try:
        for w in (int(x) for x in args.workers.split(",")):
            runs.append(run_batch_with(url, root / f"out{w}", w, args.analyses))
            r = runs[-1]
            print(f"workers={w}: {r['seconds']:.1f} s, compute {r['compute_s']:.1f} s, load {_load(r)}", flush=True)
        if peer_wanted:
            peer_s, peer_units, peer_mb = run_peer(url, root)
            peer = (peer_s, peer_units, peer_mb, equal_to_peer(root / f"out{runs[-1]['workers']}", peer_units))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"facts": facts, "runs": runs}, default=str))
    block = _markdown(args, facts, runs, peer)
    print(block)
    if args.write:
        write_section(block, START, END)


if __name__ == "__main__":
    os.environ.setdefault("GEO_RATE_LIMIT_RPS", "0")
    main()
