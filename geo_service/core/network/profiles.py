"""Walking profiles: who walks (standard, elderly, wheelchair) and what the network costs them.

A :class:`WalkProfile` holds a flat-ground speed, the edges closed to it (steps, blocking kerbs, slopes
steeper than a limit) and the slope model.  :func:`profile_view` turns a
:class:`~geo_service.core.network.WalkNetwork` into the network as the profile walks it: the edges
open to it, with ``edge_length_m`` replaced by *costs*, the walking time times the standard walking
speed ("metres at the standard speed on flat ground").  Every search of the engine (snapping,
multi-source passes, pairs within a limit, k-nearest labels) then runs unchanged on the view, and a
limit in metres keeps its meaning for the standard walker: the same walking time.  For the standard
profile on a network without elevations the view is the network itself, so its results are exactly
those of the stored network.

Slopes (when node elevations were imported, ``geo-service import-elevation``): Tobler's hiking
function relative to flat ground scales the profile's speed,
``f(s) = exp(-a |s + o|) / exp(-a |o|)`` for a rise over run ``s`` in the walking direction
(norm ``mobility.slope_speed``: ``exponent`` a = 3.5, ``offset`` o = 0.05).  The network is undirected:
an edge costs the mean of its time uphill and downhill, ``L / v * (1 / f(s) + 1 / f(-s)) / 2``, which
is ``L / v`` on flat ground.  The wheelchair profile closes edges with ``|s|`` above
``mobility.wheelchair_max_slope``.

Units: metres, metres per second, rise over run.  CRS: the network's metric CRS.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import InputError
from .graph import KERB_CODES

if TYPE_CHECKING:
    from ._walk import WalkNetwork

PROFILES: dict[str, str] = {"standard": "标准", "elderly": "老年人", "wheelchair": "轮椅"}
"""Profile codes and their Chinese labels."""

_ALIASES = {label: code for code, label in PROFILES.items()} | {"老人": "elderly", "轮椅使用者": "wheelchair"}


def profile_code(profile: str | None) -> str:
    """The code of a walking profile: ``standard`` (for None or empty), ``elderly``, ``wheelchair``.

    Chinese labels (标准、老年人、轮椅) are accepted.

    Raises
    ------
    InputError
        An unknown profile (Chinese message naming the allowed ones).
    """
    code: str | None = None
    if profile is None or isinstance(profile, str):
        text = (profile or "").strip() or "standard"
        code = _ALIASES.get(text, text)
    if code not in PROFILES:
        allowed = "、".join(f"{c}（{z}）" for c, z in PROFILES.items())
        raise InputError(
            f"unknown walking profile {profile!r}; use one of {', '.join(PROFILES)}",
            f"未知的出行方式「{profile}」：可选 {allowed}",
            profile=str(profile),
            allowed=list(PROFILES),
        )
    return code


@dataclass(frozen=True)
class SlopeModel:
    """Tobler's hiking function, relative to flat ground (norm ``mobility.slope_speed``).

    Attributes
    ----------
    exponent : float
        ``a`` in ``exp(-a |s + o|)``.
    offset : float
        ``o``: the slope (rise over run) of the fastest walk, negated.
    """

    exponent: float = 3.5
    offset: float = 0.05

    def speed_factor(self, slope: np.ndarray) -> np.ndarray:
        """Speed on a slope ``s`` (rise over run, walking direction) over the speed on flat ground."""
        s = np.asarray(slope, dtype=np.float64)
        return np.exp(-self.exponent * np.abs(s + self.offset)) / math.exp(-self.exponent * abs(self.offset))

    def time_factor(self, slope: np.ndarray) -> np.ndarray:
        """Mean of the uphill and downhill walking times over the flat time (1 on flat ground)."""
        return 0.5 * (1.0 / self.speed_factor(slope) + 1.0 / self.speed_factor(-np.asarray(slope)))


@dataclass(frozen=True)
class WalkProfile:
    """Who walks: speed on flat ground and the edges closed to them.

    Attributes
    ----------
    name : str
        ``standard``, ``elderly`` or ``wheelchair``.
    speed_mps : float
        Walking speed on flat ground, m/s.
    reference_speed_mps : float
        The standard walking speed, m/s: costs are times this speed (m).
    closes_steps : bool
        ``highway=steps`` edges are closed.
    blocking_kerbs : tuple of str
        OSM ``kerb`` values that close an edge.
    max_slope : float or None
        Edges steeper than this (rise over run, either way) are closed; None: no limit.
    slope : SlopeModel or None
        The slope model (None: slopes do not change times).
    """

    name: str = "standard"
    speed_mps: float = 1.0
    reference_speed_mps: float = 1.0
    closes_steps: bool = False
    blocking_kerbs: tuple[str, ...] = ()
    max_slope: float | None = None
    slope: SlopeModel | None = SlopeModel()

    @classmethod
    def from_input(cls, profile: str | None, norms: Any) -> WalkProfile:
        """The one constructor from CLI options, HTTP query parameters or stored parameters.

        ``profile``: ``standard`` (default for None or empty), ``elderly``, ``wheelchair`` or their
        Chinese labels (标准、老年人、轮椅).  Speeds, kerbs, slope limit and slope model come from
        ``norms`` (``mobility.*``; always ``store.norms``).

        Raises
        ------
        InputError
            An unknown profile (Chinese message naming the allowed ones).
        """
        code = profile_code(profile)
        ref = float(norms.entry("mobility.walking_speed_mps").value)
        sm = norms.entry("mobility.slope_speed")
        slope = SlopeModel(float(sm.exponent), float(sm.offset)) if str(sm.value) == "tobler" else None
        if code == "standard":
            return cls("standard", ref, ref, slope=slope)
        if code == "elderly":
            return cls("elderly", float(norms.entry("mobility.elderly_walking_speed_mps").value), ref, slope=slope)
        return cls(
            "wheelchair",
            float(norms.entry("mobility.wheelchair_speed_mps").value),
            ref,
            closes_steps=True,
            blocking_kerbs=tuple(str(k) for k in norms.entry("mobility.wheelchair_blocking_kerbs").value),
            max_slope=float(norms.entry("mobility.wheelchair_max_slope").value),
            slope=slope,
        )

    @property
    def label_zh(self) -> str:
        return PROFILES.get(self.name, self.name)

    @functools.cached_property
    def key(self) -> str:
        """A text naming everything the costs depend on (cache keys)."""
        slope = "-" if self.slope is None else f"{self.slope.exponent:g},{self.slope.offset:g}"
        return (
            f"{self.name}:{self.speed_mps:g}/{self.reference_speed_mps:g}:{int(self.closes_steps)}:"
            f"{','.join(self.blocking_kerbs)}:{self.max_slope}:{slope}"
        )

    @property
    def flat_scale(self) -> float:
        """Cost of one metre on flat ground: the standard speed over the profile's speed."""
        return self.reference_speed_mps / self.speed_mps

    def as_dict(self) -> dict:
        return {"profile": self.name, "profile_zh": self.label_zh, "walking_speed_mps": self.speed_mps}


def edge_slopes(net: WalkNetwork) -> np.ndarray:
    """Rise over run of every edge from ``u`` to ``v`` (0 where an end has no elevation or the edge no length)."""
    attrs = net.edge_attrs
    real = net.real_lengths()
    if attrs is None or not attrs.has_elevation():
        return np.zeros(len(real))
    z = attrs.node_elev_m
    dz = z[net.edge_v] - z[net.edge_u]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(np.isfinite(dz) & (real > 0), dz / np.where(real > 0, real, 1.0), 0.0)
    return s


def edge_costs(net: WalkNetwork, profile: WalkProfile) -> tuple[np.ndarray, np.ndarray]:
    """``(open, cost)`` per edge of ``net`` for ``profile``: which edges it may use, and their cost (m).

    The cost is the walking time times the standard speed; closed edges get ``inf``.
    """
    real = net.real_lengths()
    m = len(real)
    open_ = np.ones(m, dtype=bool)
    attrs = net.edge_attrs
    slope = edge_slopes(net)
    if attrs is not None:
        if profile.closes_steps:
            open_ &= ~attrs.steps
        if profile.blocking_kerbs:
            codes = [KERB_CODES.index(k) for k in profile.blocking_kerbs if k in KERB_CODES]
            open_ &= ~np.isin(attrs.kerb, np.array(codes, dtype=np.int8))
        if profile.max_slope is not None:
            open_ &= np.abs(slope) <= profile.max_slope + 1e-12
    factor = np.full(m, profile.flat_scale)
    if profile.slope is not None and (slope != 0).any():
        factor = factor * profile.slope.time_factor(slope)
    cost = np.where(open_, real * factor, np.inf)
    return open_, cost


def profile_view(net: WalkNetwork, profile: WalkProfile) -> WalkNetwork:
    """The network as ``profile`` walks it: open edges only, costs as lengths (see the module notes).

    Kept on ``net`` per :attr:`WalkProfile.key`.  Node order, node coordinates and the metric CRS are
    those of ``net``; ``base_edge`` maps the view's edges back to ``net``'s.
    """
    views = net.__dict__.setdefault("_profile_views", {})
    view = views.get(profile.key)  # (a view, or the network itself when the profile changes nothing)
    if view is not None:
        return view
    if net.profile != "standard" or net.base_edge is not None:
        raise ValueError("a profile's view is made from the stored network")
    attrs = net.edge_attrs
    sloped = attrs is not None and attrs.has_elevation() and profile.slope is not None
    restricted = profile.closes_steps or profile.blocking_kerbs or profile.max_slope is not None
    with net._lock:
        view = views.get(profile.key)
        if view is None:
            same = profile.flat_scale == 1.0 and not sloped and not (restricted and attrs is not None)
            view = views[profile.key] = net if same else _build_view(net, profile)
    return view


def _build_view(net: WalkNetwork, profile: WalkProfile) -> WalkNetwork:
    open_, cost = edge_costs(net, profile)
    idx = np.flatnonzero(open_)
    every = len(idx) == net.n_edges
    if every:  # no edge closed: the geometry and its snapping index are shared with the network
        coords, offsets = net.edge_coords, net.edge_offsets
    else:
        starts, ends = net.edge_offsets[idx], net.edge_offsets[idx + 1]
        counts = ends - starts
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        coords = net.edge_coords[np.repeat(starts - offsets[:-1], counts) + np.arange(int(counts.sum()))]
    view = type(net)(
        node_xy=net.node_xy,
        edge_u=net.edge_u[idx],
        edge_v=net.edge_v[idx],
        edge_length_m=cost[idx],
        edge_class=net.edge_class[idx],
        edge_coords=coords,
        edge_offsets=offsets,
        crs=net.crs,
        name=net.name,
        network_id=net.network_id,
        version=f"{net.version}/{profile.name}",
        node_ids=net.node_ids,
        edge_attrs=None if net.edge_attrs is None else net.edge_attrs.take_edges(idx),
        profile=profile.name,
        base_edge=idx.astype(np.int64),
        real_length_m=net.edge_length_m[idx],
        offset_scale=profile.flat_scale,
    )
    view.__dict__["_transformers"] = net.__dict__.setdefault("_transformers", {})
    if every:
        view._tree, view._geoms = net.tree, net._geoms
    return view.warm()
