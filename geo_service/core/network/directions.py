"""Turn-by-turn directions in Chinese along a route ("沿长江路向东步行 320 米", "右转进入黄河路").

:func:`route_steps` turns the pieces of a route (:class:`~geo_service.core.network.labels.RouteLegs`)
into steps: a ``depart`` step, one step per road walked (consecutive edges of the same road name
merge into one step; unnamed edges merge while the way goes on about straight), and an ``arrive``
step.  Each step says where it begins (metric CRS here; the caller converts to lon/lat), its
maneuver, the road name where the data has one, and the metres walked on it; the off-network legs
count in the first and last road steps, so the distances add up to the route's length.

Bearings are clockwise from grid north of the metric CRS (within a degree of true north in a
3-degree Gauss-Krüger zone).  Units: metres, degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._walk import WalkNetwork
    from .labels import RouteLegs

MANEUVERS_ZH: dict[str, str] = {
    "depart": "出发",
    "straight": "直行",
    "slight_left": "稍向左转",
    "left": "左转",
    "sharp_left": "向左急转",
    "slight_right": "稍向右转",
    "right": "右转",
    "sharp_right": "向右急转",
    "uturn": "掉头",
    "arrive": "到达",
}
_COMPASS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
MERGE_UNNAMED_DEG = 45.0
"""Unnamed edges merge into one step while the way turns by less than this (degrees)."""


@dataclass
class _Run:
    name: str | None
    coords: list[np.ndarray]
    length_m: float
    turn_deg: float


def bearing_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Bearing from ``a`` to ``b`` (metric CRS), degrees clockwise from grid north, in [0, 360)."""
    return math.degrees(math.atan2(float(b[0] - a[0]), float(b[1] - a[1]))) % 360.0


def turn_maneuver(delta_deg: float) -> str:
    """The maneuver of a change of bearing (degrees, positive clockwise = to the right)."""
    d = abs(delta_deg)
    if d < 20:
        return "straight"
    side = "right" if delta_deg > 0 else "left"
    if d < 45:
        return f"slight_{side}"
    if d < 135:
        return side
    if d < 170:
        return f"sharp_{side}"
    return "uturn"


def compass_zh(bearing: float) -> str:
    """The nearest of eight compass directions in Chinese (东、东北…)."""
    return _COMPASS_ZH[int(((bearing % 360.0) + 22.5) // 45.0) % 8]


def _end_bearing(coords: np.ndarray, *, start: bool) -> float | None:
    """Bearing of the first (``start``) or last non-degenerate segment of a polyline, None when it has none."""
    (ax, ay), (bx, by) = (coords[:2] if start else coords[-1:-3:-1]).tolist()
    if abs(bx - ax) <= 1e-6 and abs(by - ay) <= 1e-6:  # rare: a degenerate end segment
        pts = (coords if start else coords[::-1]).tolist()
        far = next((p for p in pts[1:] if abs(p[0] - ax) > 1e-6 or abs(p[1] - ay) > 1e-6), None)
        if far is None:
            return None
        bx, by = far
    b = math.degrees(math.atan2(bx - ax, by - ay)) % 360.0
    return b if start else (b + 180.0) % 360.0


def _delta(b_in: float | None, b_out: float | None) -> float:
    if b_in is None or b_out is None:
        return 0.0
    return (b_out - b_in + 540.0) % 360.0 - 180.0


def _runs(net: WalkNetwork, legs: RouteLegs) -> list[_Run]:
    """The road pieces of the route merged by name (off-network legs left out)."""
    inner = range(1, len(legs.parts) - 1)
    edges = [legs.edges[i] for i in inner]
    names = net.edge_names(edges) if edges else []
    runs: list[_Run] = []
    last: np.ndarray | None = None  # the last piece with a direction
    for i, name in zip(inner, names):
        coords = legs.parts[i]
        if len(coords) < 2 or legs.lengths_m[i] <= 0:
            continue
        cur = runs[-1] if runs else None
        if cur is not None and cur.name == name and name is not None:  # the same road: no turn to measure
            cur.coords.append(coords)
            cur.length_m += legs.lengths_m[i]
            last = coords
            continue
        b_in = _end_bearing(coords, start=True)
        delta = _delta(None if last is None else _end_bearing(last, start=False), b_in)
        if cur is not None and cur.name == name and abs(delta) < MERGE_UNNAMED_DEG:
            cur.coords.append(coords)
            cur.length_m += legs.lengths_m[i]
        else:
            runs.append(_Run(name, [coords], legs.lengths_m[i], delta))
        if b_in is not None:
            last = coords
    return runs


def _metres(d: float) -> str:
    return f"{round(d):d} 米"


def route_steps(net: WalkNetwork, legs: RouteLegs, destination: str | None) -> list[dict]:
    """Turn-by-turn steps of one route, in Chinese.

    Parameters
    ----------
    net : WalkNetwork
        The network (or profile view) the route was found on; road names come from its edges.
    legs : RouteLegs
        The pieces of the route, from the start point to the destination.
    destination : str or None
        The destination's name, for the ``arrive`` step ("到达 XX避难场所").

    Returns
    -------
    list of dict
        ``maneuver``, ``instruction_zh``, ``road_name``, ``distance_m`` (m, 1 decimal) and ``x``, ``y``
        (where the step begins, metric CRS): ``depart`` first, ``arrive`` last (distance 0).
    """
    start = legs.parts[0][0]
    dest = legs.parts[-1][0]
    runs = _runs(net, legs)
    first_off, last_off = float(legs.lengths_m[0]), float(legs.lengths_m[-1])
    steps: list[dict] = []
    if not runs:  # along no street at all (a zero-length walk, or start and destination on the same spot)
        b = bearing_deg(start, dest) if np.hypot(*(dest - start)) > 1e-6 else 0.0
        d = first_off + last_off + sum(legs.lengths_m[1:-1])
        steps.append(_step("depart", f"向{compass_zh(b)}步行 {_metres(d)}", None, d, start))
    for i, run in enumerate(runs):
        d = run.length_m + (first_off if i == 0 else 0.0) + (last_off if i == len(runs) - 1 else 0.0)
        if i == 0:
            b = _end_bearing(np.concatenate(run.coords), start=True) or 0.0
            road = f"沿{run.name}" if run.name else ""
            steps.append(_step("depart", f"{road}向{compass_zh(b)}步行 {_metres(d)}", run.name, d, start))
            continue
        maneuver = turn_maneuver(run.turn_deg)
        phrase = MANEUVERS_ZH[maneuver]
        if run.name and run.name != runs[i - 1].name:
            text = f"{phrase}进入{run.name}，步行 {_metres(d)}"
        elif run.name:
            text = f"{phrase}，继续沿{run.name}步行 {_metres(d)}"
        else:
            text = f"{phrase}，步行 {_metres(d)}"
        steps.append(_step(maneuver, text, run.name, d, run.coords[0][0]))
    target = (destination or "").strip()
    steps.append(_step("arrive", f"到达 {target}" if target else "到达目的地", None, 0.0, dest))
    return steps


def _step(maneuver: str, text: str, road: str | None, d: float, xy: np.ndarray) -> dict:
    return {
        "maneuver": maneuver,
        "instruction_zh": text,
        "road_name": road,
        "distance_m": round(float(d), 1),
        "x": float(xy[0]),
        "y": float(xy[1]),
    }
