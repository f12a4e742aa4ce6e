"""Integer allocation of official totals down nested statistical tiers to units (largest remainder).

A *tier* groups the units (one group id per unit, -1 for none) and may give totals for some of its groups. Tiers
are ordered top (district) to bottom (grid, then the units' own given figures). Allocation goes top-down: a known
total is split over the groups of the next tier that divides it, given child totals kept where they fit, the rest
shared by weight; at the bottom the total is split over the units by weight. Every split is a largest-remainder
rounding, so the integers sum exactly to each total and nested tiers agree. When given child totals do not sum to
their parent's, the parent (the upper tier) is trusted, the children are scaled to it, and the case is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Tier", "Allocation", "allocate", "largest_remainder"]


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` (a non-negative integer) in proportion to ``weights`` into integers that sum to it.

    Each share is floored and the leftover units go to the largest remainders (ties: the earlier index). Zero or
    missing weights everywhere give equal shares.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0)
    w = np.maximum(w, 0.0)
    n = len(w)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    s = w.sum()
    if s <= 0:
        w, s = np.ones(n), float(n)
    exact = total * (w / s)
    base = np.floor(exact + 1e-9).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        order = np.argsort(-(exact - base), kind="stable")[:left]
        base[order] += 1
    elif left < 0:  # float noise can push a floor over: take back from the smallest remainders
        order = np.argsort(exact - base, kind="stable")
        order = order[base[order] > 0][:-left]
        base[order] -= 1
    return base


@dataclass
class Tier:
    """One statistical tier: the group of each unit (-1: none), given totals by group id, group names."""

    name: str
    groups: np.ndarray
    given: dict[int, float]
    labels: dict[int, str] = field(default_factory=dict)


@dataclass
class Allocation:
    """Integers per unit; the mismatches between given totals (upper tier trusted); the units no total covers."""

    values: np.ndarray
    covered: np.ndarray
    mismatches: list[dict] = field(default_factory=list)


def _child_values(total: int, keys: np.ndarray, wsum: np.ndarray, given: np.ndarray, cvals: np.ndarray):
    """Target values of the child groups of a known total; returns (values, mismatch as (sum, kind) or None)."""
    gsum = float(cvals[given].sum())
    others = ~given & (wsum > 0)
    if not given.any():
        return wsum, None
    if gsum <= total + 0.5 and (others.any() or abs(gsum - total) < 0.5):
        vals = np.where(given, cvals, 0.0)
        if others.any():
            vals[others] = (total - gsum) * wsum[others] / wsum[others].sum()
        return vals, None
    # inconsistent: the upper total is trusted; the children without totals get the density of the given ones
    vals = np.where(given, cvals, 0.0)
    wg = wsum[given].sum()
    if others.any():
        vals[others] = wsum[others] * (gsum / wg if wg > 0 else 0.0)
    return vals, gsum


def allocate(
    n_units: int,
    tiers: list[Tier],
    weights: np.ndarray,
    derive: Callable[[np.ndarray], int | None] | None = None,
) -> Allocation:
    """Allocate the totals of ``tiers`` to ``n_units`` units in proportion to ``weights``.

    Parameters
    ----------
    n_units : int
    tiers : list of Tier
        Top first; each tier's ``groups`` has one group id per unit. A group split by an upper tier's boundary
        brings its given total to each part in proportion to the part's weight.
    weights : ndarray
        Non-negative weight per unit (e.g. residential floor area, m²).
    derive : callable, optional
        For a set of unit indices that no given total covers (at this tier or below): the total to spread over
        them (e.g. households from residents), or None to leave them uncovered (0).

    Returns
    -------
    Allocation
    """
    weights = np.maximum(np.nan_to_num(np.asarray(weights, dtype=float)), 0.0)
    values = np.zeros(n_units, dtype=np.int64)
    covered = np.zeros(n_units, dtype=bool)
    has_given = [np.isin(t.groups, np.fromiter(t.given, dtype=np.int64, count=len(t.given))) for t in tiers]
    below = [np.zeros(n_units, dtype=bool) for _ in range(len(tiers) + 1)]
    for k in range(len(tiers) - 1, -1, -1):
        below[k] = below[k + 1] | has_given[k]
    group_weight = [_group_weights(t.groups, weights) for t in tiers]
    out = Allocation(values, covered)

    def spread(total: int, idx: np.ndarray) -> None:
        values[idx] = largest_remainder(total, weights[idx])
        covered[idx] = True

    def visit(total: int | None, idx: np.ndarray, k: int, parent: str) -> None:
        if len(idx) == 0:
            return
        if total is None and not below[k][idx].any():
            derived = derive(idx) if derive is not None else None
            if derived is not None:
                spread(int(derived), idx)
            return
        if k == len(tiers):
            spread(int(total), idx)  # total is known here: no given figure below a None total would be reached
            return
        tier = tiers[k]
        keys, inverse = np.unique(tier.groups[idx], return_inverse=True)
        if total is not None and len(keys) == 1 and (keys[0] < 0 or keys[0] not in tier.given):
            visit(total, idx, k + 1, parent)  # this tier does not divide the group
            return
        wsum = np.bincount(inverse, weights=weights[idx], minlength=len(keys))
        given = np.array([key >= 0 and key in tier.given for key in keys])
        shares = [_share(wsum[i], group_weight[k].get(key)) for i, key in enumerate(keys)]
        cvals = np.array([tier.given[key] * shares[i] if given[i] else 0.0 for i, key in enumerate(keys)])
        if total is None:
            targets = [int(round(c)) if g else None for c, g in zip(cvals, given)]
        else:
            vals, mismatch = _child_values(total, keys, wsum, given, cvals)
            if mismatch is not None:
                out.mismatches.append(
                    {
                        "tier": tier.name,
                        "parent": parent,
                        "parent_total": int(total),
                        "children_sum": int(round(mismatch)),
                        "children": [tier.labels.get(int(key), str(key)) for key in keys[given]],
                        "trusted": "upper",
                    }
                )
            targets = list(largest_remainder(int(total), vals))
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
        for i, key in enumerate(keys):
            sub = idx[order[bounds[i] : bounds[i + 1]]]
            label = tier.labels.get(int(key), parent) if key >= 0 else parent
            visit(targets[i], sub, k + 1, label)

    visit(None, np.arange(n_units), 0, "")
    return out


def _group_weights(groups: np.ndarray, weights: np.ndarray) -> dict[int, float]:
    keys, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=weights, minlength=len(keys))
    return {int(k): float(s) for k, s in zip(keys, sums)}


def _share(part: float, whole: float | None) -> float:
    """Share of a group's weight in one part of it (1 when the group is whole or weightless)."""
    if not whole or whole <= 0:
        return 1.0
    return min(1.0, part / whole)
