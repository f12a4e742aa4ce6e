"""Whether the stored layers lie in one place: a layer far from the others is a wrong CRS or a wrong file.

One function decides (:func:`far_layers`, from each layer's extent, ``Store.extent``); imports warn with it
(:func:`far_from_stored`) and the analyses refuse with it (:func:`require_coherent`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyproj

from ._errors import InputError
from .layers import LAYERS

MAX_GAP_KM = 200.0  # a county is at most ~200 km across; layers of one city overlap or nearly so
_GEOD = pyproj.Geod(ellps="WGS84")
_SKIP = {"network_nodes"}  # the edges say the same


def layer_extents(store, layers: Iterable[str] | None = None) -> dict[str, list[float]]:
    """``{layer: [minx, miny, maxx, maxy]}`` (EPSG:4326) of the non-empty layers among ``layers`` (default all)."""
    out: dict[str, list[float]] = {}
    for name in layers if layers is not None else LAYERS:
        if name in _SKIP or name not in LAYERS:
            continue
        box = store.extent(name)
        if box is not None and all(np.isfinite(box)):
            out[name] = box
    return out


def _nearest(a0: float, a1: float, b0: float, b1: float) -> tuple[float, float]:
    """Nearest coordinates of two intervals: a shared value when they overlap."""
    if a1 < b0:
        return a1, b0
    if b1 < a0:
        return a0, b1
    v = max(a0, b0)
    return v, v


def gap_km(a, b) -> float:
    """Geodesic distance (km) between the nearest points of two lon/lat boxes; 0 when they overlap."""
    ax, bx = _nearest(a[0], a[2], b[0], b[2])
    ay, by = _nearest(a[1], a[3], b[1], b[3])
    if ax == bx and ay == by:
        return 0.0
    _, _, d = _GEOD.inv(ax, ay, bx, by)
    return float(d) / 1000.0


def far_layers(store, layers: Iterable[str] | None = None, max_km: float = MAX_GAP_KM) -> list[tuple[str, str, float]]:
    """Pairs of layers (among ``layers``, default all) whose extents are more than ``max_km`` apart.

    Returns ``[(layer_a, layer_b, km), ...]``, farthest first; empty when the data lie together.
    """
    boxes = layer_extents(store, layers)
    names = list(boxes)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            km = gap_km(boxes[a], boxes[b])
            if km > max_km:
                pairs.append((a, b, km))
    return sorted(pairs, key=lambda p: -p[2])


def _label(name: str) -> str:
    return f"「{LAYERS[name].label_zh}」（{name}）" if name in LAYERS else name


def require_coherent(store, layers: Iterable[str], max_km: float = MAX_GAP_KM) -> None:
    """Raise :class:`InputError` naming the layers and the distance when input layers lie far apart."""
    pairs = far_layers(store, layers, max_km)
    if not pairs:
        return
    a, b, km = pairs[0]
    raise InputError(
        f"layers {a} and {b} lie {km:,.0f} km apart (more than {max_km:,.0f} km): they cannot belong to one "
        "analysis; check the coordinate system of the last import, or re-import the layer of the right place",
        f"图层{_label(a)}与{_label(b)}相距 {km:,.0f} 公里（超过 {max_km:,.0f} 公里），不属于同一地区，无法一起分析；"
        "请检查最近一次导入的坐标系，或重新导入正确地区的图层",
        layers=[a, b],
        distance_km=round(km, 1),
    )


def far_from_stored(store, layer: str, frame, max_km: float = MAX_GAP_KM) -> list[tuple[str, str]]:
    """Warnings (English, Chinese) for a frame about to be imported into ``layer`` that lies far from the
    other stored layers (the nearest one named, with the distance)."""
    if len(frame) == 0:
        return []
    box = [float(v) for v in frame.total_bounds]
    if not all(np.isfinite(box)):
        return []
    others = {k: v for k, v in layer_extents(store).items() if k != layer}
    if not others:
        return []
    gaps = {k: gap_km(box, v) for k, v in others.items()}
    nearest = min(gaps, key=lambda k: gaps[k])
    if gaps[nearest] <= max_km:
        return []
    km = gaps[nearest]
    return [
        (
            f"the imported {layer} lie {km:,.0f} km from the nearest stored layer, {nearest}: "
            "check the coordinate system; analyses refuse layers this far apart",
            f"导入的{_label(layer)}与已有图层中最近的{_label(nearest)}相距 {km:,.0f} 公里，"
            "请检查坐标系或文件是否属于本地区；相距这么远的图层无法一起分析",
        )
    ]
