"""Static export of the resident site (``geo-service export-resident --out DIR``): any web server hosts it.

Layout of ``DIR``::

    index.html                     the resident page in static mode (every URL relative)
    sw.js                          its service worker (scope: DIR)
    static/...                     MapLibre GL JS and the page's script and style
    tiles/{layer}/{z}/{x}/{y}.pbf  vector tiles of the page's layers, zoom 11-14 (overzoomed beyond; empty: 0 bytes)
    areas/net/{x}/{y}.json         per area (tile of zoom 14): the walking-network edges a tap there snaps to
    areas/{category}/sources.json  shelters or service points of a category with their snap on the network
    areas/{category}/{x}/{y}.json  per area: each node's nearest source, walk (m), predecessor node and edge
    resident-export.json           what was written: counts, sizes, the data's revisions

A phone downloads the page, the tiles it views and the few area files around its taps.  The answers are
``/nearest``'s for ``k=1`` and the standard walking profile (see :mod:`maps.resident_answers`).

The export is written into a sibling temporary folder and renamed into place at the end: an interrupted export
leaves the previous one untouched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from facilities.nearest import SHELTER, category_label
from geo_service.core import vocab
from geo_service.core._errors import InputError, NotFoundError
from geo_service.core.network import load_network
from geo_service.core.settings import get_settings

from . import tiles as mvt
from .assets import STATIC_DIR
from .resident import (
    MAPLIBRE_CSS,
    MAPLIBRE_JS,
    RESIDENT_CSS,
    RESIDENT_JS,
    SW_JS,
    TILE_LAYERS,
    TILE_MAXZOOM,
    TILE_MINZOOM,
    page_config,
    resident_page,
)
from .resident_answers import AreaGrid, CategoryAnswers, category_frame, lonlat_to_tile, profile_speeds

MANIFEST = "resident-export.json"
BOUNDS_PAD_DEG = 0.01  # as the page's vector sources: tiles are requested this far beyond the extent


def _write_json(path: Path, body: dict) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    path.write_bytes(data)
    return len(data)


def tile_ranges(bounds, zooms) -> list[tuple[int, int, int, int, int]]:
    """``(z, x0, x1, y0, y1)`` of the tiles covering ``bounds`` (lon/lat) at each zoom."""
    w, s, e, n = bounds
    out = []
    for z in zooms:
        x0, y0 = lonlat_to_tile(w, n, z)
        x1, y1 = lonlat_to_tile(e, s, z)
        out.append((z, int(x0), int(x1), int(y0), int(y1)))
    return out


def export_tiles(store, out: Path, bounds, *, layers: list[str], tick: Callable[[], None] | None = None) -> dict:
    """Write ``tiles/{layer}/{z}/{x}/{y}.pbf`` for ``layers`` over ``bounds`` (lon/lat), zooms 11-16.

    Each layer is read and projected once; a tile takes its features from an STRtree of the projected layer
    and is encoded as ``/tiles`` does on SpatiaLite (:func:`maps.tiles.encode_tile`).  Returns counts and bytes.
    """
    ranges = tile_ranges(bounds, range(TILE_MINZOOM, TILE_MAXZOOM + 1))
    files = nbytes = nonempty = 0
    for layer in layers:
        gdf = store.read_layer(layer)
        cols = [c for c in TILE_LAYERS[layer] if c in gdf.columns]
        gdf = gdf[["id", *cols, gdf.geometry.name]].reset_index(drop=True)
        geoms = mvt.to_3857(np.asarray(gdf.geometry.values, dtype=object))
        tree = shapely.STRtree(geoms)
        for z, x0, x1, y0, y1 in ranges:
            for x in range(x0, x1 + 1):
                folder = out / "tiles" / layer / str(z) / str(x)
                folder.mkdir(parents=True, exist_ok=True)
                for y in range(y0, y1 + 1):
                    minx, miny, maxx, maxy = mvt.tile_bounds_3857(z, x, y)
                    pad = (maxx - minx) * mvt.BUFFER / mvt.EXTENT
                    idx = np.sort(tree.query(shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)))
                    body = b""
                    if len(idx):
                        body = mvt.encode_tile(gdf.iloc[idx], layer, z, x, y, attributes=cols, geoms_3857=geoms[idx])
                    (folder / f"{y}.pbf").write_bytes(body)
                    files += 1
                    nbytes += len(body)
                    nonempty += bool(body)
                    if tick:
                        tick()
    return {"files": files, "bytes": nbytes, "nonempty": nonempty}


def export_areas(store, out: Path, categories: list[str], *, tick: Callable[[], None] | None = None) -> dict:
    """Write the per-area answer files (net, per category sources and labels); returns counts and bytes."""
    net = load_network(store)
    grid = AreaGrid.build(net)
    speeds = profile_speeds(store.norms)
    files = nbytes = 0
    for x, y in grid.areas:
        nbytes += _write_json(out / "areas" / "net" / str(x) / f"{y}.json", grid.net_area(x, y))
        files += 1
    node_areas = sorted({(int(a), int(b)) for a, b in zip(grid.node_tx, grid.node_ty)})
    for category in categories:
        answers = CategoryAnswers.build(net, category_frame(store, category), category)
        nbytes += _write_json(out / "areas" / category / "sources.json", answers.sources(speeds))
        files += 1
        for x, y in node_areas:
            nbytes += _write_json(out / "areas" / category / str(x) / f"{y}.json", answers.area(grid, x, y))
            files += 1
        if tick:
            tick()
    return {"files": files, "bytes": nbytes, "areas": len(grid.areas), "network_version": net.version}


def categories_with_data(store) -> list[str]:
    """``shelter`` (when there are shelters in service) and every facility category with a feature in service."""
    out = [SHELTER] if len(vocab.in_service(store.read_layer("shelters"))) else []
    fac = vocab.in_service(store.read_layer("facilities"))
    present = set(fac["category"].dropna()) if len(fac) else set()
    return out + [c for c in vocab.FACILITY_CATEGORIES if c in present]


def _copy_assets(out: Path) -> int:
    nbytes = 0
    for rel in (MAPLIBRE_JS, MAPLIBRE_CSS, RESIDENT_JS, RESIDENT_CSS, "vendor/maplibre-gl-5.24.1/LICENSE.txt"):
        dst = out / "static" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STATIC_DIR / rel, dst)
        nbytes += dst.stat().st_size
    shutil.copyfile(STATIC_DIR / SW_JS, out / "sw.js")
    return nbytes + (out / "sw.js").stat().st_size


def _prepare(out: Path) -> Path:
    """A fresh temporary folder beside ``out``; refuses an ``out`` that is a file or a non-export folder."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file", f"输出位置 {out} 是一个文件，请指定一个文件夹")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InputError(
            f"{out} is not empty and holds no earlier export",
            f"输出文件夹 {out} 不是空的，也不是以前导出的居民页：请指定空文件夹或新文件夹",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def export_resident(store, out: Path, *, progress: Callable[[str, int], Callable[[], None]] | None = None) -> dict:
    """Write the static resident site into ``out`` (see the module docstring); returns the manifest.

    ``progress(label_zh, total)`` may return a ``tick()`` called once per unit of work.
    """
    started = time.perf_counter()
    out = Path(out)
    if store.count("network_edges") == 0:
        raise NotFoundError("no walking network is stored", "没有步行网络：请先导入 OSM 数据或生成示例城市")
    categories = categories_with_data(store)
    if not categories:
        raise NotFoundError("no shelters or facilities are stored", "没有避难场所或服务设施的现状数据，无法导出")
    tmp = _prepare(out)
    try:
        settings = get_settings().model_copy(update={"basemap": "none"})
        cats = [{"code": c, "label": category_label(c)} for c in categories]
        cfg = page_config(store, settings, mode="static", base="", categories=cats)
        layers = cfg["tile_layers"]
        b = cfg["bounds"]
        bounds = (b[0] - BOUNDS_PAD_DEG, b[1] - BOUNDS_PAD_DEG, b[2] + BOUNDS_PAD_DEG, b[3] + BOUNDS_PAD_DEG)
        zooms = range(TILE_MINZOOM, TILE_MAXZOOM + 1)
        n_tiles = sum((x1 - x0 + 1) * (y1 - y0 + 1) for _, x0, x1, y0, y1 in tile_ranges(bounds, zooms))
        tick = progress("矢量瓦片", n_tiles * len(layers)) if progress else None
        tiles = export_tiles(store, tmp, bounds, layers=layers, tick=tick)
        tick = progress("分区查询数据", len(categories)) if progress else None
        areas = export_areas(store, tmp, categories, tick=tick)
        page = resident_page(store, settings=settings, static_url="static", mode="static", base="", categories=cats)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        asset_bytes = _copy_assets(tmp) + len(page.encode())
        manifest = {
            "format": 1,
            "categories": categories,
            "tile_layers": layers,
            "tiles": tiles,
            "areas": areas,
            "assets_bytes": asset_bytes,
            "total_bytes": tiles["bytes"] + areas["bytes"] + asset_bytes,
            "files": tiles["files"] + areas["files"] + 7,
            "revisions": {k: int(v) for k, v in store.layer_revisions().items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        _write_json(tmp / MANIFEST, manifest)
        _swap(tmp, out)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, out: Path) -> None:
    """Put ``tmp`` in place of ``out`` (an earlier export is removed only once the new one is in place)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{int(time.time() * 1000)}")
        out.rename(old)
    tmp.rename(out)
    tmp_mode = 0o755
    out.chmod(tmp_mode)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
