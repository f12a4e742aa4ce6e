"""Shelter scenarios (Art. 15): "hazard X active" and "shelters S closed".

Each scenario recomputes the capacity-respecting assignment of residents to emergency shelters
(:func:`facilities.shelters.assign_exact`: the most persons placed, then the least walking) and the residents
left without a place, before and after:

* *before*: the whole walking network, every existing emergency shelter with a known capacity;
* *after*: the edges that touch an active hazard zone are removed from the walking network
  (:func:`facilities.hazards.masked_network`), so evacuation routes avoid the zones; shelters named closed and
  shelters inside an active zone take nobody.

Demand = residents x ``day_night_factor`` (rounded); capacity = ``capacity_persons``, else floor(effective area
(m²) / ``shelter.per_capita_emergency_m2``); pairs within ``shelter.emergency_walk_limit_m`` (500 m) on foot, as
in the audit. Units are reached from their entrances when given, else from their representative point.

Frames in and out are EPSG:4326; distances in metres on the network's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core._errors import InputError
from geo_service.core.network import Snap, WalkNetwork
from geo_service.core.norms import Norms
from geo_service.core.vocab import HAZARD_KINDS, SHELTER_CLASSES

from .coverage import snap_units
from .hazards import hazard_zones, masked_network, shelters_in_hazards
from .shelters import ShelterAssignment, assign_exact

MAX_IDS = 200
SERVING_CLASS = "emergency"


def _ids(values) -> tuple[str, ...]:
    """Ids from repeated options or comma-separated text, stripped, in order, without repeats."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        for part in str(v).replace("，", ",").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


@dataclass(frozen=True)
class ScenarioParams:
    """One scenario.

    Parameters
    ----------
    hazards : tuple of str
        Active hazards: ids (``id``) or source ids of the ``hazards`` layer.
    closed : tuple of str
        Shelters closed: ids or source ids of the ``shelters`` layer.
    walk_limit_m : float, optional
        Walking limit to an emergency shelter, m; default ``shelter.emergency_walk_limit_m``.
    day_night_factor : float
        Persons to place per resident (1: the residents).
    """

    hazards: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()
    walk_limit_m: float | None = None
    day_night_factor: float = 1.0

    @classmethod
    def from_input(cls, hazard=None, close=None, walk_limit_m=None, day_night_factor=None) -> ScenarioParams:
        """From CLI options or query parameters (repeated, or comma-separated ids); raises :class:`InputError`."""
        hz, cl = _ids(hazard), _ids(close)
        if len(hz) > MAX_IDS or len(cl) > MAX_IDS:
            raise InputError(f"at most {MAX_IDS} ids each", f"灾害风险区和关闭的避难场所各最多 {MAX_IDS} 个")
        try:
            limit = None if walk_limit_m in (None, "") else float(walk_limit_m)
            factor = 1.0 if day_night_factor in (None, "") else float(day_night_factor)
        except (TypeError, ValueError):
            raise InputError(
                "walk limit and day/night factor must be numbers", "步行距离上限和昼夜人口系数必须为数字"
            ) from None
        if limit is not None and (not np.isfinite(limit) or limit <= 0 or limit > 10_000):
            raise InputError("walk_limit_m must lie in (0, 10000]", "步行距离上限必须大于 0 且不超过 10000 米")
        if not np.isfinite(factor) or factor <= 0 or factor > 10:
            raise InputError("day_night_factor must lie in (0, 10]", "昼夜人口系数必须大于 0 且不超过 10")
        return cls(hz, cl, limit, factor)

    def limit(self, norms: Norms) -> float:
        """The walking limit, m."""
        return float(self.walk_limit_m or norms.shelter.emergency_walk_limit_m)

    def as_dict(self) -> dict:
        """Plain JSON values (stored with a run; the ids sorted so that the order does not matter)."""
        return {
            "hazards": sorted(self.hazards),
            "closed": sorted(self.closed),
            "walk_limit_m": self.walk_limit_m,
            "day_night_factor": self.day_night_factor,
        }


@dataclass
class ScenarioResult:
    """Before/after tables (EPSG:4326) and totals of one scenario.

    Attributes
    ----------
    shelters : GeoDataFrame
        Per shelter: ``shelter_id``, ``name``, ``capacity_persons``, ``load_before``, ``load_after`` (persons),
        ``closed``, ``closed_reason``, ``hazard_zh`` (the active zones it lies in).
    units : GeoDataFrame
        Per population unit: ``unit_id``, ``name``, ``community_code``, ``demand``, ``placed_before``,
        ``unplaced_before``, ``placed_after``, ``unplaced_after`` (persons), ``unplaced_reason``.
    communities : DataFrame
        Per community: ``community_code``, ``name``, ``demand``, ``unplaced_before``, ``unplaced_after``.
    zones : GeoDataFrame
        The active hazard zones (:func:`facilities.hazards.hazard_zones`).
    assignment : GeoDataFrame
        The assignment after: ``unit_id``, ``shelter_id``, ``persons``, ``walk_m``; line geometry = the walking
        route on the masked network (see :func:`assignment_routes`), empty until routes are asked for.
    totals : dict
    """

    shelters: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    communities: pd.DataFrame
    zones: gpd.GeoDataFrame
    assignment: gpd.GeoDataFrame
    totals: dict
    run_after: _Run | None = field(default=None, repr=False)


@dataclass
class _Run:
    """One assignment on one network: the snaps it used and the result."""

    net: WalkNetwork
    u_snap: Snap
    owner: np.ndarray  # snapped point -> unit position
    sh_snap: Snap | None
    open_idx: np.ndarray  # shelter positions that took part
    pair_unit: np.ndarray  # unit position of every (unit, shelter) pair within the limit
    result: ShelterAssignment


def pick(frame: gpd.GeoDataFrame, ids: tuple[str, ...], what_zh: str) -> np.ndarray:
    """Positions of ``ids`` (matching ``id`` or ``source_id``) in ``frame``; unknown ids raise InputError."""
    if not ids:
        return np.zeros(0, dtype=np.int64)
    keys: dict[str, int] = {}
    for col in ("source_id", "id"):  # an id wins over a source id that looks the same
        if col in frame.columns:
            keys.update({str(v): i for i, v in enumerate(frame[col].tolist())})
    unknown = [i for i in ids if i not in keys]
    if unknown:
        shown = "、".join(unknown[:10])
        raise InputError(
            f"unknown {what_zh} ids: {', '.join(unknown[:10])}",
            f"未找到编号为 {shown} 的{what_zh}（可用图层中的 id 或 source_id）",
            unknown=unknown[:50],
        )
    return np.array(sorted({keys[i] for i in ids}), dtype=np.int64)


def shelter_capacity(shelters: gpd.GeoDataFrame, norms: Norms) -> np.ndarray:
    """Capacity (persons) of each shelter: ``capacity_persons``, else floor(effective area m² / per-capita m²
    of its class); NaN when neither is known."""
    s = norms.shelter
    per_capita = {
        "emergency": s.per_capita_emergency_m2,
        "fixed": s.per_capita_fixed_m2,
        "central": s.per_capita_fixed_m2,
    }
    n = len(shelters)
    declared = pd.to_numeric(shelters.get("capacity_persons", pd.Series([np.nan] * n)), errors="coerce").to_numpy(float)
    area = pd.to_numeric(shelters.get("effective_area_m2", pd.Series([np.nan] * n)), errors="coerce").to_numpy(float)
    cls = shelters.get("shelter_class", pd.Series([None] * n)).to_numpy(dtype=object)
    pc = np.array([per_capita.get(c, np.nan) for c in cls], dtype=float) if n else np.zeros(0)
    return np.where(np.isfinite(declared), declared, np.floor(area / pc + 1e-9))


def _assign(net, units, entrances, shelters, open_mask, demand, capacity, limit) -> _Run:
    """Snap, find the (unit, shelter) pairs within ``limit`` m on ``net`` and assign exactly."""
    n_u, n_s = len(units), len(shelters)
    u_snap, owner = snap_units(net, units, entrances=entrances)
    owner = np.arange(n_u) if owner is None else owner
    idx = np.flatnonzero(open_mask)
    sh_snap = net.snap(shelters.geometry.iloc[idx]) if idx.size else None
    if idx.size:
        si, pi, d = net.distances_within(sh_snap, u_snap, limit_m=float(limit))
        ui, ss = owner[pi], idx[si]
    else:
        ui = ss = np.zeros(0, np.int64)
        d = np.zeros(0)
    result = assign_exact(n_u, n_s, ui, ss, d, demand, capacity)
    return _Run(net, u_snap, owner, sh_snap, idx, ui, result)


def _containing(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) and len(polygons):
        pi, gi = shapely.STRtree(polygons).query(points, predicate="intersects")
        out[pi[::-1]] = gi[::-1]  # the lowest polygon index wins
    return out


def compute_scenario(
    units: gpd.GeoDataFrame,
    shelters: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame | None,
    net: WalkNetwork,
    norms: Norms,
    params: ScenarioParams,
    *,
    entrances: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
) -> ScenarioResult:
    """Assignment before and after the scenario.

    Parameters
    ----------
    units : GeoDataFrame, EPSG:4326
        Population units: ``id``, ``residents`` (persons), optional ``name``.
    shelters : GeoDataFrame, EPSG:4326
        ``id``, ``source_id``, ``name``, ``shelter_class``, ``status``, ``capacity_persons``, ``effective_area_m2``.
    hazards : GeoDataFrame, EPSG:4326, optional
        The ``hazards`` layer (see :func:`facilities.hazards.hazard_zones`).
    net : WalkNetwork
        The full walking network.
    norms : Norms
    params : ScenarioParams
    entrances : GeoDataFrame, optional
        Unit entrances with ``unit_id`` = the unit's ``id``.
    communities : GeoDataFrame, optional
        Communities of the plan (``code``, ``name``) for the per-community table.

    Returns
    -------
    ScenarioResult
    """
    hazards = hazards if hazards is not None else gpd.GeoDataFrame(geometry=[], crs=4326)
    hz_pos = pick(hazards, params.hazards, "灾害风险区")
    closed_pos = pick(shelters, params.closed, "避难场所")
    limit = params.limit(norms)
    zones = hazard_zones(hazards.iloc[hz_pos], norms, metric_crs=net.crs) if hz_pos.size else hazard_zones(None, norms)
    units = units.assign(unit_id=units["id"].to_numpy() if "id" in units.columns else np.arange(1, len(units) + 1))
    residents = pd.to_numeric(units["residents"], errors="coerce").fillna(0).to_numpy(float)
    demand = np.round(residents * params.day_night_factor).astype(np.int64)
    capacity = shelter_capacity(shelters, norms)
    cap_int = np.where(np.isfinite(capacity), capacity, 0).astype(np.int64)
    cls = shelters.get("shelter_class", pd.Series([None] * len(shelters))).to_numpy(dtype=object)
    status = shelters.get("status", pd.Series(["existing"] * len(shelters))).fillna("existing").to_numpy(dtype=object)
    serving = (cls == SERVING_CLASS) & (status == "existing") & np.isfinite(capacity)
    inside = shelters_in_hazards(shelters, zones)
    named = np.zeros(len(shelters), dtype=bool)
    named[closed_pos] = True
    closed = named | inside["in_hazard"].to_numpy(bool)

    before = _assign(net, units, entrances, shelters, serving, demand, cap_int, limit)
    masked, blocked = masked_network(net, zones)
    if masked is net and not (closed & serving).any():
        after = before  # nothing changes: the same assignment
    else:
        after = _assign(masked, units, entrances, shelters, serving & ~closed, demand, cap_int, limit)

    sh_out = _shelter_table(shelters, capacity, serving, named, inside, before.result, after.result)
    un_out = _unit_table(units, demand, zones, before, after, limit, communities)
    cm_out = _community_table(un_out, communities)
    totals = {
        "walk_limit_m": limit,
        "day_night_factor": params.day_night_factor,
        "hazards_active": [str(hazards.iloc[i].get("id", i + 1)) for i in hz_pos],
        "hazards_active_zh": [_hazard_label(hazards.iloc[i], i) for i in hz_pos],
        "shelters_named_closed": int(named.sum()),
        "shelters_in_active_zones": int((inside["in_hazard"].to_numpy(bool) & serving).sum()),
        "shelters_closed": int((closed & serving).sum()),
        "shelters_serving_before": int(serving.sum()),
        "shelters_serving_after": int((serving & ~closed).sum()),
        "capacity_before": int(cap_int[serving].sum()),
        "capacity_after": int(cap_int[serving & ~closed].sum()),
        "edges_removed": int(blocked.sum()),
        "demand": int(demand.sum()),
        "placed_before": before.result.total_placed,
        "placed_after": after.result.total_placed,
        "unplaced_before": before.result.total_unplaced,
        "unplaced_after": after.result.total_unplaced,
        "mean_walk_before_m": _round(before.result.mean_walk_m),
        "mean_walk_after_m": _round(after.result.mean_walk_m),
        "units_newly_unplaced": int((un_out["unplaced_after"] > un_out["unplaced_before"]).sum()),
    }
    return ScenarioResult(sh_out, un_out, cm_out, zones, _assignment_frame(after, units, shelters), totals, after)


def _hazard_label(row: pd.Series, i: int) -> str:
    """``name（id）``, or the kind in Chinese when the hazard has no name."""
    name = row.get("name")
    name = name if isinstance(name, str) and name else HAZARD_KINDS.get(row.get("kind"), "灾害风险区")
    return f"{name}（{row.get('id', i + 1)}）"


def _round(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 1)


def _shelter_table(shelters, capacity, serving, named, inside, before, after) -> gpd.GeoDataFrame:
    reason = np.full(len(shelters), None, dtype=object)
    in_zone = inside["in_hazard"].to_numpy(bool)
    hz = inside["hazard_zh"].to_numpy(dtype=object)
    for i in np.flatnonzero(named | in_zone):
        parts = (["按情景关闭"] if named[i] else []) + ([f"位于灾害影响区（{hz[i]}）"] if in_zone[i] else [])
        reason[i] = "；".join(parts)
    cls = shelters.get("shelter_class", pd.Series([None] * len(shelters))).to_numpy(dtype=object)
    return gpd.GeoDataFrame(
        {
            "shelter_id": shelters["id"].to_numpy() if "id" in shelters.columns else np.arange(1, len(shelters) + 1),
            "name": shelters.get("name", pd.Series([None] * len(shelters))).to_numpy(dtype=object),
            "shelter_class": cls,
            "shelter_class_zh": [SHELTER_CLASSES.get(c, c) for c in cls],
            "serving": serving,
            "capacity_persons": capacity,
            "load_before": np.where(serving, before.load, 0),
            "load_after": np.where(serving, after.load, 0),
            "closed": named | in_zone,
            "closed_reason": reason,
            "hazard_zh": hz,
        },
        geometry=np.asarray(shelters.geometry.values, dtype=object),
        crs=4326,
    )


def _unit_table(units, demand, zones, before: _Run, after: _Run, limit, communities) -> gpd.GeoDataFrame:
    n = len(units)
    pts = np.asarray(units.geometry.representative_point().values, dtype=object)
    in_zone = _containing(pts, np.asarray(zones.geometry.values, dtype=object)) >= 0
    reach = np.zeros(n, dtype=bool)
    reach[after.owner[after.u_snap.reachable]] = True
    has_pair = np.bincount(after.pair_unit, minlength=n) > 0
    r = after.result
    lost = r.unplaced > 0
    why = np.full(n, None, dtype=object)
    why[lost] = f"{limit:.0f} 米步行范围内没有可用的避难场所"
    why[lost & has_pair] = "步行范围内避难场所容量已满"
    why[lost & ~reach] = "周边道路位于灾害影响区内或距步行网络过远"
    cm_code = np.full(n, None, dtype=object)
    if communities is not None and len(communities):
        k = _containing(pts, np.asarray(communities.geometry.values, dtype=object))
        codes = communities["code"].astype(str).to_numpy()
        cm_code = np.where(k >= 0, codes[np.maximum(k, 0)], None)
    return gpd.GeoDataFrame(
        {
            "unit_id": units["unit_id"].to_numpy(),
            "name": units.get("name", pd.Series([None] * n)).to_numpy(dtype=object),
            "community_code": cm_code,
            "in_active_zone": in_zone,
            "demand": demand,
            "placed_before": before.result.placed,
            "unplaced_before": before.result.unplaced,
            "placed_after": r.placed,
            "unplaced_after": r.unplaced,
            "unplaced_reason": why,
        },
        geometry=np.asarray(units.geometry.values, dtype=object),
        crs=4326,
    )


def _community_table(units: gpd.GeoDataFrame, communities) -> pd.DataFrame:
    cols = ["demand", "unplaced_before", "unplaced_after"]
    g = units.assign(community_code=units["community_code"].fillna("—")).groupby("community_code")[cols].sum()
    g = g.reset_index()
    names = {}
    if communities is not None and len(communities):
        names = dict(zip(communities["code"].astype(str), communities.get("name", communities["code"]).astype(str)))
    g.insert(1, "name", [names.get(c, "不在任何社区内" if c == "—" else c) for c in g["community_code"]])
    g["change"] = g["unplaced_after"] - g["unplaced_before"]
    return g.sort_values(["change", "community_code"], ascending=[False, True]).reset_index(drop=True)


def _assignment_frame(run: _Run, units, shelters) -> gpd.GeoDataFrame:
    r = run.result
    sid = shelters["id"].to_numpy() if "id" in shelters.columns else np.arange(1, len(shelters) + 1)
    return gpd.GeoDataFrame(
        {
            "unit_id": units["unit_id"].to_numpy()[r.unit],
            "shelter_id": sid[r.shelter],
            "persons": r.persons,
            "walk_m": np.round(r.walk_m, 1),
        },
        geometry=[None] * len(r.unit),
        crs=4326,
    )


def assignment_routes(result: ScenarioResult, *, units: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """The walking route (EPSG:4326 lines, on the network of the scenario) of each (unit, shelter) pair of
    the assignment after, for the units at positions ``units`` (default: all).

    One bounded Dijkstra per shelter used (limit: the walking limit); the unit leaves from its snapped point
    (entrance) nearest to the shelter. Fills ``result.assignment``'s geometry and returns it.
    """
    run = result.run_after
    if run is None:
        raise ValueError("the scenario has no assignment to route")
    r, net = run.result, run.net
    want = np.ones(len(r.unit), dtype=bool) if units is None else np.isin(r.unit, units)
    geoms = np.asarray(result.assignment.geometry.values, dtype=object)
    pos_in_open = {int(s): k for k, s in enumerate(run.open_idx)}
    limit = float(result.totals["walk_limit_m"]) + 1.0
    for s in np.unique(r.shelter[want]):
        rows = np.flatnonzero(want & (r.shelter == s))
        near = net.nearest(run.sh_snap.take([pos_in_open[int(s)]]), limit_m=limit)
        pts = np.flatnonzero(np.isin(run.owner, r.unit[rows]))
        walk, _src, _via = near.at(run.u_snap.take(pts))
        for row in rows:
            mine = pts[run.owner[pts] == r.unit[row]]
            w = walk[np.isin(pts, mine)]
            if not np.isfinite(w).any():
                continue
            line = near.route(run.u_snap, int(mine[int(np.argmin(w))]))
            if line is not None:
                geoms[row] = line
    ok = np.array([g is not None for g in geoms], dtype=bool)
    out = geoms.copy()
    if ok.any():
        out[ok] = net.to_wgs84(geoms[ok])
    result.assignment = result.assignment.set_geometry(gpd.GeoSeries(out, crs=4326))
    return result.assignment
