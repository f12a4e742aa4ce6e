"""Benchmark: maximal covering siting (greedy-lazy, exact MILP) and E2SFCA accessibility.

Run by hand:

    .venv/bin/python benchmarks/siting.py            # everything (a few minutes on 2 cores)
    .venv/bin/python benchmarks/siting.py --quick    # smaller instances, for a smoke run

Prints Markdown for docs/benchmarks.md:
- greedy with lazy evaluation (CELF) on a large spatial instance (default 10,000 candidate sites x
  1,000,000 population units, ~300 units per candidate within a 300 m radius): time and peak memory for
  several k, against plain greedy (every gain recomputed by one sparse mat-vec per pick);
- greedy against the exact MCLP (HiGHS through scipy.optimize.milp) on small and medium instances:
  objective gap % and time ratio;
- E2SFCA on 1,000,000 unit-facility pairs.

Instances are synthetic: units uniform in a square at ~1,100 units/km2, candidates uniform, "walking"
distance = straight line (the solvers only see the coverage relation, so the geometry does not matter).
Peak memory is the tracemalloc peak of the call (numpy buffers included) in a separate, untimed run.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from facilities.accessibility import e2sfca
from facilities.siting import GREEDY_BOUND, greedy_siting, siting_gap_report


def spatial_instance(
    n_cand: int, n_units: int, radius_m: float, density_per_km2: float, seed: int, n_existing: int | None = None
):
    """Units and candidates uniform in a square; coverage = units within ``radius_m`` of a candidate."""
    rng = np.random.default_rng(seed)
    side_m = float(np.sqrt(n_units / density_per_km2) * 1000.0)
    units = rng.uniform(0, side_m, (n_units, 2))
    cands = rng.uniform(0, side_m, (n_cand, 2))
    residents = rng.gamma(2.0, 150.0, n_units).round()  # ~300 residents per unit, skewed
    tree = cKDTree(units)
    rows = tree.query_ball_point(cands, radius_m, return_sorted=True)
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=n_cand)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate([np.asarray(r, dtype=np.int32) for r in rows]) if indptr[-1] else np.zeros(0, np.int32)
    coverage = sp.csr_array((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n_cand, n_units))
    if n_existing is None:
        n_existing = max(1, n_cand // 50)
    existing = rng.uniform(0, side_m, (n_existing, 2))
    covered = np.zeros(n_units, dtype=bool)
    for r in tree.query_ball_point(existing, radius_m):
        covered[r] = True
    return residents, covered, coverage


def plain_greedy(w, covered, coverage, k):
    """Baseline without lazy evaluation: every pick recomputes all gains with one sparse mat-vec."""
    a = sp.csr_array(coverage)
    w_open = np.where(covered, 0.0, w)
    total = 0.0
    for _ in range(k):
        g = a @ w_open
        j = int(np.argmax(g))
        if g[j] <= 0:
            break
        total += g[j]
        w_open[a.indices[a.indptr[j] : a.indptr[j + 1]]] = 0.0
    return total


def timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--milp-time-limit", type=float, default=60.0)
    args = ap.parse_args()

    if args.quick:
        big = {"n_cand": 1_000, "n_units": 100_000}
        medium = [(30, 200, (3, 5, 8), 50.0), (200, 5_000, (5, 10), 1100.0)]
        n_pairs = 100_000
        ks = (10, 100)
    else:
        big = {"n_cand": 10_000, "n_units": 1_000_000}
        medium = [(30, 200, (3, 5, 8), 50.0), (200, 5_000, (5, 10), 1100.0), (1_000, 50_000, (10, 25), 1100.0)]
        n_pairs = 1_000_000
        ks = (10, 100, 1_000)

    date = subprocess.run(["date", "+%Y-%m-%d"], capture_output=True, text=True, check=False).stdout.strip()
    print(
        f"date {date}; {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )

    # -- large greedy ---------------------------------------------------------------------------------
    t_gen, (w, covered, cov) = timed(
        lambda: spatial_instance(radius_m=300.0, density_per_km2=1100.0, seed=args.seed, **big)
    )
    nnz_per_cand = cov.nnz / cov.shape[0]
    print(
        f"\nlarge instance: {cov.shape[0]:,} candidates x {cov.shape[1]:,} units, {cov.nnz:,} coverage pairs "
        f"({nnz_per_cand:.0f} units per candidate), {covered.mean():.1%} of units already covered; "
        f"generated in {t_gen:.1f} s"
    )
    print(
        "\n| solver | k | picks | newly covered residents | covered share after | lazy re-evaluations | time (s) | "
        "peak memory of the call (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for k in ks:
        t, r = timed(lambda k=k: greedy_siting(w, covered, cov, k))
        mem = peak_mb(lambda k=k: greedy_siting(w, covered, cov, k))
        print(
            f"| greedy-lazy (CELF) | {k:,} | {r.picks.size:,} | {r.objective_residents:,.0f} | "
            f"{r.final_covered_share:.1%} | {r.evaluations:,} | {t:.2f} | {mem:,.0f} |"
        )
    k_plain = 100
    t_plain, obj_plain = timed(lambda: plain_greedy(w, covered, cov, k_plain))
    r100 = greedy_siting(w, covered, cov, k_plain)
    assert abs(obj_plain - r100.objective_residents) < 1e-6 * max(1.0, obj_plain), (obj_plain, r100.objective_residents)
    print(f"| plain greedy (mat-vec per pick) | {k_plain} | – | {obj_plain:,.0f} (same) | – | – | {t_plain:.2f} | – |")
    del w, covered, cov

    # -- greedy vs exact --------------------------------------------------------------------------------
    print(
        f"\ngreedy vs exact (HiGHS via scipy.optimize.milp, time limit {args.milp_time_limit:.0f} s); "
        f"bound (1 - 1/e) = {GREEDY_BOUND:.3f}"
    )
    print(
        "\n| candidates x units | k | greedy (residents) | exact (residents) | gap % | "
        "exact proven optimal (else: gap % vs HiGHS bound) | greedy (s) | exact (s) | time ratio exact/greedy |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    gaps, open_gaps = [], []
    for n_cand, n_units, k_list, density in medium:
        for seed in range(3 if n_units <= 5_000 else 1):
            w, covered, cov = spatial_instance(
                n_cand, n_units, radius_m=300.0, density_per_km2=density, seed=args.seed + 10 + seed
            )
            for k in k_list:
                rep = siting_gap_report(w, covered, cov, k, time_limit_s=args.milp_time_limit)
                assert rep.within_bound
                (gaps if rep.exact_optimal else open_gaps).append((rep.gap_pct, rep.gap_bound_pct))
                print(
                    f"| {n_cand:,} x {n_units:,} (seed {seed}) | {k} | {rep.greedy_objective_residents:,.0f} | "
                    f"{rep.exact_objective_residents:,.0f} | {rep.gap_pct:.2f} | "
                    f"{'yes' if rep.exact_optimal else f'no (<= {rep.gap_bound_pct:.2f})'} | "
                    f"{rep.greedy_seconds:.4f} | {rep.exact_seconds:.2f} | {rep.time_ratio:,.0f} |",
                    flush=True,
                )
    g = np.array([x for x, _ in gaps])
    print(
        f"\ngap over {g.size} instances solved to proven optimality: mean {g.mean():.2f} %, max {g.max():.2f} %, "
        f"zero in {int((g < 1e-9).sum())}; {len(open_gaps)} instances stopped at the time limit, true gap in "
        + ", ".join(f"[{lo:.2f}, {hi:.2f}] %" for lo, hi in open_gaps)
    )

    # -- E2SFCA -----------------------------------------------------------------------------------------
    rng = np.random.default_rng(args.seed)
    n_units, n_fac = n_pairs // 5, max(10, n_pairs // 500)
    key = rng.choice(n_units * n_fac, n_pairs, replace=False)  # unique pairs, as the network engine gives them
    u, f = key // n_fac, key % n_fac
    d = rng.uniform(0, 1000, n_pairs)
    d[: n_pairs // 100] = 0.0
    p = rng.gamma(2.0, 150.0, n_units).round()
    s = rng.uniform(10, 200, n_fac)
    s[::50] = np.nan
    t, r = timed(lambda: e2sfca(u, f, d, p, s), repeat=3)
    mem = peak_mb(lambda: e2sfca(u, f, d, p, s))
    tg, _ = timed(lambda: e2sfca(u, f, d, p, s, decay="gaussian"), repeat=3)
    dup = rng.integers(0, n_pairs, n_pairs // 100)  # 1 % of the pairs listed again (several entrances)
    u2, f2, d2 = np.r_[u, u[dup]], np.r_[f, f[dup]], np.r_[d, d[dup] + 50.0]
    td, rd = timed(lambda: e2sfca(u2, f2, d2, p, s), repeat=3)
    assert np.allclose(rd.e2sfca_per_1000, r.e2sfca_per_1000)
    print(
        f"\nE2SFCA: {n_pairs:,} unique pairs, {n_units:,} units, {n_fac:,} facilities "
        f"({r.excluded_facilities.size} with unknown capacity): zones {t:.3f} s (best of 3), gaussian {tg:.3f} s, "
        f"peak memory {mem:,.0f} MB; with 1 % duplicate pairs (merged to the shortest) {td:.3f} s"
    )
    print(f"\nprocess peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
