"""Shared pieces of the audit: status codes, column readers, point-in-polygon, the metric CRS, the norm log.

Every frame handled here is in EPSG:4326; :class:`Metric` turns geometries into one metric CRS (metres) for
areas and straight-line distances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core._errors import InputError
from geo_service.core.norms import Norms
from geo_service.core.vocab import FACILITY_CATEGORIES

from .params import AuditParams

OK, GAP, CANNOT = "ok", "gap", "cannot_assess"
STATUS_ZH = {OK: "达标", GAP: "不足", CANNOT: "无法评估"}
CLOSE_ZH = {"yes": "可补足", "partly": "部分补足", "no": "无可用地块", "planned": "已有规划设施补足"}


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Float column (NaN where missing or absent)."""
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _col(frame: pd.DataFrame, col: str, default=None) -> np.ndarray:
    """Object column (``default`` everywhere when absent)."""
    if col not in frame.columns:
        return np.full(len(frame), default, dtype=object)
    return frame[col].to_numpy(dtype=object)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    """The ``id`` column, else 1..n."""
    if "id" in frame.columns:
        return frame["id"].to_numpy()
    return np.arange(1, len(frame) + 1)


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A point per feature: the point itself, else a point inside the polygon (same CRS as ``frame``)."""
    g = np.asarray(frame.geometry.values, dtype=object)
    if len(g) == 0:
        return g
    is_point = shapely.get_type_id(g) == 0
    out = g.copy()
    if (~is_point).any():
        out[~is_point] = shapely.point_on_surface(g[~is_point])
    return out


def _containing(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (-1 if none; on a shared boundary, the lowest index)."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    pi, gi = tree.query(points, predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    out[pi[first]] = gi[first]
    return out


def _labels(cats) -> str:
    """Chinese labels of facility categories, joined with ``、``."""
    return "、".join(FACILITY_CATEGORIES.get(c, c) for c in cats)


def _empty() -> gpd.GeoDataFrame:
    """An empty layer (EPSG:4326) standing in for a missing one."""
    return gpd.GeoDataFrame(geometry=[], crs=4326)


def _code_of(index: np.ndarray, cm_code: np.ndarray) -> np.ndarray:
    """Community code per community index (None where the index is -1)."""
    return np.where(index >= 0, cm_code[np.maximum(index, 0)], None)


class _Metric:
    """EPSG:4326 geometries to one metric CRS (metres; the network's if given, else one fitted to the data)."""

    def __init__(self, net, frames):
        if net is not None:
            self.crs = net.crs
        else:
            from geo_service.core.crs import metric_crs_for

            ref = next((f for f in frames if f is not None and len(f)), None)
            if ref is None:
                raise InputError("nothing to audit: no communities, units or facilities", "没有可审计的数据")
            self.crs = metric_crs_for(ref)

    def __call__(self, geoms) -> np.ndarray:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) == 0:
            return geoms
        return np.asarray(gpd.GeoSeries(geoms, crs=4326).to_crs(self.crs).values, dtype=object)


class NormLog:
    """The norms an audit used, in the order it used them (the run's ``norms_used``)."""

    def __init__(self, norms: Norms):
        self.norms = norms
        self.used: list[dict] = []

    def __call__(self, path: str, check_zh: str, value, unit: str) -> None:
        """Record the norm at ``path`` (its value in ``unit``, e.g. ``m²``, ``m``, ``人``) and its source."""
        src, status = self.norms.source_of(path)
        self.used.append(
            {"check": path, "check_zh": check_zh, "value": value, "unit": unit, "source": src, "status": status}
        )


@dataclass
class AuditContext:
    """What every topic of one audit shares.

    Attributes
    ----------
    communities : GeoDataFrame, EPSG:4326
        The communities of the plan (``code``, ``name``, optional ``households``, ``street_code`` ...).
    cm_geom : ndarray of shapely geometries
        Community polygons, EPSG:4326.
    cm_code : ndarray of str
        Community codes, in the order of ``communities``.
    norms : Norms
    params : AuditParams
    metric : _Metric
        EPSG:4326 -> the audit's metric CRS (metres).
    record : NormLog
        Log of the norms used.
    notes : list of str
        Chinese notes for the run's warnings.
    """

    communities: gpd.GeoDataFrame
    cm_geom: np.ndarray
    cm_code: np.ndarray
    norms: Norms
    params: AuditParams
    metric: _Metric
    record: NormLog
    notes: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, communities, units, norms: Norms, params: AuditParams, net) -> AuditContext:
        """Context for ``communities`` and ``units`` (EPSG:4326); the metric CRS is the network's if given."""
        metric = _Metric(net, [communities, units])
        return cls(
            communities=communities,
            cm_geom=np.asarray(communities.geometry.values, dtype=object),
            cm_code=communities["code"].astype(str).to_numpy(),
            norms=norms,
            params=params,
            metric=metric,
            record=NormLog(norms),
        )

    @property
    def n_cm(self) -> int:
        """Number of communities."""
        return len(self.communities)
