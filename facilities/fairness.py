"""Fairness of access (issue 17, item 3): how unequally walking distance to a facility is shared among residents.

Per category, per street and city-wide, weighted by residents (or by the residents of the group a category
serves, see :mod:`facilities.groups`):

* **Gini** of walking distance (0 = everyone walks as far, → 1 = a few walk all the distance);
* **Palma ratio**: share of the total walking distance walked by the 10 % of residents who walk farthest, over the
  share walked by the 40 % who walk least (0.25 when everyone walks as far; larger is less equal);
* **shares beyond thresholds**: residents farther than each life-circle walk (300 / 500 / 1000 m, norms
  ``life_circles.*.walk_m``) and than the category's own threshold;
* **the worst-served 10 %**: the units, farthest first, that together hold at least 10 % of the weight.

Weights
-------
``inequality`` (PySAL, 1.1) computes the Gini of unweighted values only (``inequality.gini.Gini``) and has no Palma
ratio.  Residents are weights, not repetitions of rows, and derived group counts are not whole numbers, so the
weighted forms are computed here from the weighted Lorenz curve: units sorted by distance, each unit's residents a
uniform stretch of the population axis.  For whole-number weights this equals ``inequality.gini.Gini`` on the
values repeated by their weights (the tests check it), and with equal weights it equals it on the plain values.

Units not reached
-----------------
A unit farther than the search limit from every facility of the category, or farther than the snapping distance
from every street, has no finite walking distance.  It is never ``inf`` in a statistic: with ``unreached="cap"``
(default) it counts at the search limit (so the Gini and Palma are lower bounds and are marked so); with
``unreached="exclude"`` it is left out of Gini, Palma and percentiles.  Either way it counts as beyond every
threshold and heads the worst-served list, and ``unreached_residents`` says how many there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.norms import Norms

__all__ = [
    "FairnessParams",
    "FairnessResult",
    "compute_fairness",
    "distance_stats",
    "lorenz_at",
    "palma_ratio",
    "weighted_gini",
    "weighted_lorenz",
    "worst_served",
]

UNREACHED = ("cap", "exclude")
LEVELS = ("5min", "10min", "15min")
WORST_SHARE = 0.10
CITY = "全市"
MIN_LIMIT_M, MAX_LIMIT_M = 500.0, 5000.0


# ----------------------------------------------------------------------------- statistics
def _clean(x, w) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float).ravel()
    if x.shape != w.shape:
        raise ValueError("values and weights differ in length")
    if not (np.isfinite(x).all() and np.isfinite(w).all()) or (w < 0).any() or (x < 0).any():
        raise ValueError("values and weights must be finite and non-negative")
    keep = w > 0
    return x[keep], w[keep]


def weighted_lorenz(x, w=None) -> tuple[np.ndarray, np.ndarray]:
    """The weighted Lorenz curve of non-negative values.

    Parameters
    ----------
    x : array_like
        Values (here walking distances, m), finite, >= 0.
    w : array_like, optional
        Weights (residents), finite, >= 0; zero weights are dropped.  Default: equal weights.

    Returns
    -------
    p, l : ndarray
        Cumulative population share and cumulative value share, both starting at 0 and ending at 1, one point per
        kept value in ascending order of ``x`` (``l`` is all zero when every value is 0).
    """
    x, w = _clean(x, w)
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cv = np.concatenate([[0.0], np.cumsum(w * x)])
    p = cw / cw[-1] if cw[-1] > 0 else cw
    lor = cv / cv[-1] if cv[-1] > 0 else np.zeros_like(cv)
    return p, lor


def weighted_gini(x, w=None) -> float:
    """Gini coefficient of ``x`` weighted by ``w`` (NaN for no weight; 0 when every value is 0).

    ``G = sum_i w_i x_i (W_{i-1} + W_i - W) / (W * S)`` over values in ascending order, ``W_i`` the cumulative
    weight, ``W`` the total and ``S = sum w_i x_i``: one minus twice the area under the weighted Lorenz curve,
    minus the within-unit term, which makes it equal to ``inequality.gini.Gini`` on values repeated ``w_i`` times.
    """
    x, w = _clean(x, w)
    total = w.sum()
    s = float((w * x).sum())
    if total <= 0:
        return float("nan")
    if s <= 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cw = np.cumsum(w)
    before = cw - w
    return max(0.0, float((w * x * (before + cw - total)).sum() / (total * s)))


def lorenz_at(x, w, q: float) -> float:
    """Share of the total of ``x`` held by the ``q`` fraction of weight with the smallest values (interpolated)."""
    p, lor = weighted_lorenz(x, w)
    return float(np.interp(q, p, lor))


def palma_ratio(x, w=None) -> float:
    """Share of the total held by the top 10 % of weight over the share held by the bottom 40 % (NaN if that is 0)."""
    x, w = _clean(x, w)
    if w.sum() <= 0 or (w * x).sum() <= 0:
        return float("nan")
    p, lor = weighted_lorenz(x, w)
    bottom = float(np.interp(0.4, p, lor))
    top = 1.0 - float(np.interp(0.9, p, lor))
    return top / bottom if bottom > 0 else float("nan")


def weighted_quantile(x, w, q: float) -> float:
    """The ``q`` quantile of ``x`` with weights ``w`` (the smallest value whose cumulative weight reaches ``q``)."""
    x, w = _clean(x, w)
    if w.sum() <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order]) / w.sum()
    return float(x[order][min(np.searchsorted(cw, q - 1e-12), len(x) - 1)])


# ----------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class FairnessParams:
    """What a fairness run computes.

    Attributes
    ----------
    unreached : ``"cap"`` | ``"exclude"``
        How units without a walking distance within ``limit_m`` enter Gini, Palma and percentiles.
    limit_m : float or None
        Search limit of the walks, metres (default: twice the 15-minute walk of the norms, 2000 m).
    """

    unreached: str = "cap"
    limit_m: float | None = None

    @classmethod
    def from_input(cls, unreached: str | None = None, limit_m: float | str | None = None) -> FairnessParams:
        """The one constructor from CLI options and HTTP query parameters; Chinese errors for bad values."""
        mode = (unreached or "cap").strip()
        if mode not in UNREACHED:
            raise InputError(
                f"unreached must be one of {UNREACHED}, got {mode!r}",
                f"不可达单元的处理方式应为 cap（按搜索上限计）或 exclude（不计入），收到「{mode}」",
            )
        lim = None
        if limit_m is not None and str(limit_m).strip() != "":
            try:
                lim = float(limit_m)
            except ValueError:
                lim = float("nan")
            if not (MIN_LIMIT_M <= lim <= MAX_LIMIT_M):
                raise InputError(
                    f"limit_m must be {MIN_LIMIT_M:.0f}-{MAX_LIMIT_M:.0f} m, got {limit_m}",
                    f"搜索上限应在 {MIN_LIMIT_M:.0f}–{MAX_LIMIT_M:.0f} 米之间，收到 {limit_m}",
                )
        return cls(mode, lim)

    def resolved_limit_m(self, norms: Norms) -> float:
        """The search limit in metres."""
        return float(self.limit_m) if self.limit_m is not None else 2.0 * float(norms.life_circle("15min").walk_m)

    def as_dict(self) -> dict:
        return {"unreached": self.unreached, "limit_m": self.limit_m}


# ----------------------------------------------------------------------------- result
@dataclass
class FairnessResult:
    """Fairness figures per (category, scope) and the worst-served units.

    Attributes
    ----------
    table : DataFrame
        One row per category and scope (``city`` first, then each street): see :func:`distance_stats` for the
        figures, plus ``category``, ``category_zh``, ``group``, ``scope``, ``street_code``, ``threshold_m``.
    worst : dict of str to DataFrame
        Per category the worst-served units of every scope: ``scope``, ``street_code``, ``rank``, ``unit_id``,
        ``name``, ``unit_street_code``, ``walk_m`` (NaN: not reached), ``reached``, ``weight`` (residents of the
        group), ``cum_share`` (share of the scope's weight up to this unit).
    thresholds : dict of str to float
        Life-circle walks, m.
    limit_m : float
    unreached : str
    notes : list of str
    """

    table: pd.DataFrame
    worst: dict[str, pd.DataFrame]
    thresholds: dict[str, float]
    limit_m: float
    unreached: str
    notes: list[str] = field(default_factory=list)


def distance_stats(
    walk: np.ndarray, weight: np.ndarray, thresholds: Mapping[str, float | None], limit_m: float, unreached: str
) -> dict:
    """The fairness figures of one set of units.

    Parameters
    ----------
    walk : ndarray of float
        Walking distance per unit, m; NaN or inf where not reached within ``limit_m``.
    weight : ndarray of float
        Residents (of the group) per unit.
    thresholds : mapping of str to float
        Name -> metres; ``beyond_<name>_share`` is the share of weight farther than it (or not reached).
    limit_m : float
        Search limit, m: the value of unreached units with ``unreached="cap"``.
    unreached : ``"cap"`` | ``"exclude"``

    Returns
    -------
    dict
        ``weight``, ``reached_weight``, ``unreached_weight``, ``unreached_share``, ``gini``, ``palma``,
        ``mean_walk_m``, ``median_walk_m``, ``p90_walk_m`` (NaN when nothing is left), ``lower_bound`` (figures
        include capped units), and per threshold ``beyond_<name>_share``.
    """
    walk = np.asarray(walk, dtype=float)
    weight = np.nan_to_num(np.asarray(weight, dtype=float))
    reached = np.isfinite(walk)
    total = float(weight.sum())
    un_w = float(weight[~reached].sum())
    if unreached == "cap":
        x, w = np.where(reached, np.minimum(walk, limit_m), limit_m), weight
    else:
        x, w = walk[reached], weight[reached]
    out: dict = {
        "weight": round(total, 2),  # persons: group counts derived from totals are fractional
        "reached_weight": round(total - un_w, 2),
        "unreached_weight": round(un_w, 2),
        "unreached_share": un_w / total if total > 0 else np.nan,
    }
    out.update(_sorted_stats(x, w))
    out["lower_bound"] = bool(unreached == "cap" and un_w > 0)
    for name, thr in thresholds.items():
        if thr is None:
            out[f"beyond_{name}_share"] = np.nan
            continue
        far = ~reached | (walk > thr + 1e-3)
        out[f"beyond_{name}_share"] = float(weight[far].sum() / total) if total > 0 else np.nan
    return out


def _sorted_stats(x: np.ndarray, w: np.ndarray) -> dict:
    """Gini, Palma, mean, median and 90th percentile of ``x`` (m) weighted by ``w``, from one sort.

    The same formulas as :func:`weighted_gini`, :func:`palma_ratio` and :func:`weighted_quantile` (the tests hold
    them equal), sharing the sorted arrays; NaN where there is no weight.
    """
    keep = w > 0
    x, w = x[keep], w[keep]
    nan = {k: np.nan for k in ("gini", "palma", "mean_walk_m", "median_walk_m", "p90_walk_m")}
    if len(x) == 0:
        return nan
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cw = np.cumsum(ws)
    total = cw[-1]
    wx = ws * xs
    s = float(wx.sum())
    share = cw / total
    out = {
        "mean_walk_m": round(s / total, 1),
        "median_walk_m": round(float(xs[min(np.searchsorted(share, 0.5 - 1e-12), len(xs) - 1)]), 1),
        "p90_walk_m": round(float(xs[min(np.searchsorted(share, 0.9 - 1e-12), len(xs) - 1)]), 1),
    }
    if s <= 0:
        return {**out, "gini": 0.0, "palma": np.nan}
    out["gini"] = round(max(0.0, float((wx * (2 * cw - ws - total)).sum() / (total * s))), 6)
    p = np.concatenate([[0.0], share])
    lor = np.concatenate([[0.0], np.cumsum(wx) / s])
    bottom = float(np.interp(0.4, p, lor))
    out["palma"] = round((1.0 - float(np.interp(0.9, p, lor))) / bottom, 6) if bottom > 0 else np.nan
    return out


def worst_served(walk: np.ndarray, weight: np.ndarray, share: float = WORST_SHARE) -> np.ndarray:
    """Positions of the units, farthest first (unreached before all), holding at least ``share`` of the weight.

    Units without weight are skipped; ties in distance go to the larger weight first, then to the position.
    """
    walk = np.asarray(walk, dtype=float)
    weight = np.nan_to_num(np.asarray(weight, dtype=float))
    total = weight.sum()
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    key = np.where(np.isfinite(walk), walk, np.inf)
    idx = np.flatnonzero(weight > 0)
    order = idx[np.lexsort((idx, -weight[idx], -key[idx]))]
    cum = np.cumsum(weight[order]) / total
    n = int(np.searchsorted(cum, share - 1e-12)) + 1
    return order[: min(n, len(order))]


# ----------------------------------------------------------------------------- computation
def compute_fairness(
    units: pd.DataFrame,
    walks: Mapping[str, np.ndarray],
    groups: pd.DataFrame,
    norms: Norms,
    *,
    params: FairnessParams = FairnessParams(),
    served: Mapping[str, str] | None = None,
    category_thresholds: Mapping[str, float | None] | None = None,
) -> FairnessResult:
    """Fairness figures per category, per street and city-wide.

    Parameters
    ----------
    units : DataFrame
        Population units: ``unit_id``, ``residents``, optional ``name``, ``street_code``.
    walks : mapping of str to ndarray
        Per category the walking distance of each unit to its nearest facility, m (inf/NaN: not reached).
    groups : DataFrame
        Row-aligned with ``units``: ``residents_<group>`` for the groups served (see :mod:`facilities.groups`).
    norms : Norms
        Life-circle walks (``life_circles.*.walk_m``), ``age_groups.served_by``.
    params : FairnessParams
    served : mapping, optional
        Category -> group (default: the norms' ``age_groups.served_by``; others serve ``all``).
    category_thresholds : mapping, optional
        Category -> its own threshold, m (None: no norm).

    Returns
    -------
    FairnessResult
    """
    served = dict(norms.entry("age_groups.served_by").value) if served is None else dict(served)  # type: ignore[attr-defined]
    thresholds = {lv: float(norms.life_circle(lv).walk_m) for lv in LEVELS}
    limit = params.resolved_limit_m(norms)
    u = units.reset_index(drop=True)
    streets = u["street_code"].fillna("").astype(str).to_numpy() if "street_code" in u.columns else None
    residents = pd.to_numeric(u["residents"], errors="coerce").fillna(0).to_numpy(dtype=float)
    rows, worst = [], {}
    for c, walk in walks.items():
        walk = np.asarray(walk, dtype=float)
        if len(walk) != len(u):
            raise InputError("walks must be aligned with the units", "步行距离与人口单元行数不一致")
        group = served.get(c, "all")
        weight = residents if group == "all" else np.nan_to_num(groups[f"residents_{group}"].to_numpy(dtype=float))
        thr = dict(thresholds)
        own = (category_thresholds or {}).get(c)
        thr["threshold"] = own
        scopes: list[tuple[str, str, np.ndarray]] = [("city", CITY, np.arange(len(u)))]
        if streets is not None:
            for s in sorted(set(streets)):
                scopes.append(("street", s, np.flatnonzero(streets == s)))
        parts = []
        for scope, code, pos in scopes:
            stats = distance_stats(walk[pos], weight[pos], thr, limit, params.unreached)
            rows.append(
                {
                    "category": c,
                    "category_zh": vocab.FACILITY_CATEGORIES.get(c, c),
                    "group": group,
                    "scope": scope,
                    "street_code": code,
                    "threshold_m": own,
                    **stats,
                }
            )
            parts.append(_worst_rows(u, walk, weight, pos, scope, code))
        worst[c] = pd.DataFrame({k: np.concatenate([part[k] for part in parts]) for k in parts[0]})
    notes = []
    if params.unreached == "cap":
        notes.append(
            f"搜索上限 {limit:.0f} 米内没有设施或距道路过远的单元，按 {limit:.0f} 米计入基尼系数和帕尔马比值"
            "（结果为下限）"
        )
    else:
        notes.append(f"搜索上限 {limit:.0f} 米内没有设施或距道路过远的单元，不计入基尼系数和帕尔马比值，单列人数")
    return FairnessResult(pd.DataFrame(rows), worst, thresholds, limit, params.unreached, notes)


def _worst_rows(u: pd.DataFrame, walk, weight, pos: np.ndarray, scope: str, code: str) -> dict[str, np.ndarray]:
    """The worst-served units of one scope (positions ``pos`` of ``u``) as columns."""
    sel = pos[worst_served(walk[pos], weight[pos])]
    w = weight[sel]
    total = weight[pos].sum()
    d = walk[sel]
    n = len(sel)
    none = np.full(n, None, dtype=object)
    return dict(
        {
            "scope": np.full(n, scope, dtype=object),
            "street_code": np.full(n, code, dtype=object),
            "rank": np.arange(1, len(sel) + 1),
            "unit_id": u["unit_id"].to_numpy()[sel],
            "name": u["name"].to_numpy()[sel] if "name" in u.columns else none,
            "unit_street_code": u["street_code"].to_numpy()[sel] if "street_code" in u.columns else none,
            "walk_m": np.where(np.isfinite(d), np.round(d, 1), np.nan),
            "reached": np.isfinite(d),
            "weight": np.round(w, 2),
            "cum_share": np.round(np.cumsum(w) / total, 6) if total > 0 else np.zeros(len(w)),
        }
    )


def scope_rows(table: pd.DataFrame, categories: Sequence[str] | None, street: str | None) -> pd.DataFrame:
    """Rows of ``table`` for the categories asked (None: all) and the city plus one street (None: every street)."""
    t = table
    if categories:
        t = t[t["category"].isin(list(categories))]
    if street is not None:
        t = t[(t["scope"] == "city") | (t["street_code"].astype(str) == str(street))]
    return t
