"""Benchmark: the whole facilities and shelters audit (Art. 18) of the sample city.

Run by hand:

    .venv/bin/python benchmarks/audit.py                 # scales 1 and 4, prints Markdown
    .venv/bin/python benchmarks/audit.py --write         # and replaces the audit section of docs/benchmarks.md
    .venv/bin/python benchmarks/audit.py --scales 1      # the default city only

Each scale runs in its own process (so peak memory is that scale's): the sample city is loaded into a
fresh SpatiaLite file, then

- ``audit, cold``: :func:`facilities.audit_service.audit_from_store` with an empty network cache (reads
  every layer, builds the walking network from its tables, audits);
- ``audit, warm``: the same with the network cached in the process (what the service does after its first request);
- ``audit run, stored``: :func:`run_audit` (warm audit + writing every output table to the database);
- peak memory: the tracemalloc peak of a warm audit (numpy buffers included) and the process's max RSS.

Target (issue 4): the default city's whole audit in under 30 s.
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
import tracemalloc
from pathlib import Path

from _doc import write_section  # benchmarks/ is the script's own folder

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- audit-bench:start -->", "<!-- audit-bench:end -->"


def one_scale(scale: float) -> dict:
    from facilities.audit_service import audit_from_store, run_audit
    from geo_service.core.datasets import load_sample_city
    from geo_service.core.network import clear_cache
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    tmp = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
    store.upgrade()
    t = time.perf_counter()
    load_sample_city(store, scale=scale)
    load_s = time.perf_counter() - t
    for f in (tmp / "networks").glob("*.npz") if (tmp / "networks").exists() else []:
        f.unlink()
    clear_cache()
    t = time.perf_counter()
    res, _, net = audit_from_store(store)
    cold = time.perf_counter() - t
    warm = []
    for _ in range(3):
        t = time.perf_counter()
        res, _, net = audit_from_store(store)
        warm.append(time.perf_counter() - t)
    t = time.perf_counter()
    run_audit(store)
    stored = time.perf_counter() - t
    tracemalloc.start()
    audit_from_store(store)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    e = res.totals.get("emergency", {})
    return {
        "scale": scale,
        "units": len(res.units),
        "residents": int(res.totals["residents"]),
        "communities": len(res.communities),
        "shelters": int(res.totals["shelters"]),
        "facilities_flagged": len(res.facilities),
        "network_nodes": int(net.n_nodes),
        "pairs": len(res.assignment),
        "load_s": load_s,
        "cold_s": cold,
        "warm_s": min(warm),
        "stored_s": stored,
        "tracemalloc_peak_mb": peak / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "placed": e.get("placed"),
        "unplaced": e.get("unplaced"),
        "unplaced_nearest_first": e.get("unplaced_nearest_first"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,4", help="sample-city scales, comma separated")
    ap.add_argument("--write", action="store_true", help="replace the audit section of docs/benchmarks.md")
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(one_scale(args.child)))
        return
    rows = []
    for s in [float(x) for x in args.scales.split(",")]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(s)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if out.returncode != 0:
            sys.exit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"scale {s}: {rows[-1]}", file=sys.stderr, flush=True)
    date = time.strftime("%Y-%m-%d", time.gmtime())
    lines = [
        START,
        f"## Facilities and shelters audit — `benchmarks/audit.py` ({date})",
        "",
        (
            f"Machine: 2 cores, 24 GB; Python {platform.python_version()}; SpatiaLite store. "
            "Command: `.venv/bin/python benchmarks/audit.py --scales "
            f"{args.scales}{' --write' if args.write else ''}`. "
            "Each scale in its own process. *cold*: empty network cache (the walking network is built from its "
            "tables); *warm*: network cached in the process; *stored*: warm audit plus writing every output table. "
            "Target: the default city (scale 1) audited in under 30 s."
        ),
        "",
        "| scale | units | residents | communities | shelters | network nodes | assignment lines | audit cold | "
        "audit warm | run stored | tracemalloc peak | max RSS | placed (exact) | unplaced (exact / nearest-first) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scale']:g} | {r['units']:,} | {r['residents']:,} | {r['communities']:,} | {r['shelters']:,} | "
            f"{r['network_nodes']:,} | {r['pairs']:,} | {r['cold_s']:.2f} s | {r['warm_s']:.2f} s | "
            f"{r['stored_s']:.2f} s | {r['tracemalloc_peak_mb']:.0f} MB | {r['max_rss_mb']:.0f} MB | "
            f"{r['placed']:,} | {r['unplaced']:,} / {r['unplaced_nearest_first']:,} |"
        )
    met = rows and rows[0]["scale"] == 1 and rows[0]["cold_s"] < 30
    lines += [
        "",
        f"Target met: {'yes' if met else 'no'} (scale 1, cold)." if rows and rows[0]["scale"] == 1 else "",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(text, START, END)


if __name__ == "__main__":
    main()
