"""What-if scenarios (issue 17): one comparison and a batch of 10 on the default sample city; peer: the same
scenarios recomputed in full (nothing reused from the baseline).

    .venv/bin/python benchmarks/scenarios.py [--scale 1] [--batch 10] [--write]

The comparison: baseline against a scenario with two facilities added and one closed, a development of 3,000
households and one norm changed (goal: under 5 s). The batch: 10 scenarios, each adding and closing facilities of
one category (a few with a development), run against the baseline computed once (goal: under 20 s). Times include
checking every scenario against the data and building the comparison tables; the walking network is read once
(warm), as in a running service.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path


def _store(scale: float, tmp: Path):
    from geo_service.core.datasets import load_sample_city
    from geo_service.core.settings import Settings
    from geo_service.core.storage import Store

    store = Store(f"sqlite:///{tmp / 'city.sqlite'}", settings=Settings(GEO_DATA_DIR=tmp))
    store.upgrade()
    load_sample_city(store, scale=scale) if scale != 1 else load_sample_city(store)
    return store


def _changes(store, i: int, *, development: bool) -> dict:
    fac = store.read_layer("facilities")
    units = store.read_layer("population_units")
    cats = ["kindergarten", "community_service_station", "elderly_day_care", "health_station", "nursery"]
    cat = cats[i % len(cats)]
    same = fac[fac["category"] == cat]
    pts = units.geometry.representative_point()
    a, b = pts.iloc[(37 * i + 11) % len(pts)], pts.iloc[(53 * i + 101) % len(pts)]
    out = {
        "facilities": {
            "add": [
                {"category": cat, "name": f"新设施{i}a", "lon": a.x, "lat": a.y, "floor_area_m2": 800},
                {"category": cat, "name": f"新设施{i}b", "lon": b.x, "lat": b.y, "floor_area_m2": 800},
            ],
            "close": [int(same["id"].iloc[i % len(same)])] if len(same) else [],
        },
        "cost_inputs": {"新设施": 2_000_000 * (i + 1)},
    }
    if development:
        c = pts.iloc[(71 * i + 5) % len(pts)]
        out["developments"] = [{"name": f"新城{i}", "households": 3000, "lon": c.x, "lat": c.y, "radius_m": 150}]
        out["norms"] = {"service_radius_m.kindergarten": 400}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from facilities.whatif import analyses, service
    from geo_service.core.network import load_network

    tmp = Path(tempfile.mkdtemp(prefix="bench-scenarios-"))
    try:
        t = time.perf_counter()
        store = _store(args.scale, tmp)
        load_s = time.perf_counter() - t
        load_network(store)  # warm, as in a running service
        units = len(store.read_layer("population_units"))
        one = service.create_scenario(store, "比较", _changes(store, 0, development=True))
        names = [
            service.create_scenario(store, f"批量{i}", _changes(store, i, development=i % 3 == 0))["name"]
            for i in range(args.batch)
        ]
        rows = []
        for label, reuse in (("reuse", True), ("full recompute (peer)", False)):
            analyses._BASELINES.clear()
            analyses._RESULTS.clear()
            t = time.perf_counter()
            cmp_ = service.compare(store, "baseline", one["name"], reuse=reuse)
            compare_s = time.perf_counter() - t
            analyses._BASELINES.clear()
            analyses._RESULTS.clear()
            t = time.perf_counter()
            res = service.run_batch(store, names, reuse=reuse)
            batch_s = time.perf_counter() - t
            rows.append((label, compare_s, batch_s, cmp_.summary, res))
        (_, c1, b1, s1, r1), (_, c2, b2, s2, r2) = rows
        assert s1["newly_covered"] == s2["newly_covered"] and s1["unplaced_b"] == s2["unplaced_b"]
        assert [x["newly_covered"] for x in r1["scenarios"]] == [x["newly_covered"] for x in r2["scenarios"]]
        load = os.getloadavg()
        print(f"units {units}; compare {c1:.2f} s (peer {c2:.2f} s); batch {b1:.2f} s (peer {b2:.2f} s); load {load}")
        how = "; ".join(f"{x['scenario']}: {x['how_b'].get('coverage')}" for x in r1["scenarios"][:4])
        block = f"""<!-- scenarios:start -->
## What-if scenarios — `benchmarks/scenarios.py` ({date.today().isoformat()})

`.venv/bin/python benchmarks/scenarios.py --write`. Machine: 2 cores, 24 GB (shared; load average at the end
{load[0]:.1f}). Sample city scale {args.scale:g} ({units:,} units, loaded in {load_s:.1f} s), SpatiaLite, network warm.
The comparison: baseline against two facilities added and one closed, a development of 3,000 households and one
norm changed. The batch: {args.batch} scenarios (added/closed facilities of one category each, every third with a
development and a norm change) against the baseline computed once. Peer: the same scenarios with every analysis
recomputed (no reuse); same figures checked equal.

| run | reuse | full recompute (peer) | ratio | goal |
|---|---|---|---|---|
| one comparison (coverage + E2SFCA, audit, shelter assignment) | {c1:.2f} s | {c2:.2f} s | {c2 / c1:.1f}x | < 5 s |
| batch of {args.batch} scenarios | {b1:.2f} s | {b2:.2f} s | {b2 / b1:.1f}x | < 20 s |

What was reused (first four of the batch): {how}. A development changes the units: coverage is recomputed in full
for that scenario; the baseline is computed once and shared.
<!-- scenarios:end -->"""
        if args.write:
            import sys

            sys.path.insert(0, str(Path(__file__).parent))
            from _doc import write_section

            write_section(block, "<!-- scenarios:start -->", "<!-- scenarios:end -->")
        print(block)
        store.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
