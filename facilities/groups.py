"""Coverage weighed by the group of residents each facility category serves (issue 17, item 2).

A nursery serves children of 0–3, a kindergarten children of 3–6, an elderly day-care centre residents of 60 and
over (norm ``age_groups.served_by``); any other category serves everyone.  The coverage analysis
(:mod:`facilities.coverage`) says per unit and category whether the nearest facility is within the threshold
(``<category>_covered``); here that flag is weighed by the unit's residents of the served group instead of all
residents (:func:`group_rates`, which the coverage run's city, street and community rates carry beside the
all-residents rate).  Each category also carries its tier of TD/T 1062-2021 (basic 基础保障型 or quality
品质提升型, norm ``age_groups.service_tiers``).

The residents per group come from :func:`geo_service.core.ages.group_residents` (given in the units, else derived
from the census shares ``age_groups.census_shares``), read by :func:`unit_groups`.  When a unit with residents has
no figure for a group — it gives none and census shares do not apply (``derive=False``, or the norms lack them),
or its age data contradict themselves — every rate over that group in a scope holding the unit is null, with the
reason in ``<category>_group_note``: never an all-residents figure in its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core._errors import InputError
from geo_service.core.ages import GROUP_ZH, GROUPS, AgeGroupError, group_residents
from geo_service.core.norms import Norms

__all__ = [
    "GROUP_SUFFIXES",
    "GROUP_ZH",
    "TIER_ZH",
    "GroupCoverage",
    "UnitGroups",
    "category_profile",
    "group_coverage",
    "group_rates",
    "group_table",
    "not_analysed_notes",
    "served_group",
    "served_groups",
    "tier_of",
    "unit_groups",
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


def served_groups(categories: Sequence[str], norms: Norms) -> dict[str, str]:
    """The group each of ``categories`` serves (``"all"`` for everyone), norm ``age_groups.served_by``."""
    return {c: served_group(c, norms) for c in categories}


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


# ----------------------------------------------------------------------------- residents per group and unit
@dataclass
class UnitGroups:
    """Residents per age group of each unit (row-aligned with the units).

    Attributes
    ----------
    frame : DataFrame
        ``residents_<group>`` (persons, float; NaN where neither given nor derivable) and ``source_<group>``
        (``"given"`` | ``"derived"``, None where unknown) for every group of :data:`geo_service.core.ages.GROUPS`.
    reason_zh : str or None
        Why some figures are unknown (Chinese), None when every unit has every group.
    """

    frame: pd.DataFrame
    reason_zh: str | None = None


def unit_groups(units: pd.DataFrame, norms: Norms, *, derive: bool = True) -> UnitGroups:
    """Residents per age group of each unit: given, else derived from the census shares (``derive``).

    Parameters
    ----------
    units : DataFrame
        Population units: ``residents`` (persons) and any ``residents_<group>`` columns.
    norms : Norms
        ``age_groups.census_shares`` (fractions of residents).
    derive : bool
        Derive missing groups from the census shares (default).  False: only the figures the units give count
        (a unit without residents has none of any group).

    Returns
    -------
    UnitGroups
        Never raises for bad age data: contradictory groups make every group unknown, with the reason.
    """
    if derive:
        try:
            return UnitGroups(group_residents(units, norms))
        except AgeGroupError as err:
            return UnitGroups(_given_only(units, keep=False), err.message_zh)
        except InputError as err:  # census shares missing from the norms
            frame = _given_only(units)
            return UnitGroups(frame, _unknown_reason(frame, f"单元未填报，且无法按普查结构推算（{err.message_zh}）"))
    frame = _given_only(units)
    return UnitGroups(frame, _unknown_reason(frame, "单元未填报该年龄组人数，且未按普查结构推算"))


def _given_only(units: pd.DataFrame, keep: bool = True) -> pd.DataFrame:
    """The groups the units give (``keep``; else none), 0 for units without residents, NaN elsewhere."""
    res = pd.to_numeric(units.get("residents", pd.Series(np.nan, index=units.index)), errors="coerce")
    res = res.to_numpy(dtype=float)
    out: dict[str, np.ndarray] = {"residents_all": np.nan_to_num(res)}
    for g in GROUPS:
        col = f"residents_{g}"
        given = (
            pd.to_numeric(units[col], errors="coerce").to_numpy(dtype=float)
            if keep and col in units.columns
            else np.full(len(units), np.nan)
        )
        if keep and g == "0_6":  # the sum of its two given parts
            a, b = (
                pd.to_numeric(
                    units.get(f"residents_{p}", pd.Series(np.nan, index=units.index)), errors="coerce"
                ).to_numpy(dtype=float)
                for p in ("0_3", "3_6")
            )
            given = np.where(np.isfinite(given), given, a + b)
        have = np.isfinite(given)
        empty = ~have & (np.nan_to_num(res) <= 0)
        out[col] = np.where(have, given, np.where(empty, 0.0, np.nan))
        out[f"source_{g}"] = np.where(have | empty, "given", None).astype(object)
    return pd.DataFrame(out, index=units.index)


def _unknown_reason(frame: pd.DataFrame, reason: str) -> str | None:
    """``reason`` when some unit lacks some group in ``frame``, else None."""
    cols = [f"residents_{g}" for g in GROUPS]
    return reason if frame[cols].isna().to_numpy().any() else None


# ----------------------------------------------------------------------------- rates over the served group
GROUP_SUFFIXES = ("_group_residents", "_group_uncovered", "_group_rate", "_group_derived_share", "_group_note")


def group_rates(
    units: pd.DataFrame,
    groups: UnitGroups,
    served: Mapping[str, str],
    by: str | None = None,
) -> pd.DataFrame:
    """Coverage of each category over the residents of the group it serves, city-wide or per ``by``.

    Parameters
    ----------
    units : DataFrame
        Per-unit coverage (:attr:`facilities.coverage.CoverageResult.units`): ``residents`` and
        ``<category>_covered`` (bool) for every category of ``served``, and the column ``by``.
    groups : UnitGroups
        Row-aligned with ``units``.
    served : mapping of str to str
        Category -> served group (``"all"``: every resident), :func:`served_groups`.
    by : str, optional
        Column of ``units`` to group by (``street_code``, ``community_code``); None: one city-wide row.

    Returns
    -------
    DataFrame
        Indexed like :meth:`facilities.coverage.CoverageResult.rates` (``[0]``, or the values of ``by``); per
        category ``<c>_group_residents`` (persons), ``<c>_group_uncovered`` (persons of the group not covered),
        ``<c>_group_rate`` (fraction), ``<c>_group_derived_share`` (fraction derived from the census shares) and
        ``<c>_group_note`` (Chinese; why the rate is null).  Residents, uncovered and rate are NaN where a unit with
        residents lacks the group's figure (the note says so), the rate also where the scope has none of the group.
    """
    res = pd.to_numeric(units["residents"], errors="coerce").fillna(0).to_numpy(dtype=float)
    cols: dict[str, np.ndarray] = {}
    for c, g in served.items():
        if g == "all":
            w, derived = res, np.zeros(len(res), dtype=bool)
        else:
            w = groups.frame[f"residents_{g}"].to_numpy(dtype=float)
            src = f"source_{g}"
            derived = (
                groups.frame[src].to_numpy() == "derived" if src in groups.frame.columns else np.zeros(len(w), bool)
            )
        unknown = ~np.isfinite(w) & (res > 0)
        w0 = np.where(np.isfinite(w), w, 0.0)
        cov = units[f"{c}_covered"].fillna(False).to_numpy(dtype=bool)
        cols[f"{c}|w"], cols[f"{c}|cw"], cols[f"{c}|dw"] = w0, w0 * cov, w0 * derived
        cols[f"{c}|u"] = unknown.astype(np.int64)
    frame = pd.DataFrame(cols, index=units.index)
    sums = frame.sum().to_frame().T if by is None else frame.groupby(units[by].fillna("").to_numpy()).sum()
    out: dict[str, object] = {}
    for c, g in served.items():
        w, cw, dw, u = (sums[f"{c}|{k}"].to_numpy(dtype=float) for k in ("w", "cw", "dw", "u"))
        known = u == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(known & (w > 0), cw / np.where(w > 0, w, 1.0), np.nan)
            derived_share = np.where(known & (w > 0), dw / np.where(w > 0, w, 1.0), np.nan)
        out[f"{c}_group_residents"] = np.where(known, np.round(w, 1), np.nan)
        out[f"{c}_group_uncovered"] = np.where(known, np.round(w - cw, 1), np.nan)
        out[f"{c}_group_rate"] = rate
        out[f"{c}_group_derived_share"] = derived_share
        zh = GROUP_ZH[g]
        out[f"{c}_group_note"] = np.array(
            [
                f"{int(k)} 个单元缺少{zh}人数（{groups.reason_zh or '未填报'}），无法计算服务对象覆盖率"
                if not ok
                else (None if n > 0 else f"范围内没有{zh}，覆盖率为空")
                for k, ok, n in zip(u, known, w)
            ],
            dtype=object,
        )
    return pd.DataFrame(out, index=sums.index)


def category_group_figures(row: Mapping, category: str) -> dict:
    """The group figures of one category from a row of :func:`group_rates` (JSON values: None for NaN)."""

    def val(key):
        v = row.get(f"{category}{key}")
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else v

    residents, uncovered = val("_group_residents"), val("_group_uncovered")
    return {
        "group_residents": None if residents is None else float(residents),
        "group_covered_residents": None if residents is None else round(float(residents) - float(uncovered), 1),
        "group_uncovered_residents": None if uncovered is None else float(uncovered),
        "group_rate": None if val("_group_rate") is None else float(val("_group_rate")),
        "group_derived_share": None if val("_group_derived_share") is None else float(val("_group_derived_share")),
        "group_note_zh": val("_group_note"),
    }


# ----------------------------------------------------------------------------- the long table of /groups/coverage
@dataclass
class GroupCoverage:
    """Group-weighted coverage: one row per (scope, category).

    Attributes
    ----------
    table : DataFrame
        ``scope`` (``city`` | ``street``), ``street_code`` (``全市`` for the city row), ``category``,
        ``category_zh``, ``group``, ``group_zh``, ``tier``, ``tier_zh``, ``group_residents`` (persons, NaN when
        unknown), ``covered_group_residents``, ``uncovered_group_residents``, ``group_rate`` (fraction, NaN without
        residents of the group or when unknown), ``all_rate`` (coverage of all residents, for comparison),
        ``derived_share`` (fraction of the group's residents derived from the census shares rather than given),
        ``note_zh`` (why the rate is null).
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
    groups: pd.DataFrame | UnitGroups,
    norms: Norms,
    categories: Sequence[str] | None = None,
) -> GroupCoverage:
    """Coverage per category weighed by the residents of the group it serves, per street and city-wide.

    Parameters
    ----------
    units : DataFrame
        Per-unit coverage results (:attr:`facilities.coverage.CoverageResult.units` or the stored ``units``
        output of a coverage run): ``residents``, ``street_code`` and ``<category>_covered`` (bool).
    groups : DataFrame or UnitGroups
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
    if len(units) != len(groups.frame if isinstance(groups, UnitGroups) else groups):
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
    ug = groups if isinstance(groups, UnitGroups) else UnitGroups(groups.reset_index(drop=True))
    u = units.reset_index(drop=True)
    ug = UnitGroups(ug.frame.reset_index(drop=True), ug.reason_zh)
    served = served_groups(categories, norms)
    all_rates = _all_rates(u, categories)
    city = group_rates(u, ug, served).join(all_rates(None))
    streets = None
    if "street_code" in u.columns:
        streets = group_rates(u, ug, served, "street_code").join(all_rates("street_code"))
        streets.index.name = "street_code"
        streets = streets.reset_index()
    return GroupCoverage(
        group_table(city.iloc[0], streets, categories, norms),
        [category_profile(c, norms) for c in categories],
        not_analysed_notes(categories, norms),
    )


def _all_rates(u: pd.DataFrame, categories: Sequence[str]):
    """A function of ``by`` giving ``<c>_rate``: the coverage of all residents, indexed like :func:`group_rates`."""
    res = pd.to_numeric(u["residents"], errors="coerce").fillna(0).to_numpy(dtype=float)
    frame = pd.DataFrame({c: res * u[f"{c}_covered"].fillna(False).to_numpy(dtype=bool) for c in categories})
    frame["_res"] = res

    def rates(by):
        s = frame.sum().to_frame().T if by is None else frame.groupby(u[by].fillna("").to_numpy()).sum()
        d = s["_res"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.DataFrame(
                {f"{c}_rate": np.where(d > 0, s[c].to_numpy() / np.where(d > 0, d, 1), np.nan) for c in categories},
                index=s.index,
            )

    return rates


def not_analysed_notes(categories: Sequence[str], norms: Norms) -> list[str]:
    """A Chinese note naming the categories that serve a group but were not analysed."""
    served = dict(norms.entry("age_groups.served_by").value)  # type: ignore[attr-defined]
    not_run = [c for c in served if c not in categories]
    if not not_run:
        return []
    return [
        "覆盖分析未包含以下服务特定人群的设施类别（规范中没有步行距离标准或未纳入分析）："
        + "、".join(vocab.FACILITY_CATEGORIES.get(c, c) for c in not_run)
    ]


def group_table(city: Mapping, streets: pd.DataFrame | None, categories: Sequence[str], norms: Norms) -> pd.DataFrame:
    """The long table (one row per scope and category) from wide rates: a city row and the street rows.

    Parameters
    ----------
    city : mapping
        The city-wide rates: ``<c>_rate`` and the :func:`group_rates` columns of every category.
    streets : DataFrame, optional
        The same per street, with ``street_code``.
    categories : sequence of str
    norms : Norms

    Returns
    -------
    DataFrame
        The columns of :attr:`GroupCoverage.table`.
    """
    rows = []
    scopes = [("city", CITY, city)]
    if streets is not None:
        scopes += [("street", str(r["street_code"]), r) for _, r in streets.iterrows()]
    for c in categories:
        prof = category_profile(c, norms)
        for scope, code, r in scopes:
            fig = category_group_figures(r, c)
            all_rate = r.get(f"{c}_rate")
            rows.append(
                {
                    "scope": scope,
                    "street_code": code,
                    **{k: prof[k] for k in ("category", "category_zh", "group", "group_zh", "tier", "tier_zh")},
                    "group_residents": _nan(fig["group_residents"]),
                    "covered_group_residents": _nan(fig["group_covered_residents"]),
                    "uncovered_group_residents": _nan(fig["group_uncovered_residents"]),
                    "group_rate": _nan(fig["group_rate"]),
                    "all_rate": _nan(None if all_rate is None else float(all_rate)),
                    "derived_share": _nan(fig["group_derived_share"]),
                    "note_zh": fig["group_note_zh"],
                }
            )
    return pd.DataFrame(rows, columns=_TABLE_COLUMNS)


_TABLE_COLUMNS = [
    "scope",
    "street_code",
    "category",
    "category_zh",
    "group",
    "group_zh",
    "tier",
    "tier_zh",
    "group_residents",
    "covered_group_residents",
    "uncovered_group_residents",
    "group_rate",
    "all_rate",
    "derived_share",
    "note_zh",
]


def _nan(v) -> float:
    return np.nan if v is None else float(v)
