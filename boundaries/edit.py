"""Plans as unit assignments, hand edits (move, merge, split) with validation, and diffs.

A :class:`PlanState` is the explicit assignment of every unit to a community
(``labels``: index into ``communities``, -1 = none) plus the community table
(``code``, ``name``, ``street_code``, optional ``community_workers`` and
``has_fixed_office``).  Edits return a new state and the indices of the
communities they touched, so only those are re-evaluated
(:func:`boundaries.evaluate.community_figures`).  Every edit keeps each
touched community non-empty, contiguous in the unit graph and nested in one
street, or is refused with :class:`geo_service.core._errors.InputError` (HTTP 422)
and a Chinese message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csgraph

from geo_service.core._errors import InputError

from .adjacency import UnitSet

__all__ = [
    "EDIT_ACTIONS",
    "PlanState",
    "apply_edit",
    "diff_states",
    "changed_units",
    "check_locks",
    "is_connected",
    "labels_from_polygons",
    "units_split_by_line",
]

EDIT_ACTIONS = ("move", "merge", "split", "rename")
COMM_COLUMNS = ["code", "name", "street_code", "community_workers", "has_fixed_office"]


@dataclass
class PlanState:
    """Unit -> community assignment of one plan version."""

    labels: np.ndarray
    communities: pd.DataFrame

    def copy(self) -> PlanState:
        return PlanState(self.labels.copy(), self.communities.copy())

    def index_of(self, code: str) -> int:
        hit = np.flatnonzero(self.communities["code"].astype(str).to_numpy() == str(code))
        if hit.size == 0:
            raise InputError(f"the plan has no community {code!r}", f"方案中没有代码为 {code!r} 的社区", code=str(code))
        return int(hit[0])

    def codes_of_units(self) -> np.ndarray:
        codes = self.communities["code"].astype(str).to_numpy(dtype=object)
        if codes.size == 0:  # no communities: no unit has one
            return np.full(self.labels.shape, None, dtype=object)
        return np.where(self.labels >= 0, codes[np.maximum(self.labels, 0)], None)

    def to_json(self, us: UnitSet) -> dict:
        """The assignment as JSON: communities and ``units`` {unit source_id: community code}."""
        comm = self.communities.reindex(columns=COMM_COLUMNS)
        comm = comm.astype(object).where(comm.notna(), None)
        codes = self.codes_of_units()
        sids = us.units["source_id"].astype(str).to_numpy()
        return {
            "communities": comm.to_dict(orient="records"),
            "units": {s: c for s, c in zip(sids.tolist(), codes.tolist()) if c is not None},
        }

    @classmethod
    def from_json(cls, us: UnitSet, doc: dict) -> PlanState:
        comm = pd.DataFrame(doc.get("communities") or [], columns=COMM_COLUMNS)
        code_idx = {str(c): k for k, c in enumerate(comm["code"].astype(str))}
        units = doc.get("units") or {}
        sids = us.units["source_id"].astype(str).tolist()
        labels = np.array([code_idx.get(str(units.get(s)), -1) if s in units else -1 for s in sids], dtype=np.int64)
        return cls(labels, comm)


def labels_from_polygons(us: UnitSet, polygons_m: np.ndarray) -> np.ndarray:
    """Community index of every unit: the polygon holding the unit's representative point (-1: none).

    ``polygons_m`` in the metric CRS of ``us``.
    """
    labels = np.full(us.n, -1, np.int64)
    polys = np.asarray(polygons_m, dtype=object)
    if polys.size == 0:
        return labels
    rp = shapely.point_on_surface(us.geom_m)
    qi, ci = shapely.STRtree(polys).query(rp, predicate="intersects")
    order = np.lexsort((ci, qi))
    qi, ci = qi[order], ci[order]
    first = np.concatenate([[True], qi[1:] != qi[:-1]]) if qi.size else np.zeros(0, bool)
    labels[qi[first]] = ci[first]
    return labels


def is_connected(us: UnitSet, members: np.ndarray) -> bool:
    """Are the units ``members`` one connected piece of the unit graph?"""
    members = np.asarray(members, dtype=np.int64)
    if members.size <= 1:
        return True
    sub = us.graph.csr()[members][:, members]
    n, _ = csgraph.connected_components(sub, directed=False)
    return n == 1


def _unit_indices(us: UnitSet, unit_ids) -> np.ndarray:
    if not unit_ids:
        raise InputError("no units given", "未指定人口单元")
    ids = us.units["id"].to_numpy() if "id" in us.units else np.arange(us.n)
    pos = pd.Index(ids).get_indexer(list(unit_ids))
    if (pos < 0).any():
        bad = [u for u, p in zip(unit_ids, pos) if p < 0][:10]
        raise InputError(f"unknown population unit ids: {bad}", f"人口单元编号不存在：{bad}", units=bad)
    return np.unique(pos.astype(np.int64))


def _check(us: UnitSet, state: PlanState, touched: list[int]) -> None:
    """Every touched community: non-empty, contiguous, nested in its street."""
    codes = state.communities["code"].astype(str).to_numpy()
    streets = state.communities["street_code"].astype(str).to_numpy()
    st_codes = us.streets["code"].to_numpy(dtype=object)
    for c in touched:  # a handful of communities per edit
        members = np.flatnonzero(state.labels == c)
        if members.size == 0:
            raise InputError(
                f"community {codes[c]} would have no units left; merge it instead",
                f"社区 {codes[c]} 将不再包含任何人口单元，请改用合并操作",
                code=codes[c],
            )
        unit_streets = set(st_codes[us.street[members]].tolist())
        if unit_streets != {streets[c]}:
            raise InputError(
                f"community {codes[c]} would not nest in street {streets[c]}",
                f"社区 {codes[c]} 将跨越街道边界（应全部位于街道 {streets[c]} 内）",
                code=codes[c],
            )
        if not is_connected(us, members):
            raise InputError(
                f"community {codes[c]} would not be contiguous",
                f"社区 {codes[c]} 调整后不连续（由互不相邻的几片组成），操作未执行",
                code=codes[c],
            )


def apply_edit(us: UnitSet, state: PlanState, edit: dict) -> tuple[PlanState, list[int], list[str]]:
    """Apply one edit; return the new state, the touched community indices (in the new state)
    and the codes of communities removed.

    Edits (``edit["action"]``):

    * ``move``: ``units`` (unit ids) to community ``to``;
    * ``merge``: community ``from`` into community ``into`` (must be adjacent, same street);
    * ``split``: ``units`` of community ``code`` become a new community (``new_code``, ``new_name`` optional);
    * ``rename``: community ``code`` gets ``name``.

    ``edit["locked"]`` (optional): codes of locked communities; an edit that would change one is refused.
    """
    action = edit.get("action")
    new = state.copy()
    comm = new.communities
    removed: list[str] = []
    if action == "move":
        to = new.index_of(edit.get("to"))
        idx = _unit_indices(us, edit.get("units"))
        src = sorted(set(new.labels[idx].tolist()) - {-1, to})
        new.labels[idx] = to
        touched = [to] + src
        _check(us, new, touched)
    elif action == "merge":
        a, b = new.index_of(edit.get("into")), new.index_of(edit.get("from"))
        if a == b:
            raise InputError("cannot merge a community into itself", "不能将社区与自身合并")
        new.labels[new.labels == b] = a
        _check(us, new, [a])
        removed.append(str(comm.iloc[b]["code"]))
        new.labels[new.labels > b] -= 1
        new.communities = comm.drop(index=comm.index[b]).reset_index(drop=True)
        if (
            "community_workers" in new.communities
            and pd.notna(comm.iloc[b].get("community_workers"))
            and pd.notna(comm.iloc[a].get("community_workers"))
        ):
            new.communities.loc[a if a < b else a - 1, "community_workers"] = (
                comm.iloc[a]["community_workers"] + comm.iloc[b]["community_workers"]
            )
        touched = [a if a < b else a - 1]
    elif action == "split":
        c = new.index_of(edit.get("code"))
        idx = _unit_indices(us, edit.get("units"))
        if (new.labels[idx] != c).any():
            raise InputError(
                f"all units to split off must belong to community {edit.get('code')}",
                f"拆分出的人口单元必须都属于社区 {edit.get('code')}",
            )
        code = str(edit.get("new_code") or _next_code(comm, str(comm.iloc[c]["street_code"])))
        if code in set(comm["code"].astype(str)):
            raise InputError(f"community code {code} already exists", f"社区代码 {code} 已存在", code=code)
        row = {
            "code": code,
            "name": str(edit.get("new_name") or f"待命名社区{code[-3:]}"),
            "street_code": comm.iloc[c]["street_code"],
            "community_workers": None,
            "has_fixed_office": None,
        }
        new.communities = pd.concat([comm, pd.DataFrame([row])], ignore_index=True)
        k = len(new.communities) - 1
        new.labels[idx] = k
        touched = [c, k]
        _check(us, new, touched)
    elif action == "rename":
        c = new.index_of(edit.get("code"))
        name = str(edit.get("name") or "").strip()
        if not name:
            raise InputError("a new name is needed", "请给出新的社区名称")
        comm.loc[c, "name"] = name
        touched = [c]
    else:
        raise InputError(
            f"unknown edit action {action!r}; use one of {', '.join(EDIT_ACTIONS)}",
            f"未知的编辑操作 {action!r}，可用：move（移动单元）、merge（合并）、split（拆分）、rename（改名）",
        )
    check_locks(edit.get("locked"), [str(new.communities.iloc[t]["code"]) for t in touched] + removed)
    return new, touched, removed


def check_locks(locked, codes) -> None:
    """:class:`InputError` (in Chinese) when any of ``codes`` (communities an edit changes) is ``locked``."""
    hit = sorted(set(str(c) for c in (locked or ())) & set(str(c) for c in codes))
    if hit:
        raise InputError(
            f"communities {hit} are locked; unlock them first",
            f"社区 {'、'.join(hit)} 已锁定，不能修改；请先解锁，操作未执行",
            codes=hit,
        )


def changed_units(us: UnitSet, a: PlanState, b: PlanState) -> list[dict]:
    """Units whose community code differs between ``a`` and ``b``: ``{"unit_id", "community_code"}`` (code in ``b``)."""
    ca, cb = a.codes_of_units(), b.codes_of_units()
    moved = np.flatnonzero(ca != cb)
    ids = us.units["id"].to_numpy() if "id" in us.units else np.arange(us.n)
    return [{"unit_id": int(ids[i]), "community_code": cb[i]} for i in moved]


def _next_code(comm: pd.DataFrame, street: str) -> str:
    used = set(comm["code"].astype(str))
    n = 1
    while f"{street}{n:03d}" in used:
        n += 1
    return f"{street}{n:03d}"


def diff_states(us: UnitSet, a: PlanState, b: PlanState) -> dict:
    """Units and residents moved from plan/version ``a`` to ``b`` (matched by community code).

    Returns
    -------
    dict
        ``units_moved``, ``residents_moved``, ``households_moved``, ``moves`` (one row per moved
        unit: ``unit_id``, ``source_id``, ``name``, ``from_code``, ``to_code``, ``residents``,
        ``households``), ``flows`` (``from_code``, ``to_code``, ``units``, ``residents``) and ``streets``
        (per street of the moved units: ``street_code``, ``units``, ``residents``, ``households``).
    """
    ca, cb = a.codes_of_units(), b.codes_of_units()
    moved = np.flatnonzero(ca != cb)
    ids = us.units["id"].to_numpy() if "id" in us.units else np.arange(us.n)
    frame = pd.DataFrame(
        {
            "unit_id": ids[moved],
            "source_id": us.units["source_id"].astype(str).to_numpy()[moved]
            if "source_id" in us.units
            else moved.astype(str),
            "name": us.units["name"].astype(object).to_numpy()[moved] if "name" in us.units else None,
            "from_code": ca[moved],
            "to_code": cb[moved],
            "residents": us.residents[moved],
            "households": us.households[moved],
        }
    )
    flows = (
        frame.fillna({"from_code": "", "to_code": ""})
        .groupby(["from_code", "to_code"], sort=True)
        .agg(units=("unit_id", "size"), residents=("residents", "sum"), households=("households", "sum"))
        .reset_index()
    )
    street = us.streets["code"].astype(str).to_numpy(dtype=object)[us.street[moved]] if moved.size else []
    streets = (
        frame.assign(street_code=street)
        .groupby("street_code", sort=True)
        .agg(units=("unit_id", "size"), residents=("residents", "sum"), households=("households", "sum"))
        .reset_index()
    )
    return {
        "streets": streets,
        "units_moved": int(moved.size),
        "residents_moved": int(us.residents[moved].sum()),
        "households_moved": int(us.households[moved].sum()),
        "moves": frame,
        "flows": flows,
    }


def units_split_by_line(us: UnitSet, state: PlanState, code: str, points: list[tuple[float, float]]) -> list[int]:
    """Ids of the units of community ``code`` on the side of the line that becomes the new community.

    The community's region (the union of its units' tiles) is cut by the line (lon/lat points); the line must cut
    it into exactly two pieces. Each unit goes by its representative point; the piece with fewer households
    (then fewer units) becomes the new community, the other keeps the code.
    """
    import pyproj
    from shapely.ops import split

    c = state.index_of(code)
    members = np.flatnonzero(state.labels == c)
    tr = pyproj.Transformer.from_crs(4326, us.crs, always_xy=True)
    xs, ys = tr.transform([p[0] for p in points], [p[1] for p in points])
    line = shapely.LineString(list(zip(xs, ys)))
    region = shapely.union_all(us.tiles_m[members])
    pieces = [g for g in shapely.get_parts(split(region, line)) if g.area > 1.0]
    if len(pieces) != 2:
        raise InputError(
            f"the line cuts community {code} into {len(pieces)} pieces; it must cut it into two",
            f"分割线须从社区 {code} 的一侧边界穿到另一侧，将其分为两块（现为 {len(pieces)} 块），操作未执行",
            code=str(code),
        )
    side = np.full(members.size, -1)
    rp = shapely.point_on_surface(us.geom_m[members])
    for k, piece in enumerate(pieces):
        side[(side < 0) & shapely.intersects(piece, rp)] = k
    hh = [int(us.households[members[side == k]].sum()) for k in (0, 1)]
    n = [int((side == k).sum()) for k in (0, 1)]
    if min(n) == 0:
        raise InputError(
            f"one side of the line has no population units of community {code}",
            f"分割线一侧没有社区 {code} 的人口单元，操作未执行",
            code=str(code),
        )
    new_side = 0 if (hh[0], n[0]) < (hh[1], n[1]) else 1
    ids = us.units["id"].to_numpy() if "id" in us.units else np.arange(us.n)
    return sorted(int(i) for i in ids[members[side == new_side]])
