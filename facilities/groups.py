"""Coverage weighed by the group of residents each facility category serves (issue 17, item 2).

A nursery serves children of 0–3, a kindergarten children of 3–6, an elderly day-care centre residents of 60 and
over (norm ``age_groups.served_by``); any other category serves everyone.  The coverage analysis
(:mod:`facilities.coverage`) says per unit and category whether the nearest facility is within the threshold
(``<category>_covered``); here that flag is weighed by the unit's residents of the served group instead of all
residents, per street and city-wide.  Each category also carries its tier of TD/T 1062-2021 (basic 基础保障型 or
quality 品质提升型, norm ``age_groups.service_tiers``).

The residents per group come from :func:`population.ages.group_residents` (given or derived from the census
shares); this module takes them as columns ``residents_<group>`` of a frame aligned with the coverage units, so
the domain packages stay independent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.ages import GROUP_ZH
from geo_service.core.norms import Norms

__all__ = [
    "GROUP_ZH",
    "TIER_ZH",
    "GroupCoverage",
    "category_profile",
    "group_coverage",
    "served_group",
    "tier_of",
]

TIER_ZH = {"basic": "基础保障型", "quality": "品质提升型", None: "未分级"}
CITY = "全市"


def served_group(category: str, norms: Norms) -> str:
    """The age group a category serves (``"all"`` when the norms list none), norm ``age_groups.served_by``."""
    return dict(norms.entry("age_groups.served_by").value).get(category, "all")  # type: ignore[attr-defined]


def tier_of(category: str, norms: Norms) -> str | None:
    """``"basic"``, ``"quality"`` or None: the TD/T 1062-2021 tier of a category (norm ``age_groups.service_tiers``)."""
    tiers = norms.entry("age_groups.service_tiers")
    if category in tiers.basic:  # type: ignore[attr-defined]
        return "basic"
    if category in tiers.quality:  # type: ignore[attr-defined]
        return "quality"
    return None


def category_profile(category: str, norms: Norms) -> dict:
    """Who a category serves and its tier, with the norms' sources and statuses (for outputs)."""
    group, tier = served_group(category, norms), tier_of(category, norms)
    s_src, s_status = norms.source_of("age_groups.served_by")
    t_src, t_status = norms.source_of("age_groups.service_tiers")
    return {
        "category": category,
        "category_zh": vocab.FACILITY_CATEGORIES.get(category, category),
        "group": group,
        "group_zh": GROUP_ZH[group],
        "tier": tier,
        "tier_zh": TIER_ZH[tier],
        "group_norm_source": s_src,
        "group_norm_status": s_status,
        "tier_norm_source": t_src,
        "tier_norm_status": t_status,
    }


@dataclass
class GroupCoverage:
    """Group-weighted coverage: one row per (scope, category).

    Attributes
    ----------
    table : DataFrame
        ``scope`` (``city`` | ``street``), ``street_code`` (``全市`` for the city row), ``category``,
        ``category_zh``, ``group``, ``group_zh``, ``tier``, ``tier_zh``, ``group_residents`` (persons),
        ``covered_group_residents``, ``group_rate`` (fraction, NaN without residents of the group),
        ``all_rate`` (coverage of all residents, for comparison), ``derived_share`` (fraction of the group's
        residents derived from the census shares rather than given).
    categories : list of dict
        :func:`category_profile` of each analysed category.
    notes : list of str
        Chinese notes (served categories the coverage run did not analyse).
    """

    table: pd.DataFrame
    categories: list[dict]
    notes: list[str] = field(default_factory=list)


def group_coverage(
    units: pd.DataFrame,
    groups: pd.DataFrame,
    norms: Norms,
    categories: Sequence[str] | None = None,
) -> GroupCoverage:
    """Coverage per category weighed by the residents of the group it serves, per street and city-wide.

    Parameters
    ----------
    units : DataFrame
        Per-unit coverage results (:attr:`facilities.coverage.CoverageResult.units` or the stored ``units``
        output of a coverage run): ``residents``, ``street_code`` and ``<category>_covered`` (bool).
    groups : DataFrame
        Row-aligned with ``units``: ``residents_<group>`` (persons) for every group used, and optionally
        ``source_<group>`` (``"given"`` | ``"derived"``).
    norms : Norms
        ``age_groups.served_by`` and ``age_groups.service_tiers``.
    categories : sequence of str, optional
        Default: every category with a ``<category>_covered`` column.

    Returns
    -------
    GroupCoverage
    """
    if len(units) != len(groups):
        raise InputError("groups must be aligned with the units", "人群数据与人口单元行数不一致")
    if categories is None:
        categories = [c[: -len("_covered")] for c in units.columns if c.endswith("_covered") and "straight" not in c]
        categories = [c for c in categories if c in vocab.FACILITY_CATEGORIES]
    missing = [c for c in categories if f"{c}_covered" not in units.columns]
    if missing:
        raise InputError(
            f"coverage has no results for {missing}",
            f"覆盖分析中没有这些类别的结果：{'、'.join(vocab.FACILITY_CATEGORIES.get(c, c) for c in missing)}",
        )
    streets = units["street_code"].fillna("").astype(str).to_numpy() if "street_code" in units.columns else None
    all_res = pd.to_numeric(units["residents"], errors="coerce").fillna(0).to_numpy(dtype=float)
    rows = []
    for c in categories:
        prof = category_profile(c, norms)
        g = prof["group"]
        w = all_res if g == "all" else groups[f"residents_{g}"].to_numpy(dtype=float)
        derived = (
            np.zeros(len(w), dtype=bool)
            if g == "all" or f"source_{g}" not in groups.columns
            else (groups[f"source_{g}"].to_numpy() == "derived")
        )
        cov = units[f"{c}_covered"].fillna(False).to_numpy(dtype=bool)
        frame = pd.DataFrame(
            {"w": w, "cw": w * cov, "dw": w * derived, "a": all_res, "ca": all_res * cov},
        )
        scopes = [("city", CITY, frame.sum())]
        if streets is not None:
            scopes += [("street", s, part) for s, part in frame.groupby(streets).sum().iterrows()]
        for scope, code, t in scopes:
            rows.append(_row(prof, scope, code, t))
    table = pd.DataFrame(rows)
    notes = []
    served = dict(norms.entry("age_groups.served_by").value)  # type: ignore[attr-defined]
    not_run = [c for c in served if c not in categories]
    if not_run:
        notes.append(
            "覆盖分析未包含以下服务特定人群的设施类别（规范中没有步行距离标准或未纳入分析）："
            + "、".join(vocab.FACILITY_CATEGORIES.get(c, c) for c in not_run)
        )
    return GroupCoverage(table, [category_profile(c, norms) for c in categories], notes)


def _row(prof: dict, scope: str, code: str, t: pd.Series) -> dict:
    """One (scope, category) row from the weighted sums ``w`` (group), ``cw`` (covered), ``dw`` (derived)."""

    def share(num, den):
        return float(num / den) if den > 0 else np.nan

    return {
        "scope": scope,
        "street_code": code,
        **{k: prof[k] for k in ("category", "category_zh", "group", "group_zh", "tier", "tier_zh")},
        "group_residents": round(float(t["w"]), 1),
        "covered_group_residents": round(float(t["cw"]), 1),
        "group_rate": share(t["cw"], t["w"]),
        "all_rate": share(t["ca"], t["a"]),
        "derived_share": share(t["dw"], t["w"]),
    }
