"""Benchmark: the walking-network engine, coverage and /nearest (issue 3).

Run by hand; results go into docs/benchmarks.md between the ``network-bench`` markers:

    .venv/bin/python benchmarks/network_nearest.py                 # default scale 1 and 200 (2.08 M nodes)
    .venv/bin/python benchmarks/network_nearest.py --scales 1      # quick

Parts (each in its own process so peak memory is its own):
1. all-nodes nearest-facility distances for 50 and 500 facilities placed on random nodes:
   this project's ``WalkNetwork.nearest`` (snap + multi-source Dijkstra + labels) against
   networkx ``multi_source_dijkstra_path_length``, a bare ``scipy.sparse.csgraph.dijkstra``
   (``min_only``) on the same CSR, and pandana ``nearest_pois`` (set-up and queries timed apart,
   set-up abandoned after 10 minutes); every peer's distances are compared with ours;
2. memory of the network held for queries (arrays + CSR + snapping index), loaded from its file;
3. the full coverage run of the default sample city (all categories, all units, stored), end to end;
4. ``/nearest`` latency in process and over HTTP on loopback (uvicorn, keep-alive client); in process also per
   walking profile (standard, elderly, wheelchair: the same points), with each profile's label build time, and the
   standard profile without turn-by-turn steps (routes only, as before issue 16) as the peer of the steps' cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from _doc import write_section  # benchmarks/ is the script's own folder

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- network-bench:start -->", "<!-- network-bench:end -->"
PANDANA_SETUP_LIMIT_S = 600


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def net_file(scale: float) -> Path:
    return Path(tempfile.gettempdir()) / f"geo_bench_net_{scale:g}.npz"


# ----------------------------------------------------------------------------- part 1
def part_engine(scale: float, counts: list[int], skip_networkx_nodes: int, pandana_max_nodes: int) -> list[dict]:
    from scipy.sparse import csgraph

    from geo_service.core.network import WalkNetwork
    from geo_service.core.sample_city import generate_sample_city

    path = net_file(scale)
    try:
        net = WalkNetwork.load(path)
    except (OSError, ValueError, KeyError):  # absent, or written by an older format
        city = generate_sample_city(scale=scale)
        net = WalkNetwork.from_frames(city.network_nodes, city.network_edges)
        del city
        net.csr  # noqa: B018
        net.save(path)
    net.warm()
    rows = []
    rng = np.random.default_rng(7)
    G = None
    sets = []
    for n_fac in counts:
        nodes = rng.choice(net.n_nodes, n_fac, replace=False)
        xy = net.node_xy[nodes]
        # ours: snap the facility points to edges, one multi-source pass over all nodes
        t = time.perf_counter()
        snap = net.snap_xy(xy)
        snap_s = time.perf_counter() - t
        t = time.perf_counter()
        res = net.nearest(snap)
        ours_s = time.perf_counter() - t
        ours = res.dist_m
        # bare scipy on the same CSR (sources are nodes)
        t = time.perf_counter()
        bare = csgraph.dijkstra(net.csr, directed=True, indices=nodes, min_only=True)
        bare_s = time.perf_counter() - t
        row = {
            "scale": scale,
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "facilities": n_fac,
            "ours_s": ours_s,
            "snap_s": snap_s,
            "scipy_s": bare_s,
            "scipy_maxdiff": float(np.max(np.abs(bare - ours))),
        }
        if net.n_nodes <= skip_networkx_nodes:
            import networkx as nx

            if G is None:
                t = time.perf_counter()
                G = nx.Graph()
                c = net.csr.tocoo()
                keep = c.row < c.col
                G.add_weighted_edges_from(zip(c.row[keep].tolist(), c.col[keep].tolist(), c.data[keep].tolist()))
                row["networkx_build_s"] = time.perf_counter() - t
            t = time.perf_counter()
            d = nx.multi_source_dijkstra_path_length(G, set(nodes.tolist()), weight="weight")
            row["networkx_s"] = time.perf_counter() - t
            ref = np.array([d.get(i, np.inf) for i in range(net.n_nodes)])
            row["networkx_maxdiff"] = float(np.max(np.abs(ref - ours)))
        rows.append(row)
        sets.append((nodes, ours))
    # pandana: one contraction hierarchy per network, then the POI sets
    extras = (
        pandana(net, sets)
        if net.n_nodes <= pandana_max_nodes
        else [{"pandana": "not run here (--pandana-max-nodes)"} for _ in sets]
    )
    for row, extra in zip(rows, extras):
        row.update(extra)
        print(json.dumps(row), flush=True)
    return rows


def pandana(net, sets: list[tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    """pandana ``nearest_pois`` in a child process: set-up (contraction hierarchy) once, then per facility set
    ``set_pois`` + the query, timed apart; the child is stopped when the set-up passes 10 minutes."""
    tmp = Path(tempfile.mkdtemp(prefix="pandana-"))
    c = net.csr.tocoo()
    keep = c.row < c.col
    arrays = {"x": net.node_xy[:, 0], "y": net.node_xy[:, 1], "u": c.row[keep], "v": c.col[keep], "w": c.data[keep]}
    for i, (nodes, ours) in enumerate(sets):
        arrays[f"px{i}"] = net.node_xy[nodes, 0]
        arrays[f"py{i}"] = net.node_xy[nodes, 1]
        arrays[f"maxdist{i}"] = np.array(float(ours[np.isfinite(ours)].max()) + 1.0)
    np.savez(tmp / "in.npz", **arrays)
    code = r"""
import sys, time, json, numpy as np, pandas as pd
z = np.load(sys.argv[1])
import pandana
t = time.perf_counter()
net = pandana.Network(pd.Series(z["x"]), pd.Series(z["y"]), pd.Series(z["u"]), pd.Series(z["v"]),
                      pd.DataFrame({"w": z["w"]}), twoway=True)
print(json.dumps({"setup": time.perf_counter() - t}), flush=True)
for i in range(int(sys.argv[3])):
    maxdist = float(z[f"maxdist{i}"])
    t = time.perf_counter()
    net.set_pois(f"fac{i}", maxdist, 1, pd.Series(z[f"px{i}"]), pd.Series(z[f"py{i}"]))
    pois = time.perf_counter() - t
    t = time.perf_counter()
    d = net.nearest_pois(maxdist, f"fac{i}", num_pois=1)
    query = time.perf_counter() - t
    np.save(sys.argv[2] + f"{i}.npy", d[1].to_numpy(dtype=float))
    print(json.dumps({f"pois{i}": pois, f"query{i}": query}), flush=True)
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp / "in.npz"), str(tmp / "out"), str(len(sets))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: dict = {}
    try:
        stdout, stderr = proc.communicate(timeout=PANDANA_SETUP_LIMIT_S + 120 * len(sets))
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    for line in stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    if "setup" not in out or out["setup"] > PANDANA_SETUP_LIMIT_S:
        why = (
            f"set-up did not finish in {PANDANA_SETUP_LIMIT_S // 60} minutes"
            if "setup" not in out or out["setup"] > PANDANA_SETUP_LIMIT_S
            else "failed"
        )
        return [{"pandana": why} for _ in sets]
    res = []
    for i, (_nodes, ours) in enumerate(sets):
        if f"query{i}" not in out:
            res.append({"pandana": "failed: " + (stderr.strip().splitlines() or ["?"])[-1][:200]})
            continue
        d = np.load(str(tmp / "out") + f"{i}.npy")
        ok = np.isfinite(ours) & (d < float(arrays[f"maxdist{i}"]))
        res.append(
            {
                "pandana_setup_s": out["setup"] + out[f"pois{i}"],
                "pandana_query_s": out[f"query{i}"],
                "pandana_maxdiff": float(np.max(np.abs(d[ok] - ours[ok]))) if ok.any() else float("nan"),
            }
        )
    return res


# ----------------------------------------------------------------------------- part 2
def part_memory(scale: float) -> dict:
    from geo_service.core.network import WalkNetwork

    before = current_rss_mb()
    t = time.perf_counter()
    net = WalkNetwork.load(net_file(scale))
    net.warm()
    net.snap_xy(net.node_xy[:1000] + 5.0)
    load_s = time.perf_counter() - t
    return {
        "scale": scale,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "load_s": load_s,
        "rss_mb": current_rss_mb(),
        "rss_delta_mb": current_rss_mb() - before,
        "peak_mb": rss_mb(),
        "arrays_mb": (net.nbytes() + net.tree.nbytes()) / 1e6,
    }


# ----------------------------------------------------------------------------- parts 3 and 4
def _sample_store(tmp: Path):
    from geo_service.core.datasets import load_sample_city
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    store = Store(f"sqlite:///{tmp / 'bench.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
    store.upgrade()
    load_sample_city(store)
    return store


def part_coverage(tmp: Path) -> dict:
    from facilities.service import run_coverage
    from geo_service.core.network import clear_cache

    store = _sample_store(tmp)
    base = rss_mb()
    clear_cache()
    t = time.perf_counter()
    rid = store.get_analysis(run_coverage(store))["id"]
    first = time.perf_counter() - t
    clear_cache()
    t = time.perf_counter()
    run_coverage(store)
    second = time.perf_counter() - t
    run = store.get_analysis(rid)
    return {
        "first_s": first,
        "again_s": second,
        "peak_mb": rss_mb(),
        "peak_before_mb": base,
        "units": run["outputs"]["units"],
        "categories": len(run["summary"]["categories"]),
    }


def part_nearest(tmp: Path, n: int) -> dict:
    import httpx

    from facilities.nearest import NearestService

    store = _sample_store(tmp)
    units = store.read_layer("population_units")
    pts = units.geometry.representative_point()
    rng = np.random.default_rng(3)
    pick = rng.integers(0, len(pts), n)
    cats = ["shelter", "kindergarten", "health_station", "community_service_station"]
    svc = NearestService(store)
    t = time.perf_counter()
    svc.warm(cats)
    warm_s = time.perf_counter() - t
    lat_in = []
    for i, j in enumerate(pick):
        t = time.perf_counter()
        svc.query(float(pts.x.iloc[j]), float(pts.y.iloc[j]), cats[i % 4], 3)
        lat_in.append(time.perf_counter() - t)
    profiles = {}
    for prof in ("standard", "elderly", "wheelchair"):
        t = time.perf_counter()
        for c in cats:
            svc._index(c, svc.profile(prof))
        build = warm_s if prof == "standard" else time.perf_counter() - t
        lat = []
        for i, j in enumerate(pick):
            t = time.perf_counter()
            svc.query(float(pts.x.iloc[j]), float(pts.y.iloc[j]), cats[i % 4], 3, profile=prof)
            lat.append(time.perf_counter() - t)
        profiles[prof] = {"build_s": build, "median_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99)}
    # the peer of the steps: the same queries with routes but without turn-by-turn steps (monkeypatched away)
    import facilities.nearest as nearest_mod

    steps_fn = nearest_mod.route_steps
    nearest_mod.route_steps = lambda net, legs, name: []
    try:
        lat_plain = []
        for i, j in enumerate(pick):
            t = time.perf_counter()
            svc.query(float(pts.x.iloc[j]), float(pts.y.iloc[j]), cats[i % 4], 3)
            lat_plain.append(time.perf_counter() - t)
    finally:
        nearest_mod.route_steps = steps_fn
    # over HTTP: the real service on loopback
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": str(store.url.render_as_string(hide_password=False)),
        "GEO_DATA_DIR": str(tmp),
        "GEO_RATE_LIMIT_RPS": "0",  # every request comes from this one client: no per-client limit
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo_service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for c in cats:
                client.get("/nearest", params={"lon": float(pts.x.iloc[0]), "lat": float(pts.y.iloc[0]), "category": c})
            lat_http = []
            for i, j in enumerate(pick):
                t = time.perf_counter()
                r = client.get(
                    "/nearest",
                    params={"lon": float(pts.x.iloc[j]), "lat": float(pts.y.iloc[j]), "category": cats[i % 4], "k": 3},
                )
                lat_http.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(10)

    return {
        "n": n,
        "in_median_ms": _pct(lat_in, 50),
        "in_p99_ms": _pct(lat_in, 99),
        "http_median_ms": _pct(lat_http, 50),
        "http_p99_ms": _pct(lat_http, 99),
        "profiles": profiles,
        "no_steps_median_ms": _pct(lat_plain, 50),
        "no_steps_p99_ms": _pct(lat_plain, 99),
    }


def _pct(v, q) -> float:
    """Percentile ``q`` of durations ``v`` (s), in milliseconds."""
    return float(np.percentile(np.array(v) * 1000, q))


# ----------------------------------------------------------------------------- driver
def child(args: list[str]) -> list[dict]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,200")
    ap.add_argument("--facilities", default="50,500")
    ap.add_argument("--skip-networkx-above", type=int, default=3_000_000)
    ap.add_argument("--nearest-queries", type=int, default=2000)
    ap.add_argument("--pandana-max-nodes", type=int, default=10**9, help="skip pandana on larger networks")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    counts = [int(x) for x in a.facilities.split(",")]
    if a.part == "engine":
        part_engine(a.scale, counts, a.skip_networkx_above, a.pandana_max_nodes)
        return
    if a.part == "memory":
        print(json.dumps(part_memory(a.scale)))
        return
    if a.part == "coverage":
        print(json.dumps(part_coverage(Path(tempfile.mkdtemp()))))
        return
    if a.part == "nearest":
        print(json.dumps(part_nearest(Path(tempfile.mkdtemp()), a.nearest_queries)))
        return

    scales = [float(x) for x in a.scales.split(",")]
    engine, memory = [], []
    for sc in scales:
        print(f"engine, scale {sc:g} ...", flush=True)
        engine += child(
            [
                "--part",
                "engine",
                "--scale",
                str(sc),
                "--facilities",
                a.facilities,
                "--skip-networkx-above",
                str(a.skip_networkx_above),
                "--pandana-max-nodes",
                str(a.pandana_max_nodes),
            ]
        )
        memory += child(["--part", "memory", "--scale", str(sc)])
    print("coverage ...", flush=True)
    cov = child(["--part", "coverage"])[0]
    print("nearest ...", flush=True)
    near = child(["--part", "nearest", "--nearest-queries", str(a.nearest_queries)])[0]
    md = render(engine, memory, cov, near)
    print(md)
    if not a.no_write:
        write_section(f"{START}\n{md}\n{END}", START, END)


def render(engine, memory, cov, near) -> str:
    def s(x):
        return "–" if x is None else (f"{x:.3f} s" if x < 10 else f"{x:.1f} s")

    lines = [
        "## Walking network, coverage and /nearest",
        "",
        f"`benchmarks/network_nearest.py`, {date.today().isoformat()}, {platform.machine()}, 2 cores, 24 GB "
        f"(Python {platform.python_version()}). Facilities on random nodes of the sample city's network; every "
        "peer's all-nodes distances are compared with ours (max |difference|).",
        "",
        "| network | facilities | this project: multi-source pass (snapping the facilities apart) | "
        "bare scipy `dijkstra(min_only)` | ours / scipy | "
        "networkx `multi_source_dijkstra_path_length` | networkx / ours | pandana set-up | pandana `nearest_pois` | "
        "max diff (scipy / networkx / pandana) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in engine:
        nx_s = r.get("networkx_s")
        cells = [
            f"scale {r['scale']:g}: {r['nodes']:,} nodes, {r['edges']:,} edges",
            str(r["facilities"]),
            f"{s(r['ours_s'])} ({s(r['snap_s'])})",
            s(r["scipy_s"]),
            f"{r['ours_s'] / r['scipy_s']:.2f}",
            s(nx_s) if nx_s else "skipped",
            f"{nx_s / r['ours_s']:.0f}x" if nx_s else "–",
        ]
        if r.get("pandana_setup_s") is not None:
            cells += [s(r["pandana_setup_s"]), s(r["pandana_query_s"])]
        else:
            cells += [str(r.get("pandana")), "–"]
        diffs = [r.get("scipy_maxdiff"), r.get("networkx_maxdiff"), r.get("pandana_maxdiff")]
        cells.append(" / ".join("–" if d is None else f"{d:.2g} m" for d in diffs))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| network held for queries | load from file + snapping index | RSS after (process) | arrays |",
        "|---|---|---|---|",
    ]
    for m in memory:
        lines.append(
            f"| {m['nodes']:,} nodes, {m['edges']:,} edges | {m['load_s']:.2f} s | "
            f"{m['rss_mb']:,.0f} MB (peak {m['peak_mb']:,.0f} MB) | {m['arrays_mb']:,.0f} MB |"
        )
    lines += [
        "",
        f"Full coverage run of the default sample city ({cov['units']:,} units, {cov['categories']} categories, "
        "walking + straight line + E2SFCA, stored with all outputs, SpatiaLite): "
        f"**{cov['first_s']:.2f} s** end to end with the network read from the database "
        f"(again: {cov['again_s']:.2f} s); peak RSS {cov['peak_mb']:,.0f} MB "
        f"(after loading the city: {cov['peak_before_mb']:,.0f} MB).",
        "",
        f"`/nearest` (k = 3 with routes, four categories in turn, {near['n']:,} random points): in process median "
        f"**{near['in_median_ms']:.2f} ms**, p99 {near['in_p99_ms']:.2f} ms; "
        "over HTTP on loopback (uvicorn, one keep-alive client) "
        f"median {near['http_median_ms']:.2f} ms, p99 {near['http_p99_ms']:.2f} ms. Every route carries its "
        "turn-by-turn steps; the same queries without steps (routes only): median "
        f"{near['no_steps_median_ms']:.2f} ms, p99 {near['no_steps_p99_ms']:.2f} ms "
        f"(steps cost {near['in_median_ms'] / max(near['no_steps_median_ms'], 1e-9):.2f}x at the median).",
        "",
        "| walking profile (issue 16) | labels of the four categories built in | in process median | p99 | "
        "median / standard's |",
        "|---|---|---|---|---|",
    ]
    prof = near.get("profiles", {})
    std = prof.get("standard", {}).get("median_ms") or 1.0
    for name, p in prof.items():
        lines.append(
            f"| {name} | {p['build_s']:.2f} s | {p['median_ms']:.2f} ms | {p['p99_ms']:.2f} ms | "
            f"{p['median_ms'] / std:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
