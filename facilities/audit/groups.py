"""Groups of residents in the audit (issue 17): the presence checks weighed by the group each category serves.

Which checks are per group
    * **Required categories** (``required_facilities.<level>``, 5-minute level by default): a nursery serves the
      residents of 0–3, a kindergarten those of 3–6, an elderly day-care centre those of 60 and over (norm
      ``age_groups.served_by``).  Per community and required category serving a group, the audit gives the
      group's residents (``<c>_group_residents``) and the **shortfall**: the group's residents of a community that
      lacks the category (``<c>_group_shortfall``, 0 where it has one), with the streets' and the county's sums.
    * Not per group: the comprehensive service floor area (per 100 households), the per-facility minimum floor
      areas, the fixed office and the shelters (all residents).  No norm gives places per group (childcare places
      per 1,000 children of 0–3, elderly-care places per 100 residents of 60+): ``/work/shared/NORMS.md`` has no
      such figure, so the audit checks none and ``norms.toml`` holds none.

Residents per group come from :func:`facilities.groups.unit_groups` (given in the units, else derived from the
census shares ``age_groups.census_shares``), summed over the units whose representative point lies in the
community.  A community holding a unit with residents but without the group's figure gets NaN (unknown, never
zero) and ``group_note_zh`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core.ages import GROUP_ZH
from geo_service.core.vocab import FACILITY_CATEGORIES

from ..groups import UnitGroups, served_group
from ._common import AuditContext, _containing, _num, _points
from .space import CommunitySpace


@dataclass(frozen=True)
class GroupShortfall:
    """The per-group figures of the presence checks.

    Attributes
    ----------
    columns : dict of str to ndarray
        Per community (input order): ``<c>_group_residents`` and ``<c>_group_shortfall`` (persons, NaN where
        unknown) for every required category ``c`` serving a group, ``group_shortfall_zh`` (the missing categories
        with their group's residents) and ``group_note_zh`` (why a figure is unknown).
    served : dict of str to str
        Required category -> the group it serves (only categories serving a group).
    totals : list of dict
        Per such category, county-wide: ``category``, ``category_zh``, ``group``, ``group_zh``,
        ``group_residents``, ``shortfall_residents`` (persons, None when unknown), ``communities_missing``.
    """

    columns: dict[str, np.ndarray]
    served: dict[str, str]
    totals: list[dict] = field(default_factory=list)


def group_shortfall(
    ctx: AuditContext, units: gpd.GeoDataFrame, groups: UnitGroups, space: CommunitySpace
) -> GroupShortfall:
    """Residents of the served group per community and required category, and those of communities lacking it.

    Parameters
    ----------
    ctx : AuditContext
    units : GeoDataFrame, EPSG:4326
        Population units with ``residents`` (persons).
    groups : UnitGroups
        Residents per age group, row-aligned with ``units``.
    space : CommunitySpace
        The space topic (its required categories and the ones each community lacks).

    Returns
    -------
    GroupShortfall
    """
    n_cm = ctx.n_cm
    req = [c for c in space.category_counts.columns if c not in ("community_code", "name")]
    served = {c: served_group(c, ctx.norms) for c in req}
    served = {c: g for c, g in served.items() if g != "all"}
    if served:
        ctx.record(
            "age_groups.served_by",
            "应配设施的服务对象（按人群计缺口）",
            "、".join(f"{FACILITY_CATEGORIES.get(c, c)}：{GROUP_ZH[g]}" for c, g in served.items()),
            "",
        )
    n_u = len(units)
    unit_cm = _containing(_points(units), ctx.cm_geom) if n_u else np.zeros(0, np.int64)
    inside = unit_cm >= 0
    res = np.nan_to_num(_num(units, "residents"))
    missing = np.array([[c in m for c in served] for m in space.missing], dtype=bool).reshape(n_cm, len(served))
    cols: dict[str, np.ndarray] = {}
    notes = [[] for _ in range(n_cm)]
    totals = []
    for j, (c, g) in enumerate(served.items()):
        w = groups.frame[f"residents_{g}"].to_numpy(dtype=float) if n_u else np.zeros(0)
        unknown = ~np.isfinite(w) & (res > 0) & inside
        per_cm = np.bincount(unit_cm[inside], weights=np.nan_to_num(w[inside]), minlength=n_cm)
        unknown_n = np.bincount(unit_cm[unknown], minlength=n_cm)
        per_cm = np.where(unknown_n > 0, np.nan, np.round(per_cm, 1))
        shortfall = np.where(missing[:, j], per_cm, 0.0)
        cols[f"{c}_group_residents"] = per_cm
        cols[f"{c}_group_shortfall"] = shortfall
        for i in np.flatnonzero(unknown_n):
            notes[i].append(f"{unknown_n[i]} 个单元缺少{GROUP_ZH[g]}人数")
        totals.append(
            {
                "category": c,
                "category_zh": FACILITY_CATEGORIES.get(c, c),
                "group": g,
                "group_zh": GROUP_ZH[g],
                "group_residents": None if np.isnan(per_cm).any() else round(float(per_cm.sum()), 1),
                "shortfall_residents": None if np.isnan(shortfall).any() else round(float(shortfall.sum()), 1),
                "communities_missing": int(missing[:, j].sum()),
            }
        )
    cols["group_shortfall_zh"] = np.array(
        [
            "、".join(
                f"{FACILITY_CATEGORIES.get(c, c)}（{GROUP_ZH[g]} {_persons(cols[f'{c}_group_shortfall'][i])}）"
                for j, (c, g) in enumerate(served.items())
                if missing[i, j]
            )
            or None
            for i in range(n_cm)
        ],
        dtype=object,
    )
    reason = f"：{groups.reason_zh}" if groups.reason_zh else ""
    cols["group_note_zh"] = np.array(["；".join(n) + reason if n else None for n in notes], dtype=object)
    return GroupShortfall(cols, served, totals)


def _persons(v: float) -> str:
    return "人数未知" if np.isnan(v) else f"{v:,.0f} 人"


def with_group_columns(comm: gpd.GeoDataFrame, ctx: AuditContext, gs: GroupShortfall) -> gpd.GeoDataFrame:
    """The (ranked) community table with the columns of ``gs``, matched by community code."""
    pos = pd.Index(ctx.cm_code).get_indexer(comm["community_code"].astype(str))
    for k, v in gs.columns.items():
        comm[k] = v[pos]
    return comm


def street_group_sums(comm: pd.DataFrame, streets: pd.DataFrame) -> pd.DataFrame:
    """Per street the sums of the communities' ``*_group_residents`` / ``*_group_shortfall`` (NaN if any unknown)."""
    cols = [c for c in comm.columns if c.endswith(("_group_residents", "_group_shortfall"))]
    if not cols:
        return streets
    key = comm["street_code"].fillna("（未知街道）").to_numpy()
    sums = pd.DataFrame(comm[cols].to_numpy(dtype=float), columns=cols).groupby(key).sum(min_count=0)
    unknown = pd.DataFrame(np.isnan(comm[cols].to_numpy(dtype=float)), columns=cols).groupby(key).any()
    sums = sums.mask(unknown).round(1)
    out = streets.copy()
    for c in cols:
        out[c] = out["street_code"].map(sums[c]).to_numpy(dtype=float)
    return out
