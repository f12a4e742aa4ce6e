"""Residents by age group per population unit: given in the unit's own columns, else derived from the census.

Groups (``population_units`` columns ``residents_<group>``): ``0_3``, ``3_6``, ``0_6`` (= 0_3 + 3_6), ``6_12``,
``60plus`` and ``80plus`` (part of 60plus).  A group given for a unit is used as it is (``source`` "given"); a
missing one is derived (``source`` "derived"), in this order of preference:

* ``0_6`` as the sum of its two parts when both are given (counted as given); with one part given, that part
  plus the census share of the other;
* ``0_3`` / ``3_6`` as ``0_6`` minus the other part when that is given, else ``0_6`` split by the census shares
  of the two bands;
* ``60plus`` from the census share (at least a given ``80plus``); ``80plus`` from ``60plus`` times the census
  share of 80+ among 60+;
* otherwise ``residents`` times the group's census share (norm ``age_groups.census_shares``,
  Sichuan 2020 census, secondary).

Derived values are expected counts (floats), not rounded.  :func:`check_age_groups` finds rows whose given groups
contradict each other or the residents; the import validation and the fairness commands refuse such data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._errors import InputError, RowProblem
from .norms import Norms

__all__ = [
    "GROUPS",
    "GROUP_ZH",
    "SOURCE_ZH",
    "AgeGroupError",
    "check_age_groups",
    "group_residents",
    "require_consistent_groups",
]

GROUPS = ("0_3", "3_6", "0_6", "6_12", "60plus", "80plus")
GROUP_ZH = {
    "all": "全体居民",
    "0_3": "0–3岁婴幼儿",
    "3_6": "3–6岁幼儿",
    "0_6": "0–6岁儿童",
    "6_12": "6–12岁儿童",
    "60plus": "60岁及以上老年人",
    "80plus": "80岁及以上高龄老人",
}
SOURCE_ZH = {"given": "单元填报", "derived": "按普查结构推算"}
# Groups that do not overlap: their sum may not exceed the residents.
_DISJOINT = ("0_6", "6_12", "60plus")


class AgeGroupError(InputError):
    """Population units whose age groups contradict each other or the residents (HTTP 422)."""


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64 (NaN where missing or absent)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _given(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {g: _col(frame, f"residents_{g}") for g in GROUPS}


def check_age_groups(frame: pd.DataFrame) -> list[RowProblem]:
    """Rows whose age groups cannot be true, one Chinese problem per broken rule.

    Parameters
    ----------
    frame : DataFrame
        Population units with ``residents`` and any of ``residents_0_3``, ``residents_3_6``, ``residents_0_6``,
        ``residents_6_12``, ``residents_60plus``, ``residents_80plus`` (persons; missing = not given).

    Returns
    -------
    list of RowProblem
        ``row`` is the 1-based position in ``frame`` (the import report turns it into the file's row number).
        Rules: a group above the residents; 0–3 + 3–6 ≠ 0–6 when all three are given; 0–3 or 3–6 above 0–6;
        80+ above 60+; 0–6 + 6–12 + 60+ (groups that do not overlap) above the residents; a negative count.
    """
    res = _col(frame, "residents")
    g = _given(frame)
    sid = frame["source_id"].astype(str).to_numpy() if "source_id" in frame.columns else np.full(len(frame), None)
    problems: list[RowProblem] = []

    def add(mask, column, en, zh_of):
        for i in np.flatnonzero(mask):
            problems.append(RowProblem(int(i) + 1, column, en, zh_of(i), sid[i]))

    with np.errstate(invalid="ignore"):
        for grp in GROUPS:
            v = g[grp]
            label = GROUP_ZH[grp]
            add(
                v < 0,
                f"residents_{grp}",
                f"residents_{grp} is negative",
                lambda i, v=v, lb=label: f"{lb}人数为负数（{v[i]:g}）",
            )
            add(
                v > res,
                f"residents_{grp}",
                f"residents_{grp} exceeds residents",
                lambda i, v=v, lb=label: f"{lb}人数（{v[i]:g}）超过常住人口（{res[i]:g}）",
            )
        a, b, ab = g["0_3"], g["3_6"], g["0_6"]
        add(
            np.isfinite(a) & np.isfinite(b) & np.isfinite(ab) & (np.abs(a + b - ab) > 0.5),
            "residents_0_6",
            "residents_0_3 + residents_3_6 differs from residents_0_6",
            lambda i: f"0–3岁（{a[i]:g}）与3–6岁（{b[i]:g}）之和为 {a[i] + b[i]:g}，与0–6岁人数（{ab[i]:g}）不符",
        )
        for part in ("0_3", "3_6"):
            p = g[part]
            add(
                np.isfinite(p) & np.isfinite(ab) & (p > ab) & ~(np.isfinite(a) & np.isfinite(b)),
                f"residents_{part}",
                f"residents_{part} exceeds residents_0_6",
                lambda i, p=p, lb=GROUP_ZH[part]: f"{lb}人数（{p[i]:g}）超过0–6岁人数（{ab[i]:g}）",
            )
        o60, o80 = g["60plus"], g["80plus"]
        add(
            o80 > o60,
            "residents_80plus",
            "residents_80plus exceeds residents_60plus",
            lambda i: f"80岁及以上人数（{o80[i]:g}）超过60岁及以上人数（{o60[i]:g}）",
        )
        young = np.where(np.isfinite(ab), ab, np.nan_to_num(a) + np.nan_to_num(b))
        parts = np.stack([young, np.nan_to_num(g["6_12"]), np.nan_to_num(o60)])
        total = parts.sum(axis=0)
        add(
            (total > res) & np.all(parts <= res, axis=0),
            "residents",
            "age groups 0-6, 6-12 and 60+ together exceed residents",
            lambda i: f"0–6岁、6–12岁与60岁及以上人数合计 {total[i]:g}，超过常住人口（{res[i]:g}）",
        )
    problems.sort(key=lambda p: p.row)
    return problems


def require_consistent_groups(frame: pd.DataFrame, layer_zh: str = "人口单元") -> None:
    """Raise :class:`AgeGroupError` (Chinese message listing the first rows) when :func:`check_age_groups` finds any."""
    problems = check_age_groups(frame)
    if not problems:
        return
    shown = "；".join(
        f"{f'单元 {p.source_id}' if p.source_id not in (None, 'None') else f'第 {p.row} 个'}：{p.problem_zh}"
        for p in problems[:5]
    )
    more = f"等，共 {len(problems)} 处" if len(problems) > 5 else ""
    raise AgeGroupError(
        f"{len(problems)} age-group problems in the population units",
        f"{layer_zh}的年龄分组数据有误，无法按人群分析：{shown}{more}。请更正后重新导入。",
        problems=[p.to_dict() for p in problems[:50]],
    )


def _shares(norms: Norms) -> Mapping[str, float]:
    shares = dict(norms.entry("age_groups.census_shares").value)  # type: ignore[attr-defined]
    missing = [g for g in GROUPS if g not in shares]
    if missing:
        raise InputError(
            f"census shares missing for age groups {missing}",
            f"规范 age_groups.census_shares 缺少年龄组：{'、'.join(missing)}",
        )
    return shares


def group_residents(units: pd.DataFrame, norms: Norms) -> pd.DataFrame:
    """Residents of every age group per unit, given or derived (see the module docstring).

    Parameters
    ----------
    units : DataFrame
        Population units: ``residents`` (persons) and any ``residents_<group>`` columns; checked with
        :func:`require_consistent_groups` first.
    norms : Norms
        ``age_groups.census_shares`` (fractions of residents).

    Returns
    -------
    DataFrame
        Same index as ``units``: ``residents_all`` (= residents) and per group ``residents_<group>`` (persons,
        float) and ``source_<group>`` (``"given"`` | ``"derived"``).
    """
    require_consistent_groups(units)
    shares = _shares(norms)
    res = np.nan_to_num(_col(units, "residents"))
    g = _given(units)
    out: dict[str, np.ndarray] = {"residents_all": res}
    src: dict[str, np.ndarray] = {}

    def put(name: str, given: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        have = np.isfinite(given)
        out[f"residents_{name}"] = np.where(have, given, fallback)
        src[f"source_{name}"] = np.where(have, "given", "derived").astype(object)
        return out[f"residents_{name}"]

    a, b, ab = g["0_3"], g["3_6"], g["0_6"]
    have_a, have_b = np.isfinite(a), np.isfinite(b)
    young_known = np.isfinite(ab) | (have_a & have_b)
    young_given = np.where(np.isfinite(ab), ab, a + b)
    # without 0-6: one given part plus the census share of the other
    young_fallback = np.where(
        have_a, a + res * shares["3_6"], np.where(have_b, b + res * shares["0_3"], res * shares["0_6"])
    )
    young = put("0_6", np.where(young_known, young_given, np.nan), young_fallback)
    split = shares["0_3"] / (shares["0_3"] + shares["3_6"])
    put("0_3", a, np.where(have_b, young - b, young * split))
    put("3_6", b, np.where(have_a, young - a, young * (1 - split)))
    put("6_12", g["6_12"], res * shares["6_12"])
    o80 = g["80plus"]
    old = put("60plus", g["60plus"], np.fmax(res * shares["60plus"], o80))
    put("80plus", o80, old * (shares["80plus"] / shares["60plus"]))
    frame = pd.DataFrame(out, index=units.index)
    for k, v in src.items():
        frame[k] = v
    return frame
