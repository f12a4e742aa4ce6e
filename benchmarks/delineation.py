"""Community delineation benchmark: this project against PySAL spopt MaxPHeuristic and SKATER.

Inputs
------
* sample-city subsets of about 1,000 / 5,000 / 10,000 units (whole streets of
  ``generate_sample_city(scale=5)``, in street-code order), band 1,000-3,000 households;
* the Sacramento census tracts of the ``pysal`` 1.14.4 source distribution
  (``pip download pysal==1.14.4 --no-deps --no-binary :all:``; pass the tarball or
  the extracted ``sacramentot2.shp`` with ``--sacramento``), weight ``TOT_POP``,
  band 50,000-150,000 residents.

Every method gets the same unit graph (tile adjacency without hard-barrier edges, from
:func:`boundaries.adjacency.prepare_units`) and is scored by the same
:func:`boundaries.evaluate.evaluate_plan`: runtime, share of communities inside the band,
household spread (coefficient of variation, min, max), mean Polsby-Popper and convex-hull
compactness (metric CRS), share of contiguous communities.

Peers: ``MaxPHeuristic`` (threshold = band minimum households, attributes = standardised
centroid x/y, so it also favours compact regions) and ``Skater`` (``n_clusters`` = our k,
same attributes; its ``floor`` counts units, not households, so it is set to half the
band minimum divided by the mean households per unit).  Peers run in a child process
with a time limit (``--peer-timeout``).

Tight bands (issue 15): the Sacramento tracts at ``--tight-k`` (50) communities and a band of
``--tight-tol`` (±5 %, ±10 %) around the mean, against GerryChain 1.0 (``recursive_tree_part`` seed
plan, then ReCom steps at the same tolerance; see ``benchmarks/_gerrychain_peer.py``).  GerryChain 1.0
needs pandas >= 3, so it runs in its own interpreter, given with ``--gerrychain-python``.  The default
sample city (scale 1, every street, the norms' band 1,000-3,000) is run too (``--parts city``).

Run: ``.venv/bin/python benchmarks/delineation.py [--sacramento PATH] [--sizes 1000 5000 10000]
[--parts sample sacramento tight city edit] [--gerrychain-python /tmp/gc/bin/python]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if os.environ.get("GEO_BENCH_BOUNDARIES_TREE"):  # --before: an earlier boundaries/ package, extracted by git show
    sys.path.insert(0, os.environ["GEO_BENCH_BOUNDARIES_TREE"])

from boundaries.adjacency import prepare_units
from boundaries.delineate import Band, delineate
from boundaries.edit import PlanState, apply_edit
from boundaries.evaluate import EvalContext, community_figures, evaluate_plan


def _score(us, labels, band, seconds, method, note=""):
    labels = np.asarray(labels, dtype=np.int64)
    ok = labels >= 0
    uniq, lab = np.unique(labels[ok], return_inverse=True)
    full = np.full(us.n, -1, np.int64)
    full[ok] = lab
    st = us.streets["code"].to_numpy(dtype=object)
    first = np.zeros(uniq.size, np.int64)
    first[lab[::-1]] = np.flatnonzero(ok)[::-1]
    comm = pd.DataFrame(
        {
            "code": [f"R{k}" for k in range(uniq.size)],
            "name": [f"R{k}" for k in range(uniq.size)],
            "street_code": st[us.street[first]],
        }
    )
    ev = evaluate_plan(us, full, comm, EvalContext(band=band))
    t = ev.totals
    return {
        "method": method,
        "seconds": round(seconds, 3),
        "regions": t["communities"],
        "in_band": round(t["in_band_share"], 3),
        "cv": round(t["households_cv"], 3),
        "min": t["households_min"],
        "max": t["households_max"],
        "pp": round(t["polsby_popper_mean"], 3),
        "hull": round(t["convex_hull_ratio_mean"], 3),
        "contiguous": round(t["contiguous"] / max(t["communities"], 1), 3),
        "note": note,
    }


def _peer_worker(kind, xy, hh, nbrs, band_min, k, floor, q):
    import warnings

    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic, Skater

    warnings.filterwarnings("ignore")
    gdf = gpd.GeoDataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "households": hh}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1])
    )
    w = W({i: list(v) for i, v in enumerate(nbrs)}, silence_warnings=True)
    t0 = time.perf_counter()
    if kind == "maxp":
        m = MaxPHeuristic(gdf, w, ["x", "y"], "households", band_min, top_n=2)
    else:
        m = Skater(gdf, w, ["x", "y"], n_clusters=int(k), floor=floor, islands="increase")
    m.solve()
    q.put((time.perf_counter() - t0, np.asarray(m.labels_, dtype=np.int64)))


def _run_peer(kind, us, sel, band, k, timeout):
    """Run a peer on the units ``sel`` in a child process; (seconds, labels) or None on timeout/error."""
    pos = np.full(us.n, -1, np.int64)
    pos[sel] = np.arange(sel.size)
    g = us.graph
    keep = (pos[g.i] >= 0) & (pos[g.j] >= 0)
    nbrs = [[] for _ in range(sel.size)]
    for a, b in zip(pos[g.i[keep]].tolist(), pos[g.j[keep]].tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)
    for i, v in enumerate(nbrs):
        if not v:  # libpysal needs every unit listed; an isolated unit is its own island
            nbrs[i] = []
    xy = shapely.get_coordinates(shapely.centroid(us.geom_m[sel]))
    xy = (xy - xy.mean(0)) / xy.std(0)
    hh = us.households[sel].astype(float)
    floor = max(1, int(0.5 * band.min_households / max(hh.mean(), 1)))
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_peer_worker, args=(kind, xy, hh, nbrs, band.min_households, k, floor, q))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.terminate()
        p.join()
        return None, f"stopped after {timeout:.0f} s"
    if q.empty():
        return None, f"failed (exit code {p.exitcode})"
    sec, lab = q.get()
    labels = np.full(us.n, -1, np.int64)
    labels[sel] = lab
    return (sec, labels), ""


def _run_gerrychain(python, us, k, tol, *, steps, timeout, max_attempts, seed=0):
    """GerryChain in its own interpreter: ((seconds, labels), "") or (None, why)."""
    if not python:
        return None, "not run: no --gerrychain-python"
    g = us.graph
    job = {
        "n": us.n,
        "i": g.i.tolist(),
        "j": g.j.tolist(),
        "pop": us.households.astype(int).tolist(),
        "k": int(k),
        "epsilon": float(tol),
        "steps": int(steps),
        "seed": int(seed),
        "max_attempts": int(max_attempts),
    }
    peer = Path(__file__).with_name("_gerrychain_peer.py")
    t0 = time.perf_counter()
    try:
        r = subprocess.run(
            [python, str(peer)], input=json.dumps(job), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"stopped after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None, f"failed (exit code {r.returncode}): {r.stderr.strip()[-200:]}"
    if out["status"] != "ok":
        return None, f"no plan at ±{tol:.0%}: {out['note']} after {out['seconds']:.1f} s (process {wall:.1f} s)"
    return (out["seconds"], np.asarray(out["labels"], np.int64)), out["note"]


def _timed(run, repeat):
    """The last result of ``repeat`` runs, their wall times and CPU times (s)."""
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return out, times, cpu


def _time_note(times, cpu):
    return f"best of {len(times)} (wall); median {np.median(times):.3f} s; CPU best {min(cpu):.3f} s"


def tight_band(sus, ds, k, tols, args):
    """Rows for the tight-band cases: ours and GerryChain at ``k`` communities, ±``tol`` around the mean."""
    rows = []
    mean = float(sus.households.sum()) / k
    for tol in tols:
        band = Band(int(np.ceil(mean * (1 - tol))), int(np.floor(mean * (1 + tol))))
        name = f"{ds}, k = {k}, ±{tol:.0%} ({band.min_households:,}-{band.max_households:,})"
        prop, times, cpu = _timed(lambda b=band: delineate(sus, b, k=k), args.repeat)
        r = _score(sus, prop.labels, band, min(times), "this project (METIS + refinement)")
        r.update(dataset=name, note=_time_note(times, cpu))
        rows.append(r)
        print(r, flush=True)
        res, note = _run_gerrychain(
            args.gerrychain_python,
            sus,
            k,
            tol,
            steps=args.gerrychain_steps,
            timeout=args.peer_timeout,
            max_attempts=args.gerrychain_max_attempts,
        )
        if res is None:
            rows.append({"method": "GerryChain 1.0 ReCom", "dataset": name, "seconds": None, "note": note})
        else:
            rr = _score(sus, res[1], band, res[0], "GerryChain 1.0 ReCom", note)
            rr.update(dataset=name)
            rows.append(rr)
        print(rows[-1], flush=True)
    return rows


def default_city(args):
    """Our method on the default sample city (scale 1), every street, band 1,000-3,000."""
    from geo_service.core.sample_city import generate_sample_city

    city = generate_sample_city(scale=1, seed=0)
    us = prepare_units(city.population_units, streets=city.admin_areas, barriers=city.barriers, roads=city.roads)
    band = Band(1000, 3000)
    prop, times, cpu = _timed(lambda: delineate(us, band), args.repeat)
    r = _score(us, prop.labels, band, min(times), "this project (METIS + refinement)")
    r.update(
        dataset=f"default sample city (scale 1), {us.n:,} units, {len(us.streets)} streets, band 1,000-3,000",
        note=_time_note(times, cpu),
    )
    print(r, flush=True)
    return [r]


def sample_subsets(sizes, scale):
    from geo_service.core.sample_city import generate_sample_city

    t0 = time.perf_counter()
    city = generate_sample_city(scale=scale, seed=0)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    us = prepare_units(city.population_units, streets=city.admin_areas, barriers=city.barriers, roads=city.roads)
    t_prep = time.perf_counter() - t0
    codes = us.streets["code"].tolist()
    counts = np.bincount(us.street, minlength=len(codes))
    subsets = {}
    for n in sizes:
        cum = np.cumsum(counts)
        m = int(np.searchsorted(cum, n * 0.97)) + 1
        subsets[n] = codes[:m]
    return us, subsets, t_gen, t_prep


def sacramento(path):
    import geopandas as gpd

    path = Path(path)
    if path.suffix == ".gz":
        tmp = Path(tempfile.mkdtemp())
        with tarfile.open(path) as tf:
            members = [m for m in tf.getmembers() if "sacramento2/sacramentot2." in m.name]
            tf.extractall(tmp, members=members)
        path = next(tmp.rglob("sacramentot2.shp"))
    g = gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs(4326)  # the shapefile has no .prj; coordinates are lon/lat (NAD83 ~ WGS84)
    units = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(g) + 1),
            "source_id": g["FIPS"].astype(str),
            "name": g["FIPS"].astype(str),
            "residents": g["TOT_POP"].astype(np.int64),
            "households": g["TOT_POP"].astype(np.int64),
            "street_code": "SAC",
        },
        geometry=g.geometry.values,
        crs=g.crs,
    )
    t0 = time.perf_counter()
    us = prepare_units(units)
    return us, time.perf_counter() - t0


def edit_speed(n_moves=60, seed=0):
    """Time of a single-unit move (validation + touched communities' figures) on the default sample city."""
    from geo_service.core.sample_city import generate_sample_city

    city = generate_sample_city(scale=1, seed=0)
    us = prepare_units(city.population_units, streets=city.admin_areas, barriers=city.barriers, roads=city.roads)
    from boundaries.edit import labels_from_polygons

    comm = city.communities.drop(columns="geometry").reset_index(drop=True)
    labels = labels_from_polygons(us, np.asarray(city.communities.to_crs(us.crs).geometry.values, dtype=object))
    us.units["id"] = np.arange(1, us.n + 1)
    state = PlanState(labels, comm)
    ctx = EvalContext(band=Band(1000, 3000), station_walk_m=np.full(us.n, 200.0), station_method="network")
    rng = np.random.default_rng(seed)
    g = us.graph
    times, refused = [], 0
    for e in rng.permutation(np.flatnonzero(state.labels[g.i] != state.labels[g.j]))[: n_moves * 3]:
        a, b = int(g.i[e]), int(g.j[e])
        edit = {"action": "move", "units": [a + 1], "to": str(state.communities["code"].iloc[state.labels[b]])}
        t0 = time.perf_counter()
        try:
            new, touched, _ = apply_edit(us, state, edit)
            community_figures(us, new.labels, new.communities, np.asarray(touched), ctx)
        except Exception:  # noqa: BLE001 - refused edits (contiguity) are timed too
            refused += 1
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= n_moves:
            break
    t = np.asarray(times)
    return {
        "moves": int(t.size),
        "refused": refused,
        "median_ms": round(float(np.median(t)), 1),
        "p95_ms": round(float(np.percentile(t, 95)), 1),
        "max_ms": round(float(t.max()), 1),
    }


def markdown(df: pd.DataFrame) -> str:
    """A GitHub table of the frame (no extra dependency)."""
    cells = df.astype(object).where(df.notna(), "–").astype(str)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells.to_numpy().tolist()]
    return "\n".join(lines)


def sample_rows(args):
    """Our method and the spopt peers on the sample-city subsets (band 1,000-3,000)."""
    rows = []
    us, subsets, t_gen, t_prep = sample_subsets(args.sizes, args.scale)
    print(
        f"sample city scale {args.scale}: {us.n} units; generation {t_gen:.1f} s; tiles + graph {t_prep:.1f} s",
        flush=True,
    )
    band = Band(1000, 3000)
    for streets in subsets.values():
        sel = np.flatnonzero(np.isin(us.street, [us.streets["code"].tolist().index(s) for s in streets]))
        t0 = time.perf_counter()
        prop = delineate(us, band, streets=streets)
        sec = time.perf_counter() - t0
        r = _score(us, prop.labels, band, sec, "this project (METIS + refinement)")
        r.update(dataset=f"sample city, {sel.size} units, {len(streets)} streets")
        rows.append(r)
        print(r, flush=True)
        for name, kind in (("spopt MaxPHeuristic", "maxp"), ("spopt SKATER", "skater")):
            if sel.size > args.peers_up_to:
                rows.append(
                    {
                        "method": name,
                        "dataset": r["dataset"],
                        "seconds": None,
                        "note": f"not run above {args.peers_up_to} units",
                    }
                )
                continue
            res, note = _run_peer(kind, us, sel, band, int(prop.labels.max() + 1), args.peer_timeout)
            if res is None:
                rows.append({"method": name, "dataset": r["dataset"], "seconds": None, "note": note})
            else:
                rows.append({**_score(us, res[1], band, res[0], name), "dataset": r["dataset"]})
            print(rows[-1], flush=True)
    return rows, (t_gen, t_prep)


def sacramento_rows(sus, ds, args):
    """Our method and the spopt peers on the Sacramento tracts, band 50k-150k."""
    rows = []
    sband = Band(50_000, 150_000)
    t0 = time.perf_counter()
    prop = delineate(sus, sband)
    sec = time.perf_counter() - t0
    r = _score(sus, prop.labels, sband, sec, "this project (METIS + refinement)")
    r.update(dataset=ds)
    rows.append(r)
    print(r, flush=True)
    k = int(prop.labels.max() + 1)
    for kind, name in (("maxp", "spopt MaxPHeuristic"), ("skater", "spopt SKATER")):
        res, note = _run_peer(kind, sus, np.arange(sus.n), sband, k, args.peer_timeout)
        if res is None:
            rows.append({"method": name, "dataset": ds, "seconds": None, "note": note})
        else:
            rows.append({**_score(sus, res[1], sband, res[0], name), "dataset": ds})
        print(rows[-1], flush=True)
    return rows


PARTS = ("sample", "sacramento", "tight", "city", "edit")


def before_rows(rev, argv, parts):
    """The ``parts`` (tight, city) run again with ``boundaries/`` as at git revision ``rev`` (child process)."""
    root = Path(__file__).resolve().parents[1]
    tree = Path(tempfile.mkdtemp()) / "tree"
    (tree / "boundaries").mkdir(parents=True)
    for name in _git(root, "ls-tree", "--name-only", f"{rev}:boundaries").decode().split():
        (tree / "boundaries" / name).write_bytes(_git(root, "show", f"{rev}:boundaries/{name}"))
    out = tree / "rows.json"
    own = ("--before", "--parts", "--json-out", "--gerrychain-python")  # no peers, no recursion
    cmd = [sys.executable, __file__, *_strip_options(argv, own), "--parts", *parts]
    cmd += ["--json-out", str(out)]
    subprocess.run(cmd, env={**os.environ, "GEO_BENCH_BOUNDARIES_TREE": str(tree)}, check=True)
    rows = json.loads(out.read_text())
    for r in rows:
        if r.get("method", "").startswith("this project"):
            r["method"] = f"before ({rev}): METIS + single-unit moves"
    return [r for r in rows if r.get("method", "").startswith("before")]


def _git(root, *args) -> bytes:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True).stdout


def _strip_options(argv, names):
    """``argv`` without the options ``names`` and their values."""
    out, skip = [], False
    for a in argv:
        if a in names:
            skip = True
            continue
        if skip and not a.startswith("--"):
            continue
        skip = False
        out.append(a)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[300, 1000, 5000, 10000])
    ap.add_argument("--scale", type=float, default=5.0)
    ap.add_argument("--sacramento", type=str, default=None)
    ap.add_argument("--parts", nargs="*", choices=PARTS, default=list(PARTS))
    ap.add_argument("--peer-timeout", type=float, default=120.0)
    ap.add_argument("--peers-up-to", type=int, default=1500, help="run peers only on subsets up to this many units")
    ap.add_argument("--tight-k", type=int, default=50)
    ap.add_argument("--tight-tol", type=float, nargs="*", default=[0.05, 0.10])
    ap.add_argument("--gerrychain-python", type=str, default=None, help="a Python with gerrychain 1.0 installed")
    ap.add_argument("--gerrychain-steps", type=int, default=100)
    ap.add_argument("--gerrychain-max-attempts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of ours on the tight and city cases")
    ap.add_argument("--before", type=str, default=None, help="also run tight and city with boundaries/ at this git rev")
    ap.add_argument("--json-out", type=str, default=None)
    args = ap.parse_args(argv)
    rows, gen_prep = [], (None, None)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.platform()} cpus={os.cpu_count()}", flush=True)
    if "sample" in args.parts:
        sample, gen_prep = sample_rows(args)
        rows += sample
    if "city" in args.parts:
        rows += default_city(args)
    if args.sacramento and {"sacramento", "tight"} & set(args.parts):
        sus, t_sprep = sacramento(args.sacramento)
        ds = f"Sacramento tracts ({sus.n}), TOT_POP"
        if "sacramento" in args.parts:
            rows += sacramento_rows(sus, f"{ds}, band 50k-150k; tiles + graph {t_sprep:.1f} s", args)
        if "tight" in args.parts:
            rows += tight_band(sus, ds, args.tight_k, args.tight_tol, args)
    if args.before:
        again = [p for p in ("city", "tight") if p in args.parts]
        rows += before_rows(args.before, sys.argv[1:] if argv is None else list(argv), again) if again else []
    es = None
    if "edit" in args.parts:
        es = edit_speed()
        print("edit speed (default sample city):", es, flush=True)
    df = pd.DataFrame(rows)
    cols = [
        "dataset",
        "method",
        "seconds",
        "regions",
        "in_band",
        "cv",
        "min",
        "max",
        "pp",
        "hull",
        "contiguous",
        "note",
    ]
    df = df.reindex(columns=cols)
    print(markdown(df))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, default=float))
    return df, es, gen_prep


if __name__ == "__main__":
    main()
