"""Benchmark: HTTP load on loopback with the default sample city — ``/nearest`` and vector tiles at a fixed rate.

Run by hand (needs ``wrk``: ``apt-get install wrk``; ``scripts/install.sh --test`` installs it):

    .venv/bin/python benchmarks/load.py                      # 60 s per scenario, prints Markdown
    .venv/bin/python benchmarks/load.py --write              # and replaces the load section of docs/benchmarks.md
    .venv/bin/python benchmarks/load.py --duration 10 --no-capacity    # a quick look

What it does, in this order:

1. a fresh data directory (temp dir) with the default sample city in the embedded SpatiaLite database
   (``geo-service sample-city``, as ``scripts/quickstart.sh`` does);
2. the service as in production: ``geo-service serve --workers N`` (uvicorn, N worker processes, default 2 on the
   2-core machine) on a free loopback port, started with ``GEO_RATE_LIMIT_RPS=0``: every request comes from one
   loopback address, which the per-client rate limit (429) would otherwise throttle; waits for ``/health``;
3. request lists: random points (seeded) uniform in the extent of the walking network (read from
   ``/ogc/collections/network_nodes``) that are within the service's 300 m snap distance of a street — farther
   points are answered 422 by design and are left out; each point is one resident-page tap, as
   ``maps/static/resident/resident.js`` sends it: ``category=shelter&k=1`` plus ``category=C&k=3`` for a
   category C drawn uniformly from ``/nearest/categories`` (``shelter&k=3`` alone when C is shelter), routes on
   (the page does not pass ``route``).  Tiles: ``/tiles/{facilities,shelters,population_units}/z/x/y.mvt``
   (the layers the facilities and coverage maps draw from tiles above ``INLINE_MAX_FEATURES``), zoom drawn
   uniformly from 13-16 (the maps open at 13, the resident page zooms to 16), tile uniform among those covering
   the extent; no ``If-None-Match``, so every tile is rendered;
4. per scenario a warm-up (10 s at the same rate, other points, not recorded) then ``wrk`` for ``--duration``
   seconds at a fixed offered rate (``--rate`` 500/s for ``/nearest``, ``--tile-rate`` 25/s for tiles;
   ``benchmarks/load.lua``: each wrk thread spaces its sends on a fixed schedule whatever the answers' speed;
   sends that had to wait for a free connection are counted as late); errors = socket errors + every non-2xx
   answer (must be 0).  Every ``--renew``-th request (default 10) asks ``Connection: close`` and wrk opens a new
   connection, as connections come and go with many residents: uvicorn's workers share one listening socket, and
   connections that all open at once and live for the whole run fall unevenly on them (46 of 50 on one worker
   in a trial), which measures the accept race rather than the service;
5. the peer on the same input in the same run: the same stack serving a small static file
   (``/static/resident/resident.css``, Starlette ``StaticFiles``) at the same offered rate, and closed-loop
   capacity runs (``--capacity-duration`` s, as fast as the answers come) of ``/nearest``, tiles and the static
   file, so ``/nearest`` is read as a ratio of what the server stack itself costs.

CPU: the server's processes, wrk and everything else on the machine are measured from ``/proc`` during each
run; wrk runs on the same 2 cores as the service.  Before each run the script waits (``--quiet-wait``, up to
600 s) for other work on the machine to stop, and reports what other work there was.

Scenario ``profiles`` (issue 16): the same kind of taps, each with ``profile=elderly`` or ``profile=wheelchair``
(drawn uniformly): labels per profile, routes and turn-by-turn steps as for the standard profile.

Target (issue 7, issue 16): 500 ``/nearest`` requests per second with p99 under 50 ms, no errors, with and
without a walking profile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _doc import tiles_covering, write_section  # benchmarks/ is the script's own folder

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
LUA = ROOT / "benchmarks" / "load.lua"
START, END = "<!-- load-bench:start -->", "<!-- load-bench:end -->"
STATIC_PATH = "/static/resident/resident.css"
TILE_COLLECTIONS = ["facilities", "shelters", "population_units"]
TILE_ZOOMS = [13, 14, 15, 16]
TARGET_RPS, TARGET_P99_MS = 500.0, 50.0


# ----------------------------------------------------------------------------- machine and processes
def _read(path: str, mode: str = "r"):
    with open(path, mode) as f:
        return f.read()


def machine() -> str:
    mem_kb = next(int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {round(mem_kb / 2**20)} GB"


def cpu_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    f = [int(x) for x in _read("/proc/stat").splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    total = sum(f[:8])
    return total - idle, total


def tree_ticks(pid: int) -> int:
    """utime + stime of a process and all its live descendants, in jiffies."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = _read(f"/proc/{d}/stat")
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        stats[int(d)] = rest
        children.setdefault(int(rest[1]), []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += int(stats[p][11]) + int(stats[p][12])
        todo.extend(children.get(p, []))
    return total


def wait_quiet(max_wait: float, threshold_pct: float = 15.0, window: float = 3.0) -> float:
    """Wait (up to ``max_wait`` s) until the whole machine is below ``threshold_pct`` busy over ``window`` s.

    The service is idle between runs, so what is busy then is other work on the machine.  Returns the
    busy share of the last window.
    """
    t = time.monotonic()
    while True:
        b0, t0 = cpu_busy_ticks()
        time.sleep(window)
        b1, t1 = cpu_busy_ticks()
        busy = 100.0 * (b1 - b0) / max(t1 - t0, 1)
        if busy < threshold_pct or time.monotonic() - t >= max_wait:
            return busy
        print(f"  machine {busy:.0f} % busy with other work; waiting", file=sys.stderr, flush=True)


def worker_ticks(pid: int) -> dict[int, int]:
    """utime + stime per uvicorn worker process (the children running ``spawn_main``; the process itself if none)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = _read(f"/proc/{d}/stat")
            cmd = _read(f"/proc/{d}/cmdline", "rb")
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        if int(rest[1]) == pid and b"spawn_main" in cmd:
            out[int(d)] = int(rest[11]) + int(rest[12])
    if not out:
        rest = _read(f"/proc/{pid}/stat")
        rest = rest[rest.rindex(")") + 2 :].split()
        out[pid] = int(rest[11]) + int(rest[12])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 30.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


# ----------------------------------------------------------------------------- request lists
def reachable_points(data_dir: Path, bbox, n: int, seed: int) -> tuple[list[tuple[float, float]], float]:
    """``n`` random points in ``bbox`` within the service's snap distance of a street; the share left out."""
    import numpy as np
    import shapely

    from geo_service.core.network import DEFAULT_MAX_SNAP_M, load_network
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    store = Store(f"sqlite:///{data_dir / 'geo_service.sqlite'}", settings=Settings(GEO_DATA_DIR=data_dir))
    net = load_network(store)
    store.engine.dispose()
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float]] = []
    tried = 0
    while len(out) < n:
        m = 2 * (n - len(out)) + 100
        lon = rng.uniform(bbox[0], bbox[2], m).round(6)
        lat = rng.uniform(bbox[1], bbox[3], m).round(6)
        ok = net.snap(shapely.points(np.column_stack([lon, lat])), max_snap_m=DEFAULT_MAX_SNAP_M).reachable
        tried += m
        out += [(float(a), float(b)) for a, b in zip(lon[ok], lat[ok])]
    return out[:n], 1.0 - len(out) / tried


PROFILES = ["elderly", "wheelchair"]


def nearest_paths(points, categories: list[str], seed: int, profiles: list[str] | None = None) -> list[str]:
    """Resident-page taps; with ``profiles`` each tap walks one of them (drawn uniformly), as the page sends it."""
    rng = random.Random(seed)
    paths = []
    for lon, lat in points:
        c = rng.choice(categories)
        q = f"/nearest?lon={lon:.6f}&lat={lat:.6f}"
        if profiles:
            q += f"&profile={rng.choice(profiles)}"
        if c == "shelter":
            paths.append(f"{q}&category=shelter&k=3")
        else:
            paths.append(f"{q}&category=shelter&k=1")
            paths.append(f"{q}&category={c}&k=3")
    return paths


def tile_paths(bbox, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    by_zoom = {z: tiles_covering(bbox, z) for z in TILE_ZOOMS}
    out = []
    for _ in range(n):
        z = rng.choice(TILE_ZOOMS)
        _, x, y = rng.choice(by_zoom[z])
        out.append(f"/tiles/{rng.choice(TILE_COLLECTIONS)}/{z}/{x}/{y}.mvt")
    return out


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- wrk
def run_wrk(
    base: str,
    paths: Path,
    rate: float,
    duration: float,
    connections: int,
    threads: int,
    server_pid: int,
    renew: int = 0,
) -> dict:
    env = {
        **os.environ,
        "LOAD_PATHS": str(paths),
        "LOAD_RATE": f"{rate:g}",
        "LOAD_THREADS": str(threads),
        "LOAD_CLOSE_EVERY": str(renew),
    }
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        base,
    ]
    busy0, total0 = cpu_busy_ticks()
    srv0 = tree_ticks(server_pid)
    w0 = worker_ticks(server_pid)
    r0 = os.times()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    r1 = os.times()
    srv1 = tree_ticks(server_pid)
    w1 = worker_ticks(server_pid)
    busy1, total1 = cpu_busy_ticks()
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("LOADJSON ")), None)
    if out.returncode != 0 or line is None:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    res = json.loads(line[len("LOADJSON ") :])
    hz = os.sysconf("SC_CLK_TCK")
    wrk_cpu = ((r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)) * hz
    busy = busy1 - busy0
    res.update(
        {
            "offered_rps": rate,
            "connections": connections,
            "threads": threads,
            "wall_s": wall,
            "throughput_rps": res["requests"] / (res["duration_us"] / 1e6),
            "errors": res["socket_errors"] + res["non2xx"],
            # shares of the whole machine (100 % = every core busy)
            "cpu_server_pct": 100.0 * (srv1 - srv0) / (total1 - total0) if total1 > total0 else 0.0,
            "cpu_wrk_pct": 100.0 * wrk_cpu / (total1 - total0) if total1 > total0 else 0.0,
            "cpu_busy_pct": 100.0 * busy / (total1 - total0) if total1 > total0 else 0.0,
            # share of the workers' CPU each worker took (how evenly uvicorn's workers shared the load)
            "worker_split_pct": sorted(
                (100.0 * (w1[p] - w0.get(p, 0)) / max(sum(w1[q] - w0.get(q, 0) for q in w1), 1) for p in w1),
                reverse=True,
            ),
            "wrk_cmd": " ".join(cmd[:-3] + ["benchmarks/load.lua", "URL"]),
        }
    )
    res["cpu_other_pct"] = max(0.0, res["cpu_busy_pct"] - res["cpu_server_pct"] - res["cpu_wrk_pct"])
    return res


# ----------------------------------------------------------------------------- the run
def http_stack() -> str:
    """What uvicorn will run on (its ``auto`` choice): httptools + uvloop when installed, else h11 + asyncio."""
    code = (
        "import importlib.util as u, uvicorn; print(uvicorn.__version__, "
        "'httptools' if u.find_spec('httptools') else 'h11', 'uvloop' if u.find_spec('uvloop') else 'asyncio')"
    )
    v, http, loop = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return f"uvicorn {v}, {http} + {loop}"


def start_server(data_dir: Path, port: int, workers: int, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        {"GEO_DATA_DIR": str(data_dir), "GEO_RATE_LIMIT_RPS": "0", "GEO_HOST": "127.0.0.1", "GEO_PORT": str(port)}
    )
    cmd = [sys.executable, "-m", "geo_service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    # cwd = the data dir: no developer .env is read
    return subprocess.Popen(cmd, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_health(base: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            sys.exit(f"the service exited ({proc.returncode}) before answering /health")
        try:
            if get_json(base + "/health", timeout=2).get("status") == "ok":
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"no healthy answer from {base}/health in {timeout:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rate", type=float, default=TARGET_RPS, help="offered /nearest rate, requests/s (also the static peer's)"
    )
    ap.add_argument("--tile-rate", type=float, default=25.0, help="offered tile rate, requests/s")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per fixed-rate scenario")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of warm-up before each scenario (not recorded)")
    ap.add_argument("--capacity-duration", type=float, default=15.0, help="seconds per closed-loop capacity run")
    ap.add_argument(
        "--capacity", default="nearest,profiles,static,tiles", help="closed-loop capacity runs, comma separated"
    )
    ap.add_argument("--no-capacity", action="store_true", help="skip the closed-loop capacity runs")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections of the fixed-rate runs")
    ap.add_argument("--capacity-connections", type=int, default=16, help="wrk connections of the capacity runs")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument(
        "--renew",
        type=int,
        default=10,
        help="every n-th request closes its connection (wrk opens a new one), as from many clients; 0: never",
    )
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the service")
    ap.add_argument(
        "--scenarios", default="nearest,profiles,static,tiles", help="fixed-rate scenarios, comma separated"
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=600.0,
        help="before each run wait up to this many seconds for other work on the machine to stop (0: never wait)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and the server log")
    ap.add_argument("--write", action="store_true", help="replace the load section of docs/benchmarks.md")
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (scripts/install.sh --test installs it)")
    wrk_version = (
        subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        .stdout.split(" Copyright")[0]
        .strip()
    )
    tmp = Path(tempfile.mkdtemp(prefix="load-bench-"))
    log_path = tmp / "server.log"

    def say(*a):
        print(*a, file=sys.stderr, flush=True)

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["GEO_DATA_DIR"] = str(tmp)
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "geo_service.cli", "sample-city"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(out.stdout[-2000:] + out.stderr[-2000:])
    say(f"sample city loaded in {time.perf_counter() - t:.1f} s ({tmp})")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict] = {}
    with open(log_path, "wb") as log:
        proc = start_server(tmp, port, args.workers, log)
        try:
            wait_health(base, proc)
            say(f"service up at {base} (workers {args.workers}, GEO_RATE_LIMIT_RPS=0)")
            bbox = get_json(base + "/ogc/collections/network_nodes")["extent"]["spatial"]["bbox"][0]
            categories = [c["category"] for c in get_json(base + "/nearest/categories")]
            n_taps = int(args.rate * args.duration * 0.6) + 1000  # about 1.96 requests per tap
            pts, left_out = reachable_points(tmp, bbox, n_taps * 2, args.seed)
            main_paths = nearest_paths(pts[:n_taps], categories, args.seed)
            warm_paths = nearest_paths(pts[n_taps:], categories, args.seed + 1)
            lists = {
                "nearest": (
                    write_list(tmp / "nearest.txt", main_paths),
                    write_list(tmp / "nearest_warm.txt", warm_paths),
                ),
                "profiles": (
                    write_list(tmp / "profiles.txt", nearest_paths(pts[:n_taps], categories, args.seed + 2, PROFILES)),
                    write_list(
                        tmp / "profiles_warm.txt", nearest_paths(pts[n_taps:], categories, args.seed + 3, PROFILES)
                    ),
                ),
                "tiles": (
                    write_list(tmp / "tiles.txt", tile_paths(bbox, 20000, args.seed)),
                    write_list(tmp / "tiles_warm.txt", tile_paths(bbox, 2000, args.seed + 1)),
                ),
                "static": (write_list(tmp / "static.txt", [STATIC_PATH]),) * 2,
            }
            say(
                f"{len(main_paths):,} /nearest paths from {n_taps:,} points ({left_out:.1%} of uniform points "
                f"are > 300 m from a street and left out), {len(categories)} categories"
            )
            rates = {"nearest": args.rate, "profiles": args.rate, "static": args.rate, "tiles": args.tile_rate}
            for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
                paths, warm = lists[name]
                wait_quiet(args.quiet_wait)
                if args.warmup > 0:
                    run_wrk(base, warm, rates[name], args.warmup, args.connections, args.threads, proc.pid, args.renew)
                r = run_wrk(
                    base, paths, rates[name], args.duration, args.connections, args.threads, proc.pid, args.renew
                )
                results[name] = r
                say(f"{name}: {json.dumps(r)}")
            if not args.no_capacity:
                for name in [c.strip() for c in args.capacity.split(",") if c.strip()]:
                    paths = lists[name][0]
                    wait_quiet(args.quiet_wait)
                    r = run_wrk(
                        base,
                        paths,
                        0,
                        args.capacity_duration,
                        args.capacity_connections,
                        args.threads,
                        proc.pid,
                        args.renew,
                    )
                    results[f"{name}_capacity"] = r
                    say(f"{name} capacity: {json.dumps(r)}")
        finally:
            stop_server(proc)
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)

    text = report(args, results, wrk_version, http_stack(), left_out, len(categories))
    print(text)
    if args.write:
        write_section(text, START, END)


# ----------------------------------------------------------------------------- Markdown
def ms(us: float) -> str:
    v = us / 1000.0
    return f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def report(args, results: dict, wrk_version: str, stack: str, left_out: float, n_categories: int) -> str:
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    defaults = {"rate": TARGET_RPS, "tile_rate": 25.0, "duration": 60.0, "workers": 2, "renew": 10}
    cmd = (
        ".venv/bin/python benchmarks/load.py"
        + "".join(f" --{k.replace('_', '-')} {getattr(args, k):g}" for k in defaults if getattr(args, k) != defaults[k])
        + (" --write" if args.write else "")
    )
    what = {
        "nearest": "`/nearest` (resident-page taps, routes and steps on)",
        "profiles": "`/nearest?profile=` elderly or wheelchair (same taps, routes and steps on)",
        "static": "peer: static file `resident.css`, same service",
        "tiles": "vector tiles, zoom 13–16",
    }
    renew = (
        f"every {args.renew}th request closes its connection and wrk opens a new one, as from many residents"
        if args.renew
        else "connections kept for the whole run"
    )
    lines = [
        START,
        f"## HTTP load — `benchmarks/load.py` ({date})",
        "",
        (
            f"Machine: {machine()} (x86_64, Python {platform.python_version()}, {stack}, {wrk_version}); "
            f"**wrk runs on the same 2 cores as the service** (its CPU is in the tables). Command: `{cmd}`. "
            "The default sample city in a fresh "
            f"SpatiaLite file; the service started as `geo-service serve --workers {args.workers}` "
            f"({args.workers} uvicorn worker process{'es' if args.workers > 1 else ''}) "
            "with **`GEO_RATE_LIMIT_RPS=0`**: all "
            "load comes from one loopback client, which the per-client rate limit would answer 429. No token is needed "
            "(`/nearest` and tiles are public)."
        ),
        "",
        (
            f"`/nearest`: random points of the city's extent within 300 m of a street ({left_out:.1%} of uniform "
            "points are farther, answered 422 by design, and left out), each a resident-page tap: "
            f"`category=shelter&k=1` plus `k=3` of a category drawn from the {n_categories} with data "
            "(`shelter&k=3` alone when it is drawn), routes on. "
            "Tiles: `facilities`, `shelters`, `population_units`, zoom 13–16, random tiles over the extent, no "
            f"`If-None-Match` (every tile rendered). Fixed offered rate for {args.duration:g} s after a "
            f"{args.warmup:g} s warm-up (`benchmarks/load.lua`: sends on a fixed schedule whatever the answers' "
            f"speed, {args.connections} connections, {renew}; a send that found no free connection in time is *late*). "
            "Latency is wrk's, from "
            "sending to the whole answer. Errors = socket errors + every non-2xx answer. CPU = share of the whole "
            "machine (100 % = both cores) during the run; *other* is work of other jobs on the machine; *split* is how "
            "the service's CPU fell on its worker processes."
        ),
        "",
        "| scenario | offered | achieved | median | p90 | p99 | max | errors | late sends (> 50 ms) | "
        "CPU: service / wrk / other (split) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cpu(r):
        split = "/".join(f"{x:.0f}" for x in r["worker_split_pct"])
        return f"{r['cpu_server_pct']:.0f} % / {r['cpu_wrk_pct']:.0f} % / {r['cpu_other_pct']:.0f} % ({split})"

    for name in ("nearest", "profiles", "static", "tiles"):
        r = results.get(name)
        if r:
            lines.append(
                f"| {what[name]} | {r['offered_rps']:g}/s | {r['throughput_rps']:.1f}/s ({r['requests']:,} in "
                f"{r['duration_us'] / 1e6:.1f} s) | {ms(r['p50_us'])} | {ms(r['p90_us'])} | {ms(r['p99_us'])} | "
                f"{ms(r['max_us'])} | {r['errors']} | {r['late']:,} ({r['late_50ms']:,}) | {cpu(r)} |"
            )
    caps = [(n, results.get(f"{n}_capacity")) for n in ("nearest", "profiles", "static", "tiles")]
    if any(r for _, r in caps):
        lines += [
            "",
            (
                f"Capacity, same service, same run: closed loop ({args.capacity_connections} connections, "
                f"{args.capacity_duration:g} s each, every request sent as soon as the previous answer is in):"
            ),
            "",
            "| requests | throughput | median | p99 | max | errors | CPU: service / wrk / other (split) |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, r in caps:
            if r:
                lines.append(
                    f"| {what[n]} | {r['throughput_rps']:.0f}/s | {ms(r['p50_us'])} | {ms(r['p99_us'])} | "
                    f"{ms(r['max_us'])} | {r['errors']} | {cpu(r)} |"
                )
    n, s = results.get("nearest"), results.get("static")
    notes = []
    if n and s:
        notes.append(
            f"- Peer at the same offered rate: `/nearest` median {n['p50_us'] / max(s['p50_us'], 1):.2f}x and "
            f"p99 {n['p99_us'] / max(s['p99_us'], 1):.2f}x the static file's."
        )
    nc, sc = results.get("nearest_capacity"), results.get("static_capacity")
    if nc and sc:
        notes.append(
            f"- Capacity: `/nearest` {nc['throughput_rps'] / sc['throughput_rps']:.2f}x the static file's "
            f"({nc['throughput_rps']:.0f} against {sc['throughput_rps']:.0f} requests/s)."
        )
    pr = results.get("profiles")
    if n and pr:
        notes.append(
            f"- With a walking profile: median {pr['p50_us'] / max(n['p50_us'], 1):.2f}x and p99 "
            f"{pr['p99_us'] / max(n['p99_us'], 1):.2f}x those of the standard profile at the same offered rate."
        )
    for name, r in (("/nearest", n), ("/nearest?profile=", pr), ("static", s), ("tiles", results.get("tiles"))):
        if r and r["requests"]:
            ms_per = 10.0 * r["cpu_server_pct"] * (os.cpu_count() or 1) * (r["wall_s"]) / r["requests"]
            notes.append(f"- Service CPU per `{name}` request in the fixed-rate run: {ms_per:.2f} ms.")
    for label, r in (("`/nearest`", n), ("`/nearest?profile=`", pr)):
        if not r:
            continue
        met = (
            r["offered_rps"] >= TARGET_RPS
            and r["throughput_rps"] >= 0.99 * TARGET_RPS
            and r["p99_us"] < TARGET_P99_MS * 1000
            and r["errors"] == 0
        )
        notes.append(
            f"- Target ({TARGET_RPS:g} {label} requests/s, p99 < {TARGET_P99_MS:g} ms, no errors): "
            f"**{'met' if met else 'not met'}** ({r['throughput_rps']:.1f}/s, p99 {ms(r['p99_us'])}, "
            f"{r['errors']} errors)."
        )
    if notes:
        lines += [""] + notes
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
