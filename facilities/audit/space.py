"""Office and service floor space per community (Art. 18, 完整居住社区建设标准).

* comprehensive service floor area (m²) of each community against
  ``community.service_floor_m2_per_100_households`` (30 m² per 100 households);
* a fixed office: the community's own record, or an existing ``community_office`` facility inside it;
* per-facility minimum floor areas (``facility_minimums``, m²);
* facilities present per required category of the community level (``required_facilities.5min``).

Hubs (:mod:`facilities.hubs`): a facility whose ``functions`` list categories counts as a facility of each of them
in the presence checks (required categories, a fixed office).  Its floor area counts once, as service floor area
when its own category or one of its functions is a service-space category, and its minimum floor area is that of
its own category (not one per function).

Inputs are EPSG:4326; nothing here measures geometry (floor areas come from the attributes).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core.vocab import FACILITY_CATEGORIES

from ..hubs import counts_as_service_space, function_lists
from ._common import CANNOT, GAP, OK, AuditContext, _col, _containing, _empty, _labels, _num, _points


@dataclass(frozen=True)
class FacilityLayer:
    """The facilities layer as arrays, one entry per facility.

    Attributes
    ----------
    frame : GeoDataFrame, EPSG:4326
    pts : ndarray of shapely Points
        A point per facility (EPSG:4326; a point inside polygons).
    comm : ndarray of int
        Index of the community holding the facility, -1 outside every community.
    status : ndarray of str
        ``existing`` (default), ``planned``, ``under_construction`` ...
    cat : ndarray of str
        Facility category.
    floor : ndarray of float
        Floor area (m²), NaN when unknown.
    existing : ndarray of bool
        ``status == "existing"``.
    functions : list of tuple of str
        The categories a hub's ``functions`` list besides its own (empty for other facilities).
    """

    frame: gpd.GeoDataFrame
    pts: np.ndarray
    comm: np.ndarray
    status: np.ndarray
    cat: np.ndarray
    floor: np.ndarray
    existing: np.ndarray
    functions: list[tuple[str, ...]] | None = None

    @classmethod
    def build(cls, facilities: gpd.GeoDataFrame | None, ctx: AuditContext) -> FacilityLayer:
        """Arrays of ``facilities`` (EPSG:4326; None = no facilities) against the communities of ``ctx``."""
        fac = facilities if facilities is not None else _empty()
        pts = _points(fac)
        status = (
            fac["status"].fillna("existing").to_numpy(dtype=object)
            if "status" in fac.columns
            else np.full(len(fac), "existing", object)
        )
        return cls(
            frame=fac,
            pts=pts,
            comm=_containing(pts, ctx.cm_geom),
            status=status,
            cat=_col(fac, "category"),
            floor=_num(fac, "floor_area_m2"),
            existing=status == "existing",
            functions=function_lists(fac) if len(fac) and "category" in fac.columns else [()] * len(fac),
        )

    def __len__(self) -> int:
        return len(self.frame)

    def provides(self, category: str) -> np.ndarray:
        """Per facility: of ``category``, or a hub whose functions list it."""
        own = self.cat == category
        if not self.functions:
            return own
        return own | np.array([category in f for f in self.functions], dtype=bool)

    def service_space(self, space_categories) -> np.ndarray:
        """Per facility: its floor area counts once as service space (:func:`~facilities.hubs.counts_as_service_space`).

        Parameters
        ----------
        space_categories : sequence of str
            ``community.service_space_categories``.
        """
        if not len(self):
            return np.zeros(0, dtype=bool)
        return counts_as_service_space(self.cat.astype(str), self.functions or [()] * len(self), space_categories)


@dataclass(frozen=True)
class ServiceFloor:
    """Comprehensive service floor area per community (arrays of length n communities).

    Attributes
    ----------
    space_cats : tuple of str
        Categories that count as service floor area.
    households : ndarray of float
        Households (NaN when unknown).
    required_m2, floor_known, gap, gap_out : ndarray of float
        Required floor area (m²), floor area of facilities with a known area (m²), the gap (m², >= 0) and the
        gap reported (m², NaN where it cannot be assessed).
    space_n : ndarray of int
        Service facilities counted (existing, in the community).
    status, reason : ndarray of object
        ``ok`` / ``gap`` / ``cannot_assess`` and the Chinese reason when it cannot be assessed.
    is_space : ndarray of bool
        Per facility: an existing service facility inside a community.
    """

    space_cats: tuple[str, ...]
    households: np.ndarray
    required_m2: np.ndarray
    floor_known: np.ndarray
    space_n: np.ndarray
    gap: np.ndarray
    gap_out: np.ndarray
    status: np.ndarray
    reason: np.ndarray
    is_space: np.ndarray


@dataclass(frozen=True)
class CommunitySpace:
    """Everything the space topic finds.

    Attributes
    ----------
    floor : ServiceFloor
    has_office : ndarray of bool
        Per community: a fixed office.
    office_source : ndarray of str
        Per community: what says so (Chinese).
    fac_min : ndarray of float
        Per facility: the minimum floor area of its category (m², NaN without one).
    below, min_unknown : ndarray of bool
        Per facility: existing and below its minimum / with a minimum but no floor area.
    below_n : ndarray of int
        Per community: facilities below their minimum.
    category_counts : DataFrame
        Per community: existing facilities of each required category.
    missing : list of list of str
        Per community: the required categories it lacks.
    missing_n : ndarray of int
        Per community: how many.
    """

    floor: ServiceFloor
    has_office: np.ndarray
    office_source: np.ndarray
    fac_min: np.ndarray
    below: np.ndarray
    min_unknown: np.ndarray
    below_n: np.ndarray
    category_counts: pd.DataFrame
    missing: list[list[str]]
    missing_n: np.ndarray


def community_space(ctx: AuditContext, fl: FacilityLayer) -> CommunitySpace:
    """Run the space topic: service floor area, fixed office, per-facility minimums, required categories."""
    floor = service_floor(ctx, fl)
    has_office, office_source = fixed_office(ctx, fl)
    fac_min, below, min_unknown, below_n = facility_minimums(ctx, fl)
    counts, missing, missing_n = required_categories(ctx, fl)
    return CommunitySpace(
        floor, has_office, office_source, fac_min, below, min_unknown, below_n, counts, missing, missing_n
    )


def service_floor(ctx: AuditContext, fl: FacilityLayer) -> ServiceFloor:
    """Service floor area (m²) of each community against 30 m² per 100 households (the norm of ``ctx``).

    A gap that facilities without a floor area might close cannot be assessed; nor can a community
    without households.
    """
    norms, n_cm = ctx.norms, ctx.n_cm
    per100 = float(norms.service_floor_m2_per_100_households)
    ctx.record("community.service_floor_m2_per_100_households", "社区综合服务设施建筑面积（每百户）", per100, "m²/百户")
    space_cats = tuple(norms.service_space_categories)
    ctx.record("community.service_space_categories", "计入综合服务设施面积的设施类别", _labels(space_cats), "")
    households = _num(ctx.communities, "households")
    required_m2 = households * per100 / 100.0
    fac_comm, fac_floor = fl.comm, fl.floor
    is_space = fl.existing & fl.service_space(space_cats) & (fac_comm >= 0)  # a hub's floor area once
    known = is_space & np.isfinite(fac_floor)
    floor_known = np.bincount(fac_comm[known], weights=fac_floor[known], minlength=n_cm) if n_cm else np.zeros(0)
    unknown_n = np.bincount(fac_comm[is_space & ~np.isfinite(fac_floor)], minlength=n_cm)
    space_n = np.bincount(fac_comm[is_space], minlength=n_cm)
    gap = np.maximum(required_m2 - floor_known, 0.0)
    status = np.where(
        ~np.isfinite(households), CANNOT, np.where(gap <= 1e-9, OK, np.where(unknown_n > 0, CANNOT, GAP))
    ).astype(object)
    reason = np.full(n_cm, None, dtype=object)
    reason[~np.isfinite(households)] = "缺少户数，无法计算应配面积"
    lacks_area = np.isfinite(households) & (gap > 1e-9) & (unknown_n > 0)
    reason[lacks_area] = [f"{k} 处综合服务设施缺少建筑面积" for k in unknown_n[lacks_area]]
    gap_out = np.where(status == CANNOT, np.nan, gap)
    return ServiceFloor(
        space_cats, households, required_m2, floor_known, space_n, gap, gap_out, status, reason, is_space
    )


def fixed_office(ctx: AuditContext, fl: FacilityLayer) -> tuple[np.ndarray, np.ndarray]:
    """Whether each community has a fixed office, and the source: its own record or an office facility."""
    communities, n_cm = ctx.communities, ctx.n_cm
    office_attr = (
        communities["has_fixed_office"].to_numpy(dtype=object)
        if "has_fixed_office" in communities.columns
        else np.full(n_cm, None, object)
    )
    is_office = fl.existing & fl.provides("community_office") & (fl.comm >= 0)
    office_fac = np.bincount(fl.comm[is_office], minlength=n_cm) > 0
    attr_known = pd.notna(pd.Series(office_attr, dtype=object)).to_numpy()
    attr_true = np.array([bool(v) if k else False for v, k in zip(office_attr, attr_known)], dtype=bool)
    has_office = attr_true | office_fac
    office_source = np.where(
        attr_true,
        "社区登记",
        np.where(
            office_fac, "设施图层（社区办公用房）", np.where(attr_known, "社区登记", "社区未登记，设施图层无办公用房")
        ),
    ).astype(object)
    return has_office, office_source


def facility_minimums(ctx: AuditContext, fl: FacilityLayer):
    """Existing facilities below the minimum floor area (m²) of their category (完整居住社区建设标准).

    Returns
    -------
    fac_min : ndarray of float
        Minimum floor area (m²) per facility, NaN without one.
    below, min_unknown : ndarray of bool
        Per facility: below the minimum; with a minimum but without a floor area.
    below_n : ndarray of int
        Per community: facilities below their minimum.
    """
    mins = {c: ctx.norms.facility_min_floor_m2(c) for c in FACILITY_CATEGORIES}
    mins = {c: v for c, v in mins.items() if v}
    for c, v in mins.items():
        ctx.record(f"facility_minimums.{c}", f"{FACILITY_CATEGORIES[c]}最小建筑面积", v, "m²")
    fac_min = np.array([mins.get(c, np.nan) for c in fl.cat], dtype=float) if len(fl) else np.zeros(0)
    has_min = fl.existing & np.isfinite(fac_min)
    below = has_min & np.isfinite(fl.floor) & (fl.floor < fac_min)
    min_unknown = has_min & ~np.isfinite(fl.floor)
    below_n = np.bincount(fl.comm[below & (fl.comm >= 0)], minlength=ctx.n_cm)
    return fac_min, below, min_unknown, below_n


def required_categories(ctx: AuditContext, fl: FacilityLayer):
    """Existing facilities per required category of the level ``ctx.params.required_level`` in each community.

    Returns
    -------
    counts : DataFrame
        ``community_code``, ``name`` and one count column per required category.
    missing : list of list of str
        Per community: the required categories without a facility.
    missing_n : ndarray of int
    """
    norms, n_cm = ctx.norms, ctx.n_cm
    level = norms.level(ctx.params.required_level)
    req_cats = tuple(norms.required_facilities(level))
    ctx.record(f"required_facilities.{level}", f"{norms.life_circle(level).label_zh}应配设施", _labels(req_cats), "")
    counts = {}
    for c in req_cats:
        sel = fl.existing & fl.provides(c) & (fl.comm >= 0)  # hubs listing the category count
        counts[c] = np.bincount(fl.comm[sel], minlength=n_cm)
    count_frame = pd.DataFrame(
        {"community_code": ctx.cm_code, "name": ctx.communities["name"].to_numpy(), **{c: counts[c] for c in req_cats}}
    )
    missing = [[c for c in req_cats if counts[c][i] == 0] for i in range(n_cm)]
    missing_n = np.array([len(m) for m in missing], dtype=np.int64)
    return count_frame, missing, missing_n
