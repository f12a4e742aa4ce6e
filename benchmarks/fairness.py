"""Fairness of access, group coverage and hubs (issue 17) on the default sample city, against a plain peer.

    .venv/bin/python benchmarks/fairness.py            # print Markdown
    .venv/bin/python benchmarks/fairness.py --write    # and replace its section of docs/benchmarks.md

The default sample city (scale 1) is loaded into a fresh SpatiaLite file.  Timed, each the median of ``--repeat``:

- walks: walking distance from every unit to the nearest facility of each of the 24 analysed categories
  (``facilities.fairness_service.walks_from_store``, network cached, search limit 2000 m);
- statistics: :func:`facilities.fairness.compute_fairness` (Gini, Palma, percentiles, shares beyond thresholds and
  the worst-served 10 % for every category, city-wide and per street), against the peer on the same distances and
  weights: residents rounded to whole persons, each unit's distance repeated once per resident (``numpy.repeat``),
  ``inequality.gini.Gini`` and a sort of the repeated values for Palma, percentiles and the worst 10 % (what one
  does with an unweighted library).  Derived group counts are fractional, so the peer's figures differ slightly;
  the largest Gini difference is reported;
- the stored run (:func:`run_fairness`: walks, statistics, writing every output), the group coverage run (coverage
  run cached: its table read from the coverage run's own group figures) and the hubs run;
- the group figures inside coverage (issue 17): what a coverage run now adds — residents per age group of every
  unit (:func:`facilities.groups.unit_groups`) and the rates over the served group for the city, the streets and the
  communities (:func:`facilities.groups.group_rates`) — beside the whole coverage computation, and the
  ``/groups/coverage`` table read from the stored run against its peer, the former recomputation from the stored
  per-unit ``<category>_covered`` (:func:`facilities.groups.group_coverage`);
- ``GET /fairness`` of one category and of every category from the stored run over HTTP (uvicorn on loopback,
  rate limit off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ["GEO_RATE_LIMIT_RPS"] = "0"

from _doc import write_section  # benchmarks/ is the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
from inequality.gini import Gini

from facilities.fairness import FairnessParams, compute_fairness
from facilities.fairness_service import (
    fairness_categories,
    groups_table_from_run,
    read_table,
    run_fairness,
    run_groups,
    run_hubs,
    walks_from_store,
)
from facilities.groups import group_coverage, group_rates, unit_groups
from facilities.service import compute_from_store, current_coverage
from geo_service.app import create_app
from geo_service.core.datasets import load_sample_city
from geo_service.core.settings import Settings
from geo_service.core.storage import Store
from maps.server import serve_in_background
from population.ages import group_residents

START, END = "<!-- fairness-bench:start -->", "<!-- fairness-bench:end -->"


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def peer_stats(units, walks, groups, served, limit_m: float) -> dict:
    """The plain way: whole persons, values repeated per resident, inequality's unweighted Gini, sorting."""
    streets = units["street_code"].fillna("").astype(str).to_numpy()
    res = units["residents"].to_numpy(dtype=float)
    out = {}
    for c, walk in walks.items():
        g = served.get(c, "all")
        w = np.rint(res if g == "all" else groups[f"residents_{g}"].to_numpy(dtype=float)).astype(np.int64)
        x = np.where(np.isfinite(walk), np.minimum(walk, limit_m), limit_m)
        for scope in ["全市", *sorted(set(streets))]:
            m = np.ones(len(x), bool) if scope == "全市" else streets == scope
            e = np.sort(np.repeat(x[m], w[m]))
            if len(e) == 0 or e.sum() == 0:
                continue
            n = len(e)
            palma = e[int(0.9 * n) :].sum() / e[: int(0.4 * n)].sum()
            p50, p90 = e[int(0.5 * n)], e[int(0.9 * n)]
            worst = np.argsort(-np.repeat(np.flatnonzero(m), w[m]), kind="stable")[: max(1, n // 10)]
            beyond = [(e > t).mean() for t in (300.0, 500.0, 1000.0)]
            out[(c, scope)] = (Gini(e).g, palma, p50, p90, len(worst), beyond)
    return out


def run(repeat: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="fairness-bench-"))
    store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
    store.upgrade()
    load_sample_city(store)
    norms = store.norms
    params = FairnessParams()
    limit = params.resolved_limit_m(norms)
    cats = fairness_categories(norms)
    walks_from_store(store, cats[:1], limit)  # load and cache the network
    walk_s, (units, walks, _counts, _net, _w, _by) = timed(lambda: walks_from_store(store, cats, limit), repeat)
    groups = group_residents(units, norms)
    served = dict(norms.entry("age_groups.served_by").value)
    ours_s, result = timed(lambda: compute_fairness(units, walks, groups, norms, params=params), repeat)
    peer_s, peer = timed(lambda: peer_stats(units, walks, groups, served, limit), repeat)
    t = result.table.set_index(["category", "street_code"])
    diff = max(abs(t.loc[k, "gini"] - v[0]) for k, v in peer.items())
    run_s, run_id = timed(lambda: run_fairness(store, params, group_residents), repeat)
    cov = current_coverage(store)  # computed and stored once
    groups_s, _ = timed(lambda: run_groups(store, group_residents, cov), repeat)
    hubs_s, _ = timed(lambda: run_hubs(store), repeat)
    group_extra = _group_figures(store, cov, repeat)
    http = {}
    with serve_in_background(create_app(store)) as base, httpx.Client(base_url=base, timeout=60) as client:
        for label, q in (("one category (kindergarten)", {"category": "kindergarten"}), ("every category", {})):
            client.get("/fairness", params=q).raise_for_status()  # warm
            ms = []
            for _ in range(20):
                t0 = time.perf_counter()
                client.get("/fairness", params=q).raise_for_status()
                ms.append((time.perf_counter() - t0) * 1000)
            http[label] = statistics.median(ms)
    store.dispose()
    return {
        "units": len(units),
        "residents": int(units["residents"].sum()),
        "streets": units["street_code"].nunique(),
        "categories": len(cats),
        "limit": limit,
        "walk_s": walk_s,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "gini_diff": diff,
        "run_s": run_s,
        "groups_s": groups_s,
        "hubs_s": hubs_s,
        **group_extra,
        "http": http,
        "repeat": repeat,
    }


def _group_figures(store, cov: dict, repeat: int) -> dict:
    """Seconds: a coverage computation, the group figures it adds, the /groups/coverage table read vs recomputed."""
    coverage_s, (result, _net, _p) = timed(lambda: compute_from_store(store), repeat)
    u = result.units
    served = {c: p["group"] for c, p in result.category_profiles.items()}

    def figures():
        ug = unit_groups(u, store.norms)
        return [group_rates(u, ug, served, by) for by in (None, "street_code", "community_code")]

    added_s, _ = timed(figures, repeat)
    read_s, _ = timed(lambda: groups_table_from_run(store, cov), repeat)

    def recompute():  # the former /groups/coverage: stored per-unit flags weighed again
        units = read_table(store, cov, "units")
        return group_coverage(units, group_residents(units, store.norms), store.norms)

    recompute_s, _ = timed(recompute, repeat)
    return {"coverage_s": coverage_s, "group_added_s": added_s, "table_read_s": read_s, "table_peer_s": recompute_s}


def markdown(r: dict) -> str:
    lines = [
        START,
        f"## Fairness of access, groups, hubs — `benchmarks/fairness.py` ({date.today().isoformat()}, 2 cores, 24 GB)",
        "",
        f"Default sample city (scale 1), SpatiaLite: {r['units']:,} units, {r['residents']:,} residents, "
        f"{r['streets']} streets; {r['categories']} categories, search limit {r['limit']:.0f} m; "
        f"median of {r['repeat']} runs.",
        "",
        "| path | time |",
        "|---|---:|",
        f"| walks: every unit to the nearest facility of {r['categories']} categories | {r['walk_s']:.2f} s |",
        f"| statistics, this project: weighted Lorenz curve (`compute_fairness`) | {r['ours_s'] * 1000:.0f} ms |",
        f"| statistics, peer: values repeated per resident + `inequality.gini.Gini` + sort | "
        f"{r['peer_s'] * 1000:.0f} ms |",
        f"| ratio peer / this project | {r['peer_s'] / r['ours_s']:.1f}x |",
        f"| stored fairness run (walks, statistics, outputs written) | {r['run_s']:.2f} s |",
        f"| stored group-coverage run (coverage run cached) | {r['groups_s']:.2f} s |",
        f"| stored hubs and service-space run | {r['hubs_s']:.2f} s |",
        f"| coverage computation (`compute_from_store`, network cached), group figures and hubs included | "
        f"{r['coverage_s']:.2f} s |",
        f"| of which the group figures (`unit_groups` + `group_rates` for city, streets, communities) | "
        f"{r['group_added_s'] * 1000:.0f} ms ({r['group_added_s'] / r['coverage_s']:.1%}) |",
        f"| `/groups/coverage` table, this project: read from the coverage run's figures | "
        f"{r['table_read_s'] * 1000:.0f} ms |",
        f"| `/groups/coverage` table, peer: recomputed from the stored per-unit flags (former way) | "
        f"{r['table_peer_s'] * 1000:.0f} ms |",
        f"| ratio peer / this project | {r['table_peer_s'] / r['table_read_s']:.1f}x |",
    ]
    for label, ms in r["http"].items():
        lines.append(f"| `GET /fairness`, {label}, stored run, HTTP median of 20 | {ms:.0f} ms |")
    lines += [
        "",
        f"Largest Gini difference between the two (whole persons in the peer, fractional derived groups here): "
        f"{r['gini_diff']:.1e}. The peer's cost grows with the number of residents (600,000 values per category "
        "and scope), this project's with the number of units.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="replace the fairness section of docs/benchmarks.md")
    args = ap.parse_args()
    text = markdown(run(args.repeat))
    print(text)
    if args.write:
        write_section(text, START, END)


if __name__ == "__main__":
    main()
