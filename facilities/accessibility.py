"""Capacity-aware accessibility: the enhanced two-step floating catchment area (E2SFCA) score (issue 3).

Pure arrays: the caller gives the reachable unit-facility pairs with their walking distances (from the
walking-network engine), residents per unit and capacity per facility.

Method (Luo & Qi 2009, building on the 2SFCA of Luo & Wang 2003)::

    step 1, per facility j:  R_j = S_j / sum_{k : d_kj <= d0} P_k W(d_kj)
    step 2, per unit i:      A_i = sum_{j : d_ij <= d0} W(d_ij) R_j

with S_j the capacity (places, beds, seats ... any unit of supply), P_k the residents of unit k, d the
walking distance in metres, d0 the catchment and W a distance-decay weight.  A_i is capacity per resident;
this module reports it per 1,000 residents (``e2sfca_per_1000``), and R_j likewise
(``ratio_per_1000``).  With consistent inputs ``sum_i P_i A_i = sum_j S_j`` over facilities with demand in
reach: the method redistributes the capacity, it does not create any.

Distance decay
--------------
``decay="zones"`` (default): step weights per distance zone, as in Luo & Qi (2009), who used three
travel-time sub-zones (0-10, 10-20, 20-30 min by car) with the weights 1.00, 0.68 and 0.22 taken from a
Gaussian decay.  The default here keeps those weights and transposes the zones to the walking distances
of the GB 50180-2018 5/10/15-minute life circles: 0-300 m -> 1.00, 300-500 m -> 0.68, 500-1000 m -> 0.22,
beyond 1000 m -> 0 (a choice of this service, overridable: ``zone_breaks_m``, ``zone_weights``).  Zone
upper bounds are **inclusive**: a unit exactly 300 m away weighs 1.00, one at 300.001 m 0.68, and one at
exactly the last break is still inside the catchment.

``decay="gaussian"``: the continuous Gaussian kernel of the kernel-density 2SFCA (Dai 2010; Dai & Wang
2011), ``W(d) = (exp(-d^2 / (2 d0^2)) - exp(-1/2)) / (1 - exp(-1/2))`` for ``d <= d0`` and 0 beyond; the
parameter is the catchment ``gaussian_catchment_m`` (d0, default 1000 m).  W(0) = 1, W(d0) = 0.

References
----------
- Luo, W., Qi, Y. (2009). An enhanced two-step floating catchment area (E2SFCA) method for measuring
  spatial accessibility to primary care physicians. Health & Place 15(4), 1100-1107.
- Luo, W., Wang, F. (2003). Measures of spatial accessibility to health care in a GIS environment.
  Environment and Planning B 30(6), 865-884.
- Dai, D. (2010). Black residential segregation, disparities in spatial access to health care facilities,
  and late-stage breast cancer diagnosis in metropolitan Detroit. Health & Place 16(5), 1038-1052.
- GB 50180-2018 城市居住区规划设计标准 (life-circle walking distances 300 / 500 / 800-1000 m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo_service.core._errors import InputError

__all__ = [
    "DEFAULT_ZONE_BREAKS_M",
    "DEFAULT_ZONE_WEIGHTS",
    "E2SFCAResult",
    "decay_weights",
    "e2sfca",
]

DEFAULT_ZONE_BREAKS_M: tuple[float, ...] = (300.0, 500.0, 1000.0)
"""Inclusive upper bounds of the distance zones, metres (GB 50180-2018 5/10/15-minute walking distances)."""

DEFAULT_ZONE_WEIGHTS: tuple[float, ...] = (1.0, 0.68, 0.22)
"""Weights of the zones (Luo & Qi 2009)."""

DEFAULT_GAUSSIAN_CATCHMENT_M = 1000.0


@dataclass(frozen=True)
class E2SFCAResult:
    """E2SFCA scores.

    Attributes
    ----------
    e2sfca_per_1000 : np.ndarray of float64, shape (n_units,)
        Accessible capacity per 1,000 residents for each unit (capacity units of the input, e.g. places
        per 1,000 residents); 0 where no facility with known capacity and demand is in reach.
    ratio_per_1000 : np.ndarray of float64, shape (n_facilities,)
        R_j * 1000: capacity per 1,000 distance-weighted residents in the facility's catchment; NaN for
        facilities with unknown capacity or without weighted demand in reach.
    weighted_demand_residents : np.ndarray of float64, shape (n_facilities,)
        sum_k P_k W(d_kj), residents (0 for unknown-capacity facilities too: they are not computed).
    reached : np.ndarray of bool, shape (n_units,)
        The unit has at least one facility with known capacity at positive weight.
    excluded_facilities : np.ndarray of int64
        Facilities left out because their capacity is unknown (NaN).
    facilities_without_demand : np.ndarray of int64
        Facilities with known capacity but no weighted residents in reach (their capacity serves no one
        and adds nothing to any score).
    n_pairs_used : int
        Pairs within the catchment (positive weight), after merging duplicates.
    """

    e2sfca_per_1000: np.ndarray
    ratio_per_1000: np.ndarray
    weighted_demand_residents: np.ndarray
    reached: np.ndarray
    excluded_facilities: np.ndarray
    facilities_without_demand: np.ndarray
    n_pairs_used: int


def _bad(message: str, message_zh: str, **detail) -> InputError:
    return InputError(message, message_zh, **detail)


def _check_decay(decay, zone_breaks_m, zone_weights, gaussian_catchment_m):
    if decay == "zones":
        breaks = np.asarray(zone_breaks_m, dtype=np.float64)
        weights = np.asarray(zone_weights, dtype=np.float64)
        if breaks.ndim != 1 or breaks.size == 0 or breaks.shape != weights.shape:
            raise _bad(
                "zone_breaks_m and zone_weights must be non-empty lists of the same length",
                "zone_breaks_m 与 zone_weights 须为等长的非空列表",
                field="zone_breaks_m",
            )
        if not (np.isfinite(breaks).all() and (breaks > 0).all() and (np.diff(breaks) > 0).all()):
            raise _bad(
                "zone_breaks_m must be positive, finite and strictly increasing (metres)",
                "zone_breaks_m 须为正的有限数且严格递增（米）",
                field="zone_breaks_m",
                zone_breaks_m=breaks.tolist(),
            )
        if not (np.isfinite(weights).all() and (weights >= 0).all() and (weights > 0).any()):
            raise _bad(
                "zone_weights must be finite, non-negative and not all zero",
                "zone_weights 须为有限的非负数且不能全为 0",
                field="zone_weights",
                zone_weights=weights.tolist(),
            )
        return breaks, weights
    if decay == "gaussian":
        d0 = float(gaussian_catchment_m)
        if not (np.isfinite(d0) and d0 > 0):
            raise _bad(
                "gaussian_catchment_m must be a positive number (metres)",
                "gaussian_catchment_m 须为正数（米）",
                field="gaussian_catchment_m",
            )
        return d0, None
    raise _bad(
        f"unknown decay {decay!r}; use 'zones' or 'gaussian'",
        f"未知的距离衰减方式 {decay!r}；可选 'zones' 或 'gaussian'",
        field="decay",
    )


def decay_weights(
    walk_m,
    *,
    decay: str = "zones",
    zone_breaks_m=DEFAULT_ZONE_BREAKS_M,
    zone_weights=DEFAULT_ZONE_WEIGHTS,
    gaussian_catchment_m: float = DEFAULT_GAUSSIAN_CATCHMENT_M,
) -> np.ndarray:
    """Distance-decay weight of each walking distance (metres); 0 beyond the catchment.

    Zones: weight ``zone_weights[z]`` for ``zone_breaks_m[z-1] < d <= zone_breaks_m[z]`` (inclusive upper
    bounds; the first zone starts at 0 m inclusive).  Gaussian: see the module docstring.
    """
    d = np.asarray(walk_m, dtype=np.float64)
    a, b = _check_decay(decay, zone_breaks_m, zone_weights, gaussian_catchment_m)
    if decay == "zones":
        z = np.searchsorted(a, d, side="left")  # breaks[z-1] < d <= breaks[z]
        return np.append(b, 0.0)[z]
    d0 = a
    e = np.exp(-0.5)
    w = (np.exp(-0.5 * (d / d0) ** 2) - e) / (1.0 - e)
    return np.where(d <= d0, np.clip(w, 0.0, 1.0), 0.0)


def e2sfca(
    unit_idx,
    facility_idx,
    walk_m,
    residents,
    capacity,
    *,
    decay: str = "zones",
    zone_breaks_m=DEFAULT_ZONE_BREAKS_M,
    zone_weights=DEFAULT_ZONE_WEIGHTS,
    gaussian_catchment_m: float = DEFAULT_GAUSSIAN_CATCHMENT_M,
) -> E2SFCAResult:
    """E2SFCA accessibility of every unit to one facility category with capacities.

    Parameters
    ----------
    unit_idx, facility_idx : array_like of int, shape (n_pairs,)
        Reachable unit-facility pairs (positions into ``residents`` and ``capacity``).  Passed as coordinate
        arrays, not as a sparse matrix, so that a walking distance of 0 m is kept.  A pair listed more than
        once (e.g. several entrances of a unit) counts once, at its shortest distance.  Pairs beyond the
        catchment are allowed and weigh 0.
    walk_m : array_like of float, shape (n_pairs,)
        Walking distance of each pair, metres (finite, >= 0).
    residents : array_like of float, shape (n_units,)
        Residents per unit (finite, >= 0).
    capacity : array_like of float, shape (n_facilities,)
        Capacity per facility (places, beds, m2 ...: the score is in the same unit per 1,000 residents);
        finite and >= 0, or NaN for unknown capacity: such facilities are excluded (they neither supply
        nor absorb demand) and listed in ``excluded_facilities``.
    decay : {"zones", "gaussian"}
        Distance-decay form, see the module docstring.
    zone_breaks_m : sequence of float
        Inclusive upper bounds of the zones, metres, strictly increasing; the last is the catchment.
    zone_weights : sequence of float
        Weight of each zone (>= 0).
    gaussian_catchment_m : float
        Catchment d0 of the Gaussian decay, metres.

    Returns
    -------
    E2SFCAResult

    Raises
    ------
    geo_service.core._errors.InputError
        Shape mismatches, indices out of range, negative or NaN distances / residents, negative or infinite
        capacities, bad decay parameters.
    """
    u = np.asarray(unit_idx)
    f = np.asarray(facility_idx)
    d = np.asarray(walk_m)
    p = np.asarray(residents)
    s = np.asarray(capacity)
    for name, arr in (("unit_idx", u), ("facility_idx", f), ("walk_m", d), ("residents", p), ("capacity", s)):
        if arr.ndim != 1:
            raise _bad(
                f"{name} must be one-dimensional, got shape {arr.shape}",
                f"{name} 须为一维数组，实际形状为 {arr.shape}",
                field=name,
            )
        if arr.dtype.kind not in "biuf":
            raise _bad(
                f"{name} must be numeric, got dtype {arr.dtype}", f"{name} 须为数值，实际类型为 {arr.dtype}", field=name
            )
    if not (u.size == f.size == d.size):
        raise _bad(
            f"unit_idx, facility_idx and walk_m must have the same length, got {u.size}, {f.size}, {d.size}",
            f"unit_idx、facility_idx 与 walk_m 须等长，实际为 {u.size}、{f.size}、{d.size}",
            field="pairs",
        )
    n_units, n_fac = p.size, s.size
    if u.size and (u.dtype.kind not in "iu" or f.dtype.kind not in "iu"):
        raise _bad("unit_idx and facility_idx must be integers", "unit_idx 与 facility_idx 须为整数", field="pairs")
    if u.size and (u.min() < 0 or u.max() >= n_units):
        raise _bad(
            f"unit_idx out of range 0..{n_units - 1}",
            f"unit_idx 超出范围 0..{n_units - 1}",
            field="unit_idx",
        )
    if f.size and (f.min() < 0 or f.max() >= n_fac):
        raise _bad(
            f"facility_idx out of range 0..{n_fac - 1}",
            f"facility_idx 超出范围 0..{n_fac - 1}",
            field="facility_idx",
        )
    d = d.astype(np.float64, copy=False)
    if not np.isfinite(d).all() or (d < 0).any():
        raise _bad("walk_m must be finite and non-negative (metres)", "walk_m 须为有限的非负数（米）", field="walk_m")
    p = p.astype(np.float64, copy=False)
    if not np.isfinite(p).all() or (p < 0).any():
        raise _bad(
            "residents must be finite and non-negative", "residents（居民数）须为有限的非负数", field="residents"
        )
    s = s.astype(np.float64, copy=False)
    known = ~np.isnan(s)
    if np.isinf(s).any() or (s[known] < 0).any():
        raise _bad(
            "capacity must be non-negative and finite (NaN marks an unknown capacity)",
            "capacity（容量）须为有限的非负数（未知容量用 NaN 表示）",
            field="capacity",
        )

    u = u.astype(np.int64, copy=False)
    f = f.astype(np.int64, copy=False)
    # facilities with unknown capacity take no part
    keep = known[f]
    u, f, d = u[keep], f[keep], d[keep]
    # a pair listed several times (e.g. several entrances) counts once, at its shortest distance
    if u.size:
        key = u * n_fac + f
        key_sorted = np.sort(key)  # fast path: most inputs have no duplicates
        if (key_sorted[1:] == key_sorted[:-1]).any():
            order = np.argsort(key, kind="stable")
            key_sorted = key[order]
            starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
            d = np.minimum.reduceat(d[order], starts)
            key_unique = key_sorted[starts]
            u, f = key_unique // n_fac, key_unique % n_fac
    w = decay_weights(
        d,
        decay=decay,
        zone_breaks_m=zone_breaks_m,
        zone_weights=zone_weights,
        gaussian_catchment_m=gaussian_catchment_m,
    )
    inside = w > 0
    u, f, w = u[inside], f[inside], w[inside]

    demand = np.bincount(f, weights=p[u] * w, minlength=n_fac)  # step 1 denominators, residents
    has_demand = known & (demand > 0)
    ratio = np.full(n_fac, np.nan)
    ratio[has_demand] = s[has_demand] / demand[has_demand]  # capacity per weighted resident
    r_pair = np.where(has_demand[f], ratio[f], 0.0) if f.size else np.zeros(0)
    score = np.bincount(u, weights=w * r_pair, minlength=n_units)  # step 2
    reached = np.bincount(u, minlength=n_units) > 0
    return E2SFCAResult(
        e2sfca_per_1000=score * 1000.0,
        ratio_per_1000=ratio * 1000.0,
        weighted_demand_residents=np.where(known, demand, 0.0),
        reached=reached,
        excluded_facilities=np.flatnonzero(~known),
        facilities_without_demand=np.flatnonzero(known & (demand <= 0)),
        n_pairs_used=int(u.size),
    )
