"""``python -m geo_service.core.sample_city``: generate the city and print counts, time and peak memory."""

from __future__ import annotations

from .generate import generate_sample_city


def _main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual benchmark
    import argparse
    import resource
    import time

    ap = argparse.ArgumentParser(description="Generate the synthetic Deyang sample city and print its counts.")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    def prog(name, frac):
        if not args.quiet:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"[{time.perf_counter() - t0:8.2f}s {rss:8.0f} MB] {frac:5.0%} {name}", flush=True)

    city = generate_sample_city(args.scale, args.seed, prog)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for k, v in city.metadata["counts"].items():
        print(f"{k:>20}: {v:,}")
    print(f"time {dt:.2f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":  # pragma: no cover
    _main()
