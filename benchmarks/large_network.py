"""Benchmark: labels and bounded searches on a network of more than 10 M nodes (issue 18, item 3).

Run by hand; results go into docs/benchmarks.md between the ``large_network`` markers:

    .venv/bin/python benchmarks/large_network.py                    # 10 x 10 copies of scale 10: 10.3 M nodes
    .venv/bin/python benchmarks/large_network.py --copies 2 --no-write   # quick, 0.4 M nodes

The network is built from generator frames only (no database): the walking network of
``generate_sample_city(scale=10)`` (103,000 nodes), tiled ``copies x copies`` edge to edge with straight
links between neighbouring copies (20 per border, length = the straight distance), nodes in Morton order,
edges as straight segments.  Sources: one per 37 nodes (the sample city's shelter density), snapped points.

Parts, each in its own process so that its peak RSS (``ru_maxrss``) is its own; the network alone is part
``load``:

- ``labels_local``: :meth:`KNearestLabels.build` (k 5, radius 5 km, local subgraphs) from every source;
- ``labels_local_sample`` / ``labels_whole_sample``: the same from a sample of sources, local and over the whole
  network per chunk of sources (the earlier method, the peer: too slow for every source on 10 M nodes);
- ``pairs_local``: ``distances_within`` (1,000 m) from every 10th source to all targets;
- ``pairs_local_sample`` / ``pairs_whole_sample``: the same from a sample of sources, local and whole network.

The sample results of the two methods are compared array by array (labels: distances, sources and
predecessors; pairs: the same pairs at the same distances).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from _doc import write_section  # benchmarks/ is the script's own folder

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- large_network:start -->", "<!-- large_network:end -->"
RADIUS_M = 5000.0
K = 5
PAIRS_LIMIT_M = 1000.0
SOURCE_EVERY = 37  # nodes per source: the sample city's shelters (279 on 10,351 nodes)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def net_path(scale: float, copies: int) -> Path:
    return Path(tempfile.gettempdir()) / f"geo_large_net_{scale:g}_{copies}.npz"


# ----------------------------------------------------------------------------- the tiled network
def build_network(scale: float, copies: int) -> dict:
    """Tile the generator's network ``copies x copies`` times and save it (metric CRS, m)."""
    from scipy.spatial import cKDTree

    from geo_service.core.network import WalkNetwork
    from geo_service.core.network.graph import morton_order
    from geo_service.core.sample_city import generate_sample_city

    t0 = time.perf_counter()
    city = generate_sample_city(scale=scale)
    base = WalkNetwork.from_frames(city.network_nodes, city.network_edges)
    gen_s = time.perf_counter() - t0
    del city
    xy0, u0, v0, len0 = base.node_xy, base.edge_u.astype(np.int64), base.edge_v.astype(np.int64), base.edge_length_m
    n0 = len(xy0)
    lo, hi = xy0.min(axis=0), xy0.max(axis=0)
    step = (hi - lo) + 150.0  # 150 m between copies, bridged by links
    east = np.argsort(xy0[:, 0])[-20:]
    west_tree = cKDTree(xy0 - [step[0], 0.0])  # the next copy's nodes seen from this one
    _, east_to = west_tree.query(xy0[east])
    north = np.argsort(xy0[:, 1])[-20:]
    south_tree = cKDTree(xy0 - [0.0, step[1]])
    _, north_to = south_tree.query(xy0[north])
    xs, us, vs, ls = [], [], [], []
    for i in range(copies):
        for j in range(copies):
            c = i * copies + j
            xs.append(xy0 + step * [i, j])
            us.append(u0 + c * n0)
            vs.append(v0 + c * n0)
            ls.append(len0)
            for di, dj, a, b in ((1, 0, east, east_to), (0, 1, north, north_to)):
                if i + di < copies and j + dj < copies:
                    c2 = (i + di) * copies + (j + dj)
                    pa, pb = xy0[a] + step * [i, j], xy0[b] + step * [i + di, j + dj]
                    us.append(a + c * n0)
                    vs.append(b + c2 * n0)
                    ls.append(np.hypot(*(pa - pb).T))
    xy = np.concatenate(xs)
    u, v, length = np.concatenate(us), np.concatenate(vs), np.concatenate(ls)
    del xs, us, vs, ls
    order = morton_order(xy)
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    xy = np.ascontiguousarray(xy[order])
    u, v = pos[u].astype(np.int32), pos[v].astype(np.int32)
    coords = np.stack([xy[u], xy[v]], axis=1).reshape(-1, 2)
    net = WalkNetwork(
        node_xy=xy,
        edge_u=u,
        edge_v=v,
        edge_length_m=length,
        edge_class=np.full(len(u), 1, dtype=np.int8),
        edge_coords=coords,
        edge_offsets=np.arange(0, 2 * len(u) + 1, 2, dtype=np.int64),
        crs=base.crs,
        name=f"tiled {copies}x{copies} scale {scale:g}",
        node_ids=order.astype(np.int64),
    )
    net.version = net._digest()
    net.csr  # noqa: B018
    net.save(net_path(scale, copies))
    return {"nodes": net.n_nodes, "edges": net.n_edges, "generate_s": gen_s, "build_s": time.perf_counter() - t0}


def sources_and_targets(net, n_sample: int) -> dict:
    """Snapped sources (one per ``SOURCE_EVERY`` nodes), a sample of them in one corner region, and targets."""
    rng = np.random.default_rng(18)
    n_src = net.n_nodes // SOURCE_EVERY
    e = rng.integers(0, net.n_edges, n_src)
    xy = net.node_xy[net.edge_u[e]] + rng.random((n_src, 1)) * (net.node_xy[net.edge_v[e]] - net.node_xy[net.edge_u[e]])
    xy += rng.normal(0, 40, xy.shape)
    src = net.snap_xy(xy)
    # the sample: the sources nearest to a point 20 km in from the south-west corner
    x0, y0, _, _ = net.bounds_m
    d = np.hypot(xy[:, 0] - x0 - 20_000, xy[:, 1] - y0 - 20_000)
    sample = np.sort(np.argsort(d)[:n_sample])
    te = rng.integers(0, net.n_edges, 4 * n_src)
    txy = net.node_xy[net.edge_u[te]] + rng.normal(0, 60, (len(te), 2))
    return {"sources": src, "sample": sample, "targets": net.snap_xy(txy)}


# ----------------------------------------------------------------------------- parts (child processes)
def run_part(part: str, scale: float, copies: int, n_sample: int, out: Path) -> dict:
    from geo_service.core.network import KNearestLabels, WalkNetwork

    t = time.perf_counter()
    net = WalkNetwork.load(net_path(scale, copies))
    row: dict = {"part": part, "load_s": time.perf_counter() - t}
    if part == "load":
        row["peak_mb"] = peak_mb()
        return row
    t = time.perf_counter()
    st = sources_and_targets(net, n_sample)
    row["snap_s"] = time.perf_counter() - t
    src, sample, targets = st["sources"], st["sample"], st["targets"]
    row["sources"] = len(src)
    row["targets"] = len(targets)
    base_mb = peak_mb()
    t = time.perf_counter()
    if part.startswith("labels"):
        s = src if part == "labels_local" else src.take(sample)
        method = "whole" if part == "labels_whole_sample" else "local"
        labels = KNearestLabels.build(net, s, k_max=K, radius_m=RADIUS_M, method=method)
        row["time_s"] = time.perf_counter() - t
        row["used_sources"] = len(s)
        if part != "labels_local":
            np.savez(out, d=labels.dist_m, s=labels.source, p=labels.pred)
    else:
        s = src.take(np.arange(0, len(src), 10)) if part == "pairs_local" else src.take(sample)
        if part == "pairs_whole_sample":
            i, j, d = net._distances_direct(s, targets, limit_m=PAIRS_LIMIT_M)
        else:
            i, j, d = net.distances_within(s, targets, limit_m=PAIRS_LIMIT_M)
        row["time_s"] = time.perf_counter() - t
        row["used_sources"] = len(s)
        row["pairs"] = len(i)
        if part != "pairs_local":
            np.savez(out, i=i, j=j, d=d)
    row["peak_mb"] = peak_mb()
    row["base_peak_mb"] = base_mb
    return row


def child(part: str, args, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--part", part, "--out-file", str(out)]
    cmd += ["--scale", str(args.scale), "--copies", str(args.copies), "--sample", str(args.sample)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"part {part} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(lines[-1])
    print(json.dumps(row), flush=True)
    return row


def compare(tmp: Path) -> dict:
    a, b = np.load(tmp / "labels_local_sample.npz"), np.load(tmp / "labels_whole_sample.npz")
    labels_equal = all(np.array_equal(a[k], b[k]) for k in ("d", "s", "p"))
    labelled = int(np.isfinite(a["d"][:, 0]).sum())
    a, b = np.load(tmp / "pairs_local_sample.npz"), np.load(tmp / "pairs_whole_sample.npz")
    m = int(max(a["j"].max(initial=0), b["j"].max(initial=0))) + 1
    ka, kb = a["i"] * m + a["j"], b["i"] * m + b["j"]
    oa, ob = np.argsort(ka), np.argsort(kb)
    pairs_equal = bool(np.array_equal(ka[oa], kb[ob]) and np.array_equal(a["d"][oa], b["d"][ob]))
    return {"labels_equal": labels_equal, "labelled_nodes": labelled, "pairs_equal": pairs_equal, "pairs": len(ka)}


def markdown(build: dict, rows: dict, cmp: dict, args, load: str) -> str:
    r = rows
    lines = [
        f"### Large networks: labels and bounded searches on local subgraphs ({date.today().isoformat()})",
        "",
        f"`benchmarks/large_network.py`, {os.cpu_count()} cores, 24 GB, Python {platform.python_version()}; "
        f"machine load (`uptime`) at the start: {load}. Network: the generator's walking network at scale "
        f"{args.scale:g} tiled {args.copies} x {args.copies} (frames only, no database): **{build['nodes']:,} nodes, "
        f"{build['edges']:,} edges** (built in {build['build_s']:.0f} s). Held for queries, loaded from its file: "
        f"peak RSS {r['load']['peak_mb']:,.0f} MB. Sources: {r['labels_local']['sources']:,} snapped points (one per "
        f"{SOURCE_EVERY} nodes); the sample is the {args.sample} sources nearest one point.",
        "",
        "| search | sources | local subgraphs | whole network per chunk (peer) | peak RSS local / whole |",
        "|---|---|---|---|---|",
        f"| k-nearest labels (k {K}, radius {RADIUS_M / 1000:.0f} km), every source | "
        f"{r['labels_local']['used_sources']:,} | {r['labels_local']['time_s']:.1f} s | not run (see the sample) | "
        f"{r['labels_local']['peak_mb']:,.0f} MB / – |",
        f"| k-nearest labels, sample | {r['labels_local_sample']['used_sources']} | "
        f"{r['labels_local_sample']['time_s']:.1f} s | {r['labels_whole_sample']['time_s']:.1f} s | "
        f"{r['labels_local_sample']['peak_mb']:,.0f} / {r['labels_whole_sample']['peak_mb']:,.0f} MB |",
        f"| pairs within {PAIRS_LIMIT_M:.0f} m (`distances_within`) to {r['pairs_local']['targets']:,} targets, "
        f"every 10th source | {r['pairs_local']['used_sources']:,} | {r['pairs_local']['time_s']:.1f} s "
        f"({r['pairs_local']['pairs']:,} pairs) | not run | {r['pairs_local']['peak_mb']:,.0f} MB / – |",
        f"| pairs within {PAIRS_LIMIT_M:.0f} m, sample | {r['pairs_local_sample']['used_sources']} | "
        f"{r['pairs_local_sample']['time_s']:.1f} s | {r['pairs_whole_sample']['time_s']:.1f} s | "
        f"{r['pairs_local_sample']['peak_mb']:,.0f} / {r['pairs_whole_sample']['peak_mb']:,.0f} MB |",
        "",
        f"Equality on the sample: labels (distances, sources and predecessors of all {build['nodes']:,} nodes, "
        f"{cmp['labelled_nodes']:,} of them labelled) **{'identical' if cmp['labels_equal'] else 'DIFFERENT'}**; "
        f"pairs ({cmp['pairs']:,}) **{'identical' if cmp['pairs_equal'] else 'DIFFERENT'}** (same pairs, same "
        "distances to the last bit). The peer runs only on the sample: per chunk of sources it allocates and "
        "merges arrays as long as the whole network (one source per chunk at this size), so every source costs "
        "seconds whatever its reach. Peak RSS includes the network, the snapping index and the snapped points "
        f"(before the search: {r['labels_local']['base_peak_mb']:,.0f} MB).",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--part", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part, args.scale, args.copies, args.sample, Path(args.out_file))), flush=True)
        return
    load = os.getloadavg()
    load_s = f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"
    path = net_path(args.scale, args.copies)
    build_cmd = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "]
    if args.rebuild or not path.exists():
        code = f"import json, large_network as b; print(json.dumps(b.build_network({args.scale}, {args.copies})))"
        proc = subprocess.run([*build_cmd[:2], build_cmd[2] + code], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        build = json.loads(proc.stdout.strip().splitlines()[-1])
        (path.with_suffix(".json")).write_text(json.dumps(build))
    else:
        build = json.loads(path.with_suffix(".json").read_text())
    print(json.dumps(build), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="large-net-"))
    rows = {}
    for part in (
        "load",
        "labels_local",
        "labels_local_sample",
        "labels_whole_sample",
        "pairs_local",
        "pairs_local_sample",
        "pairs_whole_sample",
    ):
        rows[part] = child(part, args, tmp / f"{part}.npz")
    cmp = compare(tmp)
    print(json.dumps(cmp), flush=True)
    md = markdown(build, rows, cmp, args, load_s)
    print(md)
    if not args.no_write:
        write_section(f"{START}\n{md}\n{END}", START, END)


if __name__ == "__main__":
    main()
