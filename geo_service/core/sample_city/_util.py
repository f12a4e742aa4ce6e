"""Small vectorised helpers of the sample city generator (sampling, ids, names, unions, quads)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from ._constants import CH_A, CH_B, CN_DIGITS, RES, RIVER


def cn_number(k: int) -> str:
    """Chinese numeral for 1..9999 (used for ordinal road names)."""
    if k < 10:
        return CN_DIGITS[k]
    if k < 20:
        return "十" + (CN_DIGITS[k % 10] if k % 10 else "")
    if k < 100:
        return CN_DIGITS[k // 10] + "十" + (CN_DIGITS[k % 10] if k % 10 else "")
    return str(k)


def gumbel_topk(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement, probability ∝ weights."""
    weights = np.asarray(weights, dtype=float)
    eligible = np.flatnonzero(weights > 0)
    k = int(min(k, eligible.size))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(weights[eligible]) - np.log(-np.log(rng.random(eligible.size)))
    top = np.argpartition(-keys, k - 1)[:k]
    top = top[np.argsort(-keys[top], kind="stable")]
    return eligible[top]


def lognorm(rng: np.random.Generator, median: float, sigma: float, k: int) -> np.ndarray:
    """``k`` log-normal values around ``median``, rounded to integers (as floats)."""
    return np.round(median * rng.lognormal(0, sigma, k), 0)


def ids(prefix: str, n: int, start: int = 1) -> np.ndarray:
    """``n`` zero-padded source ids ``prefix000001``, ... (object array)."""
    width = max(6, len(str(n + start)))
    nums = np.strings.zfill(np.arange(start, start + n).astype(str), width)
    return np.strings.add(prefix, nums).astype(object)


def sadd(*parts: Any) -> np.ndarray:
    """Element-wise string concatenation (numpy unicode arrays / scalars)."""
    out = np.asarray(parts[0]).astype(str)
    for p in parts[1:]:
        out = np.strings.add(out, np.asarray(p).astype(str))
    return out


def combo_names(rng: np.random.Generator, n: int, suffix: str = "", distinct: bool = False) -> np.ndarray:
    """``n`` two-character synthetic place names (+ suffix)."""
    a = np.array(CH_A)
    b = np.array(CH_B)
    total = a.size * b.size
    if distinct:
        perm = rng.permutation(total)
        idx = perm[np.arange(n) % total]
    else:
        idx = rng.integers(0, total, n)
    names = np.strings.add(a[idx // b.size], b[idx % b.size])
    if suffix:
        names = np.strings.add(names, suffix)
    return names


def group_starts(groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable order of ``groups``, the size of each group and its start in that order."""
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, counts, starts


def group_union(geoms: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Coverage union of ``geoms`` per group (vectorised via a padded matrix)."""
    out = np.empty(n_groups, dtype=object)
    if n_groups == 0:
        return out
    order, counts, starts = group_starts(groups, n_groups)
    g = groups[order]
    pos = np.arange(g.size) - starts[g]
    # bucket groups by size so the padded matrices stay small
    width_class = np.ceil(np.log2(np.maximum(counts, 1))).astype(int)
    for wc in np.unique(width_class):
        sel_groups = np.flatnonzero(width_class == wc)
        width = int(max(1, counts[sel_groups].max()))
        row_of = np.full(n_groups, -1, dtype=np.int64)
        row_of[sel_groups] = np.arange(sel_groups.size)
        m = row_of[g] >= 0
        mat = np.full((sel_groups.size, width), None, dtype=object)
        mat[row_of[g[m]], pos[m]] = geoms[order[m]]
        out[sel_groups] = shapely.coverage_union_all(mat, axis=1)
    bad = ~shapely.is_valid(out)
    if bad.any():  # pragma: no cover - defensive
        out[bad] = shapely.make_valid(out[bad])
    return out


def bilinear(cx: np.ndarray, cy: np.ndarray, u: Any, v: Any) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear point in quads given corner arrays (n, 4) ordered p00, p10, p11, p01."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    w00 = (1 - u) * (1 - v)
    w10 = u * (1 - v)
    w11 = u * v
    w01 = (1 - u) * v
    x = w00 * cx[..., 0] + w10 * cx[..., 1] + w11 * cx[..., 2] + w01 * cx[..., 3]
    y = w00 * cy[..., 0] + w10 * cy[..., 1] + w11 * cy[..., 2] + w01 * cy[..., 3]
    return x, y


def shoelace(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Area of polygons given vertex arrays (n, k) in ring order (not closed)."""
    return 0.5 * np.abs(np.sum(px * np.roll(py, -1, axis=-1) - np.roll(px, -1, axis=-1) * py, axis=-1))


def point_outside_ne(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (u, v) in a cell, never in the NE quadrant (kept for small parcels)."""
    u = rng.uniform(0.1, 0.9, n)
    v = rng.uniform(0.1, 0.9, n)
    both = (u > 0.5) & (v > 0.5)
    u[both] = 1.0 - u[both]
    return u, v


def concat_columns(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate column blocks (dicts of equal keys) into one dict of columns."""
    return {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}


def is_land(cell_type: np.ndarray) -> np.ndarray:
    """Mask of the land cell types (residential to construction site; not void, river or railway)."""
    return (cell_type >= RES) & (cell_type < RIVER)
