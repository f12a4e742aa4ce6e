"""Stage 7: facilities (community, street and city level), small plan parcels and facilities at risk."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ._facility_blocks import (
    CentrePlan,
    FacilityInputs,
    Parks,
    SportsGap,
    community_sites,
    kindergartens,
    markets,
    parks,
    public_toilets,
    resident_sites,
    schools,
    sports_grounds,
    street_sites,
)
from ._names import LineNames, address_of
from ._sites import SmallParcels, slot_quads
from ._util import gumbel_topk, ids, lognorm, shoelace
from .lattice import sites_lonlat

_RISK_CATEGORIES = [
    "community_office",
    "community_service_station",
    "elderly_day_care",
    "health_station",
    "culture_station",
    "canteen",
]


#: Radius of the elderly day-care gap around the old centre, as a share of the city radius (at most 1,000 m).
EDC_GAP_SHARE = 0.15


@dataclass(frozen=True)
class Facilities:
    """Result of stage 7.

    ``facilities`` is the layer (EPSG:4326; floor/land areas in m²); ``small_parcels`` the plan
    parcels cut out of cells (kindergartens, facilities at risk, reserved land); ``kg_gap_xy`` the
    centres (m, EPSG:4544) of the kindergarten gaps; ``edc_gap_r`` the radius (m) of the elderly
    day-care gap around the centre; ``sports_gap`` the street without a sports centre.
    """

    facilities: gpd.GeoDataFrame
    at_risk_ids: list[str]
    small_parcels: SmallParcels
    parks: Parks
    school_name: np.ndarray
    kg_gap_xy: np.ndarray
    edc_gap_r: float
    sports_gap: SportsGap


def _kindergarten_gaps(fi: FacilityInputs, scale: float) -> np.ndarray:
    """Centres (m) of the deliberate kindergarten gaps in the outer new districts (about one per scale)."""
    units = fi.units
    n_kg_gaps = max(1, int(round(scale)))
    outer_units = np.flatnonzero((units.u_r > 0.45) & (units.u_r < 0.8))
    gap_units = (
        outer_units[gumbel_topk(np.ones(outer_units.size), n_kg_gaps, fi.rng)] if outer_units.size else np.zeros(0, int)
    )
    return np.column_stack([units.ux[gap_units], units.uy[gap_units]])


def _at_risk(fi: FacilityInputs, fac: dict[str, np.ndarray], slot_used: np.ndarray) -> tuple[np.ndarray, SmallParcels]:
    """Facilities "at risk": existing ones standing on a small parcel planned for another use (about 0.6 %)."""
    rng = fi.rng
    n_fac = fac["cell"].size
    risk_cats = np.isin(fac["category"], _RISK_CATEGORIES)
    cand = np.flatnonzero(risk_cats & (fac["status"] == "existing") & ~slot_used[fac["cell"]])
    cand = cand[np.unique(fac["cell"][cand], return_index=True)[1]]
    n_risk = min(cand.size, max(3, int(round(0.006 * n_fac))))
    risk = cand[gumbel_topk(np.ones(cand.size), n_risk, rng)]
    rc = fac["cell"][risk]
    slot_used[rc] = True
    qx, qy, cu, cv = slot_quads(fi.lattice, rc, lognorm(rng, 1200, 0.3, rc.size), rng)
    fac["u"][risk], fac["v"][risk] = cu, cv
    risk_kind = rng.integers(0, 3, rc.size)
    parcels = SmallParcels(
        cell=rc,
        poly=fi.proj.quads_lonlat(qx, qy) if rc.size else np.zeros(0, dtype=object),
        area=shoelace(qx, qy),
        code=np.array(["1207", "0901", "1402"])[risk_kind],
        use=np.array(["城镇道路用地（道路拓宽）", "商业用地（旧城更新）", "防护绿地"])[risk_kind],
        status=np.full(rc.size, "planned"),
    )
    return risk, parcels


def _planned_sites(
    fi: FacilityInputs, rc: np.ndarray, planned_here: np.ndarray, land: np.ndarray, cu: np.ndarray, cv: np.ndarray
) -> dict[str, np.ndarray]:
    """Planned facilities on the reserved parcels ``rc[planned_here]`` (columns as in :class:`SiteBlocks`)."""
    rng = fi.rng
    pcat = np.array(["community_service_station", "elderly_day_care", "embedded_service"])[
        rng.integers(0, 3, planned_here.size)
    ]
    pcells = rc[planned_here]
    pnames = np.strings.add(
        fi.comms.comm_names[fi.comms.unit_comm][fi.units.unit_of_cell[pcells]],
        np.where(
            pcat == "elderly_day_care",
            "日间照料中心（规划）",
            np.where(pcat == "embedded_service", "嵌入式服务中心（规划）", "综合服务站（规划）"),
        ),
    )
    pfloor = np.where(pcat == "elderly_day_care", 400.0, np.where(pcat == "embedded_service", 800.0, 800.0))
    return dict(
        category=pcat.astype(object),
        cell=pcells,
        name=pnames.astype(object),
        floor=pfloor,
        land=land[planned_here],
        cap=np.where(pcat == "elderly_day_care", rng.integers(20, 61, planned_here.size), -1).astype(np.int64),
        status=np.full(planned_here.size, "planned", dtype=object),
        hours=np.full(planned_here.size, None, dtype=object),
        u=cu[planned_here],
        v=cv[planned_here],
        poly=np.full(planned_here.size, None, dtype=object),
    )


def _reserved_land(
    fi: FacilityInputs, fac: dict[str, np.ndarray], slot_used: np.ndarray
) -> tuple[dict[str, np.ndarray], SmallParcels]:
    """Reserved community-service land (0702, about 0.35 per community), 45 % with planned facilities."""
    rng, unit_cell = fi.rng, fi.units.unit_cell
    free_units = np.flatnonzero(~slot_used[unit_cell])
    n_res = int(round(0.35 * fi.comms.n_comm))
    rc = unit_cell[free_units[gumbel_topk(np.ones(free_units.size), n_res, rng)]]
    slot_used[rc] = True
    qx, qy, cu, cv = slot_quads(fi.lattice, rc, lognorm(rng, 1800, 0.35, rc.size), rng)
    res_status = np.where(rng.random(rc.size) < 0.55, "reserved", "planned")
    parcels = SmallParcels(
        cell=rc,
        poly=fi.proj.quads_lonlat(qx, qy) if rc.size else np.zeros(0, dtype=object),
        area=shoelace(qx, qy),
        code=np.full(rc.size, "0702"),
        use=np.full(rc.size, "城镇社区服务设施用地（预留）"),
        status=res_status,
    )
    planned_here = np.flatnonzero(res_status == "planned")
    if planned_here.size:
        extra = _planned_sites(fi, rc, planned_here, np.round(shoelace(qx, qy)), cu, cv)
        fac = {key: np.concatenate([fac[key], extra[key]]) for key in fac}
    return fac, parcels


def _facility_frame(
    fi: FacilityInputs, fac: dict[str, np.ndarray], fac_ids: np.ndarray, names: LineNames
) -> gpd.GeoDataFrame:
    """The facilities layer (EPSG:4326) from the site columns; addresses draw from ``fi.rng``."""
    fgeom = sites_lonlat(fi.lattice, fi.proj, fac["cell"], fac["u"], fac["v"], fac["poly"])
    fac_address = address_of(fac["cell"], fi.lattice, fi.streets, names, fi.rng)
    cap = pd.array(np.where(fac["cap"] >= 0, fac["cap"], 0), dtype="Int64")
    cap[fac["cap"] < 0] = pd.NA
    return gpd.GeoDataFrame(
        {
            "source_id": fac_ids,
            "name": fac["name"],
            "category": fac["category"],
            "floor_area_m2": fac["floor"],
            "land_area_m2": fac["land"],
            "capacity": cap,
            "status": fac["status"],
            "address": fac_address,
            "opening_hours": fac["hours"],
        },
        geometry=fgeom,
        crs=4326,
    )


def build_facilities(fi: FacilityInputs, names: LineNames, scale: float) -> Facilities:
    """Place every facility of the city, with deliberate gaps and facilities at risk.

    Parameters
    ----------
    fi : FacilityInputs
        Lattice (EPSG:4544, m), cell types, streets, units, communities, total residents, the
        generator of the ``facilities`` stage and an empty :class:`SiteBlocks` using it.
    names : LineNames
        Road names (for the addresses).
    scale : float
        City scale (about one kindergarten gap per unit of scale).

    Returns
    -------
    Facilities
        The facilities layer (EPSG:4326; floor and land areas in m², capacity in persons or
        places) and the side products used by later stages.
    """
    lattice = fi.lattice
    kg_gap_xy = _kindergarten_gaps(fi, scale)
    edc_gap_r = float(min(1000.0, EDC_GAP_SHARE * lattice.r_city))
    plan = CentrePlan.draw(fi)
    community_sites(fi, plan, edc_gap_r)
    sports_grounds(fi, plan)
    slot_used = np.zeros(lattice.n_cells, bool)
    kg_parcels = kindergartens(fi, plan, kg_gap_xy, slot_used)
    resident_sites(fi)
    markets(fi)
    public_toilets(fi)
    sports_gap = street_sites(fi)
    school_name = schools(fi)
    park_info = parks(fi)
    fac = fi.sites.columns()
    risk, risk_parcels = _at_risk(fi, fac, slot_used)
    fac, reserved_parcels = _reserved_land(fi, fac, slot_used)
    fac_ids = ids("sample:facility:", fac["cell"].size)
    return Facilities(
        facilities=_facility_frame(fi, fac, fac_ids, names),
        at_risk_ids=list(fac_ids[risk]),
        small_parcels=SmallParcels.concat([kg_parcels, risk_parcels, reserved_parcels]),
        parks=park_info,
        school_name=school_name,
        kg_gap_xy=kg_gap_xy,
        edc_gap_r=edc_gap_r,
        sports_gap=sports_gap,
    )
