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
with a time limit (``--peer-timeout``); GerryChain is not run (its 1.0 release needs
pandas >= 3, the 0.3 releases do not import with geopandas 1.x).

Run: ``.venv/bin/python benchmarks/delineation.py [--sacramento PATH] [--sizes 1000 5000 10000]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[300, 1000, 5000, 10000])
    ap.add_argument("--scale", type=float, default=5.0)
    ap.add_argument("--sacramento", type=str, default=None)
    ap.add_argument("--peer-timeout", type=float, default=120.0)
    ap.add_argument("--peers-up-to", type=int, default=1500, help="run peers only on subsets up to this many units")
    args = ap.parse_args(argv)
    rows = []
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.platform()} cpus={os.cpu_count()}", flush=True)
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
        if sel.size <= args.peers_up_to:
            k = int(prop.labels.max() + 1)
            for kind, name in (("maxp", "spopt MaxPHeuristic"), ("skater", "spopt SKATER")):
                res, note = _run_peer(kind, us, sel, band, k, args.peer_timeout)
                if res is None:
                    rows.append({"method": name, "dataset": r["dataset"], "seconds": None, "note": note})
                else:
                    rr = _score(us, res[1], band, res[0], name)
                    rr.update(dataset=r["dataset"])
                    rows.append(rr)
                print(rows[-1], flush=True)
        else:
            for name in ("spopt MaxPHeuristic", "spopt SKATER"):
                rows.append(
                    {
                        "method": name,
                        "dataset": r["dataset"],
                        "seconds": None,
                        "note": f"not run above {args.peers_up_to} units",
                    }
                )
    if args.sacramento:
        sus, t_sprep = sacramento(args.sacramento)
        sband = Band(50_000, 150_000)
        t0 = time.perf_counter()
        prop = delineate(sus, sband)
        sec = time.perf_counter() - t0
        ds = f"Sacramento tracts ({sus.n}), TOT_POP, band 50k-150k; tiles + graph {t_sprep:.1f} s"
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
                rr = _score(sus, res[1], sband, res[0], name)
                rr.update(dataset=ds)
                rows.append(rr)
            print(rows[-1], flush=True)
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
    return df, es, (t_gen, t_prep)


if __name__ == "__main__":
    main()
