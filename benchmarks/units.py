"""Population units (issue 14): truth test on the sample city and timing on many synthetic buildings.

Truth test: the sample city's units carry residents. They are summed to streets; unit residents are rebuilt from
building footprints and the street totals by (a) this method (``population.compute_units``; units given as
compounds, and units as street blocks from the roads), (b) plain areal weighting
(``tobler.area_weighted.area_interpolate``) and (c) tobler's masked/dasymetric interpolation
(``tobler.dasymetric.masked_area_interpolate`` over a 5 m GeoTIFF of the residential footprints). Reported per
method: mean absolute error per unit (persons) and the share of residents placed in the wrong unit
(sum |estimate - truth| / 2 / total).

Footprints: ``city.buildings`` when the sample city has them, else made here from the units with noise: per unit
about one building per 250 residents, residential floor area = residents x 33 m2 x lognormal noise (sigma 0.3),
2-18 floors, 10 % mixed use (floor area doubled), 10 % use missing, 20 % only a height, 5 % neither; plus
non-residential buildings on the land between units.

Timing: a grid of N synthetic buildings (100,000 and 1,000,000), a road every 10 buildings, three levels of totals
(1 district, 16 streets, 256 communities); each size in its own process for its peak memory (ru_maxrss).

Run: ``python benchmarks/units.py [--scale 0.2] [--sizes 100000 1000000] [--write]``; prints Markdown, and with
``--write`` replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _doc import write_section  # benchmarks/ is the script's own folder

START, END = "<!-- units-bench:start -->", "<!-- units-bench:end -->"
METRIC = 4544  # CGCS2000 / 3-degree GK CM 105E, the sample city's metric CRS


def synthetic_buildings(units: gpd.GeoDataFrame, seed: int = 0) -> gpd.GeoDataFrame:
    """Footprints (EPSG:4326) consistent with the units' residents, with noise; see the module docstring."""
    rng = np.random.default_rng(seed)
    um = units.to_crs(METRIC)
    rows = []
    for geom, residents in zip(um.geometry.values, um["residents"].to_numpy()):
        n = int(np.clip(residents // 250, 1, 60))
        x0, y0, x1, y1 = geom.bounds
        cand = rng.uniform((x0, y0), (x1, y1), size=(n * 20, 2))
        inner = geom.buffer(-8)
        pts = cand[shapely.contains_xy(inner if not inner.is_empty else geom, cand[:, 0], cand[:, 1])][:n]
        if len(pts) == 0:
            pts = np.array([[geom.representative_point().x, geom.representative_point().y]])
        fa = residents * 33.0 / len(pts) * rng.lognormal(0, 0.3, len(pts))
        floors = rng.integers(2, 19, len(pts))
        side = np.minimum(np.sqrt(fa / floors), 0.35 * np.sqrt(geom.area / len(pts)))
        floors = np.clip(np.round(fa / side**2), 1, 60)
        for (x, y), s, f in zip(pts, side, floors):
            rows.append((shapely.box(x - s / 2, y - s / 2, x + s / 2, y + s / 2), int(f)))
    b = gpd.GeoDataFrame({"floors": [r[1] for r in rows]}, geometry=[r[0] for r in rows], crs=METRIC)
    n = len(b)
    roll = rng.random(n)
    b["use"] = np.where(roll < 0.1, "mixed", np.where(roll < 0.2, None, "residential"))
    b.loc[b["use"] == "mixed", "floors"] *= 2
    b["height_m"] = np.nan
    hr = rng.random(n)
    only_h = hr < 0.2
    b.loc[only_h, "height_m"] = b.loc[only_h, "floors"] * 3.0
    b["floors"] = b["floors"].astype(float)
    b.loc[only_h | (hr > 0.95), "floors"] = np.nan
    return pd.concat([b, _other_buildings(um, rng)], ignore_index=True).to_crs(4326)


def _other_buildings(um: gpd.GeoDataFrame, rng, n: int = 400) -> gpd.GeoDataFrame:
    """Non-residential buildings on the land between the units (schools, offices, shops)."""
    hull = shapely.convex_hull(shapely.union_all(um.geometry.values)).buffer(-50)
    free = shapely.difference(hull, shapely.union_all(um.geometry.values))
    x0, y0, x1, y1 = free.bounds
    cand = rng.uniform((x0, y0), (x1, y1), size=(n * 10, 2))
    pts = cand[shapely.contains_xy(free.buffer(-15), cand[:, 0], cand[:, 1])][:n]
    geoms = [shapely.box(x - 12, y - 12, x + 12, y + 12) for x, y in pts]
    return gpd.GeoDataFrame(
        {"floors": rng.integers(2, 8, len(geoms)).astype(float), "use": "other", "height_m": np.nan},
        geometry=geoms,
        crs=METRIC,
    )


def _errors(est: np.ndarray, truth: np.ndarray) -> dict:
    diff = np.abs(np.asarray(est, dtype=float) - truth)
    return {"mae": float(diff.mean()), "misplaced": float(diff.sum() / 2 / truth.sum())}


def _to_truth_units(units_out: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> np.ndarray:
    """Residents of built units moved to the truth unit holding each built unit's representative point."""
    pts = shapely.point_on_surface(units_out.geometry.values)
    src, dst = shapely.STRtree(truth.geometry.values).query(pts, predicate="within")
    est = np.zeros(len(truth))
    np.add.at(est, dst, units_out["residents"].to_numpy()[src])
    return est


def _rasterize(buildings_m: gpd.GeoDataFrame, path: Path, cell: float = 5.0) -> None:
    import rasterio
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    x0, y0, x1, y1 = buildings_m.total_bounds
    w, h = int(np.ceil((x1 - x0) / cell)) + 2, int(np.ceil((y1 - y0) / cell)) + 2
    transform = from_origin(x0 - cell, y1 + cell, cell, cell)
    arr = rasterize(
        ((g, 1) for g in buildings_m.geometry.values), out_shape=(h, w), transform=transform, fill=0, dtype="uint8"
    )
    with rasterio.open(
        path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", crs=buildings_m.crs, transform=transform,
        nodata=255,
    ) as dst:  # fmt: skip
        dst.write(arr, 1)


def truth_test(scale: float = 0.2, seed: int = 0) -> dict:
    """Errors of the three methods on the sample city at ``scale``: {method: {mae, misplaced, seconds}}."""
    from tobler.area_weighted import area_interpolate
    from tobler.dasymetric import masked_area_interpolate

    from geo_service.core.sample_city import generate_sample_city
    from population import UnitsParams, compute_units

    city = generate_sample_city(scale=scale)
    truth = city.population_units.reset_index(drop=True)
    t = truth["residents"].to_numpy(dtype=float)
    buildings = getattr(city, "buildings", None)
    source = "city.buildings" if buildings is not None else "synthetic (benchmarks/units.py)"
    if buildings is None:
        buildings = synthetic_buildings(truth, seed)
    admin = city.admin_areas
    streets = admin[admin["level"] == "street"].reset_index(drop=True)
    sums = truth.groupby("street_code")["residents"].sum()
    streets["residents"] = streets["code"].map(sums).fillna(0).astype(int)
    rows = [{"code": c, "residents": int(r)} for c, r in zip(streets["code"], streets["residents"])]
    params = UnitsParams.from_input(None, rows=rows, levels=["street"])
    out: dict = {"units": len(truth), "buildings": len(buildings), "residents": int(t.sum()), "footprints": source}
    compounds = truth[["source_id", "name", "geometry"]].assign(kind="compound")
    t0 = time.perf_counter()
    res = compute_units(buildings, compounds, city.roads, admin, params)
    est = res.units.set_index("source_id")["residents"].reindex("c-" + truth["source_id"]).fillna(0).to_numpy()
    out["this method (compounds given)"] = {**_errors(est, t), "seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    res_b = compute_units(buildings, None, city.roads, admin, params)
    out["this method (street blocks from roads)"] = {
        **_errors(_to_truth_units(res_b.units, truth), t),
        "seconds": time.perf_counter() - t0,
    }
    src_m, tgt_m = streets.to_crs(METRIC), truth[["geometry"]].to_crs(METRIC)
    t0 = time.perf_counter()
    aw = area_interpolate(src_m, tgt_m, extensive_variables=["residents"])
    out["areal weighting (tobler)"] = {**_errors(aw["residents"].to_numpy(), t), "seconds": time.perf_counter() - t0}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "residential.tif"
        bm = buildings.to_crs(METRIC)
        _rasterize(bm[bm["use"].fillna("residential") != "other"], path)
        t0 = time.perf_counter()
        mk = masked_area_interpolate(
            src_m, tgt_m, raster=str(path), pixel_values=[1], extensive_variables=["residents"], n_jobs=1
        )
        est_mk = mk.set_index(mk.index)["residents"].reindex(range(len(truth))).fillna(0).to_numpy()
        out["masked / dasymetric (tobler)"] = {**_errors(est_mk, t), "seconds": time.perf_counter() - t0}
    return out


def grid_case(n: int, seed: int = 0):
    """N square buildings on a grid (20 m pitch) near Deyang, roads every 10 buildings, three levels of totals."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    ii, jj = np.divmod(np.arange(n), side)
    x, y = 500_000.0 + jj * 20.0 + 2.0, 3_440_000.0 + ii * 20.0 + 2.0
    geoms = shapely.box(x, y, x + 14, y + 14)
    b = gpd.GeoDataFrame(
        {"floors": rng.integers(1, 30, n), "use": np.where(rng.random(n) < 0.9, "residential", "other")},
        geometry=geoms,
        crs=METRIC,
    )
    extent = side * 20.0
    ticks = np.arange(0, side + 1, 10) * 20.0
    lines = [shapely.LineString([(500_000 + t, 3_440_000), (500_000 + t, 3_440_000 + extent)]) for t in ticks]
    lines += [shapely.LineString([(500_000, 3_440_000 + t), (500_000 + extent, 3_440_000 + t)]) for t in ticks]
    roads = gpd.GeoDataFrame(geometry=lines, crs=METRIC)
    areas, rows = [], []
    for level, k in (("district", 1), ("street", 4), ("community", 16)):
        step = extent / k
        for a in range(k):
            for c in range(k):
                code = f"{level[0]}{a:02d}{c:02d}"
                areas.append(
                    (level, code, shapely.box(500_000 + c * step, 3_440_000 + a * step, 500_000 + (c + 1) * step,
                                             3_440_000 + (a + 1) * step))
                )  # fmt: skip
    areas = gpd.GeoDataFrame(
        {"level": [a[0] for a in areas], "code": [a[1] for a in areas], "name": [a[1] for a in areas]},
        geometry=[a[2] for a in areas],
        crs=METRIC,
    )
    total = 3 * n
    for level in ("district", "street", "community"):
        codes = areas.loc[areas["level"] == level, "code"].tolist()
        vals = rng.multinomial(total, np.full(len(codes), 1 / len(codes)))
        rows += [{"level": level, "code": c, "residents": int(v)} for c, v in zip(codes, vals)]
    return b.to_crs(4326), roads.to_crs(4326), areas.to_crs(4326), rows


def time_one(n: int) -> dict:
    """Build units from ``n`` grid buildings with three levels of totals; seconds and peak RSS (MB)."""
    from population import UnitsParams, compute_units

    b, roads, areas, rows = grid_case(n)
    params = UnitsParams.from_input(None, rows=rows)
    t0 = time.perf_counter()
    res = compute_units(b, None, roads, areas, params)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "buildings": n,
        "units": len(res.units),
        "mismatches": len(res.summary["mismatches"]),
        "seconds": round(secs, 2),
        "peak_rss_mb": round(peak),
    }


def markdown(truth: dict, timings: list[dict], scale: float) -> str:
    lines = [
        START,
        f"## Population units — `benchmarks/units.py` ({date.today().isoformat()}, 2 cores, 24 GB)",
        "",
        f"Truth test on the sample city (scale {scale}): {truth['units']} units, {truth['residents']:,} residents, "
        f"{truth['buildings']:,} footprints ({truth['footprints']}); street totals given, unit residents rebuilt.",
        "",
        "| method | MAE per unit (persons) | residents in the wrong unit | seconds |",
        "|---|---:|---:|---:|",
    ]
    for k, v in truth.items():
        if isinstance(v, dict):
            lines.append(f"| {k} | {v['mae']:.1f} | {v['misplaced'] * 100:.2f} % | {v['seconds']:.2f} |")
    lines += ["", "| buildings | units | seconds | peak RSS (MB) |", "|---:|---:|---:|---:|"]
    for t in timings:
        lines.append(f"| {t['buildings']:,} | {t['units']:,} | {t['seconds']:.1f} | {t['peak_rss_mb']:,} |")
    lines += [
        "",
        "Peer: tobler (PySAL) 0.13 on the same street totals and footprints. The timing rows use three levels of",
        "totals (1 district, 16 streets, 256 communities); peak memory includes generating the synthetic buildings.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--write", action="store_true", help="replace the population-units section of docs/benchmarks.md")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line instead of Markdown")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(time_one(args.one)))
        return
    truth = truth_test(args.scale)
    timings = []
    for n in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            timings.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        else:
            print(f"<!-- {n} buildings failed: {proc.stderr.strip().splitlines()[-1:]} -->")
    if args.json:
        print(json.dumps({"truth": truth, "timings": timings}))
        return
    text = markdown(truth, timings, args.scale)
    print(text)
    if args.write:
        write_section(text, START, END)


if __name__ == "__main__":
    main()
