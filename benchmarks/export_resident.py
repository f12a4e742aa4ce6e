"""Static export of the resident site (``geo-service export-resident``): time and size, against fetching the same
files one by one over HTTP from the running service (what mirroring the live site with a crawler would cost).

    GEO_RATE_LIMIT_RPS=0 .venv/bin/python benchmarks/export_resident.py [--scales 1 10] [--write]

For each scale the sample city is loaded into a fresh SpatiaLite database.  The export is timed (wall clock and
CPU time of the process: the machine is shared, the CPU time is the stable number).  At the first scale the peer
runs in the same process: the service is started on loopback and a plain ``httpx`` client requests every tile and
every area file the export wrote (same layers, zooms, areas and categories), writing each to disk.  The answers of
the export are checked against ``/nearest`` on 200 random points (same facility, walk within 0.5 m).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx
import numpy as np
from _doc import write_section

from geo_service.app import create_app
from geo_service.core.datasets import load_sample_city
from geo_service.core.settings import Settings
from geo_service.core.storage import Store
from maps.resident_export import export_resident
from maps.server import serve_in_background

LOAD = os.getloadavg()[0]
START, END = "<!-- export-resident-bench:start -->", "<!-- export-resident-bench:end -->"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def check_answers(out: Path, base: str, store: Store, n: int = 200) -> tuple[int, int]:
    """Compare the exported files' answers with /nearest on ``n`` random points: (compared, mismatches)."""
    from test_resident import local_answer  # the Python reading of the files, as the page's script

    def get(path):
        return json.loads((out / "areas" / path).read_text())

    x0, y0, x1, y1 = store.read_layer("network_edges").total_bounds
    rng = np.random.default_rng(16)
    compared = bad = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        for lon, lat in zip(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)):
            r = http.get("/nearest", params={"lon": lon, "lat": lat, "category": "shelter", "k": 1})
            got = local_answer(get, float(lon), float(lat), "shelter")
            if r.status_code != 200 or not r.json()["results"]:
                bad += got is not None
                continue
            res = r.json()["results"][0]
            compared += 1
            bad += got is None or got["id"] != res["id"] or abs(got["walk_m"] - res["walk_m"]) > 0.5
    return compared, bad


def peer_http(out: Path, base: str, dest: Path) -> tuple[float, int]:
    """Fetch every tile and area file of the export from the service one by one; (seconds, files)."""
    paths = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix in (".pbf", ".json")]
    paths = [p for p in paths if p.startswith(("tiles/", "areas/"))]
    t = time.perf_counter()
    with httpx.Client(base_url=base, timeout=120) as http:
        for rel in paths:
            url = "/" + rel.replace(".pbf", ".mvt") if rel.startswith("tiles/") else "/resident/" + rel
            r = http.get(url)
            assert r.status_code in (200, 204), (url, r.status_code)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(r.content)
    return time.perf_counter() - t, len(paths)


def run(scale: float, peer: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp, GEO_RATE_LIMIT_RPS=0))
        store.upgrade()
        t = time.perf_counter()
        load_sample_city(store, scale=scale)
        print(f"scale {scale}: sample city loaded in {time.perf_counter() - t:.0f} s", flush=True)
        out = tmp / "site"
        wall, cpu = time.perf_counter(), time.process_time()
        manifest = export_resident(store, out)
        row = {
            "scale": scale,
            "nodes": store.count("network_nodes"),
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "manifest": manifest,
        }
        print(f"scale {scale}: export {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU", flush=True)
        if peer:
            with serve_in_background(create_app(store)) as base:
                cpu = time.process_time()
                row["peer_s"], row["peer_files"] = peer_http(out, base, tmp / "peer")
                row["peer_cpu_s"] = time.process_time() - cpu
                row["checked"] = check_answers(out, base, store)
        store.dispose()
        return row


def markdown(rows: list[dict]) -> str:
    lines = [
        START,
        "## Static export of the resident site (`geo-service export-resident`, issue 16)",
        "",
        f"{date.today().isoformat()}, {platform.machine()}, 2 cores, 24 GB, shared with other jobs (load average "
        f"{LOAD:.1f} at the start): CPU time of the process is the stable number, wall clock depends on the load. "
        "SpatiaLite, sample city.",
        "",
        "| scale | network nodes | files | size | tiles (z11-14) | area files | export wall | export CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["manifest"]
        lines.append(
            f"| {r['scale']:g} | {r['nodes']:,} | {m['files']:,} | {_mb(m['total_bytes'])} | "
            f"{m['tiles']['files']:,}, {_mb(m['tiles']['bytes'])} | {m['areas']['files']:,}, {_mb(m['areas']['bytes'])}"
            f" | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s |"
        )
    first = rows[0]
    if "peer_s" in first:
        lines += [
            "",
            f"Peer, in the same run (scale {first['scale']:g}): the same {first['peer_files']:,} tiles and area files "
            f"fetched one by one over HTTP from the running service took {first['peer_s']:.1f} s wall "
            f"(client and server in this process: {first['peer_cpu_s']:.1f} s CPU); the export took "
            f"{first['wall_s']:.1f} s wall, {first['cpu_s']:.1f} s CPU: "
            f"**{first['peer_cpu_s'] / first['cpu_s']:.1f}x** less CPU than the crawl "
            f"({first['peer_s'] / first['wall_s']:.1f}x wall). The export reads and projects each layer once and cuts "
            "every tile from an STRtree; the service reads each tile's features from the database.",
            "",
            f"Answers of the exported files against `/nearest` (shelters, {first['checked'][0]} random points "
            f"in reach): {first['checked'][1]} differ (same shelter, walk within 0.5 m required).",
        ]
    lines += [
        "",
        "A phone downloads the page (about 1.2 MB with MapLibre, once), the tiles it views and, for a tap, the net "
        "file of its area and the label files of the areas its route crosses (tens of KB each).",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0])
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = ap.parse_args()
    os.environ.setdefault("GEO_RATE_LIMIT_RPS", "0")
    rows = [run(s, peer=(i == 0 and not args.no_peer)) for i, s in enumerate(args.scales)]
    text = markdown(rows)
    print(text)
    if args.write:
        write_section(text, START, END)


if __name__ == "__main__":
    main()
