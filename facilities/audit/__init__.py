"""Facilities and shelters audit against the spatial plan (Deyang regulation Art. 18).

Pure functions over GeoDataFrames (EPSG:4326 in and out; areas and straight-line
distances computed in a metric CRS, walking distances on the :class:`WalkNetwork`).
Four topics, each a table per feature plus totals:

* **office and service space** per community: fixed office, comprehensive service floor
  area against ``community.service_floor_m2_per_100_households`` (30 m2 per 100
  households), per-facility minimums (``facility_minimums``), facilities present per
  required category of the community level (``required_facilities.5min``);
* **shelters**: residents of each population unit assigned to shelters within the class's
  walking limit, respecting capacities, exactly (min-cost flow, :mod:`facilities.shelters`),
  with the nearest-first result beside it; fixed shelters against the share of residents
  they must hold, central shelters against their area and population limits;
* **spatial plan**: reserved community-service parcels that could close each floor-area gap,
  existing facilities on land planned for another use, planned facilities not yet built,
  new residential developments short of the facility area they owe;
* **summary** per street and county, the worst communities first.

Groups of residents (:mod:`.groups`): the presence checks of required categories that serve a group (nursery 0–3,
kindergarten 3–6, elderly day care 60+) also give the group's residents per community and street and the shortfall
computed on them (the group's residents of communities lacking the category).  Hubs (:mod:`facilities.hubs`): a
facility whose ``functions`` list categories counts as present for each; its floor area counts once.

One module per topic: :mod:`.space`, :mod:`.shelters`, :mod:`.parcels`, :mod:`.developments`,
:mod:`.summary`; :func:`compute_audit` runs them in that order of dependence.

Features that lack the figure a check needs (a community without households, a facility
without floor area, a shelter without area or capacity, a development without its built
area) are reported as *cannot be assessed* with the reason, never counted as zero.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core._errors import InputError
from geo_service.core.norms import Norms

from ..groups import UnitGroups, unit_groups
from ._common import CANNOT, CLOSE_ZH, GAP, OK, STATUS_ZH, AuditContext, _containing, _empty, _points
from .developments import audit_developments
from .gap_plan import GapPlanParams
from .gap_spaces import STATUS_ZH as GAP_STATUS_ZH
from .gap_spaces import GapInputs, GapPlanResult, audit_gap_plan
from .groups import group_shortfall, street_group_sums, with_group_columns
from .params import AuditParams
from .parcels import facilities_at_risk, parcel_layer, parcels_table, plan_for_gaps
from .result import AuditResult
from .shelters import ShelterInputs, audit_shelters
from .space import FacilityLayer, community_space
from .summary import (
    cannot_assess_table,
    community_table,
    county_totals,
    facilities_table,
    facility_flags,
    street_summary,
)

__all__ = ["CANNOT", "GAP", "OK", "AuditParams", "AuditResult", "GapPlanParams", "compute_audit"]
# also importable from here, as before the split: STATUS_ZH, CLOSE_ZH, _containing, _points
_REEXPORTED = (STATUS_ZH, CLOSE_ZH, _containing, _points)


def compute_audit(
    communities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    shelters: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame,
    developments: gpd.GeoDataFrame,
    norms: Norms,
    *,
    net=None,
    params: AuditParams = AuditParams(),
    entrances: gpd.GeoDataFrame | None = None,
    idle_assets: gpd.GeoDataFrame | None = None,
    space_candidates: gpd.GeoDataFrame | None = None,
    gap_params: GapPlanParams = GapPlanParams(),
    groups: UnitGroups | None = None,
) -> AuditResult:
    """Audit every community, shelter, reserved parcel and development.

    Parameters
    ----------
    communities : GeoDataFrame, EPSG:4326
        Community polygons of one plan: ``code``, ``name``, optional ``street_code``,
        ``households`` (households), ``residents`` (residents), ``has_fixed_office``.
    units : GeoDataFrame, EPSG:4326
        Population units: ``id``, ``residents`` (residents), optional ``name``, ``street_code``.
    facilities, shelters, parcels, developments : GeoDataFrame, EPSG:4326
        The layers of the same names (see :mod:`geo_service.core.layers`); any may be empty. Floor and
        site areas in m², capacities in persons.
    norms : Norms
    net : WalkNetwork, optional
        Needed for the shelter assignment (walking distances, m); without it the shelter
        topic reports capacities and shares only. Its CRS is the metric CRS of the audit.
    params : AuditParams
    entrances : GeoDataFrame, optional
        Unit entrances (``unit_id`` matching ``units.id``); a unit is reached from its
        nearest entrance.
    idle_assets, space_candidates : GeoDataFrame, optional, EPSG:4326
        The spaces that may close the remaining gaps (:mod:`.gap_spaces`); floor areas in m², costs in yuan.
    gap_params : GapPlanParams
        The gap plan's budget (yuan).
    groups : UnitGroups, optional
        Residents per age group of each unit (row-aligned with ``units``); default
        :func:`facilities.groups.unit_groups` of ``units`` (given, else derived from the census shares).

    Returns
    -------
    AuditResult
        Every table in EPSG:4326; areas in m², distances in m.
    """
    params.validate()
    gap_params.validate()
    _check_inputs(communities, units)
    ctx = AuditContext.build(communities, units, norms, params, net)
    fl = FacilityLayer.build(facilities, ctx)
    space = community_space(ctx, fl)
    ug = unit_groups(units, norms) if groups is None else groups
    gs = group_shortfall(ctx, units, ug, space)
    pc = parcels if parcels is not None else _empty()
    pl = parcel_layer(pc, ctx, fl)
    plan = plan_for_gaps(ctx, fl, space, pl)
    at_risk, risk_code, risk_n = facilities_at_risk(ctx, fl, pl)
    sh = audit_shelters(ShelterInputs(shelters, units, parcels=pc, entrances=entrances, net=net), ctx)
    dev_out, dev_totals = audit_developments(developments, ctx)
    gp = audit_gap_plan(ctx, space, plan, GapInputs(idle_assets, space_candidates, units, entrances, net, gap_params))
    comm_out = with_group_columns(_with_gap_plan(community_table(ctx, space, plan, risk_n, sh.units), gp), ctx, gs)
    flags = facility_flags(fl, space, at_risk, plan.planned)
    cannot = cannot_assess_table(ctx, space, fl, flags["area_unknown"], sh.shelters, dev_out)
    if len(gp.excluded):
        cannot = pd.concat([cannot, gp.excluded[cannot.columns]], ignore_index=True)
    totals = {**county_totals(ctx, space, plan, flags, cannot), **sh.totals, **dev_totals, "gap_plan": gp.totals}
    totals["group_checks"] = gs.totals
    if ug.reason_zh:
        ctx.notes.append(f"部分人口单元缺少年龄分组人数：{ug.reason_zh}；相关社区的服务对象人数记为未知")
    return AuditResult(
        comm_out,
        space.category_counts,
        facilities_table(ctx, fl, space, flags, risk_code),
        sh.shelters,
        sh.units,
        sh.assignment,
        sh.share,
        sh.central,
        sh.sites,
        parcels_table(ctx, pl, plan),
        dev_out,
        street_group_sums(comm_out.drop(columns="geometry"), street_summary(comm_out, dev_out)),
        cannot,
        ctx.record.used,
        totals,
        ctx.notes,
        gp.table,
    )


def _with_gap_plan(comm: gpd.GeoDataFrame, gp: GapPlanResult) -> gpd.GeoDataFrame:
    """The community table with the gap plan's columns (``none`` where a community needs nothing)."""
    cols = gp.communities.set_index("community_code")
    for c in cols.columns:
        comm[c] = comm["community_code"].map(cols[c])
    none = comm["gap_plan_status"].isna().to_numpy()
    comm["gap_plan_status"] = np.where(none, "none", comm["gap_plan_status"].astype(object))
    comm["gap_plan_status_zh"] = np.where(none, GAP_STATUS_ZH["none"], comm["gap_plan_status_zh"].astype(object))
    return comm


def _check_inputs(communities: gpd.GeoDataFrame | None, units: gpd.GeoDataFrame) -> None:
    """Communities there, with ``code`` and ``name``; units with ``residents``."""
    if communities is None or len(communities) == 0:
        raise InputError(
            "there are no communities in this plan; import or delineate them first",
            "该方案没有社区边界，请先导入或划分社区",
        )
    for col in ("code", "name"):
        if col not in communities.columns:
            raise InputError(f"communities lack column {col!r}", f"社区数据缺少字段「{col}」")
    if len(units) and "residents" not in units.columns:
        raise InputError("population units lack column 'residents'", "人口单元缺少字段「residents」")
