"""Grid-cell (网格) totals without grid outlines: summed into the communities their codes lie in.

Counties often keep residents per grid cell as a table only: the cells were drawn on paper, or the grid layer is
kept by another office. Such totals cannot be placed themselves, but a grid code such as ``510603001001-01`` or the
15-digit ``510603001001003`` names its community (:func:`geo_service.core.importer.parent_of_code`), and the sum
of a community's cells is a community total. Where the community has its own total, that one is kept and the
difference is reported; cells whose code names no stored community are refused by name, as any total that matches
nothing.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from geo_service.core._errors import InputError
from geo_service.core.importer import parent_of_code

from .params import LEVELS, TotalRow, UnitsParams

__all__ = ["fold_grid_totals"]

FOLDED_SOURCE = "网格统计数汇总"


def fold_grid_totals(params: UnitsParams, areas: pd.DataFrame) -> tuple[UnitsParams, list[dict]]:
    """``params`` with its grid totals summed into community totals when ``areas`` hold no grid cell.

    Parameters
    ----------
    params : UnitsParams
        The totals (persons and households) at their levels.
    areas : DataFrame
        The statistical areas: ``level`` (already normalised: district, street, community, grid), ``code``, ``name``.

    Returns
    -------
    (UnitsParams, list of dict)
        The totals to use (unchanged when there are grid outlines or no grid totals), and the assumptions made
        (``what``, ``count``, ``text_zh``) for the run's summary.

    Raises
    ------
    InputError
        Grid totals without outlines whose codes name no stored community (named, at most 30).
    """
    grid = [r for r in params.totals if r.level == "grid"]
    if not grid or (areas["level"] == "grid").any():
        return params, []
    communities = areas.loc[areas["level"] == "community"]
    known = {str(c) for c in communities["code"] if c}
    parent = {i: parent_of_code(r.code) if r.code else None for i, r in enumerate(grid)}
    orphans = [r.label for i, r in enumerate(grid) if parent[i] not in known]
    if orphans:
        raise InputError(
            f"{len(orphans)} grid total(s): no grid outlines, and their codes name no stored community",
            f"行政区划中没有网格边界，且 {len(orphans)} 条网格统计数的代码对应不到已有社区"
            f"（网格代码应以所属社区的 12 位代码开头），未写入任何数据：" + "、".join(orphans[:30]),
        )
    sums = _sum_by_community(grid, parent)
    own = _community_totals_by_code(params.totals, communities)
    folded, notes = [], []
    for code, (residents, households) in sums.items():
        if code in own:
            if own[code].residents != residents:
                notes.append(f"「{own[code].label}」{own[code].residents:,} 人（网格合计 {residents:,} 人）")
            continue
        folded.append(TotalRow("community", code, None, residents, households, FOLDED_SOURCE))
    totals = tuple(r for r in params.totals if r.level != "grid") + tuple(folded)
    totals = tuple(sorted(totals, key=lambda r: LEVELS[r.level]))
    text = (
        f"没有网格边界：{len(grid)} 条网格统计数按代码汇总到所属的 {len(sums)} 个社区"
        + (f"，其中 {len(folded)} 个社区以网格合计作为社区统计数" if folded else "")
        + ("；社区已有统计数的以社区数为准，与网格合计不一致的：" + "、".join(notes[:20]) if notes else "")
    )
    assumption = {"what": "grid_totals_folded", "count": len(grid), "text_zh": text}
    return dataclasses.replace(params, totals=totals), [assumption]


def _sum_by_community(grid: list[TotalRow], parent: dict[int, str | None]) -> dict[str, tuple[int, int | None]]:
    """Per community code: residents and households (None when a cell has none) of its cells."""
    out: dict[str, tuple[int, int | None]] = {}
    for i, r in enumerate(grid):
        code = str(parent[i])
        res, hh = out.get(code, (0, 0))
        hh = None if hh is None or r.households is None else hh + r.households
        out[code] = (res + r.residents, hh)
    return out


def _community_totals_by_code(totals, communities: pd.DataFrame) -> dict[str, TotalRow]:
    """The community totals given, by the code of the stored community they name (code first, then name)."""
    by_name = {str(n): str(c) for c, n in zip(communities["code"], communities["name"]) if c and n}
    known = {str(c) for c in communities["code"] if c}
    out: dict[str, TotalRow] = {}
    for r in totals:
        if r.level != "community":
            continue
        code = r.code if r.code in known else by_name.get(str(r.name)) if r.name else None
        if code is not None:
            out[code] = r
    return out
